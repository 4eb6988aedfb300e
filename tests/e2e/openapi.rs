//! `GET /openapi.json` against the live answers: what the document's schemas mark as required is
//! in the answers of `/token`, `/introspect` and `/mandates/check`, every member of an answer is
//! one the schema names, and the answers that must stay `{"active": false}` do.

use konto_tests::*;
use serde_json::{Value, json};

on_both_backends!(the_document_describes_the_live_answers);

/// The schema of `method path`'s answer with `status`, references followed.
fn response_schema<'a>(doc: &'a Value, path: &str, method: &str, status: &str) -> &'a Value {
    let schema =
        &doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"];
    let name = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .unwrap_or_else(|| panic!("{method} {path} {status}: no schema reference: {schema}"));
    let resolved = &doc["components"]["schemas"][name];
    assert!(resolved.is_object(), "{name} is not in the components");
    resolved
}

/// `answer` carries every required member of `schema` and no member the schema does not name.
fn conforms(answer: &Value, schema: &Value, what: &str) {
    let members = answer
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {answer}"));
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: the schema requires nothing"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!required.is_empty(), "{what}");
    for name in required {
        assert!(members.contains_key(name), "{what} lacks {name}: {answer}");
    }
    let properties = schema["properties"].as_object().expect("properties");
    for name in members.keys() {
        assert!(
            properties.contains_key(name),
            "{what}: {name} is not in the document"
        );
    }
}

async fn the_document_describes_the_live_answers(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let http = reqwest::Client::new();
    let r = http.get(server.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    assert_eq!(doc["servers"][0]["url"], server.issuer);

    let mut c = server.client("batch");
    c.grant_types = vec![konto_core::client::GrantType::ClientCredentials];
    c.redirect_uris = Vec::new();
    c.party.scopes = vec!["postbox".into()];
    let secret = server.add_client(c).await.unwrap();
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let request = http
            .post(server.url(path))
            .basic_auth("batch", Some(&secret))
            .form(&form);
        async move {
            let r = request.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };

    // RFC 6749 §4.4: the token response
    let (status, token) = post(
        "/token",
        vec![
            ("grant_type", "client_credentials".into()),
            ("scope", "postbox".into()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{token}");
    conforms(
        &token,
        response_schema(&doc, "/token", "post", "200"),
        "token",
    );
    let at = token["access_token"].as_str().unwrap().to_owned();

    // RFC 6749 §5.2: an error
    let (status, error) = post("/token", vec![("grant_type", "password".into())]).await;
    assert_eq!(status, 400, "{error}");
    conforms(
        &error,
        response_schema(&doc, "/token", "post", "400"),
        "token error",
    );

    // RFC 7662: active, and inactive exactly {"active": false}
    let introspection = response_schema(&doc, "/introspect", "post", "200");
    let (status, active) = post("/introspect", vec![("token", at.clone())]).await;
    assert_eq!(status, 200, "{active}");
    assert_eq!(active["active"], true);
    conforms(&active, introspection, "introspection");
    let (_, inactive) = post("/introspect", vec![("token", format!("{at}x"))]).await;
    assert_eq!(inactive, json!({ "active": false }));
    conforms(&inactive, introspection, "inactive introspection");

    // the mandate check: an unknown mandate reads as inactive, nothing more
    let (status, unknown) = post(
        "/mandates/check",
        vec![("mandate", "no-such-mandate".into())],
    )
    .await;
    assert_eq!(status, 200, "{unknown}");
    assert_eq!(unknown, json!({ "active": false }));
    conforms(
        &unknown,
        response_schema(&doc, "/mandates/check", "post", "200"),
        "mandate check",
    );
    server.stop().await;
}
