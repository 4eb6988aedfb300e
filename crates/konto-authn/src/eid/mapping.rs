//! From the card's `PersonalData` to konto's attributes.
//!
//! Policy: names are kept exactly as on the card (uppercase, all given names); dates of birth
//! may be partial (`YYYY-MM-DD`, `YYYY-MM`, `YYYY`) and an impossible date rejects the whole
//! result; the eID's country code `D` becomes ISO `DE` (other ICAO codes are kept); a place
//! without information, an empty field or a field the card does not carry (`NOTONCHIP`) is simply
//! absent. A result without the pseudonym, or one for a document that expired before `now`, or
//! one at a level of assurance below high, yields no identity.

use konto_core::Level;
use konto_core::attributes::{Attribute, AttributeName, AttributeSource, is_valid_partial_date};
use time::{Date, Month, OffsetDateTime};

use super::soap::{GeneralDate, GetResult, Place};
use super::{EidError, EidIdentity};

/// Turns a successful getResult into the identity konto stores.
pub(crate) fn identity(result: GetResult, now: OffsetDateTime) -> Result<EidIdentity, EidError> {
    if let Some(loa) = result.level_of_assurance.as_deref()
        && !Level::parse_any(loa).is_ok_and(|level| level >= Level::High)
    {
        return Err(EidError::DocumentDenied);
    }
    let pd = result.personal_data;
    let restricted_id = pd
        .restricted_id
        .ok_or_else(|| EidError::Protocol("result carries no restrictedid".into()))?;
    let date_of_expiry = pd.date_of_expiry.as_deref().map(expiry).transpose()?;
    if let Some(expiry) = date_of_expiry
        && expiry < now.date()
    {
        return Err(EidError::DocumentExpired);
    }

    let mut out = Attributes {
        list: Vec::new(),
        now,
    };
    out.push(AttributeName::GivenName, pd.given_names);
    out.push(AttributeName::FamilyName, pd.family_names);
    out.push(AttributeName::BirthName, pd.birth_name);
    out.push(AttributeName::AcademicTitle, pd.academic_title);
    out.push(
        AttributeName::BirthDate,
        pd.date_of_birth
            .as_ref()
            .map(birth_date)
            .transpose()?
            .flatten(),
    );
    out.push(
        AttributeName::PlaceOfBirth,
        pd.place_of_birth.and_then(place_of_birth),
    );
    out.push(AttributeName::Nationality, pd.nationality.map(country));
    match pd.place_of_residence {
        Some(Place::Structured {
            street,
            city,
            country: land,
            zip_code,
            state: _,
        }) => {
            out.push(AttributeName::Street, street);
            out.push(AttributeName::PostalCode, zip_code);
            out.push(AttributeName::Locality, city);
            out.push(AttributeName::Country, land.map(country));
        }
        Some(Place::Freetext(text)) => out.push(AttributeName::Locality, Some(text)),
        Some(Place::NoPlaceInfo) | None => {}
    }
    out.push(AttributeName::DocumentType, pd.document_type.clone());
    out.push(AttributeName::CommunityId, pd.community_id);

    Ok(EidIdentity {
        restricted_id,
        attributes: out.list,
        document_type: pd.document_type,
        date_of_expiry: date_of_expiry.map(|d| d.to_string()),
    })
}

struct Attributes {
    list: Vec<Attribute>,
    now: OffsetDateTime,
}

impl Attributes {
    fn push(&mut self, name: AttributeName, value: Option<String>) {
        if let Some(value) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
            self.list.push(Attribute::new(
                name,
                value,
                AttributeSource::Eid,
                Level::High,
                self.now,
            ));
        }
    }
}

/// ICAO `D` is Germany; konto stores ISO 3166-1 `DE`.
pub(crate) fn country(code: String) -> String {
    if code.trim() == "D" {
        "DE".to_owned()
    } else {
        code
    }
}

/// `DateString` `YYYYMMDD` with unknown parts as spaces → `YYYY-MM-DD`, `YYYY-MM` or `YYYY`;
/// all spaces → unknown (`None`). Falls back to `DateValue` when there is no `DateString`.
pub(crate) fn birth_date(date: &GeneralDate) -> Result<Option<String>, EidError> {
    let s = date.date_string.as_str();
    if s.is_empty() {
        return match date.date_value.as_deref() {
            None => Ok(None),
            Some(v) => full_date(v).map(|d| Some(d.to_string())),
        };
    }
    let invalid = || EidError::Protocol("invalid date of birth".into());
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit() || b == b' ') {
        return Err(invalid());
    }
    if s.bytes().all(|b| b == b' ') {
        return Ok(None);
    }
    let (year, month, day) = (&s[0..4], &s[4..6], &s[6..8]);
    let known = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let blank = |p: &str| p.bytes().all(|b| b == b' ');
    let value = match (known(year), known(month), known(day)) {
        (true, true, true) => {
            let v = format!("{year}-{month}-{day}");
            full_date(&v).map_err(|_| invalid())?;
            v
        }
        (true, true, false) if blank(day) => format!("{year}-{month}"),
        (true, false, false) if blank(month) && blank(day) => year.to_owned(),
        _ => return Err(invalid()),
    };
    if is_valid_partial_date(&value) {
        Ok(Some(value))
    } else {
        Err(invalid())
    }
}

/// `xs:date`: `YYYY-MM-DD`, optionally followed by a time zone.
fn full_date(v: &str) -> Result<Date, EidError> {
    let invalid = || {
        EidError::Protocol(format!(
            "invalid date {:?}",
            v.chars().take(16).collect::<String>()
        ))
    };
    let head = v.get(0..10).ok_or_else(invalid)?;
    let tail = &v[10..];
    if !(tail.is_empty() || tail == "Z" || tail.starts_with(['+', '-'])) {
        return Err(invalid());
    }
    let b = head.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return Err(invalid());
    }
    let num = |r: std::ops::Range<usize>| {
        head.get(r).and_then(|p| {
            p.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| p.parse::<u16>().ok())
                .flatten()
        })
    };
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let (Some(y), Some(m), Some(d)) = (y, m, d) else {
        return Err(invalid());
    };
    let month = u8::try_from(m)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(invalid)?;
    let day = u8::try_from(d).map_err(|_| invalid())?;
    Date::from_calendar_date(i32::from(y), month, day).map_err(|_| invalid())
}

fn expiry(v: &str) -> Result<Date, EidError> {
    full_date(v)
}

fn place_of_birth(place: Place) -> Option<String> {
    match place {
        Place::Structured {
            city,
            country: land,
            ..
        } => {
            let city = city?;
            match land.map(country) {
                Some(land) if land != "DE" && !land.trim().is_empty() => {
                    Some(format!("{city}, {land}"))
                }
                _ => Some(city),
            }
        }
        Place::Freetext(text) => Some(text),
        Place::NoPlaceInfo => None,
    }
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
