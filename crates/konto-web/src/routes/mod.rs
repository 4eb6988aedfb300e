//! The route table and what handlers share: what konto's own flows are for, and how a finished
//! or failed flow answers.

pub(crate) mod account;
pub(crate) mod bundid_postbox;
pub(crate) mod cert;
pub(crate) mod login;
pub(crate) mod misc;
pub(crate) mod oidc;
pub(crate) mod openapi;
pub(crate) mod org_pages;
pub(crate) mod orgs;
pub(crate) mod postbox;
pub(crate) mod postbox_pages;
pub(crate) mod saml;

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use konto_authn::passkey::PendingRegistration;
use konto_core::completion::{
    BoxFuture, Completed, Completion, CompletionError, FailCode, PageParty, ProtocolAnswer,
};
use konto_core::login::{Authentication, LoginRequest};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::app::App;
use crate::i18n::Texts;
use crate::pages::FormPostPage;

/// What a flow was started for when konto's own pages started it; kept as the flow's protocol
/// JSON, beside the relying parties' protocols (`{"protocol":"oidc",…}`, see `konto_oidc`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum Purpose {
    /// The user's own account pages (signing in to them, adding an ELSTER certificate or eID).
    Account,
    /// Signing in to join an organisation (the invitation waits in a cookie, see `orgs`).
    OrgJoin,
    /// Signing in (or at a higher level) for an organisation's page.
    OrgPage { organisation: String },
    /// Signing in to create an organisation.
    OrgNew,
    /// Signing in (or at a higher level) for the postbox, or one message in it.
    Postbox { message: Option<String> },
    /// The same for an organisation's postbox.
    OrgPostbox {
        organisation: String,
        message: Option<String>,
    },
    /// Presenting an organisation ELSTER certificate to create its organisation, for the
    /// person `user_id` signed in when it started (see `org_pages::certificate_done`).
    OrgCertificate { user_id: String },
    /// Registering a passkey from the account page.
    PasskeyRegistration {
        user_id: String,
        pending: PendingRegistration,
    },
}

impl Purpose {
    /// The protocol tags of konto's own purposes.
    const TAGS: [&'static str; 8] = [
        "account",
        "org_join",
        "org_page",
        "org_new",
        "postbox",
        "org_postbox",
        "org_certificate",
        "passkey_registration",
    ];

    pub fn from_json(s: &str) -> Option<Purpose> {
        serde_json::from_str(s).ok()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The page a login for this purpose returns to; `None` for purposes that are no login
    /// (they end elsewhere, see `org_pages::certificate_done` and `account::passkey_finish`).
    fn page(&self) -> Option<String> {
        Some(match self {
            Purpose::Account => "/account".to_owned(),
            Purpose::OrgJoin => "/org/join".to_owned(),
            Purpose::OrgNew => "/org/new".to_owned(),
            // ids were checked when the flow started (URL-safe characters only)
            Purpose::OrgPage { organisation } => format!("/org/{organisation}"),
            Purpose::Postbox { message: Some(id) } => format!("/postbox/{id}"),
            Purpose::Postbox { message: None } => "/postbox".to_owned(),
            Purpose::OrgPostbox {
                organisation,
                message: Some(id),
            } => format!("/org/{organisation}/postbox/{id}"),
            Purpose::OrgPostbox {
                organisation,
                message: None,
            } => format!("/org/{organisation}/postbox"),
            Purpose::OrgCertificate { .. } | Purpose::PasskeyRegistration { .. } => return None,
        })
    }
}

/// How a login for one of konto's own pages ends: back to that page (or, failed, to the
/// account). Registered with the login service beside the protocol engines.
#[derive(Debug)]
pub(crate) struct OwnPages;

impl Completion for OwnPages {
    fn handles(&self, protocol: &str) -> bool {
        Purpose::TAGS.contains(&protocol)
    }

    fn party<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<PageParty, CompletionError>> {
        Box::pin(async {
            Ok(PageParty {
                name: "konto".to_owned(),
                answer_targets: Vec::new(),
                cancellable: false,
            })
        })
    }

