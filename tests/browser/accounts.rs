//! Registration through the e-mail link, password reset, and the account pages (data, names,
//! authenticators, connected services, signing out, deleting the account).

use konto_tests::chromium::{Js, Lang};
use konto_tests::link_in;
use konto_tests::site::ClientSite;

use crate::*;

variants!(registration_by_email_link:
    de_js => (De, On), en_js => (En, On), de_nojs => (De, Off), en_nojs => (En, Off));
variants!(password_reset_by_email_link:
    de_js => (De, On), en_js => (En, On), de_nojs => (De, Off), en_nojs => (En, Off));
variants!(account_pages:
    de_js => (De, On), en_js => (En, On), de_nojs => (De, Off), en_nojs => (En, Off));

const NEW_PW: &str = "Leuchtturm-Seegang-Ostwind-9";

/// The `n`th mail konto wrote (they are written by a background task: waits up to [`WAIT`]).
async fn mail(server: &TestServer, n: usize) -> String {
    let deadline = tokio::time::Instant::now() + konto_tests::chromium::WAIT;
    loop {
        if let Some(m) = server.mails().into_iter().nth(n - 1) {
            return m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no mail number {n} within the limit"
        );
        // files have no change events to wait for; look again shortly
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn registration_by_email_link(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, sqlite()).await else {
        return;
    };
    let t = texts(lang);
    let tab = chromium.tab(test, lang, js).await;
    tab.goto(&server.url("/register")).await;
    shows(&tab, t.register_title).await;
    tab.check("register").await;

    // a common password is refused on the page, with what was typed kept
    tab.fill("#email", "nora@example.org").await;
    tab.fill("#password", "passwort123").await;
    tab.fill("#given_name", "Nora").await;
    tab.fill("#family_name", "Neumann").await;
    tab.click_and_wait("form[action='/register'] button[type=submit]")
        .await;
    shows(&tab, t.err_password_common).await;
    tab.check("register-refused").await;

    tab.fill("#password", PW).await;
    tab.click_and_wait("form[action='/register'] button[type=submit]")
        .await;
    shows(&tab, t.register_sent).await;
    tab.check("register-sent").await;
    assert_eq!(server.rows("users").await, 0, "no account before the link");

    let mail = mail(&server, 1).await;
    assert!(mail.contains("To: nora@example.org"), "{mail}");
    let link = link_in(&mail, &format!("{}/register/confirm", server.issuer))
        .unwrap_or_else(|| panic!("a link in {mail}"));
    tab.goto(&link).await;
    shows(&tab, t.register_done).await;
    tab.check("register-done").await;
    assert_eq!(server.rows("users").await, 1);

    // the page's link leads to signing in, and the account shows the names given
    tab.click_and_wait("main a.button").await;
    tab.check("login").await;
    sign_in(&tab, "nora@example.org", PW).await;
    shows(&tab, t.account_title).await;
    shows(&tab, "Neumann").await;
    tab.check("account").await;
    server.stop().await;
}

async fn password_reset_by_email_link(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, sqlite()).await else {
        return;
    };
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let t = texts(lang);
    let tab = chromium.tab(test, lang, js).await;

    // from the login page's link
    tab.goto(&server.url("/account")).await;
    tab.click_and_wait("a[href='/reset']").await;
    shows(&tab, t.reset_title).await;
    tab.check("reset").await;
    tab.fill("#email", "erika@example.org").await;
    tab.click_and_wait("form[action='/reset'] button[type=submit]")
        .await;
    shows(&tab, t.reset_sent).await;
    tab.check("reset-sent").await;

    let mail = mail(&server, 1).await;
    let link = link_in(&mail, &format!("{}/reset/confirm", server.issuer))
        .unwrap_or_else(|| panic!("a link in {mail}"));
    tab.goto(&link).await;
    shows(&tab, t.new_password).await;
    tab.check("reset-new-password").await;
    tab.fill("#password", NEW_PW).await;
    tab.click_and_wait("form[action='/reset/confirm'] button[type=submit]")
        .await;
    shows(&tab, t.reset_done).await;
    tab.check("reset-done").await;

    tab.click_and_wait("main a.button").await;
    sign_in(&tab, "erika", PW).await;
    shows(&tab, t.err_credentials).await;
    sign_in(&tab, "erika", NEW_PW).await;
    shows(&tab, t.account_title).await;
    server.stop().await;
}

async fn account_pages(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, sqlite()).await else {
        return;
    };
    let site = ClientSite::start(&server, "shop", |_| {}).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let t = texts(lang);
    let tab = chromium.tab(test, lang, js).await;

    // a service the user consented to
    tab.goto(&site.authorize_url(&server, &[("scope", "openid profile email")]))
        .await;
    sign_in(&tab, "erika", PW).await;
    allow(&tab, &site).await;
    code_at_client(&server, &site, None).await;

    // the account, reached with the session of that login
    tab.goto(&server.url("/account")).await;
    shows(&tab, t.account_title).await;
    shows(&tab, "Test service shop").await;
    shows(&tab, "erika@example.org").await;
    tab.check("account").await;

    // names (self-asserted data) can be changed; the form is folded away until opened
    tab.click("details summary").await;
    tab.fill("#given_name", "Erika Maria").await;
    tab.click_and_wait("form[action='/account/names'] button[type=submit]")
        .await;
    shows(&tab, "Erika Maria").await;

    // the last way to sign in cannot be removed
    tab.click_and_wait("form[action='/account/authenticators/remove'] button")
        .await;
    shows(&tab, t.err_last_authenticator).await;
    tab.check("account-last-authenticator").await;

    // revoking the consent: the service asks again next time
    tab.click_and_wait("form[action='/account/consents/revoke'] button")
        .await;
    shows(&tab, t.no_services).await;
    tab.check("account-no-services").await;

    tab.click_and_wait("form[action='/account/logout'] button")
        .await;
    shows(&tab, t.logged_out).await;
    tab.check("signed-out").await;

    // deleting needs the box ticked
    tab.goto(&server.url("/account")).await;
    sign_in(&tab, "erika", PW).await;
    tab.click("#confirm").await;
    tab.click_and_wait("form[action='/account/delete'] button[type=submit]")
        .await;
    shows(&tab, t.account_deleted).await;
    tab.check("deleted").await;
    assert_eq!(server.rows("users").await, 0);
    server.stop().await;
}
