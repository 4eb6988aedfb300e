//! Registration, password reset and the account pages.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use konto_core::Level;
use konto_core::amr::AuthenticatorKind;
use konto_core::attributes::AttributeName;
use konto_core::login::LoginRequest;
use konto_core::password_policy::PasswordRejection;
use konto_core::session::RECENT_AUTHENTICATION;
use konto_service::ServiceError;
use konto_service::account::Registered;
use konto_store::SessionRecord;
use serde::Deserialize;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::{Purpose, see_other};
use crate::app::App;
use crate::error::WebError;
use crate::http::{Browser, check_csrf, clear_cookie, csrf_token, field, form_pairs, set_cookie};
use crate::i18n::Texts;
use crate::pages::{AccountPage, MessagePage, RegisterPage, ResetPage};

/// The browser's binding cookie, created when missing (forms need it for their CSRF token).
pub(super) fn binding(
    app: &App,
    browser: &Browser,
    t: &'static Texts,
) -> Result<(String, Option<axum::http::HeaderValue>), WebError> {
    match &browser.binding {
        Some(b) => Ok((b.clone(), None)),
        None => {
            let b = konto_keys::random::secret()
                .map_err(|e| WebError::internal(e, t))?
                .expose()
                .to_owned();
            let cookie = set_cookie(app, app.cookies.binding, &b, 365 * 24 * 3600);
            Ok((b, Some(cookie)))
        }
    }
}

