//! The HTTP layer in process (`tower::ServiceExt::oneshot` on the full router with every layer):
//! each route's contract — status, content type, the error's form, caching — without sockets.
//! The end-to-end suites in `tests/e2e` drive the same routes over real sockets with real clients.
#![expect(clippy::expect_used, reason = "test helpers should fail loudly")]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use konto_core::Level;
use konto_core::client::{
    Client, GrantType, RelyingParty, SigningAlg, SubjectType, TokenEndpointAuthMethod,
};
use konto_core::clock::{Clock, ManualClock};
use konto_core::level::AcrVocabulary;
use konto_store::ClientRepo;
use konto_web::{App, Config};
use serde_json::Value;
use tower::ServiceExt;

const ISSUER: &str = "http://localhost:8080";
const REDIRECT: &str = "https://rp.example/callback";
// RFC 7636 Appendix B
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Harness {
    app: Arc<App>,
    _dir: tempfile::TempDir,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// `name=value` of every cookie set, for the next request's `Cookie` header.
    fn cookies(&self) -> String {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The value of a hidden form field on the page.
    fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).expect("field on the page") + marker.len();
        let end = self.body[start..].find('"').expect("closing quote");
        self.body[start..start + end].to_owned()
    }
}

async fn harness() -> Harness {
    harness_with(false).await
}

async fn harness_with(development: bool) -> Harness {
    let (store, dir) = konto_store_sql::testing::sqlite_store().await;
    let store = Arc::new(store);
    let mut config = Config::default();
    config.server.issuer = ISSUER.into();
    config.secrets.master_key = Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    config.mail.file_dir = Some(dir.path().join("mail"));
    config.login.argon2_memory_kib = 256;
    config.login.argon2_iterations = 1;
    config.development = development;
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let now = clock.now();
    let app = konto_web::build(config, store.clone(), clock)
        .await
        .expect("konto builds");
    store
        .create_client(&Client {
            party: RelyingParty {
                id: "rp".into(),
                name: "Test service".into(),
                scopes: vec!["openid".into()],
                first_party: false,
                min_level: Level::Basic,
                allow_temporary_login: false,
                service_groups: Vec::new(),
                postbox_webhook: None,
                created_at: now,
            },
            auth_method: TokenEndpointAuthMethod::None,
            secret_hash: None,
            jwks: None,
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode],
            id_token_alg: SigningAlg::ES256,
            subject_type: SubjectType::Pairwise,
            sector_identifier_uri: None,
            require_pkce: true,
            acr_vocabulary: AcrVocabulary::Eidas,
        })
        .await
        .expect("client");
    Harness { app, _dir: dir }
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> Answer {
        let response = konto_web::router(Arc::clone(&self.app))
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, uri: &str) -> Answer {
        self.get_with(uri, "").await
    }

    async fn get_with(&self, uri: &str, cookie: &str) -> Answer {
        let mut r = Request::get(uri);
        if !cookie.is_empty() {
            r = r.header(header::COOKIE, cookie);
        }
        self.send(r.body(Body::empty()).expect("request")).await
    }

    async fn post(&self, uri: &str, content_type: &str, cookie: &str, body: &str) -> Answer {
        let mut r = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::CONTENT_TYPE, content_type)
            // as an HTTP client would send it
            .header(header::CONTENT_LENGTH, body.len());
        if !cookie.is_empty() {
            r = r.header(header::COOKIE, cookie);
        }
        self.send(r.body(Body::from(body.to_owned())).expect("request"))
            .await
    }

    /// A login page for the client: the browser's cookies, the flow id and the CSRF token.
    async fn login_page(&self) -> (String, String, String) {
        let page = self
            .get(&format!(
                "/authorize?response_type=code&client_id=rp&redirect_uri={REDIRECT}\
                 &scope=openid&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256"
            ))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        (page.cookies(), page.field("flow"), page.field("csrf"))
    }
}

