//! Opaque secrets konto hands out (codes, refresh tokens, session ids, client secrets) and their
//! storage form.
//!
//! They are high-entropy random values konto generated itself, so a fast keyed hash is the right
//! storage form: HMAC-SHA-256 under a server key. A leaked database then yields neither usable
//! tokens nor a way to test guesses offline. The slow password hash is for user passwords only.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA-256 over length-prefixed parts (so `("ab","c")` and `("a","bc")` differ).
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| {
        // HMAC takes keys of any length; only fixed-key MACs can refuse one.
        unreachable_key()
    });
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cold]
fn unreachable_key() -> ! {
    panic!("HMAC-SHA-256 refused a key")
}

/// A secret value in clear, as sent to its holder once. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A new secret from 32 random bytes (256 bits), base64url without padding: 43 characters.
    pub fn from_random(bytes: [u8; 32]) -> Secret {
        Secret(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Wraps a value that came from a client.
    pub fn from_client(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The stored form of a secret: its keyed hash, hex-encoded. `Debug` shows only a prefix.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn from_stored(hex: String) -> SecretHash {
        SecretHash(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with another hash.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix: String = self.0.chars().take(8).collect();
        write!(f, "SecretHash({prefix}…)")
    }
}

/// What a secret is for; part of the hash so a code can never be presented as a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretPurpose {
    AuthorizationCode,
    RefreshToken,
    Session,
    ClientSecret,
    Flow,
    EmailLink,
    Handoff,
    /// Throttle keys: account names of failed logins are not stored in clear.
    Throttle,
    /// The browser-binding cookie of login flows.
    Binding,
    /// The authentication tag inside a refresh token.
    RefreshTag,
    /// The code in an organisation's confirmation letter.
    OrgLetter,
    /// A link inviting someone into an organisation.
    OrgInvitation,
}

impl SecretPurpose {
    fn label(self) -> &'static [u8] {
        match self {
            SecretPurpose::AuthorizationCode => b"code",
            SecretPurpose::RefreshToken => b"refresh",
            SecretPurpose::Session => b"session",
            SecretPurpose::ClientSecret => b"client-secret",
            SecretPurpose::Flow => b"flow",
            SecretPurpose::EmailLink => b"email-link",
            SecretPurpose::Handoff => b"handoff",
            SecretPurpose::Throttle => b"throttle",
            SecretPurpose::Binding => b"binding",
            SecretPurpose::RefreshTag => b"refresh-tag",
            SecretPurpose::OrgLetter => b"org-letter",
            SecretPurpose::OrgInvitation => b"org-invitation",
        }
    }
}

/// Hashes secrets for storage under the server's key.
#[derive(Clone)]
pub struct SecretHasher {
    key: [u8; 32],
}

impl SecretHasher {
    pub fn new(key: [u8; 32]) -> SecretHasher {
        SecretHasher { key }
    }

    pub fn hash(&self, purpose: SecretPurpose, secret: &str) -> SecretHash {
        SecretHash(hex::encode(hmac_sha256(
            &self.key,
            &[purpose.label(), secret.as_bytes()],
        )))
    }
}

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHasher(<key redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::from_random([1; 32]);
        assert!(!format!("{s:?}").contains(s.expose()));
        let hasher = SecretHasher::new([2; 32]);
        assert!(!format!("{hasher:?}").contains("2"));
        let h = hasher.hash(SecretPurpose::RefreshToken, s.expose());
        assert!(!format!("{h:?}").contains(h.as_str()));
    }

    #[test]
    fn purposes_separate_hashes() {
        let hasher = SecretHasher::new([2; 32]);
        let a = hasher.hash(SecretPurpose::AuthorizationCode, "x");
        let b = hasher.hash(SecretPurpose::RefreshToken, "x");
        assert_ne!(a, b);
        assert!(a.matches(&hasher.hash(SecretPurpose::AuthorizationCode, "x")));
        assert_eq!(Secret::from_random([0; 32]).expose().len(), 43);
    }
}
