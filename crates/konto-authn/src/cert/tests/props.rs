//! No input makes the parsers or the validator panic, and a damaged certificate never turns
//! into somebody else.

use std::sync::LazyLock;

use proptest::prelude::*;

use super::super::parse_forwarded_certificate;
use super::*;

static VALIDATOR: LazyLock<CertValidator> = LazyLock::new(strict_validator);
static ERIKA: LazyLock<Vec<u8>> = LazyLock::new(|| leaf("erika").remove(0));

proptest! {
    #[test]
    fn forwarded_header_never_panics(value in ".{0,2000}") {
        let _ = parse_forwarded_certificate(&value);
    }

    #[test]
    fn forwarded_header_with_pem_markers_never_panics(
        body in "[A-Za-z0-9+/=%\\- \n]{0,600}",
        wrap in any::<bool>(),
    ) {
        let value = if wrap {
            format!("-----BEGIN CERTIFICATE-----{body}-----END CERTIFICATE-----")
        } else {
            format!("-----BEGIN%20CERTIFICATE-----{body}")
        };
        let _ = parse_forwarded_certificate(&value);
    }

    #[test]
    fn validate_never_panics_on_arbitrary_chains(
        chain in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 0..6),
    ) {
        let _ = VALIDATOR.validate(&chain, NOW);
        let _ = VALIDATOR.verify_challenge(&chain, b"challenge", &[1, 2, 3], NOW);
    }

    #[test]
    fn a_damaged_certificate_is_refused_or_still_erika(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut der = ERIKA.clone();
        for (at, xor) in flips {
            let i = at.index(der.len());
            der[i] ^= xor;
        }
        if truncate {
            der.truncate(cut.index(der.len()));
        }
        if let Ok(identity) = VALIDATOR.validate(&[der], NOW) {
            prop_assert_eq!(identity.holder_id, "KONTO-TEST-0000001");
        }
    }
}
