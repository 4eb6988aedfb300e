//! Accounts, their attributes and authenticators.

use async_trait::async_trait;
use konto_core::Level;
use konto_core::amr::AuthenticatorKind;
use konto_core::attributes::{Attribute, AttributeName, AttributeSource};
use konto_core::user::{Authenticator, User};
use konto_store::{AttributeChange, NewUser, StoreError, StoreResult, UserRepo};
use time::OffsetDateTime;

use crate::{SqlStore, corrupt, from_opt_ts, from_ts, map_err, ts};

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    username: String,
    email: Option<String>,
    email_verified: bool,
    postbox_handle: String,
    created_at: i64,
    last_login_at: Option<i64>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: r.id,
            username: r.username,
            email: r.email,
            email_verified: r.email_verified,
            postbox_handle: r.postbox_handle,
            created_at: from_ts(r.created_at)?,
            last_login_at: from_opt_ts(r.last_login_at)?,
        })
    }
}

macro_rules! user_columns {
    () => {
        "id, username, email, email_verified, postbox_handle, created_at, last_login_at"
    };
}

#[derive(sqlx::FromRow)]
struct AttributeRow {
    name: String,
    value: String,
    source: String,
    level: String,
    verified_at: i64,
}

impl TryFrom<AttributeRow> for Attribute {
    type Error = StoreError;
    fn try_from(r: AttributeRow) -> Result<Self, StoreError> {
        Ok(Attribute {
            name: r
                .name
                .parse::<AttributeName>()
                .map_err(corrupt("attribute name"))?,
            value: r.value,
            source: AttributeSource::from_storage(&r.source)
                .map_err(corrupt("attribute source"))?,
            level: r
                .level
                .parse::<Level>()
                .map_err(|_| StoreError::Corrupt("level".into()))?,
            verified_at: from_ts(r.verified_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AuthenticatorRow {
    user_id: String,
    kind: String,
    external_id: Option<String>,
    data: String,
    created_at: i64,
}

impl TryFrom<AuthenticatorRow> for Authenticator {
    type Error = StoreError;
    fn try_from(r: AuthenticatorRow) -> Result<Self, StoreError> {
        Ok(Authenticator {
            user_id: r.user_id,
            kind: r
                .kind
                .parse::<AuthenticatorKind>()
                .map_err(corrupt("authenticator kind"))?,
            external_id: r.external_id,
            data: r.data,
            created_at: from_ts(r.created_at)?,
        })
    }
}

const INSERT_ATTRIBUTE: &str = "INSERT INTO attributes (user_id, name, value, source, level, verified_at) \
     VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value, source = excluded.source, \
     level = excluded.level, verified_at = excluded.verified_at";

/// Writes attribute `$a` of account `$user` on `$conn` (inside a transaction of either backend).
macro_rules! insert_attribute {
    ($conn:expr, $user:expr, $a:expr) => {
        sqlx::query(INSERT_ATTRIBUTE)
            .bind($user)
            .bind($a.name.as_str())
            .bind(&$a.value)
            .bind($a.source.to_storage())
            .bind($a.level.as_str())
            .bind(ts($a.verified_at))
            .execute($conn)
            .await
            .map_err(map_err)
    };
}

/// Holds account `$user` until the transaction ends: PostgreSQL locks its row (SQLite has one
/// writer anyway), so that a link and an edit of the account's attributes never interleave.
/// The number of rows held: 0 if there is no such account.
const HOLD_ACCOUNT: &str = "UPDATE users SET id = id WHERE id = $1";

const INSERT_AUTHENTICATOR: &str = "INSERT INTO authenticators (user_id, kind, external_id, data, created_at) \
     VALUES ($1, $2, $3, $4, $5)";

#[async_trait]
impl UserRepo for SqlStore {
    async fn create_user(
        &self,
        user: &NewUser,
        attributes: &[Attribute],
        authenticators: &[Authenticator],
    ) -> StoreResult<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            sqlx::query(
                "INSERT INTO users (id, username, email, email_verified, postbox_handle, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&user.id)
            .bind(&user.username)
            .bind(&user.email)
            .bind(user.email_verified)
            .bind(&user.postbox_handle)
            .bind(ts(user.created_at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            for a in attributes {
                insert_attribute!(&mut *tx, &user.id, a)?;
            }
            for au in authenticators {
                sqlx::query(INSERT_AUTHENTICATOR)
                    .bind(&user.id)
                    .bind(au.kind.as_str())
                    .bind(&au.external_id)
                    .bind(&au.data)
                    .bind(ts(au.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            tx.commit().await.map_err(map_err)
        })
    }

    async fn user(&self, id: &str) -> StoreResult<Option<User>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
        let row: Option<UserRow> =
            on_read!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)
                .map_err(map_err)?;
        row.map(User::try_from).transpose()
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username = $1"
        );
        let row: Option<UserRow> =
            on_read!(self, pool => sqlx::query_as(sql).bind(username).fetch_optional(pool).await)
                .map_err(map_err)?;
        row.map(User::try_from).transpose()
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1");
        let row: Option<UserRow> =
            on_read!(self, pool => sqlx::query_as(sql).bind(email).fetch_optional(pool).await)
                .map_err(map_err)?;
        row.map(User::try_from).transpose()
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users ORDER BY username");
        let rows: Vec<UserRow> =
            on_read!(self, pool => sqlx::query_as(sql).fetch_all(pool).await).map_err(map_err)?;
        rows.into_iter().map(User::try_from).collect()
    }

    async fn set_last_login(&self, id: &str, at: OffsetDateTime) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(ts(at)).bind(id).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn delete_user(&self, id: &str, at: OffsetDateTime) -> StoreResult<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            // What the organisations learn, before it goes: the member left, the mandate
            // between them and the person ended. (Ids are URL-safe, so the JSON needs no
            // escaping.)
            for sql in [
                "INSERT INTO org_events (organisation, at, action, detail) \
                 SELECT organisation, CAST($2 AS BIGINT), 'member_left', \
                 '{\"user\":\"' || user_id || '\",\"reason\":\"account_deleted\"}' \
                 FROM org_members WHERE user_id = $1",
                "INSERT INTO org_events (organisation, at, action, detail) \
                 SELECT agent_id, CAST($2 AS BIGINT), 'mandate_ended', \
                 '{\"mandate\":\"' || id || '\",\"reason\":\"account_deleted\"}' \
                 FROM mandates WHERE principal_type = 'person' AND principal_id = $1 \
                 AND agent_type = 'organisation' \
                 UNION ALL \
                 SELECT principal_id, CAST($2 AS BIGINT), 'mandate_ended', \
                 '{\"mandate\":\"' || id || '\",\"reason\":\"account_deleted\"}' \
                 FROM mandates WHERE agent_type = 'person' AND agent_id = $1 \
                 AND principal_type = 'organisation'",
            ] {
                sqlx::query(sql)
                    .bind(id)
                    .bind(ts(at))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            // The postbox is closed, not removed: its key and every message's content are
            // erased, the rows stay so that the senders learn the messages were deleted with
            // the account; those with a webhook are told by it.
            sqlx::query(crate::postbox::ACCOUNT_DELETED_EVENTS)
                .bind(id)
                .bind(ts(at))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            sqlx::query(
                "UPDATE postbox_messages SET sealed = $2, deleted_at = COALESCE(deleted_at, $3) \
                 WHERE handle IN (SELECT handle FROM postboxes \
                 WHERE owner_type = 'person' AND owner_id = $1)",
            )
            .bind(id)
            .bind(Vec::<u8>::new())
            .bind(ts(at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            sqlx::query(
                "UPDATE postboxes SET data_key = NULL, closed_at = $2 \
                 WHERE owner_type = 'person' AND owner_id = $1",
            )
            .bind(id)
            .bind(ts(at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            // Children first, so the result does not depend on the engine enforcing cascades.
            for sql in [
                // Organisations stay; the person leaves them: their rights and memberships,
                // a pending letter for them, and the mandates they gave or received (with the
                // rights given under those). Mandates passed on from theirs stay and no
                // longer verify: their chain is broken.
                "DELETE FROM org_rights WHERE user_id = $1",
                "DELETE FROM org_rights WHERE mandate IN (SELECT id FROM mandates \
                 WHERE (principal_type = 'person' AND principal_id = $1) \
                 OR (agent_type = 'person' AND agent_id = $1))",
                "DELETE FROM mandates WHERE (principal_type = 'person' AND principal_id = $1) \
                 OR (agent_type = 'person' AND agent_id = $1)",
                "DELETE FROM org_members WHERE user_id = $1",
                // the person's postbox: what is in it goes, no one may deliver any more
                "DELETE FROM application_states WHERE handle IN (SELECT handle FROM postboxes \
                 WHERE owner_type = 'person' AND owner_id = $1)",
                "DELETE FROM postbox_releases WHERE handle IN (SELECT handle FROM postboxes \
                 WHERE owner_type = 'person' AND owner_id = $1)",
                "DELETE FROM org_letters WHERE user_id = $1",
                "DELETE FROM grants WHERE user_id = $1",
                "DELETE FROM sessions WHERE user_id = $1",
                "DELETE FROM consents WHERE user_id = $1",
                "DELETE FROM email_links WHERE user_id = $1",
                "DELETE FROM authenticators WHERE user_id = $1",
                "DELETE FROM attributes WHERE user_id = $1",
            ] {
                sqlx::query(sql).bind(id).execute(&mut *tx).await.map_err(map_err)?;
            }
            let done = sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            tx.commit().await.map_err(map_err)
        })
    }

    async fn attributes(&self, user_id: &str) -> StoreResult<Vec<Attribute>> {
        let rows: Vec<AttributeRow> = on_read!(self, pool => sqlx::query_as(
            "SELECT name, value, source, level, verified_at FROM attributes WHERE user_id = $1 ORDER BY name",
        ).bind(user_id).fetch_all(pool).await)
        .map_err(map_err)?;
        rows.into_iter().map(Attribute::try_from).collect()
    }

    async fn put_attribute(&self, user_id: &str, a: &Attribute) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query(INSERT_ATTRIBUTE)
            .bind(user_id)
            .bind(a.name.as_str())
            .bind(&a.value)
            .bind(a.source.to_storage())
            .bind(a.level.as_str())
            .bind(ts(a.verified_at))
            .execute(pool)
            .await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn authenticators(&self, user_id: &str) -> StoreResult<Vec<Authenticator>> {
        let rows: Vec<AuthenticatorRow> = on_read!(self, pool => sqlx::query_as(
            "SELECT user_id, kind, external_id, data, created_at FROM authenticators WHERE user_id = $1 ORDER BY kind",
        ).bind(user_id).fetch_all(pool).await)
        .map_err(map_err)?;
        rows.into_iter().map(Authenticator::try_from).collect()
    }

    async fn authenticator_by_external_id(
        &self,
        kind: AuthenticatorKind,
        external_id: &str,
    ) -> StoreResult<Option<Authenticator>> {
        let row: Option<AuthenticatorRow> = on_read!(self, pool => sqlx::query_as(
            "SELECT user_id, kind, external_id, data, created_at FROM authenticators WHERE kind = $1 AND external_id = $2",
        ).bind(kind.as_str()).bind(external_id).fetch_optional(pool).await)
        .map_err(map_err)?;
        row.map(Authenticator::try_from).transpose()
    }

    async fn update_authenticator_data(
        &self,
        user_id: &str,
        kind: AuthenticatorKind,
        data: &str,
    ) -> StoreResult<()> {
        let done = on_write!(self, pool => sqlx::query("UPDATE authenticators SET data = $1 WHERE user_id = $2 AND kind = $3")
            .bind(data).bind(user_id).bind(kind.as_str()).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(map_err)?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn remove_authenticator(
        &self,
        user_id: &str,
        kind: AuthenticatorKind,
    ) -> StoreResult<()> {
        let done = on_write!(self, pool => sqlx::query("DELETE FROM authenticators WHERE user_id = $1 AND kind = $2")
            .bind(user_id).bind(kind.as_str()).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(map_err)?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn link_authenticator(
        &self,
        au: &Authenticator,
        attributes: Option<AttributeChange<'_>>,
    ) -> StoreResult<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            let held = sqlx::query(HOLD_ACCOUNT)
                .bind(&au.user_id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            if held.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            if let Some(change) = attributes {
                let rows: Vec<AttributeRow> = sqlx::query_as(
                    "SELECT name, value, source, level, verified_at FROM attributes WHERE user_id = $1 ORDER BY name",
                )
                .bind(&au.user_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
                let current = rows
                    .into_iter()
                    .map(Attribute::try_from)
                    .collect::<StoreResult<Vec<_>>>()?;
                if current != change.expected {
                    return Err(StoreError::Stale);
                }
            }
            sqlx::query(INSERT_AUTHENTICATOR)
                .bind(&au.user_id)
                .bind(au.kind.as_str())
                .bind(&au.external_id)
                .bind(&au.data)
                .bind(ts(au.created_at))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            if let Some(change) = attributes {
                sqlx::query("DELETE FROM attributes WHERE user_id = $1")
                    .bind(&au.user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                for a in change.merged {
                    insert_attribute!(&mut *tx, &au.user_id, a)?;
                }
            }
            tx.commit().await.map_err(map_err)
        })
    }

    async fn put_self_asserted(&self, user_id: &str, a: &Attribute) -> StoreResult<bool> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            sqlx::query(HOLD_ACCOUNT)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let done = sqlx::query(
                "INSERT INTO attributes (user_id, name, value, source, level, verified_at) \
                 VALUES ($1, $2, $3, 'self_asserted', $4, $5) \
                 ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value, \
                 level = excluded.level, verified_at = excluded.verified_at \
                 WHERE attributes.source = 'self_asserted'",
            )
            .bind(user_id)
            .bind(a.name.as_str())
            .bind(&a.value)
            .bind(a.level.as_str())
            .bind(ts(a.verified_at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
            tx.commit().await.map_err(map_err)?;
            Ok(done == 1)
        })
    }
}
