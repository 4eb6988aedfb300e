//! Identity attributes with provenance.
//!
//! Every attribute konto stores says where it came from, at which level it was verified and when
//! (`reference.md` §1). Data imported from the eID card or an ELSTER certificate cannot be edited by
//! the user. Before an eID or ELSTER authenticator joins an account, the identity it carries is
//! compared with the account's: a match raises the levels of the matching attributes, a conflict is
//! refused — two people are never merged silently.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Level;
use crate::amr::AuthenticatorKind;

/// The identity data konto may hold (OZG §8; `reference.md` §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeName {
    GivenName,
    FamilyName,
    BirthName,
    /// `YYYY-MM-DD`, `YYYY-MM` or `YYYY` (eID dates of birth can be partial).
    BirthDate,
    PlaceOfBirth,
    AcademicTitle,
    Nationality,
    Gender,
    Street,
    PostalCode,
    Locality,
    /// ISO 3166-1 alpha-2 (`DE`; the eID's `D` is converted on import).
    Country,
    Email,
    Phone,
    DocumentType,
    CommunityId,
}

impl AttributeName {
    pub const ALL: [AttributeName; 16] = [
        AttributeName::GivenName,
        AttributeName::FamilyName,
        AttributeName::BirthName,
        AttributeName::BirthDate,
        AttributeName::PlaceOfBirth,
        AttributeName::AcademicTitle,
        AttributeName::Nationality,
        AttributeName::Gender,
        AttributeName::Street,
        AttributeName::PostalCode,
        AttributeName::Locality,
        AttributeName::Country,
        AttributeName::Email,
        AttributeName::Phone,
        AttributeName::DocumentType,
        AttributeName::CommunityId,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttributeName::GivenName => "given_name",
            AttributeName::FamilyName => "family_name",
            AttributeName::BirthName => "birth_name",
            AttributeName::BirthDate => "birthdate",
            AttributeName::PlaceOfBirth => "place_of_birth",
            AttributeName::AcademicTitle => "academic_title",
            AttributeName::Nationality => "nationality",
            AttributeName::Gender => "gender",
            AttributeName::Street => "street",
            AttributeName::PostalCode => "postal_code",
            AttributeName::Locality => "locality",
            AttributeName::Country => "country",
            AttributeName::Email => "email",
            AttributeName::Phone => "phone",
            AttributeName::DocumentType => "document_type",
            AttributeName::CommunityId => "community_id",
        }
    }

    /// Attributes that say who a person is; they must agree before two identities are joined.
    pub fn is_identifying(self) -> bool {
        matches!(
            self,
            AttributeName::GivenName | AttributeName::FamilyName | AttributeName::BirthDate
        )
    }
}

impl fmt::Display for AttributeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AttributeName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttributeName::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown attribute {s:?}"))
    }
}

/// Where an attribute's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeSource {
    /// Typed in by the user.
    SelfAsserted,
    /// Confirmed by the password account's own process (an e-mail address confirmed by link).
    PasswordAccount,
    /// From the subject of an ELSTER certificate.
    Elster,
    /// Read from an eID card.
    Eid,
    /// Released by another account provider, named by its identifier.
    Upstream(String),
}

impl AttributeSource {
    /// Only what the user typed in may be changed by the user.
    pub fn user_editable(&self) -> bool {
        matches!(self, AttributeSource::SelfAsserted)
    }

    pub fn for_authenticator(kind: AuthenticatorKind) -> AttributeSource {
        match kind {
            AuthenticatorKind::Password | AuthenticatorKind::Passkey => {
                AttributeSource::PasswordAccount
            }
            AuthenticatorKind::Elster => AttributeSource::Elster,
            AuthenticatorKind::Eid => AttributeSource::Eid,
        }
    }

    /// The storage form: `self_asserted`, `password_account`, `elster`, `eid`, `upstream:<id>`.
    pub fn to_storage(&self) -> String {
        match self {
            AttributeSource::SelfAsserted => "self_asserted".into(),
            AttributeSource::PasswordAccount => "password_account".into(),
            AttributeSource::Elster => "elster".into(),
            AttributeSource::Eid => "eid".into(),
            AttributeSource::Upstream(id) => format!("upstream:{id}"),
        }
    }

