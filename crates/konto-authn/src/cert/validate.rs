//! Certification path building and checking (RFC 5280 §6, the subset ELSTER needs).
//!
//! The path is built upwards from the leaf: at each step a configured CA is preferred over an
//! intermediate the client sent, and a candidate only counts when its subject equals the
//! child's issuer byte for byte and the child's signature verifies with its key. The path ends
//! at a configured CA that is self-issued or has no configured issuer. Then every certificate's
//! validity, critical extensions and role (issuer or leaf) are checked, and last the leaf's
//! revocation status. Untrusted paths are refused before anything else is said about them.

use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::oid::Oid;
use x509_parser::oid_registry::{
    OID_PKCS1_SHA1WITHRSA, OID_SHA1_WITH_RSA, OID_X509_EXT_BASIC_CONSTRAINTS,
    OID_X509_EXT_CERTIFICATE_POLICIES, OID_X509_EXT_EXTENDED_KEY_USAGE, OID_X509_EXT_KEY_USAGE,
    OID_X509_EXT_SUBJECT_ALT_NAME,
};
use x509_parser::prelude::FromDer;

use super::crl::{self, LoadedCrl};
use super::pem::{self, PemError};
use super::subject::{self, CertIdentity};
use super::{CertError, MAX_ANCHORS, MAX_CERT_BYTES, MAX_CHAIN_CERTS, MAX_PATH_LEN};

/// Parses one DER certificate, refusing trailing bytes and oversized input.
pub(super) fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, CertError> {
    if der.is_empty() {
        return Err(CertError::Malformed);
    }
    if der.len() > MAX_CERT_BYTES {
        return Err(CertError::TooLarge);
    }
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        _ => Err(CertError::Malformed),
    }
}

/// Reads the configured trust anchors: at least one, each a CA allowed to sign certificates.
pub(super) fn load_anchors(pem_bundle: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    let text = std::str::from_utf8(pem_bundle)
        .map_err(|_| CertError::Config("trust anchors are not PEM text".into()))?;
    let anchors = pem::decode_blocks(text, "CERTIFICATE", MAX_ANCHORS, MAX_CERT_BYTES).map_err(
        |e| match e {
            PemError::TooManyBlocks => {
                CertError::Config(format!("more than {MAX_ANCHORS} trust anchors"))
            }
            PemError::TooLarge | PemError::Invalid => {
                CertError::Config("a trust anchor is not a readable PEM certificate".into())
            }
        },
    )?;
    if anchors.is_empty() {
        return Err(CertError::Config(
            "no trust anchor certificate given".into(),
        ));
    }
    for der in &anchors {
        let cert = parse_cert(der)
            .map_err(|_| CertError::Config("a trust anchor cannot be parsed".into()))?;
        let name = cert.subject().to_string();
        check_issuer_role(&cert)
            .map_err(|_| CertError::Config(format!("trust anchor {name} is not a ca")))?;
        check_critical_extensions(&cert).map_err(|_| {
            CertError::Config(format!(
                "trust anchor {name} has unsupported critical extensions"
            ))
        })?;
    }
    Ok(anchors)
}

/// Everything `CertValidator::validate` does, on plain data.
pub(super) fn validate_chain(
    chain_der: &[Vec<u8>],
    anchors_der: &[Vec<u8>],
    crl: Option<&LoadedCrl>,
    require_crl: bool,
    now: OffsetDateTime,
) -> Result<CertIdentity, CertError> {
    let (leaf_der, sent_der) = chain_der.split_first().ok_or(CertError::NoCertificate)?;
    if leaf_der.is_empty() {
        return Err(CertError::NoCertificate);
    }
    if chain_der.len() > MAX_CHAIN_CERTS {
        return Err(CertError::ChainTooLong);
    }
    let leaf = parse_cert(leaf_der)?;
    let sent = sent_der
        .iter()
        .map(|der| parse_cert(der))
        .collect::<Result<Vec<_>, _>>()?;
    // Checked when the validator was built; a failure here cannot happen and would only drop
    // that anchor.
    let anchors: Vec<X509Certificate<'_>> = anchors_der
        .iter()
        .filter_map(|der| parse_cert(der).ok())
        .collect();

    let path = build_path(&leaf, &sent, &anchors)?;
    for cert in &path {
        check_validity(cert, now)?;
        check_critical_extensions(cert)?;
    }
    check_leaf_role(&leaf)?;
    for (depth, issuer) in path.iter().enumerate().skip(1) {
        check_issuer_role(issuer)?;
        check_path_len(issuer, &path[1..depth])?;
    }
    let issuer = path.get(1).ok_or(CertError::UntrustedIssuer)?;
    crl::check_revocation(crl, &leaf, issuer, require_crl, now)?;
    subject::identity(&leaf)
}

