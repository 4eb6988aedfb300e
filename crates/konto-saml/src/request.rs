//! Reading an `AuthnRequest` (SAML core §3.4.1) from either binding, with BundID's
//! `akdb:AuthenticationRequest` extension (`reference.md` §3).
//!
//! Nothing here trusts the message: [`RedirectMessage`] and [`PostMessage`] only decode it;
//! the engine checks the signature first and then parses the element the signature covered.

use std::io::Read;

use konto_xml::{Element, Limits};
use time::OffsetDateTime;

use crate::xml::{parse_instant, unb64};
use crate::{NS_AKDB, NS_ASSERTION, NS_PROTOCOL, SamlError};

/// Requests larger than this (decoded, inflated) are refused.
pub const MAX_REQUEST: usize = 64 * 1024;

/// A message received with the HTTP-Redirect binding (bindings §3.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectMessage {
    /// `SAMLRequest` or `SAMLResponse`.
    pub param: &'static str,
    /// The inflated message XML.
    pub xml: Vec<u8>,
    pub relay_state: Option<String>,
    /// `SAMLRequest=…[&RelayState=…]&SigAlg=…` (or `SAMLResponse=…`) as it appeared in the
    /// query (§3.4.4.1).
    pub signed_octets: Vec<u8>,
    pub sig_alg: Option<String>,
    pub signature: Option<Vec<u8>>,
}

fn unreadable(why: impl Into<String>) -> SamlError {
    SamlError::unanswerable("saml-request-unreadable", why)
}

fn decode_param(raw: &str) -> Result<String, SamlError> {
    // application/x-www-form-urlencoded, as SAML libraries write it
    let plus_as_space = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| unreadable("a parameter is not UTF-8"))
}

impl RedirectMessage {
    /// Decodes the raw query string: each parameter once, `SAMLRequest` or `SAMLResponse`
    /// (one of them) base64 of a raw DEFLATE stream (§3.4.4.1), inflated to at most
    /// [`MAX_REQUEST`] bytes.
    pub fn decode(query: &str) -> Result<RedirectMessage, SamlError> {
        let mut request = None;
        let mut response = None;
        let mut relay = None;
        let mut sig_alg = None;
        let mut signature = None;
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let slot = match k {
                "SAMLRequest" => &mut request,
                "SAMLResponse" => &mut response,
                "RelayState" => &mut relay,
                "SigAlg" => &mut sig_alg,
                "Signature" => &mut signature,
                _ => continue,
            };
            if slot.replace(v).is_some() {
                return Err(unreadable(format!("{k} appears twice")));
            }
        }
        let (param, raw_request) = match (request, response) {
            (Some(r), None) => ("SAMLRequest", r),
            (None, Some(r)) => ("SAMLResponse", r),
            (None, None) => return Err(unreadable("no SAMLRequest")),
            (Some(_), Some(_)) => return Err(unreadable("SAMLRequest and SAMLResponse at once")),
        };
        let deflated = unb64(&decode_param(raw_request)?)
            .ok_or_else(|| unreadable("SAMLRequest is not base64"))?;
        let mut xml = Vec::new();
        flate2::read::DeflateDecoder::new(&deflated[..])
            .take(MAX_REQUEST as u64 + 1)
            .read_to_end(&mut xml)
            .map_err(|_| unreadable("SAMLRequest is not DEFLATE-compressed"))?;
        if xml.len() > MAX_REQUEST {
            return Err(unreadable("SAMLRequest is too large"));
        }
        let mut signed = format!("{param}={raw_request}");
        if let Some(r) = relay {
            signed.push_str("&RelayState=");
            signed.push_str(r);
        }
        if let Some(a) = sig_alg {
            signed.push_str("&SigAlg=");
            signed.push_str(a);
        }
        Ok(RedirectMessage {
            param,
            xml,
            relay_state: relay.map(decode_param).transpose()?,
            signed_octets: signed.into_bytes(),
            sig_alg: sig_alg.map(decode_param).transpose()?,
            signature: signature
                .map(|s| {
                    decode_param(s)
                        .ok()
                        .and_then(|s| unb64(&s))
                        .ok_or_else(|| unreadable("Signature is not base64"))
                })
                .transpose()?,
        })
    }
}

