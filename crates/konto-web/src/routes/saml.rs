//! The SAML 2.0 identity provider's endpoints: signed metadata and single sign-on over the
//! HTTP-Redirect and HTTP-POST bindings. Each handler is one call into `konto_saml` and one
//! into the login; the protocol rules live in `konto_saml`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use konto_saml::SamlError;
use konto_saml::idp::{Accepted, Incoming, RequestError};
use konto_saml::logout::{LogoutChain, LogoutEnd, LogoutStep};

use super::login::begin;
use super::{answer, see_other};
use crate::app::App;
use crate::error::WebError;
use crate::http::{Browser, clear_cookie, cookie_up_to, form_pairs, set_cookie};
use crate::i18n::Texts;

fn idp<'a>(app: &'a App, t: &'static Texts) -> Result<&'a Arc<konto_saml::Idp>, WebError> {
    app.saml
        .as_ref()
        .ok_or_else(|| WebError::page(StatusCode::NOT_FOUND, "SAML is not enabled here", t))
}

/// `GET /saml/metadata`: konto's signed IdP metadata (SAML metadata §4.1.1 media type).
pub(crate) async fn metadata(
    State(app): State<Arc<App>>,
    browser: Browser,
) -> Result<Response, WebError> {
    let idp = idp(&app, browser.texts())?;
    Ok((
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        idp.metadata().to_owned(),
    )
        .into_response())
}

fn refused(app: &App, t: &'static Texts, e: RequestError) -> Result<Response, WebError> {
    match e {
        RequestError::Answer(a, _) => Ok(answer(app, t, &a)),
        RequestError::Page(SamlError::Internal(why)) => Err(WebError::internal(why, t)),
        RequestError::Page(e) => Err(WebError::refused(e, t)),
    }
}

/// `GET /saml/sso`: a request with the HTTP-Redirect binding (bindings §3.4), or the hop of
/// one that came with the HTTP-POST binding (`?hop=…`, see [`sso_post`]).
pub(crate) async fn sso_redirect(
    State(app): State<Arc<App>>,
    browser: Browser,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let idp = idp(&app, t)?;
    let query = query.unwrap_or_default();
    let now = app.clock.now();
    let accepted = match query.strip_prefix("hop=") {
        Some(sealed) => idp.open(sealed, now).ok_or_else(|| {
            WebError::refused(
                "saml-hop-invalid: the sign-on link is damaged or expired",
                t,
            )
        })?,
        None => match idp
            .verify(Incoming::Redirect(&query), &browser.languages, now)
            .await
        {
            Ok(a) => a,
            Err(e) => return refused(&app, t, e),
        },
    };
    start(&app, &browser, idp, accepted).await
}

/// `POST /saml/sso`: a request with the HTTP-POST binding (bindings §3.5). It comes from the
/// SP's page, so the browser sends no `SameSite=Lax` cookie with it: konto checks it, seals
/// it and sends the browser on to `GET /saml/sso?hop=…`, where the session cookie is sent and
/// single sign-on can happen.
pub(crate) async fn sso_post(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let idp = idp(&app, t)?;
    let fields = form_pairs(&body);
    let now = app.clock.now();
    let accepted = match idp
        .verify(Incoming::Post(&fields), &browser.languages, now)
        .await
    {
        Ok(a) => a,
        Err(e) => return refused(&app, t, e),
    };
    let sealed = idp
        .seal(&accepted, now)
        .map_err(|e| WebError::internal(e, t))?;
    Ok(see_other(&format!("/saml/sso?hop={sealed}")))
}

async fn start(
    app: &Arc<App>,
    browser: &Browser,
    idp: &konto_saml::Idp,
    accepted: Accepted,
) -> Result<Response, WebError> {
    let t = browser.texts();
    if let Err(e) = idp.record(&accepted).await {
        return refused(app, t, e);
    }
    begin(
        app,
        browser,
        &accepted.login,
        accepted.flow.to_protocol_json(),
    )
    .await
}

