#![doc = include_str!("../README.md")]

pub mod cert;
pub mod eid;
pub mod mail;
pub mod passkey;
pub mod password;
pub mod register;
pub mod throttle;

use konto_core::Level;
use konto_core::amr::{AuthenticatorKind, MethodUsed};
use konto_core::attributes::{Attribute, identity_level, login_level};

/// What an authenticator established about the person at the browser. Every authenticator ends
/// in one of these; the login service turns it into a session (finding or linking the account by
/// `external_id`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verified {
    pub method: MethodUsed,
    /// What finds the account: the card's pseudonym, the certificate holder's identifier, the
    /// passkey's credential id. `None` for a password (the account is already known).
    pub external_id: Option<String>,
    /// The identity data the authenticator vouches for, each with source and level.
    pub attributes: Vec<Attribute>,
    /// The level of this login: the authenticator's strength capped by the level of its data.
    pub level: Level,
}

impl Verified {
    /// A verification by `kind` vouching for `attributes`; the level follows from both.
    pub fn new(
        kind: AuthenticatorKind,
        external_id: Option<String>,
        attributes: Vec<Attribute>,
    ) -> Verified {
        let level = login_level(kind, identity_level(&attributes, kind.strength()));
        Verified {
            method: MethodUsed {
                kind,
                user_verified: false,
            },
            external_id,
            attributes,
            level,
        }
    }

    pub fn kind(&self) -> AuthenticatorKind {
        self.method.kind
    }
}
