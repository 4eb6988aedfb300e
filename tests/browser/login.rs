//! Password login → consent → back at the client with a code that redeems (OIDC Core §3.1), the
//! form_post response mode with and without JavaScript, `ui_locales`, a wrong password and
//! cancelling.

use konto_tests::chromium::{Js, Lang};
use konto_tests::site::ClientSite;

use crate::*;

variants!(password_login_and_consent:
    de_js => (De, On), en_js => (En, On), de_nojs => (De, Off), en_nojs => (En, Off));
variants!(form_post_response: de_js => (De, On), en_nojs => (En, Off));
variants!(first_party_goes_straight_back: de_nojs => (De, Off), en_js => (En, On));
variants!(ui_locales_choose_the_language: de_js => (De, On), en_nojs => (En, Off));
variants!(wrong_password_then_cancel: de_nojs => (De, Off), en_js => (En, On));

async fn password_login_and_consent(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, sqlite()).await else {
        return;
    };
    let site = ClientSite::start(&server, "shop", |_| {}).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let t = texts(lang);
    let tab = chromium.tab(test, lang, js).await;
    tab.goto(&site.authorize_url(
        &server,
        &[("state", "s-1"), ("scope", "openid profile email")],
    ))
    .await;
    shows(&tab, t.login_title).await;
    shows(&tab, "Test service shop").await;
    tab.check("login").await;
    sign_in(&tab, "erika", PW).await;
    shows(&tab, t.scope_email).await;
    allow(&tab, &site).await;
    let tokens = code_at_client(&server, &site, Some("s-1")).await;
    let claims = id_claims(&tokens);
    assert_eq!(claims["acr"], format!("{}/loa/basic", server.issuer));
    assert_eq!(konto_tests::amr(&claims), vec!["pwd"]);

    // single sign-on and remembered consent: the next request comes straight back
    tab.goto_until(
        &site.authorize_url(
            &server,
            &[("state", "s-2"), ("scope", "openid profile email")],
        ),
        &at(&site.origin),
    )
    .await;
    code_at_client(&server, &site, Some("s-2")).await;
    server.stop().await;
}

/// `response_mode=form_post`: with JavaScript the page posts itself; without, a button does.
async fn form_post_response(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, sqlite()).await else {
        return;
    };
    let site = ClientSite::start(&server, "forms", |c| c.party.first_party = true).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let tab = chromium.tab(test, lang, js).await;
    tab.goto(&site.authorize_url(&server, &[("response_mode", "form_post"), ("state", "fp")]))
        .await;
    tab.check("login").await;
    sign_in(&tab, "erika", PW).await;
    if js == Js::Off {
        shows(&tab, texts(lang).form_post_text).await;
        tab.check("form-post").await;
        tab.click_until("form[data-autosubmit] button", &at(&site.origin))
            .await;
    } else {
        tab.wait_for(&at(&site.origin)).await;
    }
    let hit = site.next_hit().await;
    assert_eq!(hit.method, "POST", "{hit:?}");
    assert_eq!(hit.param("state").as_deref(), Some("fp"));
    let code = hit.param("code").expect("a code");
    let tokens = site.redeem(&server, &code).await;
    assert!(tokens["access_token"].is_string(), "{tokens}");
    server.stop().await;
}

/// A first-party service asks no consent: the password form's answer is the redirect to the
/// client (which the page's CSP `form-action` must allow).
async fn first_party_goes_straight_back(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, sqlite()).await else {
        return;
    };
    let site = ClientSite::start(&server, "portal", |c| c.party.first_party = true).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let tab = chromium.tab(test, lang, js).await;
    tab.goto(&site.authorize_url(&server, &[("state", "fp")]))
        .await;
    tab.check("login").await;
    tab.fill("#username", "erika").await;
    tab.fill("#password", PW).await;
    tab.click_until("#password-form button[type=submit]", &at(&site.origin))
        .await;
    code_at_client(&server, &site, Some("fp")).await;
    server.stop().await;
}

/// The request's `ui_locales` wins over the browser's languages, on every page of the flow.
async fn ui_locales_choose_the_language(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, sqlite()).await else {
        return;
    };
    let site = ClientSite::start(&server, "shop", |_| {}).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let other = match lang {
        Lang::De => Lang::En,
        Lang::En => Lang::De,
    };
    let tab = chromium.tab(test, lang, js).await;
    tab.expect_lang(other);
    tab.goto(&site.authorize_url(&server, &[("ui_locales", other.code())]))
        .await;
    shows(&tab, texts(other).login_for).await;
    tab.check("login").await;
    sign_in(&tab, "erika", PW).await;
    shows(&tab, texts(other).consent_text).await;
    tab.check("consent").await;
    tab.click_until("button[value=allow]", &at(&site.origin))
        .await;
    code_at_client(&server, &site, None).await;
    server.stop().await;
}

/// A wrong password gets an error on the same page; cancelling returns `access_denied`.
async fn wrong_password_then_cancel(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, sqlite()).await else {
        return;
    };
    let site = ClientSite::start(&server, "shop", |_| {}).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let t = texts(lang);
    let tab = chromium.tab(test, lang, js).await;
    tab.goto(&site.authorize_url(&server, &[("state", "c")]))
        .await;
    sign_in(&tab, "erika", "not the password").await;
    shows(&tab, t.err_credentials).await;
    tab.check("login-wrong-password").await;
    tab.click_until("form.cancel button", &at(&site.origin))
        .await;
    let hit = site.next_hit().await;
    assert_eq!(
        hit.param("error").as_deref(),
        Some("access_denied"),
        "{hit:?}"
    );
    assert_eq!(hit.param("state").as_deref(), Some("c"));
    server.stop().await;
}
