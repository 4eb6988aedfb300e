//! Which level a browser session still carries at a given moment.
//!
//! A session records every authentication that happened in it (kind, level, time) and when it was
//! last used. Its level decays: for each level the limits of TR-03160-1 apply (max session age,
//! max idle; [`Level::session_limits`]), measured from the most recent authentication at or above
//! that level. A session stepped up to `high` ten minutes ago serves a `basic` client for twelve
//! hours but a `high` client only for twenty more minutes. Single sign-on reuses a session only while
//! it is within the limits of the level the client asks for.
//!
//! The same limits bound what a grant vouches for when its tokens are refreshed
//! ([`level_of_grant`]). A refresh is not the user's presence (the relying party refreshes, the
//! person may be long gone), so the idle limits count from the last moment the person was there:
//! when the code was issued. The maximum ages count from the authentication (`auth_time`). An
//! eID login thus lets refreshed tokens say `high` for 5 minutes, `substantial` until 30 minutes,
//! `low` until an hour, and then `basic` — the floor, which only says that the account holder
//! signed in, for as long as the refresh token lives (its lifetime is 12 hours, basic's maximum
//! session, unless the person granted `offline_access`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Level;
use crate::amr::{MethodUsed, amr_values};

/// One authentication in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthEvent {
    pub method: MethodUsed,
    pub level: Level,
    #[serde(with = "time::serde::timestamp")]
    pub at: OffsetDateTime,
}

/// The authentication state of a browser session, without its identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAuth {
    pub events: Vec<AuthEvent>,
    #[serde(with = "time::serde::timestamp")]
    pub last_active: OffsetDateTime,
}

/// What a session can vouch for right now, for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStanding {
    /// The highest level the session still holds.
    pub level: Level,
    /// When the latest authentication at or above `level` happened (OIDC `auth_time`).
    pub auth_time: OffsetDateTime,
    /// RFC 8176 values of the authentications still alive.
    pub amr: Vec<&'static str>,
}

/// How recent an authentication must be for account changes that matter — adding or removing
/// an authenticator, deleting the account (OWASP ASVS 4.0 V3.7.1: re-authenticate before
/// sensitive changes): a session left open on a shared computer must not be enough.
pub const RECENT_AUTHENTICATION: Duration = Duration::from_secs(10 * 60);

fn within(now: OffsetDateTime, since: OffsetDateTime, limit: Duration) -> bool {
    let age = now - since;
    age.is_negative() || age.unsigned_abs() <= limit
}

impl SessionAuth {
    pub fn new(event: AuthEvent) -> Self {
        SessionAuth {
            last_active: event.at,
            events: vec![event],
        }
    }

    /// Adds an authentication (a step-up or a second factor).
    pub fn record(&mut self, event: AuthEvent) {
        self.last_active = self.last_active.max(event.at);
        self.events.push(event);
    }

    /// The most recent authentication at or above `level`.
    fn latest_at_least(&self, level: Level) -> Option<&AuthEvent> {
        self.events
            .iter()
            .filter(|e| e.level >= level)
            .max_by_key(|e| e.at)
    }

    /// Whether the session still holds `level` at `now`.
    pub fn holds(&self, level: Level, now: OffsetDateTime) -> bool {
        let limits = level.session_limits();
        if !within(now, self.last_active, limits.max_idle) {
            return false;
        }
        self.latest_at_least(level)
            .is_some_and(|e| within(now, e.at, limits.max_session))
    }

    /// The highest level the session holds at `now`; `None` when it is over.
    pub fn level_at(&self, now: OffsetDateTime) -> Option<Level> {
        Level::ALL.into_iter().rev().find(|l| self.holds(*l, now))
    }

    /// The standing of the session at `now`, if it still lives.
    pub fn standing(&self, now: OffsetDateTime) -> Option<SessionStanding> {
        let level = self.level_at(now)?;
        let auth_time = self.latest_at_least(level)?.at;
        let alive: Vec<MethodUsed> = self
            .events
            .iter()
            .filter(|e| within(now, e.at, e.level.session_limits().max_session))
            .map(|e| e.method)
            .collect();
        Some(SessionStanding {
            level,
            auth_time,
            amr: amr_values(&alive),
        })
    }

