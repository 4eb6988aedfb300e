//! Certificate revocation lists.
//!
//! A CRL counts only when its signature verifies with the key of a configured CA whose subject
//! is the CRL's issuer and which may sign CRLs (keyUsage cRLSign). Delta, partitioned and
//! indirect CRLs are refused (any critical CRL or entry extension). A downloaded or re-read CRL
//! must be current (thisUpdate ≤ now + skew, now < nextUpdate) and not older than the loaded one,
//! so a replayed old CRL cannot hide a newer revocation. What is kept is only what the checks
//! need: issuer, signer key, dates and the revoked serials.

use std::collections::HashSet;
use std::path::Path;

use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::pem;
use super::validate::{is_sha1, parse_cert};
use super::{CRL_FETCH_TIMEOUT, CertError, MAX_CRL_BYTES};

/// Clock skew tolerated for a CRL's thisUpdate.
const THIS_UPDATE_SKEW: Duration = Duration::minutes(5);

/// A verified CRL, reduced to what revocation checks need.
#[derive(Debug)]
pub(super) struct LoadedCrl {
    issuer_raw: Vec<u8>,
    signer_key_raw: Vec<u8>,
    pub(super) this_update: OffsetDateTime,
    pub(super) next_update: OffsetDateTime,
    revoked: HashSet<Vec<u8>>,
}

impl LoadedCrl {
    pub(super) fn len(&self) -> usize {
        self.revoked.len()
    }

    /// thisUpdate ≤ now (with skew) < nextUpdate.
    pub(super) fn check_current(&self, now: OffsetDateTime) -> Result<(), CertError> {
        if self.this_update > now + THIS_UPDATE_SKEW {
            return Err(CertError::CrlInvalid(
                "thisUpdate lies in the future".into(),
            ));
        }
        if now >= self.next_update {
            return Err(CertError::CrlInvalid(
                "the crl is past its nextUpdate".into(),
            ));
        }
        Ok(())
    }

    /// A CRL of the same issuer may only replace the loaded one if it is not older.
    pub(super) fn check_not_older_than(&self, loaded: &LoadedCrl) -> Result<(), CertError> {
        if self.issuer_raw == loaded.issuer_raw && self.this_update < loaded.this_update {
            return Err(CertError::CrlInvalid(
                "the crl is older than the one already loaded".into(),
            ));
        }
        Ok(())
    }

    fn covers(&self, issuer: &X509Certificate<'_>) -> bool {
        self.issuer_raw == issuer.subject().as_raw()
            && self.signer_key_raw == issuer.public_key().raw
    }
}

/// Serial numbers compare without DER's leading zero byte.
fn normalise_serial(raw: &[u8]) -> Vec<u8> {
    let first = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    raw[first..].to_vec()
}

/// Revocation check of `leaf`, issued by `issuer`, against the loaded CRL.
pub(super) fn check_revocation(
    crl: Option<&LoadedCrl>,
    leaf: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
    require_crl: bool,
    now: OffsetDateTime,
) -> Result<(), CertError> {
    let Some(crl) = crl.filter(|crl| crl.covers(issuer)) else {
        if require_crl {
            return Err(CertError::CrlUnavailable);
        }
        tracing::debug!(issuer = %issuer.subject(), "no crl for this issuer; revocation not checked");
        return Ok(());
    };
    // A listed serial stays revoked even when the CRL has gone stale.
    if crl.revoked.contains(&normalise_serial(leaf.raw_serial())) {
        return Err(CertError::Revoked);
    }
    if now >= crl.next_update {
        if require_crl {
            return Err(CertError::CrlUnavailable);
        }
        tracing::warn!(next_update = %crl.next_update, "crl is past nextUpdate; accepting without a current crl");
    }
    Ok(())
}

