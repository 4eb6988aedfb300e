//! The ELSTER certificate and the eID card inside a flow.
//!
//! Both leave the main listener: the certificate is asked for by a separate TLS listener (the
//! browser's cookies may not reach it), the card is read by the user's eID client talking to the
//! eID-Server. What they establish is parked in the flow and taken up when the browser comes back
//! to the main listener with its cookies; only there does it touch a session.
//!
//! A flow id alone never carries an identity across: the flow id is known to whoever started the
//! login, and may have been handed to someone else. Each hand-off therefore carries a one-time
//! value that only the browser which went through the outside step receives — the certificate
//! listener's redirect (`handoff`), the refresh address in the TCToken, which the eID client
//! fetches once (`r`) — and the result is taken up only when that value comes back **and** the
//! browser is the one that started the flow (its binding cookie). The value is spent on first
//! presentation, whoever presents it: a browser that carries it but did not start the login
//! destroys the result instead of receiving it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use konto_authn::Verified;
use konto_authn::cert::{CertError, CertIdentity};
use konto_authn::eid::{EidError, EidSession, check_refresh_query};
use konto_core::secret::{Secret, SecretHash, SecretPurpose};
use konto_keys::random;
use konto_store::SessionRecord;
use url::Url;

use super::flow::{CertOutcome, Flow, Pending};
use super::{AuthStep, LoginService};
use crate::error::ServiceError;

impl LoginService {
    /// Validates a certificate chain (leaf first) into a verified identity.
    pub fn certificate(&self, chain: &[Vec<u8>]) -> Result<Verified, ServiceError> {
        let validator = self
            .s
            .certificates
            .as_ref()
            .ok_or(ServiceError::NotAvailable)?;
        let now = self.now();
        let identity = validator
            .validate(chain, now)
            .and_then(CertIdentity::person)
            .map_err(|e| ServiceError::Certificate(e.code().to_owned()))?;
        Ok(identity.into_verified(now))
    }

    /// What a presented certificate chain (leaf first) is: a person's, an organisation's, or
    /// refused with the validator's code. What it is good for is decided by the flow it was
    /// presented in: a person's signs in, an organisation's creates its organisation.
    pub fn read_certificate(&self, chain: &[Vec<u8>]) -> Result<CertOutcome, ServiceError> {
        let validator = self
            .s
            .certificates
            .as_ref()
            .ok_or(ServiceError::NotAvailable)?;
        let now = self.now();
        Ok(match validator.validate(chain, now) {
            Ok(CertIdentity {
                holder_id,
                organisation: Some(organisation),
                ..
            }) => CertOutcome::Organisation {
                holder_id,
                organisation,
            },
            Ok(identity) => CertOutcome::Verified {
                verified: identity.into_verified(now),
            },
            Err(e) => CertOutcome::Refused {
                code: e.code().to_owned(),
            },
        })
    }

    /// Parks a certificate result (or its refusal) in the flow, from the certificate listener;
    /// returns the one-time hand-off value for the presenting browser's way back.
    pub async fn park_certificate(
        &self,
        flow_id: &str,
        chain: &[Vec<u8>],
    ) -> Result<Secret, ServiceError> {
        let mut flow = self.load_flow_unbound(flow_id).await?;
        let outcome = self.read_certificate(chain)?;
        let handoff = random::secret()?;
        flow.state.pending = Some(Pending::CertResult {
            outcome,
            handoff: self.handoff_hash(handoff.expose()),
        });
        self.save_state(&mut flow).await?;
        Ok(handoff)
    }

    fn handoff_hash(&self, value: &str) -> String {
        self.s
            .hasher
            .hash(SecretPurpose::Handoff, value)
            .as_str()
            .to_owned()
    }

    fn handoff_matches(&self, stored: &str, presented: &str) -> bool {
        !presented.is_empty()
            && presented.len() <= 64
            && SecretHash::from_stored(stored.to_owned())
                .matches(&self.s.hasher.hash(SecretPurpose::Handoff, presented))
    }

