//! The authorization endpoint, part 1: who may be redirected to, and the core parameters
//! (OIDC Core 1.0 §3.1.2.1/§3.1.2.6, RFC 6749 §4.1.2.1, RFC 7636, RFC 9700 §2.1.1 and §4.1.3).

use konto_core::Level;
use konto_core::client::GrantType;
use konto_core::pkce::s256;
use konto_oidc::{AuthorizeError, ErrorCode, Params, ResponseMode};

use crate::support::*;

/// The error shown to the user; fails if anything would be sent to a redirect URI.
#[track_caller]
fn page_error<T: std::fmt::Debug>(r: Result<T, AuthorizeError>) -> konto_oidc::OAuthError {
    match r {
        Err(AuthorizeError::Page(e)) => e,
        Err(AuthorizeError::Redirect(resp)) => panic!("redirected to {}", resp.redirect_uri),
        Ok(v) => panic!("accepted: {v:?}"),
    }
}

/// OIDC Core §3.1.2.6, RFC 6749 §4.1.2.1: an unknown client is told to the user, never redirected.
#[tokio::test]
async fn an_unknown_client_is_shown_on_a_page_not_redirected() {
    let e = Engine::new().await;
    let err = page_error(e.authorize(&[("client_id", "nobody")]).await);
    assert_eq!(err.code, ErrorCode::InvalidClient);
    let err = page_error(e.authorize(&[("client_id", "")]).await);
    assert_eq!(err.code, ErrorCode::InvalidRequest, "missing client_id");
    let long = "c".repeat(300);
    let err = page_error(e.authorize(&[("client_id", &long)]).await);
    assert_eq!(err.code, ErrorCode::InvalidRequest, "oversized client_id");
}

/// RFC 9700 §4.1.3, RFC 6749 §4.1.2.1: the redirect URI must equal a registered one byte for byte;
/// otherwise the user sees an error and nothing is sent anywhere.
#[tokio::test]
async fn an_unregistered_redirect_uri_is_never_redirected_to() {
    let e = Engine::new().await;
    let registered = redirect_uri(RP);
    for bad in [
        "https://evil.example/callback".to_owned(),
        format!("{registered}/"),
        format!("{registered}?x=1"),
        format!("{registered}#frag"),
        registered.replace("https://", "http://"),
        registered.to_uppercase(),
        format!(" {registered}"),
        // registered, but for another client
        redirect_uri(OTHER),
        String::new(),
    ] {
        let err = page_error(e.authorize(&[("redirect_uri", &bad)]).await);
        assert_eq!(err.code, ErrorCode::InvalidRequest, "{bad:?}");
        assert!(err.description.contains("redirect_uri"), "{bad:?}: {err}");
    }
}

/// OIDC Core §3.1.2.6: until the redirect URI is known to be genuine, even errors the client would
/// otherwise be told about (bad response_type, no scope, no PKCE) go to the page.
#[tokio::test]
async fn the_redirect_uri_is_checked_before_any_error_is_redirected() {
    let e = Engine::new().await;
    let err = page_error(
        e.authorize(&[
            ("redirect_uri", "https://evil.example/callback"),
            ("response_type", "token"),
            ("scope", ""),
            ("code_challenge", ""),
            ("prompt", "none login"),
        ])
        .await,
    );
    assert!(err.description.contains("redirect_uri"), "{err}");
}

/// OIDC Core §3.1.2.1: a valid request yields the flow to continue with.
#[tokio::test]
async fn a_valid_request_keeps_state_nonce_and_challenge_for_the_flow() {
    let e = Engine::new().await;
    let req = e
        .authorize(&[("login_hint", "erika"), ("ui_locales", "en")])
        .await
        .unwrap();
    assert_eq!(req.client.party.id, RP);
    assert_eq!(req.flow.redirect_uri, redirect_uri(RP));
    assert_eq!(req.flow.response_mode, ResponseMode::Query);
    assert_eq!(req.flow.state.as_deref(), Some("st"));
    assert_eq!(req.flow.nonce.as_deref(), Some("n"));
    assert_eq!(req.flow.scope, "openid profile");
    assert_eq!(req.flow.code_challenge, Some(s256(VERIFIER)));
    assert_eq!(req.login.min_level, Level::Basic);
    assert!(!req.login.passive && !req.login.force_login && !req.login.force_consent);
    assert_eq!(req.login.login_hint.as_deref(), Some("erika"));
    assert_eq!(
        req.login.ui_locales,
        ["en", "de"],
        "ui_locales before Accept-Language"
    );
}

