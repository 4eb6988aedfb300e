//! The postbox: services deliver messages and decisions into the postbox of a person whose
//! handle they were given; the person reads them at the level each message asks for.
//!
//! Title and body are sealed at rest with AES-256-GCM under the postbox's own data key, which
//! is itself sealed under the master key (made with the first message); the associated data
//! binds a sealed message to its postbox and id, so a ciphertext moved to another row does not
//! open. The SHA-256 of the plain content is kept for integrity and to tell a retried send
//! (same `Idempotency-Key`, same content) from a different message under a reused key.

use std::sync::Arc;

use konto_core::Level;
use konto_core::postbox::{
    ApplicationStatus, BodyFormat, Localized, NewMessage, StateUpdate, delivered_on,
    valid_idempotency_key,
};
use konto_core::representation::Party;
use konto_keys::{KeyEncryptionKey, random};
use konto_store::{ApplicationStateRecord, MessageRecord, PostboxRecord, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Date, OffsetDateTime};

use crate::Services;
use crate::error::ServiceError;

/// The most messages one page of an inbox holds.
pub const MAX_PAGE: u32 = 200;

/// The postbox service.
#[derive(Clone)]
pub struct PostboxService {
    s: Arc<Services>,
}

impl std::fmt::Debug for PostboxService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostboxService")
    }
}

/// What the sender gets back for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub id: String,
    pub provided_at: OffsetDateTime,
    /// For a decision: the day it counts as delivered (OZG §9).
    pub delivered_on: Option<Date>,
    /// The same message was sent before under this `Idempotency-Key`: nothing new was stored.
    pub replayed: bool,
}

/// A message as its reader sees it. Above the session's level only what is needed to ask for
/// a step-up is shown: no title, no body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView {
    pub id: String,
    pub kind: konto_core::postbox::MessageKind,
    pub sender: String,
    pub service: String,
    pub min_level: Level,
    pub reference: Option<String>,
    pub application_id: Option<String>,
    pub provided_at: OffsetDateTime,
    pub delivered_on: Option<Date>,
    pub read_at: Option<OffsetDateTime>,
    /// Title and body, when the session's level reaches `min_level`.
    pub content: Option<Content>,
}

/// Where a sent message stands, as its sender may learn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageStatus {
    pub id: String,
    /// `provided`, `read` or `deleted`.
    pub state: &'static str,
    /// For a deleted message: `deleted_by_person`, or `account_deleted` when the person's
    /// account went (and their postbox with it).
    pub reason: Option<&'static str>,
    pub provided_at: OffsetDateTime,
    pub delivered_on: Option<Date>,
    pub read_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
}

/// The sealed part of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub title: String,
    /// Plain text, or sanitised HTML ([`crate::postbox_html`]).
    pub body: String,
    /// Absent in what is stored for plain text (so a text message's hash is what it was).
    #[serde(default, skip_serializing_if = "BodyFormat::is_text")]
    pub format: BodyFormat,
    /// The attachments, in order; their bytes are kept apart ([`konto_store::AttachmentStore`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentInfo>,
    /// The sender's signature over the content as sent, verified on receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Evidence>,
    /// Where the person may answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_address: Option<String>,
}

/// A sender's signature over a message as it was sent, and what it signed: kept with the
/// message so the reader can be shown (and an auditor re-check) that the content came from the
/// sender unaltered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// A detached JWS (`header..signature`), or BundID's base64 `sha512sum`.
    pub signature: String,
    /// The signed text: the request's message part (JWS), or BundID's `content`.
    pub signed: String,
}

/// How a sender signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A JWS with detached payload (RFC 7515 Appendix F) with a key of the client's JWK Set.
    DetachedJws,
    /// RSASSA-PKCS1-v1_5 with SHA-512 over BundID's `content` string, base64.
    Rs512,
}

/// What a message says about one of its attachments (sealed with the message: a file name may
/// be personal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentInfo {
    pub filename: String,
    /// The media type, checked against the content.
    pub content_type: String,
    pub size: u64,
    /// Of the plain bytes, hex.
    pub sha256: String,
}

/// An attachment as a service sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    pub filename: String,
    /// The `Content-Type` the sender declared.
    pub content_type: String,
    pub data: Vec<u8>,
}

/// The media type `data` is, from its content: a known binary signature, else `text/plain`
/// for UTF-8 text without control characters other than line breaks, tabs and form feeds.
pub fn sniff(data: &[u8]) -> Option<&'static str> {
    if let Some(t) = infer::get(data) {
        return Some(t.mime_type());
    }
    std::str::from_utf8(data).ok()?;
    // control characters: C0 and DEL as bytes (counted without an early exit, which the
    // compiler turns into vector code), C1 (U+0080–U+009F) as 0xC2 0x80–0x9F in UTF-8, looked
    // for only where a 0xC2 is
    let c0 = |b: u8| (b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c)) || b == 0x7f;
    let controls = data.iter().fold(0usize, |n, &b| n + usize::from(c0(b)));
    let c1 = memchr::memchr_iter(0xc2, data)
        .any(|i| data.get(i + 1).is_some_and(|b| (0x80..=0x9f).contains(b)));
    (controls == 0 && !c1).then_some("text/plain")
}

