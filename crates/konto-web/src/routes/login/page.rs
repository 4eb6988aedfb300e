//! The login page and its form posts: password, the choice for an unlinked identity, consent,
//! whom to act for, cancel. Each one service call, `LoginService::step`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use konto_service::login::Step;

use super::{FlowQuery, form_step, load, take_step};
use crate::app::App;
use crate::error::WebError;
use crate::http::{Browser, field};

pub(crate) async fn show(
    State(app): State<Arc<App>>,
    browser: Browser,
    Query(q): Query<FlowQuery>,
) -> Result<Response, WebError> {
    let ctx = load(&app, &browser, q.flow()).await?;
    take_step(&app, ctx, Step::Show).await
}

pub(crate) async fn password(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let (pairs, mut ctx) = form_step(&app, &browser, &body).await?;
    let username = field(&pairs, "username").unwrap_or("");
    let password = field(&pairs, "password").unwrap_or("");
    ctx.typed_username = Some(username.chars().take(256).collect());
    let step = Step::Password {
        username,
        password,
        source: browser.ip,
    };
    take_step(&app, ctx, step).await
}

pub(crate) async fn unlinked(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let (pairs, ctx) = form_step(&app, &browser, &body).await?;
    let step = match field(&pairs, "action") {
        Some("create") => Step::CreateAccount,
        Some("temporary") => Step::Temporary,
        _ => {
            return Err(WebError::page(
                StatusCode::BAD_REQUEST,
                ctx.t.error_bad_request,
                ctx.t,
            ));
        }
    };
    take_step(&app, ctx, step).await
}

pub(crate) async fn consent(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let (pairs, ctx) = form_step(&app, &browser, &body).await?;
    let approve = field(&pairs, "decision") == Some("allow");
    take_step(&app, ctx, Step::Consent { approve }).await
}

/// The choice whom the user acts for.
pub(crate) async fn acting(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let (pairs, ctx) = form_step(&app, &browser, &body).await?;
    let choice = match field(&pairs, "acting") {
        None | Some("self") => None,
        Some(key) if key.len() <= 300 => Some(key),
        Some(_) => return Err(WebError::refused("the choice is too long", ctx.t)),
    };
    take_step(&app, ctx, Step::Acting { choice }).await
}

pub(crate) async fn cancel(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let (_, ctx) = form_step(&app, &browser, &body).await?;
    take_step(&app, ctx, Step::Cancel).await
}
