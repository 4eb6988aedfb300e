//! XML Signature, made and checked by libxmlsec1 (through `samael`), and the query-string
//! signature of the HTTP-Redirect binding (SAML bindings §3.4.4.1), checked with OpenSSL.
//!
//! What a caller reads after verification is the element the signature covered, reparsed from
//! xmlsec's output: anything outside it — a wrapped copy, an unsigned sibling, an attacker's
//! ancestor — is gone before konto looks (signature wrapping, SAML security considerations
//! §5.2.2 and "On Breaking SAML", USENIX Security 2012).

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::sign::Verifier;
use openssl::x509::X509;
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};

use crate::SamlError;
use crate::xml::esc;

/// RSA with SHA-256, konto's signature algorithm (XML Signature 1.1 §6.4.2).
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// What a request may be signed with: SHA-1 and MD5 are refused.
const ALLOWED: [AllowedSignatureAlgorithm; 3] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
];

/// An enveloped-signature template for the element whose `ID` is `id`, to be placed after its
/// `Issuer` (SAML core §5.4: exclusive canonicalisation, a reference to the element's ID).
pub fn template(id: &str, certificate_b64: &str) -> String {
    format!(
        concat!(
            r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>"#,
            r#"<ds:CanonicalizationMethod Algorithm="{c14n}"/>"#,
            r#"<ds:SignatureMethod Algorithm="{alg}"/>"#,
            r##"<ds:Reference URI="#{id}"><ds:Transforms>"##,
            r#"<ds:Transform Algorithm="{env}"/><ds:Transform Algorithm="{c14n}"/>"#,
            r#"</ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue>"#,
            r#"</ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>"#,
            r#"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate>"#,
            r#"</ds:X509Data></ds:KeyInfo></ds:Signature>"#
        ),
        c14n = EXC_C14N,
        alg = RSA_SHA256,
        id = esc(id),
        env = ENVELOPED,
        digest = SHA256,
        cert = certificate_b64,
    )
}

/// Fills the one signature template in `xml` with `key_der` (PKCS#1 DER of an RSA key).
pub fn sign(xml: &str, key_der: &[u8]) -> Result<String, SamlError> {
    Crypto::sign_xml(xml, key_der).map_err(|e| SamlError::Internal(format!("signing: {e}")))
}

/// Checks every signature in `xml` against `certificates` (DER) and returns the one element
/// they cover, as a document of its own. Fails when there is no signature, one that does not
/// verify with any of the certificates, or an algorithm other than RSA-SHA-2.
pub fn verified(xml: &str, certificates: &[Vec<u8>]) -> Result<String, SamlError> {
    let certs: Vec<CertificateDer> = certificates
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &certs,
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(&ALLOWED),
    )
    .map_err(|e| {
        tracing::info!(error = %e, "a SAML signature did not verify");
        SamlError::denied("saml-signature-invalid", "the signature does not verify")
    })
}

/// Checks the HTTP-Redirect binding's signature (SAML bindings §3.4.4.1): `signed` is the
/// query string's `SAMLRequest=…[&RelayState=…]&SigAlg=…` exactly as received, `signature`
/// the decoded `Signature` parameter.
pub fn verify_redirect(
    signed: &[u8],
    sig_alg: &str,
    signature: &[u8],
    certificates: &[Vec<u8>],
) -> Result<(), SamlError> {
    let digest = match sig_alg {
        RSA_SHA256 => MessageDigest::sha256(),
        RSA_SHA384 => MessageDigest::sha384(),
        RSA_SHA512 => MessageDigest::sha512(),
        _ => {
            return Err(SamlError::denied(
                "saml-signature-algorithm",
                "the signature algorithm is not one konto accepts (RSA with SHA-2)",
            ));
        }
    };
    for cert in certificates {
        let Ok(key) = public_key(cert) else { continue };
        let ok = Verifier::new(digest, &key)
            .and_then(|mut v| {
                v.update(signed)?;
                v.verify(signature)
            })
            .unwrap_or(false);
        if ok {
            return Ok(());
        }
    }
    Err(SamlError::denied(
        "saml-signature-invalid",
        "the signature does not verify",
    ))
}

