//! Several konto nodes on one database, and key rotation without invalidating tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use konto_core::client::SigningAlg;
use konto_keys::{KeyEncryptionKey, Keyring};
use konto_tests::*;
use serde_json::Value;

on_both_backends!(
    two_nodes_share_one_database,
    key_rotation_keeps_issued_tokens_valid
);

const PW: &str = "Fahrradklingel-Nordsee-42";

fn kid(token: &str) -> String {
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// All state lives in the database: a login started on node A continues on node B, the code is
/// redeemed on B and refreshed on A.
async fn two_nodes_share_one_database(backend: Backend) {
    let Some(a) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let b = a.another_node().await;
    assert_eq!(a.issuer, b.issuer);
    let client = a.client("rp");
    let secret = a.add_client(client.clone()).await.unwrap();
    a.add_user("erika", PW, "Erika", "Mustermann").await;

    let browser = a.browser();
    let login_page = a
        .authorize(&browser, "rp", &client.redirect_uris[0], &[])
        .await
        .page();
    let flow = login_page.hidden("flow").unwrap();
    let csrf = login_page.hidden("csrf").unwrap();
    // the password goes to node B
    let r = browser
        .post(
            &b.url("/login/password"),
            &[
                ("flow", &flow),
                ("csrf", &csrf),
                ("username", "erika"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // the consent page is shown by node A
    let consent = browser.follow(r).await.page();
    let out = browser.consent(&consent, true).await;
    let code = out.param("code").unwrap();

    let http = reqwest::Client::new();
    let tokens: Value = http
        .post(b.url("/token"))
        .basic_auth("rp", Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uris[0]),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rt = tokens["refresh_token"]
        .as_str()
        .expect("tokens from node B");
    let refreshed: Value = http
        .post(a.url("/token"))
        .basic_auth("rp", Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = refreshed["access_token"]
        .as_str()
        .expect("refreshed on node A");
    let info = http
        .get(b.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    // the client goes on with its new token on B (so the first one is no retry of a lost
    // answer any more)
    let again: Value = http
        .post(b.url("/token"))
        .basic_auth("rp", Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                refreshed["refresh_token"].as_str().expect("a new token"),
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = again["access_token"].as_str().expect("refreshed on node B");
    // a reuse detected on A revokes on B
    let reuse: Value = http
        .post(a.url("/token"))
        .basic_auth("rp", Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reuse["error"], "invalid_grant");
    assert_eq!(
        http.get(b.url("/userinfo"))
            .bearer_auth(at)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    b.stop().await;
    a.stop().await;
}

/// `konto keys rotate`: the next key (already published) signs; tokens of the old key stay valid
/// until they expire; then the old key leaves the JWKS.
async fn key_rotation_keeps_issued_tokens_valid(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let mut client = server.client("rp");
    client.id_token_alg = SigningAlg::ES256;
    let secret = server.add_client(client.clone()).await.unwrap();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let browser = server.browser();
    let out = browser
        .login_and_consent(
            &authorize_url(&server, "rp", &client.redirect_uris[0], &[]),
            "erika",
            PW,
        )
        .await;
    let http = reqwest::Client::new();
    let token = |code: String| {
        let http = http.clone();
        let url = server.url("/token");
        let secret = secret.clone();
        let redirect = client.redirect_uris[0].clone();
        async move {
            http.post(url)
                .basic_auth("rp", Some(&secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", redirect.as_str()),
                    ("code_verifier", VERIFIER),
                ])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let before = token(out.param("code").unwrap()).await;
    let old_at = before["access_token"].as_str().unwrap().to_owned();
    let old_kid = kid(&old_at);
    let jwks: Value = http
        .get(server.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let published: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();

    let master = konto_web::secrets::master_key(&server.app.config).unwrap();
    let kek = KeyEncryptionKey::new(konto_web::secrets::derive(&master).key_encryption);
    let now = server.clock_now();
    Keyring::rotate(
        server.store.as_ref(),
        &kek,
        SigningAlg::ES256,
        time::Duration::minutes(10),
        now,
    )
    .await
    .unwrap();
    assert!(server.app.oidc.keys().reload(now).await.unwrap());

    let out = server
        .authorize(&browser, "rp", &client.redirect_uris[0], &[])
        .await;
    let after = token(out.param("code").unwrap()).await;
    let new_kid = kid(after["access_token"].as_str().unwrap());
    assert_ne!(new_kid, old_kid);
    assert!(
        published.contains(&new_kid),
        "the new key was published before it signed"
    );
    assert_eq!(
        http.get(server.url("/userinfo"))
            .bearer_auth(&old_at)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let jwks: Value = http
        .get(server.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        jwks.to_string().contains(&old_kid),
        "the old key stays published"
    );

    server.clock.advance(time::Duration::minutes(11));
    server
        .app
        .oidc
        .keys()
        .reload(server.clock_now())
        .await
        .unwrap();
    let jwks: Value = http
        .get(server.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !jwks.to_string().contains(&old_kid),
        "retired after its tokens expired"
    );
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 6);
    server.stop().await;
}
