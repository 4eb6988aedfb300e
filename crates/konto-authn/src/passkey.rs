//! WebAuthn passkeys (webauthn-rs), as a second factor after the password and for login without
//! a password.
//!
//! Both use the same ceremony: the account is named first (by the password step or by the
//! user name), then the browser proves possession of the account's passkey with user verification.
//! For a name without a passkey (or without an account) konto answers with a challenge for a
//! credential id derived from the name, so the answer looks the same and reveals nothing.

use konto_core::amr::{AuthenticatorKind, MethodUsed};
use konto_core::secret::{SecretHasher, SecretPurpose};
use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::Verified;

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("passkeys are not available for this issuer: {0}")]
    Config(String),
    #[error("the passkey could not be verified")]
    Rejected,
    #[error("the stored passkey is unreadable")]
    Corrupt,
}

/// What konto keeps between the two halves of a ceremony (in the login flow's state).
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingAuthentication {
    state: PasskeyAuthentication,
    /// `None` when the challenge was a decoy for a name without a passkey.
    user_id: Option<String>,
}

impl std::fmt::Debug for PendingAuthentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingAuthentication")
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct PendingRegistration {
    state: PasskeyRegistration,
}

impl std::fmt::Debug for PendingRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingRegistration")
    }
}

/// The relying-party side of WebAuthn for one issuer origin.
pub struct Passkeys {
    webauthn: Webauthn,
    hasher: SecretHasher,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passkeys")
    }
}

/// A passkey as stored in the account's authenticator data.
pub fn encode_passkey(p: &Passkey) -> Result<String, PasskeyError> {
    serde_json::to_string(p).map_err(|_| PasskeyError::Corrupt)
}

pub fn decode_passkey(s: &str) -> Result<Passkey, PasskeyError> {
    serde_json::from_str(s).map_err(|_| PasskeyError::Corrupt)
}

/// The account id as the WebAuthn user handle (account ids are UUIDs; other ids are hashed into one).
fn user_handle(user_id: &str) -> Uuid {
    Uuid::parse_str(user_id)
        .unwrap_or_else(|_| Uuid::new_v5(&Uuid::NAMESPACE_URL, user_id.as_bytes()))
}

impl Passkeys {
    /// `origin` is the issuer's origin; the relying-party id is its host.
    pub fn new(
        origin: &Url,
        rp_name: &str,
        hasher: SecretHasher,
    ) -> Result<Passkeys, PasskeyError> {
        let rp_id = origin
            .host_str()
            .ok_or_else(|| PasskeyError::Config("the issuer has no host".into()))?;
        let webauthn = WebauthnBuilder::new(rp_id, origin)
            .and_then(|b| b.rp_name(rp_name).build())
            .map_err(|e| PasskeyError::Config(e.to_string()))?;
        Ok(Passkeys { webauthn, hasher })
    }

    pub fn start_registration(
        &self,
        user_id: &str,
        user_name: &str,
        display_name: &str,
    ) -> Result<(CreationChallengeResponse, PendingRegistration), PasskeyError> {
        let (challenge, state) = self
            .webauthn
            .start_passkey_registration(user_handle(user_id), user_name, display_name, None)
            .map_err(|e| PasskeyError::Config(e.to_string()))?;
        Ok((challenge, PendingRegistration { state }))
    }

    /// The new passkey and its credential id (base64url), to store as the account's passkey.
    pub fn finish_registration(
        &self,
        response: &RegisterPublicKeyCredential,
        pending: &PendingRegistration,
    ) -> Result<(Passkey, String), PasskeyError> {
        let passkey = self
            .webauthn
            .finish_passkey_registration(response, &pending.state)
            .map_err(|_| PasskeyError::Rejected)?;
        let id = credential_id(passkey.cred_id().as_ref());
        Ok((passkey, id))
    }

    /// A challenge for the account's passkey, or a decoy when there is none.
    pub fn start_authentication(
        &self,
        user_id: Option<&str>,
        passkey: Option<&Passkey>,
        name_for_decoy: &str,
    ) -> Result<(RequestChallengeResponse, PendingAuthentication), PasskeyError> {
        let (passkey, user_id) = match (passkey, user_id) {
            (Some(p), Some(u)) => (p.clone(), Some(u.to_owned())),
            _ => (self.decoy(name_for_decoy)?, None),
        };
        let (challenge, state) = self
            .webauthn
            .start_passkey_authentication(&[passkey])
            .map_err(|e| PasskeyError::Config(e.to_string()))?;
        Ok((challenge, PendingAuthentication { state, user_id }))
    }

