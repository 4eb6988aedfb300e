#![doc = include_str!("../README.md")]

pub mod account;
mod error;
pub mod login;

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
    pub config: ServiceConfig,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
