//! One error type: a refusal carries the SAML status it is answered with (SAML core §3.2.2.2).

/// The top-level and second-level status codes konto answers with (SAML core §3.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    /// `Requester` / `RequestDenied`: the request was refused (unsigned, wrong key, replayed,
    /// stale, wrong destination, a required attribute missing).
    RequestDenied,
    /// `Requester` / `InvalidNameIDPolicy`.
    InvalidNameIdPolicy,
    /// `VersionMismatch`.
    VersionMismatch,
    /// `Requester` / `RequestUnsupported`: a binding or option konto does not offer.
    RequestUnsupported,
    /// `Responder` / `NoPassive`: `IsPassive` and a page would be needed.
    NoPassive,
    /// `Responder` / `NoAuthnContext`: the requested context cannot be met.
    NoAuthnContext,
    /// `Responder` / `AuthnFailed`: the user cancelled or refused.
    AuthnFailed,
    /// `Responder`: konto failed.
    Responder,
    /// `Success` / `PartialLogout`: the session ended, but not every SP could be told.
    PartialLogout,
}

const TOP: &str = "urn:oasis:names:tc:SAML:2.0:status:";

impl Status {
    /// The top-level and the optional second-level status code URIs.
    pub fn codes(self) -> (String, Option<String>) {
        let (top, second) = match self {
            Status::Success => ("Success", None),
            Status::RequestDenied => ("Requester", Some("RequestDenied")),
            Status::InvalidNameIdPolicy => ("Requester", Some("InvalidNameIDPolicy")),
            Status::VersionMismatch => ("VersionMismatch", None),
            Status::RequestUnsupported => ("Requester", Some("RequestUnsupported")),
            Status::NoPassive => ("Responder", Some("NoPassive")),
            Status::NoAuthnContext => ("Responder", Some("NoAuthnContext")),
            Status::AuthnFailed => ("Responder", Some("AuthnFailed")),
            Status::Responder => ("Responder", None),
            Status::PartialLogout => ("Success", Some("PartialLogout")),
        };
        (format!("{TOP}{top}"), second.map(|s| format!("{TOP}{s}")))
    }
}

/// Why a SAML message was refused or could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    /// The message cannot be read or names nobody konto knows: there is no trustworthy place
    /// to send an answer to, so the browser gets an error page.
    #[error("{code}: {description}")]
    Unanswerable {
        /// A short code (`saml-request-unreadable`, `unknown-service-provider`…).
        code: &'static str,
        description: String,
    },
    /// A request from a registered SP that konto refuses: answered with a SAML `Response`
    /// carrying `status` to the SP's registered ACS URL.
    #[error("{code}: {description}")]
    Refused {
        status: Status,
        /// BundID's error code where it has one (`saml-request-not-signed`…).
        code: &'static str,
        description: String,
    },
    /// Invalid input given by an operator (metadata, keys).
    #[error("{0}")]
    Invalid(String),
    #[error("internal SAML failure: {0}")]
    Internal(String),
}

impl SamlError {
    pub(crate) fn unanswerable(code: &'static str, description: impl Into<String>) -> SamlError {
        SamlError::Unanswerable {
            code,
            description: description.into(),
        }
    }

    pub(crate) fn denied(code: &'static str, description: impl Into<String>) -> SamlError {
        SamlError::Refused {
            status: Status::RequestDenied,
            code,
            description: description.into(),
        }
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> SamlError {
        SamlError::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_the_uris_of_saml_core_3_2_2_2() {
        assert_eq!(
            Status::RequestDenied.codes(),
            (
                "urn:oasis:names:tc:SAML:2.0:status:Requester".into(),
                Some("urn:oasis:names:tc:SAML:2.0:status:RequestDenied".into())
            )
        );
        assert_eq!(
            Status::Success.codes(),
            ("urn:oasis:names:tc:SAML:2.0:status:Success".into(), None)
        );
    }
}
