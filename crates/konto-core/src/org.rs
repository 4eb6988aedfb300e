//! Organisations and their identifiers (`reference.md` §5).
//!
//! - **Wirtschafts-Identifikationsnummer** (W-IdNr., § 139c AO): `DE` and nine digits, the last a
//!   check digit, optionally followed by `-` and a five-digit distinguishing feature
//!   (Unterscheidungsmerkmal) for one of the company's activities. The check digit is the one of
//!   the German VAT identification number it builds on: ISO/IEC 7064 MOD 11,10 over the first
//!   eight digits.
//! - **Commercial-register key**: the register court, the register type (HRA, HRB, GnR, PR, VR,
//!   GsR) and the number, which is unique only within court and type.
//! - **EUID** (European Unique Identifier, Implementing Regulation (EU) 2021/1042): the country
//!   code, the register's identifier, a dot and the entry's number within that register
//!   (`DEX1517R.HRB395KI`).
//!
//! Parsing is strict and canonical: what parses prints back the same.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Level;

/// A value that is not a valid organisation identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgIdError {
    #[error("a Wirtschafts-Identifikationsnummer is DE, nine digits and optionally -NNNNN")]
    WirtschaftsIdFormat,
    #[error("the check digit of the Wirtschafts-Identifikationsnummer is wrong")]
    WirtschaftsIdCheckDigit,
    #[error("unknown register type (HRA, HRB, GnR, PR, VR, GsR)")]
    RegisterType,
    #[error("a register court is 2 to 80 letters, spaces, dots, hyphens or parentheses")]
    RegisterCourt,
    #[error("a register number is 1 to 20 digits and letters, optionally with one space")]
    RegisterNumber,
    #[error("an EUID is a country code, the register's identifier, a dot and the entry's number")]
    Euid,
}

/// ISO/IEC 7064 MOD 11,10 check digit over `digits` (each 0–9).
fn mod_11_10(digits: &[u8]) -> u8 {
    let mut product: u8 = 10;
    for d in digits {
        let mut sum = (d + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (2 * sum) % 11;
    }
    let check = 11 - product;
    if check == 10 { 0 } else { check }
}

/// A Wirtschafts-Identifikationsnummer, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WirtschaftsId(String);

impl WirtschaftsId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The nine-digit base number with `DE`, without the distinguishing feature: the company.
    pub fn company(&self) -> &str {
        &self.0[..11]
    }

    /// Computes the check digit for eight digits, for building test data.
    pub fn with_check_digit(eight_digits: &str) -> Result<WirtschaftsId, OrgIdError> {
        let digits = digits_of(eight_digits, 8).ok_or(OrgIdError::WirtschaftsIdFormat)?;
        let check = mod_11_10(&digits);
        format!("DE{eight_digits}{check}").parse()
    }
}

fn digits_of(s: &str, n: usize) -> Option<Vec<u8>> {
    if s.len() != n || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().map(|b| b - b'0').collect())
}

impl FromStr for WirtschaftsId {
    type Err = OrgIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (base, feature) = match s.split_once('-') {
            Some((b, f)) => (b, Some(f)),
            None => (s, None),
        };
        let number = base
            .strip_prefix("DE")
            .ok_or(OrgIdError::WirtschaftsIdFormat)?;
        let digits = digits_of(number, 9).ok_or(OrgIdError::WirtschaftsIdFormat)?;
        if let Some(f) = feature
            && digits_of(f, 5).is_none()
        {
            return Err(OrgIdError::WirtschaftsIdFormat);
        }
        if digits[0] == 0 || mod_11_10(&digits[..8]) != digits[8] {
            return Err(OrgIdError::WirtschaftsIdCheckDigit);
        }
        Ok(WirtschaftsId(s.to_owned()))
    }
}

impl TryFrom<String> for WirtschaftsId {
    type Error = OrgIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<WirtschaftsId> for String {
    fn from(w: WirtschaftsId) -> String {
        w.0
    }
}

impl fmt::Display for WirtschaftsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kinds of German register an organisation is entered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RegisterType {
    /// Handelsregister A: sole traders and partnerships.
    HRA,
    /// Handelsregister B: corporations (GmbH, AG).
    HRB,
    /// Genossenschaftsregister.
    GnR,
    /// Partnerschaftsregister.
    PR,
    /// Vereinsregister.
    VR,
    /// Gesellschaftsregister (GbR, since 2024).
    GsR,
}

impl RegisterType {
    pub const ALL: [RegisterType; 6] = [
        RegisterType::HRA,
        RegisterType::HRB,
        RegisterType::GnR,
        RegisterType::PR,
        RegisterType::VR,
        RegisterType::GsR,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RegisterType::HRA => "HRA",
            RegisterType::HRB => "HRB",
            RegisterType::GnR => "GnR",
            RegisterType::PR => "PR",
            RegisterType::VR => "VR",
            RegisterType::GsR => "GsR",
        }
    }
}

