//! Subject identifiers (OIDC Core §8).
//!
//! Pairwise by default: `sub = BASE64URL(HMAC-SHA256(key, "pairwise" | sector | account))`, 43
//! characters, so relying parties in different sectors cannot join their users. The sector is the
//! host of the client's redirect URIs, or the host of its `sector_identifier_uri` (§8.1), which a
//! client with redirect URIs on several hosts must register. `public` subjects are the account's
//! own stable public identifier.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SectorError {
    #[error("redirect URIs on several hosts need a sector_identifier_uri (OIDC Core §8.1)")]
    SeveralHosts,
    #[error("a client needs at least one redirect URI to derive its sector")]
    NoRedirectUri,
    #[error("sector_identifier_uri must be an https URL with a host")]
    BadSectorUri,
}

/// The sector of a client for pairwise identifiers.
pub fn sector_of(
    redirect_uris: &[Url],
    sector_identifier_uri: Option<&Url>,
) -> Result<String, SectorError> {
    if let Some(uri) = sector_identifier_uri {
        let host = uri.host_str().ok_or(SectorError::BadSectorUri)?;
        if uri.scheme() != "https" {
            return Err(SectorError::BadSectorUri);
        }
        return Ok(host.to_ascii_lowercase());
    }
    let mut hosts = redirect_uris
        .iter()
        .filter_map(|u| u.host_str().map(str::to_ascii_lowercase));
    let first = hosts.next().ok_or(SectorError::NoRedirectUri)?;
    if hosts.any(|h| h != first) {
        return Err(SectorError::SeveralHosts);
    }
    Ok(first)
}

fn keyed(key: &[u8], parts: &[&[u8]]) -> String {
    URL_SAFE_NO_PAD.encode(crate::secret::hmac_sha256(key, parts))
}

/// The pairwise subject of an account in a sector.
pub fn pairwise(key: &[u8], sector: &str, account_id: &str) -> String {
    keyed(
        key,
        &[b"pairwise", sector.as_bytes(), account_id.as_bytes()],
    )
}

/// The pairwise subject of a party in a sector: a person's is their account's; an
/// organisation's is derived from its id in its own namespace, so it never equals a person's.
pub fn pairwise_party(key: &[u8], sector: &str, party: &crate::representation::Party) -> String {
    match party {
        crate::representation::Party::Person(id) => pairwise(key, sector, id),
        crate::representation::Party::Organisation(id) => {
            keyed(key, &[b"pairwise-org", sector.as_bytes(), id.as_bytes()])
        }
    }
}

/// BundID's bPK2: a 256-bit pseudonym per service provider host, 43 base64url characters.
pub fn bpk2(key: &[u8], sp_host: &str, account_id: &str) -> String {
    keyed(
        key,
        &[
            b"bpk2",
            sp_host.to_ascii_lowercase().as_bytes(),
            account_id.as_bytes(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(v: &[&str]) -> Vec<Url> {
        v.iter().map(|u| Url::parse(u).unwrap()).collect()
    }

    #[test]
    fn sector_is_the_redirect_host() {
        let r = urls(&["https://rp.example/cb", "https://RP.example/other"]);
        assert_eq!(sector_of(&r, None), Ok("rp.example".into()));
    }

    #[test]
    fn several_hosts_need_a_sector_identifier() {
        let r = urls(&["https://a.example/cb", "https://b.example/cb"]);
        assert_eq!(sector_of(&r, None), Err(SectorError::SeveralHosts));
        let s = Url::parse("https://sector.example/uris.json").unwrap();
        assert_eq!(sector_of(&r, Some(&s)), Ok("sector.example".into()));
        let plain = Url::parse("http://sector.example/uris.json").unwrap();
        assert_eq!(sector_of(&r, Some(&plain)), Err(SectorError::BadSectorUri));
    }

    /// OIDC Core §8.1: different sectors, different subjects; same sector, same subject.
    #[test]
    fn pairwise_subjects_differ_per_sector() {
        let key = [7u8; 32];
        let a = pairwise(&key, "a.example", "user-1");
        assert_eq!(a.len(), 43);
        assert_eq!(a, pairwise(&key, "a.example", "user-1"));
        assert_ne!(a, pairwise(&key, "b.example", "user-1"));
        assert_ne!(a, pairwise(&key, "a.example", "user-2"));
        assert_ne!(a, bpk2(&key, "a.example", "user-1"));
        // length-prefixing keeps ("ab","c") and ("a","bc") apart
        assert_ne!(pairwise(&key, "ab", "c"), pairwise(&key, "a", "bc"));
    }
}
