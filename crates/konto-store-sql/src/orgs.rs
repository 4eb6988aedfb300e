//! Organisations, their members and rights, mandates, confirmation letters, invitations, and
//! the record of changes.
//!
//! Every change and its event are one transaction. The rows of a change and its event are
//! filed under the organisation the change is about (the method's `organisation`, the record's
//! own), whatever the event's `organisation` says, so that a change can never land in one
//! organisation's record and its event in another's. A mandate's event goes to each
//! organisation among its parties (a mandate between persons has none).
//!
//! Where only one of parallel calls may win (a letter's code, accepting or revoking a mandate)
//! one statement decides and holds the row: PostgreSQL lets a parallel statement on that row
//! wait and test its condition again once the winner committed; SQLite has one writer.

use std::collections::BTreeSet;

use async_trait::async_trait;
use konto_core::org::RegisterKey;
use konto_core::representation::{Mandate, Party, Right, Role};
use konto_core::secret::SecretHash;
use konto_store::{
    Confirmation, MandateChange, MembershipRecord, OrgEpoch, OrgEvent, OrgInvitationRecord,
    OrgLetterRecord, OrgRepo, OrganisationRecord, StoreError, StoreResult,
};
use time::OffsetDateTime;

use crate::org_rows::{
    EventRow, InvitationRow, LetterRow, MandateRow, MemberRow, OrgRow, RightRow, evidence_key,
    party, side_str,
};
use crate::{SqlStore, map_err, to_json, ts};

pub(crate) const INSERT_EVENT: &str = "INSERT INTO org_events (organisation, at, actor, actor_level, action, detail) \
     VALUES ($1, $2, $3, $4, $5, $6)";

/// Writes event `$e` into the record of organisation `$org` on `$conn` (inside a transaction).
macro_rules! insert_event {
    ($conn:expr, $org:expr, $e:expr) => {
        sqlx::query(INSERT_EVENT)
            .bind($org)
            .bind(ts($e.at))
            .bind(&$e.actor)
            .bind($e.actor_level.map(|l| l.as_str()))
            .bind(&$e.action)
            .bind(&$e.detail)
            .execute($conn)
            .await
            .map_err(map_err)
    };
}

/// Gives member `$user` of `$org` right `$r` with its scope as JSON `$scope`.
macro_rules! insert_right {
    ($conn:expr, $org:expr, $user:expr, $r:expr, $scope:expr) => {
        sqlx::query(
            "INSERT INTO org_rights (id, organisation, user_id, scope, mandate, granted_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&$r.id)
        .bind($org)
        .bind($user)
        .bind($scope)
        .bind(&$r.mandate)
        .bind(ts($r.granted_at))
        .execute($conn)
        .await
    };
}

/// Maps a unique violation to `Conflict(rule)` (the rule, never a value); other errors as usual.
fn unique_as(rule: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(rule.to_owned())
        }
        _ => map_err(e),
    }
}

/// The organisations among a mandate's parties, each once: their records get its events.
fn organisations_of<'a>(principal: &'a Party, agent: &'a Party) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for p in [principal, agent] {
        if let Party::Organisation(id) = p
            && !out.contains(&id.as_str())
        {
            out.push(id);
        }
    }
    out
}

/// Ids per statement of the `…_by_ids` reads: far below the bound values either backend takes
/// (SQLite 32766, PostgreSQL 65535); the chains they serve name a handful.
const IDS_PER_QUERY: usize = 500;

/// `$1, $2, …, $n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The distinct ids, in chunks of at most [`IDS_PER_QUERY`].
fn id_chunks(ids: &[String]) -> Vec<Vec<&str>> {
    let distinct: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let distinct: Vec<&str> = distinct.into_iter().collect();
    distinct
        .chunks(IDS_PER_QUERY)
        .map(<[&str]>::to_vec)
        .collect()
}