/// Leaf first, trust anchor last.
fn build_path<'c, 'a>(
    leaf: &'c X509Certificate<'a>,
    sent: &'c [X509Certificate<'a>],
    anchors: &'c [X509Certificate<'a>],
) -> Result<Vec<&'c X509Certificate<'a>>, CertError> {
    let mut path: Vec<&X509Certificate<'a>> = vec![leaf];
    let mut reached_anchor = false;
    loop {
        let Some(&child) = path.last() else {
            return Err(CertError::UntrustedIssuer);
        };
        if reached_anchor && is_self_issued(child) {
            return Ok(path);
        }
        let mut name_matched = false;
        let mut pick = |pool: &'c [X509Certificate<'a>]| {
            pool.iter().find(|candidate| {
                if candidate.subject().as_raw() != child.issuer().as_raw()
                    || path.iter().any(|p| p.as_raw() == candidate.as_raw())
                {
                    return false;
                }
                name_matched = true;
                signed_by(child, candidate)
            })
        };
        let next = match pick(anchors) {
            Some(anchor) => Some((anchor, true)),
            // Once the path is anchored, only configured CAs may extend it.
            None if reached_anchor => None,
            None => pick(sent).map(|c| (c, false)),
        };
        match next {
            Some((issuer, is_anchor)) => {
                if path.len() >= MAX_PATH_LEN {
                    return Err(CertError::ChainTooLong);
                }
                path.push(issuer);
                reached_anchor |= is_anchor;
            }
            None if reached_anchor => return Ok(path),
            None if name_matched => return Err(CertError::BadSignature),
            None => return Err(CertError::UntrustedIssuer),
        }
    }
}

fn is_self_issued(cert: &X509Certificate<'_>) -> bool {
    cert.subject().as_raw() == cert.issuer().as_raw()
}

/// Whether `child` carries a valid signature by `issuer`'s key; SHA-1 never counts.
fn signed_by(child: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    !is_sha1(&child.signature_algorithm.algorithm)
        && child.verify_signature(Some(issuer.public_key())).is_ok()
}

/// SHA-1 signatures are collision-prone and refused on certificates and CRLs.
pub(super) fn is_sha1(signature_algorithm: &Oid<'_>) -> bool {
    *signature_algorithm == OID_PKCS1_SHA1WITHRSA || *signature_algorithm == OID_SHA1_WITH_RSA
}

fn check_validity(cert: &X509Certificate<'_>, now: OffsetDateTime) -> Result<(), CertError> {
    let validity = cert.validity();
    if now < validity.not_before.to_datetime() {
        return Err(CertError::NotYetValid);
    }
    if now > validity.not_after.to_datetime() {
        return Err(CertError::Expired);
    }
    Ok(())
}

/// RFC 5280: a certificate with a critical extension the relying party does not process must be
/// refused. konto processes these; certificate policies are accepted without policy processing.
fn check_critical_extensions(cert: &X509Certificate<'_>) -> Result<(), CertError> {
    let processed = [
        OID_X509_EXT_BASIC_CONSTRAINTS,
        OID_X509_EXT_KEY_USAGE,
        OID_X509_EXT_EXTENDED_KEY_USAGE,
        OID_X509_EXT_SUBJECT_ALT_NAME,
        OID_X509_EXT_CERTIFICATE_POLICIES,
    ];
    match cert
        .extensions()
        .iter()
        .any(|ext| ext.critical && !processed.contains(&ext.oid))
    {
        true => Err(CertError::UnsupportedCriticalExtension),
        false => Ok(()),
    }
}

/// basicConstraints CA:true and keyUsage with keyCertSign (RFC 5280 requires the extension on CAs).
fn check_issuer_role(cert: &X509Certificate<'_>) -> Result<(), CertError> {
    let constraints = cert.basic_constraints().map_err(|_| CertError::Malformed)?;
    if !constraints.is_some_and(|bc| bc.value.ca) {
        return Err(CertError::InvalidIssuer);
    }
    let usage = cert.key_usage().map_err(|_| CertError::Malformed)?;
    if !usage.is_some_and(|ku| ku.value.key_cert_sign()) {
        return Err(CertError::InvalidIssuer);
    }
    Ok(())
}

/// `below` are the issuers between the leaf and `issuer`; self-issued ones do not count.
fn check_path_len(
    issuer: &X509Certificate<'_>,
    below: &[&X509Certificate<'_>],
) -> Result<(), CertError> {
    let constraints = cert_constraints(issuer)?;
    if let Some(max) = constraints.and_then(|bc| bc.path_len_constraint) {
        let intermediates = below.iter().filter(|c| !is_self_issued(c)).count();
        if u32::try_from(intermediates).map_or(true, |n| n > max) {
            return Err(CertError::InvalidIssuer);
        }
    }
    Ok(())
}

fn cert_constraints(
    cert: &X509Certificate<'_>,
) -> Result<Option<x509_parser::extensions::BasicConstraints>, CertError> {
    Ok(cert
        .basic_constraints()
        .map_err(|_| CertError::Malformed)?
        .map(|bc| bc.value.clone()))
}

/// Not a CA; keyUsage (if present) with digitalSignature; extendedKeyUsage (if present) with
/// clientAuth.
fn check_leaf_role(leaf: &X509Certificate<'_>) -> Result<(), CertError> {
    if cert_constraints(leaf)?.is_some_and(|bc| bc.ca) {
        return Err(CertError::NotEndEntity);
    }
    let usage = leaf.key_usage().map_err(|_| CertError::Malformed)?;
    if usage.is_some_and(|ku| !ku.value.digital_signature()) {
        return Err(CertError::WrongKeyUsage);
    }
    let extended = leaf
        .extended_key_usage()
        .map_err(|_| CertError::Malformed)?;
    if extended.is_some_and(|eku| !eku.value.client_auth) {
        return Err(CertError::WrongKeyUsage);
    }
    Ok(())
}
