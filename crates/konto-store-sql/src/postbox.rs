//! Postboxes and messages on both backends.

use async_trait::async_trait;
use konto_core::Level;
use konto_core::postbox::{ApplicationStatus, MessageKind};
use konto_core::representation::Party;
use konto_store::{
    ApplicationStateRecord, MessageRecord, PostboxRecord, PostboxRepo, StoreError, StoreResult,
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

    async fn insert_message(&self, m: &MessageRecord) -> StoreResult<MessageRecord> {
        let insert = concat!(
            "INSERT INTO postbox_messages (",
            message_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (client_id, idempotency_key) DO NOTHING"
        );
        on_write!(self, pool => sqlx::query(insert)
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
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(fk_as_not_found)?;
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
        let exists: Option<(String,)> = on_write!(self, pool => sqlx::query_as(
            "UPDATE postbox_messages SET read_at = COALESCE(read_at, $1) \
             WHERE handle = $2 AND id = $3 AND deleted_at IS NULL RETURNING id",
        )
        .bind(ts(now))
        .bind(handle)
        .bind(id)
        .fetch_optional(pool)
        .await)
        .map_err(map_err)?;
        Ok(exists.is_some())
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
        let done: Option<(String,)> = on_write!(self, pool => sqlx::query_as(
            "UPDATE postbox_messages SET deleted_at = $1, sealed = $2 \
             WHERE handle = $3 AND id = $4 AND deleted_at IS NULL RETURNING id",
        )
        .bind(ts(now))
        .bind(Vec::<u8>::new())
        .bind(handle)
        .bind(id)
        .fetch_optional(pool)
        .await)
        .map_err(map_err)?;
        Ok(done.is_some())
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
