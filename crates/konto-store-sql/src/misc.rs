//! Consents, signing keys, throttles, e-mail links and housekeeping.

use std::time::Duration;

use async_trait::async_trait;
use konto_core::amr::AuthenticatorKind;
use konto_core::secret::SecretHash;
use konto_core::throttle::ThrottleState;
use konto_store::{
    ConsentRecord, ConsentRepo, EmailLinkPurpose, EmailLinkRecord, EmailLinkRepo, KeyRepo,
    KeyStatus, Maintenance, StoreError, StoreResult, StoredKey, ThrottleRepo,
};
use time::OffsetDateTime;

use crate::{SqlStore, from_opt_ts, from_ts, map_err, ts};

#[derive(sqlx::FromRow)]
struct ConsentRow {
    user_id: String,
    client_id: String,
    scopes: String,
    claims: String,
    granted_at: i64,
}

impl TryFrom<ConsentRow> for ConsentRecord {
    type Error = StoreError;
    fn try_from(r: ConsentRow) -> Result<Self, StoreError> {
        Ok(ConsentRecord {
            user_id: r.user_id,
            client_id: r.client_id,
            scopes: r.scopes,
            claims: r.claims,
            granted_at: from_ts(r.granted_at)?,
        })
    }
}

#[async_trait]
impl ConsentRepo for SqlStore {
    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<ConsentRecord>> {
        let row: Option<ConsentRow> = on_read!(self, pool => sqlx::query_as(
            "SELECT user_id, client_id, scopes, claims, granted_at FROM consents WHERE user_id = $1 AND client_id = $2",
        ).bind(user_id).bind(client_id).fetch_optional(pool).await)
        .map_err(map_err)?;
        row.map(ConsentRecord::try_from).transpose()
    }

    async fn save_consent(&self, c: &ConsentRecord) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query(
            "INSERT INTO consents (user_id, client_id, scopes, claims, granted_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, claims = excluded.claims, \
             granted_at = excluded.granted_at",
        )
        .bind(&c.user_id)
        .bind(&c.client_id)
        .bind(&c.scopes)
        .bind(&c.claims)
        .bind(ts(c.granted_at))
        .execute(pool)
        .await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn consents_of_user(&self, user_id: &str) -> StoreResult<Vec<ConsentRecord>> {
        let rows: Vec<ConsentRow> = on_read!(self, pool => sqlx::query_as(
            "SELECT user_id, client_id, scopes, claims, granted_at FROM consents WHERE user_id = $1 ORDER BY client_id",
        ).bind(user_id).fetch_all(pool).await)
        .map_err(map_err)?;
        rows.into_iter().map(ConsentRecord::try_from).collect()
    }

    async fn revoke_consent(&self, user_id: &str, client_id: &str) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id).bind(client_id).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(map_err)?;
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    kid: String,
    alg: String,
    status: String,
    private_encrypted: Vec<u8>,
    public_jwk: String,
    created_at: i64,
    retire_after: Option<i64>,
}

impl TryFrom<KeyRow> for StoredKey {
    type Error = StoreError;
    fn try_from(r: KeyRow) -> Result<Self, StoreError> {
        Ok(StoredKey {
            kid: r.kid,
            alg: r.alg,
            status: KeyStatus::parse(&r.status)
                .ok_or_else(|| StoreError::Corrupt("key status".into()))?,
            private_encrypted: r.private_encrypted,
            public_jwk: r.public_jwk,
            created_at: from_ts(r.created_at)?,
            retire_after: from_opt_ts(r.retire_after)?,
        })
    }
}

const INSERT_KEY: &str = "INSERT INTO signing_keys (kid, alg, status, private_encrypted, public_jwk, created_at, retire_after) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

