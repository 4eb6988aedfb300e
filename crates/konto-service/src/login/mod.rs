//! One login flow for every protocol.
//!
//! A flow is created when a relying party's request has been validated, and is bound to the
//! browser that made it (a hash of its binding cookie): a flow link sent to someone else leads
//! nowhere. Everything about the flow lives in the store, so any node can continue it.
//!
//! [`LoginService::next`] is the single place that decides what happens next, from the flow, the
//! browser session and the clock:
//! 1. Who is it? A live session, a temporary identity chosen in this flow, or nobody.
//!    `prompt=login`/`ForceAuthn` demand an authentication inside this flow.
//! 2. Is it enough? The session must hold the requested level within that level's limits
//!    (TR-03160-1) and satisfy `max_age`; otherwise konto asks for an authenticator that reaches
//!    the level (step-up) — or fails with `unmet_authentication_requirements` when none can.
//! 3. Has the user consented to this client and these scopes?
//! 4. Complete: the protocol engine issues its answer.
//!
//! With `prompt=none` every step that would show a page fails instead (`login_required`,
//! `consent_required`).

mod authenticate;
mod drive;
mod external;
mod flow;

use std::sync::Arc;

use konto_core::Level;
use konto_core::amr::AuthenticatorKind;
use konto_core::attributes::Attribute;
use konto_core::completion::Completion;
use konto_core::login::{Authentication, LoginRequest, Principal};
use konto_core::scope::Scopes;
use konto_store::SessionRecord;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Services;
use crate::error::ServiceError;
use crate::org::OrgService;
use crate::org::representation::RepresentationOption;

pub use authenticate::AuthStep;
pub use drive::{Advanced, Began, FlowPage, Progress, Step, is_link_conflict};
pub use flow::{Acting, CertOutcome, Flow, FlowState, Pending, TemporaryLogin};
pub use konto_core::completion::{FailCode, PageParty, ProtocolAnswer};

/// Why the login page is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginReason {
    /// Nobody is signed in.
    SignIn,
    /// Signed in, but below the level the service needs.
    StepUp { current: Level },
    /// Signed in, but the service wants a fresh authentication (`prompt=login`, `max_age`).
    Reauthenticate,
}

/// What the browser should see next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Login {
        reason: LoginReason,
        min_level: Level,
        /// Authenticators that reach `min_level`, cheapest first.
        options: Vec<AuthenticatorKind>,
    },
    /// A password was right; the account's passkey must follow.
    SecondFactor,
    /// An ELSTER or eID identity without an account: create one, sign in to link it, or go on
    /// with a temporary login.
    Unlinked {
        kind: AuthenticatorKind,
        attributes: Vec<Attribute>,
        temporary_allowed: bool,
    },
    /// The user may act for others at this client: for whom now?
    ChooseActing {
        options: Vec<RepresentationOption>,
        /// Whether acting for oneself is among the choices (not when the client requires a
        /// legal representative).
        myself_allowed: bool,
    },
    Consent {
        scopes: Vec<String>,
        claims: Vec<String>,
        /// The name of the party the user acts for, which the client will learn about.
        acting_for: Option<String>,
    },
    Complete(Authentication),
    Fail(FailCode, &'static str),
}

enum ActingOptions {
    Decided(Option<konto_core::representation::Representation>),
    Ask(Vec<RepresentationOption>),
    Refused,
}

/// The stored consent of a user to a client.
fn consent_covers(consent: &konto_store::ConsentRecord, request: &LoginRequest) -> bool {
    let scopes = Scopes::parse(&consent.scopes).unwrap_or_default();
    let claims: Vec<&str> = consent
        .claims
        .split(' ')
        .filter(|c| !c.is_empty())
        .collect();
    request.scopes.iter().all(|s| scopes.contains(s))
        && request.claims.iter().all(|c| claims.contains(&c.as_str()))
}

/// The login service.
#[derive(Clone)]
pub struct LoginService {
    pub(crate) s: Arc<Services>,
    /// How flows end, one per protocol (OIDC, SAML, konto's own pages).
    completions: Arc<[Arc<dyn Completion>]>,
}

impl std::fmt::Debug for LoginService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginService")
    }
}

/// What the flow is for, beyond the login itself; only the web layer reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opaque(pub String);

impl LoginService {
    /// The login service for `services`, ending flows with `completions` (each flow goes to
    /// the one that handles its protocol tag).
    pub fn new(services: Arc<Services>, completions: Vec<Arc<dyn Completion>>) -> LoginService {
        LoginService {
            s: services,
            completions: completions.into(),
        }
    }

    pub fn services(&self) -> &Arc<Services> {
        &self.s
    }

    fn now(&self) -> OffsetDateTime {
        self.s.clock.now()
    }