#[async_trait]
impl OrgRepo for SqlStore {
    async fn create_organisation(
        &self,
        org: &OrganisationRecord,
        first_admin: &MembershipRecord,
        confirmation: Confirmation<'_>,
        event: &OrgEvent,
    ) -> StoreResult<()> {
        let address = to_json(&org.address)?;
        let evidence = to_json(&org.evidence)?;
        let evidence_key = evidence_key(&org.evidence);
        let register = org.register.as_ref();
        let sql = concat!(
            "INSERT INTO organisations (",
            org_columns!(),
            ", evidence_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        );
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            sqlx::query(sql)
                .bind(&org.id)
                .bind(&org.name)
                .bind(&org.legal_form)
                .bind(org.wirtschafts_id.as_ref().map(|w| w.as_str()))
                .bind(register.map(|k| k.court.as_str()))
                .bind(register.map(|k| k.kind.as_str()))
                .bind(register.map(|k| k.number.as_str()))
                .bind(org.euid.as_ref().map(|e| e.as_str()))
                .bind(&address)
                .bind(org.level.as_str())
                .bind(&evidence)
                .bind(&org.postbox_handle)
                .bind(ts(org.created_at))
                .bind(org.confirmed_at.map(ts))
                .bind(&evidence_key)
                .execute(&mut *tx)
                .await
                .map_err(unique_as("organisation exists"))?;
            sqlx::query(concat!(
                "INSERT INTO org_members (",
                member_columns!(),
                ") VALUES ($1, $2, $3, $4, $5)"
            ))
            .bind(&org.id)
            .bind(&first_admin.user_id)
            .bind(first_admin.role.as_str())
            .bind(first_admin.legal_representative)
            .bind(ts(first_admin.joined_at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            match confirmation {
                Confirmation::Letter(letter) => {
                    sqlx::query(concat!(
                        "INSERT INTO org_letters (",
                        letter_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    ))
                    .bind(&org.id)
                    .bind(&letter.user_id)
                    .bind(letter.code_hash.as_str())
                    .bind(&letter.reference)
                    .bind(ts(letter.sent_at))
                    .bind(ts(letter.expires_at))
                    .bind(i64::from(letter.failures))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                }
                Confirmation::Confirmed(right) => {
                    let scope = to_json(&right.scope)?;
                    insert_right!(&mut *tx, &org.id, &first_admin.user_id, right, &scope)
                        .map_err(map_err)?;
                }
            }
            insert_event!(&mut *tx, &org.id, event)?;
            tx.commit().await.map_err(map_err)
        })
    }

    async fn organisation(&self, id: &str) -> StoreResult<Option<OrganisationRecord>> {
        let sql = concat!(
            "SELECT ",
            org_columns!(),
            " FROM organisations WHERE id = $1"
        );
        let row: Option<OrgRow> =
            on_read!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)
                .map_err(map_err)?;
        row.map(OrganisationRecord::try_from).transpose()
    }

    async fn org_epoch(&self) -> StoreResult<OrgEpoch> {
        let row: Option<(i64,)> = on_read!(self, pool => sqlx::query_as(
            "SELECT n FROM org_epoch WHERE id = 1"
        )
        .fetch_optional(pool)
        .await)
        .map_err(map_err)?;
        Ok(OrgEpoch(row.map_or(0, |(n,)| n)))
    }