    /// The browser is back from the certificate listener with the hand-off value: spends it, and
    /// returns the flow with the certificate's outcome if this browser started the flow
    /// ([`ServiceError::ForeignBrowser`] otherwise — the outcome is gone either way). Without a
    /// matching hand-off the flow's own browser just sees its flow again (`None`).
    pub async fn claim_certificate(
        &self,
        flow_id: &str,
        handoff: Option<&str>,
        binding: Option<&str>,
    ) -> Result<(Flow, Option<CertOutcome>), ServiceError> {
        let mut flow = self.load_flow_unbound(flow_id).await?;
        let bound = self.bound_to(&flow.record, binding);
        let parked = match (&flow.state.pending, handoff) {
            (Some(Pending::CertResult { outcome, handoff }), Some(presented))
                if self.handoff_matches(handoff, presented) =>
            {
                Some(outcome.clone())
            }
            _ => None,
        };
        let Some(outcome) = parked else {
            return if bound {
                Ok((flow, None))
            } else {
                Err(ServiceError::FlowNotFound)
            };
        };
        flow.state.pending = None;
        self.save_state(&mut flow).await?;
        if !bound {
            tracing::warn!("a certificate login reached a browser that did not start it");
            return Err(ServiceError::ForeignBrowser);
        }
        Ok((flow, Some(outcome)))
    }

    /// Signs in with a certificate outcome taken up by [`LoginService::claim_certificate`].
    pub async fn certificate_outcome(
        &self,
        flow: &mut Flow,
        session: Option<&SessionRecord>,
        outcome: CertOutcome,
    ) -> Result<AuthStep, ServiceError> {
        match outcome {
            CertOutcome::Verified { verified } => {
                self.verified_login(flow, session, verified).await
            }
            CertOutcome::Organisation { .. } => {
                let code = CertError::OrganisationCertificate.code();
                flow.state.notice = Some(format!("cert_error:{code}"));
                self.save_state(flow).await?;
                Ok(AuthStep::Continue)
            }
            CertOutcome::Refused { code } => {
                flow.state.notice = Some(format!("cert_error:{code}"));
                self.save_state(flow).await?;
                Ok(AuthStep::Continue)
            }
        }
    }

    /// A challenge for a non-browser client to sign with its certificate's key.
    pub async fn certificate_challenge(&self, flow: &mut Flow) -> Result<String, ServiceError> {
        if self.s.certificates.is_none() {
            return Err(ServiceError::NotAvailable);
        }
        let challenge = URL_SAFE_NO_PAD.encode(konto_keys::random::bytes::<32>()?);
        flow.state.pending = Some(Pending::CertChallenge {
            challenge: challenge.clone(),
        });
        self.save_state(flow).await?;
        Ok(challenge)
    }

    /// Verifies a signed challenge and signs in with the certificate.
    pub async fn certificate_signed(
        &self,
        flow: &mut Flow,
        session: Option<&SessionRecord>,
        chain: &[Vec<u8>],
        signature: &[u8],
    ) -> Result<AuthStep, ServiceError> {
        let validator = self
            .s
            .certificates
            .as_ref()
            .ok_or(ServiceError::NotAvailable)?;
        let Some(Pending::CertChallenge { challenge }) = flow.state.pending.take() else {
            return Err(ServiceError::Invalid(
                "no certificate challenge in progress".into(),
            ));
        };
        // a challenge is answered once
        self.save_state(flow).await?;
        let now = self.now();
        let identity = validator
            .verify_challenge(chain, challenge.as_bytes(), signature, now)
            .and_then(CertIdentity::person)
            .map_err(|e| ServiceError::Certificate(e.code().to_owned()))?;
        self.verified_login(flow, session, identity.into_verified(now))
            .await
    }

    /// Starts an eID session at the eID-Server; returns where to send the browser (the local eID
    /// client, with konto's tcToken URL).
    pub async fn eid_start(
        &self,
        flow: &mut Flow,
        tc_token_url: &Url,
    ) -> Result<Url, ServiceError> {
        let eid = self.s.eid.as_ref().ok_or(ServiceError::NotAvailable)?;
        let session = eid
            .start()
            .await
            .map_err(|e| ServiceError::Eid(e.code().to_owned()))?;
        flow.state.pending = Some(Pending::Eid {
            session,
            refresh: None,
        });
        flow.state.notice = None;
        self.save_state(flow).await?;
        Ok(eid.client_url(tc_token_url))
    }