    /// The authenticators that can reach `level` here.
    pub fn options_for(&self, level: Level) -> Vec<AuthenticatorKind> {
        let mut out = Vec::new();
        if level <= Level::Basic {
            out.push(AuthenticatorKind::Password);
            if self.s.passkeys.is_some() {
                out.push(AuthenticatorKind::Passkey);
            }
        }
        if self.s.certificates.is_some() && AuthenticatorKind::Elster.strength() >= level {
            out.push(AuthenticatorKind::Elster);
        }
        if self.s.eid.is_some() && AuthenticatorKind::Eid.strength() >= level {
            out.push(AuthenticatorKind::Eid);
        }
        out
    }

    /// Decides the next step of a flow.
    pub async fn next(
        &self,
        flow: &Flow,
        session: Option<&SessionRecord>,
    ) -> Result<Next, ServiceError> {
        let now = self.now();
        let req = &flow.request;
        let fresh_needed = req.force_login && !flow.state.authenticated_in_flow;

        match &flow.state.pending {
            Some(Pending::SecondFactor { .. }) => return Ok(Next::SecondFactor),
            Some(Pending::Unlinked { verified }) => {
                return Ok(Next::Unlinked {
                    kind: verified.kind(),
                    attributes: verified.attributes.clone(),
                    temporary_allowed: req.temporary_allowed,
                });
            }
            _ => {}
        }

        // 1 + 2: who, and is it enough?
        let principal_and_standing = if let Some(t) = &flow.state.temporary {
            if t.level < req.min_level {
                None
            } else {
                Some((
                    Principal::Temporary {
                        login_id: t.login_id.clone(),
                        attributes: t.attributes.clone(),
                    },
                    t.level,
                    t.at,
                    t.amr.clone(),
                    None,
                ))
            }
        } else {
            None
        };

        let (principal, level, auth_time, amr, session_id) = match principal_and_standing {
            Some(p) => p,
            None => {
                let standing = session.and_then(|s| s.auth.standing(now).map(|st| (s, st)));
                let Some((s, standing)) = standing else {
                    return Ok(self.ask_login(req, LoginReason::SignIn));
                };
                if fresh_needed {
                    return Ok(self.ask_login(req, LoginReason::Reauthenticate));
                }
                let max_age = if flow.state.authenticated_in_flow {
                    None
                } else {
                    req.max_age.map(std::time::Duration::from_secs)
                };
                if !s.auth.holds(req.min_level, now) {
                    return Ok(self.ask_login(
                        req,
                        LoginReason::StepUp {
                            current: standing.level,
                        },
                    ));
                }
                if !s.auth.satisfies(req.min_level, max_age, now) {
                    return Ok(self.ask_login(req, LoginReason::Reauthenticate));
                }
                (
                    Principal::Account {
                        user_id: s.user_id.clone(),
                    },
                    standing.level,
                    standing.auth_time,
                    standing.amr.iter().map(|a| (*a).to_owned()).collect(),
                    Some(s.id.clone()),
                )
            }
        };

        // the relying party accepts only some authenticators (BundID's AuthnMethods): a session
        // that used none of them signs in again with one that it accepts
        if !req.allows_methods(&amr) {
            return Ok(self.ask_login(req, LoginReason::Reauthenticate));
        }

        // 3: for whom? (only when the client asked for the representation scope)
        let representation = match &principal {
            Principal::Account { user_id }
                if req
                    .scopes
                    .iter()
                    .any(|s| s == konto_core::scope::REPRESENTATION) =>
            {
                match &flow.state.acting {
                    Some(Acting::Myself) if !req.legal_representative_required => None,
                    // a choice made by whoever was signed in then: if another account has signed
                    // in in this browser since, that choice is not theirs and they choose anew
                    Some(Acting::For { representation }) if representation.actor == *user_id => {
                        Some(representation.clone())
                    }
                    _ => match self.acting_options(req, user_id).await? {
                        ActingOptions::Decided(r) => r,
                        ActingOptions::Ask(options) => {
                            if req.passive {
                                return Ok(Next::Fail(
                                    FailCode::InteractionRequired,
                                    "the user must choose whom they act for",
                                ));
                            }
                            return Ok(Next::ChooseActing {
                                options,
                                myself_allowed: !req.legal_representative_required,
                            });
                        }
                        ActingOptions::Refused => {
                            return Ok(Next::Fail(
                                FailCode::AccessDenied,
                                if req.legal_representative_required {
                                    "the user is no legal representative of an organisation here"
                                } else {
                                    "the user may not act for the party named in acting_for here"
                                },
                            ));
                        }
                    },
                }
            }
            _ => None,
        };

        // 4: consent
        if !flow.state.consented {
            let client = self.s.store.client(&req.client_id).await?;
            let first_party = client.as_ref().is_some_and(|c| c.party.first_party);
            let remembered = match (&principal, first_party) {
                (_, true) => true,
                (Principal::Account { user_id }, false) if !req.force_consent => self
                    .s
                    .store
                    .consent(user_id, &req.client_id)
                    .await?
                    .is_some_and(|c| consent_covers(&c, req)),
                _ => false,
            };
            if !remembered {
                if req.passive {
                    return Ok(Next::Fail(
                        FailCode::ConsentRequired,
                        "the user has not consented to this client",
                    ));
                }
                let acting_for = match &representation {
                    Some(r) => Some(
                        crate::org::OrgService::new(Arc::clone(&self.s))
                            .party_name(&r.represented)
                            .await?,
                    ),
                    None => None,
                };
                return Ok(Next::Consent {
                    scopes: req.scopes.clone(),
                    claims: req.claims.clone(),
                    acting_for,
                });
            }
        }

        Ok(Next::Complete(Authentication {
            principal,
            level,
            auth_time,
            amr,
            session_id,
            representation,
        }))
    }

