use proptest::prelude::*;

use super::super::fixtures::{self, ERIKA_RESTRICTED_ID, RESULT_OK, get_result, result_error};
use super::super::xml;
use super::*;

const USE_ID_OK: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:eid="http://bsi.bund.de/eID/" xmlns:dss="urn:oasis:names:tc:dss:1.0:core:schema">
  <soapenv:Header />
  <soapenv:Body>
    <eid:useIDResponse>
      <eid:Session><eid:ID>1234567890abcdef1234567890abcdef</eid:ID></eid:Session>
      <eid:eCardServerAddress>https://eid.example/ecardpaos/paosreceiver</eid:eCardServerAddress>
      <eid:PSK>
        <eid:ID>0987654321abcdef1234567890abcdef</eid:ID>
        <eid:Key>fedcba0987654321fedcba0987654321</eid:Key>
      </eid:PSK>
      <dss:Result>
        <ResultMajor>
          http://www.bsi.bund.de/ecard/api/1.1/resultmajor#ok
        </ResultMajor>
      </dss:Result>
    </eid:useIDResponse>
  </soapenv:Body>
</soapenv:Envelope>"#;

#[test]
fn use_id_request_asks_for_the_right_operations_in_schema_order() {
    let request = use_id_request();
    let root = xml::parse(request.as_bytes()).unwrap();
    assert!(root.is(SOAP_NS, "Envelope"));
    let op = root.path(&["Body", "useIDRequest"]).unwrap();
    assert!(op.is(EID_NS, "useIDRequest"));
    let ops = op.child("UseOperations").unwrap();
    assert!(ops.children.iter().all(|c| c.ns.as_deref() == Some(EID_NS)));
    let names: Vec<&str> = ops.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, OPERATIONS.map(|(n, _)| n));
    let value = |n: &str| ops.child_text(n).unwrap();
    for required in ["GivenNames", "FamilyNames", "DateOfBirth", "RestrictedID"] {
        assert_eq!(value(required), "REQUIRED", "{required}");
    }
    for allowed in [
        "DocumentType",
        "IssuingState",
        "DateOfExpiry",
        "AcademicTitle",
        "PlaceOfBirth",
        "Nationality",
        "BirthName",
        "PlaceOfResidence",
        "CommunityID",
    ] {
        assert_eq!(value(allowed), "ALLOWED", "{allowed}");
    }
    assert_eq!(
        op.child_text("LevelOfAssuranceRequest"),
        Some("http://bsi.bund.de/eID/LoA/hoch")
    );
    assert_eq!(op.children.last().unwrap().name, "LevelOfAssuranceRequest");
}

#[test]
fn get_result_request_names_session_and_counter() {
    let request = get_result_request("1234567890abcdef1234567890abcdef", 1);
    let root = xml::parse(request.as_bytes()).unwrap();
    let op = root.path(&["Body", "getResultRequest"]).unwrap();
    assert!(op.is(EID_NS, "getResultRequest"));
    assert_eq!(
        op.path(&["Session", "ID"]).and_then(xml::Element::trimmed),
        Some("1234567890abcdef1234567890abcdef")
    );
    assert_eq!(op.child_text("RequestCounter"), Some("1"));
}

#[test]
fn parses_the_tr_03130_use_id_example() {
    let session = parse_use_id_response(USE_ID_OK.as_bytes()).unwrap();
    assert_eq!(session.session_id, "1234567890abcdef1234567890abcdef");
    assert_eq!(session.psk_id, "0987654321abcdef1234567890abcdef");
    assert_eq!(session.psk_key, "fedcba0987654321fedcba0987654321");
    assert_eq!(
        session.ecard_server_address.as_deref(),
        Some("https://eid.example/ecardpaos/paosreceiver")
    );
}

#[test]
fn use_id_checks_its_values() {
    let bad_session = USE_ID_OK.replace(
        "1234567890abcdef1234567890abcdef</eid:ID></eid:Session>",
        "xyz</eid:ID></eid:Session>",
    );
    assert_eq!(
        parse_use_id_response(bad_session.as_bytes())
            .unwrap_err()
            .code(),
        "protocol"
    );
    let no_psk = USE_ID_OK.replace("<eid:Key>fedcba0987654321fedcba0987654321</eid:Key>", "");
    assert_eq!(
        parse_use_id_response(no_psk.as_bytes()).unwrap_err().code(),
        "protocol"
    );
    let http = USE_ID_OK.replace("https://eid.example", "http://eid.example");
    assert_eq!(
        parse_use_id_response(http.as_bytes()).unwrap_err().code(),
        "protocol"
    );
    let wrong_ns = USE_ID_OK.replace(
        "xmlns:eid=\"http://bsi.bund.de/eID/\"",
        "xmlns:eid=\"urn:other\"",
    );
    assert_eq!(
        parse_use_id_response(wrong_ns.as_bytes())
            .unwrap_err()
            .code(),
        "protocol"
    );
    let busy = format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>
        <useIDResponse xmlns="http://bsi.bund.de/eID/" xmlns:dss="urn:oasis:names:tc:dss:1.0:core:schema">{}</useIDResponse></S:Body></S:Envelope>"#,
        result_error(
            "http://www.bsi.bund.de/eid/server/2.0/resultminor/useID#tooManyOpenSessions",
            "busy"
        )
    );
    assert_eq!(
        parse_use_id_response(busy.as_bytes()).unwrap_err().code(),
        "unavailable"
    );
}

