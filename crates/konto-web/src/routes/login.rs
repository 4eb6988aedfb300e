//! The login pages of a flow. Every handler loads the flow (bound to this browser), does one
//! service call, and either shows the next page or redirects to `GET /login` (post/redirect/get).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use konto_core::amr::AuthenticatorKind;
use konto_core::login::{Authentication, Principal};
use konto_core::scope::Scopes;
use konto_oidc::ErrorCode;
use konto_service::ServiceError;
use konto_service::login::{AuthStep, FailCode, Flow, LoginReason, Next};
use konto_store::SessionRecord;
use serde::Deserialize;
use webauthn_rs::prelude::PublicKeyCredential;

use super::{Protocol, authorization_response, see_other};
use crate::app::App;
use crate::error::WebError;
use crate::http::{Browser, check_csrf, csrf_token, field, form_pairs, set_cookie};
use crate::i18n::Texts;
use crate::pages::{ConsentPage, LoginPage, SecondFactorPage, UnlinkedPage};

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
    })
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

fn back_to_flow(app: &App, flow_id: &str, cookie: Option<&konto_core::secret::Secret>) -> Response {
    let mut r = see_other(&format!("/login?flow={flow_id}"));
    if let Some(c) = cookie {
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(app, app.cookies.session, c.expose(), 12 * 3600),
        );
    }
    r
}

fn step_cookie(step: &AuthStep) -> Option<&konto_core::secret::Secret> {
    match step {
        AuthStep::SignedIn { new_cookie, .. } => new_cookie.as_ref(),
        AuthStep::Continue => None,
    }
}

