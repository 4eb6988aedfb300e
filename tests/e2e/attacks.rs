//! The attacks: every endpoint with the malformed, the replayed, the forged and the oversized.
//! RFC 9700 (OAuth 2.0 Security BCP), RFC 6749 §4.1.2/§10, OIDC Core §3.1.2.6.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use konto_core::client::{Client, GrantType, TokenEndpointAuthMethod};
use konto_core::pkce::s256;
use konto_tests::*;
use reqwest::StatusCode;
use serde_json::Value;

on_both_backends!(
    redirect_uris_must_match_exactly,
    pkce_is_enforced_without_downgrade,
    a_replayed_code_revokes_its_tokens,
    a_reused_refresh_token_revokes_the_grant,
    client_authentication_failures,
    expired_codes_are_refused,
    private_key_jwt_and_its_replay,
    forged_tokens_at_userinfo,
    logout_is_no_open_redirector,
    forms_need_csrf_and_the_same_browser,
    oversized_and_malformed_requests,
    pages_carry_security_headers,
    over_https_cookies_are_host_prefixed_and_hsts_is_sent,
);

const PW: &str = "Fahrradklingel-Nordsee-42";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn authorize_url(server: &TestServer, client: &Client, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&server.url("/authorize")).unwrap();
    {
        let mut q = url.query_pairs_mut();
        let has = |k: &str| extra.iter().any(|(n, _)| *n == k);
        for (k, v) in [
            ("client_id", client.party.id.as_str()),
            ("redirect_uri", client.redirect_uris[0].as_str()),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "st"),
            ("nonce", "n"),
        ] {
            if !has(k) {
                q.append_pair(k, v);
            }
        }
        if !has("code_challenge") && !has("no_pkce") {
            q.append_pair("code_challenge", &s256(VERIFIER))
                .append_pair("code_challenge_method", "S256");
        }
        for (k, v) in extra {
            if *k != "no_pkce" {
                q.append_pair(k, v);
            }
        }
    }
    url.to_string()
}

/// A server with one confidential client and one user, signed in with consent given.
async fn setup(backend: Backend) -> Option<(TestServer, Client, String, Browser)> {
    let server = TestServer::start(Options::new(backend)).await?;
    let client = server.client("rp");
    let secret = server.add_client(client.clone()).await.unwrap();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let browser = server.browser();
    let out = browser
        .login_and_consent(&authorize_url(&server, &client, &[]), "erika", PW)
        .await;
    assert!(out.param("code").is_some());
    Some((server, client, secret, browser))
}

