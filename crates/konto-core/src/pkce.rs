//! Proof Key for Code Exchange (RFC 7636). konto accepts only `S256`: `plain` offers nothing
//! against an attacker who can read the authorization request (RFC 9700 §2.1.1).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error("code_challenge_method must be S256")]
    UnsupportedMethod,
    #[error("code_challenge must be 43 base64url characters (RFC 7636 §4.2)")]
    MalformedChallenge,
    #[error("code_verifier must be 43 to 128 unreserved characters (RFC 7636 §4.1)")]
    MalformedVerifier,
    #[error("code_verifier does not match the code_challenge")]
    Mismatch,
}

/// Checks the `code_challenge` and `code_challenge_method` of an authorization request.
pub fn check_challenge(challenge: &str, method: Option<&str>) -> Result<(), PkceError> {
    // RFC 7636 §4.3: the method defaults to "plain", which konto refuses.
    if method != Some("S256") {
        return Err(PkceError::UnsupportedMethod);
    }
    // S256 challenges are BASE64URL(SHA256(verifier)): exactly 43 characters.
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(PkceError::MalformedChallenge);
    }
    Ok(())
}

/// Verifies `code_verifier` against the stored S256 challenge (RFC 7636 §4.6).
pub fn verify(verifier: &str, challenge: &str) -> Result<(), PkceError> {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return Err(PkceError::MalformedVerifier);
    }
    let computed = s256(verifier);
    if computed.as_bytes().ct_eq(challenge.as_bytes()).into() {
        Ok(())
    } else {
        Err(PkceError::Mismatch)
    }
}

/// `BASE64URL(SHA256(ASCII(verifier)))`.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    #[test]
    fn rfc7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(s256(verifier), challenge);
        assert_eq!(verify(verifier, challenge), Ok(()));
        assert_eq!(check_challenge(challenge, Some("S256")), Ok(()));
    }

    #[test]
    fn plain_and_missing_methods_are_refused() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(
            check_challenge(challenge, None),
            Err(PkceError::UnsupportedMethod)
        );
        assert_eq!(
            check_challenge(challenge, Some("plain")),
            Err(PkceError::UnsupportedMethod)
        );
        assert_eq!(
            check_challenge("short", Some("S256")),
            Err(PkceError::MalformedChallenge)
        );
    }

    #[test]
    fn wrong_or_malformed_verifiers_fail() {
        let challenge = s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX", &challenge),
            Err(PkceError::Mismatch)
        );
        assert_eq!(
            verify("too-short", &challenge),
            Err(PkceError::MalformedVerifier)
        );
        assert_eq!(
            verify(&"a".repeat(129), &challenge),
            Err(PkceError::MalformedVerifier)
        );
        assert_eq!(
            verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX!", &challenge),
            Err(PkceError::MalformedVerifier)
        );
    }
}
