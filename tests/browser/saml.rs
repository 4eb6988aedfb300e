//! A SAML login in a real browser: the service provider's page posts a signed AuthnRequest
//! across sites to konto (HTTP-POST binding, so the browser sends no `SameSite=Lax` cookie and
//! an `Origin` of another site), konto's pages sign the user in and ask consent, and konto's
//! auto-submitted form carries the response back; pysaml2 checks and decrypts it.

use konto_core::Level;
use konto_tests::chromium::{Js, Lang};
use konto_tests::saml::PySp;
use konto_tests::site::ClientSite;

use crate::*;

variants!(saml_post_binding_login: de_js => (De, On), en_nojs => (En, Off));

const GIVEN_NAME: &str = "urn:oid:2.5.4.42";

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

async fn saml_post_binding_login(test: &str, lang: Lang, js: Js) {
    let mut options = sqlite();
    options.saml = true;
    let Some((chromium, server)) = start(test, options).await else {
        return;
    };
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let site = ClientSite::bare("stadt").await;
    let sp = PySp::at(
        &server,
        "stadt",
        &format!("{}/saml", site.origin),
        &format!("{}/saml/acs", site.origin),
    )
    .await;
    sp.register(&server, "stadt", Level::Basic).await;
    // the extension's display language is the service's, as ui_locales would be
    let lang_code = match lang {
        Lang::De => "de",
        Lang::En => "en",
    };
    let req = sp.request(
        "post",
        &[
            "--attr",
            &format!("{GIVEN_NAME}:required"),
            "--relay",
            "r1",
            "--lang",
            lang_code,
        ],
    );
    // the SP's page: a form that posts the request to konto, by itself when scripts run
    site.put_page(
        "/saml/start",
        format!(
            concat!(
                "<!DOCTYPE html><html lang=\"de\"><head><title>Stadt</title></head><body><main>",
                "<form method=\"post\" action=\"{}\">",
                "<input type=\"hidden\" name=\"SAMLRequest\" value=\"{}\">",
                "<input type=\"hidden\" name=\"RelayState\" value=\"r1\">",
                "<button type=\"submit\">Weiter</button></form></main>",
                "<script>document.forms[0].submit()</script></body></html>"
            ),
            escape(req["action"].as_str().unwrap()),
            escape(req["SAMLRequest"].as_str().unwrap()),
        ),
    );
    let tab = chromium.tab(test, lang, js).await;
    let login = format!(
        "location.origin === {}",
        konto_tests::chromium::js_str(&server.base)
    );
    if js == Js::Off {
        tab.goto(&format!("{}/saml/start", site.origin)).await;
        tab.click_until("button[type=submit]", &login).await;
    } else {
        tab.goto_until(&format!("{}/saml/start", site.origin), &login)
            .await;
    }
    tab.check("login").await;
    shows(&tab, "Pysaml2 Stadtverwaltung").await;
    sign_in(&tab, "erika", PW).await;
    tab.check("consent").await;
    if js == Js::Off {
        tab.click_and_wait("button[value=allow]").await;
        shows(&tab, texts(lang).form_post_text).await;
        tab.click_until("form[data-autosubmit] button", &at(&site.origin))
            .await;
    } else {
        tab.click_until("button[value=allow]", &at(&site.origin))
            .await;
    }
    let hit = site.next_hit().await;
    assert_eq!(
        (hit.method.as_str(), hit.path.as_str()),
        ("POST", "/saml/acs")
    );
    assert_eq!(hit.param("RelayState").as_deref(), Some("r1"));
    let resp = sp.response(req["id"].as_str(), &hit.param("SAMLResponse").unwrap());
    assert_eq!(resp["ok"], true, "{resp}");
    assert_eq!(resp["attributes"][GIVEN_NAME][0], "Erika");
    server.stop().await;
}
