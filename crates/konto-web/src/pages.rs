//! Pages rendered from autoescaping templates (askama escapes `.html` templates).

use askama::Template;
use axum::response::Html;

use crate::i18n::Texts;

fn render<T: Template>(t: &T) -> Html<String> {
    match t.render() {
        Ok(html) => Html(html),
        Err(e) => {
            tracing::error!(error = %e, "a page template failed to render");
            Html("<!DOCTYPE html><title>konto</title><p>Error / Fehler</p>".to_owned())
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'a Texts,
    dev: bool,
    message: &'a str,
    detail: Option<&'a str>,
    error_id: Option<&'a str>,
}

/// An error page: the message in the page's language, optionally the protocol's own (English)
/// reason for developers, and the id of a logged server error.
pub(crate) fn error_page(
    t: &'static Texts,
    message: &str,
    detail: Option<&str>,
    error_id: Option<&str>,
) -> Html<String> {
    render(&ErrorPage {
        t,
        dev: false,
        message,
        detail,
        error_id,
    })
}

#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    pub title: &'a str,
    pub paragraphs: Vec<&'a str>,
    pub link: Option<(String, &'a str)>,
}

impl MessagePage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct LoginPage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    pub flow: &'a str,
    pub csrf: &'a str,
    pub client_name: &'a str,
    pub reason: &'a str,
    pub levels: Option<(&'a str, &'a str)>,
    pub password: bool,
    pub passkey: bool,
    pub elster_url: Option<String>,
    pub eid: bool,
    pub error: Option<String>,
    pub notice: Option<&'a str>,
    pub username: &'a str,
    pub registration: bool,
    pub cancel: bool,
}

impl LoginPage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

#[derive(Template)]
#[template(path = "second_factor.html")]
pub(crate) struct SecondFactorPage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    pub flow: &'a str,
    pub csrf: &'a str,
}

impl SecondFactorPage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

#[derive(Template)]
#[template(path = "unlinked.html")]
pub(crate) struct UnlinkedPage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    pub flow: &'a str,
    pub csrf: &'a str,
    pub rows: Vec<(&'a str, String, &'a str)>,
    pub registration: bool,
    pub temporary: bool,
}

impl UnlinkedPage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
pub(crate) struct ConsentPage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    pub flow: &'a str,
    pub csrf: &'a str,
    pub client_name: &'a str,
    pub items: Vec<String>,
    /// Whom the user acts for, when not for themselves.
    pub acting_for: Option<&'a str>,
    pub remember: bool,
}

impl ConsentPage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

/// One choice on the acting page.
#[derive(Debug, Clone)]
pub(crate) struct ActingChoice {
    pub key: String,
    pub name: String,
    pub via: Option<String>,
    pub legal_representative: bool,
}

#[derive(Template)]
#[template(path = "acting.html")]
pub(crate) struct ActingPage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    pub flow: &'a str,
    pub csrf: &'a str,
    pub client_name: &'a str,
    pub choices: Vec<ActingChoice>,
    /// Whether "for myself" is a choice (not when the service needs a legal representative).
    pub myself_allowed: bool,
}

impl ActingPage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

#[derive(Template)]
#[template(path = "form_post.html")]
pub(crate) struct FormPostPage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    pub action: &'a str,
    pub params: &'a [(String, String)],
}

impl FormPostPage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

#[derive(Template)]
#[template(path = "logout.html")]
pub(crate) struct LogoutPage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    pub csrf: &'a str,
    pub params: Vec<(String, String)>,
}

impl LogoutPage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

#[derive(Template)]
#[template(path = "register.html")]
pub(crate) struct RegisterPage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    pub csrf: &'a str,
    pub error: Option<&'a str>,
    pub email: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
}

impl RegisterPage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

#[derive(Template)]
#[template(path = "reset.html")]
pub(crate) struct ResetPage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    pub csrf: &'a str,
    pub error: Option<&'a str>,
    pub token: Option<&'a str>,
}

impl ResetPage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

#[derive(Template)]
#[template(path = "account.html")]
pub(crate) struct AccountPage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
    /// label, value, source, level, verified
    pub attributes: Vec<(&'a str, String, &'a str, &'a str, String)>,
    pub given_name: String,
    pub family_name: String,
    pub authenticators: Vec<(&'a str, &'a str)>,
    pub can_add_passkey: bool,
    pub can_add_elster: bool,
    pub can_add_eid: bool,
    pub consents: Vec<(String, String, String)>,
    /// id, name, role, confirmed
    pub organisations: Vec<(String, String, &'a str, bool)>,
    pub sessions: Vec<String>,
}

impl AccountPage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

#[derive(Template)]
#[template(path = "org_join.html")]
pub(crate) struct OrgJoinPage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    pub csrf: &'a str,
    /// The organisation the invitation is for, and the role it offers.
    pub organisation: &'a str,
    pub role: &'a str,
}

impl OrgJoinPage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

