//! Flows in the store, bound to the browser that started them.

use konto_authn::Verified;
use konto_authn::passkey::PendingAuthentication;
use konto_core::Level;
use konto_core::attributes::Attribute;
use konto_core::login::LoginRequest;
use konto_core::secret::{Secret, SecretPurpose};
use konto_keys::random;
use konto_store::{FlowRecord, SessionRecord};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::LoginService;
use crate::error::ServiceError;

/// An identity kept for a temporary login (OZG §8(5)): only in the flow, then in the grant,
/// gone with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemporaryLogin {
    pub login_id: String,
    pub attributes: Vec<Attribute>,
    pub level: Level,
    pub amr: Vec<String>,
    #[serde(with = "time::serde::timestamp")]
    pub at: OffsetDateTime,
}

/// A step that waits for the browser.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pending {
    /// The password was right; the passkey must follow before the session exists.
    SecondFactor {
        user_id: String,
        passkey: Option<PendingAuthentication>,
    },
    /// A passkey challenge for a named account (login without password).
    Passkey { passkey: PendingAuthentication },
    /// An eID session in progress (the eID client is talking to the eID-Server).
    Eid {
        session: konto_authn::eid::EidSession,
        /// The hash of the one-time value in the TCToken's refresh address, set when the eID
        /// client fetched the TCToken (which it may do once).
        #[serde(default)]
        refresh: Option<String>,
    },
    /// A verified identity (eID, ELSTER) that no account holds yet.
    Unlinked { verified: Verified },
    /// A certificate login on the certificate listener, waiting for the browser that presented
    /// the certificate to come back to the main listener (where its cookies are) with the
    /// one-time hand-off value (`handoff` is its hash).
    CertResult {
        outcome: CertOutcome,
        handoff: String,
    },
    /// A challenge for the signed-challenge certificate login.
    CertChallenge { challenge: String },
}

/// What the certificate listener made of the certificate a browser presented.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CertOutcome {
    Verified {
        verified: Verified,
    },
    /// Valid, but it names an organisation (an organisation ELSTER certificate): it signs in
    /// no person, and creates the organisation it names on `/org/new`.
    Organisation {
        holder_id: String,
        organisation: konto_authn::cert::CertOrganisation,
    },
    /// Refused, with the validator's error code.
    Refused {
        code: String,
    },
}

/// Where a login stands.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FlowState {
    /// The user authenticated during this flow (satisfies `prompt=login` and `max_age`).
    #[serde(default)]
    pub authenticated_in_flow: bool,
    #[serde(default)]
    pub pending: Option<Pending>,
    #[serde(default)]
    pub temporary: Option<TemporaryLogin>,
    #[serde(default)]
    pub consented: bool,
    /// Something to tell the user on the next page (a linked authenticator, a refused one).
    #[serde(default)]
    pub notice: Option<String>,
    /// Whom the user chose to act for in this login (asked for with the `representation`
    /// scope).
    #[serde(default)]
    pub acting: Option<Acting>,
}

/// The choice on the "whom do you act for" page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "as", rename_all = "snake_case")]
pub enum Acting {
    Myself,
    For {
        representation: konto_core::representation::Representation,
    },
}

/// A loaded flow.
#[derive(Debug, Clone)]
pub struct Flow {
    pub record: FlowRecord,
    pub request: LoginRequest,
    pub state: FlowState,
    /// Whether the flow is in the store yet (a request answered at once never is).
    pub stored: bool,
}

impl Flow {
    /// The protocol's parameters, as the protocol stored them.
    pub fn protocol(&self) -> &str {
        &self.record.protocol
    }
}

impl LoginService {
    /// A new flow for `request`, in memory only: a request that can be answered at once (single
    /// sign-on, `prompt=none`) never touches the store. `skip_consent` is for konto's own pages
    /// (the account), which release nothing to anyone.
    pub fn prepare_flow(
        &self,
        request: &LoginRequest,
        protocol: String,
        skip_consent: bool,
    ) -> Result<Flow, ServiceError> {
        let now = self.now();
        let state = FlowState {
            consented: skip_consent,
            ..FlowState::default()
        };
        let placeholder = self.s.hasher.hash(SecretPurpose::Flow, "");
        Ok(Flow {
            record: FlowRecord {
                id_hash: placeholder.clone(),
                binding_hash: placeholder,
                request: serde_json::to_string(request)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
                protocol,
                state: String::new(),
                created_at: now,
                expires_at: now + self.s.config.flow_ttl,
            },
            request: request.clone(),
            state,
            stored: false,
        })
    }

    /// Stores a prepared flow, bound to the browser's binding cookie; returns the flow id the
    /// browser carries.
    pub async fn persist_flow(
        &self,
        flow: &mut Flow,
        binding: &str,
    ) -> Result<Secret, ServiceError> {
        let id = random::secret()?;
        flow.record.id_hash = self.s.hasher.hash(SecretPurpose::Flow, id.expose());
        flow.record.binding_hash = self.s.hasher.hash(SecretPurpose::Binding, binding);
        flow.record.state = serde_json::to_string(&flow.state)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.s.store.create_flow(&flow.record).await?;
        flow.stored = true;
        Ok(id)
    }

    /// Stores a new flow for `request` at once (see [`LoginService::prepare_flow`]).
    pub async fn start_flow(
        &self,
        request: &LoginRequest,
        protocol: String,
        binding: &str,
        skip_consent: bool,
    ) -> Result<Secret, ServiceError> {
        let mut flow = self.prepare_flow(request, protocol, skip_consent)?;
        self.persist_flow(&mut flow, binding).await
    }