/// `GET|POST /saml/slo`: single logout (SAML profiles §4.4). An SP's `LogoutRequest` ends the
/// session it names and starts the chain through the session's other SPs; an SP's
/// `LogoutResponse` continues the chain this browser carries.
pub(crate) async fn slo(
    State(app): State<Arc<App>>,
    browser: Browser,
    method: Method,
    RawQuery(query): RawQuery,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let idp = idp(&app, t)?;
    let now = app.clock.now();
    let query = query.unwrap_or_default();
    let fields = form_pairs(&body);
    let incoming = if method == Method::POST {
        Incoming::Post(&fields)
    } else {
        Incoming::Redirect(&query)
    };
    let is_response = if method == Method::POST {
        fields.iter().any(|(k, _)| k == "SAMLResponse")
    } else {
        query.split('&').any(|p| p.starts_with("SAMLResponse="))
    };
    let chain = if is_response {
        let mut chain = cookie_up_to(&headers, app.cookies.logout, 4000)
            .and_then(|c| idp.open_chain(&c, now))
            .ok_or_else(|| {
                WebError::refused("saml-logout-unexpected: no logout is under way here", t)
            })?;
        idp.logout_response(incoming, &mut chain)
            .await
            .map_err(|e| WebError::refused(e, t))?;
        chain
    } else {
        let request = idp
            .logout_request(incoming, now)
            .await
            .map_err(|e| WebError::refused(e, t))?;
        if let Some(id) = &request.session_id {
            end_session(&app, id, t).await?;
        }
        idp.logout_chain(
            request.session_id.as_deref(),
            Some(&request.entity_id),
            request.end,
        )
        .await
        .map_err(|e| WebError::internal(e, t))?
    };
    logout_step(&app, idp, t, chain).await
}

async fn end_session(app: &App, session_id: &str, t: &'static Texts) -> Result<(), WebError> {
    let session = app
        .services
        .store
        .session(session_id)
        .await
        .map_err(|e| WebError::internal(e, t))?;
    if let Some(s) = session {
        app.login
            .end_session(&s)
            .await
            .map_err(|e| WebError::service(e, t))?;
    }
    Ok(())
}

/// The next step of a single logout, with the chain's cookie; the session cookie is cleared
/// (the session it names has ended, or belongs to nobody now).
async fn logout_step(
    app: &Arc<App>,
    idp: &konto_saml::Idp,
    t: &'static Texts,
    chain: LogoutChain,
) -> Result<Response, WebError> {
    let now = app.clock.now();
    let step = idp
        .logout_step(chain, now)
        .await
        .map_err(|e| WebError::internal(e, t))?;
    let mut r = match step {
        LogoutStep::Go { answer: a, chain } => {
            let mut r = answer(app, t, &a);
            let chain_cookie = match chain {
                Some(c) => set_cookie(
                    app,
                    app.cookies.logout,
                    &idp.seal_chain(&c, now)
                        .map_err(|e| WebError::internal(e, t))?,
                    600,
                ),
                None => clear_cookie(app, app.cookies.logout),
            };
            r.headers_mut().append(header::SET_COOKIE, chain_cookie);
            r
        }
        LogoutStep::Done(to) => {
            let mut r = super::oidc::after_logout(app, t, to.as_deref());
            r.headers_mut()
                .append(header::SET_COOKIE, clear_cookie(app, app.cookies.logout));
            return Ok(r);
        }
    };
    r.headers_mut()
        .append(header::SET_COOKIE, clear_cookie(app, app.cookies.session));
    Ok(r)
}

/// konto's own logout (`/logout`) of `session_id`, joined with SAML: the session's SPs are told
/// in turn, then the browser goes to `redirect` (the OIDC client's post-logout address) or to
/// konto's logged-out page.
pub(crate) async fn after_session_end(
    app: &Arc<App>,
    t: &'static Texts,
    session_id: Option<&str>,
    redirect: Option<&str>,
) -> Result<Response, WebError> {
    let Some(idp) = &app.saml else {
        return Ok(super::oidc::after_logout(app, t, redirect));
    };
    let chain = idp
        .logout_chain(
            session_id,
            None,
            LogoutEnd::Redirect(redirect.map(str::to_owned)),
        )
        .await
        .map_err(|e| WebError::internal(e, t))?;
    logout_step(app, idp, t, chain).await
}
