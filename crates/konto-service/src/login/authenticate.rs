//! Authenticating inside a flow: every authenticator ends here, in a browser session, a pending
//! second step, or a refusal.

use std::net::IpAddr;

use konto_authn::Verified;
use konto_authn::passkey::{Passkeys, decode_passkey, encode_passkey};
use konto_core::amr::{AuthenticatorKind, MethodUsed};
use konto_core::attributes::{LinkDecision, link_identity};
use konto_core::secret::{Secret, SecretPurpose};
use konto_core::session::{AuthEvent, SessionAuth};
use konto_core::user::Authenticator;
use konto_keys::random;
use konto_store::{AttributeChange, SessionRecord, StoreError};
use webauthn_rs::prelude::{PublicKeyCredential, RequestChallengeResponse};

use super::LoginService;
use super::flow::{Flow, Pending, TemporaryLogin};
use crate::error::ServiceError;

/// How often a link is decided again when the account's attributes changed meanwhile.
const LINK_ATTEMPTS: usize = 3;

/// The result of one authentication step.
#[derive(Debug)]
pub enum AuthStep {
    /// The browser is signed in: set the cookie if a new session was created.
    SignedIn {
        session: SessionRecord,
        new_cookie: Option<Secret>,
    },
    /// Another step is needed (second factor, or deciding about an unlinked identity): ask `next`.
    Continue,
}

impl AuthStep {
    /// The session cookie this step created or renewed.
    pub fn into_cookie(self) -> Option<Secret> {
        match self {
            AuthStep::SignedIn { new_cookie, .. } => new_cookie,
            AuthStep::Continue => None,
        }
    }

    /// The session after `later`, a further sign-in in the same request: the browser needs the
    /// newest cookie, whichever step made it.
    fn then(self, later: AuthStep) -> AuthStep {
        match (self, later) {
            (
                AuthStep::SignedIn {
                    new_cookie: earlier,
                    ..
                },
                AuthStep::SignedIn {
                    session,
                    new_cookie,
                },
            ) => AuthStep::SignedIn {
                session,
                new_cookie: new_cookie.or(earlier),
            },
            (_, later) => later,
        }
    }
}

impl LoginService {
    /// Creates or raises the browser session of `user_id` with one authentication.
    pub(crate) async fn sign_in(
        &self,
        session: Option<&SessionRecord>,
        user_id: &str,
        method: MethodUsed,
        level: konto_core::Level,
    ) -> Result<AuthStep, ServiceError> {
        let now = self.now();
        let event = AuthEvent {
            method,
            level,
            at: now,
        };
        self.s.store.set_last_login(user_id, now).await?;
        if let Some(s) = session
            && s.user_id == user_id
        {
            // a new authentication (a step-up, a second factor, a re-authentication) gives the
            // session a new secret: a cookie planted or seen before it is worth nothing after
            // (OWASP Session Management: renew the id on any privilege change)
            let mut s = s.clone();
            s.auth.record(event);
            s.expires_at = s.auth.expires_at();
            let secret = random::secret()?;
            s.secret_hash = self.s.hasher.hash(SecretPurpose::Session, secret.expose());
            self.s
                .store
                .renew_session(&s.id, &s.secret_hash, &s.auth, s.expires_at)
                .await?;
            return Ok(AuthStep::SignedIn {
                session: s,
                new_cookie: Some(secret),
            });
        }
        if let Some(old) = session {
            // another person signs in in this browser: the old session ends
            self.s.store.delete_session(&old.id).await?;
        }
        let secret = random::secret()?;
        let auth = SessionAuth::new(event);
        let record = SessionRecord {
            id: random::id()?,
            secret_hash: self.s.hasher.hash(SecretPurpose::Session, secret.expose()),
            user_id: user_id.to_owned(),
            expires_at: auth.expires_at(),
            auth,
            created_at: now,
        };
        self.s.store.create_session(&record).await?;
        Ok(AuthStep::SignedIn {
            session: record,
            new_cookie: Some(secret),
        })
    }

