//! Key generation, import, thumbprints and encryption at rest.

use aes_gcm::aead::{Aead, AeadInPlace, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jwk::alg::ed::EdCurve;
use josekit::jws::{ES256, EdDSA, RS256};
use konto_core::client::SigningAlg;
use konto_store::{KeyStatus, StoredKey};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::keyring::KeyError;

/// The key that encrypts private signing keys at rest (AES-256-GCM).
#[derive(Clone)]
pub struct KeyEncryptionKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(<redacted>)")
    }
}

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

impl KeyEncryptionKey {
    pub fn new(key: [u8; 32]) -> KeyEncryptionKey {
        KeyEncryptionKey {
            cipher: Aes256Gcm::new(&key.into()),
        }
    }

    /// `nonce || ciphertext`, bound to `kid`.
    pub fn encrypt(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
        // one copy: nonce, then the plaintext encrypted where it lies, then the tag
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&[0u8; NONCE_LEN]);
        out.extend_from_slice(plaintext);
        self.seal_after_nonce(kid, out)
    }

    /// [`KeyEncryptionKey::encrypt`] of a buffer the caller gives up: encrypted where it lies
    /// (for large plaintexts, such as attachments, no second copy is made).
    pub fn encrypt_owned(&self, kid: &str, mut plaintext: Vec<u8>) -> Result<Vec<u8>, KeyError> {
        plaintext.reserve_exact(NONCE_LEN + TAG_LEN);
        plaintext.splice(0..0, [0u8; NONCE_LEN]);
        self.seal_after_nonce(kid, plaintext)
    }

    /// Encrypts `buf[NONCE_LEN..]` in place under a fresh nonce written into `buf[..NONCE_LEN]`,
    /// and appends the tag.
    fn seal_after_nonce(&self, kid: &str, mut buf: Vec<u8>) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| KeyError::Random)?;
        let (head, body) = buf.split_at_mut(NONCE_LEN);
        head.copy_from_slice(&nonce);
        let tag = self
            .cipher
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), kid.as_bytes(), body)
            .map_err(|_| KeyError::Encryption)?;
        buf.extend_from_slice(&tag);
        Ok(buf)
    }

    pub fn decrypt(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, KeyError> {
        if sealed.len() <= NONCE_LEN {
            return Err(KeyError::Decryption(kid.to_owned()));
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Decryption(kid.to_owned()))
    }
}