#[async_trait]
impl KeyRepo for SqlStore {
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let rows: Vec<KeyRow> = on_read!(self, pool => sqlx::query_as(
            "SELECT kid, alg, status, private_encrypted, public_jwk, created_at, retire_after FROM signing_keys ORDER BY created_at, kid",
        ).fetch_all(pool).await)
        .map_err(map_err)?;
        rows.into_iter().map(StoredKey::try_from).collect()
    }

    async fn insert_key(&self, k: &StoredKey) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query(INSERT_KEY)
            .bind(&k.kid)
            .bind(&k.alg)
            .bind(k.status.as_str())
            .bind(&k.private_encrypted)
            .bind(&k.public_jwk)
            .bind(ts(k.created_at))
            .bind(k.retire_after.map(ts))
            .execute(pool)
            .await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn rotate_keys(
        &self,
        alg: &str,
        new_next: &StoredKey,
        retire_after: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> StoreResult<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            let next: Option<(String,)> = sqlx::query_as("SELECT kid FROM signing_keys WHERE alg = $1 AND status = 'next'")
                .bind(alg)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            if next.is_none() {
                return Err(StoreError::NotFound);
            }
            sqlx::query("UPDATE signing_keys SET status = 'retired', retire_after = $1 WHERE alg = $2 AND status = 'current'")
                .bind(ts(retire_after))
                .bind(alg)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            sqlx::query("UPDATE signing_keys SET status = 'current' WHERE alg = $1 AND status = 'next'")
                .bind(alg)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            sqlx::query(INSERT_KEY)
                .bind(&new_next.kid)
                .bind(&new_next.alg)
                .bind(KeyStatus::Next.as_str())
                .bind(&new_next.private_encrypted)
                .bind(&new_next.public_jwk)
                .bind(ts(new_next.created_at))
                .bind(None::<i64>)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)
        })
    }
}

/// One failure more for key `$1` at `$2`, in one statement, so that parallel failures all count:
/// a failure whose predecessor is older than `$3` (now minus the policy's `forget_after`) starts
/// a new count. The last failure never moves back (requests finish out of order).
macro_rules! count_failure_sql {
    () => {
        "INSERT INTO throttle (key, failures, last_failure) VALUES ($1, 1, $2) \
         ON CONFLICT (key) DO UPDATE SET \
         failures = CASE WHEN throttle.last_failure < $3 THEN 1 ELSE throttle.failures + 1 END, \
         last_failure = CASE WHEN throttle.last_failure > excluded.last_failure \
         THEN throttle.last_failure ELSE excluded.last_failure END"
    };
}

#[async_trait]
impl ThrottleRepo for SqlStore {
    async fn throttle(&self, key: &str) -> StoreResult<Option<ThrottleState>> {
        let row: Option<(i64, i64)> = on_read!(self, pool => sqlx::query_as(
            "SELECT failures, last_failure FROM throttle WHERE key = $1",
        ).bind(key).fetch_optional(pool).await)
        .map_err(map_err)?;
        row.map(|(failures, last)| {
            Ok(ThrottleState {
                failures: u32::try_from(failures).unwrap_or(u32::MAX),
                last_failure: from_ts(last)?,
            })
        })
        .transpose()
    }

    async fn throttle_pair(
        &self,
        a: &str,
        b: &str,
    ) -> StoreResult<(Option<ThrottleState>, Option<ThrottleState>)> {
        let rows: Vec<(String, i64, i64)> = on_read!(self, pool => sqlx::query_as(
            "SELECT key, failures, last_failure FROM throttle WHERE key = $1 OR key = $2",
        ).bind(a).bind(b).fetch_all(pool).await)
        .map_err(map_err)?;
        let state = |key: &str| -> StoreResult<Option<ThrottleState>> {
            rows.iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, failures, last)| {
                    Ok(ThrottleState {
                        failures: u32::try_from(*failures).unwrap_or(u32::MAX),
                        last_failure: from_ts(*last)?,
                    })
                })
                .transpose()
        };
        Ok((state(a)?, state(b)?))
    }

    async fn put_throttle(&self, key: &str, s: &ThrottleState) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query(
            "INSERT INTO throttle (key, failures, last_failure) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_failure = excluded.last_failure",
        ).bind(key).bind(i64::from(s.failures)).bind(ts(s.last_failure)).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn clear_throttle(&self, key: &str) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query("DELETE FROM throttle WHERE key = $1").bind(key).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(map_err)?;
        Ok(())
    }

    async fn count_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        forget_after: Duration,
    ) -> StoreResult<ThrottleState> {
        let sql = concat!(count_failure_sql!(), " RETURNING failures, last_failure");
        let row: (i64, i64) = on_write!(self, pool => sqlx::query_as(sql)
            .bind(key)
            .bind(ts(now))
            .bind(forget_before(now, forget_after))
            .fetch_one(pool)
            .await)
        .map_err(map_err)?;
        throttle_state(row)
    }

    async fn count_failure_if(
        &self,
        key: &str,
        seen: u32,
        now: OffsetDateTime,
        forget_after: Duration,
    ) -> StoreResult<Option<ThrottleState>> {
        // the failures that still count, as `ThrottleState::effective_failures` has them
        let sql = concat!(
            count_failure_sql!(),
            " WHERE (CASE WHEN throttle.last_failure < $3 THEN 0 ELSE throttle.failures END) = $4",
            " RETURNING failures, last_failure"
        );
        let row: Option<(i64, i64)> = on_write!(self, pool => sqlx::query_as(sql)
            .bind(key)
            .bind(ts(now))
            .bind(forget_before(now, forget_after))
            .bind(i64::from(seen))
            .fetch_optional(pool)
            .await)
        .map_err(map_err)?;
        row.map(throttle_state).transpose()
    }
}

