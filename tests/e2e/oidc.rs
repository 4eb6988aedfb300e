//! The OpenID Provider with the `openidconnect` crate as relying party (OIDC Core 1.0 §3.1:
//! code flow; Discovery 1.0; RFC 7636 PKCE; RFC 7009; RFC 7662; RP-Initiated Logout 1.0).

use konto_core::client::{SigningAlg, TokenEndpointAuthMethod};
use konto_tests::rp::Rp;
use konto_tests::*;
use openidconnect::core::{CoreJwsSigningAlgorithm, CoreUserInfoClaims};
use openidconnect::{OAuth2TokenResponse, TokenIntrospectionResponse, TokenResponse};

on_both_backends!(
    discovery_is_truthful,
    confidential_client_code_flow,
    public_client_code_flow,
    single_sign_on_across_clients,
    consent_is_remembered_and_can_be_forced,
    prompt_none_never_shows_a_page,
    form_post_response_mode,
    client_credentials_grant,
    claims_parameter_stays_within_the_registration,
);

const PW: &str = "Fahrradklingel-Nordsee-42";

/// OpenID Connect Discovery 1.0 §3/§4: the issuer matches byte for byte, the JWKS serves keys.
async fn discovery_is_truthful(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let http = rp::http();
    let meta = rp::discover(&server.issuer, &http).await;
    assert_eq!(meta.issuer().as_str(), server.issuer);
    let raw: serde_json::Value = reqwest::get(server.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        raw["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(raw["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(raw["authorization_response_iss_parameter_supported"], true);
    assert!(
        raw["acr_values_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "http://eidas.europa.eu/LoA/high")
    );
    assert!(
        raw["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "RS256")
    );
    let jwks: serde_json::Value = reqwest::get(server.url("/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(
        keys.len(),
        6,
        "current and next key of RS256, ES256 and EdDSA"
    );
    assert!(
        keys.iter()
            .all(|k| k.get("d").is_none() && k.get("p").is_none()),
        "no private parts"
    );
    server.stop().await;
}

/// OIDC Core §3.1: code flow with PKCE for a confidential client; ID token, userinfo, refresh,
/// introspection, revocation.
async fn confidential_client_code_flow(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let mut c = server.client("shop");
    c.id_token_alg = SigningAlg::ES256;
    let secret = server.add_client(c.clone()).await.unwrap();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let rp = Rp::new(
        &server.issuer,
        "shop",
        Some(&secret),
        &c.redirect_uris[0],
        None,
    )
    .await;
    let pending = rp.authorize(&["openid", "profile", "email"], &[]);
    let browser = server.browser();
    let out = browser.login_and_consent(&pending.url, "erika", PW).await;
    // RFC 9207: the response names its issuer; state comes back unchanged
    assert_eq!(out.param("iss").as_deref(), Some(server.issuer.as_str()));
    assert_eq!(
        out.param("state").as_deref(),
        Some(pending.state.secret().as_str())
    );
    let code = out.param("code").expect("a code");
    let (tokens, claims) = rp
        .exchange(pending, &code, CoreJwsSigningAlgorithm::EcdsaP256Sha256)
        .await;
    assert_eq!(claims.issuer().as_str(), server.issuer);
    assert!(claims.auth_time().is_some());
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some(format!("{}/loa/basic", server.issuer).as_str())
    );
    assert_eq!(
        claims
            .auth_method_refs()
            .unwrap()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        vec!["pwd"]
    );
    assert_eq!(claims.authorized_party().map(|a| a.as_str()), Some("shop"));
    assert_eq!(
        claims.subject().as_str().len(),
        43,
        "pairwise subject (OIDC Core §8.1)"
    );

    let info: CoreUserInfoClaims = rp
        .client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&rp.http)
        .await
        .expect("userinfo");
    assert_eq!(
        info.subject(),
        claims.subject(),
        "OIDC Core §5.3.2: same sub"
    );
    assert_eq!(
        info.given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Erika")
    );
    assert_eq!(info.email().map(|e| e.as_str()), Some("erika@example.org"));

    // RFC 7662
    let intro = rp
        .client
        .introspect(tokens.access_token())
        .request_async(&rp.http)
        .await
        .unwrap();
    assert!(intro.active());
    assert_eq!(intro.client_id().map(|c| c.as_str()), Some("shop"));

    // OIDC Core §12: refresh gives new tokens and a rotated refresh token
    let rt = tokens.refresh_token().expect("a refresh token").clone();
    let refreshed = rp
        .client
        .exchange_refresh_token(&rt)
        .unwrap()
        .request_async(&rp.http)
        .await
        .expect("refresh");
    let rt2 = refreshed.refresh_token().expect("rotated").clone();
    assert_ne!(rt.secret(), rt2.secret());
    assert!(refreshed.id_token().is_some());

    // RFC 7009: revoking the refresh token ends the grant, and its access tokens with it
    // (over plain http the oauth2 crate refuses to revoke, so this request is made by hand)
    let r = reqwest::Client::new()
        .post(server.url("/revoke"))
        .basic_auth("shop", Some(&secret))
        .form(&[
            ("token", rt2.secret().as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        rp.client
            .exchange_refresh_token(&rt2)
            .unwrap()
            .request_async(&rp.http)
            .await
            .is_err()
    );
    let after: Result<CoreUserInfoClaims, _> = rp
        .client
        .user_info(refreshed.access_token().clone(), None)
        .unwrap()
        .request_async(&rp.http)
        .await;
    assert!(
        after.is_err(),
        "access tokens of a revoked grant are refused"
    );
    server.stop().await;
}

/// RFC 7636 + OAuth 2.0 for Native Apps: a public client with PKCE and no secret.
async fn public_client_code_flow(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let mut c = server.client("app");
    c.auth_method = TokenEndpointAuthMethod::None;
    c.redirect_uris = vec!["http://127.0.0.1:9999/callback".into()];
    server.add_client(c.clone()).await;
    server.add_user("max", PW, "Max", "Mustermann").await;
    let rp = Rp::new(&server.issuer, "app", None, &c.redirect_uris[0], None).await;
    let pending = rp.authorize(&["openid", "offline_access"], &[("prompt", "consent")]);
    let out = server
        .browser()
        .login_and_consent(&pending.url, "max", PW)
        .await;
    let code = out.param("code").unwrap();
    let (tokens, claims) = rp
        .exchange(
            pending,
            &code,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        )
        .await;
    assert_eq!(claims.audiences()[0].as_str(), "app");
    let rt = tokens.refresh_token().unwrap().clone();
    assert!(
        rp.client
            .exchange_refresh_token(&rt)
            .unwrap()
            .request_async(&rp.http)
            .await
            .is_ok()
    );
    server.stop().await;
}

/// Single sign-on: a second client in the same browser gets a code without a password.
async fn single_sign_on_across_clients(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let a = server.client("a");
    let mut b = server.client("b");
    b.id_token_alg = SigningAlg::EdDSA;
    let sa = server.add_client(a.clone()).await.unwrap();
    let sb = server.add_client(b.clone()).await.unwrap();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let browser = server.browser();
    let rp_a = Rp::new(&server.issuer, "a", Some(&sa), &a.redirect_uris[0], None).await;
    let pa = rp_a.authorize(&["openid"], &[]);
    let out = browser.login_and_consent(&pa.url, "erika", PW).await;
    let (_, claims_a) = rp_a
        .exchange(
            pa,
            &out.param("code").unwrap(),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        )
        .await;

    let rp_b = Rp::new(&server.issuer, "b", Some(&sb), &b.redirect_uris[0], None).await;
    let pb = rp_b.authorize(&["openid"], &[]);
    let page = browser.visit(&pb.url).await.page();
    assert!(
        !page.has("name=\"password\""),
        "no password the second time"
    );
    let out = browser.consent(&page, true).await;
    let (_, claims_b) = rp_b
        .exchange(
            pb,
            &out.param("code").unwrap(),
            CoreJwsSigningAlgorithm::EdDsa,
        )
        .await;
    assert_eq!(
        claims_a.auth_time(),
        claims_b.auth_time(),
        "the same authentication"
    );
    assert_ne!(
        claims_a.subject(),
        claims_b.subject(),
        "pairwise: different sectors, different subjects"
    );
    server.stop().await;
}

/// Consent is asked once per client and scope set, again for more scopes or with prompt=consent;
/// first-party clients skip it.
async fn consent_is_remembered_and_can_be_forced(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let c = server.client("c");
    let secret = server.add_client(c.clone()).await.unwrap();
    let mut own = server.client("own");
    own.party.first_party = true;
    let own_secret = server.add_client(own.clone()).await.unwrap();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let browser = server.browser();
    let rp = Rp::new(
        &server.issuer,
        "c",
        Some(&secret),
        &c.redirect_uris[0],
        None,
    )
    .await;
    let out = browser
        .login_and_consent(&rp.authorize(&["openid", "email"], &[]).url, "erika", PW)
        .await;
    assert!(out.param("code").is_some());
    // remembered
    assert!(
        browser
            .visit(&rp.authorize(&["openid", "email"], &[]).url)
            .await
            .param("code")
            .is_some()
    );
    // more scopes: asked again
    let page = browser
        .visit(&rp.authorize(&["openid", "email", "address"], &[]).url)
        .await
        .page();
    assert!(page.has("action=\"/login/consent\""));
    // forced
    let page = browser
        .visit(&rp.authorize(&["openid"], &[("prompt", "consent")]).url)
        .await
        .page();
    assert!(page.has("action=\"/login/consent\""));
    // denied: access_denied to the client
    let denied = browser.consent(&page, false).await;
    assert_eq!(denied.param("error").as_deref(), Some("access_denied"));
    // first party: no consent page
    let rp_own = Rp::new(
        &server.issuer,
        "own",
        Some(&own_secret),
        &own.redirect_uris[0],
        None,
    )
    .await;
    assert!(
        browser
            .visit(&rp_own.authorize(&["openid", "profile"], &[]).url)
            .await
            .param("code")
            .is_some()
    );
    server.stop().await;
}

/// OIDC Core §3.1.2.1/§3.1.2.6: prompt=none answers login_required / consent_required.
async fn prompt_none_never_shows_a_page(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let c = server.client("c");
    let secret = server.add_client(c.clone()).await.unwrap();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let rp = Rp::new(
        &server.issuer,
        "c",
        Some(&secret),
        &c.redirect_uris[0],
        None,
    )
    .await;
    let browser = server.browser();
    let out = browser
        .visit(&rp.authorize(&["openid"], &[("prompt", "none")]).url)
        .await;
    assert_eq!(out.param("error").as_deref(), Some("login_required"));
    assert_eq!(out.param("iss").as_deref(), Some(server.issuer.as_str()));
    // signed in, not consented
    let page = browser
        .visit(&rp.authorize(&["openid"], &[]).url)
        .await
        .page();
    let _ = browser.password(&page, "erika", PW).await;
    let out = browser
        .visit(&rp.authorize(&["openid"], &[("prompt", "none")]).url)
        .await;
    assert_eq!(out.param("error").as_deref(), Some("consent_required"));
    server.stop().await;
}

/// OAuth 2.0 Form Post Response Mode: an auto-submitting form whose CSP allows only the client.
async fn form_post_response_mode(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let c = server.client("c");
    let secret = server.add_client(c.clone()).await.unwrap();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let rp = Rp::new(
        &server.issuer,
        "c",
        Some(&secret),
        &c.redirect_uris[0],
        None,
    )
    .await;
    let pending = rp.authorize(&["openid"], &[("response_mode", "form_post")]);
    let out = server
        .browser()
        .login_and_consent(&pending.url, "erika", PW)
        .await;
    let (url, params) = out.clone().callback();
    assert_eq!(url, c.redirect_uris[0]);
    assert!(params.iter().any(|(k, _)| k == "code"));
    assert!(
        params
            .iter()
            .any(|(k, v)| k == "iss" && *v == server.issuer)
    );
    let code = out.param("code").unwrap();
    rp.exchange(
        pending,
        &code,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    )
    .await;
    server.stop().await;
}

/// RFC 6749 §4.4 with an RFC 9068 access token, introspected and revoked.
async fn client_credentials_grant(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let mut c = server.client("batch");
    c.grant_types = vec![konto_core::client::GrantType::ClientCredentials];
    c.redirect_uris = Vec::new();
    c.party.scopes = vec!["postbox".into()];
    let secret = server.add_client(c).await.unwrap();
    let http = reqwest::Client::new();
    let resp = http
        .post(server.url("/token"))
        .basic_auth("batch", Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "postbox")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: serde_json::Value = resp.json().await.unwrap();
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("refresh_token").is_none());
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            at.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "at+jwt", "RFC 9068 §2.1");
    assert_eq!(header["alg"], "ES256");
    let introspect = |token: String| {
        let http = http.clone();
        let url = server.url("/introspect");
        let secret = secret.clone();
        async move {
            http.post(url)
                .basic_auth("batch", Some(&secret))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let i = introspect(at.to_owned()).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["scope"], "postbox");
    assert_eq!(i["sub"], "batch");
    let r = http
        .post(server.url("/revoke"))
        .basic_auth("batch", Some(&secret))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(introspect(at.to_owned()).await["active"], false);
    server.stop().await;
}

/// Issue 6 hole 4: the `claims` parameter (OIDC Core §5.5) asks, it does not entitle. A client
/// registered for `openid` only asks for e-mail and names in the ID token and at userinfo: the
/// consent page does not offer them and neither the ID token, userinfo nor introspection carries
/// them (requests for claims beyond the registration are ignored, as §5.5 allows). A client
/// registered for `email` gets the address it asks for.
async fn claims_parameter_stays_within_the_registration(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let mut narrow = server.client("narrow");
    narrow.party.scopes = vec!["openid".into()];
    let secret = server.add_client(narrow.clone()).await.unwrap();
    let mut mail = server.client("mail");
    mail.party.scopes = vec!["openid".into(), "email".into()];
    let mail_secret = server.add_client(mail.clone()).await.unwrap();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let claims = r#"{"userinfo":{"email":null,"given_name":null,"family_name":null},"id_token":{"email":null}}"#;
    let browser = server.browser();
    let redirect = narrow.redirect_uris[0].clone();
    let page = server
        .authorize(
            &browser,
            "narrow",
            &redirect,
            &[("scope", "openid"), ("claims", claims)],
        )
        .await
        .page();
    let consent = browser.password(&page, "erika", PW).await.page();
    assert!(consent.has("action=\"/login/consent\""), "{}", consent.body);
    for claim in ["email", "given_name", "family_name"] {
        assert!(
            !consent.has(&format!("<li>{claim}</li>")),
            "the consent page offers {claim}:\n{}",
            consent.body
        );
    }
    let code = browser.consent(&consent, true).await.param("code").unwrap();
    let tokens = redeem_code(&server, "narrow", &secret, &redirect, &code).await;
    let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert!(id_token.get("email").is_none(), "ID token: {id_token}");
    let at = tokens["access_token"].as_str().unwrap();
    let info: serde_json::Value = userinfo_claims(&server, at).await;
    for claim in ["email", "given_name", "family_name", "attribute_levels"] {
        assert!(
            info.get(claim).is_none(),
            "userinfo releases {claim}: {info}"
        );
    }
    let intro: serde_json::Value = reqwest::Client::new()
        .post(server.url("/introspect"))
        .basic_auth("narrow", Some(&secret))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intro["active"], true);
    for claim in ["email", "given_name", "family_name"] {
        assert!(
            intro.get(claim).is_none(),
            "introspection releases {claim}: {intro}"
        );
    }

    // within the registration the parameter works: `email` without the email scope
    let page = server
        .authorize(
            &browser,
            "mail",
            &mail.redirect_uris[0],
            &[("scope", "openid"), ("claims", claims)],
        )
        .await
        .page();
    assert!(page.has("<li>email</li>"), "{}", page.body);
    assert!(!page.has("<li>given_name</li>"), "{}", page.body);
    let code = browser.consent(&page, true).await.param("code").unwrap();
    let tokens = redeem_code(&server, "mail", &mail_secret, &mail.redirect_uris[0], &code).await;
    let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["email"], "erika@example.org");
    let info: serde_json::Value =
        userinfo_claims(&server, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email"], "erika@example.org");
    assert!(info.get("given_name").is_none(), "userinfo: {info}");
    server.stop().await;
}
