//! Request helpers: the connection, the browser (cookies, language, address), CSRF tokens,
//! cookies to set, and form bodies parsed strictly.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use konto_core::secret::hmac_sha256;
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::i18n::{self, Texts};

/// What the listener knows about a connection; put into every request by the server.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub tls: bool,
    /// The client certificate chain from the TLS handshake (certificate-login listener).
    pub client_certs: Arc<Vec<Vec<u8>>>,
}

/// The browser behind a request.
#[derive(Debug, Clone)]
pub(crate) struct Browser {
    pub binding: Option<String>,
    pub session: Option<String>,
    pub languages: Vec<String>,
    pub ip: IpAddr,
    pub conn: Option<ConnInfo>,
    pub origin: Option<String>,
}

impl Browser {
    pub(crate) fn texts(&self) -> &'static Texts {
        i18n::pick(self.languages.iter().map(String::as_str))
    }

    /// Texts for a flow: its `ui_locales` first, then the browser's languages.
    pub(crate) fn texts_for(&self, ui_locales: &[String]) -> &'static Texts {
        i18n::pick(
            ui_locales
                .iter()
                .chain(self.languages.iter())
                .map(String::as_str),
        )
    }
}

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The client's address: the peer, or — when the peer is a trusted proxy — the nearest
/// address in `X-Forwarded-For` that is not a trusted proxy.
pub(crate) fn client_ip(app: &App, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    if !app.is_trusted_proxy(peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !app.is_trusted_proxy(*ip))
        .unwrap_or(peer)
}

impl FromRequestParts<Arc<App>> for Browser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let conn = parts.extensions.get::<ConnInfo>().cloned();
        let peer = conn
            .as_ref()
            .map(|c| c.peer.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let languages = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(i18n::accept_language)
            .unwrap_or_default();
        Ok(Browser {
            binding: cookie(&parts.headers, app.cookies.binding),
            session: cookie(&parts.headers, app.cookies.session),
            languages,
            ip: client_ip(app, peer, &parts.headers),
            origin: parts
                .headers
                .get(header::ORIGIN)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            conn,
        })
    }
}

/// The CSRF token for a browser: a MAC of its binding cookie, so it needs no storage and works on
/// every node.
pub(crate) fn csrf_token(app: &App, binding: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac_sha256(&app.keys.csrf, &[b"csrf", binding.as_bytes()]))
}

/// Checks a form's CSRF token against the browser's binding cookie, and the `Origin` header when
/// the browser sends one.
pub(crate) fn check_csrf(app: &App, browser: &Browser, token: Option<&str>) -> bool {
    if let Some(origin) = &browser.origin {
        let own = app.issuer.origin().ascii_serialization();
        let cert = app
            .cert_base_url
            .as_ref()
            .map(|u| u.origin().ascii_serialization());
        if *origin != own && Some(origin) != cert.as_ref() {
            return false;
        }
    }
    match (&browser.binding, token) {
        (Some(b), Some(t)) => csrf_token(app, b).as_bytes().ct_eq(t.as_bytes()).into(),
        _ => false,
    }
}

/// `Set-Cookie` values.
pub(crate) fn set_cookie(app: &App, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if app.cookies.secure { "; Secure" } else { "" };
    let v =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}; Max-Age={max_age_secs}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

pub(crate) fn clear_cookie(app: &App, name: &str) -> HeaderValue {
    set_cookie(app, name, "", 0)
}

/// Parses a form body into name/value pairs.
pub(crate) fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The value of the first pair named `name`.
pub(crate) fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
