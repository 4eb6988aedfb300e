//! The certificate-login listener. The browser arrives here over TLS with (or without) its client
//! certificate; the result is parked in the flow and the browser goes back to the main listener,
//! where its cookies are, to take it up (`/login/cert/done`) with a one-time hand-off value that
//! only this browser receives.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::login::FlowQuery;
use super::see_other;
use crate::app::App;
use crate::error::WebError;
use crate::http::Browser;

pub(crate) async fn login(
    State(app): State<Arc<App>>,
    browser: Browser,
    Query(q): Query<FlowQuery>,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let flow_id = q
        .flow()
        .ok_or_else(|| WebError::page(StatusCode::BAD_REQUEST, t.error_flow, t))?;
    let chain: Vec<Vec<u8>> = browser
        .conn
        .as_ref()
        .filter(|c| c.tls)
        .map(|c| c.client_certs.as_ref().clone())
        .unwrap_or_default();
    let handoff = app
        .login
        .park_certificate(flow_id, &chain)
        .await
        .map_err(|e| WebError::service(e, t))?;
    // only this browser learns the hand-off value: the result reaches the main listener's
    // flow only with it, and only in the browser that started the flow
    let mut back =
        url::Url::parse(&app.url("/login/cert/done")).map_err(|e| WebError::internal(e, t))?;
    back.query_pairs_mut()
        .append_pair("flow", flow_id)
        .append_pair("handoff", handoff.expose());
    Ok(see_other(back.as_str()))
}
