//! eID card login through the eID-Server simulator (BSI TR-03130 over mutual TLS, TR-03124 tcToken):
//! every failure, temporary login without traces, account linking conflicts, accounts from the card.

use konto_tests::*;
use serde_json::Value;

/// `browser` follows an authorization request that also asks for the address.
async fn authorize(
    server: &TestServer,
    browser: &Browser,
    client: &str,
    redirect: &str,
    extra: &[(&str, &str)],
) -> Outcome {
    let mut all = vec![("scope", "openid profile address")];
    all.extend_from_slice(extra);
    server.authorize(browser, client, redirect, &all).await
}

on_both_backends!(
    every_eid_failure_gives_a_clear_page,
    temporary_login_leaves_no_rows,
    a_different_person_is_never_linked,
    an_account_from_the_card,
);

const PW: &str = "Fahrradklingel-Nordsee-42";
const HIGH: &str = "http://eidas.europa.eu/LoA/high";

fn options(backend: Backend) -> Options {
    let mut o = Options::new(backend);
    o.eid = true;
    o.eid_timeout_secs = 1;
    o
}

/// User cancelled, card expired, card revoked, eID-Server error, eID-Server too slow: the user sees
/// what happened and may try again or cancel; the client then gets access_denied.
async fn every_eid_failure_gives_a_clear_page(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let client = server.client("rp");
    server.add_client(client.clone()).await;
    let browser = server.browser();
    let page = authorize(
        &server,
        &browser,
        "rp",
        &client.redirect_uris[0],
        &[("acr_values", HIGH)],
    )
    .await
    .page();
    let mut page = page;
    for (choice, code) in [
        ("cancel", "cancelled"),
        ("expired", "document_expired"),
        ("revoked", "document_invalid"),
        ("server_error", "server_error"),
        ("timeout", "timeout"),
    ] {
        let out = browser.eid(&page, choice).await.page();
        assert!(out.has(code), "{choice} should say {code}:\n{}", out.body);
        assert!(out.has("action=\"/login/eid\""), "the user may try again");
        assert_eq!(server.rows("sessions").await, 0);
        page = out;
    }
    let flow = page.hidden("flow").unwrap();
    let csrf = page.hidden("csrf").unwrap();
    let r = browser
        .post("/login/cancel", &[("flow", &flow), ("csrf", &csrf)])
        .await;
    let out = browser.follow(r).await;
    assert_eq!(out.param("error").as_deref(), Some("access_denied"));
    server.stop().await;
}

/// OZG §8(5): identify once with the card, without an account; nothing outlives the tokens.
async fn temporary_login_leaves_no_rows(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let mut client = server.client("rp");
    client.party.allow_temporary_login = true;
    let secret = server.add_client(client.clone()).await.unwrap();
    let redirect = client.redirect_uris[0].clone();
    let browser = server.browser();
    let page = authorize(&server, &browser, "rp", &redirect, &[("acr_values", HIGH)])
        .await
        .page();
    let page = browser.eid(&page, "erika").await.page();
    let consent = browser.unlinked(&page, "temporary").await.page();
    assert!(
        !consent.has("gespeichert"),
        "no consent is stored for a temporary login"
    );
    let out = browser.consent(&consent, true).await;
    let t = redeem_code(
        &server,
        "rp",
        &secret,
        &redirect,
        &out.param("code").unwrap(),
    )
    .await;
    assert!(
        t.get("refresh_token").is_none(),
        "no refresh token outlives a temporary login"
    );
    let id = jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], HIGH);
    let info: Value = userinfo_claims(&server, t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["family_name"], "MUSTERMANN");
    assert_eq!(info["address"]["locality"], "KÖLN");
    for table in [
        "users",
        "attributes",
        "authenticators",
        "sessions",
        "consents",
    ] {
        assert_eq!(server.rows(table).await, 0, "{table}");
    }
    // a second temporary login is not linkable to the first
    let page = authorize(&server, &browser, "rp", &redirect, &[("acr_values", HIGH)])
        .await
        .page();
    let page = browser.eid(&page, "erika").await.page();
    let r = browser.unlinked(&page, "temporary").await;
    let out = browser.consent(&r.page(), true).await;
    let t2 = redeem_code(
        &server,
        "rp",
        &secret,
        &redirect,
        &out.param("code").unwrap(),
    )
    .await;
    assert_ne!(
        jwt_claims(t2["id_token"].as_str().unwrap())["sub"],
        id["sub"]
    );
    // once the tokens have expired, housekeeping leaves nothing
    server.clock.advance(time::Duration::minutes(70));
    konto_store::Maintenance::purge_expired(server.store.as_ref(), server.clock_now())
        .await
        .unwrap();
    for table in ["grants", "flows", "users", "sessions"] {
        assert_eq!(server.rows(table).await, 0, "{table} after expiry");
    }
    server.stop().await;
}

