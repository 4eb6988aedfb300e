//! The ELSTER certificate and the eID card inside a flow.
//!
//! Both leave the main listener: the certificate is asked for by a separate TLS listener (the
//! browser's cookies may not reach it), the card is read by the user's eID client talking to the
//! eID-Server. What they establish is parked in the flow (which only its 256-bit id opens) and taken
//! up when the browser comes back to the main listener with its cookies; only there does it touch
//! a session.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use konto_authn::Verified;
use konto_authn::eid::{EidError, check_refresh_query};
use konto_store::SessionRecord;
use url::Url;

use super::flow::{Flow, Pending};
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
            .map_err(|e| ServiceError::Certificate(e.code().to_owned()))?;
        Ok(identity.into_verified(now))
    }

    /// Parks a certificate result (or its refusal) in the flow, from the certificate listener.
    pub async fn park_certificate(
        &self,
        flow_id: &str,
        chain: &[Vec<u8>],
    ) -> Result<(), ServiceError> {
        let mut flow = self.load_flow_unbound(flow_id).await?;
        match self.certificate(chain) {
            Ok(verified) => {
                flow.state.pending = Some(Pending::CertResult { verified });
                flow.state.notice = None;
            }
            Err(ServiceError::Certificate(code)) => {
                flow.state.notice = Some(format!("cert_error:{code}"));
            }
            Err(e) => return Err(e),
        }
        self.save_state(&flow).await
    }

    /// Takes up a parked certificate result on the main listener.
    pub async fn take_certificate(
        &self,
        flow: &mut Flow,
        session: Option<&SessionRecord>,
    ) -> Result<AuthStep, ServiceError> {
        match flow.state.pending.take() {
            Some(Pending::CertResult { verified }) => {
                self.verified_login(flow, session, verified).await
            }
            other => {
                flow.state.pending = other;
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
        flow.state.pending = Some(Pending::Eid { session });
        flow.state.notice = None;
        self.save_state(flow).await?;
        Ok(eid.client_url(tc_token_url))
    }

    /// The TCToken for the eID client (fetched without the browser's cookies).
    pub async fn eid_tc_token(
        &self,
        flow_id: &str,
        refresh: &Url,
        error: Option<&Url>,
    ) -> Result<String, ServiceError> {
        let eid = self.s.eid.as_ref().ok_or(ServiceError::NotAvailable)?;
        let flow = self.load_flow_unbound(flow_id).await?;
        match &flow.state.pending {
            Some(Pending::Eid { session }) => Ok(eid.tc_token(session, refresh, error)),
            _ => Err(ServiceError::FlowNotFound),
        }
    }

    /// The browser is back from the eID client: fetch the result and sign in with it.
    pub async fn eid_finish(
        &self,
        flow: &mut Flow,
        session: Option<&SessionRecord>,
        query: Option<&str>,
    ) -> Result<AuthStep, ServiceError> {
        let eid = self.s.eid.as_ref().ok_or(ServiceError::NotAvailable)?;
        let Some(Pending::Eid {
            session: eid_session,
        }) = flow.state.pending.take()
        else {
            return Err(ServiceError::Invalid("no eID login in progress".into()));
        };
        // the eID session is used once, whatever happens
        self.save_state(flow).await?;
        let outcome = match check_refresh_query(query) {
            Ok(()) => eid.result(&eid_session, self.now()).await,
            Err(e @ EidError::Cancelled) => Err(e),
            // The eID client reports only that something failed (an expired card looks like a
            // server error to it); the eID-Server knows why. Its answer is taken as the reason,
            // never as an identity: the client said the reading failed.
            Err(e) => match eid.result(&eid_session, self.now()).await {
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
