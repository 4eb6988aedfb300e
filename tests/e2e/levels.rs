//! Trust levels: step-up from a password session to the ELSTER certificate (substantial) and the
//! eID card (high), `acr`/`amr` in the ID token, session limits per level with a moved clock, and
//! what happens when no authenticator reaches a level.

use konto_core::Level;
use konto_core::level::AcrVocabulary;
use konto_tests::rp::Rp;
use konto_tests::*;
use openidconnect::core::{CoreJwsSigningAlgorithm, CoreUserInfoClaims};
use openidconnect::{OAuth2TokenResponse, TokenIntrospectionResponse};
use serde_json::Value;

/// The claims of the ID token a code redeems to.
async fn id_token_claims(
    server: &TestServer,
    client: &str,
    secret: &str,
    redirect: &str,
    code: &str,
) -> Value {
    let tokens = redeem_code(server, client, secret, redirect, code).await;
    jwt_claims(
        tokens["id_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no ID token: {tokens}")),
    )
}

on_both_backends!(
    step_up_to_substantial_and_high,
    session_limits_per_level,
    unmet_requirements_and_passive_requests,
    client_minimum_and_stork_vocabulary,
    refreshed_tokens_follow_the_level_limits,
);

const PW: &str = "Fahrradklingel-Nordsee-42";
const SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
const HIGH: &str = "http://eidas.europa.eu/LoA/high";

fn options(backend: Backend) -> Options {
    let mut o = Options::new(backend);
    o.elster = true;
    o.eid = true;
    o
}

