//! Refresh tokens: rotation and reuse detection (RFC 6749 §6, OIDC Core 1.0 §12,
//! RFC 9700 §4.14.2).

use konto_core::client::GrantType;

use crate::support::*;

/// Replaces one character of the refresh token's tag (its last part) with another.
fn tamper_tag(token: &str) -> String {
    let (body, tag) = token.rsplit_once('.').unwrap();
    let mut tag: Vec<char> = tag.chars().collect();
    tag[0] = if tag[0] == '0' { '1' } else { '0' };
    format!("{body}.{}", tag.into_iter().collect::<String>())
}

/// RFC 9700 §4.14.2, OIDC Core §12.2: each refresh rotates the refresh token and yields fresh
/// access and ID tokens (without the nonce of the authorization request).
#[tokio::test]
async fn refresh_tokens_rotate() {
    let e = Engine::new().await;
    let first = e.tokens().await;
    let rt1 = first.refresh_token.unwrap();
    let second = e.refresh(RP, RP_SECRET, &rt1).await.unwrap();
    let rt2 = second.refresh_token.unwrap();
    assert_ne!(rt1, rt2);
    assert_eq!(grant_of(&rt1), grant_of(&rt2), "the same grant");
    assert_ne!(second.access_token, first.access_token);
    let id = jwt_claims(second.id_token.as_deref().unwrap());
    assert!(
        id.get("nonce").is_none(),
        "OIDC Core §12.2: no nonce on refresh"
    );
    assert_eq!(second.scope.as_deref(), Some("openid profile"));
    let third = e.refresh(RP, RP_SECRET, &rt2).await.unwrap();
    assert!(e.active(third.refresh_token.as_deref().unwrap()).await);
    assert!(!e.active(&rt2).await, "only the newest token is active");
    assert_eq!(e.grant(grant_of(&rt2)).await.refresh_generation, 2);
}

/// RFC 9700 §4.14.2: presenting a refresh token that was already rotated (and whose successor
/// was used) revokes the grant, so neither the thief nor the legitimate client can go on.
#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_grant() {
    let e = Engine::new().await;
    let rt1 = e.tokens().await.refresh_token.unwrap();
    let rt2 = e
        .refresh(RP, RP_SECRET, &rt1)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let third = e.refresh(RP, RP_SECRET, &rt2).await.unwrap();
    let rt3 = third.refresh_token.unwrap();
    assert!(e.active(&third.access_token).await);

    let err = assert_code(e.refresh(RP, RP_SECRET, &rt1).await, "invalid_grant");
    assert!(err.description.contains("revoked"), "{err}");
    assert!(e.grant(grant_of(&rt1)).await.revoked_at.is_some());
    assert_code(e.refresh(RP, RP_SECRET, &rt2).await, "invalid_grant");
    assert_code(e.refresh(RP, RP_SECRET, &rt3).await, "invalid_grant");
    assert!(
        !e.active(&third.access_token).await,
        "its access tokens too"
    );
}

/// A rotation whose answer was lost (a crash, a dropped connection): the client retries the
/// token it still holds. Within `refresh_retry` (30 s here) and while the successor it never
/// received is unused, it gets a fresh token; the lost one is void but ends nothing. Once the
/// fresh token was used, the old one is a reuse again (RFC 9700 §4.14.2).
#[tokio::test]
async fn a_client_that_lost_the_answer_may_retry_the_token_it_holds() {
    let mut e = Engine::new().await;
    let rt1 = e.tokens().await.refresh_token.unwrap();
    let lost = e
        .refresh(RP, RP_SECRET, &rt1)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    e.now += time::Duration::seconds(20);
    let retried = e.refresh(RP, RP_SECRET, &rt1).await.unwrap();
    let rt2 = retried.refresh_token.unwrap();
    assert_ne!(rt2, lost);
    assert_eq!(grant_of(&rt2), grant_of(&rt1));
    assert!(e.active(&retried.access_token).await);
    // a second retry within the window is as good (parallel retries of one client)
    let rt2 = e
        .refresh(RP, RP_SECRET, &rt1)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let rt3 = e
        .refresh(RP, RP_SECRET, &rt2)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    assert_eq!(e.grant(grant_of(&rt3)).await.refresh_generation, 2);
    // the fresh token was used: the first one is a reuse now, and the grant ends
    let err = assert_code(e.refresh(RP, RP_SECRET, &rt1).await, "invalid_grant");
    assert!(err.description.contains("revoked"), "{err}");
    assert_code(e.refresh(RP, RP_SECRET, &rt3).await, "invalid_grant");
}

/// A successor made void by a retry is presented after all: two parties hold tokens of one
/// grant (the retry was a thief's, or the answer was not lost): a reuse, the grant ends.
#[tokio::test]
async fn presenting_a_successor_a_retry_replaced_revokes_the_grant() {
    let e = Engine::new().await;
    let rt1 = e.tokens().await.refresh_token.unwrap();
    let voided = e
        .refresh(RP, RP_SECRET, &rt1)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let rt2 = e
        .refresh(RP, RP_SECRET, &rt1)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let err = assert_code(e.refresh(RP, RP_SECRET, &voided).await, "invalid_grant");
    assert!(err.description.contains("revoked"), "{err}");
    assert_code(e.refresh(RP, RP_SECRET, &rt2).await, "invalid_grant");
}

/// After the retry window the held token is a reuse, whatever became of its successor.
#[tokio::test]
async fn a_retry_after_the_window_is_a_reuse() {
    let mut e = Engine::new().await;
    let rt1 = e.tokens().await.refresh_token.unwrap();
    let rt2 = e
        .refresh(RP, RP_SECRET, &rt1)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    e.now += time::Duration::seconds(31);
    let err = assert_code(e.refresh(RP, RP_SECRET, &rt1).await, "invalid_grant");
    assert!(err.description.contains("revoked"), "{err}");
    assert_code(e.refresh(RP, RP_SECRET, &rt2).await, "invalid_grant");
}

