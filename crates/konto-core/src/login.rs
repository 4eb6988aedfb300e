//! The protocol-neutral login request and its result.
//!
//! An OpenID Connect authorization request and (later) a SAML `AuthnRequest` both become one
//! [`LoginRequest`]: which client, which level at least, whether a fresh login is forced, which data
//! is asked for. Authenticating, stepping up and consenting work on this alone; only issuing the
//! answer (a code, an assertion) is protocol-specific.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Level;
use crate::amr::AuthenticatorKind;
use crate::attributes::Attribute;
use crate::representation::Representation;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub client_id: String,
    /// The level the login must reach: the higher of the client's minimum and the request's.
    pub min_level: Level,
    /// `prompt=login` / `ForceAuthn`: authenticate again even with a live session.
    pub force_login: bool,
    /// `max_age` in seconds (OIDC Core §3.1.2.1).
    pub max_age: Option<u64>,
    /// `prompt=none` / `IsPassive`: never show a page.
    pub passive: bool,
    /// `prompt=consent`: ask again even when consent is remembered.
    pub force_consent: bool,
    pub login_hint: Option<String>,
    /// Preferred languages, best first (`ui_locales`, then `Accept-Language`).
    pub ui_locales: Vec<String>,
    /// Scopes asked for (shown on the consent page).
    pub scopes: Vec<String>,
    /// Individual claims asked for beyond the scopes (OIDC Core §5.5).
    pub claims: Vec<String>,
    /// Whether the client accepts a temporary login without an account (OZG §8(5)).
    pub temporary_allowed: bool,
    /// The party the client asks the user to act for: its subject as this client knows it
    /// (from an earlier token's `acting_for`). A party the user may not act for here ends the
    /// login with `access_denied`.
    #[serde(default)]
    pub acting_for: Option<String>,
    /// The client needs the user to act for an organisation they legally represent (entered
    /// in the register as such and matched when the organisation was verified), not for
    /// themselves nor under a mandate: France's ProConnect asks the same with an acr value.
    #[serde(default)]
    pub legal_representative_required: bool,
    /// The authenticators the relying party accepts (BundID's `AuthnMethods`); `None`: all.
    #[serde(default)]
    pub authenticators: Option<Vec<AuthenticatorKind>>,
}

impl LoginRequest {
    /// Whether the relying party accepts a login with `kind`.
    pub fn allows(&self, kind: AuthenticatorKind) -> bool {
        self.authenticators
            .as_ref()
            .is_none_or(|a| a.contains(&kind))
    }

    /// Whether a session with these RFC 8176 methods used an authenticator the relying party
    /// accepts.
    pub fn allows_methods(&self, amr: &[String]) -> bool {
        match &self.authenticators {
            None => true,
            Some(kinds) => kinds
                .iter()
                .any(|k| amr.iter().any(|a| a == k.amr_marker())),
        }
    }
}

/// Who a login is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Principal {
    /// A stored account.
    Account { user_id: String },
    /// A temporary login (OZG §8(5)): the identity lives only as long as this login's tokens;
    /// no account, no postbox handle, no bPK2.
    Temporary {
        /// One-off identifier of this login, for a subject that links to nothing.
        login_id: String,
        attributes: Vec<Attribute>,
    },
}

/// The outcome of authentication for one login request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    pub principal: Principal,
    pub level: Level,
    #[serde(with = "time::serde::timestamp")]
    pub auth_time: OffsetDateTime,
    pub amr: Vec<String>,
    /// The browser session this came from (OIDC `sid`); none for temporary logins.
    pub session_id: Option<String>,
    /// For whom the person acts, if not for themselves, and by what chain.
    #[serde(default)]
    pub representation: Option<Representation>,
}
