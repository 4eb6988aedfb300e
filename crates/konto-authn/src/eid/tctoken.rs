//! The eID client's side (BSI TR-03124-1): the TCToken konto serves, the address that opens the
//! eID client, and what the eID client appends to the refresh address.
//!
//! Policy: the TCToken binds the eID client to this login's eID-Server session with the PSK from
//! `useIDResponse` (TLS-PSK, RFC 4279, over PAOS). Every value written into it is XML-escaped.
//! The refresh query is untrusted input from the browser: it is bounded, and anything but an
//! explicit `ok` is an error. Even `ok` proves nothing by itself: only `getResult` does.

use super::EidError;
use super::EidSession;
use super::soap::RESULT_MAJOR_OK;

const RESULT_MAJOR_ERROR: &str = "http://www.bsi.bund.de/ecard/api/1.1/resultmajor#error";

pub(crate) const BINDING_PAOS: &str = "urn:liberty:paos:2006-08";
pub(crate) const PATH_SECURITY_PSK: &str = "urn:ietf:rfc:4279";
/// The longest refresh query accepted.
const MAX_QUERY: usize = 4096;

/// The TCToken (TR-03124-1 §2.4) for `session`. `server_address` is the eID-Server address the
/// eID client connects to; `eCardServerAddress` from `useIDResponse` when the server sent one.
pub(crate) fn tc_token(
    session: &EidSession,
    server_address: &str,
    refresh_address: &url::Url,
    communication_error_address: Option<&url::Url>,
) -> String {
    use quick_xml::escape::escape;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TCTokenType>");
    let mut element = |name: &str, value: &str| {
        out.push_str(&format!("<{name}>{}</{name}>", escape(value)));
    };
    element("ServerAddress", server_address);
    element("SessionIdentifier", &session.psk_id);
    element("RefreshAddress", refresh_address.as_str());
    if let Some(address) = communication_error_address {
        element("CommunicationErrorAddress", address.as_str());
    }
    element("Binding", BINDING_PAOS);
    element("PathSecurity-Protocol", PATH_SECURITY_PSK);
    out.push_str(&format!(
        "<PathSecurity-Parameters><PSK>{}</PSK></PathSecurity-Parameters></TCTokenType>",
        escape(&session.psk_key)
    ));
    out
}

/// Reads what the eID client appended to the refresh address (TR-03124-1 §2.5.4):
/// `ResultMajor=ok`, or `ResultMajor=error&ResultMinor=<code>` with `cancellationByUser`,
/// `trustedChannelEstablishmentFailed`, `serverError`, `clientError` or `communicationError`.
/// The full eCard-API URIs (`…/resultmajor#ok`, `…/resultminor/sal#cancellationByUser`) are
/// accepted too.
///
/// `Ok(())` only means the eID client finished: call [`super::EidConnector::result`] next. On
/// [`EidError::ServerError`] the eID-Server knows the precise reason (an expired or revoked
/// document, for one): calling `result` then returns it.
pub fn check_refresh_query(query: Option<&str>) -> Result<(), EidError> {
    let query = query.unwrap_or("");
    if query.len() > MAX_QUERY {
        return Err(EidError::Protocol("refresh query too long".into()));
    }
    let mut major = None;
    let mut minor = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = if key.eq_ignore_ascii_case("ResultMajor") {
            &mut major
        } else if key.eq_ignore_ascii_case("ResultMinor") {
            &mut minor
        } else {
            continue;
        };
        if slot.is_some() {
            return Err(EidError::Protocol(format!("{key} given twice")));
        }
        *slot = Some(value.into_owned());
    }
    let major =
        major.ok_or_else(|| EidError::Protocol("refresh query has no resultmajor".into()))?;
    match major.trim() {
        "ok" | RESULT_MAJOR_OK => Ok(()),
        "error" | RESULT_MAJOR_ERROR => Err(client_minor(minor.as_deref().map(last_part))),
        _ => Err(EidError::Protocol(
            "refresh query has an unknown resultmajor".into(),
        )),
    }
}

/// `…/resultminor/sal#cancellationByUser` → `cancellationByUser`; a short code stays as it is.
fn last_part(value: &str) -> &str {
    value.rsplit(['#', '/']).next().unwrap_or(value).trim()
}

