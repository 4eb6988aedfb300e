//! What a step of a flow answers: the flow's next page, the way back to it, or the relying
//! party's answer when the flow is through.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use konto_core::amr::AuthenticatorKind;
use konto_service::ServiceError;
use konto_service::login::{Advanced, FlowPage, LoginReason, Next, Progress, is_link_conflict};

use super::{Ctx, back_to_flow, error_text, with_session_cookie};
use crate::app::App;
use crate::error::WebError;
use crate::i18n::Texts;
use crate::pages::{
    ActingChoice, ActingPage, ConsentPage, LoginPage, SecondFactorPage, UnlinkedPage,
};
use crate::routes::answer;
use crate::security::csp_with_form_targets;

/// A notice parked in the flow (`linked:elster`, `cert_error:expired`, …) as text.
fn notice_text(t: &'static Texts, notice: &str) -> (Option<String>, Option<String>) {
    match notice.split_once(':') {
        Some(("linked", _)) => (None, Some(t.notice_linked.to_owned())),
        Some(("conflict", _)) => (Some(t.notice_conflict.to_owned()), None),
        Some(("cert_error", code)) => (Some(format!("{} {code}", t.err_cert_prefix)), None),
        Some(("eid_error", code)) => (Some(format!("{} {code}", t.err_eid_prefix)), None),
        _ => (None, None),
    }
}

/// The response to a step: the page, the way back to the flow's page, or the answer; with
/// the session cookie the step set.
pub(crate) fn respond(app: &Arc<App>, ctx: &Ctx, advanced: Advanced) -> Result<Response, WebError> {
    let r = match advanced.progress {
        Progress::Answer(a) => answer(app, ctx.t, &a),
        Progress::Saved => back_to_flow(&ctx.flow_id),
        Progress::Page(page) => page_response(app, ctx, *page)?,
    };
    Ok(with_session_cookie(app, r, advanced.cookie.as_ref()))
}

/// The status of a page that shows a step's error.
fn error_status(e: &ServiceError) -> StatusCode {
    match e {
        // RFC 6585 §4 for a throttled login; a wrong password is 401 on the page
        ServiceError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::BadCredentials => StatusCode::UNAUTHORIZED,
        e if is_link_conflict(e) => StatusCode::CONFLICT,
        ServiceError::Certificate(_) => StatusCode::FORBIDDEN,
        ServiceError::Eid(_) | ServiceError::NotAvailable => StatusCode::BAD_GATEWAY,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A page of the flow.
fn page_response(app: &Arc<App>, ctx: &Ctx, page: FlowPage) -> Result<Response, WebError> {
    let t = ctx.t;
    let FlowPage {
        next,
        party,
        notice,
        error,
    } = page;
    let status = error.as_ref().map_or(StatusCode::OK, error_status);
    let (notice_error, notice) = match notice {
        Some(n) => notice_text(t, &n),
        None => (None, None),
    };
    let error = error.map(|e| error_text(app, t, &e)).or(notice_error);
    let dev = app.config.development;
    // where this page's forms may lead besides konto: the client (a step that completes or
    // fails the flow answers it with a redirect) and, from the login page, the eID client
    let mut form_targets: Vec<String> = party.answer_targets.clone();
    let page = match next {
        Next::Complete(_) | Next::Fail(..) => {
            return Err(WebError::internal("a finished flow reached a page", t));
        }
        Next::Login {
            reason,
            min_level,
            options,
        } => {
            let name = &party.name;
            let reason_text = match reason {
                LoginReason::SignIn => t.login_reason_sign_in,
                LoginReason::StepUp { .. } => t.login_reason_step_up,
                LoginReason::Reauthenticate => t.login_reason_reauth,
            };
            let levels = match reason {
                LoginReason::StepUp { current } => Some((t.level(current), t.level(min_level))),
                _ => None,
            };
            let elster_url = if options.contains(&AuthenticatorKind::Elster) {
                app.certificate_url(&ctx.flow_id)
            } else {
                None
            };
            let eid = options.contains(&AuthenticatorKind::Eid);
            if eid {
                form_targets.push(app.config.eid.eid_client_url.clone());
            }
            LoginPage {
                t,
                dev,
                flow: &ctx.flow_id,
                csrf: &ctx.csrf,
                client_name: name,
                reason: reason_text,
                levels,
                password: options.contains(&AuthenticatorKind::Password),
                passkey: options.contains(&AuthenticatorKind::Passkey),
                elster_url,
                eid,
                error,
                notice: notice.as_deref(),
                username: ctx
                    .typed_username
                    .as_deref()
                    .or(ctx.flow.request.login_hint.as_deref())
                    .unwrap_or(""),
                registration: app.config.login.registration,
                cancel: party.cancellable,
            }
            .html()
        }
        Next::SecondFactor => SecondFactorPage {
            t,
            dev,
            flow: &ctx.flow_id,
            csrf: &ctx.csrf,
        }
        .html(),
        Next::Unlinked {
            attributes,
            temporary_allowed,
            ..
        } => {
            let rows = attributes
                .iter()
                .map(|a| (t.attribute(a.name), a.value.clone(), t.level(a.level)))
                .collect();
            UnlinkedPage {
                t,
                dev,
                flow: &ctx.flow_id,
                csrf: &ctx.csrf,
                rows,
                registration: app.config.login.registration,
                temporary: temporary_allowed,
            }
            .html()
        }
        Next::ChooseActing {
            options,
            myself_allowed,
        } => {
            let name = &party.name;
            ActingPage {
                t,
                dev,
                flow: &ctx.flow_id,
                csrf: &ctx.csrf,
                client_name: name,
                choices: options
                    .iter()
                    .map(|o| ActingChoice {
                        key: o.key(),
                        name: o.name.clone(),
                        via: o.via.clone(),
                        legal_representative: o.representation.legal_representative,
                    })
                    .collect(),
                myself_allowed,
            }
            .html()
        }
        Next::Consent {
            scopes,
            claims,
            acting_for,
        } => {
            let name = &party.name;
            let mut items: Vec<String> = scopes
                .iter()
                .map(|s| t.scope(s).to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            items.extend(claims.iter().cloned());
            ConsentPage {
                t,
                dev,
                flow: &ctx.flow_id,
                csrf: &ctx.csrf,
                client_name: name,
                items,
                acting_for: acting_for.as_deref(),
                remember: ctx.flow.state.temporary.is_none(),
            }
            .html()
        }
    };
    let mut r = (status, page).into_response();
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        csp_with_form_targets(form_targets.iter().map(String::as_str), true),
    );
    Ok(r)
}
