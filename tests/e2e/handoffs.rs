//! Hand-offs from outside the main listener — the certificate listener, the eID client — proven
//! with two browsers: the user's, who started the login, and another person's. An identity
//! established in one browser never reaches the other: a flow id is not enough, the one-time
//! value the hand-off carries is spent on first use, whoever presents it.

use konto_tests::*;
use reqwest::StatusCode;

on_both_backends!(
    a_certificate_login_never_reaches_another_browser,
    an_eid_login_never_reaches_another_browser,
    a_handoff_is_taken_once,
    a_certificate_linked_by_password_counts_for_the_flow,
    a_card_linked_by_password_counts_for_the_flow,
);

const PW: &str = "Fahrradklingel-Nordsee-42";
const SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
const HIGH: &str = "http://eidas.europa.eu/LoA/high";

fn options(backend: Backend) -> Options {
    let mut o = Options::new(backend);
    o.elster = true;
    o.eid = true;
    o
}

/// A first-party client (no consent page), registered.
async fn first_party(server: &TestServer) -> (String, String) {
    let mut client = server.client("rp");
    client.party.first_party = true;
    let secret = server.add_client(client.clone()).await.expect("secret");
    (client.redirect_uris[0].clone(), secret)
}

/// Whether `browser` is signed in to konto (its account page shows the account, not a login).
async fn signed_in_as(browser: &Browser, username: &str) -> bool {
    match browser.visit("/account").await {
        Outcome::Page(p) => p.has("action=\"/account/delete\"") && p.has(username),
        Outcome::Callback { .. } => false,
    }
}

/// Issue 6 §2.1: browser A starts a login that asks for substantial and hands the ELSTER link
/// (`/cert/login?flow=F`) to person B, who presents their own certificate. B's browser is sent
/// back with a one-time value it cannot use (it did not start the flow); A, who has the flow but
/// not the value, never receives B's identity — not with the flow id alone, and not with the
/// value either once B's browser has spent it.
async fn a_certificate_login_never_reaches_another_browser(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let (redirect, _) = first_party(&server).await;
    let a = server.browser();
    let page = server
        .authorize(&a, "rp", &redirect, &[("acr_values", SUBSTANTIAL)])
        .await
        .page();
    let link = elster_link(&page);
    let flow = page.hidden("flow").unwrap();

    // B, with Max's certificate and none of A's cookies, follows A's link
    let b = elster_browser(&server.base, Some("max"));
    let at_listener = b.get(&link).await;
    assert_eq!(at_listener.status, StatusCode::SEE_OTHER);
    let back = at_listener.location().unwrap();
    assert!(back.contains("handoff="), "{back}");
    let b_page = b.visit(&back).await.page();
    assert_eq!(b_page.status, StatusCode::FORBIDDEN, "{}", b_page.body);
    assert!(
        !b_page.has("Max"),
        "B's browser is not shown the result either"
    );

    // A takes up the flow with its id alone, then with B's value: nothing of Max arrives
    for url in [format!("/login/cert/done?flow={flow}"), back.clone()] {
        let out = a.visit(&url).await;
        let Outcome::Page(p) = out else {
            panic!("A's flow finished with someone else's certificate: {out:?}");
        };
        assert!(!p.has("Max"), "Max's data reached A:\n{}", p.body);
        assert!(
            !p.has("value=\"create\""),
            "an identity reached A:\n{}",
            p.body
        );
    }
    assert_eq!(server.rows("sessions").await, 0);
    assert_eq!(server.rows("grants").await, 0);

    // A's own certificate still works in A's flow (the flow is not broken, only B's result gone)
    let a_with_cert = elster_browser(&server.base, Some("erika"));
    let page = server
        .authorize(
            &a_with_cert,
            "rp",
            &redirect,
            &[("acr_values", SUBSTANTIAL)],
        )
        .await
        .page();
    let page = a_with_cert.elster(&page).await.page();
    assert!(page.has("value=\"create\""), "{}", page.body);
    assert!(page.has("Mustermann"));
    server.stop().await;
}

/// Issue 6 §2.2: browser A starts an eID login and passes its eID-Client link to person B, who
/// identifies with the card of LUKAS WEBER. B's browser is refused and the eID session is spent;
/// A, opening the return address with the flow id (or B's full return address), never sees
/// Lukas Weber's data. The TCToken is handed out once.
async fn an_eid_login_never_reaches_another_browser(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let (redirect, _) = first_party(&server).await;
    let a = server.browser();
    let page = server
        .authorize(&a, "rp", &redirect, &[("acr_values", HIGH)])
        .await
        .page();
    let flow = page.hidden("flow").unwrap();
    let client_url = a.eid_start(&page).await.expect("the eID client's address");

    // B's eID client reads B's card; B's browser comes back to konto
    let refresh = eid_client(&client_url, "lukas").await;
    assert!(refresh.contains("r="), "{refresh}");
    let b = server.browser();
    let b_page = b.visit(&refresh).await.page();
    assert_eq!(b_page.status, StatusCode::FORBIDDEN, "{}", b_page.body);
    assert!(!b_page.has("WEBER") && !b_page.has("Weber"));

    // the TCToken cannot be fetched a second time
    let tc_token_url = query_pairs(&client_url)
        .into_iter()
        .find(|(k, _)| k == "tcTokenURL")
        .map(|(_, v)| v)
        .unwrap();
    let again = reqwest::get(&tc_token_url).await.unwrap();
    assert_ne!(again.status(), StatusCode::OK, "a second TCToken");

    // A: the flow id alone, then B's full return address
    for url in [
        format!("/login/eid/return?flow={flow}&ResultMajor=ok"),
        refresh.clone(),
    ] {
        let out = a.visit(&url).await;
        let Outcome::Page(p) = out else {
            panic!("A's flow finished with someone else's card: {out:?}");
        };
        assert!(
            !p.has("WEBER") && !p.has("Weber") && !p.has("value=\"create\""),
            "Lukas Weber's data reached A:\n{}",
            p.body
        );
    }
    assert_eq!(server.rows("sessions").await, 0);
    assert_eq!(server.rows("grants").await, 0);
    server.stop().await;
}

