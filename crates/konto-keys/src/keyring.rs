//! The keys a node signs and verifies with, built once and reloaded when they change.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use josekit::jwk::Jwk;
use josekit::jws::{ES256, EdDSA, JwsSigner, JwsVerifier, RS256};
use konto_core::client::SigningAlg;
use konto_store::{KeyRepo, KeyStatus, StoreError, StoredKey};
use time::OffsetDateTime;

use crate::crypto::{KeyEncryptionKey, generate_key, stored_key};
use crate::jws::{self, JwsError, JwsHeader, VerifiedJws};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no randomness available")]
    Random,
    #[error("encrypting a private key failed")]
    Encryption,
    #[error("the private key {0} cannot be decrypted: wrong key-encryption key or corrupt data")]
    Decryption(String),
    #[error("key material is unusable: {0}")]
    Crypto(String),
    #[error("no current {0} key")]
    NoCurrentKey(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Signer {
    kid: String,
    alg: SigningAlg,
    signer: Box<dyn JwsSigner>,
}

struct Verifier {
    alg: SigningAlg,
    verifier: Box<dyn JwsVerifier>,
}

/// One consistent set of keys.
struct KeySet {
    /// `(kid, status)` of every key, to notice changes.
    fingerprint: Vec<(String, KeyStatus)>,
    signers: HashMap<SigningAlg, Arc<Signer>>,
    verifiers: HashMap<String, Arc<Verifier>>,
    jwks: Arc<str>,
}

/// The signing keys of this deployment.
pub struct Keyring {
    store: Arc<dyn KeyRepo>,
    kek: KeyEncryptionKey,
    set: RwLock<Arc<KeySet>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring")
    }
}

fn jose(e: josekit::JoseError) -> KeyError {
    KeyError::Crypto(e.to_string())
}

fn build(
    keys: &[StoredKey],
    kek: &KeyEncryptionKey,
    now: OffsetDateTime,
) -> Result<KeySet, KeyError> {
    let mut signers = HashMap::new();
    let mut verifiers = HashMap::new();
    let mut published = Vec::new();
    let mut fingerprint = Vec::new();
    for key in keys {
        fingerprint.push((key.kid.clone(), key.status));
        let Ok(alg) = key.alg.parse::<SigningAlg>() else {
            tracing::warn!(kid = %key.kid, alg = %key.alg, "ignoring a key with an unsupported algorithm");
            continue;
        };
        if key.status == KeyStatus::Retired && key.retire_after.is_some_and(|t| t <= now) {
            continue;
        }
        let jwk = Jwk::from_bytes(key.public_jwk.as_bytes()).map_err(jose)?;
        let verifier: Box<dyn JwsVerifier> = match alg {
            SigningAlg::RS256 => Box::new(RS256.verifier_from_jwk(&jwk).map_err(jose)?),
            SigningAlg::ES256 => Box::new(ES256.verifier_from_jwk(&jwk).map_err(jose)?),
            SigningAlg::EdDSA => Box::new(EdDSA.verifier_from_jwk(&jwk).map_err(jose)?),
        };
        verifiers.insert(key.kid.clone(), Arc::new(Verifier { alg, verifier }));
        published.push(serde_json::Value::Object(jwk.as_ref().clone()));
        if key.status == KeyStatus::Current {
            let der = kek.decrypt(&key.kid, &key.private_encrypted)?;
            let signer: Box<dyn JwsSigner> = match alg {
                SigningAlg::RS256 => Box::new(RS256.signer_from_der(&der).map_err(jose)?),
                SigningAlg::ES256 => Box::new(ES256.signer_from_der(&der).map_err(jose)?),
                SigningAlg::EdDSA => Box::new(EdDSA.signer_from_der(&der).map_err(jose)?),
            };
            signers.insert(
                alg,
                Arc::new(Signer {
                    kid: key.kid.clone(),
                    alg,
                    signer,
                }),
            );
        }
    }
    let jwks = serde_json::json!({ "keys": published }).to_string();
    Ok(KeySet {
        fingerprint,
        signers,
        verifiers,
        jwks: Arc::from(jwks),
    })
}

impl Keyring {
    /// Loads the keys from the store and builds signers and verifiers.
    pub async fn load(
        store: Arc<dyn KeyRepo>,
        kek: KeyEncryptionKey,
        now: OffsetDateTime,
    ) -> Result<Keyring, KeyError> {
        let keys = store.signing_keys().await?;
        let set = build(&keys, &kek, now)?;
        Ok(Keyring {
            store,
            kek,
            set: RwLock::new(Arc::new(set)),
        })
    }