    /// Whom the user may act for at the flow's client: nobody else (act as oneself), the one the
    /// client named, or a choice to ask.
    async fn acting_options(
        &self,
        req: &LoginRequest,
        user_id: &str,
    ) -> Result<ActingOptions, ServiceError> {
        let Some(client) = self.s.store.client(&req.client_id).await? else {
            return Ok(ActingOptions::Decided(None));
        };
        let mut options = OrgService::new(Arc::clone(&self.s))
            .options(user_id, &client.party)
            .await?;
        if req.legal_representative_required {
            options.retain(|o| o.representation.legal_representative);
            if options.is_empty() {
                tracing::info!("the client requires a legal representative; the user is none here");
                return Ok(ActingOptions::Refused);
            }
        }
        if let Some(named) = &req.acting_for {
            let sector = client
                .sector()
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            let found = options.into_iter().find(|o| {
                konto_core::subject::pairwise_party(
                    &self.s.pairwise_key,
                    &sector,
                    &o.representation.represented,
                ) == *named
            });
            return Ok(match found {
                Some(o) => ActingOptions::Decided(Some(o.representation)),
                None => {
                    tracing::info!("a client named a party the user may not act for");
                    ActingOptions::Refused
                }
            });
        }
        if options.is_empty() {
            return Ok(ActingOptions::Decided(None));
        }
        Ok(ActingOptions::Ask(options))
    }

    /// Records whom the user acts for: `choice` is the [`RepresentationOption::key`] of one of
    /// the options the page showed (recomputed here, so only a representation that holds now
    /// can be chosen, and a list that changed meanwhile cannot shift the choice), or `None`
    /// for themselves.
    pub async fn choose_acting(
        &self,
        flow: &mut Flow,
        session: Option<&SessionRecord>,
        choice: Option<&str>,
    ) -> Result<(), ServiceError> {
        let Some(session) = session else {
            return Err(ServiceError::FlowNotFound);
        };
        let acting = match choice {
            None if flow.request.legal_representative_required => {
                return Err(ServiceError::Invalid(
                    "this service needs you to act for an organisation".into(),
                ));
            }
            None => Acting::Myself,
            Some(key) => {
                let ActingOptions::Ask(options) =
                    self.acting_options(&flow.request, &session.user_id).await?
                else {
                    return Err(ServiceError::StepTaken);
                };
                let o = options
                    .into_iter()
                    .find(|o| o.key() == key)
                    .ok_or(ServiceError::Invalid("no such choice".into()))?;
                Acting::For {
                    representation: o.representation,
                }
            }
        };
        flow.state.acting = Some(acting);
        self.save_state(flow).await
    }

    fn ask_login(&self, req: &LoginRequest, reason: LoginReason) -> Next {
        let mut options = self.options_for(req.min_level);
        options.retain(|k| req.allows(*k));
        if options.is_empty() {
            return Next::Fail(
                FailCode::UnmetAuthenticationRequirements,
                "no authenticator available here reaches the requested level",
            );
        }
        if req.passive {
            return Next::Fail(FailCode::LoginRequired, "the user must sign in");
        }
        Next::Login {
            reason,
            min_level: req.min_level,
            options,
        }
    }

    /// Records the user's decision on the consent page.
    pub async fn consent(
        &self,
        flow: &mut Flow,
        session: Option<&SessionRecord>,
        approve: bool,
    ) -> Result<bool, ServiceError> {
        if !approve {
            return Ok(false);
        }
        if flow.state.temporary.is_none()
            && let Some(s) = session
        {
            // remember the union with what was consented before
            let previous = self
                .s
                .store
                .consent(&s.user_id, &flow.request.client_id)
                .await?;
            let mut scopes = Scopes::parse(&flow.request.scopes.join(" ")).unwrap_or_default();
            let mut claims: Vec<String> = flow.request.claims.clone();
            if let Some(p) = previous {
                scopes = scopes.union(&Scopes::parse(&p.scopes).unwrap_or_default());
                claims.extend(
                    p.claims
                        .split(' ')
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                );
            }
            claims.sort();
            claims.dedup();
            self.s
                .store
                .save_consent(&konto_store::ConsentRecord {
                    user_id: s.user_id.clone(),
                    client_id: flow.request.client_id.clone(),
                    scopes: scopes.to_scope_string(),
                    claims: claims.join(" "),
                    granted_at: self.now(),
                })
                .await?;
        }
        flow.state.consented = true;
        Ok(true)
    }
}