/// OpenID Connect Discovery 1.0 §4: the configuration is JSON; the keys are a JWK Set (RFC 7517 §5).
#[tokio::test]
async fn discovery_and_keys_are_json() {
    let h = harness().await;
    let d = h.get("/.well-known/openid-configuration").await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(
        d.header(header::CONTENT_TYPE)
            .starts_with("application/json")
    );
    assert_eq!(d.json()["issuer"], ISSUER);
    let k = h.get("/jwks").await;
    assert_eq!(k.status, StatusCode::OK);
    assert!(k.json()["keys"].as_array().is_some_and(|k| !k.is_empty()));
}

/// OIDC Core §3.1.2.6 / RFC 6749 §4.1.2.1: an unknown client is told to the user, never
/// redirected anywhere.
#[tokio::test]
async fn authorize_with_an_unknown_client_is_a_page() {
    let h = harness().await;
    let a = h
        .get(&format!(
            "/authorize?response_type=code&client_id=nobody&redirect_uri={REDIRECT}&scope=openid"
        ))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.header(header::LOCATION).is_empty());
    assert!(a.header(header::CONTENT_TYPE).starts_with("text/html"));
    // the person is told in their language; the protocol's reason is marked as English
    assert!(a.body.contains("lang=\"de\""));
    assert!(
        a.body.contains("<code lang=\"en\">invalid_client"),
        "{}",
        a.body
    );
}

/// The login page is the answer to `/authorize`; it sets the binding cookie (HttpOnly,
/// SameSite=Lax) and may not be framed (RFC 9700 §4.16).
#[tokio::test]
async fn authorize_answers_with_the_login_page() {
    let h = harness().await;
    let (cookies, flow, csrf) = h.login_page().await;
    assert!(!cookies.is_empty() && !flow.is_empty() && !csrf.is_empty());
    let page = h
        .get(&format!(
            "/authorize?response_type=code&client_id=rp&redirect_uri={REDIRECT}\
             &scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256"
        ))
        .await;
    let set = page.header(header::SET_COOKIE).to_ascii_lowercase();
    assert!(
        set.contains("httponly") && set.contains("samesite=lax"),
        "{set}"
    );
    assert!(
        page.header(header::CONTENT_SECURITY_POLICY)
            .contains("frame-ancestors 'none'")
    );
}

/// RFC 6749 §5.2: token errors are JSON with `error`, never cached (§5.1).
#[tokio::test]
async fn token_errors_are_json_and_not_cached() {
    let h = harness().await;
    let wrong_type = h.post("/token", "application/json", "", "{}").await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_type.json()["error"], "invalid_request");
    assert!(
        wrong_type
            .header(header::CACHE_CONTROL)
            .contains("no-store")
    );

    let form = "application/x-www-form-urlencoded";
    let grant = h
        .post("/token", form, "", "grant_type=password&client_id=rp")
        .await;
    assert_eq!(grant.status, StatusCode::BAD_REQUEST);
    assert_eq!(grant.json()["error"], "unsupported_grant_type");

    let twice = h
        .post(
            "/token",
            form,
            "",
            "grant_type=authorization_code&code=a&code=b&client_id=rp",
        )
        .await;
    assert_eq!(
        twice.json()["error"],
        "invalid_request",
        "RFC 6749 §3.2: no repeats"
    );

    let get = h.get("/token").await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// RFC 6750 §3: without a token the resource answers 401 with a `Bearer` challenge.
#[tokio::test]
async fn userinfo_without_a_token_is_a_bearer_challenge() {
    let h = harness().await;
    let u = h.get("/userinfo").await;
    assert_eq!(u.status, StatusCode::UNAUTHORIZED);
    assert!(u.header(header::WWW_AUTHENTICATE).starts_with("Bearer"));
}