/// How many answers send the browser back to the client with a code.
fn codes(answers: &[Page], redirect: &str) -> usize {
    answers
        .iter()
        .filter(|p| {
            p.location()
                .is_some_and(|l| l.starts_with(redirect) && l.contains("code="))
        })
        .count()
}

/// The same hand-off presented many times at once by the browser that owns it: exactly one
/// request receives the identity (one code, one session); the others see the flow as it is or
/// are told the step was taken, never a server error.
async fn a_handoff_is_taken_once(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let (redirect, _) = first_party(&server).await;
    let prompt_login = [("acr_values", SUBSTANTIAL), ("prompt", "login")];

    // an account from the certificate, then a new login with it, its hand-off sent 12 times
    let a = elster_browser(&server.base, Some("erika"));
    let page = server
        .authorize(&a, "rp", &redirect, &prompt_login)
        .await
        .page();
    let unlinked = a.elster(&page).await.page();
    assert!(
        a.unlinked(&unlinked, "create")
            .await
            .param("code")
            .is_some()
    );
    let sessions = server.rows("sessions").await;
    let page = server
        .authorize(&a, "rp", &redirect, &prompt_login)
        .await
        .page();
    let back = a.get(&elster_link(&page)).await.location().unwrap();
    let answers = futures::future::join_all((0..12).map(|_| a.get(&back))).await;
    let statuses: Vec<_> = answers.iter().map(|p| p.status).collect();
    assert_eq!(codes(&answers, &redirect), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| s.as_u16() < 500), "{statuses:?}");
    assert!(server.rows("sessions").await <= sessions + 1);

    // the same with the card's refresh address
    let c = server.browser();
    let prompt_login = [("acr_values", HIGH), ("prompt", "login")];
    let page = server
        .authorize(&c, "rp", &redirect, &prompt_login)
        .await
        .page();
    let unlinked = c.eid(&page, "erika").await.page();
    assert!(
        c.unlinked(&unlinked, "create")
            .await
            .param("code")
            .is_some()
    );
    let page = server
        .authorize(&c, "rp", &redirect, &prompt_login)
        .await
        .page();
    let client_url = c.eid_start(&page).await.expect("the eID client's address");
    let refresh = eid_client(&client_url, "erika").await;
    let answers = futures::future::join_all((0..12).map(|_| c.get(&refresh))).await;
    let statuses: Vec<_> = answers.iter().map(|p| p.status).collect();
    assert_eq!(codes(&answers, &redirect), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| s.as_u16() < 500), "{statuses:?}");
    server.stop().await;
}

/// A client that asks for consent, registered.
async fn with_consent(server: &TestServer) -> (String, String) {
    let client = server.client("rp");
    let secret = server.add_client(client.clone()).await.expect("secret");
    (client.redirect_uris[0].clone(), secret)
}

/// Signs in with the password on an unlinked-identity page, consents, and returns the code.
async fn link_by_password(browser: &Browser, unlinked: &Page) -> String {
    let consent = match browser.password(unlinked, "erika", PW).await {
        Outcome::Page(p) if p.has("action=\"/login/consent\"") => p,
        other => panic!("expected the consent page, got {other:?}"),
    };
    let out = browser.consent(&consent, true).await;
    out.param("code")
        .unwrap_or_else(|| panic!("the flow did not finish after consent: {out:?}"))
}

/// Issue 6 §2.10: a service asks for substantial; the certificate matches no account, the user
/// signs in with the password to add it — and the flow finishes at substantial, without asking
/// for the certificate again.
async fn a_certificate_linked_by_password_counts_for_the_flow(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let (redirect, secret) = with_consent(&server).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let browser = elster_browser(&server.base, Some("erika"));
    let page = server
        .authorize(&browser, "rp", &redirect, &[("acr_values", SUBSTANTIAL)])
        .await
        .page();
    let unlinked = browser.elster(&page).await.page();
    assert!(unlinked.has("value=\"create\""), "{}", unlinked.body);
    let code = link_by_password(&browser, &unlinked).await;
    let tokens = redeem_code(&server, "rp", &secret, &redirect, &code).await;
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], SUBSTANTIAL, "{claims}");
    assert!(
        signed_in_as(&browser, "erika").await,
        "the session lives on"
    );
    server.stop().await;
}

/// The same with the eID card at level high.
async fn a_card_linked_by_password_counts_for_the_flow(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let (redirect, secret) = with_consent(&server).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let browser = server.browser();
    let page = server
        .authorize(&browser, "rp", &redirect, &[("acr_values", HIGH)])
        .await
        .page();
    let unlinked = browser.eid(&page, "erika").await.page();
    assert!(unlinked.has("value=\"create\""), "{}", unlinked.body);
    let code = link_by_password(&browser, &unlinked).await;
    let tokens = redeem_code(&server, "rp", &secret, &redirect, &code).await;
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], HIGH, "{claims}");
    assert!(
        signed_in_as(&browser, "erika").await,
        "the session lives on"
    );
    server.stop().await;
}
