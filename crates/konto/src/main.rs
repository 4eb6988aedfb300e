//! konto's command line. Parses arguments, reads configuration, picks the store, calls the
//! libraries.

mod commands;
mod orgs;
mod saml;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "konto",
    version,
    about = "Identity and single sign-on for public-sector online services (OpenID Provider)."
)]
struct Cli {
    /// Configuration file (default: config/konto.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Run in development mode: SQLite under ./data, keys from keys-dev/, a demo user and demo
    /// clients, e-mail into data/mail, ELSTER test certificates and an eID-Server simulator.
    Dev,
    /// Apply database migrations.
    Migrate,
    /// Check the configuration and the database connection, then exit.
    CheckConfig,
    /// Manage relying parties.
    #[command(subcommand)]
    Client(commands::ClientCommand),
    /// Manage accounts.
    #[command(subcommand)]
    User(commands::UserCommand),
    /// Manage SAML service providers.
    #[command(subcommand)]
    Sp(saml::SpCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(commands::KeysCommand),
    /// Manage organisation accounts.
    #[command(subcommand)]
    Org(orgs::OrgCommand),
    /// Inspect mandates.
    #[command(subcommand)]
    Mandate(orgs::MandateCommand),
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("KONTO_LOG_FORMAT").is_ok_and(|f| f == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let started = std::time::Instant::now();
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("konto: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = cli.config.as_deref();
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve => commands::serve(config, false, started).await,
            Command::Dev => commands::serve(config, true, started).await,
            Command::Migrate => commands::migrate(config).await,
            Command::CheckConfig => commands::check_config(config).await,
            Command::Client(c) => commands::client(config, c).await,
            Command::User(c) => commands::user(config, c).await,
            Command::Keys(c) => commands::keys(config, c).await,
            Command::Sp(c) => saml::sp(config, c).await,
            Command::Org(c) => orgs::org(config, c).await,
            Command::Mandate(c) => orgs::mandate(config, c).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("konto: {e:#}");
            ExitCode::FAILURE
        }
    }
}
