//! The eID-Server's SOAP endpoint: `useID` opens a session, `getResult` answers with what the
//! user picked in the eID client.
//!
//! Policy: getResult's RequestCounter must grow; a final answer (data or error) deletes the
//! session; an unanswered session says `noResultYet` and stays.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use time::{Date, Month, OffsetDateTime};

use crate::Shared;
use crate::identities::Choice;
use crate::soap::{self, BadRequest, Request};
use crate::xml::MAX_INPUT;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/eID-Server", post(soap_call))
        .layer(DefaultBodyLimit::max(MAX_INPUT))
        .with_state(shared)
}

async fn soap_call(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match soap::parse_request(&body) {
        Ok(Request::UseId { operations }) => xml(StatusCode::OK, use_id(&shared, operations)),
        Ok(Request::GetResult {
            session_id,
            counter,
        }) => xml(
            StatusCode::OK,
            get_result(&shared, &session_id, counter).await,
        ),
        Err(BadRequest::Fault(reason)) => {
            tracing::info!(%reason, "eid simulator: soap fault");
            xml(StatusCode::INTERNAL_SERVER_ERROR, soap::fault(&reason))
        }
        Err(BadRequest::UseId(reason, minor)) => xml(
            StatusCode::OK,
            soap::use_id_error(&soap::server_minor(minor), &reason),
        ),
        Err(BadRequest::GetResult(reason)) => xml(
            StatusCode::OK,
            soap::get_result_error(&soap::server_minor("common#schemaViolation"), &reason),
        ),
    }
}

fn xml(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

fn use_id(shared: &Shared, operations: HashMap<String, String>) -> String {
    let (Ok(session_id), Ok(psk_id), Ok(psk_key)) =
        (random_hex(16), random_hex(16), random_hex(32))
    else {
        return soap::use_id_error(
            &soap::server_minor("common#internalError"),
            "no randomness available",
        );
    };
    let opened = match shared.sessions.lock() {
        Ok(mut sessions) => sessions.open(
            session_id.clone(),
            psk_id.clone(),
            psk_key.clone(),
            operations,
        ),
        Err(_) => {
            return soap::use_id_error(&soap::server_minor("common#internalError"), "state lost");
        }
    };
    match opened {
        Ok(()) => soap::use_id_ok(&session_id, &shared.ecard_server_address, &psk_id, &psk_key),
        Err(_) => soap::use_id_error(
            &soap::server_minor("useID#tooManyOpenSessions"),
            "too many open sessions",
        ),
    }
}

/// What one getResult answers, decided under the lock, sent after it is released.
enum Answer {
    Now(String),
    AfterDelay,
}

async fn get_result(shared: &Shared, session_id: &str, counter: i64) -> String {
    let answer = match shared.sessions.lock() {
        Ok(mut sessions) => decide(&mut sessions, session_id, counter),
        Err(_) => Answer::Now(soap::get_result_error(
            &soap::server_minor("common#internalError"),
            "state lost",
        )),
    };
    match answer {
        Answer::Now(xml) => xml,
        Answer::AfterDelay => {
            let mut shutdown = shared.shutdown.clone();
            tokio::select! {
                _ = tokio::time::sleep(shared.timeout_delay) => {}
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
            soap::get_result_error(
                &soap::server_minor("common#internalError"),
                "the eID client did not finish in time",
            )
        }
    }
}

fn decide(sessions: &mut crate::state::Sessions, session_id: &str, counter: i64) -> Answer {
    let minor = soap::server_minor;
    let Some(session) = sessions.get_mut(session_id) else {
        return Answer::Now(soap::get_result_error(
            &minor("getResult#invalidSession"),
            "unknown or expired session",
        ));
    };
    if counter <= session.last_counter {
        return Answer::Now(soap::get_result_error(
            &minor("getResult#invalidCounter"),
            "RequestCounter must grow",
        ));
    }
    session.last_counter = counter;
    let Some(choice) = session.choice else {
        return Answer::Now(soap::get_result_error(
            &minor("getResult#noResultYet"),
            "the eID client has not finished",
        ));
    };
    let answer = match choice {
        Choice::Identity(identity) => Answer::Now(soap::get_result_ok(
            identity,
            &session.operations,
            &valid_until(),
        )),
        Choice::Cancel => Answer::Now(soap::get_result_error(
            soap::MINOR_CANCELLED,
            "The process was cancelled by the user.",
        )),
        Choice::Expired => Answer::Now(soap::get_result_error(
            soap::MINOR_EXPIRED,
            "The validity of the ID card has expired.",
        )),
        Choice::Revoked => Answer::Now(soap::get_result_error(
            &minor("getResult#invalidDocument"),
            "The ID card is revoked or its passive authentication failed.",
        )),
        Choice::ServerError => Answer::Now(soap::get_result_error(
            &minor("common#internalError"),
            "Simulated internal error of the eID-Server.",
        )),
        Choice::Timeout => Answer::AfterDelay,
    };
    sessions.remove(session_id);
    answer
}

/// Test cards stay valid: expiry on 31 October, five years ahead.
fn valid_until() -> String {
    let year = OffsetDateTime::now_utc().year() + 5;
    Date::from_calendar_date(year, Month::October, 31)
        .map(|d| d.to_string())
        .unwrap_or_else(|_| "2099-10-31".to_owned())
}

fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(hex::encode(buf))
}
