//! Login throttling per account name and per source address (see `konto_core::throttle`).
//!
//! Account names are stored only as keyed hashes: people type passwords into the name field.
//! IPv6 sources are throttled per /64, the smallest block one subscriber usually holds.

use std::net::IpAddr;
use std::sync::Arc;

use konto_core::secret::{SecretHasher, SecretPurpose};
use konto_core::throttle::{ThrottlePolicy, ThrottleState};
use konto_store::{StoreResult, ThrottleRepo};
use time::OffsetDateTime;

pub struct Throttle {
    store: Arc<dyn ThrottleRepo>,
    hasher: SecretHasher,
    account: ThrottlePolicy,
    source: ThrottlePolicy,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").finish_non_exhaustive()
    }
}

impl Throttle {
    pub fn new(store: Arc<dyn ThrottleRepo>, hasher: SecretHasher) -> Throttle {
        Throttle {
            store,
            hasher,
            account: ThrottlePolicy::ACCOUNT,
            source: ThrottlePolicy::SOURCE,
        }
    }

    fn account_key(&self, account: &str) -> String {
        let normalised = account.trim().to_lowercase();
        format!(
            "acct:{}",
            self.hasher
                .hash(SecretPurpose::Throttle, &normalised)
                .as_str()
        )
    }

    fn source_key(source: IpAddr) -> String {
        match source {
            IpAddr::V4(v4) => format!("ip:{v4}"),
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return format!("ip:{v4}");
                }
                let s = v6.segments();
                format!("ip6:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        }
    }

    /// Looks at both throttles of a login attempt (one query).
    pub async fn check(
        &self,
        account: &str,
        source: IpAddr,
        now: OffsetDateTime,
    ) -> StoreResult<Check> {
        let (a, s) = self
            .store
            .throttle_pair(&self.account_key(account), &Self::source_key(source))
            .await?;
        let retry_at = a
            .and_then(|st| st.retry_at(&self.account, now))
            .max(s.and_then(|st| st.retry_at(&self.source, now)));
        Ok(Check {
            retry_at,
            account: a,
            source: s,
        })
    }

    /// Records a failed attempt (with the states `check` saw).
    pub async fn failed(
        &self,
        account: &str,
        source: IpAddr,
        seen: &Check,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let a = ThrottleState::after_failure(seen.account, &self.account, now);
        self.store
            .put_throttle(&self.account_key(account), &a)
            .await?;
        let s = ThrottleState::after_failure(seen.source, &self.source, now);
        self.store.put_throttle(&Self::source_key(source), &s).await
    }

    /// A successful login forgets the account's failures (the source's decay on their own).
    pub async fn succeeded(&self, account: &str, seen: &Check) -> StoreResult<()> {
        if seen.account.is_none() {
            return Ok(());
        }
        self.store.clear_throttle(&self.account_key(account)).await
    }

    /// Forgets an account's failures (after a password reset).
    pub async fn forget(&self, account: &str) -> StoreResult<()> {
        self.store.clear_throttle(&self.account_key(account)).await
    }
}

/// What `Throttle::check` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// The attempt must wait until then.
    pub retry_at: Option<OffsetDateTime>,
    pub account: Option<ThrottleState>,
    pub source: Option<ThrottleState>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_throttled_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Throttle::source_key(a), Throttle::source_key(b));
        assert_ne!(Throttle::source_key(a), Throttle::source_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(Throttle::source_key(mapped), "ip:192.0.2.1");
    }
}
