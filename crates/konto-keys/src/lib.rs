#![doc = include_str!("../README.md")]

mod crypto;
mod jws;
mod keyring;
pub mod random;

pub use crypto::{
    GeneratedKey, KeyEncryptionKey, generate_key, import_pkcs8_pem, stored_key, thumbprint,
};
pub use jws::{
    JwsError, JwsHeader, MAX_JWS_LEN, VerifiedJws, peek, verify_detached_with_jwks,
    verify_rs512_with_jwks, verify_with_jwks,
};
pub use keyring::{KeyError, Keyring};
