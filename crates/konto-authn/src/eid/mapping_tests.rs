use konto_core::Level;
use konto_core::amr::AuthenticatorKind;
use konto_core::attributes::{AttributeName, AttributeSource};
use proptest::prelude::*;
use time::macros::datetime;

use super::super::fixtures::{self, ERIKA_RESTRICTED_ID};
use super::super::soap::{GeneralDate, parse_get_result_response};
use super::*;

const NOW: OffsetDateTime = datetime!(2026-11-28 12:00 UTC);

fn from_xml(doc: &str) -> Result<EidIdentity, EidError> {
    identity(parse_get_result_response(doc.as_bytes())?, NOW)
}

fn value(identity: &EidIdentity, name: AttributeName) -> Option<&str> {
    identity
        .attributes
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.value.as_str())
}

fn date(s: &str) -> GeneralDate {
    GeneralDate {
        date_string: s.into(),
        date_value: None,
    }
}

#[test]
fn erika_maps_to_every_attribute_at_level_high() {
    let erika = from_xml(&fixtures::erika()).unwrap();
    assert_eq!(
        erika.restricted_id,
        ERIKA_RESTRICTED_ID.to_ascii_lowercase()
    );
    assert_eq!(erika.document_type.as_deref(), Some("ID"));
    assert_eq!(erika.date_of_expiry.as_deref(), Some("2031-10-31"));
    let expected = [
        (AttributeName::GivenName, "ERIKA"),
        (AttributeName::FamilyName, "MUSTERMANN"),
        (AttributeName::BirthName, "GABLER"),
        (AttributeName::AcademicTitle, "DR."),
        (AttributeName::BirthDate, "1964-08-12"),
        (AttributeName::PlaceOfBirth, "BERLIN"),
        (AttributeName::Nationality, "DE"),
        (AttributeName::Street, "HEIDESTRASSE 17"),
        (AttributeName::PostalCode, "51147"),
        (AttributeName::Locality, "KÖLN"),
        (AttributeName::Country, "DE"),
        (AttributeName::DocumentType, "ID"),
        (AttributeName::CommunityId, "027605315000"),
    ];
    for (name, v) in expected {
        assert_eq!(value(&erika, name), Some(v), "{name}");
    }
    assert_eq!(erika.attributes.len(), expected.len());
    for a in &erika.attributes {
        assert_eq!(a.level, Level::High);
        assert_eq!(a.source, AttributeSource::Eid);
        assert_eq!(a.verified_at, NOW);
    }
    let verified = erika.into_verified();
    assert_eq!(verified.kind(), AuthenticatorKind::Eid);
    assert_eq!(verified.level, Level::High);
    assert_eq!(
        verified.external_id.as_deref(),
        Some(ERIKA_RESTRICTED_ID.to_ascii_lowercase().as_str())
    );
}

#[test]
fn not_on_chip_fields_are_absent() {
    let lukas = from_xml(&fixtures::not_on_chip()).unwrap();
    for absent in [
        AttributeName::AcademicTitle,
        AttributeName::BirthName,
        AttributeName::PlaceOfBirth,
        AttributeName::CommunityId,
    ] {
        assert_eq!(value(&lukas, absent), None, "{absent}");
    }
    assert_eq!(value(&lukas, AttributeName::BirthDate), Some("1990-03-01"));
}

#[test]
fn partial_dates_and_free_text_places() {
    let ayse = from_xml(&fixtures::partial()).unwrap();
    assert_eq!(value(&ayse, AttributeName::BirthDate), Some("1979"));
    assert_eq!(
        value(&ayse, AttributeName::PlaceOfBirth),
        Some("ISTANBUL/TÜRKEI")
    );
    assert_eq!(
        value(&ayse, AttributeName::Locality),
        Some("KEINE HAUPTWOHNUNG IN DEUTSCHLAND")
    );
    assert_eq!(value(&ayse, AttributeName::Street), None);
    assert_eq!(value(&ayse, AttributeName::Country), None);
    assert_eq!(ayse.date_of_expiry, None);
}

