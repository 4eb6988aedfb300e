//! Writing `Response` and `Assertion` elements (SAML core §2.3.3, §3.3.3; profiles §4.1.4.2).
//! Templates only: [`crate::dsig`] signs them and [`crate::encrypt`] encrypts the assertion.

use time::OffsetDateTime;

use crate::xml::{esc, instant};
use crate::{ATTRNAME_URI, NAMEID_TRANSIENT, NS_AKDB, NS_ASSERTION, NS_PROTOCOL, Status};

/// One released attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeValue {
    pub oid: &'static str,
    pub friendly: &'static str,
    pub value: String,
    /// BundID's `akdb:TrustLevel` (`HOCH`, `SUBSTANTIELL`, `NORMAL`, `UNTERGEORDNET`).
    pub trust_level: &'static str,
}

/// What an assertion says.
#[derive(Debug, Clone)]
pub struct AssertionContent<'a> {
    pub id: &'a str,
    pub issuer: &'a str,
    pub issued: OffsetDateTime,
    /// End of validity (profiles §4.1.4.2: short; konto gives 5 minutes).
    pub not_on_or_after: OffsetDateTime,
    pub audience: &'a str,
    pub recipient: &'a str,
    pub in_response_to: &'a str,
    /// A transient name identifier, fresh for every assertion (core §8.3.8).
    pub name_id: &'a str,
    pub session_index: &'a str,
    pub authn_instant: OffsetDateTime,
    /// `STORK-QAA-Level-N` of the level reached.
    pub class_ref: &'a str,
    pub attributes: &'a [AttributeValue],
}

/// The assertion with `signature` (a template) after its issuer.
pub fn assertion(c: &AssertionContent<'_>, signature: &str) -> String {
    let mut attrs = String::new();
    for a in c.attributes {
        attrs.push_str(&format!(
            concat!(
                r#"<saml:Attribute Name="{}" NameFormat="{}" FriendlyName="{}" akdb:TrustLevel="{}">"#,
                r#"<saml:AttributeValue xsi:type="xs:string">{}</saml:AttributeValue></saml:Attribute>"#
            ),
            a.oid,
            ATTRNAME_URI,
            a.friendly,
            a.trust_level,
            esc(&a.value)
        ));
    }
    let statement = if attrs.is_empty() {
        String::new()
    } else {
        format!("<saml:AttributeStatement>{attrs}</saml:AttributeStatement>")
    };
    format!(
        concat!(
            r#"<saml:Assertion xmlns:saml="{ns}" xmlns:akdb="{akdb}" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{id}" Version="2.0" IssueInstant="{issued}">"#,
            r#"<saml:Issuer>{issuer}</saml:Issuer>{signature}"#,
            r#"<saml:Subject><saml:NameID Format="{transient}" SPNameQualifier="{audience}">{name_id}</saml:NameID>"#,
            r#"<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">"#,
            r#"<saml:SubjectConfirmationData InResponseTo="{irt}" NotOnOrAfter="{until}" Recipient="{recipient}"/>"#,
            r#"</saml:SubjectConfirmation></saml:Subject>"#,
            r#"<saml:Conditions NotBefore="{issued}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"#,
            r#"<saml:AuthnStatement AuthnInstant="{authn}" SessionIndex="{session}"><saml:AuthnContext><saml:AuthnContextClassRef>{class_ref}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"#,
            "{statement}</saml:Assertion>"
        ),
        ns = NS_ASSERTION,
        akdb = NS_AKDB,
        id = esc(c.id),
        issued = instant(c.issued),
        issuer = esc(c.issuer),
        signature = signature,
        transient = NAMEID_TRANSIENT,
        audience = esc(c.audience),
        name_id = esc(c.name_id),
        irt = esc(c.in_response_to),
        until = instant(c.not_on_or_after),
        recipient = esc(c.recipient),
        authn = instant(c.authn_instant),
        session = esc(c.session_index),
        class_ref = esc(c.class_ref),
        statement = statement,
    )
}

/// The envelope of an answer.
#[derive(Debug, Clone)]
pub struct ResponseContent<'a> {
    pub id: &'a str,
    pub issuer: &'a str,
    pub issued: OffsetDateTime,
    pub destination: &'a str,
    pub in_response_to: Option<&'a str>,
    pub status: Status,
    pub message: Option<&'a str>,
    /// BundID's JSON status detail.
    pub detail: Option<&'a str>,
}

/// The response with `signature` (a template) after its issuer and `encrypted_assertion`
/// (an `EncryptedData` element) if the login succeeded.
pub fn response(
    c: &ResponseContent<'_>,
    signature: &str,
    encrypted_assertion: Option<&str>,
) -> String {
    let (top, second) = c.status.codes();
    let second = second
        .map(|s| format!(r#"<samlp:StatusCode Value="{s}"/>"#))
        .unwrap_or_default();
    let message = c
        .message
        .map(|m| format!("<samlp:StatusMessage>{}</samlp:StatusMessage>", esc(m)))
        .unwrap_or_default();
    let detail = c
        .detail
        .map(|d| format!("<samlp:StatusDetail>{}</samlp:StatusDetail>", esc(d)))
        .unwrap_or_default();
    let irt = c
        .in_response_to
        .map(|i| format!(r#" InResponseTo="{}""#, esc(i)))
        .unwrap_or_default();
    let assertion = encrypted_assertion
        .map(|e| format!("<saml:EncryptedAssertion>{e}</saml:EncryptedAssertion>"))
        .unwrap_or_default();
    format!(
        concat!(
            r#"<samlp:Response xmlns:samlp="{p}" xmlns:saml="{a}" ID="{id}" Version="2.0" IssueInstant="{issued}" Destination="{dest}"{irt}>"#,
            r#"<saml:Issuer>{issuer}</saml:Issuer>{signature}"#,
            r#"<samlp:Status><samlp:StatusCode Value="{top}">{second}</samlp:StatusCode>{message}{detail}</samlp:Status>"#,
            "{assertion}</samlp:Response>"
        ),
        p = NS_PROTOCOL,
        a = NS_ASSERTION,
        id = esc(c.id),
        issued = instant(c.issued),
        dest = esc(c.destination),
        irt = irt,
        issuer = esc(c.issuer),
        signature = signature,
        top = top,
        second = second,
        message = message,
        detail = detail,
        assertion = assertion,
    )
}

/// BundID's status detail for missing required attributes (`reference.md` §3).
pub fn missing_attributes_detail(names: &[String]) -> String {
    serde_json::json!({
        "version": "1.0",
        "errors": [{
            "code": "IDP_REQUIRED_ATTRIBUTES_MISSING",
            "message": format!("required attributes missing: {}", names.join(", ")),
        }]
    })
    .to_string()
}
