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
    /// `Sec-Fetch-Site` (Fetch Metadata): how the request's initiator relates to konto.
    pub fetch_site: Option<String>,
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
    cookie_up_to(headers, name, 128)
}

/// A cookie whose value may be up to `max` bytes (a sealed state rather than an id).
pub(crate) fn cookie_up_to(headers: &HeaderMap, name: &str, max: usize) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= max)
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
            fetch_site: parts
                .headers
                .get("sec-fetch-site")
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

/// Checks a form's CSRF token against the browser's binding cookie, and where the request came
/// from (see [`same_origin_post`]).
pub(crate) fn check_csrf(app: &App, browser: &Browser, token: Option<&str>) -> bool {
    let own = app.issuer.origin().ascii_serialization();
    let cert = app
        .cert_base_url
        .as_ref()
        .map(|u| u.origin().ascii_serialization());
    if !same_origin_post(
        browser.origin.as_deref(),
        browser.fetch_site.as_deref(),
        &own,
        cert.as_deref(),
    ) {
        tracing::warn!(
            origin = browser.origin.as_deref().unwrap_or("-"),
            fetch_site = browser.fetch_site.as_deref().unwrap_or("-"),
            "a form post from another site was refused"
        );
        return false;
    }
    match (&browser.binding, token) {
        (Some(b), Some(t)) => csrf_token(app, b).as_bytes().ct_eq(t.as_bytes()).into(),
        _ => false,
    }
}

/// Whether a state-changing request comes from konto's own pages, as far as the browser says.
///
/// - `Sec-Fetch-Site` (Fetch Metadata, sent by every current browser): `same-origin` and `none`
///   (the user's own action, never another site's) pass; `cross-site` never does; `same-site`
///   only from the certificate listener (another port of the same host).
/// - `Origin` (Fetch §3.1): konto's own origin or the certificate listener's passes. `null` is
///   what a browser sends when the page's referrer policy hides its origin, from a sandboxed
///   frame, or after a cross-origin redirect: it passes only together with
///   `Sec-Fetch-Site: same-origin`, which no other site can make a browser send.
/// - Neither header (old browsers, non-browser clients): the CSRF token alone decides.
pub(crate) fn same_origin_post(
    origin: Option<&str>,
    fetch_site: Option<&str>,
    own: &str,
    cert: Option<&str>,
) -> bool {
    let own_origin = |o: &str| o == own || Some(o) == cert;
    let site_ok = match fetch_site {
        None | Some("same-origin") | Some("none") => true,
        Some("same-site") => origin.is_some_and(|o| cert == Some(o)),
        Some(_) => false,
    };
    let origin_ok = match origin {
        None => true,
        Some("null") => fetch_site == Some("same-origin"),
        Some(o) => own_origin(o),
    };
    site_ok && origin_ok
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

#[cfg(test)]
mod tests {
    use super::same_origin_post;

    const OWN: &str = "https://konto.example";
    const CERT: &str = "https://konto.example:8443";

    fn ok(origin: Option<&str>, site: Option<&str>) -> bool {
        same_origin_post(origin, site, OWN, Some(CERT))
    }

    /// What Chromium sends for a form post from konto's own page, with each referrer policy.
    #[test]
    fn real_browsers_posting_konto_forms_pass() {
        assert!(ok(Some(OWN), Some("same-origin")));
        // a page served with `Referrer-Policy: no-referrer` (Fetch §3.2.5: serialized as null)
        assert!(ok(Some("null"), Some("same-origin")));
        // browsers without Fetch Metadata, and non-browser clients
        assert!(ok(Some(OWN), None));
        assert!(ok(None, None));
    }

    #[test]
    fn other_sites_are_refused() {
        assert!(!ok(Some("https://evil.example"), Some("cross-site")));
        assert!(!ok(Some("https://evil.example"), None));
        // a cross-site page with `no-referrer` sends null: the site header gives it away
        assert!(!ok(Some("null"), Some("cross-site")));
        // null without Fetch Metadata cannot be told apart from a foreign page
        assert!(!ok(Some("null"), None));
        // a sibling subdomain or another port of the host is not konto
        assert!(!ok(Some("https://other.konto.example"), Some("same-site")));
        assert!(!ok(Some("null"), Some("same-site")));
        // whatever claims to be konto, the browser knows better
        assert!(!ok(Some(OWN), Some("cross-site")));
        assert!(!ok(Some(OWN), Some("same-site")));
        assert!(!ok(Some(OWN), Some("something-new")));
    }

    #[test]
    fn the_certificate_listener_is_the_one_same_site_origin_allowed() {
        assert!(ok(Some(CERT), Some("same-site")));
        assert!(ok(Some(CERT), None));
        assert!(!same_origin_post(Some(CERT), Some("same-site"), OWN, None));
    }
}
