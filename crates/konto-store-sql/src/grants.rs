//! Grants, authorization codes, refresh tokens and token deny lists.

use async_trait::async_trait;
use konto_core::Level;
use konto_core::secret::SecretHash;
use konto_store::{
    CodeRecord, GrantRecord, GrantRepo, RefreshTokenRecord, RotateOutcome, StoreError, StoreResult,
};
use time::OffsetDateTime;

use crate::{SqlStore, from_opt_ts, from_ts, map_err, ts};

#[derive(sqlx::FromRow)]
struct GrantRow {
    id: String,
    client_id: String,
    user_id: Option<String>,
    temporary_identity: Option<String>,
    subject: String,
    scopes: String,
    claims: Option<String>,
    level: String,
    amr: String,
    auth_time: i64,
    session_id: Option<String>,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

macro_rules! grant_columns {
    () => {
        "id, client_id, user_id, temporary_identity, subject, scopes, claims, level, amr, \
     auth_time, session_id, created_at, expires_at, revoked_at"
    };
}

impl TryFrom<GrantRow> for GrantRecord {
    type Error = StoreError;
    fn try_from(r: GrantRow) -> Result<Self, StoreError> {
        Ok(GrantRecord {
            id: r.id,
            client_id: r.client_id,
            user_id: r.user_id,
            temporary_identity: r.temporary_identity,
            subject: r.subject,
            scopes: r.scopes,
            claims: r.claims,
            level: r
                .level
                .parse::<Level>()
                .map_err(|_| StoreError::Corrupt("level".into()))?,
            amr: r.amr,
            auth_time: from_ts(r.auth_time)?,
            session_id: r.session_id,
            created_at: from_ts(r.created_at)?,
            expires_at: from_ts(r.expires_at)?,
            revoked_at: from_opt_ts(r.revoked_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    hash: String,
    grant_id: String,
    client_id: String,
    redirect_uri: String,
    code_challenge: Option<String>,
    nonce: Option<String>,
    expires_at: i64,
    used_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    hash: String,
    grant_id: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

impl TryFrom<RefreshRow> for RefreshTokenRecord {
    type Error = StoreError;
    fn try_from(r: RefreshRow) -> Result<Self, StoreError> {
        Ok(RefreshTokenRecord {
            hash: SecretHash::from_stored(r.hash),
            grant_id: r.grant_id,
            created_at: from_ts(r.created_at)?,
            expires_at: from_ts(r.expires_at)?,
            used_at: from_opt_ts(r.used_at)?,
        })
    }
}

const INSERT_REFRESH: &str =
    "INSERT INTO refresh_tokens (hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";

#[async_trait]
impl GrantRepo for SqlStore {
    async fn create_grant_with_code(&self, g: &GrantRecord, c: &CodeRecord) -> StoreResult<()> {
        let sql = concat!(
            "INSERT INTO grants (",
            grant_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        );
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            sqlx::query(sql)
                .bind(&g.id)
                .bind(&g.client_id)
                .bind(&g.user_id)
                .bind(&g.temporary_identity)
                .bind(&g.subject)
                .bind(&g.scopes)
                .bind(&g.claims)
                .bind(g.level.as_str())
                .bind(&g.amr)
                .bind(ts(g.auth_time))
                .bind(&g.session_id)
                .bind(ts(g.created_at))
                .bind(ts(g.expires_at))
                .bind(g.revoked_at.map(ts))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            sqlx::query(
                "INSERT INTO codes (hash, grant_id, client_id, redirect_uri, code_challenge, nonce, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(c.hash.as_str())
            .bind(&c.grant_id)
            .bind(&c.client_id)
            .bind(&c.redirect_uri)
            .bind(&c.code_challenge)
            .bind(&c.nonce)
            .bind(ts(c.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            tx.commit().await.map_err(map_err)
        })
    }

    async fn code(&self, code_hash: &SecretHash) -> StoreResult<Option<CodeRecord>> {
        let row: Option<CodeRow> = on_read!(self, pool => sqlx::query_as(
            "SELECT hash, grant_id, client_id, redirect_uri, code_challenge, nonce, expires_at, used_at FROM codes WHERE hash = $1",
        ).bind(code_hash.as_str()).fetch_optional(pool).await)
        .map_err(map_err)?;
        row.map(|r| {
            Ok(CodeRecord {
                hash: SecretHash::from_stored(r.hash),
                grant_id: r.grant_id,
                client_id: r.client_id,
                redirect_uri: r.redirect_uri,
                code_challenge: r.code_challenge,
                nonce: r.nonce,
                expires_at: from_ts(r.expires_at)?,
                used_at: from_opt_ts(r.used_at)?,
            })
        })
        .transpose()
    }

    async fn consume_code(
        &self,
        code_hash: &SecretHash,
        now: OffsetDateTime,
        refresh: Option<&RefreshTokenRecord>,
    ) -> StoreResult<bool> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            let done = sqlx::query("UPDATE codes SET used_at = $1 WHERE hash = $2 AND used_at IS NULL")
                .bind(ts(now))
                .bind(code_hash.as_str())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            if let Some(r) = refresh {
                sqlx::query(INSERT_REFRESH)
                    .bind(r.hash.as_str())
                    .bind(&r.grant_id)
                    .bind(ts(r.created_at))
                    .bind(ts(r.expires_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
    }

    async fn grant(&self, id: &str) -> StoreResult<Option<GrantRecord>> {
        let sql = concat!("SELECT ", grant_columns!(), " FROM grants WHERE id = $1");
        let row: Option<GrantRow> =
            on_read!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)
                .map_err(map_err)?;
        row.map(GrantRecord::try_from).transpose()
    }

    async fn revoke_grant(&self, id: &str, now: OffsetDateTime) -> StoreResult<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(ts(now))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE grant_id = $2 AND used_at IS NULL")
                .bind(ts(now))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)
        })
    }

    async fn refresh_token(&self, hash: &SecretHash) -> StoreResult<Option<RefreshTokenRecord>> {
        let row: Option<RefreshRow> = on_read!(self, pool => sqlx::query_as(
            "SELECT hash, grant_id, created_at, expires_at, used_at FROM refresh_tokens WHERE hash = $1",
        ).bind(hash.as_str()).fetch_optional(pool).await)
        .map_err(map_err)?;
        row.map(RefreshTokenRecord::try_from).transpose()
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &SecretHash,
        client_id: &str,
        new_hash: &SecretHash,
        now: OffsetDateTime,
    ) -> StoreResult<RotateOutcome> {
        let grant_sql = concat!(
            "SELECT ",
            grant_columns!(),
            " FROM grants WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2"
        );
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            let claimed: Option<(String, i64)> = sqlx::query_as(
                "UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL AND expires_at > $1 \
                 AND grant_id IN (SELECT id FROM grants WHERE client_id = $3) RETURNING grant_id, expires_at",
            )
            .bind(ts(now))
            .bind(old_hash.as_str())
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            let Some((grant_id, expires_at)) = claimed else {
                let used: Option<(String, Option<i64>)> = sqlx::query_as(
                    "SELECT r.grant_id, r.used_at FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id \
                     WHERE r.hash = $1 AND g.client_id = $2",
                )
                .bind(old_hash.as_str())
                .bind(client_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
                return match used {
                    Some((grant_id, Some(_))) => {
                        sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                            .bind(ts(now))
                            .bind(&grant_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_err)?;
                        sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE grant_id = $2 AND used_at IS NULL")
                            .bind(ts(now))
                            .bind(&grant_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_err)?;
                        tx.commit().await.map_err(map_err)?;
                        Ok(RotateOutcome::Reused { grant_id })
                    }
                    _ => Ok(RotateOutcome::Invalid),
                };
            };
            let grant: Option<GrantRow> = sqlx::query_as(grant_sql)
                .bind(&grant_id)
                .bind(ts(now))
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            let Some(grant) = grant else {
                return Ok(RotateOutcome::Invalid);
            };
            sqlx::query(INSERT_REFRESH)
                .bind(new_hash.as_str())
                .bind(&grant_id)
                .bind(ts(now))
                .bind(expires_at)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(RotateOutcome::Rotated(Box::new(GrantRecord::try_from(grant)?)))
        })
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: OffsetDateTime) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        ).bind(jti).bind(ts(expires_at)).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let row: Option<(String,)> = on_read!(self, pool => sqlx::query_as(
            "SELECT jti FROM revoked_access_tokens WHERE jti = $1",
        ).bind(jti).fetch_optional(pool).await)
        .map_err(map_err)?;
        Ok(row.is_some())
    }

    async fn record_client_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let done = on_write!(self, pool => sqlx::query(
            "INSERT INTO client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (client_id, jti) DO NOTHING",
        ).bind(client_id).bind(jti).bind(ts(expires_at)).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(done == 1)
    }
}