    fn current(&self) -> Arc<KeySet> {
        match self.set.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Reloads when keys were rotated elsewhere; returns whether anything changed.
    pub async fn reload(&self, now: OffsetDateTime) -> Result<bool, KeyError> {
        let keys = self.store.signing_keys().await?;
        let fingerprint: Vec<(String, KeyStatus)> =
            keys.iter().map(|k| (k.kid.clone(), k.status)).collect();
        let expired_retired = keys
            .iter()
            .any(|k| k.status == KeyStatus::Retired && k.retire_after.is_some_and(|t| t <= now));
        let current = self.current();
        if fingerprint == current.fingerprint && !expired_retired {
            return Ok(false);
        }
        let set = build(&keys, &self.kek, now)?;
        let changed = set.jwks != current.jwks || set.fingerprint != current.fingerprint;
        match self.set.write() {
            Ok(mut guard) => *guard = Arc::new(set),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
        }
        Ok(changed)
    }

    /// Makes sure every algorithm has a current and a next key, generating what is missing.
    pub async fn ensure_keys(
        store: &dyn KeyRepo,
        kek: &KeyEncryptionKey,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, KeyError> {
        let keys = store.signing_keys().await?;
        let mut created = Vec::new();
        for alg in SigningAlg::ALL {
            for status in [KeyStatus::Current, KeyStatus::Next] {
                if !keys
                    .iter()
                    .any(|k| k.alg == alg.as_str() && k.status == status)
                {
                    let key = generate_key(alg)?;
                    store
                        .insert_key(&stored_key(&key, kek, status, now)?)
                        .await?;
                    created.push(format!("{} {} {}", alg, status.as_str(), key.kid));
                }
            }
        }
        Ok(created)
    }

    /// Rotates one algorithm: next → current, current → retired (published until
    /// `now + keep_published`), and a new next key.
    pub async fn rotate(
        store: &dyn KeyRepo,
        kek: &KeyEncryptionKey,
        alg: SigningAlg,
        keep_published: time::Duration,
        now: OffsetDateTime,
    ) -> Result<String, KeyError> {
        let key = generate_key(alg)?;
        let stored = stored_key(&key, kek, KeyStatus::Next, now)?;
        store
            .rotate_keys(alg.as_str(), &stored, now + keep_published, now)
            .await?;
        Ok(key.kid)
    }

    /// The JWKS document (RFC 7517 §5), serialised once per key set.
    pub fn jwks(&self) -> Arc<str> {
        Arc::clone(&self.current().jwks)
    }

    /// The algorithms this node can sign with now.
    pub fn signing_algs(&self) -> Vec<SigningAlg> {
        let set = self.current();
        let mut algs: Vec<SigningAlg> = set.signers.keys().copied().collect();
        algs.sort();
        algs
    }

    /// The key id the current key of `alg` signs with.
    pub fn current_kid(&self, alg: SigningAlg) -> Option<String> {
        self.current().signers.get(&alg).map(|s| s.kid.clone())
    }

    /// Signs `payload` (JSON bytes) as a compact JWS with the current key of `alg`.
    pub fn sign(&self, alg: SigningAlg, typ: &str, payload: &[u8]) -> Result<String, KeyError> {
        let signer = self
            .current()
            .signers
            .get(&alg)
            .cloned()
            .ok_or(KeyError::NoCurrentKey(alg.as_str()))?;
        let header = JwsHeader {
            alg: signer.alg.as_str().to_owned(),
            kid: Some(signer.kid.clone()),
            typ: Some(typ.to_owned()),
        };
        let input =
            jws::signing_input(&header, payload).map_err(|_| KeyError::Crypto("header".into()))?;
        let sig = signer.signer.sign(input.as_bytes()).map_err(jose)?;
        Ok(jws::append_signature(input, &sig))
    }

    /// Verifies a compact JWS signed by one of konto's published keys.
    pub fn verify(&self, token: &str) -> Result<VerifiedJws, JwsError> {
        let parts = jws::split(token)?;
        let kid = parts.header.kid.as_deref().ok_or(JwsError::UnknownKey)?;
        let verifier = self
            .current()
            .verifiers
            .get(kid)
            .cloned()
            .ok_or(JwsError::UnknownKey)?;
        if parts.header.alg != verifier.alg.as_str() {
            return Err(JwsError::AlgorithmMismatch);
        }
        verifier
            .verifier
            .verify(parts.signing_input, &parts.signature)
            .map_err(|_| JwsError::BadSignature)?;
        Ok(VerifiedJws {
            header: parts.header,
            payload: parts.payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use konto_store_sql::testing::sqlite_store;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[tokio::test]
    async fn sign_verify_rotate() {
        let (store, _dir) = sqlite_store().await;
        let store: Arc<dyn KeyRepo> = Arc::new(store);
        let kek = KeyEncryptionKey::new([5; 32]);
        let created = Keyring::ensure_keys(store.as_ref(), &kek, now())
            .await
            .unwrap();
        assert_eq!(created.len(), 6, "current and next for three algorithms");
        assert!(
            Keyring::ensure_keys(store.as_ref(), &kek, now())
                .await
                .unwrap()
                .is_empty()
        );

        let ring = Keyring::load(Arc::clone(&store), kek.clone(), now())
            .await
            .unwrap();
        let jwks: serde_json::Value = serde_json::from_str(&ring.jwks()).unwrap();
        assert_eq!(
            jwks["keys"].as_array().unwrap().len(),
            6,
            "current and next keys are published"
        );
        assert!(
            !ring.jwks().contains("\"d\""),
            "no private parts in the JWKS"
        );

        let mut old_tokens = Vec::new();
        for alg in SigningAlg::ALL {
            let token = ring.sign(alg, "JWT", br#"{"sub":"x"}"#).unwrap();
            let verified = ring.verify(&token).unwrap();
            assert_eq!(verified.payload, br#"{"sub":"x"}"#);
            assert_eq!(verified.header.alg, alg.as_str());
            old_tokens.push(token);
        }

        // rotation: tokens of the old key still verify, new tokens use the former next key
        let old_kid = ring.current_kid(SigningAlg::ES256).unwrap();
        Keyring::rotate(
            store.as_ref(),
            &kek,
            SigningAlg::ES256,
            time::Duration::hours(1),
            now(),
        )
        .await
        .unwrap();
        assert!(ring.reload(now()).await.unwrap());
        let new_kid = ring.current_kid(SigningAlg::ES256).unwrap();
        assert_ne!(old_kid, new_kid);
        for t in &old_tokens {
            ring.verify(t).unwrap();
        }
        // after the retirement period the old key is gone from the JWKS
        let later = now() + time::Duration::hours(2);
        assert!(ring.reload(later).await.unwrap());
        assert!(!ring.jwks().contains(&old_kid));
        assert_eq!(
            ring.verify(&old_tokens[1]).unwrap_err(),
            JwsError::UnknownKey
        );
    }

    #[tokio::test]
    async fn forged_tokens_fail() {
        let (store, _dir) = sqlite_store().await;
        let store: Arc<dyn KeyRepo> = Arc::new(store);
        let kek = KeyEncryptionKey::new([5; 32]);
        Keyring::ensure_keys(store.as_ref(), &kek, now())
            .await
            .unwrap();
        let ring = Keyring::load(Arc::clone(&store), kek, now()).await.unwrap();
        let token = ring
            .sign(SigningAlg::ES256, "at+jwt", br#"{"sub":"x"}"#)
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();

        // tampered payload
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(br#"{"sub":"y"}"#),
            parts[2]
        );
        assert_eq!(ring.verify(&forged).unwrap_err(), JwsError::BadSignature);
        // alg: none
        let kid = ring.current_kid(SigningAlg::ES256).unwrap();
        let none_header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","kid":"{kid}"}}"#));
        let none = format!("{none_header}.{}.", parts[1]);
        assert_eq!(ring.verify(&none).unwrap_err(), JwsError::AlgorithmMismatch);
        // algorithm confusion: HS256 with the key id of an ES256 key
        let hs = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#));
        assert_eq!(
            ring.verify(&format!("{hs}.{}.{}", parts[1], parts[2]))
                .unwrap_err(),
            JwsError::AlgorithmMismatch
        );
        // unknown or missing kid
        let nokid = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#);
        assert_eq!(
            ring.verify(&format!("{nokid}.{}.{}", parts[1], parts[2]))
                .unwrap_err(),
            JwsError::UnknownKey
        );
        // garbage
        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!", &"a".repeat(20_000)] {
            assert!(ring.verify(bad).is_err(), "{bad:.20}");
        }
    }

    #[tokio::test]
    async fn a_wrong_key_encryption_key_is_a_clear_error() {
        let (store, _dir) = sqlite_store().await;
        let store: Arc<dyn KeyRepo> = Arc::new(store);
        Keyring::ensure_keys(store.as_ref(), &KeyEncryptionKey::new([5; 32]), now())
            .await
            .unwrap();
        let err = Keyring::load(store, KeyEncryptionKey::new([6; 32]), now())
            .await
            .unwrap_err();
        assert!(matches!(err, KeyError::Decryption(_)), "{err}");
    }
}
