//! OpenID Connect endpoints: thin handlers around the engine.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use konto_oidc::{
    AuthorizeError, BearerError, ClientAuthInput, ErrorResponse, IntrospectionResponse,
    MandateCheckResponse, OAuthError, Params, TokenResponse,
};

use super::login::begin;
use super::openapi::{
    DiscoveryDocument, IntrospectionRequest, JwkSet, MandateCheckRequest, RevocationRequest,
    TokenRequest, UserinfoRequest, UserinfoResponse,
};
use super::{answer, see_other};
use crate::app::App;
use crate::error::{WebError, bearer_error_response, oauth_error_response};
use crate::http::{Browser, check_csrf, clear_cookie, csrf_token, field, form_pairs};
use crate::pages::{LogoutPage, MessagePage};

/// Back-channel requests are forms (RFC 6749 §3.2).
const FORM: &str = "application/x-www-form-urlencoded";

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

/// The provider's metadata
///
/// OpenID Connect Discovery 1.0 §3.
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "oauth",
    responses(
        (status = 200, description = "Cacheable for an hour", body = DiscoveryDocument,
         headers(("Cache-Control" = String, description = "public, max-age=3600"))),
    )
)]
pub(crate) async fn discovery(State(app): State<Arc<App>>) -> Response {
    json(app.oidc.discovery().to_string(), "public, max-age=3600")
}

/// The provider's public signing keys
///
/// RFC 7517: the keys that sign ID tokens and access tokens, the next one published before it
/// is used.
#[utoipa::path(
    get,
    path = "/jwks",
    tag = "oauth",
    responses(
        (status = 200, description = "Cacheable for five minutes", body = JwkSet,
         content_type = "application/json",
         headers(("Cache-Control" = String, description = "public, max-age=300"))),
    )
)]
pub(crate) async fn jwks(State(app): State<Arc<App>>) -> Response {
    // short enough that a rotation (whose next key is published beforehand) is seen in time
    json(app.oidc.jwks().to_string(), "public, max-age=300")
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case(FORM))
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
        Err(AuthorizeError::Redirect(resp)) => return Ok(answer(&app, t, &resp.into())),
    };
    begin(
        &app,
        &browser,
        &request.login,
        request.flow.to_protocol_json(),
    )
    .await
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

/// Tokens for a code, a refresh token, or the client's own credentials
///
/// RFC 6749 §3.2, §4.1.3, §4.4, §6; OIDC Core §3.1.3, §12. Confidential clients authenticate
/// (Basic, or in the form body); public clients send `client_id` and the PKCE verifier.
#[utoipa::path(
    post,
    path = "/token",
    tag = "oauth",
    request_body(content = TokenRequest, content_type = FORM),
    security((), ("client_secret_basic" = [])),
    responses(
        (status = 200, description = "RFC 6749 §5.1", body = TokenResponse,
         headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "RFC 6749 §5.2: the request is malformed or refused",
         body = ErrorResponse),
        (status = 401,
         description = "invalid_client; with `WWW-Authenticate: Basic` after Basic credentials",
         body = ErrorResponse),
        (status = 500, description = "server_error (detail only in konto's log)",
         body = ErrorResponse),
        (status = 503, description = "temporarily_unavailable",
         body = ErrorResponse),
    )
)]
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
pub(crate) fn bearer(
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, BearerError> {
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

/// Claims about the user behind an access token
///
/// OIDC Core §5.3: the token needs the `openid` scope; it comes in the Authorization header, or
/// in a form body with POST (RFC 6750 §2.2), never both.
#[utoipa::path(
    method(get, post),
    path = "/userinfo",
    tag = "oauth",
    request_body(content = Option<UserinfoRequest>, content_type = FORM,
        description = "POST only, and only instead of the Authorization header"),
    security(("access_token" = [])),
    responses(
        (status = 200, description = "The claims", body = UserinfoResponse),
        (status = 400,
         description = "invalid_request, in `WWW-Authenticate: Bearer` (RFC 6750 §3)"),
        (status = 401, description = "No token, or invalid_token, in `WWW-Authenticate: Bearer`"),
        (status = 403, description = "insufficient_scope: the token lacks `openid`"),
        (status = 500, description = "server_error",
         body = ErrorResponse),
        (status = 503, description = "temporarily_unavailable",
         body = ErrorResponse),
    )
)]
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