    fn complete<'a>(
        &'a self,
        state: &'a str,
        _: &'a LoginRequest,
        _: &'a Authentication,
        _: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Completed, CompletionError>> {
        Box::pin(async move {
            let url = Purpose::from_json(state)
                .and_then(|p| p.page())
                .ok_or_else(|| CompletionError::BadFlow("no page to return to".into()))?;
            Ok(Completed::Answer(ProtocolAnswer::Redirect { url }))
        })
    }

    fn fail(&self, _: &str, _: FailCode, _: &str) -> Result<ProtocolAnswer, CompletionError> {
        Ok(ProtocolAnswer::Redirect {
            url: "/account".to_owned(),
        })
    }
}

/// Whether `id` can be one of konto's record ids in a path (URL-safe base64 of 16 bytes, or a
/// UUID): checked before it goes anywhere, and so safe to put back into a redirect.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A file to download: `Content-Disposition: attachment` with the name in ASCII and, when it
/// is not, in UTF-8 (RFC 6266 §4.3, RFC 8187); never rendered inline (`sandbox`, `nosniff`).
pub(crate) fn download(filename: &str, content_type: &str, data: Vec<u8>) -> Response {
    use axum::http::{HeaderValue, header};
    /// RFC 8187 §3.2.1: what `attr-char` leaves unencoded.
    const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut disposition = format!("attachment; filename=\"{ascii}\"");
    if ascii != filename {
        disposition.push_str("; filename*=UTF-8''");
        disposition.push_str(&percent_encoding::utf8_percent_encode(filename, ATTR).to_string());
    }
    let mut r = data.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `303 See Other` (RFC 9700 §4.12: never 307 after a form post).
pub(crate) fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

/// Sends a finished flow's answer: a redirect, or an auto-submitted form (OIDC `form_post`,
/// SAML HTTP-POST) whose CSP allows posting to exactly its target.
pub(crate) fn answer(app: &App, t: &'static Texts, answer: &ProtocolAnswer) -> Response {
    match answer {
        ProtocolAnswer::Redirect { url } => see_other(url),
        ProtocolAnswer::AutoPost { action, fields } => {
            let html = FormPostPage {
                t,
                dev: app.config.development,
                action,
                params: fields,
            }
            .html();
            let mut r = (StatusCode::OK, html).into_response();
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                crate::security::csp_with_form_targets([action.as_str()], false),
            );
            r
        }
    }
}

pub(crate) fn router(app: Arc<App>) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/.well-known/openid-configuration", get(oidc::discovery))
        .route("/jwks", get(oidc::jwks))
        .route("/authorize", get(oidc::authorize).post(oidc::authorize))
        .route("/token", post(oidc::token))
        .route("/userinfo", get(oidc::userinfo).post(oidc::userinfo))
        .route("/revoke", post(oidc::revoke))
        .route("/introspect", post(oidc::introspect))
        .route("/logout", get(oidc::logout).post(oidc::logout))
        .route("/logout/confirm", post(oidc::logout_confirm))
        .route("/saml/metadata", get(saml::metadata))
        .route("/saml/sso", get(saml::sso_redirect).post(saml::sso_post))
        .route("/saml/slo", get(saml::slo).post(saml::slo))
        .route("/loa/basic", get(misc::loa_basic))
        .route("/login", get(login::page::show))
        .route("/login/password", post(login::page::password))
        .route("/login/passkey/start", post(login::passkey::start))
        .route("/login/passkey/finish", post(login::passkey::finish))
        .route("/login/eid", post(login::external::eid_start))
        .route("/login/eid/tctoken", get(login::external::eid_tc_token))
        .route("/login/eid/return", get(login::external::eid_return))
        .route("/login/cert/done", get(login::external::cert_done))
        .route(
            "/login/cert/forwarded",
            get(login::external::cert_forwarded),
        )
        .route(
            "/login/cert/challenge",
            post(login::external::cert_challenge),
        )
        .route("/login/cert/signed", post(login::external::cert_signed))
        .route("/login/unlinked", post(login::page::unlinked))
        .route("/login/consent", post(login::page::consent))
        .route("/login/acting", post(login::page::acting))
        .route("/org/join", get(orgs::join_form).post(orgs::join))
        .route("/org/new", get(org_pages::new_form).post(org_pages::create))
        .route("/org/new/certificate", post(org_pages::certificate_start))
        .route("/postbox", get(postbox_pages::inbox))
        .route("/postbox/{id}", get(postbox_pages::message))
        .route("/postbox/{id}/step-up", get(postbox_pages::step_up))
        .route("/postbox/{id}/delete", post(postbox_pages::delete))
        .route(
            "/postbox/{id}/attachments/{n}",
            get(postbox_pages::attachment),
        )
        .route(
            "/org/{org}/postbox/{id}/attachments/{n}",
            get(postbox_pages::org_attachment),
        )
        .route(
            "/org/{org}/postbox/{id}/delete",
            post(postbox_pages::org_delete),
        )
        .route("/org/{id}/postbox", get(postbox_pages::org_inbox))
        .route("/org/{org}/postbox/{id}", get(postbox_pages::org_message))
        .route(
            "/org/{org}/postbox/{id}/step-up",
            get(postbox_pages::org_step_up),
        )
        .route("/org/{id}", get(org_pages::show))
        .route("/org/{id}/step-up", get(org_pages::step_up))
        .route("/org/{id}/confirm", post(org_pages::confirm))
        .route("/org/{id}/letter", post(org_pages::letter))
        .route("/org/{id}/invite", post(org_pages::invite))
        .route("/org/{id}/rights", post(org_pages::grant))
        .route("/org/{id}/rights/revoke", post(org_pages::revoke_right))
        .route("/org/{id}/members/remove", post(org_pages::remove_member))
        .route("/org/{id}/members/role", post(org_pages::set_role))
        .route("/org/{id}/mandates", post(org_pages::mandate))
        .route("/org/{id}/mandates/accept", post(org_pages::accept))
        .route("/org/{id}/mandates/revoke", post(org_pages::revoke))
        .route("/mandates/check", post(oidc::check_mandate))
        .route("/login/cancel", post(login::page::cancel))
        .route(
            "/register",
            get(account::register_form).post(account::register),
        )
        .route("/register/confirm", get(account::register_confirm))
        .route("/reset", get(account::reset_form).post(account::reset))
        .route(
            "/reset/confirm",
            get(account::reset_confirm_form).post(account::reset_confirm),
        )
        .route("/account", get(account::show))
        .route("/account/confirm", get(account::confirm))
        .route("/account/names", post(account::names))
        .route("/account/link", post(account::link))
        .route("/account/passkey/start", post(account::passkey_start))
        .route("/account/passkey/finish", post(account::passkey_finish))
        .route(
            "/account/authenticators/remove",
            post(account::remove_authenticator),
        )
        .route("/account/consents/revoke", post(account::revoke_consent))
        .route("/account/logout", post(account::logout))
        .route("/account/delete", post(account::delete))
        .route("/static/konto.css", get(misc::css))
        .route("/static/konto.js", get(misc::js))
        .route("/healthz", get(misc::healthz))
        .route("/readyz", get(misc::readyz))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/", get(misc::home))
        .fallback(misc::not_found)
        .with_state(app)
}

/// The postbox API's routes (their body limit is their own, see `crate::router`).
pub(crate) fn postbox_router(app: Arc<App>) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/postbox/v1/messages", post(postbox::send))
        .route("/postbox/v1/messages/{id}", get(postbox::status))
        .route(
            "/postbox/v1/applications/states",
            post(postbox::record_state),
        )
        .route("/postbox/v1/inbox", get(postbox::user_inbox))
        .route("/postbox/v1/inbox/{id}", get(postbox::user_message))
        .route(
            "/v6/mailbox/messages",
            axum::routing::put(bundid_postbox::put_message),
        )
        .route(
            "/v6/mailbox/applications/states",
            post(bundid_postbox::post_state),
        )
        .route(
            "/postbox/v1/inbox/{id}/attachments/{n}",
            get(postbox::user_attachment),
        )
        .with_state(app)
}

/// The certificate-login listener's routes.
pub(crate) fn cert_router(app: Arc<App>) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/cert/login", get(cert::login))
        .route("/static/konto.css", get(misc::css))
        .fallback(misc::not_found)
        .with_state(app)
}
