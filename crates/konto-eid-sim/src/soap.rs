//! The eID-Server's SOAP messages (BSI TR-03130-1 §3): reading `useIDRequest` and
//! `getResultRequest`, writing their responses, faults and error results.
//!
//! Policy: a request that is not well-formed SOAP 1.1 with a known eID operation gets a SOAP
//! fault; a known operation with invalid content gets the error result TR-03130-1 table 6
//! prescribes (`common#schemaViolation`). Only requested fields are released, and fields the
//! card lacks are reported as `NOTONCHIP`.

use std::collections::HashMap;

use quick_xml::escape::escape;

use crate::identities::{TestIdentity, TestPlace};
use crate::xml::{self, Node};

pub(crate) const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub(crate) const EID_NS: &str = "http://bsi.bund.de/eID/";
pub(crate) const DSS_NS: &str = "urn:oasis:names:tc:dss:1.0:core:schema";

const MAJOR_OK: &str = "http://www.bsi.bund.de/ecard/api/1.1/resultmajor#ok";
const MAJOR_ERROR: &str = "http://www.bsi.bund.de/ecard/api/1.1/resultmajor#error";
const SERVER_MINOR: &str = "http://www.bsi.bund.de/eid/server/2.0/resultminor";
pub(crate) const MINOR_CANCELLED: &str =
    "http://www.bsi.bund.de/ecard/api/1.1/resultminor/sal#cancellationByUser";
pub(crate) const MINOR_EXPIRED: &str =
    "http://www.bsi.bund.de/ecard/api/1.1/resultminor/sal/mEAC#DocumentValidityVerificationFailed";
const LOA_HIGH: &str = "http://bsi.bund.de/eID/LoA/hoch";
const LEVELS: [&str; 4] = [
    "http://bsi.bund.de/eID/LoA/normal",
    "http://bsi.bund.de/eID/LoA/substantiell",
    LOA_HIGH,
    "http://bsi.bund.de/eID/LoA/undefined",
];

/// `UseOperations` in schema order.
pub(crate) const OPERATIONS: [&str; 17] = [
    "DocumentType",
    "IssuingState",
    "DateOfExpiry",
    "GivenNames",
    "FamilyNames",
    "ArtisticName",
    "AcademicTitle",
    "DateOfBirth",
    "PlaceOfBirth",
    "Nationality",
    "BirthName",
    "PlaceOfResidence",
    "CommunityID",
    "ResidencePermitI",
    "RestrictedID",
    "AgeVerification",
    "PlaceVerification",
];

