//! The eID card through the eID-Server simulator (its eID client is a page the browser is sent
//! to) and the ELSTER certificate presented by Chromium's own TLS stack: step-up to high, an
//! identity without an account (create one, or sign in once without one), and a login at
//! substantial with Erika Mustermann's certificate.

use konto_tests::chromium::{Js, Lang, Tab, js_str};
use konto_tests::site::ClientSite;

use crate::*;

variants!(step_up_to_high_with_the_eid_card: de_js => (De, On), en_nojs => (En, Off));
variants!(identity_without_account: de_nojs => (De, Off), en_js => (En, On));
variants!(elster_certificate_in_chromium: de_js => (De, On), en_nojs => (En, Off));

fn eid_options() -> Options {
    let mut o = sqlite();
    o.eid = true;
    o.eid_timeout_secs = 5;
    o
}

/// From a login page: the eID button, the simulated eID client (choose `card`, identify), and
/// back at konto.
async fn eid(tab: &Tab, server: &TestServer, card: &str) {
    let client = server
        .simulator
        .as_ref()
        .expect("the simulator")
        .client_url
        .clone();
    let sim_origin = client.origin().ascii_serialization();
    tab.click_until("form[action='/login/eid'] button", &at(&sim_origin))
        .await;
    // the simulator stands in for the AusweisApp, in German with English hints
    tab.expect_lang(Lang::De);
    tab.check(&format!("eid-client-{card}")).await;
    tab.expect_lang(tab.lang);
    tab.click(&format!("input[name=choice][value={}]", js_str(card)))
        .await;
    // back at konto, or straight on to the client
    tab.click_until(
        "form button[type=submit]",
        &format!("location.origin !== {}", js_str(&sim_origin)),
    )
    .await;
}

/// Answers the consent page if konto shows one (it does not when the consent is remembered).
async fn consent_if_asked(tab: &Tab, site: &ClientSite) {
    if !tab.eval::<bool>(&at(&site.origin)).await {
        allow(tab, site).await;
    }
}

async fn step_up_to_high_with_the_eid_card(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, eid_options()).await else {
        return;
    };
    let site = ClientSite::start(&server, "shop", |_| {}).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let t = texts(lang);
    let tab = chromium.tab(test, lang, js).await;

    tab.goto(&site.authorize_url(&server, &[("state", "basic")]))
        .await;
    sign_in(&tab, "erika", PW).await;
    allow(&tab, &site).await;
    code_at_client(&server, &site, Some("basic")).await;

    // the service needs high: konto asks for the card instead of failing
    tab.goto(&site.authorize_url(&server, &[("state", "high"), ("acr_values", HIGH)]))
        .await;
    shows(&tab, t.login_reason_step_up).await;
    shows(&tab, t.login_required_level).await;
    assert!(!tab.has("#password").await, "a password cannot reach high");
    tab.check("step-up").await;
    eid(&tab, &server, "erika").await;
    consent_if_asked(&tab, &site).await;
    let tokens = code_at_client(&server, &site, Some("high")).await;
    let claims = id_claims(&tokens);
    assert_eq!(claims["acr"], HIGH);
    let amr = konto_tests::amr(&claims);
    assert!(
        amr.contains(&"sc".to_owned()) && amr.contains(&"pin".to_owned()),
        "{amr:?}"
    );

    // the account now shows the card's verified data
    tab.goto(&server.url("/account")).await;
    shows(&tab, t.source_eid).await;
    tab.check("account-with-eid").await;
    server.stop().await;
}

async fn identity_without_account(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, eid_options()).await else {
        return;
    };
    let site = ClientSite::start(&server, "town", |c| c.party.allow_temporary_login = true).await;
    let t = texts(lang);
    let request = [("acr_values", HIGH), ("scope", "openid profile address")];

    // once, without an account: nothing is kept
    let tab = chromium.tab(test, lang, js).await;
    tab.goto(&site.authorize_url(&server, &request)).await;
    tab.check("login-high").await;
    eid(&tab, &server, "erika").await;
    shows(&tab, t.unlinked_title).await;
    shows(&tab, "MUSTERMANN").await;
    tab.check("unlinked").await;
    tab.click_and_wait("button[value=temporary]").await;
    allow(&tab, &site).await;
    let tokens = code_at_client(&server, &site, None).await;
    assert_eq!(id_claims(&tokens)["acr"], HIGH);
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert_eq!(server.rows("users").await, 0);

    // in another browser: an account from the card
    let other = chromium.tab(&format!("{test}-create"), lang, js).await;
    other.goto(&site.authorize_url(&server, &request)).await;
    eid(&other, &server, "lukas").await;
    shows(&other, "WEBER").await;
    other.click_and_wait("button[value=create]").await;
    allow(&other, &site).await;
    code_at_client(&server, &site, None).await;
    assert_eq!(server.rows("users").await, 1);
    other.goto(&server.url("/account")).await;
    shows(&other, "LUKAS").await;
    other.check("account-from-card").await;
    server.stop().await;
}

/// Chromium presents the certificate from its NSS store, chosen by the managed policy
/// `AutoSelectCertificateForUrls` (scripts/setup-browser), to konto's certificate listener.
async fn elster_certificate_in_chromium(test: &str, lang: Lang, js: Js) {
    let mut options = sqlite();
    options.elster = true;
    let Some((chromium, server)) = start(test, options).await else {
        return;
    };
    // a first-party service asks no consent: the choice on the unlinked page goes straight back
    let site = ClientSite::start(&server, "tax", |c| c.party.first_party = true).await;
    let t = texts(lang);
    let cert_base = server.cert_base.clone().expect("a certificate listener");
    let tab = chromium.tab(test, lang, js).await;
    let request = [("acr_values", SUBSTANTIAL), ("state", "first")];
    tab.goto(&site.authorize_url(&server, &request)).await;
    shows(&tab, t.elster_hint).await;
    assert!(
        !tab.has("#password").await,
        "a password cannot reach substantial"
    );
    tab.check("login-substantial").await;
    let link = tab
        .attr("a[href*='/cert/login']", "href")
        .await
        .expect("the ELSTER link");
    assert!(link.starts_with(&cert_base), "{link}");

    // no account holds the certificate yet: create one from it
    tab.click_until("a[href*='/cert/login']", &at(&server.base))
        .await;
    shows(&tab, t.unlinked_title).await;
    shows(&tab, "Mustermann").await;
    tab.check("unlinked-elster").await;
    tab.click_until("button[value=create]", &at(&site.origin))
        .await;
    let tokens = code_at_client(&server, &site, Some("first")).await;
    let claims = id_claims(&tokens);
    assert_eq!(claims["acr"], SUBSTANTIAL);
    assert_eq!(konto_tests::amr(&claims), vec!["swk"]);

    // and the next login is the certificate alone, at substantial
    let again = [
        ("acr_values", SUBSTANTIAL),
        ("state", "again"),
        ("prompt", "login"),
    ];
    tab.goto(&site.authorize_url(&server, &again)).await;
    tab.click_until("a[href*='/cert/login']", &at(&site.origin))
        .await;
    let tokens = code_at_client(&server, &site, Some("again")).await;
    assert_eq!(id_claims(&tokens)["acr"], SUBSTANTIAL);
    server.stop().await;
}
