#![doc = include_str!("../README.md")]

mod authorize;
mod claims;
mod client_auth;
mod code;
mod completion;
mod discovery;
mod error;
mod logout;
mod params;
mod provider;
mod refresh;
mod represent;
mod resource;
mod response;
mod token;
mod tokens;

pub use authorize::{AuthorizationRequest, AuthorizeError, OidcFlow};
pub use claims::{ClaimsRequest, user_claims};
pub use client_auth::ClientAuthInput;
pub use completion::PROTOCOL as OIDC_PROTOCOL;
pub use error::{ErrorCode, ErrorResponse, OAuthError};
pub use logout::{LogoutOutcome, LogoutRequest};
pub use params::Params;
pub use provider::{OidcConfig, Provider};
pub use represent::{MandateCheckResponse, PartyRef};
pub use resource::{BearerError, IntrospectionResponse};
pub use response::{AuthorizationResponse, ResponseMode};
pub use token::TokenResponse;
pub use tokens::AccessTokenClaims;