async fn token(
    server: &TestServer,
    client: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(client, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn new_code(
    server: &TestServer,
    browser: &Browser,
    client: &Client,
    extra: &[(&str, &str)],
) -> String {
    browser
        .visit(&authorize_url(server, client, extra))
        .await
        .param("code")
        .expect("a code")
}

async fn redeem(
    server: &TestServer,
    client: &Client,
    secret: &str,
    code: &str,
) -> (StatusCode, Value) {
    token(
        server,
        &client.party.id,
        secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &client.redirect_uris[0]),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

async fn userinfo(server: &TestServer, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(server.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn assert_no_internals(body: &str) {
    for leak in [
        "sqlx",
        "panicked",
        "SqliteError",
        "PgDatabaseError",
        "at src/",
        "backtrace",
        "Error {",
    ] {
        assert!(!body.contains(leak), "internal detail {leak:?} in {body}");
    }
}

/// RFC 9700 §4.1.3 / OIDC Core §3.1.2.6: no redirect to an unregistered URI; an error page instead.
async fn redirect_uris_must_match_exactly(backend: Backend) {
    let Some((server, client, _, browser)) = setup(backend).await else {
        return;
    };
    let registered = &client.redirect_uris[0];
    for bad in [
        "https://evil.example/callback".to_owned(),
        format!("{registered}/"),
        format!("{registered}?x=1"),
        registered.replace("https://", "http://"),
        format!("{registered}#frag"),
        registered.to_uppercase(),
    ] {
        let mut c = client.clone();
        c.redirect_uris = vec![bad.clone()];
        let page = browser.get(&authorize_url(&server, &c, &[])).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(page.location().is_none(), "no redirect for {bad}");
        assert!(page.has("redirect_uri"), "the page says what is wrong");
    }
    let mut unknown = client.clone();
    unknown.party.id = "nobody".into();
    let page = browser.get(&authorize_url(&server, &unknown, &[])).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location().is_none());
    // missing redirect_uri
    let page = browser
        .get(&server.url("/authorize?client_id=rp&response_type=code&scope=openid"))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location().is_none());
    server.stop().await;
}

/// RFC 7636 and RFC 9700 §2.1.1: S256 only, verifier checked, no downgrade.
async fn pkce_is_enforced_without_downgrade(backend: Backend) {
    let Some((server, client, secret, browser)) = setup(backend).await else {
        return;
    };
    // missing challenge: the client is told
    let out = browser
        .visit(&authorize_url(&server, &client, &[("no_pkce", "")]))
        .await;
    assert_eq!(out.param("error").as_deref(), Some("invalid_request"));
    assert_eq!(out.param("state").as_deref(), Some("st"));
    // plain is refused
    let out = browser
        .visit(&authorize_url(
            &server,
            &client,
            &[
                ("code_challenge", VERIFIER),
                ("code_challenge_method", "plain"),
            ],
        ))
        .await;
    assert_eq!(out.param("error").as_deref(), Some("invalid_request"));
    // wrong and missing verifier
    let code = new_code(&server, &browser, &client, &[]).await;
    let form = |v: Option<&'static str>| {
        let mut f = vec![
            ("grant_type", "authorization_code"),
            ("redirect_uri", "https://rp.example/callback"),
        ];
        if let Some(v) = v {
            f.push(("code_verifier", v));
        }
        f
    };
    let mut f = form(Some("wrong-verifier-wrong-verifier-wrong-verifier-x"));
    f.push(("code", &code));
    let (status, body) = token(&server, "rp", &secret, &f).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let code = new_code(&server, &browser, &client, &[]).await;
    let mut f = form(None);
    f.push(("code", &code));
    let (_, body) = token(&server, "rp", &secret, &f).await;
    assert_eq!(body["error"], "invalid_grant");
    // downgrade: a client without required PKCE sends no challenge, an attacker sends a verifier
    let mut lax = server.client("lax");
    lax.require_pkce = false;
    let lax_secret = server.add_client(lax.clone()).await.unwrap();
    let page = browser
        .visit(&authorize_url(&server, &lax, &[("no_pkce", "")]))
        .await
        .page();
    let out = browser.consent(&page, true).await;
    let code = out.param("code").unwrap();
    let (_, body) = token(
        &server,
        "lax",
        &lax_secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &lax.redirect_uris[0]),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant", "RFC 9700 §2.1.1");
    server.stop().await;
}

/// RFC 6749 §4.1.2: a code used twice fails and revokes the tokens issued from it.
async fn a_replayed_code_revokes_its_tokens(backend: Backend) {
    let Some((server, client, secret, browser)) = setup(backend).await else {
        return;
    };
    let code = new_code(&server, &browser, &client, &[]).await;
    let (status, first) = redeem(&server, &client, &secret, &code).await;
    assert_eq!(status, 200, "{first}");
    let at = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&server, at).await.status(), 200);
    let (status, second) = redeem(&server, &client, &secret, &code).await;
    assert_eq!(
        (status, second["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let denied = userinfo(&server, at).await;
    assert_eq!(denied.status(), 401, "the first access token is revoked");
    assert!(
        denied.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let (_, refresh) = token(
        &server,
        "rp",
        &secret,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        refresh["error"], "invalid_grant",
        "and so is the refresh token"
    );
    // a code of one client does not work for another
    let other = server.client("other");
    let other_secret = server.add_client(other.clone()).await.unwrap();
    let code = new_code(&server, &browser, &client, &[]).await;
    let (_, body) = token(
        &server,
        "other",
        &other_secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uris[0]),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    // nor with another redirect URI
    let (_, body) = token(
        &server,
        "rp",
        &secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://rp.example/other"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    server.stop().await;
}

/// RFC 9700 §4.14.2: refresh tokens rotate; presenting an old one (its successor used)
/// revokes the whole grant.
async fn a_reused_refresh_token_revokes_the_grant(backend: Backend) {
    let Some((server, client, secret, browser)) = setup(backend).await else {
        return;
    };
    let code = new_code(&server, &browser, &client, &[]).await;
    let (_, first) = redeem(&server, &client, &secret, &code).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = token(
        &server,
        "rp",
        &secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
    )
    .await;
    assert_eq!(status, 200);
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    // narrowing the scope is allowed, widening is not (RFC 6749 §6)
    let (_, wide) = token(
        &server,
        "rp",
        &secret,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt2),
            ("scope", "openid email"),
        ],
    )
    .await;
    assert_eq!(wide["error"], "invalid_scope");
    // the client goes on with its new token (so the old one is no retry of a lost answer)
    let (status, third) = token(
        &server,
        "rp",
        &secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt2)],
    )
    .await;
    assert_eq!(status, 200);
    let rt3 = third["refresh_token"].as_str().unwrap().to_owned();
    // the stolen old token comes back
    let (_, reuse) = token(
        &server,
        "rp",
        &secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
    )
    .await;
    assert_eq!(reuse["error"], "invalid_grant");
    let (_, legit) = token(
        &server,
        "rp",
        &secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt3)],
    )
    .await;
    assert_eq!(
        legit["error"], "invalid_grant",
        "the whole grant is revoked"
    );
    assert_eq!(
        userinfo(&server, third["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
    server.stop().await;
}

/// RFC 6749 §2.3 and §5.2: wrong secrets, wrong methods, unknown clients.
async fn client_authentication_failures(backend: Backend) {
    let Some((server, client, secret, browser)) = setup(backend).await else {
        return;
    };
    let code = new_code(&server, &browser, &client, &[]).await;
    let http = reqwest::Client::new();
    let resp = http
        .post(server.url("/token"))
        .basic_auth("rp", Some("wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uris[0]),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    // the code survived the failed attempt
    let (status, _) = redeem(&server, &client, &secret, &code).await;
    assert_eq!(status, 200);
    // registered for basic, tried with post
    let resp = http
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "rp"),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    // two methods at once
    let resp = http
        .post(server.url("/token"))
        .basic_auth("rp", Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    // unknown client, no authentication, a grant the client may not use
    let (status, body) = token(
        &server,
        "nobody",
        "x",
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let resp = http
        .post(server.url("/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let (_, body) = token(
        &server,
        "rp",
        &secret,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(body["error"], "unauthorized_client");
    let (_, body) = token(
        &server,
        "rp",
        &secret,
        &[
            ("grant_type", "password"),
            ("username", "erika"),
            ("password", PW),
        ],
    )
    .await;
    assert_eq!(body["error"], "unsupported_grant_type");
    server.stop().await;
}

/// Codes live 60 seconds.
async fn expired_codes_are_refused(backend: Backend) {
    let Some((server, client, secret, browser)) = setup(backend).await else {
        return;
    };
    let code = new_code(&server, &browser, &client, &[]).await;
    server.clock.advance(time::Duration::seconds(61));
    let (_, body) = redeem(&server, &client, &secret, &code).await;
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    server.stop().await;
}

fn assertion(key: &josekit::jwk::alg::ec::EcKeyPair, kid: &str, claims: Value) -> String {
    let mut header = josekit::jws::JwsHeader::new();
    header.set_token_type("JWT");
    header.set_key_id(kid);
    let payload = josekit::jwt::JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
    let signer = josekit::jws::ES256
        .signer_from_jwk(&key.to_jwk_private_key())
        .unwrap();
    josekit::jwt::encode_with_signer(&payload, &header, &signer).unwrap()
}

/// RFC 7523 §3 / OIDC Core §9: client assertions, once each.
async fn private_key_jwt_and_its_replay(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let key = josekit::jws::ES256.generate_key_pair().unwrap();
    let mut public = key.to_jwk_public_key();
    public.set_key_id("k1");
    let mut c = server.client("signed");
    c.auth_method = TokenEndpointAuthMethod::PrivateKeyJwt;
    c.grant_types = vec![GrantType::ClientCredentials];
    c.jwks = Some(
        serde_json::json!({ "keys": [serde_json::Value::Object(public.as_ref().clone())] })
            .to_string(),
    );
    server.add_client(c).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = |jti: &str, aud: &str, exp: i64| serde_json::json!({ "iss": "signed", "sub": "signed", "aud": aud, "jti": jti, "exp": exp, "iat": now });
    let token_url = server.url("/token");
    let audience = format!("{}/token", server.issuer);
    let send = |a: String| {
        let url = token_url.clone();
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", a.as_str()),
                ])
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let a = assertion(&key, "k1", claims("j1", &audience, now + 60));
    let (status, body) = send(a.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(a).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "a replayed jti"
    );
    let (_, body) = send(assertion(
        &key,
        "k1",
        claims("j2", "https://elsewhere.example/token", now + 60),
    ))
    .await;
    assert_eq!(body["error"], "invalid_client", "another audience");
    let (_, body) = send(assertion(&key, "k1", claims("j3", &audience, now - 5))).await;
    assert_eq!(body["error"], "invalid_client", "expired");
    let (_, body) = send(assertion(&key, "k1", claims("j4", &audience, now + 86_400))).await;
    assert_eq!(body["error"], "invalid_client", "living too long");
    let other = josekit::jws::ES256.generate_key_pair().unwrap();
    let (_, body) = send(assertion(&other, "k1", claims("j5", &audience, now + 60))).await;
    assert_eq!(body["error"], "invalid_client", "signed with another key");
    server.stop().await;
}

/// RFC 6750 §3.1 and RFC 9068 §4: tampered, unsigned and misused tokens are invalid_token.
async fn forged_tokens_at_userinfo(backend: Backend) {
    let Some((server, client, secret, browser)) = setup(backend).await else {
        return;
    };
    let code = new_code(&server, &browser, &client, &[]).await;
    let (_, tokens) = redeem(&server, &client, &secret, &code).await;
    let at = tokens["access_token"].as_str().unwrap();
    let parts: Vec<&str> = at.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = Value::String("someone-else".into());
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#);
    let unsigned = format!("{none_header}.{}.", parts[1]);
    let id_token = tokens["id_token"].as_str().unwrap();
    for (name, token) in [
        ("tampered", tampered.as_str()),
        ("alg none", &unsigned),
        ("an ID token", id_token),
        ("garbage", "abc"),
        ("empty parts", ".."),
    ] {
        let r = userinfo(&server, token).await;
        assert_eq!(r.status(), 401, "{name}");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("error=\"invalid_token\""),
            "{name}"
        );
    }
    // no token: a bare challenge
    let r = reqwest::Client::new()
        .get(server.url("/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"konto\"");
    // a token in the query is not read (RFC 6750 §2.3 is not supported)
    let r = reqwest::Client::new()
        .get(format!("{}?access_token={at}", server.url("/userinfo")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // POST with the token in the body works (§2.2)
    let r = reqwest::Client::new()
        .post(server.url("/userinfo"))
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop().await;
}

/// RP-Initiated Logout 1.0 §3: only registered post-logout URIs of the hinted client.
async fn logout_is_no_open_redirector(backend: Backend) {
    let Some((server, client, secret, browser)) = setup(backend).await else {
        return;
    };
    let code = new_code(&server, &browser, &client, &[]).await;
    let (_, tokens) = redeem(&server, &client, &secret, &code).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let logout = |params: &[(&str, &str)]| {
        let mut url = url::Url::parse(&server.url("/logout")).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        url.to_string()
    };
    let page = browser
        .get(&logout(&[(
            "post_logout_redirect_uri",
            "https://evil.example/",
        )]))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location().is_none());
    let page = browser
        .get(&logout(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ]))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location().is_none());
    let page = browser
        .get(&logout(&[
            ("client_id", "rp"),
            ("post_logout_redirect_uri", "https://rp.example/bye/"),
        ]))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "exact match only");
    // a forged hint
    let page = browser
        .get(&logout(&[
            ("id_token_hint", "a.b.c"),
            ("post_logout_redirect_uri", "https://rp.example/bye"),
        ]))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    // the real thing: the hinted session ends at once and the browser goes to the registered URI
    let page = browser
        .get(&logout(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", "https://rp.example/bye"),
            ("state", "s1"),
        ]))
        .await;
    assert_eq!(
        page.location().as_deref(),
        Some("https://rp.example/bye?state=s1")
    );
    let out = browser
        .visit(&authorize_url(&server, &client, &[("prompt", "none")]))
        .await;
    assert_eq!(
        out.param("error").as_deref(),
        Some("login_required"),
        "the session is gone"
    );
    server.stop().await;
}

/// CSRF tokens on every form; flows only continue in the browser that started them.
async fn forms_need_csrf_and_the_same_browser(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let client = server.client("rp");
    server.add_client(client.clone()).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let browser = server.browser();
    let page = browser
        .visit(&authorize_url(&server, &client, &[]))
        .await
        .page();
    let flow = page.hidden("flow").unwrap();
    for csrf in ["", "forged"] {
        let r = browser
            .post(
                "/login/password",
                &[
                    ("flow", &flow),
                    ("csrf", csrf),
                    ("username", "erika"),
                    ("password", PW),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "csrf {csrf:?}");
    }
    // another browser with the flow id: nothing to continue
    let other = server.browser();
    let r = other.get(&format!("/login?flow={flow}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let csrf = page.hidden("csrf").unwrap();
    let r = other
        .post(
            "/login/password",
            &[
                ("flow", &flow),
                ("csrf", &csrf),
                ("username", "erika"),
                ("password", PW),
            ],
        )
        .await;
    assert!(r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::FORBIDDEN);
    // a cross-site Origin is refused even with the right token
    let r = browser
        .http
        .post(server.url("/login/password"))
        .header("origin", "https://evil.example")
        .form(&[
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "erika"),
            ("password", PW),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

/// Clear protocol errors, never a panic or internal detail.
async fn oversized_and_malformed_requests(backend: Backend) {
    let Some((server, client, secret, browser)) = setup(backend).await else {
        return;
    };
    let http = reqwest::Client::new();
    // a huge state: refused, and not echoed
    let big = "s".repeat(3000);
    let out = browser
        .visit(&authorize_url(&server, &client, &[("state", &big)]))
        .await;
    assert_eq!(out.param("error").as_deref(), Some("invalid_request"));
    // a huge request target
    let r = http
        .get(format!(
            "{}?x={}",
            server.url("/authorize"),
            "a".repeat(20_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::URI_TOO_LONG);
    // a huge body
    let r = http
        .post(server.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&x={}",
            "a".repeat(200_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // repeated parameters (RFC 6749 §3.1)
    let r = http
        .post(server.url("/token"))
        .basic_auth("rp", Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&code=a&code=b")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("invalid_request"), "{body}");
    // wrong content type, invalid UTF-8, garbage
    for (ct, bytes) in [
        (
            "application/json",
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            vec![0xff, 0xfe, 0x00, 0x80],
        ),
        ("application/x-www-form-urlencoded", b"%%%&&&===".to_vec()),
        ("text/plain", b"\x00\x01\x02".to_vec()),
    ] {
        let r = http
            .post(server.url("/token"))
            .header("content-type", ct)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert!(
            r.status() == 400 || r.status() == 401,
            "{ct}: {}",
            r.status()
        );
        let body = r.text().await.unwrap();
        assert!(body.contains("\"error\""), "{body}");
        assert_no_internals(&body);
    }
    // malformed authorization requests go back to the client with a clear code
    for (extra, code) in [
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (vec![("prompt", "none login")], "invalid_request"),
        (vec![("max_age", "-1")], "invalid_request"),
        (vec![("request", "eyJ")], "request_not_supported"),
        (vec![("acr_values", "gold")], "invalid_request"),
        (vec![("claims", "{not json")], "invalid_request"),
    ] {
        let mut url = url::Url::parse(&authorize_url(&server, &client, &[])).unwrap();
        let mut pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        pairs.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        url.query_pairs_mut().clear().extend_pairs(&pairs);
        let out = browser.visit(url.as_str()).await;
        assert_eq!(out.param("error").as_deref(), Some(code), "{extra:?}");
    }
    // junk everywhere else
    for path in [
        "/login?flow=%00%01",
        "/login/eid/tctoken?flow=x",
        "/register/confirm?token=zzz",
        "/nope",
    ] {
        let r = http.get(server.url(path)).send().await.unwrap();
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
        assert_no_internals(&r.text().await.unwrap());
    }
    let r = http
        .post(server.url("/login/passkey/start"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    server.stop().await;
}

/// OWASP secure headers on pages and API answers; cookie attributes.
async fn pages_carry_security_headers(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let client = server.client("rp");
    server.add_client(client.clone()).await;
    let browser = server.browser();
    let first = browser.get(&authorize_url(&server, &client, &[])).await;
    let cookie = first.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let page = browser.follow(first).await.page();
    for p in [
        &page,
        &browser.get("/.well-known/openid-configuration").await,
    ] {
        let csp = p.header("content-security-policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(
            p.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        // URLs with flow ids and codes never go to another site in a Referer, and konto's own
        // form posts keep their Origin (Fetch §3.2.5; `no-referrer` made browsers send null)
        assert_eq!(p.header("referrer-policy").as_deref(), Some("same-origin"));
    }
    assert!(!page.has("<script>"), "no inline script");
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    assert!(page.has("lang=\"de\""), "German by default");
    let en = server.browser();
    let page = en
        .visit(&authorize_url(&server, &client, &[("ui_locales", "en")]))
        .await
        .page();
    assert!(page.has("lang=\"en\"") && page.has("Sign in"));
    server.stop().await;
}

/// Over HTTPS: `__Host-` cookies with `Secure`, and HSTS (RFC 6797).
async fn over_https_cookies_are_host_prefixed_and_hsts_is_sent(backend: Backend) {
    let mut o = Options::new(backend);
    o.https = true;
    let Some(server) = TestServer::start(o).await else {
        return;
    };
    let client = server.client("rp");
    server.add_client(client.clone()).await;
    let browser = elster_browser(&server.base, None);
    let first = browser.get(&authorize_url(&server, &client, &[])).await;
    let cookie = first.header("set-cookie").unwrap();
    assert!(cookie.starts_with("__Host-konto-browser="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("Path=/") && !cookie.contains("Domain="),
        "{cookie}"
    );
    assert!(
        first
            .header("strict-transport-security")
            .unwrap()
            .contains("max-age=")
    );
    let page = browser.follow(first).await.page();
    assert_eq!(
        page.status, 200,
        "the flow works with host-prefixed cookies"
    );
    server.stop().await;
}
