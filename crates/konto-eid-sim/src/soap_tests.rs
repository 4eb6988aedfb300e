use super::*;
use crate::identities::{AYSE, ERIKA, LUKAS};

fn use_id_request(ops: &[(&str, &str)], extra: &str) -> String {
    let ops: String = ops
        .iter()
        .map(|(n, v)| format!("<eid:{n}>{v}</eid:{n}>"))
        .collect();
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns:eid="{EID_NS}"><soapenv:Header/><soapenv:Body>
        <eid:useIDRequest><eid:UseOperations>{ops}</eid:UseOperations>{extra}</eid:useIDRequest>
        </soapenv:Body></soapenv:Envelope>"#
    )
}

fn all(value: &str) -> Vec<(&'static str, String)> {
    OPERATIONS.iter().map(|n| (*n, value.to_owned())).collect()
}

fn request(ops: &[(&str, String)], extra: &str) -> Result<Request, BadRequest> {
    let ops: Vec<(&str, &str)> = ops.iter().map(|(n, v)| (*n, v.as_str())).collect();
    parse_request(use_id_request(&ops, extra).as_bytes())
}

#[test]
fn use_id_reads_every_operation() {
    let mut ops = all("ALLOWED");
    ops[15].1 = "PROHIBITED".into();
    ops[16].1 = String::new();
    let Ok(Request::UseId { operations }) = request(
        &ops,
        "<eid:LevelOfAssuranceRequest>http://bsi.bund.de/eID/LoA/hoch</eid:LevelOfAssuranceRequest>",
    ) else {
        panic!("not parsed");
    };
    assert_eq!(operations.len(), 17);
    assert_eq!(operations["GivenNames"], "ALLOWED");
    assert_eq!(operations["PlaceVerification"], "PROHIBITED");
}

#[test]
fn use_id_content_errors_are_schema_violations() {
    let missing = all("ALLOWED")[1..].to_vec();
    assert!(matches!(
        request(&missing, ""),
        Err(BadRequest::UseId(_, "common#schemaViolation"))
    ));
    let mut bad_value = all("PROHIBITED");
    bad_value[3].1 = "MAYBE".into();
    assert!(matches!(
        request(&bad_value, ""),
        Err(BadRequest::UseId(_, "common#schemaViolation"))
    ));
    let level = "<eid:LevelOfAssuranceRequest>http://eidas.europa.eu/LoA/high</eid:LevelOfAssuranceRequest>";
    assert!(matches!(
        request(&all("PROHIBITED"), level),
        Err(BadRequest::UseId(_, "common#schemaViolation"))
    ));
    let mut age = all("PROHIBITED");
    age[15].1 = "REQUIRED".into();
    assert!(matches!(
        request(&age, ""),
        Err(BadRequest::UseId(_, "useID#missingTerminalRights"))
    ));
}

#[test]
fn malformed_requests_are_faults() {
    for bad in [
        "".to_owned(),
        "<x/>".to_owned(),
        format!(
            "<s:Envelope xmlns:s=\"{SOAP_NS}\"><s:Body><other xmlns=\"{EID_NS}\"/></s:Body></s:Envelope>"
        ),
        format!("<!DOCTYPE x><s:Envelope xmlns:s=\"{SOAP_NS}\"/>"),
    ] {
        assert!(
            matches!(parse_request(bad.as_bytes()), Err(BadRequest::Fault(_))),
            "{bad}"
        );
    }
    let fault = fault("x < y");
    let root = xml::parse(fault.as_bytes()).unwrap();
    assert_eq!(
        root.text_of(&["Body", "Fault", "faultstring"]),
        Some("x < y")
    );
}

#[test]
fn get_result_request() {
    let doc = format!(
        "<s:Envelope xmlns:s=\"{SOAP_NS}\"><s:Body><e:getResultRequest xmlns:e=\"{EID_NS}\">\
         <e:Session><e:ID>ABCDEF0123456789ABCDEF0123456789</e:ID></e:Session><e:RequestCounter>1</e:RequestCounter>\
         </e:getResultRequest></s:Body></s:Envelope>"
    );
    assert_eq!(
        parse_request(doc.as_bytes()),
        Ok(Request::GetResult {
            session_id: "abcdef0123456789abcdef0123456789".into(),
            counter: 1
        })
    );
    let short = doc.replace("ABCDEF0123456789ABCDEF0123456789", "abcd");
    assert!(matches!(
        parse_request(short.as_bytes()),
        Err(BadRequest::GetResult(_))
    ));
}

#[test]
fn results_release_only_what_was_asked_and_mark_notonchip() {
    let mut ops: HashMap<String, String> = all("PROHIBITED")
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect();
    for n in [
        "GivenNames",
        "FamilyNames",
        "DateOfBirth",
        "RestrictedID",
        "AcademicTitle",
        "BirthName",
        "PlaceOfBirth",
    ] {
        ops.insert(n.to_owned(), "REQUIRED".into());
    }
    let erika = get_result_ok(&ERIKA, &ops, "2031-10-31");
    let root = xml::parse(erika.as_bytes()).unwrap();
    let op = root
        .child("Body")
        .unwrap()
        .child("getResultResponse")
        .unwrap();
    assert_eq!(op.text_of(&["PersonalData", "GivenNames"]), Some("ERIKA"));
    assert_eq!(
        op.text_of(&["PersonalData", "DateOfBirth", "DateValue"]),
        Some("1964-08-12")
    );
    assert_eq!(op.text_of(&["PersonalData", "PlaceOfResidence"]), None);
    assert_eq!(
        op.text_of(&["OperationsAllowedByUser", "PlaceOfResidence"]),
        Some("PROHIBITED")
    );
    assert_eq!(op.text_of(&["Result", "ResultMajor"]), Some(MAJOR_OK));

    let lukas = get_result_ok(&LUKAS, &ops, "2031-10-31");
    let root = xml::parse(lukas.as_bytes()).unwrap();
    let op = root
        .child("Body")
        .unwrap()
        .child("getResultResponse")
        .unwrap();
    assert!(
        op.child("PersonalData")
            .unwrap()
            .child("AcademicTitle")
            .is_none()
    );
    assert_eq!(
        op.text_of(&["OperationsAllowedByUser", "AcademicTitle"]),
        Some("NOTONCHIP")
    );
    assert_eq!(
        op.text_of(&["OperationsAllowedByUser", "BirthName"]),
        Some("NOTONCHIP")
    );

    let ayse = get_result_ok(&AYSE, &ops, "2031-10-31");
    let root = xml::parse(ayse.as_bytes()).unwrap();
    let date = root
        .child("Body")
        .and_then(|b| b.child("getResultResponse"))
        .and_then(|o| o.child("PersonalData"))
        .and_then(|p| p.child("DateOfBirth"))
        .unwrap();
    assert_eq!(date.child("DateString").unwrap().text, "1979    ");
    assert!(date.child("DateValue").is_none());
}