/// A message received with the HTTP-POST binding (bindings §3.5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostMessage {
    /// `SAMLRequest` or `SAMLResponse`.
    pub param: &'static str,
    pub xml: Vec<u8>,
    pub relay_state: Option<String>,
}

impl PostMessage {
    /// Decodes the form fields `SAMLRequest` or `SAMLResponse` (base64) and `RelayState`.
    pub fn decode(fields: &[(String, String)]) -> Result<PostMessage, SamlError> {
        let one = |name: &str| -> Result<Option<&str>, SamlError> {
            let mut it = fields.iter().filter(|(k, _)| k == name);
            let v = it.next().map(|(_, v)| v.as_str());
            if it.next().is_some() {
                return Err(unreadable(format!("{name} appears twice")));
            }
            Ok(v)
        };
        let (param, encoded) = match (one("SAMLRequest")?, one("SAMLResponse")?) {
            (Some(r), None) => ("SAMLRequest", r),
            (None, Some(r)) => ("SAMLResponse", r),
            (None, None) => return Err(unreadable("no SAMLRequest")),
            (Some(_), Some(_)) => return Err(unreadable("SAMLRequest and SAMLResponse at once")),
        };
        let xml = unb64(encoded).ok_or_else(|| unreadable("SAMLRequest is not base64"))?;
        if xml.len() > MAX_REQUEST {
            return Err(unreadable("SAMLRequest is too large"));
        }
        Ok(PostMessage {
            param,
            xml,
            relay_state: one("RelayState")?.map(str::to_owned),
        })
    }
}

/// `RequestedAuthnContext` (core §3.3.2.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedContext {
    /// `exact` (the default), `minimum`, `better` or `maximum`.
    pub comparison: String,
    pub class_refs: Vec<String>,
}

/// One attribute the extension asks for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestedAttribute {
    pub name: String,
    pub required: bool,
}

/// BundID's `akdb:AuthenticationRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AkdbRequest {
    pub version: String,
    /// Authentication methods the SP allows (`Benutzername`, `eID`, `Elster`…), enabled ones.
    pub methods: Vec<String>,
    pub attributes: Vec<RequestedAttribute>,
    /// Shown at consent, cut at 50 characters.
    pub organisation_display_name: Option<String>,
    pub lang: Option<String>,
    pub back_url: Option<String>,
    pub online_service_id: Option<String>,
    /// `EnableStatusDetail="true"`: errors carry BundID's JSON status detail.
    pub status_detail: bool,
}

/// An `AuthnRequest`, read from the element its signature covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    pub id: String,
    pub version: String,
    pub issue_instant: OffsetDateTime,
    pub destination: Option<String>,
    pub issuer: String,
    pub acs_url: Option<String>,
    pub acs_index: Option<u32>,
    pub protocol_binding: Option<String>,
    pub force_authn: bool,
    pub is_passive: bool,
    pub name_id_format: Option<String>,
    pub context: Option<RequestedContext>,
    pub akdb: Option<AkdbRequest>,
}

fn malformed(why: &str) -> SamlError {
    SamlError::denied("saml-request-malformed", why.to_owned())
}

fn flag(el: &Element, name: &str) -> Result<bool, SamlError> {
    match el.attr(name).map(str::trim) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(malformed("a boolean attribute is neither true nor false")),
    }
}

/// Reads the issuer only, to find the SP before anything is verified; the message must be a
/// protocol message named `root`.
pub fn issuer_of(xml: &[u8], root_name: &str) -> Result<String, SamlError> {
    let root = konto_xml::parse(xml, &Limits::MESSAGES)
        .map_err(|e| SamlError::unanswerable("saml-request-unreadable", e.to_string()))?;
    if !root.is(NS_PROTOCOL, root_name) {
        return Err(SamlError::unanswerable(
            "saml-request-unreadable",
            format!("the message is not a {root_name}"),
        ));
    }
    root.child_ns(NS_ASSERTION, "Issuer")
        .and_then(Element::trimmed)
        .map(str::to_owned)
        .ok_or_else(|| SamlError::unanswerable("saml-request-unreadable", "no Issuer"))
}

