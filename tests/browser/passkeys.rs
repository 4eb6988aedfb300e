//! Passkeys with Chromium's virtual authenticator: registered from the account page, then as
//! the second factor after the password and for a login without one. Passkeys need JavaScript;
//! without it the second-factor page says so and lets the user cancel.

use konto_tests::chromium::{Js, Lang};
use konto_tests::site::ClientSite;

use crate::*;

variants!(passkey_register_and_sign_in: de_js => (De, On), en_js => (En, On));

async fn passkey_register_and_sign_in(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, sqlite()).await else {
        return;
    };
    let site = ClientSite::start(&server, "shop", |c| c.party.first_party = true).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let t = texts(lang);
    let tab = chromium.tab(test, lang, js).await;
    tab.add_authenticator().await;

    // register from the account page
    tab.goto(&server.url("/account")).await;
    sign_in(&tab, "erika", PW).await;
    shows(&tab, t.add_passkey).await;
    tab.click_and_wait("button[data-passkey=register]").await;
    assert!(
        !tab.has("button[data-passkey=register]").await,
        "one passkey is enough\n{}",
        tab.describe().await
    );
    shows(&tab, t.auth_passkey).await;
    tab.check("account-with-passkey").await;
    let passkeys = tab.passkeys().await;
    assert_eq!(passkeys.len(), 1, "{passkeys:?}");
    tab.click_and_wait("form[action='/account/logout'] button")
        .await;

    // the password, then the passkey
    let prompt_login = [("prompt", "login"), ("state", "2fa")];
    tab.goto(&site.authorize_url(&server, &prompt_login)).await;
    sign_in(&tab, "erika", PW).await;
    shows(&tab, t.second_factor_text).await;
    tab.check("second-factor").await;
    tab.click_until("button[data-passkey=second-factor]", &at(&site.origin))
        .await;
    let tokens = code_at_client(&server, &site, Some("2fa")).await;
    assert_eq!(
        konto_tests::amr(&id_claims(&tokens)),
        vec!["mfa", "pop", "pwd"]
    );

    // later, signed out: the user name, then the passkey, no password
    tab.goto(&server.url("/account")).await;
    tab.click_and_wait("form[action='/account/logout'] button")
        .await;
    tab.goto(&site.authorize_url(&server, &[("prompt", "login"), ("state", "pk")]))
        .await;
    shows(&tab, t.passkey_hint).await;
    tab.fill("#username", "erika").await;
    tab.click_until("button[data-passkey=login]", &at(&site.origin))
        .await;
    let tokens = code_at_client(&server, &site, Some("pk")).await;
    assert_eq!(konto_tests::amr(&id_claims(&tokens)), vec!["mfa", "pop"]);

    // another browser without JavaScript: the second-factor page explains and can be left
    let plain = chromium.tab(&format!("{test}-nojs"), lang, Js::Off).await;
    plain
        .goto(&site.authorize_url(&server, &[("state", "x")]))
        .await;
    sign_in(&plain, "erika", PW).await;
    shows(&plain, t.needs_js).await;
    assert!(
        !plain.text().await.contains(t.use_passkey),
        "no button that cannot work"
    );
    plain.check("second-factor").await;
    plain
        .click_until("form.cancel button", &at(&site.origin))
        .await;
    let hit = site.next_hit().await;
    assert_eq!(
        hit.param("error").as_deref(),
        Some("access_denied"),
        "{hit:?}"
    );
    server.stop().await;
}
