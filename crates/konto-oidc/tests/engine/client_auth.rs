//! Client authentication at the token endpoint (RFC 6749 §2.3 and §5.2, OIDC Core 1.0 §9,
//! RFC 7521 §4.2, RFC 7523 §3).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::alg::ec::EcKeyPair;
use konto_core::client::{GrantType, TokenEndpointAuthMethod};
use serde_json::{Value, json};

use crate::support::*;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const SIGNED: &str = "signed";

fn client_credentials() -> Vec<(&'static str, &'static str)> {
    vec![("grant_type", "client_credentials")]
}

/// A client `signed` that authenticates with `private_key_jwt` (key id `k1`).
async fn signed_client(e: &Engine) -> EcKeyPair {
    let key = josekit::jws::ES256.generate_key_pair().unwrap();
    let mut public = key.to_jwk_public_key();
    public.set_key_id("k1");
    let mut c = client(SIGNED);
    c.auth_method = TokenEndpointAuthMethod::PrivateKeyJwt;
    c.grant_types = vec![GrantType::ClientCredentials];
    c.redirect_uris = Vec::new();
    c.jwks = Some(json!({ "keys": [Value::Object(public.as_ref().clone())] }).to_string());
    e.add_client(c, None).await;
    key
}

fn sign(key: &EcKeyPair, claims: &Value) -> String {
    let mut header = josekit::jws::JwsHeader::new();
    header.set_token_type("JWT");
    header.set_key_id("k1");
    let payload = josekit::jwt::JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
    let signer = josekit::jws::ES256
        .signer_from_jwk(&key.to_jwk_private_key())
        .unwrap();
    josekit::jwt::encode_with_signer(&payload, &header, &signer).unwrap()
}

/// Claims of a valid assertion by `signed` at `e.now`, living a minute.
fn claims(e: &Engine, jti: &str) -> Value {
    let now = e.now.unix_timestamp();
    json!({
        "iss": SIGNED, "sub": SIGNED, "aud": format!("{ISSUER}/token"),
        "jti": jti, "exp": now + 60, "iat": now,
    })
}

async fn with_assertion(
    e: &Engine,
    assertion: &str,
    extra: &[(&str, &str)],
) -> Result<konto_oidc::TokenResponse, konto_oidc::OAuthError> {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    e.token(None, &form).await
}

/// RFC 6749 §2.3.1 and §5.2: a wrong secret is invalid_client; by Basic, with a challenge.
#[tokio::test]
async fn a_wrong_secret_is_invalid_client() {
    let e = Engine::new().await;
    for secret in ["wrong", "", &RP_SECRET[..RP_SECRET.len() - 1], OTHER_SECRET] {
        let err = assert_code(
            e.token(Some(&basic(RP, secret)), &client_credentials())
                .await,
            "invalid_client",
        );
        assert!(
            err.basic_challenge,
            "RFC 6749 §5.2: 401 with WWW-Authenticate"
        );
    }
    let mut post = client("post");
    post.auth_method = TokenEndpointAuthMethod::ClientSecretPost;
    e.add_client(post, Some("post-secret")).await;
    let r = e
        .token(
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "post"),
                ("client_secret", "wrong"),
            ],
        )
        .await;
    assert!(!assert_code(r, "invalid_client").basic_challenge);
    let r = e
        .token(
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", "post-secret"),
            ],
        )
        .await;
    assert_code(r, "invalid_request");
}

/// OIDC Core §9: a client authenticates with the method it registered and no other.
#[tokio::test]
async fn only_the_registered_method_is_accepted() {
    let e = Engine::new().await;
    // registered for Basic, the right secret in the body
    let r = e
        .token(
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", RP),
                ("client_secret", RP_SECRET),
            ],
        )
        .await;
    assert_code(r, "invalid_client");
    // registered for the body, the right secret by Basic
    let mut post = client("post");
    post.auth_method = TokenEndpointAuthMethod::ClientSecretPost;
    e.add_client(post, Some("post-secret")).await;
    let r = e
        .token(Some(&basic("post", "post-secret")), &client_credentials())
        .await;
    assert_code(r, "invalid_client");
    // a confidential client naming itself without proof
    let r = e
        .token(
            None,
            &[("grant_type", "client_credentials"), ("client_id", RP)],
        )
        .await;
    assert_code(r, "invalid_client");
    // nobody at all, and an unknown client
    assert_code(e.token(None, &client_credentials()).await, "invalid_client");
    let r = e
        .token(Some(&basic("nobody", "x")), &client_credentials())
        .await;
    assert_code(r, "invalid_client");
}