fn public_key(cert_der: &[u8]) -> Result<PKey<Public>, openssl::error::ErrorStack> {
    X509::from_der(cert_der)?.public_key()
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::pkey::Private;
    use openssl::rsa::Rsa;
    use openssl::sign::Signer;

    fn key_and_cert() -> (PKey<Private>, Vec<u8>) {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut b = openssl::x509::X509Builder::new().unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (key, b.build().to_der().unwrap())
    }

    fn signed_request(key: &PKey<Private>, id: &str, acs: &str) -> String {
        let xml = format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" AssertionConsumerServiceURL="{acs}"><saml:Issuer>sp</saml:Issuer>{sig}</samlp:AuthnRequest>"#,
            sig = template(id, "")
        );
        sign(&xml, &key.rsa().unwrap().private_key_to_der().unwrap()).unwrap()
    }

    fn body(xml: &str) -> &str {
        crate::xml::without_declaration(xml)
    }

    #[test]
    fn a_signature_verifies_with_its_key_only() {
        let (key, cert) = key_and_cert();
        let (_, other) = key_and_cert();
        let xml = signed_request(&key, "_a", "https://sp.example/acs");
        let out = verified(&xml, std::slice::from_ref(&cert)).unwrap();
        assert!(out.contains("https://sp.example/acs"));
        assert!(verified(&xml, &[other]).is_err(), "another key");
        let tampered = xml.replace("https://sp.example/acs", "https://evil.example/acs");
        assert!(verified(&tampered, &[cert]).is_err(), "a changed value");
    }

    #[test]
    fn only_the_signed_element_comes_back() {
        // signature wrapping: the genuine signed request inside an unsigned one that names
        // another ACS; what verification returns is the genuine request alone
        let (key, cert) = key_and_cert();
        let genuine = signed_request(&key, "_good", "https://sp.example/acs");
        let wrapped = format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_evil" Version="2.0" AssertionConsumerServiceURL="https://evil.example/acs"><samlp:Extensions>{}</samlp:Extensions></samlp:AuthnRequest>"#,
            body(&genuine)
        );
        let out = verified(&wrapped, &[cert]).unwrap();
        let root = konto_xml::parse(out.as_bytes(), &konto_xml::Limits::MESSAGES).unwrap();
        assert_eq!(root.attr("ID"), Some("_good"));
        assert!(!out.contains("evil.example"), "{out}");
    }

    #[test]
    fn unsigned_documents_and_weak_redirect_algorithms_are_refused() {
        let (key, cert) = key_and_cert();
        assert!(verified("<a ID=\"_x\"/>", std::slice::from_ref(&cert)).is_err());
        let mut signer = Signer::new(MessageDigest::sha1(), &key).unwrap();
        signer.update(b"SAMLRequest=x&SigAlg=y").unwrap();
        let sig = signer.sign_to_vec().unwrap();
        assert!(
            verify_redirect(
                b"SAMLRequest=x&SigAlg=y",
                "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
                &sig,
                std::slice::from_ref(&cert)
            )
            .is_err(),
            "RSA-SHA1 is refused"
        );
        let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
        signer.update(b"SAMLRequest=x&SigAlg=y").unwrap();
        let sig = signer.sign_to_vec().unwrap();
        assert!(
            verify_redirect(
                b"SAMLRequest=x&SigAlg=y",
                RSA_SHA256,
                &sig,
                std::slice::from_ref(&cert)
            )
            .is_ok()
        );
        assert!(verify_redirect(b"SAMLRequest=z&SigAlg=y", RSA_SHA256, &sig, &[cert]).is_err());
    }
}
