//! One call per step of a login: a step's input in, the next page or the finished answer out.
//!
//! [`LoginService::begin`] takes a validated request of any protocol, [`LoginService::step`]
//! every later step. Both decide with [`LoginService::next`]; when the login is through, the
//! flow is claimed (one request of several racing ones wins) and the [`Completion`] of the
//! flow's protocol makes the answer (a code, an assertion, konto's own page). The web layer
//! only renders what comes back.

use std::net::IpAddr;
use std::sync::Arc;

use konto_authn::eid::EidSession;
use konto_core::completion::{
    Completed, Completion, CompletionError, FailCode, PageParty, ProtocolAnswer, protocol_tag,
};
use konto_core::login::{Authentication, LoginRequest, Principal};
use konto_core::secret::Secret;
use konto_store::SessionRecord;
use webauthn_rs::prelude::PublicKeyCredential;

use super::flow::{CertOutcome, Flow};
use super::{AuthStep, LoginService, Next};
use crate::error::ServiceError;

/// A step of a flow, with what the browser sent for it.
#[derive(Debug)]
pub enum Step<'a> {
    /// Show the flow as it stands (the login page), or answer it if it is through.
    Show,
    /// Show the flow's page again with this error (an authenticator that could not start).
    ShowError(ServiceError),
    Password {
        username: &'a str,
        password: &'a str,
        source: IpAddr,
    },
    /// Create an account for the verified identity the flow holds.
    CreateAccount,
    /// Go on with the verified identity as a temporary login (OZG §8(5)).
    Temporary,
    Consent {
        approve: bool,
    },
    /// Whom the user acts for: an option's key, or `None` for themselves.
    Acting {
        choice: Option<&'a str>,
    },
    Cancel,
    /// Back from the eID client with the eID session claimed for this browser and the eID
    /// client's result parameters.
    Eid {
        session: EidSession,
        query: String,
    },
    /// Back from the certificate listener with what it made of the certificate (`None`: no
    /// certificate came, show the page again).
    Certificate(Option<CertOutcome>),
    /// A certificate chain forwarded by a trusted TLS-terminating proxy.
    ForwardedCertificate(Vec<Vec<u8>>),
    /// A passkey assertion (a script's step: kept, never answered at once).
    Passkey {
        credential: &'a PublicKeyCredential,
        source: IpAddr,
    },
    /// A signed certificate challenge (a script's step: kept, never answered at once).
    SignedChallenge {
        chain: Vec<Vec<u8>>,
        signature: Vec<u8>,
    },
}

/// Where a step leads.
#[derive(Debug)]
pub enum Progress {
    /// Show this page of the flow (boxed: a page is large, an answer small).
    Page(Box<FlowPage>),
    /// The step is kept in the flow; the browser goes to the flow's page (post/redirect/get).
    Saved,
    /// The flow is through: the relying party's answer.
    Answer(ProtocolAnswer),
}

/// A page of a flow.
#[derive(Debug)]
pub struct FlowPage {
    /// What the page asks for (never [`Next::Complete`] or [`Next::Fail`]).
    pub next: Next,
    pub party: PageParty,
    /// The flow's one-time notice (`linked:…`, `cert_error:…`), taken.
    pub notice: Option<String>,
    /// The step's error the page shows.
    pub error: Option<ServiceError>,
}

/// What a step did.
#[derive(Debug)]
pub struct Advanced {
    pub progress: Progress,
    /// The session cookie the step created or renewed.
    pub cookie: Option<Secret>,
}

/// A new flow's first answer.
#[derive(Debug)]
pub struct Began {
    pub advanced: Advanced,
    /// The flow, for its page.
    pub flow: Flow,
    /// The flow's id when it was stored (it shows a page); a flow answered at once has none.
    pub flow_id: Option<Secret>,
}

fn never(_: &ServiceError) -> bool {
    false
}

/// Linking an identity can collide with another account or with the account's own data; the
/// login page says so.
pub fn is_link_conflict(e: &ServiceError) -> bool {
    matches!(
        e,
        ServiceError::BelongsToAnotherAccount
            | ServiceError::IdentityConflict { .. }
            | ServiceError::AlreadyLinked
    )
}

fn bad_password(e: &ServiceError) -> bool {
    matches!(
        e,
        ServiceError::BadCredentials | ServiceError::Throttled { .. }
    )
}

fn bad_certificate(e: &ServiceError) -> bool {
    matches!(e, ServiceError::Certificate(_)) || is_link_conflict(e)
}

