//! The HTTP side: one handler for every request, answering JSON.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use time::OffsetDateTime;

use crate::data::{Companies, Company};
use crate::path::{self, PathError};

pub(crate) fn router(companies: Arc<Companies>) -> Router {
    Router::new().fallback(answer).with_state(companies)
}

/// What `GET /v1/entries/…` returns for a company.
#[derive(Serialize)]
struct Entry<'a> {
    #[serde(flatten)]
    company: &'a Company,
    #[serde(with = "time::serde::rfc3339")]
    retrieved_at: OffsetDateTime,
}

#[derive(Serialize)]
struct Problem {
    error: &'static str,
}

async fn answer(State(companies): State<Arc<Companies>>, method: Method, uri: Uri) -> Response {
    if method != Method::GET {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET")],
            json(&Problem {
                error: "method_not_allowed",
            }),
        )
            .into_response();
    }
    let key = match path::parse(uri.path()) {
        Ok(key) => key,
        Err(e) => {
            let (status, error) = match e {
                PathError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
                PathError::BadType => (StatusCode::BAD_REQUEST, "bad_register_type"),
                PathError::BadKey => (StatusCode::BAD_REQUEST, "bad_register_key"),
            };
            return (status, json(&Problem { error })).into_response();
        }
    };
    match companies.get(&key) {
        Some(company) => {
            tracing::debug!(%key, "register entry served");
            let entry = Entry {
                company,
                retrieved_at: OffsetDateTime::now_utc(),
            };
            (StatusCode::OK, json(&entry)).into_response()
        }
        None => {
            tracing::debug!(%key, "no such register entry");
            (
                StatusCode::NOT_FOUND,
                json(&Problem {
                    error: "no_such_entry",
                }),
            )
                .into_response()
        }
    }
}

/// A JSON body; a value that cannot be serialised (none of ours) answers 500 instead of
/// panicking.
fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "register simulator cannot serialise its answer");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
