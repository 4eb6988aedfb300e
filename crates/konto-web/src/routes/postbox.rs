//! The postbox API for relying parties: a service delivers a message or decision into the
//! postbox of a person whose handle it was given (the `postbox_handle` claim). One call each
//! into `PostboxService`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use konto_core::Level;
use konto_core::postbox::{BodyFormat, MAX_BODY_BYTES, MessageKind, NewMessage};
use konto_core::scope;
use konto_service::ServiceError;
use konto_service::postbox::PostboxService;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::oidc::bearer;
use crate::app::App;
use crate::error::bearer_error_response;

/// The largest request accepted: the largest body and room for the other fields.
pub(crate) const MAX_REQUEST_BYTES: usize = MAX_BODY_BYTES * 2 + 16 * 1024;

/// A message for a postbox.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendRequest {
    /// The postbox handle, as the `postbox_handle` claim gave it to this client.
    recipient: String,
    /// `message` or `decision` (a decision counts as delivered some days after it was
    /// provided, OZG §9).
    #[schema(value_type = String)]
    kind: String,
    /// The sending authority, 1–255 characters.
    sender: String,
    /// The online service, 1–255 characters.
    service: String,
    /// 1–1024 characters, one line.
    title: String,
    /// At most 256 KiB: plain text, or HTML with `body_format: "html"`.
    body: String,
    /// `text` (the default) or `html`: paragraphs, headings (h2–h4), emphasis, lists, tables,
    /// `https:`/`mailto:` links. A script, an event handler or another element is refused.
    #[serde(default)]
    body_format: Option<String>,
    /// The level a session must have reached to read the content: `basic`, `low`,
    /// `substantial` or `high` (or an eIDAS or STORK name). Default: `substantial`.
    #[serde(default)]
    min_level: Option<String>,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    application_id: Option<String>,
}

/// What the sender gets back: the message's id and when it was provided.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SendReceipt {
    id: String,
    /// RFC 3339.
    provided_at: String,
    /// For a decision: the day it counts as delivered (`YYYY-MM-DD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    delivered_on: Option<String>,
}

/// A refusal: `error` is a stable code, `error_description` says what to fix.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PostboxError {
    error: &'static str,
    error_description: String,
}

fn refusal(status: StatusCode, error: &'static str, description: impl Into<String>) -> Response {
    let body = serde_json::to_string(&PostboxError {
        error,
        error_description: description.into(),
    })
    .unwrap_or_default();
    json(status, body)
}

