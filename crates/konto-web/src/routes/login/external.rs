//! Authenticators that leave the login page and come back: the eID card (through the eID
//! client, BSI TR-03124-1) and the ELSTER certificate (through the certificate listener, a
//! TLS-terminating proxy, or a signed challenge for non-browser clients).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use konto_service::ServiceError;
use konto_service::login::Step;
use serde::Deserialize;

use super::{
    FlowQuery, ctx_for, form_step, json_error, json_link_conflict, json_step, json_take_step, load,
    take_step,
};
use crate::app::App;
use crate::error::WebError;
use crate::http::Browser;
use crate::routes::{Purpose, org_pages, see_other};

pub(crate) async fn eid_start(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let (_, mut ctx) = form_step(&app, &browser, &body).await?;
    let tc_url = url::Url::parse(&app.url(&format!("/login/eid/tctoken?flow={}", ctx.flow_id)))
        .map_err(|e| WebError::internal(e, ctx.t))?;
    match app.login.eid_start(&mut ctx.flow, &tc_url).await {
        Ok(client) => Ok(see_other(client.as_str())),
        // the login page again, saying why
        Err(e @ (ServiceError::Eid(_) | ServiceError::NotAvailable)) => {
            take_step(&app, ctx, Step::ShowError(e)).await
        }
        Err(e) => Err(WebError::service(e, ctx.t)),
    }
}

/// The TCToken (BSI TR-03124-1), fetched by the eID client without the browser's cookies.
pub(crate) async fn eid_tc_token(
    State(app): State<Arc<App>>,
    browser: Browser,
    Query(q): Query<FlowQuery>,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let flow_id = q
        .flow()
        .ok_or_else(|| WebError::page(StatusCode::BAD_REQUEST, t.error_flow, t))?;
    let refresh = url::Url::parse(&app.url(&format!("/login/eid/return?flow={flow_id}")))
        .map_err(|e| WebError::internal(e, t))?;
    let xml = app
        .login
        .eid_tc_token(flow_id, &refresh, None)
        .await
        .map_err(|e| WebError::service(e, t))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        xml,
    )
        .into_response())
}

/// The browser is back from the eID client (TR-03124-1 refresh address): `flow`, the one-time
/// `r` from the TCToken, and the eID client's `ResultMajor`/`ResultMinor`.
pub(crate) async fn eid_return(
    State(app): State<Arc<App>>,
    browser: Browser,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let t0 = browser.texts();
    let params = konto_oidc::Params::parse(query.as_deref().unwrap_or("")).unwrap_or_default();
    let flow_id = params
        .get("flow")
        .ok_or_else(|| WebError::page(StatusCode::BAD_REQUEST, t0.error_flow, t0))?;
    let (flow, eid_session) = app
        .login
        .claim_eid_return(flow_id, params.get("r"), browser.binding.as_deref())
        .await
        .map_err(|e| WebError::service(e, t0))?;
    let ctx = ctx_for(&app, &browser, flow, flow_id).await?;
    let rest: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
                .filter(|(k, _)| k != "flow" && k != "r"),
        )
        .finish();
    let step = Step::Eid {
        session: eid_session,
        query: rest,
    };
    take_step(&app, ctx, step).await
}

#[derive(Deserialize)]
pub(crate) struct CertDone {
    flow: Option<String>,
    handoff: Option<String>,
}

/// The browser is back from the certificate listener with the hand-off value.
pub(crate) async fn cert_done(
    State(app): State<Arc<App>>,
    browser: Browser,
    Query(q): Query<CertDone>,
) -> Result<Response, WebError> {
    let t0 = browser.texts();
    let flow_id = q
        .flow
        .as_deref()
        .ok_or_else(|| WebError::page(StatusCode::BAD_REQUEST, t0.error_flow, t0))?;
    let (flow, outcome) = app
        .login
        .claim_certificate(flow_id, q.handoff.as_deref(), browser.binding.as_deref())
        .await
        .map_err(|e| WebError::service(e, t0))?;
    if let Some(Purpose::OrgCertificate { user_id }) = Purpose::from_json(flow.protocol()) {
        let session = app
            .login
            .session(browser.session.as_deref())
            .await
            .map_err(|e| WebError::service(e, t0))?;
        return org_pages::certificate_done(&app, &browser, &flow, session, &user_id, outcome)
            .await;
    }
    let ctx = ctx_for(&app, &browser, flow, flow_id).await?;
    take_step(&app, ctx, Step::Certificate(outcome)).await
}

