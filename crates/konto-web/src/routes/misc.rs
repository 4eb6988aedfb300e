//! Static files, health, the level documentation page, fallbacks.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::error::WebError;
use crate::http::Browser;
use crate::pages::MessagePage;

const CSS: &str = include_str!("../../static/konto.css");
const JS: &str = include_str!("../../static/konto.js");

pub(crate) async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

pub(crate) async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        JS,
    )
        .into_response()
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain"))
)]
pub(crate) async fn healthz() -> Response {
    (StatusCode::OK, "ok").into_response()
}

/// Readiness: the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
        (status = 503, description = "`database unavailable`", body = String,
         content_type = "text/plain"),
    )
)]
pub(crate) async fn readyz(State(app): State<Arc<App>>) -> Response {
    match app.services.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: database");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// konto's URI for the level `basic` (`{issuer}/loa/basic`) explains itself.
pub(crate) async fn loa_basic(State(app): State<Arc<App>>, browser: Browser) -> Response {
    let t = browser.texts();
    MessagePage {
        t,
        dev: app.config.development,
        title: t.loa_basic_title,
        paragraphs: vec![t.loa_basic_text],
        link: None,
    }
    .html()
    .into_response()
}

pub(crate) async fn home() -> Response {
    super::see_other("/account")
}

pub(crate) async fn not_found(browser: Browser) -> WebError {
    let t = browser.texts();
    WebError::page(StatusCode::NOT_FOUND, t.error_not_found, t)
}