fn completion_error(e: CompletionError) -> ServiceError {
    match e {
        CompletionError::BadFlow(why) => {
            tracing::warn!(%why, "a flow's protocol parameters are unusable");
            ServiceError::FlowNotFound
        }
        CompletionError::Internal(why) => ServiceError::Internal(why),
    }
}

impl LoginService {
    /// The completion of the flow's protocol.
    fn completion(&self, flow: &Flow) -> Result<&Arc<dyn Completion>, ServiceError> {
        let tag = protocol_tag(flow.protocol()).ok_or(ServiceError::FlowNotFound)?;
        self.completions
            .iter()
            .find(|c| c.handles(&tag))
            .ok_or_else(|| ServiceError::Internal(format!("no completion for protocol {tag}")))
    }

    /// Starts a flow for a validated request (`protocol`: the protocol's tagged JSON) in the
    /// browser with `binding`: single sign-on and passive requests are answered at once and
    /// never stored; a flow that shows a page is stored, bound to the browser.
    pub async fn begin(
        &self,
        request: &LoginRequest,
        protocol: String,
        binding: &str,
        session_cookie: Option<&str>,
    ) -> Result<Began, ServiceError> {
        let mut flow = self.prepare_flow(request, protocol, false)?;
        // a protocol nobody completes is refused before anything is stored
        self.completion(&flow)?;
        let session = self.session(session_cookie).await?;
        let next = self.next(&flow, session.as_ref()).await?;
        let flow_id = if matches!(next, Next::Complete(_) | Next::Fail(..)) {
            None
        } else {
            Some(self.persist_flow(&mut flow, binding).await?)
        };
        let progress = self.present(&mut flow, session, next, None).await?;
        Ok(Began {
            advanced: Advanced {
                progress,
                cookie: None,
            },
            flow,
            flow_id,
        })
    }

    /// Takes one step of a flow this browser started (loaded with [`LoginService::load_flow`]
    /// or a hand-off's claim) in the browser session `session`.
    pub async fn step(
        &self,
        flow: &mut Flow,
        session: Option<SessionRecord>,
        step: Step<'_>,
    ) -> Result<Advanced, ServiceError> {
        let s = session.as_ref();
        let (result, shown): (_, fn(&ServiceError) -> bool) = match step {
            Step::Show => return self.show(flow, session, None).await,
            Step::ShowError(e) => return self.show(flow, session, Some(e)).await,
            Step::Password {
                username,
                password,
                source,
            } => (
                self.password_login(flow, s, username, password, source)
                    .await,
                bad_password,
            ),
            Step::CreateAccount => (self.create_account_from_pending(flow, s).await, never),
            Step::Temporary => (
                self.choose_temporary(flow)
                    .await
                    .map(|()| AuthStep::Continue),
                never,
            ),
            Step::Consent { approve } => {
                if !self.consent(flow, s, approve).await? {
                    return self
                        .failed(flow, FailCode::AccessDenied, "the user denied consent")
                        .await;
                }
                (Ok(AuthStep::Continue), never)
            }
            Step::Acting { choice } => {
                self.choose_acting(flow, s, choice).await?;
                (Ok(AuthStep::Continue), never)
            }
            Step::Cancel => {
                return self
                    .failed(flow, FailCode::AccessDenied, "the user cancelled the login")
                    .await;
            }
            Step::Eid {
                session: eid,
                query,
            } => match self.eid_finish(flow, s, &eid, Some(&query)).await {
                // the eID error is parked in the flow as a notice; the login page shows it
                Err(ServiceError::Eid(_)) => {
                    return Ok(Advanced {
                        progress: Progress::Saved,
                        cookie: None,
                    });
                }
                r => (r, is_link_conflict),
            },
            Step::Certificate(None) => return self.show(flow, session, None).await,
            Step::Certificate(Some(outcome)) => (
                self.certificate_outcome(flow, s, outcome).await,
                is_link_conflict,
            ),
            Step::ForwardedCertificate(chain) => {
                let result = match self.certificate(&chain) {
                    Ok(verified) => self.verified_login(flow, s, verified).await,
                    Err(e) => Err(e),
                };
                (result, bad_certificate)
            }
            Step::Passkey { credential, source } => {
                let step = self.passkey_finish(flow, s, credential, source).await?;
                return self.kept(flow, step).await;
            }
            Step::SignedChallenge { chain, signature } => {
                let step = self.certificate_signed(flow, s, &chain, &signature).await?;
                return self.kept(flow, step).await;
            }
        };
        match result {
            Ok(step) => self.after(flow, session, step).await,
            Err(e) if shown(&e) => self.show(flow, session, Some(e)).await,
            Err(e) => Err(e),
        }
    }