/// OIDC Core §9 (`none`): a public client has no secret, so presenting one is invalid_client.
#[tokio::test]
async fn a_secret_for_a_public_client_is_invalid_client() {
    let e = Engine::new().await;
    let code = e.code_for(APP, &[]).await;
    let redirect = redirect_uri(APP);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", VERIFIER),
    ];
    for secret in ["", "anything"] {
        let r = e.token(Some(&basic(APP, secret)), &form).await;
        assert_code(r, "invalid_client");
    }
    let mut post = form.to_vec();
    post.extend([("client_id", APP), ("client_secret", "anything")]);
    assert_code(e.token(None, &post).await, "invalid_client");
    let mut plain = form.to_vec();
    plain.push(("client_id", APP));
    assert!(e.token(None, &plain).await.is_ok(), "the code survived");
}

/// RFC 6749 §2.3: a client must not use more than one authentication method in a request.
#[tokio::test]
async fn two_authentication_methods_at_once_are_invalid_request() {
    let e = Engine::new().await;
    let key = signed_client(&e).await;
    let assertion = sign(&key, &claims(&e, "j-two"));
    let basic_rp = basic(RP, RP_SECRET);
    for (authorization, form) in [
        (Some(basic_rp.as_str()), vec![("client_secret", RP_SECRET)]),
        (
            Some(basic_rp.as_str()),
            vec![
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion.as_str()),
            ],
        ),
        (
            None,
            vec![
                ("client_id", SIGNED),
                ("client_secret", "x"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion.as_str()),
            ],
        ),
    ] {
        let mut form = form;
        form.push(("grant_type", "client_credentials"));
        assert_code(e.token(authorization, &form).await, "invalid_request");
    }
    // none of it spent the assertion
    assert!(with_assertion(&e, &assertion, &[]).await.is_ok());
}

/// RFC 6749 §2.3.1: the Basic credentials and a body client_id must name the same client;
/// malformed Basic credentials are invalid_client.
#[tokio::test]
async fn basic_credentials_must_be_well_formed_and_agree_with_the_body() {
    let e = Engine::new().await;
    let mut form = client_credentials();
    form.push(("client_id", OTHER));
    assert_code(
        e.token(Some(&basic(RP, RP_SECRET)), &form).await,
        "invalid_request",
    );
    let no_colon = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(RP)
    );
    for header in ["Basic !!!", "Basic ", no_colon.as_str()] {
        let err = assert_code(
            e.token(Some(header), &client_credentials()).await,
            "invalid_client",
        );
        assert!(err.basic_challenge, "{header}");
    }
    let huge = format!("Basic {}", "A".repeat(5000));
    assert_code(
        e.token(Some(&huge), &client_credentials()).await,
        "invalid_client",
    );
}

/// RFC 7523 §3 item 7, RFC 7521 §4.2: an assertion is accepted once; its jti replayed is
/// invalid_client.
#[tokio::test]
async fn a_replayed_client_assertion_is_invalid_client() {
    let e = Engine::new().await;
    let key = signed_client(&e).await;
    let a = sign(&key, &claims(&e, "j1"));
    let t = with_assertion(&e, &a, &[]).await.unwrap();
    assert_eq!(jwt_claims(&t.access_token)["client_id"], SIGNED);
    let err = assert_code(with_assertion(&e, &a, &[]).await, "invalid_client");
    assert!(err.description.contains("jti"), "{err}");
    // another assertion with the same jti is a replay too
    let mut again = claims(&e, "j1");
    again["exp"] = json!(e.now.unix_timestamp() + 90);
    assert_code(
        with_assertion(&e, &sign(&key, &again), &[]).await,
        "invalid_client",
    );
}