/// A private key (PKCS#8 DER) with its public JWK and thumbprint.
pub struct GeneratedKey {
    pub alg: SigningAlg,
    pub pkcs8_der: Vec<u8>,
    /// The public JWK with `kid`, `alg` and `use` set.
    pub public_jwk: Jwk,
    pub kid: String,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn jose(e: josekit::JoseError) -> KeyError {
    KeyError::Crypto(e.to_string())
}

/// Generates a new key: RSA 2048 for RS256, P-256 for ES256, Ed25519 for EdDSA.
pub fn generate_key(alg: SigningAlg) -> Result<GeneratedKey, KeyError> {
    let (der, public) = match alg {
        SigningAlg::RS256 => {
            let kp = RS256.generate_key_pair(2048).map_err(jose)?;
            (kp.to_der_private_key(), kp.to_jwk_public_key())
        }
        SigningAlg::ES256 => {
            let kp = ES256.generate_key_pair().map_err(jose)?;
            (kp.to_der_private_key(), kp.to_jwk_public_key())
        }
        SigningAlg::EdDSA => {
            let kp = EdDSA.generate_key_pair(EdCurve::Ed25519).map_err(jose)?;
            (kp.to_der_private_key(), kp.to_jwk_public_key())
        }
    };
    finish(alg, der, public)
}

/// Imports a PKCS#8 PEM private key for `alg`.
pub fn import_pkcs8_pem(alg: SigningAlg, pem: &[u8]) -> Result<GeneratedKey, KeyError> {
    let (der, public) = match alg {
        SigningAlg::RS256 => {
            let kp = RS256.key_pair_from_pem(pem).map_err(jose)?;
            (kp.to_der_private_key(), kp.to_jwk_public_key())
        }
        SigningAlg::ES256 => {
            let kp = ES256.key_pair_from_pem(pem).map_err(jose)?;
            if kp.to_jwk_public_key().curve() != Some("P-256") {
                return Err(KeyError::Crypto("ES256 needs a P-256 key".into()));
            }
            (kp.to_der_private_key(), kp.to_jwk_public_key())
        }
        SigningAlg::EdDSA => {
            let kp = EdDSA.key_pair_from_pem(pem).map_err(jose)?;
            (kp.to_der_private_key(), kp.to_jwk_public_key())
        }
    };
    finish(alg, der, public)
}

fn finish(alg: SigningAlg, der: Vec<u8>, mut public: Jwk) -> Result<GeneratedKey, KeyError> {
    let kid = thumbprint(&public)?;
    public.set_key_id(&kid);
    public.set_algorithm(alg.as_str());
    public.set_key_use("sig");
    Ok(GeneratedKey {
        alg,
        pkcs8_der: der,
        public_jwk: public,
        kid,
    })
}

/// RFC 7638 thumbprint (SHA-256) of a public JWK.
pub fn thumbprint(jwk: &Jwk) -> Result<String, KeyError> {
    let p = |name: &str| -> Result<String, KeyError> {
        jwk.parameter(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| KeyError::Crypto(format!("JWK lacks {name}")))
    };
    // members in lexicographic order, no whitespace (RFC 7638 §3.2)
    let canonical = match jwk.key_type() {
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, p("e")?, p("n")?),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            p("crv")?,
            p("x")?,
            p("y")?
        ),
        "OKP" => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, p("crv")?, p("x")?),
        other => return Err(KeyError::Crypto(format!("unsupported key type {other}"))),
    };
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// The stored form of a key: private part encrypted, public JWK as JSON.
pub fn stored_key(
    key: &GeneratedKey,
    kek: &KeyEncryptionKey,
    status: KeyStatus,
    now: OffsetDateTime,
) -> Result<StoredKey, KeyError> {
    Ok(StoredKey {
        kid: key.kid.clone(),
        alg: key.alg.as_str().to_owned(),
        status,
        private_encrypted: kek.encrypt(&key.kid, &key.pkcs8_der)?,
        public_jwk: key.public_jwk.to_string(),
        created_at: now,
        retire_after: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_in_place_opens_like_the_copy() {
        let kek = KeyEncryptionKey::new([5; 32]);
        let big = vec![7u8; 100_000];
        let owned = kek.encrypt_owned("att", big.clone()).unwrap();
        let copied = kek.encrypt("att", &big).unwrap();
        assert_eq!(owned.len(), copied.len());
        assert_eq!(owned.len(), big.len() + NONCE_LEN + TAG_LEN);
        assert_eq!(kek.decrypt("att", &owned).unwrap(), big);
        assert_eq!(kek.decrypt("att", &copied).unwrap(), big);
        assert!(kek.decrypt("other", &owned).is_err());
        assert_eq!(
            kek.decrypt("e", &kek.encrypt_owned("e", Vec::new()).unwrap())
                .unwrap(),
            b""
        );
    }

    #[test]
    fn encryption_is_bound_to_the_kid() {
        let kek = KeyEncryptionKey::new([3; 32]);
        let sealed = kek.encrypt("kid-1", b"secret key").unwrap();
        assert_eq!(kek.decrypt("kid-1", &sealed).unwrap(), b"secret key");
        assert!(kek.decrypt("kid-2", &sealed).is_err());
        assert!(
            KeyEncryptionKey::new([4; 32])
                .decrypt("kid-1", &sealed)
                .is_err()
        );
        assert!(kek.decrypt("kid-1", &sealed[..5]).is_err());
        assert!(!sealed.windows(10).any(|w| w == b"secret key"));
    }

    /// RFC 7638 §3.1 example.
    #[test]
    fn rfc7638_thumbprint_example() {
        let jwk = Jwk::from_bytes(br#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#).unwrap();
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn generated_keys_carry_kid_alg_and_use() {
        for alg in [SigningAlg::ES256, SigningAlg::EdDSA] {
            let k = generate_key(alg).unwrap();
            assert_eq!(k.public_jwk.key_id(), Some(k.kid.as_str()));
            assert_eq!(k.public_jwk.algorithm(), Some(alg.as_str()));
            assert_eq!(k.public_jwk.key_use(), Some("sig"));
            assert!(
                k.public_jwk.parameter("d").is_none(),
                "public JWK holds no private part"
            );
        }
    }
}