/// A member on the organisation page.
#[derive(Debug, Clone)]
pub(crate) struct MemberRow {
    pub user_id: String,
    pub username: String,
    pub role: &'static str,
    pub is_admin: bool,
    pub is_me: bool,
    /// right id, description
    pub rights: Vec<(String, String)>,
}

/// A mandate on the organisation page.
#[derive(Debug, Clone)]
pub(crate) struct MandateRow {
    pub id: String,
    pub direction: &'static str,
    pub principal: String,
    pub agent: String,
    pub scope: String,
    pub status: &'static str,
    pub valid_until: String,
    pub objection_until: String,
    pub can_accept: bool,
    pub can_revoke: bool,
}

#[derive(Template)]
#[template(path = "org.html")]
pub(crate) struct OrgPage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    pub csrf: &'a str,
    pub id: &'a str,
    pub name: &'a str,
    pub legal_form: &'a str,
    pub identifiers: Vec<(&'a str, String)>,
    pub level: &'a str,
    pub confirmed: bool,
    pub role: &'a str,
    pub is_admin: bool,
    /// Whether the session is at the level administration needs.
    pub admin_level: bool,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
    /// sent, valid until — for the addressee while unconfirmed
    pub letter: Option<(String, String)>,
    pub my_rights: Vec<String>,
    pub members: Vec<MemberRow>,
    pub mandates: Vec<MandateRow>,
    /// Active mandates the organisation received: id, description (for rights under them).
    pub grantable: Vec<(String, String)>,
    /// time, who, level, action
    pub events: Vec<(String, String, &'a str, String)>,
}

impl OrgPage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

#[derive(Template)]
#[template(path = "org_new.html")]
pub(crate) struct OrgNewPage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    pub csrf: &'a str,
    pub error: Option<&'a str>,
    pub admin_level: bool,
    /// Whether a register is connected.
    pub available: bool,
    /// Whether ELSTER certificates are accepted (an organisation certificate creates its
    /// organisation).
    pub certificate: bool,
}

impl OrgNewPage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

/// One status update of an application.
pub(crate) struct StateRow {
    pub application_id: String,
    pub status: &'static str,
    pub sender: String,
    pub service: String,
    pub details: Option<String>,
    pub when: String,
}

/// One message in the inbox list.
pub(crate) struct InboxRow {
    pub id: String,
    pub unread: bool,
    pub kind: &'static str,
    pub sender: String,
    pub service: String,
    /// `None` above the session's level.
    pub title: Option<String>,
    pub provided: String,
    /// What it needs when locked: the level's name.
    pub needs: &'static str,
    pub application_id: Option<String>,
}

#[derive(Template)]
#[template(path = "postbox.html")]
pub(crate) struct PostboxPage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    /// Where the postbox's pages are: `/postbox`, or `/org/{id}/postbox`.
    pub base: &'a str,
    /// The organisation's name, for an organisation's postbox.
    pub organisation: Option<&'a str>,
    /// The organisation's page.
    pub back: &'a str,
    pub messages: Vec<InboxRow>,
    /// Without a filter: each application's latest state.
    pub applications: Vec<StateRow>,
    /// With a filter: the application's timeline, oldest first.
    pub timeline: Vec<StateRow>,
    /// The application the list is filtered by.
    pub application: Option<&'a str>,
    /// The next page of messages, if there is one.
    pub next: Option<String>,
}

impl PostboxPage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}

#[derive(Template)]
#[template(path = "postbox_message.html")]
pub(crate) struct PostboxMessagePage<'a> {
    pub t: &'a Texts,
    pub dev: bool,
    /// Where the postbox's pages are: `/postbox`, or `/org/{id}/postbox`.
    pub base: &'a str,
    /// Only the person deletes from their own postbox.
    pub can_delete: bool,
    /// For the delete form (shown with the content).
    pub csrf: &'a str,
    pub id: &'a str,
    pub kind: &'static str,
    pub sender: &'a str,
    pub service: &'a str,
    pub provided: String,
    pub delivered_on: Option<String>,
    pub reference: Option<&'a str>,
    pub application_id: Option<&'a str>,
    /// Title and body; `None` when the session must step up first.
    pub content: Option<(&'a str, &'a str)>,
    /// An HTML body, sanitised again for showing (shown instead of the text).
    pub html: Option<String>,
    /// The level a step-up must reach.
    pub needs: &'static str,
    pub attachments: Vec<AttachmentRow>,
    /// The sender signed the content (checked on arrival; the content hash on reading).
    pub signed: bool,
    /// Where the person may answer (shown as text, not as a link).
    pub reply_address: Option<&'a str>,
}

/// An attachment on a message's page.
pub(crate) struct AttachmentRow {
    pub position: usize,
    pub name: String,
    /// Its type, as a reader knows it: PDF, text, PNG, JPEG.
    pub kind: &'static str,
    /// Its size, readable: "12 KB".
    pub size: String,
}

impl PostboxMessagePage<'_> {
    pub(crate) fn html(&self) -> Html<String> {
        render(self)
    }
}
