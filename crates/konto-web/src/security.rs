//! Security headers on every response (OWASP Secure Headers): a CSP without inline script, no
//! framing, no sniffing; HSTS over HTTPS; `no-store` unless a handler says otherwise.
//!
//! Referrers: `same-origin`. URLs of konto's pages carry flow ids (and a client's callback URL
//! carries the code), so no other site may see them in a `Referer`; konto's own requests keep
//! theirs, and with it the `Origin` of a form post. (`no-referrer` would make every browser
//! send `Origin: null` with konto's own form posts, Fetch §3.2.5.)
//!
//! Form targets: `form-action` applies to every redirect that follows a form submission
//! (CSP Level 3 §6.3.1; Chromium enforces it). A form whose answer can be a redirect to the
//! relying party (the login steps, consent, logout confirmation) or to the eID client therefore
//! carries a policy naming exactly those origins besides konto's own ([`csp_with_form_targets`]).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::app::App;

/// Everything but `form-action`.
const CSP_BASE: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) const DEFAULT_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The page policy with forms allowed to submit (or be redirected) to konto itself and to the
/// origins of `targets` (URLs; opaque or unparsable ones are left out). `self_too: false` for a
/// page whose only form leaves konto (`form_post`).
pub(crate) fn csp_with_form_targets<'a>(
    targets: impl IntoIterator<Item = &'a str>,
    self_too: bool,
) -> HeaderValue {
    let mut sources: Vec<String> = Vec::new();
    if self_too {
        sources.push("'self'".to_owned());
    }
    for t in targets {
        let Ok(url) = url::Url::parse(t) else {
            continue;
        };
        let origin = url.origin();
        if !origin.is_tuple() {
            continue;
        }
        let o = origin.ascii_serialization();
        if !sources.contains(&o) {
            sources.push(o);
        }
    }
    if sources.is_empty() {
        sources.push("'none'".to_owned());
    }
    let csp = format!("{CSP_BASE}; form-action {}", sources.join(" "));
    HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static(DEFAULT_CSP))
}

pub(crate) async fn headers(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if app.hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_targets_are_origins_only() {
        let v = csp_with_form_targets(
            [
                "https://rp.example/callback?x=1",
                "http://127.0.0.1:24727/eID-Client",
                "https://rp.example/other",
                "data:text/html,x",
                "not a url",
            ],
            true,
        );
        let v = v.to_str().unwrap_or("");
        assert!(
            v.ends_with("; form-action 'self' https://rp.example http://127.0.0.1:24727"),
            "{v}"
        );
        assert!(v.starts_with(CSP_BASE));
        let only = csp_with_form_targets(["https://rp.example/cb"], false);
        assert!(
            only.to_str()
                .unwrap_or("")
                .ends_with("; form-action https://rp.example")
        );
        let none = csp_with_form_targets([], false);
        assert!(
            none.to_str()
                .unwrap_or("")
                .ends_with("; form-action 'none'")
        );
    }
}