/// The text for a service error on the login page.
fn error_text(t: &'static Texts, e: &ServiceError) -> String {
    match e {
        ServiceError::BadCredentials => t.err_credentials.to_owned(),
        ServiceError::Throttled { retry_at } => {
            let wait = (*retry_at - time::OffsetDateTime::now_utc().unix_timestamp()).max(1);
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

/// A notice parked in the flow (`linked:elster`, `cert_error:expired`, …) as text.
fn notice_text(t: &'static Texts, notice: &str) -> (Option<String>, Option<String>) {
    match notice.split_once(':') {
        Some(("linked", _)) => (None, Some(t.notice_linked.to_owned())),
        Some(("conflict", _)) => (Some(t.notice_conflict.to_owned()), None),
        Some(("cert_error", code)) => (Some(format!("{} {code}", t.err_cert_prefix)), None),
        Some(("eid_error", code)) => (Some(format!("{} {code}", t.err_eid_prefix)), None),
        _ => (None, None),
    }
}

async fn client_name(app: &App, ctx: &Ctx) -> String {
    match Protocol::from_json(ctx.flow.protocol()) {
        Some(Protocol::Oidc(f)) => match app.services.store.client(&f.client_id).await {
            Ok(Some(c)) => c.name,
            _ => f.client_id,
        },
        _ => "konto".to_owned(),
    }
}

/// Shows what comes next, or completes the flow.
async fn render_next(
    app: &Arc<App>,
    ctx: Ctx,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let next = app
        .login
        .next(&ctx.flow, ctx.session.as_ref())
        .await
        .map_err(|e| WebError::service(e, ctx.t))?;
    render(app, ctx, next, error, status).await
}

/// Shows the page for `next`, or completes the flow.
pub(crate) async fn render(
    app: &Arc<App>,
    mut ctx: Ctx,
    next: Next,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let t = ctx.t;
    let (notice_error, notice) = match app
        .login
        .take_notice(&mut ctx.flow)
        .await
        .map_err(|e| WebError::service(e, t))?
    {
        Some(n) => notice_text(t, &n),
        None => (None, None),
    };
    let error = error.or(notice_error);
    let dev = app.config.development;
    let page = match next {
        Next::Complete(auth) => return complete(app, ctx, auth).await,
        Next::Fail(code, description) => return fail(app, ctx, code, description).await,
        Next::Login {
            reason,
            min_level,
            options,
        } => {
            let name = client_name(app, &ctx).await;
            let reason_text = match reason {
                LoginReason::SignIn => t.login_reason_sign_in,
                LoginReason::StepUp { .. } => t.login_reason_step_up,
                LoginReason::Reauthenticate => t.login_reason_reauth,
            };
            let levels = match reason {
                LoginReason::StepUp { current } => Some((t.level(current), t.level(min_level))),
                _ => None,
            };
            let elster_url = if options.contains(&AuthenticatorKind::Elster) {
                match (&app.cert_base_url, &app.config.elster.proxy_header) {
                    (Some(base), _) => Some(format!(
                        "{}/cert/login?flow={}",
                        base.as_str().trim_end_matches('/'),
                        ctx.flow_id
                    )),
                    (None, Some(_)) => Some(format!("/login/cert/forwarded?flow={}", ctx.flow_id)),
                    (None, None) => None,
                }
            } else {
                None
            };
            let is_oidc = matches!(
                Protocol::from_json(ctx.flow.protocol()),
                Some(Protocol::Oidc(_))
            );
            LoginPage {
                t,
                dev,
                flow: &ctx.flow_id,
                csrf: &ctx.csrf,
                client_name: &name,
                reason: reason_text,
                levels,
                password: options.contains(&AuthenticatorKind::Password),
                passkey: options.contains(&AuthenticatorKind::Passkey),
                elster_url,
                eid: options.contains(&AuthenticatorKind::Eid),
                error,
                notice: notice.as_deref(),
                username: ctx.flow.request.login_hint.as_deref().unwrap_or(""),
                registration: app.config.login.registration,
                cancel: is_oidc,
            }
            .html()
        }
        Next::SecondFactor => SecondFactorPage {
            t,
            dev,
            flow: &ctx.flow_id,
            csrf: &ctx.csrf,
        }
        .html(),
        Next::Unlinked {
            attributes,
            temporary_allowed,
            ..
        } => {
            let rows = attributes
                .iter()
                .map(|a| (t.attribute(a.name), a.value.clone(), t.level(a.level)))
                .collect();
            UnlinkedPage {
                t,
                dev,
                flow: &ctx.flow_id,
                csrf: &ctx.csrf,
                rows,
                registration: app.config.login.registration,
                temporary: temporary_allowed,
            }
            .html()
        }
        Next::Consent { scopes, claims } => {
            let name = client_name(app, &ctx).await;
            let mut items: Vec<String> = scopes
                .iter()
                .map(|s| t.scope(s).to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            items.extend(claims.iter().cloned());
            ConsentPage {
                t,
                dev,
                flow: &ctx.flow_id,
                csrf: &ctx.csrf,
                client_name: &name,
                items,
                remember: ctx.flow.state.temporary.is_none(),
            }
            .html()
        }
    };
    Ok((status, page).into_response())
}

/// The flow is through: the protocol answers.
async fn complete(app: &Arc<App>, ctx: Ctx, auth: Authentication) -> Result<Response, WebError> {
    let t = ctx.t;
    let now = app.clock.now();
    match Protocol::from_json(ctx.flow.protocol()) {
        Some(Protocol::Oidc(f)) => {
            let client = app
                .services
                .store
                .client(&f.client_id)
                .await
                .map_err(|e| WebError::internal(e, t))?
                .ok_or_else(|| WebError::page(StatusCode::BAD_REQUEST, t.error_flow, t))?;
            // OIDC Core §3.1.2.1: with prompt=none the session must be the hinted user's
            if let Some(hint) = &f.id_token_hint_sub
                && ctx.flow.request.passive
            {
                let sub = app
                    .oidc
                    .subject_for(&client, &auth.principal)
                    .map_err(|e| WebError::internal(e, t))?;
                if sub != *hint {
                    return fail(
                        app,
                        ctx,
                        FailCode::LoginRequired,
                        "the signed-in user is not the hinted one",
                    )
                    .await;
                }
            }
            let scopes = Scopes::parse(&f.scope).unwrap_or_default();
            let resp = app
                .oidc
                .issue_code(&f, &client, &auth, &scopes, now)
                .await
                .map_err(|e| WebError::internal(e, t))?;
            app.login
                .finish_flow(&ctx.flow)
                .await
                .map_err(|e| WebError::service(e, t))?;
            if let (Some(mut s), Principal::Account { .. }) = (ctx.session, &auth.principal) {
                app.login
                    .touch(&mut s)
                    .await
                    .map_err(|e| WebError::service(e, t))?;
            }
            Ok(authorization_response(app, t, &resp))
        }
        Some(Protocol::Account) => {
            app.login
                .finish_flow(&ctx.flow)
                .await
                .map_err(|e| WebError::service(e, t))?;
            Ok(see_other("/account"))
        }
        _ => Err(WebError::page(StatusCode::BAD_REQUEST, t.error_flow, t)),
    }
}

async fn fail(
    app: &Arc<App>,
    ctx: Ctx,
    code: FailCode,
    description: &str,
) -> Result<Response, WebError> {
    let t = ctx.t;
    app.login
        .finish_flow(&ctx.flow)
        .await
        .map_err(|e| WebError::service(e, t))?;
    match Protocol::from_json(ctx.flow.protocol()) {
        Some(Protocol::Oidc(f)) => {
            let code = match code {
                FailCode::LoginRequired => ErrorCode::LoginRequired,
                FailCode::ConsentRequired => ErrorCode::ConsentRequired,
                FailCode::UnmetAuthenticationRequirements => {
                    ErrorCode::UnmetAuthenticationRequirements
                }
                FailCode::AccessDenied => ErrorCode::AccessDenied,
            };
            Ok(authorization_response(
                app,
                t,
                &app.oidc.flow_error(&f, code, description),
            ))
        }
        _ => Ok(see_other("/account")),
    }
}

/// After an authentication step: answer the client at once when the flow is through, otherwise
/// keep the flow's new state and show the next page (post/redirect/get).
async fn after_step(app: &Arc<App>, mut ctx: Ctx, step: AuthStep) -> Result<Response, WebError> {
    let t = ctx.t;
    let cookie = step_cookie(&step).cloned();
    if let AuthStep::SignedIn { session, .. } = step {
        ctx.session = Some(session);
    }
    let next = app
        .login
        .next(&ctx.flow, ctx.session.as_ref())
        .await
        .map_err(|e| WebError::service(e, t))?;
    let mut r = match next {
        next @ (Next::Complete(_) | Next::Fail(..)) => {
            render(app, ctx, next, None, StatusCode::OK).await?
        }
        _ => {
            app.login
                .save_state(&ctx.flow)
                .await
                .map_err(|e| WebError::service(e, t))?;
            see_other(&format!("/login?flow={}", ctx.flow_id))
        }
    };
    if let Some(c) = cookie {
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(app, app.cookies.session, c.expose(), 12 * 3600),
        );
    }
    Ok(r)
}

pub(crate) async fn show(
    State(app): State<Arc<App>>,
    browser: Browser,
    Query(q): Query<FlowQuery>,
) -> Result<Response, WebError> {
    let ctx = load(&app, &browser, q.flow.as_deref()).await?;
    render_next(&app, ctx, None, StatusCode::OK).await
}

pub(crate) async fn password(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = form_pairs(&body);
    let mut ctx = load(&app, &browser, field(&pairs, "flow")).await?;
    csrf_ok(&app, &browser, field(&pairs, "csrf"), ctx.t)?;
    let username = field(&pairs, "username").unwrap_or("");
    let password = field(&pairs, "password").unwrap_or("");
    match app
        .login
        .password_login(
            &mut ctx.flow,
            ctx.session.as_ref(),
            username,
            password,
            browser.ip,
        )
        .await
    {
        Ok(step) => after_step(&app, ctx, step).await,
        Err(e @ (ServiceError::BadCredentials | ServiceError::Throttled { .. })) => {
            let status = if matches!(e, ServiceError::Throttled { .. }) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            let text = error_text(ctx.t, &e);
            render_next(&app, ctx, Some(text), status).await
        }
        Err(e) => Err(WebError::service(e, ctx.t)),
    }
}

#[derive(Deserialize)]
pub(crate) struct PasskeyStart {
    flow: String,
    csrf: String,
    #[serde(default)]
    username: Option<String>,
}

fn json_error(status: StatusCode, code: &str) -> Response {
    (status, Json(serde_json::json!({ "error": code }))).into_response()
}

pub(crate) async fn passkey_start(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<PasskeyStart>(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let mut ctx = match load(&app, &browser, Some(&req.flow)).await {
        Ok(c) => c,
        Err(_) => return json_error(StatusCode::BAD_REQUEST, "flow_not_found"),
    };
    if !check_csrf(&app, &browser, Some(&req.csrf)) {
        return json_error(StatusCode::FORBIDDEN, "csrf");
    }
    let name = req.username.as_deref().filter(|n| !n.trim().is_empty());
    match app.login.passkey_start(&mut ctx.flow, name).await {
        Ok(challenge) => Json(challenge).into_response(),
        Err(ServiceError::NotAvailable) => json_error(StatusCode::BAD_REQUEST, "not_available"),
        Err(ServiceError::Invalid(_)) => json_error(StatusCode::BAD_REQUEST, "invalid_request"),
        Err(e) => WebError::service(e, ctx.t).into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct PasskeyFinish {
    flow: String,
    csrf: String,
    credential: PublicKeyCredential,
}

pub(crate) async fn passkey_finish(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<PasskeyFinish>(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let mut ctx = match load(&app, &browser, Some(&req.flow)).await {
        Ok(c) => c,
        Err(_) => return json_error(StatusCode::BAD_REQUEST, "flow_not_found"),
    };
    if !check_csrf(&app, &browser, Some(&req.csrf)) {
        return json_error(StatusCode::FORBIDDEN, "csrf");
    }
    match app
        .login
        .passkey_finish(
            &mut ctx.flow,
            ctx.session.as_ref(),
            &req.credential,
            browser.ip,
        )
        .await
    {
        Ok(step) => {
            if let Err(e) = app.login.save_state(&ctx.flow).await {
                return WebError::service(e, ctx.t).into_response();
            }
            let mut r =
                Json(serde_json::json!({ "redirect": format!("/login?flow={}", ctx.flow_id) }))
                    .into_response();
            if let Some(c) = step_cookie(&step) {
                r.headers_mut().append(
                    header::SET_COOKIE,
                    set_cookie(&app, app.cookies.session, c.expose(), 12 * 3600),
                );
            }
            r
        }
        Err(ServiceError::PasskeyRejected) => {
            json_error(StatusCode::UNAUTHORIZED, "passkey_rejected")
        }
        Err(ServiceError::Throttled { .. }) => {
            json_error(StatusCode::TOO_MANY_REQUESTS, "throttled")
        }
        Err(ServiceError::Invalid(_)) => json_error(StatusCode::BAD_REQUEST, "invalid_request"),
        Err(e) => WebError::service(e, ctx.t).into_response(),
    }
}

pub(crate) async fn eid_start(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = form_pairs(&body);
    let mut ctx = load(&app, &browser, field(&pairs, "flow")).await?;
    csrf_ok(&app, &browser, field(&pairs, "csrf"), ctx.t)?;
    let tc_url = url::Url::parse(&app.url(&format!("/login/eid/tctoken?flow={}", ctx.flow_id)))
        .map_err(|e| WebError::internal(e, ctx.t))?;
    match app.login.eid_start(&mut ctx.flow, &tc_url).await {
        Ok(client) => Ok(see_other(client.as_str())),
        Err(e @ (ServiceError::Eid(_) | ServiceError::NotAvailable)) => {
            let text = error_text(ctx.t, &e);
            render_next(&app, ctx, Some(text), StatusCode::BAD_GATEWAY).await
        }
        Err(e) => Err(WebError::service(e, ctx.t)),
    }
}

/// The TCToken (BSI TR-03124-1), fetched by the eID client without the browser's cookies.
pub(crate) async fn eid_tc_token(
    State(app): State<Arc<App>>,
    browser: Browser,
    Query(q): Query<FlowQuery>,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let flow_id = q
        .flow
        .ok_or_else(|| WebError::page(StatusCode::BAD_REQUEST, t.error_flow, t))?;
    let refresh = url::Url::parse(&app.url(&format!("/login/eid/return?flow={flow_id}")))
        .map_err(|e| WebError::internal(e, t))?;
    let xml = app
        .login
        .eid_tc_token(&flow_id, &refresh, None)
        .await
        .map_err(|e| WebError::service(e, t))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        xml,
    )
        .into_response())
}

/// The browser is back from the eID client (TR-03124-1 refresh address).
pub(crate) async fn eid_return(
    State(app): State<Arc<App>>,
    browser: Browser,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let params = konto_oidc::Params::parse(query.as_deref().unwrap_or("")).unwrap_or_default();
    let mut ctx = load(&app, &browser, params.get("flow")).await?;
    let rest: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
                .filter(|(k, _)| k != "flow"),
        )
        .finish();
    match app
        .login
        .eid_finish(&mut ctx.flow, ctx.session.as_ref(), Some(&rest))
        .await
    {
        Ok(step) => after_step(&app, ctx, step).await,
        Err(ServiceError::Eid(_)) => Ok(back_to_flow(&app, &ctx.flow_id, None)),
        Err(
            e @ (ServiceError::BelongsToAnotherAccount
            | ServiceError::IdentityConflict { .. }
            | ServiceError::AlreadyLinked),
        ) => {
            let text = error_text(ctx.t, &e);
            render_next(&app, ctx, Some(text), StatusCode::CONFLICT).await
        }
        Err(e) => Err(WebError::service(e, ctx.t)),
    }
}

/// The browser is back from the certificate listener.
pub(crate) async fn cert_done(
    State(app): State<Arc<App>>,
    browser: Browser,
    Query(q): Query<FlowQuery>,
) -> Result<Response, WebError> {
    let mut ctx = load(&app, &browser, q.flow.as_deref()).await?;
    match app
        .login
        .take_certificate(&mut ctx.flow, ctx.session.as_ref())
        .await
    {
        Ok(step) => after_step(&app, ctx, step).await,
        Err(
            e @ (ServiceError::BelongsToAnotherAccount
            | ServiceError::IdentityConflict { .. }
            | ServiceError::AlreadyLinked),
        ) => {
            let text = error_text(ctx.t, &e);
            render_next(&app, ctx, Some(text), StatusCode::CONFLICT).await
        }
        Err(e) => Err(WebError::service(e, ctx.t)),
    }
}

/// Certificate login behind a TLS-terminating proxy that forwards the certificate in a header
/// (accepted only from `server.trusted_proxies`).
pub(crate) async fn cert_forwarded(
    State(app): State<Arc<App>>,
    browser: Browser,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Result<Response, WebError> {
    let mut ctx = load(&app, &browser, q.flow.as_deref()).await?;
    let t = ctx.t;
    let peer_trusted = browser
        .conn
        .as_ref()
        .is_some_and(|c| app.is_trusted_proxy(c.peer.ip()));
    let header_name = app.config.elster.proxy_header.as_deref();
    let chain = match (peer_trusted, header_name) {
        (true, Some(name)) => match headers.get(name).and_then(|v| v.to_str().ok()) {
            Some(v) => match konto_authn::cert::parse_forwarded_certificate(v) {
                Ok(chain) => chain,
                Err(e) => {
                    let text = error_text(t, &ServiceError::Certificate(e.code().to_owned()));
                    return render_next(&app, ctx, Some(text), StatusCode::FORBIDDEN).await;
                }
            },
            None => Vec::new(),
        },
        _ => {
            tracing::warn!("a forwarded certificate came from a peer that is not a trusted proxy");
            return Err(WebError::page(StatusCode::FORBIDDEN, t.err_unavailable, t));
        }
    };
    let result = match app.login.certificate(&chain) {
        Ok(verified) => {
            app.login
                .verified_login(&mut ctx.flow, ctx.session.as_ref(), verified)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(step) => after_step(&app, ctx, step).await,
        Err(
            e @ (ServiceError::Certificate(_)
            | ServiceError::BelongsToAnotherAccount
            | ServiceError::IdentityConflict { .. }
            | ServiceError::AlreadyLinked),
        ) => {
            let text = error_text(t, &e);
            render_next(&app, ctx, Some(text), StatusCode::FORBIDDEN).await
        }
        Err(e) => Err(WebError::service(e, t)),
    }
}

#[derive(Deserialize)]
pub(crate) struct CertChallenge {
    flow: String,
    csrf: String,
}

/// Signed-challenge certificate login for non-browser clients: get a challenge…
pub(crate) async fn cert_challenge(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<CertChallenge>(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let Ok(mut ctx) = load(&app, &browser, Some(&req.flow)).await else {
        return json_error(StatusCode::BAD_REQUEST, "flow_not_found");
    };
    if !check_csrf(&app, &browser, Some(&req.csrf)) {
        return json_error(StatusCode::FORBIDDEN, "csrf");
    }
    match app.login.certificate_challenge(&mut ctx.flow).await {
        Ok(challenge) => Json(serde_json::json!({ "challenge": challenge })).into_response(),
        Err(ServiceError::NotAvailable) => json_error(StatusCode::BAD_REQUEST, "not_available"),
        Err(e) => WebError::service(e, ctx.t).into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct CertSigned {
    flow: String,
    csrf: String,
    /// DER certificates, leaf first, standard base64.
    certificates: Vec<String>,
    /// Signature over the challenge's ASCII bytes, standard base64.
    signature: String,
}

/// …and answer it with the certificate chain and a signature over the challenge.
pub(crate) async fn cert_signed(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<CertSigned>(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let Ok(mut ctx) = load(&app, &browser, Some(&req.flow)).await else {
        return json_error(StatusCode::BAD_REQUEST, "flow_not_found");
    };
    if !check_csrf(&app, &browser, Some(&req.csrf)) {
        return json_error(StatusCode::FORBIDDEN, "csrf");
    }
    if req.certificates.len() > 4 {
        return json_error(StatusCode::BAD_REQUEST, "chain_too_long");
    }
    let chain: Result<Vec<Vec<u8>>, _> = req
        .certificates
        .iter()
        .map(|c| STANDARD.decode(c))
        .collect();
    let (Ok(chain), Ok(signature)) = (chain, STANDARD.decode(&req.signature)) else {
        return json_error(StatusCode::BAD_REQUEST, "malformed");
    };
    match app
        .login
        .certificate_signed(&mut ctx.flow, ctx.session.as_ref(), &chain, &signature)
        .await
    {
        Ok(step) => {
            if let Err(e) = app.login.save_state(&ctx.flow).await {
                return WebError::service(e, ctx.t).into_response();
            }
            let mut r =
                Json(serde_json::json!({ "redirect": format!("/login?flow={}", ctx.flow_id) }))
                    .into_response();
            if let Some(c) = step_cookie(&step) {
                r.headers_mut().append(
                    header::SET_COOKIE,
                    set_cookie(&app, app.cookies.session, c.expose(), 12 * 3600),
                );
            }
            r
        }
        Err(ServiceError::Certificate(code)) => json_error(StatusCode::UNAUTHORIZED, &code),
        Err(ServiceError::Invalid(_)) => json_error(StatusCode::BAD_REQUEST, "no_challenge"),
        Err(ServiceError::BelongsToAnotherAccount) => {
            json_error(StatusCode::CONFLICT, "belongs_to_another_account")
        }
        Err(ServiceError::IdentityConflict { .. }) => {
            json_error(StatusCode::CONFLICT, "identity_conflict")
        }
        Err(e) => WebError::service(e, ctx.t).into_response(),
    }
}

pub(crate) async fn unlinked(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = form_pairs(&body);
    let mut ctx = load(&app, &browser, field(&pairs, "flow")).await?;
    csrf_ok(&app, &browser, field(&pairs, "csrf"), ctx.t)?;
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
    let pairs = form_pairs(&body);
    let mut ctx = load(&app, &browser, field(&pairs, "flow")).await?;
    csrf_ok(&app, &browser, field(&pairs, "csrf"), ctx.t)?;
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

pub(crate) async fn cancel(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = form_pairs(&body);
    let ctx = load(&app, &browser, field(&pairs, "flow")).await?;
    csrf_ok(&app, &browser, field(&pairs, "csrf"), ctx.t)?;
    fail(
        &app,
        ctx,
        FailCode::AccessDenied,
        "the user cancelled the login",
    )
    .await
}