/// The time before which failures are forgotten.
fn forget_before(now: OffsetDateTime, forget_after: Duration) -> i64 {
    ts(now).saturating_sub(i64::try_from(forget_after.as_secs()).unwrap_or(i64::MAX))
}

fn throttle_state((failures, last): (i64, i64)) -> StoreResult<ThrottleState> {
    Ok(ThrottleState {
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        last_failure: from_ts(last)?,
    })
}

#[derive(sqlx::FromRow)]
struct EmailLinkRow {
    hash: String,
    purpose: String,
    email: String,
    user_id: Option<String>,
    payload: String,
    expires_at: i64,
}

#[async_trait]
impl EmailLinkRepo for SqlStore {
    async fn create_email_link(&self, l: &EmailLinkRecord) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query(
            "INSERT INTO email_links (hash, purpose, email, user_id, payload, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(l.hash.as_str())
        .bind(l.purpose.as_str())
        .bind(&l.email)
        .bind(&l.user_id)
        .bind(&l.payload)
        .bind(ts(l.expires_at))
        .execute(pool)
        .await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn take_email_link(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<EmailLinkRecord>> {
        let row: Option<EmailLinkRow> = on_write!(self, pool => sqlx::query_as(
            "DELETE FROM email_links WHERE hash = $1 RETURNING hash, purpose, email, user_id, payload, expires_at",
        ).bind(hash.as_str()).fetch_optional(pool).await)
        .map_err(map_err)?;
        live_link(row, now)
    }

    async fn email_link(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<EmailLinkRecord>> {
        let row: Option<EmailLinkRow> = on_read!(self, pool => sqlx::query_as(
            "SELECT hash, purpose, email, user_id, payload, expires_at FROM email_links WHERE hash = $1",
        ).bind(hash.as_str()).fetch_optional(pool).await)
        .map_err(map_err)?;
        live_link(row, now)
    }

    async fn reset_password_with_link(
        &self,
        hash: &SecretHash,
        password_data: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<String>> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            // the delete decides: a parallel call finds the row gone (PostgreSQL waits for this
            // transaction first; SQLite has one writer)
            let spent: Option<(Option<String>,)> = sqlx::query_as(
                "DELETE FROM email_links WHERE hash = $1 AND purpose = $2 AND expires_at > $3 RETURNING user_id",
            )
            .bind(hash.as_str())
            .bind(EmailLinkPurpose::PasswordReset.as_str())
            .bind(ts(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            let Some((Some(user_id),)) = spent else {
                return Ok(None);
            };
            let password = AuthenticatorKind::Password.as_str();
            let updated = sqlx::query("UPDATE authenticators SET data = $1 WHERE user_id = $2 AND kind = $3")
                .bind(password_data)
                .bind(&user_id)
                .bind(password)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            if updated.rows_affected() == 0 {
                sqlx::query(
                    "INSERT INTO authenticators (user_id, kind, external_id, data, created_at) VALUES ($1, $2, NULL, $3, $4)",
                )
                .bind(&user_id)
                .bind(password)
                .bind(password_data)
                .bind(ts(now))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            }
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(&user_id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(Some(user_id))
        })
    }
}

/// The link of `row`, unless it has expired.
fn live_link(
    row: Option<EmailLinkRow>,
    now: OffsetDateTime,
) -> StoreResult<Option<EmailLinkRecord>> {
    let Some(r) = row else { return Ok(None) };
    let expires_at = from_ts(r.expires_at)?;
    if expires_at <= now {
        return Ok(None);
    }
    Ok(Some(EmailLinkRecord {
        hash: SecretHash::from_stored(r.hash),
        purpose: EmailLinkPurpose::parse(&r.purpose)
            .ok_or_else(|| StoreError::Corrupt("link purpose".into()))?,
        email: r.email,
        user_id: r.user_id,
        payload: r.payload,
        expires_at,
    }))
}

/// What is purged, in this order.
const PURGE: [&str; 12] = [
    "DELETE FROM grants WHERE expires_at < $1",
    // codes never redeemed: their grant is useless ten minutes after the code expired
    "DELETE FROM grants WHERE code_used_at IS NULL AND code_expires_at < $1 - 600",
    "DELETE FROM sessions WHERE expires_at < $1",
    "DELETE FROM flows WHERE expires_at < $1",
    "DELETE FROM revoked_access_tokens WHERE expires_at < $1",
    "DELETE FROM client_assertions WHERE expires_at < $1",
    "DELETE FROM email_links WHERE expires_at < $1",
    "DELETE FROM signing_keys WHERE status = 'retired' AND retire_after < $1",
    "DELETE FROM org_invitations WHERE expires_at < $1",
    // an organisation whose letter expired stays unconfirmed: the code no longer works anyway
    "DELETE FROM org_letters WHERE expires_at < $1",
    // what senders were told (or given up on) is kept for 30 days
    "DELETE FROM postbox_events WHERE COALESCE(delivered_at, failed_at) < $1 - 2592000",
    "DELETE FROM saml_participations WHERE expires_at < $1",
];

/// Throttle entries are forgotten a day after the last failure.
const THROTTLE_MEMORY_SECS: i64 = 24 * 3600;

const COUNTED: [&str; 21] = [
    "users",
    "attributes",
    "authenticators",
    "clients",
    "sessions",
    "flows",
    "grants",
    "revoked_access_tokens",
    "client_assertions",
    "consents",
    "signing_keys",
    "throttle",
    "email_links",
    "organisations",
    "org_members",
    "org_rights",
    "mandates",
    "org_letters",
    "org_invitations",
    "org_events",
    "_sqlx_migrations",
];

/// How old attachments without a stored message must be before the purge takes them.
const ORPHAN_ATTACHMENT_SECS: i64 = 3600;

#[async_trait]
impl Maintenance for SqlStore {
    async fn purge_expired(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let mut total = 0;
        for sql in PURGE {
            let done = on_write!(self, pool => sqlx::query(sql).bind(ts(now)).execute(pool).await.map(|r| r.rows_affected())).map_err(map_err)?;
            total += done;
        }
        let done =
            on_write!(self, pool => sqlx::query("DELETE FROM throttle WHERE last_failure < $1")
            .bind(ts(now) - THROTTLE_MEMORY_SECS).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(map_err)?;
        // attachments of deleted messages, and of messages that never arrived (a crash between
        // the attachments and their message, a retried send): after an hour, so that a send
        // in progress keeps its own
        let orphans = on_write!(self, pool => sqlx::query(
            "DELETE FROM postbox_attachments WHERE created_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM postbox_messages m WHERE m.id = postbox_attachments.message_id \
              AND m.deleted_at IS NULL)",
        )
        .bind(ts(now) - ORPHAN_ATTACHMENT_SECS).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(total + done + orphans)
    }

    async fn row_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        let mut out = Vec::new();
        for table in COUNTED {
            // table names come from the constant list above, never from input
            let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
            let (n,): (i64,) = on_read!(self, pool => sqlx::query_as(sql).fetch_one(pool).await)
                .map_err(map_err)?;
            out.push((table.to_owned(), n));
        }
        Ok(out)
    }

    async fn ping(&self) -> StoreResult<()> {
        on_read!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|r| r.rows_affected())).map_err(map_err)?;
        Ok(())
    }
}
