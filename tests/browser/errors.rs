//! Error pages: an unknown client, a redirect URI the client did not register (never followed),
//! an unknown or expired sign-in, a page that does not exist.

use konto_tests::chromium::{Js, Lang};
use konto_tests::site::ClientSite;

use crate::*;

variants!(error_pages:
    de_js => (De, On), en_js => (En, On), de_nojs => (De, Off), en_nojs => (En, Off));

async fn error_pages(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, sqlite()).await else {
        return;
    };
    let site = ClientSite::start(&server, "shop", |_| {}).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let t = texts(lang);
    let tab = chromium.tab(test, lang, js).await;

    tab.goto(&konto_tests::authorize_url(
        &server,
        "nobody",
        "http://nobody.example/callback",
        &[],
    ))
    .await;
    shows(&tab, t.error_title).await;
    // the person reads their language; the protocol's reason is there for the service, marked
    // as English (WCAG 2.1 SC 3.1.2, language of parts)
    shows(&tab, t.error_refused_request).await;
    shows(&tab, "invalid_client").await;
    tab.check("unknown-client").await;

    let evil = format!("{}/elsewhere", site.origin);
    tab.goto(&konto_tests::authorize_url(&server, "shop", &evil, &[]))
        .await;
    shows(&tab, t.error_title).await;
    assert!(tab.url().await.starts_with(&server.base), "not redirected");
    tab.check("unregistered-redirect").await;

    tab.goto(&server.url("/login?flow=no-such-flow")).await;
    shows(&tab, t.error_flow).await;
    tab.check("unknown-flow").await;

    // the login page was left open too long
    tab.goto(&site.authorize_url(&server, &[])).await;
    server.clock.advance(time::Duration::days(1));
    sign_in(&tab, "erika", PW).await;
    shows(&tab, t.error_flow).await;
    tab.check("expired-flow").await;

    tab.goto(&server.url("/no/such/page")).await;
    shows(&tab, t.error_not_found).await;
    tab.check("not-found").await;
    server.stop().await;
}