    /// Loads a live flow started by this browser.
    pub async fn load_flow(&self, id: &str, binding: Option<&str>) -> Result<Flow, ServiceError> {
        if id.is_empty() || id.len() > 64 {
            return Err(ServiceError::FlowNotFound);
        }
        let record = self
            .s
            .store
            .flow(&self.s.hasher.hash(SecretPurpose::Flow, id))
            .await?
            .ok_or(ServiceError::FlowNotFound)?;
        if !self.bound_to(&record, binding) {
            tracing::warn!("a login flow was continued from another browser");
            return Err(ServiceError::FlowNotFound);
        }
        if record.expires_at <= self.now() {
            return Err(ServiceError::FlowNotFound);
        }
        self.decode(record)
    }

    /// Whether the flow was started by the browser with this binding cookie.
    pub(crate) fn bound_to(&self, record: &FlowRecord, binding: Option<&str>) -> bool {
        binding.is_some_and(|b| {
            record
                .binding_hash
                .matches(&self.s.hasher.hash(SecretPurpose::Binding, b))
        })
    }

    /// Loads a flow by id alone, for the eID client's back channel (the tcToken fetch), which
    /// carries no browser cookies. Only the flow id, a 256-bit secret, authorises it.
    pub async fn load_flow_unbound(&self, id: &str) -> Result<Flow, ServiceError> {
        if id.is_empty() || id.len() > 64 {
            return Err(ServiceError::FlowNotFound);
        }
        let record = self
            .s
            .store
            .flow(&self.s.hasher.hash(SecretPurpose::Flow, id))
            .await?
            .ok_or(ServiceError::FlowNotFound)?;
        if record.expires_at <= self.now() {
            return Err(ServiceError::FlowNotFound);
        }
        self.decode(record)
    }

    fn decode(&self, record: FlowRecord) -> Result<Flow, ServiceError> {
        let request: LoginRequest = serde_json::from_str(&record.request)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let state: FlowState = serde_json::from_str(&record.state)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(Flow {
            record,
            request,
            state,
            stored: true,
        })
    }

    /// Writes the flow's state to the store, provided nobody changed it since this request
    /// loaded it (compare-and-set). A step that takes something one-time out of the flow — a
    /// challenge, a parked result, a hand-off value — therefore takes it exactly once, however
    /// many requests race for it: the losers get [`ServiceError::StepTaken`].
    pub async fn save_state(&self, flow: &mut Flow) -> Result<(), ServiceError> {
        let state = serde_json::to_string(&flow.state)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        if state == flow.record.state {
            return Ok(());
        }
        if !self
            .s
            .store
            .replace_flow_state(&flow.record.id_hash, &flow.record.state, &state)
            .await?
        {
            tracing::warn!("two requests raced for one step of a login flow");
            return Err(ServiceError::StepTaken);
        }
        flow.record.state = state;
        Ok(())
    }

    /// Ends a flow (after the protocol answered, or on error).
    pub async fn finish_flow(&self, flow: &Flow) -> Result<(), ServiceError> {
        if flow.stored {
            self.s.store.delete_flow(&flow.record.id_hash).await?;
        }
        Ok(())
    }

    /// Claims a flow for its completion: deletes it and says whether this call did, so that of
    /// parallel requests finishing one flow (a consent form sent twice) only one answers the
    /// client. A flow that was never stored (answered at once) belongs to its one request.
    pub async fn claim_flow(&self, flow: &Flow) -> Result<bool, ServiceError> {
        if !flow.stored {
            return Ok(true);
        }
        Ok(self.s.store.claim_flow(&flow.record.id_hash).await?)
    }

    /// Takes the one-time notice of a flow.
    pub async fn take_notice(&self, flow: &mut Flow) -> Result<Option<String>, ServiceError> {
        let notice = flow.state.notice.take();
        if notice.is_some() {
            self.save_state(flow).await?;
        }
        Ok(notice)
    }

    /// The browser session behind a session cookie, if it still holds any level.
    pub async fn session(
        &self,
        cookie: Option<&str>,
    ) -> Result<Option<SessionRecord>, ServiceError> {
        let Some(cookie) = cookie.filter(|c| !c.is_empty() && c.len() <= 64) else {
            return Ok(None);
        };
        let hash = self.s.hasher.hash(SecretPurpose::Session, cookie);
        let Some(session) = self.s.store.session_by_secret(&hash).await? else {
            return Ok(None);
        };
        let now = self.now();
        if session.auth.level_at(now).is_none() {
            return Ok(None);
        }
        Ok(Some(session))
    }

    /// Marks a session as used now: idle limits count from the last use.
    pub async fn touch(&self, session: &mut SessionRecord) -> Result<(), ServiceError> {
        let now = self.now();
        if session.auth.last_active >= now {
            return Ok(());
        }
        session.auth.last_active = now;
        session.expires_at = session.auth.expires_at();
        self.s
            .store
            .update_session(&session.id, &session.auth, session.expires_at)
            .await?;
        Ok(())
    }

    /// Ends a browser session.
    pub async fn end_session(&self, session: &SessionRecord) -> Result<(), ServiceError> {
        self.s.store.delete_session(&session.id).await?;
        Ok(())
    }
}
