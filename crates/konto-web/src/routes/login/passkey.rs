//! Passkey login (WebAuthn): `konto.js` asks for a challenge, the authenticator signs it, and
//! the assertion comes back here. Both steps speak JSON.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use konto_service::ServiceError;
use konto_service::login::Step;
use serde::Deserialize;
use webauthn_rs::prelude::PublicKeyCredential;

use super::{json_error, json_step, json_take_step};
use crate::app::App;
use crate::error::WebError;
use crate::http::Browser;

#[derive(Deserialize)]
struct Start {
    /// The account's name; absent when the flow already knows the user (a second factor).
    /// An unknown name gets a decoy challenge, so names cannot be probed.
    #[serde(default)]
    username: Option<String>,
}

pub(crate) async fn start(State(app): State<Arc<App>>, browser: Browser, body: Bytes) -> Response {
    let (mut ctx, req) = match json_step::<Start>(&app, &browser, &body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let name = req.username.as_deref().filter(|n| !n.trim().is_empty());
    match app.login.passkey_start(&mut ctx.flow, name).await {
        Ok(challenge) => Json(challenge).into_response(),
        Err(ServiceError::NotAvailable) => json_error(StatusCode::BAD_REQUEST, "not_available"),
        Err(ServiceError::Invalid(_)) => json_error(StatusCode::BAD_REQUEST, "invalid_request"),
        Err(e) => WebError::service(e, ctx.t).into_response(),
    }
}

#[derive(Deserialize)]
struct Finish {
    credential: PublicKeyCredential,
}

pub(crate) async fn finish(State(app): State<Arc<App>>, browser: Browser, body: Bytes) -> Response {
    let (ctx, req) = match json_step::<Finish>(&app, &browser, &body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let step = Step::Passkey {
        credential: &req.credential,
        source: browser.ip,
    };
    match json_take_step(&app, ctx, step).await {
        Ok(r) => r,
        Err((ServiceError::PasskeyRejected, _)) => {
            json_error(StatusCode::UNAUTHORIZED, "passkey_rejected")
        }
        Err((ServiceError::Throttled { .. }, _)) => {
            json_error(StatusCode::TOO_MANY_REQUESTS, "throttled")
        }
        Err((ServiceError::Invalid(_), _)) => {
            json_error(StatusCode::BAD_REQUEST, "invalid_request")
        }
        Err((e, t)) => WebError::service(e, t).into_response(),
    }
}
