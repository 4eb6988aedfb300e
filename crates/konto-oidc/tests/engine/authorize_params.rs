//! The authorization endpoint, part 2: the OpenID Connect request parameters that shape the login
//! (OIDC Core 1.0 §3.1.2.1, §5.5, §3.1.2.6).

use konto_core::Level;
use konto_core::level::EIDAS_SUBSTANTIAL;

use crate::support::*;

/// OIDC Core §3.1.2.1: `prompt=none` with any other value is an error; unknown values are refused.
#[tokio::test]
async fn prompt_none_with_other_values_is_invalid_request() {
    let e = Engine::new().await;
    for prompt in [
        "none login",
        "login none",
        "none consent",
        "none select_account",
        "none none",
        "always",
        "none,login",
    ] {
        let r = e.redirect_error(&[("prompt", prompt)]).await;
        assert_redirect_error(&r, "invalid_request", Some("st"));
    }
}

/// OIDC Core §3.1.2.1: the valid prompt values become the login's rules.
#[tokio::test]
async fn prompt_values_shape_the_login() {
    let e = Engine::new().await;
    let req = e.authorize(&[("prompt", "none")]).await.unwrap();
    assert!(req.login.passive && !req.login.force_login && !req.login.force_consent);
    let req = e.authorize(&[("prompt", "login consent")]).await.unwrap();
    assert!(!req.login.passive && req.login.force_login && req.login.force_consent);
    let req = e.authorize(&[("prompt", "select_account")]).await.unwrap();
    assert!(req.login.force_login, "select_account signs in again");
}

/// OIDC Core §3.1.2.1: `max_age` is a non-negative integer number of seconds.
#[tokio::test]
async fn a_malformed_max_age_is_invalid_request() {
    let e = Engine::new().await;
    for max_age in [
        "-1",
        "+60",
        "abc",
        "1.5",
        "1e3",
        " 60",
        "99999999999999999999999",
    ] {
        let r = e.redirect_error(&[("max_age", max_age)]).await;
        assert_redirect_error(&r, "invalid_request", Some("st"));
    }
    // RFC 6749 §3.1: a parameter without a value is treated as omitted
    let req = e.authorize(&[("max_age", "")]).await.unwrap();
    assert_eq!(req.login.max_age, None);
    let req = e.authorize(&[("max_age", "0")]).await.unwrap();
    assert_eq!(req.login.max_age, Some(0), "0 forces a fresh login");
    let req = e.authorize(&[("max_age", "3600")]).await.unwrap();
    assert_eq!(req.login.max_age, Some(3600));
}

/// OIDC Core §3.1.2.1 (`acr_values`): unknown values are refused; known ones raise the minimum
/// level to the lowest level asked for.
#[tokio::test]
async fn acr_values_must_be_known_and_raise_the_level() {
    let e = Engine::new().await;
    for acr in [
        "gold",
        "http://eidas.europa.eu/LoA/medium",
        "urn:mace:incommon:iap:silver",
    ] {
        let r = e.redirect_error(&[("acr_values", acr)]).await;
        assert_redirect_error(&r, "invalid_request", Some("st"));
    }
    let req = e
        .authorize(&[("acr_values", EIDAS_SUBSTANTIAL)])
        .await
        .unwrap();
    assert_eq!(req.login.min_level, Level::Substantial);
    let both = format!("http://eidas.europa.eu/LoA/high {EIDAS_SUBSTANTIAL}");
    let req = e.authorize(&[("acr_values", &both)]).await.unwrap();
    assert_eq!(
        req.login.min_level,
        Level::Substantial,
        "the lowest acceptable"
    );
    let basic = format!("{ISSUER}/loa/basic");
    let req = e.authorize(&[("acr_values", &basic)]).await.unwrap();
    assert_eq!(req.login.min_level, Level::Basic);
}

/// The client's registered minimum level holds whatever `acr_values` asks for.
#[tokio::test]
async fn acr_values_never_lower_the_clients_minimum() {
    let e = Engine::new().await;
    let mut strict = client("strict");
    strict.party.min_level = Level::High;
    e.add_client(strict, Some("strict-secret")).await;
    let basic = format!("{ISSUER}/loa/basic");
    let req = e
        .authorize_as("strict", &[("acr_values", &basic)])
        .await
        .unwrap();
    assert_eq!(req.login.min_level, Level::High);
}

