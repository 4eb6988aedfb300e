//! Assertions and readers shared by the engine tests.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use konto_oidc::{AuthorizationResponse, OAuthError};
use serde_json::Value;

use crate::support::{ISSUER, RP, redirect_uri};

/// The claims of a JWS, unverified.
pub(crate) fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// The grant id a refresh token names (`<grant>.<generation>.<nonce>.<tag>`).
pub(crate) fn grant_of(refresh_token: &str) -> &str {
    refresh_token.split('.').next().expect("grant id")
}

/// Asserts an OAuth error code, with the description in the failure message.
#[track_caller]
pub(crate) fn assert_code<T: std::fmt::Debug>(
    result: Result<T, OAuthError>,
    code: &str,
) -> OAuthError {
    match result {
        Ok(v) => panic!("expected {code}, got {v:?}"),
        Err(e) => {
            assert_eq!(e.code.as_str(), code, "{e}");
            e
        }
    }
}

/// Asserts a redirect error: its code, `state` echoed and `iss` (RFC 9207) added.
#[track_caller]
pub(crate) fn assert_redirect_error(r: &AuthorizationResponse, code: &str, state: Option<&str>) {
    assert_eq!(r.param("error"), Some(code), "{r:?}");
    assert_eq!(r.param("state"), state, "{r:?}");
    assert_eq!(r.param("iss"), Some(ISSUER), "RFC 9207: {r:?}");
    assert_eq!(r.redirect_uri, redirect_uri(RP), "{r:?}");
    assert!(r.param("code").is_none());
}