/// The JSON steps of a login (passkey, signed certificate challenge) answer `{"error": …}` for a
/// malformed body, an unknown flow and a missing CSRF token — in that order of checking.
#[tokio::test]
async fn json_steps_refuse_malformed_foreign_and_forged_requests() {
    let h = harness().await;
    let (cookies, flow, csrf) = h.login_page().await;
    let json = "application/json";
    for path in [
        "/login/passkey/start",
        "/login/passkey/finish",
        "/login/cert/challenge",
        "/login/cert/signed",
    ] {
        let malformed = h.post(path, json, &cookies, "{not json").await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(malformed.json()["error"], "invalid_request", "{path}");

        let body = |flow: &str, csrf: &str| {
            let mut v = serde_json::json!({ "flow": flow, "csrf": csrf });
            if path.ends_with("/finish") {
                v["credential"] = serde_json::json!({
                    "id": "AA", "rawId": "AA", "type": "public-key",
                    "response": { "authenticatorData": "AA", "clientDataJSON": "AA", "signature": "AA" }
                });
            }
            if path.ends_with("/signed") {
                v["certificates"] = serde_json::json!([]);
                v["signature"] = serde_json::json!("");
            }
            v.to_string()
        };
        let unknown = h
            .post(path, json, &cookies, &body("no-such-flow", &csrf))
            .await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(unknown.json()["error"], "flow_not_found", "{path}");

        let forged = h.post(path, json, &cookies, &body(&flow, "forged")).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(forged.json()["error"], "csrf", "{path}");

        // the flow is bound to the browser: without its cookies the flow is not found
        let stranger = h.post(path, json, "", &body(&flow, &csrf)).await;
        assert_eq!(stranger.json()["error"], "flow_not_found", "{path}");
    }
}

/// Certificate login is off in this configuration: the challenge says so rather than failing.
#[tokio::test]
async fn a_disabled_authenticator_is_not_available() {
    let h = harness().await;
    let (cookies, flow, csrf) = h.login_page().await;
    let body = serde_json::json!({ "flow": flow, "csrf": csrf }).to_string();
    let r = h
        .post("/login/cert/challenge", "application/json", &cookies, &body)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "not_available");
}

/// A wrong password is 401 on the login page, which is shown again with the flow intact.
#[tokio::test]
async fn a_wrong_password_shows_the_page_again() {
    let h = harness().await;
    let (cookies, flow, csrf) = h.login_page().await;
    let form = format!("flow={flow}&csrf={csrf}&username=nobody&password=wrong");
    let r = h
        .post(
            "/login/password",
            "application/x-www-form-urlencoded",
            &cookies,
            &form,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.field("flow"), flow);
    // the name stays in its field; the password does not come back
    assert!(r.body.contains("value=\"nobody\""), "{}", r.body);
    assert!(!r.body.contains("wrong"));
    let no_csrf = h
        .post(
            "/login/password",
            "application/x-www-form-urlencoded",
            &cookies,
            &format!("flow={flow}&username=nobody&password=wrong"),
        )
        .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
}

