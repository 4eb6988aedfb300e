//! The identity an ELSTER certificate vouches for, read from its subject.
//!
//! - `holder_id` finds the account and must survive renewal: the subject serialNumber when
//!   present, else SHA-256 over the DER issuer name followed by the DER subject name (hex). The
//!   fallback changes when the CA changes its name; ELSTER certificates carry serialNumber.
//! - Names: givenName and surname attributes; where one is missing, the CN split at its last
//!   space ("Anna Maria Schmidt" → "Anna Maria" / "Schmidt"). A CN of one word gives no names.
//! - E-mail: the first rfc822Name of subjectAltName, else the subject emailAddress.
//! - Organisation certificates (ELSTER issues them to companies; Mein Unternehmenskonto signs
//!   in with them): a subject with organizationName and neither givenName nor surname names an
//!   organisation, not a person — its CN is the organisation's name and is not split into a
//!   person's names. `organizationIdentifier` (ETSI EN 319 412-1, e.g. `VATDE-123456788`) is
//!   kept as it is.
//! - Every value read must be a readable string (UTF8, Printable, IA5, Numeric, BMP or Teletex),
//!   at most [`MAX_VALUE_CHARS`] characters, without control characters; an unreadable value is
//!   refused rather than skipped, so that the holder id never silently changes form.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::asn1_rs::Tag;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{
    OID_PKCS9_EMAIL_ADDRESS, OID_X509_COMMON_NAME, OID_X509_GIVEN_NAME, OID_X509_ORGANIZATION_NAME,
    OID_X509_SERIALNUMBER, OID_X509_SURNAME,
};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

use konto_core::Level;
use konto_core::amr::AuthenticatorKind;
use konto_core::attributes::{Attribute, AttributeName, AttributeSource};

use super::CertError;

/// organizationIdentifier (X.520, ETSI EN 319 412-1 §5.1.4).
const OID_ORGANIZATION_IDENTIFIER: x509_parser::der_parser::oid::Oid<'static> =
    x509_parser::der_parser::oid!(2.5.4.97);

/// The longest subject value accepted, in characters.
pub(super) const MAX_VALUE_CHARS: usize = 256;

/// Who a valid ELSTER certificate identifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertIdentity {
    /// stable across renewals: subject serialNumber if present, else SHA-256 over issuer DN +
    /// subject DN (hex)
    pub holder_id: String,
    pub common_name: String,
    /// givenName attribute, else split from CN
    pub given_name: Option<String>,
    /// surname attribute, else split from CN
    pub family_name: Option<String>,
    pub email: Option<String>,
    /// The certificate's serial number, lowercase hex without leading zero bytes.
    pub serial_hex: String,
    /// The issuer's distinguished name as text (for display and logs).
    pub issuer: String,
    #[serde(with = "time::serde::timestamp")]
    pub not_after: OffsetDateTime,
    /// Set when the certificate names an organisation rather than a person.
    #[serde(default)]
    pub organisation: Option<CertOrganisation>,
}

/// The organisation an organisation certificate names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertOrganisation {
    /// organizationName
    pub name: String,
    /// organizationIdentifier (2.5.4.97) as written, e.g. `VATDE-123456788`.
    pub identifier: Option<String>,
}

impl CertOrganisation {
    /// The Wirtschafts-Identifikationsnummer's base (the VAT number, `DE` + 9 digits) when the
    /// identifier is a German VAT identifier in the ETSI form `VATDE-…`.
    pub fn vat_number(&self) -> Option<String> {
        let rest = self.identifier.as_deref()?.strip_prefix("VATDE-")?;
        (rest.len() == 9 && rest.bytes().all(|b| b.is_ascii_digit())).then(|| format!("DE{rest}"))
    }
}

impl CertIdentity {
    /// The identity as a person's authenticator: an organisation certificate signs in no
    /// person (it would make one of the company's name).
    pub fn person(self) -> Result<CertIdentity, CertError> {
        if self.organisation.is_some() {
            return Err(CertError::OrganisationCertificate);
        }
        Ok(self)
    }

    /// kind Elster, external_id Some(holder_id), attributes GivenName/FamilyName (and Email if
    /// present) with AttributeSource::Elster, Level::Substantial, verified_at = now
    pub fn into_verified(self, now: OffsetDateTime) -> crate::Verified {
        let attribute = |name, value| {
            Attribute::new(
                name,
                value,
                AttributeSource::Elster,
                Level::Substantial,
                now,
            )
        };
        let attributes = [
            (AttributeName::GivenName, self.given_name),
            (AttributeName::FamilyName, self.family_name),
            (AttributeName::Email, self.email),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| attribute(name, v)))
        .collect();
        crate::Verified::new(AuthenticatorKind::Elster, Some(self.holder_id), attributes)
    }
}

