//! A client certificate forwarded by a reverse proxy that terminated TLS.
//!
//! Formats: URL-encoded PEM, possibly a chain (nginx `$ssl_client_escaped_cert`), plain PEM
//! with newlines replaced by spaces (Apache `%{SSL_CLIENT_CERT}s` through mod_headers), or bare
//! base64 DER, several separated by commas (Traefik, Envoy-like setups). An empty value, `-` or
//! `(null)` means the client sent no certificate.
//!
//! Trust: the proxy did the proof of possession, so the web layer must accept this header only
//! from configured proxy addresses and remove it from everything else. The chain itself is
//! still validated by `CertValidator::validate`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;

use super::pem::{self, PemError};
use super::validate::parse_cert;
use super::{CertError, MAX_CERT_BYTES, MAX_CHAIN_CERTS};

/// The longest header value read (a URL-encoded PEM chain of three typical certificates is
/// about 10 KiB; HTTP servers rarely accept longer headers than this anyway).
pub const MAX_FORWARDED_HEADER_BYTES: usize = 64 * 1024;

/// A certificate forwarded by a trusted reverse proxy in a header: URL-encoded PEM (nginx
/// `$ssl_client_escaped_cert`, may hold a chain) or bare base64 DER; bounded size, never panics.
/// Returns the DER certificates, leaf first as the proxy sent them.
pub fn parse_forwarded_certificate(header_value: &str) -> Result<Vec<Vec<u8>>, CertError> {
    if header_value.len() > MAX_FORWARDED_HEADER_BYTES {
        return Err(CertError::TooLarge);
    }
    let value = header_value.trim();
    if value.is_empty() || value == "-" || value == "(null)" {
        return Err(CertError::NoCertificate);
    }
    // base64 has no '%', so decoding is harmless for bare DER; '+' is kept as it is.
    let decoded = percent_decode_str(value)
        .decode_utf8()
        .map_err(|_| CertError::Malformed)?;
    let chain = if pem::is_pem(decoded.as_bytes()) {
        pem::decode_blocks(&decoded, "CERTIFICATE", MAX_CHAIN_CERTS, MAX_CERT_BYTES).map_err(
            |e| match e {
                PemError::TooManyBlocks => CertError::ChainTooLong,
                PemError::TooLarge => CertError::TooLarge,
                PemError::Invalid => CertError::Malformed,
            },
        )?
    } else {
        decode_base64_list(&decoded)?
    };
    if chain.is_empty() {
        return Err(CertError::NoCertificate);
    }
    for der in &chain {
        parse_cert(der)?;
    }
    Ok(chain)
}

fn decode_base64_list(text: &str) -> Result<Vec<Vec<u8>>, CertError> {
    let mut chain = Vec::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        if chain.len() == MAX_CHAIN_CERTS {
            return Err(CertError::ChainTooLong);
        }
        let compact: String = part.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = STANDARD.decode(compact).map_err(|_| CertError::Malformed)?;
        if der.len() > MAX_CERT_BYTES {
            return Err(CertError::TooLarge);
        }
        chain.push(der);
    }
    Ok(chain)
}
