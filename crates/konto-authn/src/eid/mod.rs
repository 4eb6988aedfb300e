//! The eID card (Online-Ausweis) through an eID-Server speaking BSI TR-03130 (level high).
//!
//! The flow, and who calls what:
//!
//! 1. [`EidConnector::start`] sends `useIDRequest` to the eID-Server (mutual TLS) and gets an
//!    [`EidSession`]: session id and pre-shared key. The login service stores it with the
//!    browser's login state, never in the browser.
//! 2. The browser is sent to [`EidConnector::client_url`], the user's eID client (AusweisApp),
//!    with the address of konto's TCToken. The eID client fetches [`EidConnector::tc_token`]
//!    from there (BSI TR-03124-1), talks to the eID-Server and the card, then sends the browser
//!    to the refresh address with `ResultMajor` (and `ResultMinor`) appended.
//! 3. [`check_refresh_query`] reads what the eID client appended; only on `ok` (or to learn why
//!    the server failed) does the login service call [`EidConnector::result`], which sends
//!    `getResultRequest` and turns the card's data into an [`EidIdentity`].
//!
//! Policy: only the data OZG §8 allows is requested; the card's pseudonym (RestrictedID) is the
//! account key; all data is level high with source eID; a result the eID-Server marks as an
//! error, or that is malformed, never yields an identity; no secret (PSK) is logged.
//!
//! Not done here: TR-03130 also asks for WS-Security signatures on every SOAP message; konto
//! relies on mutual TLS to the eID-Server only.

mod connector;
#[cfg(test)]
mod fixtures;
mod mapping;
mod soap;
mod tctoken;
mod xml;

use std::fmt;

use konto_core::amr::AuthenticatorKind;
use konto_core::attributes::Attribute;

pub use connector::EidConnector;
pub use tctoken::check_refresh_query;

/// How konto reaches its eID-Server and the user's eID client.
#[derive(Clone)]
pub struct EidConfig {
    /// The eID-Server's SOAP endpoint (https).
    pub server_url: url::Url,
    /// konto's TLS client certificate (and chain) for the eID-Server, PEM.
    pub client_cert_pem: Vec<u8>,
    /// The key of that certificate, PEM (PKCS#8, SEC1 or PKCS#1).
    pub client_key_pem: Vec<u8>,
    /// The only roots trusted for the eID-Server's TLS certificate, PEM.
    pub server_ca_pem: Vec<u8>,
    /// Upper bound for one SOAP call, connecting included.
    pub timeout: std::time::Duration,
    /// The eID client's address, normally `http://127.0.0.1:24727/eID-Client`.
    pub eid_client_url: url::Url,
}

impl fmt::Debug for EidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EidConfig")
            .field("server_url", &self.server_url.as_str())
            .field("client_key_pem", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("eid_client_url", &self.eid_client_url.as_str())
            .finish_non_exhaustive()
    }
}

/// The eID-Server session of one login attempt (from `useIDResponse`). Holds the TLS-PSK for the
/// eID client: keep it server-side.
#[derive(Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct EidSession {
    /// `Session/ID`, hex: names the session in `getResultRequest`.
    pub session_id: String,
    /// `eCardServerAddress`: where the eID client reaches the eID-Server (TCToken `ServerAddress`).
    pub ecard_server_address: Option<String>,
    /// `PSK/ID`: the TCToken's `SessionIdentifier`.
    pub psk_id: String,
    /// `PSK/Key`, hex: the TCToken's `PathSecurity-Parameters/PSK`.
    pub psk_key: String,
}

impl fmt::Debug for EidSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EidSession")
            .field("session_id", &self.session_id)
            .field("ecard_server_address", &self.ecard_server_address)
            .field("psk_id", &self.psk_id)
            .field("psk_key", &"<redacted>")
            .finish()
    }
}

/// What the card established about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EidIdentity {
    /// `RestrictedID/ID`, lowercase hex: the card- and service-specific pseudonym.
    pub restricted_id: String,
    /// Level high, source eID, verified at the time of the result.
    pub attributes: Vec<Attribute>,
    /// `DocumentType` (TR-03127): `ID` for the identity card, `AR`/`AS`/`AF` for residence
    /// permits (eAT), `UB` for the eID card for EU citizens.
    pub document_type: Option<String>,
    /// `DateOfExpiry`, `YYYY-MM-DD`.
    pub date_of_expiry: Option<String>,
}

impl EidIdentity {
    /// The login this identity amounts to: kind eID, the pseudonym as external id, level high.
    pub fn into_verified(self) -> crate::Verified {
        crate::Verified::new(
            AuthenticatorKind::Eid,
            Some(self.restricted_id),
            self.attributes,
        )
    }
}

/// Why an eID login did not produce an identity. [`EidError::code`] is the stable machine code.
#[derive(Debug, thiserror::Error)]
pub enum EidError {
    #[error("the user cancelled the online identification")]
    Cancelled,
    #[error("the eid document has expired")]
    DocumentExpired,
    #[error("the eid document is invalid or revoked")]
    DocumentInvalid,
    #[error("the eid document type is not accepted at level high")]
    DocumentDenied,
    #[error("the eid-server has no result for this session yet")]
    NoResultYet,
    #[error("the eid-server does not know this session (expired or already answered)")]
    SessionUnknown,
    #[error("the eid-server reports an error: {0}")]
    ServerError(String),
    #[error("the eid client reports an error: {0}")]
    ClientError(String),
    #[error("the eid-server did not answer in time")]
    Timeout,
    #[error("the eid-server cannot be reached: {0}")]
    Unavailable(String),
    #[error("eid protocol violation: {0}")]
    Protocol(String),
    #[error("eid configuration error: {0}")]
    Config(String),
}

impl EidError {
    /// Stable machine code, for logs, metrics and the error page.
    pub fn code(&self) -> &'static str {
        match self {
            EidError::Cancelled => "cancelled",
            EidError::DocumentExpired => "document_expired",
            EidError::DocumentInvalid => "document_invalid",
            EidError::DocumentDenied => "document_denied",
            EidError::NoResultYet => "no_result_yet",
            EidError::SessionUnknown => "session_unknown",
            EidError::ServerError(_) => "server_error",
            EidError::ClientError(_) => "client_error",
            EidError::Timeout => "timeout",
            EidError::Unavailable(_) => "unavailable",
            EidError::Protocol(_) => "protocol",
            EidError::Config(_) => "config",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_psk() {
        let session = EidSession {
            session_id: "00".repeat(16),
            ecard_server_address: None,
            psk_id: "psk-id-0123456789".into(),
            psk_key: "feedfacecafebeef".repeat(2),
        };
        let shown = format!("{session:?}");
        assert!(!shown.contains("feedface"), "{shown}");
        assert!(shown.contains("psk-id-0123456789"));
    }

    #[test]
    fn codes_are_distinct() {
        let all = [
            EidError::Cancelled,
            EidError::DocumentExpired,
            EidError::DocumentInvalid,
            EidError::DocumentDenied,
            EidError::NoResultYet,
            EidError::SessionUnknown,
            EidError::ServerError(String::new()),
            EidError::ClientError(String::new()),
            EidError::Timeout,
            EidError::Unavailable(String::new()),
            EidError::Protocol(String::new()),
            EidError::Config(String::new()),
        ];
        let mut codes: Vec<_> = all.iter().map(EidError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