/// Checks attachments against `rules` (count, size, name, type; content against type) and
/// describes each.
pub fn check_attachments(
    rules: &konto_core::postbox::AttachmentRules,
    attachments: &[NewAttachment],
) -> Result<Vec<AttachmentInfo>, konto_core::postbox::MessageError> {
    use konto_core::postbox::MessageError;
    if attachments.len() > rules.max_count {
        return Err(MessageError::TooManyAttachments(rules.max_count));
    }
    attachments
        .iter()
        .map(|a| {
            let media = rules.check_declared(&a.filename, &a.content_type)?;
            let size = a.data.len() as u64;
            if size > rules.max_bytes {
                return Err(MessageError::AttachmentTooLarge(
                    a.filename.clone(),
                    rules.max_bytes,
                ));
            }
            if a.data.is_empty() {
                return Err(MessageError::AttachmentType(
                    a.filename.clone(),
                    "the file is empty".into(),
                ));
            }
            match sniff(&a.data) {
                Some(found) if found == media => {}
                found => {
                    return Err(MessageError::AttachmentType(
                        a.filename.clone(),
                        format!(
                            "the content is {}, not {media}",
                            found.unwrap_or("of an unknown type")
                        ),
                    ));
                }
            }
            Ok(AttachmentInfo {
                filename: a.filename.clone(),
                content_type: media,
                size,
                sha256: hex::encode(Sha256::digest(&a.data)),
            })
        })
        .collect()
}

fn attachment_aad(handle: &str, id: &str, position: usize) -> String {
    format!("konto-postbox-attachment:{handle}:{id}:{position}")
}

impl Content {
    fn sha256(&self) -> Result<String, ServiceError> {
        let json = serde_json::to_vec(self).map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(hex::encode(Sha256::digest(json)))
    }
}

fn key_aad(handle: &str) -> String {
    format!("konto-postbox-key:{handle}")
}

fn message_aad(handle: &str, id: &str) -> String {
    format!("konto-postbox-message:{handle}:{id}")
}

fn state_aad(handle: &str, id: &str) -> String {
    format!("konto-postbox-state:{handle}:{id}")
}

/// One step in an application's timeline, as its person sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateView {
    pub application_id: String,
    pub status: ApplicationStatus,
    pub sender: String,
    pub service_name: Localized,
    pub details: Localized,
    pub reference: Option<String>,
    pub recorded_at: OffsetDateTime,
}

impl PostboxService {
    pub fn new(services: Arc<Services>) -> PostboxService {
        PostboxService { s: services }
    }

    fn now(&self) -> OffsetDateTime {
        self.s.clock.now()
    }

    /// The person's postbox, made on first use with the handle the account was given when it
    /// was created.
    pub async fn postbox_of_user(&self, user_id: &str) -> Result<PostboxRecord, ServiceError> {
        let owner = Party::Person(user_id.to_owned());
        if let Some(p) = self.s.store.postbox_of(&owner).await? {
            return Ok(p);
        }
        let user = self
            .s
            .store
            .user(user_id)
            .await?
            .ok_or(ServiceError::NoMessage)?;
        Ok(self
            .s
            .store
            .ensure_postbox(&owner, &user.postbox_handle, self.now())
            .await?)
    }

    /// The postbox `handle`, if it was given to `client_id` ([`ServiceError::UnknownRecipient`]
    /// otherwise, as for one that does not exist).
    async fn released_postbox(
        &self,
        client_id: &str,
        handle: &str,
    ) -> Result<PostboxRecord, ServiceError> {
        if handle.len() > 64 {
            return Err(ServiceError::UnknownRecipient);
        }
        self.s
            .store
            .released_postbox(handle, client_id)
            .await?
            .ok_or(ServiceError::UnknownRecipient)
    }

    /// The postbox's data key, made and stored with the first message.
    async fn data_key(&self, postbox: &PostboxRecord) -> Result<KeyEncryptionKey, ServiceError> {
        let kek = &self.s.postbox_key;
        let aad = key_aad(&postbox.handle);
        let sealed = match &postbox.data_key {
            Some(k) => k.clone(),
            None => {
                let fresh = random::bytes::<32>()?;
                let sealed = kek
                    .encrypt(&aad, &fresh)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?;
                // of parallel first messages one key wins; every sender uses the stored one
                self.s
                    .store
                    .set_postbox_key(&postbox.handle, &sealed)
                    .await?
            }
        };
        let plain = kek
            .decrypt(&aad, &sealed)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let key: [u8; 32] = plain
            .try_into()
            .map_err(|_| ServiceError::Internal("a postbox key of the wrong length".into()))?;
        Ok(KeyEncryptionKey::new(key))
    }

