//! PEM blocks, read leniently about layout: the base64 body may be wrapped at any width, sit on
//! one line, or carry spaces where a proxy replaced the newlines. Blocks of other labels and
//! text between blocks are ignored. Strictly bounded: never more than `max_blocks` blocks, never
//! more than `max_bytes` decoded bytes per block.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Why PEM text could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PemError {
    TooManyBlocks,
    TooLarge,
    /// A block without its END line, or a body that is not base64.
    Invalid,
}

/// Whether `text` looks like PEM at all (so that DER input can be told apart).
pub(super) fn is_pem(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes[start..].starts_with(b"-----BEGIN ")
}

/// The decoded bodies of all `-----BEGIN <label>-----` blocks in `text`, in order.
pub(super) fn decode_blocks(
    text: &str,
    label: &str,
    max_blocks: usize,
    max_bytes: usize,
) -> Result<Vec<Vec<u8>>, PemError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let after_begin = &rest[start + begin.len()..];
        let stop = after_begin.find(&end).ok_or(PemError::Invalid)?;
        if blocks.len() == max_blocks {
            return Err(PemError::TooManyBlocks);
        }
        let body = &after_begin[..stop];
        // base64 grows by 4/3; a longer body cannot decode to at most max_bytes.
        if body.len() > max_bytes.saturating_mul(2).saturating_add(1024) {
            return Err(PemError::TooLarge);
        }
        let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = STANDARD.decode(compact).map_err(|_| PemError::Invalid)?;
        if der.len() > max_bytes {
            return Err(PemError::TooLarge);
        }
        blocks.push(der);
        rest = &after_begin[stop + end.len()..];
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrapped_one_line_and_space_separated_bodies() {
        let wrapped = "junk\n-----BEGIN CERTIFICATE-----\nAQID\nBA==\n-----END CERTIFICATE-----\n";
        let one_line = "-----BEGIN CERTIFICATE-----AQIDBA==-----END CERTIFICATE-----";
        let spaced = "-----BEGIN CERTIFICATE----- AQID BA== -----END CERTIFICATE-----";
        for text in [wrapped, one_line, spaced] {
            assert_eq!(
                decode_blocks(text, "CERTIFICATE", 4, 100),
                Ok(vec![vec![1, 2, 3, 4]])
            );
        }
    }

    #[test]
    fn bounds_and_errors() {
        let block = "-----BEGIN CERTIFICATE-----AQIDBA==-----END CERTIFICATE-----";
        let three = block.repeat(3);
        assert_eq!(
            decode_blocks(&three, "CERTIFICATE", 2, 100),
            Err(PemError::TooManyBlocks)
        );
        assert_eq!(
            decode_blocks(block, "CERTIFICATE", 2, 3),
            Err(PemError::TooLarge)
        );
        assert_eq!(
            decode_blocks("-----BEGIN CERTIFICATE-----AQID", "CERTIFICATE", 2, 100),
            Err(PemError::Invalid)
        );
        assert_eq!(
            decode_blocks(
                "-----BEGIN CERTIFICATE-----!!-----END CERTIFICATE-----",
                "CERTIFICATE",
                2,
                100
            ),
            Err(PemError::Invalid)
        );
        assert_eq!(
            decode_blocks(
                "-----BEGIN X509 CRL-----AQID-----END X509 CRL-----",
                "CERTIFICATE",
                2,
                100
            ),
            Ok(vec![])
        );
        assert!(is_pem(b"\n -----BEGIN X509 CRL-----"));
        assert!(!is_pem(&[0x30, 0x82]));
    }
}
