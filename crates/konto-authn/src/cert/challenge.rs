//! Proof of possession by a signed challenge, for clients that cannot do TLS client
//! authentication (a desktop application holding the `.pfx`).
//!
//! The signature must be over the exact challenge bytes konto issued, by the leaf's key:
//! RSA PKCS#1 v1.5 with SHA-256 or RSA-PSS with SHA-256 (keys of 2048–8192 bits), or ECDSA P-256
//! with SHA-256 (DER or fixed-width signature). Nothing weaker is accepted. Issuing challenges
//! (random, single use, bound to the session, short-lived) is the caller's part.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION};

use super::CertError;
use super::validate::parse_cert;

/// The longest challenge accepted.
pub(super) const MAX_CHALLENGE_BYTES: usize = 4096;
/// RSA-8192 signatures are 1024 bytes; ECDSA ones far shorter.
const MAX_SIGNATURE_BYTES: usize = 1024;

/// Checks `signature` over `challenge` with the public key of the DER certificate `leaf_der`.
pub(super) fn verify_possession(
    leaf_der: &[u8],
    challenge: &[u8],
    signature: &[u8],
) -> Result<(), CertError> {
    if leaf_der.is_empty() {
        return Err(CertError::NoCertificate);
    }
    let leaf = parse_cert(leaf_der)?;
    if challenge.is_empty() || challenge.len() > MAX_CHALLENGE_BYTES {
        return Err(CertError::Malformed);
    }
    if signature.is_empty() || signature.len() > MAX_SIGNATURE_BYTES {
        return Err(CertError::BadSignature);
    }
    let spki = leaf.public_key();
    let key = spki.subject_public_key.data.as_ref();
    let algorithms: &[&'static dyn VerificationAlgorithm] =
        if spki.algorithm.algorithm == OID_PKCS1_RSAENCRYPTION {
            &[
                &signature::RSA_PKCS1_2048_8192_SHA256,
                &signature::RSA_PSS_2048_8192_SHA256,
            ]
        } else if spki.algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY
            && spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .is_some_and(|curve| curve == OID_EC_P256)
        {
            &[
                &signature::ECDSA_P256_SHA256_ASN1,
                &signature::ECDSA_P256_SHA256_FIXED,
            ]
        } else {
            return Err(CertError::UnsupportedKey);
        };
    let verified = algorithms.iter().any(|alg| {
        UnparsedPublicKey::new(*alg, key)
            .verify(challenge, signature)
            .is_ok()
    });
    match verified {
        true => Ok(()),
        false => Err(CertError::BadSignature),
    }
}
