//! `konto org …` and `konto mandate …`: organisation accounts for operators.

use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use konto_core::Level;
use konto_core::org::{Euid, OrgEvidence, RegisterKey, WirtschaftsId};
use konto_letter::Language;
use konto_store::{OrgAddress, OrganisationRecord};

use crate::commands::account_app;

#[derive(Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once per command-line invocation; boxing buys nothing"
)]
pub(crate) enum OrgCommand {
    /// Create an organisation an operator has checked, with a first administrator; the
    /// confirmation letter goes out as for any other, and the organisation grants nothing
    /// until the administrator enters its code.
    Add {
        /// The organisation's name.
        name: String,
        /// The konto user name of the first administrator.
        #[arg(long)]
        admin: String,
        /// What the operator checked (a case number, a document reference).
        #[arg(long)]
        reference: String,
        #[arg(long, default_value = "")]
        legal_form: String,
        /// Wirtschafts-Identifikationsnummer (DE + 9 digits [+ -5 digits]).
        #[arg(long)]
        wirtschafts_id: Option<String>,
        /// Register court, type and number, e.g. `--register München HRB 123456`.
        #[arg(long, num_args = 3, value_names = ["COURT", "TYPE", "NUMBER"])]
        register: Option<Vec<String>>,
        #[arg(long)]
        euid: Option<String>,
        #[arg(long, default_value = "")]
        street: String,
        #[arg(long, default_value = "")]
        postal_code: String,
        #[arg(long, default_value = "")]
        locality: String,
        /// Write the letter in English.
        #[arg(long)]
        english: bool,
    },
    /// List organisations.
    List,
    /// Show an organisation with its members, rights, mandates and recorded changes.
    Show { id: String },
}

#[derive(Subcommand)]
pub(crate) enum MandateCommand {
    /// List all mandates with their status now.
    List,
}

pub(crate) async fn org(file: Option<&Path>, cmd: OrgCommand) -> Result<()> {
    let app = account_app(file).await?;
    let store = &app.services.store;
    match cmd {
        OrgCommand::Add {
            name,
            admin,
            reference,
            legal_form,
            wirtschafts_id,
            register,
            euid,
            street,
            postal_code,
            locality,
            english,
        } => {
            if name.trim().is_empty() || name.len() > 300 {
                bail!("the name must be 1 to 300 characters");
            }
            let user = store
                .user_by_username(&admin)
                .await?
                .with_context(|| format!("no account {admin}"))?;
            let register = match register.as_deref() {
                Some([court, kind, number]) => Some(RegisterKey::new(court, kind, number)?),
                _ => None,
            };
            let org = OrganisationRecord {
                id: konto_keys::random::id()?,
                name: name.trim().to_owned(),
                legal_form,
                wirtschafts_id: wirtschafts_id
                    .map(|w| w.parse::<WirtschaftsId>())
                    .transpose()?,
                register,
                euid: euid.map(|e| e.parse::<Euid>()).transpose()?,
                address: OrgAddress {
                    street,
                    postal_code,
                    locality,
                    country: "DE".into(),
                },
                level: Level::Substantial,
                evidence: OrgEvidence::Operator { reference },
                postbox_handle: konto_keys::random::uuid()?,
                created_at: app.clock.now(),
                confirmed_at: None,
            };
            let language = if english { Language::En } else { Language::De };
            let created = app.orgs.create_by_operator(org, &user.id, language).await?;
            println!(
                "created {} ({}); confirmation letter: {}",
                created.organisation.name,
                created.organisation.id,
                created.letter_reference.as_deref().unwrap_or("none")
            );
        }
        OrgCommand::List => {
            for o in store.list_organisations().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    o.id,
                    o.name,
                    o.register.map(|k| k.to_string()).unwrap_or_default(),
                    o.level.as_str(),
                    if o.confirmed_at.is_some() {
                        "confirmed"
                    } else {
                        "awaiting letter"
                    }
                );
            }
        }
        OrgCommand::Show { id } => {
            let o = store
                .organisation(&id)
                .await?
                .with_context(|| format!("no organisation {id}"))?;
            println!("id:\t{}", o.id);
            println!("name:\t{}", o.name);
            println!("legal form:\t{}", o.legal_form);
            if let Some(w) = &o.wirtschafts_id {
                println!("W-IdNr.:\t{w}");
            }
            if let Some(k) = &o.register {
                println!("register:\t{k}");
            }
            if let Some(e) = &o.euid {
                println!("EUID:\t{e}");
            }
            println!("level:\t{}", o.level.as_str());
            println!("evidence:\t{}", serde_json::to_string(&o.evidence)?);
            println!(
                "confirmed:\t{}",
                o.confirmed_at.map_or("no".to_owned(), |t| t.to_string())
            );
            let rights = store.rights_of_org(&id).await?;
            for m in store.members(&id).await? {
                let username = store
                    .user(&m.user_id)
                    .await?
                    .map(|u| u.username)
                    .unwrap_or_default();
                println!(
                    "member:\t{username}\t{}\tlegal representative: {}",
                    m.role.as_str(),
                    m.legal_representative
                );
                for r in rights.iter().filter(|r| r.user_id == m.user_id) {
                    println!(
                        "  right:\t{}\t{}\t{}",
                        r.id,
                        r.scope.entries().join(" "),
                        r.mandate.as_deref().unwrap_or("for the organisation")
                    );
                }
            }
            let now = app.clock.now();
            for m in store
                .mandates_of(&konto_core::representation::Party::Organisation(id.clone()))
                .await?
            {
                println!(
                    "mandate:\t{}\t{} {} -> {} {}\t{}\t{}",
                    m.id,
                    m.principal.kind(),
                    m.principal.id(),
                    m.agent.kind(),
                    m.agent.id(),
                    m.scope.entries().join(" "),
                    m.status_at(now).as_str()
                );
            }
            for e in store.org_events(&id, 50).await? {
                println!(
                    "event:\t{}\t{}\t{}\t{}\t{}",
                    e.at,
                    e.action,
                    e.actor.unwrap_or_else(|| "operator".into()),
                    e.actor_level.map(Level::as_str).unwrap_or(""),
                    e.detail
                );
            }
        }
    }
    Ok(())
}

pub(crate) async fn mandate(file: Option<&Path>, cmd: MandateCommand) -> Result<()> {
    let app = account_app(file).await?;
    match cmd {
        MandateCommand::List => {
            let now = app.clock.now();
            for m in app.services.store.list_mandates().await? {
                println!(
                    "{}\t{} {}\t{} {}\t{}\t{}\t{}",
                    m.id,
                    m.principal.kind(),
                    m.principal.id(),
                    m.agent.kind(),
                    m.agent.id(),
                    m.scope.entries().join(" "),
                    m.status_at(now).as_str(),
                    m.valid_until.map(|t| t.to_string()).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