impl FromStr for RegisterType {
    type Err = OrgIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(OrgIdError::RegisterType)
    }
}

impl fmt::Display for RegisterType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An entry's key in the German commercial (or similar) register.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RegisterKey {
    /// The register court, e.g. "München" or "Berlin (Charlottenburg)".
    pub court: String,
    #[serde(rename = "type")]
    pub kind: RegisterType,
    /// The number within court and type, e.g. "123456" or "12345 B".
    pub number: String,
}

impl RegisterKey {
    /// Validates and builds a key; whitespace around the parts is dropped.
    pub fn new(court: &str, kind: &str, number: &str) -> Result<RegisterKey, OrgIdError> {
        let court = court.trim();
        let count = court.chars().count();
        if !(2..=80).contains(&count)
            || !court
                .chars()
                .all(|c| c.is_alphabetic() || matches!(c, ' ' | '.' | '-' | '(' | ')'))
            || !court.chars().next().is_some_and(char::is_alphabetic)
        {
            return Err(OrgIdError::RegisterCourt);
        }
        let number = number.trim();
        let spaces = number.matches(' ').count();
        if number.is_empty()
            || number.len() > 20
            || spaces > 1
            || !number
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ')
            || !number.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(OrgIdError::RegisterNumber);
        }
        Ok(RegisterKey {
            court: court.to_owned(),
            kind: kind.trim().parse()?,
            number: number.to_owned(),
        })
    }
}

impl fmt::Display for RegisterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.court, self.kind, self.number)
    }
}

/// A European Unique Identifier of a register entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Euid(String);

impl Euid {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Euid {
    type Err = OrgIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (register, number) = s.split_once('.').ok_or(OrgIdError::Euid)?;
        let ok_register = register.len() >= 3
            && register.len() <= 20
            && register.as_bytes()[..2].iter().all(u8::is_ascii_uppercase)
            && register
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        let ok_number = !number.is_empty()
            && number.len() <= 40
            && number.bytes().all(|b| b.is_ascii_alphanumeric());
        if !(ok_register && ok_number) {
            return Err(OrgIdError::Euid);
        }
        Ok(Euid(s.to_owned()))
    }
}

impl TryFrom<String> for Euid {
    type Error = OrgIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Euid> for String {
    fn from(e: Euid) -> String {
        e.0
    }
}

impl fmt::Display for Euid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How an organisation's identity was established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum OrgEvidence {
    /// A register entry whose legal representative matched the verified identity of the person
    /// who registered the organisation.
    RegisterMatch {
        key: RegisterKey,
        /// The register's time of the entry as fetched (RFC 3339), for the record.
        fetched_at: String,
        /// The representative's role in the entry ("Geschäftsführer").
        role: String,
    },
    /// An organisation ELSTER certificate (holder id: the certificate's subject serialNumber).
    ElsterCertificate { holder_id: String },
    /// Entered by an operator with the CLI, with a reference to what they checked.
    Operator { reference: String },
}

impl OrgEvidence {
    /// The level of assurance this evidence gives the organisation's data.
    pub fn level(&self, representative_level: Level) -> Level {
        match self {
            // as good as the register and the identity it was matched with
            OrgEvidence::RegisterMatch { .. } => representative_level.min(Level::High),
            OrgEvidence::ElsterCertificate { .. } => Level::Substantial,
            OrgEvidence::Operator { .. } => Level::Substantial,
        }
    }
}

/// A legal representative as the register lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Representative {
    pub family_name: String,
    pub given_names: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// "Geschäftsführer", "Vorstand", "persönlich haftender Gesellschafter", …
    pub role: String,
}

