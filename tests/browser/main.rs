//! Browser tests: every page flow of konto in a real headless Chromium (Debian's package, driven
//! over the DevTools protocol, see `konto_tests::chromium`), in German and English, with
//! JavaScript on and — where a page promises to work without it — off. Every konto page on the
//! way is checked for accessibility and layout (`konto_tests::audit`) and saved as screenshots.
//!
//! Without Chromium, the axe-core package or the certificate policy (`scripts/setup-browser`
//! installs them) each test prints `SKIPPED (browser)` and passes, unless
//! `KONTO_TEST_REQUIRE_BROWSER=1` (CI) makes it fail. The flows run on SQLite here; the HTTP
//! end-to-end suite covers both databases.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests stop with a message"
)]

mod accounts;
mod errors;
mod external;
mod https;
mod login;
mod logout;
mod orgs;
mod passkeys;
mod postbox;
mod saml;
mod selftest;

use konto_tests::chromium::{Chromium, Lang, Tab, chromium, js_str};
use konto_tests::site::ClientSite;
use konto_tests::{Backend, Options, TestServer};
use konto_web::i18n::{self, Texts};

pub(crate) const PW: &str = "Fahrradklingel-Nordsee-42";
pub(crate) const SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
pub(crate) const HIGH: &str = "http://eidas.europa.eu/LoA/high";

/// One test per variant: `variants!(scenario: de_js => (Lang::De, Js::On), …)` calls
/// `scenario(name, lang, js)`; the name also names the screenshot folder.
macro_rules! variants {
    ($scenario:ident: $($variant:ident => ($lang:ident, $js:ident)),+ $(,)?) => {
        mod $scenario {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $variant() {
                    super::$scenario(
                        concat!(stringify!($scenario), "-", stringify!($variant)),
                        konto_tests::chromium::Lang::$lang,
                        konto_tests::chromium::Js::$js,
                    )
                    .await
                }
            )+
        }
    };
}
pub(crate) use variants;

/// The browser and a konto server on SQLite, or `None` when the test skips.
pub(crate) async fn start(test: &str, options: Options) -> Option<(&'static Chromium, TestServer)> {
    let chromium = chromium(test).await?;
    let server = TestServer::start(options).await.expect("SQLite server");
    Some((chromium, server))
}

pub(crate) fn sqlite() -> Options {
    Options::new(Backend::Sqlite)
}

/// konto's texts in the tab's language.
pub(crate) fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::De => &i18n::DE,
        Lang::En => &i18n::EN,
    }
}

/// A JavaScript condition: the tab is at `origin`.
pub(crate) fn at(origin: &str) -> String {
    format!("location.origin === {}", js_str(origin))
}

/// Asserts that the page shows `text`.
pub(crate) async fn shows(tab: &Tab, text: &str) {
    let page = tab.text().await;
    assert!(
        page.contains(text),
        "expected {text:?}\n{}",
        tab.describe().await
    );
}

/// On a login page: types the name and password and signs in; returns once the next page loaded.
pub(crate) async fn sign_in(tab: &Tab, username: &str, password: &str) {
    tab.fill("#username", username).await;
    tab.fill("#password", password).await;
    tab.click_and_wait("#password-form button[type=submit]")
        .await;
}

/// On a consent page: checks it and allows; returns once the browser is back at the client.
pub(crate) async fn allow(tab: &Tab, site: &ClientSite) {
    shows(tab, texts(tab.lang).consent_allow).await;
    tab.check("consent").await;
    tab.click_until("button[value=allow]", &at(&site.origin))
        .await;
}

/// Back at the client with a code: checks `state` and `iss` and redeems the code; the tokens.
pub(crate) async fn code_at_client(
    server: &TestServer,
    site: &ClientSite,
    state: Option<&str>,
) -> serde_json::Value {
    let hit = site.next_hit().await;
    assert_eq!(hit.path, "/callback", "{hit:?}");
    assert_eq!(hit.param("iss").as_deref(), Some(server.issuer.as_str()));
    if let Some(state) = state {
        assert_eq!(hit.param("state").as_deref(), Some(state));
    }
    let code = hit
        .param("code")
        .unwrap_or_else(|| panic!("a code, got {hit:?}"));
    let tokens = site.redeem(server, &code).await;
    assert!(tokens["id_token"].is_string(), "{tokens}");
    tokens
}

/// The claims of the ID token in a token response.
pub(crate) fn id_claims(tokens: &serde_json::Value) -> serde_json::Value {
    konto_tests::jwt_claims(tokens["id_token"].as_str().expect("an ID token"))
}
