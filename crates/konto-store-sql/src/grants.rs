//! Grants (with their authorization code and current refresh token) and token deny lists.
//! Issuing, redeeming and rotating are one statement each.

use async_trait::async_trait;
use konto_core::Level;
use konto_core::secret::SecretHash;
use konto_store::{GrantCode, GrantRecord, GrantRepo, OrgEpoch, Rotated, StoreError, StoreResult};
use time::OffsetDateTime;

use crate::{SqlStore, from_json, from_opt_ts, from_ts, map_err, to_json, ts};

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
    code_hash: String,
    redirect_uri: String,
    code_challenge: Option<String>,
    nonce: Option<String>,
    code_expires_at: i64,
    code_used_at: Option<i64>,
    refresh_hash: Option<String>,
    refresh_generation: i64,
    representation: Option<String>,
}

macro_rules! grant_columns {
    () => {
        "id, client_id, user_id, temporary_identity, subject, scopes, claims, level, amr, auth_time, \
         session_id, created_at, expires_at, revoked_at, code_hash, redirect_uri, code_challenge, nonce, \
         code_expires_at, code_used_at, refresh_hash, refresh_generation, representation"
    };
}

#[derive(sqlx::FromRow)]
struct RotatedRow {
    #[sqlx(flatten)]
    grant: GrantRow,
    org_epoch: i64,
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
            representation: r
                .representation
                .as_deref()
                .map(|j| from_json(j, "representation"))
                .transpose()?,
            created_at: from_ts(r.created_at)?,
            expires_at: from_ts(r.expires_at)?,
            revoked_at: from_opt_ts(r.revoked_at)?,
            code: GrantCode {
                hash: SecretHash::from_stored(r.code_hash),
                redirect_uri: r.redirect_uri,
                code_challenge: r.code_challenge,
                nonce: r.nonce,
                expires_at: from_ts(r.code_expires_at)?,
                used_at: from_opt_ts(r.code_used_at)?,
            },
            refresh_hash: r.refresh_hash.map(SecretHash::from_stored),
            refresh_generation: r.refresh_generation,
        })
    }
}

impl SqlStore {
    /// Runs a rotation's `UPDATE … RETURNING` (binds: new hash, grant, presented hash, client,
    /// now, and the earliest rotation time a retry may follow).
    #[expect(
        clippy::too_many_arguments,
        reason = "the statement's binds, in their order"
    )]
    async fn rotated(
        &self,
        sql: &'static str,
        grant_id: &str,
        presented: &SecretHash,
        client_id: &str,
        new_hash: &SecretHash,
        now: OffsetDateTime,
        rotated_since: Option<OffsetDateTime>,
    ) -> StoreResult<Option<Rotated>> {
        let row: Option<RotatedRow> = on_write!(self, pool => {
            let q = sqlx::query_as(sql)
                .bind(new_hash.as_str())
                .bind(grant_id)
                .bind(presented.as_str())
                .bind(client_id)
                .bind(ts(now));
            let q = match rotated_since {
                Some(since) => q.bind(ts(since)),
                None => q,
            };
            q.fetch_optional(pool).await
        })
        .map_err(map_err)?;
        row.map(|r| {
            Ok(Rotated {
                grant: GrantRecord::try_from(r.grant)?,
                org_epoch: OrgEpoch(r.org_epoch),
            })
        })
        .transpose()
    }
}

#[async_trait]
impl GrantRepo for SqlStore {
    async fn create_grant(&self, g: &GrantRecord) -> StoreResult<()> {
        let sql = concat!(
            "INSERT INTO grants (",
            grant_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)"
        );
        let representation = g.representation.as_ref().map(to_json).transpose()?;
        on_write!(self, pool => sqlx::query(sql)
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
            .bind(g.code.hash.as_str())
            .bind(&g.code.redirect_uri)
            .bind(&g.code.code_challenge)
            .bind(&g.code.nonce)
            .bind(ts(g.code.expires_at))
            .bind(g.code.used_at.map(ts))
            .bind(g.refresh_hash.as_ref().map(|h| h.as_str().to_owned()))
            .bind(g.refresh_generation)
            .bind(&representation)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn grant_by_code(&self, code_hash: &SecretHash) -> StoreResult<Option<GrantRecord>> {
        let sql = concat!(
            "SELECT ",
            grant_columns!(),
            " FROM grants WHERE code_hash = $1"
        );
        let row: Option<GrantRow> = on_read!(self, pool => sqlx::query_as(sql).bind(code_hash.as_str()).fetch_optional(pool).await)
            .map_err(map_err)?;
        row.map(GrantRecord::try_from).transpose()
    }

    async fn consume_code(
        &self,
        code_hash: &SecretHash,
        now: OffsetDateTime,
        refresh_hash: Option<&SecretHash>,
    ) -> StoreResult<bool> {
        let done = on_write!(self, pool => sqlx::query(
            "UPDATE grants SET code_used_at = $1, refresh_hash = $2 WHERE code_hash = $3 AND code_used_at IS NULL",
        )
        .bind(ts(now))
        .bind(refresh_hash.map(|h| h.as_str().to_owned()))
        .bind(code_hash.as_str())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(done == 1)
    }

    async fn grant(&self, id: &str) -> StoreResult<Option<GrantRecord>> {
        let sql = concat!("SELECT ", grant_columns!(), " FROM grants WHERE id = $1");
        let row: Option<GrantRow> =
            on_read!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)
                .map_err(map_err)?;
        row.map(GrantRecord::try_from).transpose()
    }

    async fn revoke_grant(&self, id: &str, now: OffsetDateTime) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query(
            "UPDATE grants SET revoked_at = $1, refresh_hash = NULL WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(ts(now))
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        grant_id: &str,
        old_hash: &SecretHash,
        client_id: &str,
        new_hash: &SecretHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Rotated>> {
        // the replaced hash is kept beside the new one, for a retry of a lost answer
        let sql = concat!(
            "UPDATE grants SET refresh_hash = $1, refresh_generation = refresh_generation + 1, \
             previous_refresh_hash = refresh_hash, refresh_rotated_at = $5 \
             WHERE id = $2 AND refresh_hash = $3 AND client_id = $4 AND revoked_at IS NULL AND expires_at > $5 \
             RETURNING ",
            grant_columns!(),
            ", COALESCE((SELECT n FROM org_epoch WHERE id = 1), 0) AS org_epoch"
        );
        self.rotated(sql, grant_id, old_hash, client_id, new_hash, now, None)
            .await
    }

    async fn retry_refresh_token(
        &self,
        grant_id: &str,
        previous_hash: &SecretHash,
        client_id: &str,
        new_hash: &SecretHash,
        now: OffsetDateTime,
        rotated_since: OffsetDateTime,
    ) -> StoreResult<Option<Rotated>> {
        // the successor is replaced, not the generation: it was never used (else the previous
        // hash would be its own), so nobody holds a token of the generation after it
        let sql = concat!(
            "UPDATE grants SET refresh_hash = $1 \
             WHERE id = $2 AND previous_refresh_hash = $3 AND client_id = $4 AND revoked_at IS NULL \
             AND expires_at > $5 AND refresh_rotated_at >= $6 \
             RETURNING ",
            grant_columns!(),
            ", COALESCE((SELECT n FROM org_epoch WHERE id = 1), 0) AS org_epoch"
        );
        self.rotated(
            sql,
            grant_id,
            previous_hash,
            client_id,
            new_hash,
            now,
            Some(rotated_since),
        )
        .await
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