/// `ResultMinor` codes of TR-03130-1 table 6, without the common prefix.
pub(crate) fn server_minor(code: &str) -> String {
    format!("{SERVER_MINOR}/{code}")
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Request {
    UseId { operations: HashMap<String, String> },
    GetResult { session_id: String, counter: i64 },
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BadRequest {
    /// Not SOAP, or no known operation: answer with a SOAP fault.
    Fault(String),
    /// A known operation with invalid content: answer with `schemaViolation` (or the given minor).
    UseId(String, &'static str),
    GetResult(String),
}

pub(crate) fn parse_request(body: &[u8]) -> Result<Request, BadRequest> {
    let root = xml::parse(body).map_err(BadRequest::Fault)?;
    if !root.is(SOAP_NS, "Envelope") {
        return Err(BadRequest::Fault("not a soap 1.1 envelope".into()));
    }
    let op = root
        .children
        .iter()
        .find(|c| c.is(SOAP_NS, "Body"))
        .and_then(|b| b.children.first())
        .ok_or_else(|| BadRequest::Fault("empty soap body".into()))?;
    if op.is(EID_NS, "useIDRequest") {
        use_id(op)
    } else if op.is(EID_NS, "getResultRequest") {
        let bad = |what: &str| BadRequest::GetResult(what.to_owned());
        let session_id = op
            .text_of(&["Session", "ID"])
            .ok_or_else(|| bad("no session id"))?;
        if session_id.len() < 32 || hex::decode(session_id).is_err() {
            return Err(bad("session id is not hexBinary of 16 bytes or more"));
        }
        let counter = op
            .text_of(&["RequestCounter"])
            .and_then(|c| c.parse::<i64>().ok())
            .ok_or_else(|| bad("no integer request counter"))?;
        Ok(Request::GetResult {
            session_id: session_id.to_ascii_lowercase(),
            counter,
        })
    } else {
        Err(BadRequest::Fault(format!(
            "unknown operation {}",
            op.name.chars().take(40).collect::<String>()
        )))
    }
}

fn use_id(op: &Node) -> Result<Request, BadRequest> {
    let schema = |what: String| BadRequest::UseId(what, "common#schemaViolation");
    let ops = op
        .child("UseOperations")
        .ok_or_else(|| schema("no UseOperations".into()))?;
    let mut operations = HashMap::new();
    for child in &ops.children {
        if child.ns.as_deref() != Some(EID_NS) || !OPERATIONS.contains(&child.name.as_str()) {
            return Err(schema(format!("unknown operation {}", child.name)));
        }
        let value = match child.text.trim() {
            "" => "PROHIBITED",
            v @ ("REQUIRED" | "ALLOWED" | "PROHIBITED") => v,
            _ => return Err(schema(format!("bad value for {}", child.name))),
        };
        if operations
            .insert(child.name.clone(), value.to_owned())
            .is_some()
        {
            return Err(schema(format!("{} given twice", child.name)));
        }
    }
    if let Some(missing) = OPERATIONS.iter().find(|n| !operations.contains_key(**n)) {
        return Err(schema(format!("UseOperations lacks {missing}")));
    }
    for verification in ["AgeVerification", "PlaceVerification"] {
        if operations
            .get(verification)
            .is_some_and(|v| v != "PROHIBITED")
        {
            return Err(BadRequest::UseId(
                format!("the simulator's terminal has no right for {verification}"),
                "useID#missingTerminalRights",
            ));
        }
    }
    if let Some(level) = op.text_of(&["LevelOfAssuranceRequest"])
        && !LEVELS.contains(&level)
    {
        return Err(schema("unknown LevelOfAssuranceRequest".into()));
    }
    Ok(Request::UseId { operations })
}

fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soapenv:Envelope xmlns:soapenv=\"{SOAP_NS}\" \
         xmlns:eid=\"{EID_NS}\" xmlns:dss=\"{DSS_NS}\"><soapenv:Header/><soapenv:Body>{body}\
         </soapenv:Body></soapenv:Envelope>"
    )
}

fn result(minor: Option<(&str, &str)>) -> String {
    match minor {
        None => format!("<dss:Result><dss:ResultMajor>{MAJOR_OK}</dss:ResultMajor></dss:Result>"),
        Some((minor, message)) => format!(
            "<dss:Result><dss:ResultMajor>{MAJOR_ERROR}</dss:ResultMajor><dss:ResultMinor>{}\
             </dss:ResultMinor><dss:ResultMessage xml:lang=\"en\">{}</dss:ResultMessage></dss:Result>",
            escape(minor),
            escape(message)
        ),
    }
}

pub(crate) fn fault(reason: &str) -> String {
    envelope(&format!(
        "<soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>{}</faultstring></soapenv:Fault>",
        escape(reason)
    ))
}

pub(crate) fn use_id_ok(
    session_id: &str,
    ecard_server_address: &str,
    psk_id: &str,
    psk_key: &str,
) -> String {
    envelope(&format!(
        "<eid:useIDResponse><eid:Session><eid:ID>{session_id}</eid:ID></eid:Session>\
         <eid:eCardServerAddress>{}</eid:eCardServerAddress>\
         <eid:PSK><eid:ID>{psk_id}</eid:ID><eid:Key>{psk_key}</eid:Key></eid:PSK>{}</eid:useIDResponse>",
        escape(ecard_server_address),
        result(None)
    ))
}

pub(crate) fn use_id_error(minor: &str, message: &str) -> String {
    envelope(&format!(
        "<eid:useIDResponse>{}</eid:useIDResponse>",
        result(Some((minor, message)))
    ))
}

pub(crate) fn get_result_error(minor: &str, message: &str) -> String {
    envelope(&format!(
        "<eid:getResultResponse>{}</eid:getResultResponse>",
        result(Some((minor, message)))
    ))
}

/// The successful getResultResponse for `identity`, releasing what `operations` asked for.
pub(crate) fn get_result_ok(
    identity: &TestIdentity,
    operations: &HashMap<String, String>,
    date_of_expiry: &str,
) -> String {
    let mut data = String::new();
    let mut allowed = String::new();
    for name in OPERATIONS {
        let requested = operations.get(name).is_some_and(|v| v != "PROHIBITED");
        let value = field(identity, name, date_of_expiry);
        let state = match (&value, requested) {
            (_, false) => "PROHIBITED",
            (None, true) => "NOTONCHIP",
            (Some(xml), true) => {
                data.push_str(&format!("<eid:{name}>{xml}</eid:{name}>"));
                "ALLOWED"
            }
        };
        allowed.push_str(&format!("<eid:{name}>{state}</eid:{name}>"));
    }
    envelope(&format!(
        "<eid:getResultResponse><eid:PersonalData>{data}</eid:PersonalData>\
         <eid:OperationsAllowedByUser>{allowed}</eid:OperationsAllowedByUser>\
         <eid:LevelOfAssuranceResult>{LOA_HIGH}</eid:LevelOfAssuranceResult>{}</eid:getResultResponse>",
        result(None)
    ))
}

/// The XML content of one PersonalData field; `None` when the card does not carry it.
fn field(identity: &TestIdentity, name: &str, date_of_expiry: &str) -> Option<String> {
    let text = |s: &str| escape(s).into_owned();
    match name {
        "DocumentType" => Some(text(identity.document_type)),
        "IssuingState" => Some(text(identity.issuing_state)),
        "DateOfExpiry" => Some(text(date_of_expiry)),
        "GivenNames" => Some(text(identity.given_names)),
        "FamilyNames" => Some(text(identity.family_names)),
        "AcademicTitle" => identity.academic_title.map(text),
        "DateOfBirth" => Some(general_date(identity.date_of_birth)),
        "PlaceOfBirth" => identity.place_of_birth.map(place),
        "Nationality" => Some(text(identity.nationality)),
        "BirthName" => identity.birth_name.map(text),
        "PlaceOfResidence" => Some(place(identity.place_of_residence)),
        "CommunityID" => identity.community_id.map(text),
        "RestrictedID" => Some(format!("<eid:ID>{}</eid:ID>", identity.restricted_id)),
        _ => None,
    }
}

fn general_date(date_string: &str) -> String {
    let mut out = format!("<eid:DateString>{}</eid:DateString>", escape(date_string));
    if date_string.len() == 8 && date_string.bytes().all(|b| b.is_ascii_digit()) {
        out.push_str(&format!(
            "<eid:DateValue>{}-{}-{}</eid:DateValue>",
            &date_string[0..4],
            &date_string[4..6],
            &date_string[6..8]
        ));
    }
    out
}

fn place(place: TestPlace) -> String {
    match place {
        TestPlace::Structured {
            street,
            city,
            country,
            zip_code,
        } => format!(
            "<eid:StructuredPlace><eid:Street>{}</eid:Street><eid:City>{}</eid:City>\
             <eid:Country>{}</eid:Country><eid:ZipCode>{}</eid:ZipCode></eid:StructuredPlace>",
            escape(street),
            escape(city),
            escape(country),
            escape(zip_code)
        ),
        TestPlace::Freetext(text) => {
            format!("<eid:FreetextPlace>{}</eid:FreetextPlace>", escape(text))
        }
        TestPlace::NoPlaceInfo => "<eid:NoPlaceInfo>keine Angabe</eid:NoPlaceInfo>".to_owned(),
    }
}

#[cfg(test)]
#[path = "soap_tests.rs"]
mod tests;
