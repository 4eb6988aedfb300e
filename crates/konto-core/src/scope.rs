//! OAuth scopes konto knows and the OpenID Connect claims each releases (OIDC Core §5.4).
//!
//! Claims beyond the standard ones use the names of OpenID Connect for Identity Assurance 1.0
//! (`birth_family_name`, `place_of_birth`, `nationalities`, `title`), so a relying party that knows
//! that specification needs nothing konto-specific.

use std::collections::BTreeSet;

pub const OPENID: &str = "openid";
pub const PROFILE: &str = "profile";
pub const EMAIL: &str = "email";
pub const ADDRESS: &str = "address";
pub const PHONE: &str = "phone";
pub const OFFLINE_ACCESS: &str = "offline_access";
/// Acting for others: the user chooses whom they act for (an organisation, a principal under a
/// mandate), and the tokens say so (`acting_for`, `mandate`, and `act` in access tokens).
pub const REPRESENTATION: &str = "representation";
/// The user's postbox handle (`postbox_handle`), so that the service can deliver to it.
pub const POSTBOX: &str = "postbox";
/// Delivering into postboxes whose handle the client was given (client credentials only).
pub const POSTBOX_SEND: &str = "postbox:send";

/// The scopes konto supports, in the order discovery lists them.
pub const SUPPORTED: [&str; 8] = [
    OPENID,
    PROFILE,
    EMAIL,
    ADDRESS,
    PHONE,
    OFFLINE_ACCESS,
    REPRESENTATION,
    POSTBOX,
];

/// The claims a scope releases.
pub fn claims_for_scope(scope: &str) -> &'static [&'static str] {
    match scope {
        PROFILE => &[
            "name",
            "given_name",
            "family_name",
            "birthdate",
            "gender",
            "title",
            "birth_family_name",
            "place_of_birth",
            "nationalities",
        ],
        EMAIL => &["email", "email_verified"],
        ADDRESS => &["address"],
        PHONE => &["phone_number", "phone_number_verified"],
        REPRESENTATION => &["acting_for", "mandate"],
        POSTBOX => &["postbox_handle"],
        _ => &[],
    }
}

/// Every claim konto can release, for `claims_supported`.
pub fn supported_claims() -> Vec<&'static str> {
    let mut claims: Vec<&'static str> = vec![
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "azp",
        "sid",
        "attribute_levels",
    ];
    for scope in SUPPORTED {
        claims.extend_from_slice(claims_for_scope(scope));
    }
    claims
}

impl<'a> FromIterator<&'a str> for Scopes {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        Scopes(iter.into_iter().map(str::to_owned).collect())
    }
}

/// A space-separated scope string, parsed as a set (RFC 6749 §3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope contains characters outside RFC 6749 §3.3")]
    Malformed,
}

impl Scopes {
    /// Parses the syntax of `scope` (RFC 6749 §3.3); which scopes are allowed is the caller's rule
    /// (see [`Scopes::first_unknown`]).
    pub fn parse(s: &str) -> Result<Scopes, ScopeError> {
        let mut set = BTreeSet::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            if !token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
            {
                return Err(ScopeError::Malformed);
            }
            set.insert(token.to_owned());
        }
        Ok(Scopes(set))
    }

    /// The first scope not in `known`: unknown scopes are refused (`invalid_scope`) so a client
    /// learns about its typo instead of silently getting less.
    pub fn first_unknown(&self, known: &[&str]) -> Option<&str> {
        self.iter().find(|s| !known.contains(s))
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn union(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.union(&other.0).cloned().collect())
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.0.retain(|s| keep(s));
    }

    /// The space-separated form.
    pub fn to_scope_string(&self) -> String {
        self.0
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The claims these scopes release.
    pub fn claims(&self) -> BTreeSet<&'static str> {
        self.iter()
            .flat_map(|s| claims_for_scope(s).iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_set() {
        let s = Scopes::parse("openid  email openid").unwrap();
        assert_eq!(s.to_scope_string(), "email openid");
        assert!(s.contains("email"));
        assert!(s.claims().contains("email_verified"));
    }

    #[test]
    fn refuses_unknown_and_malformed() {
        assert_eq!(
            Scopes::parse("openid admin")
                .unwrap()
                .first_unknown(&SUPPORTED),
            Some("admin")
        );
        assert_eq!(Scopes::parse("openid\"x"), Err(ScopeError::Malformed));
        assert_eq!(Scopes::parse("openid\u{7f}"), Err(ScopeError::Malformed));
    }
}