/// Certificate login behind a TLS-terminating proxy that forwards the certificate in a header
/// (accepted only from `server.trusted_proxies`).
pub(crate) async fn cert_forwarded(
    State(app): State<Arc<App>>,
    browser: Browser,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Result<Response, WebError> {
    let ctx = load(&app, &browser, q.flow()).await?;
    let t = ctx.t;
    let peer_trusted = browser
        .conn
        .as_ref()
        .is_some_and(|c| app.is_trusted_proxy(c.peer.ip()));
    let header_name = app.config.elster.proxy_header.as_deref();
    let chain = match (peer_trusted, header_name) {
        (true, Some(name)) => match headers.get(name).and_then(|v| v.to_str().ok()) {
            Some(v) => match konto_authn::cert::parse_forwarded_certificate(v) {
                Ok(chain) => chain,
                Err(e) => {
                    let e = ServiceError::Certificate(e.code().to_owned());
                    return take_step(&app, ctx, Step::ShowError(e)).await;
                }
            },
            None => Vec::new(),
        },
        _ => {
            tracing::warn!("a forwarded certificate came from a peer that is not a trusted proxy");
            return Err(WebError::page(StatusCode::FORBIDDEN, t.err_unavailable, t));
        }
    };
    if let Some(Purpose::OrgCertificate { user_id }) = Purpose::from_json(ctx.flow.protocol()) {
        let outcome = app
            .login
            .read_certificate(&chain)
            .map_err(|e| WebError::service(e, t))?;
        let session = ctx.session.clone();
        return org_pages::certificate_done(
            &app,
            &browser,
            &ctx.flow,
            session,
            &user_id,
            Some(outcome),
        )
        .await;
    }
    take_step(&app, ctx, Step::ForwardedCertificate(chain)).await
}

/// Signed-challenge certificate login for non-browser clients: get a challenge…
pub(crate) async fn cert_challenge(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Response {
    let (mut ctx, NoFields {}) = match json_step(&app, &browser, &body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    match app.login.certificate_challenge(&mut ctx.flow).await {
        Ok(challenge) => Json(serde_json::json!({ "challenge": challenge })).into_response(),
        Err(ServiceError::NotAvailable) => json_error(StatusCode::BAD_REQUEST, "not_available"),
        Err(e) => WebError::service(e, ctx.t).into_response(),
    }
}

#[derive(Deserialize)]
struct NoFields {}

#[derive(Deserialize)]
struct CertSigned {
    /// DER certificates, leaf first, standard base64.
    certificates: Vec<String>,
    /// Signature over the challenge's ASCII bytes, standard base64.
    signature: String,
}

/// …and answer it with the certificate chain and a signature over the challenge.
pub(crate) async fn cert_signed(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Response {
    let (ctx, req) = match json_step::<CertSigned>(&app, &browser, &body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if req.certificates.len() > 4 {
        return json_error(StatusCode::BAD_REQUEST, "chain_too_long");
    }
    let chain: Result<Vec<Vec<u8>>, _> = req
        .certificates
        .iter()
        .map(|c| STANDARD.decode(c))
        .collect();
    let (Ok(chain), Ok(signature)) = (chain, STANDARD.decode(&req.signature)) else {
        return json_error(StatusCode::BAD_REQUEST, "malformed");
    };
    match json_take_step(&app, ctx, Step::SignedChallenge { chain, signature }).await {
        Ok(r) => r,
        Err((ServiceError::Certificate(code), _)) => json_error(StatusCode::UNAUTHORIZED, &code),
        Err((ServiceError::Invalid(_), _)) => json_error(StatusCode::BAD_REQUEST, "no_challenge"),
        Err((e, t)) => {
            json_link_conflict(&e).unwrap_or_else(|| WebError::service(e, t).into_response())
        }
    }
}
