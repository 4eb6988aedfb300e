//! The checks themselves: a page that breaks each rule must be reported for each, so that a
//! passing suite means something.

use konto_tests::chromium::{Js, Lang};

use crate::*;

variants!(the_audit_finds_what_it_should: en_js => (En, On), de_nojs => (De, Off));

const BAD_PAGE: &str = "<!DOCTYPE html><html lang=\"fr\"><head><title>bad</title>\
    <meta name=\"viewport\" content=\"width=device-width\">\
    <style>*:focus { outline: none; }</style></head>\
    <body><main><h1>Bad</h1><div style=\"width: 900px\">wide</div>\
    <input type=\"text\"><button></button></main></body></html>";

async fn the_audit_finds_what_it_should(test: &str, lang: Lang, js: Js) {
    let Some(chromium) = konto_tests::chromium::chromium(test).await else {
        return;
    };
    let tab = chromium.tab(test, lang, js).await;
    let mut url = url::Url::parse("data:text/html,").unwrap();
    url.set_path(&format!("text/html,{BAD_PAGE}"));
    tab.goto(url.as_str()).await;
    let (_, problems) = tab.audit("bad").await;
    let all = problems.join("\n");
    for expected in [
        "<html lang=\"fr\">",
        "scrolls sideways at 375 px",
        "a control without a name: <input",
        "a control without a name: <button",
        "has no visible focus",
        "axe label",
        "axe button-name",
    ] {
        assert!(
            all.contains(expected),
            "{expected:?} not reported in:\n{all}"
        );
    }
}
