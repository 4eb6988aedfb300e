//! The browser session: a new authentication gives it a new secret (the cookie seen before is
//! worth nothing after a step-up), and account changes that matter need a recent sign-in, not
//! merely a live session. Linking is one decision over the data it compared, even under
//! concurrent changes.

use konto_store::UserRepo;
use konto_tests::*;
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    a_step_up_renews_the_session_secret,
    account_changes_need_a_recent_sign_in,
    a_verified_name_is_never_overwritten_by_a_concurrent_edit,
);

const PW: &str = "Fahrradklingel-Nordsee-42";
const HIGH: &str = "http://eidas.europa.eu/LoA/high";

/// The value of the session cookie a response sets, if any.
fn session_cookie(page: &Page) -> Option<String> {
    page.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.ends_with("konto-session"))
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether a request carrying only this session cookie reaches the account page.
async fn cookie_opens_account(server: &TestServer, cookie: &str) -> bool {
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(server.url("/account"))
        .header("cookie", format!("konto-session={cookie}"))
        .send()
        .await
        .unwrap();
    r.status() == StatusCode::OK
}

/// OWASP Session Management: the session id changes when the privilege level changes. After a
/// step-up from basic to high, the cookie from the basic sign-in opens nothing.
async fn a_step_up_renews_the_session_secret(backend: Backend) {
    let mut o = Options::new(backend);
    o.eid = true;
    let Some(server) = TestServer::start(o).await else {
        return;
    };
    let mut client = server.client("rp");
    client.first_party = true;
    server.add_client(client.clone()).await;
    let redirect = client.redirect_uris[0].clone();
    let browser = server.browser();
    // an account from the card, then signed in with its password at basic
    let page = server
        .authorize(&browser, "rp", &redirect, &[("acr_values", HIGH)])
        .await
        .page();
    let unlinked = browser.eid(&page, "erika").await.page();
    assert!(
        browser
            .unlinked(&unlinked, "create")
            .await
            .param("code")
            .is_some()
    );
    let user = server.store.list_users().await.unwrap().remove(0);
    server
        .app
        .accounts
        .set_password(&user.id, PW)
        .await
        .expect("a password");
    let fresh = server.browser();
    let page = server.authorize(&fresh, "rp", &redirect, &[]).await.page();
    let flow = page.hidden("flow").unwrap();
    let csrf = page.hidden("csrf").unwrap();
    let signed_in = fresh
        .post(
            "/login/password",
            &[
                ("flow", &flow),
                ("csrf", &csrf),
                ("username", &user.username),
                ("password", PW),
            ],
        )
        .await;
    let basic = session_cookie(&signed_in).expect("a session cookie");
    assert!(cookie_opens_account(&server, &basic).await);

    // step-up to high with the card
    let page = server
        .authorize(&fresh, "rp", &redirect, &[("acr_values", HIGH)])
        .await
        .page();
    let client_url = fresh.eid_start(&page).await.expect("eID client");
    let refresh = eid_client(&client_url, "erika").await;
    let stepped_up = fresh.get(&refresh).await;
    let high = session_cookie(&stepped_up).expect("a renewed session cookie");
    assert_ne!(high, basic);
    assert!(
        !cookie_opens_account(&server, &basic).await,
        "the old cookie is dead"
    );
    assert!(cookie_opens_account(&server, &high).await);
    // renewed in place (the first browser's session ended with the new password)
    assert_eq!(server.rows("sessions").await, 1);
    server.stop().await;
}

/// Deleting the account, removing or adding an authenticator ask for a sign-in within the last
/// ten minutes: a session left open is not enough.
async fn account_changes_need_a_recent_sign_in(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let browser = server.browser();
    let login = browser.visit("/account").await.page();
    let account = browser.password(&login, "erika", PW).await.page();
    assert!(
        account.has("action=\"/account/delete\""),
        "{}",
        account.body
    );
    let csrf = account.hidden("csrf").unwrap();

    // a quarter of an hour later the session still holds basic, but is not fresh
    server.clock.advance(time::Duration::minutes(15));
    assert!(
        browser
            .visit("/account")
            .await
            .page()
            .has("/account/delete")
    );
    for (path, form) in [
        ("/account/delete", vec![("confirm", "yes")]),
        ("/account/authenticators/remove", vec![("kind", "password")]),
        ("/account/link", vec![("kind", "eid")]),
    ] {
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend(form);
        let r = browser.post(path, &fields).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}: {}", r.body);
        assert!(
            r.location().is_some_and(|l| l.starts_with("/login?flow=")),
            "{path} asks for a sign-in first: {:?}",
            r.location()
        );
    }
    let r = browser
        .post_json("/account/passkey/start", &json!({ "csrf": csrf }))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let answer: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(answer["error"], "reauthentication_required");
    assert_eq!(server.rows("users").await, 1, "nothing was deleted");

    // signing in again makes the change possible
    let again = browser
        .visit(answer["redirect"].as_str().unwrap())
        .await
        .page();
    assert!(again.has("name=\"password\""), "{}", again.body);
    let account = browser.password(&again, "erika", PW).await.page();
    let csrf = account.hidden("csrf").unwrap();
    let r = browser
        .post("/account/delete", &[("csrf", &csrf), ("confirm", "yes")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(server.rows("users").await, 0);
    server.stop().await;
}

/// Issue 6 §2.7: a name edit racing with the link of the eID card. The card's verified names
/// win; an edit that read the account before the link never writes its stale view over them.
async fn a_verified_name_is_never_overwritten_by_a_concurrent_edit(backend: Backend) {
    let mut o = Options::new(backend);
    o.eid = true;
    let Some(server) = TestServer::start(o).await else {
        return;
    };
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let browser = server.browser();
    let login = browser.visit("/account").await.page();
    let account = browser.password(&login, "erika", PW).await.page();
    let csrf = account.hidden("csrf").unwrap();
    // add the card from the account page, up to the eID client's answer
    let r = browser
        .post("/account/link", &[("csrf", &csrf), ("kind", "eid")])
        .await;
    let page = browser.follow(r).await.page();
    let client_url = browser.eid_start(&page).await.expect("eID client");
    let refresh = eid_client(&client_url, "erika").await;
    // the return (which links) and a burst of edits of the given name, at once
    let form = [
        ("csrf", csrf.as_str()),
        ("given_name", "Eri"),
        ("family_name", "Mustermann"),
    ];
    let edits = (0..16).map(|_| browser.post("/account/names", &form));
    let (linked, edited) = tokio::join!(browser.get(&refresh), futures::future::join_all(edits));
    assert!(edited.iter().all(|p| p.status.as_u16() < 500));
    let user = server.store.list_users().await.unwrap().remove(0);
    let linked_eid = server
        .store
        .authenticators(&user.id)
        .await
        .unwrap()
        .iter()
        .any(|a| a.kind.as_str() == "eid");
    let given = server
        .store
        .attributes(&user.id)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.name.as_str() == "given_name")
        .unwrap();
    // either order is fine — the card first (then the edits are refused), or an edit first
    // (then the card no longer matches and is refused) — but never a linked card under a
    // self-asserted name
    if linked_eid {
        assert!(linked.status.is_redirection(), "{}", linked.status);
        assert_eq!(given.value, "ERIKA", "{given:?}");
        assert_eq!(given.source.to_storage(), "eid", "{given:?}");
    } else {
        assert_eq!(linked.status, StatusCode::CONFLICT, "{}", linked.body);
        assert_eq!(given.value, "Eri", "{given:?}");
    }
    server.stop().await;
}