#[test]
fn parses_the_complete_erika_result() {
    let result = parse_get_result_response(fixtures::erika().as_bytes()).unwrap();
    let pd = &result.personal_data;
    assert_eq!(pd.given_names.as_deref(), Some("ERIKA"));
    assert_eq!(pd.family_names.as_deref(), Some("MUSTERMANN"));
    assert_eq!(pd.document_type.as_deref(), Some("ID"));
    assert_eq!(pd.date_of_expiry.as_deref(), Some("2031-10-31"));
    assert_eq!(pd.birth_name.as_deref(), Some("GABLER"));
    assert_eq!(
        pd.date_of_birth,
        Some(GeneralDate {
            date_string: "19640812".into(),
            date_value: Some("1964-08-12".into())
        })
    );
    assert_eq!(pd.place_of_birth, Some(Place::Freetext("BERLIN".into())));
    assert_eq!(
        pd.place_of_residence,
        Some(Place::Structured {
            street: Some("HEIDESTRASSE 17".into()),
            city: Some("KÖLN".into()),
            state: None,
            country: Some("D".into()),
            zip_code: Some("51147".into()),
        })
    );
    assert_eq!(pd.community_id.as_deref(), Some("027605315000"));
    assert_eq!(
        pd.restricted_id.as_deref(),
        Some(ERIKA_RESTRICTED_ID.to_ascii_lowercase().as_str())
    );
    assert_eq!(
        result.level_of_assurance.as_deref(),
        Some("http://bsi.bund.de/eID/LoA/hoch")
    );
}

#[test]
fn not_on_chip_fields_are_absent_and_empty_fields_too() {
    let result = parse_get_result_response(fixtures::not_on_chip().as_bytes()).unwrap();
    let pd = result.personal_data;
    assert_eq!(pd.academic_title, None);
    assert_eq!(pd.birth_name, None);
    assert_eq!(pd.place_of_birth, None);
    assert_eq!(pd.given_names.as_deref(), Some("LUKAS"));
}

#[test]
fn partial_dates_keep_their_spaces_and_free_text_places_are_read() {
    let result = parse_get_result_response(fixtures::partial().as_bytes()).unwrap();
    let pd = result.personal_data;
    assert_eq!(pd.date_of_birth.unwrap().date_string, "1979    ");
    assert_eq!(
        pd.place_of_birth,
        Some(Place::Freetext("ISTANBUL/TÜRKEI".into()))
    );
    assert_eq!(
        pd.place_of_residence,
        Some(Place::Freetext("KEINE HAUPTWOHNUNG IN DEUTSCHLAND".into()))
    );
    let none = get_result(&format!(
        "<eid:PersonalData><eid:PlaceOfBirth><eid:NoPlaceInfo>unbekannt</eid:NoPlaceInfo></eid:PlaceOfBirth>\
         <eid:RestrictedID><eid:ID>00ff</eid:ID></eid:RestrictedID></eid:PersonalData>{RESULT_OK}"
    ));
    let pd = parse_get_result_response(none.as_bytes())
        .unwrap()
        .personal_data;
    assert_eq!(pd.place_of_birth, Some(Place::NoPlaceInfo));
}

