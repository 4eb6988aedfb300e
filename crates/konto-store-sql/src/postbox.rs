//! Postboxes and messages on both backends.

use async_trait::async_trait;
use konto_core::Level;
use konto_core::postbox::{ApplicationStatus, MessageKind};
use konto_core::representation::Party;
use konto_store::{
    ApplicationStateRecord, AttachmentStore, MessageRecord, PostboxEvent, PostboxOutbox,
    PostboxRecord, PostboxRepo, StoreError, StoreResult,
};
use time::OffsetDateTime;

use crate::org_rows::{corrupt_column, party};
use crate::{SqlStore, from_opt_ts, from_ts, map_err, ts};

macro_rules! postbox_columns {
    () => {
        "handle, owner_type, owner_id, data_key, created_at, closed_at"
    };
}

macro_rules! message_columns {
    () => {
        "id, handle, client_id, idempotency_key, kind, min_level, sender, service, sealed, \
         content_sha256, reference, application_id, provided_at, delivered_at, read_at, deleted_at"
    };
}

macro_rules! state_columns {
    () => {
        "id, handle, client_id, application_id, status, sender, service_name, sealed, reference, \
         recorded_at"
    };
}

#[derive(sqlx::FromRow)]
struct StateRow {
    id: String,
    handle: String,
    client_id: String,
    application_id: String,
    status: String,
    sender: String,
    service_name: String,
    sealed: Vec<u8>,
    reference: Option<String>,
    recorded_at: i64,
}

