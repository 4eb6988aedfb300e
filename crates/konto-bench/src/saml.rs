//! The SAML phase: complete SAML logins as new browsers — a signed AuthnRequest with the
//! HTTP-Redirect binding and BundID's akdb extension, the login page, the password, and the
//! signed response with the signed, encrypted assertion — for a ratio to OIDC code flows.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::Method;
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use openssl::x509::{X509, X509NameBuilder};

use crate::client::Conn;

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// The bench's service provider: its key signs the requests.
#[derive(Clone)]
pub(crate) struct Sp {
    key: PKey<Private>,
    pub(crate) entity: String,
    acs: String,
    sso: String,
}

static NEXT: AtomicU64 = AtomicU64::new(1);

fn self_signed(cn: &str) -> Result<(PKey<Private>, X509)> {
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", cn)?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    let (from, until) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(30)?);
    b.set_not_before(&from)?;
    b.set_not_after(&until)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok((key, b.build()))
}

fn cert_b64(cert: &X509) -> Result<String> {
    Ok(STANDARD.encode(cert.to_der()?))
}

/// Writes konto's SAML key and certificate and the SP's metadata into `dir`; the `[saml]`
/// section for konto's configuration, and the SP.
pub(crate) fn prepare(dir: &Path, issuer: &str) -> Result<(String, std::path::PathBuf, Sp)> {
    let (idp_key, idp_cert) = self_signed("konto bench IdP")?;
    std::fs::write(dir.join("idp.key"), idp_key.private_key_to_pem_pkcs8()?)?;
    std::fs::write(dir.join("idp.crt"), idp_cert.to_pem()?)?;
    let section = format!(
        "[saml]\nenabled = true\nkey_file = \"{}\"\ncertificate_file = \"{}\"\n",
        dir.join("idp.key").display(),
        dir.join("idp.crt").display()
    );
    let (sp_key, sp_cert) = self_signed("konto bench SP")?;
    let entity = "https://bench-sp.example/saml".to_owned();
    let acs = "http://127.0.0.1:9/saml/acs".to_owned();
    let cert = cert_b64(&sp_cert)?;
    let metadata = format!(
        concat!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" "#,
            r#"xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}">"#,
            r#"<md:SPSSODescriptor AuthnRequestsSigned="true" "#,
            r#"protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">"#,
            r#"<md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}"#,
            r#"</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
            r#"<md:AssertionConsumerService index="0" isDefault="true" "#,
            r#"Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}"/>"#,
            r#"</md:SPSSODescriptor></md:EntityDescriptor>"#
        ),
        entity = entity,
        cert = cert,
        acs = acs,
    );
    let path = dir.join("sp-metadata.xml");
    std::fs::write(&path, metadata)?;
    Ok((
        section,
        path,
        Sp {
            key: sp_key,
            entity,
            acs,
            sso: format!("{issuer}/saml/sso"),
        },
    ))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Sp {
    /// A signed HTTP-Redirect request's path and query (bindings §3.4.4.1).
    pub(crate) fn request_path(&self) -> Result<String> {
        let id = format!("_bench{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let now = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)?
            .format(&time::format_description::well_known::Rfc3339)?;
        let xml = format!(
            concat!(
                r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" "#,
                r#"xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" "#,
                r#"IssueInstant="{now}" Destination="{sso}" AssertionConsumerServiceURL="{acs}">"#,
                r#"<saml:Issuer>{entity}</saml:Issuer><samlp:Extensions>"#,
                r#"<akdb:AuthenticationRequest xmlns:akdb="https://www.akdb.de/request/2018/09" Version="2">"#,
                r#"<akdb:RequestedAttributes>"#,
                r#"<akdb:RequestedAttribute Name="urn:oid:1.3.6.1.4.1.25484.494450.3" RequiredAttribute="true"/>"#,
                r#"<akdb:RequestedAttribute Name="urn:oid:1.2.40.0.10.2.1.1.261.94"/>"#,
                r#"<akdb:RequestedAttribute Name="urn:oid:1.3.6.1.4.1.25484.494450.2"/>"#,
                r#"</akdb:RequestedAttributes></akdb:AuthenticationRequest></samlp:Extensions>"#,
                r#"</samlp:AuthnRequest>"#
            ),
            id = id,
            now = now,
            sso = self.sso,
            acs = self.acs,
            entity = self.entity,
        );
        let mut deflate =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        deflate.write_all(xml.as_bytes())?;
        let query = format!(
            "SAMLRequest={}&SigAlg={}",
            enc(&STANDARD.encode(deflate.finish()?)),
            enc(RSA_SHA256)
        );
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key)?;
        signer.update(query.as_bytes())?;
        let signature = STANDARD.encode(signer.sign_to_vec()?);
        Ok(format!("/saml/sso?{query}&Signature={}", enc(&signature)))
    }
}

/// One SAML login as a new browser: request, login page, password; the answer must be the
/// auto-submitted form with the SAMLResponse for the SP (a first party: no consent page).
pub(crate) async fn login(c: &mut Conn, sp: &Sp, user: &str, password_form: &str) -> Result<()> {
    let r = c
        .request(Method::GET, &sp.request_path()?, &[], None)
        .await?;
    let jar = r.cookies.join("; ");
    let flow = crate::client::hidden(&r.body, "flow")
        .ok_or_else(|| anyhow::anyhow!("no login page ({}): {}", r.status, r.body))?;
    let csrf = crate::client::hidden(&r.body, "csrf").context("csrf field")?;
    let r = c
        .request(
            Method::POST,
            "/login/password",
            &[
                ("cookie", &jar),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(format!(
                "flow={flow}&csrf={csrf}&username={user}&password={password_form}"
            )),
        )
        .await?;
    if r.status != 200 || !r.body.contains("name=\"SAMLResponse\"") {
        bail!("no SAML response ({}): {}", r.status, r.body);
    }
    Ok(())
}
