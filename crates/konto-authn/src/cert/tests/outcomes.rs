//! One test per outcome of `validate`, with the generated users.

use sha2::{Digest, Sha256};
use time::macros::datetime;
use x509_parser::prelude::FromDer;

use konto_core::Level;
use konto_core::amr::AuthenticatorKind;
use konto_core::attributes::{AttributeName, AttributeSource};

use super::*;

#[test]
fn erika_is_valid_with_her_full_identity() {
    let identity = strict_validator().validate(&leaf("erika"), NOW).unwrap();
    assert_eq!(identity.holder_id, "KONTO-TEST-0000001");
    assert_eq!(identity.common_name, "Erika Mustermann");
    assert_eq!(identity.given_name.as_deref(), Some("Erika"));
    assert_eq!(identity.family_name.as_deref(), Some("Mustermann"));
    assert_eq!(
        identity.email.as_deref(),
        Some("erika.mustermann@example.org")
    );
    assert!(
        identity.issuer.contains("konto Test-ELSTER CA 1"),
        "{}",
        identity.issuer
    );
    assert_eq!(identity.not_after, datetime!(2050-12-31 23:59:59 UTC));
    let der = &leaf("erika")[0];
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).unwrap();
    let serial = cert.raw_serial_as_string().replace(':', "");
    assert_eq!(identity.serial_hex, serial.trim_start_matches("00"));
}

#[test]
fn erika_becomes_a_substantial_elster_verification() {
    let identity = strict_validator().validate(&leaf("erika"), NOW).unwrap();
    let verified = identity.into_verified(NOW);
    assert_eq!(verified.kind(), AuthenticatorKind::Elster);
    assert_eq!(verified.level, Level::Substantial);
    assert_eq!(verified.external_id.as_deref(), Some("KONTO-TEST-0000001"));
    let names: Vec<_> = verified.attributes.iter().map(|a| a.name).collect();
    assert_eq!(
        names,
        [
            AttributeName::GivenName,
            AttributeName::FamilyName,
            AttributeName::Email
        ]
    );
    for attribute in &verified.attributes {
        assert_eq!(attribute.source, AttributeSource::Elster);
        assert_eq!(attribute.level, Level::Substantial);
        assert_eq!(attribute.verified_at, NOW);
    }
}

#[test]
fn max_is_valid_with_names_from_the_cn_and_a_hashed_holder_id() {
    let validator = strict_validator();
    let identity = validator.validate(&leaf("max"), NOW).unwrap();
    assert_eq!(identity.common_name, "Max Mustermann");
    assert_eq!(identity.given_name.as_deref(), Some("Max"));
    assert_eq!(identity.family_name.as_deref(), Some("Mustermann"));
    assert_eq!(identity.email, None);
    let der = &leaf("max")[0];
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).unwrap();
    let mut hash = Sha256::new();
    hash.update(cert.issuer().as_raw());
    hash.update(cert.subject().as_raw());
    assert_eq!(identity.holder_id, hex::encode(hash.finalize()));
    // Stable: a second validation gives the same identity.
    assert_eq!(validator.validate(&leaf("max"), NOW).unwrap(), identity);
    let verified = identity.into_verified(NOW);
    assert_eq!(verified.attributes.len(), 2);
}

/// An ELSTER organisation certificate names a company: no person's names are split from its
/// CN, the organisation and its identifier are read, and it signs in no person.
#[test]
fn an_organisation_certificate_names_an_organisation_and_no_person() {
    let validator = strict_validator();
    let identity = validator.validate(&leaf("org-mustermann"), NOW).unwrap();
    assert_eq!(identity.holder_id, "KONTO-TEST-ORG-0000001");
    assert_eq!(identity.common_name, "Mustermann Software GmbH");
    assert_eq!(identity.given_name, None);
    assert_eq!(identity.family_name, None);
    let org = identity.organisation.clone().expect("an organisation");
    assert_eq!(org.name, "Mustermann Software GmbH");
    assert_eq!(org.identifier.as_deref(), Some("VATDE-123456788"));
    assert_eq!(org.vat_number().as_deref(), Some("DE123456788"));
    assert_eq!(
        identity.person().unwrap_err().code(),
        "organisation_certificate"
    );
    // a person's certificate stays a person's
    let erika = validator.validate(&leaf("erika"), NOW).unwrap();
    assert_eq!(erika.organisation, None);
    assert!(erika.person().is_ok());
}

