//! Introspection (RFC 7662) and revocation (RFC 7009) of access and refresh tokens, and userinfo
//! (OIDC Core 1.0 §5.3) after revocation.

use konto_oidc::BearerError;

use crate::support::*;

/// RFC 7662 §2.2: the client a token was issued to sees it active, with its claims.
#[tokio::test]
async fn introspection_describes_the_clients_own_tokens() {
    let e = Engine::new().await;
    let t = e.tokens().await;
    let at = e.introspect(RP, RP_SECRET, &t.access_token).await.unwrap();
    assert_eq!(at["active"], true);
    assert_eq!(at["client_id"], RP);
    assert_eq!(at["token_type"], "Bearer");
    assert_eq!(at["scope"], "openid profile");
    assert_eq!(at["iss"], ISSUER);
    assert_eq!(at["sub"], jwt_claims(&t.access_token)["sub"]);
    let rt = t.refresh_token.unwrap();
    let rt = e.introspect(RP, RP_SECRET, &rt).await.unwrap();
    assert_eq!(rt["active"], true);
    assert_eq!(rt["client_id"], RP);
    assert_eq!(rt["sub"], at["sub"]);
}

/// RFC 7662 §2.2 and §4: another client's tokens are reported inactive, without detail.
#[tokio::test]
async fn a_foreign_token_is_inactive_at_introspection() {
    let e = Engine::new().await;
    let t = e.tokens().await;
    for token in [t.access_token.as_str(), t.refresh_token.as_deref().unwrap()] {
        let r = e.introspect(OTHER, OTHER_SECRET, token).await.unwrap();
        assert_eq!(r.to_string(), r#"{"active":false}"#, "only active=false");
    }
    assert!(
        e.active(&t.access_token).await,
        "still active for its client"
    );
}

/// RFC 7662 §2.2: revoked, rotated, expired, forged and unknown tokens are inactive.
#[tokio::test]
async fn revoked_and_unknown_tokens_are_inactive() {
    let e = Engine::new().await;
    let t = e.tokens().await;
    let rt1 = t.refresh_token.unwrap();
    let rt2 = e
        .refresh(RP, RP_SECRET, &rt1)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    assert!(!e.active(&rt1).await, "rotated");
    let expired = e.now + time::Duration::seconds(300);
    let p = params(&[("token", t.access_token.as_str())]);
    let auth = basic(RP, RP_SECRET);
    let input = back_channel(Some(&auth), &p);
    assert_eq!(
        e.op.introspect(input, expired).await.unwrap(),
        konto_oidc::IntrospectionResponse::inactive()
    );
    for junk in ["x", "a.b.c", "a.0.b.c", &format!("{}x", t.access_token)] {
        assert!(!e.active(junk).await, "{junk}");
    }
    e.revoke(RP, RP_SECRET, &[("token", &t.access_token)])
        .await
        .unwrap();
    assert!(!e.active(&t.access_token).await, "revoked access token");
    assert!(
        e.active(&rt2).await,
        "revoking an access token leaves the grant"
    );
    e.revoke(RP, RP_SECRET, &[("token", &rt2)]).await.unwrap();
    assert!(!e.active(&rt2).await, "revoked refresh token");
}

/// RFC 7662 §2.1: the caller must be an authenticated client; a public client may not introspect.
#[tokio::test]
async fn only_confidential_clients_may_introspect() {
    let e = Engine::new().await;
    let t = e.tokens().await;
    let p = params(&[("token", t.access_token.as_str()), ("client_id", APP)]);
    let input = back_channel(None, &p);
    assert_code(e.op.introspect(input, e.now).await, "invalid_client");
    assert_code(
        e.introspect(RP, "wrong", &t.access_token).await,
        "invalid_client",
    );
    let p = params(&[]);
    let auth = basic(RP, RP_SECRET);
    let input = back_channel(Some(&auth), &p);
    assert_code(e.op.introspect(input, e.now).await, "invalid_request");
}

/// RFC 7009 §2.1: revoking a refresh token ends its grant, with the access tokens issued from it
/// (also at userinfo, RFC 6750 §3.1 invalid_token).
#[tokio::test]
async fn revoking_a_refresh_token_ends_the_grant() {
    let e = Engine::new().await;
    let t = e.tokens().await;
    assert!(e.op.userinfo(&t.access_token, e.now).await.is_ok());
    let rt = t.refresh_token.unwrap();
    e.revoke(
        RP,
        RP_SECRET,
        &[("token", &rt), ("token_type_hint", "refresh_token")],
    )
    .await
    .unwrap();
    assert!(e.grant(grant_of(&rt)).await.revoked_at.is_some());
    assert_code(e.refresh(RP, RP_SECRET, &rt).await, "invalid_grant");
    assert!(!e.active(&t.access_token).await);
    let err = e.op.userinfo(&t.access_token, e.now).await.unwrap_err();
    assert!(matches!(err, BearerError::InvalidToken(_)), "{err:?}");
}

/// RFC 7009 §2.1: a client may revoke only its own tokens; the attempt changes nothing.
#[tokio::test]
async fn revoking_a_foreign_token_is_refused_and_changes_nothing() {
    let e = Engine::new().await;
    let t = e.tokens().await;
    let rt = t.refresh_token.unwrap();
    for token in [t.access_token.as_str(), rt.as_str()] {
        let r = e.revoke(OTHER, OTHER_SECRET, &[("token", token)]).await;
        assert_code(r, "unauthorized_client");
        assert!(e.active(token).await);
    }
    assert!(e.grant(grant_of(&rt)).await.revoked_at.is_none());
    // nor without authentication
    assert_code(
        e.revoke(RP, "wrong", &[("token", &rt)]).await,
        "invalid_client",
    );
    assert!(e.active(&rt).await);
}

/// RFC 7009 §2.2: unknown, invalid and already revoked tokens are answered with success.
#[tokio::test]
async fn revoking_an_unknown_or_revoked_token_succeeds() {
    let e = Engine::new().await;
    let t = e.tokens().await;
    let rt = t.refresh_token.unwrap();
    for token in ["unknown", "a.b.c", "a.0.b.c"] {
        e.revoke(RP, RP_SECRET, &[("token", token)]).await.unwrap();
    }
    e.revoke(RP, RP_SECRET, &[("token", &rt)]).await.unwrap();
    e.revoke(RP, RP_SECRET, &[("token", &rt)]).await.unwrap();
    e.revoke(RP, RP_SECRET, &[("token", &t.access_token)])
        .await
        .unwrap();
    // a public client revokes its own tokens (RFC 7009 §2.1)
    let code = e.code_for(APP, &[]).await;
    let redirect = redirect_uri(APP);
    let app = e
        .token(
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect),
                ("code_verifier", VERIFIER),
                ("client_id", APP),
            ],
        )
        .await
        .unwrap();
    let app_rt = app.refresh_token.unwrap();
    let p = params(&[("token", app_rt.as_str()), ("client_id", APP)]);
    let input = back_channel(None, &p);
    e.op.revoke(input, e.now).await.unwrap();
    assert!(e.grant(grant_of(&app_rt)).await.revoked_at.is_some());
}

/// RFC 7009 §2.2.1: a token type konto does not know is unsupported_token_type; a missing token
/// is invalid_request.
#[tokio::test]
async fn revocation_parameters_are_checked() {
    let e = Engine::new().await;
    let t = e.tokens().await;
    let r = e
        .revoke(
            RP,
            RP_SECRET,
            &[("token", &t.access_token), ("token_type_hint", "id_token")],
        )
        .await;
    assert_code(r, "unsupported_token_type");
    assert!(e.active(&t.access_token).await);
    assert_code(e.revoke(RP, RP_SECRET, &[]).await, "invalid_request");
    // a wrong hint is only a hint (RFC 7009 §2.1)
    e.revoke(
        RP,
        RP_SECRET,
        &[
            ("token", &t.access_token),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await
    .unwrap();
    assert!(!e.active(&t.access_token).await);
}
