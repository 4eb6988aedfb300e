//! Joining an organisation from an invitation link.
//!
//! The link's token never reaches the database outside its hash, nor the flow record, nor a
//! `Referer`: `GET /org/join?token=…` moves it into a short-lived HttpOnly cookie and redirects
//! to `/org/join`; a person not signed in signs in first (the flow's protocol remembers only
//! that a join is pending); the join itself is a POST with the page's CSRF token, so a link
//! alone — or another site — cannot make anyone a member.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use konto_core::Level;
use konto_service::ServiceError;
use konto_service::org::Actor;
use serde::Deserialize;

use super::account::{
    account_action, account_flow, binding, render_account, signed_in, with_cookie,
};
use super::{Purpose, see_other};
use crate::app::App;
use crate::error::WebError;
use crate::http::{Browser, clear_cookie, cookie, csrf_token, set_cookie};
use crate::pages::{MessagePage, OrgJoinPage};

/// How long an opened invitation waits for its sign-in.
const JOIN_COOKIE_SECS: i64 = 3600;

fn join_cookie(app: &App) -> &'static str {
    if app.cookies.secure {
        "__Host-konto-join"
    } else {
        "konto-join"
    }
}

#[derive(Deserialize)]
pub(crate) struct JoinQuery {
    token: Option<String>,
}

pub(crate) async fn join_form(
    State(app): State<Arc<App>>,
    browser: Browser,
    headers: axum::http::HeaderMap,
    Query(q): Query<JoinQuery>,
) -> Result<Response, WebError> {
    let t = browser.texts();
    if let Some(token) = q.token.filter(|t| !t.is_empty() && t.len() <= 64) {
        let mut r = see_other("/org/join");
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&app, join_cookie(&app), &token, JOIN_COOKIE_SECS),
        );
        return Ok(r);
    }
    let Some(token) = cookie(&headers, join_cookie(&app)) else {
        return Ok(MessagePage {
            t,
            dev: app.config.development,
            title: t.org_join_title,
            paragraphs: vec![t.err_link],
            link: Some(("/account".into(), t.account_title)),
        }
        .html()
        .into_response());
    };
    if signed_in(&app, &browser, t).await?.is_none() {
        return account_flow(&app, &browser, t, Level::Basic, false, Purpose::OrgJoin).await;
    }
    let (org, role) = match app.orgs.invitation(&token).await {
        Ok(found) => found,
        Err(ServiceError::BadLink) => {
            return Ok(MessagePage {
                t,
                dev: app.config.development,
                title: t.org_join_title,
                paragraphs: vec![t.err_link],
                link: Some(("/account".into(), t.account_title)),
            }
            .html()
            .into_response());
        }
        Err(e) => return Err(WebError::service(e, t)),
    };
    let (b, set) = binding(&app, &browser, t)?;
    let page = OrgJoinPage {
        t,
        dev: app.config.development,
        csrf: &csrf_token(&app, &b),
        organisation: &org.name,
        role: t.role(role),
    }
    .html()
    .into_response();
    Ok(with_cookie(page, set))
}

pub(crate) async fn join(
    State(app): State<Arc<App>>,
    browser: Browser,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let (session, _pairs, t) = match account_action(&app, &browser, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(token) = cookie(&headers, join_cookie(&app)) else {
        return see_other("/org/join");
    };
    let level = session
        .auth
        .standing(app.clock.now())
        .map(|s| s.level)
        .unwrap_or(Level::Basic);
    let actor = Actor {
        user_id: session.user_id.clone(),
        level,
    };
    let outcome = app.orgs.join(&actor, &token).await;
    let (error, notice) = match outcome {
        Ok(organisation) => {
            let name = match app.services.store.organisation(&organisation).await {
                Ok(Some(o)) => o.name,
                _ => String::new(),
            };
            (None, Some(format!("{} {name}", t.org_joined)))
        }
        Err(ServiceError::BadLink) => (Some(t.err_link), None),
        Err(e) => return WebError::service(e, t).into_response(),
    };
    let mut r = render_account(&app, &browser, t, &session, error, notice.as_deref())
        .await
        .unwrap_or_else(IntoResponse::into_response);
    r.headers_mut()
        .append(header::SET_COOKIE, clear_cookie(&app, join_cookie(&app)));
    r
}
