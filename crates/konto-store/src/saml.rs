//! SAML service providers: what only a SAML SP has, beside its relying party in the client
//! registry.

use async_trait::async_trait;
use konto_core::client::Client;
use time::OffsetDateTime;

use crate::StoreResult;

/// A registered SAML service provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProviderRecord {
    pub entity_id: String,
    /// Its relying party (name, minimum level, consent, temporary logins) in the client
    /// registry.
    pub client_id: String,
    /// The SP's metadata as registered (`EntityDescriptor`).
    pub metadata: String,
    /// How its assertions are encrypted (`aes256-gcm`, `aes256-cbc`).
    pub cipher: String,
    pub created_at: OffsetDateTime,
}

/// A service provider's part in a session: the transient name ID and session index its
/// assertion carried (SAML profiles §4.4: single logout names the session by them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participation {
    pub entity_id: String,
    pub name_id: String,
    pub session_id: String,
    pub session_index: String,
    pub created_at: OffsetDateTime,
    /// When it may be forgotten (past the longest session).
    pub expires_at: OffsetDateTime,
}

#[async_trait]
pub trait SamlRepo: Send + Sync {
    /// Registers the SP and its relying party in one transaction. The relying party must be
    /// one no OpenID Connect request can use (no redirect URIs, no grant types).
    async fn create_service_provider(
        &self,
        party: &Client,
        sp: &ServiceProviderRecord,
    ) -> StoreResult<()>;
    async fn service_provider(&self, entity_id: &str)
    -> StoreResult<Option<ServiceProviderRecord>>;
    async fn list_service_providers(&self) -> StoreResult<Vec<ServiceProviderRecord>>;
    /// Removes the SP and its relying party with everything issued to it.
    async fn delete_service_provider(&self, entity_id: &str) -> StoreResult<()>;
    async fn record_participation(&self, p: &Participation) -> StoreResult<()>;
    /// The participation an SP's name ID stands for.
    async fn participation(
        &self,
        entity_id: &str,
        name_id: &str,
    ) -> StoreResult<Option<Participation>>;
    /// Removes and returns a session's participations (once: a second call gets none).
    async fn take_participations(&self, session_id: &str) -> StoreResult<Vec<Participation>>;
}
