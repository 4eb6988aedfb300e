//! Registered relying parties.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use konto_core::Level;
use konto_core::client::{
    Client, GrantType, RelyingParty, SigningAlg, SubjectType, TokenEndpointAuthMethod,
};
use konto_core::level::AcrVocabulary;
use konto_core::secret::SecretHash;
use konto_store::{ClientRepo, StoreError, StoreResult};

use crate::{SqlStore, corrupt, from_json, from_ts, map_err, to_json};

/// A short-lived cache of client registrations (positive answers only, bounded).
pub(crate) struct ClientCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Instant, Arc<Client>)>>,
}

/// More entries than this and the cache starts over (client ids are not attacker-chosen keys:
/// only registered clients are cached).
const MAX_CACHED: usize = 10_000;

impl ClientCache {
    pub(crate) fn new(ttl: Duration) -> ClientCache {
        ClientCache {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    fn get(&self, id: &str) -> Option<Client> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, c)| Client::clone(c))
    }

    fn put(&self, client: &Client) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_CACHED {
            entries.clear();
        }
        entries.insert(
            client.party.id.clone(),
            (Instant::now(), Arc::new(client.clone())),
        );
    }

    pub(crate) fn forget(&self, id: &str) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: String,
    name: String,
    auth_method: String,
    secret_hash: Option<String>,
    jwks: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    scopes: String,
    id_token_alg: String,
    subject_type: String,
    sector_identifier_uri: Option<String>,
    first_party: bool,
    require_pkce: bool,
    min_level: String,
    acr_vocabulary: String,
    allow_temporary_login: bool,
    created_at: i64,
    service_groups: String,
    postbox_webhook: Option<String>,
}

macro_rules! columns {
    () => {
        "id, name, auth_method, secret_hash, jwks, redirect_uris, post_logout_redirect_uris, \
     grant_types, scopes, id_token_alg, subject_type, sector_identifier_uri, first_party, require_pkce, \
     min_level, acr_vocabulary, allow_temporary_login, created_at, service_groups, postbox_webhook"
    };
}
pub(crate) use columns;

/// A client's columns as they are written.
pub(crate) struct ClientValues<'a> {
    pub(crate) c: &'a Client,
    pub(crate) redirect_uris: String,
    pub(crate) logout_uris: String,
    pub(crate) grants: String,
    pub(crate) scopes: String,
    pub(crate) service_groups: String,
}

