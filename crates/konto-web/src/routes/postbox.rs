//! The postbox API for relying parties: a service delivers a message or decision into the
//! postbox of a person whose handle it was given (the `postbox_handle` claim). One call each
//! into `PostboxService`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use konto_core::Level;
use konto_core::postbox::{BodyFormat, MAX_BODY_BYTES, MessageKind, NewMessage};
use konto_core::scope;
use konto_service::ServiceError;
use konto_service::postbox::{Evidence, EvidenceKind, NewAttachment, PostboxService};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use utoipa::ToSchema;

use super::oidc::bearer;
use crate::app::App;
use crate::error::bearer_error_response;

/// The largest message accepted: the largest body and room for the other fields.
pub(crate) const MAX_REQUEST_BYTES: usize = MAX_BODY_BYTES * 2 + 16 * 1024;

/// The largest request accepted: a message and its attachments, with room for the parts'
/// headers.
pub(crate) fn max_request_bytes(rules: &konto_core::postbox::AttachmentRules) -> usize {
    let per_file = usize::try_from(rules.max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(4096);
    MAX_REQUEST_BYTES.saturating_add(rules.max_count.saturating_mul(per_file))
}

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
    /// Where the person may answer: an e-mail address or a URL, at most 320 characters.
    #[serde(default)]
    reply_address: Option<String>,
    /// With attachments in a signed request: the SHA-256 (hex) of each file, in order, so that
    /// the signature over this part covers them too.
    #[serde(default)]
    attachments_sha256: Option<Vec<String>>,
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

pub(super) fn refusal(
    status: StatusCode,
    error: &'static str,
    description: impl Into<String>,
) -> Response {
    let body = serde_json::to_string(&PostboxError {
        error,
        error_description: description.into(),
    })
    .unwrap_or_default();
    json(status, body)
}

pub(super) fn json(status: StatusCode, body: String) -> Response {
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
pub(super) async fn service_caller(app: &App, headers: &HeaderMap) -> Result<String, Response> {
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
///
/// With attachments the request is `multipart/form-data`: a part `message` with the JSON,
/// then one part `attachment` per file (its file name and `Content-Type` in the part's
/// headers). Each file's type must be allowed, match its extension and match its content;
/// by default at most 5 files of 2 MiB each, PDF, text, PNG or JPEG.
#[utoipa::path(
    post,
    path = "/postbox/v1/messages",
    tag = "postbox",
    request_body(content(
        (SendRequest = "application/json"),
        (SendRequest = "multipart/form-data"),
    )),
    params(("Idempotency-Key" = String, Header,
        description = "1–255 visible ASCII characters, unique per message for this client")),
    security(("access_token" = [])),
    responses(
        (status = 201, description = "Provided", body = SendReceipt),
        (status = 200, description = "Provided before under this Idempotency-Key",
         body = SendReceipt),
        (status = 400, description = "invalid_request: a field, the JSON or the key; \
            too_many_attachments", body = PostboxError),
        (status = 401, description = "No token, or invalid_token, in `WWW-Authenticate: Bearer`"),
        (status = 403, description = "insufficient_scope: the token lacks `postbox:send`"),
        (status = 404, description = "unknown_recipient: no postbox with that handle was \
            given to this client", body = PostboxError),
        (status = 413, description = "payload_too_large, attachment_too_large", body = PostboxError),
        (status = 415, description = "unsupported_attachment: a type not allowed, or not the \
            type of the content or of the file name", body = PostboxError),
        (status = 422, description = "idempotency_conflict: the key was used for another \
            message", body = PostboxError),
        (status = 500, description = "server_error", body = PostboxError),
        (status = 503, description = "temporarily_unavailable", body = PostboxError),
    )
)]
pub(crate) async fn send(State(app): State<Arc<App>>, request: Request) -> Response {
    let headers = request.headers().clone();
    let client_id = match service_caller(&app, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
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
    let (req, attachments, evidence) = if is_multipart(&headers) {
        match read_multipart(&app, request).await {
            Ok(v) => v,
            Err(r) => return r,
        }
    } else {
        let body = match Bytes::from_request(request, &app).await {
            Ok(b) if b.len() <= MAX_REQUEST_BYTES => b,
            _ => {
                return refusal(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request is too large",
                );
            }
        };
        match json_body::<SendRequest>(&headers, &body) {
            Ok(r) => (r, Vec::new(), None),
            Err(d) => return refusal(StatusCode::BAD_REQUEST, "invalid_request", d),
        }
    };
    if let Some(listed) = &req.attachments_sha256 {
        let sent: Vec<String> = attachments
            .iter()
            .map(|a| hex::encode(sha2::Sha256::digest(&a.data)))
            .collect();
        let listed: Vec<String> = listed.iter().map(|h| h.to_ascii_lowercase()).collect();
        if listed != sent {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "attachments_sha256 does not list the attached files",
            );
        }
    } else if evidence.is_some() && !attachments.is_empty() {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "a signed message with attachments lists them in attachments_sha256",
        );
    }
    let (recipient, message) = match new_message(req) {
        Ok(v) => v,
        Err(d) => return refusal(StatusCode::BAD_REQUEST, "invalid_request", d),
    };
    let postbox = PostboxService::new(Arc::clone(&app.services));
    match postbox
        .send(&client_id, &recipient, key, message, attachments, evidence)
        .await
    {
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

/// The message a request describes, and its recipient; or what does not fit.
fn new_message(req: SendRequest) -> Result<(String, NewMessage), &'static str> {
    let Some(kind) = MessageKind::parse(&req.kind) else {
        return Err("kind must be message or decision");
    };
    let Some(min_level) = parse_level(req.min_level.as_deref()) else {
        return Err("min_level names no level");
    };
    let Some(format) = BodyFormat::parse(req.body_format.as_deref().unwrap_or("text")) else {
        return Err("body_format must be text or html");
    };
    Ok((
        req.recipient,
        NewMessage {
            kind,
            format,
            sender: req.sender,
            service: req.service,
            title: req.title,
            body: req.body,
            min_level,
            reference: req.reference,
            application_id: req.application_id,
            reply_address: req.reply_address,
        },
    ))
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// What a multipart send carries: the message, its attachments, the sender's signature.
type Parts = (SendRequest, Vec<NewAttachment>, Option<Evidence>);

/// The parts of a multipart send: the message, an optional `signature` over it (a detached
/// JWS, RFC 7515 Appendix F, with a key of the client's JWK Set), and its attachments, each
/// read as it streams in and refused as soon as it is over its limit (never buffered whole
/// before that).
async fn read_multipart(app: &Arc<App>, request: Request) -> Result<Parts, Response> {
    let rules = &app.services.config.postbox_attachments;
    let bad = |d: String| refusal(StatusCode::BAD_REQUEST, "invalid_request", d);
    // a file's buffer is made once, as large as the request (at most the file limit): no
    // growing and copying while it streams in, and room to be sealed where it lies
    let hint = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        .min(rules.max_bytes + 64);
    let mut form = Multipart::from_request(request, app).await.map_err(|e| {
        bad(format!(
            "the multipart body does not fit: {}",
            e.body_text()
        ))
    })?;
    let mut message: Option<(SendRequest, String)> = None;
    let mut signature: Option<String> = None;
    let mut attachments = Vec::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(multipart_refusal(&e)),
        };
        match field.name() {
            Some("message") if message.is_none() => {
                let bytes = read_part(field, MAX_REQUEST_BYTES as u64, 0)
                    .await
                    .map_err(|e| match e {
                        PartError::TooLarge => refusal(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "payload_too_large",
                            "the message part is too large",
                        ),
                        PartError::Multipart(e) => multipart_refusal(&e),
                    })?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| bad("the message part is not UTF-8".into()))?;
                let parsed = serde_json::from_str(&text)
                    .map_err(|e| bad(format!("the message part does not fit: {e}")))?;
                message = Some((parsed, text));
            }
            Some("signature") if signature.is_none() => {
                let bytes = read_part(field, konto_keys::MAX_JWS_LEN as u64, 0)
                    .await
                    .map_err(|e| match e {
                        PartError::TooLarge => bad("the signature part is too large".into()),
                        PartError::Multipart(e) => multipart_refusal(&e),
                    })?;
                signature = Some(
                    String::from_utf8(bytes)
                        .map_err(|_| bad("the signature is not a JWS".into()))?
                        .trim()
                        .to_owned(),
                );
            }
            Some("attachment") => {
                if attachments.len() >= rules.max_count {
                    return Err(service_refusal(
                        konto_core::postbox::MessageError::TooManyAttachments(rules.max_count)
                            .into(),
                        "postbox send failed",
                    ));
                }
                let filename = field.file_name().unwrap_or_default().to_owned();
                let content_type = field.content_type().unwrap_or_default().to_owned();
                let data = read_part(field, rules.max_bytes, hint)
                    .await
                    .map_err(|e| match e {
                        PartError::TooLarge => service_refusal(
                            konto_core::postbox::MessageError::AttachmentTooLarge(
                                filename.clone(),
                                rules.max_bytes,
                            )
                            .into(),
                            "postbox send failed",
                        ),
                        PartError::Multipart(e) => multipart_refusal(&e),
                    })?;
                attachments.push(NewAttachment {
                    filename,
                    content_type,
                    data,
                });
            }
            Some(other) => {
                let other: String = other.chars().take(64).collect();
                return Err(bad(format!(
                    "unexpected part {other:?}: only one message and attachments"
                )));
            }
            None => return Err(bad("a part without a name".into())),
        }
    }
    let (message, text) = message.ok_or_else(|| bad("the message part is missing".into()))?;
    let evidence = signature.map(|signature| Evidence {
        kind: EvidenceKind::DetachedJws,
        signature,
        signed: text,
    });
    Ok((message, attachments, evidence))
}

