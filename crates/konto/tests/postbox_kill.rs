//! A send is acknowledged only once it is durable: konto (the real binary) is killed with
//! SIGKILL in the middle of a burst of postbox sends, on SQLite and on PostgreSQL, and started
//! again. Every acknowledged message is there exactly once (with its attachment), retrying
//! every send that was begun makes no second copy, and the senders' webhook events written
//! before the crash are still delivered.
#![expect(clippy::expect_used, reason = "tests stop with a message")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use konto_core::representation::Party;
use konto_store::{AttachmentStore, PostboxOutbox, PostboxRepo, UserRepo};
use konto_store_sql::{SqlStore, StoreOptions};
use serde_json::{Value, json};
use support::{cli, serve};

mod support;

/// Parallel senders in the burst.
const SENDERS: usize = 12;
/// Acknowledged sends before the kill.
const KILL_AFTER: usize = 150;

/// A webhook that refuses (500) until told to accept, and keeps the SETs it accepted.
async fn webhook(accept: Arc<AtomicBool>, got: Arc<Mutex<Vec<String>>>) -> String {
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(move |body: String| {
            let (accept, got) = (Arc::clone(&accept), Arc::clone(&got));
            async move {
                if !accept.load(Ordering::SeqCst) {
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                got.lock().unwrap_or_else(|p| p.into_inner()).push(body);
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/events", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// The message for `key`: always the same for the same key; every other one with a file.
fn message(handle: &str, key: &str) -> (Value, bool) {
    let with_file = key.ends_with(['1', '3', '5', '7', '9']);
    (
        json!({
            "recipient": handle,
            "kind": "decision",
            "sender": "Finanzamt",
            "service": "Grundsteuer",
            "title": format!("Bescheid {key}"),
            "body": format!("Inhalt {key}"),
            "min_level": "basic",
        }),
        with_file,
    )
}

/// One send; the status and the id of the receipt, or `None` when no answer came.
async fn send(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    handle: &str,
    key: &str,
) -> Option<(u16, String)> {
    let (body, with_file) = message(handle, key);
    let request = http
        .post(format!("{base}/postbox/v1/messages"))
        .bearer_auth(token)
        .header("idempotency-key", key);
    let request = if with_file {
        let form = reqwest::multipart::Form::new()
            .part(
                "message",
                reqwest::multipart::Part::text(body.to_string())
                    .mime_str("application/json")
                    .ok()?,
            )
            .part(
                "attachment",
                reqwest::multipart::Part::bytes(format!("Anlage {key}\n").into_bytes())
                    .file_name("anlage.txt")
                    .mime_str("text/plain")
                    .ok()?,
            );
        request.multipart(form)
    } else {
        request.json(&body)
    };
    let r = request.send().await.ok()?;
    let status = r.status().as_u16();
    let v: Value = r.json().await.ok()?;
    Some((status, v["id"].as_str()?.to_owned()))
}

async fn token(base: &str, secret: &str) -> String {
    let r: Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth("amt", Some(secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "postbox:send"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token JSON");
    r["access_token"].as_str().expect("access token").to_owned()
}

async fn kill_during_sends(database: Option<String>, dir: PathBuf) {
    let (config, base, url) = support::configure(
        &dir,
        database,
        "[postbox]\nwebhook_poll_ms = 50\nwebhook_retry_secs = 1\n",
    );
    let accept = Arc::new(AtomicBool::new(false));
    let got = Arc::new(Mutex::new(Vec::new()));
    let hook = webhook(Arc::clone(&accept), Arc::clone(&got)).await;
    cli(&config, &["migrate"], None);
    let out = cli(
        &config,
        &[
            "client",
            "add",
            "amt",
            "--grant",
            "client_credentials",
            "--scope",
            "postbox:send",
            "--postbox-webhook",
            &hook,
        ],
        None,
    );
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .expect("client secret")
        .to_owned();
    cli(
        &config,
        &["user", "add", "erika"],
        Some("Fahrradklingel-Nordsee-42\n"),
    );
    // the person's postbox, given to the service (as the postbox_handle claim does)
    let store = SqlStore::connect(&url, &StoreOptions::default())
        .await
        .expect("the store");
    let user = store
        .user_by_username("erika")
        .await
        .expect("read")
        .expect("erika");
    let now = time::OffsetDateTime::now_utc();
    let handle = store
        .ensure_postbox(&Party::Person(user.id.clone()), &user.postbox_handle, now)
        .await
        .expect("postbox")
        .handle;
    store
        .release_postbox(&handle, "amt", now)
        .await
        .expect("release");

    let mut server = serve(&config, &base).await;
    let token = token(&base, &secret).await;
    let http = reqwest::Client::new();
    // three messages read before the crash: their events wait for a webhook that refuses
    let mut read = Vec::new();
    for n in 0..3 {
        let (status, id) = send(&http, &base, &token, &handle, &format!("read-{n}"))
            .await
            .expect("an answer");
        assert_eq!(status, 201);
        assert!(store.mark_read(&handle, &id, now).await.expect("read"));
        read.push(id);
    }

    // the burst, and SIGKILL in its middle
    let begun = Arc::new(Mutex::new(BTreeSet::new()));
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (http, base, token, handle) =
                (http.clone(), base.clone(), token.clone(), handle.clone());
            let (begun, acked, count) =
                (Arc::clone(&begun), Arc::clone(&acked), Arc::clone(&count));
            tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("burst-{s}-{i}");
                    begun
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(key.clone());
                    match send(&http, &base, &token, &handle, &key).await {
                        Some((201, id)) => {
                            acked
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert(key, id);
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        Some((status, _)) => panic!("{key}: {status}"),
                        None => return,
                    }
                }
            })
        })
        .collect();
    while count.load(Ordering::SeqCst) < KILL_AFTER {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill();
    for s in senders {
        s.await.expect("a sender");
    }
    let begun = begun.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let acked = acked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(acked.len() >= KILL_AFTER);
    assert!(begun.len() > acked.len(), "some sends were cut off");

    let mut server = serve(&config, &base).await;
    // every acknowledged message is there, exactly once, with its file
    let stored = store.messages(&handle).await.expect("messages");
    let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &stored {
        *per_key.entry(m.idempotency_key.as_str()).or_default() += 1;
    }
    assert!(per_key.values().all(|n| *n == 1), "no key twice");
    for (key, id) in &acked {
        let m = stored
            .iter()
            .find(|m| &m.id == id)
            .unwrap_or_else(|| panic!("acknowledged {key} ({id}) was lost"));
        assert_eq!(&m.idempotency_key, key);
        if message(&handle, key).1 {
            assert!(
                store.attachment(id, 0).await.expect("read").is_some(),
                "{key}'s file"
            );
        }
    }
    // retried, every send that was begun: the acknowledged ones answer with their first id
    let token = crate::token(&base, &secret).await;
    for key in &begun {
        let (status, id) = send(&http, &base, &token, &handle, key)
            .await
            .expect("an answer after the restart");
        match acked.get(key) {
            Some(first) => assert_eq!((status, &id), (200, first), "{key}"),
            None => assert!(status == 200 || status == 201, "{key}: {status}"),
        }
    }
    let stored = store.messages(&handle).await.expect("messages");
    assert_eq!(
        stored.len(),
        begun.len() + read.len(),
        "one message per key"
    );

    // the events written before the crash (and with every stored message: `provided`) reach
    // the webhook once it accepts, each of them
    accept.store(true, Ordering::SeqCst);
    let expected = stored.len() + read.len();
    // at most a minute: the back-off of the refused pushes, and the lease of one the killed
    // node was pushing
    for _ in 0..2400 {
        let events = store.events_for("amt").await.expect("events");
        if events.len() == expected && events.iter().all(|e| e.delivered_at.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let events = store.events_for("amt").await.expect("events");
    assert_eq!(
        events.len(),
        expected,
        "one provided per message, one read per read"
    );
    assert_eq!(
        events.iter().filter(|e| e.event == "read").count(),
        read.len()
    );
    assert!(
        events.iter().all(|e| e.delivered_at.is_some()),
        "undelivered: {:?}",
        events
            .iter()
            .filter(|e| e.delivered_at.is_none())
            .collect::<Vec<_>>()
    );
    let pushed: BTreeSet<String> = got
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter_map(|set| {
            use base64::Engine;
            let payload = set.split('.').nth(1)?;
            let claims: Value = serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .ok()?,
            )
            .ok()?;
            claims["jti"].as_str().map(str::to_owned)
        })
        .collect();
    for e in &events {
        assert!(pushed.contains(&e.id), "{} never arrived", e.id);
    }
    server.kill();
    store.close().await;
    eprintln!(
        "killed after {} acknowledged of {} begun sends; all kept once",
        acked.len(),
        begun.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().expect("a folder");
    kill_during_sends(None, dir.path().to_path_buf()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(schema) = konto_store_sql::testing::PgSchema::create("postbox_kill").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("a folder");
    let url = format!(
        "{}?options=-c%20search_path%3D{}",
        schema.url, schema.schema
    );
    kill_during_sends(Some(url), dir.path().to_path_buf()).await;
    schema.drop_schema().await;
}