    /// Whether this session may answer a request for `required` without a new login:
    /// it holds that level and, with `max_age` (OIDC Core §3.1.2.1), authenticated recently enough.
    pub fn satisfies(
        &self,
        required: Level,
        max_age: Option<Duration>,
        now: OffsetDateTime,
    ) -> bool {
        if !self.holds(required, now) {
            return false;
        }
        match max_age {
            None => true,
            Some(max_age) => self
                .latest_at_least(required)
                .is_some_and(|e| within(now, e.at, max_age)),
        }
    }

    /// Whether the user authenticated (with any authenticator) within `window` before `now`:
    /// account changes that matter ask for this, not merely for a live session
    /// ([`RECENT_AUTHENTICATION`]).
    pub fn authenticated_within(&self, window: Duration, now: OffsetDateTime) -> bool {
        self.events.iter().any(|e| within(now, e.at, window))
    }

    /// The last moment at which the session could still hold any level; the row may be purged after.
    pub fn expires_at(&self) -> OffsetDateTime {
        let mut latest = OffsetDateTime::UNIX_EPOCH;
        for level in Level::ALL {
            let limits = level.session_limits();
            if let Some(e) = self.latest_at_least(level) {
                let by_age = e.at + limits.max_session;
                let by_idle = self.last_active + limits.max_idle;
                latest = latest.max(by_age.min(by_idle));
            }
        }
        latest
    }
}

