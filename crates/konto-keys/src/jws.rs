//! Compact JWS (RFC 7515 §7.1) with konto's own header.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Tokens longer than this are refused before any parsing.
pub const MAX_JWS_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("the token is not a compact JWS")]
    Malformed,
    #[error("the token is too long")]
    TooLong,
    #[error("the token names no key konto knows")]
    UnknownKey,
    #[error("the token's algorithm does not match its key")]
    AlgorithmMismatch,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has an unexpected type")]
    WrongType,
    #[error("signing failed")]
    Signing,
}

/// The protected header konto writes and reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwsHeader {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

/// A JWS whose signature checked out.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    pub header: JwsHeader,
    pub payload: Vec<u8>,
}

/// The three parts of a compact JWS, decoded.
pub(crate) struct Parts<'a> {
    pub header: JwsHeader,
    pub signing_input: &'a [u8],
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

pub(crate) fn split(token: &str) -> Result<Parts<'_>, JwsError> {
    split_bounded(token, MAX_JWS_LEN)
}

fn split_bounded(token: &str, max_len: usize) -> Result<Parts<'_>, JwsError> {
    if token.len() > max_len {
        return Err(JwsError::TooLong);
    }
    let mut it = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(JwsError::Malformed);
    };
    let header_bytes = URL_SAFE_NO_PAD.decode(h).map_err(|_| JwsError::Malformed)?;
    let header: JwsHeader =
        serde_json::from_slice(&header_bytes).map_err(|_| JwsError::Malformed)?;
    // konto's tokens carry no `crit` or other extensions; unknown members are ignored (RFC 7515 §4).
    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| JwsError::Malformed)?;
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwsError::Malformed)?;
    let signing_input = &token.as_bytes()[..h.len() + 1 + p.len()];
    Ok(Parts {
        header,
        signing_input,
        payload,
        signature,
    })
}

/// `BASE64URL(header) '.' BASE64URL(payload)`.
pub(crate) fn signing_input(header: &JwsHeader, payload: &[u8]) -> Result<String, JwsError> {
    let header_json = serde_json::to_vec(header).map_err(|_| JwsError::Signing)?;
    let mut out = String::with_capacity(header_json.len() * 4 / 3 + payload.len() * 4 / 3 + 90);
    URL_SAFE_NO_PAD.encode_string(&header_json, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut out);
    Ok(out)
}

pub(crate) fn append_signature(mut input: String, signature: &[u8]) -> String {
    input.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut input);
    input
}

/// Algorithms konto accepts on JWS signed by others (client assertions).
const FOREIGN_ALGS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

/// Verifies a compact JWS against a JWK Set someone registered (a client's `jwks`): the key is
/// chosen by `kid` (or is the only signing key), and the header's `alg` must be one konto accepts
/// and fit that key. The key set is parsed per call; client assertions are rare enough.
pub fn verify_with_jwks(token: &str, jwks_json: &str) -> Result<VerifiedJws, JwsError> {
    verify_bounded(token, jwks_json, MAX_JWS_LEN)
}

/// [`verify_with_jwks`] for a token rebuilt around a detached payload (which has its own limit).
fn verify_with_jwks_unbounded(token: &str, jwks_json: &str) -> Result<VerifiedJws, JwsError> {
    verify_bounded(token, jwks_json, usize::MAX)
}

fn verify_bounded(token: &str, jwks_json: &str, max_len: usize) -> Result<VerifiedJws, JwsError> {
    use josekit::jwk::JwkSet;
    use josekit::jws::{ES256, EdDSA, JwsVerifier, PS256, RS256};

    let parts = split_bounded(token, max_len)?;
    if !FOREIGN_ALGS.contains(&parts.header.alg.as_str()) {
        return Err(JwsError::AlgorithmMismatch);
    }
    let set = JwkSet::from_bytes(jwks_json.as_bytes()).map_err(|_| JwsError::UnknownKey)?;
    let candidates: Vec<&josekit::jwk::Jwk> = match parts.header.kid.as_deref() {
        Some(kid) => set.get(kid),
        None => set
            .keys()
            .into_iter()
            .filter(|k| k.key_use() != Some("enc"))
            .collect(),
    };
    let [jwk] = candidates.as_slice() else {
        return Err(JwsError::UnknownKey);
    };
    if let Some(alg) = jwk.algorithm()
        && alg != parts.header.alg
    {
        return Err(JwsError::AlgorithmMismatch);
    }
    let verifier: Box<dyn JwsVerifier> = match parts.header.alg.as_str() {
        "RS256" => Box::new(
            RS256
                .verifier_from_jwk(jwk)
                .map_err(|_| JwsError::AlgorithmMismatch)?,
        ),
        "PS256" => Box::new(
            PS256
                .verifier_from_jwk(jwk)
                .map_err(|_| JwsError::AlgorithmMismatch)?,
        ),
        "ES256" => Box::new(
            ES256
                .verifier_from_jwk(jwk)
                .map_err(|_| JwsError::AlgorithmMismatch)?,
        ),
        "EdDSA" => Box::new(
            EdDSA
                .verifier_from_jwk(jwk)
                .map_err(|_| JwsError::AlgorithmMismatch)?,
        ),
        _ => return Err(JwsError::AlgorithmMismatch),
    };
    verifier
        .verify(parts.signing_input, &parts.signature)
        .map_err(|_| JwsError::BadSignature)?;
    Ok(VerifiedJws {
        header: parts.header,
        payload: parts.payload,
    })
}

/// Verifies a JWS with a detached payload (RFC 7515 Appendix F: the compact form with an empty
/// payload part, `header..signature`) over `payload`, against a JWK Set someone registered, as
/// [`verify_with_jwks`] does. Returns the header.
pub fn verify_detached_with_jwks(
    detached: &str,
    payload: &[u8],
    jwks_json: &str,
) -> Result<JwsHeader, JwsError> {
    if detached.len() > MAX_JWS_LEN {
        return Err(JwsError::TooLong);
    }
    let mut parts = detached.split('.');
    let (Some(h), Some(""), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let mut token = String::with_capacity(h.len() + payload.len() * 4 / 3 + s.len() + 8);
    token.push_str(h);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    token.push('.');
    token.push_str(s);
    verify_with_jwks_unbounded(&token, jwks_json).map(|v| v.header)
}

/// Verifies an RSASSA-PKCS1-v1_5 SHA-512 signature (BundID's `sha512sum` over a message's
/// content) with any RSA signing key of a registered JWK Set.
pub fn verify_rs512_with_jwks(
    message: &[u8],
    signature: &[u8],
    jwks_json: &str,
) -> Result<(), JwsError> {
    use josekit::jwk::JwkSet;
    use josekit::jws::{JwsVerifier, RS512};
    let set = JwkSet::from_bytes(jwks_json.as_bytes()).map_err(|_| JwsError::UnknownKey)?;
    let mut any = false;
    for jwk in set.keys() {
        if jwk.key_type() != "RSA" || jwk.key_use() == Some("enc") {
            continue;
        }
        let Ok(verifier) = RS512.verifier_from_jwk(jwk) else {
            continue;
        };
        any = true;
        if verifier.verify(message, signature).is_ok() {
            return Ok(());
        }
    }
    Err(if any {
        JwsError::BadSignature
    } else {
        JwsError::UnknownKey
    })
}

/// The header and payload of a compact JWS without checking its signature: only to learn who
/// claims to have signed it before looking up their keys.
pub fn peek(token: &str) -> Result<VerifiedJws, JwsError> {
    let parts = split(token)?;
    Ok(VerifiedJws {
        header: parts.header,
        payload: parts.payload,
    })
}
