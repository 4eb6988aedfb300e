//! The SAML 2.0 identity provider's endpoints: signed metadata and single sign-on over the
//! HTTP-Redirect and HTTP-POST bindings. Each handler is one call into `konto_saml` and one
//! into the login; the protocol rules live in `konto_saml`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use konto_saml::SamlError;
use konto_saml::idp::{Accepted, Incoming, RequestError};

use super::login::begin;
use super::{answer, see_other};
use crate::app::App;
use crate::error::WebError;
use crate::http::{Browser, form_pairs};
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
