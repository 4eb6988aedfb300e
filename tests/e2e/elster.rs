//! ELSTER certificate login: every failure is refused with a clear page and no session; a
//! trusted proxy may forward the certificate; non-browser clients sign a challenge.

use konto_tests::*;

/// An authorization request for level substantial.
fn authorize(server: &TestServer, client: &str, redirect: &str) -> String {
    authorize_url(
        server,
        client,
        redirect,
        &[
            ("scope", "openid"),
            ("acr_values", "http://eidas.europa.eu/LoA/substantial"),
        ],
    )
}

on_both_backends!(
    every_certificate_failure_is_refused,
    a_trusted_proxy_may_forward_the_certificate,
    signed_challenge_for_non_browser_clients
);

/// Expired, revoked, foreign CA, wrong key usage, no certificate: each refused by name, and no
/// session comes of it.
async fn every_certificate_failure_is_refused(backend: Backend) {
    let mut o = Options::new(backend);
    o.elster = true;
    let Some(server) = TestServer::start(o).await else {
        return;
    };
    let mut client = server.client("rp");
    client.party.first_party = true;
    server.add_client(client.clone()).await;
    for (certificate, code) in [
        (Some("expired"), "expired"),
        (Some("revoked"), "revoked"),
        (Some("foreign"), "untrusted_issuer"),
        (Some("wrong-usage"), "wrong_key_usage"),
        // a company's certificate signs in no person (it would make one named after the company)
        (Some("org-mustermann"), "organisation_certificate"),
        (None, "no_certificate"),
    ] {
        let browser = elster_browser(&server.base, certificate);
        let page = browser
            .visit(&authorize(&server, "rp", &client.redirect_uris[0]))
            .await
            .page();
        let page = browser.elster(&page).await.page();
        assert!(
            page.has(code),
            "{certificate:?} should be refused as {code}:\n{}",
            page.body
        );
        assert!(page.has("/cert/login?flow="), "the user may try again");
        assert_eq!(
            server.rows("sessions").await,
            0,
            "{certificate:?} made no session"
        );
        assert_eq!(
            server.rows("users").await,
            0,
            "{certificate:?} made no account"
        );
    }
    // a valid certificate after all those failures works in the same flow machinery
    let browser = elster_browser(&server.base, Some("max"));
    let page = browser
        .visit(&authorize(&server, "rp", &client.redirect_uris[0]))
        .await
        .page();
    let page = browser.elster(&page).await.page();
    assert!(
        page.has("value=\"create\""),
        "an identity without account:\n{}",
        page.body
    );
    assert!(page.has("Mustermann"));
    server.stop().await;
}

fn forwarded(name: &str) -> String {
    let pem = std::fs::read_to_string(keys_dev(&format!("elster/{name}.crt.pem"))).unwrap();
    // nginx's $ssl_client_escaped_cert: percent-encoded PEM
    pem.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Behind a TLS-terminating proxy the certificate arrives in a header, believed only from a
/// configured proxy address.
async fn a_trusted_proxy_may_forward_the_certificate(backend: Backend) {
    let mut o = Options::new(backend);
    o.proxy_header = Some("x-ssl-client-cert".into());
    o.trusted_proxies = vec!["127.0.0.1/32".into()];
    let Some(server) = TestServer::start(o).await else {
        return;
    };
    let mut client = server.client("rp");
    client.party.first_party = true;
    server.add_client(client.clone()).await;
    server
        .add_user("erika", "Fahrradklingel-Nordsee-42", "Erika", "Mustermann")
        .await;
    let browser = server.browser();
    let page = browser
        .visit(&authorize(&server, "rp", &client.redirect_uris[0]))
        .await
        .page();
    let link = page
        .body
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .find(|h| h.contains("/login/cert/forwarded"))
        .unwrap()
        .to_owned();
    let resp = browser
        .http
        .get(server.url(&link))
        .header("x-ssl-client-cert", forwarded("revoked"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let text = resp.text().await.unwrap();
    assert!(text.contains("revoked"), "{text}");
    let resp = browser
        .http
        .get(server.url(&link))
        .header("x-ssl-client-cert", forwarded("max"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let page = browser
        .visit(&format!("/login?flow={}", page.hidden("flow").unwrap()))
        .await
        .page();
    assert!(page.has("value=\"create\""));
    server.stop().await;

    // the same header from a peer that is not a trusted proxy is refused
    let mut o = Options::new(backend);
    o.proxy_header = Some("x-ssl-client-cert".into());
    o.trusted_proxies = vec!["10.0.0.0/8".into()];
    let Some(server) = TestServer::start(o).await else {
        return;
    };
    let mut client = server.client("rp");
    client.party.first_party = true;
    server.add_client(client.clone()).await;
    let browser = server.browser();
    let page = browser
        .visit(&authorize(&server, "rp", &client.redirect_uris[0]))
        .await
        .page();
    let flow = page.hidden("flow").unwrap();
    let resp = browser
        .http
        .get(server.url(&format!("/login/cert/forwarded?flow={flow}")))
        .header("x-ssl-client-cert", forwarded("max"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    server.stop().await;
}

/// For clients that cannot do TLS client authentication: sign konto's challenge with the
/// certificate's key. A signature by another key, or a replayed challenge, fails.
async fn signed_challenge_for_non_browser_clients(backend: Backend) {
    let mut o = Options::new(backend);
    o.elster = true;
    let Some(server) = TestServer::start(o).await else {
        return;
    };
    let mut client = server.client("rp");
    client.party.first_party = true;
    server.add_client(client.clone()).await;
    server
        .add_user("erika", "Fahrradklingel-Nordsee-42", "Erika", "Mustermann")
        .await;
    let browser = server.browser();
    let page = browser
        .visit(&authorize(&server, "rp", &client.redirect_uris[0]))
        .await
        .page();
    let flow = page.hidden("flow").unwrap();
    let csrf = page.hidden("csrf").unwrap();
    let cert = elster_certificate("erika");
    let sign = elster_signature;
    let body = serde_json::json!({ "flow": flow, "csrf": csrf });
    let challenge = async || {
        let r = browser.post_json("/login/cert/challenge", &body).await;
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        v["challenge"].as_str().unwrap().to_owned()
    };
    let answer = |sig: String| serde_json::json!({ "flow": flow, "csrf": csrf, "certificates": [cert], "signature": sig });

    let c = challenge().await;
    let r = browser
        .post_json("/login/cert/signed", &answer(sign("max", c.as_bytes())))
        .await;
    assert_eq!(r.status, 401, "signed with another key: {}", r.body);
    let c = challenge().await;
    let r = browser
        .post_json("/login/cert/signed", &answer(sign("erika", c.as_bytes())))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r2 = browser
        .post_json("/login/cert/signed", &answer(sign("erika", c.as_bytes())))
        .await;
    assert_eq!(r2.status, 400, "a challenge is answered once");
    let next: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let page = browser
        .visit(next["redirect"].as_str().unwrap())
        .await
        .page();
    // erika's certificate matches no account yet (the account has only a password): create or link
    assert!(page.has("value=\"create\""), "{}", page.body);
    server.stop().await;
}
