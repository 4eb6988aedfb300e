//! BundID's postbox API (`/v6/mailbox`), for online services built against it: the same
//! deliveries onto the same `PostboxService`, in BundID's shapes (`reference.md` §6).
//!
//! `PUT /v6/mailbox/messages` is multipart: a part `json` with `{"content": "<message JSON as a
//! string>", "sha512sum": "<base64 RSA-SHA512 signature over content>"}`, checked against the
//! client's registered RSA keys, then one part per attachment, each listed in the content with
//! its `filename`, `sha512sum` (hex SHA-512 of the file) and `contentLength`. A retry of the same
//! content is the same message (the `Idempotency-Key` is the content's hash unless one is sent).
//! Callers authenticate with konto's access tokens (client credentials, `postbox:send`).

use std::sync::Arc;

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use konto_core::Level;
use konto_core::postbox::{ApplicationStatus, BodyFormat, Localized, MessageKind, NewMessage};
use konto_service::postbox::{Evidence, EvidenceKind, NewAttachment, PostboxService};
use serde::Deserialize;
use sha2::{Digest, Sha256, Sha512};

use super::postbox::{
    MAX_REQUEST_BYTES, PartError, json, multipart_refusal, read_part, refusal, service_caller,
    service_refusal,
};
use crate::app::App;

/// The outer `json` part.
#[derive(Debug, Deserialize)]
struct Envelope {
    content: String,
    sha512sum: String,
}

/// A message as BundID's services write it (unknown fields are ignored, as BundID adds some).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundIdMessage {
    mailbox_uuid: String,
    #[serde(rename = "stork_qaa_level", default)]
    stork_qaa_level: Option<String>,
    sender: String,
    title: String,
    content: String,
    service: String,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    application_id: Option<String>,
    #[serde(default)]
    reply_address: Option<String>,
    #[serde(default)]
    attachments: Vec<BundIdAttachment>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundIdAttachment {
    filename: String,
    sha512sum: String,
    content_length: u64,
}

fn bad(d: impl Into<String>) -> Response {
    refusal(StatusCode::BAD_REQUEST, "invalid_request", d)
}

/// Deliver a message in BundID's form
///
/// For services built against BundID's postbox. Multipart: a part `json` with
/// `{"content": "<message JSON as a string>", "sha512sum": "<base64 RSA-SHA512 signature over
/// content>"}` (checked against the RSA keys registered for the client), then one part per
/// attachment, each listed in the content (`attachments: [{filename, sha512sum, contentLength}]`,
/// `sha512sum` the hex SHA-512 of the file). Content fields: `mailboxUuid` (the postbox handle),
/// `stork_qaa_level`, `sender`, `title`, `content`, `service`, `reference`, `applicationId`
/// (others are accepted and ignored). The same content again is the same message.
#[utoipa::path(
    put,
    path = "/v6/mailbox/messages",
    tag = "postbox",
    request_body(content_type = "multipart/form-data", description = "The part `json`, then the attachments"),
    security(("access_token" = [])),
    responses(
        (status = 201, description = "Provided: `{\"messageId\"}`"),
        (status = 200, description = "The same content was provided before: `{\"messageId\"}`"),
        (status = 400, description = "invalid_request, invalid_signature, too_many_attachments",
         body = super::postbox::PostboxError),
        (status = 401, description = "No token, or invalid_token, in `WWW-Authenticate: Bearer`"),
        (status = 403, description = "insufficient_scope: the token lacks `postbox:send`"),
        (status = 404, description = "unknown_recipient", body = super::postbox::PostboxError),
        (status = 413, description = "payload_too_large, attachment_too_large",
         body = super::postbox::PostboxError),
        (status = 415, description = "unsupported_attachment", body = super::postbox::PostboxError),
        (status = 500, description = "server_error", body = super::postbox::PostboxError),
    )
)]
pub(crate) async fn put_message(State(app): State<Arc<App>>, request: Request) -> Response {
    let headers: HeaderMap = request.headers().clone();
    let client_id = match service_caller(&app, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let rules = &app.services.config.postbox_attachments;
    let mut form = match Multipart::from_request(request, &app).await {
        Ok(f) => f,
        Err(e) => return bad(format!("a multipart body is expected: {}", e.body_text())),
    };
    let mut envelope: Option<Envelope> = None;
    let mut files: Vec<NewAttachment> = Vec::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return multipart_refusal(&e),
        };
        if field.name() == Some("json") && envelope.is_none() {
            let bytes = match read_part(field, MAX_REQUEST_BYTES as u64, 0).await {
                Ok(b) => b,
                Err(PartError::TooLarge) => {
                    return refusal(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "the json part is too large",
                    );
                }
                Err(PartError::Multipart(e)) => return multipart_refusal(&e),
            };
            match serde_json::from_slice(&bytes) {
                Ok(e) => envelope = Some(e),
                Err(e) => return bad(format!("the json part does not fit: {e}")),
            }
            continue;
        }
        if files.len() >= rules.max_count {
            return service_refusal(
                konto_core::postbox::MessageError::TooManyAttachments(rules.max_count).into(),
                "postbox v6 send failed",
            );
        }
        let filename = field.file_name().unwrap_or_default().to_owned();
        let content_type = field.content_type().unwrap_or_default().to_owned();
        let data = match read_part(field, rules.max_bytes, 0).await {
            Ok(d) => d,
            Err(PartError::TooLarge) => {
                return service_refusal(
                    konto_core::postbox::MessageError::AttachmentTooLarge(
                        filename,
                        rules.max_bytes,
                    )
                    .into(),
                    "postbox v6 send failed",
                );
            }
            Err(PartError::Multipart(e)) => return multipart_refusal(&e),
        };
        files.push(NewAttachment {
            filename,
            content_type,
            data,
        });
    }
    let Some(envelope) = envelope else {
        return bad("the json part is missing");
    };
    let message: BundIdMessage = match serde_json::from_str(&envelope.content) {
        Ok(m) => m,
        Err(e) => return bad(format!("content does not fit: {e}")),
    };
    // each file as the signed content lists it: the signature covers them through their hashes
    if message.attachments.len() != files.len() {
        return bad("content lists other attachments than were sent");
    }
    for (listed, file) in message.attachments.iter().zip(&files) {
        let hash = hex::encode(Sha512::digest(&file.data));
        if listed.filename != file.filename
            || listed.content_length != file.data.len() as u64
            || !listed.sha512sum.eq_ignore_ascii_case(&hash)
        {
            return bad(format!(
                "attachment {:?} is not the one content lists (name, length, sha512sum)",
                listed.filename
            ));
        }
    }
    let min_level = match message.stork_qaa_level.as_deref() {
        None => Level::Substantial,
        Some(l) => match Level::parse_any(l) {
            Ok(level) => level,
            Err(_) => return bad("stork_qaa_level names no level"),
        },
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            format!(
                "v6-{}",
                hex::encode(Sha256::digest(envelope.content.as_bytes()))
            )
        });
    let evidence = Evidence {
        kind: EvidenceKind::Rs512,
        signature: envelope.sha512sum,
        signed: envelope.content,
    };
    let new = NewMessage {
        kind: MessageKind::Message,
        sender: message.sender,
        service: message.service,
        title: message.title,
        body: message.content,
        format: BodyFormat::Text,
        min_level,
        reference: message.reference,
        application_id: message.application_id,
        reply_address: message.reply_address,
    };
    match PostboxService::new(Arc::clone(&app.services))
        .send(
            &client_id,
            &message.mailbox_uuid,
            &key,
            new,
            files,
            Some(evidence),
        )
        .await
    {
        Ok(r) => json(
            if r.replayed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            },
            serde_json::json!({ "messageId": r.id }).to_string(),
        ),
        Err(e) => service_refusal(e, "postbox v6 send failed"),
    }
}

