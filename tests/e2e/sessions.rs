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
);

// PostgreSQL only: these line concurrent requests up at their write with a table lock; on
// SQLite the one writer connection serialises writes (the same snapshot rules apply).
mod two_people_are_never_linked_at_once {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::two_people_are_never_linked_at_once(konto_tests::Backend::Postgres).await
    }
}
mod a_verified_name_is_never_overwritten_by_a_concurrent_edit {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::a_verified_name_is_never_overwritten_by_a_concurrent_edit(
            konto_tests::Backend::Postgres,
        )
        .await
    }
}

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
    client.party.first_party = true;
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

/// Issue 6 §2.7: a name edit racing with the link of the eID card. The link compares the
/// account's names with the card's and writes; an edit that read the account before must never
/// write its stale view over the verified names. The test holds the attributes table so that
/// the link reaches its write first and the edit waits behind it.
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

    let mut lock = server.hold_table_lock("attributes").await.unwrap();
    let link = tokio::spawn({
        let url = server.url(&refresh.replace(&server.base, ""));
        let http = browser.http.clone();
        async move { http.get(url).send().await.unwrap().status() }
    });
    lock.wait_for_waiters(1).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("given_name", "Eri"),
        ("family_name", "Mustermann"),
    ];
    let (edited, ()) = tokio::join!(browser.post("/account/names", &form), async {
        lock.wait_for_waiters(2).await;
        lock.release().await;
    });
    let linked = link.await.unwrap();
    assert!(linked.is_redirection(), "{linked}");
    assert!(edited.status.as_u16() < 500, "{}", edited.status);
    let user = server.store.list_users().await.unwrap().remove(0);
    let kinds: Vec<_> = server
        .store
        .authenticators(&user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.kind.as_str())
        .collect();
    assert!(kinds.contains(&"eid"), "{kinds:?}");
    let given = server
        .store
        .attributes(&user.id)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.name.as_str() == "given_name")
        .unwrap();
    assert_eq!(given.value, "ERIKA", "{given:?}");
    assert_eq!(given.source.to_storage(), "eid", "{given:?}");
    assert!(
        edited.has("ERIKA"),
        "the edit was refused and the page says so"
    );
    server.stop().await;
}

/// Issue 6 §2.7: an account without verified data; Max's certificate and Erika's card are added
/// at the same moment, each compared with the account as it was before either. Both comparisons
/// pass on their own, but only one may be written: the other is compared again and refused,
/// never merging two people into one account.
async fn two_people_are_never_linked_at_once(backend: Backend) {
    let mut o = Options::new(backend);
    o.eid = true;
    o.elster = true;
    let Some(server) = TestServer::start(o).await else {
        return;
    };
    server
        .app
        .accounts
        .create(
            &konto_service::account::NewAccount {
                username: "anna".into(),
                email: Some("anna@example.org".into()),
                email_verified: true,
                given_name: None,
                family_name: None,
            },
            Some(PW),
        )
        .await
        .unwrap();
    let browser = server.browser();
    let login = browser.visit("/account").await.page();
    let account = browser.password(&login, "anna", PW).await.page();
    let csrf = account.hidden("csrf").unwrap();
    let add = async |kind: &str| {
        let r = browser
            .post("/account/link", &[("csrf", &csrf), ("kind", kind)])
            .await;
        browser.follow(r).await.page()
    };
    // Max's certificate, up to the signed challenge
    let page = add("elster").await;
    let flow = page.hidden("flow").unwrap();
    let r = browser
        .post_json(
            "/login/cert/challenge",
            &json!({ "flow": flow, "csrf": csrf }),
        )
        .await;
    let challenge: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let challenge = challenge["challenge"].as_str().unwrap().to_owned();
    let signed = json!({
        "flow": flow,
        "csrf": csrf,
        "certificates": [elster_certificate("max")],
        "signature": elster_signature("max", challenge.as_bytes()),
    });
    // Erika's card, up to the eID client's answer
    let page = add("eid").await;
    let client_url = browser.eid_start(&page).await.expect("eID client");
    let refresh = eid_client(&client_url, "erika").await;

    // both at once, held at their write until both have compared
    let mut lock = server.hold_table_lock("authenticators").await.unwrap();
    let both = async {
        tokio::join!(
            browser.post_json("/login/cert/signed", &signed),
            browser.get(&refresh)
        )
    };
    let release = async {
        lock.wait_for_waiters(2).await;
        lock.release().await;
    };
    let ((by_certificate, by_card), ()) = tokio::join!(both, release);
    let user = server
        .app
        .accounts
        .find_by_username("anna")
        .await
        .unwrap()
        .unwrap();
    let kinds: Vec<_> = server
        .store
        .authenticators(&user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.kind.as_str())
        .collect();
    let linked = kinds
        .iter()
        .filter(|k| ["elster", "eid"].contains(k))
        .count();
    assert_eq!(
        linked, 1,
        "{kinds:?}; certificate {}: {}; card {}",
        by_certificate.status, by_certificate.body, by_card.status
    );
    let refused = [by_certificate.status, by_card.status]
        .into_iter()
        .filter(|s| *s == StatusCode::CONFLICT)
        .count();
    assert_eq!(refused, 1, "{} {}", by_certificate.status, by_card.status);
    server.stop().await;
}
