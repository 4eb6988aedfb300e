//! Growing delays after failed logins, without a hard lockout.
//!
//! A lockout lets an attacker lock a victim out by failing on purpose; a delay that doubles with
//! each failure up to a cap slows online guessing to a crawl while the real user, who needs a few
//! tries at most, barely notices (NIST SP 800-63B §5.2.2 "rate limiting"). konto throttles per
//! account name and per source address, each with its own free attempts and cap. The account key is
//! throttled whether the account exists or not, so the delay reveals nothing.
//!
//! Counting is atomic: the store adds each failure in one statement, so parallel failures all
//! count. An attempt also takes its place in the account's count before the password is hashed,
//! and only if nobody counted since it looked ([`ThrottleState::effective_failures`]): of many
//! attempts that all looked at once, no more than the free failures are tried; the others wait as
//! if they had come one after the other. An attempt that has to wait is never counted, so a flood
//! of refused attempts does not lengthen the owner's wait beyond the cap; a successful login
//! clears the account's count.
//!
//! Requests that cost a hash or send a mail to any address (registration, password reset) are
//! throttled the same way, per source address and per target address: every request that gets
//! through counts. An attacker who keeps a victim's address at its cap has each of his own
//! requests mail the victim a working link, so the victim is delayed, never shut out.

use std::time::Duration;

use time::OffsetDateTime;

/// The parameters of one throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed without any delay.
    pub free_failures: u32,
    /// The first delay; each further failure doubles it.
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// Failures older than this are forgotten.
    pub forget_after: Duration,
}

impl ThrottlePolicy {
    /// Per account name: 5 free attempts, then 1 s, 2 s, 4 s … up to 5 minutes.
    pub const ACCOUNT: ThrottlePolicy = ThrottlePolicy {
        free_failures: 5,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(300),
        forget_after: Duration::from_secs(24 * 3600),
    };

    /// Per source address: 20 free attempts (shared networks), then up to 15 minutes.
    pub const SOURCE: ThrottlePolicy = ThrottlePolicy {
        free_failures: 20,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(900),
        forget_after: Duration::from_secs(24 * 3600),
    };

    /// Per source address, for registrations and reset requests (each costs a password hash or
    /// a mail): 20 free requests, then up to 15 minutes; forgotten after a quiet hour.
    pub const REQUEST_SOURCE: ThrottlePolicy = ThrottlePolicy {
        free_failures: 20,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(900),
        forget_after: Duration::from_secs(3600),
    };

    /// Per e-mail address that konto is asked to write to: 3 mails, then 30 s, 1 min … up to
    /// 15 minutes.
    pub const MAIL_TARGET: ThrottlePolicy = ThrottlePolicy {
        free_failures: 3,
        base_delay: Duration::from_secs(30),
        max_delay: Duration::from_secs(900),
        forget_after: Duration::from_secs(24 * 3600),
    };

    /// The delay that follows `failures` failures.
    pub fn delay_after(&self, failures: u32) -> Duration {
        if failures < self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures).min(30);
        self.base_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay)
    }
}

/// The failures recorded for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleState {
    pub failures: u32,
    pub last_failure: OffsetDateTime,
}

impl ThrottleState {
    /// When the next attempt is allowed; `None` if it is allowed now.
    pub fn retry_at(&self, policy: &ThrottlePolicy, now: OffsetDateTime) -> Option<OffsetDateTime> {
        if now - self.last_failure > policy.forget_after {
            return None;
        }
        let at = self.last_failure + policy.delay_after(self.failures);
        (at > now).then_some(at)
    }

    /// The failures that still count at `now` (none once they are forgotten).
    pub fn effective_failures(&self, policy: &ThrottlePolicy, now: OffsetDateTime) -> u32 {
        if now - self.last_failure > policy.forget_after {
            0
        } else {
            self.failures
        }
    }

    /// The state after one more failure at `now`.
    pub fn after_failure(
        prev: Option<ThrottleState>,
        policy: &ThrottlePolicy,
        now: OffsetDateTime,
    ) -> ThrottleState {
        let failures = prev.map_or(0, |p| p.effective_failures(policy, now));
        ThrottleState {
            failures: failures.saturating_add(1),
            last_failure: prev.map_or(now, |p| p.last_failure.max(now)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn delays_grow_and_are_capped() {
        let p = ThrottlePolicy::ACCOUNT;
        assert_eq!(p.delay_after(4), Duration::ZERO);
        assert_eq!(p.delay_after(5), Duration::from_secs(1));
        assert_eq!(p.delay_after(6), Duration::from_secs(2));
        assert_eq!(p.delay_after(9), Duration::from_secs(16));
        assert_eq!(p.delay_after(100), Duration::from_secs(300));
        assert_eq!(p.delay_after(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn there_is_no_lockout() {
        let p = ThrottlePolicy::ACCOUNT;
        let t0 = datetime!(2026-11-28 10:00 UTC);
        let mut state = None;
        for _ in 0..1000 {
            state = Some(ThrottleState::after_failure(state, &p, t0));
        }
        let s = state.unwrap();
        assert_eq!(s.retry_at(&p, t0), Some(t0 + time::Duration::seconds(300)));
        assert_eq!(s.retry_at(&p, t0 + time::Duration::seconds(301)), None);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let p = ThrottlePolicy::ACCOUNT;
        let t0 = datetime!(2026-11-28 10:00 UTC);
        let s = ThrottleState {
            failures: 50,
            last_failure: t0,
        };
        let later = t0 + time::Duration::days(2);
        assert_eq!(ThrottleState::after_failure(Some(s), &p, later).failures, 1);
    }
}
