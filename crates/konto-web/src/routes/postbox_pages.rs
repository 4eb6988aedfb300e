//! The person's postbox pages: the inbox (unread first, by application if asked) and one
//! message. A message above the session's level shows who sent it and offers a sign-in at the
//! level it needs, which comes back to the message.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use konto_core::Level;
use konto_core::postbox::{BodyFormat, MessageKind, localized};
use konto_service::ServiceError;
use konto_service::postbox::PostboxService;
use konto_store::SessionRecord;
use serde::Deserialize;
use time::OffsetDateTime;

use super::account::{account_action, account_flow, binding, signed_in, with_cookie};
use super::{Purpose, see_other, valid_id};
use crate::app::App;
use crate::error::WebError;
use crate::http::{Browser, csrf_token};
use crate::i18n::Texts;
use crate::pages::{AttachmentRow, InboxRow, PostboxMessagePage, PostboxPage, StateRow};

fn when(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// A media type as a reader knows it.
fn file_kind(media: &str) -> &'static str {
    match media {
        "application/pdf" => "PDF",
        "text/plain" => "Text",
        "image/png" => "PNG",
        "image/jpeg" => "JPEG",
        "image/gif" => "GIF",
        "image/tiff" => "TIFF",
        _ => "Datei",
    }
}

/// A size as a reader reads it (decimal units).
fn file_size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{} kB", bytes.div_ceil(1_000)),
        _ => format!("{:.1} MB", bytes as f64 / 1_000_000.0),
    }
}

fn kind_text(t: &'static Texts, kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Message => t.kind_message,
        MessageKind::Decision => t.kind_decision,
    }
}

fn level_of(app: &App, session: &SessionRecord) -> Level {
    session
        .auth
        .standing(app.clock.now())
        .map(|s| s.level)
        .unwrap_or(Level::Basic)
}

#[derive(Deserialize)]
pub(crate) struct InboxQuery {
    application: Option<String>,
    /// From 1.
    page: Option<u32>,
}

/// Messages per page of the person's inbox.
const PAGE: u32 = 50;

/// Whose postbox a page shows: the signed-in person's, or an organisation's they are a
/// member of.
#[derive(Debug, Clone)]
enum Owner {
    Person,
    Organisation(String),
}

impl Owner {
    /// An organisation's postbox from a path's id (checked: it goes back into redirects).
    fn organisation_from(browser: &Browser, id: String) -> Result<Owner, WebError> {
        let t = browser.texts();
        if valid_id(&id) {
            Ok(Owner::Organisation(id))
        } else {
            Err(WebError::page(
                StatusCode::NOT_FOUND,
                t.org_err_not_member,
                t,
            ))
        }
    }

    fn organisation(&self) -> Option<&str> {
        match self {
            Owner::Person => None,
            Owner::Organisation(id) => Some(id),
        }
    }

    fn base(&self) -> String {
        match self {
            Owner::Person => "/postbox".to_owned(),
            Owner::Organisation(id) => format!("/org/{id}/postbox"),
        }
    }

    fn protocol(&self, message: Option<String>) -> Purpose {
        match self {
            Owner::Person => Purpose::Postbox { message },
            Owner::Organisation(id) => Purpose::OrgPostbox {
                organisation: id.clone(),
                message,
            },
        }
    }
}

/// `/postbox`: the inbox.
pub(crate) async fn inbox(
    State(app): State<Arc<App>>,
    browser: Browser,
    Query(q): Query<InboxQuery>,
) -> Result<Response, WebError> {
    inbox_page(&app, &browser, Owner::Person, q).await
}

/// `/org/{id}/postbox`: an organisation's inbox, for a member: the messages from the services
/// their rights cover.
pub(crate) async fn org_inbox(
    State(app): State<Arc<App>>,
    browser: Browser,
    Path(id): Path<String>,
    Query(q): Query<InboxQuery>,
) -> Result<Response, WebError> {
    let owner = Owner::organisation_from(&browser, id)?;
    inbox_page(&app, &browser, owner, q).await
}

