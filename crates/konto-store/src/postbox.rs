//! Postboxes and their messages.

use async_trait::async_trait;
use konto_core::Level;
use konto_core::postbox::{ApplicationStatus, MessageKind};
use konto_core::representation::Party;
use time::OffsetDateTime;

use crate::StoreResult;

/// A postbox: its handle (a UUID distinct from every subject identifier), whose it is, and its
/// data key sealed under the master key (set with the first message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostboxRecord {
    pub handle: String,
    pub owner: Party,
    pub data_key: Option<Vec<u8>>,
    pub created_at: OffsetDateTime,
    /// Closed with its account: key and content erased, the messages' rows kept for their
    /// senders.
    pub closed_at: Option<OffsetDateTime>,
}

/// A message in a postbox. Title and body are sealed (AES-256-GCM under the postbox's data
/// key); `content_sha256` is the hash of the plain content, kept for integrity and to tell a
/// retried send from a different one under the same `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub id: String,
    pub handle: String,
    pub client_id: String,
    pub idempotency_key: String,
    pub kind: MessageKind,
    pub min_level: Level,
    pub sender: String,
    pub service: String,
    pub sealed: Vec<u8>,
    pub content_sha256: String,
    pub reference: Option<String>,
    pub application_id: Option<String>,
    pub provided_at: OffsetDateTime,
    /// For a decision: when it counts as delivered (OZG §9).
    pub delivered_at: Option<OffsetDateTime>,
    pub read_at: Option<OffsetDateTime>,
    /// Deleted by the person: the content is gone, the row tells the sender.
    pub deleted_at: Option<OffsetDateTime>,
}

/// A status update for an application in a postbox (the status monitor). `sealed`: the
/// details (JSON of the localized texts) sealed like a message's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationStateRecord {
    pub id: String,
    pub handle: String,
    pub client_id: String,
    pub application_id: String,
    pub status: ApplicationStatus,
    pub sender: String,
    /// JSON: the service's name by language.
    pub service_name: String,
    pub sealed: Vec<u8>,
    pub reference: Option<String>,
    pub recorded_at: OffsetDateTime,
}

