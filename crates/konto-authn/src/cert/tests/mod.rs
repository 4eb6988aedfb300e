//! Tests of certificate login against the development PKI in `keys-dev/` (regenerate it with
//! `keys-dev/elster/generate.sh` and `keys-dev/tls/generate.sh`). Files are read at test time.

mod challenge;
mod crl;
mod outcomes;
mod props;
mod proxy;
mod tls;

use std::path::PathBuf;
use std::time::Duration;

use time::OffsetDateTime;
use time::macros::datetime;

use super::pem::decode_blocks;
use super::{CertConfig, CertError, CertIdentity, CertValidator, CrlSource};

/// Inside every valid certificate's validity and before the CRL's nextUpdate.
pub(super) const NOW: OffsetDateTime = datetime!(2030-06-01 12:00 UTC);

pub(super) fn elster_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../keys-dev/elster")
        .join(file)
}

pub(super) fn tls_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../keys-dev/tls")
        .join(file)
}

pub(super) fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The DER blocks of a PEM file.
pub(super) fn pem_blocks(path: PathBuf, label: &str) -> Vec<Vec<u8>> {
    let text = String::from_utf8(read(path)).unwrap();
    let blocks = decode_blocks(&text, label, 16, 1 << 20).unwrap();
    assert!(!blocks.is_empty(), "no {label} block");
    blocks
}

/// `keys-dev/elster/<name>.crt.pem` as a one-certificate chain.
pub(super) fn leaf(name: &str) -> Vec<Vec<u8>> {
    pem_blocks(elster_path(&format!("{name}.crt.pem")), "CERTIFICATE")
}

pub(super) fn config(crl: Option<CrlSource>, require_crl: bool) -> CertConfig {
    CertConfig {
        trust_anchors_pem: read(elster_path("ca-chain.pem")),
        crl,
        crl_refresh: Duration::from_secs(3600),
        require_crl,
    }
}

/// Anchors from ca-chain.pem, the CRL from crl.pem, CRL required.
pub(super) fn strict_validator() -> CertValidator {
    CertValidator::new(config(Some(CrlSource::File(elster_path("crl.pem"))), true)).unwrap()
}

pub(super) fn code<T: std::fmt::Debug>(result: Result<T, CertError>) -> &'static str {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => e.code(),
    }
}