async fn inbox_page(
    app: &Arc<App>,
    browser: &Browser,
    owner: Owner,
    q: InboxQuery,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let Some(session) = signed_in(app, browser, t).await? else {
        return account_flow(app, browser, t, Level::Basic, false, owner.protocol(None)).await;
    };
    let application = q.application.filter(|a| !a.is_empty() && a.len() <= 255);
    let postbox = PostboxService::new(Arc::clone(&app.services));
    let level = level_of(app, &session);
    let page = q.page.unwrap_or(1).clamp(1, 10_000);
    let more: bool;
    let (messages, states, organisation) = match &owner {
        Owner::Person => (
            {
                let (list, next) = postbox
                    .inbox_page(
                        &session.user_id,
                        level,
                        application.as_deref(),
                        (page - 1) * PAGE,
                        PAGE,
                    )
                    .await
                    .map_err(|e| WebError::service(e, t))?;
                more = next;
                list
            },
            postbox
                .timeline(&session.user_id, application.as_deref())
                .await
                .map_err(|e| WebError::service(e, t))?,
            None,
        ),
        Owner::Organisation(id) => {
            let page_of = postbox
                .org_inbox_page(
                    &session.user_id,
                    id,
                    level,
                    application.as_deref(),
                    (page - 1) * PAGE,
                    PAGE,
                )
                .await;
            let messages = match page_of {
                Ok((m, next)) => {
                    more = next;
                    m
                }
                Err(ServiceError::NotAllowed) => {
                    return Err(WebError::page(
                        StatusCode::NOT_FOUND,
                        t.org_err_not_member,
                        t,
                    ));
                }
                Err(e) => return Err(WebError::service(e, t)),
            };
            let states = postbox
                .org_timeline(&session.user_id, id, application.as_deref())
                .await
                .map_err(|e| WebError::service(e, t))?;
            let name = app
                .orgs
                .party_name(&konto_core::representation::Party::Organisation(id.clone()))
                .await
                .map_err(|e| WebError::service(e, t))?;
            (messages, states, Some(name))
        }
    };
    let state_row = |s: &konto_service::postbox::StateView| StateRow {
        application_id: s.application_id.clone(),
        status: t.application_status(s.status),
        sender: s.sender.clone(),
        service: localized(&s.service_name, t.lang)
            .unwrap_or_default()
            .to_owned(),
        details: localized(&s.details, t.lang).map(str::to_owned),
        when: when(s.recorded_at),
    };
    let (timeline, applications) = if application.is_some() {
        (states.iter().map(state_row).collect(), Vec::new())
    } else {
        // each application once, at its latest state, the most recent first
        let mut latest: Vec<&konto_service::postbox::StateView> = Vec::new();
        for s in states.iter().rev() {
            if !latest.iter().any(|l| l.application_id == s.application_id) {
                latest.push(s);
            }
        }
        (Vec::new(), latest.into_iter().map(state_row).collect())
    };
    let rows = messages
        .into_iter()
        .filter(|m| application.is_none() || m.application_id == application)
        .map(|m| InboxRow {
            unread: m.read_at.is_none(),
            kind: kind_text(t, m.kind),
            title: m.content.map(|c| c.title),
            provided: when(m.provided_at),
            needs: t.level(m.min_level),
            id: m.id,
            sender: m.sender,
            service: m.service,
            application_id: m.application_id,
        })
        .collect();
    let base = owner.base();
    let back = match &owner {
        Owner::Organisation(id) => format!("/org/{id}"),
        Owner::Person => "/account".to_owned(),
    };
    Ok(PostboxPage {
        t,
        dev: app.config.development,
        base: &base,
        organisation: organisation.as_deref(),
        back: &back,
        messages: rows,
        timeline,
        applications,
        application: application.as_deref(),
        next: more.then(|| {
            let mut next = format!("{base}?page={}", page + 1);
            if let Some(a) = &application {
                next.push_str("&application=");
                next.push_str(
                    &percent_encoding::utf8_percent_encode(a, percent_encoding::NON_ALPHANUMERIC)
                        .to_string(),
                );
            }
            next
        }),
    }
    .html()
    .into_response())
}

/// `/postbox/{id}`: one message, marked read when shown.
pub(crate) async fn message(
    State(app): State<Arc<App>>,
    browser: Browser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    message_page(&app, &browser, Owner::Person, id).await
}

/// `/org/{org}/postbox/{id}`: one of an organisation's messages, for a member whose rights
/// cover its service.
pub(crate) async fn org_message(
    State(app): State<Arc<App>>,
    browser: Browser,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let owner = Owner::organisation_from(&browser, org)?;
    message_page(&app, &browser, owner, id).await
}

