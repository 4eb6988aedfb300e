//! The subcommands.

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use konto_core::Level;
use konto_core::client::{
    Client, GrantType, RelyingParty, SigningAlg, SubjectType, TokenEndpointAuthMethod,
};
use konto_core::clock::{Clock, SystemClock};
use konto_core::level::AcrVocabulary;
use konto_core::secret::{SecretHasher, SecretPurpose};
use konto_keys::{KeyEncryptionKey, Keyring};
use konto_service::account::NewAccount;
use konto_store::{ClientRepo, KeyRepo, Maintenance, Store};
use konto_store_sql::{SqlStore, StoreOptions};
use konto_web::Config;
use tokio::net::TcpListener;

use crate::settings;

pub(crate) fn load(file: Option<&Path>, development: bool) -> Result<Config> {
    let base = if development {
        settings::development_defaults()
    } else {
        Config::default()
    };
    let (config, warnings) = settings::load(file, base)?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(config)
}

async fn open_store(config: &Config) -> Result<SqlStore> {
    if let Some(path) = config.database.url.strip_prefix("sqlite://")
        && let Some(dir) = Path::new(path.split('?').next().unwrap_or(path)).parent()
        && !dir.as_os_str().is_empty()
    {
        // the folder of the database (personal data, secret hashes): its owner's only
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let options = StoreOptions {
        max_connections: config.database.max_connections,
        sqlite_durability: config
            .database
            .sqlite_durability
            .parse()
            .map_err(anyhow::Error::msg)?,
        ..StoreOptions::default()
    };
    SqlStore::connect(&config.database.url, &options)
        .await
        .context("opening the database")
}

/// Opens the store, migrating in development mode and refusing a stale schema otherwise.
pub(crate) async fn ready_store(config: &Config) -> Result<Arc<SqlStore>> {
    let store = open_store(config).await?;
    if config.development {
        store.migrate().await.with_context(|| {
            format!(
                "migrating the development database {} (made by an older build? \
                 it holds only demo data: delete it and start again)",
                config.database.url
            )
        })?;
    } else if store.migrations_pending().await {
        bail!("the database schema is not up to date: run `konto migrate`");
    }
    Ok(Arc::new(store))
}

async fn app(config: Config) -> Result<Arc<konto_web::App>> {
    let store = ready_store(&config).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Ok(konto_web::build(config, store as Arc<dyn Store>, clock).await?)
}

pub(crate) async fn serve(file: Option<&Path>, development: bool, started: Instant) -> Result<()> {
    let mut config = load(file, development)?;
    // the eID-Server simulator plays the eID-Server and the user's eID client in development
    let _simulator = if development && config.eid.enabled && config.eid.server_url.is_none() {
        let sim = start_simulator().await?;
        config.eid.server_url = Some(sim.soap_url.to_string());
        config.eid.eid_client_url = sim.client_url.to_string();
        Some(sim)
    } else {
        None
    };
    // so does the commercial-register simulator the register
    let _register = if development && config.register.enabled && config.register.url.is_none() {
        let sim =
            konto_register_sim::spawn(konto_register_sim::SimConfig::new("127.0.0.1:0".parse()?))
                .await
                .context("starting the commercial-register simulator")?;
        config.register.url = Some(sim.url.to_string());
        Some(sim)
    } else {
        None
    };
    let main = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("binding {}", config.server.listen))?;
    let cert = match (config.elster.enabled, config.elster.listen) {
        (true, Some(addr)) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?,
        ),
        _ => None,
    };
    let app = app(config).await?;
    if development {
        konto_web::dev::seed(&app).await?;
    }
    let running = konto_web::run::launch(Arc::clone(&app), main, cert).await?;
    if development {
        print_banner(&app, running.cert_addr.is_some());
    }
    tracing::info!(
        issuer = %app.issuer,
        listen = %running.addr,
        ready_ms = started.elapsed().as_millis() as u64,
        "konto is ready"
    );
    wait_for_signal().await;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn start_simulator() -> Result<konto_eid_sim::SimHandle> {
    let read = |p: &str| std::fs::read(p).with_context(|| format!("reading {p}"));
    // the real eID client listens on 24727; use it when free, as the AusweisApp would
    let client_port: std::net::SocketAddr =
        if std::net::TcpListener::bind("127.0.0.1:24727").is_ok() {
            "127.0.0.1:24727".parse()?
        } else {
            "127.0.0.1:0".parse()?
        };
    let config = konto_eid_sim::SimConfig::new(
        "127.0.0.1:0".parse()?,
        client_port,
        read("keys-dev/eid/server.pem")?,
        read("keys-dev/eid/server.key")?,
        read("keys-dev/eid/ca.pem")?,
    );
    konto_eid_sim::spawn(config)
        .await
        .context("starting the eID-Server simulator")
}