impl AuthnRequest {
    /// Parses the request (the element its signature covered).
    pub fn parse(xml: &[u8]) -> Result<AuthnRequest, SamlError> {
        let root = konto_xml::parse(xml, &Limits::MESSAGES)
            .map_err(|e| SamlError::unanswerable("saml-request-unreadable", e.to_string()))?;
        Self::from_element(&root)
    }

    fn from_element(root: &Element) -> Result<AuthnRequest, SamlError> {
        if !root.is(NS_PROTOCOL, "AuthnRequest") {
            return Err(malformed("the signed element is not an AuthnRequest"));
        }
        let id = root
            .attr("ID")
            .filter(|s| !s.is_empty() && s.len() <= 256)
            .ok_or_else(|| malformed("no ID"))?
            .to_owned();
        let version = root.attr("Version").unwrap_or_default().to_owned();
        let issue_instant = root
            .attr("IssueInstant")
            .and_then(parse_instant)
            .ok_or_else(|| malformed("no readable IssueInstant"))?;
        let issuer = root
            .child_ns(NS_ASSERTION, "Issuer")
            .and_then(Element::trimmed)
            .ok_or_else(|| malformed("no Issuer"))?
            .to_owned();
        let context = root
            .child_ns(NS_PROTOCOL, "RequestedAuthnContext")
            .map(|c| RequestedContext {
                comparison: c.attr("Comparison").unwrap_or("exact").to_owned(),
                class_refs: c
                    .children_ns(NS_ASSERTION, "AuthnContextClassRef")
                    .filter_map(Element::trimmed)
                    .map(str::to_owned)
                    .collect(),
            });
        let akdb = root
            .child_ns(NS_PROTOCOL, "Extensions")
            .and_then(|x| x.child_ns(NS_AKDB, "AuthenticationRequest"))
            .map(akdb)
            .transpose()?;
        Ok(AuthnRequest {
            id,
            version,
            issue_instant,
            destination: root.attr("Destination").map(str::to_owned),
            issuer,
            acs_url: root.attr("AssertionConsumerServiceURL").map(str::to_owned),
            acs_index: root
                .attr("AssertionConsumerServiceIndex")
                .map(|i| i.trim().parse().map_err(|_| malformed("bad ACS index")))
                .transpose()?,
            protocol_binding: root.attr("ProtocolBinding").map(str::to_owned),
            force_authn: flag(root, "ForceAuthn")?,
            is_passive: flag(root, "IsPassive")?,
            name_id_format: root
                .child_ns(NS_PROTOCOL, "NameIDPolicy")
                .and_then(|p| p.attr("Format"))
                .map(str::to_owned),
            context,
            akdb,
        })
    }
}

fn akdb_error(code: &'static str, why: &str) -> SamlError {
    SamlError::denied(code, why.to_owned())
}

/// Finds the first descendant with this local name (BundID's display information has been
/// written with and without its UI namespace and wrapper).
fn descendant<'a>(el: &'a Element, name: &str) -> Option<&'a Element> {
    el.children
        .iter()
        .find(|c| c.name == name)
        .or_else(|| el.children.iter().find_map(|c| descendant(c, name)))
}

