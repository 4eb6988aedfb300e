//! RP-Initiated Logout 1.0: with an ID token of the current session konto signs out at once and
//! returns to the client; without one it asks first.

use konto_tests::chromium::{Js, Lang};
use konto_tests::site::ClientSite;

use crate::*;

variants!(rp_initiated_logout: de_js => (De, On), en_nojs => (En, Off));

async fn rp_initiated_logout(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, sqlite()).await else {
        return;
    };
    let site = ClientSite::start(&server, "shop", |_| {}).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let t = texts(lang);
    let tab = chromium.tab(test, lang, js).await;
    tab.goto(&site.authorize_url(&server, &[])).await;
    sign_in(&tab, "erika", PW).await;
    allow(&tab, &site).await;
    let tokens = code_at_client(&server, &site, None).await;
    let id_token = tokens["id_token"].as_str().unwrap();

    let mut logout = url::Url::parse(&server.url("/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", &site.logout_uri)
        .append_pair("state", "bye-1");
    tab.goto_until(logout.as_str(), &at(&site.origin)).await;
    let hit = site.next_hit().await;
    assert_eq!(hit.path, "/bye", "{hit:?}");
    assert_eq!(hit.param("state").as_deref(), Some("bye-1"));

    // signed out: the account asks for a login again
    tab.goto(&server.url("/account")).await;
    shows(&tab, t.login_reason_sign_in).await;
    sign_in(&tab, "erika", PW).await;
    shows(&tab, t.account_title).await;

    // the old ID token names another session: konto asks before signing out
    tab.goto(logout.as_str().replace("bye-1", "bye-2").as_str())
        .await;
    shows(&tab, t.logout_question).await;
    tab.check("logout-confirm").await;
    tab.click_until("form[action='/logout/confirm'] button", &at(&site.origin))
        .await;
    let hit = site.next_hit().await;
    assert_eq!(hit.param("state").as_deref(), Some("bye-2"), "{hit:?}");
    tab.goto(&server.url("/account")).await;
    assert!(tab.has("#password").await, "signed out");

    // without a client to return to, konto's own page says it is done
    tab.goto(&server.url("/account")).await;
    sign_in(&tab, "erika", PW).await;
    tab.goto(&server.url("/logout")).await;
    tab.click_and_wait("form[action='/logout/confirm'] button")
        .await;
    shows(&tab, t.logged_out).await;
    tab.check("logged-out").await;
    server.stop().await;
}
