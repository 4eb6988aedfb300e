//! The login pages of a flow. Every handler loads the flow (bound to this browser), checks the
//! CSRF token, makes one service call (`LoginService::step`) and renders what comes back: the
//! relying party's answer (the flow is through), the next page, or the way back to it
//! (post/redirect/get).
//!
//! - [`page`]: the login page itself, password, the unlinked-identity choice, consent, cancel;
//! - [`passkey`]: WebAuthn ceremonies (JSON, driven by `konto.js`);
//! - [`external`]: the eID card and the ELSTER certificate, which leave the page and come back;
//! - [`render`]: what a step's result looks like.

pub(crate) mod external;
pub(crate) mod page;
pub(crate) mod passkey;
mod render;

use std::sync::Arc;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use konto_core::login::LoginRequest;
use konto_core::secret::Secret;
use konto_service::ServiceError;
use konto_service::login::{Advanced, Flow, Step};
use konto_store::SessionRecord;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::see_other;
use crate::app::App;
use crate::error::WebError;
use crate::http::{Browser, check_csrf, csrf_token, field, form_pairs, set_cookie};
use crate::i18n::Texts;
pub(crate) use render::respond;

#[derive(Deserialize)]
pub(crate) struct FlowQuery {
    flow: Option<String>,
}

impl FlowQuery {
    pub(crate) fn flow(&self) -> Option<&str> {
        self.flow.as_deref()
    }
}

/// A flow with everything a page needs.
pub(crate) struct Ctx {
    pub(crate) flow: Flow,
    pub(crate) flow_id: String,
    pub(crate) session: Option<SessionRecord>,
    pub(crate) t: &'static Texts,
    pub(crate) csrf: String,
    /// The name typed into the password form, shown again with its error.
    pub(crate) typed_username: Option<String>,
}

/// Starts the login of a validated request of any protocol (`protocol`: its tagged JSON) in
/// this browser. Single sign-on and passive requests are answered at once; only a login that
/// shows a page is stored, and its page is this response.
pub(crate) async fn begin(
    app: &Arc<App>,
    browser: &Browser,
    login: &LoginRequest,
    protocol: String,
) -> Result<Response, WebError> {
    let t = browser.texts_for(&login.ui_locales);
    let (binding, new_binding) = match &browser.binding {
        Some(b) => (b.clone(), false),
        None => (
            konto_keys::random::secret()
                .map_err(|e| WebError::internal(e, t))?
                .expose()
                .to_owned(),
            true,
        ),
    };
    let began = app
        .login
        .begin(login, protocol, &binding, browser.session.as_deref())
        .await
        .map_err(|e| WebError::service(e, t))?;
    let ctx = Ctx {
        flow: began.flow,
        flow_id: began
            .flow_id
            .as_ref()
            .map(|id| id.expose().to_owned())
            .unwrap_or_default(),
        session: None,
        t,
        csrf: csrf_token(app, &binding),
        typed_username: None,
    };
    let mut r = respond(app, &ctx, began.advanced)?;
    if new_binding {
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(app, app.cookies.binding, &binding, 365 * 24 * 3600),
        );
    }
    Ok(r)
}

async fn load(app: &App, browser: &Browser, flow_id: Option<&str>) -> Result<Ctx, WebError> {
    let t0 = browser.texts();
    let flow_id =
        flow_id.ok_or_else(|| WebError::page(StatusCode::BAD_REQUEST, t0.error_flow, t0))?;
    let flow = app
        .login
        .load_flow(flow_id, browser.binding.as_deref())
        .await
        .map_err(|e| WebError::service(e, t0))?;
    ctx_for(app, browser, flow, flow_id).await
}

/// The page context of a flow this browser started, loaded by the caller.
async fn ctx_for(app: &App, browser: &Browser, flow: Flow, flow_id: &str) -> Result<Ctx, WebError> {
    let t = browser.texts_for(&flow.request.ui_locales);
    let session = app
        .login
        .session(browser.session.as_deref())
        .await
        .map_err(|e| WebError::service(e, t))?;
    let csrf = browser
        .binding
        .as_deref()
        .map(|b| csrf_token(app, b))
        .unwrap_or_default();
    Ok(Ctx {
        flow,
        flow_id: flow_id.to_owned(),
        session,
        t,
        csrf,
        typed_username: None,
    })
}

/// A login form's post: its fields, and its flow once the form's CSRF token is checked.
async fn form_step(
    app: &App,
    browser: &Browser,
    body: &[u8],
) -> Result<(Vec<(String, String)>, Ctx), WebError> {
    let pairs = form_pairs(body);
    let ctx = load(app, browser, field(&pairs, "flow")).await?;
    csrf_ok(app, browser, field(&pairs, "csrf"), ctx.t)?;
    Ok((pairs, ctx))
}