/// Adding the eID card of another person to an account is refused with an explanation; the
/// account and the session stay as they were.
async fn a_different_person_is_never_linked(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let mut client = server.client("rp");
    client.party.first_party = true;
    server.add_client(client.clone()).await;
    let user = server.add_user("erika", PW, "Erika", "Mustermann").await;
    let redirect = client.redirect_uris[0].clone();
    let browser = server.browser();
    let page = authorize(&server, &browser, "rp", &redirect, &[])
        .await
        .page();
    assert!(
        browser
            .password(&page, "erika", PW)
            .await
            .param("code")
            .is_some()
    );
    let page = authorize(&server, &browser, "rp", &redirect, &[("acr_values", HIGH)])
        .await
        .page();
    let page = browser.eid(&page, "lukas").await.page();
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(
        page.has("Vorname") && page.has("Familienname"),
        "names what differs:\n{}",
        page.body
    );
    let authenticators = konto_store::UserRepo::authenticators(server.store.as_ref(), &user)
        .await
        .unwrap();
    assert_eq!(authenticators.len(), 1, "only the password");
    let attrs = konto_store::UserRepo::attributes(server.store.as_ref(), &user)
        .await
        .unwrap();
    assert!(
        attrs
            .iter()
            .all(|a| a.value != "LUKAS" && a.value != "WEBER")
    );
    let out = authorize(
        &server,
        &browser,
        "rp",
        &redirect,
        &[("acr_values", HIGH), ("prompt", "none")],
    )
    .await;
    assert_eq!(
        out.param("error").as_deref(),
        Some("login_required"),
        "no step-up happened"
    );
    // the right card links and raises the data's level
    let page = authorize(&server, &browser, "rp", &redirect, &[("acr_values", HIGH)])
        .await
        .page();
    assert!(browser.eid(&page, "erika").await.param("code").is_some());
    let attrs = konto_store::UserRepo::attributes(server.store.as_ref(), &user)
        .await
        .unwrap();
    let given = attrs
        .iter()
        .find(|a| a.name == konto_core::attributes::AttributeName::GivenName)
        .unwrap();
    assert_eq!(given.level, konto_core::Level::High);
    assert_eq!(given.source, konto_core::attributes::AttributeSource::Eid);
    server.stop().await;
}

/// An account created from the card holds the card's data at level high; the card finds it again.
async fn an_account_from_the_card(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let mut client = server.client("rp");
    client.party.first_party = true;
    let secret = server.add_client(client.clone()).await.unwrap();
    let redirect = client.redirect_uris[0].clone();
    let browser = server.browser();
    let page = authorize(&server, &browser, "rp", &redirect, &[("acr_values", HIGH)])
        .await
        .page();
    let page = browser.eid(&page, "ayse").await.page();
    let out = browser.unlinked(&page, "create").await;
    let first = jwt_claims(
        redeem_code(
            &server,
            "rp",
            &secret,
            &redirect,
            &out.param("code").unwrap(),
        )
        .await["id_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(server.rows("users").await, 1);
    let account = browser.visit("/account").await.page();
    assert!(
        account.has("YILMAZ") && account.has("Online-Ausweis"),
        "{}",
        account.body
    );
    assert!(account.has("1979"), "a partial date of birth");
    // a new browser, the same card: the same account
    let other = server.browser();
    let page = authorize(&server, &other, "rp", &redirect, &[("acr_values", HIGH)])
        .await
        .page();
    let out = other.eid(&page, "ayse").await;
    let second = jwt_claims(
        redeem_code(
            &server,
            "rp",
            &secret,
            &redirect,
            &out.param("code").unwrap(),
        )
        .await["id_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(first["sub"], second["sub"]);
    assert_eq!(server.rows("users").await, 1);
    server.stop().await;
}
