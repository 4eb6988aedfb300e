//! Issuing and redeeming authorization codes (OIDC Core 1.0 §3.1.2.5, §3.1.3; RFC 6749 §4.1.3,
//! §4.1.2, §10.5; RFC 7636 §4.6; RFC 9700 §2.1.1).

use konto_core::client::TokenEndpointAuthMethod;

use crate::support::*;

fn code_form<'a>(code: &'a str, redirect: &'a str, verifier: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
    ]
}

/// OIDC Core §3.1.2.5 and RFC 9207: the code goes back with state and iss; OIDC Core §3.1.3.3 and
/// §3.1.3.7: redeemed, it yields an access token, a refresh token and an ID token for the client
/// with the request's nonce.
#[tokio::test]
async fn a_code_is_redeemed_for_tokens_bound_to_the_request() {
    let e = Engine::new().await;
    let req = e.authorize(&[]).await.unwrap();
    let auth = password_login(e.now);
    let scopes = konto_core::scope::Scopes::parse("openid profile").unwrap();
    let response =
        e.op.issue_code(&req.flow, &req.client, &auth, &scopes, e.now)
            .await
            .unwrap();
    assert_eq!(response.redirect_uri, redirect_uri(RP));
    assert_eq!(response.param("state"), Some("st"));
    assert_eq!(response.param("iss"), Some(ISSUER));
    let code = response.param("code").unwrap();
    assert_eq!(code.len(), 43, "256 bits");

    let t = e.redeem(code).await.unwrap();
    assert_eq!(t.token_type, "Bearer");
    assert_eq!(t.scope.as_deref(), Some("openid profile"));
    assert!(t.refresh_token.is_some());
    let id = jwt_claims(t.id_token.as_deref().unwrap());
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["aud"], RP);
    assert_eq!(id["azp"], RP);
    assert_eq!(id["nonce"], "n");
    assert_eq!(id["sid"], SESSION);
    assert_eq!(id["auth_time"], e.now.unix_timestamp());
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    let at = jwt_claims(&t.access_token);
    assert_eq!(at["sub"], id["sub"], "one subject for the client");
    assert_eq!(at["client_id"], RP);
    assert!(e.active(&t.access_token).await);
}

/// RFC 7636 §4.6: a verifier that does not match the challenge is invalid_grant, as are a missing
/// and a malformed one.
#[tokio::test]
async fn a_pkce_mismatch_is_invalid_grant() {
    let e = Engine::new().await;
    let code = e.code_for(RP, &[]).await;
    let auth = basic(RP, RP_SECRET);
    let redirect = redirect_uri(RP);
    let wrong = "wrong-verifier-wrong-verifier-wrong-verifier-x";
    for verifier in [wrong, "", "short", &VERIFIER.replace('k', "+")] {
        let r = e
            .token(Some(&auth), &code_form(&code, &redirect, verifier))
            .await;
        assert_code(r, "invalid_grant");
    }
}

/// RFC 9700 §2.1.1: a code issued without a challenge takes no verifier (no PKCE downgrade).
#[tokio::test]
async fn a_verifier_for_a_code_without_challenge_is_invalid_grant() {
    let e = Engine::new().await;
    let mut lax = client("lax");
    lax.require_pkce = false;
    e.add_client(lax, Some("lax-secret")).await;
    let no_pkce = [("code_challenge", ""), ("code_challenge_method", "")];
    let code = e.code_for("lax", &no_pkce).await;
    let auth = basic("lax", "lax-secret");
    let redirect = redirect_uri("lax");
    let r = e
        .token(Some(&auth), &code_form(&code, &redirect, VERIFIER))
        .await;
    assert_code(r, "invalid_grant");
    let r = e.token(Some(&auth), &code_form(&code, &redirect, "")).await;
    assert!(r.is_ok(), "without PKCE on both sides: {r:?}");
}

/// RFC 6749 §4.1.3: the redirect_uri must be the one of the authorization request.
#[tokio::test]
async fn a_code_with_another_redirect_uri_is_invalid_grant() {
    let e = Engine::new().await;
    let code = e.code_for(RP, &[]).await;
    let auth = basic(RP, RP_SECRET);
    let registered = redirect_uri(RP);
    for redirect in ["https://rp.example/other", "", &format!("{registered}/")] {
        let r = e
            .token(Some(&auth), &code_form(&code, redirect, VERIFIER))
            .await;
        assert_code(r, "invalid_grant");
    }
    assert!(e.redeem(&code).await.is_ok(), "the code survived");
}

/// RFC 6749 §4.1.3: a code is bound to its client; another client's attempt is invalid_grant and
/// revokes nothing (it must not let one client end another's grant).
#[tokio::test]
async fn a_code_of_another_client_is_invalid_grant() {
    let e = Engine::new().await;
    let code = e.code_for(RP, &[]).await;
    let r = e
        .token(
            Some(&basic(OTHER, OTHER_SECRET)),
            &code_form(&code, &redirect_uri(RP), VERIFIER),
        )
        .await;
    assert_code(r, "invalid_grant");
    let r = e
        .token(
            None,
            &[
                ("client_id", APP),
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect_uri(RP)),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_code(r, "invalid_grant");
    assert!(e.redeem(&code).await.is_ok(), "the owner still redeems it");
}

/// OIDC Core §3.1.3.2, RFC 6749 §4.1.2 ("short lifetime"): a code expires `code_ttl` after issue.
#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    let e = Engine::new().await;
    let code = e.code_for(RP, &[]).await;
    let redirect = redirect_uri(RP);
    let form = code_form(&code, &redirect, VERIFIER);
    let auth = basic(RP, RP_SECRET);
    let expired = e.now + time::Duration::seconds(CODE_TTL);
    let err = assert_code(
        e.token_at(Some(&auth), &form, expired).await,
        "invalid_grant",
    );
    assert!(err.description.contains("expired"), "{err}");
    let last_moment = expired - time::Duration::seconds(1);
    assert!(e.token_at(Some(&auth), &form, last_moment).await.is_ok());
}