    pub fn from_storage(s: &str) -> Result<Self, String> {
        Ok(match s {
            "self_asserted" => AttributeSource::SelfAsserted,
            "password_account" => AttributeSource::PasswordAccount,
            "elster" => AttributeSource::Elster,
            "eid" => AttributeSource::Eid,
            other => match other.strip_prefix("upstream:") {
                Some(id) if !id.is_empty() => AttributeSource::Upstream(id.to_owned()),
                _ => return Err(format!("unknown attribute source {other:?}")),
            },
        })
    }
}

/// One attribute of an identity with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: AttributeName,
    pub value: String,
    pub source: AttributeSource,
    pub level: Level,
    #[serde(with = "time::serde::timestamp")]
    pub verified_at: OffsetDateTime,
}

impl Attribute {
    pub fn new(
        name: AttributeName,
        value: impl Into<String>,
        source: AttributeSource,
        level: Level,
        verified_at: OffsetDateTime,
    ) -> Self {
        Attribute {
            name,
            value: value.into(),
            source,
            level,
            verified_at,
        }
    }
}

/// The level of one login: the authenticator's strength, capped by the level of the identity
/// data it vouches for.
pub fn login_level(kind: AuthenticatorKind, identity_level: Level) -> Level {
    kind.strength().min(identity_level)
}

/// The lowest level among the identifying attributes an authenticator carries; `fallback` when it
/// carries none (a password vouches only for the account's own data).
pub fn identity_level(attributes: &[Attribute], fallback: Level) -> Level {
    attributes
        .iter()
        .filter(|a| a.name.is_identifying())
        .map(|a| a.level)
        .min()
        .unwrap_or(fallback)
}

/// What joining a newly verified identity to an account would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkDecision {
    /// The identities agree. `merged` is the account's new attribute set: matching values take the
    /// higher level and the newer source, values the account lacked are added, and verified values
    /// replace lower-level ones for non-identifying attributes (an address that changed).
    Match { merged: Vec<Attribute> },
    /// They disagree on identifying data: refuse, and tell the user which.
    Conflict { attributes: Vec<AttributeName> },
}

/// Compares an account's attributes with a newly verified identity (eID, ELSTER, upstream).
pub fn link_identity(existing: &[Attribute], incoming: &[Attribute]) -> LinkDecision {
    let mut conflicts = Vec::new();
    for new in incoming.iter().filter(|a| a.name.is_identifying()) {
        if let Some(old) = existing.iter().find(|a| a.name == new.name)
            && !same_value(new.name, &old.value, &new.value)
        {
            conflicts.push(new.name);
        }
    }
    if !conflicts.is_empty() {
        conflicts.sort();
        conflicts.dedup();
        return LinkDecision::Conflict {
            attributes: conflicts,
        };
    }
    let mut merged: Vec<Attribute> = Vec::new();
    for old in existing {
        match incoming.iter().find(|a| a.name == old.name) {
            None => merged.push(old.clone()),
            Some(new) => {
                if new.level >= old.level {
                    // The verified value wins; for identifying attributes it is the same person's
                    // (possibly fuller) spelling, e.g. all given names from the card.
                    merged.push(new.clone());
                } else {
                    merged.push(old.clone());
                }
            }
        }
    }
    for new in incoming {
        if !existing.iter().any(|a| a.name == new.name) {
            merged.push(new.clone());
        }
    }
    merged.sort_by_key(|a| a.name);
    LinkDecision::Match { merged }
}

/// Names compare without case, accents transliterated the German way, whitespace collapsed;
/// given names match when one list of names starts with the other (the card holds all given
/// names, a certificate often only the first); partial birth dates match on what both know.
pub fn same_value(name: AttributeName, a: &str, b: &str) -> bool {
    match name {
        AttributeName::GivenName => {
            let a = normalise_name(a);
            let b = normalise_name(b);
            let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            !short.is_empty() && long.starts_with(&short[..])
        }
        AttributeName::FamilyName | AttributeName::BirthName => {
            let a = normalise_name(a);
            !a.is_empty() && a == normalise_name(b)
        }
        AttributeName::BirthDate => same_partial_date(a, b),
        _ => a.trim() == b.trim(),
    }
}

