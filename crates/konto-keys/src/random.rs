//! Randomness from the operating system (getrandom) for secrets and identifiers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use konto_core::secret::Secret;

/// The operating system refused to give randomness: konto cannot work safely and must not go on
/// with a weaker source.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the operating system provides no randomness")]
pub struct NoRandomness;

pub fn bytes<const N: usize>() -> Result<[u8; N], NoRandomness> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|_| NoRandomness)?;
    Ok(buf)
}

/// A new 256-bit secret (codes, tokens, session and flow ids).
pub fn secret() -> Result<Secret, NoRandomness> {
    Ok(Secret::from_random(bytes::<32>()?))
}

/// A new 128-bit identifier, base64url: 22 characters.
pub fn id() -> Result<String, NoRandomness> {
    Ok(URL_SAFE_NO_PAD.encode(bytes::<16>()?))
}

/// A random version-4 UUID in its hyphenated form (account ids, postbox handles).
pub fn uuid() -> Result<String, NoRandomness> {
    let mut b = bytes::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        assert_eq!(super::secret().unwrap().expose().len(), 43);
        assert_eq!(super::id().unwrap().len(), 22);
        let u = super::uuid().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(super::id().unwrap(), super::id().unwrap());
    }
}