    /// After any successful sign-in in a flow: an identity waiting to be linked is linked now.
    /// The flow's state changes in memory only: the caller either completes the flow (and it is
    /// deleted) or saves it ([`LoginService::save_state`]) before showing the next page.
    async fn after_sign_in(
        &self,
        flow: &mut Flow,
        step: AuthStep,
    ) -> Result<AuthStep, ServiceError> {
        flow.state.authenticated_in_flow = true;
        if let (Some(Pending::Unlinked { verified }), AuthStep::SignedIn { session, .. }) =
            (&flow.state.pending, &step)
        {
            let verified = verified.clone();
            let session = session.clone();
            flow.state.pending = None;
            match self.link(&session.user_id, &verified).await {
                Ok(()) => {
                    // the identity this browser just proved counts for this flow: the session
                    // rises to its level at once (no second presentation of the certificate or
                    // card), and keeps the cookie the first sign-in made
                    flow.state.notice = Some(format!("linked:{}", verified.kind().as_str()));
                    let raised = self
                        .sign_in(
                            Some(&session),
                            &session.user_id,
                            verified.method,
                            verified.level,
                        )
                        .await?;
                    return Ok(step.then(raised));
                }
                Err(ServiceError::IdentityConflict { .. }) | Err(ServiceError::AlreadyLinked) => {
                    flow.state.notice = Some(format!("conflict:{}", verified.kind().as_str()));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(step)
    }

    /// Username and password (NIST SP 800-63B; throttled, same work and answer for unknown names).
    pub async fn password_login(
        &self,
        flow: &mut Flow,
        session: Option<&SessionRecord>,
        username: &str,
        password: &str,
        source: IpAddr,
    ) -> Result<AuthStep, ServiceError> {
        let now = self.now();
        let username = username.trim();
        if username.is_empty()
            || username.len() > 256
            || password.is_empty()
            || password.len() > 1024
        {
            return Err(ServiceError::BadCredentials);
        }
        let seen = self.s.throttle.begin(username, source, now).await?;
        if let Some(at) = seen.retry_at {
            return Err(ServiceError::Throttled {
                retry_at: at.unix_timestamp(),
            });
        }
        let user = self.s.store.user_by_username(username).await?;
        // the same queries for unknown names, so timing tells nothing
        let authenticators = self
            .s
            .store
            .authenticators(user.as_ref().map_or("", |u| u.id.as_str()))
            .await?;
        let stored = authenticators
            .iter()
            .find(|a| a.kind == AuthenticatorKind::Password);
        let ok = self
            .s
            .passwords
            .verify(password, stored.map(|a| a.data.as_str()))
            .await?;
        let (Some(user), true) = (user, ok) else {
            self.s.throttle.failed(username, source, &seen, now).await?;
            return Err(ServiceError::BadCredentials);
        };
        self.s.throttle.succeeded(username, &seen).await?;
        if let Some(stored) = stored
            && self.s.passwords.needs_rehash(&stored.data)
        {
            let fresh = self.s.passwords.hash(password).await?;
            self.s
                .store
                .update_authenticator_data(&user.id, AuthenticatorKind::Password, &fresh)
                .await?;
        }
        // An account with a passkey signs in with both.
        if self.s.passkeys.is_some()
            && authenticators
                .iter()
                .any(|a| a.kind == AuthenticatorKind::Passkey)
        {
            flow.state.pending = Some(Pending::SecondFactor {
                user_id: user.id.clone(),
                passkey: None,
            });
            self.save_state(flow).await?;
            return Ok(AuthStep::Continue);
        }
        let verified = Verified::new(AuthenticatorKind::Password, None, Vec::new());
        let step = self
            .sign_in(session, &user.id, verified.method, verified.level)
            .await?;
        self.after_sign_in(flow, step).await
    }

    fn passkeys(&self) -> Result<&Passkeys, ServiceError> {
        self.s.passkeys.as_ref().ok_or(ServiceError::NotAvailable)
    }

    /// Starts a passkey ceremony: the second factor after a password, or a login without
    /// password for `username`.
    pub async fn passkey_start(
        &self,
        flow: &mut Flow,
        username: Option<&str>,
    ) -> Result<RequestChallengeResponse, ServiceError> {
        let passkeys = self.passkeys()?;
        let (user_id, name) = match (&flow.state.pending, username) {
            (Some(Pending::SecondFactor { user_id, .. }), _) => {
                (Some(user_id.clone()), user_id.clone())
            }
            (_, Some(name)) => {
                let name = name.trim();
                if name.is_empty() || name.len() > 256 {
                    return Err(ServiceError::Invalid("user name".into()));
                }
                let user = self.s.store.user_by_username(name).await?;
                (user.map(|u| u.id), name.to_owned())
            }
            _ => return Err(ServiceError::Invalid("no account named".into())),
        };
        let passkey = match &user_id {
            Some(id) => self
                .s
                .store
                .authenticators(id)
                .await?
                .into_iter()
                .find(|a| a.kind == AuthenticatorKind::Passkey)
                .map(|a| decode_passkey(&a.data))
                .transpose()
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            None => None,
        };
        let known = passkey.as_ref().and(user_id.as_deref());
        let (challenge, pending) = passkeys
            .start_authentication(known, passkey.as_ref(), &name)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        flow.state.pending = Some(match flow.state.pending.take() {
            Some(Pending::SecondFactor { user_id, .. }) => Pending::SecondFactor {
                user_id,
                passkey: Some(pending),
            },
            _ => Pending::Passkey { passkey: pending },
        });
        self.save_state(flow).await?;
        Ok(challenge)
    }

    /// Finishes a passkey ceremony.
    pub async fn passkey_finish(
        &self,
        flow: &mut Flow,
        session: Option<&SessionRecord>,
        response: &PublicKeyCredential,
        source: IpAddr,
    ) -> Result<AuthStep, ServiceError> {
        let now = self.now();
        let passkeys = self.passkeys()?;
        let (pending, second_factor) = match flow.state.pending.take() {
            Some(Pending::SecondFactor {
                passkey: Some(p), ..
            }) => (p, true),
            Some(Pending::Passkey { passkey }) => (passkey, false),
            _ => {
                return Err(ServiceError::Invalid(
                    "no passkey ceremony in progress".into(),
                ));
            }
        };
        // a ceremony is answered once
        self.save_state(flow).await?;
        let throttle_key = Passkeys::pending_user(&pending)
            .unwrap_or("passkey-decoy")
            .to_owned();
        let seen = self.s.throttle.check(&throttle_key, source, now).await?;
        if let Some(at) = seen.retry_at {
            return Err(ServiceError::Throttled {
                retry_at: at.unix_timestamp(),
            });
        }
        let Some(user_id) = Passkeys::pending_user(&pending).map(str::to_owned) else {
            self.s
                .throttle
                .failed(&throttle_key, source, &seen, now)
                .await?;
            return Err(ServiceError::PasskeyRejected);
        };
        let stored = self
            .s
            .store
            .authenticators(&user_id)
            .await?
            .into_iter()
            .find(|a| a.kind == AuthenticatorKind::Passkey)
            .ok_or(ServiceError::PasskeyRejected)?;
        let passkey =
            decode_passkey(&stored.data).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let (user_id, verified, updated) =
            match passkeys.finish_authentication(response, &pending, passkey) {
                Ok(v) => v,
                Err(_) => {
                    self.s
                        .throttle
                        .failed(&throttle_key, source, &seen, now)
                        .await?;
                    return Err(ServiceError::PasskeyRejected);
                }
            };
        let data = encode_passkey(&updated).map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.s
            .store
            .update_authenticator_data(&user_id, AuthenticatorKind::Passkey, &data)
            .await?;
        let step = if second_factor {
            // password (now) and passkey: one session with both methods
            let password = MethodUsed {
                kind: AuthenticatorKind::Password,
                user_verified: false,
            };
            let first = self
                .sign_in(session, &user_id, password, konto_core::Level::Basic)
                .await?;
            let AuthStep::SignedIn { session: s, .. } = &first else {
                return Err(ServiceError::Internal("sign-in without session".into()));
            };
            let second = self
                .sign_in(Some(s), &user_id, verified.method, verified.level)
                .await?;
            first.then(second)
        } else {
            self.sign_in(session, &user_id, verified.method, verified.level)
                .await?
        };
        self.after_sign_in(flow, step).await
    }

    /// An ELSTER certificate or eID card was verified: sign in its account, raise the current
    /// session (step-up), link it to the signed-in account, or keep it pending when no account
    /// holds it.
    pub async fn verified_login(
        &self,
        flow: &mut Flow,
        session: Option<&SessionRecord>,
        verified: Verified,
    ) -> Result<AuthStep, ServiceError> {
        let kind = verified.kind();
        let external = verified
            .external_id
            .clone()
            .ok_or_else(|| ServiceError::Internal("verified identity without identifier".into()))?;
        flow.state.pending = None;
        let owner = self
            .s
            .store
            .authenticator_by_external_id(kind, &external)
            .await?;
        match (owner, session) {
            (Some(owner), Some(s)) if owner.user_id != s.user_id => {
                self.save_state(flow).await?;
                Err(ServiceError::BelongsToAnotherAccount)
            }
            (Some(owner), s) => {
                let step = self
                    .sign_in(s, &owner.user_id, verified.method, verified.level)
                    .await?;
                self.after_sign_in(flow, step).await
            }
            (None, Some(s)) => {
                // step-up with an authenticator the account does not have yet: add it
                self.link(&s.user_id, &verified).await?;
                flow.state.notice = Some(format!("linked:{}", kind.as_str()));
                let step = self
                    .sign_in(Some(s), &s.user_id, verified.method, verified.level)
                    .await?;
                self.after_sign_in(flow, step).await
            }
            (None, None) => {
                flow.state.pending = Some(Pending::Unlinked { verified });
                self.save_state(flow).await?;
                Ok(AuthStep::Continue)
            }
        }
    }

    /// Adds a verified authenticator to an account after comparing identities. The comparison
    /// and the write are one decision: the store writes only over the attributes the comparison
    /// saw, and a concurrent change (another link, an edit) makes konto compare again.
    pub(crate) async fn link(
        &self,
        user_id: &str,
        verified: &Verified,
    ) -> Result<(), ServiceError> {
        let kind = verified.kind();
        let authenticator = Authenticator {
            user_id: user_id.to_owned(),
            kind,
            external_id: verified.external_id.clone(),
            data: serde_json::to_string(&verified.attributes)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            created_at: self.now(),
        };
        for _ in 0..LINK_ATTEMPTS {
            let existing = self.s.store.authenticators(user_id).await?;
            if existing.iter().any(|a| a.kind == kind) {
                return Err(ServiceError::AlreadyLinked);
            }
            let attributes = self.s.store.attributes(user_id).await?;
            let merged = match link_identity(&attributes, &verified.attributes) {
                LinkDecision::Match { merged } => merged,
                LinkDecision::Conflict { attributes } => {
                    return Err(ServiceError::IdentityConflict { attributes });
                }
            };
            let change = AttributeChange {
                expected: &attributes,
                merged: &merged,
            };
            match self
                .s
                .store
                .link_authenticator(&authenticator, Some(change))
                .await
            {
                Ok(()) => return Ok(()),
                Err(StoreError::Stale) => continue,
                Err(StoreError::Conflict(_)) => return Err(ServiceError::AlreadyLinked),
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable)
    }

    /// Goes on with the pending identity as a temporary login (OZG §8(5)): nothing is stored in
    /// an account.
    pub async fn choose_temporary(&self, flow: &mut Flow) -> Result<(), ServiceError> {
        if !flow.request.temporary_allowed {
            return Err(ServiceError::NotAvailable);
        }
        let Some(Pending::Unlinked { verified }) = flow.state.pending.take() else {
            return Err(ServiceError::Invalid("no identity to continue with".into()));
        };
        flow.state.temporary = Some(TemporaryLogin {
            login_id: random::id()?,
            level: verified.level,
            amr: konto_core::amr::amr_values(&[verified.method])
                .into_iter()
                .map(str::to_owned)
                .collect(),
            attributes: verified.attributes,
            at: self.now(),
        });
        flow.state.authenticated_in_flow = true;
        self.save_state(flow).await
    }

    /// Creates an account from the pending identity and signs it in.
    pub async fn create_account_from_pending(
        &self,
        flow: &mut Flow,
        session: Option<&SessionRecord>,
    ) -> Result<AuthStep, ServiceError> {
        let Some(Pending::Unlinked { verified }) = flow.state.pending.take() else {
            return Err(ServiceError::Invalid(
                "no identity to create an account with".into(),
            ));
        };
        if !self.s.config.registration {
            return Err(ServiceError::RegistrationClosed);
        }
        let user_id = self.create_verified_account(&verified).await?;
        let step = self
            .sign_in(session, &user_id, verified.method, verified.level)
            .await?;
        self.after_sign_in(flow, step).await
    }
}