/// RFC 6749 §4.1.2 and §10.5, RFC 9700 §4.5: a code used twice fails, and the grant it created is
/// revoked with every token issued from it.
#[tokio::test]
async fn a_replayed_code_revokes_the_grant() {
    let e = Engine::new().await;
    let code = e.code_for(RP, &[]).await;
    let first = e.redeem(&code).await.unwrap();
    let rt = first.refresh_token.clone().unwrap();
    assert!(e.active(&first.access_token).await);

    let err = assert_code(e.redeem(&code).await, "invalid_grant");
    assert!(err.description.contains("revoked"), "{err}");
    let grant = e.grant(grant_of(&rt)).await;
    assert!(grant.revoked_at.is_some());
    assert!(grant.refresh_hash.is_none(), "the refresh token is gone");
    assert!(
        !e.active(&first.access_token).await,
        "the access token is revoked"
    );
    assert!(!e.active(&rt).await);
    assert_code(e.refresh(RP, RP_SECRET, &rt).await, "invalid_grant");
    // the replay stays refused
    assert_code(e.redeem(&code).await, "invalid_grant");
}

/// RFC 6749 §5.2: an unknown or oversized code is invalid_grant / invalid_request.
#[tokio::test]
async fn an_unknown_code_is_invalid_grant() {
    let e = Engine::new().await;
    assert_code(e.redeem("no-such-code").await, "invalid_grant");
    let long = "c".repeat(600);
    assert_code(e.redeem(&long).await, "invalid_request");
    let r = e
        .token(
            Some(&basic(RP, RP_SECRET)),
            &[
                ("grant_type", "authorization_code"),
                ("redirect_uri", &redirect_uri(RP)),
            ],
        )
        .await;
    assert_code(r, "invalid_request");
}

/// RFC 6749 §5.2: a missing grant_type is invalid_request, an unknown one unsupported_grant_type,
/// and a grant the client is not registered for unauthorized_client.
#[tokio::test]
async fn grant_types_are_checked() {
    let e = Engine::new().await;
    let auth = basic(RP, RP_SECRET);
    assert_code(e.token(Some(&auth), &[]).await, "invalid_request");
    for grant in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let r = e.token(Some(&auth), &[("grant_type", grant)]).await;
        assert_code(r, "unsupported_grant_type");
    }
    let r = e
        .token(Some(&auth), &[("grant_type", "client_credentials")])
        .await;
    assert_code(r, "unauthorized_client");
}

/// RFC 7636 §4.5 and RFC 8252 §8.4: a public client redeems with its verifier and no secret.
#[tokio::test]
async fn a_public_client_redeems_with_pkce_alone() {
    let e = Engine::new().await;
    let code = e.code_for(APP, &[]).await;
    let redirect = redirect_uri(APP);
    let mut form = code_form(&code, &redirect, VERIFIER);
    form.push(("client_id", APP));
    let t = e.token(None, &form).await.unwrap();
    assert_eq!(jwt_claims(t.id_token.as_deref().unwrap())["aud"], APP);
    assert!(t.refresh_token.is_some());
}

/// OIDC Core §3.1.2.1 leaves non-OpenID requests unspecified; konto treats them as RFC 6749 and
/// issues an access token without an ID token.
#[tokio::test]
async fn without_openid_no_id_token_is_issued() {
    let e = Engine::new().await;
    let code = e.code_for(RP, &[("scope", "profile")]).await;
    let t = e.redeem(&code).await.unwrap();
    assert!(t.id_token.is_none());
    assert_eq!(t.scope.as_deref(), Some("profile"));
    let err = e.op.userinfo(&t.access_token, e.now).await.unwrap_err();
    assert!(
        matches!(err, konto_oidc::BearerError::InsufficientScope(_)),
        "{err:?}"
    );
}

/// OIDC Core §8.1: subjects are pairwise per sector unless the client registered `public`.
#[tokio::test]
async fn subjects_are_pairwise_per_client_sector() {
    let e = Engine::new().await;
    let rp = jwt_claims(&e.tokens().await.access_token)["sub"].clone();
    let code = e.code_for(OTHER, &[]).await;
    let other = e
        .token(
            Some(&basic(OTHER, OTHER_SECRET)),
            &code_form(&code, &redirect_uri(OTHER), VERIFIER),
        )
        .await
        .unwrap();
    assert_ne!(rp, jwt_claims(&other.access_token)["sub"]);
    let mut public = client("pub");
    public.subject_type = konto_core::client::SubjectType::Public;
    public.auth_method = TokenEndpointAuthMethod::None;
    e.add_client(public, None).await;
    let code = e.code_for("pub", &[]).await;
    let redirect = redirect_uri("pub");
    let mut form = code_form(&code, &redirect, VERIFIER);
    form.push(("client_id", "pub"));
    let t = e.token(None, &form).await.unwrap();
    assert_eq!(jwt_claims(&t.access_token)["sub"], USER);
}