/// A status update as BundID's services write it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundIdState {
    mailbox_uuid: String,
    application_id: String,
    status: String,
    public_service_name: Localized,
    sender_name: String,
    #[serde(default)]
    status_details: Option<Details>,
    #[serde(default)]
    additional_information: Option<Details>,
    #[serde(default)]
    reference: Option<String>,
}

/// Details as a text (German) or by language.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Details {
    Text(String),
    ByLanguage(Localized),
}

impl Details {
    fn localized(self) -> Localized {
        match self {
            Details::Text(t) => [("de".to_owned(), t)].into(),
            Details::ByLanguage(l) => l,
        }
    }
}

/// Report where an application stands, in BundID's form
///
/// `{"mailboxUuid", "applicationId", "status", "publicServiceName": {"de": …}, "senderName",
/// "statusDetails", "additionalInformation", "reference", "createdDate"}`; details and
/// additional information as a text (German) or by language.
#[utoipa::path(
    post,
    path = "/v6/mailbox/applications/states",
    tag = "postbox",
    request_body(content_type = "application/json", description = "The update"),
    security(("access_token" = [])),
    responses(
        (status = 201, description = "Recorded: `{\"id\"}`"),
        (status = 400, description = "invalid_request", body = super::postbox::PostboxError),
        (status = 401, description = "No token, or invalid_token, in `WWW-Authenticate: Bearer`"),
        (status = 403, description = "insufficient_scope: the token lacks `postbox:send`"),
        (status = 404, description = "unknown_recipient", body = super::postbox::PostboxError),
        (status = 500, description = "server_error", body = super::postbox::PostboxError),
    )
)]
pub(crate) async fn post_state(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let client_id = match service_caller(&app, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let req: BundIdState = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(format!("the JSON does not fit: {e}")),
    };
    let Some(status) = ApplicationStatus::parse(&req.status) else {
        return bad(
            "status must be INITIATED, SUBMITTED, RECEIVED, PROCESSING, ACTION_REQUIRED or COMPLETED",
        );
    };
    // the details and the additional information, each by language, one after the other
    let mut details = req
        .status_details
        .map(Details::localized)
        .unwrap_or_default();
    for (lang, text) in req
        .additional_information
        .map(Details::localized)
        .unwrap_or_default()
    {
        details
            .entry(lang)
            .and_modify(|d| {
                d.push_str("\n\n");
                d.push_str(&text);
            })
            .or_insert(text);
    }
    let update = konto_core::postbox::StateUpdate {
        application_id: req.application_id,
        status,
        sender: req.sender_name,
        service_name: req.public_service_name,
        details,
        reference: req.reference,
    };
    match PostboxService::new(Arc::clone(&app.services))
        .record_state(&client_id, &req.mailbox_uuid, update)
        .await
    {
        Ok(id) => json(
            StatusCode::CREATED,
            serde_json::json!({ "id": id }).to_string(),
        ),
        Err(e) => service_refusal(e, "postbox v6 status update failed"),
    }
}