impl<'a> ClientValues<'a> {
    pub(crate) fn of(c: &'a Client) -> StoreResult<ClientValues<'a>> {
        let grant_types: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
        Ok(ClientValues {
            c,
            redirect_uris: to_json(&c.redirect_uris)?,
            logout_uris: to_json(&c.post_logout_redirect_uris)?,
            grants: to_json(&grant_types)?,
            scopes: to_json(&c.party.scopes)?,
            service_groups: to_json(&c.party.service_groups)?,
        })
    }
}

/// Inserts a client's row through `$exec` (a pool or a transaction); the SAML registry
/// writes one in the same transaction as its service provider.
macro_rules! insert_client {
    ($v:expr, $exec:expr) => {{
        let v: &$crate::clients::ClientValues<'_> = $v;
        let c = v.c;
        sqlx::query(concat!(
            "INSERT INTO clients (",
            $crate::clients::columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
        ))
        .bind(&c.party.id)
        .bind(&c.party.name)
        .bind(c.auth_method.as_str())
        .bind(c.secret_hash.as_ref().map(|h| h.as_str().to_owned()))
        .bind(&c.jwks)
        .bind(&v.redirect_uris)
        .bind(&v.logout_uris)
        .bind(&v.grants)
        .bind(&v.scopes)
        .bind(c.id_token_alg.as_str())
        .bind(c.subject_type.as_str())
        .bind(&c.sector_identifier_uri)
        .bind(c.party.first_party)
        .bind(c.require_pkce)
        .bind(c.party.min_level.as_str())
        .bind(c.acr_vocabulary.as_str())
        .bind(c.party.allow_temporary_login)
        .bind($crate::ts(c.party.created_at))
        .bind(&v.service_groups)
        .bind(&c.party.postbox_webhook)
        .execute($exec)
        .await
    }};
}
pub(crate) use insert_client;

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> Result<Self, StoreError> {
        let grant_names: Vec<String> = from_json(&r.grant_types, "grant types")?;
        let grant_types = grant_names
            .iter()
            .map(|g| g.parse::<GrantType>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(corrupt("grant type"))?;
        Ok(Client {
            party: RelyingParty {
                id: r.id,
                name: r.name,
                scopes: from_json(&r.scopes, "scopes")?,
                first_party: r.first_party,
                min_level: r
                    .min_level
                    .parse::<Level>()
                    .map_err(|_| StoreError::Corrupt("level".into()))?,
                allow_temporary_login: r.allow_temporary_login,
                service_groups: from_json(&r.service_groups, "service groups")?,
                postbox_webhook: r.postbox_webhook,
                created_at: from_ts(r.created_at)?,
            },
            auth_method: r
                .auth_method
                .parse::<TokenEndpointAuthMethod>()
                .map_err(corrupt("auth method"))?,
            secret_hash: r.secret_hash.map(SecretHash::from_stored),
            jwks: r.jwks,
            redirect_uris: from_json(&r.redirect_uris, "redirect uris")?,
            post_logout_redirect_uris: from_json(&r.post_logout_redirect_uris, "logout uris")?,
            grant_types,
            id_token_alg: r
                .id_token_alg
                .parse::<SigningAlg>()
                .map_err(corrupt("alg"))?,
            subject_type: r
                .subject_type
                .parse::<SubjectType>()
                .map_err(corrupt("subject type"))?,
            sector_identifier_uri: r.sector_identifier_uri,
            require_pkce: r.require_pkce,
            acr_vocabulary: r
                .acr_vocabulary
                .parse::<AcrVocabulary>()
                .map_err(|_| StoreError::Corrupt("acr vocabulary".into()))?,
        })
    }
}

#[async_trait]
impl ClientRepo for SqlStore {
    async fn create_client(&self, c: &Client) -> StoreResult<()> {
        let v = ClientValues::of(c)?;
        on_write!(self, pool => insert_client!(&v, pool).map(|r| r.rows_affected()))
            .map_err(map_err)?;
        Ok(())
    }

    async fn client(&self, id: &str) -> StoreResult<Option<Client>> {
        if let Some(c) = self.clients.get(id) {
            return Ok(Some(c));
        }
        let sql = concat!("SELECT ", columns!(), " FROM clients WHERE id = $1");
        let row: Option<ClientRow> =
            on_read!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)
                .map_err(map_err)?;
        let client = row.map(Client::try_from).transpose()?;
        if let Some(c) = &client {
            self.clients.put(c);
        }
        Ok(client)
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        let sql = concat!("SELECT ", columns!(), " FROM clients ORDER BY id");
        let rows: Vec<ClientRow> =
            on_read!(self, pool => sqlx::query_as(sql).fetch_all(pool).await).map_err(map_err)?;
        rows.into_iter().map(Client::try_from).collect()
    }

    async fn delete_client(&self, id: &str) -> StoreResult<()> {
        self.clients.forget(id);
        on_write!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            for sql in [
                "DELETE FROM grants WHERE client_id = $1",
                "DELETE FROM consents WHERE client_id = $1",
                "DELETE FROM client_assertions WHERE client_id = $1",
            ] {
                sqlx::query(sql).bind(id).execute(&mut *tx).await.map_err(map_err)?;
            }
            let done = sqlx::query("DELETE FROM clients WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            tx.commit().await.map_err(map_err)
        })?;
        // a read that raced the deletion must not keep it alive here
        self.clients.forget(id);
        Ok(())
    }
}
