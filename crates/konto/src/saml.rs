//! `konto sp`: SAML service providers, registered from their metadata.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use konto_core::Level;
use konto_core::client::RelyingParty;
use konto_core::clock::{Clock, SystemClock};
use konto_saml::encrypt::ContentCipher;
use konto_saml::metadata::SpMetadata;
use konto_store::{SamlRepo, Store};

use crate::commands::{load, ready_store};

#[derive(Subcommand)]
pub(crate) enum SpCommand {
    /// Register a service provider from its SAML metadata (entity ID, ACS URLs, signing and
    /// encryption certificates).
    Add(Box<SpArgs>),
    /// List service providers.
    List,
    /// Remove a service provider with its relying party and everything issued to it.
    Remove { entity_id: String },
}

#[derive(Args)]
pub(crate) struct SpArgs {
    /// The SP's metadata (an md:EntityDescriptor with one SPSSODescriptor).
    #[arg(long)]
    metadata: PathBuf,
    /// The id of its relying party (as consents, mandates and the postbox know it).
    #[arg(long)]
    id: String,
    /// Display name on login and consent pages (default: the metadata's organisation).
    #[arg(long)]
    name: Option<String>,
    /// Minimum level for every login: basic, low, substantial, high.
    #[arg(long, default_value = "basic")]
    min_level: String,
    /// Skip the consent page (konto's own services only).
    #[arg(long)]
    first_party: bool,
    /// Accept temporary logins without an account (OZG §8(5)).
    #[arg(long)]
    allow_temporary_login: bool,
    /// A group of online services it belongs to (repeatable).
    #[arg(long = "service-group")]
    service_groups: Vec<String>,
    /// Content encryption of its assertions: aes256-gcm (default) or aes256-cbc (only for SPs
    /// that cannot read GCM).
    #[arg(long, default_value = "aes256-gcm")]
    cipher: String,
}

pub(crate) async fn sp(file: Option<&Path>, cmd: SpCommand) -> Result<()> {
    let config = load(file, false)?;
    let store = ready_store(&config).await?;
    match cmd {
        SpCommand::List => {
            for sp in store.list_service_providers().await? {
                let acs = SpMetadata::parse(sp.metadata.as_bytes())
                    .map(|m| {
                        m.acs
                            .iter()
                            .map(|e| e.location.clone())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_else(|e| format!("(unreadable metadata: {e})"));
                println!("{}\t{}\t{}\t{acs}", sp.entity_id, sp.client_id, sp.cipher);
            }
        }
        SpCommand::Remove { entity_id } => {
            store
                .delete_service_provider(&entity_id)
                .await
                .with_context(|| format!("removing {entity_id}"))?;
            println!("removed {entity_id}");
        }
        SpCommand::Add(a) => {
            let xml = std::fs::read_to_string(&a.metadata)
                .with_context(|| format!("reading {}", a.metadata.display()))?;
            let cipher = ContentCipher::parse(&a.cipher)
                .with_context(|| format!("unknown cipher {:?}", a.cipher))?;
            let md = SpMetadata::parse(xml.as_bytes())?;
            let party = RelyingParty {
                id: a.id.clone(),
                name: a
                    .name
                    .or(md.display_name.clone())
                    .unwrap_or_else(|| md.entity_id.clone()),
                scopes: Vec::new(),
                first_party: a.first_party,
                min_level: a
                    .min_level
                    .parse::<Level>()
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                allow_temporary_login: a.allow_temporary_login,
                service_groups: a.service_groups,
                postbox_webhook: None,
                created_at: SystemClock.now(),
            };
            let md = konto_saml::idp::register(
                store.as_ref() as &dyn Store,
                &xml,
                party,
                cipher,
                SystemClock.now(),
            )
            .await
            .with_context(|| format!("registering {}", md.entity_id))?;
            println!("registered service provider {} as {}", md.entity_id, a.id);
            for e in &md.acs {
                println!("  ACS {}", e.location);
            }
        }
    }
    Ok(())
}