#[test]
fn date_strings() {
    let ok = |s: &str| birth_date(&date(s)).unwrap();
    assert_eq!(ok("19640812").as_deref(), Some("1964-08-12"));
    assert_eq!(ok("196408  ").as_deref(), Some("1964-08"));
    assert_eq!(ok("1964    ").as_deref(), Some("1964"));
    assert_eq!(ok("        "), None);
    assert_eq!(ok("20000229").as_deref(), Some("2000-02-29"));
    for bad in [
        "19641312",
        "19640230",
        "19000229",
        "1964 812",
        "    0812",
        "196408 1",
        "1964081",
        "196408122",
        "1964-08-",
        "19640800",
        "abcdefgh",
    ] {
        assert_eq!(
            birth_date(&date(bad)).unwrap_err().code(),
            "protocol",
            "{bad:?}"
        );
    }
    let value_only = GeneralDate {
        date_string: String::new(),
        date_value: Some("1964-08-12".into()),
    };
    assert_eq!(
        birth_date(&value_only).unwrap().as_deref(),
        Some("1964-08-12")
    );
}

#[test]
fn an_invalid_date_of_birth_rejects_the_result() {
    let doc = fixtures::erika().replace("19640812", "19641312");
    assert_eq!(from_xml(&doc).unwrap_err().code(), "protocol");
}

#[test]
fn expired_documents_and_low_levels_are_refused() {
    let expired = fixtures::erika().replace("2031-10-31", "2026-11-27");
    assert_eq!(from_xml(&expired).unwrap_err().code(), "document_expired");
    let today = fixtures::erika().replace("2031-10-31", "2026-11-28");
    assert!(from_xml(&today).is_ok());
    let bad_expiry = fixtures::erika().replace("2031-10-31", "31.10.2031");
    assert_eq!(from_xml(&bad_expiry).unwrap_err().code(), "protocol");
    let low = fixtures::erika().replace("LoA/hoch", "LoA/substantiell");
    assert_eq!(from_xml(&low).unwrap_err().code(), "document_denied");
    let unknown = fixtures::erika().replace("LoA/hoch", "LoA/whatever");
    assert_eq!(from_xml(&unknown).unwrap_err().code(), "document_denied");
}

#[test]
fn the_pseudonym_is_required() {
    let doc = fixtures::partial().replace(
        "<eid:RestrictedID><eid:ID>0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20</eid:ID></eid:RestrictedID>",
        "",
    );
    assert_eq!(from_xml(&doc).unwrap_err().code(), "protocol");
}

#[test]
fn structured_places_and_countries() {
    assert_eq!(country("D".into()), "DE");
    assert_eq!(country("TUR".into()), "TUR");
    let abroad = Place::Structured {
        street: None,
        city: Some("WIEN".into()),
        state: None,
        country: Some("A".into()),
        zip_code: None,
    };
    assert_eq!(place_of_birth(abroad).as_deref(), Some("WIEN, A"));
    let home = Place::Structured {
        street: None,
        city: Some("BERLIN".into()),
        state: None,
        country: Some("D".into()),
        zip_code: None,
    };
    assert_eq!(place_of_birth(home).as_deref(), Some("BERLIN"));
    assert_eq!(place_of_birth(Place::NoPlaceInfo), None);
}

proptest! {
    #[test]
    fn birth_dates_never_panic(s in "[0-9 a-z\\-]{0,12}", v in proptest::option::of(".{0,20}")) {
        let _ = birth_date(&GeneralDate { date_string: s, date_value: v });
    }

    #[test]
    fn accepted_birth_dates_are_valid_partial_dates(s in "[0-9 ]{8}") {
        if let Ok(Some(d)) = birth_date(&date(&s)) {
            prop_assert!(is_valid_partial_date(&d));
        }
    }

    #[test]
    fn mapping_never_panics_on_mutated_results(cut in 0usize..4000, insert in "[<>&;/a-zA-Z0-9: ]{0,12}") {
        let doc = fixtures::erika();
        let cut = doc.char_indices().map(|(i, _)| i).find(|&i| i >= cut.min(doc.len())).unwrap_or(doc.len());
        let _ = from_xml(&format!("{}{insert}{}", &doc[..cut], &doc[cut..]));
    }
}
