//! The rustls client-certificate verifier of the certificate-login listener.
//!
//! It asks every client for a certificate, naming the configured CAs as hints so that browsers
//! offer the ELSTER certificate, and verifies the handshake signature (CertificateVerify), which
//! proves the client holds the key. It accepts any chain and lets clients without a certificate
//! through: the handler then calls `CertValidator::validate` on the peer certificates and can
//! show a page that says what is wrong, where a TLS alert would only show a browser error.
//!
//! Consequently a connection through this verifier proves nothing by itself: **every** use of
//! its peer certificates must go through `validate`.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use super::validate::parse_cert;

/// Offers client authentication, checks possession, defers the chain to `validate`.
#[derive(Debug)]
pub(super) struct DeferredClientAuth {
    hints: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl DeferredClientAuth {
    pub(super) fn new(anchors: &[Vec<u8>]) -> DeferredClientAuth {
        let hints = anchors
            .iter()
            .filter_map(|der| parse_cert(der).ok())
            .map(|ca| DistinguishedName::from(ca.subject().as_raw().to_vec()))
            .collect();
        DeferredClientAuth {
            hints,
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for DeferredClientAuth {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Deliberately no chain validation here; see the module documentation.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
