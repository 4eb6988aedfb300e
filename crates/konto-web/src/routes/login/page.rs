//! The login page and its form posts: password, the choice for an unlinked identity, consent,
//! cancel.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use konto_service::ServiceError;
use konto_service::login::{AuthStep, FailCode};

use super::render::{fail, render_next};
use super::{FlowQuery, after_step, form_step, load, step_result};
use crate::app::App;
use crate::error::WebError;
use crate::http::{Browser, field};

pub(crate) async fn show(
    State(app): State<Arc<App>>,
    browser: Browser,
    Query(q): Query<FlowQuery>,
) -> Result<Response, WebError> {
    let ctx = load(&app, &browser, q.flow()).await?;
    render_next(&app, ctx, None, StatusCode::OK).await
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
    let result = app
        .login
        .password_login(
            &mut ctx.flow,
            ctx.session.as_ref(),
            username,
            password,
            browser.ip,
        )
        .await;
    // RFC 6585 §4 for a throttled login; a wrong password is 401 on the page
    let status = if matches!(result, Err(ServiceError::Throttled { .. })) {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::UNAUTHORIZED
    };
    let shown = |e: &ServiceError| {
        matches!(
            e,
            ServiceError::BadCredentials | ServiceError::Throttled { .. }
        )
    };
    step_result(&app, ctx, result, shown, status).await
}

pub(crate) async fn unlinked(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let (pairs, mut ctx) = form_step(&app, &browser, &body).await?;
    let result = match field(&pairs, "action") {
        Some("create") => {
            app.login
                .create_account_from_pending(&mut ctx.flow, ctx.session.as_ref())
                .await
        }
        Some("temporary") => app
            .login
            .choose_temporary(&mut ctx.flow)
            .await
            .map(|()| AuthStep::Continue),
        _ => {
            return Err(WebError::page(
                StatusCode::BAD_REQUEST,
                ctx.t.error_bad_request,
                ctx.t,
            ));
        }
    };
    match result {
        Ok(step) => after_step(&app, ctx, step).await,
        Err(e) => Err(WebError::service(e, ctx.t)),
    }
}

pub(crate) async fn consent(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let (pairs, mut ctx) = form_step(&app, &browser, &body).await?;
    let approve = field(&pairs, "decision") == Some("allow");
    let approved = app
        .login
        .consent(&mut ctx.flow, ctx.session.as_ref(), approve)
        .await
        .map_err(|e| WebError::service(e, ctx.t))?;
    if approved {
        after_step(&app, ctx, AuthStep::Continue).await
    } else {
        fail(&app, ctx, FailCode::AccessDenied, "the user denied consent").await
    }
}

/// The choice whom the user acts for.
pub(crate) async fn acting(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let (pairs, mut ctx) = form_step(&app, &browser, &body).await?;
    let choice = match field(&pairs, "acting") {
        None | Some("self") => None,
        Some(key) if key.len() <= 300 => Some(key),
        Some(_) => return Err(WebError::refused("the choice is too long", ctx.t)),
    };
    app.login
        .choose_acting(&mut ctx.flow, ctx.session.as_ref(), choice)
        .await
        .map_err(|e| WebError::service(e, ctx.t))?;
    after_step(&app, ctx, AuthStep::Continue).await
}

pub(crate) async fn cancel(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let (_, ctx) = form_step(&app, &browser, &body).await?;
    fail(
        &app,
        ctx,
        FailCode::AccessDenied,
        "the user cancelled the login",
    )
    .await
}
