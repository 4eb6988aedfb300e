//! The eID-Server's SOAP web service (BSI TR-03130-1 §3): building `useIDRequest` and
//! `getResultRequest`, parsing their responses. Pure functions, no I/O.
//!
//! Policy: konto asks for exactly the data OZG §8 lets it hold (names, date of birth and the
//! card's pseudonym REQUIRED; document, birth, address, nationality and community data ALLOWED;
//! everything else PROHIBITED) at level of assurance `hoch`. Responses are untrusted: the envelope
//! and the operation must be in the right namespaces, every value is checked for form and length,
//! and an error result is mapped to the precise [`EidError`]. The DSS `Result` decides: data in a
//! response whose `ResultMajor` is not `ok` is never used.

use konto_core::level::BSI_HIGH;

use super::EidError;
use super::EidSession;
use super::xml::{self, Element};

pub(crate) const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub(crate) const EID_NS: &str = "http://bsi.bund.de/eID/";
pub(crate) const DSS_NS: &str = "urn:oasis:names:tc:dss:1.0:core:schema";
pub(crate) const RESULT_MAJOR_OK: &str = "http://www.bsi.bund.de/ecard/api/1.1/resultmajor#ok";
pub(crate) const SOAP_ACTION_USE_ID: &str = "http://bsi.bund.de/eID/useID";
pub(crate) const SOAP_ACTION_GET_RESULT: &str = "http://bsi.bund.de/eID/getResult";

/// The longest value accepted for any single field of PersonalData.
const MAX_FIELD: usize = 512;

/// `UseOperations` in schema order, with what konto asks for.
const OPERATIONS: [(&str, &str); 17] = [
    ("DocumentType", "ALLOWED"),
    ("IssuingState", "ALLOWED"),
    ("DateOfExpiry", "ALLOWED"),
    ("GivenNames", "REQUIRED"),
    ("FamilyNames", "REQUIRED"),
    ("ArtisticName", "PROHIBITED"),
    ("AcademicTitle", "ALLOWED"),
    ("DateOfBirth", "REQUIRED"),
    ("PlaceOfBirth", "ALLOWED"),
    ("Nationality", "ALLOWED"),
    ("BirthName", "ALLOWED"),
    ("PlaceOfResidence", "ALLOWED"),
    ("CommunityID", "ALLOWED"),
    ("ResidencePermitI", "PROHIBITED"),
    ("RestrictedID", "REQUIRED"),
    ("AgeVerification", "PROHIBITED"),
    ("PlaceVerification", "PROHIBITED"),
];

fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <soapenv:Envelope xmlns:soapenv=\"{SOAP_NS}\" xmlns:eid=\"{EID_NS}\">\
         <soapenv:Header/><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    )
}

/// The `useIDRequest` konto sends for every login.
pub(crate) fn use_id_request() -> String {
    let mut ops = String::new();
    for (name, value) in OPERATIONS {
        ops.push_str(&format!("<eid:{name}>{value}</eid:{name}>"));
    }
    envelope(&format!(
        "<eid:useIDRequest><eid:UseOperations>{ops}</eid:UseOperations>\
         <eid:LevelOfAssuranceRequest>{BSI_HIGH}</eid:LevelOfAssuranceRequest></eid:useIDRequest>"
    ))
}

/// A `getResultRequest`. `session_id` was checked to be hex when the session was parsed.
pub(crate) fn get_result_request(session_id: &str, request_counter: u32) -> String {
    let id = quick_xml::escape::escape(session_id);
    envelope(&format!(
        "<eid:getResultRequest><eid:Session><eid:ID>{id}</eid:ID></eid:Session>\
         <eid:RequestCounter>{request_counter}</eid:RequestCounter></eid:getResultRequest>"
    ))
}

/// Parses a `useIDResponse` into the session konto keeps for the login.
pub(crate) fn parse_use_id_response(body: &[u8]) -> Result<EidSession, EidError> {
    let root = parse(body)?;
    let op = operation(&root, "useIDResponse")?;
    check_result(op)?;
    let session_id = op
        .path(&["Session", "ID"])
        .and_then(Element::trimmed)
        .ok_or_else(|| protocol("useidresponse has no session id"))?;
    let psk_id = op
        .path(&["PSK", "ID"])
        .and_then(Element::trimmed)
        .ok_or_else(|| protocol("useidresponse has no psk id"))?;
    let psk_key = op
        .path(&["PSK", "Key"])
        .and_then(Element::trimmed)
        .ok_or_else(|| protocol("useidresponse has no psk key"))?;
    if !is_hex(session_id, 32) {
        return Err(protocol("session id is not hex of at least 16 bytes"));
    }
    if psk_id.len() < 16 || psk_id.len() > 256 || !psk_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(protocol("psk id is not 16 to 256 printable characters"));
    }
    if !is_hex(psk_key, 32) {
        return Err(protocol("psk key is not hex of at least 16 bytes"));
    }
    let ecard_server_address = match op.child_text("eCardServerAddress") {
        None => None,
        Some(address) => match url::Url::parse(address) {
            Ok(u) if u.scheme() == "https" && address.len() <= 2048 => Some(address.to_owned()),
            _ => return Err(protocol("ecardserveraddress is not an https url")),
        },
    };
    Ok(EidSession {
        session_id: session_id.to_owned(),
        ecard_server_address,
        psk_id: psk_id.to_owned(),
        psk_key: psk_key.to_owned(),
    })
}