pub(super) enum PartError {
    TooLarge,
    Multipart(MultipartError),
}

/// A part's bytes, at most `max` of them, in a buffer made for `hint` bytes.
pub(super) async fn read_part(
    mut field: Field<'_>,
    max: u64,
    hint: u64,
) -> Result<Vec<u8>, PartError> {
    // room for the nonce and tag of sealing it in place (see `KeyEncryptionKey::encrypt_owned`)
    let mut out =
        Vec::with_capacity(usize::try_from(hint.min(max.saturating_add(64))).unwrap_or(0));
    while let Some(chunk) = field.chunk().await.map_err(PartError::Multipart)? {
        if (out.len() + chunk.len()) as u64 > max {
            return Err(PartError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

pub(super) fn multipart_refusal(e: &MultipartError) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request is too large",
        )
    } else {
        refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("the multipart body does not fit: {}", e.body_text()),
        )
    }
}

/// An attachment's position from a path: a small number.
pub(crate) fn position(n: &str) -> Option<usize> {
    if n.is_empty() || n.len() > 3 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
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
pub(super) fn service_refusal(e: ServiceError, what: &'static str) -> Response {
    use konto_core::postbox::MessageError;
    match e {
        ServiceError::Message(e @ MessageError::TooManyAttachments(_)) => refusal(
            StatusCode::BAD_REQUEST,
            "too_many_attachments",
            e.to_string(),
        ),
        ServiceError::Message(e @ MessageError::AttachmentTooLarge(..)) => refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "attachment_too_large",
            e.to_string(),
        ),
        ServiceError::Message(e @ MessageError::AttachmentType(..)) => refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_attachment",
            e.to_string(),
        ),
        ServiceError::Message(e @ MessageError::Signature(_)) => {
            refusal(StatusCode::BAD_REQUEST, "invalid_signature", e.to_string())
        }
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
    /// Where the person may answer (with the content only).
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_address: Option<String>,
    /// Whether the sender signed the content and konto verified the signature on receipt.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    signed: bool,
    /// The attachments, in order (with the content only): each at
    /// `/postbox/v1/inbox/{id}/attachments/{position}`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<InboxAttachment>,
}

