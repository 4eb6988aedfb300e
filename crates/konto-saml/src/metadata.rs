//! SAML metadata (SAML metadata §2): reading a service provider's, writing konto's own.

use konto_xml::{Element, Limits};
use openssl::x509::X509;

use crate::request::RequestedAttribute;
use crate::xml::{b64, esc, unb64};
use crate::{BINDING_POST, BINDING_REDIRECT, NAMEID_TRANSIENT, NS_DSIG, NS_METADATA, SamlError};

/// An endpoint of a service provider (metadata §2.2.2, §2.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub binding: String,
    pub location: String,
    pub index: Option<u32>,
    pub is_default: bool,
    /// Where responses go, if not to `location` (metadata §2.2.2).
    pub response_location: Option<String>,
}

/// What konto takes from a service provider's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpMetadata {
    pub entity_id: String,
    /// Assertion consumer services with the HTTP-POST binding (the only one konto answers
    /// with; profiles §4.1.2).
    pub acs: Vec<Endpoint>,
    /// Single logout endpoints.
    pub slo: Vec<Endpoint>,
    /// Certificates (DER) whose keys sign the SP's requests.
    pub signing_certificates: Vec<Vec<u8>>,
    /// Certificates (DER) whose RSA keys assertions are encrypted for.
    pub encryption_certificates: Vec<Vec<u8>>,
    /// The organisation's display name, if the metadata gives one.
    pub display_name: Option<String>,
    /// The attributes its (default) `AttributeConsumingService` asks for (§2.4.4.1): what an
    /// SP that sends no akdb extension is given.
    pub requested_attributes: Vec<RequestedAttribute>,
}