    /// Verifies the browser's answer. Returns the account id, the verification and the passkey
    /// with its updated counter (to store back).
    pub fn finish_authentication(
        &self,
        response: &PublicKeyCredential,
        pending: &PendingAuthentication,
        mut passkey: Passkey,
    ) -> Result<(String, Verified, Passkey), PasskeyError> {
        let user_id = pending.user_id.clone().ok_or(PasskeyError::Rejected)?;
        let result = self
            .webauthn
            .finish_passkey_authentication(response, &pending.state)
            .map_err(|_| PasskeyError::Rejected)?;
        passkey.update_credential(&result);
        let mut verified = Verified::new(
            AuthenticatorKind::Passkey,
            Some(credential_id(result.cred_id().as_ref())),
            Vec::new(),
        );
        verified.method = MethodUsed {
            kind: AuthenticatorKind::Passkey,
            user_verified: result.user_verified(),
        };
        Ok((user_id, verified, passkey))
    }

    pub fn pending_user(pending: &PendingAuthentication) -> Option<&str> {
        pending.user_id.as_deref()
    }

    /// A credential that cannot exist, derived from the name, for the decoy challenge: a fixed
    /// P-256 public key with a keyed credential id. Its id length and transports are chosen per
    /// name among those real authenticators produce, so that the answer for a name without a
    /// passkey has the shape of a real one, and the same shape every time it is asked.
    fn decoy(&self, name: &str) -> Result<Passkey, PasskeyError> {
        let name = name.to_lowercase();
        let mut bytes = Vec::with_capacity(64);
        for part in ["a", "b"] {
            let h = self.hasher.hash(
                SecretPurpose::Throttle,
                &format!("passkey-decoy:{part}:{name}"),
            );
            bytes.extend(hex_bytes(h.as_str()));
        }
        let pick = bytes.first().copied().unwrap_or(0);
        let length = DECOY_ID_LENGTHS[usize::from(pick) % DECOY_ID_LENGTHS.len()];
        let transports = DECOY_TRANSPORTS[usize::from(pick >> 4) % DECOY_TRANSPORTS.len()];
        let id_b64 = credential_id(bytes.get(1..=length).unwrap_or(&bytes));
        let transports = serde_json::to_string(transports)
            .map_err(|_| PasskeyError::Config("decoy transports".into()))?;
        let json = format!(
            r#"{{"cred":{{"cred_id":"{id_b64}","cred":{{"type_":"ES256","key":{{"EC_EC2":{{"curve":"SECP256R1","x":"{DECOY_X}","y":"{DECOY_Y}"}}}}}},"counter":0,"transports":{transports},"user_verified":true,"backup_eligible":false,"backup_state":false,"registration_policy":"required","extensions":{{"cred_protect":"NotRequested","hmac_create_secret":"NotRequested","appid":"NotRequested","cred_props":"Ignored"}},"attestation":{{"data":"None","metadata":"None"}},"attestation_format":"none"}}}}"#
        );
        serde_json::from_str(&json).map_err(|_| PasskeyError::Config("decoy credential".into()))
    }
}

/// Credential id lengths of common authenticators (platform passkeys, password managers,
/// security keys); a decoy takes one of them.
const DECOY_ID_LENGTHS: [usize; 4] = [16, 20, 32, 48];

/// Transports browsers report for common authenticators (`getTransports()`).
const DECOY_TRANSPORTS: [&[&str]; 6] = [
    &["hybrid", "internal"],
    &["internal"],
    &["internal", "hybrid"],
    &["usb"],
    &["nfc", "usb"],
    &["hybrid", "internal"],
];

// The P-256 generator point: a valid public key whose private key is 1 — no authenticator holds it
// for any credential id konto hands out as a decoy, and a signature by it would still be refused
// because the decoy state carries no account.
const DECOY_X: &str = "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY";
const DECOY_Y: &str = "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU";

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn credential_id(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoys_are_valid_and_stable() {
        let origin = Url::parse("https://konto.example").unwrap();
        let p = Passkeys::new(&origin, "konto", SecretHasher::new([1; 32])).unwrap();
        let (c1, pending) = p
            .start_authentication(None, None, "nobody@example.org")
            .unwrap();
        let (c2, _) = p
            .start_authentication(None, None, "NOBODY@example.org")
            .unwrap();
        let ids = |c: &RequestChallengeResponse| {
            c.public_key
                .allow_credentials
                .iter()
                .map(|a| a.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&c1), ids(&c2), "the same name gets the same decoy");
        assert_eq!(ids(&c1).len(), 1);
        assert!(Passkeys::pending_user(&pending).is_none());
        // names differ in the shape of their decoys as real accounts differ in authenticators
        let mut lengths = std::collections::BTreeSet::new();
        let mut transports = std::collections::BTreeSet::new();
        for i in 0..64 {
            let (c, _) = p
                .start_authentication(None, None, &format!("user{i}"))
                .unwrap();
            let allowed = &c.public_key.allow_credentials[0];
            lengths.insert(allowed.id.len());
            let t = allowed
                .transports
                .clone()
                .expect("a decoy names transports");
            assert!(!t.is_empty());
            transports.insert(format!("{t:?}"));
        }
        assert_eq!(
            lengths.into_iter().collect::<Vec<_>>(),
            DECOY_ID_LENGTHS.to_vec()
        );
        assert!(transports.len() >= 4, "{transports:?}");
    }
}