#[async_trait]
pub trait PostboxRepo: Send + Sync {
    /// The postbox of `owner`, made with `handle` if it has none yet; of parallel callers one
    /// makes it and all get the same.
    async fn ensure_postbox(
        &self,
        owner: &Party,
        handle: &str,
        now: OffsetDateTime,
    ) -> StoreResult<PostboxRecord>;
    async fn postbox(&self, handle: &str) -> StoreResult<Option<PostboxRecord>>;
    async fn postbox_of(&self, owner: &Party) -> StoreResult<Option<PostboxRecord>>;
    /// Sets the postbox's data key if it has none; returns the key it has now (of parallel
    /// callers the first one's). `NotFound` without the postbox.
    async fn set_postbox_key(&self, handle: &str, sealed: &[u8]) -> StoreResult<Vec<u8>>;
    /// Records that `client_id` was given the handle (with the user's consent).
    async fn release_postbox(
        &self,
        handle: &str,
        client_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn postbox_released(&self, handle: &str, client_id: &str) -> StoreResult<bool>;
    /// The postbox `handle` if it was given to `client_id` (one read, for each send).
    async fn released_postbox(
        &self,
        handle: &str,
        client_id: &str,
    ) -> StoreResult<Option<PostboxRecord>>;
    /// Stores the message unless the client sent one with the same idempotency key before;
    /// returns the stored one either way (compare its id). Committed before it returns.
    async fn insert_message(&self, message: &MessageRecord) -> StoreResult<MessageRecord>;
    /// A postbox's messages that are not deleted, unread first, then newest first.
    async fn messages(&self, handle: &str) -> StoreResult<Vec<MessageRecord>>;
    /// One page of [`PostboxRepo::messages`]: `limit` from `offset` on, of one application's
    /// messages if named.
    async fn messages_page(
        &self,
        handle: &str,
        application_id: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<MessageRecord>>;
    /// A message in a postbox, unless deleted.
    async fn message(&self, handle: &str, id: &str) -> StoreResult<Option<MessageRecord>>;
    /// A message `client_id` sent, deleted or not (for the sender's status query).
    async fn sent_message(&self, client_id: &str, id: &str) -> StoreResult<Option<MessageRecord>>;
    /// Deletes a message for the person: its content is erased, `deleted_at` set; `false` if
    /// there is none (or it is deleted already).
    async fn delete_message(
        &self,
        handle: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Deletes a message from an organisation's postbox as [`PostboxRepo::delete_message`]
    /// does, and records `event` (who, when) in the organisation's record, in one transaction.
    async fn delete_org_message(
        &self,
        handle: &str,
        id: &str,
        event: &crate::OrgEvent,
    ) -> StoreResult<bool>;
    /// Marks a message read (the first time only); `false` if there is none.
    async fn mark_read(&self, handle: &str, id: &str, now: OffsetDateTime) -> StoreResult<bool>;
    /// Records a status update (committed before it returns). `NotFound` without the postbox.
    async fn insert_application_state(&self, state: &ApplicationStateRecord) -> StoreResult<()>;
    /// A postbox's status updates in the order they were recorded; of one application if named.
    async fn application_states(
        &self,
        handle: &str,
        application_id: Option<&str>,
    ) -> StoreResult<Vec<ApplicationStateRecord>>;
}

/// Where a message's attachments are kept, sealed: by default in the database; an object store
/// (S3-compatible) could implement this under keys `{message_id}/{position}`. A send puts its
/// attachments before it stores the message, so a stored message always finds them; the
/// attachments of a message that was never stored (a crash in between, a retried send) are
/// deleted, by the sender or by the purge.
#[async_trait]
pub trait AttachmentStore: Send + Sync {
    /// Stores a message's sealed attachments, in order (replacing any under the same id).
    /// Durable before it returns.
    async fn put_attachments(
        &self,
        message_id: &str,
        sealed: &[Vec<u8>],
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// One attachment, sealed.
    async fn attachment(&self, message_id: &str, position: usize) -> StoreResult<Option<Vec<u8>>>;
    /// Deletes a message's attachments (none is fine).
    async fn delete_attachments(&self, message_id: &str) -> StoreResult<()>;
}

/// Something a sender is told about one of its messages, waiting in the outbox or delivered.
/// Written in the same transaction as what it reports; its id is `{message_id}.provided`,
/// `.read` or `.deleted` (a message is provided, first read and deleted once), so it is
/// written once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostboxEvent {
    pub id: String,
    pub client_id: String,
    pub message_id: String,
    /// `provided`, `read`, `deleted_by_person` or `account_deleted`.
    pub event: String,
    pub occurred_at: OffsetDateTime,
    /// Delivery attempts begun so far.
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
    pub failed_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
}

/// The outbox of events for senders with a webhook (events are only written for clients that
/// have one). Delivered at least once: a node takes an event by moving its next attempt ahead
/// by a lease, and reports the outcome.
#[async_trait]
pub trait PostboxOutbox: Send + Sync {
    /// Events due at `now`, oldest first, at most `limit`.
    async fn due_events(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<PostboxEvent>>;
    /// Takes a due event for an attempt: counts it and moves its next attempt to `lease_until`.
    /// `false` if another node took it first (or it is no longer due).
    async fn claim_event(
        &self,
        id: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// The event was delivered.
    async fn event_delivered(&self, id: &str, now: OffsetDateTime) -> StoreResult<()>;
    /// An attempt failed: try again at `retry_at`, or give up (`None`).
    async fn event_attempt_failed(
        &self,
        id: &str,
        error: &str,
        retry_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// The events for a client's messages, oldest first (for tests and operators).
    async fn events_for(&self, client_id: &str) -> StoreResult<Vec<PostboxEvent>>;
}