fn json(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn parse_level(s: Option<&str>) -> Option<Level> {
    match s {
        None => Some(Level::Substantial),
        Some(v) => v.parse::<Level>().ok().or_else(|| Level::parse_any(v).ok()),
    }
}

/// The calling service: a client credentials token with `postbox:send`, from the
/// Authorization header only (RFC 6750 §2.1: the bodies of these APIs are their own).
async fn service_caller(app: &App, headers: &HeaderMap) -> Result<String, Response> {
    let token = bearer(&Method::GET, headers, &[]).map_err(|e| bearer_error_response(&e))?;
    app.oidc
        .client_for_call(&token, scope::POSTBOX_SEND, app.clock.now())
        .await
        .map_err(|e| bearer_error_response(&e))
}

/// The calling person: their own access token with `postbox`, and the level of its login.
async fn person_caller(app: &App, headers: &HeaderMap) -> Result<(String, Level), Response> {
    let token = bearer(&Method::GET, headers, &[]).map_err(|e| bearer_error_response(&e))?;
    app.oidc
        .user_for_call(&token, scope::POSTBOX, app.clock.now())
        .await
        .map_err(|e| bearer_error_response(&e))
}

/// A JSON body of type `T`, or what does not fit (for an `invalid_request`).
fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, String> {
    if !is_json(headers) {
        return Err("the body must be application/json".into());
    }
    serde_json::from_slice(body).map_err(|e| format!("the JSON does not fit: {e}"))
}

/// Deliver a message
///
/// Needs an access token from the client credentials grant with the scope `postbox:send`, and
/// an `Idempotency-Key` header: a send repeated with the same key and content returns the
/// first receipt (200) instead of making a second message; the same key with other content is
/// refused (422). Answered only once the message is durably stored.
#[utoipa::path(
    post,
    path = "/postbox/v1/messages",
    tag = "postbox",
    request_body(content = SendRequest, content_type = "application/json"),
    params(("Idempotency-Key" = String, Header,
        description = "1–255 visible ASCII characters, unique per message for this client")),
    security(("access_token" = [])),
    responses(
        (status = 201, description = "Provided", body = SendReceipt),
        (status = 200, description = "Provided before under this Idempotency-Key",
         body = SendReceipt),
        (status = 400, description = "invalid_request: a field, the JSON or the key",
         body = PostboxError),
        (status = 401, description = "No token, or invalid_token, in `WWW-Authenticate: Bearer`"),
        (status = 403, description = "insufficient_scope: the token lacks `postbox:send`"),
        (status = 404, description = "unknown_recipient: no postbox with that handle was \
            given to this client", body = PostboxError),
        (status = 413, description = "payload_too_large", body = PostboxError),
        (status = 422, description = "idempotency_conflict: the key was used for another \
            message", body = PostboxError),
        (status = 500, description = "server_error", body = PostboxError),
        (status = 503, description = "temporarily_unavailable", body = PostboxError),
    )
)]
pub(crate) async fn send(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let client_id = match service_caller(&app, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if body.len() > MAX_REQUEST_BYTES {
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request is too large",
        );
    }
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| konto_core::postbox::valid_idempotency_key(k))
    else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "an Idempotency-Key header of 1 to 255 visible ASCII characters is required",
        );
    };
    let req: SendRequest = match json_body(&headers, &body) {
        Ok(r) => r,
        Err(d) => return refusal(StatusCode::BAD_REQUEST, "invalid_request", d),
    };
    let Some(kind) = MessageKind::parse(&req.kind) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "kind must be message or decision",
        );
    };
    let Some(min_level) = parse_level(req.min_level.as_deref()) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "min_level names no level",
        );
    };
    let Some(format) = BodyFormat::parse(req.body_format.as_deref().unwrap_or("text")) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "body_format must be text or html",
        );
    };
    let message = NewMessage {
        kind,
        format,
        sender: req.sender,
        service: req.service,
        title: req.title,
        body: req.body,
        min_level,
        reference: req.reference,
        application_id: req.application_id,
    };
    let postbox = PostboxService::new(Arc::clone(&app.services));
    match postbox.send(&client_id, &req.recipient, key, message).await {
        Ok(r) => {
            let receipt = SendReceipt {
                id: r.id,
                provided_at: rfc3339(r.provided_at),
                delivered_on: r.delivered_on.map(|d| d.to_string()),
            };
            let status = if r.replayed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            json(status, serde_json::to_string(&receipt).unwrap_or_default())
        }
        Err(e) => service_refusal(e, "postbox send failed"),
    }
}

/// Where a message stands, for its sender.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessageStatusResponse {
    id: String,
    /// `provided`, `read` or `deleted` (the content is gone then).
    status: &'static str,
    /// For `deleted`: `deleted_by_person`, or `account_deleted` (the person's account, and
    /// their postbox with it).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    /// RFC 3339.
    provided_at: String,
    /// For a decision: the day it counts as delivered (`YYYY-MM-DD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    delivered_on: Option<String>,
    /// RFC 3339; when the person first read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    read_at: Option<String>,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_at: Option<String>,
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Where a message stands
///
/// For the client that sent it (a client credentials token with `postbox:send`): provided,
/// read (with when), or deleted by the person. Another client's message reads as unknown.
#[utoipa::path(
    get,
    path = "/postbox/v1/messages/{id}",
    tag = "postbox",
    params(("id" = String, Path, description = "The id from the receipt")),
    security(("access_token" = [])),
    responses(
        (status = 200, description = "The message's status", body = MessageStatusResponse),
        (status = 401, description = "No token, or invalid_token, in `WWW-Authenticate: Bearer`"),
        (status = 403, description = "insufficient_scope: the token lacks `postbox:send`"),
        (status = 404, description = "unknown_message", body = PostboxError),
        (status = 500, description = "server_error", body = PostboxError),
        (status = 503, description = "temporarily_unavailable", body = PostboxError),
    )
)]
pub(crate) async fn status(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let client_id = match service_caller(&app, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match PostboxService::new(Arc::clone(&app.services))
        .status(&client_id, &id)
        .await
    {
        Ok(s) => {
            let body = MessageStatusResponse {
                id: s.id,
                status: s.state,
                reason: s.reason,
                provided_at: rfc3339(s.provided_at),
                delivered_on: s.delivered_on.map(|d| d.to_string()),
                read_at: s.read_at.map(rfc3339),
                deleted_at: s.deleted_at.map(rfc3339),
            };
            json(
                StatusCode::OK,
                serde_json::to_string(&body).unwrap_or_default(),
            )
        }
        Err(e) => service_refusal(e, "postbox status failed"),
    }
}

/// A status update for an application (the status monitor).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateRequest {
    /// The postbox handle, as the `postbox_handle` claim gave it to this client.
    recipient: String,
    /// The application's id at the service, 1–255 characters.
    application_id: String,
    /// `INITIATED`, `SUBMITTED`, `RECEIVED`, `PROCESSING`, `ACTION_REQUIRED` or `COMPLETED`.
    #[schema(value_type = String)]
    status: String,
    /// The authority, 1–255 characters.
    sender: String,
    /// The service's name by language; `de` is required.
    #[schema(value_type = Object)]
    service_name: konto_core::postbox::Localized,
    /// What the person should know, by language (at most 4,096 characters each).
    #[serde(default)]
    #[schema(value_type = Object)]
    details: konto_core::postbox::Localized,
    #[serde(default)]
    reference: Option<String>,
}