/// RFC 7523 §3 item 3: the audience must be konto (its token endpoint or issuer).
#[tokio::test]
async fn a_client_assertion_for_another_audience_is_invalid_client() {
    let e = Engine::new().await;
    let key = signed_client(&e).await;
    for (jti, aud) in [
        ("a1", json!("https://elsewhere.example/token")),
        ("a2", json!(format!("{ISSUER}/introspect"))),
        ("a3", json!(format!("{ISSUER}/"))),
        ("a4", json!(["https://elsewhere.example"])),
        ("a5", json!([])),
    ] {
        let mut c = claims(&e, jti);
        c["aud"] = aud.clone();
        assert_code(
            with_assertion(&e, &sign(&key, &c), &[]).await,
            "invalid_client",
        );
    }
    for (jti, aud) in [
        ("b1", json!(ISSUER)),
        ("b2", json!(["https://x.example", ISSUER])),
    ] {
        let mut c = claims(&e, jti);
        c["aud"] = aud.clone();
        assert!(
            with_assertion(&e, &sign(&key, &c), &[]).await.is_ok(),
            "{aud}"
        );
    }
}

/// RFC 7523 §3 items 4 and 5: an expired assertion, one living too long and one not yet valid are
/// invalid_client.
#[tokio::test]
async fn an_expired_client_assertion_is_invalid_client() {
    let e = Engine::new().await;
    let key = signed_client(&e).await;
    let now = e.now.unix_timestamp();
    for (jti, field, value) in [
        ("e1", "exp", now - 1),
        ("e2", "exp", now),
        ("e3", "exp", now + 86_400),
        ("e4", "nbf", now + 3600),
    ] {
        let mut c = claims(&e, jti);
        c[field] = json!(value);
        let err = assert_code(
            with_assertion(&e, &sign(&key, &c), &[]).await,
            "invalid_client",
        );
        assert!(err.description.contains("assertion"), "{jti}: {err}");
    }
    // expiry is judged at the request's time
    let a = sign(&key, &claims(&e, "e5"));
    let later = e.now + time::Duration::seconds(60);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", a.as_str()),
    ];
    assert_code(e.token_at(None, &form, later).await, "invalid_client");
}

/// RFC 7523 §3 items 1, 2 and 9: iss and sub are the client, the signature is by its key, and the
/// assertion type is jwt-bearer.
#[tokio::test]
async fn a_forged_or_misdirected_client_assertion_is_refused() {
    let e = Engine::new().await;
    let key = signed_client(&e).await;
    let mut c = claims(&e, "f1");
    c["iss"] = json!(RP);
    assert_code(
        with_assertion(&e, &sign(&key, &c), &[]).await,
        "invalid_client",
    );
    let other_key = josekit::jws::ES256.generate_key_pair().unwrap();
    let forged = sign(&other_key, &claims(&e, "f2"));
    assert_code(with_assertion(&e, &forged, &[]).await, "invalid_client");
    // unsigned (alg none)
    let good = sign(&key, &claims(&e, "f3"));
    let body = good.split('.').nth(1).unwrap();
    let none = format!(
        "{}.{body}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#)
    );
    assert_code(with_assertion(&e, &none, &[]).await, "invalid_client");
    // a client_id that is not the assertion's subject
    let r = with_assertion(&e, &good, &[("client_id", RP)]).await;
    assert_code(r, "invalid_client");
    // the assertion of a client registered for secrets
    let mut c = claims(&e, "f4");
    c["iss"] = json!(RP);
    c["sub"] = json!(RP);
    assert_code(
        with_assertion(&e, &sign(&key, &c), &[]).await,
        "invalid_client",
    );
    // the wrong assertion type
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        ),
        ("client_assertion", good.as_str()),
    ];
    assert_code(e.token(None, &form).await, "invalid_request");
    assert!(
        with_assertion(&e, &good, &[("client_id", SIGNED)])
            .await
            .is_ok()
    );
}