fn csrf_ok(
    app: &App,
    browser: &Browser,
    token: Option<&str>,
    t: &'static Texts,
) -> Result<(), WebError> {
    if check_csrf(app, browser, token) {
        Ok(())
    } else {
        Err(WebError::page(StatusCode::FORBIDDEN, t.error_csrf, t))
    }
}

/// Sets the session cookie a step created or renewed.
fn with_session_cookie(app: &App, mut r: Response, cookie: Option<&Secret>) -> Response {
    if let Some(c) = cookie {
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(app, app.cookies.session, c.expose(), 12 * 3600),
        );
    }
    r
}

fn back_to_flow(flow_id: &str) -> Response {
    see_other(&format!("/login?flow={flow_id}"))
}

/// The text for a service error on the login page.
fn error_text(app: &App, t: &'static Texts, e: &ServiceError) -> String {
    match e {
        ServiceError::BadCredentials => t.err_credentials.to_owned(),
        ServiceError::Throttled { retry_at } => {
            let wait = (*retry_at - app.clock.now().unix_timestamp()).max(1);
            format!("{} {wait}", t.err_throttled)
        }
        ServiceError::PasskeyRejected => t.err_passkey.to_owned(),
        ServiceError::BelongsToAnotherAccount => t.err_other_account.to_owned(),
        ServiceError::IdentityConflict { attributes } => {
            let names: Vec<&str> = attributes.iter().map(|a| t.attribute(*a)).collect();
            format!("{} {}", t.err_conflict, names.join(", "))
        }
        ServiceError::AlreadyLinked => t.err_already_linked.to_owned(),
        ServiceError::NotAvailable => t.err_unavailable.to_owned(),
        ServiceError::Certificate(code) => format!("{} {code}", t.err_cert_prefix),
        ServiceError::Eid(code) => format!("{} {code}", t.err_eid_prefix),
        ServiceError::RegistrationClosed => t.err_registration_closed.to_owned(),
        other => other.to_string(),
    }
}

/// Takes one step of the flow and answers it.
async fn take_step(app: &Arc<App>, mut ctx: Ctx, step: Step<'_>) -> Result<Response, WebError> {
    let session = ctx.session.take();
    let advanced = app
        .login
        .step(&mut ctx.flow, session, step)
        .await
        .map_err(|e| WebError::service(e, ctx.t))?;
    respond(app, &ctx, advanced)
}

/// The JSON endpoints' error: `{"error": code}`.
fn json_error(status: StatusCode, code: &str) -> Response {
    (status, Json(serde_json::json!({ "error": code }))).into_response()
}

/// A JSON step of a flow: the flow, its CSRF token, and the step's own fields.
#[derive(Deserialize)]
struct JsonStep<T> {
    flow: String,
    csrf: String,
    #[serde(flatten)]
    body: T,
}

/// Parses a JSON step, loads its flow and checks its CSRF token; the error is the response.
async fn json_step<T: DeserializeOwned>(
    app: &App,
    browser: &Browser,
    body: &[u8],
) -> Result<(Ctx, T), Response> {
    let Ok(req) = serde_json::from_slice::<JsonStep<T>>(body) else {
        return Err(json_error(StatusCode::BAD_REQUEST, "invalid_request"));
    };
    let Ok(ctx) = load(app, browser, Some(&req.flow)).await else {
        return Err(json_error(StatusCode::BAD_REQUEST, "flow_not_found"));
    };
    if !check_csrf(app, browser, Some(&req.csrf)) {
        return Err(json_error(StatusCode::FORBIDDEN, "csrf"));
    }
    Ok((ctx, req.body))
}

/// A script's step: kept in the flow, and the script sent back to the login page, which
/// answers the client or shows what comes next. The error is the caller's to answer.
async fn json_take_step(
    app: &App,
    mut ctx: Ctx,
    step: Step<'_>,
) -> Result<Response, (ServiceError, &'static Texts)> {
    let session = ctx.session.take();
    match app.login.step(&mut ctx.flow, session, step).await {
        Ok(Advanced { cookie, .. }) => {
            let r = Json(serde_json::json!({ "redirect": format!("/login?flow={}", ctx.flow_id) }))
                .into_response();
            Ok(with_session_cookie(app, r, cookie.as_ref()))
        }
        Err(e) => Err((e, ctx.t)),
    }
}

/// The JSON answer to a linking conflict.
fn json_link_conflict(e: &ServiceError) -> Option<Response> {
    let code = match e {
        ServiceError::BelongsToAnotherAccount => "belongs_to_another_account",
        ServiceError::IdentityConflict { .. } => "identity_conflict",
        ServiceError::AlreadyLinked => "already_linked",
        _ => return None,
    };
    Some(json_error(StatusCode::CONFLICT, code))
}
