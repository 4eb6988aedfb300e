//! The OpenID Provider: configuration and shared helpers of the endpoints.

use std::sync::Arc;
use std::time::Duration;

use konto_core::client::Client;
use konto_core::client::SubjectType;
use konto_core::level::AcrCodec;
use konto_core::login::Principal;
use konto_core::secret::SecretHasher;
use konto_core::subject::pairwise;
use konto_keys::Keyring;
use konto_store::{FactsCache, Store};

use crate::discovery;
use crate::error::OAuthError;

/// Lifetimes and names of one deployment.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer identifier, `https://host[:port][/path]` without a trailing slash.
    pub issuer: String,
    pub access_token_ttl: Duration,
    pub id_token_ttl: Duration,
    pub code_ttl: Duration,
    /// Refresh tokens without `offline_access`.
    pub refresh_token_ttl: Duration,
    /// Refresh tokens with `offline_access`.
    pub offline_refresh_token_ttl: Duration,
    /// How long after a rotation the client may still present the token it replaced, while
    /// the new one was never used (its answer may have been lost); zero: never.
    pub refresh_retry: Duration,
}

impl OidcConfig {
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// The OpenID Provider engine.
pub struct Provider {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keys: Arc<Keyring>,
    pub(crate) hasher: SecretHasher,
    pub(crate) pairwise_key: [u8; 32],
    pub(crate) acr: AcrCodec,
    pub(crate) config: OidcConfig,
    /// What representing grants' chains rest on, per organisation facts' epoch.
    pub(crate) facts: FactsCache,
    discovery: Arc<str>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// The eIDAS `acr` value of `level`, as konto's discovery lists them (for RFC 9470
    /// challenges).
    pub fn acr_for(&self, level: konto_core::Level) -> String {
        self.acr
            .to_acr(level, konto_core::level::AcrVocabulary::Eidas)
    }

    pub fn new(
        store: Arc<dyn Store>,
        keys: Arc<Keyring>,
        hasher: SecretHasher,
        pairwise_key: [u8; 32],
        config: OidcConfig,
    ) -> Provider {
        let acr = AcrCodec::new(&config.issuer);
        let discovery = Arc::from(discovery::document(&config, &acr).to_string());
        Provider {
            facts: FactsCache::new(),
            store,
            keys,
            hasher,
            pairwise_key,
            acr,
            config,
            discovery,
        }
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    pub fn acr_codec(&self) -> &AcrCodec {
        &self.acr
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn keys(&self) -> &Arc<Keyring> {
        &self.keys
    }

    /// The discovery document (OpenID Connect Discovery 1.0 §3), serialised once.
    pub fn discovery(&self) -> Arc<str> {
        Arc::clone(&self.discovery)
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Arc<str> {
        self.keys.jwks()
    }

    /// The subject a client sees for a principal (OIDC Core §8).
    pub fn subject_for(
        &self,
        client: &Client,
        principal: &Principal,
    ) -> Result<String, OAuthError> {
        let local = match principal {
            Principal::Account { user_id } => {
                if client.subject_type == SubjectType::Public {
                    return Ok(user_id.clone());
                }
                user_id.clone()
            }
            // one-off: a temporary login links to nothing, not even to other temporary logins
            Principal::Temporary { login_id, .. } => format!("temporary:{login_id}"),
        };
        let sector = self.sector_of(client)?;
        Ok(pairwise(&self.pairwise_key, &sector, &local))
    }

    pub(crate) fn sector_of(&self, client: &Client) -> Result<String, OAuthError> {
        client.sector().map_err(|e| OAuthError::server_error(&e))
    }
}
