//! eID-Server sessions in memory.
//!
//! Policy: at most [`MAX_SESSIONS`] sessions, each living at most [`SESSION_TTL`]; a session is
//! answered once (a final getResult deletes it, as TR-03130-1 says for `invalidSession`), and
//! the eID client may bind a choice to it only once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::identities::Choice;

const MAX_SESSIONS: usize = 1000;
const SESSION_TTL: Duration = Duration::from_secs(30 * 60);

#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) psk_id: String,
    pub(crate) psk_key: String,
    /// `UseOperations` as requested: name → `REQUIRED` / `ALLOWED` / `PROHIBITED`.
    pub(crate) operations: HashMap<String, String>,
    pub(crate) choice: Option<Choice>,
    pub(crate) last_counter: i64,
    created: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_id: HashMap<String, Session>,
    /// PSK ID (the TCToken's SessionIdentifier) → session id.
    by_psk: HashMap<String, String>,
}

/// Why a session could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooMany;

/// Why the eID client could not bind its choice.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BindError {
    UnknownSession,
    WrongKey,
    AlreadyUsed,
}

impl Sessions {
    pub(crate) fn open(
        &mut self,
        session_id: String,
        psk_id: String,
        psk_key: String,
        operations: HashMap<String, String>,
    ) -> Result<(), TooMany> {
        self.expire();
        if self.by_id.len() >= MAX_SESSIONS {
            return Err(TooMany);
        }
        self.by_psk.insert(psk_id.clone(), session_id.clone());
        self.by_id.insert(
            session_id,
            Session {
                psk_id,
                psk_key,
                operations,
                choice: None,
                last_counter: 0,
                created: Instant::now(),
            },
        );
        Ok(())
    }

    /// The eID client presents the TCToken's SessionIdentifier and PSK.
    pub(crate) fn bind(
        &mut self,
        psk_id: &str,
        psk_key: &str,
        choice: Choice,
    ) -> Result<(), BindError> {
        self.expire();
        let id = self.by_psk.get(psk_id).ok_or(BindError::UnknownSession)?;
        let session = self.by_id.get_mut(id).ok_or(BindError::UnknownSession)?;
        if !session.psk_key.eq_ignore_ascii_case(psk_key) {
            return Err(BindError::WrongKey);
        }
        if session.choice.is_some() {
            return Err(BindError::AlreadyUsed);
        }
        session.choice = Some(choice);
        Ok(())
    }

    pub(crate) fn get_mut(&mut self, session_id: &str) -> Option<&mut Session> {
        self.expire();
        self.by_id.get_mut(session_id)
    }

    pub(crate) fn remove(&mut self, session_id: &str) {
        if let Some(session) = self.by_id.remove(session_id) {
            self.by_psk.remove(&session.psk_id);
        }
    }

    fn expire(&mut self) {
        let now = Instant::now();
        let by_psk = &mut self.by_psk;
        self.by_id.retain(|_, s| {
            let keep = now.duration_since(s.created) < SESSION_TTL;
            if !keep {
                by_psk.remove(&s.psk_id);
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identities::CHOICES;

    #[test]
    fn a_session_is_bound_once_with_the_right_key() {
        let mut sessions = Sessions::default();
        sessions
            .open("s1".into(), "p1".into(), "ABCD".into(), HashMap::new())
            .unwrap();
        let choice = CHOICES[0];
        assert_eq!(
            sessions.bind("p2", "abcd", choice),
            Err(BindError::UnknownSession)
        );
        assert_eq!(
            sessions.bind("p1", "abce", choice),
            Err(BindError::WrongKey)
        );
        assert_eq!(sessions.bind("p1", "abcd", choice), Ok(()));
        assert_eq!(
            sessions.bind("p1", "abcd", choice),
            Err(BindError::AlreadyUsed)
        );
        assert_eq!(sessions.get_mut("s1").unwrap().choice, Some(choice));
        sessions.remove("s1");
        assert!(sessions.get_mut("s1").is_none());
        assert_eq!(
            sessions.bind("p1", "abcd", choice),
            Err(BindError::UnknownSession)
        );
    }

    #[test]
    fn the_number_of_sessions_is_bounded() {
        let mut sessions = Sessions::default();
        for i in 0..MAX_SESSIONS {
            sessions
                .open(
                    format!("s{i}"),
                    format!("p{i}"),
                    "00".into(),
                    HashMap::new(),
                )
                .unwrap();
        }
        assert_eq!(
            sessions.open("x".into(), "y".into(), "00".into(), HashMap::new()),
            Err(TooMany)
        );
    }
}
