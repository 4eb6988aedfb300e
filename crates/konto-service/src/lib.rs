#![doc = include_str!("../README.md")]

pub mod account;
mod error;
pub mod login;
pub mod org;
pub mod postbox;
pub mod postbox_html;

use std::sync::Arc;
use std::time::Duration;

use konto_authn::mail::Mailer;
use konto_authn::passkey::Passkeys;
use konto_authn::password::PasswordHasher;
use konto_authn::throttle::Throttle;
use konto_core::clock::Clock;
use konto_core::secret::SecretHasher;
use konto_store::Store;
use url::Url;

pub use error::ServiceError;

/// Settings of the services.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The issuer URL (links in e-mails are built on it).
    pub issuer: Url,
    /// How long a login may take from the authorization request to the code.
    pub flow_ttl: Duration,
    /// Whether people may register accounts themselves.
    pub registration: bool,
    pub registration_link_ttl: Duration,
    pub reset_link_ttl: Duration,
    /// The name in e-mails and pages.
    pub product_name: String,
    pub orgs: OrgConfig,
    /// A decision counts as delivered this many days after it was provided (OZG §9).
    pub postbox_delivery_days: u8,
    /// What attachments a postbox message may carry.
    pub postbox_attachments: konto_core::postbox::AttachmentRules,
}

/// Settings of organisation accounts and mandates.
#[derive(Debug, Clone)]
pub struct OrgConfig {
    /// How long the confirmation letter's code works.
    pub letter_ttl: Duration,
    /// Wrong codes before the letter is void.
    pub letter_max_failures: u32,
    pub invitation_ttl: Duration,
    /// For a mandate the agent registered: how long the principal may object before it is in
    /// force (tax-adviser practice: 14 days). Zero: only the principal's confirmation puts it
    /// in force.
    pub objection_period: Duration,
}

impl Default for OrgConfig {
    fn default() -> Self {
        OrgConfig {
            letter_ttl: Duration::from_secs(30 * 86_400),
            letter_max_failures: 5,
            invitation_ttl: Duration::from_secs(7 * 86_400),
            objection_period: Duration::from_secs(14 * 86_400),
        }
    }
}

/// Everything the services need, built once at start-up.
pub struct Services {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub hasher: SecretHasher,
    pub passwords: PasswordHasher,
    pub throttle: Throttle,
    pub mailer: Arc<dyn Mailer>,
    pub passkeys: Option<Passkeys>,
    pub certificates: Option<Arc<konto_authn::cert::CertValidator>>,
    pub eid: Option<Arc<konto_authn::eid::EidConnector>>,
    /// The commercial register, for verifying organisations.
    pub register: Option<Arc<dyn konto_authn::register::RegisterSource>>,
    /// The key of pairwise subjects (the same the OpenID Provider uses): a client names the
    /// party a user should act for by the subject it was given for it.
    pub pairwise_key: [u8; 32],
    /// Where confirmation letters go.
    pub letters: Arc<dyn konto_letter::LetterBox>,
    /// Whom people may act for, per organisation facts' epoch (see [`konto_store::FactsCache`]).
    pub facts: konto_store::FactsCache,
    /// Seals each postbox's data key (the master key's key-encryption key).
    pub postbox_key: konto_keys::KeyEncryptionKey,
    /// Where postbox attachments are kept (the database by default; an object store could).
    pub attachments: Arc<dyn konto_store::AttachmentStore>,
    pub config: ServiceConfig,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
