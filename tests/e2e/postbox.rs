//! The postbox over HTTP: a service learns the person's postbox handle from the
//! `postbox_handle` claim (with consent, scope `postbox`), delivers with a client credentials
//! token (`postbox:send`) under an `Idempotency-Key`, and the person reads the content at the
//! level the message asks for. Each refusal in the API's own JSON form.

use std::sync::Arc;

use futures::future::join_all;
use konto_core::Level;
use konto_core::client::GrantType;
use konto_service::ServiceError;
use konto_service::postbox::PostboxService;
use konto_store::{OrgRepo, PostboxRepo, UserRepo};
use konto_tests::rp::Rp;
use konto_tests::*;
use openidconnect::OAuth2TokenResponse;
use openidconnect::core::CoreJwsSigningAlgorithm;
use serde_json::{Value, json};

on_both_backends!(
    a_service_delivers_into_the_postbox_it_was_given,
    the_person_reads_through_the_user_api,
    the_api_refuses_bad_calls_in_its_own_form,
    the_status_monitor_keeps_a_timeline,
    members_read_what_their_rights_cover,
    attachments_are_checked_sealed_and_downloaded,
    senders_are_told_by_signed_webhooks,
    signed_content_and_bundid_compatibility,
);

const PW: &str = "Fahrradklingel-Nordsee-42";

/// A service that signs people in (scope `postbox` registered) and delivers
/// (`postbox:send`, client credentials).
async fn service(server: &TestServer, id: &str) -> (String, String) {
    let mut c = server.client(id);
    c.grant_types.push(GrantType::ClientCredentials);
    c.party.scopes.push(konto_core::scope::POSTBOX_SEND.into());
    let redirect = c.redirect_uris[0].clone();
    let secret = server.add_client(c).await.unwrap();
    (secret, redirect)
}

/// `username` signs in at `client` with the `postbox` scope and consents: the handle from the
/// ID token (and the same from userinfo).
async fn handle_for(
    server: &TestServer,
    client: &str,
    secret: &str,
    redirect: &str,
    username: &str,
) -> String {
    login_with_postbox(server, client, secret, redirect, username)
        .await
        .0
}

/// [`handle_for`], and the person's access token (for the user API).
async fn login_with_postbox(
    server: &TestServer,
    client: &str,
    secret: &str,
    redirect: &str,
    username: &str,
) -> (String, String) {
    let rp = Rp::new(&server.issuer, client, Some(secret), redirect, None).await;
    let browser = server.browser();
    let pending = rp.authorize(&["openid", "postbox"], &[]);
    let page = browser.visit(&pending.url).await.page();
    let consent = browser.password(&page, username, PW).await.page();
    let out = browser.consent(&consent, true).await;
    let code = out.param("code").expect("a code");
    let (tokens, _) = rp
        .exchange(
            pending,
            &code,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        )
        .await;
    let id_token = jwt_claims(&tokens.extra_fields().id_token().unwrap().to_string());
    let handle = id_token["postbox_handle"]
        .as_str()
        .expect("the ID token carries the handle")
        .to_owned();
    let info = userinfo_claims(server, tokens.access_token().secret()).await;
    assert_eq!(info["postbox_handle"], handle.as_str());
    assert_ne!(id_token["sub"], handle.as_str(), "the handle is no subject");
    (handle, tokens.access_token().secret().clone())
}

