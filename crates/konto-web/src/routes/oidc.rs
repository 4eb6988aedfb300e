//! OpenID Connect endpoints: thin handlers around the engine.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use konto_oidc::{AuthorizeError, BearerError, ClientAuthInput, OAuthError, Params};

use super::login::{Ctx, render};
use super::{Protocol, authorization_response, see_other};
use crate::app::App;
use crate::error::{WebError, bearer_error_response, oauth_error_response};
use crate::http::{Browser, check_csrf, clear_cookie, csrf_token, field, form_pairs, set_cookie};
use crate::pages::{LogoutPage, MessagePage};
use konto_service::login::Next;

fn json(body: String, cache: &'static str) -> Response {
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

pub(crate) async fn discovery(State(app): State<Arc<App>>) -> Response {
    json(app.oidc.discovery().to_string(), "public, max-age=3600")
}

pub(crate) async fn jwks(State(app): State<Arc<App>>) -> Response {
    // short enough that a rotation (whose next key is published beforehand) is seen in time
    json(app.oidc.jwks().to_string(), "public, max-age=300")
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
}

/// Parameters of a request: the query for GET, the form body for POST (OIDC Core §3.1.2.1).
fn request_params(
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Params, OAuthError> {
    if *method == Method::POST {
        if !is_form(headers) {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| OAuthError::invalid_request("the body is not UTF-8"))?;
        Params::parse(text)
    } else {
        Params::parse(query.unwrap_or(""))
    }
}

pub(crate) async fn authorize(
    State(app): State<Arc<App>>,
    browser: Browser,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let params = request_params(&method, query.as_deref(), &headers, &body)
        .map_err(|e| WebError::refused(&e.description, t))?;
    let request = match app
        .oidc
        .validate_authorization(&params, &browser.languages)
        .await
    {
        Ok(r) => r,
        Err(AuthorizeError::Page(e)) => {
            return Err(WebError::refused(
                format!("{}: {}", e.code, e.description),
                t,
            ));
        }
        Err(AuthorizeError::Redirect(resp)) => return Ok(authorization_response(&app, t, &resp)),
    };
    let t = browser.texts_for(&request.login.ui_locales);
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
    let protocol = Protocol::Oidc(request.flow).to_json();
    let flow = app
        .login
        .prepare_flow(&request.login, protocol, false)
        .map_err(|e| WebError::service(e, t))?;
    let session = app
        .login
        .session(browser.session.as_deref())
        .await
        .map_err(|e| WebError::service(e, t))?;
    let mut ctx = Ctx {
        flow,
        flow_id: String::new(),
        session,
        t,
        csrf: csrf_token(&app, &binding),
        typed_username: None,
    };
    let next = app
        .login
        .next(&ctx.flow, ctx.session.as_ref())
        .await
        .map_err(|e| WebError::service(e, t))?;
    // Single sign-on and prompt=none are answered at once; only a login that shows a page is stored.
    if !matches!(next, Next::Complete(_) | Next::Fail(..)) {
        let id = app
            .login
            .persist_flow(&mut ctx.flow, &binding)
            .await
            .map_err(|e| WebError::service(e, t))?;
        ctx.flow_id = id.expose().to_owned();
    }
    let mut r = render(&app, ctx, next, None, StatusCode::OK).await?;
    if new_binding {
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&app, app.cookies.binding, &binding, 365 * 24 * 3600),
        );
    }
    Ok(r)
}

fn authorization_header(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// A client's back-channel request (token, introspection, revocation): a form body (RFC 6749
/// §3.2) and the client's credentials; anything else is answered with the OAuth error.
pub(crate) struct BackChannel {
    params: Params,
    authorization: Option<String>,
}

impl BackChannel {
    fn input(&self) -> ClientAuthInput<'_> {
        ClientAuthInput {
            authorization: self.authorization.as_deref(),
            params: &self.params,
        }
    }
}

impl FromRequest<Arc<App>> for BackChannel {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<App>) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !is_form(&headers) {
            return Err(oauth_error_response(&OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            )));
        }
        let params = std::str::from_utf8(&body)
            .map_err(|_| OAuthError::invalid_request("the body is not UTF-8"))
            .and_then(Params::parse)
            .map_err(|e| oauth_error_response(&e))?;
        Ok(BackChannel {
            params,
            authorization: authorization_header(&headers).map(str::to_owned),
        })
    }
}

pub(crate) async fn token(State(app): State<Arc<App>>, request: BackChannel) -> Response {
    match app.oidc.token(request.input(), app.clock.now()).await {
        Ok(resp) => {
            let body = serde_json::to_string(&resp).unwrap_or_default();
            let mut r = json(body, "no-store");
            r.headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            r
        }
        Err(e) => oauth_error_response(&e),
    }
}

/// The bearer token of a userinfo request: header, or form body (RFC 6750 §2.1, §2.2), never both.
fn bearer(method: &Method, headers: &HeaderMap, body: &[u8]) -> Result<String, BearerError> {
    let from_header = match authorization_header(headers) {
        Some(h) => match h.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                Some(token.trim().to_owned())
            }
            _ => {
                return Err(BearerError::InvalidRequest(
                    "the Authorization header is not a Bearer token".into(),
                ));
            }
        },
        None => None,
    };
    let from_body = if *method == Method::POST && is_form(headers) {
        let text = std::str::from_utf8(body)
            .map_err(|_| BearerError::InvalidRequest("the body is not UTF-8".into()))?;
        let params = Params::parse(text).map_err(|e| BearerError::InvalidRequest(e.description))?;
        params.get("access_token").map(str::to_owned)
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(BearerError::InvalidRequest("send the token once".into())),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(BearerError::Missing),
    }
}

