//! ELSTER software certificates (level substantial).
//!
//! A citizen holds an X.509 client certificate in a PKCS#12 file with PIN, issued by the ELSTER CA
//! (`reference.md` §4). The browser presents it in a TLS handshake on konto's certificate-login
//! listener (or a trusted reverse proxy forwards it in a header, or a non-browser client signs a
//! challenge); this module decides whether it identifies a person, and who.
//!
//! Policy:
//! - **Trust** is configuration only: a PEM bundle of the ELSTER root and issuing CAs. The path
//!   leaf → (intermediates the client sent, or a configured CA) → configured CA must verify
//!   signature by signature (x509-parser with ring; SHA-1 signatures are refused). A path ends at
//!   the first configured certificate that has no configured issuer above it.
//! - **Every certificate** on the path must be valid at `now` and carry no critical extension konto
//!   does not process. **Issuers** must have basicConstraints CA:true, keyUsage keyCertSign and
//!   respect their pathLenConstraint. **The leaf** must not be a CA; its keyUsage, if present, must
//!   include digitalSignature and its extendedKeyUsage, if present, clientAuth.
//! - **Revocation**: the leaf's serial is looked up in the CRL of its issuer (one CRL source,
//!   verified against a configured CA with cRLSign, refreshed atomically; a failed refresh keeps
//!   the old CRL, and a refresh never goes back to an older CRL). A listed serial is refused even
//!   when the CRL is past nextUpdate; a CRL past nextUpdate otherwise counts as unavailable, which
//!   refuses every certificate when `require_crl` is set and only logs a warning when it is not.
//! - **Proof of possession** comes from the TLS handshake ([`CertValidator::client_cert_verifier`]
//!   checks the handshake signature but accepts any chain, so that validation errors become a
//!   page rather than a TLS alert), or from a signature over a server-issued challenge
//!   ([`CertValidator::verify_challenge`]), or from a reverse proxy konto trusts
//!   ([`parse_forwarded_certificate`]).
//! - **Identity**: the holder id is the subject serialNumber if present, else SHA-256 over the DER
//!   issuer and subject names; names come from givenName/surname, else from splitting the CN at
//!   the last space. All of it at level substantial with source `elster`.
//! - **Bounds**: at most [`MAX_CHAIN_CERTS`] certificates of at most [`MAX_CERT_BYTES`] each,
//!   paths of at most [`MAX_PATH_LEN`] certificates, CRLs of at most [`MAX_CRL_BYTES`]. No input
//!   makes this module panic.

mod challenge;
mod crl;
mod pem;
mod proxy;
mod subject;
mod tls;
mod validate;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use time::OffsetDateTime;

pub use proxy::{MAX_FORWARDED_HEADER_BYTES, parse_forwarded_certificate};
pub use subject::{CertIdentity, CertOrganisation};

/// The most certificates accepted in one chain (leaf and intermediates as sent by the client).
pub const MAX_CHAIN_CERTS: usize = 4;
/// The longest path leaf → … → trust anchor.
pub const MAX_PATH_LEN: usize = 4;
/// The largest DER certificate accepted.
pub const MAX_CERT_BYTES: usize = 16 * 1024;
/// The largest CRL accepted (the real ELSTER CRL lists many certificates).
pub const MAX_CRL_BYTES: usize = 64 * 1024 * 1024;
/// The shortest CRL refresh interval [`CertValidator::crl_refresh_interval`] returns.
pub const MIN_CRL_REFRESH: Duration = Duration::from_secs(60);
/// How long a CRL download may take.
pub const CRL_FETCH_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_ANCHORS: usize = 64;

/// How certificate login is configured.
#[derive(Debug, Clone)]
pub struct CertConfig {
    /// PEM bundle: the ELSTER root and issuing CA(s). Every certificate in it is trusted.
    pub trust_anchors_pem: Vec<u8>,
    /// Where the issuing CA's CRL comes from. `None`: no revocation checking (only sensible
    /// with `require_crl = false`, in development).
    pub crl: Option<CrlSource>,
    /// How often the caller should run [`CertValidator::refresh_crl`] (at least one minute).
    pub crl_refresh: Duration,
    /// refuse certificates when no valid (unexpired, signature-checked) CRL is loaded
    pub require_crl: bool,
}