fn print_banner(app: &konto_web::App, cert: bool) {
    use konto_web::dev::*;
    let issuer = &app.issuer;
    println!();
    println!("  konto — DEVELOPMENT MODE (public test keys from keys-dev/, not for real data)");
    println!("  issuer        {issuer}");
    println!("  discovery     {issuer}.well-known/openid-configuration");
    println!("  your account  {issuer}account");
    println!("  demo user     {DEMO_USER} / {DEMO_PASSWORD}");
    println!(
        "  demo client   {DEMO_CLIENT_ID} / {DEMO_CLIENT_SECRET}  (run: cargo run -p demo-rp)"
    );
    println!("  public client {DEMO_PUBLIC_CLIENT_ID} (PKCE, no secret)");
    if cert {
        println!(
            "  ELSTER login  test certificates keys-dev/elster/*.p12 (PIN 123456), see keys-dev/elster/README.md"
        );
    }
    if let Some(url) = app
        .services
        .eid
        .as_ref()
        .map(|_| app.config.eid.eid_client_url.clone())
    {
        println!("  eID login     simulated eID-Server and eID client at {url}");
    }
    if let (Some(_), Some(url)) = (&app.services.register, &app.config.register.url) {
        println!("  register      simulated commercial register at {url}");
    }
    println!(
        "  e-mail        written to {}",
        app.config
            .mail
            .file_dir
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    println!();
}

pub(crate) async fn migrate(file: Option<&Path>) -> Result<()> {
    let config = load(file, false)?;
    let store = open_store(&config).await?;
    store.migrate().await.context("migrating")?;
    println!("migrations applied ({})", store.backend_name());
    Ok(())
}

pub(crate) async fn check_config(file: Option<&Path>) -> Result<()> {
    let config = load(file, false)?;
    konto_web::app::check_issuer(&config)?;
    konto_web::secrets::master_key(&config)?;
    let store = open_store(&config).await?;
    store.ping().await.context("the database does not answer")?;
    if store.migrations_pending().await {
        bail!("the database schema is not up to date: run `konto migrate`");
    }
    let _ = konto_web::build(
        config,
        Arc::new(store) as Arc<dyn Store>,
        Arc::new(SystemClock),
    )
    .await?;
    println!("configuration ok");
    Ok(())
}

#[derive(Subcommand)]
pub(crate) enum ClientCommand {
    /// Register a relying party; prints a generated client secret once.
    Add(Box<ClientArgs>),
    /// List relying parties.
    List,
    /// Remove a relying party and revoke everything issued to it.
    Remove { id: String },
}

#[derive(Args)]
pub(crate) struct ClientArgs {
    /// The client_id.
    id: String,
    /// Display name shown on login and consent pages.
    #[arg(long)]
    name: Option<String>,
    /// Registered redirect URI (repeatable; exact match).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Registered post-logout redirect URI (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// client_secret_basic (default), client_secret_post, private_key_jwt or none (public client).
    #[arg(long, default_value = "client_secret_basic")]
    auth_method: String,
    /// For private_key_jwt: a file with the client's public JWK Set.
    #[arg(long)]
    jwks_file: Option<std::path::PathBuf>,
    /// Grant types (repeatable): authorization_code, refresh_token, client_credentials.
    #[arg(long = "grant", default_values_t = ["authorization_code".to_string(), "refresh_token".to_string()])]
    grants: Vec<String>,
    /// Allowed scopes (repeatable).
    #[arg(long = "scope", default_values_t = ["openid".to_string(), "profile".to_string(), "email".to_string(), "address".to_string(), "phone".to_string(), "offline_access".to_string()])]
    scopes: Vec<String>,
    /// ID token algorithm: RS256 (default), ES256 or EdDSA.
    #[arg(long, default_value = "RS256")]
    id_token_alg: String,
    /// pairwise (default) or public subject identifiers.
    #[arg(long, default_value = "pairwise")]
    subject_type: String,
    #[arg(long)]
    sector_identifier_uri: Option<String>,
    /// Skip the consent page (konto's own services only).
    #[arg(long)]
    first_party: bool,
    /// Do not require PKCE from this confidential client.
    #[arg(long)]
    no_pkce: bool,
    /// Minimum level for every login: basic, low, substantial, high.
    #[arg(long, default_value = "basic")]
    min_level: String,
    /// acr vocabulary: eidas (default) or stork.
    #[arg(long, default_value = "eidas")]
    acr_vocabulary: String,
    /// Accept temporary logins without an account (OZG §8(5)).
    #[arg(long)]
    allow_temporary_login: bool,
    /// A group of online services this client belongs to (repeatable), e.g. `steuern`: rights
    /// and mandates can name groups.
    #[arg(long = "service-group")]
    service_groups: Vec<String>,
    /// Where konto pushes what happens to the postbox messages this client sent (read,
    /// deleted), as signed Security Event Tokens (RFC 8935 push). https, or http on loopback
    /// or in development.
    #[arg(long)]
    postbox_webhook: Option<String>,
}

fn secret_hasher(config: &Config) -> Result<SecretHasher> {
    let master = konto_web::secrets::master_key(config)?;
    Ok(SecretHasher::new(
        konto_web::secrets::derive(&master).secret_hash,
    ))
}

pub(crate) async fn client(file: Option<&Path>, cmd: ClientCommand) -> Result<()> {
    let config = load(file, false)?;
    let store = ready_store(&config).await?;
    match cmd {
        ClientCommand::List => {
            for c in store.list_clients().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    c.party.id,
                    c.auth_method.as_str(),
                    c.redirect_uris.join(" "),
                    c.party.name
                );
            }
        }
        ClientCommand::Remove { id } => {
            store
                .delete_client(&id)
                .await
                .with_context(|| format!("removing {id}"))?;
            println!("removed {id}");
        }
        ClientCommand::Add(a) => {
            let auth_method: TokenEndpointAuthMethod =
                a.auth_method.parse().map_err(anyhow::Error::msg)?;
            let grant_types = a
                .grants
                .iter()
                .map(|g| g.parse::<GrantType>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(anyhow::Error::msg)?;
            for uri in a.redirect_uris.iter().chain(&a.post_logout_redirect_uris) {
                let u = url::Url::parse(uri).with_context(|| format!("{uri} is not a URL"))?;
                if u.fragment().is_some() {
                    bail!("redirect URIs must not have a fragment (RFC 6749 section 3.1.2)");
                }
            }
            if let Some(hook) = &a.postbox_webhook {
                let u = url::Url::parse(hook).with_context(|| format!("{hook} is not a URL"))?;
                let local = config.development || konto_web::app::is_loopback_host(&u);
                if u.scheme() != "https" && !(u.scheme() == "http" && local) {
                    bail!(
                        "--postbox-webhook must be an https URL (http only on loopback or in development)"
                    );
                }
            }
            if grant_types.contains(&GrantType::AuthorizationCode) && a.redirect_uris.is_empty() {
                bail!("the authorization code grant needs at least one --redirect-uri");
            }
            let jwks = match &a.jwks_file {
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?,
                ),
                None => None,
            };
            if auth_method == TokenEndpointAuthMethod::PrivateKeyJwt && jwks.is_none() {
                bail!("private_key_jwt needs --jwks-file");
            }
            let secret = match auth_method {
                TokenEndpointAuthMethod::ClientSecretBasic
                | TokenEndpointAuthMethod::ClientSecretPost => Some(konto_keys::random::secret()?),
                _ => None,
            };
            let hasher = secret_hasher(&config)?;
            let client = Client {
                party: RelyingParty {
                    id: a.id.clone(),
                    name: a.name.unwrap_or_else(|| a.id.clone()),
                    scopes: a.scopes,
                    first_party: a.first_party,
                    min_level: a
                        .min_level
                        .parse::<Level>()
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                    allow_temporary_login: a.allow_temporary_login,
                    service_groups: a.service_groups.clone(),
                    postbox_webhook: a.postbox_webhook.clone(),
                    created_at: SystemClock.now(),
                },
                auth_method,
                secret_hash: secret
                    .as_ref()
                    .map(|s| hasher.hash(SecretPurpose::ClientSecret, s.expose())),
                jwks,
                redirect_uris: a.redirect_uris,
                post_logout_redirect_uris: a.post_logout_redirect_uris,
                grant_types,
                id_token_alg: a
                    .id_token_alg
                    .parse::<SigningAlg>()
                    .map_err(anyhow::Error::msg)?,
                subject_type: a
                    .subject_type
                    .parse::<SubjectType>()
                    .map_err(anyhow::Error::msg)?,
                sector_identifier_uri: a.sector_identifier_uri,
                require_pkce: !a.no_pkce,
                acr_vocabulary: a
                    .acr_vocabulary
                    .parse::<AcrVocabulary>()
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            };
            // OIDC Core §8.1: several redirect hosts need a sector identifier
            if client.subject_type == SubjectType::Pairwise {
                client.sector().map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            store
                .create_client(&client)
                .await
                .with_context(|| format!("registering {}", client.party.id))?;
            println!("registered client {}", client.party.id);
            if let Some(s) = secret {
                println!("client_secret: {}", s.expose());
                println!("(shown once; konto stores only a keyed hash of it)");
            }
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Create an account; the password is read from standard input (one line).
    Add {
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        /// Create the account without a password.
        #[arg(long)]
        no_password: bool,
    },
    /// List accounts.
    List,
    /// Set a new password, read from standard input; ends the account's sessions.
    SetPassword { username: String },
    /// Delete an account and all its data.
    Remove { username: String },
}

fn read_password() -> Result<String> {
    eprintln!("password (one line on standard input):");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let p = line.trim_end_matches(['\n', '\r']).to_owned();
    if p.is_empty() {
        bail!("no password given");
    }
    Ok(p)
}

/// The application for commands that work on accounts (no mail needed).
pub(crate) async fn account_app(file: Option<&Path>) -> Result<Arc<konto_web::App>> {
    let mut config = load(file, false)?;
    config.login.registration = false;
    app(config).await
}

pub(crate) async fn user(file: Option<&Path>, cmd: UserCommand) -> Result<()> {
    let mut config = load(file, false)?;
    // account commands need no mail
    config.login.registration = false;
    let app = app(config).await?;
    match cmd {
        UserCommand::List => {
            for u in app.services.store.list_users().await? {
                println!("{}\t{}\t{}", u.username, u.email.unwrap_or_default(), u.id);
            }
        }
        UserCommand::Add {
            username,
            email,
            given_name,
            family_name,
            no_password,
        } => {
            let password = if no_password {
                None
            } else {
                Some(read_password()?)
            };
            let id = app
                .accounts
                .create(
                    &NewAccount {
                        username: username.clone(),
                        email,
                        email_verified: false,
                        given_name,
                        family_name,
                    },
                    password.as_deref(),
                )
                .await?;
            println!("created {username} ({id})");
        }
        UserCommand::SetPassword { username } => {
            let user = app
                .accounts
                .find_by_username(&username)
                .await?
                .with_context(|| format!("no account {username}"))?;
            let password = read_password()?;
            app.accounts.set_password(&user.id, &password).await?;
            println!("password of {username} set; its sessions ended");
        }
        UserCommand::Remove { username } => {
            let user = app
                .accounts
                .find_by_username(&username)
                .await?
                .with_context(|| format!("no account {username}"))?;
            app.accounts.delete(&user.id).await?;
            println!("deleted {username} and all its data");
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// List signing keys (current, next, retired).
    List,
    /// Make the next key current and create a new next key. Tokens signed with the old key stay
    /// valid: it is published until they have expired.
    Rotate {
        /// Only this algorithm (RS256, ES256, EdDSA); all by default.
        #[arg(long)]
        alg: Option<String>,
    },
}

pub(crate) async fn keys(file: Option<&Path>, cmd: KeysCommand) -> Result<()> {
    let config = load(file, false)?;
    let store = ready_store(&config).await?;
    match cmd {
        KeysCommand::List => {
            for k in store.signing_keys().await? {
                let retire = k.retire_after.map(|t| t.to_string()).unwrap_or_default();
                println!(
                    "{}\t{}\t{}\t{}\t{retire}",
                    k.kid,
                    k.alg,
                    k.status.as_str(),
                    k.created_at
                );
            }
        }
        KeysCommand::Rotate { alg } => {
            let master = konto_web::secrets::master_key(&config)?;
            let kek = KeyEncryptionKey::new(konto_web::secrets::derive(&master).key_encryption);
            let now = SystemClock.now();
            Keyring::ensure_keys(store.as_ref(), &kek, now).await?;
            let algs: Vec<SigningAlg> = match alg {
                Some(a) => vec![a.parse::<SigningAlg>().map_err(anyhow::Error::msg)?],
                None => SigningAlg::ALL.to_vec(),
            };
            let t = &config.tokens;
            // the old key stays published until every token it signed has expired
            let keep = time::Duration::seconds(
                (t.access_token_secs.max(t.id_token_secs) + config.keys.reload_secs + 60) as i64,
            );
            for a in algs {
                let kid = Keyring::rotate(store.as_ref(), &kek, a, keep, now).await?;
                println!("{a}: next key is now current; new next key {kid}");
            }
        }
    }
    Ok(())
}