/// The level a grant still vouches for at `now`: the highest level up to the login's `level`
/// whose limits hold, with the maximum age counted from `auth_time` and the idle time from
/// `present_at`, the last moment the person was there (the code's issue); `basic` at the least.
pub fn level_of_grant(
    level: Level,
    auth_time: OffsetDateTime,
    present_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Level {
    Level::ALL
        .into_iter()
        .rev()
        .filter(|l| *l <= level)
        .find(|l| {
            let limits = l.session_limits();
            within(now, auth_time, limits.max_session) && within(now, present_at, limits.max_idle)
        })
        .unwrap_or(Level::Basic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amr::AuthenticatorKind;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-28 10:00 UTC);

    fn event(kind: AuthenticatorKind, level: Level, at: OffsetDateTime) -> AuthEvent {
        AuthEvent {
            method: MethodUsed {
                kind,
                user_verified: false,
            },
            level,
            at,
        }
    }

    fn mins(m: i64) -> time::Duration {
        time::Duration::minutes(m)
    }

    #[test]
    fn recent_authentication_is_any_authentication_in_the_window() {
        let mut auth = SessionAuth::new(event(AuthenticatorKind::Password, Level::Basic, T0));
        assert!(auth.authenticated_within(RECENT_AUTHENTICATION, T0 + mins(10)));
        assert!(!auth.authenticated_within(RECENT_AUTHENTICATION, T0 + mins(11)));
        // still signed in at basic, but not recently: the session's use does not count
        auth.last_active = T0 + mins(30);
        assert!(auth.holds(Level::Basic, T0 + mins(31)));
        assert!(!auth.authenticated_within(RECENT_AUTHENTICATION, T0 + mins(31)));
        auth.record(event(
            AuthenticatorKind::Password,
            Level::Basic,
            T0 + mins(31),
        ));
        assert!(auth.authenticated_within(RECENT_AUTHENTICATION, T0 + mins(32)));
    }

    #[test]
    fn basic_session_lives_twelve_hours_with_activity() {
        let mut s = SessionAuth::new(event(AuthenticatorKind::Password, Level::Basic, T0));
        for hour in 1..12 {
            let now = T0 + time::Duration::hours(hour);
            s.last_active = now - mins(30);
            assert_eq!(s.level_at(now), Some(Level::Basic), "hour {hour}");
        }
        s.last_active = T0 + time::Duration::hours(12);
        assert_eq!(s.level_at(T0 + time::Duration::hours(12) + mins(1)), None);
    }

    #[test]
    fn basic_session_ends_after_an_idle_hour() {
        let s = SessionAuth::new(event(AuthenticatorKind::Password, Level::Basic, T0));
        assert!(s.holds(Level::Basic, T0 + mins(60)));
        assert!(!s.holds(Level::Basic, T0 + mins(61)));
    }

    #[test]
    fn high_decays_to_basic() {
        let mut s = SessionAuth::new(event(AuthenticatorKind::Password, Level::Basic, T0));
        s.record(event(AuthenticatorKind::Eid, Level::High, T0 + mins(10)));
        assert_eq!(s.level_at(T0 + mins(12)), Some(Level::High));
        // idle for more than 5 minutes: no longer high, still substantial (30 min idle).
        assert_eq!(s.level_at(T0 + mins(16)), Some(Level::Substantial));
        // idle for more than 30 minutes: the eID login still counts at low (60 min idle);
        // the password login alone would only give basic.
        assert_eq!(s.level_at(T0 + mins(41)), Some(Level::Low));
        let st = s.standing(T0 + mins(41)).unwrap();
        assert_eq!(st.auth_time, T0 + mins(10));
    }

    #[test]
    fn high_session_limit_is_thirty_minutes_even_when_active() {
        let mut s = SessionAuth::new(event(AuthenticatorKind::Eid, Level::High, T0));
        s.last_active = T0 + mins(29);
        assert!(s.holds(Level::High, T0 + mins(30)));
        s.last_active = T0 + mins(31);
        assert!(!s.holds(Level::High, T0 + mins(31)));
        assert!(s.holds(Level::Substantial, T0 + mins(31)));
    }

    #[test]
    fn max_age_forces_a_fresh_login() {
        let s = SessionAuth::new(event(AuthenticatorKind::Password, Level::Basic, T0));
        let now = T0 + mins(5);
        assert!(s.satisfies(Level::Basic, Some(Duration::from_secs(600)), now));
        assert!(!s.satisfies(Level::Basic, Some(Duration::from_secs(60)), now));
        assert!(!s.satisfies(Level::Substantial, None, now));
    }

    #[test]
    fn expiry_is_the_latest_level_end() {
        let s = SessionAuth::new(event(AuthenticatorKind::Eid, Level::High, T0));
        // basic: min(T0+12h, T0+60min idle) = T0+60min
        assert_eq!(s.expires_at(), T0 + mins(60));
    }

    /// Issue 6 hole 5: what a refreshed grant vouches for decays like an idle session.
    #[test]
    fn grants_decay_from_the_login_and_the_last_presence() {
        let level = |login: Level, present: i64, now: i64| {
            level_of_grant(login, T0, T0 + mins(present), T0 + mins(now))
        };
        assert_eq!(level(Level::High, 0, 5), Level::High);
        assert_eq!(level(Level::High, 0, 6), Level::Substantial);
        assert_eq!(level(Level::High, 0, 31), Level::Low);
        assert_eq!(level(Level::High, 0, 61), Level::Basic);
        assert_eq!(
            level(Level::High, 0, 30 * 24 * 60),
            Level::Basic,
            "basic is the floor"
        );
        // the maximum age counts from the login: a code issued 28 minutes after an eID login
        // (single sign-on) says high for two more minutes only
        assert_eq!(level(Level::High, 28, 30), Level::High);
        assert_eq!(level(Level::High, 28, 31), Level::Substantial);
        assert_eq!(level(Level::Substantial, 0, 29), Level::Substantial);
        assert_eq!(level(Level::Substantial, 0, 31), Level::Low);
        assert_eq!(level(Level::Basic, 0, 11 * 60), Level::Basic);
        assert_eq!(level(Level::Low, 0, 1), Level::Low, "never above the login");
    }

    #[test]
    fn amr_reports_step_up() {
        let mut s = SessionAuth::new(event(AuthenticatorKind::Password, Level::Basic, T0));
        s.record(event(
            AuthenticatorKind::Elster,
            Level::Substantial,
            T0 + mins(1),
        ));
        let st = s.standing(T0 + mins(2)).unwrap();
        assert_eq!(st.level, Level::Substantial);
        assert_eq!(st.amr, vec!["mfa", "pwd", "swk"]);
    }
}
