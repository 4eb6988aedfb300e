//! What real browsers send with konto's forms, and where those forms may lead: the headers of a
//! form post from Chromium (`Origin`, `Sec-Fetch-Site`) are accepted, a cross-site post is not,
//! and every page whose form can end at the client names exactly that client in its CSP
//! `form-action` (CSP Level 3 §6.3.1; Chromium applies it to the redirect after the post).

use konto_tests::*;
use reqwest::StatusCode;

on_both_backends!(
    real_browsers_post_and_other_sites_do_not,
    forms_may_lead_to_the_client_and_nowhere_else,
);

const PW: &str = "Fahrradklingel-Nordsee-42";

/// Posts the password form of `page` with exactly the given `Origin` and `Sec-Fetch-Site`.
async fn post_password(
    server: &TestServer,
    browser: &Browser,
    page: &Page,
    origin: Option<&str>,
    site: Option<&str>,
) -> StatusCode {
    let mut r = browser.http.post(server.url("/login/password"));
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    if let Some(s) = site {
        r = r.header("sec-fetch-site", s);
    }
    r.form(&[
        ("flow", page.hidden("flow").unwrap().as_str()),
        ("csrf", page.hidden("csrf").unwrap().as_str()),
        ("username", "erika"),
        ("password", PW),
    ])
    .send()
    .await
    .unwrap()
    .status()
}

/// Chromium, on a page without a referrer policy that hides the origin, sends its origin; on a
/// `no-referrer` page it sends `Origin: null` (Fetch §3.2.5) — both with `Sec-Fetch-Site:
/// same-origin`. Another site's post says `cross-site`, or sends `null` without Fetch Metadata.
async fn real_browsers_post_and_other_sites_do_not(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let mut client = server.client("rp");
    client.party.first_party = true;
    server.add_client(client.clone()).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let own = server.base.clone();
    let refused: [(Option<&str>, Option<&str>); 6] = [
        (Some("https://evil.example"), Some("cross-site")),
        (Some("https://evil.example"), None),
        (Some("null"), Some("cross-site")),
        (Some("null"), None),
        (Some(own.as_str()), Some("cross-site")),
        (Some("http://localhost:1"), Some("same-site")),
    ];
    for (origin, site) in refused {
        let browser = server.browser();
        let page = server
            .authorize(&browser, "rp", &client.redirect_uris[0], &[])
            .await
            .page();
        let status = post_password(&server, &browser, &page, origin, site).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{origin:?} {site:?}");
    }
    assert_eq!(server.rows("sessions").await, 0);
    let accepted: [(Option<&str>, Option<&str>); 4] = [
        (Some("null"), Some("same-origin")),
        (Some(own.as_str()), Some("same-origin")),
        (Some(own.as_str()), None),
        (None, None),
    ];
    for (origin, site) in accepted {
        let browser = server.browser();
        let page = server
            .authorize(&browser, "rp", &client.redirect_uris[0], &[])
            .await
            .page();
        let status = post_password(&server, &browser, &page, origin, site).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{origin:?} {site:?}");
    }
    server.stop().await;
}

fn form_action(page: &Page) -> String {
    let csp = page.header("content-security-policy").unwrap_or_default();
    csp.split(';')
        .map(str::trim)
        .find(|d| d.starts_with("form-action"))
        .unwrap_or_default()
        .to_owned()
}

/// The login page (with the eID client when the card is offered), the consent page and the
/// logout confirmation allow their forms to lead to konto and to the client's origin; pages
/// outside a client's flow allow only konto.
async fn forms_may_lead_to_the_client_and_nowhere_else(backend: Backend) {
    let mut o = Options::new(backend);
    o.eid = true;
    let Some(server) = TestServer::start(o).await else {
        return;
    };
    let client = server.client("rp");
    let secret = server.add_client(client.clone()).await.unwrap();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let redirect = client.redirect_uris[0].clone();
    let eid_client = {
        let u = url::Url::parse(&server.app.config.eid.eid_client_url).unwrap();
        u.origin().ascii_serialization()
    };
    let browser = server.browser();
    let login = server
        .authorize(&browser, "rp", &redirect, &[("scope", "openid")])
        .await
        .page();
    assert_eq!(
        form_action(&login),
        format!("form-action 'self' https://rp.example {eid_client}")
    );
    let consent = browser.password(&login, "erika", PW).await.page();
    assert!(consent.has("action=\"/login/consent\""));
    assert_eq!(
        form_action(&consent),
        "form-action 'self' https://rp.example"
    );
    let code = browser.consent(&consent, true).await.param("code").unwrap();
    let tokens = redeem_code(&server, "rp", &secret, &redirect, &code).await;

    // konto's own pages: only konto
    for path in ["/account", "/register", "/reset"] {
        let page = browser.visit(path).await.page();
        assert_eq!(form_action(&page), "form-action 'self'", "{path}");
    }

    // RP-initiated logout without an id_token_hint asks first; the confirmation's answer is a
    // redirect to the client's post-logout address
    let logout = browser
        .visit(&format!(
            "/logout?client_id=rp&post_logout_redirect_uri={}",
            client.post_logout_redirect_uris[0]
        ))
        .await
        .page();
    assert!(logout.has("/logout/confirm"), "{}", logout.body);
    assert_eq!(
        form_action(&logout),
        "form-action 'self' https://rp.example"
    );
    // a form_post answer posts to the client only
    let page = server
        .authorize(
            &browser,
            "rp",
            &redirect,
            &[("scope", "openid"), ("response_mode", "form_post")],
        )
        .await;
    let Outcome::Callback { .. } = page else {
        panic!("expected the form_post answer: {page:?}");
    };
    let raw = browser
        .get(&authorize_url(
            &server,
            "rp",
            &redirect,
            &[("scope", "openid"), ("response_mode", "form_post")],
        ))
        .await;
    assert_eq!(form_action(&raw), "form-action https://rp.example");
    assert!(tokens["id_token"].is_string());
    server.stop().await;
}
