//! The records the store takes and returns.

use std::fmt;

use konto_core::Level;
use konto_core::representation::Representation;
use konto_core::secret::SecretHash;
use konto_core::session::SessionAuth;
use time::OffsetDateTime;

/// A new account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub postbox_handle: String,
    pub created_at: OffsetDateTime,
}

/// A browser session. `id` is public (OIDC `sid`); the cookie carries a separate secret whose
/// hash is `secret_hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub secret_hash: SecretHash,
    pub user_id: String,
    pub auth: SessionAuth,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A login in progress: the protocol-neutral request, the protocol's own parameters, and where the
/// login stands. Bound to the browser that started it.
#[derive(Clone, PartialEq, Eq)]
pub struct FlowRecord {
    pub id_hash: SecretHash,
    /// Hash of the browser binding cookie that started the flow.
    pub binding_hash: SecretHash,
    /// `konto_core::login::LoginRequest` as JSON.
    pub request: String,
    /// The protocol's parameters as JSON (for OIDC: redirect URI, state, nonce, PKCE challenge).
    pub protocol: String,
    /// Where the login stands, as JSON (owned by the login service).
    pub state: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for FlowRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowRecord")
            .field("id_hash", &self.id_hash)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What a user granted a client in one login: the basis of all tokens issued from it. It holds
/// its authorization code and the hash of its current refresh token, so issuing, redeeming and
/// rotating each change one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: String,
    pub client_id: String,
    /// The account; `None` for a temporary login.
    pub user_id: Option<String>,
    /// For temporary logins: the identity as JSON (`Vec<Attribute>`), deleted with the grant.
    pub temporary_identity: Option<String>,
    /// The subject the client sees (pairwise or public).
    pub subject: String,
    pub scopes: String,
    /// The `claims` request parameter (OIDC Core §5.5) as JSON, if any.
    pub claims: Option<String>,
    pub level: Level,
    /// RFC 8176 values, space-separated.
    pub amr: String,
    pub auth_time: OffsetDateTime,
    /// The browser session (OIDC `sid`).
    pub session_id: Option<String>,
    /// For whom the person acts in this grant, and by what chain; every use of the grant checks
    /// that the chain still holds.
    pub representation: Option<Representation>,
    pub created_at: OffsetDateTime,
    /// When the last token of this grant expires; the row may be purged after.
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub code: GrantCode,
    /// Hash of the current refresh token; `None` before the code is redeemed, for grants without
    /// refresh tokens, and after revocation.
    pub refresh_hash: Option<SecretHash>,
    /// How often the refresh token was rotated (part of the token, for reuse detection).
    pub refresh_generation: i64,
}

impl GrantRecord {
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// The authorization code of a grant and what it is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantCode {
    pub hash: SecretHash,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub expires_at: OffsetDateTime,
    /// Set once the code was redeemed; a second redemption is a replay.
    pub used_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub user_id: String,
    pub client_id: String,
    /// Space-separated scopes consented to.
    pub scopes: String,
    /// Space-separated individual claims consented to.
    pub claims: String,
    pub granted_at: OffsetDateTime,
}

/// A signing key. The private key is encrypted at rest.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub status: KeyStatus,
    /// The private key (PKCS#8 DER), encrypted with the configured key-encryption key.
    pub private_encrypted: Vec<u8>,
    /// The public key as a JWK (JSON).
    pub public_jwk: String,
    pub created_at: OffsetDateTime,
    /// For retired keys: when they leave the JWKS.
    pub retire_after: Option<OffsetDateTime>,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .field("retire_after", &self.retire_after)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Published, not yet signing: relying parties learn it before it is used.
    Next,
    /// Signing.
    Current,
    /// No longer signing; published until its tokens have expired.
    Retired,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Next => "next",
            KeyStatus::Current => "current",
            KeyStatus::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<KeyStatus> {
        match s {
            "next" => Some(KeyStatus::Next),
            "current" => Some(KeyStatus::Current),
            "retired" => Some(KeyStatus::Retired),
            _ => None,
        }
    }
}

/// A single-use link sent by e-mail.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailLinkRecord {
    pub hash: SecretHash,
    pub purpose: EmailLinkPurpose,
    pub email: String,
    pub user_id: Option<String>,
    /// Purpose-specific data as JSON (a pending registration's password hash).
    pub payload: String,
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for EmailLinkRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailLinkRecord")
            .field("purpose", &self.purpose)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailLinkPurpose {
    Registration,
    PasswordReset,
}

impl EmailLinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailLinkPurpose::Registration => "registration",
            EmailLinkPurpose::PasswordReset => "password_reset",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "registration" => Some(EmailLinkPurpose::Registration),
            "password_reset" => Some(EmailLinkPurpose::PasswordReset),
            _ => None,
        }
    }
}
