//! Accounts ("Nutzerkonten") and the authenticators they hold.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::amr::AuthenticatorKind;

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Internal identifier; never sent to a relying party (they get pairwise subjects).
    pub id: String,
    /// The login name (for self-registered accounts, the e-mail address).
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// Addresses the account's postbox; distinct from every subject identifier.
    pub postbox_handle: String,
    pub created_at: OffsetDateTime,
    pub last_login_at: Option<OffsetDateTime>,
}

/// One authenticator of an account (at most one of each kind).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authenticator {
    pub user_id: String,
    pub kind: AuthenticatorKind,
    /// What finds the account from a login with this authenticator: the card's RestrictedID
    /// (hashed), the certificate holder's identifier, a passkey's credential id.
    pub external_id: Option<String>,
    /// Kind-specific data: a password's PHC string, a passkey's credential, a certificate's subject.
    pub data: String,
    #[serde(with = "time::serde::timestamp")]
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("external_id", &self.external_id)
            .field("data", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}