/// An attachment of a message, as the person's app sees it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InboxAttachment {
    position: usize,
    filename: String,
    content_type: String,
    size: u64,
    /// SHA-256 of the file, hex.
    sha256: String,
}

impl From<konto_service::postbox::MessageView> for InboxMessage {
    fn from(m: konto_service::postbox::MessageView) -> Self {
        let signed = m.content.as_ref().is_some_and(|c| c.signature.is_some());
        let reply_address = m.content.as_ref().and_then(|c| c.reply_address.clone());
        let (title, body, body_format, attachments) = match m.content {
            Some(c) => (
                Some(c.title),
                Some(c.body),
                Some(c.format.as_str()),
                c.attachments
                    .into_iter()
                    .enumerate()
                    .map(|(position, a)| InboxAttachment {
                        position,
                        filename: a.filename,
                        content_type: a.content_type,
                        size: a.size,
                        sha256: a.sha256,
                    })
                    .collect(),
            ),
            None => (None, None, None, Vec::new()),
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
            signed,
            reply_address,
            attachments,
        }
    }
}

/// Which page of the inbox.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct InboxParams {
    /// Messages per page, 1–200 (default 50).
    limit: Option<u32>,
    /// Messages to skip (default 0).
    offset: Option<u32>,
    /// Only this application's messages.
    application_id: Option<String>,
}