/// A client credentials token, with `scope` or none.
async fn client_token(server: &TestServer, client: &str, secret: &str, scope: &str) -> String {
    let mut form = vec![("grant_type", "client_credentials")];
    if !scope.is_empty() {
        form.push(("scope", scope));
    }
    let r = reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(client, Some(secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn send(server: &TestServer, token: &str, key: &str, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(server.url("/postbox/v1/messages"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn message_status(server: &TestServer, token: &str, id: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(server.url(&format!("/postbox/v1/messages/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The first mail after the first `before` (the notification goes out in the background).
async fn wait_for_mail(server: &TestServer, before: usize) -> String {
    for _ in 0..100 {
        if let Some(m) = server.mails().into_iter().nth(before) {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no mail after {before}");
}

fn decision(handle: &str, title: &str, min_level: &str) -> Value {
    json!({
        "recipient": handle,
        "kind": "decision",
        "sender": "Finanzamt München",
        "service": "Grundsteuer",
        "title": title,
        "body": "Sehr geehrte Frau Mustermann,\nanbei Ihr Bescheid.",
        "min_level": min_level,
        "reference": "AZ 4711",
    })
}

/// The whole way: handle by claim, delivery, retries that make no second message (also in
/// parallel), content sealed at rest, reading at the message's level.
async fn a_service_delivers_into_the_postbox_it_was_given(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let user_id = server.add_user("erika", PW, "Erika", "Mustermann").await;
    let (secret, redirect) = service(&server, "amt").await;
    let handle = handle_for(&server, "amt", &secret, &redirect, "erika").await;
    assert_eq!(
        server
            .store
            .user(&user_id)
            .await
            .unwrap()
            .unwrap()
            .postbox_handle,
        handle,
        "the handle the account was made with"
    );
    let token = client_token(&server, "amt", &secret, "postbox:send").await;
    let mails_before = server.mails().len();

    let first = decision(&handle, "Ihr Grundsteuerbescheid 2026", "basic");
    let (status, receipt) = send(&server, &token, "bescheid-1", &first).await;
    assert_eq!(status, 201, "{receipt}");
    let id = receipt["id"].as_str().unwrap().to_owned();
    let provided = time::OffsetDateTime::parse(
        receipt["provided_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    // OZG §9: a decision counts as delivered on the fourth day after it was provided
    assert_eq!(
        receipt["delivered_on"],
        (provided.date() + time::Duration::days(4)).to_string()
    );
    // the sender learns where it stands: provided
    let (status, state) = message_status(&server, &token, &id).await;
    assert_eq!((status, state["status"].as_str()), (200, Some("provided")));
    assert_eq!(state["delivered_on"], receipt["delivered_on"]);
    assert!(state.get("read_at").is_none());
    // the person is told by mail that something arrived, and nothing of what
    let mail = wait_for_mail(&server, mails_before).await;
    assert!(mail.contains("erika@example.org"), "{mail}");
    assert!(mail.contains("/postbox"), "{mail}");
    assert!(
        !mail.contains("Grundsteuerbescheid") && !mail.contains("Finanzamt"),
        "{mail}"
    );
    // the same send again, in sequence and in parallel: the same receipt, one message
    let (status, again) = send(&server, &token, "bescheid-1", &first).await;
    assert_eq!((status, &again["id"]), (200, &receipt["id"]));
    let second = decision(&handle, "Zweiter Bescheid", "high");
    let racing = join_all((0..8).map(|_| send(&server, &token, "bescheid-2", &second))).await;
    let created = racing.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "one of the parallel sends made it: {racing:?}");
    assert!(
        racing
            .iter()
            .all(|(s, b)| (*s == 201 || *s == 200) && b["id"] == racing[0].1["id"])
    );
    let high_id = racing[0].1["id"].as_str().unwrap().to_owned();
    // the same key for other content is refused
    let (status, body) = send(
        &server,
        &token,
        "bescheid-1",
        &decision(&handle, "Ein anderer Titel", "basic"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("idempotency_conflict"))
    );

    // sealed at rest: the stored message holds neither title nor body in the clear
    let stored = server.store.messages(&handle).await.unwrap();
    assert_eq!(stored.len(), 2, "two messages, whatever the retries");
    for m in &stored {
        let raw = String::from_utf8_lossy(&m.sealed);
        assert!(!raw.contains("Grundsteuerbescheid") && !raw.contains("Bescheid"));
        assert_eq!(m.content_sha256.len(), 64);
    }

    // the person reads: the content at the levels the session reaches, a step-up otherwise
    let postbox = PostboxService::new(std::sync::Arc::clone(&server.app.services));
    let inbox = postbox.inbox(&user_id, Level::Basic).await.unwrap();
    assert_eq!(inbox.len(), 2);
    let low = inbox.iter().find(|m| m.id == id).unwrap();
    assert_eq!(
        low.content.as_ref().map(|c| c.title.as_str()),
        Some("Ihr Grundsteuerbescheid 2026")
    );
    let locked = inbox.iter().find(|m| m.id == high_id).unwrap();
    assert!(locked.content.is_none(), "above the session's level");
    assert_eq!(locked.sender, "Finanzamt München");
    let err = postbox
        .read(&user_id, &high_id, Level::Substantial)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::LevelTooLow {
                needed: Level::High
            }
        ),
        "{err:?}"
    );
    let summary = postbox.summary(&user_id, None, &high_id).await.unwrap();
    assert_eq!(
        (
            summary.min_level,
            summary.content.is_none(),
            summary.read_at
        ),
        (Level::High, true, None),
        "the step-up page's summary opens and marks nothing"
    );
    let read = postbox.read(&user_id, &high_id, Level::High).await.unwrap();
    assert_eq!(read.content.unwrap().title, "Zweiter Bescheid");
    assert!(read.read_at.is_some());
    let (_, state) = message_status(&server, &token, &high_id).await;
    assert_eq!(state["status"], "read");
    assert!(state["read_at"].is_string());
    // the person deletes it: gone for them, its content erased, and the sender learns it
    postbox.delete(&user_id, &high_id).await.unwrap();
    assert!(matches!(
        postbox.read(&user_id, &high_id, Level::High).await,
        Err(ServiceError::NoMessage)
    ));
    let (_, state) = message_status(&server, &token, &high_id).await;
    assert_eq!(state["status"], "deleted");
    assert!(state["deleted_at"].is_string());
    assert!(matches!(
        postbox.delete(&user_id, &high_id).await,
        Err(ServiceError::NoMessage)
    ));
    // a retry of the deleted message's send makes no new one
    let (status, again) = send(&server, &token, "bescheid-2", &second).await;
    assert_eq!(
        (status, again["id"].as_str()),
        (200, Some(high_id.as_str()))
    );
    let err = postbox
        .read(&user_id, "no-such-id", Level::High)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::NoMessage), "{err:?}");
    let inbox = postbox.inbox(&user_id, Level::High).await.unwrap();
    assert_eq!(inbox.len(), 1, "the deleted one is gone");
    assert_eq!(inbox[0].id, id);

    // another person's handle was never given to this client
    server.add_user("max", PW, "Max", "Mustermann").await;
    let (other_secret, other_redirect) = service(&server, "other").await;
    let max_handle = handle_for(&server, "other", &other_secret, &other_redirect, "max").await;
    let (status, body) = send(
        &server,
        &token,
        "to-max",
        &decision(&max_handle, "Nicht für Sie", "basic"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_recipient"))
    );
    // nor may the other service ask about this one's messages
    let other_token = client_token(&server, "other", &other_secret, "postbox:send").await;
    let (status, body) = message_status(&server, &other_token, &id).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_message"))
    );
    let r = reqwest::Client::new()
        .get(server.url(&format!("/postbox/v1/messages/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // the account goes, and what was in its postbox with it; the sender learns so
    server.clock.advance(time::Duration::minutes(5));
    server.app.accounts.delete(&user_id).await.unwrap();
    let token = client_token(&server, "amt", &secret, "postbox:send").await;
    assert!(server.store.user(&user_id).await.unwrap().is_none());
    let closed = server.store.postbox(&handle).await.unwrap().unwrap();
    assert!(closed.closed_at.is_some() && closed.data_key.is_none());
    assert!(server.store.messages(&handle).await.unwrap().is_empty());
    let (status, state) = message_status(&server, &token, &id).await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(
        (state["status"].as_str(), state["reason"].as_str()),
        (Some("deleted"), Some("account_deleted"))
    );
    let (_, state) = message_status(&server, &token, &high_id).await;
    assert_eq!(
        state["reason"], "deleted_by_person",
        "deleted before the account: by the person"
    );
    let (status, _) = send(
        &server,
        &token,
        "after-deletion",
        &decision(&handle, "Zu spät", "basic"),
    )
    .await;
    assert_eq!(status, 404);
    server.stop().await;
}

/// Malformed, forged, unauthorised and oversized calls: each refused with the right status
/// and a JSON body (or a `WWW-Authenticate` challenge for the token, RFC 6750 §3), and nothing
/// stored.
async fn the_api_refuses_bad_calls_in_its_own_form(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let (secret, redirect) = service(&server, "amt").await;
    let handle = handle_for(&server, "amt", &secret, &redirect, "erika").await;
    let token = client_token(&server, "amt", &secret, "postbox:send").await;
    let good = decision(&handle, "Bescheid", "basic");
    let url = server.url("/postbox/v1/messages");
    let http = reqwest::Client::new();

    // no token, a forged one, one without the scope, a user's token
    let r = http.post(&url).json(&good).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let (status, _) = send(&server, "eyJhbGciOiJub25lIn0.e30.", "k1", &good).await;
    assert_eq!(status, 401);
    let without = client_token(&server, "amt", &secret, "").await;
    let r = http
        .post(&url)
        .bearer_auth(&without)
        .header("idempotency-key", "k1")
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );

    // the key: missing, too long, not ASCII
    let r = http
        .post(&url)
        .bearer_auth(&token)
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    for key in ["k".repeat(256), "mit leerzeichen".to_owned()] {
        let (status, body) = send(&server, &token, &key, &good).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request"))
        );
    }
    // the body: not JSON, unknown or missing fields, bad values, too long
    let r = http
        .post(&url)
        .bearer_auth(&token)
        .header("idempotency-key", "k2")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .post(&url)
        .bearer_auth(&token)
        .header("idempotency-key", "k2")
        .header("content-type", "text/plain")
        .body(good.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "JSON only");
    let mut cases = Vec::new();
    let mut v = good.clone();
    v["surprise"] = json!(1);
    cases.push(("an unknown field", v));
    let mut v = good.clone();
    v.as_object_mut().unwrap().remove("title");
    cases.push(("no title", v));
    let mut v = good.clone();
    v["title"] = json!("x".repeat(1025));
    cases.push(("a long title", v));
    let mut v = good.clone();
    v["sender"] = json!("");
    cases.push(("an empty sender", v));
    let mut v = good.clone();
    v["kind"] = json!("memo");
    cases.push(("an unknown kind", v));
    let mut v = good.clone();
    v["min_level"] = json!("very high");
    cases.push(("an unknown level", v));
    let mut v = good.clone();
    v["service"] = json!("Grund\u{0007}steuer");
    cases.push(("a control character", v));
    for (what, body) in cases {
        let (status, answer) = send(&server, &token, "k3", &body).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("invalid_request")),
            "{what}: {answer}"
        );
        assert!(answer["error_description"].as_str().is_some());
    }
    let mut huge = good.clone();
    huge["body"] = json!("x".repeat(600 * 1024));
    let (status, answer) = send(&server, &token, "k4", &huge).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (413, Some("payload_too_large"))
    );
    let mut long = good.clone();
    long["body"] = json!("x".repeat(300 * 1024));
    let (status, answer) = send(&server, &token, "k4", &long).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // HTML: a script, an event handler, a script address, an unknown format
    for (html, named) in [
        ("<p>Hallo</p><script>alert(1)</script>", "<script>"),
        ("<img src=x onerror=alert(1)>", "<img>"),
        ("<p onclick=\"x()\">Hallo</p>", "onclick"),
        (
            "<a href=\"javascript:alert(1)\">Hallo</a>",
            "script address",
        ),
    ] {
        let mut v = good.clone();
        v["body"] = json!(html);
        v["body_format"] = json!("html");
        let (status, answer) = send(&server, &token, "k-html", &v).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("invalid_request")),
            "{html}: {answer}"
        );
        assert!(
            answer["error_description"]
                .as_str()
                .unwrap()
                .contains(named),
            "{html}: {answer}"
        );
    }
    let mut v = good.clone();
    v["body_format"] = json!("markdown");
    let (status, _) = send(&server, &token, "k-html", &v).await;
    assert_eq!(status, 400);
    // an unknown handle reads like one not given to this client
    let (status, answer) = send(
        &server,
        &token,
        "k5",
        &decision("00000000-0000-4000-8000-000000000000", "Bescheid", "basic"),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("unknown_recipient"))
    );
    assert!(
        server.store.messages(&handle).await.unwrap().is_empty(),
        "nothing refused was stored"
    );
    // and a good one still goes through
    let (status, _) = send(&server, &token, "k6", &good).await;
    assert_eq!(status, 201);
    server.stop().await;
}

async fn post_state(server: &TestServer, token: &str, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(server.url("/postbox/v1/applications/states"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Status updates per application: recorded for the postbox the service was given, sealed at
/// rest, shown to the person oldest first with the details in their language; refused
/// otherwise.
async fn the_status_monitor_keeps_a_timeline(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let user_id = server.add_user("erika", PW, "Erika", "Mustermann").await;
    let (secret, redirect) = service(&server, "amt").await;
    let handle = handle_for(&server, "amt", &secret, &redirect, "erika").await;
    let token = client_token(&server, "amt", &secret, "postbox:send").await;
    let update = |status: &str, details: &str| {
        json!({
            "recipient": handle,
            "application_id": "WOHN-2026-17",
            "status": status,
            "sender": "Bürgeramt Musterstadt",
            "service_name": { "de": "Wohnsitzanmeldung", "en": "Registering an address" },
            "details": { "de": details, "en": format!("EN {details}") },
        })
    };
    for (status, details) in [
        ("SUBMITTED", "Eingereicht am Montag"),
        (
            "ACTION_REQUIRED",
            "Bitte reichen Sie die Wohnungsgeberbestätigung nach",
        ),
        ("COMPLETED", "Abgeschlossen"),
    ] {
        let (code, body) = post_state(&server, &token, &update(status, details)).await;
        assert_eq!(code, 201, "{body}");
        assert!(body["id"].is_string());
        server.clock.advance(time::Duration::minutes(1));
    }
    let postbox = PostboxService::new(std::sync::Arc::clone(&server.app.services));
    let timeline = postbox
        .timeline(&user_id, Some("WOHN-2026-17"))
        .await
        .unwrap();
    let statuses: Vec<&str> = timeline.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(statuses, ["SUBMITTED", "ACTION_REQUIRED", "COMPLETED"]);
    assert_eq!(
        konto_core::postbox::localized(&timeline[1].details, "en"),
        Some("EN Bitte reichen Sie die Wohnungsgeberbestätigung nach")
    );
    assert!(
        postbox
            .timeline(&user_id, Some("OTHER"))
            .await
            .unwrap()
            .is_empty()
    );

    // refusals: an unknown status, no German name, a postbox not given, no scope
    let (code, body) = post_state(&server, &token, &update("DONE", "x")).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let mut no_german = update("RECEIVED", "x");
    no_german["service_name"] = json!({ "en": "Registering" });
    let (code, body) = post_state(&server, &token, &no_german).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let mut elsewhere = update("RECEIVED", "x");
    elsewhere["recipient"] = json!("00000000-0000-4000-8000-000000000000");
    let (code, body) = post_state(&server, &token, &elsewhere).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (404, Some("unknown_recipient"))
    );
    let without = client_token(&server, "amt", &secret, "").await;
    let (code, _) = post_state(&server, &without, &update("RECEIVED", "x")).await;
    assert_eq!(code, 403);
    assert_eq!(postbox.timeline(&user_id, None).await.unwrap().len(), 3);
    server.stop().await;
}

async fn user_get(server: &TestServer, token: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// The same data for the person's own app, with their access token (scope `postbox`): the
/// content the login's level reaches, a step-up challenge (RFC 9470) for the rest.
async fn the_person_reads_through_the_user_api(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let (secret, redirect) = service(&server, "amt").await;
    let (handle, user_token) =
        login_with_postbox(&server, "amt", &secret, &redirect, "erika").await;
    let token = client_token(&server, "amt", &secret, "postbox:send").await;
    let (_, low) = send(&server, &token, "u-1", &decision(&handle, "Offen", "basic")).await;
    let (_, high) = send(&server, &token, "u-2", &decision(&handle, "Geheim", "high")).await;
    let r = user_get(&server, &user_token, "/postbox/v1/inbox").await;
    assert_eq!(r.status(), 200);
    let list: Vec<Value> = r.json().await.unwrap();
    assert_eq!(list.len(), 2);
    let find = |id: &Value| list.iter().find(|m| &m["id"] == id).unwrap().clone();
    let open = find(&low["id"]);
    assert_eq!(
        (open["title"].as_str(), open["locked"].as_bool()),
        (Some("Offen"), Some(false))
    );
    let locked = find(&high["id"]);
    assert_eq!(locked["locked"], true);
    assert!(locked.get("title").is_none() && locked.get("body").is_none());
    assert_eq!(locked["min_level"], "high");
    // reading the one above the login's level asks for a login at its level
    let r = user_get(
        &server,
        &user_token,
        &format!("/postbox/v1/inbox/{}", high["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains("insufficient_user_authentication")
            && challenge.contains("acr_values=\"http://eidas.europa.eu/LoA/high\""),
        "{challenge}"
    );
    let r = user_get(
        &server,
        &user_token,
        &format!("/postbox/v1/inbox/{}", low["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(r.status(), 200);
    let read: Value = r.json().await.unwrap();
    assert_eq!(
        read["body"],
        "Sehr geehrte Frau Mustermann,\nanbei Ihr Bescheid."
    );
    assert!(read["read_at"].is_string());
    // an HTML body comes back sanitised, marked as HTML
    let mut html = decision(&handle, "Mit Formatierung", "basic");
    html["body"] =
        json!("<p>Bitte <strong>bis Freitag</strong> <a href=\"https://amt.example\">hier</a></p>");
    html["body_format"] = json!("html");
    let (status, sent) = send(&server, &token, "u-3", &html).await;
    assert_eq!(status, 201, "{sent}");
    let r = user_get(
        &server,
        &user_token,
        &format!("/postbox/v1/inbox/{}", sent["id"].as_str().unwrap()),
    )
    .await;
    let read: Value = r.json().await.unwrap();
    assert_eq!(read["body_format"], "html");
    let body = read["body"].as_str().unwrap();
    assert!(body.contains("<strong>bis Freitag</strong>"), "{body}");
    assert!(
        body.contains("rel=\"noopener noreferrer nofollow\""),
        "{body}"
    );
    // a reply address comes with the content; a too long one is refused by name
    let mut answerable = decision(&handle, "Rückfragen", "basic");
    answerable["reply_address"] = json!("grundsteuer@finanzamt.example");
    let (status, sent_reply) = send(&server, &token, "u-reply", &answerable).await;
    assert_eq!(status, 201, "{sent_reply}");
    let read: Value = user_get(
        &server,
        &user_token,
        &format!("/postbox/v1/inbox/{}", sent_reply["id"].as_str().unwrap()),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(read["reply_address"], "grundsteuer@finanzamt.example");
    answerable["reply_address"] = json!("x".repeat(321));
    let (status, r) = send(&server, &token, "u-reply-long", &answerable).await;
    assert_eq!(
        (status, r["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(
        r["error_description"]
            .as_str()
            .unwrap()
            .contains("reply_address")
    );
    // a page at a time: the Link header names the next (RFC 8288)
    let r = user_get(&server, &user_token, "/postbox/v1/inbox?limit=2").await;
    let next = r.headers()["link"].to_str().unwrap().to_owned();
    assert_eq!(next, "</postbox/v1/inbox?limit=2&offset=2>; rel=\"next\"");
    let first: Vec<Value> = r.json().await.unwrap();
    let r = user_get(&server, &user_token, "/postbox/v1/inbox?limit=2&offset=2").await;
    assert!(r.headers().get("link").is_none(), "the last page");
    let rest: Vec<Value> = r.json().await.unwrap();
    assert_eq!((first.len(), rest.len()), (2, 2));
    let all: Vec<Value> = user_get(&server, &user_token, "/postbox/v1/inbox")
        .await
        .json()
        .await
        .unwrap();
    let ids = |l: &[Value]| l.iter().map(|m| m["id"].clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&all),
        [ids(&first), ids(&rest)].concat(),
        "pages in the inbox's order"
    );
    for bad in ["limit=0", "limit=201", "limit=x", "offset=-1"] {
        let r = user_get(&server, &user_token, &format!("/postbox/v1/inbox?{bad}")).await;
        assert_eq!(r.status(), 400, "{bad}");
    }
    let r = user_get(&server, &user_token, "/postbox/v1/inbox/nope").await;
    assert_eq!(r.status(), 404);
    // a service's token is not a person's; no token is none
    let r = user_get(&server, &token, "/postbox/v1/inbox").await;
    assert!(r.status() == 401 || r.status() == 403, "{}", r.status());
    let r = reqwest::Client::new()
        .get(server.url("/postbox/v1/inbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    server.stop().await;
}

/// An organisation's postbox: a service given its handle delivers there; the administrator
/// (all services) reads everything, a clerk only what comes from the services their rights
/// cover, and someone who is no member nothing.
async fn members_read_what_their_rights_cover(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let admin = server.add_user("lukas", PW, "Lukas", "Weber").await;
    let clerk = server.add_user("clara", PW, "Clara", "Schmidt").await;
    let stranger = server.add_user("olga", PW, "Olga", "Other").await;
    let org = operator_org(&server, "Weber Steuerberatung GmbH", &admin).await;
    let boss = konto_service::org::Actor {
        user_id: admin.clone(),
        level: Level::High,
    };
    let orgs = &server.app.orgs;
    orgs.invite(
        &boss,
        &org,
        "clara@example.org",
        konto_core::representation::Role::Clerk,
    )
    .await
    .unwrap();
    let token = link_in(&server.mails().pop().unwrap(), "/org/join?token=")
        .unwrap()
        .trim_start_matches("/org/join?token=")
        .to_owned();
    orgs.join(
        &konto_service::org::Actor {
            user_id: clerk.clone(),
            level: Level::Basic,
        },
        &token,
    )
    .await
    .unwrap();
    // Clara may act for the firm at tax services only
    let steuern =
        konto_core::representation::ServiceScope::listed(Vec::<&str>::new(), ["steuern"]).unwrap();
    orgs.grant_right(&boss, &org, &clerk, steuern, None)
        .await
        .unwrap();
    for (id, group) in [("finanzamt", "steuern"), ("gewerbeamt", "gewerbe")] {
        let mut c = server.client(id);
        c.party.service_groups = vec![group.into()];
        server.add_client(c).await;
    }
    let handle = server
        .store
        .organisation(&org)
        .await
        .unwrap()
        .unwrap()
        .postbox_handle;
    let postbox = PostboxService::new(std::sync::Arc::clone(&server.app.services));
    // as the acting_for.postbox_handle claim does: the organisation's postbox, given to both
    let owner = konto_core::representation::Party::Organisation(org.clone());
    server
        .store
        .ensure_postbox(&owner, &handle, server.clock_now())
        .await
        .unwrap();
    for client in ["finanzamt", "gewerbeamt"] {
        server
            .store
            .release_postbox(&handle, client, server.clock_now())
            .await
            .unwrap();
    }
    let message = |title: &str| konto_core::postbox::NewMessage {
        kind: konto_core::postbox::MessageKind::Message,
        sender: "Amt".into(),
        service: "Dienst".into(),
        title: title.into(),
        body: "Text".into(),
        format: konto_core::postbox::BodyFormat::Text,
        min_level: Level::Basic,
        reference: None,
        application_id: None,
        reply_address: None,
    };
    let tax = postbox
        .send(
            "finanzamt",
            &handle,
            "t-1",
            message("Steuerbescheid"),
            Vec::new(),
            None,
        )
        .await
        .unwrap();
    let trade = postbox
        .send(
            "gewerbeamt",
            &handle,
            "g-1",
            message("Gewerbeanmeldung"),
            Vec::new(),
            None,
        )
        .await
        .unwrap();
    let titles = |list: Vec<konto_service::postbox::MessageView>| -> Vec<String> {
        let mut t: Vec<String> = list.into_iter().map(|m| m.content.unwrap().title).collect();
        t.sort();
        t
    };
    assert_eq!(
        titles(postbox.org_inbox(&admin, &org, Level::Basic).await.unwrap()),
        ["Gewerbeanmeldung", "Steuerbescheid"],
        "the administrator's first right covers every service"
    );
    assert_eq!(
        titles(postbox.org_inbox(&clerk, &org, Level::Basic).await.unwrap()),
        ["Steuerbescheid"],
        "the clerk sees the tax service's message only"
    );
    // in pages, counted among what the rights cover
    let page = |user: String, offset: u32| {
        let (postbox, org) = (postbox.clone(), org.clone());
        async move {
            let (list, more) = postbox
                .org_inbox_page(&user, &org, Level::Basic, None, offset, 1)
                .await
                .unwrap();
            (list.len(), more)
        }
    };
    assert_eq!(page(admin.clone(), 0).await, (1, true));
    assert_eq!(page(admin.clone(), 1).await, (1, false));
    assert_eq!(page(admin.clone(), 2).await, (0, false));
    assert_eq!(page(clerk.clone(), 0).await, (1, false));
    assert_eq!(page(clerk.clone(), 1).await, (0, false));
    assert!(matches!(
        postbox
            .org_read(&clerk, &org, &trade.id, Level::Basic)
            .await,
        Err(ServiceError::NoMessage)
    ));
    // what the step-up page shows: no content, and only what the rights cover
    assert!(matches!(
        postbox.summary(&clerk, Some(&org), &trade.id).await,
        Err(ServiceError::NoMessage)
    ));
    let summary = postbox
        .summary(&admin, Some(&org), &trade.id)
        .await
        .unwrap();
    assert!(summary.content.is_none() && summary.read_at.is_none());
    let read = postbox
        .org_read(&clerk, &org, &tax.id, Level::Basic)
        .await
        .unwrap();
    assert!(read.read_at.is_some());
    assert!(matches!(
        postbox.org_inbox(&stranger, &org, Level::Basic).await,
        Err(ServiceError::NotAllowed)
    ));
    // the status monitor the same way
    for (client, application) in [("finanzamt", "ST-1"), ("gewerbeamt", "GW-1")] {
        postbox
            .record_state(
                client,
                &handle,
                konto_core::postbox::StateUpdate {
                    application_id: application.into(),
                    status: konto_core::postbox::ApplicationStatus::Received,
                    sender: "Amt".into(),
                    service_name: [("de".to_owned(), "Dienst".to_owned())].into(),
                    details: Default::default(),
                    reference: None,
                },
            )
            .await
            .unwrap();
    }
    let applications = |list: Vec<konto_service::postbox::StateView>| -> Vec<String> {
        let mut a: Vec<String> = list.into_iter().map(|s| s.application_id).collect();
        a.sort();
        a
    };
    assert_eq!(
        applications(postbox.org_timeline(&admin, &org, None).await.unwrap()),
        ["GW-1", "ST-1"]
    );
    assert_eq!(
        applications(postbox.org_timeline(&clerk, &org, None).await.unwrap()),
        ["ST-1"]
    );
    assert!(matches!(
        postbox.org_timeline(&stranger, &org, None).await,
        Err(ServiceError::NotAllowed)
    ));
    assert!(postbox.timeline(&admin, None).await.unwrap().is_empty());
    // and the organisation's messages are not in anyone's own postbox
    assert!(postbox.inbox(&admin, Level::High).await.unwrap().is_empty());

    // over HTTP: the member's page lists what they may read; a stranger gets nothing
    let browser = server.browser();
    let login = browser.visit(&format!("/org/{org}/postbox")).await.page();
    let page = browser.password(&login, "clara", PW).await.page();
    assert!(
        page.has("Steuerbescheid") && !page.has("Gewerbeanmeldung"),
        "{}",
        page.body
    );
    let other = server.browser();
    let login = other.visit(&format!("/org/{org}/postbox")).await.page();
    let page = other.password(&login, "olga", PW).await.page();
    assert_eq!(page.status, 404, "{}", page.body);
    assert!(!page.has("Steuerbescheid"));

    // deleting: only an administrator, and then it is gone for every member
    assert!(matches!(
        postbox
            .org_delete(&clerk, &org, &tax.id, Level::Basic)
            .await,
        Err(ServiceError::NotAllowed)
    ));
    assert!(matches!(
        postbox
            .org_delete(&stranger, &org, &tax.id, Level::Basic)
            .await,
        Err(ServiceError::NotAllowed)
    ));
    assert!(!postbox.may_delete_for(&clerk, &org).await.unwrap());
    // over HTTP the clerk's form post is refused too
    let page = browser
        .visit(&format!("/org/{org}/postbox/{}", tax.id))
        .await
        .page();
    assert!(
        !page.body.contains("/delete\""),
        "no delete button for a clerk"
    );
    postbox
        .org_delete(&admin, &org, &tax.id, Level::Basic)
        .await
        .unwrap();
    assert_eq!(
        titles(postbox.org_inbox(&admin, &org, Level::Basic).await.unwrap()),
        ["Gewerbeanmeldung"]
    );
    assert!(
        postbox
            .org_inbox(&clerk, &org, Level::Basic)
            .await
            .unwrap()
            .is_empty()
    );
    let status = postbox.status("finanzamt", &tax.id).await.unwrap();
    assert_eq!(
        (status.state, status.reason),
        ("deleted", Some("deleted_by_person"))
    );
    let events = server.store.org_events(&org, 50).await.unwrap();
    let deleted = events
        .iter()
        .find(|e| e.action == "postbox_message_deleted")
        .expect("recorded in the organisation's record");
    assert_eq!(deleted.actor.as_deref(), Some(admin.as_str()));
    assert!(deleted.detail.contains(&tax.id));
    assert!(matches!(
        postbox
            .org_delete(&admin, &org, &tax.id, Level::Basic)
            .await,
        Err(ServiceError::NoMessage)
    ));
    server.stop().await;
}

const PDF: &[u8] =
    b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

/// A file to attach: name, declared type, bytes.
type File<'a> = (&'a str, &'a str, &'a [u8]);

/// A multipart send: the message as JSON, then the files (name, declared type, bytes).
async fn send_with_files(
    server: &TestServer,
    token: &str,
    key: &str,
    message: &Value,
    files: &[(&str, &str, &[u8])],
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new().part(
        "message",
        reqwest::multipart::Part::text(message.to_string())
            .mime_str("application/json")
            .unwrap(),
    );
    for (name, mime, data) in files {
        form = form.part(
            "attachment",
            reqwest::multipart::Part::bytes(data.to_vec())
                .file_name(name.to_string())
                .mime_str(mime)
                .unwrap(),
        );
    }
    let r = reqwest::Client::new()
        .post(server.url("/postbox/v1/messages"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Attachments: sent as multipart, checked (type allowed, extension and content matching,
/// count and size), sealed at rest apart from the message, listed with the content and
/// downloaded as sent; retried sends make no second copy; each refusal named.
async fn attachments_are_checked_sealed_and_downloaded(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let (secret, redirect) = service(&server, "amt").await;
    let (handle, user_token) =
        login_with_postbox(&server, "amt", &secret, &redirect, "erika").await;
    let token = client_token(&server, "amt", &secret, "postbox:send").await;
    let note = "Bitte beachten Sie die Frist.\n".as_bytes();
    let files: &[(&str, &str, &[u8])] = &[
        ("Grundsteuerbescheid Müller.pdf", "application/pdf", PDF),
        ("hinweis.txt", "text/plain; charset=utf-8", note),
    ];
    let message = decision(&handle, "Bescheid mit Anlagen", "basic");
    let (status, receipt) = send_with_files(&server, &token, "a-1", &message, files).await;
    assert_eq!(status, 201, "{receipt}");
    let id = receipt["id"].as_str().unwrap().to_owned();
    // retried, also in parallel: the same message, no second copy
    let retries =
        join_all((0..6).map(|_| send_with_files(&server, &token, "a-1", &message, files))).await;
    for (status, r) in retries {
        assert_eq!((status, r["id"].as_str()), (200, Some(id.as_str())), "{r}");
    }
    assert_eq!(server.store.messages(&handle).await.unwrap().len(), 1);
    // the same key with another file is another message: refused
    let other: &[(&str, &str, &[u8])] = &[("hinweis.txt", "text/plain", b"anders\n")];
    let (status, r) = send_with_files(&server, &token, "a-1", &message, other).await;
    assert_eq!(
        (status, r["error"].as_str()),
        (422, Some("idempotency_conflict"))
    );
    // sealed at rest: neither the file nor its name in the clear
    use konto_store::AttachmentStore;
    let sealed = server
        .store
        .attachment(&id, 1)
        .await
        .unwrap()
        .expect("kept");
    assert!(!sealed.windows(note.len()).any(|w| w == note));
    let stored = &server.store.messages(&handle).await.unwrap()[0];
    assert!(!String::from_utf8_lossy(&stored.sealed).contains("hinweis"));
    assert!(server.store.attachment(&id, 2).await.unwrap().is_none());

    // the person's app lists them with the content and downloads each as it was sent
    let r = user_get(&server, &user_token, &format!("/postbox/v1/inbox/{id}")).await;
    let read: Value = r.json().await.unwrap();
    let listed = read["attachments"].as_array().expect("listed");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["filename"], "Grundsteuerbescheid Müller.pdf");
    assert_eq!(listed[0]["content_type"], "application/pdf");
    assert_eq!(listed[0]["size"], PDF.len());
    assert_eq!(listed[1]["content_type"], "text/plain");
    let r = user_get(
        &server,
        &user_token,
        &format!("/postbox/v1/inbox/{id}/attachments/0"),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    // RFC 6266 §4.3: an ASCII name for old agents, the real one in UTF-8 (RFC 8187)
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"Grundsteuerbescheid M_ller.pdf\"; \
         filename*=UTF-8''Grundsteuerbescheid%20M%C3%BCller.pdf"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(&r.bytes().await.unwrap()[..], PDF);
    let r = user_get(
        &server,
        &user_token,
        &format!("/postbox/v1/inbox/{id}/attachments/1"),
    )
    .await;
    assert_eq!(&r.bytes().await.unwrap()[..], note);
    for bad in ["2", "x", "-1", "99999", "1.0"] {
        let r = user_get(
            &server,
            &user_token,
            &format!("/postbox/v1/inbox/{id}/attachments/{bad}"),
        )
        .await;
        assert_eq!(r.status(), 404, "{bad}");
    }
    // above the login's level: a step-up challenge, no file
    let (_, high) = send_with_files(
        &server,
        &token,
        "a-high",
        &decision(&handle, "Vertraulich", "high"),
        &[("a.pdf", "application/pdf", PDF)],
    )
    .await;
    let r = user_get(
        &server,
        &user_token,
        &format!(
            "/postbox/v1/inbox/{}/attachments/0",
            high["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_user_authentication")
    );

    // each refusal, by name
    let big = vec![b'a'; 2 * 1024 * 1024 + 1];
    let six: Vec<(String, &str, &[u8])> = (0..6)
        .map(|i| (format!("{i}.txt"), "text/plain", &b"x"[..]))
        .collect();
    let six: Vec<(&str, &str, &[u8])> = six.iter().map(|(n, m, d)| (n.as_str(), *m, *d)).collect();
    let cases: Vec<(&str, Vec<File>, u16, &str)> = vec![
        (
            "png-as-pdf",
            vec![("bild.pdf", "application/pdf", PNG)],
            415,
            "unsupported_attachment",
        ),
        (
            "png-named-pdf",
            vec![("bild.pdf", "image/png", PNG)],
            415,
            "unsupported_attachment",
        ),
        (
            "program",
            vec![(
                "tool.exe",
                "application/x-msdownload",
                b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff",
            )],
            415,
            "unsupported_attachment",
        ),
        (
            "program-as-text",
            vec![(
                "readme.txt",
                "text/plain",
                b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff",
            )],
            415,
            "unsupported_attachment",
        ),
        (
            "no-type",
            vec![("a.txt", "application/octet-stream", b"x")],
            415,
            "unsupported_attachment",
        ),
        (
            "path",
            vec![("../../etc/passwd.txt", "text/plain", b"x")],
            400,
            "invalid_request",
        ),
        ("too-many", six, 400, "too_many_attachments"),
        (
            "too-large",
            vec![("gross.txt", "text/plain", &big)],
            413,
            "attachment_too_large",
        ),
    ];
    for (key, files, status, error) in cases {
        let (got, r) = send_with_files(
            &server,
            &token,
            key,
            &decision(&handle, "Abgelehnt", "basic"),
            &files,
        )
        .await;
        assert_eq!(
            (got, r["error"].as_str()),
            (status, Some(error)),
            "{key}: {r}"
        );
    }
    // a multipart body without its message, with an unknown part, or broken
    let form = reqwest::multipart::Form::new().part(
        "attachment",
        reqwest::multipart::Part::bytes(PDF.to_vec())
            .file_name("a.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let r = reqwest::Client::new()
        .post(server.url("/postbox/v1/messages"))
        .bearer_auth(&token)
        .header("idempotency-key", "no-message")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let form = reqwest::multipart::Form::new()
        .text("message", decision(&handle, "x", "basic").to_string())
        .text("extra", "x");
    let r = reqwest::Client::new()
        .post(server.url("/postbox/v1/messages"))
        .bearer_auth(&token)
        .header("idempotency-key", "extra-part")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = reqwest::Client::new()
        .post(server.url("/postbox/v1/messages"))
        .bearer_auth(&token)
        .header("idempotency-key", "broken")
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n{\"recipient\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        server.store.messages(&handle).await.unwrap().len(),
        2,
        "nothing refused was kept"
    );

    // deleting the message takes its attachments
    let postbox = PostboxService::new(std::sync::Arc::clone(&server.app.services));
    let user = server
        .store
        .user_by_username("erika")
        .await
        .unwrap()
        .unwrap();
    postbox.delete(&user.id, &id).await.unwrap();
    assert!(server.store.attachment(&id, 0).await.unwrap().is_none());
    server.stop().await;
}

/// A sender's webhook for the tests: answers 500 or 202 as told, keeps what arrived.
struct Hook {
    url: String,
    accept: Arc<std::sync::atomic::AtomicBool>,
    received: Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

async fn hook() -> Hook {
    use std::sync::atomic::Ordering;
    let accept = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (a, r) = (Arc::clone(&accept), Arc::clone(&received));
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let (a, r) = (Arc::clone(&a), Arc::clone(&r));
            async move {
                if !a.load(Ordering::SeqCst) {
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                let ct = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                r.lock().unwrap().push((ct, body));
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Hook {
        url,
        accept,
        received,
    }
}

/// Waits (up to 5 s) until `check` holds for the client's events.
async fn events_until(
    server: &TestServer,
    client: &str,
    what: &str,
    check: impl Fn(&[konto_store::PostboxEvent]) -> bool,
) -> Vec<konto_store::PostboxEvent> {
    use konto_store::PostboxOutbox;
    for _ in 0..200 {
        let events = server.store.events_for(client).await.unwrap();
        if check(&events) {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!(
        "{what}: {:?}",
        server.store.events_for(client).await.unwrap()
    );
}

/// The claims of a SET, its signature checked against konto's published keys (RFC 8417 §2,
/// `typ` `secevent+jwt` per RFC 8417 §2.3).
async fn verified_set(server: &TestServer, set: &str) -> Value {
    let header = jwt_header(set);
    assert_eq!(header["typ"], "secevent+jwt");
    assert_eq!(header["alg"], "RS256");
    let jwks: Value = reqwest::get(server.url("/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the signing key is published");
    let jwk = josekit::jwk::Jwk::from_bytes(key.to_string().as_bytes()).unwrap();
    let verifier = josekit::jws::RS256.verifier_from_jwk(&jwk).unwrap();
    let (payload, _) = josekit::jws::deserialize_compact(set, &verifier).expect("signed by konto");
    serde_json::from_slice(&payload).unwrap()
}

fn jwt_header(jwt: &str) -> Value {
    use base64::Engine;
    let head = jwt.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(head)
            .unwrap(),
    )
    .unwrap()
}

/// RFC 8935 push: providing, reading and deleting (by the person, or with the account) reach
/// the sender's webhook as signed SETs, once per event, retried with back-off while the
/// webhook fails, and still delivered by another node after the first went down.
async fn senders_are_told_by_signed_webhooks(backend: Backend) {
    use std::sync::atomic::Ordering;
    let Some(mut server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    let hook = hook().await;
    let user_id = server.add_user("erika", PW, "Erika", "Mustermann").await;
    let mut c = server.client("amt");
    c.grant_types.push(GrantType::ClientCredentials);
    c.party.scopes.push(konto_core::scope::POSTBOX_SEND.into());
    c.party.postbox_webhook = Some(hook.url.clone());
    let redirect = c.redirect_uris[0].clone();
    let secret = server.add_client(c).await.unwrap();
    // a service without a webhook is told nothing by push
    let (quiet_secret, quiet_redirect) = service(&server, "still").await;
    let quiet_handle = handle_for(&server, "still", &quiet_secret, &quiet_redirect, "erika").await;
    let quiet = client_token(&server, "still", &quiet_secret, "postbox:send").await;
    let (_, r) = send(
        &server,
        &quiet,
        "q-1",
        &decision(&quiet_handle, "Still", "basic"),
    )
    .await;
    assert!(r["id"].is_string());

    let (handle, user_token) =
        login_with_postbox(&server, "amt", &secret, &redirect, "erika").await;
    let token = client_token(&server, "amt", &secret, "postbox:send").await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        let (_, r) = send(
            &server,
            &token,
            &format!("w-{n}"),
            &decision(&handle, "Bescheid", "basic"),
        )
        .await;
        ids.push(r["id"].as_str().unwrap().to_owned());
    }
    // a retried send is no new event
    send(
        &server,
        &token,
        "w-1",
        &decision(&handle, "Bescheid", "basic"),
    )
    .await;
    let of = |e: &[konto_store::PostboxEvent], kind: &str| -> Vec<konto_store::PostboxEvent> {
        e.iter().filter(|e| e.event == kind).cloned().collect()
    };
    // provided: the push fails, waits for the back-off
    let events = events_until(&server, "amt", "provided, attempted", |e| {
        e.len() == 3 && e.iter().all(|e| e.event == "provided" && e.attempts == 1)
    })
    .await;
    assert_eq!(events[0].id, format!("{}.provided", ids[0]));
    assert!(events[0].last_error.as_deref().unwrap().contains("500"));
    assert_eq!(
        events[0].next_attempt_at - events[0].occurred_at,
        time::Duration::seconds(10),
        "the first retry after webhook_retry_secs"
    );

    // read: one event, also when read again
    let r = user_get(
        &server,
        &user_token,
        &format!("/postbox/v1/inbox/{}", ids[0]),
    )
    .await;
    assert_eq!(r.status(), 200);
    user_get(
        &server,
        &user_token,
        &format!("/postbox/v1/inbox/{}", ids[0]),
    )
    .await;
    events_until(&server, "amt", "read, attempted", |e| {
        of(e, "read").len() == 1 && of(e, "read")[0].attempts == 1
    })
    .await;
    hook.accept.store(true, Ordering::SeqCst);
    server.clock.advance(time::Duration::seconds(11));
    let delivered = events_until(&server, "amt", "delivered", |e| {
        e.len() == 4 && e.iter().all(|e| e.delivered_at.is_some())
    })
    .await;
    assert!(delivered.iter().all(|e| e.attempts == 2));
    let received = hook.received.lock().unwrap().clone();
    assert_eq!(received.len(), 4, "each once");
    let mut sets = Vec::new();
    for (content_type, set) in &received {
        assert_eq!(content_type, "application/secevent+jwt");
        let claims = verified_set(&server, set).await;
        assert_eq!(claims["iss"], server.issuer.as_str());
        assert_eq!(claims["aud"], "amt");
        sets.push(claims);
    }
    let read = sets
        .iter()
        .find(|c| c["jti"] == format!("{}.read", ids[0]))
        .expect("the read event");
    assert_eq!(
        read["events"]["urn:konto:postbox:event:message-read"]["message_id"],
        ids[0].as_str()
    );
    assert!(sets.iter().any(
        |c| c["events"]["urn:konto:postbox:event:message-provided"]["message_id"]
            == ids[2].as_str()
    ));

    // deleted by the person: pushed at once
    let postbox = PostboxService::new(Arc::clone(&server.app.services));
    postbox.delete(&user_id, &ids[1]).await.unwrap();
    events_until(&server, "amt", "deletion delivered", |e| {
        e.len() == 5 && e.iter().all(|e| e.delivered_at.is_some())
    })
    .await;
    let set = hook.received.lock().unwrap()[4].1.clone();
    let claims = verified_set(&server, &set).await;
    assert_eq!(
        claims["events"]["urn:konto:postbox:event:message-deleted"],
        json!({ "message_id": ids[1], "reason": "deleted_by_person" })
    );

    // the account goes while the webhook is down, and so does this node
    hook.accept.store(false, Ordering::SeqCst);
    server
        .store
        .delete_user(&user_id, server.clock_now())
        .await
        .unwrap();
    events_until(&server, "amt", "account deletion attempted", |e| {
        let gone = of(e, "account_deleted");
        gone.len() == 2 && gone.iter().all(|e| e.attempts == 1)
    })
    .await;
    let mut other = server.another_node().await;
    server.halt().await;
    hook.accept.store(true, Ordering::SeqCst);
    other.clock.advance(time::Duration::hours(1));
    events_until(&other, "amt", "delivered by the other node", |e| {
        e.len() == 7 && e.iter().all(|e| e.delivered_at.is_some())
    })
    .await;
    let received = hook.received.lock().unwrap().clone();
    let mut told = Vec::new();
    for (_, set) in received.iter().skip(5) {
        let claims = verified_set(&other, set).await;
        let deleted = &claims["events"]["urn:konto:postbox:event:message-deleted"];
        assert_eq!(deleted["reason"], "account_deleted");
        told.push(deleted["message_id"].as_str().unwrap().to_owned());
    }
    told.sort();
    let mut expected = vec![ids[0].clone(), ids[2].clone()];
    expected.sort();
    assert_eq!(told, expected, "each message not deleted before, once");
    use konto_store::PostboxOutbox;
    assert!(
        server.store.events_for("still").await.unwrap().is_empty(),
        "no webhook, no events"
    );
    other.halt().await;
    server.stop().await;
}

/// An RSA key for a service's content signatures: its private JWK, and a JWK Set with its
/// public half (kid `sig-1`) to register.
fn content_key() -> (josekit::jwk::Jwk, String) {
    let pair = josekit::jws::RS256.generate_key_pair(2048).unwrap();
    // no `alg`: the key serves RS256 (JWS) and BundID's RS512 alike
    let mut private = pair.to_jwk_private_key();
    private.set_key_id("sig-1");
    private.set_parameter("alg", None).unwrap();
    let mut public = pair.to_jwk_public_key();
    public.set_key_id("sig-1");
    public.set_parameter("alg", None).unwrap();
    let set = json!({ "keys": [serde_json::to_value(public.as_ref()).unwrap()] });
    (private, set.to_string())
}

/// BundID's `sha512sum`: RSASSA-PKCS1-v1_5 SHA-512 over the content, base64.
fn sha512sum(key: &josekit::jwk::Jwk, content: &str) -> String {
    use base64::Engine;
    let signer = josekit::jws::RS512.signer_from_jwk(key).unwrap();
    use josekit::jws::JwsSigner;
    base64::engine::general_purpose::STANDARD.encode(signer.sign(content.as_bytes()).unwrap())
}

/// A detached JWS (RFC 7515 Appendix F) over `payload`.
fn detached_jws(key: &josekit::jwk::Jwk, payload: &str) -> String {
    let mut header = josekit::jws::JwsHeader::new();
    header.set_key_id("sig-1");
    let signer = josekit::jws::RS256.signer_from_jwk(key).unwrap();
    let full = josekit::jws::serialize_compact(payload.as_bytes(), &header, &signer).unwrap();
    let parts: Vec<&str> = full.split('.').collect();
    format!("{}..{}", parts[0], parts[2])
}

async fn put_v6(
    server: &TestServer,
    token: &str,
    content: &str,
    sum: &str,
    files: &[File<'_>],
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new().part(
        "json",
        reqwest::multipart::Part::text(json!({ "content": content, "sha512sum": sum }).to_string())
            .mime_str("application/json")
            .unwrap(),
    );
    for (name, mime, data) in files {
        form = form.part(
            "attachments",
            reqwest::multipart::Part::bytes(data.to_vec())
                .file_name(name.to_string())
                .mime_str(mime)
                .unwrap(),
        );
    }
    let r = reqwest::Client::new()
        .put(server.url("/v6/mailbox/messages"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Services built against BundID's postbox deliver unchanged: `PUT /v6/mailbox/messages` with
/// the content signed RSA-SHA512 (checked against the client's registered key; a forged or
/// altered one refused), attachments listed by SHA-512 and length, the status monitor at
/// `/v6/mailbox/applications/states`; and konto's own API takes a detached JWS over the
/// message. The reader sees that the content is signed.
async fn signed_content_and_bundid_compatibility(backend: Backend) {
    let Some(server) = TestServer::start(Options::new(backend)).await else {
        return;
    };
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let (key, jwks) = content_key();
    let mut c = server.client("amt");
    c.grant_types.push(GrantType::ClientCredentials);
    c.party.scopes.push(konto_core::scope::POSTBOX_SEND.into());
    c.jwks = Some(jwks);
    let redirect = c.redirect_uris[0].clone();
    let secret = server.add_client(c).await.unwrap();
    let (handle, user_token) =
        login_with_postbox(&server, "amt", &secret, &redirect, "erika").await;
    let token = client_token(&server, "amt", &secret, "postbox:send").await;

    use sha2::Digest;
    let content = json!({
        "mailboxUuid": handle,
        "stork_qaa_level": "STORK-QAA-Level-1",
        "sender": "Bürgeramt Musterstadt",
        "title": "Ihre Meldebescheinigung",
        "content": "Sehr geehrte Frau Mustermann,\nanbei die Bescheinigung.",
        "service": "Wohnsitzanmeldung",
        "senderUrl": "https://buergeramt.example",
        "reference": "MB-1",
        "retrievalConfirmationAddress": "postbox@buergeramt.example",
        "applicationId": "W-7",
        "attachments": [{
            "filename": "Meldebescheinigung.pdf",
            "sha512sum": hex::encode(sha2::Sha512::digest(PDF)),
            "contentLength": PDF.len(),
        }],
    })
    .to_string();
    let files: &[File] = &[("Meldebescheinigung.pdf", "application/pdf", PDF)];
    let sum = sha512sum(&key, &content);
    let (status, r) = put_v6(&server, &token, &content, &sum, files).await;
    assert_eq!(status, 201, "{r}");
    let id = r["messageId"].as_str().unwrap().to_owned();
    // the same content again is the same message
    let (status, again) = put_v6(&server, &token, &content, &sum, files).await;
    assert_eq!(
        (status, again["messageId"].as_str()),
        (200, Some(id.as_str()))
    );
    let r = user_get(&server, &user_token, &format!("/postbox/v1/inbox/{id}")).await;
    let read: Value = r.json().await.unwrap();
    assert_eq!(read["title"], "Ihre Meldebescheinigung");
    assert_eq!(read["signed"], true);
    assert_eq!(read["min_level"], "basic");
    assert_eq!(read["application_id"], "W-7");
    assert_eq!(read["attachments"][0]["filename"], "Meldebescheinigung.pdf");

    // forged: altered content under the old signature; another key's signature; garbage
    let altered = content.replace("Meldebescheinigung\"", "Zahlungsaufforderung\"");
    let (other_key, _) = content_key();
    for (what, content, sum) in [
        ("altered", altered.as_str(), sum.clone()),
        (
            "other key",
            content.as_str(),
            sha512sum(&other_key, &content),
        ),
        ("not base64", content.as_str(), "***".to_owned()),
    ] {
        let (status, r) = put_v6(&server, &token, content, &sum, files).await;
        assert_eq!(
            (status, r["error"].as_str()),
            (400, Some("invalid_signature")),
            "{what}: {r}"
        );
    }
    // a file other than the one the signed content lists
    let (status, r) = put_v6(
        &server,
        &token,
        &content,
        &sum,
        &[(
            "Meldebescheinigung.pdf",
            "application/pdf",
            b"%PDF-1.7\n%%EOF\n",
        )],
    )
    .await;
    assert_eq!(
        (status, r["error"].as_str()),
        (400, Some("invalid_request")),
        "{r}"
    );
    let (status, _) = put_v6(&server, &token, &content, &sum, &[]).await;
    assert_eq!(status, 400, "a listed file missing");
    // without a token: the RFC 6750 challenge
    let r = reqwest::Client::new()
        .put(server.url("/v6/mailbox/messages"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // the status monitor in BundID's form
    let r = reqwest::Client::new()
        .post(server.url("/v6/mailbox/applications/states"))
        .bearer_auth(&token)
        .json(&json!({
            "mailboxUuid": handle,
            "applicationId": "W-7",
            "status": "COMPLETED",
            "publicServiceName": {"de": "Wohnsitzanmeldung", "en": "Registration"},
            "senderName": "Bürgeramt Musterstadt",
            "statusDetails": "Abgeschlossen",
            "additionalInformation": "Die Bescheinigung liegt im Postfach.",
            "createdDate": "2026-12-07T10:00:00Z",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let user = server
        .store
        .user_by_username("erika")
        .await
        .unwrap()
        .unwrap();
    let timeline = PostboxService::new(Arc::clone(&server.app.services))
        .timeline(&user.id, Some("W-7"))
        .await
        .unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!(
        timeline[0].details["de"],
        "Abgeschlossen\n\nDie Bescheinigung liegt im Postfach."
    );

    // konto's own API: a detached JWS over the message part
    let mut message = decision(&handle, "Signierter Bescheid", "basic");
    message["attachments_sha256"] = json!([hex::encode(sha2::Sha256::digest(PDF))]);
    let text = message.to_string();
    let signed_send = |text: String, signature: String, with_file: bool| {
        let server = &server;
        let token = token.clone();
        async move {
            let key = format!("jws-{}-{with_file}", text.len());
            let mut form = reqwest::multipart::Form::new()
                .text("message", text)
                .text("signature", signature);
            if with_file {
                form = form.part(
                    "attachment",
                    reqwest::multipart::Part::bytes(PDF.to_vec())
                        .file_name("b.pdf")
                        .mime_str("application/pdf")
                        .unwrap(),
                );
            }
            let r = reqwest::Client::new()
                .post(server.url("/postbox/v1/messages"))
                .bearer_auth(token)
                .header("idempotency-key", key)
                .multipart(form)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, r) = signed_send(text.clone(), detached_jws(&key, &text), true).await;
    assert_eq!(status, 201, "{r}");
    let read: Value = user_get(
        &server,
        &user_token,
        &format!("/postbox/v1/inbox/{}", r["id"].as_str().unwrap()),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(read["signed"], true);
    let (status, r) = signed_send(text.clone(), detached_jws(&other_key, &text), true).await;
    assert_eq!(
        (status, r["error"].as_str()),
        (400, Some("invalid_signature")),
        "{r}"
    );
    let (status, r) = signed_send(
        text.replace("Signierter", "Falscher"),
        detached_jws(&key, &text),
        true,
    )
    .await;
    assert_eq!(
        (status, r["error"].as_str()),
        (400, Some("invalid_signature")),
        "{r}"
    );
    // a signed message with a file it does not list
    let plain = decision(&handle, "Ohne Liste", "basic").to_string();
    let (status, r) = signed_send(plain.clone(), detached_jws(&key, &plain), true).await;
    assert_eq!(
        (status, r["error"].as_str()),
        (400, Some("invalid_request")),
        "{r}"
    );
    server.stop().await;
}