/// Lowercase words with German transliteration (ä→ae, ö→oe, ü→ue, ß→ss) and common accents dropped.
pub fn normalise_name(s: &str) -> Vec<String> {
    let mut folded = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' => folded.push_str("ae"),
            'ö' => folded.push_str("oe"),
            'ü' => folded.push_str("ue"),
            'ß' => folded.push_str("ss"),
            'á' | 'à' | 'â' | 'ã' | 'å' => folded.push('a'),
            'é' | 'è' | 'ê' | 'ë' => folded.push('e'),
            'í' | 'ì' | 'î' | 'ï' => folded.push('i'),
            'ó' | 'ò' | 'ô' | 'õ' | 'ø' => folded.push('o'),
            'ú' | 'ù' | 'û' => folded.push('u'),
            'ç' => folded.push('c'),
            'ñ' => folded.push('n'),
            '-' | ',' | '.' => folded.push(' '),
            c => folded.push(c),
        }
    }
    folded.split_whitespace().map(str::to_owned).collect()
}

fn same_partial_date(a: &str, b: &str) -> bool {
    let a: Vec<&str> = a.trim().split('-').collect();
    let b: Vec<&str> = b.trim().split('-').collect();
    let n = a.len().min(b.len());
    n > 0 && a[..n] == b[..n]
}