/// Liveness and readiness for the operator; an unknown path is a 404 page, not a stack trace.
#[tokio::test]
async fn health_and_not_found() {
    let h = harness().await;
    assert_eq!(h.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(h.get("/readyz").await.status, StatusCode::OK);
    let missing = h.get("/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing
            .header(header::CONTENT_TYPE)
            .starts_with("text/html")
    );
}

/// The README's login by hand: `konto dev`'s demo user and public client complete a code flow
/// with PKCE (RFC 7636 Appendix B's verifier), consent included.
#[tokio::test]
async fn the_demo_public_client_logs_in_as_the_readme_says() {
    use konto_web::dev::{DEMO_PASSWORD, DEMO_PUBLIC_CLIENT_ID, DEMO_USER, seed};
    let h = harness_with(true).await;
    seed(&h.app).await.expect("demo data");
    seed(&h.app).await.expect("seeding twice changes nothing");
    let redirect = "http://127.0.0.1:8082/callback";
    let page = h
        .get(&format!(
            "/authorize?response_type=code&client_id={DEMO_PUBLIC_CLIENT_ID}&redirect_uri={redirect}\
             &scope=openid%20profile&state=xyz&code_challenge={CHALLENGE}&code_challenge_method=S256"
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let cookies = page.cookies();
    let (flow, csrf) = (page.field("flow"), page.field("csrf"));
    let form = "application/x-www-form-urlencoded";
    let login = format!("flow={flow}&csrf={csrf}&username={DEMO_USER}&password={DEMO_PASSWORD}");
    let signed_in = h.post("/login/password", form, &cookies, &login).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    let cookies = format!("{cookies}; {}", signed_in.cookies());
    let consent_page = h
        .get_with(signed_in.header(header::LOCATION), &cookies)
        .await;
    assert_eq!(consent_page.status, StatusCode::OK, "{}", consent_page.body);
    let allow = format!("flow={flow}&csrf={csrf}&decision=allow");
    let back = h.post("/login/consent", form, &cookies, &allow).await;
    let location = url::Url::parse(back.header(header::LOCATION)).expect("redirect to the client");
    assert!(location.as_str().starts_with(redirect), "{location}");
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let tokens = h
        .post(
            "/token",
            form,
            "",
            &format!(
                "grant_type=authorization_code&client_id={DEMO_PUBLIC_CLIENT_ID}&code={code}\
                 &redirect_uri={redirect}&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
            ),
        )
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert!(tokens.json()["id_token"].is_string());
}

/// RFC 9110 §15.5.14: a body over `server.max_body_bytes` is 413. A moderate one is read to the
/// end first, so the connection stays usable and the client sees the answer; a huge one is
/// answered at once and the connection closed.
#[tokio::test]
async fn oversized_bodies_are_413_and_moderate_ones_are_drained() {
    use std::sync::Arc as StdArc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let h = harness().await;
    // a body sent in 16 KiB chunks that counts how much of it konto read
    let send = |len: usize| {
        let read = StdArc::new(AtomicUsize::new(0));
        let counter = StdArc::clone(&read);
        let chunks = (0..len.div_ceil(16 * 1024)).map(move |i| {
            let n = (len - i * 16 * 1024).min(16 * 1024);
            counter.fetch_add(n, Ordering::SeqCst);
            Ok::<_, std::io::Error>(vec![b'a'; n])
        });
        let request = Request::post("/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::CONTENT_LENGTH, len)
            .body(Body::from_stream(futures::stream::iter(chunks)))
            .expect("request");
        (request, read)
    };
    let (request, read) = send(200_000);
    let r = h.send(request).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(read.load(Ordering::SeqCst), 200_000, "read to the end");
    assert!(
        r.header(header::CONNECTION).is_empty(),
        "the connection stays usable"
    );
    let (request, read) = send(2 * 1024 * 1024);
    let r = h.send(request).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(read.load(Ordering::SeqCst), 0, "not read at all");
    assert_eq!(r.header(header::CONNECTION), "close");
}

/// `GET /openapi.json`: an OpenAPI 3.1 document whose server is the issuer, cacheable like
/// discovery; every operation it lists is routed with that method, and the discovery schema's
/// members are in the live discovery document.
#[tokio::test]
async fn the_openapi_document_matches_the_route_table() {
    let h = harness().await;
    let a = h.get("/openapi.json").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.header(header::CONTENT_TYPE)
            .starts_with("application/json")
    );
    assert_eq!(a.header(header::CACHE_CONTROL), "public, max-age=3600");
    let doc = a.json();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1."))
    );
    assert_eq!(doc["servers"][0]["url"], ISSUER);
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for method in ["get", "post"] {
            if item.get(method).is_none() {
                continue;
            }
            let answer = if method == "get" {
                h.get(path).await
            } else {
                h.post(path, "application/x-www-form-urlencoded", "", "")
                    .await
            };
            assert!(
                ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&answer.status),
                "{method} {path}: {}",
                answer.status
            );
        }
    }
    let live = h.get("/.well-known/openid-configuration").await.json();
    let schema = &doc["components"]["schemas"]["DiscoveryDocument"];
    for member in schema["properties"].as_object().expect("properties").keys() {
        assert!(live.get(member).is_some(), "discovery lacks {member}");
    }
}
