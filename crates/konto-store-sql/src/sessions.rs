//! Browser sessions and logins in progress.

use async_trait::async_trait;
use konto_core::secret::SecretHash;
use konto_core::session::SessionAuth;
use konto_store::{FlowRecord, FlowRepo, SessionRecord, SessionRepo, StoreError, StoreResult};
use time::OffsetDateTime;

use crate::{SqlStore, from_json, from_ts, map_err, to_json, ts};

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    secret_hash: String,
    user_id: String,
    auth: String,
    created_at: i64,
    expires_at: i64,
}

impl TryFrom<SessionRow> for SessionRecord {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        Ok(SessionRecord {
            id: r.id,
            secret_hash: SecretHash::from_stored(r.secret_hash),
            user_id: r.user_id,
            auth: from_json::<SessionAuth>(&r.auth, "session auth")?,
            created_at: from_ts(r.created_at)?,
            expires_at: from_ts(r.expires_at)?,
        })
    }
}

macro_rules! session_columns {
    () => {
        "id, secret_hash, user_id, auth, created_at, expires_at"
    };
}

#[async_trait]
impl SessionRepo for SqlStore {
    async fn create_session(&self, s: &SessionRecord) -> StoreResult<()> {
        let auth = to_json(&s.auth)?;
        on_write!(self, pool => sqlx::query(
            "INSERT INTO sessions (id, secret_hash, user_id, auth, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.id)
        .bind(s.secret_hash.as_str())
        .bind(&s.user_id)
        .bind(&auth)
        .bind(ts(s.created_at))
        .bind(ts(s.expires_at))
        .execute(pool)
        .await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn session_by_secret(
        &self,
        secret_hash: &SecretHash,
    ) -> StoreResult<Option<SessionRecord>> {
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE secret_hash = $1"
        );
        let row: Option<SessionRow> = on_read!(self, pool => sqlx::query_as(sql).bind(secret_hash.as_str()).fetch_optional(pool).await)
            .map_err(map_err)?;
        row.map(SessionRecord::try_from).transpose()
    }

    async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = $1"
        );
        let row: Option<SessionRow> =
            on_read!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)
                .map_err(map_err)?;
        row.map(SessionRecord::try_from).transpose()
    }

    async fn update_session(
        &self,
        id: &str,
        auth: &SessionAuth,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        let auth = to_json(auth)?;
        let done = on_write!(self, pool => sqlx::query("UPDATE sessions SET auth = $1, expires_at = $2 WHERE id = $3")
            .bind(&auth).bind(ts(expires_at)).bind(id).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(map_err)?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn renew_session(
        &self,
        id: &str,
        secret_hash: &SecretHash,
        auth: &SessionAuth,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        let auth = to_json(auth)?;
        let done = on_write!(self, pool => sqlx::query(
            "UPDATE sessions SET secret_hash = $1, auth = $2, expires_at = $3 WHERE id = $4",
        )
        .bind(secret_hash.as_str())
        .bind(&auth)
        .bind(ts(expires_at))
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(map_err)?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_session(&self, id: &str) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(map_err)?;
        Ok(())
    }

    async fn sessions_of_user(&self, user_id: &str) -> StoreResult<Vec<SessionRecord>> {
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = $1 ORDER BY created_at"
        );
        let rows: Vec<SessionRow> =
            on_read!(self, pool => sqlx::query_as(sql).bind(user_id).fetch_all(pool).await)
                .map_err(map_err)?;
        rows.into_iter().map(SessionRecord::try_from).collect()
    }
}

#[derive(sqlx::FromRow)]
struct FlowRow {
    id_hash: String,
    binding_hash: String,
    request: String,
    protocol: String,
    state: String,
    created_at: i64,
    expires_at: i64,
}

impl TryFrom<FlowRow> for FlowRecord {
    type Error = StoreError;
    fn try_from(r: FlowRow) -> Result<Self, StoreError> {
        Ok(FlowRecord {
            id_hash: SecretHash::from_stored(r.id_hash),
            binding_hash: SecretHash::from_stored(r.binding_hash),
            request: r.request,
            protocol: r.protocol,
            state: r.state,
            created_at: from_ts(r.created_at)?,
            expires_at: from_ts(r.expires_at)?,
        })
    }
}

#[async_trait]
impl FlowRepo for SqlStore {
    async fn create_flow(&self, f: &FlowRecord) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query(
            "INSERT INTO flows (id_hash, binding_hash, request, protocol, state, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(f.id_hash.as_str())
        .bind(f.binding_hash.as_str())
        .bind(&f.request)
        .bind(&f.protocol)
        .bind(&f.state)
        .bind(ts(f.created_at))
        .bind(ts(f.expires_at))
        .execute(pool)
        .await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn flow(&self, id_hash: &SecretHash) -> StoreResult<Option<FlowRecord>> {
        let row: Option<FlowRow> = on_read!(self, pool => sqlx::query_as(
            "SELECT id_hash, binding_hash, request, protocol, state, created_at, expires_at FROM flows WHERE id_hash = $1",
        ).bind(id_hash.as_str()).fetch_optional(pool).await)
        .map_err(map_err)?;
        row.map(FlowRecord::try_from).transpose()
    }

    async fn update_flow_state(&self, id_hash: &SecretHash, state: &str) -> StoreResult<()> {
        let done =
            on_write!(self, pool => sqlx::query("UPDATE flows SET state = $1 WHERE id_hash = $2")
            .bind(state).bind(id_hash.as_str()).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(map_err)?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_flow(&self, id_hash: &SecretHash) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query("DELETE FROM flows WHERE id_hash = $1").bind(id_hash.as_str()).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(map_err)?;
        Ok(())
    }

    async fn replace_flow_state(
        &self,
        id_hash: &SecretHash,
        expected: &str,
        state: &str,
    ) -> StoreResult<bool> {
        let done = on_write!(self, pool => sqlx::query(
            "UPDATE flows SET state = $1 WHERE id_hash = $2 AND state = $3",
        )
        .bind(state)
        .bind(id_hash.as_str())
        .bind(expected)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(done == 1)
    }

    async fn claim_flow(&self, id_hash: &SecretHash) -> StoreResult<bool> {
        let done = on_write!(self, pool => sqlx::query("DELETE FROM flows WHERE id_hash = $1").bind(id_hash.as_str()).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(map_err)?;
        Ok(done == 1)
    }
}