impl TryFrom<StateRow> for ApplicationStateRecord {
    type Error = StoreError;
    fn try_from(r: StateRow) -> Result<Self, StoreError> {
        Ok(ApplicationStateRecord {
            id: r.id,
            handle: r.handle,
            client_id: r.client_id,
            application_id: r.application_id,
            status: ApplicationStatus::parse(&r.status).ok_or_else(|| corrupt_column("status"))?,
            sender: r.sender,
            service_name: r.service_name,
            sealed: r.sealed,
            reference: r.reference,
            recorded_at: from_ts(r.recorded_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct PostboxRow {
    handle: String,
    owner_type: String,
    owner_id: String,
    data_key: Option<Vec<u8>>,
    created_at: i64,
    closed_at: Option<i64>,
}

impl TryFrom<PostboxRow> for PostboxRecord {
    type Error = StoreError;
    fn try_from(r: PostboxRow) -> Result<Self, StoreError> {
        Ok(PostboxRecord {
            handle: r.handle,
            owner: party(&r.owner_type, r.owner_id, "owner_type")?,
            data_key: r.data_key,
            created_at: from_ts(r.created_at)?,
            closed_at: from_opt_ts(r.closed_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: String,
    handle: String,
    client_id: String,
    idempotency_key: String,
    kind: String,
    min_level: String,
    sender: String,
    service: String,
    sealed: Vec<u8>,
    content_sha256: String,
    reference: Option<String>,
    application_id: Option<String>,
    provided_at: i64,
    delivered_at: Option<i64>,
    read_at: Option<i64>,
    deleted_at: Option<i64>,
}

impl TryFrom<MessageRow> for MessageRecord {
    type Error = StoreError;
    fn try_from(r: MessageRow) -> Result<Self, StoreError> {
        Ok(MessageRecord {
            id: r.id,
            handle: r.handle,
            client_id: r.client_id,
            idempotency_key: r.idempotency_key,
            kind: MessageKind::parse(&r.kind).ok_or_else(|| corrupt_column("kind"))?,
            min_level: r
                .min_level
                .parse::<Level>()
                .map_err(|_| corrupt_column("min_level"))?,
            sender: r.sender,
            service: r.service,
            sealed: r.sealed,
            content_sha256: r.content_sha256,
            reference: r.reference,
            application_id: r.application_id,
            provided_at: from_ts(r.provided_at)?,
            delivered_at: from_opt_ts(r.delivered_at)?,
            read_at: from_opt_ts(r.read_at)?,
            deleted_at: from_opt_ts(r.deleted_at)?,
        })
    }
}

/// The event for one message's sender, if it has a webhook: `$1` the message, `$2` the id's
/// suffix, `$3` the event, `$4` when. Written once (the id is the message's and the suffix).
const MESSAGE_EVENT: &str = "INSERT INTO postbox_events \
    (id, client_id, message_id, event, occurred_at, attempts, next_attempt_at) \
    SELECT m.id || '.' || $2, m.client_id, m.id, $3, $4, 0, $4 \
    FROM postbox_messages m JOIN clients c ON c.id = m.client_id \
    WHERE m.id = $1 AND c.postbox_webhook IS NOT NULL \
    ON CONFLICT (id) DO NOTHING";

/// The events for the senders of a person's messages not deleted before, when their account
/// goes: `$1` the person, `$2` when. Run before the messages are marked deleted.
pub(crate) const ACCOUNT_DELETED_EVENTS: &str = "INSERT INTO postbox_events \
    (id, client_id, message_id, event, occurred_at, attempts, next_attempt_at) \
    SELECT m.id || '.deleted', m.client_id, m.id, 'account_deleted', $2, 0, $2 \
    FROM postbox_messages m JOIN clients c ON c.id = m.client_id \
    WHERE c.postbox_webhook IS NOT NULL AND m.deleted_at IS NULL \
    AND m.handle IN (SELECT handle FROM postboxes WHERE owner_type = 'person' AND owner_id = $1) \
    ON CONFLICT (id) DO NOTHING";

macro_rules! event_columns {
    () => {
        "id, client_id, message_id, event, occurred_at, attempts, next_attempt_at, delivered_at, \
         failed_at, last_error"
    };
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: String,
    client_id: String,
    message_id: String,
    event: String,
    occurred_at: i64,
    attempts: i64,
    next_attempt_at: i64,
    delivered_at: Option<i64>,
    failed_at: Option<i64>,
    last_error: Option<String>,
}

impl TryFrom<EventRow> for PostboxEvent {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        Ok(PostboxEvent {
            id: r.id,
            client_id: r.client_id,
            message_id: r.message_id,
            event: r.event,
            occurred_at: from_ts(r.occurred_at)?,
            attempts: u32::try_from(r.attempts).map_err(|_| corrupt_column("attempts"))?,
            next_attempt_at: from_ts(r.next_attempt_at)?,
            delivered_at: from_opt_ts(r.delivered_at)?,
            failed_at: from_opt_ts(r.failed_at)?,
            last_error: r.last_error,
        })
    }
}

#[async_trait]
impl PostboxOutbox for SqlStore {
    async fn due_events(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<PostboxEvent>> {
        let sql = concat!(
            "SELECT ",
            event_columns!(),
            " FROM postbox_events WHERE delivered_at IS NULL AND failed_at IS NULL \
             AND next_attempt_at <= $1 ORDER BY seq LIMIT $2"
        );
        let rows: Vec<EventRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(ts(now))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)
        .map_err(map_err)?;
        rows.into_iter().map(PostboxEvent::try_from).collect()
    }

    async fn claim_event(
        &self,
        id: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<bool> {
        let n = on_write!(self, pool => sqlx::query(
            "UPDATE postbox_events SET next_attempt_at = $1, attempts = attempts + 1 \
             WHERE id = $2 AND next_attempt_at <= $3 AND delivered_at IS NULL AND failed_at IS NULL",
        )
        .bind(ts(lease_until))
        .bind(id)
        .bind(ts(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(n == 1)
    }

    async fn event_delivered(&self, id: &str, now: OffsetDateTime) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query(
            "UPDATE postbox_events SET delivered_at = $1, last_error = NULL WHERE id = $2",
        )
        .bind(ts(now))
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn event_attempt_failed(
        &self,
        id: &str,
        error: &str,
        retry_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let error: String = error.chars().take(500).collect();
        on_write!(self, pool => sqlx::query(
            "UPDATE postbox_events SET last_error = $1, \
             next_attempt_at = COALESCE($2, next_attempt_at), \
             failed_at = CASE WHEN $2 IS NULL THEN $3 ELSE NULL END \
             WHERE id = $4 AND delivered_at IS NULL",
        )
        .bind(&error)
        .bind(retry_at.map(ts))
        .bind(ts(now))
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn events_for(&self, client_id: &str) -> StoreResult<Vec<PostboxEvent>> {
        let sql = concat!(
            "SELECT ",
            event_columns!(),
            " FROM postbox_events WHERE client_id = $1 ORDER BY seq"
        );
        let rows: Vec<EventRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(client_id)
            .fetch_all(pool)
            .await)
        .map_err(map_err)?;
        rows.into_iter().map(PostboxEvent::try_from).collect()
    }
}

/// A missing parent row (the postbox) is `NotFound`; other errors as usual.
fn fk_as_not_found(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => map_err(e),
    }
}

#[async_trait]
impl PostboxRepo for SqlStore {
    async fn ensure_postbox(
        &self,
        owner: &Party,
        handle: &str,
        now: OffsetDateTime,
    ) -> StoreResult<PostboxRecord> {
        on_write!(self, pool => sqlx::query(
            "INSERT INTO postboxes (handle, owner_type, owner_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (owner_type, owner_id) DO NOTHING",
        )
        .bind(handle)
        .bind(owner.kind())
        .bind(owner.id())
        .bind(ts(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(map_err)?;
        // read on the writer: the row may be this very insert's
        let sql = concat!(
            "SELECT ",
            postbox_columns!(),
            " FROM postboxes WHERE owner_type = $1 AND owner_id = $2"
        );
        let row: Option<PostboxRow> = on_write!(self, pool => sqlx::query_as(sql)
            .bind(owner.kind())
            .bind(owner.id())
            .fetch_optional(pool)
            .await)
        .map_err(map_err)?;
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    async fn postbox(&self, handle: &str) -> StoreResult<Option<PostboxRecord>> {
        let sql = concat!(
            "SELECT ",
            postbox_columns!(),
            " FROM postboxes WHERE handle = $1"
        );
        let row: Option<PostboxRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(handle)
            .fetch_optional(pool)
            .await)
        .map_err(map_err)?;
        row.map(PostboxRecord::try_from).transpose()
    }

    async fn postbox_of(&self, owner: &Party) -> StoreResult<Option<PostboxRecord>> {
        let sql = concat!(
            "SELECT ",
            postbox_columns!(),
            " FROM postboxes WHERE owner_type = $1 AND owner_id = $2"
        );
        let row: Option<PostboxRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(owner.kind())
            .bind(owner.id())
            .fetch_optional(pool)
            .await)
        .map_err(map_err)?;
        row.map(PostboxRecord::try_from).transpose()
    }

    async fn set_postbox_key(&self, handle: &str, sealed: &[u8]) -> StoreResult<Vec<u8>> {
        on_write!(self, pool => sqlx::query(
            "UPDATE postboxes SET data_key = $1 WHERE handle = $2 AND data_key IS NULL",
        )
        .bind(sealed)
        .bind(handle)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(map_err)?;
        let row: Option<(Option<Vec<u8>>,)> = on_write!(self, pool => sqlx::query_as(
            "SELECT data_key FROM postboxes WHERE handle = $1",
        )
        .bind(handle)
        .fetch_optional(pool)
        .await)
        .map_err(map_err)?;
        match row {
            Some((Some(key),)) => Ok(key),
            Some((None,)) => Err(corrupt_column("data_key")),
            None => Err(StoreError::NotFound),
        }
    }

    async fn release_postbox(
        &self,
        handle: &str,
        client_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query(
            "INSERT INTO postbox_releases (handle, client_id, released_at) VALUES ($1, $2, $3) \
             ON CONFLICT (handle, client_id) DO NOTHING",
        )
        .bind(handle)
        .bind(client_id)
        .bind(ts(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(fk_as_not_found)?;
        Ok(())
    }

    async fn postbox_released(&self, handle: &str, client_id: &str) -> StoreResult<bool> {
        let row: Option<(String,)> = on_read!(self, pool => sqlx::query_as(
            "SELECT handle FROM postbox_releases WHERE handle = $1 AND client_id = $2",
        )
        .bind(handle)
        .bind(client_id)
        .fetch_optional(pool)
        .await)
        .map_err(map_err)?;
        Ok(row.is_some())
    }

    async fn released_postbox(
        &self,
        handle: &str,
        client_id: &str,
    ) -> StoreResult<Option<PostboxRecord>> {
        let row: Option<PostboxRow> = on_read!(self, pool => sqlx::query_as(
            "SELECT p.handle, p.owner_type, p.owner_id, p.data_key, p.created_at, p.closed_at \
             FROM postboxes p JOIN postbox_releases r ON r.handle = p.handle \
             WHERE p.handle = $1 AND r.client_id = $2",
        )
        .bind(handle)
        .bind(client_id)
        .fetch_optional(pool)
        .await)
        .map_err(map_err)?;
        row.map(PostboxRecord::try_from).transpose()
    }

    async fn insert_message(&self, m: &MessageRecord) -> StoreResult<MessageRecord> {
        let insert = concat!(
            "INSERT INTO postbox_messages (",
            message_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (client_id, idempotency_key) DO NOTHING RETURNING id"
        );
        let inserted: Option<(String,)> = on_write!(self, pool => sqlx::query_as(insert)
            .bind(&m.id)
            .bind(&m.handle)
            .bind(&m.client_id)
            .bind(&m.idempotency_key)
            .bind(m.kind.as_str())
            .bind(m.min_level.as_str())
            .bind(&m.sender)
            .bind(&m.service)
            .bind(&m.sealed)
            .bind(&m.content_sha256)
            .bind(&m.reference)
            .bind(&m.application_id)
            .bind(ts(m.provided_at))
            .bind(m.delivered_at.map(ts))
            .bind(m.read_at.map(ts))
            .bind(m.deleted_at.map(ts))
            .fetch_optional(pool)
            .await)
        .map_err(fk_as_not_found)?;
        if inserted.is_some() {
            // this very message: nothing to read back
            return Ok(m.clone());
        }
        let select = concat!(
            "SELECT ",
            message_columns!(),
            " FROM postbox_messages WHERE client_id = $1 AND idempotency_key = $2"
        );
        let row: Option<MessageRow> = on_write!(self, pool => sqlx::query_as(select)
            .bind(&m.client_id)
            .bind(&m.idempotency_key)
            .fetch_optional(pool)
            .await)
        .map_err(map_err)?;
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    async fn messages(&self, handle: &str) -> StoreResult<Vec<MessageRecord>> {
        let sql = concat!(
            "SELECT ",
            message_columns!(),
            " FROM postbox_messages WHERE handle = $1 AND deleted_at IS NULL \
             ORDER BY (CASE WHEN read_at IS NULL THEN 0 ELSE 1 END), provided_at DESC, id"
        );
        let rows: Vec<MessageRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(handle)
            .fetch_all(pool)
            .await)
        .map_err(map_err)?;
        rows.into_iter().map(MessageRecord::try_from).collect()
    }

    async fn messages_page(
        &self,
        handle: &str,
        application_id: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<MessageRecord>> {
        // the order is the index's (postbox_messages_inbox), expression for expression
        let sql = concat!(
            "SELECT ",
            message_columns!(),
            " FROM postbox_messages WHERE handle = $1 AND deleted_at IS NULL \
             AND ($2 IS NULL OR application_id = $2) \
             ORDER BY (CASE WHEN read_at IS NULL THEN 0 ELSE 1 END), provided_at DESC, id \
             LIMIT $3 OFFSET $4"
        );
        let rows: Vec<MessageRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(handle)
            .bind(application_id)
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(pool)
            .await)
        .map_err(map_err)?;
        rows.into_iter().map(MessageRecord::try_from).collect()
    }

    async fn message(&self, handle: &str, id: &str) -> StoreResult<Option<MessageRecord>> {
        let sql = concat!(
            "SELECT ",
            message_columns!(),
            " FROM postbox_messages WHERE handle = $1 AND id = $2 AND deleted_at IS NULL"
        );
        let row: Option<MessageRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(handle)
            .bind(id)
            .fetch_optional(pool)
            .await)
        .map_err(map_err)?;
        row.map(MessageRecord::try_from).transpose()
    }

    async fn mark_read(&self, handle: &str, id: &str, now: OffsetDateTime) -> StoreResult<bool> {
        on_write!(self, pool => async {
            let mut tx = pool.begin().await?;
            let first = sqlx::query(
                "UPDATE postbox_messages SET read_at = $1 \
                 WHERE handle = $2 AND id = $3 AND deleted_at IS NULL AND read_at IS NULL",
            )
            .bind(ts(now))
            .bind(handle)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            let exists = if first {
                // the sender is told, in the same transaction
                sqlx::query(MESSAGE_EVENT)
                    .bind(id)
                    .bind("read")
                    .bind("read")
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await?;
                true
            } else {
                sqlx::query_as::<_, (String,)>(
                    "SELECT id FROM postbox_messages \
                     WHERE handle = $1 AND id = $2 AND deleted_at IS NULL",
                )
                .bind(handle)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some()
            };
            tx.commit().await?;
            Ok::<bool, sqlx::Error>(exists)
        }.await)
        .map_err(map_err)
    }

    async fn sent_message(&self, client_id: &str, id: &str) -> StoreResult<Option<MessageRecord>> {
        let sql = concat!(
            "SELECT ",
            message_columns!(),
            " FROM postbox_messages WHERE client_id = $1 AND id = $2"
        );
        let row: Option<MessageRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(client_id)
            .bind(id)
            .fetch_optional(pool)
            .await)
        .map_err(map_err)?;
        row.map(MessageRecord::try_from).transpose()
    }

    async fn delete_message(
        &self,
        handle: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        on_write!(self, pool => async {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE postbox_messages SET deleted_at = $1, sealed = $2 \
                 WHERE handle = $3 AND id = $4 AND deleted_at IS NULL",
            )
            .bind(ts(now))
            .bind(Vec::<u8>::new())
            .bind(handle)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if done {
                sqlx::query(MESSAGE_EVENT)
                    .bind(id)
                    .bind("deleted")
                    .bind("deleted_by_person")
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<bool, sqlx::Error>(done)
        }.await)
        .map_err(map_err)
    }

    async fn delete_org_message(
        &self,
        handle: &str,
        id: &str,
        event: &konto_store::OrgEvent,
    ) -> StoreResult<bool> {
        on_write!(self, pool => async {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE postbox_messages SET deleted_at = $1, sealed = $2 \
                 WHERE handle = $3 AND id = $4 AND deleted_at IS NULL",
            )
            .bind(ts(event.at))
            .bind(Vec::<u8>::new())
            .bind(handle)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if done {
                sqlx::query(MESSAGE_EVENT)
                    .bind(id)
                    .bind("deleted")
                    .bind("deleted_by_person")
                    .bind(ts(event.at))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(crate::orgs::INSERT_EVENT)
                    .bind(&event.organisation)
                    .bind(ts(event.at))
                    .bind(&event.actor)
                    .bind(event.actor_level.map(|l| l.as_str()))
                    .bind(&event.action)
                    .bind(&event.detail)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<bool, sqlx::Error>(done)
        }.await)
        .map_err(map_err)
    }

    async fn insert_application_state(&self, a: &ApplicationStateRecord) -> StoreResult<()> {
        let sql = concat!(
            "INSERT INTO application_states (",
            state_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        on_write!(self, pool => sqlx::query(sql)
            .bind(&a.id)
            .bind(&a.handle)
            .bind(&a.client_id)
            .bind(&a.application_id)
            .bind(a.status.as_str())
            .bind(&a.sender)
            .bind(&a.service_name)
            .bind(&a.sealed)
            .bind(&a.reference)
            .bind(ts(a.recorded_at))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(fk_as_not_found)?;
        Ok(())
    }

    async fn application_states(
        &self,
        handle: &str,
        application_id: Option<&str>,
    ) -> StoreResult<Vec<ApplicationStateRecord>> {
        let sql = concat!(
            "SELECT ",
            state_columns!(),
            " FROM application_states WHERE handle = $1 \
             AND ($2 IS NULL OR application_id = $2) ORDER BY seq"
        );
        let rows: Vec<StateRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(handle)
            .bind(application_id)
            .fetch_all(pool)
            .await)
        .map_err(map_err)?;
        rows.into_iter()
            .map(ApplicationStateRecord::try_from)
            .collect()
    }
}

#[async_trait]
impl AttachmentStore for SqlStore {
    async fn put_attachments(
        &self,
        message_id: &str,
        sealed: &[Vec<u8>],
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        if sealed.is_empty() {
            return Ok(());
        }
        // one statement for all of them (a send is one round trip here, not one per file)
        let mut sql = String::from(
            "INSERT INTO postbox_attachments (message_id, position, sealed, created_at) VALUES ",
        );
        for n in 0..sealed.len() {
            if n > 0 {
                sql.push_str(", ");
            }
            let b = n * 4;
            sql.push_str(&format!("(${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4));
        }
        sql.push_str(
            " ON CONFLICT (message_id, position) DO UPDATE \
             SET sealed = excluded.sealed, created_at = excluded.created_at",
        );
        on_write!(self, pool => {
            // placeholders only, built above from the count; the values are bound
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for (position, data) in sealed.iter().enumerate() {
                q = q
                    .bind(message_id)
                    .bind(i64::try_from(position).unwrap_or(i64::MAX))
                    .bind(data)
                    .bind(ts(now));
            }
            q.execute(pool).await.map(|r| r.rows_affected())
        })
        .map_err(map_err)?;
        Ok(())
    }

    async fn attachment(&self, message_id: &str, position: usize) -> StoreResult<Option<Vec<u8>>> {
        let Ok(position) = i64::try_from(position) else {
            return Ok(None);
        };
        let row: Option<(Vec<u8>,)> = on_read!(self, pool => sqlx::query_as(
            "SELECT sealed FROM postbox_attachments WHERE message_id = $1 AND position = $2",
        )
        .bind(message_id)
        .bind(position)
        .fetch_optional(pool)
        .await)
        .map_err(map_err)?;
        Ok(row.map(|(s,)| s))
    }

    async fn delete_attachments(&self, message_id: &str) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query("DELETE FROM postbox_attachments WHERE message_id = $1")
            .bind(message_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }
}