/// Whether a token is active
///
/// RFC 7662, for the confidential client the token was issued to; any other token reads as
/// `{"active": false}`.
#[utoipa::path(
    post,
    path = "/introspect",
    tag = "oauth",
    request_body(content = IntrospectionRequest, content_type = FORM),
    security(("client_secret_basic" = []), ()),
    responses(
        (status = 200, description = "RFC 7662 §2.2", body = IntrospectionResponse),
        (status = 400, description = "RFC 6749 §5.2: the request is malformed or refused",
         body = ErrorResponse),
        (status = 401,
         description = "invalid_client; with `WWW-Authenticate: Basic` after Basic credentials",
         body = ErrorResponse),
        (status = 500, description = "server_error (detail only in konto's log)",
         body = ErrorResponse),
        (status = 503, description = "temporarily_unavailable",
         body = ErrorResponse),
    )
)]
pub(crate) async fn introspect(State(app): State<Arc<App>>, request: BackChannel) -> Response {
    match app.oidc.introspect(request.input(), app.clock.now()).await {
        Ok(m) => json(serde_json::to_string(&m).unwrap_or_default(), "no-store"),
        Err(e) => oauth_error_response(&e),
    }
}

/// Whether a mandate holds now
///
/// konto's mandate check for relying parties (client authentication as at `/token`, confidential
/// clients only): a mandate whose scope does not cover the calling client reads as unknown,
/// `{"active": false}`.
#[utoipa::path(
    post,
    path = "/mandates/check",
    tag = "konto",
    request_body(content = MandateCheckRequest, content_type = FORM),
    security(("client_secret_basic" = []), ()),
    responses(
        (status = 200, description = "The mandate's standing, or `{\"active\": false}`",
         body = MandateCheckResponse),
        (status = 400, description = "RFC 6749 §5.2: the request is malformed or refused",
         body = ErrorResponse),
        (status = 401,
         description = "invalid_client; with `WWW-Authenticate: Basic` after Basic credentials",
         body = ErrorResponse),
        (status = 500, description = "server_error (detail only in konto's log)",
         body = ErrorResponse),
        (status = 503, description = "temporarily_unavailable",
         body = ErrorResponse),
    )
)]
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

/// Revokes a token
///
/// RFC 7009: a refresh token ends its grant; an access token is denied until it expires.
/// Unknown tokens are not an error.
#[utoipa::path(
    post,
    path = "/revoke",
    tag = "oauth",
    request_body(content = RevocationRequest, content_type = FORM),
    security((), ("client_secret_basic" = [])),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke; no body"),
        (status = 400, description = "RFC 6749 §5.2: the request is malformed or refused",
         body = ErrorResponse),
        (status = 401,
         description = "invalid_client; with `WWW-Authenticate: Basic` after Basic credentials",
         body = ErrorResponse),
        (status = 500, description = "server_error (detail only in konto's log)",
         body = ErrorResponse),
        (status = 503, description = "temporarily_unavailable",
         body = ErrorResponse),
    )
)]
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
    super::saml::after_session_end(
        &app,
        t,
        session.as_ref().map(|s| s.id.as_str()),
        request.redirect_to.as_deref(),
    )
    .await
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
    let session = app
        .login
        .session(browser.session.as_deref())
        .await
        .map_err(|e| WebError::service(e, t))?;
    if let Some(s) = &session {
        app.login
            .end_session(s)
            .await
            .map_err(|e| WebError::service(e, t))?;
    }
    super::saml::after_session_end(
        &app,
        t,
        session.as_ref().map(|s| s.id.as_str()),
        request.redirect_to.as_deref(),
    )
    .await
}

pub(crate) fn after_logout(
    app: &App,
    t: &'static crate::i18n::Texts,
    redirect: Option<&str>,
) -> Response {
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