/// Whether a verified person is one of the listed representatives: family name, given names
/// (compared as konto compares identities: case, accents and spacing aside) and the full date
/// of birth must all agree. A partial date of birth never matches.
pub fn matching_representative<'a>(
    representatives: &'a [Representative],
    family_name: &str,
    given_names: &str,
    date_of_birth: &str,
) -> Option<&'a Representative> {
    use crate::attributes::{AttributeName, same_value};
    if date_of_birth.len() != 10 || date_of_birth.contains("-00") {
        return None;
    }
    representatives.iter().find(|r| {
        r.date_of_birth == date_of_birth
            && same_value(AttributeName::FamilyName, &r.family_name, family_name)
            && same_value(AttributeName::GivenName, &r.given_names, given_names)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn wirtschafts_id_check_digit() {
        // DE136695976: a VAT id whose check digit is published as valid
        assert!("DE136695976".parse::<WirtschaftsId>().is_ok());
        assert_eq!(
            "DE136695977".parse::<WirtschaftsId>(),
            Err(OrgIdError::WirtschaftsIdCheckDigit)
        );
        let w: WirtschaftsId = "DE136695976-00001".parse().unwrap();
        assert_eq!(w.company(), "DE136695976");
        for bad in [
            "",
            "DE",
            "de136695976",
            "DE13669597",
            "DE1366959766",
            "DE136695976-1",
            "DE136695976-000001",
            "DE136695976-",
            "DE 136695976",
            "DE13669597a",
            "DE036695976",
        ] {
            assert!(bad.parse::<WirtschaftsId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn register_key_is_validated() {
        let k = RegisterKey::new(" München ", "HRB", "123456").unwrap();
        assert_eq!(k.to_string(), "München HRB 123456");
        assert!(RegisterKey::new("Berlin (Charlottenburg)", "HRB", "12345 B").is_ok());
        assert_eq!(
            RegisterKey::new("München", "HRC", "1"),
            Err(OrgIdError::RegisterType)
        );
        assert_eq!(
            RegisterKey::new("M", "HRB", "1"),
            Err(OrgIdError::RegisterCourt)
        );
        assert_eq!(
            RegisterKey::new("München<script>", "HRB", "1"),
            Err(OrgIdError::RegisterCourt)
        );
        assert_eq!(
            RegisterKey::new("München", "HRB", "1 2 3"),
            Err(OrgIdError::RegisterNumber)
        );
        assert_eq!(
            RegisterKey::new("München", "HRB", "B12"),
            Err(OrgIdError::RegisterNumber)
        );
    }

    #[test]
    fn euid_format() {
        assert!("DEX1517R.HRB395KI".parse::<Euid>().is_ok());
        assert!("DED2601V.HRB123456".parse::<Euid>().is_ok());
        for bad in [
            "",
            "DEX1517R",
            ".HRB1",
            "dex1517r.HRB1",
            "DEX1517R.HRB 1",
            "D.1",
        ] {
            assert!(bad.parse::<Euid>().is_err(), "{bad}");
        }
    }

    #[test]
    fn representatives_match_on_names_and_full_date() {
        let reps = vec![Representative {
            family_name: "Müller".into(),
            given_names: "Anna Maria".into(),
            date_of_birth: "1970-04-01".into(),
            role: "Geschäftsführerin".into(),
        }];
        assert!(matching_representative(&reps, "MÜLLER", "Anna Maria", "1970-04-01").is_some());
        assert!(matching_representative(&reps, "Mueller", "Anna", "1970-04-01").is_some());
        assert!(matching_representative(&reps, "Müller", "Paula", "1970-04-01").is_none());
        assert!(matching_representative(&reps, "Müller", "Anna Maria", "1970-04-02").is_none());
        assert!(matching_representative(&reps, "Müller", "Anna Maria", "1970-00-00").is_none());
    }

    proptest! {
        #[test]
        fn generated_ids_parse_and_one_wrong_digit_fails(n in 10_000_000u32..99_999_999) {
            let w = WirtschaftsId::with_check_digit(&n.to_string()).unwrap();
            prop_assert_eq!(w.as_str().parse::<WirtschaftsId>().unwrap(), w.clone());
            let last = w.as_str().as_bytes()[10] - b'0';
            let wrong = format!("{}{}", &w.as_str()[..10], (last + 1) % 10);
            prop_assert!(wrong.parse::<WirtschaftsId>().is_err());
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<WirtschaftsId>();
            let _ = s.parse::<Euid>();
            let _ = RegisterKey::new(&s, &s, &s);
        }
    }
}