#[test]
fn error_results_map_to_precise_errors() {
    let cases = [
        (
            "http://www.bsi.bund.de/ecard/api/1.1/resultminor/sal#cancellationByUser",
            "cancelled",
        ),
        (
            "http://www.bsi.bund.de/ecard/api/1.1/resultminor/sal/mEAC#DocumentValidityVerificationFailed",
            "document_expired",
        ),
        (
            "http://www.bsi.bund.de/eid/server/2.0/resultminor/getResult#invalidDocument",
            "document_invalid",
        ),
        (
            "http://www.bsi.bund.de/eid/server/2.0/resultminor/getResult#deniedDocument",
            "document_denied",
        ),
        (
            "http://www.bsi.bund.de/eid/server/2.0/resultminor/getResult#noResultYet",
            "no_result_yet",
        ),
        (
            "http://www.bsi.bund.de/eid/server/2.0/resultminor/getResult#invalidSession",
            "session_unknown",
        ),
        (
            "http://www.bsi.bund.de/eid/server/2.0/resultminor/getResult#invalidCounter",
            "protocol",
        ),
        (
            "http://www.bsi.bund.de/eid/server/2.0/resultminor/common#internalError",
            "server_error",
        ),
        (
            "http://www.bsi.bund.de/eid/server/2.0/resultminor/useID#missingTerminalRights",
            "config",
        ),
        ("urn:something:else", "server_error"),
    ];
    for (minor, code) in cases {
        // Even PersonalData next to an error result must not be used.
        let doc = get_result(&format!(
            "<eid:PersonalData><eid:RestrictedID><eid:ID>00ff</eid:ID></eid:RestrictedID></eid:PersonalData>{}",
            result_error(minor, "details")
        ));
        let err = parse_get_result_response(doc.as_bytes()).unwrap_err();
        assert_eq!(err.code(), code, "{minor}");
    }
    let server = parse_get_result_response(
        get_result(&result_error(
            "http://www.bsi.bund.de/eid/server/2.0/resultminor/common#internalError",
            "database\u{7} down",
        ))
        .as_bytes(),
    )
    .unwrap_err();
    assert!(
        server.to_string().contains("internalError database down"),
        "{server}"
    );
}

#[test]
fn soap_faults_are_errors() {
    let fault = |code: &str| {
        format!(
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
            <soap:Fault><faultcode>soap:{code}</faultcode><faultstring>Unmarshalling Error</faultstring></soap:Fault>
            </soap:Body></soap:Envelope>"#
        )
    };
    assert_eq!(
        parse_get_result_response(fault("Client").as_bytes())
            .unwrap_err()
            .code(),
        "protocol"
    );
    assert!(is_fault(fault("Server").as_bytes()));
    assert!(!is_fault(fixtures::erika().as_bytes()));
    assert!(!is_fault(b"<html><body>502 Bad Gateway</body></html>"));
    let err = parse_use_id_response(fault("Server").as_bytes()).unwrap_err();
    assert_eq!(err.code(), "server_error");
    assert!(err.to_string().contains("Unmarshalling Error"));
}

#[test]
fn hostile_or_broken_documents_are_refused() {
    let doctype = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"ERIKA\">]>{}",
        fixtures::erika().trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
    );
    assert_eq!(
        parse_get_result_response(doctype.as_bytes())
            .unwrap_err()
            .code(),
        "protocol"
    );
    let mut big = fixtures::erika();
    big.push_str(&" ".repeat(xml::MAX_INPUT));
    assert_eq!(
        parse_get_result_response(big.as_bytes())
            .unwrap_err()
            .code(),
        "protocol"
    );
    for broken in [
        "",
        "not xml",
        "<a/>",
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"/>",
    ] {
        assert_eq!(
            parse_get_result_response(broken.as_bytes())
                .unwrap_err()
                .code(),
            "protocol"
        );
    }
    let long_name = fixtures::erika().replace("MUSTERMANN", &"M".repeat(600));
    assert_eq!(
        parse_get_result_response(long_name.as_bytes())
            .unwrap_err()
            .code(),
        "protocol"
    );
    let no_result = fixtures::erika().replace(RESULT_OK, "");
    assert_eq!(
        parse_get_result_response(no_result.as_bytes())
            .unwrap_err()
            .code(),
        "protocol"
    );
    let bad_rid = fixtures::erika().replace(ERIKA_RESTRICTED_ID, "not-hex");
    assert_eq!(
        parse_get_result_response(bad_rid.as_bytes())
            .unwrap_err()
            .code(),
        "protocol"
    );
}

proptest! {
    #[test]
    fn parsers_never_panic_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_use_id_response(&bytes);
        let _ = parse_get_result_response(&bytes);
    }

    #[test]
    fn parsers_never_panic_on_mutated_results(cut in 0usize..4000, insert in "[<>&;/a-zA-Z:# \"=]{0,12}") {
        let doc = fixtures::erika();
        let cut = doc.char_indices().map(|(i, _)| i).find(|&i| i >= cut.min(doc.len())).unwrap_or(doc.len());
        let mutated = format!("{}{insert}{}", &doc[..cut], &doc[cut..]);
        let _ = parse_get_result_response(mutated.as_bytes());
        let _ = parse_use_id_response(mutated.as_bytes());
    }
}
