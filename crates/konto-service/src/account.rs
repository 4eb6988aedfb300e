//! Accounts: creation, registration with e-mail verification, password reset, profile,
//! authenticators, deletion.
//!
//! Registration and reset never tell whether an address has an account: the answer and the work
//! are the same (a password is hashed either way), and the e-mail is sent in the background so its
//! delivery time does not show. The mailbox owner learns the truth from the mail.
//!
//! Both are throttled per source address and per target address before any account is looked
//! up (`konto_authn::throttle::Request`): a throttled request is refused the same way for known
//! and unknown addresses.
//!
//! A reset link is spent only by a password that is accepted: the link is looked at, the password
//! checked against the account and hashed, and then link and password change in one transaction
//! ([`konto_store::EmailLinkRepo::reset_password_with_link`]), so a refused password leaves the
//! link working and two parallel submissions of one link set one password.

use std::net::IpAddr;
use std::sync::Arc;

use konto_authn::Verified;
use konto_authn::passkey::{PendingRegistration, encode_passkey};
use konto_authn::throttle::Request;
use konto_core::Level;
use konto_core::amr::AuthenticatorKind;
use konto_core::attributes::{Attribute, AttributeName, AttributeSource};
use konto_core::password_policy;
use konto_core::secret::SecretPurpose;
use konto_core::user::{Authenticator, User};
use konto_keys::random;
use konto_store::{
    ConsentRecord, EmailLinkPurpose, EmailLinkRecord, NewUser, SessionRecord, StoreError,
};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{CreationChallengeResponse, RegisterPublicKeyCredential};

use crate::Services;
use crate::error::ServiceError;

/// A new account with a password (command line, development seed, confirmed registration).
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

/// What an account holds, for its owner's pages.
#[derive(Debug, Clone)]
pub struct AccountOverview {
    pub user: User,
    pub attributes: Vec<Attribute>,
    pub authenticators: Vec<AuthenticatorKind>,
    pub consents: Vec<ConsentRecord>,
    pub sessions: Vec<SessionRecord>,
}

/// The outcome of following a registration link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    Created {
        username: String,
    },
    /// Someone registered this address in the meantime.
    AlreadyExists,
}

#[derive(Serialize, Deserialize)]
struct RegistrationPayload {
    password_hash: String,
    given_name: Option<String>,
    family_name: Option<String>,
}

/// Normalises and checks an e-mail address (syntax only; the link proves the mailbox).
pub fn normalise_email(email: &str) -> Result<String, ServiceError> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';')
        })
        && match e.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            }
            None => false,
        };
    if ok {
        Ok(e)
    } else {
        Err(ServiceError::BadEmail)
    }
}

fn check_name(v: &Option<String>) -> Result<Option<String>, ServiceError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.chars().count() > 100 || s.chars().any(char::is_control) => Err(
            ServiceError::Invalid("names have at most 100 characters".into()),
        ),
        Some(s) => Ok(Some(s.to_owned())),
    }
}

/// The account service.
#[derive(Clone)]
pub struct AccountService {
    s: Arc<Services>,
}

impl std::fmt::Debug for AccountService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountService")
    }
}