/// A basic session steps up with the ELSTER certificate to substantial and with the eID card to
/// high; each time the ID token's acr and amr say so (verified with the openidconnect crate).
async fn step_up_to_substantial_and_high(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let client = server.client("rp");
    let secret = server.add_client(client.clone()).await.unwrap();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let redirect = client.redirect_uris[0].clone();
    let browser = elster_browser(&server.base, Some("erika"));
    let rp = Rp::new(&server.issuer, "rp", Some(&secret), &redirect, None).await;

    // basic
    let pending = rp.authorize(&["openid", "profile"], &[]);
    let out = browser.login_and_consent(&pending.url, "erika", PW).await;
    let (_, claims) = rp
        .exchange(
            pending,
            &out.param("code").unwrap(),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        )
        .await;
    assert_eq!(
        claims.auth_context_ref().unwrap().as_str(),
        format!("{}/loa/basic", server.issuer)
    );

    // substantial: konto asks for a stronger authenticator instead of failing
    let pending = rp.authorize(&["openid", "profile"], &[("acr_values", SUBSTANTIAL)]);
    let page = browser.visit(&pending.url).await.page();
    assert!(
        page.has("/cert/login?flow="),
        "ELSTER offered:\n{}",
        page.body
    );
    assert!(
        page.has("action=\"/login/eid\""),
        "the eID card reaches substantial too"
    );
    assert!(
        !page.has("name=\"password\""),
        "a password cannot reach substantial"
    );
    let out = browser.elster(&page).await;
    let out = match out {
        Outcome::Page(p) if p.has("action=\"/login/consent\"") => browser.consent(&p, true).await,
        other => other,
    };
    let (_, claims) = rp
        .exchange(
            pending,
            &out.param("code").unwrap(),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        )
        .await;
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), SUBSTANTIAL);
    let methods: Vec<&str> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(methods, vec!["mfa", "pwd", "swk"]);

    // high, asked as an essential acr claim (OIDC Core §5.5.1.1)
    let claims_param =
        format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":["{HIGH}"]}}}}}}"#);
    let pending = rp.authorize(&["openid", "profile"], &[("claims", &claims_param)]);
    let page = browser.visit(&pending.url).await.page();
    assert!(page.has("action=\"/login/eid\""));
    assert!(!page.has("/cert/login?flow="), "ELSTER cannot reach high");
    let out = browser.eid(&page, "erika").await;
    let out = match out {
        Outcome::Page(p) if p.has("action=\"/login/consent\"") => browser.consent(&p, true).await,
        other => other,
    };
    let (tokens, claims) = rp
        .exchange(
            pending,
            &out.param("code").unwrap(),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        )
        .await;
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), HIGH);
    let methods: Vec<&str> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert!(
        methods.contains(&"sc") && methods.contains(&"pin") && methods.contains(&"mfa"),
        "{methods:?}"
    );

    // userinfo and introspection report the level; linked data is now verified
    let info: CoreUserInfoClaims = rp
        .client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&rp.http)
        .await
        .unwrap();
    assert_eq!(
        info.birthdate().map(|b| b.as_str()),
        Some("1964-08-12"),
        "the card's date of birth joined the account"
    );
    let raw: Value = userinfo_claims(&server, tokens.access_token().secret()).await;
    assert_eq!(raw["acr"], HIGH);
    assert_eq!(raw["attribute_levels"]["given_name"], "high");
    let intro = rp
        .client
        .introspect(tokens.access_token())
        .request_async(&rp.http)
        .await
        .unwrap();
    assert!(intro.active());
    let intro_raw: Value = reqwest::Client::new()
        .post(server.url("/introspect"))
        .basic_auth("rp", Some(&secret))
        .form(&[("token", tokens.access_token().secret().as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intro_raw["acr"], HIGH);
    server.stop().await;
}

/// TR-03160-1 limits with a moved clock: high lasts 5 idle minutes, substantial 30, basic 60;
/// SSO reuses a session only within the limits of the level the client asks for.
async fn session_limits_per_level(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let mut client = server.client("rp");
    client.party.first_party = true;
    let secret = server.add_client(client.clone()).await.unwrap();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let redirect = client.redirect_uris[0].clone();
    let browser = server.browser();
    let page = server
        .authorize(&browser, "rp", &redirect, &[])
        .await
        .page();
    assert!(
        browser
            .password(&page, "erika", PW)
            .await
            .param("code")
            .is_some()
    );
    let page = server
        .authorize(&browser, "rp", &redirect, &[("acr_values", HIGH)])
        .await
        .page();
    let out = browser.eid(&page, "erika").await;
    let code = out.param("code").expect("stepped up to high");
    assert_eq!(
        id_token_claims(&server, "rp", &secret, &redirect, &code).await["acr"],
        HIGH
    );

    // four idle minutes: still high, without a page
    server.clock.advance(time::Duration::minutes(4));
    let out = server
        .authorize(&browser, "rp", &redirect, &[("acr_values", HIGH)])
        .await;
    assert!(
        out.param("code").is_some(),
        "SSO at high within 5 idle minutes"
    );
    // six idle minutes: no longer high, still substantial
    server.clock.advance(time::Duration::minutes(6));
    let page = server
        .authorize(&browser, "rp", &redirect, &[("acr_values", HIGH)])
        .await
        .page();
    assert!(
        page.has("action=\"/login/eid\""),
        "asked to authenticate again for high"
    );
    let out = server
        .authorize(&browser, "rp", &redirect, &[("acr_values", SUBSTANTIAL)])
        .await;
    let claims = id_token_claims(
        &server,
        "rp",
        &secret,
        &redirect,
        &out.param("code").unwrap(),
    )
    .await;
    assert_eq!(
        claims["acr"], SUBSTANTIAL,
        "the session decayed to substantial"
    );
    // 61 idle minutes: the session is over
    server.clock.advance(time::Duration::minutes(61));
    let out = server
        .authorize(&browser, "rp", &redirect, &[("prompt", "none")])
        .await;
    assert_eq!(out.param("error").as_deref(), Some("login_required"));

    // max_age forces a fresh authentication (OIDC Core §3.1.2.1)
    let page = server
        .authorize(&browser, "rp", &redirect, &[])
        .await
        .page();
    let out = browser.password(&page, "erika", PW).await;
    assert!(out.param("code").is_some());
    server.clock.advance(time::Duration::minutes(2));
    let page = server
        .authorize(&browser, "rp", &redirect, &[("max_age", "60")])
        .await
        .page();
    assert!(
        page.has("name=\"password\""),
        "max_age=60 after two minutes asks again"
    );
    let out = browser.password(&page, "erika", PW).await;
    assert!(out.param("code").is_some());
    let page = server
        .authorize(&browser, "rp", &redirect, &[("prompt", "login")])
        .await
        .page();
    assert!(page.has("name=\"password\""), "prompt=login asks again");
    server.stop().await;
}

/// No authenticator here reaches high: the client gets unmet_authentication_requirements; with
/// prompt=none a session below the level gets login_required.
async fn unmet_requirements_and_passive_requests(backend: Backend) {
    let mut o = Options::new(backend);
    o.elster = true;
    let Some(server) = TestServer::start(o).await else {
        return;
    };
    let client = server.client("rp");
    server.add_client(client.clone()).await;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let redirect = client.redirect_uris[0].clone();
    let browser = server.browser();
    let out = server
        .authorize(&browser, "rp", &redirect, &[("acr_values", HIGH)])
        .await;
    assert_eq!(
        out.param("error").as_deref(),
        Some("unmet_authentication_requirements")
    );
    let out = browser
        .login_and_consent(&authorize_url(&server, "rp", &redirect, &[]), "erika", PW)
        .await;
    assert!(out.param("code").is_some());
    let out = server
        .authorize(
            &browser,
            "rp",
            &redirect,
            &[("acr_values", SUBSTANTIAL), ("prompt", "none")],
        )
        .await;
    assert_eq!(out.param("error").as_deref(), Some("login_required"));
    // acr_values lists acceptable values: the lowest is the minimum
    let out = server
        .authorize(
            &browser,
            "rp",
            &redirect,
            &[
                ("acr_values", &format!("{HIGH} {}/loa/basic", server.issuer)),
                ("prompt", "none"),
            ],
        )
        .await;
    assert!(
        out.param("code").is_some(),
        "basic is acceptable to this request"
    );
    server.stop().await;
}

/// A client's own minimum level applies to every request; a client may want STORK names.
async fn client_minimum_and_stork_vocabulary(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let mut client = server.client("tax");
    client.party.min_level = Level::Substantial;
    client.acr_vocabulary = AcrVocabulary::Stork;
    client.party.first_party = true;
    let secret = server.add_client(client.clone()).await.unwrap();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let redirect = client.redirect_uris[0].clone();
    let browser = elster_browser(&server.base, Some("erika"));
    let page = server
        .authorize(&browser, "tax", &redirect, &[])
        .await
        .page();
    assert!(
        !page.has("name=\"password\""),
        "no password login for a substantial client"
    );
    let out = browser.elster(&page).await;
    // no account holds the certificate yet: create one from it
    let page = out.page();
    let out = browser.unlinked(&page, "create").await;
    let claims = id_token_claims(
        &server,
        "tax",
        &secret,
        &redirect,
        &out.param("code").unwrap(),
    )
    .await;
    assert_eq!(claims["acr"], "STORK-QAA-Level-3");
    assert_eq!(amr(&claims), vec!["swk"]);
    // STORK names are accepted in requests
    let out = server
        .authorize(
            &browser,
            "tax",
            &redirect,
            &[("acr_values", "STORK-QAA-Level-3")],
        )
        .await;
    assert!(out.param("code").is_some());
    server.stop().await;
}

/// A refresh (with the grant's `acr`) in JSON: the status and the answer.
async fn refresh(
    server: &TestServer,
    client: &str,
    secret: &str,
    token: &str,
) -> (reqwest::StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(client, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap())
}

/// Issue 6 hole 5: a grant does not outlive its level. The limits of TR-03160-1 (README "Levels
/// of assurance") apply to what a refresh vouches for as if the user had been idle since the
/// code was issued (a refresh is not the user's presence): an eID login is `high` for 5 minutes,
/// `substantial` until 30, `low` until 60, then `basic` for as long as the refresh token lives;
/// `auth_time` and `amr` stay those of the login. A client whose own minimum (or an essential
/// `acr` request, OIDC Core §5.5.1.1) is no longer met loses the grant: `invalid_grant`.
async fn refreshed_tokens_follow_the_level_limits(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let mut client = server.client("rp");
    client.party.first_party = true;
    let secret = server.add_client(client.clone()).await.unwrap();
    let mut strict = server.client("strict");
    strict.party.first_party = true;
    strict.party.min_level = Level::High;
    let strict_secret = server.add_client(strict.clone()).await.unwrap();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let redirect = client.redirect_uris[0].clone();
    let browser = server.browser();
    let page = server
        .authorize(&browser, "rp", &redirect, &[])
        .await
        .page();
    assert!(
        browser
            .password(&page, "erika", PW)
            .await
            .param("code")
            .is_some()
    );
    let page = server
        .authorize(&browser, "rp", &redirect, &[("acr_values", HIGH)])
        .await
        .page();
    let code = browser
        .eid(&page, "erika")
        .await
        .param("code")
        .expect("high");
    let tokens = redeem_code(&server, "rp", &secret, &redirect, &code).await;
    let first = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(first["acr"], HIGH);
    let mut rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    // the same session at once for the strict client, and for rp with an essential acr claim
    let code = server
        .authorize(&browser, "strict", &strict.redirect_uris[0], &[])
        .await
        .param("code")
        .expect("SSO at high");
    let strict_tokens = redeem_code(
        &server,
        "strict",
        &strict_secret,
        &strict.redirect_uris[0],
        &code,
    )
    .await;
    let essential = format!(r#"{{"id_token":{{"acr":{{"essential":true,"value":"{HIGH}"}}}}}}"#);
    let code = server
        .authorize(&browser, "rp", &redirect, &[("claims", &essential)])
        .await
        .param("code")
        .expect("SSO at high");
    let essential_tokens = redeem_code(&server, "rp", &secret, &redirect, &code).await;

    let mut step = async |minutes: i64, expected: &str| {
        server.clock.advance(time::Duration::minutes(minutes));
        let (status, answer) = refresh(&server, "rp", &secret, &rt).await;
        assert_eq!(status, 200, "{answer}");
        rt = answer["refresh_token"].as_str().unwrap().to_owned();
        let id = jwt_claims(answer["id_token"].as_str().unwrap());
        let access = jwt_claims(answer["access_token"].as_str().unwrap());
        assert_eq!(id["acr"], expected, "ID token after {minutes} more minutes");
        assert_eq!(access["acr"], expected, "access token");
        assert_eq!(
            id["auth_time"], first["auth_time"],
            "the login's time stays"
        );
        assert_eq!(amr(&id), amr(&first), "the login's methods stay");
        let info: Value = userinfo_claims(&server, answer["access_token"].as_str().unwrap()).await;
        assert_eq!(info["acr"], expected, "userinfo");
    };
    step(4, HIGH).await;
    step(2, SUBSTANTIAL).await;
    // six minutes after the login, high no longer holds: grants that need it end
    for (client, secret, tokens) in [
        ("strict", &strict_secret, &strict_tokens),
        ("rp", &secret, &essential_tokens),
    ] {
        let token = tokens["refresh_token"].as_str().unwrap();
        let (status, answer) = refresh(&server, client, secret, token).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (reqwest::StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{client}: {answer}"
        );
        let intro: Value = reqwest::Client::new()
            .post(server.url("/introspect"))
            .basic_auth(client, Some(secret.as_str()))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(intro["active"], false, "{client}: the grant is over");
    }
    step(25, "http://eidas.europa.eu/LoA/low").await;
    step(30, &format!("{}/loa/basic", server.issuer)).await;
    step(600, &format!("{}/loa/basic", server.issuer)).await;

    server.stop().await;
}