/// The person's messages
///
/// For the person's own app, with their access token (scope `postbox`): unread first, then
/// newest first, a page at a time (`limit`, `offset`; a `Link` header with `rel="next"`, RFC
/// 8288, names the next page while there is one); the content of those the token's login
/// level reaches. Listing marks nothing read.
#[utoipa::path(
    get,
    path = "/postbox/v1/inbox",
    tag = "postbox",
    params(InboxParams),
    security(("access_token" = [])),
    responses(
        (status = 200, description = "The messages", body = Vec<InboxMessage>),
        (status = 401, description = "No token, or invalid_token, in `WWW-Authenticate: Bearer`"),
        (status = 403, description = "insufficient_scope: the token lacks `postbox`"),
        (status = 500, description = "server_error", body = PostboxError),
        (status = 503, description = "temporarily_unavailable", body = PostboxError),
    )
)]
pub(crate) async fn user_inbox(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    params: Result<axum::extract::Query<InboxParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (user_id, level) = match person_caller(&app, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Ok(axum::extract::Query(params)) = params else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "limit and offset are numbers",
        );
    };
    let limit = params.limit.unwrap_or(50);
    let offset = params.offset.unwrap_or(0);
    if !(1..=konto_service::postbox::MAX_PAGE).contains(&limit)
        || params
            .application_id
            .as_ref()
            .is_some_and(|a| a.len() > 255)
    {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "limit is 1 to 200; application_id at most 255 characters",
        );
    }
    match PostboxService::new(Arc::clone(&app.services))
        .inbox_page(
            &user_id,
            level,
            params.application_id.as_deref(),
            offset,
            limit,
        )
        .await
    {
        Ok((list, more)) => {
            let list: Vec<InboxMessage> = list.into_iter().map(InboxMessage::from).collect();
            let mut r = json(
                StatusCode::OK,
                serde_json::to_string(&list).unwrap_or_default(),
            );
            if more {
                let mut next = format!(
                    "/postbox/v1/inbox?limit={limit}&offset={}",
                    offset.saturating_add(limit)
                );
                if let Some(a) = &params.application_id {
                    next.push_str("&application_id=");
                    next.push_str(
                        &percent_encoding::utf8_percent_encode(
                            a,
                            percent_encoding::NON_ALPHANUMERIC,
                        )
                        .to_string(),
                    );
                }
                if let Ok(v) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
                    r.headers_mut().insert(header::LINK, v);
                }
            }
            r
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
        Err(ServiceError::LevelTooLow { needed }) => step_up_challenge(&app, needed),
        Err(ServiceError::NoMessage) => {
            service_refusal(ServiceError::NoMessage, "postbox read failed")
        }
        Err(e) => service_refusal(e, "postbox read failed"),
    }
}

/// One attachment of the person's message
///
/// For the person's own app, with their access token (scope `postbox`): the file, as it was
/// sent and checked. A message above the login's level is refused as in
/// `/postbox/v1/inbox/{id}`.
#[utoipa::path(
    get,
    path = "/postbox/v1/inbox/{id}/attachments/{n}",
    tag = "postbox",
    params(("id" = String, Path, description = "The message's id"),
           ("n" = u32, Path, description = "The attachment's position, from 0")),
    security(("access_token" = [])),
    responses(
        (status = 200, description = "The file, with its type and name (`Content-Disposition`)"),
        (status = 401, description = "No token, or invalid_token, in `WWW-Authenticate: Bearer`; \
            insufficient_user_authentication with `acr_values`"),
        (status = 403, description = "insufficient_scope: the token lacks `postbox`"),
        (status = 404, description = "unknown_message: no such message or attachment",
         body = PostboxError),
        (status = 500, description = "server_error", body = PostboxError),
        (status = 503, description = "temporarily_unavailable", body = PostboxError),
    )
)]
pub(crate) async fn user_attachment(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::extract::Path((id, n)): axum::extract::Path<(String, String)>,
) -> Response {
    let (user_id, level) = match person_caller(&app, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(n) = position(&n).filter(|_| super::valid_id(&id)) else {
        return service_refusal(ServiceError::NoMessage, "postbox attachment failed");
    };
    match PostboxService::new(Arc::clone(&app.services))
        .attachment(&user_id, None, &id, n, level)
        .await
    {
        Ok((info, data)) => super::download(&info.filename, &info.content_type, data),
        Err(ServiceError::LevelTooLow { needed }) => step_up_challenge(&app, needed),
        Err(e) => service_refusal(e, "postbox attachment failed"),
    }
}

/// RFC 9470 §3: the app signs the person in again at the level named.
fn step_up_challenge(app: &App, needed: Level) -> Response {
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