/// The recorded update's id.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StateReceipt {
    id: String,
}

/// Report where an application stands
///
/// For the client the postbox handle was given to, with a client credentials token with
/// `postbox:send`. The person sees each application's timeline in their postbox.
#[utoipa::path(
    post,
    path = "/postbox/v1/applications/states",
    tag = "postbox",
    request_body(content = StateRequest, content_type = "application/json"),
    security(("access_token" = [])),
    responses(
        (status = 201, description = "Recorded", body = StateReceipt),
        (status = 400, description = "invalid_request", body = PostboxError),
        (status = 401, description = "No token, or invalid_token, in `WWW-Authenticate: Bearer`"),
        (status = 403, description = "insufficient_scope: the token lacks `postbox:send`"),
        (status = 404, description = "unknown_recipient", body = PostboxError),
        (status = 413, description = "payload_too_large", body = PostboxError),
        (status = 500, description = "server_error", body = PostboxError),
        (status = 503, description = "temporarily_unavailable", body = PostboxError),
    )
)]
pub(crate) async fn record_state(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client_id = match service_caller(&app, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let req: StateRequest = match json_body(&headers, &body) {
        Ok(r) => r,
        Err(d) => return refusal(StatusCode::BAD_REQUEST, "invalid_request", d),
    };
    let Some(status) = konto_core::postbox::ApplicationStatus::parse(&req.status) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "status must be INITIATED, SUBMITTED, RECEIVED, PROCESSING, ACTION_REQUIRED or COMPLETED",
        );
    };
    let update = konto_core::postbox::StateUpdate {
        application_id: req.application_id,
        status,
        sender: req.sender,
        service_name: req.service_name,
        details: req.details,
        reference: req.reference,
    };
    match PostboxService::new(Arc::clone(&app.services))
        .record_state(&client_id, &req.recipient, update)
        .await
    {
        Ok(id) => json(
            StatusCode::CREATED,
            serde_json::to_string(&StateReceipt { id }).unwrap_or_default(),
        ),
        Err(e) => service_refusal(e, "postbox status update failed"),
    }
}

/// A service error as the API's refusal.
fn service_refusal(e: ServiceError, what: &'static str) -> Response {
    match e {
        ServiceError::Message(e) => {
            refusal(StatusCode::BAD_REQUEST, "invalid_request", e.to_string())
        }
        ServiceError::Invalid(what) => refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("{what} is not valid"),
        ),
        ServiceError::UnknownRecipient => refusal(
            StatusCode::NOT_FOUND,
            "unknown_recipient",
            "no postbox with this handle was given to this client",
        ),
        ServiceError::IdempotencyConflict => refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_conflict",
            "this Idempotency-Key was used for another message",
        ),
        ServiceError::NoMessage => refusal(
            StatusCode::NOT_FOUND,
            "unknown_message",
            "there is no message with this id here",
        ),
        ServiceError::Unavailable => refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "try again later",
        ),
        e => {
            let id = konto_keys::random::id().unwrap_or_default();
            tracing::error!(error_id = %id, error = %e, "{what}");
            refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                format!("error {id}"),
            )
        }
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// A message as the person's own app sees it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InboxMessage {
    id: String,
    /// `message` or `decision`.
    kind: &'static str,
    sender: String,
    service: String,
    /// The level the token's login must have reached to read the content.
    min_level: &'static str,
    /// Whether title and body are withheld (the login is below `min_level`).
    locked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    /// `text` or `html` (sanitised: safe to show as it is).
    #[serde(skip_serializing_if = "Option::is_none")]
    body_format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    application_id: Option<String>,
    /// RFC 3339.
    provided_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivered_on: Option<String>,
    /// RFC 3339; absent while unread.
    #[serde(skip_serializing_if = "Option::is_none")]
    read_at: Option<String>,
}

