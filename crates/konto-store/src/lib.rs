#![doc = include_str!("../README.md")]

pub mod conformance;
mod facts_cache;
mod orgs;
mod postbox;
mod records;
mod saml;

use std::time::Duration;

use async_trait::async_trait;
use konto_core::amr::AuthenticatorKind;
use konto_core::attributes::Attribute;
use konto_core::client::Client;
use konto_core::secret::SecretHash;
use konto_core::session::SessionAuth;
use konto_core::throttle::ThrottleState;
use konto_core::user::{Authenticator, User};
use time::OffsetDateTime;

pub use facts_cache::{ChainFacts, FactsCache};
pub use orgs::*;
pub use postbox::*;
pub use records::*;
pub use saml::*;

/// What can go wrong in a store, without driver detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated; the text names the rule, never a value.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or refused the operation; retrying may help.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored value could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The data changed since the caller read it (a concurrent change); nothing was written.
    #[error("the data changed meanwhile")]
    Stale,
}

/// A rotated refresh token's grant as it now stands, and the organisation facts' epoch read
/// in the same statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub grant: GrantRecord,
    pub org_epoch: OrgEpoch,
}

/// A replacement of an account's attributes, valid only over the attributes it was computed
/// from: a decision (identity linking) taken on a snapshot must not be written over a newer one.
#[derive(Debug, Clone, Copy)]
pub struct AttributeChange<'a> {
    /// The attributes as the caller read them ([`UserRepo::attributes`]).
    pub expected: &'a [Attribute],
    /// What they become.
    pub merged: &'a [Attribute],
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait UserRepo: Send + Sync {
    /// Creates an account with its attributes and authenticators in one transaction.
    async fn create_user(
        &self,
        user: &NewUser,
        attributes: &[Attribute],
        authenticators: &[Authenticator],
    ) -> StoreResult<()>;
    async fn user(&self, id: &str) -> StoreResult<Option<User>>;
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn set_last_login(&self, id: &str, at: OffsetDateTime) -> StoreResult<()>;
    /// Deletes the account and everything that belongs to it (attributes, authenticators, sessions,
    /// grants and their tokens, consents, e-mail links; memberships and rights in organisations,
    /// a pending organisation letter, the mandates the person gave or received and the rights
    /// given under those) in one transaction. Mandates passed on from the person's stay and no
    /// longer verify. The person's postbox is closed: its key and the messages' content erased,
    /// the rows kept for the senders. The organisations concerned get an event at `at` in the
    /// same transaction:
    /// `member_left` (detail: the user id, reason `account_deleted`) and `mandate_ended` (the
    /// mandate id).
    async fn delete_user(&self, id: &str, at: OffsetDateTime) -> StoreResult<()>;

    async fn attributes(&self, user_id: &str) -> StoreResult<Vec<Attribute>>;
    /// Sets one attribute, replacing the value of the same name.
    async fn put_attribute(&self, user_id: &str, attribute: &Attribute) -> StoreResult<()>;

    async fn authenticators(&self, user_id: &str) -> StoreResult<Vec<Authenticator>>;
    async fn authenticator_by_external_id(
        &self,
        kind: AuthenticatorKind,
        external_id: &str,
    ) -> StoreResult<Option<Authenticator>>;
    /// Replaces the data of an existing authenticator (a new password hash).
    async fn update_authenticator_data(
        &self,
        user_id: &str,
        kind: AuthenticatorKind,
        data: &str,
    ) -> StoreResult<()>;
    async fn remove_authenticator(&self, user_id: &str, kind: AuthenticatorKind)
    -> StoreResult<()>;
    /// Adds an authenticator and, with `attributes`, replaces the account's attributes, in one
    /// transaction that holds the account against concurrent changes. `Conflict` if the account
    /// already has one of this kind or the external id belongs to another account; `Stale` if
    /// the attributes are no longer `expected` (nothing is written then).
    async fn link_authenticator(
        &self,
        authenticator: &Authenticator,
        attributes: Option<AttributeChange<'_>>,
    ) -> StoreResult<()>;
    /// Sets a self-asserted attribute, unless the account's value of it comes from a verified
    /// source (atomically: a value verified meanwhile is never overwritten). `false` then.
    async fn put_self_asserted(&self, user_id: &str, attribute: &Attribute) -> StoreResult<bool>;
}