/// `PersonalData` as the eID-Server sent it, checked for form but not yet interpreted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PersonalData {
    pub(crate) document_type: Option<String>,
    pub(crate) issuing_state: Option<String>,
    pub(crate) date_of_expiry: Option<String>,
    pub(crate) given_names: Option<String>,
    pub(crate) family_names: Option<String>,
    pub(crate) academic_title: Option<String>,
    pub(crate) date_of_birth: Option<GeneralDate>,
    pub(crate) place_of_birth: Option<Place>,
    pub(crate) nationality: Option<String>,
    pub(crate) birth_name: Option<String>,
    pub(crate) place_of_residence: Option<Place>,
    pub(crate) community_id: Option<String>,
    /// `RestrictedID/ID`, lowercase hex.
    pub(crate) restricted_id: Option<String>,
}

/// `GeneralDateType`: `DateString` is `[0-9 ]{8}` (`YYYYMMDD`, unknown parts as spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GeneralDate {
    pub(crate) date_string: String,
    pub(crate) date_value: Option<String>,
}

/// `GeneralPlaceType`: exactly one of structured, free text, or no information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    Structured {
        street: Option<String>,
        city: Option<String>,
        state: Option<String>,
        country: Option<String>,
        zip_code: Option<String>,
    },
    Freetext(String),
    NoPlaceInfo,
}

/// What a successful `getResultResponse` carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GetResult {
    pub(crate) personal_data: PersonalData,
    pub(crate) level_of_assurance: Option<String>,
}

/// Parses a `getResultResponse`; an error result becomes the matching [`EidError`].
pub(crate) fn parse_get_result_response(body: &[u8]) -> Result<GetResult, EidError> {
    let root = parse(body)?;
    let op = operation(&root, "getResultResponse")?;
    check_result(op)?;
    let pd = op
        .child("PersonalData")
        .ok_or_else(|| protocol("getresultresponse has no personaldata"))?;
    let text = |name: &str| field(pd, name);
    let personal_data = PersonalData {
        document_type: text("DocumentType")?,
        issuing_state: text("IssuingState")?,
        date_of_expiry: text("DateOfExpiry")?,
        given_names: text("GivenNames")?,
        family_names: text("FamilyNames")?,
        academic_title: text("AcademicTitle")?,
        date_of_birth: pd.child("DateOfBirth").map(general_date).transpose()?,
        place_of_birth: pd.child("PlaceOfBirth").map(place).transpose()?,
        nationality: text("Nationality")?,
        birth_name: text("BirthName")?,
        place_of_residence: pd.child("PlaceOfResidence").map(place).transpose()?,
        community_id: text("CommunityID")?,
        restricted_id: pd.child("RestrictedID").map(restricted_id).transpose()?,
    };
    Ok(GetResult {
        personal_data,
        level_of_assurance: field(op, "LevelOfAssuranceResult")?,
    })
}

/// Whether `body` is a SOAP 1.1 fault (sent with HTTP status 500), as opposed to some other
/// error page in front of the eID-Server.
pub(crate) fn is_fault(body: &[u8]) -> bool {
    xml::parse(body).is_ok_and(|root| {
        root.is(SOAP_NS, "Envelope")
            && root
                .children
                .iter()
                .find(|c| c.is(SOAP_NS, "Body"))
                .and_then(|b| b.children.first())
                .is_some_and(|f| f.is(SOAP_NS, "Fault"))
    })
}

fn parse(body: &[u8]) -> Result<Element, EidError> {
    xml::parse(body).map_err(|e| EidError::Protocol(e.to_string()))
}

/// Checks `Envelope/Body/<operation>` (SOAP 1.1, eID namespace) and turns a SOAP fault into an
/// error: a `Client` fault means konto sent something the server refused, anything else is the
/// server's own failure.
fn operation<'a>(root: &'a Element, name: &str) -> Result<&'a Element, EidError> {
    if !root.is(SOAP_NS, "Envelope") {
        return Err(protocol("answer is not a soap 1.1 envelope"));
    }
    let body = root
        .children
        .iter()
        .find(|c| c.is(SOAP_NS, "Body"))
        .ok_or_else(|| protocol("soap envelope has no body"))?;
    let first = body
        .children
        .first()
        .ok_or_else(|| protocol("soap body is empty"))?;
    if first.is(SOAP_NS, "Fault") {
        let code = first.child_text("faultcode").unwrap_or("");
        let reason = sanitize(first.child_text("faultstring").unwrap_or(""));
        let local = code.rsplit(':').next().unwrap_or(code);
        return Err(if local.starts_with("Client") {
            EidError::Protocol(format!("eid-server refused the request: {reason}"))
        } else {
            EidError::ServerError(format!("soap fault {}: {reason}", sanitize(code)))
        });
    }
    if !first.is(EID_NS, name) {
        return Err(EidError::Protocol(format!(
            "expected {name} in the eid namespace, got {}",
            sanitize(&first.name)
        )));
    }
    Ok(first)
}

