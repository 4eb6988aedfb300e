//! XML Encryption of an assertion for one service provider (XML Encryption 1.1 §3, §4.1):
//! a fresh content key encrypts the serialised element, the SP's RSA key transports the
//! content key (RSA-OAEP, §5.5.2). No canonicalisation is involved: the ciphertext is the
//! exact octets of the already signed element, which the SP parses back in place.

use openssl::encrypt::Encrypter;
use openssl::pkey::PKey;
use openssl::rsa::Padding;
use openssl::symm::{Cipher, encrypt, encrypt_aead};
use openssl::x509::X509;

use crate::SamlError;
use crate::xml::b64;

/// The content encryption of an SP's assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContentCipher {
    /// AES-256-GCM (§5.2.4), the default.
    Aes256Gcm,
    /// AES-256-CBC (§5.2.2): only for SPs registered for it (it lacks integrity).
    Aes256Cbc,
}

impl ContentCipher {
    pub fn uri(self) -> &'static str {
        match self {
            ContentCipher::Aes256Gcm => "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            ContentCipher::Aes256Cbc => "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContentCipher::Aes256Gcm => "aes256-gcm",
            ContentCipher::Aes256Cbc => "aes256-cbc",
        }
    }

    pub fn parse(s: &str) -> Option<ContentCipher> {
        match s {
            "aes256-gcm" => Some(ContentCipher::Aes256Gcm),
            "aes256-cbc" => Some(ContentCipher::Aes256Cbc),
            _ => None,
        }
    }
}

const RSA_OAEP: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";

fn failed(e: impl std::fmt::Display) -> SamlError {
    SamlError::Internal(format!("encryption: {e}"))
}

/// `<xenc:EncryptedData>` holding `element` for the holder of `certificate_der`.
pub fn encrypt_element(
    element: &[u8],
    certificate_der: &[u8],
    cipher: ContentCipher,
) -> Result<String, SamlError> {
    let key: [u8; 32] = konto_keys::random::bytes().map_err(failed)?;
    let value = match cipher {
        ContentCipher::Aes256Gcm => {
            // §5.2.4: a 96-bit IV before the ciphertext, the 128-bit tag after it
            let iv: [u8; 12] = konto_keys::random::bytes().map_err(failed)?;
            let mut tag = [0u8; 16];
            let ct = encrypt_aead(
                Cipher::aes_256_gcm(),
                &key,
                Some(&iv),
                &[],
                element,
                &mut tag,
            )
            .map_err(failed)?;
            [&iv[..], &ct, &tag].concat()
        }
        ContentCipher::Aes256Cbc => {
            let iv: [u8; 16] = konto_keys::random::bytes().map_err(failed)?;
            let ct = encrypt(Cipher::aes_256_cbc(), &key, Some(&iv), element).map_err(failed)?;
            [&iv[..], &ct].concat()
        }
    };
    let public = X509::from_der(certificate_der)
        .and_then(|c| c.public_key())
        .map_err(failed)?;
    let wrapped = {
        let rsa = public.rsa().map_err(failed)?;
        let pkey = PKey::from_rsa(rsa).map_err(failed)?;
        let mut enc = Encrypter::new(&pkey).map_err(failed)?;
        enc.set_rsa_padding(Padding::PKCS1_OAEP).map_err(failed)?;
        let mut out = vec![0u8; enc.encrypt_len(&key).map_err(failed)?];
        let n = enc.encrypt(&key, &mut out).map_err(failed)?;
        out.truncate(n);
        out
    };
    Ok(format!(
        concat!(
            r#"<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">"#,
            r#"<xenc:EncryptionMethod Algorithm="{content}"/>"#,
            r#"<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>"#,
            r#"<xenc:EncryptionMethod Algorithm="{transport}"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod>"#,
            r#"<xenc:CipherData><xenc:CipherValue>{key}</xenc:CipherValue></xenc:CipherData>"#,
            r#"</xenc:EncryptedKey></ds:KeyInfo>"#,
            r#"<xenc:CipherData><xenc:CipherValue>{value}</xenc:CipherValue></xenc:CipherData>"#,
            r#"</xenc:EncryptedData>"#
        ),
        content = cipher.uri(),
        transport = RSA_OAEP,
        key = b64(&wrapped),
        value = b64(&value),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::rsa::Rsa;
    use openssl::symm::decrypt_aead;

    fn cert_and_key() -> (Vec<u8>, PKey<openssl::pkey::Private>) {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut b = openssl::x509::X509Builder::new().unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        (b.build().to_der().unwrap(), key)
    }

    fn values(xml: &str) -> Vec<Vec<u8>> {
        let root = konto_xml::parse(xml.as_bytes(), &konto_xml::Limits::MESSAGES).unwrap();
        let mut out = Vec::new();
        fn walk(e: &konto_xml::Element, out: &mut Vec<Vec<u8>>) {
            if e.name == "CipherValue" {
                out.push(crate::xml::unb64(&e.text).unwrap());
            }
            e.children.iter().for_each(|c| walk(c, out));
        }
        walk(&root, &mut out);
        out
    }

    #[test]
    fn gcm_round_trips_with_the_private_key() {
        // XML Encryption 1.1 §5.2.4 layout: IV (12) || ciphertext || tag (16)
        let (cert, key) = cert_and_key();
        let xml = encrypt_element(b"<a>secret</a>", &cert, ContentCipher::Aes256Gcm).unwrap();
        assert!(!xml.contains("secret"));
        let v = values(&xml);
        let mut dec = openssl::encrypt::Decrypter::new(&key).unwrap();
        dec.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
        let mut ck = vec![0u8; dec.decrypt_len(&v[0]).unwrap()];
        let n = dec.decrypt(&v[0], &mut ck).unwrap();
        ck.truncate(n);
        let data = &v[1];
        let (iv, rest) = data.split_at(12);
        let (ct, tag) = rest.split_at(rest.len() - 16);
        let plain = decrypt_aead(Cipher::aes_256_gcm(), &ck, Some(iv), &[], ct, tag).unwrap();
        assert_eq!(plain, b"<a>secret</a>");
    }

    #[test]
    fn every_encryption_uses_a_fresh_key() {
        let (cert, _) = cert_and_key();
        let a = encrypt_element(b"<a/>", &cert, ContentCipher::Aes256Cbc).unwrap();
        let b = encrypt_element(b"<a/>", &cert, ContentCipher::Aes256Cbc).unwrap();
        assert_ne!(values(&a), values(&b));
    }
}