    /// A script's step is kept; the script then sends the browser to the flow's page.
    async fn kept(&self, flow: &mut Flow, step: AuthStep) -> Result<Advanced, ServiceError> {
        self.save_state(flow).await?;
        Ok(Advanced {
            progress: Progress::Saved,
            cookie: step.into_cookie(),
        })
    }

    /// After an authentication step: answer at once when the flow is through (saving the
    /// browser a round trip), otherwise keep the flow's new state for its page.
    async fn after(
        &self,
        flow: &mut Flow,
        mut session: Option<SessionRecord>,
        step: AuthStep,
    ) -> Result<Advanced, ServiceError> {
        let cookie = match step {
            AuthStep::SignedIn {
                session: signed_in,
                new_cookie,
            } => {
                session = Some(signed_in);
                new_cookie
            }
            AuthStep::Continue => None,
        };
        let progress = match self.next(flow, session.as_ref()).await? {
            Next::Complete(auth) => Progress::Answer(self.complete(flow, session, auth).await?),
            Next::Fail(code, description) => {
                Progress::Answer(self.fail_flow(flow, code, description).await?)
            }
            _ => {
                self.save_state(flow).await?;
                Progress::Saved
            }
        };
        Ok(Advanced { progress, cookie })
    }

    async fn show(
        &self,
        flow: &mut Flow,
        session: Option<SessionRecord>,
        error: Option<ServiceError>,
    ) -> Result<Advanced, ServiceError> {
        let next = self.next(flow, session.as_ref()).await?;
        Ok(Advanced {
            progress: self.present(flow, session, next, error).await?,
            cookie: None,
        })
    }

    /// The page for `next`, or the answer when the flow is through.
    async fn present(
        &self,
        flow: &mut Flow,
        session: Option<SessionRecord>,
        next: Next,
        error: Option<ServiceError>,
    ) -> Result<Progress, ServiceError> {
        match next {
            Next::Complete(auth) => Ok(Progress::Answer(self.complete(flow, session, auth).await?)),
            Next::Fail(code, description) => Ok(Progress::Answer(
                self.fail_flow(flow, code, description).await?,
            )),
            next => {
                let party = self
                    .completion(flow)?
                    .party(flow.protocol())
                    .await
                    .map_err(completion_error)?;
                let notice = self.take_notice(flow).await?;
                Ok(Progress::Page(Box::new(FlowPage {
                    next,
                    party,
                    notice,
                    error,
                })))
            }
        }
    }

    async fn failed(
        &self,
        flow: &Flow,
        code: FailCode,
        description: &str,
    ) -> Result<Advanced, ServiceError> {
        Ok(Advanced {
            progress: Progress::Answer(self.fail_flow(flow, code, description).await?),
            cookie: None,
        })
    }

    /// The login is through: the flow is claimed first (one `DELETE` that says whether it
    /// deleted), so of parallel requests finishing one flow only one answers; then the
    /// protocol makes its answer.
    async fn complete(
        &self,
        flow: &Flow,
        session: Option<SessionRecord>,
        auth: Authentication,
    ) -> Result<ProtocolAnswer, ServiceError> {
        let completion = self.completion(flow)?;
        if !self.claim_flow(flow).await? {
            return Err(ServiceError::FlowNotFound);
        }
        match completion
            .complete(flow.protocol(), &flow.request, &auth, self.now())
            .await
            .map_err(completion_error)?
        {
            Completed::Answer(answer) => {
                if let (Some(mut s), Principal::Account { .. }) = (session, &auth.principal) {
                    self.touch(&mut s).await?;
                }
                Ok(answer)
            }
            Completed::Refused(code, description) => completion
                .fail(flow.protocol(), code, description)
                .map_err(completion_error),
        }
    }

    /// The flow ends with an error for its relying party.
    pub async fn fail_flow(
        &self,
        flow: &Flow,
        code: FailCode,
        description: &str,
    ) -> Result<ProtocolAnswer, ServiceError> {
        let completion = self.completion(flow)?;
        self.finish_flow(flow).await?;
        completion
            .fail(flow.protocol(), code, description)
            .map_err(completion_error)
    }
}