impl SpMetadata {
    /// Reads an `EntityDescriptor` with one `SPSSODescriptor`. Refused: no entity ID, no ACS
    /// with the HTTP-POST binding, no signing certificate (konto takes signed requests only),
    /// no RSA encryption certificate (assertions are always encrypted), unreadable
    /// certificates, DTDs and oversized documents.
    pub fn parse(xml: &[u8]) -> Result<SpMetadata, SamlError> {
        let root = konto_xml::parse(xml, &Limits::MESSAGES)
            .map_err(|e| SamlError::Invalid(format!("metadata: {e}")))?;
        if !root.is(NS_METADATA, "EntityDescriptor") {
            return Err(SamlError::Invalid(
                "metadata: the root is not an md:EntityDescriptor".into(),
            ));
        }
        let entity_id = root
            .attr("entityID")
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 1024)
            .ok_or_else(|| SamlError::Invalid("metadata: no entityID".into()))?
            .to_owned();
        let mut sps = root.children_ns(NS_METADATA, "SPSSODescriptor");
        let sp = sps
            .next()
            .ok_or_else(|| SamlError::Invalid("metadata: no SPSSODescriptor".into()))?;
        if sps.next().is_some() {
            return Err(SamlError::Invalid(
                "metadata: more than one SPSSODescriptor".into(),
            ));
        }
        let acs: Vec<Endpoint> = endpoints(sp, "AssertionConsumerService")?
            .into_iter()
            .filter(|e| e.binding == BINDING_POST)
            .collect();
        if acs.is_empty() {
            return Err(SamlError::Invalid(
                "metadata: no AssertionConsumerService with the HTTP-POST binding".into(),
            ));
        }
        let slo = endpoints(sp, "SingleLogoutService")?;
        let mut signing = Vec::new();
        let mut encryption = Vec::new();
        for kd in sp.children_ns(NS_METADATA, "KeyDescriptor") {
            let certs = kd
                .child_ns(NS_DSIG, "KeyInfo")
                .into_iter()
                .flat_map(|ki| ki.children_ns(NS_DSIG, "X509Data"))
                .flat_map(|d| d.children_ns(NS_DSIG, "X509Certificate"));
            for c in certs {
                let der = unb64(&c.text).ok_or_else(|| {
                    SamlError::Invalid("metadata: a certificate is not base64".into())
                })?;
                X509::from_der(&der).map_err(|_| {
                    SamlError::Invalid("metadata: a certificate is not X.509".into())
                })?;
                match kd.attr("use") {
                    Some("signing") => signing.push(der),
                    Some("encryption") => encryption.push(der),
                    None => {
                        signing.push(der.clone());
                        encryption.push(der);
                    }
                    Some(other) => {
                        return Err(SamlError::Invalid(format!(
                            "metadata: unknown KeyDescriptor use {other:?}"
                        )));
                    }
                }
            }
        }
        if signing.is_empty() {
            return Err(SamlError::Invalid(
                "metadata: no signing certificate (konto accepts signed requests only)".into(),
            ));
        }
        encryption.retain(|der| {
            X509::from_der(der)
                .and_then(|c| c.public_key())
                .is_ok_and(|k| k.rsa().is_ok())
        });
        if encryption.is_empty() {
            return Err(SamlError::Invalid(
                "metadata: no RSA encryption certificate (konto encrypts every assertion)".into(),
            ));
        }
        let display_name = root
            .child_ns(NS_METADATA, "Organization")
            .and_then(|o| o.child_ns(NS_METADATA, "OrganizationDisplayName"))
            .and_then(Element::trimmed)
            .map(str::to_owned);
        let services: Vec<&Element> = sp
            .children_ns(NS_METADATA, "AttributeConsumingService")
            .collect();
        let service = services
            .iter()
            .find(|s| s.attr("isDefault") == Some("true"))
            .or(services.first());
        let requested_attributes = service
            .map(|s| {
                s.children_ns(NS_METADATA, "RequestedAttribute")
                    .filter_map(|a| {
                        Some(RequestedAttribute {
                            name: a.attr("Name")?.trim().to_owned(),
                            required: a.attr("isRequired") == Some("true"),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(SpMetadata {
            entity_id,
            acs,
            slo,
            signing_certificates: signing,
            encryption_certificates: encryption,
            display_name,
            requested_attributes,
        })
    }

    /// The ACS a request names by URL (compared exactly) or by index, or the default one
    /// (metadata §2.2.3: the one marked default, else the first without `isDefault="false"`,
    /// else the first).
    pub fn acs(&self, url: Option<&str>, index: Option<u32>) -> Option<&Endpoint> {
        match (url, index) {
            (Some(u), _) => self.acs.iter().find(|e| e.location == u),
            (None, Some(i)) => self.acs.iter().find(|e| e.index == Some(i)),
            (None, None) => self.default_acs(),
        }
    }

    pub fn default_acs(&self) -> Option<&Endpoint> {
        self.acs
            .iter()
            .find(|e| e.is_default)
            .or_else(|| self.acs.first())
    }

    /// The SP's host, from which bPK2 is derived: the entity ID's host if it is a URL, the
    /// entity ID itself otherwise.
    pub fn host(&self) -> String {
        url::Url::parse(&self.entity_id)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| self.entity_id.clone())
    }
}

fn endpoints(sp: &Element, name: &str) -> Result<Vec<Endpoint>, SamlError> {
    sp.children_ns(NS_METADATA, name)
        .map(|e| {
            let location = e
                .attr("Location")
                .ok_or_else(|| SamlError::Invalid(format!("metadata: {name} without Location")))?;
            let parsed = url::Url::parse(location)
                .map_err(|_| SamlError::Invalid(format!("metadata: {name} Location is no URL")))?;
            if !matches!(parsed.scheme(), "https" | "http") {
                return Err(SamlError::Invalid(format!(
                    "metadata: {name} Location must be http(s)"
                )));
            }
            Ok(Endpoint {
                binding: e.attr("Binding").unwrap_or_default().to_owned(),
                location: location.to_owned(),
                index: e.attr("index").and_then(|i| i.parse().ok()),
                is_default: e.attr("isDefault") == Some("true"),
                response_location: e.attr("ResponseLocation").map(str::to_owned),
            })
        })
        .collect()
}

/// konto's own metadata, unsigned (see [`crate::Idp::metadata`] for the signed one): the
/// signing certificate, transient name IDs, the SSO and single logout services on both
/// bindings.
pub fn idp_metadata(
    id: &str,
    entity_id: &str,
    sso_url: &str,
    slo_url: &str,
    certificate_der: &[u8],
    signature: &str,
) -> String {
    let cert = b64(certificate_der);
    format!(
        concat!(
            r#"<md:EntityDescriptor xmlns:md="{md}" ID="{id}" entityID="{entity}" cacheDuration="PT24H">"#,
            "{signature}",
            r#"<md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">"#,
            r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="{ds}"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
            r#"<md:SingleLogoutService Binding="{redirect}" Location="{slo}"/>"#,
            r#"<md:SingleLogoutService Binding="{post}" Location="{slo}"/>"#,
            r#"<md:NameIDFormat>{transient}</md:NameIDFormat>"#,
            r#"<md:SingleSignOnService Binding="{post}" Location="{sso}"/>"#,
            r#"<md:SingleSignOnService Binding="{redirect}" Location="{sso}"/>"#,
            r#"</md:IDPSSODescriptor></md:EntityDescriptor>"#
        ),
        md = NS_METADATA,
        ds = NS_DSIG,
        id = esc(id),
        entity = esc(entity_id),
        signature = signature,
        cert = cert,
        transient = NAMEID_TRANSIENT,
        post = BINDING_POST,
        redirect = BINDING_REDIRECT,
        sso = esc(sso_url),
        slo = esc(slo_url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_b64() -> String {
        use openssl::asn1::Asn1Time;
        let key =
            openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let mut b = openssl::x509::X509Builder::new().unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        b64(&b.build().to_der().unwrap())
    }

    fn metadata(keys: &str, acs: &str) -> String {
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://sp.example/saml"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleLogoutService Binding="{BINDING_REDIRECT}" Location="https://sp.example/slo" ResponseLocation="https://sp.example/slo-done"/>{acs}</md:SPSSODescriptor><md:Organization><md:OrganizationDisplayName>Stadt</md:OrganizationDisplayName></md:Organization></md:EntityDescriptor>"#
        )
    }

    fn key(usage: Option<&str>, cert: &str) -> String {
        let u = usage.map(|u| format!(r#" use="{u}""#)).unwrap_or_default();
        format!(
            r#"<md:KeyDescriptor{u}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
        )
    }

    fn acs(binding: &str, url: &str, index: u32, default: bool) -> String {
        format!(
            r#"<md:AssertionConsumerService Binding="{binding}" Location="{url}" index="{index}" isDefault="{default}"/>"#
        )
    }

    #[test]
    fn sp_metadata_is_read_with_keys_endpoints_and_name() {
        let cert = cert_b64();
        let xml = metadata(
            &key(None, &cert),
            &format!(
                "{}{}{}",
                acs(BINDING_REDIRECT, "https://sp.example/redirect", 0, false),
                acs(BINDING_POST, "https://sp.example/acs1", 1, false),
                acs(BINDING_POST, "https://sp.example/acs2", 2, true)
            ),
        );
        let md = SpMetadata::parse(xml.as_bytes()).unwrap();
        assert_eq!(md.entity_id, "https://sp.example/saml");
        assert_eq!(md.acs.len(), 2, "only HTTP-POST consumers");
        assert_eq!(
            md.default_acs().unwrap().location,
            "https://sp.example/acs2"
        );
        assert_eq!(
            md.acs(None, Some(1)).unwrap().location,
            "https://sp.example/acs1"
        );
        assert!(
            md.acs(Some("https://sp.example/acs1/"), None).is_none(),
            "exact URLs"
        );
        assert_eq!(md.signing_certificates.len(), 1);
        assert_eq!(md.encryption_certificates.len(), 1);
        assert_eq!(
            md.slo[0].response_location.as_deref(),
            Some("https://sp.example/slo-done")
        );
        assert_eq!(md.display_name.as_deref(), Some("Stadt"));
        assert_eq!(md.host(), "sp.example");
        assert!(md.requested_attributes.is_empty());
    }

    #[test]
    fn the_default_attribute_consuming_service_names_the_attributes() {
        // metadata §2.4.4.1: isDefault, else the first
        let cert = cert_b64();
        let service = |default: bool, names: &[(&str, bool)]| {
            let attrs: String = names
                .iter()
                .map(|(n, r)| format!(r#"<md:RequestedAttribute Name="{n}" isRequired="{r}"/>"#))
                .collect();
            format!(
                r#"<md:AttributeConsumingService index="0" isDefault="{default}"><md:ServiceName xml:lang="de">S</md:ServiceName>{attrs}</md:AttributeConsumingService>"#
            )
        };
        let xml = metadata(
            &key(None, &cert),
            &format!(
                "{}{}{}",
                acs(BINDING_POST, "https://sp.example/acs", 0, true),
                service(false, &[("urn:oid:2.5.4.4", false)]),
                service(
                    true,
                    &[("urn:oid:2.5.4.42", true), ("urn:oid:2.5.4.4", false)]
                )
            ),
        );
        let md = SpMetadata::parse(xml.as_bytes()).unwrap();
        assert_eq!(
            md.requested_attributes,
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
    }

    #[test]
    fn unusable_metadata_is_refused() {
        let cert = cert_b64();
        let post = acs(BINDING_POST, "https://sp.example/acs", 0, true);
        // no signing key: konto takes signed requests only
        assert!(
            SpMetadata::parse(metadata(&key(Some("encryption"), &cert), &post).as_bytes()).is_err()
        );
        // no encryption key: every assertion is encrypted
        assert!(
            SpMetadata::parse(metadata(&key(Some("signing"), &cert), &post).as_bytes()).is_err()
        );
        // no HTTP-POST consumer
        let redirect = acs(BINDING_REDIRECT, "https://sp.example/acs", 0, true);
        assert!(SpMetadata::parse(metadata(&key(None, &cert), &redirect).as_bytes()).is_err());
        // a consumer that is no http(s) URL
        let js = acs(BINDING_POST, "javascript:alert(1)", 0, true);
        assert!(SpMetadata::parse(metadata(&key(None, &cert), &js).as_bytes()).is_err());
        // a certificate that is none
        assert!(SpMetadata::parse(metadata(&key(None, "AAAA"), &post).as_bytes()).is_err());
        // DTDs
        let dtd = format!("<!DOCTYPE x>{}", metadata(&key(None, &cert), &post));
        assert!(SpMetadata::parse(dtd.as_bytes()).is_err());
    }
}