pub(crate) async fn userinfo(
    State(app): State<Arc<App>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = match bearer(&method, &headers, &body) {
        Ok(t) => t,
        Err(e) => return bearer_error_response(&e),
    };
    match app.oidc.userinfo(&token, app.clock.now()).await {
        Ok(claims) => json(serde_json::Value::Object(claims).to_string(), "no-store"),
        Err(e) => bearer_error_response(&e),
    }
}

pub(crate) async fn introspect(State(app): State<Arc<App>>, request: BackChannel) -> Response {
    match app.oidc.introspect(request.input(), app.clock.now()).await {
        Ok(m) => json(serde_json::to_string(&m).unwrap_or_default(), "no-store"),
        Err(e) => oauth_error_response(&e),
    }
}

/// konto's mandate check for relying parties (client authentication as at `/token`).
pub(crate) async fn check_mandate(State(app): State<Arc<App>>, request: BackChannel) -> Response {
    match app
        .oidc
        .check_mandate(request.input(), app.clock.now())
        .await
    {
        Ok(m) => json(serde_json::to_string(&m).unwrap_or_default(), "no-store"),
        Err(e) => oauth_error_response(&e),
    }
}

pub(crate) async fn revoke(State(app): State<Arc<App>>, request: BackChannel) -> Response {
    match app.oidc.revoke(request.input(), app.clock.now()).await {
        Ok(()) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response(),
        Err(e) => oauth_error_response(&e),
    }
}

/// RP-Initiated Logout 1.0: with an ID token of the current session the session ends at once;
/// otherwise the user confirms (so a foreign page cannot sign people out).
pub(crate) async fn logout(
    State(app): State<Arc<App>>,
    browser: Browser,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let params = request_params(&method, query.as_deref(), &headers, &body)
        .map_err(|e| WebError::refused(&e.description, t))?;
    let request = app
        .oidc
        .logout_request(&params)
        .await
        .map_err(|e| WebError::refused(&e.description, t))?;
    let t = browser.texts_for(&request.ui_locales);
    let session = app
        .login
        .session(browser.session.as_deref())
        .await
        .map_err(|e| WebError::service(e, t))?;
    let hinted = session
        .as_ref()
        .is_some_and(|s| request.hinted_session.as_deref() == Some(s.id.as_str()));
    if session.is_some() && !hinted {
        let Some(binding) = &browser.binding else {
            return Err(WebError::page(StatusCode::BAD_REQUEST, t.error_csrf, t));
        };
        let keep: Vec<(String, String)> = [
            "id_token_hint",
            "client_id",
            "post_logout_redirect_uri",
            "state",
            "ui_locales",
        ]
        .iter()
        .filter_map(|k| params.get(k).map(|v| ((*k).to_owned(), v.to_owned())))
        .collect();
        let mut page = LogoutPage {
            t,
            dev: app.config.development,
            csrf: &csrf_token(&app, binding),
            params: keep,
        }
        .html()
        .into_response();
        // the confirmation's answer is a redirect to the client's post-logout address
        page.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            crate::security::csp_with_form_targets(request.redirect_to.as_deref(), true),
        );
        return Ok(page);
    }
    if let Some(s) = &session {
        app.login
            .end_session(s)
            .await
            .map_err(|e| WebError::service(e, t))?;
    }
    Ok(after_logout(&app, t, request.redirect_to.as_deref()))
}

pub(crate) async fn logout_confirm(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let pairs = form_pairs(&body);
    if !check_csrf(&app, &browser, field(&pairs, "csrf")) {
        return Err(WebError::page(StatusCode::FORBIDDEN, t.error_csrf, t));
    }
    let params = Params::from_pairs(pairs.into_iter().filter(|(k, _)| k != "csrf").collect())
        .map_err(|e| WebError::refused(&e.description, t))?;
    let request = app
        .oidc
        .logout_request(&params)
        .await
        .map_err(|e| WebError::refused(&e.description, t))?;
    if let Some(s) = app
        .login
        .session(browser.session.as_deref())
        .await
        .map_err(|e| WebError::service(e, t))?
    {
        app.login
            .end_session(&s)
            .await
            .map_err(|e| WebError::service(e, t))?;
    }
    Ok(after_logout(&app, t, request.redirect_to.as_deref()))
}

fn after_logout(app: &App, t: &'static crate::i18n::Texts, redirect: Option<&str>) -> Response {
    let mut r = match redirect {
        Some(to) => see_other(to),
        None => MessagePage {
            t,
            dev: app.config.development,
            title: t.logout_title,
            paragraphs: vec![t.logged_out],
            link: None,
        }
        .html()
        .into_response(),
    };
    r.headers_mut()
        .append(header::SET_COOKIE, clear_cookie(app, app.cookies.session));
    r
}