/// Where the CRL is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrlSource {
    /// A DER or PEM file, kept current by something else (a cron job). Read at start and on
    /// every refresh.
    File(PathBuf),
    /// An `http` URL (a CRL distribution point). CRLs are signed, so plain HTTP is the norm
    /// (RFC 5280 §4.2.1.13); `https` is refused because this client carries no web PKI roots.
    Url(url::Url),
}

/// Why a certificate was refused or the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("no client certificate was presented")]
    NoCertificate,
    #[error("the certificate cannot be parsed")]
    Malformed,
    #[error("the certificate input exceeds the size limit")]
    TooLarge,
    #[error("the certificate chain is longer than allowed")]
    ChainTooLong,
    #[error("the certificate was not issued by a trusted authority")]
    UntrustedIssuer,
    #[error("an issuing certificate is not allowed to issue certificates")]
    InvalidIssuer,
    #[error("a signature does not verify")]
    BadSignature,
    #[error("the certificate has expired")]
    Expired,
    #[error("the certificate is not valid yet")]
    NotYetValid,
    #[error("a certification authority's certificate cannot be used to log in")]
    NotEndEntity,
    #[error("the certificate is not meant for signing in (key usage)")]
    WrongKeyUsage,
    #[error("the certificate has a critical extension konto does not process")]
    UnsupportedCriticalExtension,
    #[error("the certificate subject does not name a person")]
    IncompleteSubject,
    #[error("the certificate is an organisation's; it signs in no person")]
    OrganisationCertificate,
    #[error("the certificate's key type cannot sign challenges")]
    UnsupportedKey,
    #[error("the certificate has been revoked")]
    Revoked,
    #[error("no current revocation list is available for the issuer")]
    CrlUnavailable,
    #[error("the revocation list was refused: {0}")]
    CrlInvalid(String),
    #[error("the revocation list cannot be fetched: {0}")]
    CrlFetch(String),
    #[error("invalid certificate login configuration: {0}")]
    Config(String),
}

impl CertError {
    /// A stable machine code for logs, metrics and the error page.
    pub fn code(&self) -> &'static str {
        match self {
            CertError::NoCertificate => "no_certificate",
            CertError::Malformed => "malformed",
            CertError::TooLarge => "too_large",
            CertError::ChainTooLong => "chain_too_long",
            CertError::UntrustedIssuer => "untrusted_issuer",
            CertError::InvalidIssuer => "invalid_issuer",
            CertError::BadSignature => "bad_signature",
            CertError::Expired => "expired",
            CertError::NotYetValid => "not_yet_valid",
            CertError::NotEndEntity => "not_end_entity",
            CertError::WrongKeyUsage => "wrong_key_usage",
            CertError::UnsupportedCriticalExtension => "unsupported_extension",
            CertError::IncompleteSubject => "incomplete_subject",
            CertError::OrganisationCertificate => "organisation_certificate",
            CertError::UnsupportedKey => "unsupported_key",
            CertError::Revoked => "revoked",
            CertError::CrlUnavailable => "crl_unavailable",
            CertError::CrlInvalid(_) => "crl_invalid",
            CertError::CrlFetch(_) => "crl_fetch",
            CertError::Config(_) => "config",
        }
    }
}

/// Validates ELSTER client certificates against the configured anchors and the current CRL.
/// Cheap to share behind an `Arc`; [`CertValidator::refresh_crl`] swaps the CRL while
/// validations go on.
pub struct CertValidator {
    /// DER of every configured CA, checked at construction.
    anchors: Vec<Vec<u8>>,
    crl: RwLock<Option<Arc<crl::LoadedCrl>>>,
    crl_source: Option<CrlSource>,
    http: Option<reqwest::Client>,
    crl_refresh: Duration,
    require_crl: bool,
}

impl std::fmt::Debug for CertValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertValidator")
            .field("anchors", &self.anchors.len())
            .field("crl_source", &self.crl_source)
            .field("require_crl", &self.require_crl)
            .finish_non_exhaustive()
    }
}

impl CertValidator {
    /// Parses and checks the anchors; a `File` CRL is loaded (and signature-checked) here, and an
    /// unreadable or invalid one is an error. A `Url` CRL is only fetched by
    /// [`CertValidator::refresh_crl`], which the caller should run once before serving.
    pub fn new(config: CertConfig) -> Result<CertValidator, CertError> {
        let anchors = validate::load_anchors(&config.trust_anchors_pem)?;
        let http = match &config.crl {
            Some(CrlSource::Url(url)) => Some(crl::http_client(url)?),
            _ => None,
        };
        let loaded = match &config.crl {
            Some(CrlSource::File(path)) => Some(Arc::new(crl::load_file(path, &anchors)?)),
            _ => None,
        };
        Ok(CertValidator {
            anchors,
            crl: RwLock::new(loaded),
            crl_source: config.crl,
            http,
            crl_refresh: config.crl_refresh,
            require_crl: config.require_crl,
        })
    }

