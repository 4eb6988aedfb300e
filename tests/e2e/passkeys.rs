//! Passkeys (WebAuthn, with a software authenticator standing in for the browser's): registered
//! from the account page, then as second factor after the password and for login without one.

use konto_tests::*;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

async fn amr_of(server: &TestServer, secret: &str, redirect: &str, code: &str) -> Vec<String> {
    let tokens = redeem_code(server, "rp", secret, redirect, code).await;
    amr(&jwt_claims(
        tokens["id_token"].as_str().expect("an ID token"),
    ))
}

on_both_backends!(passkey_as_second_factor_and_without_password);

const PW: &str = "Fahrradklingel-Nordsee-42";

async fn passkey_login(
    browser: &Browser,
    authenticator: &mut SoftPasskey,
    origin: &url::Url,
    page: &Page,
    username: Option<&str>,
) -> Page {
    let flow = page.hidden("flow").unwrap();
    let csrf = page
        .body
        .split("data-csrf=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(str::to_owned)
        .or_else(|| page.hidden("csrf"))
        .unwrap();
    let mut start = json!({ "flow": flow, "csrf": csrf });
    if let Some(u) = username {
        start["username"] = json!(u);
    }
    let r = browser.post_json("/login/passkey/start", &start).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let challenge: RequestChallengeResponse = serde_json::from_str(&r.body).unwrap();
    let credential = authenticator
        .do_authentication(origin.clone(), challenge)
        .expect("the authenticator signs");
    let r = browser
        .post_json(
            "/login/passkey/finish",
            &json!({ "flow": flow, "csrf": csrf, "credential": credential }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let next: Value = serde_json::from_str(&r.body).unwrap();
    browser.get(next["redirect"].as_str().unwrap()).await
}

async fn passkey_as_second_factor_and_without_password(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let mut client = server.client("rp");
    client.party.first_party = true;
    let secret = server.add_client(client.clone()).await.unwrap();
    let redirect = client.redirect_uris[0].clone();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let origin = url::Url::parse(&server.issuer).unwrap();
    let browser = server.browser();
    let page = server
        .authorize(
            &browser,
            "rp",
            &redirect,
            &[("scope", "openid"), ("prompt", "login")],
        )
        .await
        .page();
    assert!(
        browser
            .password(&page, "erika", PW)
            .await
            .param("code")
            .is_some()
    );

    // register a passkey from the account page
    let account = browser.visit("/account").await.page();
    let csrf = account.hidden("csrf").unwrap();
    let r = browser
        .post_json("/account/passkey/start", &json!({ "csrf": csrf }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let start: Value = serde_json::from_str(&r.body).unwrap();
    let options: CreationChallengeResponse =
        serde_json::from_value(start["options"].clone()).unwrap();
    let mut authenticator = SoftPasskey::new(true);
    let credential = authenticator
        .do_registration(origin.clone(), options)
        .expect("the authenticator registers");
    // as konto.js sends it: with the transports the browser reports (`getTransports()`)
    let mut credential = serde_json::to_value(&credential).unwrap();
    credential["response"]["transports"] = json!(["internal", "hybrid"]);
    let r = browser
        .post_json(
            "/account/passkey/finish",
            &json!({ "csrf": csrf, "flow": start["flow"], "credential": credential }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(browser.visit("/account").await.page().has("Passkey"));

    // password, then the passkey: two factors
    let page = server
        .authorize(
            &browser,
            "rp",
            &redirect,
            &[("scope", "openid"), ("prompt", "login")],
        )
        .await
        .page();
    let second = browser.password(&page, "erika", PW).await.page();
    assert!(
        second.has("data-passkey=\"second-factor\""),
        "{}",
        second.body
    );
    let after = passkey_login(&browser, &mut authenticator, &origin, &second, None).await;
    let code = browser
        .follow(after)
        .await
        .param("code")
        .expect("signed in with two factors");
    assert_eq!(
        amr_of(&server, &secret, &redirect, &code).await,
        vec!["mfa", "pop", "pwd"]
    );

    // without a password: the user name, then the passkey
    let other = server.browser();
    let page = server
        .authorize(
            &other,
            "rp",
            &redirect,
            &[("scope", "openid"), ("prompt", "login")],
        )
        .await
        .page();
    let after = passkey_login(&other, &mut authenticator, &origin, &page, Some("erika")).await;
    let code = other
        .follow(after)
        .await
        .param("code")
        .expect("signed in with the passkey alone");
    assert_eq!(
        amr_of(&server, &secret, &redirect, &code).await,
        vec!["mfa", "pop"]
    );

    // a name without a passkey gets a challenge that looks the same and leads nowhere
    let third = server.browser();
    let page = server
        .authorize(
            &third,
            "rp",
            &redirect,
            &[("scope", "openid"), ("prompt", "login")],
        )
        .await
        .page();
    let flow = page.hidden("flow").unwrap();
    let csrf = page.hidden("csrf").unwrap();
    let r = third
        .post_json(
            "/login/passkey/start",
            &json!({ "flow": flow, "csrf": csrf, "username": "nobody" }),
        )
        .await;
    assert_eq!(r.status, 200);
    let decoy_json: Value = serde_json::from_str(&r.body).unwrap();
    let decoy: RequestChallengeResponse = serde_json::from_str(&r.body).unwrap();
    assert_eq!(decoy.public_key.allow_credentials.len(), 1);
    assert!(
        authenticator
            .do_authentication(origin.clone(), decoy)
            .is_err(),
        "no authenticator holds a decoy"
    );

    // ... and the decoy has the shape of a real answer: the same fields, transports included
    let fourth = server.browser();
    let page = server
        .authorize(
            &fourth,
            "rp",
            &redirect,
            &[("scope", "openid"), ("prompt", "login")],
        )
        .await
        .page();
    let r = fourth
        .post_json(
            "/login/passkey/start",
            &json!({
                "flow": page.hidden("flow").unwrap(),
                "csrf": page.hidden("csrf").unwrap(),
                "username": "erika",
            }),
        )
        .await;
    let real: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(shape(&real), shape(&decoy_json), "{real}\n{decoy_json}");
    let allowed = &decoy_json["publicKey"]["allowCredentials"][0];
    assert!(allowed["transports"].is_array(), "{decoy_json}");
    let id_len = allowed["id"].as_str().unwrap().len();
    // base64url of 16, 20, 32 or 48 bytes, as real authenticators' ids
    assert!([22, 27, 43, 64].contains(&id_len), "{id_len}");
    server.stop().await;
}

/// The structure of a JSON value: object keys and value types, not the values (an array by the
/// distinct shapes of its elements, not their number).
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => {
            let mut shapes: Vec<Value> = Vec::new();
            for s in a.iter().map(shape) {
                if !shapes.contains(&s) {
                    shapes.push(s);
                }
            }
            Value::Array(shapes)
        }
        Value::String(_) => json!("string"),
        Value::Number(_) => json!(0),
        Value::Bool(_) => json!(true),
        Value::Null => Value::Null,
    }
}