#[test]
fn identity_round_trips_through_serde() {
    let identity = strict_validator().validate(&leaf("erika"), NOW).unwrap();
    let json = serde_json::to_string(&identity).unwrap();
    assert_eq!(
        serde_json::from_str::<CertIdentity>(&json).unwrap(),
        identity
    );
}

#[test]
fn sent_intermediates_and_partial_anchor_sets_work() {
    let anchors = pem_blocks(elster_path("ca-chain.pem"), "CERTIFICATE");
    let (issuing, root) = (&anchors[0], &anchors[1]);
    let mut chain = leaf("erika");
    chain.push(issuing.clone());
    chain.push(root.clone());
    assert!(strict_validator().validate(&chain, NOW).is_ok());

    // Only the root configured: the issuing CA must come from the client.
    let root_only = CertValidator::new(CertConfig {
        trust_anchors_pem: read(elster_path("root-ca.crt.pem")),
        ..config(None, false)
    })
    .unwrap();
    assert_eq!(
        code(root_only.validate(&leaf("erika"), NOW)),
        "untrusted_issuer"
    );
    let mut chain = leaf("erika");
    chain.push(issuing.clone());
    assert!(root_only.validate(&chain, NOW).is_ok());

    // Only the issuing CA configured: the path ends there.
    let issuing_only = CertValidator::new(CertConfig {
        trust_anchors_pem: read(elster_path("issuing-ca.crt.pem")),
        ..config(None, false)
    })
    .unwrap();
    assert!(issuing_only.validate(&leaf("erika"), NOW).is_ok());
}

#[test]
fn expired_revoked_foreign_and_wrong_usage_get_their_own_error() {
    let validator = strict_validator();
    assert_eq!(code(validator.validate(&leaf("expired"), NOW)), "expired");
    assert_eq!(code(validator.validate(&leaf("revoked"), NOW)), "revoked");
    assert_eq!(
        code(validator.validate(&leaf("foreign"), NOW)),
        "untrusted_issuer"
    );
    assert_eq!(
        code(validator.validate(&leaf("wrong-usage"), NOW)),
        "wrong_key_usage"
    );
    // The foreign CA sent along does not help.
    let mut chain = leaf("foreign");
    chain.extend(pem_blocks(elster_path("foreign-ca.crt.pem"), "CERTIFICATE"));
    assert_eq!(code(validator.validate(&chain, NOW)), "untrusted_issuer");
}

#[test]
fn validity_is_checked_at_the_given_time() {
    let validator = strict_validator();
    let before = datetime!(2023-12-31 23:59 UTC);
    assert_eq!(
        code(validator.validate(&leaf("erika"), before)),
        "not_yet_valid"
    );
    let after = datetime!(2051-01-01 00:00 UTC);
    assert_eq!(code(validator.validate(&leaf("erika"), after)), "expired");
}

#[test]
fn no_certificate_garbage_and_oversized_input() {
    let validator = strict_validator();
    assert_eq!(code(validator.validate(&[], NOW)), "no_certificate");
    assert_eq!(code(validator.validate(&[vec![]], NOW)), "no_certificate");
    assert_eq!(
        code(validator.validate(&[b"garbage".to_vec()], NOW)),
        "malformed"
    );
    let mut trailing = leaf("erika").remove(0);
    trailing.push(0);
    assert_eq!(code(validator.validate(&[trailing], NOW)), "malformed");
    assert_eq!(
        code(validator.validate(&[vec![0x30; 17 * 1024]], NOW)),
        "too_large"
    );
    let five = vec![leaf("erika").remove(0); 5];
    assert_eq!(code(validator.validate(&five, NOW)), "chain_too_long");
}