fn akdb(ext: &Element) -> Result<AkdbRequest, SamlError> {
    let version = ext.attr("Version").unwrap_or("2").trim().to_owned();
    let mut out = AkdbRequest {
        version,
        status_detail: flag(ext, "EnableStatusDetail")?,
        ..AkdbRequest::default()
    };
    if let Some(methods) = ext.child_ns(NS_AKDB, "AuthnMethods") {
        for m in &methods.children {
            let enabled = m
                .child("Enabled")
                .and_then(Element::trimmed)
                .is_none_or(|t| t == "true");
            if enabled {
                out.methods.push(m.name.clone());
            }
        }
        if out.methods.is_empty() {
            return Err(akdb_error(
                "empty-authentication-methods",
                "no authentication method is enabled",
            ));
        }
    }
    let attrs = ext
        .child_ns(NS_AKDB, "RequestedAttributes")
        .ok_or_else(|| akdb_error("requested-attributes-empty", "no RequestedAttributes"))?;
    for a in attrs.children_ns(NS_AKDB, "RequestedAttribute") {
        let name = a
            .attr("Name")
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                akdb_error(
                    "requested-attributes-missing-name",
                    "a RequestedAttribute has no Name",
                )
            })?;
        out.attributes.push(RequestedAttribute {
            name: name.to_owned(),
            required: flag(a, "RequiredAttribute")?,
        });
    }
    if out.attributes.is_empty() {
        return Err(akdb_error(
            "requested-attributes-empty",
            "RequestedAttributes is empty",
        ));
    }
    if let Some(display) = ext.child_ns(NS_AKDB, "DisplayInformation") {
        let text = |name: &str| {
            descendant(display, name)
                .and_then(Element::trimmed)
                .map(str::to_owned)
        };
        out.organisation_display_name = Some(
            text("OrganizationDisplayName")
                .map(|n| n.chars().take(50).collect())
                .ok_or_else(|| {
                    akdb_error(
                        "organization-display-name-missing",
                        "DisplayInformation without OrganizationDisplayName",
                    )
                })?,
        );
        out.lang = text("Lang");
        out.back_url = text("BackURL");
        out.online_service_id = text("OnlineServiceId");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const NS: &str = r#"xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:akdb="https://www.akdb.de/request/2018/09" xmlns:ui="https://www.akdb.de/request/2018/09/classic-ui/v1""#;

    fn request(extension: &str) -> String {
        format!(
            r#"<samlp:AuthnRequest {NS} ID="_r1" Version="2.0" IssueInstant="2026-12-07T07:00:00Z" Destination="https://konto.example/saml/sso" ForceAuthn="true" AssertionConsumerServiceURL="https://sp.example/acs"><saml:Issuer>https://sp.example</saml:Issuer><samlp:Extensions>{extension}</samlp:Extensions><samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>STORK-QAA-Level-3</saml:AuthnContextClassRef></samlp:RequestedAuthnContext></samlp:AuthnRequest>"#
        )
    }

    const FULL: &str = r#"<akdb:AuthenticationRequest Version="2" EnableStatusDetail="true"><akdb:AuthnMethods><akdb:eID><akdb:Enabled>true</akdb:Enabled></akdb:eID><akdb:Benutzername><akdb:Enabled>false</akdb:Enabled></akdb:Benutzername></akdb:AuthnMethods><akdb:RequestedAttributes><akdb:RequestedAttribute Name="urn:oid:2.5.4.42" RequiredAttribute="true"/><akdb:RequestedAttribute Name="urn:oid:2.5.4.4"/></akdb:RequestedAttributes><akdb:DisplayInformation><ui:Version><ui:OrganizationDisplayName>Eine sehr lange Bezeichnung einer Stadtverwaltung mit vielen Worten</ui:OrganizationDisplayName><ui:Lang>en</ui:Lang><ui:BackURL>https://sp.example/back</ui:BackURL></ui:Version></akdb:DisplayInformation></akdb:AuthenticationRequest>"#;

    fn code(xml: &str) -> &'static str {
        match AuthnRequest::parse(xml.as_bytes()) {
            Err(SamlError::Refused { code, .. }) | Err(SamlError::Unanswerable { code, .. }) => {
                code
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_akdb_extension_is_read() {
        // reference.md §3: requested attributes with the required flag, enabled methods,
        // display information (the name cut at 50 characters)
        let r = AuthnRequest::parse(request(FULL).as_bytes()).unwrap();
        assert_eq!(r.id, "_r1");
        assert!(r.force_authn && !r.is_passive);
        let c = r.context.unwrap();
        assert_eq!(c.comparison, "minimum");
        assert_eq!(c.class_refs, vec!["STORK-QAA-Level-3"]);
        let a = r.akdb.unwrap();
        assert_eq!(a.version, "2");
        assert!(a.status_detail);
        assert_eq!(a.methods, vec!["eID"]);
        assert_eq!(
            a.attributes,
            vec![
                RequestedAttribute {
                    name: "urn:oid:2.5.4.42".into(),
                    required: true
                },
                RequestedAttribute {
                    name: "urn:oid:2.5.4.4".into(),
                    required: false
                }
            ]
        );
        assert_eq!(a.organisation_display_name.unwrap().chars().count(), 50);
        assert_eq!(a.lang.as_deref(), Some("en"));
        assert_eq!(a.back_url.as_deref(), Some("https://sp.example/back"));
    }

    #[test]
    fn broken_extensions_get_bundids_error_codes() {
        let ext = |inner: &str| {
            request(&format!(
                r#"<akdb:AuthenticationRequest Version="2">{inner}</akdb:AuthenticationRequest>"#
            ))
        };
        assert_eq!(code(&ext("")), "requested-attributes-empty");
        assert_eq!(
            code(&ext(
                "<akdb:RequestedAttributes></akdb:RequestedAttributes>"
            )),
            "requested-attributes-empty"
        );
        assert_eq!(
            code(&ext(
                "<akdb:RequestedAttributes><akdb:RequestedAttribute Name=\" \"/></akdb:RequestedAttributes>"
            )),
            "requested-attributes-missing-name"
        );
        let attrs = "<akdb:RequestedAttributes><akdb:RequestedAttribute Name=\"urn:oid:2.5.4.42\"/></akdb:RequestedAttributes>";
        assert_eq!(
            code(&ext(&format!(
                "<akdb:AuthnMethods><akdb:eID><akdb:Enabled>false</akdb:Enabled></akdb:eID></akdb:AuthnMethods>{attrs}"
            ))),
            "empty-authentication-methods"
        );
        assert_eq!(
            code(&ext(&format!(
                "{attrs}<akdb:DisplayInformation><ui:Version><ui:Lang>de</ui:Lang></ui:Version></akdb:DisplayInformation>"
            ))),
            "organization-display-name-missing"
        );
    }

    #[test]
    fn a_comment_cannot_cut_the_issuer_short() {
        // the comment-truncation attack: text on both sides of a comment is one value
        let xml = request(FULL).replace(
            "<saml:Issuer>https://sp.example</saml:Issuer>",
            "<saml:Issuer>https://sp.example<!-- x -->.evil.example</saml:Issuer>",
        );
        assert_eq!(
            issuer_of(xml.as_bytes(), "AuthnRequest").unwrap(),
            "https://sp.example.evil.example"
        );
        assert_eq!(
            AuthnRequest::parse(xml.as_bytes()).unwrap().issuer,
            "https://sp.example.evil.example"
        );
    }

    #[test]
    fn dtds_and_other_roots_are_unreadable() {
        let xxe = format!(
            "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
            request(FULL)
        );
        assert_eq!(code(&xxe), "saml-request-unreadable");
        assert!(issuer_of(request(FULL).as_bytes(), "LogoutRequest").is_err());
    }

    fn deflated(data: &[u8]) -> String {
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        d.write_all(data).unwrap();
        let b = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            d.finish().unwrap(),
        );
        url::form_urlencoded::byte_serialize(b.as_bytes()).collect()
    }

    #[test]
    fn the_redirect_binding_is_decoded_strictly() {
        // bindings §3.4.4.1: the signed octets are the parameters as received, in order
        let q = format!(
            "SAMLRequest={}&RelayState=r%201&SigAlg=x&Signature=AAAA",
            deflated(b"<a/>")
        );
        let m = RedirectMessage::decode(&q).unwrap();
        assert_eq!(m.param, "SAMLRequest");
        assert_eq!(m.xml, b"<a/>");
        assert_eq!(m.relay_state.as_deref(), Some("r 1"));
        assert!(
            String::from_utf8(m.signed_octets)
                .unwrap()
                .ends_with("&RelayState=r%201&SigAlg=x")
        );
        // each parameter once; not both kinds of message
        assert!(RedirectMessage::decode(&format!("{q}&SigAlg=y")).is_err());
        assert!(
            RedirectMessage::decode(&format!(
                "SAMLRequest={0}&SAMLResponse={0}",
                deflated(b"<a/>")
            ))
            .is_err()
        );
        // a decompression bomb stops at the limit
        let bomb = vec![b' '; MAX_REQUEST * 8];
        assert!(RedirectMessage::decode(&format!("SAMLRequest={}", deflated(&bomb))).is_err());
    }
}
