//! Signed challenges with erika's key, signed here with ring.

use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair,
    EcdsaSigningAlgorithm, RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaEncoding, RsaKeyPair,
};

use super::*;

const CHALLENGE: &[u8] = b"konto-elster-challenge:3f9a1c5e7b2d4f60";

fn sign(user: &str, encoding: &'static dyn RsaEncoding, message: &[u8]) -> Vec<u8> {
    let pkcs8 = pem_blocks(elster_path(&format!("{user}.key.pem")), "PRIVATE KEY").remove(0);
    let key = RsaKeyPair::from_pkcs8(&pkcs8).unwrap();
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(encoding, &SystemRandom::new(), message, &mut signature)
        .unwrap();
    signature
}

#[test]
fn erika_proves_possession_with_pkcs1_and_pss() {
    let validator = strict_validator();
    for encoding in [
        &RSA_PKCS1_SHA256 as &'static dyn RsaEncoding,
        &RSA_PSS_SHA256,
    ] {
        let signature = sign("erika", encoding, CHALLENGE);
        let identity = validator
            .verify_challenge(&leaf("erika"), CHALLENGE, &signature, NOW)
            .unwrap();
        assert_eq!(identity.holder_id, "KONTO-TEST-0000001");
    }
}

fn sign_ecdsa(alg: &'static EcdsaSigningAlgorithm, message: &[u8]) -> Vec<u8> {
    let pkcs8 = pem_blocks(elster_path("ecdsa.key.pem"), "PRIVATE KEY").remove(0);
    let rng = SystemRandom::new();
    let key = EcdsaKeyPair::from_pkcs8(alg, &pkcs8, &rng).unwrap();
    key.sign(&rng, message).unwrap().as_ref().to_vec()
}

#[test]
fn an_ecdsa_key_proves_possession_with_der_and_fixed_signatures() {
    let validator = strict_validator();
    for alg in [
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &ECDSA_P256_SHA256_FIXED_SIGNING,
    ] {
        let signature = sign_ecdsa(alg, CHALLENGE);
        let identity = validator
            .verify_challenge(&leaf("ecdsa"), CHALLENGE, &signature, NOW)
            .unwrap();
        assert_eq!(identity.holder_id, "KONTO-TEST-0000006");
        assert_eq!(
            code(validator.verify_challenge(&leaf("ecdsa"), b"other", &signature, NOW)),
            "bad_signature"
        );
    }
    // An RSA signature against the ECDSA certificate.
    let rsa = sign("erika", &RSA_PKCS1_SHA256, CHALLENGE);
    assert_eq!(
        code(validator.verify_challenge(&leaf("ecdsa"), CHALLENGE, &rsa, NOW)),
        "bad_signature"
    );
}

#[test]
fn wrong_signatures_are_refused() {
    let validator = strict_validator();
    let good = sign("erika", &RSA_PKCS1_SHA256, CHALLENGE);
    // Another challenge.
    let other = sign("erika", &RSA_PKCS1_SHA256, b"another challenge");
    assert_eq!(
        code(validator.verify_challenge(&leaf("erika"), CHALLENGE, &other, NOW)),
        "bad_signature"
    );
    // Max's key for Erika's certificate.
    let max = sign("max", &RSA_PKCS1_SHA256, CHALLENGE);
    assert_eq!(
        code(validator.verify_challenge(&leaf("erika"), CHALLENGE, &max, NOW)),
        "bad_signature"
    );
    // A flipped bit, an empty and an oversized signature.
    let mut flipped = good.clone();
    flipped[10] ^= 0x80;
    for signature in [flipped, Vec::new(), vec![0; 2048]] {
        assert_eq!(
            code(validator.verify_challenge(&leaf("erika"), CHALLENGE, &signature, NOW)),
            "bad_signature"
        );
    }
    assert_eq!(
        code(validator.verify_challenge(&[], CHALLENGE, &good, NOW)),
        "no_certificate"
    );
    assert_eq!(
        code(validator.verify_challenge(&leaf("erika"), b"", &good, NOW)),
        "malformed"
    );
}

#[test]
fn possession_does_not_replace_validation() {
    let validator = strict_validator();
    for (user, expected) in [
        ("revoked", "revoked"),
        ("foreign", "untrusted_issuer"),
        ("expired", "expired"),
    ] {
        let signature = sign(user, &RSA_PKCS1_SHA256, CHALLENGE);
        assert_eq!(
            code(validator.verify_challenge(&leaf(user), CHALLENGE, &signature, NOW)),
            expected,
            "{user}"
        );
    }
}