pub(super) fn with_cookie(mut r: Response, cookie: Option<axum::http::HeaderValue>) -> Response {
    if let Some(c) = cookie {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

fn csrf_ok(
    app: &App,
    browser: &Browser,
    pairs: &[(String, String)],
    t: &'static Texts,
) -> Result<(), WebError> {
    if check_csrf(app, browser, field(pairs, "csrf")) {
        Ok(())
    } else {
        Err(WebError::page(StatusCode::FORBIDDEN, t.error_csrf, t))
    }
}

fn password_error(t: &'static Texts, e: &ServiceError) -> Option<&'static str> {
    match e {
        ServiceError::WeakPassword(PasswordRejection::TooShort) => Some(t.err_password_short),
        ServiceError::WeakPassword(PasswordRejection::TooLong) => Some(t.err_password_long),
        ServiceError::WeakPassword(PasswordRejection::Common) => Some(t.err_password_common),
        ServiceError::WeakPassword(PasswordRejection::ContainsContext) => {
            Some(t.err_password_context)
        }
        ServiceError::BadEmail => Some(t.err_email),
        ServiceError::BadLink => Some(t.err_link),
        ServiceError::RegistrationClosed => Some(t.err_registration_closed),
        _ => None,
    }
}

/// A throttled request (RFC 6585 §4): the wait in seconds for the page and `Retry-After`.
fn throttled_wait(app: &App, e: &ServiceError) -> Option<i64> {
    match e {
        ServiceError::Throttled { retry_at } => {
            Some((*retry_at - app.clock.now().unix_timestamp()).max(1))
        }
        _ => None,
    }
}

/// A form page again: 400 with what was wrong, or 429 with the wait when throttled.
fn form_again(page: Html<String>, wait: Option<i64>) -> Response {
    match wait {
        Some(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, secs.to_string())],
            page,
        )
            .into_response(),
        None => (StatusCode::BAD_REQUEST, page).into_response(),
    }
}

fn message(
    app: &App,
    t: &'static Texts,
    title: &str,
    text: &str,
    link: Option<(String, &str)>,
) -> Response {
    MessagePage {
        t,
        dev: app.config.development,
        title,
        paragraphs: vec![text],
        link,
    }
    .html()
    .into_response()
}

pub(crate) async fn register_form(
    State(app): State<Arc<App>>,
    browser: Browser,
) -> Result<Response, WebError> {
    let t = browser.texts();
    if !app.config.login.registration {
        return Err(WebError::page(
            StatusCode::NOT_FOUND,
            t.err_registration_closed,
            t,
        ));
    }
    let (b, cookie) = binding(&app, &browser, t)?;
    let page = RegisterPage {
        t,
        dev: app.config.development,
        csrf: &csrf_token(&app, &b),
        error: None,
        email: "",
        given_name: "",
        family_name: "",
    }
    .html()
    .into_response();
    Ok(with_cookie(page, cookie))
}

pub(crate) async fn register(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let pairs = form_pairs(&body);
    csrf_ok(&app, &browser, &pairs, t)?;
    let email = field(&pairs, "email").unwrap_or("");
    let given = field(&pairs, "given_name").map(str::to_owned);
    let family = field(&pairs, "family_name").map(str::to_owned);
    match app
        .accounts
        .register(
            email,
            field(&pairs, "password").unwrap_or(""),
            given.clone(),
            family.clone(),
            browser.ip,
        )
        .await
    {
        Ok(()) => Ok(message(&app, t, t.register_title, t.register_sent, None)),
        Err(e) => {
            let wait = throttled_wait(&app, &e);
            let text = match (wait, password_error(t, &e)) {
                (Some(secs), _) => format!("{} {secs}", t.err_throttled),
                (None, Some(text)) => text.to_owned(),
                (None, None) => return Err(WebError::service(e, t)),
            };
            let csrf = browser
                .binding
                .as_deref()
                .map(|b| csrf_token(&app, b))
                .unwrap_or_default();
            let page = RegisterPage {
                t,
                dev: app.config.development,
                csrf: &csrf,
                error: Some(&text),
                email,
                given_name: given.as_deref().unwrap_or(""),
                family_name: family.as_deref().unwrap_or(""),
            }
            .html();
            Ok(form_again(page, wait))
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    token: Option<String>,
}

pub(crate) async fn register_confirm(
    State(app): State<Arc<App>>,
    browser: Browser,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    let t = browser.texts();
    match app
        .accounts
        .confirm_registration(q.token.as_deref().unwrap_or(""))
        .await
    {
        Ok(Registered::Created { .. }) => Ok(message(
            &app,
            t,
            t.register_title,
            t.register_done,
            Some(("/account".into(), t.sign_in)),
        )),
        Ok(Registered::AlreadyExists) => Ok(message(
            &app,
            t,
            t.register_title,
            t.register_exists,
            Some(("/reset".into(), t.forgot_password)),
        )),
        Err(ServiceError::BadLink) => Err(WebError::page(StatusCode::BAD_REQUEST, t.err_link, t)),
        Err(e) => Err(WebError::service(e, t)),
    }
}

pub(crate) async fn reset_form(
    State(app): State<Arc<App>>,
    browser: Browser,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let (b, cookie) = binding(&app, &browser, t)?;
    let page = ResetPage {
        t,
        dev: app.config.development,
        csrf: &csrf_token(&app, &b),
        error: None,
        token: None,
    }
    .html()
    .into_response();
    Ok(with_cookie(page, cookie))
}

pub(crate) async fn reset(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let pairs = form_pairs(&body);
    csrf_ok(&app, &browser, &pairs, t)?;
    match app
        .accounts
        .request_reset(field(&pairs, "email").unwrap_or(""), browser.ip)
        .await
    {
        Ok(()) => Ok(message(&app, t, t.reset_title, t.reset_sent, None)),
        Err(e) => {
            // the same page for every address: nothing here depends on the account
            let Some(secs) = throttled_wait(&app, &e) else {
                return Err(WebError::service(e, t));
            };
            let text = format!("{} {secs}", t.err_throttled);
            let csrf = browser
                .binding
                .as_deref()
                .map(|b| csrf_token(&app, b))
                .unwrap_or_default();
            let page = ResetPage {
                t,
                dev: app.config.development,
                csrf: &csrf,
                error: Some(&text),
                token: None,
            }
            .html();
            Ok(form_again(page, Some(secs)))
        }
    }
}

pub(crate) async fn reset_confirm_form(
    State(app): State<Arc<App>>,
    browser: Browser,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let (b, cookie) = binding(&app, &browser, t)?;
    let token = q.token.unwrap_or_default();
    let page = ResetPage {
        t,
        dev: app.config.development,
        csrf: &csrf_token(&app, &b),
        error: None,
        token: Some(&token),
    }
    .html()
    .into_response();
    Ok(with_cookie(page, cookie))
}

pub(crate) async fn reset_confirm(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let pairs = form_pairs(&body);
    csrf_ok(&app, &browser, &pairs, t)?;
    let token = field(&pairs, "token").unwrap_or("");
    match app
        .accounts
        .reset_password(token, field(&pairs, "password").unwrap_or(""))
        .await
    {
        Ok(()) => {
            let r = message(
                &app,
                t,
                t.reset_title,
                t.reset_done,
                Some(("/account".into(), t.sign_in)),
            );
            Ok(with_cookie(
                r,
                Some(clear_cookie(&app, app.cookies.session)),
            ))
        }
        Err(e) => match password_error(t, &e) {
            Some(text) => {
                let csrf = browser
                    .binding
                    .as_deref()
                    .map(|b| csrf_token(&app, b))
                    .unwrap_or_default();
                let token = if matches!(e, ServiceError::BadLink) {
                    None
                } else {
                    Some(token)
                };
                Ok((
                    StatusCode::BAD_REQUEST,
                    ResetPage {
                        t,
                        dev: app.config.development,
                        csrf: &csrf,
                        error: Some(text),
                        token,
                    }
                    .html(),
                )
                    .into_response())
            }
            None => Err(WebError::service(e, t)),
        },
    }
}

/// A login request for konto's own pages (no client): at least `min_level`.
pub(super) fn account_request(
    browser: &Browser,
    min_level: Level,
    force_login: bool,
) -> LoginRequest {
    LoginRequest {
        client_id: String::new(),
        min_level,
        force_login,
        max_age: None,
        passive: false,
        force_consent: false,
        login_hint: None,
        ui_locales: browser.languages.clone(),
        scopes: Vec::new(),
        claims: Vec::new(),
        temporary_allowed: false,
        acting_for: None,
        legal_representative_required: false,
        authenticators: None,
    }
}

/// Starts a flow for konto's own pages (sign in to the account, or add an authenticator).
pub(super) async fn account_flow(
    app: &App,
    browser: &Browser,
    t: &'static Texts,
    min_level: Level,
    force_login: bool,
    protocol: Purpose,
) -> Result<Response, WebError> {
    let (b, cookie) = binding(app, browser, t)?;
    let request = account_request(browser, min_level, force_login);
    let flow = app
        .login
        .start_flow(&request, protocol.to_json(), &b, true)
        .await
        .map_err(|e| WebError::service(e, t))?;
    Ok(with_cookie(
        see_other(&format!("/login?flow={}", flow.expose())),
        cookie,
    ))
}

pub(super) async fn signed_in(
    app: &App,
    browser: &Browser,
    t: &'static Texts,
) -> Result<Option<SessionRecord>, WebError> {
    app.login
        .session(browser.session.as_deref())
        .await
        .map_err(|e| WebError::service(e, t))
}

pub(crate) async fn show(
    State(app): State<Arc<App>>,
    browser: Browser,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let Some(session) = signed_in(&app, &browser, t).await? else {
        return account_flow(&app, &browser, t, Level::Basic, false, Purpose::Account).await;
    };
    render_account(&app, &browser, t, &session, None, None).await
}

pub(super) async fn render_account(
    app: &App,
    browser: &Browser,
    t: &'static Texts,
    session: &SessionRecord,
    error: Option<&str>,
    notice: Option<&str>,
) -> Result<Response, WebError> {
    let o = app
        .accounts
        .overview(&session.user_id)
        .await
        .map_err(|e| WebError::service(e, t))?;
    let (b, cookie) = binding(app, browser, t)?;
    let date = |d: time::OffsetDateTime| {
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    };
    let attributes = o
        .attributes
        .iter()
        .map(|a| {
            (
                t.attribute(a.name),
                a.value.clone(),
                t.source(&a.source),
                t.level(a.level),
                date(a.verified_at),
            )
        })
        .collect();
    let value_of = |n: AttributeName| {
        o.attributes
            .iter()
            .find(|a| a.name == n)
            .map(|a| a.value.clone())
            .unwrap_or_default()
    };
    let mut consents = Vec::new();
    for c in &o.consents {
        let name = match app.services.store.client(&c.client_id).await {
            Ok(Some(cl)) => cl.party.name,
            _ => c.client_id.clone(),
        };
        consents.push((c.client_id.clone(), name, c.scopes.clone()));
    }
    let now = app.clock.now();
    let sessions = o
        .sessions
        .iter()
        .filter_map(|s| {
            s.auth.standing(now).map(|st| {
                format!(
                    "{} – {} ({})",
                    date(s.created_at),
                    t.level(st.level),
                    st.amr.join(" ")
                )
            })
        })
        .collect();
    let organisations = app
        .orgs
        .organisations_of(&session.user_id)
        .await
        .map_err(|e| WebError::service(e, t))?
        .into_iter()
        .map(|(org, m)| (org.id, org.name, t.role(m.role), org.confirmed_at.is_some()))
        .collect();
    let has = |k: AuthenticatorKind| o.authenticators.contains(&k);
    let page = AccountPage {
        t,
        dev: app.config.development,
        csrf: &csrf_token(app, &b),
        username: &o.user.username,
        error,
        notice,
        attributes,
        given_name: value_of(AttributeName::GivenName),
        family_name: value_of(AttributeName::FamilyName),
        authenticators: o
            .authenticators
            .iter()
            .map(|k| (k.as_str(), t.authenticator(*k)))
            .collect(),
        can_add_passkey: app.services.passkeys.is_some() && !has(AuthenticatorKind::Passkey),
        can_add_elster: app.services.certificates.is_some() && !has(AuthenticatorKind::Elster),
        can_add_eid: app.services.eid.is_some() && !has(AuthenticatorKind::Eid),
        consents,
        organisations,
        sessions,
    }
    .html()
    .into_response();
    Ok(with_cookie(page, cookie))
}

/// Runs an account action for the signed-in user and shows the account page again.
pub(super) async fn account_action(
    app: &Arc<App>,
    browser: &Browser,
    body: &[u8],
) -> Result<(SessionRecord, Vec<(String, String)>, &'static Texts), Response> {
    let t = browser.texts();
    let pairs = form_pairs(body);
    if let Err(e) = csrf_ok(app, browser, &pairs, t) {
        return Err(e.into_response());
    }
    match signed_in(app, browser, t).await {
        Ok(Some(s)) => Ok((s, pairs, t)),
        Ok(None) => Err(see_other("/account")),
        Err(e) => Err(e.into_response()),
    }
}

/// An account change that matters (adding or removing an authenticator, deleting the account):
/// like [`account_action`], and the user must have authenticated recently
/// ([`RECENT_AUTHENTICATION`]); otherwise they sign in again first and then repeat the change.
async fn sensitive_action(
    app: &Arc<App>,
    browser: &Browser,
    body: &[u8],
) -> Result<(SessionRecord, Vec<(String, String)>, &'static Texts), Response> {
    let (session, pairs, t) = account_action(app, browser, body).await?;
    if !recently_authenticated(app, &session) {
        return Err(
            account_flow(app, browser, t, Level::Basic, true, Purpose::Account)
                .await
                .unwrap_or_else(IntoResponse::into_response),
        );
    }
    Ok((session, pairs, t))
}

fn recently_authenticated(app: &App, session: &SessionRecord) -> bool {
    session
        .auth
        .authenticated_within(RECENT_AUTHENTICATION, app.clock.now())
}

/// Signing in again before an account change (the passkey script comes here when told
/// `reauthentication_required`).
pub(crate) async fn confirm(
    State(app): State<Arc<App>>,
    browser: Browser,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let force = signed_in(&app, &browser, t).await?.is_some();
    account_flow(&app, &browser, t, Level::Basic, force, Purpose::Account).await
}

pub(crate) async fn names(State(app): State<Arc<App>>, browser: Browser, body: Bytes) -> Response {
    let (session, pairs, t) = match account_action(&app, &browser, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let result = app
        .accounts
        .update_names(
            &session.user_id,
            field(&pairs, "given_name").map(str::to_owned),
            field(&pairs, "family_name").map(str::to_owned),
        )
        .await;
    let error = match result {
        Ok(()) => None,
        Err(ServiceError::NotEditable) => Some(t.err_not_editable),
        Err(ServiceError::Invalid(_)) => Some(t.error_bad_request),
        Err(e) => return WebError::service(e, t).into_response(),
    };
    render_account(&app, &browser, t, &session, error, None)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// Adding an ELSTER certificate or the eID card: a fresh login at that authenticator's level,
/// which links it after comparing identities.
pub(crate) async fn link(State(app): State<Arc<App>>, browser: Browser, body: Bytes) -> Response {
    let (_session, pairs, t) = match sensitive_action(&app, &browser, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let level = match field(&pairs, "kind") {
        Some("elster") => AuthenticatorKind::Elster.strength(),
        Some("eid") => AuthenticatorKind::Eid.strength(),
        _ => {
            return WebError::page(StatusCode::BAD_REQUEST, t.error_bad_request, t).into_response();
        }
    };
    account_flow(&app, &browser, t, level, true, Purpose::Account)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
pub(crate) struct PasskeyStart {
    csrf: String,
}

fn json_error(status: StatusCode, code: &str) -> Response {
    (status, Json(serde_json::json!({ "error": code }))).into_response()
}

pub(crate) async fn passkey_start(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Response {
    let t = browser.texts();
    let Ok(req) = serde_json::from_slice::<PasskeyStart>(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if !check_csrf(&app, &browser, Some(&req.csrf)) {
        return json_error(StatusCode::FORBIDDEN, "csrf");
    }
    let Some(binding) = browser.binding.as_deref() else {
        return json_error(StatusCode::FORBIDDEN, "csrf");
    };
    let session = match signed_in(&app, &browser, t).await {
        Ok(Some(s)) => s,
        Ok(None) => return json_error(StatusCode::UNAUTHORIZED, "login_required"),
        Err(e) => return e.into_response(),
    };
    if !recently_authenticated(&app, &session) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({
                "error": "reauthentication_required",
                "redirect": "/account/confirm",
            })),
        )
            .into_response();
    }
    let (options, pending) = match app
        .accounts
        .passkey_registration_start(&session.user_id)
        .await
    {
        Ok(v) => v,
        Err(ServiceError::AlreadyLinked) => {
            return json_error(StatusCode::CONFLICT, "already_linked");
        }
        Err(ServiceError::NotAvailable) => {
            return json_error(StatusCode::BAD_REQUEST, "not_available");
        }
        Err(e) => return WebError::service(e, t).into_response(),
    };
    let request = LoginRequest {
        client_id: String::new(),
        min_level: Level::Basic,
        force_login: false,
        max_age: None,
        passive: true,
        force_consent: false,
        login_hint: None,
        ui_locales: Vec::new(),
        scopes: Vec::new(),
        claims: Vec::new(),
        temporary_allowed: false,
        acting_for: None,
        legal_representative_required: false,
        authenticators: None,
    };
    let protocol = Purpose::PasskeyRegistration {
        user_id: session.user_id.clone(),
        pending,
    };
    match app
        .login
        .start_flow(&request, protocol.to_json(), binding, true)
        .await
    {
        Ok(flow) => {
            Json(serde_json::json!({ "flow": flow.expose(), "options": options })).into_response()
        }
        Err(e) => WebError::service(e, t).into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct PasskeyFinish {
    csrf: String,
    flow: String,
    credential: RegisterPublicKeyCredential,
}

pub(crate) async fn passkey_finish(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Response {
    let t = browser.texts();
    let Ok(req) = serde_json::from_slice::<PasskeyFinish>(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if !check_csrf(&app, &browser, Some(&req.csrf)) {
        return json_error(StatusCode::FORBIDDEN, "csrf");
    }
    let session = match signed_in(&app, &browser, t).await {
        Ok(Some(s)) => s,
        Ok(None) => return json_error(StatusCode::UNAUTHORIZED, "login_required"),
        Err(e) => return e.into_response(),
    };
    let Ok(flow) = app
        .login
        .load_flow(&req.flow, browser.binding.as_deref())
        .await
    else {
        return json_error(StatusCode::BAD_REQUEST, "flow_not_found");
    };
    // the ceremony is answered once
    if let Err(e) = app.login.finish_flow(&flow).await {
        return WebError::service(e, t).into_response();
    }
    let Some(Purpose::PasskeyRegistration { user_id, pending }) =
        Purpose::from_json(flow.protocol())
    else {
        return json_error(StatusCode::BAD_REQUEST, "flow_not_found");
    };
    if user_id != session.user_id {
        return json_error(StatusCode::FORBIDDEN, "wrong_account");
    }
    match app
        .accounts
        .passkey_registration_finish(&user_id, &req.credential, &pending)
        .await
    {
        Ok(()) => Json(serde_json::json!({ "redirect": "/account" })).into_response(),
        Err(ServiceError::PasskeyRejected) => {
            json_error(StatusCode::BAD_REQUEST, "passkey_rejected")
        }
        Err(ServiceError::AlreadyLinked) => json_error(StatusCode::CONFLICT, "already_linked"),
        Err(e) => WebError::service(e, t).into_response(),
    }
}

pub(crate) async fn remove_authenticator(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Response {
    let (session, pairs, t) = match sensitive_action(&app, &browser, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(kind) = field(&pairs, "kind").and_then(|k| k.parse::<AuthenticatorKind>().ok()) else {
        return WebError::page(StatusCode::BAD_REQUEST, t.error_bad_request, t).into_response();
    };
    let error = match app
        .accounts
        .remove_authenticator(&session.user_id, kind)
        .await
    {
        Ok(()) => None,
        Err(ServiceError::LastAuthenticator) => Some(t.err_last_authenticator),
        Err(ServiceError::Invalid(_)) => Some(t.error_bad_request),
        Err(e) => return WebError::service(e, t).into_response(),
    };
    render_account(&app, &browser, t, &session, error, None)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn revoke_consent(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Response {
    let (session, pairs, t) = match account_action(&app, &browser, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let client_id = field(&pairs, "client_id").unwrap_or("");
    if let Err(e) = app
        .services
        .store
        .revoke_consent(&session.user_id, client_id)
        .await
    {
        return WebError::service(e.into(), t).into_response();
    }
    render_account(&app, &browser, t, &session, None, None)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn logout(State(app): State<Arc<App>>, browser: Browser, body: Bytes) -> Response {
    let (session, _pairs, t) = match account_action(&app, &browser, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(e) = app.login.end_session(&session).await {
        return WebError::service(e, t).into_response();
    }
    let r = message(&app, t, t.logout_title, t.logged_out, None);
    with_cookie(r, Some(clear_cookie(&app, app.cookies.session)))
}

pub(crate) async fn delete(State(app): State<Arc<App>>, browser: Browser, body: Bytes) -> Response {
    let (session, pairs, t) = match sensitive_action(&app, &browser, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if field(&pairs, "confirm") != Some("yes") {
        return render_account(&app, &browser, t, &session, Some(t.delete_confirm), None)
            .await
            .unwrap_or_else(IntoResponse::into_response);
    }
    match app.accounts.delete(&session.user_id).await {
        Ok(()) => {}
        Err(ServiceError::LastAdministrator) => {
            return render_account(
                &app,
                &browser,
                t,
                &session,
                Some(t.org_err_last_admin),
                None,
            )
            .await
            .unwrap_or_else(IntoResponse::into_response);
        }
        Err(e) => return WebError::service(e, t).into_response(),
    }
    let r = message(&app, t, t.delete_account, t.account_deleted, None);
    with_cookie(r, Some(clear_cookie(&app, app.cookies.session)))
}