/// OIDC Core §5.5: a `claims` parameter that is not a claims request is invalid_request, as is an
/// essential `acr` naming unknown or non-string values (§5.5.1.1).
#[tokio::test]
async fn a_malformed_claims_parameter_is_invalid_request() {
    let e = Engine::new().await;
    for claims in [
        "{not json",
        // §5.5 and §5.5.1: objects, not arrays, at every level
        "[]",
        r#"[{"email": null}]"#,
        r#"{"userinfo": []}"#,
        r#"{"userinfo": {"email": []}}"#,
        r#"{"id_token": {"acr": [true]}}"#,
        "null",
        "\"id_token\"",
        r#"{"id_token": 5}"#,
        r#"{"userinfo": {"email": {"essential": "yes"}}}"#,
        r#"{"id_token": {"acr": {"essential": true, "values": ["gold"]}}}"#,
        r#"{"id_token": {"acr": {"essential": true, "value": 3}}}"#,
    ] {
        let r = e.redirect_error(&[("claims", claims)]).await;
        assert_redirect_error(&r, "invalid_request", Some("st"));
    }
}

/// OIDC Core §5.5.1.1: an essential `acr` claim raises the level like `acr_values`; individual
/// claims are listed for consent.
#[tokio::test]
async fn an_essential_acr_claim_raises_the_level() {
    let e = Engine::new().await;
    let claims = format!(
        r#"{{"id_token": {{"acr": {{"essential": true, "values": ["{EIDAS_SUBSTANTIAL}", "http://eidas.europa.eu/LoA/high"]}}}}, "userinfo": {{"email": null}}}}"#
    );
    let req = e.authorize(&[("claims", &claims)]).await.unwrap();
    assert_eq!(req.login.min_level, Level::Substantial);
    assert_eq!(req.login.claims, ["acr", "email"]);
    assert!(req.flow.claims.is_some());
    // not essential: a wish, not a rule
    let voluntary = format!(r#"{{"id_token": {{"acr": {{"values": ["{EIDAS_SUBSTANTIAL}"]}}}}}}"#);
    let req = e.authorize(&[("claims", &voluntary)]).await.unwrap();
    assert_eq!(req.login.min_level, Level::Basic);
}

/// OIDC Core §3.1.2.1 (`id_token_hint`): a hint konto did not sign, or issued to another client, is
/// refused; a valid one names the user the session must belong to.
#[tokio::test]
async fn an_id_token_hint_must_be_konto_s_and_the_client_s() {
    let e = Engine::new().await;
    let id_token = e.tokens().await.id_token.unwrap();
    let req = e.authorize(&[("id_token_hint", &id_token)]).await.unwrap();
    let sub = jwt_claims(&id_token)["sub"].as_str().unwrap().to_owned();
    assert_eq!(req.flow.id_token_hint_sub, Some(sub));

    let r = match e.authorize_as(OTHER, &[("id_token_hint", &id_token)]).await {
        Err(konto_oidc::AuthorizeError::Redirect(r)) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        r.param("error"),
        Some("invalid_request"),
        "another client's ID token"
    );
    assert_eq!(r.redirect_uri, redirect_uri(OTHER));

    let mut parts: Vec<String> = id_token.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    for forged in [parts.join("."), "a.b.c".to_owned(), "not a jwt".to_owned()] {
        let r = e.redirect_error(&[("id_token_hint", &forged)]).await;
        assert_redirect_error(&r, "invalid_request", Some("st"));
    }
    // an access token is no ID token (RFC 9068 §4: typ at+jwt)
    let at = e.tokens().await.access_token;
    let r = e.redirect_error(&[("id_token_hint", &at)]).await;
    assert_redirect_error(&r, "invalid_request", Some("st"));
}

/// OIDC Core §3.1.2.1: over-long `nonce` and `login_hint` are refused, not truncated.
#[tokio::test]
async fn oversized_nonce_and_login_hint_are_refused() {
    let e = Engine::new().await;
    let nonce = "n".repeat(513);
    let r = e.redirect_error(&[("nonce", &nonce)]).await;
    assert_redirect_error(&r, "invalid_request", Some("st"));
    let hint = "h".repeat(257);
    let r = e.redirect_error(&[("login_hint", &hint)]).await;
    assert_redirect_error(&r, "invalid_request", Some("st"));
}