/// RFC 6749 §6 and §10.4: a refresh token with a changed tag is not konto's; it is invalid_grant
/// and revokes nothing (a forger must not be able to end someone's grant).
#[tokio::test]
async fn a_tampered_refresh_token_is_invalid_and_revokes_nothing() {
    let e = Engine::new().await;
    let rt1 = e.tokens().await.refresh_token.unwrap();
    let rt2 = e
        .refresh(RP, RP_SECRET, &rt1)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    // a changed tag, on the current and on the rotated token (the latter would be a reuse)
    for forged in [tamper_tag(&rt2), tamper_tag(&rt1)] {
        assert_ne!(forged, rt2);
        assert_code(e.refresh(RP, RP_SECRET, &forged).await, "invalid_grant");
    }
    // a lower generation with the old tag: the tag covers the generation
    let parts: Vec<&str> = rt2.split('.').collect();
    let downgraded = format!("{}.0.{}.{}", parts[0], parts[2], parts[3]);
    assert_code(e.refresh(RP, RP_SECRET, &downgraded).await, "invalid_grant");
    for junk in ["", "x", "a.b.c.d", "a.-1.c.d", &format!("{rt2}.x")] {
        let r = e.refresh(RP, RP_SECRET, junk).await;
        assert!(r.is_err(), "{junk:?}");
    }
    assert!(e.grant(grant_of(&rt2)).await.revoked_at.is_none());
    assert!(
        e.refresh(RP, RP_SECRET, &rt2).await.is_ok(),
        "the grant lives on"
    );
}

/// RFC 6749 §6: a refresh token is bound to its client; another client presenting it gets
/// invalid_grant, and the owner's grant is untouched, even for a rotated token.
#[tokio::test]
async fn a_refresh_token_of_another_client_is_invalid_grant() {
    let e = Engine::new().await;
    let rt1 = e.tokens().await.refresh_token.unwrap();
    assert_code(e.refresh(OTHER, OTHER_SECRET, &rt1).await, "invalid_grant");
    let r = e
        .token(
            Some(&basic(OTHER, OTHER_SECRET)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt1),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_code(r, "invalid_grant");
    let r = e
        .token(
            None,
            &[
                ("client_id", APP),
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt1),
            ],
        )
        .await;
    assert_code(r, "invalid_grant");
    let rt2 = e
        .refresh(RP, RP_SECRET, &rt1)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    // an old token in another client's hands is no reuse by the owner
    assert_code(e.refresh(OTHER, OTHER_SECRET, &rt1).await, "invalid_grant");
    assert!(e.grant(grant_of(&rt2)).await.revoked_at.is_none());
    assert!(e.refresh(RP, RP_SECRET, &rt2).await.is_ok());
}

/// RFC 6749 §6: a narrower scope may be asked for, a wider one is invalid_scope and leaves the
/// token unspent.
#[tokio::test]
async fn the_scope_may_narrow_but_not_widen() {
    let e = Engine::new().await;
    let rt = e.tokens().await.refresh_token.unwrap();
    let refresh_with = |scope: &'static str, token: String| {
        let e = &e;
        async move {
            e.token(
                Some(&basic(RP, RP_SECRET)),
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &token),
                    ("scope", scope),
                ],
            )
            .await
        }
    };
    for wider in [
        "openid profile email",
        "offline_access",
        "admin",
        "openid \u{7f}",
    ] {
        assert_code(refresh_with(wider, rt.clone()).await, "invalid_scope");
    }
    let narrow = refresh_with("profile", rt.clone()).await.unwrap();
    assert_eq!(narrow.scope.as_deref(), Some("profile"));
    assert!(narrow.id_token.is_none(), "no openid, no ID token");
    assert_eq!(jwt_claims(&narrow.access_token)["scope"], "profile");
    // the grant keeps its scope for the next refresh
    let next = e
        .refresh(RP, RP_SECRET, narrow.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(next.scope.as_deref(), Some("openid profile"));
}

/// RFC 6749 §6 and §5.2: once the grant has expired its refresh token is invalid_grant.
#[tokio::test]
async fn a_refresh_token_of_an_expired_grant_is_invalid_grant() {
    let e = Engine::new().await;
    let rt = e.tokens().await.refresh_token.unwrap();
    let auth = basic(RP, RP_SECRET);
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];
    let end = e.now + time::Duration::seconds(REFRESH_TTL);
    assert_code(e.token_at(Some(&auth), &form, end).await, "invalid_grant");
    let before = end - time::Duration::seconds(1);
    assert!(e.token_at(Some(&auth), &form, before).await.is_ok());
}

/// RFC 6749 §5.2: a client not registered for refresh tokens gets none, and may not refresh.
#[tokio::test]
async fn a_client_without_the_refresh_grant_gets_no_refresh_token() {
    let e = Engine::new().await;
    let mut once = client("once");
    once.grant_types = vec![GrantType::AuthorizationCode];
    e.add_client(once, Some("once-secret")).await;
    let code = e.code_for("once", &[]).await;
    let redirect = redirect_uri("once");
    let t = e
        .token(
            Some(&basic("once", "once-secret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect),
                ("code_verifier", VERIFIER),
            ],
        )
        .await
        .unwrap();
    assert!(t.refresh_token.is_none());
    let rt = e.tokens().await.refresh_token.unwrap();
    assert_code(
        e.refresh("once", "once-secret", &rt).await,
        "unauthorized_client",
    );
}
