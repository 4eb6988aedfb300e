//! SAML service providers beside their relying parties.

use async_trait::async_trait;
use konto_core::client::Client;
use konto_store::{Participation, SamlRepo, ServiceProviderRecord, StoreError, StoreResult};

use crate::clients::{ClientValues, insert_client};
use crate::{SqlStore, from_ts, map_err, ts};

#[derive(sqlx::FromRow)]
struct SpRow {
    entity_id: String,
    client_id: String,
    metadata: String,
    cipher: String,
    created_at: i64,
}

impl TryFrom<SpRow> for ServiceProviderRecord {
    type Error = StoreError;
    fn try_from(r: SpRow) -> Result<Self, StoreError> {
        Ok(ServiceProviderRecord {
            entity_id: r.entity_id,
            client_id: r.client_id,
            metadata: r.metadata,
            cipher: r.cipher,
            created_at: from_ts(r.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ParticipationRow {
    entity_id: String,
    name_id: String,
    session_id: String,
    session_index: String,
    created_at: i64,
    expires_at: i64,
}

impl TryFrom<ParticipationRow> for Participation {
    type Error = StoreError;
    fn try_from(r: ParticipationRow) -> Result<Self, StoreError> {
        Ok(Participation {
            entity_id: r.entity_id,
            name_id: r.name_id,
            session_id: r.session_id,
            session_index: r.session_index,
            created_at: from_ts(r.created_at)?,
            expires_at: from_ts(r.expires_at)?,
        })
    }
}

#[async_trait]
impl SamlRepo for SqlStore {
    async fn create_service_provider(
        &self,
        party: &Client,
        sp: &ServiceProviderRecord,
    ) -> StoreResult<()> {
        if !party.redirect_uris.is_empty() || !party.grant_types.is_empty() {
            return Err(StoreError::Conflict(
                "a service provider's relying party has no OpenID Connect use".into(),
            ));
        }
        if party.party.id != sp.client_id {
            return Err(StoreError::Conflict(
                "the service provider names another relying party".into(),
            ));
        }
        let v = ClientValues::of(party)?;
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            insert_client!(&v, &mut *tx).map_err(map_err)?;
            sqlx::query(
                "INSERT INTO saml_service_providers (entity_id, client_id, metadata, cipher, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&sp.entity_id)
            .bind(&sp.client_id)
            .bind(&sp.metadata)
            .bind(&sp.cipher)
            .bind(ts(sp.created_at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            tx.commit().await.map_err(map_err)
        })
    }

    async fn service_provider(
        &self,
        entity_id: &str,
    ) -> StoreResult<Option<ServiceProviderRecord>> {
        let sql = concat!(
            "SELECT entity_id, client_id, metadata, cipher, created_at ",
            "FROM saml_service_providers WHERE entity_id = $1"
        );
        let row: Option<SpRow> = on_read!(self, pool => sqlx::query_as(sql)
            .bind(entity_id)
            .fetch_optional(pool)
            .await)
        .map_err(map_err)?;
        row.map(ServiceProviderRecord::try_from).transpose()
    }

    async fn list_service_providers(&self) -> StoreResult<Vec<ServiceProviderRecord>> {
        let sql = concat!(
            "SELECT entity_id, client_id, metadata, cipher, created_at ",
            "FROM saml_service_providers ORDER BY entity_id"
        );
        let rows: Vec<SpRow> =
            on_read!(self, pool => sqlx::query_as(sql).fetch_all(pool).await).map_err(map_err)?;
        rows.into_iter()
            .map(ServiceProviderRecord::try_from)
            .collect()
    }

    async fn delete_service_provider(&self, entity_id: &str) -> StoreResult<()> {
        let Some(sp) = self.service_provider(entity_id).await? else {
            return Err(StoreError::NotFound);
        };
        self.clients.forget(&sp.client_id);
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            sqlx::query("DELETE FROM saml_participations WHERE entity_id = $1")
                .bind(&sp.entity_id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            for sql in [
                "DELETE FROM saml_service_providers WHERE client_id = $1",
                "DELETE FROM grants WHERE client_id = $1",
                "DELETE FROM consents WHERE client_id = $1",
                "DELETE FROM client_assertions WHERE client_id = $1",
                "DELETE FROM clients WHERE id = $1",
            ] {
                sqlx::query(sql)
                    .bind(&sp.client_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            tx.commit().await.map_err(map_err)
        })?;
        self.clients.forget(&sp.client_id);
        Ok(())
    }

    async fn record_participation(&self, p: &Participation) -> StoreResult<()> {
        on_write!(self, pool => sqlx::query(
            "INSERT INTO saml_participations \
             (entity_id, name_id, session_id, session_index, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&p.entity_id)
        .bind(&p.name_id)
        .bind(&p.session_id)
        .bind(&p.session_index)
        .bind(ts(p.created_at))
        .bind(ts(p.expires_at))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn participation(
        &self,
        entity_id: &str,
        name_id: &str,
    ) -> StoreResult<Option<Participation>> {
        let row: Option<ParticipationRow> = on_read!(self, pool => sqlx::query_as(
            "SELECT entity_id, name_id, session_id, session_index, created_at, expires_at \
             FROM saml_participations WHERE entity_id = $1 AND name_id = $2",
        )
        .bind(entity_id)
        .bind(name_id)
        .fetch_optional(pool)
        .await)
        .map_err(map_err)?;
        row.map(Participation::try_from).transpose()
    }

    async fn take_participations(&self, session_id: &str) -> StoreResult<Vec<Participation>> {
        // one statement: two logouts of the same session in parallel each take what the
        // other did not
        let rows: Vec<ParticipationRow> = on_write!(self, pool => sqlx::query_as(
            "DELETE FROM saml_participations WHERE session_id = $1 \
             RETURNING entity_id, name_id, session_id, session_index, created_at, expires_at",
        )
        .bind(session_id)
        .fetch_all(pool)
        .await)
        .map_err(map_err)?;
        let mut out = rows
            .into_iter()
            .map(Participation::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        out.sort_by(|a, b| (a.created_at, &a.entity_id).cmp(&(b.created_at, &b.entity_id)));
        Ok(out)
    }
}
