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
pub use routes::Protocol;

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

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

fn layered(app: &Arc<App>, router: axum::Router) -> axum::Router {
    router
        .layer(middleware::from_fn_with_state(
            Arc::clone(app),
            security::headers,
        ))
        .layer(middleware::from_fn(limit_uri))
        .layer(RequestBodyLimitLayer::new(app.config.server.max_body_bytes))
        .layer(CatchPanicLayer::custom(panic_response))
}

/// The main listener's routes with every layer.
pub fn router(app: Arc<App>) -> axum::Router {
    layered(&app, routes::router(Arc::clone(&app)))
}

/// The certificate-login listener's routes with every layer.
pub fn cert_router(app: Arc<App>) -> axum::Router {
    layered(&app, routes::cert_router(Arc::clone(&app)))
}
