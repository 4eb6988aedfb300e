//! Authenticator kinds and the authentication method references (RFC 8176) they produce.
//!
//! The strength of an authenticator caps the level of a login; the identity data it vouches for
//! caps it too (see [`crate::attributes::login_level`]). Passkeys are deliberately not given a
//! level of their own: they add a factor (`mfa`) but prove nothing about who the person is.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Level;

/// The authenticators a konto account can hold, one of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthenticatorKind {
    Password,
    Passkey,
    /// The ELSTER software certificate (PKCS#12 with PIN).
    Elster,
    /// The eID card (Online-Ausweis) read through an eID-Server.
    Eid,
}

impl AuthenticatorKind {
    pub const ALL: [AuthenticatorKind; 4] = [
        AuthenticatorKind::Password,
        AuthenticatorKind::Passkey,
        AuthenticatorKind::Elster,
        AuthenticatorKind::Eid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthenticatorKind::Password => "password",
            AuthenticatorKind::Passkey => "passkey",
            AuthenticatorKind::Elster => "elster",
            AuthenticatorKind::Eid => "eid",
        }
    }

    /// The highest level a login with this authenticator alone can reach.
    pub fn strength(self) -> Level {
        match self {
            AuthenticatorKind::Password | AuthenticatorKind::Passkey => Level::Basic,
            AuthenticatorKind::Elster => Level::Substantial,
            AuthenticatorKind::Eid => Level::High,
        }
    }

    /// BundID's `AssertionProvedBy` value.
    pub fn proved_by(self) -> &'static str {
        match self {
            AuthenticatorKind::Password | AuthenticatorKind::Passkey => "Benutzername",
            AuthenticatorKind::Elster => "Elster",
            AuthenticatorKind::Eid => "eID",
        }
    }

    /// The RFC 8176 value a session that used this authenticator carries (see [`amr_values`]).
    pub fn amr_marker(self) -> &'static str {
        match self {
            AuthenticatorKind::Password => "pwd",
            AuthenticatorKind::Passkey => "pop",
            AuthenticatorKind::Elster => "swk",
            AuthenticatorKind::Eid => "sc",
        }
    }

    /// The cheapest authenticators that reach `level`, strongest last.
    pub fn reaching(level: Level) -> Vec<AuthenticatorKind> {
        [AuthenticatorKind::Elster, AuthenticatorKind::Eid]
            .into_iter()
            .filter(|k| k.strength() >= level)
            .collect()
    }
}

impl fmt::Display for AuthenticatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthenticatorKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuthenticatorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown authenticator kind {s:?}"))
    }
}

/// One authentication that happened in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodUsed {
    pub kind: AuthenticatorKind,
    /// For passkeys: the authenticator verified the user (PIN or biometric).
    #[serde(default)]
    pub user_verified: bool,
}

/// RFC 8176 values for the methods a session used, sorted and without duplicates.
///
/// - password: `pwd`
/// - passkey: `pop` (proof of possession of a key whose storage konto cannot know), plus `mfa`
///   when the authenticator verified the user
/// - ELSTER software certificate: `swk`
/// - eID card: `sc` and `pin` (card and PIN), hence `mfa`
/// - two different kinds in one session: `mfa`
pub fn amr_values(methods: &[MethodUsed]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    let mut kinds: Vec<AuthenticatorKind> = Vec::new();
    for m in methods {
        if !kinds.contains(&m.kind) {
            kinds.push(m.kind);
        }
        match m.kind {
            AuthenticatorKind::Password => out.push("pwd"),
            AuthenticatorKind::Passkey => {
                out.push("pop");
                if m.user_verified {
                    out.push("mfa");
                }
            }
            AuthenticatorKind::Elster => out.push("swk"),
            AuthenticatorKind::Eid => {
                out.extend(["sc", "pin", "mfa"]);
            }
        }
    }
    if kinds.len() > 1 {
        out.push("mfa");
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether the methods amount to two factors (BundID's `mfa` attribute).
pub fn is_multi_factor(methods: &[MethodUsed]) -> bool {
    amr_values(methods).contains(&"mfa")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(kind: AuthenticatorKind) -> MethodUsed {
        MethodUsed {
            kind,
            user_verified: false,
        }
    }

    #[test]
    fn rfc8176_values_per_method() {
        assert_eq!(
            amr_values(&[used(AuthenticatorKind::Password)]),
            vec!["pwd"]
        );
        assert_eq!(amr_values(&[used(AuthenticatorKind::Elster)]), vec!["swk"]);
        assert_eq!(
            amr_values(&[used(AuthenticatorKind::Eid)]),
            vec!["mfa", "pin", "sc"]
        );
        assert_eq!(
            amr_values(&[MethodUsed {
                kind: AuthenticatorKind::Passkey,
                user_verified: true
            }]),
            vec!["mfa", "pop"]
        );
    }

    #[test]
    fn password_and_passkey_is_multi_factor() {
        let methods = [
            used(AuthenticatorKind::Password),
            used(AuthenticatorKind::Passkey),
        ];
        assert_eq!(amr_values(&methods), vec!["mfa", "pop", "pwd"]);
        assert!(is_multi_factor(&methods));
        assert!(!is_multi_factor(&[used(AuthenticatorKind::Password)]));
    }

    #[test]
    fn strengths() {
        assert_eq!(AuthenticatorKind::Password.strength(), Level::Basic);
        assert_eq!(AuthenticatorKind::Elster.strength(), Level::Substantial);
        assert_eq!(AuthenticatorKind::Eid.strength(), Level::High);
        assert_eq!(
            AuthenticatorKind::reaching(Level::Substantial),
            vec![AuthenticatorKind::Elster, AuthenticatorKind::Eid]
        );
        assert_eq!(
            AuthenticatorKind::reaching(Level::High),
            vec![AuthenticatorKind::Eid]
        );
    }
}