    async fn organisation_by_register(
        &self,
        key: &RegisterKey,
    ) -> StoreResult<Option<OrganisationRecord>> {
        let sql = concat!(
            "SELECT ",
            org_columns!(),
            " FROM organisations WHERE register_court = $1 AND register_type = $2 AND register_number = $3"
        );
        let row: Option<OrgRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(&key.court)
            .bind(key.kind.as_str())
            .bind(&key.number)
            .fetch_optional(pool)
            .await)
        .map_err(map_err)?;
        row.map(OrganisationRecord::try_from).transpose()
    }

    async fn list_organisations(&self) -> StoreResult<Vec<OrganisationRecord>> {
        let sql = concat!(
            "SELECT ",
            org_columns!(),
            " FROM organisations ORDER BY name, id"
        );
        let rows: Vec<OrgRow> =
            on_read!(self, pool => sqlx::query_as(sql).fetch_all(pool).await).map_err(map_err)?;
        rows.into_iter().map(OrganisationRecord::try_from).collect()
    }

    async fn org_letter(&self, organisation: &str) -> StoreResult<Option<OrgLetterRecord>> {
        let sql = concat!(
            "SELECT ",
            letter_columns!(),
            " FROM org_letters WHERE organisation = $1"
        );
        let row: Option<LetterRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(organisation)
            .fetch_optional(pool)
            .await)
        .map_err(map_err)?;
        row.map(OrgLetterRecord::try_from).transpose()
    }

    async fn replace_letter(
        &self,
        letter: &OrgLetterRecord,
        previous_sent_at: Option<OffsetDateTime>,
        event: &OrgEvent,
    ) -> StoreResult<bool> {
        // an async block, so that its early answers still pass through on_write!'s settling
        on_write!(self, pool => async {
            let mut tx = pool.begin().await.map_err(map_err)?;
            if let Some(sent_at) = previous_sent_at {
                let gone = sqlx::query(
                    "DELETE FROM org_letters WHERE organisation = $1 AND sent_at = $2",
                )
                .bind(&letter.organisation)
                .bind(ts(sent_at))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
                if gone != 1 {
                    return Ok(false);
                }
            }
            // only for an unconfirmed organisation; a letter put in place meanwhile by a
            // parallel call holds the key, and this insert loses
            let inserted = sqlx::query(concat!(
                "INSERT INTO org_letters (",
                letter_columns!(),
                ") SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS \
                 (SELECT 1 FROM organisations WHERE id = $1 AND confirmed_at IS NULL) \
                 ON CONFLICT (organisation) DO NOTHING"
            ))
            .bind(&letter.organisation)
            .bind(&letter.user_id)
            .bind(letter.code_hash.as_str())
            .bind(&letter.reference)
            .bind(ts(letter.sent_at))
            .bind(ts(letter.expires_at))
            .bind(i64::from(letter.failures))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
            if inserted != 1 {
                return Ok(false);
            }
            insert_event!(&mut *tx, &letter.organisation, event)?;
            tx.commit().await.map_err(map_err).map(|()| true)
        }
        .await)
    }

    async fn confirm_organisation(
        &self,
        organisation: &str,
        code_hash: &SecretHash,
        first_right: &Right,
        max_failures: u32,
        now: OffsetDateTime,
        event: &OrgEvent,
    ) -> StoreResult<bool> {
        let scope = to_json(&first_right.scope)?;
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            // The delete decides: of parallel calls with the right code one finds the letter.
            // Comparing the hashes in SQL is not constant-time, which is harmless: they are
            // keyed hashes, and their timing says nothing about the code that made them.
            let spent: Option<(String,)> = sqlx::query_as(
                "DELETE FROM org_letters WHERE organisation = $1 AND code_hash = $2 \
                 AND expires_at > $3 AND failures < $4 RETURNING user_id",
            )
            .bind(organisation)
            .bind(code_hash.as_str())
            .bind(ts(now))
            .bind(i64::from(max_failures))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            let confirmed = spent.is_some();
            if let Some((administrator,)) = spent {
                sqlx::query("UPDATE organisations SET confirmed_at = $1 WHERE id = $2 AND confirmed_at IS NULL")
                    .bind(ts(now))
                    .bind(organisation)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                // the right goes to the administrator the letter confirms, and only while they
                // are a member (the foreign key)
                insert_right!(&mut *tx, organisation, &administrator, first_right, &scope)
                    .map_err(unique_as("right exists"))?;
                insert_event!(&mut *tx, organisation, event)?;
            } else {
                let counted: Option<(i64,)> = sqlx::query_as(
                    "UPDATE org_letters SET failures = failures + 1 WHERE organisation = $1 RETURNING failures",
                )
                .bind(organisation)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
                if counted.is_some_and(|(n,)| n >= i64::from(max_failures)) {
                    sqlx::query("DELETE FROM org_letters WHERE organisation = $1")
                        .bind(organisation)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                }
            }
            // committed either way: a failure counts even though the call says no
            tx.commit().await.map_err(map_err).map(|()| confirmed)
        })
    }

    async fn members(&self, organisation: &str) -> StoreResult<Vec<MembershipRecord>> {
        let sql = concat!(
            "SELECT ",
            member_columns!(),
            " FROM org_members WHERE organisation = $1 ORDER BY joined_at, user_id"
        );
        let rows: Vec<MemberRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(organisation)
            .fetch_all(pool)
            .await)
        .map_err(map_err)?;
        rows.into_iter().map(MembershipRecord::try_from).collect()
    }

    async fn memberships_of_user(&self, user_id: &str) -> StoreResult<Vec<MembershipRecord>> {
        let sql = concat!(
            "SELECT ",
            member_columns!(),
            " FROM org_members WHERE user_id = $1 ORDER BY joined_at, organisation"
        );
        let rows: Vec<MemberRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(user_id)
            .fetch_all(pool)
            .await)
        .map_err(map_err)?;
        rows.into_iter().map(MembershipRecord::try_from).collect()
    }

    async fn add_member(&self, m: &MembershipRecord, event: &OrgEvent) -> StoreResult<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            sqlx::query(concat!(
                "INSERT INTO org_members (",
                member_columns!(),
                ") VALUES ($1, $2, $3, $4, $5)"
            ))
            .bind(&m.organisation)
            .bind(&m.user_id)
            .bind(m.role.as_str())
            .bind(m.legal_representative)
            .bind(ts(m.joined_at))
            .execute(&mut *tx)
            .await
            .map_err(unique_as("member exists"))?;
            insert_event!(&mut *tx, &m.organisation, event)?;
            tx.commit().await.map_err(map_err)
        })
    }

    async fn remove_member(
        &self,
        organisation: &str,
        user_id: &str,
        event: &OrgEvent,
    ) -> StoreResult<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            // rights first, so the result does not depend on the engine enforcing cascades
            sqlx::query("DELETE FROM org_rights WHERE organisation = $1 AND user_id = $2")
                .bind(organisation)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let done = sqlx::query("DELETE FROM org_members WHERE organisation = $1 AND user_id = $2")
                .bind(organisation)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_event!(&mut *tx, organisation, event)?;
            tx.commit().await.map_err(map_err)
        })
    }

    async fn set_role(
        &self,
        organisation: &str,
        user_id: &str,
        role: Role,
        event: &OrgEvent,
    ) -> StoreResult<()> {
        on_write!(self, pool => async {
            let mut tx = pool.begin().await.map_err(map_err)?;
            // the organisation's row lock serialises role changes on PostgreSQL (SQLite has one
            // writer), so the check below sees every other change
            sqlx::query("UPDATE organisations SET id = id WHERE id = $1")
                .bind(organisation)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let done = sqlx::query(
                "UPDATE org_members SET role = $1 WHERE organisation = $2 AND user_id = $3 \
                 AND ($1 = 'administrator' OR EXISTS (SELECT 1 FROM org_members AS o \
                 WHERE o.organisation = $2 AND o.user_id <> $3 AND o.role = 'administrator'))",
            )
            .bind(role.as_str())
            .bind(organisation)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            if done.rows_affected() == 0 {
                let member: Option<(String,)> = sqlx::query_as(
                    "SELECT role FROM org_members WHERE organisation = $1 AND user_id = $2",
                )
                .bind(organisation)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
                return Err(match member {
                    None => StoreError::NotFound,
                    Some(_) => StoreError::Conflict("the last administrator".into()),
                });
            }
            insert_event!(&mut *tx, organisation, event)?;
            tx.commit().await.map_err(map_err)
        }
        .await)
    }

    async fn grant_right(&self, right: &Right, event: &OrgEvent) -> StoreResult<()> {
        let scope = to_json(&right.scope)?;
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            // the membership (and the mandate it names) are parent rows: a missing one is a
            // foreign-key violation
            insert_right!(&mut *tx, &right.organisation, &right.user_id, right, &scope).map_err(
                |e| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::NotFound
                    }
                    _ => unique_as("right exists")(e),
                },
            )?;
            insert_event!(&mut *tx, &right.organisation, event)?;
            tx.commit().await.map_err(map_err)
        })
    }

    async fn revoke_right(
        &self,
        organisation: &str,
        id: &str,
        event: &OrgEvent,
    ) -> StoreResult<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            let done = sqlx::query("DELETE FROM org_rights WHERE organisation = $1 AND id = $2")
                .bind(organisation)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_event!(&mut *tx, organisation, event)?;
            tx.commit().await.map_err(map_err)
        })
    }

    async fn rights_of_org(&self, organisation: &str) -> StoreResult<Vec<Right>> {
        let sql = concat!(
            "SELECT ",
            right_columns!(),
            " FROM org_rights WHERE organisation = $1 ORDER BY granted_at, id"
        );
        let rows: Vec<RightRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(organisation)
            .fetch_all(pool)
            .await)
        .map_err(map_err)?;
        rows.into_iter().map(Right::try_from).collect()
    }

    async fn rights_of_user(&self, user_id: &str) -> StoreResult<Vec<Right>> {
        let sql = concat!(
            "SELECT ",
            right_columns!(),
            " FROM org_rights WHERE user_id = $1 ORDER BY granted_at, id"
        );
        let rows: Vec<RightRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(user_id)
            .fetch_all(pool)
            .await)
        .map_err(map_err)?;
        rows.into_iter().map(Right::try_from).collect()
    }

    async fn rights_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Right>> {
        let mut out = Vec::new();
        for chunk in id_chunks(ids) {
            // only placeholders are formatted in, never a value
            let sql = sqlx::AssertSqlSafe(format!(
                concat!(
                    "SELECT ",
                    right_columns!(),
                    " FROM org_rights WHERE id IN ({})"
                ),
                placeholders(chunk.len())
            ));
            let rows: Vec<RightRow> = on_read!(self, pool => {
                let mut query = sqlx::query_as(sql);
                for id in &chunk {
                    query = query.bind(*id);
                }
                query.fetch_all(pool).await
            })
            .map_err(map_err)?;
            for row in rows {
                out.push(Right::try_from(row)?);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn create_mandate(&self, m: &Mandate, event: &OrgEvent) -> StoreResult<()> {
        let scope = to_json(&m.scope)?;
        let sql = concat!(
            "INSERT INTO mandates (",
            mandate_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        );
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            sqlx::query(sql)
                .bind(&m.id)
                .bind(m.principal.kind())
                .bind(m.principal.id())
                .bind(m.agent.kind())
                .bind(m.agent.id())
                .bind(&scope)
                .bind(ts(m.valid_from))
                .bind(m.valid_until.map(ts))
                .bind(i64::from(m.redelegation))
                .bind(&m.parent)
                .bind(side_str(m.offered_by))
                .bind(&m.evidence)
                .bind(ts(m.created_at))
                .bind(m.accepted_at.map(ts))
                .bind(m.objection_until.map(ts))
                .bind(m.revoked_at.map(ts))
                .execute(&mut *tx)
                .await
                .map_err(unique_as("mandate exists"))?;
            for org in organisations_of(&m.principal, &m.agent) {
                insert_event!(&mut *tx, org, event)?;
            }
            tx.commit().await.map_err(map_err)
        })
    }

    async fn mandate(&self, id: &str) -> StoreResult<Option<Mandate>> {
        let sql = concat!(
            "SELECT ",
            mandate_columns!(),
            " FROM mandates WHERE id = $1"
        );
        let row: Option<MandateRow> =
            on_read!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)
                .map_err(map_err)?;
        row.map(Mandate::try_from).transpose()
    }

    async fn mandates_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Mandate>> {
        let mut out = Vec::new();
        for chunk in id_chunks(ids) {
            // only placeholders are formatted in, never a value
            let sql = sqlx::AssertSqlSafe(format!(
                concat!(
                    "SELECT ",
                    mandate_columns!(),
                    " FROM mandates WHERE id IN ({})"
                ),
                placeholders(chunk.len())
            ));
            let rows: Vec<MandateRow> = on_read!(self, pool => {
                let mut query = sqlx::query_as(sql);
                for id in &chunk {
                    query = query.bind(*id);
                }
                query.fetch_all(pool).await
            })
            .map_err(map_err)?;
            for row in rows {
                out.push(Mandate::try_from(row)?);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn mandates_of(&self, p: &Party) -> StoreResult<Vec<Mandate>> {
        let sql = concat!(
            "SELECT ",
            mandate_columns!(),
            " FROM mandates WHERE (principal_type = $1 AND principal_id = $2) \
             OR (agent_type = $1 AND agent_id = $2) ORDER BY created_at, id"
        );
        let rows: Vec<MandateRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(p.kind())
            .bind(p.id())
            .fetch_all(pool)
            .await)
        .map_err(map_err)?;
        rows.into_iter().map(Mandate::try_from).collect()
    }

    async fn list_mandates(&self) -> StoreResult<Vec<Mandate>> {
        let sql = concat!(
            "SELECT ",
            mandate_columns!(),
            " FROM mandates ORDER BY created_at, id"
        );
        let rows: Vec<MandateRow> =
            on_read!(self, pool => sqlx::query_as(sql).fetch_all(pool).await).map_err(map_err)?;
        rows.into_iter().map(Mandate::try_from).collect()
    }

    async fn change_mandate(
        &self,
        id: &str,
        change: MandateChange,
        now: OffsetDateTime,
        event: &OrgEvent,
    ) -> StoreResult<bool> {
        // compare-and-set in the statement's condition: the state it expects
        let sql = match change {
            MandateChange::Accept => {
                "UPDATE mandates SET accepted_at = $1 WHERE id = $2 \
                 AND accepted_at IS NULL AND revoked_at IS NULL \
                 RETURNING principal_type, principal_id, agent_type, agent_id"
            }
            MandateChange::Revoke => {
                "UPDATE mandates SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
                 RETURNING principal_type, principal_id, agent_type, agent_id"
            }
        };
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            let changed: Option<(String, String, String, String)> = sqlx::query_as(sql)
                .bind(ts(now))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            // the mandate moved on (or is gone): nothing was written
            let Some((principal_type, principal_id, agent_type, agent_id)) = changed else {
                return Ok(false);
            };
            let principal = party(&principal_type, principal_id, "principal_type")?;
            let agent = party(&agent_type, agent_id, "agent_type")?;
            for org in organisations_of(&principal, &agent) {
                insert_event!(&mut *tx, org, event)?;
            }
            tx.commit().await.map_err(map_err).map(|()| true)
        })
    }

    async fn create_invitation(
        &self,
        inv: &OrgInvitationRecord,
        event: &OrgEvent,
    ) -> StoreResult<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            sqlx::query(concat!(
                "INSERT INTO org_invitations (",
                invitation_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6)"
            ))
            .bind(inv.hash.as_str())
            .bind(&inv.organisation)
            .bind(&inv.email)
            .bind(inv.role.as_str())
            .bind(&inv.invited_by)
            .bind(ts(inv.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(unique_as("invitation exists"))?;
            insert_event!(&mut *tx, &inv.organisation, event)?;
            tx.commit().await.map_err(map_err)
        })
    }

    async fn invitation(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<OrgInvitationRecord>> {
        let sql = concat!(
            "SELECT ",
            invitation_columns!(),
            " FROM org_invitations WHERE hash = $1 AND expires_at > $2"
        );
        let row: Option<InvitationRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(hash.as_str())
            .bind(ts(now))
            .fetch_optional(pool)
            .await)
        .map_err(map_err)?;
        row.map(OrgInvitationRecord::try_from).transpose()
    }

    async fn take_invitation(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<OrgInvitationRecord>> {
        let sql = concat!(
            "DELETE FROM org_invitations WHERE hash = $1 RETURNING ",
            invitation_columns!()
        );
        // an expired invitation is spent too: it would only wait for the purge
        let row: Option<InvitationRow> = on_write!(self, pool => sqlx::query_as(sql)
            .bind(hash.as_str())
            .fetch_optional(pool)
            .await)
        .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let invitation = OrgInvitationRecord::try_from(row)?;
        Ok((invitation.expires_at > now).then_some(invitation))
    }

    async fn org_events(&self, organisation: &str, limit: u32) -> StoreResult<Vec<OrgEvent>> {
        // by the order of writing: events of one second keep their order
        let rows: Vec<EventRow> = on_read!(self, pool => sqlx::query_as(
            "SELECT organisation, at, actor, actor_level, action, detail FROM org_events \
             WHERE organisation = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(organisation)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)
        .map_err(map_err)?;
        rows.into_iter().map(OrgEvent::try_from).collect()
    }
}