#[test]
fn a_tampered_certificate_fails_its_signature() {
    let validator = strict_validator();
    let original = leaf("erika").remove(0);
    // Last byte: the signature value.
    let mut bad_signature = original.clone();
    let last = bad_signature.len() - 1;
    bad_signature[last] ^= 0x01;
    assert_eq!(
        code(validator.validate(&[bad_signature], NOW)),
        "bad_signature"
    );
    // Inside the signed part: "Erika" → "Erikb" in the subject.
    let mut bad_name = original.clone();
    let at = bad_name.windows(5).position(|w| w == b"Erika").unwrap();
    bad_name[at + 4] = b'b';
    assert_eq!(code(validator.validate(&[bad_name], NOW)), "bad_signature");
}

#[test]
fn an_ecdsa_certificate_is_valid_too() {
    let identity = strict_validator().validate(&leaf("ecdsa"), NOW).unwrap();
    assert_eq!(identity.holder_id, "KONTO-TEST-0000006");
    assert_eq!(identity.family_name.as_deref(), Some("Elliptisch"));
}

#[test]
fn an_unknown_critical_extension_is_refused() {
    assert_eq!(
        code(strict_validator().validate(&leaf("critical-ext"), NOW)),
        "unsupported_extension"
    );
}

#[test]
fn a_certificate_signed_by_a_non_ca_is_refused() {
    let validator = strict_validator();
    assert_eq!(
        code(validator.validate(&leaf("issued-by-max"), NOW)),
        "untrusted_issuer"
    );
    let mut chain = leaf("issued-by-max");
    chain.extend(leaf("max"));
    assert_eq!(code(validator.validate(&chain, NOW)), "invalid_issuer");
}

#[test]
fn a_ca_certificate_is_not_a_login_certificate() {
    let issuing = pem_blocks(elster_path("issuing-ca.crt.pem"), "CERTIFICATE");
    assert_eq!(
        code(strict_validator().validate(&issuing, NOW)),
        "not_end_entity"
    );
}

#[test]
fn anchors_are_checked_when_the_validator_is_built() {
    let with = |pem: Vec<u8>| {
        CertValidator::new(CertConfig {
            trust_anchors_pem: pem,
            ..config(None, false)
        })
    };
    assert_eq!(code(with(Vec::new())), "config");
    assert_eq!(code(with(b"not pem".to_vec())), "config");
    assert_eq!(code(with(read(elster_path("erika.crt.pem")))), "config");
    let broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec();
    assert_eq!(code(with(broken)), "config");
    assert_eq!(code(with(vec![0xff, 0xfe])), "config");
}

#[test]
fn error_codes_are_stable_and_distinct() {
    let all = [
        CertError::NoCertificate,
        CertError::Malformed,
        CertError::TooLarge,
        CertError::ChainTooLong,
        CertError::UntrustedIssuer,
        CertError::InvalidIssuer,
        CertError::BadSignature,
        CertError::Expired,
        CertError::NotYetValid,
        CertError::NotEndEntity,
        CertError::WrongKeyUsage,
        CertError::UnsupportedCriticalExtension,
        CertError::IncompleteSubject,
        CertError::OrganisationCertificate,
        CertError::UnsupportedKey,
        CertError::Revoked,
        CertError::CrlUnavailable,
        CertError::CrlInvalid(String::new()),
        CertError::CrlFetch(String::new()),
        CertError::Config(String::new()),
    ];
    let mut codes: Vec<_> = all.iter().map(CertError::code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
    for e in &all {
        let message = e.to_string();
        assert_eq!(message, message.to_lowercase(), "{message}");
    }
}