    /// Re-reads the file or downloads the URL, verifies the CRL's signature by a configured CA,
    /// checks thisUpdate ≤ now < nextUpdate and that it is not older than the loaded one, and
    /// swaps it in. On any failure the loaded CRL stays.
    pub async fn refresh_crl(&self, now: OffsetDateTime) -> Result<(), CertError> {
        let result = self.fetch_and_check(now).await;
        if let Err(e) = &result {
            tracing::warn!(code = e.code(), error = %e, "crl refresh failed; keeping the loaded crl");
        }
        result
    }

    async fn fetch_and_check(&self, now: OffsetDateTime) -> Result<(), CertError> {
        let bytes = match (&self.crl_source, &self.http) {
            (None, _) => return Ok(()),
            (Some(CrlSource::File(path)), _) => crl::read_file_async(path).await?,
            (Some(CrlSource::Url(url)), Some(client)) => crl::download(client, url).await?,
            (Some(CrlSource::Url(_)), None) => {
                return Err(CertError::Config("no http client for the crl url".into()));
            }
        };
        // Parsing a CRL of many megabytes must not stall the async threads.
        let anchors = self.anchors.clone();
        let fresh = tokio::task::spawn_blocking(move || crl::parse_and_verify(&bytes, &anchors))
            .await
            .map_err(|_| CertError::CrlInvalid("the verification task failed".into()))??;
        fresh.check_current(now)?;
        let (this_update, next_update, entries) =
            (fresh.this_update, fresh.next_update, fresh.len());
        {
            // Checked under the write lock, so that concurrent refreshes cannot go backwards.
            let mut slot = self.crl.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(current) = slot.as_deref() {
                fresh.check_not_older_than(current)?;
            }
            *slot = Some(Arc::new(fresh));
        }
        tracing::info!(%this_update, %next_update, entries, "crl loaded");
        Ok(())
    }

    fn current_crl(&self) -> Option<Arc<crl::LoadedCrl>> {
        self.crl
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How often to call [`CertValidator::refresh_crl`]: the configured interval, at least
    /// [`MIN_CRL_REFRESH`].
    pub fn crl_refresh_interval(&self) -> Duration {
        self.crl_refresh.max(MIN_CRL_REFRESH)
    }

    /// Validates a client's chain (`chain_der`: leaf first, then any intermediates the client
    /// sent) at `now` and reads the identity from the leaf.
    pub fn validate(
        &self,
        chain_der: &[Vec<u8>],
        now: OffsetDateTime,
    ) -> Result<CertIdentity, CertError> {
        let crl = self.current_crl();
        validate::validate_chain(
            chain_der,
            &self.anchors,
            crl.as_deref(),
            self.require_crl,
            now,
        )
    }

    /// rustls verifier for the certificate-login listener: asks for a client certificate
    /// (offering the anchors' subjects as hints), verifies the TLS handshake signature (proof
    /// of possession), accepts any chain and does NOT make client auth mandatory — validation
    /// happens after the handshake with `validate`, so the user gets a clear page instead of a
    /// TLS alert.
    pub fn client_cert_verifier(&self) -> Arc<dyn rustls::server::danger::ClientCertVerifier> {
        Arc::new(tls::DeferredClientAuth::new(&self.anchors))
    }

    /// Signed-challenge variant for non-browser clients: `signature` over `challenge` by the
    /// leaf's key, RSA PKCS#1 v1.5 SHA-256, RSA-PSS SHA-256 or ECDSA P-256 SHA-256. The caller
    /// issues the challenge (random, single use, short-lived) and checks it was its own.
    pub fn verify_challenge(
        &self,
        chain_der: &[Vec<u8>],
        challenge: &[u8],
        signature: &[u8],
        now: OffsetDateTime,
    ) -> Result<CertIdentity, CertError> {
        let leaf = chain_der.first().ok_or(CertError::NoCertificate)?;
        challenge::verify_possession(leaf, challenge, signature)?;
        self.validate(chain_der, now)
    }
}
