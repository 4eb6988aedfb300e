//! The certificate-login listener. The browser arrives here over TLS with (or without) its client
//! certificate; the result is parked in the flow and the browser goes back to the main listener,
//! where its cookies are, to take it up (`/login/cert/done`).

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
    app.login
        .park_certificate(flow_id, &chain)
        .await
        .map_err(|e| WebError::service(e, t))?;
    Ok(see_other(
        &app.url(&format!("/login/cert/done?flow={flow_id}")),
    ))
}
