//! The organisation pages: what a member sees of their organisation, and what its
//! administrators manage there — members and invitations, rights, mandates given and received,
//! the confirmation letter, and the record of every change.
//!
//! Each action is one CSRF-protected POST that makes one `OrgService` call and shows the page
//! again with what happened. The service decides who may do what (membership, role, a
//! confirmed organisation, a session at [`ADMIN_LEVEL`]); a session below that level is offered
//! a sign-in at a higher level that comes back to the page.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use konto_core::Level;
use konto_core::org::RegisterKey;
use konto_core::representation::{Mandate, MandateStatus, Party, Role, ServiceScope, Side};
use konto_letter::Language;
use konto_service::ServiceError;
use konto_service::login::{CertOutcome, Flow};
use konto_service::org::{ADMIN_LEVEL, Actor, NewMandate, OrgOverview, PartyRef};
use konto_store::SessionRecord;
use time::OffsetDateTime;

use super::account::{
    account_action, account_flow, account_request, binding, signed_in, with_cookie,
};
use super::{Purpose, see_other, valid_id};
use crate::app::App;
use crate::error::WebError;
use crate::http::{Browser, csrf_token, field};
use crate::i18n::Texts;
use crate::pages::{MandateRow, MemberRow, OrgNewPage, OrgPage};