impl Services {
    /// Creates an account holding a verified identity (from the eID card or an ELSTER certificate).
    pub(crate) async fn create_verified_account_impl(
        &self,
        verified: &Verified,
    ) -> Result<String, ServiceError> {
        let now = self.clock.now();
        let id = random::uuid()?;
        let user = NewUser {
            id: id.clone(),
            // such accounts sign in with their authenticator; the name only has to be unique
            username: format!("{}-{}", verified.kind().as_str(), random::id()?),
            email: None,
            email_verified: false,
            postbox_handle: random::uuid()?,
            created_at: now,
        };
        let authenticator = Authenticator {
            user_id: id.clone(),
            kind: verified.kind(),
            external_id: verified.external_id.clone(),
            data: serde_json::to_string(&verified.attributes)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            created_at: now,
        };
        match self
            .store
            .create_user(&user, &verified.attributes, &[authenticator])
            .await
        {
            Ok(()) => Ok(id),
            Err(StoreError::Conflict(_)) => Err(ServiceError::AlreadyLinked),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores the link (if any) and sends the mail in the background, so the answer to the
    /// request takes the same time whether or not there was anything to store and send.
    fn deliver_later(
        &self,
        link: Option<EmailLinkRecord>,
        to: String,
        subject: String,
        body: String,
    ) {
        let mailer = Arc::clone(&self.mailer);
        let store = Arc::clone(&self.store);
        tokio::spawn(async move {
            if let Some(link) = link
                && let Err(e) = store.create_email_link(&link).await
            {
                tracing::warn!(error = %e, "an e-mail link could not be stored");
                return;
            }
            if let Err(e) = mailer.send(&to, &subject, &body).await {
                tracing::warn!(error = %e, "an e-mail could not be delivered");
            }
        });
    }

    fn link_url(&self, path: &str, token: &str) -> String {
        let mut url = self.config.issuer.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{path}"));
        url.query_pairs_mut().append_pair("token", token);
        url.to_string()
    }
}

impl crate::login::LoginService {
    pub(crate) async fn create_verified_account(
        &self,
        verified: &Verified,
    ) -> Result<String, ServiceError> {
        self.s.create_verified_account_impl(verified).await
    }
}

impl AccountService {
    pub fn new(services: Arc<Services>) -> AccountService {
        AccountService { s: services }
    }

    /// Creates an account, with a password if one is given (checked against the policy).
    pub async fn create(
        &self,
        new: &NewAccount,
        password: Option<&str>,
    ) -> Result<String, ServiceError> {
        let now = self.s.clock.now();
        let username = new.username.trim().to_owned();
        if username.is_empty()
            || username.len() > 256
            || username
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(ServiceError::Invalid(
                "user names have 1 to 256 characters without spaces".into(),
            ));
        }
        let email = new.email.as_deref().map(normalise_email).transpose()?;
        let id = random::uuid()?;
        let mut attributes = Vec::new();
        if let Some(g) = check_name(&new.given_name)? {
            attributes.push(Attribute::new(
                AttributeName::GivenName,
                g,
                AttributeSource::SelfAsserted,
                Level::Basic,
                now,
            ));
        }
        if let Some(f) = check_name(&new.family_name)? {
            attributes.push(Attribute::new(
                AttributeName::FamilyName,
                f,
                AttributeSource::SelfAsserted,
                Level::Basic,
                now,
            ));
        }
        if let Some(e) = &email {
            let source = if new.email_verified {
                AttributeSource::PasswordAccount
            } else {
                AttributeSource::SelfAsserted
            };
            attributes.push(Attribute::new(
                AttributeName::Email,
                e.clone(),
                source,
                Level::Basic,
                now,
            ));
        }
        let mut authenticators = Vec::new();
        if let Some(p) = password {
            let context: Vec<&str> = [Some(username.as_str()), email.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            password_policy::check(p, &context)?;
            authenticators.push(Authenticator {
                user_id: id.clone(),
                kind: AuthenticatorKind::Password,
                external_id: None,
                data: self.s.passwords.hash(p).await?,
                created_at: now,
            });
        }
        let user = NewUser {
            id: id.clone(),
            username,
            email,
            email_verified: new.email_verified,
            postbox_handle: random::uuid()?,
            created_at: now,
        };
        match self
            .s
            .store
            .create_user(&user, &attributes, &authenticators)
            .await
        {
            Ok(()) => Ok(id),
            Err(StoreError::Conflict(_)) => Err(ServiceError::Invalid(
                "the user name or e-mail address is taken".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Sets a new password (checked against the policy) and ends the account's sessions.
    pub async fn set_password(&self, user_id: &str, password: &str) -> Result<(), ServiceError> {
        let user = self
            .s
            .store
            .user(user_id)
            .await?
            .ok_or(ServiceError::Invalid("no such account".into()))?;
        check_password(&user, password)?;
        let hash = self.s.passwords.hash(password).await?;
        match self
            .s
            .store
            .update_authenticator_data(user_id, AuthenticatorKind::Password, &hash)
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => {
                let a = Authenticator {
                    user_id: user_id.to_owned(),
                    kind: AuthenticatorKind::Password,
                    external_id: None,
                    data: hash,
                    created_at: self.s.clock.now(),
                };
                self.s.store.link_authenticator(&a, None).await?;
            }
            Err(e) => return Err(e.into()),
        }
        for s in self.s.store.sessions_of_user(user_id).await? {
            self.s.store.delete_session(&s.id).await?;
        }
        self.s.throttle.forget(&user.username).await?;
        Ok(())
    }

    /// Refuses a request the throttle holds back (see [`Request`]).
    async fn throttle(
        &self,
        kind: Request,
        source: IpAddr,
        mail_to: Option<&str>,
    ) -> Result<(), ServiceError> {
        let now = self.s.clock.now();
        match self.s.throttle.request(kind, source, mail_to, now).await? {
            Some(at) => Err(ServiceError::Throttled {
                retry_at: at.unix_timestamp(),
            }),
            None => Ok(()),
        }
    }

    /// Starts a self-registration: the same answer whether or not the address has an account.
    /// Throttled per `source` and per address once the input is valid (before any hashing).
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        given_name: Option<String>,
        family_name: Option<String>,
        source: IpAddr,
    ) -> Result<(), ServiceError> {
        if !self.s.config.registration {
            return Err(ServiceError::RegistrationClosed);
        }
        let email = normalise_email(email)?;
        password_policy::check(password, &[&email])?;
        let given_name = check_name(&given_name)?;
        let family_name = check_name(&family_name)?;
        self.throttle(Request::Registration, source, Some(&email))
            .await?;
        // the work is the same for new and known addresses
        let password_hash = self.s.passwords.hash(password).await?;
        let existing = self.s.store.user_by_email(&email).await?;
        let name = &self.s.config.product_name;
        if existing.is_some() {
            let reset = self.s.link_url("/reset", "");
            self.s.deliver_later(
                None,
                email,
                format!("{name}: Registrierung / registration"),
                format!(
                    "Für diese Adresse besteht bereits ein Konto. Falls Sie Ihr Passwort vergessen haben: {reset}\n\n\
                     This address already has an account. If you forgot your password: {reset}\n"
                ),
            );
            return Ok(());
        }
        let token = random::secret()?;
        let payload = serde_json::to_string(&RegistrationPayload {
            password_hash,
            given_name,
            family_name,
        })
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let record = EmailLinkRecord {
            hash: self.s.hasher.hash(SecretPurpose::EmailLink, token.expose()),
            purpose: EmailLinkPurpose::Registration,
            email: email.clone(),
            user_id: None,
            payload,
            expires_at: self.s.clock.now() + self.s.config.registration_link_ttl,
        };
        let link = self.s.link_url("/register/confirm", token.expose());
        self.s.deliver_later(
            Some(record),
            email,
            format!("{name}: Bitte bestätigen Sie Ihre E-Mail-Adresse / please confirm your e-mail address"),
            format!(
                "Bitte bestätigen Sie Ihre Registrierung: {link}\n\nPlease confirm your registration: {link}\n\n\
                 Wenn Sie sich nicht registriert haben, ignorieren Sie diese Nachricht. / If you did not register, ignore this message.\n"
            ),
        );
        Ok(())
    }

    /// Follows a registration link: creates the account with a verified e-mail address.
    pub async fn confirm_registration(&self, token: &str) -> Result<Registered, ServiceError> {
        let now = self.s.clock.now();
        if token.len() > 64 {
            return Err(ServiceError::BadLink);
        }
        let link = self
            .s
            .store
            .take_email_link(&self.s.hasher.hash(SecretPurpose::EmailLink, token), now)
            .await?
            .filter(|l| l.purpose == EmailLinkPurpose::Registration)
            .ok_or(ServiceError::BadLink)?;
        let p: RegistrationPayload = serde_json::from_str(&link.payload)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        if self.s.store.user_by_email(&link.email).await?.is_some()
            || self.s.store.user_by_username(&link.email).await?.is_some()
        {
            return Ok(Registered::AlreadyExists);
        }
        let id = random::uuid()?;
        let mut attributes = vec![Attribute::new(
            AttributeName::Email,
            link.email.clone(),
            AttributeSource::PasswordAccount,
            Level::Basic,
            now,
        )];
        if let Some(g) = p.given_name {
            attributes.push(Attribute::new(
                AttributeName::GivenName,
                g,
                AttributeSource::SelfAsserted,
                Level::Basic,
                now,
            ));
        }
        if let Some(f) = p.family_name {
            attributes.push(Attribute::new(
                AttributeName::FamilyName,
                f,
                AttributeSource::SelfAsserted,
                Level::Basic,
                now,
            ));
        }
        let user = NewUser {
            id: id.clone(),
            username: link.email.clone(),
            email: Some(link.email.clone()),
            email_verified: true,
            postbox_handle: random::uuid()?,
            created_at: now,
        };
        let password = Authenticator {
            user_id: id,
            kind: AuthenticatorKind::Password,
            external_id: None,
            data: p.password_hash,
            created_at: now,
        };
        match self
            .s
            .store
            .create_user(&user, &attributes, &[password])
            .await
        {
            Ok(()) => Ok(Registered::Created {
                username: link.email,
            }),
            Err(StoreError::Conflict(_)) => Ok(Registered::AlreadyExists),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends a reset link if the address has an account; the same answer either way.
    /// Throttled per `source` and per address (before the account is looked up).
    pub async fn request_reset(&self, email: &str, source: IpAddr) -> Result<(), ServiceError> {
        let Ok(email) = normalise_email(email) else {
            return Ok(());
        };
        self.throttle(Request::Reset, source, Some(&email)).await?;
        let Some(user) = self.s.store.user_by_email(&email).await? else {
            return Ok(());
        };
        let token = random::secret()?;
        let record = EmailLinkRecord {
            hash: self.s.hasher.hash(SecretPurpose::EmailLink, token.expose()),
            purpose: EmailLinkPurpose::PasswordReset,
            email: email.clone(),
            user_id: Some(user.id),
            payload: "{}".into(),
            expires_at: self.s.clock.now() + self.s.config.reset_link_ttl,
        };
        let link = self.s.link_url("/reset/confirm", token.expose());
        let name = &self.s.config.product_name;
        self.s.deliver_later(
            Some(record),
            email,
            format!("{name}: Passwort zurücksetzen / reset your password"),
            format!(
                "Mit diesem Link setzen Sie ein neues Passwort (einmal gültig): {link}\n\n\
                 Use this link to set a new password (works once): {link}\n\n\
                 Wenn Sie das nicht angefordert haben, ignorieren Sie diese Nachricht. / If you did not ask for this, ignore this message.\n"
            ),
        );
        Ok(())
    }

    /// Sets a new password with a reset link and ends the account's sessions. The link is spent
    /// only with a password the policy accepts for this account, in one transaction with it.
    pub async fn reset_password(&self, token: &str, password: &str) -> Result<(), ServiceError> {
        if token.len() > 64 {
            return Err(ServiceError::BadLink);
        }
        password_policy::check(password, &[])?;
        let hash = self.s.hasher.hash(SecretPurpose::EmailLink, token);
        let link = self
            .s
            .store
            .email_link(&hash, self.s.clock.now())
            .await?
            .filter(|l| l.purpose == EmailLinkPurpose::PasswordReset)
            .ok_or(ServiceError::BadLink)?;
        let user_id = link.user_id.ok_or(ServiceError::BadLink)?;
        let user = self
            .s
            .store
            .user(&user_id)
            .await?
            .ok_or(ServiceError::BadLink)?;
        check_password(&user, password)?;
        let data = self.s.passwords.hash(password).await?;
        self.s
            .store
            .reset_password_with_link(&hash, &data, self.s.clock.now())
            .await?
            .ok_or(ServiceError::BadLink)?;
        self.s.throttle.forget(&user.username).await?;
        Ok(())
    }

    pub async fn overview(&self, user_id: &str) -> Result<AccountOverview, ServiceError> {
        let user = self
            .s
            .store
            .user(user_id)
            .await?
            .ok_or(ServiceError::Invalid("no such account".into()))?;
        Ok(AccountOverview {
            attributes: self.s.store.attributes(user_id).await?,
            authenticators: self
                .s
                .store
                .authenticators(user_id)
                .await?
                .into_iter()
                .map(|a| a.kind)
                .collect(),
            consents: self.s.store.consents_of_user(user_id).await?,
            sessions: self.s.store.sessions_of_user(user_id).await?,
            user,
        })
    }

    /// Changes self-asserted names; verified ones (eID, ELSTER) cannot be edited.
    pub async fn update_names(
        &self,
        user_id: &str,
        given_name: Option<String>,
        family_name: Option<String>,
    ) -> Result<(), ServiceError> {
        let now = self.s.clock.now();
        let attrs = self.s.store.attributes(user_id).await?;
        for (name, value) in [
            (AttributeName::GivenName, check_name(&given_name)?),
            (AttributeName::FamilyName, check_name(&family_name)?),
        ] {
            let Some(value) = value else { continue };
            if let Some(current) = attrs.iter().find(|a| a.name == name) {
                if current.value == value {
                    continue;
                }
                if !current.source.user_editable() {
                    return Err(ServiceError::NotEditable);
                }
            }
            let set = self
                .s
                .store
                .put_self_asserted(
                    user_id,
                    &Attribute::new(
                        name,
                        value,
                        AttributeSource::SelfAsserted,
                        Level::Basic,
                        now,
                    ),
                )
                .await?;
            if !set {
                // verified meanwhile (a certificate or card linked in another window)
                return Err(ServiceError::NotEditable);
            }
        }
        Ok(())
    }

    pub async fn passkey_registration_start(
        &self,
        user_id: &str,
    ) -> Result<(CreationChallengeResponse, PendingRegistration), ServiceError> {
        let passkeys = self.s.passkeys.as_ref().ok_or(ServiceError::NotAvailable)?;
        let user = self
            .s
            .store
            .user(user_id)
            .await?
            .ok_or(ServiceError::Invalid("no such account".into()))?;
        if self
            .s
            .store
            .authenticators(user_id)
            .await?
            .iter()
            .any(|a| a.kind == AuthenticatorKind::Passkey)
        {
            return Err(ServiceError::AlreadyLinked);
        }
        passkeys
            .start_registration(&user.id, &user.username, &user.username)
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    pub async fn passkey_registration_finish(
        &self,
        user_id: &str,
        response: &RegisterPublicKeyCredential,
        pending: &PendingRegistration,
    ) -> Result<(), ServiceError> {
        let passkeys = self.s.passkeys.as_ref().ok_or(ServiceError::NotAvailable)?;
        let (passkey, credential_id) = passkeys
            .finish_registration(response, pending)
            .map_err(|_| ServiceError::PasskeyRejected)?;
        let a = Authenticator {
            user_id: user_id.to_owned(),
            kind: AuthenticatorKind::Passkey,
            external_id: Some(credential_id),
            data: encode_passkey(&passkey).map_err(|e| ServiceError::Internal(e.to_string()))?,
            created_at: self.s.clock.now(),
        };
        match self.s.store.link_authenticator(&a, None).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(ServiceError::AlreadyLinked),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes an authenticator, but never the last way to sign in.
    pub async fn remove_authenticator(
        &self,
        user_id: &str,
        kind: AuthenticatorKind,
    ) -> Result<(), ServiceError> {
        let all = self.s.store.authenticators(user_id).await?;
        if !all.iter().any(|a| a.kind == kind) {
            return Err(ServiceError::Invalid(
                "the account has no such authenticator".into(),
            ));
        }
        if all.len() <= 1 {
            return Err(ServiceError::LastAuthenticator);
        }
        self.s.store.remove_authenticator(user_id, kind).await?;
        Ok(())
    }

    /// Deletes the account and all its data (OZG §8: at any time).
    /// Deletes the account — unless the person is the last administrator of an organisation
    /// that has other members, which would be left with no one to manage it (they appoint
    /// another administrator first, or remove the members).
    pub async fn delete(&self, user_id: &str) -> Result<(), ServiceError> {
        for m in self.s.store.memberships_of_user(user_id).await? {
            if m.role != konto_core::representation::Role::Administrator {
                continue;
            }
            let members = self.s.store.members(&m.organisation).await?;
            let others = members.iter().filter(|o| o.user_id != user_id);
            let another_admin = others
                .clone()
                .any(|o| o.role == konto_core::representation::Role::Administrator);
            if !another_admin && others.count() > 0 {
                return Err(ServiceError::LastAdministrator);
            }
        }
        self.s
            .store
            .delete_user(user_id, self.s.clock.now())
            .await?;
        Ok(())
    }

    pub async fn find_by_username(&self, username: &str) -> Result<Option<User>, ServiceError> {
        Ok(self.s.store.user_by_username(username).await?)
    }
}

/// The password policy for a new password of `user` (its name and address are context words).
fn check_password(user: &User, password: &str) -> Result<(), ServiceError> {
    let context: Vec<&str> = [Some(user.username.as_str()), user.email.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    password_policy::check(password, &context)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_syntax() {
        assert_eq!(
            normalise_email(" Erika@Example.ORG ").unwrap(),
            "erika@example.org"
        );
        for bad in [
            "", "a", "a@b", "@b.de", "a@.de", "a@b.de.", "a b@c.de", "a@b@c.de", "<a@b.de>",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }
}
