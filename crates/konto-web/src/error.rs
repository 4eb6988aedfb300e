//! One error type for every handler. Client errors say what was wrong; server errors say only
//! that something failed, with an id that appears in the log next to the detail.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use konto_oidc::{BearerError, ErrorCode, OAuthError};
use konto_service::ServiceError;

use crate::i18n::Texts;
use crate::pages;

#[derive(Debug)]
pub(crate) enum WebError {
    /// A page in the user's language.
    Page {
        status: StatusCode,
        message: String,
        texts: &'static Texts,
    },
    /// A page in the user's language about a request konto refused, with the technical reason
    /// (English protocol text, for the service's developers) marked as English on the page.
    Refused {
        status: StatusCode,
        message: &'static str,
        detail: String,
        texts: &'static Texts,
    },
    /// Something failed inside konto.
    Internal {
        detail: String,
        texts: &'static Texts,
        json: bool,
    },
}

impl WebError {
    pub(crate) fn page(status: StatusCode, message: &str, texts: &'static Texts) -> WebError {
        WebError::Page {
            status,
            message: message.to_owned(),
            texts,
        }
    }

    /// A refused protocol request (a relying party's, or a link's), explained to the person in
    /// their language; `detail` is the protocol's own English text.
    pub(crate) fn refused(detail: impl std::fmt::Display, texts: &'static Texts) -> WebError {
        WebError::Refused {
            status: StatusCode::BAD_REQUEST,
            message: texts.error_refused_request,
            detail: detail.to_string(),
            texts,
        }
    }

    pub(crate) fn internal(detail: impl std::fmt::Display, texts: &'static Texts) -> WebError {
        WebError::Internal {
            detail: detail.to_string(),
            texts,
            json: false,
        }
    }

    /// A service error shown as a page.
    pub(crate) fn service(e: ServiceError, texts: &'static Texts) -> WebError {
        match e {
            ServiceError::FlowNotFound => {
                WebError::page(StatusCode::BAD_REQUEST, texts.error_flow, texts)
            }
            ServiceError::StepTaken => {
                WebError::page(StatusCode::CONFLICT, texts.error_step_taken, texts)
            }
            ServiceError::ForeignBrowser => {
                WebError::page(StatusCode::FORBIDDEN, texts.error_foreign_browser, texts)
            }
            ServiceError::Unavailable => WebError::Page {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: texts.error_internal.to_owned(),
                texts,
            },
            ServiceError::Internal(d) => WebError::internal(d, texts),
            other => WebError::Refused {
                status: StatusCode::BAD_REQUEST,
                message: texts.error_bad_request,
                detail: other.to_string(),
                texts,
            },
        }
    }
}

fn error_id() -> String {
    konto_keys::random::id()
        .map(|id| id.chars().take(10).collect())
        .unwrap_or_else(|_| "unknown".into())
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Page {
                status,
                message,
                texts,
            } => {
                let html = pages::error_page(texts, &message, None, None);
                (status, html).into_response()
            }
            WebError::Refused {
                status,
                message,
                detail,
                texts,
            } => {
                let html = pages::error_page(texts, message, Some(&detail), None);
                (status, html).into_response()
            }
            WebError::Internal {
                detail,
                texts,
                json,
            } => {
                let id = error_id();
                tracing::error!(error_id = %id, error = %detail, "request failed");
                if json {
                    let body = serde_json::json!({
                        "error": "server_error",
                        "error_description": format!("internal error {id}"),
                    });
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        [(header::CONTENT_TYPE, "application/json")],
                        body.to_string(),
                    )
                        .into_response()
                } else {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        pages::error_page(texts, texts.error_internal, None, Some(&id)),
                    )
                        .into_response()
                }
            }
        }
    }
}

/// RFC 6749 §5.2: JSON body, 400 (401 with `WWW-Authenticate` for a failed Basic login).
pub(crate) fn oauth_error_response(e: &OAuthError) -> Response {
    if e.code == ErrorCode::ServerError {
        let id = error_id();
        tracing::error!(error_id = %id, "server_error returned to a client");
    }
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        e.to_json(),
    )
        .into_response();
    if e.basic_challenge {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"konto\""),
        );
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// RFC 6750 §3: `WWW-Authenticate: Bearer` with the error.
pub(crate) fn bearer_error_response(e: &BearerError) -> Response {
    let (status, challenge) = match e {
        BearerError::Missing => (
            StatusCode::UNAUTHORIZED,
            "Bearer realm=\"konto\"".to_owned(),
        ),
        BearerError::InvalidRequest(d) => (
            StatusCode::BAD_REQUEST,
            format!(
                "Bearer realm=\"konto\", error=\"invalid_request\", error_description=\"{}\"",
                quote_safe(d)
            ),
        ),
        BearerError::InvalidToken(d) => (
            StatusCode::UNAUTHORIZED,
            format!(
                "Bearer realm=\"konto\", error=\"invalid_token\", error_description=\"{}\"",
                quote_safe(d)
            ),
        ),
        BearerError::InsufficientScope(d) => (
            StatusCode::FORBIDDEN,
            format!(
                "Bearer realm=\"konto\", error=\"insufficient_scope\", error_description=\"{}\"",
                quote_safe(d)
            ),
        ),
        BearerError::Server(inner) => return oauth_error_response(inner),
    };
    let mut resp = status.into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

fn quote_safe(s: &str) -> String {
    s.chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}
