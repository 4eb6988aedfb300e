//! The register protocol's JSON, read strictly and checked value by value.
//!
//! The reasons given for a refusal name the field, never its value: the answer holds personal
//! data, and a reason ends up in logs.

use konto_core::org::{RegisterKey, Representative};
use serde::Deserialize;
use time::{Date, Month, OffsetDateTime};

use super::{EntryStatus, OrgAddress, RegisterEntry};

/// The longest text accepted in any field, in characters.
pub(super) const MAX_TEXT_CHARS: usize = 300;
/// The most representatives one entry may list.
pub(super) const MAX_REPRESENTATIVES: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireEntry {
    key: WireKey,
    #[serde(default)]
    euid: Option<String>,
    #[serde(default)]
    wirtschafts_id: Option<String>,
    name: String,
    legal_form: String,
    address: WireAddress,
    representatives: Vec<WireRepresentative>,
    status: EntryStatus,
    #[serde(with = "time::serde::rfc3339")]
    retrieved_at: OffsetDateTime,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireKey {
    court: String,
    #[serde(rename = "type")]
    kind: String,
    number: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireAddress {
    street: String,
    postal_code: String,
    locality: String,
    country: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRepresentative {
    family_name: String,
    given_names: String,
    date_of_birth: String,
    role: String,
}

/// The body of a `404` that means "no such entry".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireNotFound {
    pub(super) error: String,
}

pub(super) const NO_SUCH_ENTRY: &str = "no_such_entry";

impl WireEntry {
    /// The checked entry, if it is the one `asked` for.
    pub(super) fn into_entry(self, asked: &RegisterKey) -> Result<RegisterEntry, String> {
        let key = RegisterKey::new(&self.key.court, &self.key.kind, &self.key.number)
            .map_err(|e| format!("key: {e}"))?;
        if &key != asked || self.key.court != key.court || self.key.number != key.number {
            return Err("the answer is about another entry than the one asked for".into());
        }
        let euid = self
            .euid
            .map(|e| e.parse())
            .transpose()
            .map_err(|e| format!("euid: {e}"))?;
        let wirtschafts_id = self
            .wirtschafts_id
            .map(|w| w.parse())
            .transpose()
            .map_err(|e| format!("wirtschafts_id: {e}"))?;
        if self.representatives.len() > MAX_REPRESENTATIVES {
            return Err(format!("more than {MAX_REPRESENTATIVES} representatives"));
        }
        let representatives = self
            .representatives
            .into_iter()
            .map(WireRepresentative::check)
            .collect::<Result<Vec<_>, _>>()?;
        let a = self.address;
        let address = OrgAddress {
            street: text(a.street, "address.street")?,
            postal_code: text(a.postal_code, "address.postal_code")?,
            locality: text(a.locality, "address.locality")?,
            country: country(a.country)?,
        };
        Ok(RegisterEntry {
            key,
            euid,
            wirtschafts_id,
            name: text(self.name, "name")?,
            legal_form: text(self.legal_form, "legal_form")?,
            address,
            representatives,
            status: self.status,
            retrieved_at: self.retrieved_at,
        })
    }
}

impl WireRepresentative {
    fn check(self) -> Result<Representative, String> {
        Ok(Representative {
            family_name: text(self.family_name, "representatives.family_name")?,
            given_names: text(self.given_names, "representatives.given_names")?,
            date_of_birth: date(self.date_of_birth)?,
            role: text(self.role, "representatives.role")?,
        })
    }
}

/// Trimmed, not empty, bounded, without control characters.
fn text(value: String, field: &str) -> Result<String, String> {
    let trimmed = value.trim();
    let ok = !trimmed.is_empty()
        && trimmed.chars().count() <= MAX_TEXT_CHARS
        && !trimmed.chars().any(char::is_control);
    if !ok {
        return Err(format!(
            "{field} must be 1 to {MAX_TEXT_CHARS} characters without control characters"
        ));
    }
    Ok(if trimmed.len() == value.len() {
        value
    } else {
        trimmed.to_owned()
    })
}

fn country(value: String) -> Result<String, String> {
    if value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(value)
    } else {
        Err("address.country must be an ISO 3166-1 alpha-2 code".into())
    }
}

/// A full calendar date `YYYY-MM-DD`: a register knows its representatives' dates of birth, and
/// a partial one could never be matched anyway.
fn date(value: String) -> Result<String, String> {
    let invalid = || "representatives.date_of_birth must be a date YYYY-MM-DD".to_owned();
    let b = value.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(invalid());
    }
    let number = |s: &str| s.parse::<u16>().map_err(|_| invalid());
    let year = i32::from(number(&value[0..4])?);
    let month = u8::try_from(number(&value[5..7])?).map_err(|_| invalid())?;
    let day = u8::try_from(number(&value[8..10])?).map_err(|_| invalid())?;
    let month = Month::try_from(month).map_err(|_| invalid())?;
    Date::from_calendar_date(year, month, day).map_err(|_| invalid())?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_full_and_real() {
        assert!(date("1964-08-12".into()).is_ok());
        assert!(date("2024-02-29".into()).is_ok());
        for bad in [
            "",
            "1964",
            "1964-08",
            "1964-8-12",
            "1964-13-01",
            "2023-02-29",
            "1964-08-00",
            "19640812",
            "1964/08/12",
            "+964-08-12",
            "1964-08-12 ",
        ] {
            assert!(date(bad.into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn texts_are_bounded_and_clean() {
        assert_eq!(text(" Erika ".into(), "f").unwrap(), "Erika");
        assert!(text(String::new(), "f").is_err());
        assert!(text("   ".into(), "f").is_err());
        assert!(text("a\u{7}b".into(), "f").is_err());
        assert!(text("ä".repeat(MAX_TEXT_CHARS), "f").is_ok());
        assert!(text("ä".repeat(MAX_TEXT_CHARS + 1), "f").is_err());
    }

    #[test]
    fn reasons_never_quote_values() {
        let reason = text("Geheim\u{0}".into(), "representatives.family_name").unwrap_err();
        assert!(!reason.contains("Geheim"), "{reason}");
        let reason = date("Geheim".into()).unwrap_err();
        assert!(!reason.contains("Geheim"), "{reason}");
    }
}
