//! konto under an `https` issuer (the development TLS certificate, trusted in the browser's NSS
//! store): cookies carry `Secure` and the `__Host-` prefix, and the password login works.

use konto_tests::chromium::{Js, Lang};
use konto_tests::site::ClientSite;

use crate::*;

variants!(https_issuer: de_js => (De, On), en_nojs => (En, Off));

async fn https_issuer(test: &str, lang: Lang, js: Js) {
    let mut options = sqlite();
    options.https = true;
    let Some((chromium, server)) = start(test, options).await else {
        return;
    };
    assert!(server.issuer.starts_with("https://localhost:"));
    let site = ClientSite::start(&server, "shop", |_| {}).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let tab = chromium.tab(test, lang, js).await;
    tab.goto(&site.authorize_url(&server, &[("state", "tls")]))
        .await;
    tab.check("login").await;
    sign_in(&tab, "erika", PW).await;
    allow(&tab, &site).await;
    code_at_client(&server, &site, Some("tls")).await;

    let cookies = tab.cookies(&server.issuer).await;
    let names: Vec<&str> = cookies.iter().map(|c| c.name.as_str()).collect();
    assert!(names.contains(&"__Host-konto-session"), "{names:?}");
    assert!(names.contains(&"__Host-konto-browser"), "{names:?}");
    for c in &cookies {
        assert!(c.name.starts_with("__Host-"), "{}", c.name);
        assert!(c.secure, "{} is Secure", c.name);
        assert!(c.http_only, "{} is HttpOnly", c.name);
        assert_eq!(c.path, "/", "{}", c.name);
        assert_eq!(c.domain, "localhost", "{} is host-only", c.name);
    }

    tab.goto(&server.url("/account")).await;
    shows(&tab, texts(lang).account_title).await;
    tab.check("account").await;
    server.stop().await;
}