fn client_minor(minor: Option<&str>) -> EidError {
    match minor {
        Some("cancellationByUser" | "cancelationByUser") => EidError::Cancelled,
        Some("serverError") => EidError::ServerError("the eid client reports serverError".into()),
        Some(code @ ("trustedChannelEstablishmentFailed" | "communicationError")) => {
            EidError::Unavailable(format!("the eid client reports {code}"))
        }
        Some(code) => {
            let code: String = code
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(64)
                .collect();
            EidError::ClientError(code)
        }
        None => EidError::ClientError("no resultminor".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::xml;
    use super::*;
    use proptest::prelude::*;

    fn session() -> EidSession {
        EidSession {
            session_id: "0123456789abcdef0123456789abcdef".into(),
            ecard_server_address: Some("https://eid.example/paos".into()),
            psk_id: "psk-0123456789abcdef".into(),
            psk_key: "a1b2c3d4e5f60718293a4b5c6d7e8f90".into(),
        }
    }

    #[test]
    fn tc_token_has_the_tr_03124_elements_in_order() {
        let refresh = url::Url::parse("https://konto.example/eid/back?state=a&b=<x>").unwrap();
        let error = url::Url::parse("https://konto.example/eid/error").unwrap();
        let token = tc_token(
            &session(),
            "https://eid.example/paos",
            &refresh,
            Some(&error),
        );
        let root = xml::parse(token.as_bytes()).unwrap();
        assert_eq!(root.name, "TCTokenType");
        assert_eq!(root.ns, None);
        let names: Vec<&str> = root.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ServerAddress",
                "SessionIdentifier",
                "RefreshAddress",
                "CommunicationErrorAddress",
                "Binding",
                "PathSecurity-Protocol",
                "PathSecurity-Parameters"
            ]
        );
        assert_eq!(
            root.child_text("SessionIdentifier"),
            Some("psk-0123456789abcdef")
        );
        assert_eq!(root.child_text("RefreshAddress"), Some(refresh.as_str()));
        assert!(refresh.as_str().contains('&'));
        assert_eq!(root.child_text("Binding"), Some(BINDING_PAOS));
        assert_eq!(
            root.child_text("PathSecurity-Protocol"),
            Some(PATH_SECURITY_PSK)
        );
        assert_eq!(
            root.path(&["PathSecurity-Parameters", "PSK"])
                .and_then(xml::Element::trimmed),
            Some("a1b2c3d4e5f60718293a4b5c6d7e8f90")
        );
        let without = tc_token(&session(), "https://eid.example/paos", &refresh, None);
        assert!(!without.contains("CommunicationErrorAddress"));
    }

    #[test]
    fn refresh_query_ok_in_both_forms() {
        assert!(check_refresh_query(Some("ResultMajor=ok")).is_ok());
        assert!(
            check_refresh_query(Some(
                "state=x&ResultMajor=http%3A%2F%2Fwww.bsi.bund.de%2Fecard%2Fapi%2F1.1%2Fresultmajor%23ok"
            ))
            .is_ok()
        );
    }

    #[test]
    fn refresh_query_errors() {
        let code = |q: &str| check_refresh_query(Some(q)).unwrap_err().code();
        assert_eq!(
            code("ResultMajor=error&ResultMinor=cancellationByUser"),
            "cancelled"
        );
        assert_eq!(
            code(
                "ResultMajor=error&ResultMinor=http%3A%2F%2Fwww.bsi.bund.de%2Fecard%2Fapi%2F1.1%2Fresultminor%2Fsal%23cancellationByUser"
            ),
            "cancelled"
        );
        assert_eq!(
            code("ResultMajor=error&ResultMinor=serverError"),
            "server_error"
        );
        assert_eq!(
            code("ResultMajor=error&ResultMinor=trustedChannelEstablishmentFailed"),
            "unavailable"
        );
        assert_eq!(
            code("ResultMajor=error&ResultMinor=communicationError"),
            "unavailable"
        );
        assert_eq!(
            code("ResultMajor=error&ResultMinor=clientError"),
            "client_error"
        );
        assert_eq!(code("ResultMajor=error"), "client_error");
        assert_eq!(code("ResultMajor=warning"), "protocol");
        assert_eq!(code("ResultMajor=ok&ResultMajor=ok"), "protocol");
        assert_eq!(code(""), "protocol");
        assert_eq!(check_refresh_query(None).unwrap_err().code(), "protocol");
        assert_eq!(code(&"a".repeat(MAX_QUERY + 1)), "protocol");
    }

    proptest! {
        #[test]
        fn refresh_query_never_panics(q in ".{0,300}") {
            let _ = check_refresh_query(Some(&q));
        }

        #[test]
        fn refresh_query_never_panics_on_near_misses(
            major in "(ok|error|warning|http://x#ok|#|/ok|)",
            minor in "[a-zA-Z#/%]{0,40}",
        ) {
            let _ = check_refresh_query(Some(&format!("ResultMajor={major}&ResultMinor={minor}")));
        }
    }
}