#[async_trait]
pub trait ClientRepo: Send + Sync {
    async fn create_client(&self, client: &Client) -> StoreResult<()>;
    async fn client(&self, id: &str) -> StoreResult<Option<Client>>;
    async fn list_clients(&self) -> StoreResult<Vec<Client>>;
    /// Removes the client and revokes everything issued to it.
    async fn delete_client(&self, id: &str) -> StoreResult<()>;
}

#[async_trait]
pub trait SessionRepo: Send + Sync {
    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()>;
    async fn session_by_secret(
        &self,
        secret_hash: &SecretHash,
    ) -> StoreResult<Option<SessionRecord>>;
    async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>>;
    async fn update_session(
        &self,
        id: &str,
        auth: &SessionAuth,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn delete_session(&self, id: &str) -> StoreResult<()>;
    /// Records a new authentication and gives the session a new secret (the old cookie stops
    /// working). `NotFound` if the session is gone.
    async fn renew_session(
        &self,
        id: &str,
        secret_hash: &SecretHash,
        auth: &SessionAuth,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn sessions_of_user(&self, user_id: &str) -> StoreResult<Vec<SessionRecord>>;
}

#[async_trait]
pub trait FlowRepo: Send + Sync {
    async fn create_flow(&self, flow: &FlowRecord) -> StoreResult<()>;
    async fn flow(&self, id_hash: &SecretHash) -> StoreResult<Option<FlowRecord>>;
    /// Replaces the flow's state. `NotFound` if it is gone.
    async fn update_flow_state(&self, id_hash: &SecretHash, state: &str) -> StoreResult<()>;
    async fn delete_flow(&self, id_hash: &SecretHash) -> StoreResult<()>;
    /// Replaces the flow's state only if it is still `expected` (compare-and-set): of several
    /// requests racing to change the same state, exactly one wins. `false` if the state had
    /// changed or the flow is gone.
    async fn replace_flow_state(
        &self,
        id_hash: &SecretHash,
        expected: &str,
        state: &str,
    ) -> StoreResult<bool>;

    /// Deletes the flow and says whether this call did: of parallel calls for one flow exactly
    /// one gets `true`, so a flow is completed (a code issued) once.
    async fn claim_flow(&self, id_hash: &SecretHash) -> StoreResult<bool>;
}

#[async_trait]
pub trait GrantRepo: Send + Sync {
    /// Stores a grant with its (unused) authorization code.
    async fn create_grant(&self, grant: &GrantRecord) -> StoreResult<()>;
    /// The grant an authorization code belongs to.
    async fn grant_by_code(&self, code_hash: &SecretHash) -> StoreResult<Option<GrantRecord>>;
    /// Marks the code used and sets the first refresh token, atomically. Returns `false` if the
    /// code was already used (a replay): then nothing changes.
    async fn consume_code(
        &self,
        code_hash: &SecretHash,
        now: OffsetDateTime,
        refresh_hash: Option<&SecretHash>,
    ) -> StoreResult<bool>;
    async fn grant(&self, id: &str) -> StoreResult<Option<GrantRecord>>;
    /// Revokes the grant: no token of it works any more.
    async fn revoke_grant(&self, id: &str, now: OffsetDateTime) -> StoreResult<()>;
    /// Rotates the refresh token of `client_id`'s active grant `grant_id` from `old_hash` to
    /// `new_hash` in one atomic step (RFC 9700 §4.14.2) and returns the grant as it now stands.
    /// `None` if the grant is not active, belongs to another client, or `old_hash` is not its
    /// current token; nothing changes then. The same statement reads the organisation facts'
    /// epoch ([`OrgRepo::org_epoch`]), so a grant acting for someone learns without another
    /// round trip whether facts cached for its chain are current.
    async fn rotate_refresh_token(
        &self,
        grant_id: &str,
        old_hash: &SecretHash,
        client_id: &str,
        new_hash: &SecretHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Rotated>>;
    /// A retry of the token the last rotation replaced (`previous_hash`), when that rotation's
    /// answer was lost: replaces the never-used successor with `new_hash`, provided the
    /// rotation happened at or after `rotated_since` and the successor was not rotated in turn
    /// (then the token is a reuse). `None` otherwise. One conditional `UPDATE`.
    async fn retry_refresh_token(
        &self,
        grant_id: &str,
        previous_hash: &SecretHash,
        client_id: &str,
        new_hash: &SecretHash,
        now: OffsetDateTime,
        rotated_since: OffsetDateTime,
    ) -> StoreResult<Option<Rotated>>;
    /// Adds an access token's `jti` to the deny list until it expires.
    async fn revoke_access_token(&self, jti: &str, expires_at: OffsetDateTime) -> StoreResult<()>;
    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool>;
    /// Records a client assertion's `jti` (RFC 7523 §3); `false` if it was seen before.
    async fn record_client_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait ConsentRepo: Send + Sync {
    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<ConsentRecord>>;
    async fn save_consent(&self, consent: &ConsentRecord) -> StoreResult<()>;
    async fn consents_of_user(&self, user_id: &str) -> StoreResult<Vec<ConsentRecord>>;
    async fn revoke_consent(&self, user_id: &str, client_id: &str) -> StoreResult<()>;
}

#[async_trait]
pub trait KeyRepo: Send + Sync {
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>>;
    async fn insert_key(&self, key: &StoredKey) -> StoreResult<()>;
    /// For one algorithm: current → retired (kept until `retire_after`), next → current, and
    /// `new_next` becomes next. One transaction, so no node ever sees two current keys.
    async fn rotate_keys(
        &self,
        alg: &str,
        new_next: &StoredKey,
        retire_after: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
}

#[async_trait]
pub trait ThrottleRepo: Send + Sync {
    async fn throttle(&self, key: &str) -> StoreResult<Option<ThrottleState>>;
    /// The states of two keys in one query (account name and source address of a login).
    async fn throttle_pair(
        &self,
        a: &str,
        b: &str,
    ) -> StoreResult<(Option<ThrottleState>, Option<ThrottleState>)>;
    async fn put_throttle(&self, key: &str, state: &ThrottleState) -> StoreResult<()>;
    async fn clear_throttle(&self, key: &str) -> StoreResult<()>;
    /// Counts one failure of `key` at `now` in one atomic step and returns the state after it:
    /// the count restarts at 1 when the last failure is more than `forget_after` old, and grows
    /// by one otherwise (as [`ThrottleState::after_failure`]). Parallel calls each count.
    async fn count_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        forget_after: Duration,
    ) -> StoreResult<ThrottleState>;
    /// As [`ThrottleRepo::count_failure`], but only while `key` still stands at `seen`
    /// failures (forgotten failures count as none; a missing key stands at none): an attempt
    /// takes its place after looking at the count. `None`, and nothing changes, when another
    /// attempt counted in between.
    async fn count_failure_if(
        &self,
        key: &str,
        seen: u32,
        now: OffsetDateTime,
        forget_after: Duration,
    ) -> StoreResult<Option<ThrottleState>>;
}

#[async_trait]
pub trait EmailLinkRepo: Send + Sync {
    async fn create_email_link(&self, link: &EmailLinkRecord) -> StoreResult<()>;
    /// Returns and deletes the link: each link works once.
    async fn take_email_link(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<EmailLinkRecord>>;
    /// The link, if it exists and has not expired, without spending it.
    async fn email_link(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<EmailLinkRecord>>;
    /// Spends a live password-reset link and, in the same transaction, sets the password
    /// authenticator of the link's account to `password_data` (adding one if the account has
    /// none) and ends the account's sessions. Returns the account's id; `None`, and nothing
    /// changes, when the link is unknown, expired, already spent or of another purpose: of
    /// parallel calls with one link exactly one succeeds.
    async fn reset_password_with_link(
        &self,
        hash: &SecretHash,
        password_data: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<String>>;
}

#[async_trait]
pub trait Maintenance: Send + Sync {
    /// Deletes rows that expired before `now`; returns how many.
    async fn purge_expired(&self, now: OffsetDateTime) -> StoreResult<u64>;
    /// Counts rows per table, for tests and operators.
    async fn row_counts(&self) -> StoreResult<Vec<(String, i64)>>;
    /// Checks that the database answers.
    async fn ping(&self) -> StoreResult<()>;
}

/// Everything konto stores.
pub trait Store:
    UserRepo
    + ClientRepo
    + SessionRepo
    + FlowRepo
    + GrantRepo
    + ConsentRepo
    + KeyRepo
    + ThrottleRepo
    + EmailLinkRepo
    + OrgRepo
    + PostboxRepo
    + AttachmentStore
    + PostboxOutbox
    + SamlRepo
    + Maintenance
{
}

impl<T> Store for T where
    T: UserRepo
        + ClientRepo
        + SessionRepo
        + FlowRepo
        + GrantRepo
        + ConsentRepo
        + KeyRepo
        + ThrottleRepo
        + EmailLinkRepo
        + OrgRepo
        + PostboxRepo
        + AttachmentStore
        + PostboxOutbox
        + SamlRepo
        + Maintenance
{
}