/// The DSS `Result` of an operation: `ok`, or the error it names.
fn check_result(op: &Element) -> Result<(), EidError> {
    let result = op
        .children
        .iter()
        .find(|c| c.is(DSS_NS, "Result"))
        .ok_or_else(|| protocol("answer has no dss result"))?;
    let major = result
        .child_text("ResultMajor")
        .ok_or_else(|| protocol("dss result has no resultmajor"))?;
    if major == RESULT_MAJOR_OK {
        return Ok(());
    }
    let minor = result.child_text("ResultMinor");
    let message = result.child("ResultMessage").and_then(Element::trimmed);
    Err(result_error(minor, message))
}

/// Maps a `ResultMinor` (TR-03130-1 table 6 and the TR-03112 codes the eID-Server passes on from
/// the eID client) to konto's error.
pub(crate) fn result_error(minor: Option<&str>, message: Option<&str>) -> EidError {
    let minor = minor.unwrap_or("");
    let code = minor.rsplit(['#', ':']).next().unwrap_or(minor);
    match code {
        "cancellationByUser" | "cancelationByUser" => EidError::Cancelled,
        "DocumentValidityVerificationFailed" | "DocumentValidityVerificationFailedWarning" => {
            EidError::DocumentExpired
        }
        "invalidDocument" => EidError::DocumentInvalid,
        "deniedDocument" => EidError::DocumentDenied,
        "noResultYet" => EidError::NoResultYet,
        "invalidSession" => EidError::SessionUnknown,
        "tooManyOpenSessions" => {
            EidError::Unavailable("eid-server has too many open sessions".into())
        }
        "missingTerminalRights" => {
            EidError::Config("the authorisation certificate lacks rights konto asks for".into())
        }
        "invalidCounter" | "schemaViolation" | "missingArgument" | "invalidPSK" => {
            EidError::Protocol(format!("eid-server refused the request: {code}"))
        }
        _ => {
            let message = message.map(sanitize).unwrap_or_default();
            EidError::ServerError(format!("{} {message}", sanitize(minor)).trim().to_owned())
        }
    }
}

fn field(parent: &Element, name: &str) -> Result<Option<String>, EidError> {
    match parent.child_text(name) {
        None => Ok(None),
        Some(v) if v.chars().count() > MAX_FIELD => {
            Err(EidError::Protocol(format!("{name} is too long")))
        }
        Some(v) => Ok(Some(v.to_owned())),
    }
}

fn general_date(el: &Element) -> Result<GeneralDate, EidError> {
    // DateString keeps its spaces (they mark unknown parts): strip only line breaks and tabs.
    let date_string = el
        .child("DateString")
        .map(|d| d.text.trim_matches(['\r', '\n', '\t']).to_owned())
        .unwrap_or_default();
    if date_string.len() > 16 {
        return Err(protocol("datestring is too long"));
    }
    Ok(GeneralDate {
        date_string,
        date_value: field(el, "DateValue")?,
    })
}

fn place(el: &Element) -> Result<Place, EidError> {
    if let Some(s) = el.child("StructuredPlace") {
        return Ok(Place::Structured {
            street: field(s, "Street")?,
            city: field(s, "City")?,
            state: field(s, "State")?,
            country: field(s, "Country")?,
            zip_code: field(s, "ZipCode")?,
        });
    }
    if el.child("FreetextPlace").is_some() {
        return Ok(match field(el, "FreetextPlace")? {
            Some(text) => Place::Freetext(text),
            None => Place::NoPlaceInfo,
        });
    }
    if el.child("NoPlaceInfo").is_some() {
        return Ok(Place::NoPlaceInfo);
    }
    Err(protocol(
        "place has neither structured, free text nor no-place information",
    ))
}

fn restricted_id(el: &Element) -> Result<String, EidError> {
    let id = el
        .child_text("ID")
        .ok_or_else(|| protocol("restrictedid has no id"))?;
    if !is_hex(id, 2) {
        return Err(protocol("restrictedid is not hex"));
    }
    Ok(id.to_ascii_lowercase())
}

/// Even-length hex of at least `min` and at most 256 digits.
fn is_hex(s: &str, min: usize) -> bool {
    (min..=256).contains(&s.len())
        && s.len().is_multiple_of(2)
        && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Server-supplied text for logs and error messages: no control characters, at most 200 chars.
fn sanitize(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn protocol(what: &str) -> EidError {
    EidError::Protocol(what.to_owned())
}

#[cfg(test)]
#[path = "soap_tests.rs"]
mod tests;
