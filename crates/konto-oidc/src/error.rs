//! OAuth 2.0 / OpenID Connect errors with their wire codes.

use std::fmt;

use serde::Serialize;
use utoipa::ToSchema;

/// Error codes of RFC 6749 §4.1.2.1 and §5.2, OIDC Core §3.1.2.6, RFC 6750 §3.1, RFC 7009 §2.2.1
/// and OpenID Connect Unmet Authentication Requirements 1.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    UnmetAuthenticationRequirements,
    InvalidToken,
    UnsupportedTokenType,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
        }
    }

    /// The HTTP status for a direct (non-redirect) error response.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error the protocol defines, with a description for the developer of the client.
///
/// Descriptions say what the caller did wrong; they never carry internal detail. They stay within
/// the characters RFC 6749 §5.2 allows (printable ASCII without `"` and `\`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    /// The client tried HTTP Basic authentication: answer 401 with `WWW-Authenticate: Basic`
    /// (RFC 6749 §5.2).
    pub basic_challenge: bool,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> OAuthError {
        let description: String = description
            .into()
            .chars()
            .map(|c| {
                if (' '..='~').contains(&c) && c != '"' && c != '\\' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        OAuthError {
            code,
            description,
            basic_challenge: false,
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> OAuthError {
        Self::new(ErrorCode::InvalidRequest, d)
    }

    pub fn invalid_grant(d: impl Into<String>) -> OAuthError {
        Self::new(ErrorCode::InvalidGrant, d)
    }

    pub fn invalid_client(d: impl Into<String>) -> OAuthError {
        Self::new(ErrorCode::InvalidClient, d)
    }

    /// A failure inside konto: the caller learns only that, the log gets the detail.
    pub fn server_error(detail: &dyn fmt::Display) -> OAuthError {
        tracing::error!(error = %detail, "internal error in the OpenID Provider");
        Self::new(
            ErrorCode::ServerError,
            "the server could not complete the request",
        )
    }

    pub fn unavailable(detail: &dyn fmt::Display) -> OAuthError {
        tracing::warn!(error = %detail, "storage unavailable");
        Self::new(ErrorCode::TemporarilyUnavailable, "try again later")
    }

    /// The RFC 6749 §5.2 JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&ErrorResponse {
            error: self.code.as_str(),
            error_description: &self.description,
        })
        .unwrap_or_default()
    }
}

/// RFC 6749 §5.2: the body of an error at the token, introspection, revocation and mandate-check
/// endpoints.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct ErrorResponse<'a> {
    /// The error code, e.g. `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`,
    /// `unsupported_token_type`, `server_error`, `temporarily_unavailable`.
    #[schema(value_type = String)]
    pub error: &'a str,
    /// What the client did wrong, for its developer (printable ASCII without `"` and `\`).
    #[schema(value_type = String)]
    pub error_description: &'a str,
}

impl From<konto_store::StoreError> for OAuthError {
    fn from(e: konto_store::StoreError) -> Self {
        match e {
            konto_store::StoreError::Unavailable(_) => OAuthError::unavailable(&e),
            other => OAuthError::server_error(&other),
        }
    }
}

impl From<konto_keys::KeyError> for OAuthError {
    fn from(e: konto_keys::KeyError) -> Self {
        OAuthError::server_error(&e)
    }
}

impl From<konto_keys::random::NoRandomness> for OAuthError {
    fn from(e: konto_keys::random::NoRandomness) -> Self {
        OAuthError::server_error(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_stay_in_the_allowed_characters() {
        let e = OAuthError::invalid_request("bad \"value\" \\ ä");
        assert_eq!(e.description, "bad ?value? ? ?");
        assert_eq!(
            e.to_json(),
            r#"{"error":"invalid_request","error_description":"bad ?value? ? ?"}"#
        );
    }
}
