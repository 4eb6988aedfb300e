//! The master secret and the keys derived from it, and the guard against development keys in
//! production.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use konto_core::secret::hmac_sha256;

use crate::BootError;
use crate::config::Config;

/// The public development master key (`keys-dev/master.key`), refused outside development mode.
pub(crate) const DEV_MASTER_KEY: &str = include_str!("../../../keys-dev/master.key");

/// The public development SAML signing key and certificate, refused outside development mode.
pub(crate) const DEV_SAML_KEY: &str = include_str!("../../../keys-dev/saml/idp.key");
pub(crate) const DEV_SAML_CERT: &str = include_str!("../../../keys-dev/saml/idp.crt");
/// The public development signing keys, refused outside development mode.
pub(crate) const DEV_SIGNING_KEYS: [(&str, &str); 6] = [
    ("RS256", include_str!("../../../keys-dev/signing/rs256.pem")),
    ("ES256", include_str!("../../../keys-dev/signing/es256.pem")),
    ("EdDSA", include_str!("../../../keys-dev/signing/eddsa.pem")),
    (
        "RS256",
        include_str!("../../../keys-dev/signing/rs256-next.pem"),
    ),
    (
        "ES256",
        include_str!("../../../keys-dev/signing/es256-next.pem"),
    ),
    (
        "EdDSA",
        include_str!("../../../keys-dev/signing/eddsa-next.pem"),
    ),
];

/// Keys derived from the master secret, one per purpose.
#[derive(Clone)]
pub struct DerivedKeys {
    pub secret_hash: [u8; 32],
    pub pairwise: [u8; 32],
    pub key_encryption: [u8; 32],
    pub csrf: [u8; 32],
    /// Seals a SAML POST-binding request for its hop to konto's own GET endpoint.
    pub saml_hop: [u8; 32],
}

impl std::fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DerivedKeys(<redacted>)")
    }
}

fn decode_master(text: &str) -> Result<[u8; 32], BootError> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| BootError::Config("the master key must be base64".into()))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| BootError::Config("the master key must be 32 bytes".into()))
}

/// Reads the master secret from configuration (a value or a file).
pub fn master_key(config: &Config) -> Result<[u8; 32], BootError> {
    let text = match (&config.secrets.master_key, &config.secrets.master_key_file) {
        (Some(_), Some(_)) => {
            return Err(BootError::Config(
                "give secrets.master_key or secrets.master_key_file, not both".into(),
            ));
        }
        (Some(v), None) => v.clone(),
        (None, Some(path)) => read_secret_file(path)?,
        (None, None) => {
            return Err(BootError::Config(
                "no master key: set secrets.master_key_file (KONTO_SECRETS__MASTER_KEY_FILE); \
                 create one with `head -c 32 /dev/urandom | base64`"
                    .into(),
            ));
        }
    };
    let key = decode_master(&text)?;
    if !config.development && decode_master(DEV_MASTER_KEY).ok() == Some(key) {
        return Err(BootError::Config(
            "the master key is the public development key from keys-dev/: refused outside development mode".into(),
        ));
    }
    Ok(key)
}

pub(crate) fn read_secret_file(path: &Path) -> Result<String, BootError> {
    std::fs::read_to_string(path)
        .map_err(|e| BootError::Config(format!("cannot read {}: {e}", path.display())))
}

pub fn derive(master: &[u8; 32]) -> DerivedKeys {
    let sub = |label: &str| hmac_sha256(master, &[b"konto-subkey", label.as_bytes()]);
    DerivedKeys {
        secret_hash: sub("secret-hash"),
        pairwise: sub("pairwise-subject"),
        key_encryption: sub("key-encryption"),
        csrf: sub("csrf"),
        saml_hop: sub("saml-hop"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subkeys_differ() {
        let k = derive(&[1; 32]);
        assert_ne!(k.secret_hash, k.pairwise);
        assert_ne!(k.pairwise, k.key_encryption);
        assert_ne!(k.key_encryption, k.csrf);
        assert_ne!(k.csrf, k.saml_hop);
    }

    #[test]
    fn the_development_master_key_is_refused_in_production() {
        let mut c = Config::default();
        c.secrets.master_key = Some(DEV_MASTER_KEY.trim().to_owned());
        assert!(master_key(&c).is_err());
        c.development = true;
        assert!(master_key(&c).is_ok());
    }
}
