//! RP-Initiated Logout 1.0: the logout endpoint is no open redirector.

use crate::support::*;

/// RP-Initiated Logout 1.0 §2 and §3: `post_logout_redirect_uri` needs the client (from
/// `id_token_hint` or `client_id`) and must be registered for it exactly.
#[tokio::test]
async fn a_post_logout_redirect_needs_a_known_client_and_an_exact_match() {
    let e = Engine::new().await;
    let bye = "https://rp.example/bye";
    for bad in [
        vec![("post_logout_redirect_uri", bye)],
        vec![
            ("client_id", RP),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        vec![
            ("client_id", RP),
            ("post_logout_redirect_uri", "https://rp.example/bye/"),
        ],
        vec![("client_id", OTHER), ("post_logout_redirect_uri", bye)],
        vec![("client_id", "nobody"), ("post_logout_redirect_uri", bye)],
    ] {
        let r = e.op.logout_request(&params(&bad)).await;
        assert_code(r, "invalid_request");
    }
    let ok =
        e.op.logout_request(&params(&[
            ("client_id", RP),
            ("post_logout_redirect_uri", bye),
            ("state", "s 1"),
        ]))
        .await
        .unwrap();
    assert_eq!(
        ok.redirect_to.as_deref(),
        Some("https://rp.example/bye?state=s+1")
    );
    assert_eq!(ok.client_id.as_deref(), Some(RP));
    assert_eq!(ok.hinted_session, None);
}

/// RP-Initiated Logout 1.0 §2: a valid `id_token_hint` names the client and the session; a
/// `client_id` that contradicts it, or a hint konto did not sign, is refused.
#[tokio::test]
async fn an_id_token_hint_names_the_client_and_the_session() {
    let e = Engine::new().await;
    let hint = e.tokens().await.id_token.unwrap();
    let req =
        e.op.logout_request(&params(&[
            ("id_token_hint", hint.as_str()),
            ("post_logout_redirect_uri", "https://rp.example/bye"),
        ]))
        .await
        .unwrap();
    assert_eq!(req.client_id.as_deref(), Some(RP));
    assert_eq!(req.hinted_session.as_deref(), Some(SESSION));
    assert_eq!(req.redirect_to.as_deref(), Some("https://rp.example/bye"));

    let r =
        e.op.logout_request(&params(&[
            ("id_token_hint", hint.as_str()),
            ("client_id", OTHER),
        ]))
        .await;
    assert_code(r, "invalid_request");
    let (head, _) = hint.rsplit_once('.').unwrap();
    let forged = format!("{head}.AAAA");
    let r =
        e.op.logout_request(&params(&[("id_token_hint", forged.as_str())]))
            .await;
    assert_code(r, "invalid_request");
    let plain = e.op.logout_request(&params(&[])).await.unwrap();
    assert_eq!(plain.redirect_to, None);
}