/// Parses a DER or PEM CRL and verifies it against the anchors (not its dates).
pub(super) fn parse_and_verify(bytes: &[u8], anchors: &[Vec<u8>]) -> Result<LoadedCrl, CertError> {
    let invalid = |why: &str| CertError::CrlInvalid(why.to_owned());
    if bytes.len() > MAX_CRL_BYTES {
        return Err(invalid("larger than the size limit"));
    }
    let pem_der;
    let der: &[u8] = if pem::is_pem(bytes) {
        let text = std::str::from_utf8(bytes).map_err(|_| invalid("not pem text"))?;
        pem_der = pem::decode_blocks(text, "X509 CRL", 1, MAX_CRL_BYTES)
            .map_err(|_| invalid("not a readable pem crl"))?;
        pem_der
            .first()
            .ok_or_else(|| invalid("no X509 CRL block"))?
    } else {
        bytes
    };
    let crl = match CertificateRevocationList::from_der(der) {
        Ok(([], crl)) => crl,
        _ => return Err(invalid("cannot be parsed")),
    };
    if crl.extensions().iter().any(|ext| ext.critical) {
        return Err(invalid(
            "delta, partitioned or other critical-extension crls are not supported",
        ));
    }
    let signer = anchors
        .iter()
        .filter_map(|der| parse_cert(der).ok())
        .filter(|_| !is_sha1(&crl.signature_algorithm.algorithm))
        .filter(|ca| ca.subject().as_raw() == crl.issuer().as_raw())
        .find(|ca| crl.verify_signature(ca.public_key()).is_ok())
        .ok_or_else(|| invalid("not signed by a configured ca"))?;
    let may_sign_crls = signer
        .key_usage()
        .ok()
        .flatten()
        .is_some_and(|ku| ku.value.crl_sign());
    if !may_sign_crls {
        return Err(invalid("the signing ca lacks keyUsage cRLSign"));
    }
    let next_update = crl
        .next_update()
        .ok_or_else(|| invalid("no nextUpdate"))?
        .to_datetime();
    let mut revoked = HashSet::new();
    for entry in crl.iter_revoked_certificates() {
        if entry.extensions().iter().any(|ext| ext.critical) {
            return Err(invalid("indirect crls are not supported"));
        }
        revoked.insert(normalise_serial(entry.raw_serial()));
    }
    Ok(LoadedCrl {
        issuer_raw: crl.issuer().as_raw().to_vec(),
        signer_key_raw: signer.public_key().raw.to_vec(),
        this_update: crl.last_update().to_datetime(),
        next_update,
        revoked,
    })
}

/// Start-up load of a CRL file: must exist, parse and verify.
pub(super) fn load_file(path: &Path, anchors: &[Vec<u8>]) -> Result<LoadedCrl, CertError> {
    let size = std::fs::metadata(path)
        .map_err(|e| CertError::Config(format!("crl file {}: {e}", path.display())))?
        .len();
    if size > MAX_CRL_BYTES as u64 {
        return Err(CertError::CrlInvalid("larger than the size limit".into()));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| CertError::Config(format!("crl file {}: {e}", path.display())))?;
    parse_and_verify(&bytes, anchors)
}

pub(super) async fn read_file_async(path: &Path) -> Result<Vec<u8>, CertError> {
    let fetch = |e: std::io::Error| CertError::CrlFetch(format!("{}: {e}", path.display()));
    let size = tokio::fs::metadata(path).await.map_err(fetch)?.len();
    if size > MAX_CRL_BYTES as u64 {
        return Err(CertError::CrlInvalid("larger than the size limit".into()));
    }
    tokio::fs::read(path).await.map_err(fetch)
}

/// The client for a CRL URL: plain `http` only, bounded time, few redirects.
pub(super) fn http_client(url: &url::Url) -> Result<reqwest::Client, CertError> {
    if url.scheme() != "http" {
        return Err(CertError::Config(
            "the crl url must use http (crls are signed; this client has no web pki roots)".into(),
        ));
    }
    reqwest::Client::builder()
        .timeout(CRL_FETCH_TIMEOUT)
        .connect_timeout(std::time::Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|e| CertError::Config(format!("crl http client: {e}")))
}

/// Downloads at most [`MAX_CRL_BYTES`].
pub(super) async fn download(
    client: &reqwest::Client,
    url: &url::Url,
) -> Result<Vec<u8>, CertError> {
    let fetch = |e: reqwest::Error| CertError::CrlFetch(e.without_url().to_string());
    let mut response = client.get(url.clone()).send().await.map_err(fetch)?;
    if !response.status().is_success() {
        return Err(CertError::CrlFetch(format!(
            "http status {}",
            response.status()
        )));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_CRL_BYTES as u64)
    {
        return Err(CertError::CrlInvalid("larger than the size limit".into()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(fetch)? {
        if body.len() + chunk.len() > MAX_CRL_BYTES {
            return Err(CertError::CrlInvalid("larger than the size limit".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