/// RFC 6749 §4.1.2.1: a missing response_type is invalid_request, sent back with state.
#[tokio::test]
async fn a_missing_response_type_is_invalid_request() {
    let e = Engine::new().await;
    let r = e.redirect_error(&[("response_type", "")]).await;
    assert_redirect_error(&r, "invalid_request", Some("st"));
}

/// RFC 6749 §4.1.2.1, OIDC Core §3: only the code flow; implicit and hybrid are refused.
#[tokio::test]
async fn only_response_type_code_is_supported() {
    let e = Engine::new().await;
    for rt in [
        "token",
        "id_token",
        "code id_token",
        "code token",
        "none",
        "Code",
    ] {
        let r = e.redirect_error(&[("response_type", rt)]).await;
        assert_redirect_error(&r, "unsupported_response_type", Some("st"));
    }
}

/// RFC 6749 §3.3 and §4.1.2.1: the scope is required, known and allowed for the client.
#[tokio::test]
async fn missing_unknown_or_unallowed_scopes_are_invalid_scope() {
    let e = Engine::new().await;
    let mut narrow = client("narrow");
    narrow.party.scopes = vec!["openid".into()];
    e.add_client(narrow, Some("narrow-secret")).await;
    for scope in ["", "   ", "openid admin", "openid \"quoted\""] {
        let r = e.redirect_error(&[("scope", scope)]).await;
        assert_redirect_error(&r, "invalid_scope", Some("st"));
    }
    let r = match e.authorize_as("narrow", &[("scope", "openid email")]).await {
        Err(AuthorizeError::Redirect(r)) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(r.param("error"), Some("invalid_scope"));
    assert_eq!(r.redirect_uri, redirect_uri("narrow"));
}

/// OIDC Core §3.1.2.1 leaves requests without `openid` unspecified; konto serves them as plain
/// OAuth 2.0 (RFC 6749 §4.1) and issues no ID token (see `code::without_openid_no_id_token_is_issued`).
#[tokio::test]
async fn a_request_without_openid_is_plain_oauth() {
    let e = Engine::new().await;
    let req = e.authorize(&[("scope", "profile email")]).await.unwrap();
    assert_eq!(req.flow.scope, "email profile");
}

/// RFC 7636 §4.4.1, RFC 9700 §2.1.1: without a code_challenge the request is refused (PKCE is
/// required by default and always for public clients).
#[tokio::test]
async fn a_request_without_pkce_is_refused() {
    let e = Engine::new().await;
    let r = e
        .redirect_error(&[("code_challenge", ""), ("code_challenge_method", "")])
        .await;
    assert_redirect_error(&r, "invalid_request", Some("st"));
    assert!(
        r.param("error_description")
            .unwrap()
            .contains("code_challenge")
    );

    let mut public = client("spa");
    public.auth_method = konto_core::client::TokenEndpointAuthMethod::None;
    public.require_pkce = false;
    e.add_client(public, None).await;
    match e.authorize_as("spa", &[("code_challenge", "")]).await {
        Err(AuthorizeError::Redirect(r)) => assert_eq!(r.param("error"), Some("invalid_request")),
        other => panic!("a public client always needs PKCE: {other:?}"),
    }

    let mut lax = client("lax");
    lax.require_pkce = false;
    e.add_client(lax, Some("lax-secret")).await;
    let req = e
        .authorize_as(
            "lax",
            &[("code_challenge", ""), ("code_challenge_method", "")],
        )
        .await;
    assert_eq!(
        req.unwrap().flow.code_challenge,
        None,
        "PKCE switched off for this client"
    );
}

/// RFC 7636 §4.2/§4.3, RFC 9700 §2.1.1: `plain` (also the default method) and malformed
/// challenges are refused.
#[tokio::test]
async fn plain_and_malformed_pkce_challenges_are_refused() {
    let e = Engine::new().await;
    let good = s256(VERIFIER);
    for (challenge, method) in [
        (VERIFIER, "plain"),
        (good.as_str(), "plain"),
        (good.as_str(), ""),
        (good.as_str(), "s256"),
        (&good[..42], "S256"),
        ("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX+", "S256"),
    ] {
        let r = e
            .redirect_error(&[
                ("code_challenge", challenge),
                ("code_challenge_method", method),
            ])
            .await;
        assert_redirect_error(&r, "invalid_request", Some("st"));
    }
}

/// OAuth 2.0 Multiple Response Type Encoding Practices §2.1: an unknown response_mode is refused;
/// the error still reaches the client, in the default (query) mode, with state.
#[tokio::test]
async fn an_unsupported_response_mode_is_refused() {
    let e = Engine::new().await;
    for mode in ["fragment", "jwt", "web_message"] {
        let r = e.redirect_error(&[("response_mode", mode)]).await;
        assert_redirect_error(&r, "invalid_request", Some("st"));
        assert_eq!(r.mode, ResponseMode::Query);
    }
    let req = e
        .authorize(&[("response_mode", "form_post")])
        .await
        .unwrap();
    assert_eq!(req.flow.response_mode, ResponseMode::FormPost);
    let r = e
        .redirect_error(&[("response_mode", "form_post"), ("response_type", "token")])
        .await;
    assert_eq!(
        r.mode,
        ResponseMode::FormPost,
        "errors use the mode asked for"
    );
}

/// OIDC Core §6.1/§6.2 with §3.1.2.6: request objects are not supported, and say so.
#[tokio::test]
async fn request_objects_are_not_supported() {
    let e = Engine::new().await;
    let r = e
        .redirect_error(&[("request", "eyJhbGciOiJub25lIn0.e30.")])
        .await;
    assert_redirect_error(&r, "request_not_supported", Some("st"));
    let r = e
        .redirect_error(&[("request_uri", "https://rp.example/req")])
        .await;
    assert_redirect_error(&r, "request_uri_not_supported", Some("st"));
}

/// RFC 6749 §4.1.2.1: a client not registered for the code grant is unauthorized_client.
#[tokio::test]
async fn a_client_without_the_code_grant_is_unauthorized_client() {
    let e = Engine::new().await;
    let mut batch = client("batch");
    batch.grant_types = vec![GrantType::ClientCredentials];
    e.add_client(batch, Some("batch-secret")).await;
    match e.authorize_as("batch", &[]).await {
        Err(AuthorizeError::Redirect(r)) => {
            assert_eq!(r.param("error"), Some("unauthorized_client"));
            assert_eq!(r.param("state"), Some("st"));
        }
        other => panic!("{other:?}"),
    }
}

/// OIDC Core §3.1.2.1 (`state` is opaque, but not unbounded): an oversized state is refused and
/// not echoed.
#[tokio::test]
async fn an_oversized_state_is_refused_and_not_echoed() {
    let e = Engine::new().await;
    let big = "s".repeat(2049);
    let r = e.redirect_error(&[("state", &big)]).await;
    assert_redirect_error(&r, "invalid_request", None);
    let fits = "s".repeat(2048);
    assert!(e.authorize(&[("state", &fits)]).await.is_ok());
}

/// RFC 6749 §3.1: request and response parameters must not be included more than once.
#[test]
fn repeated_parameters_are_refused() {
    for query in [
        "client_id=rp&client_id=evil",
        "redirect_uri=https%3A%2F%2Frp.example%2Fcallback&redirect_uri=https%3A%2F%2Fevil.example",
        "state=a&state=b",
        "code_challenge=a&code_challenge=b",
        "scope=openid&scope=openid",
        "prompt=none&prompt=login",
        "code=a&code=a",
    ] {
        let err = Params::parse(query).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest, "{query}");
        assert!(err.description.contains("repeated"), "{query}: {err}");
    }
    // names differ, so this is fine
    assert!(Params::parse("state=a&State=b").is_ok());
}