/// Reads the identity from a leaf that has already been validated.
pub(super) fn identity(leaf: &X509Certificate<'_>) -> Result<CertIdentity, CertError> {
    let subject = leaf.subject();
    let common_name = first(subject, &OID_X509_COMMON_NAME)?;
    let given = first(subject, &OID_X509_GIVEN_NAME)?;
    let family = first(subject, &OID_X509_SURNAME)?;
    let organisation = match first(subject, &OID_X509_ORGANIZATION_NAME)? {
        Some(name) if given.is_none() && family.is_none() => Some(CertOrganisation {
            name,
            identifier: first(subject, &OID_ORGANIZATION_IDENTIFIER)?,
        }),
        _ => None,
    };
    let (split_given, split_family) = match (&organisation, common_name.as_deref()) {
        (None, Some(cn)) => split_name(cn),
        _ => (None, None),
    };
    let given_name = given.or(split_given);
    let family_name = family.or(split_family);
    let common_name = match (common_name, &given_name, &family_name) {
        (Some(cn), _, _) => cn,
        (None, Some(g), Some(f)) => format!("{g} {f}"),
        _ => match &organisation {
            Some(o) => o.name.clone(),
            None => return Err(CertError::IncompleteSubject),
        },
    };
    let holder_id = match first(subject, &OID_X509_SERIALNUMBER)? {
        Some(serial) => serial,
        None => {
            let mut hash = Sha256::new();
            hash.update(leaf.issuer().as_raw());
            hash.update(subject.as_raw());
            hex::encode(hash.finalize())
        }
    };
    Ok(CertIdentity {
        holder_id,
        common_name,
        given_name,
        family_name,
        email: email(leaf)?,
        serial_hex: serial_hex(leaf.raw_serial()),
        issuer: leaf.issuer().to_string(),
        not_after: leaf.validity().not_after.to_datetime(),
        organisation,
    })
}

fn first(
    name: &X509Name<'_>,
    oid: &x509_parser::der_parser::oid::Oid<'_>,
) -> Result<Option<String>, CertError> {
    name.iter_by_oid(oid).next().map(read_value).transpose()
}

/// "Anna Maria Schmidt" → ("Anna Maria", "Schmidt"); one word → nothing.
fn split_name(cn: &str) -> (Option<String>, Option<String>) {
    match cn.trim().rsplit_once(' ') {
        Some((given, family)) if !given.trim().is_empty() && !family.is_empty() => {
            (Some(given.trim().to_owned()), Some(family.to_owned()))
        }
        _ => (None, None),
    }
}

fn read_value(attr: &AttributeTypeAndValue<'_>) -> Result<String, CertError> {
    let value = attr.attr_value();
    let text = match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::NumericString => {
            std::str::from_utf8(value.data)
                .map_err(|_| CertError::Malformed)?
                .to_owned()
        }
        Tag::BmpString => {
            if value.data.len() % 2 != 0 {
                return Err(CertError::Malformed);
            }
            let units = value
                .data
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .map_err(|_| CertError::Malformed)?
        }
        // Teletex in practice carries Latin-1.
        Tag::TeletexString => value.data.iter().map(|&b| char::from(b)).collect(),
        _ => return Err(CertError::Malformed),
    };
    clean(&text).ok_or(CertError::Malformed)
}

/// Trimmed, bounded, free of control characters, not empty.
fn clean(text: &str) -> Option<String> {
    let text = text.trim();
    let ok = !text.is_empty()
        && text.chars().count() <= MAX_VALUE_CHARS
        && !text.chars().any(char::is_control);
    ok.then(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn email(leaf: &X509Certificate<'_>) -> Result<Option<String>, CertError> {
    let from_san = leaf
        .subject_alternative_name()
        .map_err(|_| CertError::Malformed)?
        .and_then(|san| {
            san.value.general_names.iter().find_map(|name| match name {
                GeneralName::RFC822Name(mail) => Some(*mail),
                _ => None,
            })
        });
    let address = match from_san {
        Some(mail) => Some(clean(mail).ok_or(CertError::Malformed)?),
        None => first(leaf.subject(), &OID_PKCS9_EMAIL_ADDRESS)?,
    };
    // An address konto could not use is left out rather than passed on.
    Ok(address.filter(|a| plausible_email(a)))
}

fn plausible_email(address: &str) -> bool {
    address.len() <= 254
        && !address.contains(' ')
        && address
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
}

fn serial_hex(raw: &[u8]) -> String {
    let first = raw
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    hex::encode(&raw[first..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_common_name_at_the_last_space() {
        assert_eq!(
            split_name("Anna Maria Schmidt"),
            (Some("Anna Maria".into()), Some("Schmidt".into()))
        );
        assert_eq!(split_name("Madonna"), (None, None));
        assert_eq!(split_name("  "), (None, None));
    }

    #[test]
    fn cleans_values() {
        assert_eq!(
            clean("  Erika   Mustermann "),
            Some("Erika Mustermann".into())
        );
        assert_eq!(clean("Erika\u{0}"), None);
        assert_eq!(clean(""), None);
        assert_eq!(clean(&"x".repeat(MAX_VALUE_CHARS + 1)), None);
    }

    #[test]
    fn implausible_addresses_are_dropped() {
        assert!(plausible_email("erika@example.org"));
        assert!(!plausible_email("erika"));
        assert!(!plausible_email("@example.org"));
        assert!(!plausible_email("erika@localhost"));
        assert!(!plausible_email("erika mustermann@example.org"));
    }

    #[test]
    fn serial_hex_drops_leading_zero_bytes() {
        assert_eq!(serial_hex(&[0x00, 0x9c, 0x01]), "9c01");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[]), "");
    }
}