fn date(d: OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn actor_of(app: &App, session: &SessionRecord) -> Actor {
    Actor {
        user_id: session.user_id.clone(),
        level: session
            .auth
            .standing(app.clock.now())
            .map(|s| s.level)
            .unwrap_or(Level::Basic),
    }
}

/// What the page says about a refused action, in the person's language.
fn refusal(t: &'static Texts, e: &ServiceError) -> Option<&'static str> {
    Some(match e {
        ServiceError::LevelTooLow { .. } => t.org_err_level,
        ServiceError::NotAllowed => t.org_err_not_allowed,
        ServiceError::NotConfirmed => t.org_err_not_confirmed,
        ServiceError::BadCode => t.org_err_code,
        ServiceError::NotInRegister => t.org_err_not_in_register,
        ServiceError::RegisterUnavailable | ServiceError::NotAvailable => t.err_unavailable,
        ServiceError::NotARepresentative => t.org_err_not_representative,
        ServiceError::IdentityNotVerified => t.org_err_identity,
        ServiceError::OrganisationExists => t.org_err_exists,
        ServiceError::UnknownParty => t.org_err_unknown_party,
        ServiceError::MandateState => t.org_err_mandate_state,
        ServiceError::LetterPending => t.org_err_letter_pending,
        ServiceError::LastAdministrator => t.org_err_last_admin,
        ServiceError::Invalid(_) => t.org_err_invalid,
        ServiceError::BadEmail => t.err_email,
        _ => return None,
    })
}

fn scope_text(t: &'static Texts, scope: &ServiceScope) -> String {
    match scope {
        ServiceScope::All => t.org_scope_all.to_owned(),
        ServiceScope::Listed { services, groups } => {
            let mut parts: Vec<String> = groups
                .iter()
                .map(|g| format!("{} {g}", t.org_scope_group))
                .collect();
            parts.extend(
                services
                    .iter()
                    .map(|s| format!("{} {s}", t.org_scope_service)),
            );
            parts.join(", ")
        }
    }
}

fn status_text(t: &'static Texts, s: MandateStatus) -> &'static str {
    match s {
        MandateStatus::Offered => t.mandate_offered,
        MandateStatus::Accepted => t.mandate_accepted,
        MandateStatus::Active => t.mandate_active,
        MandateStatus::Revoked => t.mandate_revoked,
        MandateStatus::Expired => t.mandate_expired,
    }
}

/// The scope a form asks for: every service, or the listed services and groups (separated by
/// commas or spaces).
fn scope_from_form(pairs: &[(String, String)]) -> Result<ServiceScope, ServiceError> {
    if field(pairs, "scope") == Some("all") {
        return Ok(ServiceScope::All);
    }
    let split = |name: &str| -> Vec<String> {
        field(pairs, name)
            .unwrap_or("")
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    ServiceScope::listed(split("services"), split("groups"))
        .map_err(|e| ServiceError::Invalid(e.to_string()))
}

/// The page for `id` as `session`'s person may see it, with what just happened.
async fn render(
    app: &App,
    browser: &Browser,
    t: &'static Texts,
    session: &SessionRecord,
    id: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> Result<Response, WebError> {
    let actor = actor_of(app, session);
    let o: OrgOverview = match app.orgs.overview(&actor, id).await {
        Ok(o) => o,
        Err(ServiceError::NotAllowed) => {
            return Err(WebError::page(
                StatusCode::NOT_FOUND,
                t.org_err_not_member,
                t,
            ));
        }
        Err(e) => return Err(WebError::service(e, t)),
    };
    let now = app.clock.now();
    let org = &o.organisation;
    let is_admin = o.membership.role == Role::Administrator;
    let mut identifiers = Vec::new();
    if let Some(w) = &org.wirtschafts_id {
        identifiers.push((t.org_wirtschafts_id, w.as_str().to_owned()));
    }
    if let Some(k) = &org.register {
        identifiers.push((t.org_register, k.to_string()));
    }
    if let Some(e) = &org.euid {
        identifiers.push((t.org_euid, e.as_str().to_owned()));
    }
    let letter = o
        .pending_letter
        .as_ref()
        .filter(|l| org.confirmed_at.is_none() && l.user_id == actor.user_id)
        .map(|l| (date(l.sent_at), date(l.expires_at)));

    let mut mandates = Vec::new();
    let mut grantable = Vec::new();
    let me = Party::Organisation(org.id.clone());
    for m in &o.mandates {
        let status = m.status_at(now);
        let principal = app
            .orgs
            .party_name(&m.principal)
            .await
            .map_err(|e| WebError::service(e, t))?;
        let agent = app
            .orgs
            .party_name(&m.agent)
            .await
            .map_err(|e| WebError::service(e, t))?;
        let received = m.agent == me;
        if received && status == MandateStatus::Active {
            grantable.push((
                m.id.clone(),
                format!("{principal}: {}", scope_text(t, &m.scope)),
            ));
        }
        mandates.push(mandate_row(
            t, m, status, principal, agent, received, is_admin,
        ));
    }
    let mut members = Vec::new();
    for m in &o.members {
        members.push(MemberRow {
            user_id: m.membership.user_id.clone(),
            username: m.username.clone(),
            role: t.role(m.membership.role),
            is_admin: m.membership.role == Role::Administrator,
            is_me: m.membership.user_id == actor.user_id,
            rights: m
                .rights
                .iter()
                .map(|r| (r.id.clone(), right_text(t, r, &o.mandates)))
                .collect(),
        });
    }
    let (b, cookie) = binding(app, browser, t)?;
    let page = OrgPage {
        t,
        dev: app.config.development,
        csrf: &csrf_token(app, &b),
        id: &org.id,
        name: &org.name,
        legal_form: &org.legal_form,
        identifiers,
        level: t.level(org.level),
        confirmed: org.confirmed_at.is_some(),
        role: t.role(o.membership.role),
        is_admin,
        admin_level: actor.level >= ADMIN_LEVEL,
        error,
        notice,
        letter,
        my_rights: o
            .my_rights
            .iter()
            .map(|r| right_text(t, r, &o.mandates))
            .collect(),
        members,
        mandates,
        grantable,
        events: o
            .events
            .iter()
            .map(|e| {
                let who = e
                    .actor
                    .as_ref()
                    .and_then(|id| {
                        o.members
                            .iter()
                            .find(|m| &m.membership.user_id == id)
                            .map(|m| m.username.clone())
                    })
                    .unwrap_or_else(|| "–".to_owned());
                (
                    format!("{} {:02}:{:02}", date(e.at), e.at.hour(), e.at.minute()),
                    who,
                    e.actor_level.map(|l| t.level(l)).unwrap_or(""),
                    t.org_event(&e.action).to_owned(),
                )
            })
            .collect(),
    }
    .html()
    .into_response();
    Ok(with_cookie(page, cookie))
}

fn right_text(
    t: &'static Texts,
    r: &konto_core::representation::Right,
    mandates: &[Mandate],
) -> String {
    let scope = scope_text(t, &r.scope);
    match r.mandate.as_ref() {
        None => scope,
        Some(m) => {
            let known = mandates.iter().any(|x| &x.id == m);
            format!(
                "{scope} ({} {})",
                t.org_under_mandate,
                if known { m.as_str() } else { "–" }
            )
        }
    }
}

fn mandate_row(
    t: &'static Texts,
    m: &Mandate,
    status: MandateStatus,
    principal: String,
    agent: String,
    received: bool,
    is_admin: bool,
) -> MandateRow {
    // the side that did not offer it agrees; either side may end it while it is not over
    let waiting_for_us = status == MandateStatus::Offered
        && match m.offered_by {
            Side::Principal => received,
            Side::Agent => !received,
        };
    MandateRow {
        id: m.id.clone(),
        direction: if received {
            t.mandate_received
        } else {
            t.mandate_given
        },
        principal,
        agent,
        scope: scope_text(t, &m.scope),
        status: status_text(t, status),
        valid_until: m.valid_until.map(date).unwrap_or_default(),
        objection_until: m
            .objection_until
            .filter(|_| status == MandateStatus::Offered)
            .map(date)
            .unwrap_or_default(),
        can_accept: is_admin && waiting_for_us,
        can_revoke: is_admin
            && matches!(
                status,
                MandateStatus::Offered | MandateStatus::Accepted | MandateStatus::Active
            ),
    }
}

pub(crate) async fn show(
    State(app): State<Arc<App>>,
    browser: Browser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let t = browser.texts();
    if !valid_id(&id) {
        return Err(WebError::page(
            StatusCode::NOT_FOUND,
            t.org_err_not_member,
            t,
        ));
    }
    let Some(session) = signed_in(&app, &browser, t).await? else {
        return account_flow(
            &app,
            &browser,
            t,
            Level::Basic,
            false,
            Purpose::OrgPage { organisation: id },
        )
        .await;
    };
    render(&app, &browser, t, &session, &id, None, None).await
}

/// Signing in at the level administration needs, then back to the page.
pub(crate) async fn step_up(
    State(app): State<Arc<App>>,
    browser: Browser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let t = browser.texts();
    if !valid_id(&id) {
        return Err(WebError::page(
            StatusCode::NOT_FOUND,
            t.org_err_not_member,
            t,
        ));
    }
    account_flow(
        &app,
        &browser,
        t,
        ADMIN_LEVEL,
        false,
        Purpose::OrgPage { organisation: id },
    )
    .await
}

/// What an administrator (or a member) asks the organisation page to do.
#[derive(Debug, Clone, Copy)]
enum Action {
    Confirm,
    Letter,
    Invite,
    Grant,
    RevokeRight,
    RemoveMember,
    SetRole,
    Mandate,
    Accept,
    Revoke,
}

async fn act(
    app: &App,
    actor: &Actor,
    id: &str,
    action: Action,
    pairs: &[(String, String)],
    t: &'static Texts,
) -> Result<&'static str, ServiceError> {
    let orgs = &app.orgs;
    let f = |name: &str| field(pairs, name).unwrap_or("").trim().to_owned();
    match action {
        Action::Confirm => {
            orgs.confirm(actor, id, &f("code")).await?;
            Ok(t.org_confirmed)
        }
        Action::Letter => {
            let language = if t.lang == "en" {
                Language::En
            } else {
                Language::De
            };
            orgs.resend_letter(actor, id, language).await?;
            Ok(t.org_letter_resent)
        }
        Action::Invite => {
            let role = Role::parse(&f("role")).unwrap_or(Role::Clerk);
            orgs.invite(actor, id, &f("email"), role).await?;
            Ok(t.org_invited)
        }
        Action::Grant => {
            let mandate = f("mandate");
            orgs.grant_right(
                actor,
                id,
                &f("member"),
                scope_from_form(pairs)?,
                Some(mandate.as_str()).filter(|m| !m.is_empty()),
            )
            .await?;
            Ok(t.org_right_granted)
        }
        Action::RevokeRight => {
            orgs.revoke_right(actor, id, &f("right")).await?;
            Ok(t.org_right_revoked)
        }
        Action::SetRole => {
            let role = Role::parse(&f("role")).ok_or(ServiceError::Invalid("role".into()))?;
            orgs.set_role(actor, id, &f("member"), role).await?;
            Ok(t.org_role_set)
        }
        Action::RemoveMember => {
            orgs.remove_member(actor, id, &f("member")).await?;
            Ok(t.org_member_removed)
        }
        Action::Mandate => {
            let other = match f("party").as_str() {
                "person" => PartyRef::Person(f("username")),
                _ => PartyRef::Registered(
                    RegisterKey::new(&f("court"), &f("register_type"), &f("number"))
                        .map_err(|_| ServiceError::Invalid("register key".into()))?,
                ),
            };
            let us = PartyRef::Organisation(id.to_owned());
            let (principal, agent) = if f("direction") == "hold" {
                (other, us)
            } else {
                (us, other)
            };
            let valid_until = match f("valid_until").as_str() {
                "" => None,
                d => Some(
                    time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]"))
                        .map_err(|_| ServiceError::Invalid("date".into()))?
                        .with_hms(23, 59, 59)
                        .map_err(|_| ServiceError::Invalid("date".into()))?
                        .assume_utc(),
                ),
            };
            let parent = f("parent");
            orgs.offer_mandate(
                actor,
                NewMandate {
                    principal,
                    agent,
                    scope: scope_from_form(pairs)?,
                    valid_from: None,
                    valid_until,
                    redelegation: f("redelegation").parse::<u8>().unwrap_or(0).min(3),
                    parent: Some(parent).filter(|p| !p.is_empty()),
                    evidence: Some(f("evidence")).filter(|e| !e.is_empty()),
                },
            )
            .await?;
            Ok(t.mandate_created)
        }
        Action::Accept => {
            orgs.accept_mandate(actor, &f("mandate")).await?;
            Ok(t.mandate_accepted_notice)
        }
        Action::Revoke => {
            orgs.revoke_mandate(actor, &f("mandate")).await?;
            Ok(t.mandate_revoked_notice)
        }
    }
}

async fn post_action(
    app: Arc<App>,
    browser: Browser,
    id: String,
    body: Bytes,
    action: Action,
) -> Response {
    let (session, pairs, t) = match account_action(&app, &browser, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !valid_id(&id) {
        return WebError::page(StatusCode::NOT_FOUND, t.org_err_not_member, t).into_response();
    }
    let actor = actor_of(&app, &session);
    let (error, notice) = match act(&app, &actor, &id, action, &pairs, t).await {
        Ok(notice) => (None, Some(notice)),
        Err(e) => match refusal(t, &e) {
            Some(text) => (Some(text), None),
            None => return WebError::service(e, t).into_response(),
        },
    };
    let r = render(&app, &browser, t, &session, &id, error, notice)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    if error.is_some() && r.status().is_success() {
        return (StatusCode::BAD_REQUEST, r).into_response();
    }
    r
}

macro_rules! action_handler {
    ($($name:ident => $action:ident),* $(,)?) => {
        $(
            pub(crate) async fn $name(
                State(app): State<Arc<App>>,
                browser: Browser,
                Path(id): Path<String>,
                body: Bytes,
            ) -> Response {
                post_action(app, browser, id, body, Action::$action).await
            }
        )*
    };
}

action_handler!(
    confirm => Confirm,
    letter => Letter,
    invite => Invite,
    grant => Grant,
    revoke_right => RevokeRight,
    remove_member => RemoveMember,
    set_role => SetRole,
    mandate => Mandate,
    accept => Accept,
    revoke => Revoke,
);

/// `/org/new`: a legal representative creates their organisation from the commercial register.
pub(crate) async fn new_form(
    State(app): State<Arc<App>>,
    browser: Browser,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let Some(session) = signed_in(&app, &browser, t).await? else {
        return account_flow(&app, &browser, t, ADMIN_LEVEL, false, Purpose::OrgNew).await;
    };
    new_page(&app, &browser, t, &session, None)
}

fn new_page(
    app: &App,
    browser: &Browser,
    t: &'static Texts,
    session: &SessionRecord,
    error: Option<&str>,
) -> Result<Response, WebError> {
    let actor = actor_of(app, session);
    let (b, cookie) = binding(app, browser, t)?;
    let page = OrgNewPage {
        t,
        dev: app.config.development,
        csrf: &csrf_token(app, &b),
        error,
        admin_level: actor.level >= ADMIN_LEVEL,
        available: app.services.register.is_some(),
        certificate: certificates_accepted(app),
    }
    .html()
    .into_response();
    Ok(with_cookie(page, cookie))
}

pub(crate) async fn create(State(app): State<Arc<App>>, browser: Browser, body: Bytes) -> Response {
    let (session, pairs, t) = match account_action(&app, &browser, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let actor = actor_of(&app, &session);
    let f = |name: &str| field(&pairs, name).unwrap_or("").trim().to_owned();
    let language = if t.lang == "en" {
        Language::En
    } else {
        Language::De
    };
    let outcome = match RegisterKey::new(&f("court"), &f("register_type"), &f("number")) {
        Ok(key) => app.orgs.create_from_register(&actor, &key, language).await,
        Err(_) => Err(ServiceError::Invalid("register key".into())),
    };
    match outcome {
        Ok(created) => see_other(&format!("/org/{}", created.organisation.id)),
        Err(e) => match refusal(t, &e) {
            Some(text) => new_page_refused(&app, &browser, t, &session, text),
            None => WebError::service(e, t).into_response(),
        },
    }
}

fn certificates_accepted(app: &App) -> bool {
    app.config.elster.enabled && app.certificate_url("").is_some()
}

/// The `/org/new` page again with what went wrong (400).
fn new_page_refused(
    app: &App,
    browser: &Browser,
    t: &'static Texts,
    session: &SessionRecord,
    text: &str,
) -> Response {
    let r =
        new_page(app, browser, t, session, Some(text)).unwrap_or_else(IntoResponse::into_response);
    (StatusCode::BAD_REQUEST, r).into_response()
}

/// `POST /org/new/certificate`: sends the signed-in person's browser to present their
/// organisation's ELSTER certificate. It comes back through the certificate hand-off
/// (`/login/cert/done`, or the proxy's forwarding path) to [`certificate_done`], in a flow
/// bound to this browser and to this person.
pub(crate) async fn certificate_start(
    State(app): State<Arc<App>>,
    browser: Browser,
    body: Bytes,
) -> Response {
    let (session, _, t) = match account_action(&app, &browser, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !certificates_accepted(&app) {
        return new_page_refused(&app, &browser, t, &session, t.err_unavailable);
    }
    // refused before the trip to the certificate, and again when the organisation is made
    if actor_of(&app, &session).level < ADMIN_LEVEL {
        return new_page_refused(&app, &browser, t, &session, t.org_err_level);
    }
    let started = async {
        let (b, cookie) = binding(&app, &browser, t)?;
        let protocol = Purpose::OrgCertificate {
            user_id: session.user_id.clone(),
        };
        let flow = app
            .login
            .start_flow(
                &account_request(&browser, ADMIN_LEVEL, false),
                protocol.to_json(),
                &b,
                true,
            )
            .await
            .map_err(|e| WebError::service(e, t))?;
        let url = app
            .certificate_url(flow.expose())
            .ok_or_else(|| WebError::page(StatusCode::BAD_REQUEST, t.err_unavailable, t))?;
        Ok::<_, WebError>(with_cookie(see_other(&url), cookie))
    };
    started.await.unwrap_or_else(IntoResponse::into_response)
}

/// The certificate is back for an [`Purpose::OrgCertificate`] flow (its hand-off already
/// checked): an organisation's certificate creates its organisation with the person who
/// started the flow as administrator — only if that person is still the one signed in here.
pub(crate) async fn certificate_done(
    app: &App,
    browser: &Browser,
    flow: &Flow,
    session: Option<SessionRecord>,
    user_id: &str,
    outcome: Option<CertOutcome>,
) -> Result<Response, WebError> {
    let t = browser.texts();
    app.login
        .finish_flow(flow)
        .await
        .map_err(|e| WebError::service(e, t))?;
    let Some(outcome) = outcome else {
        return Ok(see_other("/org/new"));
    };
    let Some(session) = session.filter(|s| s.user_id == user_id) else {
        // another person signed in in this browser meanwhile: the certificate makes them
        // nothing
        tracing::warn!("an organisation certificate came back to another person's session");
        return Err(WebError::page(StatusCode::BAD_REQUEST, t.error_flow, t));
    };
    let actor = actor_of(app, &session);
    match app.orgs.create_from_certificate(&actor, outcome).await {
        Ok(created) => Ok(see_other(&format!("/org/{}", created.organisation.id))),
        Err(ServiceError::Certificate(code)) => {
            let text = format!("{} {code}", t.err_cert_prefix);
            Ok(new_page_refused(app, browser, t, &session, &text))
        }
        Err(e) => match refusal(t, &e) {
            Some(text) => Ok(new_page_refused(app, browser, t, &session, text)),
            None => Err(WebError::service(e, t)),
        },
    }
}
