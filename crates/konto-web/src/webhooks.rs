//! Pushing what happens to postbox messages to their senders: each event in the outbox
//! (written in the same transaction as the read or deletion it reports) is sent to the
//! sender's webhook as a Security Event Token (RFC 8417), signed with konto's current RS256
//! key and delivered by HTTP POST as RFC 8935 describes, at least once: a node takes an event
//! with a lease, retries a failed push with doubling back-off, and gives up after the
//! configured attempts (the sender can still poll `GET /postbox/v1/messages/{id}`). Events
//! survive restarts because they are rows, not tasks.

use std::sync::Arc;
use std::time::Duration;

use konto_core::client::SigningAlg;
use konto_store::PostboxEvent;
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::app::App;

/// The event types, as URIs (RFC 8417 §2.2: the keys of `events`).
pub const EVENT_PROVIDED: &str = "urn:konto:postbox:event:message-provided";
pub const EVENT_READ: &str = "urn:konto:postbox:event:message-read";
pub const EVENT_DELETED: &str = "urn:konto:postbox:event:message-deleted";

/// How long one push may take.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a node holds an event it is pushing before another may try: a push's time and a
/// margin (a node that died while pushing delays its event by this much).
const LEASE: Duration = Duration::from_secs(15);
/// Events taken per look at the outbox.
const BATCH: u32 = 32;

/// When attempt `attempts` + 1 comes after a failure of attempt `attempts` (counted from 1):
/// `base`, then twice as long each time, at most an hour.
pub fn backoff(attempts: u32, base: Duration) -> Duration {
    let factor = 1u32 << attempts.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(Duration::from_secs(3600))
}

/// The claims of the SET for `event` (RFC 8417 §2.2): issuer, audience (the client), when it
/// was issued and when the event happened (`toe`), a unique `jti`, and one event.
pub fn set_claims(issuer: &str, event: &PostboxEvent, now: OffsetDateTime) -> serde_json::Value {
    let (uri, detail) = match event.event.as_str() {
        "provided" => (EVENT_PROVIDED, json!({ "message_id": event.message_id })),
        "read" => (EVENT_READ, json!({ "message_id": event.message_id })),
        reason => (
            EVENT_DELETED,
            json!({ "message_id": event.message_id, "reason": reason }),
        ),
    };
    json!({
        "iss": issuer,
        "aud": event.client_id,
        "iat": now.unix_timestamp(),
        "toe": event.occurred_at.unix_timestamp(),
        "jti": event.id,
        "events": { uri: detail },
    })
}

/// The HTTP client for pushes: bounded time, no redirects, the configured CAs.
fn http_client(app: &App) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(PUSH_TIMEOUT)
        .user_agent(concat!("konto/", env!("CARGO_PKG_VERSION")));
    let ca = &app.config.postbox.webhook_ca_file;
    match std::fs::read(ca) {
        Ok(pem) => match reqwest::Certificate::from_pem_bundle(&pem) {
            Ok(roots) => {
                builder = builder.tls_built_in_root_certs(false);
                for root in roots {
                    builder = builder.add_root_certificate(root);
                }
            }
            Err(e) => tracing::warn!(error = %e, file = %ca.display(),
                "the webhook CA file is no PEM bundle: https webhooks will fail"),
        },
        Err(e) => tracing::info!(error = %e, file = %ca.display(),
            "no webhook CA file: https webhooks will fail"),
    }
    builder.build().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the webhook client could not be built with its CAs");
        reqwest::Client::new()
    })
}

/// Pushes due events until `shutdown` turns true.
pub fn spawn(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let every = Duration::from_millis(app.config.postbox.webhook_poll_ms.max(10));
    let client = http_client(&app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tick.tick() => {
                    if let Err(e) = push_due(&app, &client).await {
                        tracing::warn!(error = %e, "the postbox outbox could not be read");
                    }
                }
            }
        }
    });
}

/// One look at the outbox: every due event this node can take is pushed.
async fn push_due(app: &App, client: &reqwest::Client) -> Result<(), konto_store::StoreError> {
    let store = &app.services.store;
    let now = app.clock.now();
    for event in store.due_events(now, BATCH).await? {
        if !store.claim_event(&event.id, now, now + LEASE).await? {
            continue;
        }
        let attempts = event.attempts + 1;
        let outcome = push(app, client, &event).await;
        let now = app.clock.now();
        match outcome {
            Ok(()) => {
                store.event_delivered(&event.id, now).await?;
                tracing::info!(event = %event.id, client_id = %event.client_id,
                    "postbox event delivered");
            }
            Err(why) => {
                let cfg = &app.config.postbox;
                let retry = (attempts < cfg.webhook_attempts.max(1)).then(|| {
                    now + backoff(attempts, Duration::from_secs(cfg.webhook_retry_secs.max(1)))
                });
                if retry.is_none() {
                    tracing::warn!(event = %event.id, client_id = %event.client_id, error = %why,
                        "postbox event given up after its last attempt");
                } else {
                    tracing::info!(event = %event.id, client_id = %event.client_id, error = %why,
                        attempt = attempts, "postbox event push failed; will retry");
                }
                store
                    .event_attempt_failed(&event.id, &why, retry, now)
                    .await?;
            }
        }
    }
    Ok(())
}

/// One push of one event: `Err` says why it did not arrive.
async fn push(app: &App, client: &reqwest::Client, event: &PostboxEvent) -> Result<(), String> {
    let hook = match app.services.store.client(&event.client_id).await {
        Ok(Some(c)) => c.party.postbox_webhook,
        Ok(None) => None,
        Err(e) => return Err(format!("the client could not be read: {e}")),
    };
    let Some(hook) = hook else {
        return Err("the client has no webhook (any more)".into());
    };
    let claims = set_claims(app.config.server.issuer.as_str(), event, app.clock.now());
    let payload = serde_json::to_vec(&claims).map_err(|e| e.to_string())?;
    let set = app
        .oidc
        .keys()
        .sign(SigningAlg::RS256, "secevent+jwt", &payload)
        .map_err(|e| format!("signing: {e}"))?;
    let response = client
        .post(&hook)
        .header(reqwest::header::CONTENT_TYPE, "application/secevent+jwt")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(set)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    // RFC 8935 §2.2: 202 Accepted; any success is taken as received
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the webhook answered {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_to_an_hour() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(1, base), Duration::from_secs(30));
        assert_eq!(backoff(2, base), Duration::from_secs(60));
        assert_eq!(backoff(4, base), Duration::from_secs(240));
        assert_eq!(backoff(8, base), Duration::from_secs(3600));
        assert_eq!(backoff(u32::MAX, base), Duration::from_secs(3600));
        assert_eq!(backoff(0, base), base);
    }

    #[test]
    fn a_set_carries_one_event_for_its_client() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let event = PostboxEvent {
            id: "m1.deleted".into(),
            client_id: "amt".into(),
            message_id: "m1".into(),
            event: "account_deleted".into(),
            occurred_at: at,
            attempts: 0,
            next_attempt_at: at,
            delivered_at: None,
            failed_at: None,
            last_error: None,
        };
        let c = set_claims(
            "https://konto.example",
            &event,
            at + time::Duration::minutes(1),
        );
        assert_eq!(c["aud"], "amt");
        assert_eq!(c["jti"], "m1.deleted");
        assert_eq!(c["toe"], 1_800_000_000);
        assert_eq!(c["iat"], 1_800_000_060);
        assert_eq!(c["events"][EVENT_DELETED]["reason"], "account_deleted");
        assert_eq!(c["events"].as_object().map(|o| o.len()), Some(1));
    }
}