    /// The TCToken for the eID client (fetched without the browser's cookies), once per eID
    /// login: its refresh address is `refresh` with a one-time value `r` added, which only the
    /// eID client that fetched it (and so the browser it sends back) learns.
    pub async fn eid_tc_token(
        &self,
        flow_id: &str,
        refresh: &Url,
        error: Option<&Url>,
    ) -> Result<String, ServiceError> {
        let eid = self.s.eid.as_ref().ok_or(ServiceError::NotAvailable)?;
        let mut flow = self.load_flow_unbound(flow_id).await?;
        let Some(Pending::Eid {
            session,
            refresh: None,
        }) = flow.state.pending.clone()
        else {
            // no eID login in progress, or its TCToken was fetched already
            return Err(ServiceError::FlowNotFound);
        };
        let value = random::secret()?;
        let mut refresh = refresh.clone();
        refresh.query_pairs_mut().append_pair("r", value.expose());
        flow.state.pending = Some(Pending::Eid {
            session: session.clone(),
            refresh: Some(self.handoff_hash(value.expose())),
        });
        self.save_state(&mut flow).await?;
        Ok(eid.tc_token(&session, &refresh, error))
    }

    /// The browser is back from the eID client with the refresh address's one-time value:
    /// spends it, and returns the flow with its eID session if this browser started the flow
    /// ([`ServiceError::ForeignBrowser`] otherwise — the eID session is gone either way).
    pub async fn claim_eid_return(
        &self,
        flow_id: &str,
        value: Option<&str>,
        binding: Option<&str>,
    ) -> Result<(Flow, EidSession), ServiceError> {
        let mut flow = self.load_flow_unbound(flow_id).await?;
        let bound = self.bound_to(&flow.record, binding);
        let session = match (&flow.state.pending, value) {
            (
                Some(Pending::Eid {
                    session,
                    refresh: Some(stored),
                }),
                Some(presented),
            ) if self.handoff_matches(stored, presented) => session.clone(),
            _ if bound => {
                return Err(ServiceError::Invalid("no eID login in progress".into()));
            }
            _ => return Err(ServiceError::FlowNotFound),
        };
        // the eID session is used once, whatever happens
        flow.state.pending = None;
        self.save_state(&mut flow).await?;
        if !bound {
            tracing::warn!("an eID login reached a browser that did not start it");
            return Err(ServiceError::ForeignBrowser);
        }
        Ok((flow, session))
    }

    /// Fetches the result of an eID session claimed by [`LoginService::claim_eid_return`] and
    /// signs in with it.
    pub async fn eid_finish(
        &self,
        flow: &mut Flow,
        session: Option<&SessionRecord>,
        eid_session: &EidSession,
        query: Option<&str>,
    ) -> Result<AuthStep, ServiceError> {
        let eid = self.s.eid.as_ref().ok_or(ServiceError::NotAvailable)?;
        let outcome = match check_refresh_query(query) {
            Ok(()) => eid.result(eid_session, self.now()).await,
            Err(e @ EidError::Cancelled) => Err(e),
            // The eID client reports only that something failed (an expired card looks like a
            // server error to it); the eID-Server knows why. Its answer is taken as the reason,
            // never as an identity: the client said the reading failed.
            Err(e) => match eid.result(eid_session, self.now()).await {
                Err(reason) => Err(reason),
                Ok(_) => Err(e),
            },
        };
        match outcome {
            Ok(identity) => {
                self.verified_login(flow, session, identity.into_verified())
                    .await
            }
            Err(e) => {
                flow.state.notice = Some(format!("eid_error:{}", e.code()));
                self.save_state(flow).await?;
                Err(ServiceError::Eid(e.code().to_owned()))
            }
        }
    }
}
