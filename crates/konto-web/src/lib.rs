#![doc = include_str!("../README.md")]

pub mod app;
pub mod config;
pub mod dev;
mod error;
mod http;
pub mod i18n;
mod pages;
mod routes;
pub mod run;
pub mod secrets;
mod security;
pub mod server;
pub mod webhooks;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;

pub use app::{App, build, spawn_background};
pub use config::Config;
pub use http::ConnInfo;
pub use routes::Purpose;

/// Why konto cannot start.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("storage: {0}")]
    Store(#[from] konto_store::StoreError),
    #[error("keys: {0}")]
    Keys(#[from] konto_keys::KeyError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// The longest request target accepted (query strings included).
const MAX_URI: usize = 16 * 1024;

async fn limit_uri(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if uri.path().len() + uri.query().map_or(0, str::len) > MAX_URI {
        return (StatusCode::URI_TOO_LONG, "request target too long").into_response();
    }
    next.run(request).await
}

/// Bodies announced up to this size are read and discarded before a 413 (see [`drain_oversized`]).
const DRAIN_MAX: u64 = 1024 * 1024;
/// How long draining an oversized body may take.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// A body announced larger than `server.max_body_bytes` is refused with 413 (RFC 9110 §15.5.14).
/// A server that answers and closes while the client is still sending makes the client's
/// kernel see a reset, and the client loses the answer; so a body of moderate size (up to
/// [`DRAIN_MAX`], within [`DRAIN_TIME`]) is read and thrown away first, and only larger or slower
/// ones get the answer with the connection closed. Bodies without a length are cut by
/// `RequestBodyLimitLayer` inside.
async fn drain_oversized(
    axum::extract::State(max): axum::extract::State<u64>,
    request: Request,
    next: Next,
) -> Response {
    let announced = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(length) = announced.filter(|n| *n > max) else {
        return next.run(request).await;
    };
    let json = request_is_json(request.headers());
    let mut close = true;
    if length <= DRAIN_MAX {
        let drained = tokio::time::timeout(DRAIN_TIME, async {
            let mut body = request.into_body().into_data_stream();
            while let Some(chunk) = futures::StreamExt::next(&mut body).await {
                if chunk.is_err() {
                    return false;
                }
            }
            true
        })
        .await;
        close = !matches!(drained, Ok(true));
    }
    let mut r = if json {
        // the JSON APIs answer in their own form
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            r#"{"error":"payload_too_large","error_description":"the request body is too large"}"#,
        )
            .into_response()
    } else {
        (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response()
    };
    if close {
        r.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    r
}

fn request_is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

/// `router` with bodies limited to `max` bytes.
fn body_limited(router: axum::Router, max: usize) -> axum::Router {
    router
        .layer(RequestBodyLimitLayer::new(max))
        .layer(axum::extract::DefaultBodyLimit::max(max))
        .layer(middleware::from_fn_with_state(max as u64, drain_oversized))
}

fn layered(app: &Arc<App>, router: axum::Router) -> axum::Router {
    router
        .layer(middleware::from_fn_with_state(
            Arc::clone(app),
            security::headers,
        ))
        .layer(middleware::from_fn(limit_uri))
        .layer(CatchPanicLayer::custom(panic_response))
}

/// The main listener's routes with every layer. The postbox API takes larger bodies (a message
/// up to [`konto_core::postbox::MAX_BODY_BYTES`] and its attachments) than the forms and token
/// requests (`server.max_body_bytes`).
pub fn router(app: Arc<App>) -> axum::Router {
    let max = app.config.server.max_body_bytes;
    let main = body_limited(routes::router(Arc::clone(&app)), max);
    let postbox = body_limited(
        routes::postbox_router(Arc::clone(&app)),
        routes::postbox::max_request_bytes(&app.services.config.postbox_attachments).max(max),
    );
    layered(&app, main.merge(postbox))
}

/// The certificate-login listener's routes with every layer.
pub fn cert_router(app: Arc<App>) -> axum::Router {
    let max = app.config.server.max_body_bytes;
    layered(
        &app,
        body_limited(routes::cert_router(Arc::clone(&app)), max),
    )
}