    /// Delivers `message` from `client_id` to the postbox `handle`, which must have been given
    /// to that client. A send with an `Idempotency-Key` the client used before returns the
    /// first receipt if the content is the same, and [`ServiceError::IdempotencyConflict`]
    /// if not. Acknowledged only once committed.
    pub async fn send(
        &self,
        client_id: &str,
        handle: &str,
        idempotency_key: &str,
        message: NewMessage,
        attachments: Vec<NewAttachment>,
        evidence: Option<Evidence>,
    ) -> Result<Receipt, ServiceError> {
        if !valid_idempotency_key(idempotency_key) {
            return Err(ServiceError::Invalid("Idempotency-Key".into()));
        }
        message.validate()?;
        let infos = check_attachments(&self.s.config.postbox_attachments, &attachments)?;
        let postbox = self.released_postbox(client_id, handle).await?;
        if let Some(e) = &evidence {
            self.verify_evidence(client_id, e).await?;
        }
        let body = match message.format {
            BodyFormat::Text => message.body,
            BodyFormat::Html => crate::postbox_html::accept(&message.body)?,
        };
        let content = Content {
            title: message.title,
            body,
            format: message.format,
            attachments: infos,
            signature: evidence,
            reply_address: message.reply_address,
        };
        let content_sha256 = content.sha256()?;
        let id = random::id()?;
        let plain =
            serde_json::to_vec(&content).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let key = self.data_key(&postbox).await?;
        let sealed = key
            .encrypt(&message_aad(handle, &id), &plain)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        // the attachments first: a message, once stored, always finds them
        if !attachments.is_empty() {
            let files = attachments
                .into_iter()
                .enumerate()
                .map(|(n, a)| {
                    key.encrypt_owned(&attachment_aad(handle, &id, n), a.data)
                        .map_err(|e| ServiceError::Internal(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.s
                .attachments
                .put_attachments(&id, &files, self.now())
                .await?;
        }
        let now = self.now();
        let delivered_at = match message.kind {
            konto_core::postbox::MessageKind::Decision => {
                delivered_on(now, self.s.config.postbox_delivery_days)
                    .map(|d| d.midnight().assume_utc())
            }
            konto_core::postbox::MessageKind::Message => None,
        };
        let record = MessageRecord {
            id: id.clone(),
            handle: handle.to_owned(),
            client_id: client_id.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
            kind: message.kind,
            min_level: message.min_level,
            sender: message.sender,
            service: message.service,
            sealed,
            content_sha256: content_sha256.clone(),
            reference: message.reference,
            application_id: message.application_id,
            provided_at: now,
            delivered_at,
            read_at: None,
            deleted_at: None,
        };
        let stored = match self.s.store.insert_message(&record).await {
            Ok(m) => m,
            Err(StoreError::NotFound) => return Err(ServiceError::UnknownRecipient),
            Err(e) => return Err(e.into()),
        };
        let replayed = stored.id != id;
        if replayed && !content.attachments.is_empty() {
            // this attempt's copies; the first send's are the message's
            if let Err(e) = self.s.attachments.delete_attachments(&id).await {
                tracing::warn!(error = %e, "a retried send's attachments stay for the purge");
            }
        }
        if replayed && (stored.content_sha256 != content_sha256 || stored.handle != handle) {
            return Err(ServiceError::IdempotencyConflict);
        }
        if !replayed {
            tracing::info!(client_id, message = %stored.id, "postbox message provided");
            // off the send's path: the answer does not wait for the owner's address
            let this = self.clone();
            tokio::spawn(async move { this.notify(&postbox).await });
        }
        Ok(Receipt {
            id: stored.id,
            provided_at: stored.provided_at,
            delivered_on: stored.delivered_at.map(|d| d.date()),
            replayed,
        })
    }

    /// Checks a sender's signature with the keys registered for the client.
    async fn verify_evidence(&self, client_id: &str, e: &Evidence) -> Result<(), ServiceError> {
        use konto_core::postbox::MessageError;
        let jwks = self
            .s
            .store
            .client(client_id)
            .await?
            .and_then(|c| c.jwks)
            .ok_or_else(|| {
                MessageError::Signature("the client has no registered keys to check it".into())
            })?;
        let checked = match e.kind {
            EvidenceKind::DetachedJws => {
                konto_keys::verify_detached_with_jwks(&e.signature, e.signed.as_bytes(), &jwks)
                    .map(|_| ())
            }
            EvidenceKind::Rs512 => {
                use base64::Engine;
                let sig = base64::engine::general_purpose::STANDARD
                    .decode(e.signature.trim())
                    .map_err(|_| MessageError::Signature("sha512sum is not base64".into()))?;
                konto_keys::verify_rs512_with_jwks(e.signed.as_bytes(), &sig, &jwks)
            }
        };
        checked.map_err(|err| MessageError::Signature(err.to_string()).into())
    }

    /// Tells the owner by e-mail that a message arrived (no content: only that there is one,
    /// and where to read it), in the background; a mail that cannot go out is logged, the
    /// message stays delivered.
    async fn notify(&self, postbox: &PostboxRecord) {
        let Party::Person(user_id) = &postbox.owner else {
            return;
        };
        let to = match self.s.store.user(user_id).await {
            Ok(Some(u)) if u.email_verified => u.email,
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "the owner of a postbox could not be read");
                None
            }
        };
        let Some(to) = to else {
            return;
        };
        let name = &self.s.config.product_name;
        let mut link = self.s.config.issuer.clone();
        let base = link.path().trim_end_matches('/').to_owned();
        link.set_path(&format!("{base}/postbox"));
        let subject =
            format!("{name}: Neue Nachricht in Ihrem Postfach / New message in your postbox");
        let body = format!(
            "In Ihrem Postfach bei {name} ist eine neue Nachricht eingegangen. Sie können sie nach \
             der Anmeldung lesen:\n{link}\n\nA new message has arrived in your postbox at {name}. \
             Sign in to read it:\n{link}\n"
        );
        if let Err(e) = self.s.mailer.send(&to, &subject, &body).await {
            tracing::warn!(error = %e, "a postbox notification could not be delivered");
        }
    }

    /// Where a message the client sent stands, for the sender: provided, read, or deleted by
    /// the person. [`ServiceError::NoMessage`] for a message of another client.
    pub async fn status(&self, client_id: &str, id: &str) -> Result<MessageStatus, ServiceError> {
        if id.len() > 64 {
            return Err(ServiceError::NoMessage);
        }
        let m = self
            .s
            .store
            .sent_message(client_id, id)
            .await?
            .ok_or(ServiceError::NoMessage)?;
        // deleted with the account: at the very moment the postbox was closed (a message the
        // person deleted before keeps its own time)
        let closed = match m.deleted_at {
            Some(at) => self
                .s
                .store
                .postbox(&m.handle)
                .await?
                .is_some_and(|p| p.closed_at == Some(at)),
            None => false,
        };
        Ok(MessageStatus {
            reason: match (m.deleted_at, closed) {
                (Some(_), true) => Some("account_deleted"),
                (Some(_), false) => Some("deleted_by_person"),
                (None, _) => None,
            },
            state: match (m.deleted_at, m.read_at) {
                (Some(_), _) => "deleted",
                (None, Some(_)) => "read",
                (None, None) => "provided",
            },
            id: m.id,
            provided_at: m.provided_at,
            delivered_on: m.delivered_at.map(|d| d.date()),
            read_at: m.read_at,
            deleted_at: m.deleted_at,
        })
    }

    /// The person deletes a message: its content is erased at once; the sender can learn that
    /// it was deleted.
    pub async fn delete(&self, user_id: &str, id: &str) -> Result<(), ServiceError> {
        let postbox = self
            .s
            .store
            .postbox_of(&Party::Person(user_id.to_owned()))
            .await?
            .ok_or(ServiceError::NoMessage)?;
        if self
            .s
            .store
            .delete_message(&postbox.handle, id, self.now())
            .await?
        {
            if let Err(e) = self.s.attachments.delete_attachments(id).await {
                tracing::warn!(error = %e, "a deleted message's attachments stay for the purge");
            }
            Ok(())
        } else {
            Err(ServiceError::NoMessage)
        }
    }

    /// Whether `user_id` may delete from organisation `organisation`'s postbox: its
    /// administrators may (a message deleted there is gone for every member).
    pub async fn may_delete_for(
        &self,
        user_id: &str,
        organisation: &str,
    ) -> Result<bool, ServiceError> {
        Ok(self
            .s
            .store
            .memberships_of_user(user_id)
            .await?
            .iter()
            .any(|m| {
                m.organisation == organisation
                    && m.role == konto_core::representation::Role::Administrator
            }))
    }

    /// An administrator of `organisation` deletes one of its messages, which their rights
    /// cover and their session's `level` reaches: gone for every member, the content erased,
    /// the sender told as for a person's deletion, and who did it recorded in the
    /// organisation's record. [`ServiceError::NotAllowed`] for other members.
    pub async fn org_delete(
        &self,
        user_id: &str,
        organisation: &str,
        id: &str,
        level: Level,
    ) -> Result<(), ServiceError> {
        if !self.may_delete_for(user_id, organisation).await? {
            return Err(ServiceError::NotAllowed);
        }
        let (postbox, m) = self.locate(user_id, Some(organisation), id).await?;
        if level < m.min_level {
            return Err(ServiceError::LevelTooLow {
                needed: m.min_level,
            });
        }
        let event = konto_store::OrgEvent {
            organisation: organisation.to_owned(),
            at: self.now(),
            actor: Some(user_id.to_owned()),
            actor_level: Some(level),
            action: "postbox_message_deleted".into(),
            detail: serde_json::json!({ "message": m.id, "client_id": m.client_id }).to_string(),
        };
        if !self
            .s
            .store
            .delete_org_message(&postbox.handle, &m.id, &event)
            .await?
        {
            return Err(ServiceError::NoMessage);
        }
        if let Err(e) = self.s.attachments.delete_attachments(&m.id).await {
            tracing::warn!(error = %e, "a deleted message's attachments stay for the purge");
        }
        Ok(())
    }

    /// Records a status update for an application, from `client_id` into the postbox `handle`
    /// (which must have been given to that client); its id.
    pub async fn record_state(
        &self,
        client_id: &str,
        handle: &str,
        update: StateUpdate,
    ) -> Result<String, ServiceError> {
        update.validate()?;
        let postbox = self.released_postbox(client_id, handle).await?;
        let id = random::id()?;
        let details = serde_json::to_vec(&update.details)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let sealed = self
            .data_key(&postbox)
            .await?
            .encrypt(&state_aad(handle, &id), &details)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let record = ApplicationStateRecord {
            id: id.clone(),
            handle: handle.to_owned(),
            client_id: client_id.to_owned(),
            application_id: update.application_id,
            status: update.status,
            sender: update.sender,
            service_name: serde_json::to_string(&update.service_name)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            sealed,
            reference: update.reference,
            recorded_at: self.now(),
        };
        match self.s.store.insert_application_state(&record).await {
            Ok(()) => Ok(id),
            Err(StoreError::NotFound) => Err(ServiceError::UnknownRecipient),
            Err(e) => Err(e.into()),
        }
    }

    /// The person's application timeline (oldest first), of one application if named. Status
    /// details are not level-gated: they say where an application stands, not what was decided.
    pub async fn timeline(
        &self,
        user_id: &str,
        application_id: Option<&str>,
    ) -> Result<Vec<StateView>, ServiceError> {
        let Some(postbox) = self
            .s
            .store
            .postbox_of(&Party::Person(user_id.to_owned()))
            .await?
        else {
            return Ok(Vec::new());
        };
        self.states(&postbox, application_id, None).await
    }

    /// An organisation's application timeline for its member `user_id`: the updates from the
    /// services their rights cover.
    pub async fn org_timeline(
        &self,
        user_id: &str,
        organisation: &str,
        application_id: Option<&str>,
    ) -> Result<Vec<StateView>, ServiceError> {
        let (postbox, rights) = self.org_postbox(user_id, organisation).await?;
        self.states(&postbox, application_id, Some(&rights)).await
    }

    /// A postbox's status updates, opened; only those from services `rights` cover if given.
    async fn states(
        &self,
        postbox: &PostboxRecord,
        application_id: Option<&str>,
        rights: Option<&[konto_core::representation::Right]>,
    ) -> Result<Vec<StateView>, ServiceError> {
        let mut states = Vec::new();
        let mut clients = Vec::new();
        for a in self
            .s
            .store
            .application_states(&postbox.handle, application_id)
            .await?
        {
            let shown = match rights {
                Some(r) => self.covered(r, &a.client_id, &mut clients).await?,
                None => true,
            };
            if shown {
                states.push(a);
            }
        }
        if states.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.data_key(postbox).await?;
        states
            .into_iter()
            .map(|a| {
                let plain = key
                    .decrypt(&state_aad(&postbox.handle, &a.id), &a.sealed)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?;
                Ok(StateView {
                    details: serde_json::from_slice(&plain)
                        .map_err(|e| ServiceError::Internal(e.to_string()))?,
                    service_name: serde_json::from_str(&a.service_name)
                        .map_err(|e| ServiceError::Internal(e.to_string()))?,
                    application_id: a.application_id,
                    status: a.status,
                    sender: a.sender,
                    reference: a.reference,
                    recorded_at: a.recorded_at,
                })
            })
            .collect()
    }

    fn view(
        &self,
        postbox: &PostboxRecord,
        key: Option<&KeyEncryptionKey>,
        m: MessageRecord,
        level: Level,
    ) -> Result<MessageView, ServiceError> {
        let content = match key {
            Some(key) if level >= m.min_level => {
                let plain = key
                    .decrypt(&message_aad(&postbox.handle, &m.id), &m.sealed)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?;
                let content: Content = serde_json::from_slice(&plain)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?;
                if content.sha256()? != m.content_sha256 {
                    return Err(ServiceError::Internal(format!(
                        "postbox message {} does not match its hash",
                        m.id
                    )));
                }
                Some(content)
            }
            _ => None,
        };
        Ok(MessageView {
            id: m.id,
            kind: m.kind,
            sender: m.sender,
            service: m.service,
            min_level: m.min_level,
            reference: m.reference,
            application_id: m.application_id,
            provided_at: m.provided_at,
            delivered_on: m.delivered_at.map(|d| d.date()),
            read_at: m.read_at,
            content,
        })
    }

    /// The first [`MAX_PAGE`] of the person's messages (see [`PostboxService::inbox_page`]).
    pub async fn inbox(
        &self,
        user_id: &str,
        level: Level,
    ) -> Result<Vec<MessageView>, ServiceError> {
        Ok(self.inbox_page(user_id, level, None, 0, MAX_PAGE).await?.0)
    }

    /// A page of the person's messages, unread first, then newest first: `limit` (at most
    /// [`MAX_PAGE`]) from `offset` on, of one application if named; with the content of those
    /// their session's `level` reaches, opened for this page only. `true` if more follow.
    pub async fn inbox_page(
        &self,
        user_id: &str,
        level: Level,
        application_id: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<MessageView>, bool), ServiceError> {
        let Some(postbox) = self
            .s
            .store
            .postbox_of(&Party::Person(user_id.to_owned()))
            .await?
        else {
            return Ok((Vec::new(), false));
        };
        let limit = limit.clamp(1, MAX_PAGE);
        let mut messages = self
            .s
            .store
            .messages_page(&postbox.handle, application_id, offset, limit + 1)
            .await?;
        let more = messages.len() > limit as usize;
        messages.truncate(limit as usize);
        let key = match (&postbox.data_key, messages.is_empty()) {
            (Some(_), false) => Some(self.data_key(&postbox).await?),
            _ => None,
        };
        let views = messages
            .into_iter()
            .map(|m| self.view(&postbox, key.as_ref(), m, level))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((views, more))
    }

    /// The postbox of organisation `organisation` as its member `user_id` may read it: only
    /// the messages from services their rights in the organisation cover
    /// ([`ServiceError::NotAllowed`] for someone who is no member). The postbox is made on
    /// first use with the handle the organisation was created with.
    async fn org_postbox(
        &self,
        user_id: &str,
        organisation: &str,
    ) -> Result<(PostboxRecord, Vec<konto_core::representation::Right>), ServiceError> {
        let member = self
            .s
            .store
            .memberships_of_user(user_id)
            .await?
            .into_iter()
            .any(|m| m.organisation == organisation);
        let org = match self.s.store.organisation(organisation).await? {
            Some(o) if member => o,
            _ => return Err(ServiceError::NotAllowed),
        };
        let rights = self
            .s
            .store
            .rights_of_user(user_id)
            .await?
            .into_iter()
            .filter(|r| r.organisation == organisation && r.mandate.is_none())
            .collect();
        let owner = Party::Organisation(organisation.to_owned());
        let postbox = match self.s.store.postbox_of(&owner).await? {
            Some(p) => p,
            None => {
                self.s
                    .store
                    .ensure_postbox(&owner, &org.postbox_handle, self.now())
                    .await?
            }
        };
        Ok((postbox, rights))
    }

    /// Whether `rights` cover the service (client) that sent a message.
    async fn covered(
        &self,
        rights: &[konto_core::representation::Right],
        client_id: &str,
        clients: &mut Vec<konto_core::client::Client>,
    ) -> Result<bool, ServiceError> {
        if !clients.iter().any(|c| c.party.id == client_id) {
            match self.s.store.client(client_id).await? {
                Some(c) => clients.push(c),
                None => return Ok(false),
            }
        }
        let Some(client) = clients.iter().find(|c| c.party.id == client_id) else {
            return Ok(false);
        };
        let service = konto_core::representation::Service {
            client_id: &client.party.id,
            groups: &client.party.service_groups,
        };
        Ok(rights.iter().any(|r| r.scope.covers(service)))
    }

    /// An organisation's messages for its member `user_id`: those from services their rights
    /// cover, unread first, with the content their session's `level` reaches.
    pub async fn org_inbox(
        &self,
        user_id: &str,
        organisation: &str,
        level: Level,
    ) -> Result<Vec<MessageView>, ServiceError> {
        Ok(self
            .org_inbox_page(user_id, organisation, level, None, 0, MAX_PAGE)
            .await?
            .0)
    }

    /// A page of an organisation's messages for its member `user_id`, as
    /// [`PostboxService::inbox_page`] pages a person's: of those their rights cover, `limit`
    /// from `offset` on, only the page's opened. `true` if more follow.
    pub async fn org_inbox_page(
        &self,
        user_id: &str,
        organisation: &str,
        level: Level,
        application_id: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<MessageView>, bool), ServiceError> {
        let (postbox, rights) = self.org_postbox(user_id, organisation).await?;
        let limit = limit.clamp(1, MAX_PAGE) as usize;
        let mut clients = Vec::new();
        let mut visible = Vec::new();
        let mut skipped = 0u32;
        // rights are per service: the store pages by position, so the covered ones are counted
        // here, a store page at a time, until this page and one more are found
        let mut at = 0u32;
        'pages: loop {
            let rows = self
                .s
                .store
                .messages_page(&postbox.handle, application_id, at, MAX_PAGE)
                .await?;
            let fetched = rows.len() as u32;
            for m in rows {
                if !self.covered(&rights, &m.client_id, &mut clients).await? {
                    continue;
                }
                if skipped < offset {
                    skipped += 1;
                    continue;
                }
                visible.push(m);
                if visible.len() > limit {
                    break 'pages;
                }
            }
            if fetched < MAX_PAGE {
                break;
            }
            at += fetched;
        }
        let more = visible.len() > limit;
        visible.truncate(limit);
        let key = match (&postbox.data_key, visible.is_empty()) {
            (Some(_), false) => Some(self.data_key(&postbox).await?),
            _ => None,
        };
        let views = visible
            .into_iter()
            .map(|m| self.view(&postbox, key.as_ref(), m, level))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((views, more))
    }

    /// One of an organisation's messages for its member, marked read, if their rights cover its
    /// service ([`ServiceError::NoMessage`] otherwise) and their session's `level` reaches it.
    pub async fn org_read(
        &self,
        user_id: &str,
        organisation: &str,
        id: &str,
        level: Level,
    ) -> Result<MessageView, ServiceError> {
        let (postbox, rights) = self.org_postbox(user_id, organisation).await?;
        let m = self
            .s
            .store
            .message(&postbox.handle, id)
            .await?
            .ok_or(ServiceError::NoMessage)?;
        if !self.covered(&rights, &m.client_id, &mut Vec::new()).await? {
            return Err(ServiceError::NoMessage);
        }
        if level < m.min_level {
            return Err(ServiceError::LevelTooLow {
                needed: m.min_level,
            });
        }
        let key = self.data_key(&postbox).await?;
        let now = self.now();
        self.s.store.mark_read(&postbox.handle, id, now).await?;
        let mut view = self.view(&postbox, Some(&key), m, level)?;
        view.read_at.get_or_insert(now);
        Ok(view)
    }

    /// A message in the person's postbox, or in an organisation's for a member whose rights
    /// cover its service; [`ServiceError::NoMessage`] otherwise.
    async fn locate(
        &self,
        user_id: &str,
        organisation: Option<&str>,
        id: &str,
    ) -> Result<(PostboxRecord, MessageRecord), ServiceError> {
        let (postbox, rights) = match organisation {
            Some(org) => {
                let (p, r) = self.org_postbox(user_id, org).await?;
                (p, Some(r))
            }
            None => (
                self.s
                    .store
                    .postbox_of(&Party::Person(user_id.to_owned()))
                    .await?
                    .ok_or(ServiceError::NoMessage)?,
                None,
            ),
        };
        let m = self
            .s
            .store
            .message(&postbox.handle, id)
            .await?
            .ok_or(ServiceError::NoMessage)?;
        if let Some(rights) = rights
            && !self.covered(&rights, &m.client_id, &mut Vec::new()).await?
        {
            return Err(ServiceError::NoMessage);
        }
        Ok((postbox, m))
    }

    /// One message without its content (who sent it, what level it needs), for the page that
    /// asks for a step-up: one row read, nothing opened, nothing marked. `organisation`: an
    /// organisation's message, for a member whose rights cover its service.
    pub async fn summary(
        &self,
        user_id: &str,
        organisation: Option<&str>,
        id: &str,
    ) -> Result<MessageView, ServiceError> {
        let (postbox, m) = self.locate(user_id, organisation, id).await?;
        self.view(&postbox, None, m, Level::Basic)
    }

    /// Attachment `position` of a message, opened and checked against its hash, if the
    /// session's `level` reaches the message ([`ServiceError::LevelTooLow`] otherwise).
    pub async fn attachment(
        &self,
        user_id: &str,
        organisation: Option<&str>,
        id: &str,
        position: usize,
        level: Level,
    ) -> Result<(AttachmentInfo, Vec<u8>), ServiceError> {
        let (postbox, m) = self.locate(user_id, organisation, id).await?;
        if level < m.min_level {
            return Err(ServiceError::LevelTooLow {
                needed: m.min_level,
            });
        }
        let key = self.data_key(&postbox).await?;
        let view = self.view(&postbox, Some(&key), m, level)?;
        let info = view
            .content
            .and_then(|c| c.attachments.into_iter().nth(position))
            .ok_or(ServiceError::NoMessage)?;
        let sealed = self
            .s
            .attachments
            .attachment(&view.id, position)
            .await?
            .ok_or_else(|| {
                ServiceError::Internal(format!("postbox message {} lost an attachment", view.id))
            })?;
        let data = key
            .decrypt(
                &attachment_aad(&postbox.handle, &view.id, position),
                &sealed,
            )
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        if hex::encode(Sha256::digest(&data)) != info.sha256 {
            return Err(ServiceError::Internal(format!(
                "an attachment of postbox message {} does not match its hash",
                view.id
            )));
        }
        Ok((info, data))
    }

    /// One message, marked read if the session's `level` reaches it
    /// ([`ServiceError::LevelTooLow`] otherwise: the caller offers a step-up).
    pub async fn read(
        &self,
        user_id: &str,
        id: &str,
        level: Level,
    ) -> Result<MessageView, ServiceError> {
        let postbox = self
            .s
            .store
            .postbox_of(&Party::Person(user_id.to_owned()))
            .await?
            .ok_or(ServiceError::NoMessage)?;
        let m = self
            .s
            .store
            .message(&postbox.handle, id)
            .await?
            .ok_or(ServiceError::NoMessage)?;
        if level < m.min_level {
            return Err(ServiceError::LevelTooLow {
                needed: m.min_level,
            });
        }
        let key = self.data_key(&postbox).await?;
        let now = self.now();
        self.s.store.mark_read(&postbox.handle, id, now).await?;
        let mut view = self.view(&postbox, Some(&key), m, level)?;
        view.read_at.get_or_insert(now);
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use konto_core::postbox::{AttachmentRules, MessageError};

    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

    fn file(name: &str, declared: &str, data: &[u8]) -> NewAttachment {
        NewAttachment {
            filename: name.into(),
            content_type: declared.into(),
            data: data.to_vec(),
        }
    }

    #[test]
    fn the_content_decides_the_type() {
        assert_eq!(sniff(PDF), Some("application/pdf"));
        assert_eq!(sniff(PNG), Some("image/png"));
        assert_eq!(
            sniff("Grüße\r\n\tund\u{c}mehr".as_bytes()),
            Some("text/plain")
        );
        assert_eq!(
            sniff(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff"),
            Some("application/vnd.microsoft.portable-executable")
        );
        assert_eq!(sniff(b"text with a \0 in it"), None);
        assert_eq!(sniff("a C1 control: \u{85}".as_bytes()), None);
        assert_eq!(sniff(b"DEL \x7f"), None);
        assert_eq!(sniff("no C1: \u{a0}\u{100}".as_bytes()), Some("text/plain"));
        assert_eq!(sniff(&[0xff, 0xfe, 0x00, 0x41]), None);
    }

    #[test]
    fn attachments_are_checked_against_their_content() {
        let rules = AttachmentRules::default();
        let ok = check_attachments(
            &rules,
            &[
                file("Bescheid.pdf", "application/pdf", PDF),
                file("notiz.txt", "text/plain; charset=utf-8", b"Hallo\n"),
            ],
        )
        .expect("allowed");
        assert_eq!(ok[0].content_type, "application/pdf");
        assert_eq!(ok[1].content_type, "text/plain");
        assert_eq!(ok[0].size, PDF.len() as u64);
        assert_eq!(ok[1].sha256, hex::encode(Sha256::digest(b"Hallo\n")));
        // a PNG declared and named as a PDF
        assert!(matches!(
            check_attachments(&rules, &[file("Bescheid.pdf", "application/pdf", PNG)]),
            Err(MessageError::AttachmentType(name, why)) if name == "Bescheid.pdf" && why.contains("image/png")
        ));
        // a program declared as text
        assert!(matches!(
            check_attachments(
                &rules,
                &[file(
                    "readme.txt",
                    "text/plain",
                    b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff"
                )]
            ),
            Err(MessageError::AttachmentType(..))
        ));
        assert!(matches!(
            check_attachments(&rules, &[file("leer.txt", "text/plain", b"")]),
            Err(MessageError::AttachmentType(..))
        ));
        let six: Vec<_> = (0..6)
            .map(|i| file(&format!("{i}.txt"), "text/plain", b"x"))
            .collect();
        assert_eq!(
            check_attachments(&rules, &six),
            Err(MessageError::TooManyAttachments(5))
        );
        let big = vec![b'a'; 2 * 1024 * 1024 + 1];
        assert!(matches!(
            check_attachments(&rules, &[file("gross.txt", "text/plain", &big)]),
            Err(MessageError::AttachmentTooLarge(_, 2_097_152))
        ));
        let exact = vec![b'a'; 2 * 1024 * 1024];
        assert!(check_attachments(&rules, &[file("genau.txt", "text/plain", &exact)]).is_ok());
    }
}
