//! What the next step of a flow looks like, and how a finished or failed flow answers.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use konto_core::amr::AuthenticatorKind;
use konto_core::login::{Authentication, Principal};
use konto_core::scope::Scopes;
use konto_oidc::{ErrorCode, OidcFlow};
use konto_service::login::{FailCode, LoginReason, Next};

use super::Ctx;
use crate::app::App;
use crate::error::WebError;
use crate::i18n::Texts;
use crate::pages::{
    ActingChoice, ActingPage, ConsentPage, LoginPage, SecondFactorPage, UnlinkedPage,
};
use crate::routes::{Protocol, authorization_response, see_other};
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

/// The name of the relying party a page is for (konto's own pages: konto).
async fn client_name(app: &App, oidc: Option<&OidcFlow>) -> String {
    match oidc {
        Some(f) => match app.services.store.client(&f.client_id).await {
            Ok(Some(c)) => c.name,
            _ => f.client_id.clone(),
        },
        None => "konto".to_owned(),
    }
}

/// Shows what comes next, or completes the flow.
pub(super) async fn render_next(
    app: &Arc<App>,
    ctx: Ctx,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let next = app
        .login
        .next(&ctx.flow, ctx.session.as_ref())
        .await
        .map_err(|e| WebError::service(e, ctx.t))?;
    render(app, ctx, next, error, status).await
}

/// Shows the page for `next`, or completes the flow.
pub(crate) async fn render(
    app: &Arc<App>,
    mut ctx: Ctx,
    next: Next,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let t = ctx.t;
    let (notice_error, notice) = match app
        .login
        .take_notice(&mut ctx.flow)
        .await
        .map_err(|e| WebError::service(e, t))?
    {
        Some(n) => notice_text(t, &n),
        None => (None, None),
    };
    let error = error.or(notice_error);
    let dev = app.config.development;
    let next = match next {
        Next::Complete(auth) => return complete(app, ctx, auth).await,
        Next::Fail(code, description) => return fail(app, ctx, code, description).await,
        page => page,
    };
    let oidc = match Protocol::from_json(ctx.flow.protocol()) {
        Some(Protocol::Oidc(f)) => Some(f),
        _ => None,
    };
    // where this page's forms may lead besides konto: the client (a step that completes or
    // fails the flow answers it with a redirect) and, from the login page, the eID client
    let mut form_targets: Vec<String> = oidc.iter().map(|f| f.redirect_uri.clone()).collect();
    let page = match next {
        Next::Complete(_) | Next::Fail(..) => {
            return Err(WebError::internal("a finished flow reached a page", t));
        }
        Next::Login {
            reason,
            min_level,
            options,
        } => {
            let name = client_name(app, oidc.as_ref()).await;
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
            let is_oidc = oidc.is_some();
            let eid = options.contains(&AuthenticatorKind::Eid);
            if eid {
                form_targets.push(app.config.eid.eid_client_url.clone());
            }
            LoginPage {
                t,
                dev,
                flow: &ctx.flow_id,
                csrf: &ctx.csrf,
                client_name: &name,
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
                cancel: is_oidc,
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
            let name = client_name(app, oidc.as_ref()).await;
            ActingPage {
                t,
                dev,
                flow: &ctx.flow_id,
                csrf: &ctx.csrf,
                client_name: &name,
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
            let name = client_name(app, oidc.as_ref()).await;
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
                client_name: &name,
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

/// The flow is through: the protocol answers.
async fn complete(app: &Arc<App>, ctx: Ctx, auth: Authentication) -> Result<Response, WebError> {
    let t = ctx.t;
    let now = app.clock.now();
    match Protocol::from_json(ctx.flow.protocol()) {
        Some(Protocol::Oidc(f)) => {
            let client = app
                .services
                .store
                .client(&f.client_id)
                .await
                .map_err(|e| WebError::internal(e, t))?
                .ok_or_else(|| WebError::page(StatusCode::BAD_REQUEST, t.error_flow, t))?;
            // OIDC Core §3.1.2.1: with prompt=none the session must be the hinted user's
            if let Some(hint) = &f.id_token_hint_sub
                && ctx.flow.request.passive
            {
                let sub = app
                    .oidc
                    .subject_for(&client, &auth.principal)
                    .map_err(|e| WebError::internal(e, t))?;
                if sub != *hint {
                    return fail(
                        app,
                        ctx,
                        FailCode::LoginRequired,
                        "the signed-in user is not the hinted one",
                    )
                    .await;
                }
            }
            // one code per flow: a request that lost the flow to a parallel one gets the
            // answer for a used-up flow
            if !app
                .login
                .claim_flow(&ctx.flow)
                .await
                .map_err(|e| WebError::service(e, t))?
            {
                return Err(WebError::page(StatusCode::BAD_REQUEST, t.error_flow, t));
            }
            let scopes = Scopes::parse(&f.scope).unwrap_or_default();
            let resp = app
                .oidc
                .issue_code(&f, &client, &auth, &scopes, now)
                .await
                .map_err(|e| WebError::internal(e, t))?;
            if let (Some(mut s), Principal::Account { .. }) = (ctx.session, &auth.principal) {
                app.login
                    .touch(&mut s)
                    .await
                    .map_err(|e| WebError::service(e, t))?;
            }
            Ok(authorization_response(app, t, &resp))
        }
        Some(
            p @ (Protocol::Account
            | Protocol::OrgJoin
            | Protocol::OrgNew
            | Protocol::OrgPage { .. }
            | Protocol::Postbox { .. }
            | Protocol::OrgPostbox { .. }),
        ) => {
            app.login
                .finish_flow(&ctx.flow)
                .await
                .map_err(|e| WebError::service(e, t))?;
            Ok(see_other(&match p {
                Protocol::OrgJoin => "/org/join".to_owned(),
                Protocol::OrgNew => "/org/new".to_owned(),
                // the id was checked when the flow started (URL-safe characters only)
                Protocol::OrgPage { organisation } => format!("/org/{organisation}"),
                // ids were checked when the flow started (URL-safe characters only)
                Protocol::Postbox { message: Some(id) } => format!("/postbox/{id}"),
                Protocol::Postbox { message: None } => "/postbox".to_owned(),
                Protocol::OrgPostbox {
                    organisation,
                    message: Some(id),
                } => format!("/org/{organisation}/postbox/{id}"),
                Protocol::OrgPostbox {
                    organisation,
                    message: None,
                } => format!("/org/{organisation}/postbox"),
                _ => "/account".to_owned(),
            }))
        }
        _ => Err(WebError::page(StatusCode::BAD_REQUEST, t.error_flow, t)),
    }
}

pub(super) async fn fail(
    app: &Arc<App>,
    ctx: Ctx,
    code: FailCode,
    description: &str,
) -> Result<Response, WebError> {
    let t = ctx.t;
    app.login
        .finish_flow(&ctx.flow)
        .await
        .map_err(|e| WebError::service(e, t))?;
    match Protocol::from_json(ctx.flow.protocol()) {
        Some(Protocol::Oidc(f)) => {
            let code = match code {
                FailCode::LoginRequired => ErrorCode::LoginRequired,
                FailCode::ConsentRequired => ErrorCode::ConsentRequired,
                FailCode::UnmetAuthenticationRequirements => {
                    ErrorCode::UnmetAuthenticationRequirements
                }
                FailCode::AccessDenied => ErrorCode::AccessDenied,
                FailCode::InteractionRequired => ErrorCode::InteractionRequired,
            };
            Ok(authorization_response(
                app,
                t,
                &app.oidc.flow_error(&f, code, description),
            ))
        }
        _ => Ok(see_other("/account")),
    }
}