impl From<konto_service::postbox::MessageView> for InboxMessage {
    fn from(m: konto_service::postbox::MessageView) -> Self {
        let (title, body, body_format) = match m.content {
            Some(c) => (Some(c.title), Some(c.body), Some(c.format.as_str())),
            None => (None, None, None),
        };
        InboxMessage {
            locked: title.is_none(),
            id: m.id,
            kind: m.kind.as_str(),
            sender: m.sender,
            service: m.service,
            min_level: m.min_level.as_str(),
            title,
            body,
            body_format,
            reference: m.reference,
            application_id: m.application_id,
            provided_at: rfc3339(m.provided_at),
            delivered_on: m.delivered_on.map(|d| d.to_string()),
            read_at: m.read_at.map(rfc3339),
        }
    }
}

/// The person's messages
///
/// For the person's own app, with their access token (scope `postbox`): unread first, the
/// content of those the token's login level reaches. Listing marks nothing read.
#[utoipa::path(
    get,
    path = "/postbox/v1/inbox",
    tag = "postbox",
    security(("access_token" = [])),
    responses(
        (status = 200, description = "The messages", body = Vec<InboxMessage>),
        (status = 401, description = "No token, or invalid_token, in `WWW-Authenticate: Bearer`"),
        (status = 403, description = "insufficient_scope: the token lacks `postbox`"),
        (status = 500, description = "server_error", body = PostboxError),
        (status = 503, description = "temporarily_unavailable", body = PostboxError),
    )
)]
pub(crate) async fn user_inbox(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let (user_id, level) = match person_caller(&app, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match PostboxService::new(Arc::clone(&app.services))
        .inbox(&user_id, level)
        .await
    {
        Ok(list) => {
            let list: Vec<InboxMessage> = list.into_iter().map(InboxMessage::from).collect();
            json(
                StatusCode::OK,
                serde_json::to_string(&list).unwrap_or_default(),
            )
        }
        Err(e) => service_refusal(e, "postbox inbox failed"),
    }
}

/// One of the person's messages
///
/// For the person's own app, with their access token (scope `postbox`); marks it read, as
/// opening it on the page does. A message above the login's level is refused with
/// `insufficient_user_authentication` (RFC 9470), naming the level needed.
#[utoipa::path(
    get,
    path = "/postbox/v1/inbox/{id}",
    tag = "postbox",
    params(("id" = String, Path, description = "The message's id")),
    security(("access_token" = [])),
    responses(
        (status = 200, description = "The message, marked read", body = InboxMessage),
        (status = 401, description = "No token, or invalid_token, in `WWW-Authenticate: Bearer`; \
            insufficient_user_authentication with `acr_values`"),
        (status = 403, description = "insufficient_scope: the token lacks `postbox`"),
        (status = 404, description = "unknown_message", body = PostboxError),
        (status = 500, description = "server_error", body = PostboxError),
        (status = 503, description = "temporarily_unavailable", body = PostboxError),
    )
)]
pub(crate) async fn user_message(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let (user_id, level) = match person_caller(&app, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if id.len() > 64 {
        return service_refusal(ServiceError::NoMessage, "postbox read failed");
    }
    match PostboxService::new(Arc::clone(&app.services))
        .read(&user_id, &id, level)
        .await
    {
        Ok(m) => json(
            StatusCode::OK,
            serde_json::to_string(&InboxMessage::from(m)).unwrap_or_default(),
        ),
        Err(ServiceError::LevelTooLow { needed }) => {
            // RFC 9470 §3: the app signs the person in again at the level named
            let acr = app.oidc.acr_for(needed);
            let mut r = StatusCode::UNAUTHORIZED.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!(
                "Bearer realm=\"konto\", error=\"insufficient_user_authentication\", \
                 error_description=\"this message needs a login at a higher level\", \
                 acr_values=\"{acr}\""
            )) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            r
        }
        Err(ServiceError::NoMessage) => {
            service_refusal(ServiceError::NoMessage, "postbox read failed")
        }
        Err(e) => service_refusal(e, "postbox read failed"),
    }
}
