//! How a finished login answers the party that asked for it: the one interface every protocol
//! engine implements.
//!
//! Authenticating, stepping up, choosing whom to act for and consenting are the same for every
//! protocol (`LoginService::next`); only the end differs. An OpenID Connect flow ends with a
//! code sent back by redirect or `form_post`, a SAML flow with a signed `Response` sent by the
//! HTTP-POST binding, one of konto's own pages with a redirect to that page. All of them are a
//! [`ProtocolAnswer`]: a redirect, or a form the browser submits by itself.
//!
//! A flow keeps its protocol's parameters as JSON tagged with `"protocol"`; the login service
//! hands that JSON to the [`Completion`] that [`handles`](Completion::handles) the tag.

use std::future::Future;
use std::pin::Pin;

use time::OffsetDateTime;

use crate::login::{Authentication, LoginRequest};

/// A boxed future, so that completions can sit behind `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The protocol error a flow ends with, in protocol-neutral words; each protocol names it in
/// its own vocabulary (OIDC Core §3.1.2.6, SAML core §3.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailCode {
    LoginRequired,
    ConsentRequired,
    /// No authenticator konto offers reaches the requested level.
    UnmetAuthenticationRequirements,
    AccessDenied,
    /// A page would be needed (the choice whom to act for) but the request forbids pages.
    InteractionRequired,
}

/// What the browser takes back to the relying party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolAnswer {
    /// `303 See Other` to this URL.
    Redirect { url: String },
    /// A form the browser submits by itself to `action` (OAuth 2.0 Form Post Response Mode,
    /// SAML HTTP-POST binding §3.5).
    AutoPost {
        action: String,
        fields: Vec<(String, String)>,
    },
}

impl ProtocolAnswer {
    /// Where the answer leads: the one place a page's forms may post to besides konto.
    pub fn target(&self) -> &str {
        match self {
            ProtocolAnswer::Redirect { url } => url,
            ProtocolAnswer::AutoPost { action, .. } => action,
        }
    }
}

/// The relying party a flow's pages are shown for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageParty {
    /// Its display name ("konto" for konto's own pages).
    pub name: String,
    /// Where a step on the page may answer it (redirect URI, ACS URL): the pages' CSP allows
    /// forms to end there.
    pub answer_targets: Vec<String>,
    /// Whether the login page offers to cancel (back to the relying party with
    /// `access_denied`).
    pub cancellable: bool,
}

/// How the end of a login went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completed {
    /// The relying party's answer (a code, an assertion, a page).
    Answer(ProtocolAnswer),
    /// The protocol refuses this authentication after all (OIDC's `id_token_hint` naming
    /// another user under `prompt=none`); the flow fails with this code.
    Refused(FailCode, &'static str),
}

/// A completion could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CompletionError {
    /// The flow's parameters are not this protocol's, or name a relying party that is gone.
    #[error("the flow's protocol parameters are unusable: {0}")]
    BadFlow(String),
    #[error("completion failed: {0}")]
    Internal(String),
}

/// The end of a login in one protocol. `state` is the protocol's JSON kept in the flow.
pub trait Completion: Send + Sync {
    /// Whether this completion answers flows whose protocol tag is `protocol`.
    fn handles(&self, protocol: &str) -> bool;

    /// The relying party the flow's pages are for.
    fn party<'a>(&'a self, state: &'a str) -> BoxFuture<'a, Result<PageParty, CompletionError>>;

    /// The answer for a finished login. Called once per flow, after the flow was claimed.
    fn complete<'a>(
        &'a self,
        state: &'a str,
        request: &'a LoginRequest,
        auth: &'a Authentication,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Completed, CompletionError>>;

    /// The answer for a failed login.
    fn fail(
        &self,
        state: &str,
        code: FailCode,
        description: &str,
    ) -> Result<ProtocolAnswer, CompletionError>;
}

/// The `"protocol"` tag of a flow's protocol JSON.
pub fn protocol_tag(state: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Tag {
        protocol: String,
    }
    serde_json::from_str::<Tag>(state).ok().map(|t| t.protocol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_is_read_whatever_else_the_json_holds() {
        assert_eq!(
            protocol_tag(r#"{"protocol":"oidc","client_id":"a","nested":{"protocol":"x"}}"#)
                .as_deref(),
            Some("oidc")
        );
        assert_eq!(protocol_tag(r#"{"client_id":"a"}"#), None);
        assert_eq!(protocol_tag("not json"), None);
    }
}