/// Checks a date of birth in the forms konto stores: `YYYY-MM-DD`, `YYYY-MM` or `YYYY`.
pub fn is_valid_partial_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [y] => digits(y, 4),
        [y, m] => digits(y, 4) && digits(m, 2) && (1..=12).contains(&m.parse::<u8>().unwrap_or(0)),
        [y, m, d] => {
            digits(y, 4)
                && digits(m, 2)
                && digits(d, 2)
                && (1..=12).contains(&m.parse::<u8>().unwrap_or(0))
                && (1..=31).contains(&d.parse::<u8>().unwrap_or(0))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn attr(name: AttributeName, value: &str, source: AttributeSource, level: Level) -> Attribute {
        Attribute::new(name, value, source, level, OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn eid_and_elster_data_is_not_user_editable() {
        assert!(AttributeSource::SelfAsserted.user_editable());
        assert!(!AttributeSource::Eid.user_editable());
        assert!(!AttributeSource::Elster.user_editable());
        assert!(!AttributeSource::Upstream("x".into()).user_editable());
    }

    #[test]
    fn source_storage_round_trips() {
        for s in [
            AttributeSource::SelfAsserted,
            AttributeSource::PasswordAccount,
            AttributeSource::Elster,
            AttributeSource::Eid,
            AttributeSource::Upstream("https://idp.example".into()),
        ] {
            assert_eq!(AttributeSource::from_storage(&s.to_storage()), Ok(s));
        }
        assert!(AttributeSource::from_storage("upstream:").is_err());
        assert!(AttributeSource::from_storage("magic").is_err());
    }

    #[test]
    fn login_level_is_the_minimum() {
        assert_eq!(
            login_level(AuthenticatorKind::Eid, Level::High),
            Level::High
        );
        assert_eq!(
            login_level(AuthenticatorKind::Elster, Level::High),
            Level::Substantial
        );
        assert_eq!(
            login_level(AuthenticatorKind::Eid, Level::Substantial),
            Level::Substantial
        );
        assert_eq!(
            login_level(AuthenticatorKind::Password, Level::High),
            Level::Basic
        );
    }

    #[test]
    fn matching_eid_raises_levels_and_keeps_other_data() {
        let existing = vec![
            attr(
                AttributeName::GivenName,
                "Erika",
                AttributeSource::SelfAsserted,
                Level::Basic,
            ),
            attr(
                AttributeName::FamilyName,
                "Mustermann",
                AttributeSource::SelfAsserted,
                Level::Basic,
            ),
            attr(
                AttributeName::Email,
                "erika@example.org",
                AttributeSource::PasswordAccount,
                Level::Basic,
            ),
        ];
        let incoming = vec![
            attr(
                AttributeName::GivenName,
                "ERIKA",
                AttributeSource::Eid,
                Level::High,
            ),
            attr(
                AttributeName::FamilyName,
                "MUSTERMANN",
                AttributeSource::Eid,
                Level::High,
            ),
            attr(
                AttributeName::BirthDate,
                "1964-08-12",
                AttributeSource::Eid,
                Level::High,
            ),
        ];
        let LinkDecision::Match { merged } = link_identity(&existing, &incoming) else {
            panic!("expected a match");
        };
        let get = |n| merged.iter().find(|a| a.name == n).unwrap();
        assert_eq!(get(AttributeName::GivenName).level, Level::High);
        assert_eq!(get(AttributeName::GivenName).source, AttributeSource::Eid);
        assert_eq!(get(AttributeName::BirthDate).value, "1964-08-12");
        assert_eq!(
            get(AttributeName::Email).source,
            AttributeSource::PasswordAccount
        );
    }

    #[test]
    fn a_different_person_is_a_conflict() {
        let existing = vec![
            attr(
                AttributeName::GivenName,
                "Erika",
                AttributeSource::Elster,
                Level::Substantial,
            ),
            attr(
                AttributeName::FamilyName,
                "Mustermann",
                AttributeSource::Elster,
                Level::Substantial,
            ),
        ];
        let incoming = vec![
            attr(
                AttributeName::GivenName,
                "MAX",
                AttributeSource::Eid,
                Level::High,
            ),
            attr(
                AttributeName::FamilyName,
                "MUSTERMANN",
                AttributeSource::Eid,
                Level::High,
            ),
        ];
        assert_eq!(
            link_identity(&existing, &incoming),
            LinkDecision::Conflict {
                attributes: vec![AttributeName::GivenName]
            }
        );
    }

    #[test]
    fn names_compare_the_german_way() {
        assert!(same_value(AttributeName::FamilyName, "Müller", "MUELLER"));
        assert!(same_value(AttributeName::FamilyName, "Groß", "GROSS"));
        assert!(same_value(AttributeName::GivenName, "Erika", "ERIKA MARIA"));
        assert!(!same_value(
            AttributeName::GivenName,
            "Maria",
            "ERIKA MARIA"
        ));
        assert!(!same_value(AttributeName::FamilyName, "", ""));
        assert!(same_value(AttributeName::BirthDate, "1964", "1964-08-12"));
        assert!(!same_value(
            AttributeName::BirthDate,
            "1964-09",
            "1964-08-12"
        ));
    }

    #[test]
    fn partial_dates() {
        assert!(is_valid_partial_date("1964-08-12"));
        assert!(is_valid_partial_date("1964-08"));
        assert!(is_valid_partial_date("1964"));
        assert!(!is_valid_partial_date("1964-13"));
        assert!(!is_valid_partial_date("64-08-12"));
        assert!(!is_valid_partial_date(""));
    }

    proptest! {
        #[test]
        fn identical_identities_always_match(given in "[A-Za-zäöüß ]{1,20}", family in "[A-Za-zäöüß]{1,20}") {
            prop_assume!(!normalise_name(&given).is_empty());
            let a = vec![
                attr(AttributeName::GivenName, &given, AttributeSource::SelfAsserted, Level::Basic),
                attr(AttributeName::FamilyName, &family, AttributeSource::SelfAsserted, Level::Basic),
            ];
            let b = vec![
                attr(AttributeName::GivenName, &given.to_uppercase(), AttributeSource::Eid, Level::High),
                attr(AttributeName::FamilyName, &family.to_uppercase(), AttributeSource::Eid, Level::High),
            ];
            let matched = matches!(link_identity(&a, &b), LinkDecision::Match { .. });
            prop_assert!(matched);
        }

        #[test]
        fn date_check_never_panics(s in ".{0,16}") {
            let _ = is_valid_partial_date(&s);
            let _ = same_value(AttributeName::BirthDate, &s, "1964-08-12");
        }
    }
}