async fn message_page(
    app: &Arc<App>,
    browser: &Browser,
    owner: Owner,
    id: String,
) -> Result<Response, WebError> {
    let t = browser.texts();
    if !valid_id(&id) {
        return Err(WebError::page(
            StatusCode::NOT_FOUND,
            t.postbox_no_message,
            t,
        ));
    }
    let Some(session) = signed_in(app, browser, t).await? else {
        return account_flow(
            app,
            browser,
            t,
            Level::Basic,
            false,
            owner.protocol(Some(id)),
        )
        .await;
    };
    let postbox = PostboxService::new(Arc::clone(&app.services));
    let level = level_of(app, &session);
    let base = owner.base();
    let read = match &owner {
        Owner::Person => postbox.read(&session.user_id, &id, level).await,
        Owner::Organisation(org) => postbox.org_read(&session.user_id, org, &id, level).await,
    };
    let view = match read {
        Ok(v) => v,
        Err(ServiceError::LevelTooLow { .. }) => {
            // who sent it and what it needs, from the list (which withholds the content)
            let m = postbox
                .summary(&session.user_id, owner.organisation(), &id)
                .await
                .map_err(|e| match e {
                    ServiceError::NoMessage | ServiceError::NotAllowed => {
                        WebError::page(StatusCode::NOT_FOUND, t.postbox_no_message, t)
                    }
                    e => WebError::service(e, t),
                })?;
            return Ok(PostboxMessagePage {
                t,
                dev: app.config.development,
                base: &base,
                can_delete: false,
                csrf: "",
                id: &m.id,
                kind: kind_text(t, m.kind),
                sender: &m.sender,
                service: &m.service,
                provided: when(m.provided_at),
                delivered_on: None,
                reference: None,
                application_id: None,
                content: None,
                html: None,
                needs: t.level(m.min_level),
                attachments: Vec::new(),
                signed: false,
                reply_address: None,
            }
            .html()
            .into_response());
        }
        Err(ServiceError::NoMessage | ServiceError::NotAllowed) => {
            return Err(WebError::page(
                StatusCode::NOT_FOUND,
                t.postbox_no_message,
                t,
            ));
        }
        Err(e) => return Err(WebError::service(e, t)),
    };
    let content = view.content.as_ref();
    let (b, cookie) = binding(app, browser, t)?;
    let can_delete = match &owner {
        Owner::Person => true,
        Owner::Organisation(org) => postbox
            .may_delete_for(&session.user_id, org)
            .await
            .map_err(|e| WebError::service(e, t))?,
    };
    let page = PostboxMessagePage {
        t,
        dev: app.config.development,
        base: &base,
        can_delete,
        csrf: &csrf_token(app, &b),
        id: &view.id,
        kind: kind_text(t, view.kind),
        sender: &view.sender,
        service: &view.service,
        provided: when(view.provided_at),
        delivered_on: view.delivered_on.map(|d| d.to_string()),
        reference: view.reference.as_deref(),
        application_id: view.application_id.as_deref(),
        content: content.map(|c| (c.title.as_str(), c.body.as_str())),
        html: content
            .filter(|c| c.format == BodyFormat::Html)
            .map(|c| konto_service::postbox_html::show(&c.body)),
        needs: t.level(view.min_level),
        attachments: content
            .map(|c| {
                c.attachments
                    .iter()
                    .enumerate()
                    .map(|(position, a)| AttachmentRow {
                        position,
                        name: a.filename.clone(),
                        kind: file_kind(&a.content_type),
                        size: file_size(a.size),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        signed: content.is_some_and(|c| c.signature.is_some()),
        reply_address: content.and_then(|c| c.reply_address.as_deref()),
    }
    .html()
    .into_response();
    Ok(with_cookie(page, cookie))
}

/// `POST /org/{org}/postbox/{id}/delete`: an administrator deletes one of the organisation's
/// messages (gone for every member; recorded in the organisation's record).
pub(crate) async fn org_delete(
    State(app): State<Arc<App>>,
    browser: Browser,
    Path((org, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (session, _, t) = match account_action(&app, &browser, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !valid_id(&id) || !valid_id(&org) {
        return WebError::page(StatusCode::NOT_FOUND, t.postbox_no_message, t).into_response();
    }
    let level = level_of(&app, &session);
    match PostboxService::new(Arc::clone(&app.services))
        .org_delete(&session.user_id, &org, &id, level)
        .await
    {
        Ok(()) => see_other(&format!("/org/{org}/postbox")),
        Err(ServiceError::NotAllowed) => {
            WebError::page(StatusCode::FORBIDDEN, t.postbox_admins_delete, t).into_response()
        }
        Err(ServiceError::LevelTooLow { .. }) => {
            see_other(&format!("/org/{org}/postbox/{id}/step-up"))
        }
        Err(ServiceError::NoMessage) => {
            WebError::page(StatusCode::NOT_FOUND, t.postbox_no_message, t).into_response()
        }
        Err(e) => WebError::service(e, t).into_response(),
    }
}

/// `POST /postbox/{id}/delete`: the person deletes a message (its content is erased).
pub(crate) async fn delete(
    State(app): State<Arc<App>>,
    browser: Browser,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (session, _, t) = match account_action(&app, &browser, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !valid_id(&id) {
        return WebError::page(StatusCode::NOT_FOUND, t.postbox_no_message, t).into_response();
    }
    match PostboxService::new(Arc::clone(&app.services))
        .delete(&session.user_id, &id)
        .await
    {
        Ok(()) => see_other("/postbox"),
        Err(ServiceError::NoMessage) => {
            WebError::page(StatusCode::NOT_FOUND, t.postbox_no_message, t).into_response()
        }
        Err(e) => WebError::service(e, t).into_response(),
    }
}

/// `/postbox/{id}/step-up`: a sign-in at the level the message needs, back to the message.
pub(crate) async fn step_up(
    State(app): State<Arc<App>>,
    browser: Browser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    step_up_page(&app, &browser, Owner::Person, id).await
}

/// `/org/{org}/postbox/{id}/step-up`: the same for an organisation's message.
pub(crate) async fn org_step_up(
    State(app): State<Arc<App>>,
    browser: Browser,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let owner = Owner::organisation_from(&browser, org)?;
    step_up_page(&app, &browser, owner, id).await
}

async fn step_up_page(
    app: &Arc<App>,
    browser: &Browser,
    owner: Owner,
    id: String,
) -> Result<Response, WebError> {
    let t = browser.texts();
    if !valid_id(&id) {
        return Err(WebError::page(
            StatusCode::NOT_FOUND,
            t.postbox_no_message,
            t,
        ));
    }
    let needed = match signed_in(app, browser, t).await? {
        Some(session) => PostboxService::new(Arc::clone(&app.services))
            .summary(&session.user_id, owner.organisation(), &id)
            .await
            .map_or(Level::Basic, |m| m.min_level),
        None => Level::Basic,
    };
    account_flow(app, browser, t, needed, false, owner.protocol(Some(id))).await
}

#[derive(Deserialize)]
pub(crate) struct AttachmentPath {
    id: String,
    n: String,
}

#[derive(Deserialize)]
pub(crate) struct OrgAttachmentPath {
    org: String,
    id: String,
    n: String,
}

/// `/postbox/{id}/attachments/{n}`: an attachment, as a download.
pub(crate) async fn attachment(
    State(app): State<Arc<App>>,
    browser: Browser,
    Path(p): Path<AttachmentPath>,
) -> Result<Response, WebError> {
    attachment_download(&app, &browser, Owner::Person, p.id, p.n).await
}

/// `/org/{org}/postbox/{id}/attachments/{n}`: an organisation's message's attachment.
pub(crate) async fn org_attachment(
    State(app): State<Arc<App>>,
    browser: Browser,
    Path(p): Path<OrgAttachmentPath>,
) -> Result<Response, WebError> {
    let owner = Owner::organisation_from(&browser, p.org)?;
    attachment_download(&app, &browser, owner, p.id, p.n).await
}

async fn attachment_download(
    app: &Arc<App>,
    browser: &Browser,
    owner: Owner,
    id: String,
    n: String,
) -> Result<Response, WebError> {
    let t = browser.texts();
    let Some(n) = super::postbox::position(&n) else {
        return Err(WebError::page(
            StatusCode::NOT_FOUND,
            t.postbox_no_message,
            t,
        ));
    };
    if !valid_id(&id) {
        return Err(WebError::page(
            StatusCode::NOT_FOUND,
            t.postbox_no_message,
            t,
        ));
    }
    let Some(session) = signed_in(app, browser, t).await? else {
        // sign in, then the message (where the download is)
        return account_flow(
            app,
            browser,
            t,
            Level::Basic,
            false,
            owner.protocol(Some(id)),
        )
        .await;
    };
    let level = level_of(app, &session);
    match PostboxService::new(Arc::clone(&app.services))
        .attachment(&session.user_id, owner.organisation(), &id, n, level)
        .await
    {
        Ok((info, data)) => Ok(super::download(&info.filename, &info.content_type, data)),
        Err(ServiceError::LevelTooLow { .. }) => {
            Ok(see_other(&format!("{}/{id}/step-up", owner.base())))
        }
        Err(ServiceError::NoMessage | ServiceError::NotAllowed) => Err(WebError::page(
            StatusCode::NOT_FOUND,
            t.postbox_no_message,
            t,
        )),
        Err(e) => Err(WebError::service(e, t)),
    }
}
