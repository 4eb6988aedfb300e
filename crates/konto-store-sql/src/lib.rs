#![doc = include_str!("../README.md")]

use std::str::FromStr;
use std::time::Duration;

use konto_store::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use time::OffsetDateTime;

/// Runs `$body` with `$pool` bound to a pool that may serve reads.
macro_rules! on_read {
    ($self:ident, $pool:ident => $body:expr) => {
        match &$self.backend {
            $crate::Backend::Sqlite { read: $pool, .. } => $body,
            $crate::Backend::Postgres { pool: $pool } => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to the pool for writes.
macro_rules! on_write {
    ($self:ident, $pool:ident => $body:expr) => {
        match &$self.backend {
            $crate::Backend::Sqlite {
                write: $pool, wal, ..
            } => {
                let in_flight = wal.as_ref().map(|w| w.enter());
                let result = $body;
                drop(in_flight);
                $crate::wal::settle(wal.as_ref(), result).await
            }
            $crate::Backend::Postgres { pool: $pool } => $body,
        }
    };
}

mod clients;
mod grants;
mod misc;
#[macro_use]
mod org_rows;
mod orgs;
mod postbox;
mod saml;
mod sessions;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod users;
mod wal;

/// How durable a SQLite write is when the store acknowledges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteDurability {
    /// Nothing acknowledged is lost, even on power loss: a write returns after an `fsync` of
    /// the WAL that started after its commit, shared by all writes committed meanwhile (group
    /// commit, see the `wal` module).
    #[default]
    Full,
    /// WAL with `synchronous=NORMAL` and no `fsync` before answering: survives a crash of
    /// konto; the last writes may be lost on power loss of the machine.
    Normal,
}

impl FromStr for SqliteDurability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(SqliteDurability::Full),
            "normal" => Ok(SqliteDurability::Normal),
            other => Err(format!(
                "sqlite durability must be \"full\" or \"normal\", not {other:?}"
            )),
        }
    }
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections (PostgreSQL) or read connections (SQLite).
    pub max_connections: u32,
    pub sqlite_durability: SqliteDurability,
    /// With `Full` durability: how long one `fsync` may wait for writes still running, so it
    /// covers them too (group commit). A lone write never waits.
    pub sqlite_commit_window: Duration,
    /// How long an operation waits for a free connection.
    pub acquire_timeout: Duration,
    /// How long a client registration read from the database is reused without asking again
    /// (every token request names its client). Changes made through this store take effect at
    /// once; changes made by another node or process within this time. Zero turns it off.
    pub client_cache_ttl: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 8,
            sqlite_durability: SqliteDurability::default(),
            sqlite_commit_window: Duration::from_millis(2),
            acquire_timeout: Duration::from_secs(10),
            client_cache_ttl: Duration::from_secs(5),
        }
    }
}

pub(crate) enum Backend {
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
        /// Group commit, when writes must be durable before they are acknowledged.
        wal: Option<wal::WalSync>,
    },
    Postgres {
        pool: PgPool,
    },
}

/// Creates a new SQLite database file readable by its owner only (0600): it holds personal
/// data and secret hashes. SQLite gives the WAL and shared-memory files it makes beside it the
/// database file's permissions. An existing file is left as it is.
fn create_private_file(path: &std::path::Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Unavailable(format!(
            "the SQLite database {} cannot be created: {e}",
            path.display()
        ))),
    }
}

/// konto's store on SQLite or PostgreSQL.
pub struct SqlStore {
    pub(crate) backend: Backend,
    pub(crate) clients: clients::ClientCache,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqlStore({})", self.backend_name())
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl SqlStore {
    /// Connects to `sqlite://path`, `sqlite::memory:` or `postgres://…`. SQLite files are created
    /// when missing. Does not migrate: call [`SqlStore::migrate`].
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<SqlStore, StoreError> {
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url, options).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pg = PgConnectOptions::from_str(url).map_err(|_| {
                StoreError::Unavailable("the PostgreSQL URL cannot be parsed".into())
            })?;
            Self::connect_postgres(pg, options).await
        } else {
            Err(StoreError::Unavailable(
                "database URL must start with sqlite: or postgres://".into(),
            ))
        }
    }

    async fn connect_sqlite(url: &str, options: &StoreOptions) -> Result<SqlStore, StoreError> {
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|_| StoreError::Unavailable("the SQLite URL cannot be parsed".into()))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .journal_mode(SqliteJournalMode::Wal)
            // commits append to the WAL without fsync; `wal::WalSync` syncs before answering
            .synchronous(SqliteSynchronous::Normal)
            // a small page cache per connection keeps the idle footprint low
            .pragma("cache_size", "-1024");
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        if !memory {
            create_private_file(base.get_filename())?;
        }
        let wal = if options.sqlite_durability == SqliteDurability::Full && !memory {
            let db = base.get_filename().to_path_buf();
            Some(wal::WalSync::new(db, options.sqlite_commit_window).map_err(StoreError::from)?)
        } else {
            None
        };
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(base.clone())
            .await
            .map_err(map_err)?;
        let read = if memory {
            // an in-memory database lives in its one connection
            write.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .min_connections(0)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(base.read_only(true))
                .await
                .map_err(map_err)?
        };
        if let Some(w) = &wal {
            // the database and WAL files exist now; make their names durable too
            w.sync_directory().map_err(StoreError::from)?;
        }
        Ok(SqlStore {
            backend: Backend::Sqlite { read, write, wal },
            clients: clients::ClientCache::new(options.client_cache_ttl),
        })
    }

    /// Connects to PostgreSQL with prepared options (a test may set a `search_path`).
    pub async fn connect_postgres(
        pg: PgConnectOptions,
        options: &StoreOptions,
    ) -> Result<SqlStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(pg)
            .await
            .map_err(map_err)?;
        Ok(SqlStore {
            backend: Backend::Postgres { pool },
            clients: clients::ClientCache::new(options.client_cache_ttl),
        })
    }

    /// Applies the embedded migrations that have not run yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await,
            Backend::Postgres { pool } => POSTGRES_MIGRATIONS.run(pool).await,
        }
        .map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))
    }

    /// Whether embedded migrations have not run yet (a missing schema counts as pending).
    pub async fn migrations_pending(&self) -> bool {
        let sql = "SELECT version FROM _sqlx_migrations WHERE success = TRUE";
        let (applied, migrator): (Result<Vec<(i64,)>, _>, &sqlx::migrate::Migrator) =
            match &self.backend {
                Backend::Sqlite { read, .. } => (
                    sqlx::query_as(sql).fetch_all(read).await,
                    &SQLITE_MIGRATIONS,
                ),
                Backend::Postgres { pool } => (
                    sqlx::query_as(sql).fetch_all(pool).await,
                    &POSTGRES_MIGRATIONS,
                ),
            };
        match applied {
            Ok(done) => migrator
                .iter()
                .any(|m| !done.iter().any(|(v,)| *v == m.version)),
            Err(_) => true,
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// Closes all connections (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { read, write, .. } => {
                read.close().await;
                write.close().await;
            }
            Backend::Postgres { pool } => pool.close().await,
        }
    }
}

/// Names of the embedded migrations of each backend, for the test that keeps them in step.
pub fn migration_names() -> (Vec<String>, Vec<String>) {
    let names = |m: &sqlx::migrate::Migrator| {
        m.iter()
            .map(|m| format!("{}_{}", m.version, m.description))
            .collect::<Vec<_>>()
    };
    (names(&SQLITE_MIGRATIONS), names(&POSTGRES_MIGRATIONS))
}

/// Maps a driver error to the store's own; the driver's text goes to the log, not to callers.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.constraint().unwrap_or("unique").to_owned())
        }
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::Conflict("reference".to_owned())
        }
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::TypeNotFound { .. } => {
            tracing::error!(error = %e, "stored data cannot be decoded");
            StoreError::Corrupt("column".to_owned())
        }
        _ => {
            tracing::warn!(error = %e, "database operation failed");
            StoreError::Unavailable("database".to_owned())
        }
    }
}

pub(crate) fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(crate) fn from_ts(v: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(v).map_err(|_| StoreError::Corrupt("timestamp".into()))
}

pub(crate) fn from_opt_ts(v: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    v.map(from_ts).transpose()
}

pub(crate) fn corrupt(what: &str) -> impl Fn(String) -> StoreError + '_ {
    move |_| StoreError::Corrupt(what.to_owned())
}

pub(crate) fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|_| StoreError::Corrupt("json".into()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    s: &str,
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt(what.to_owned()))
}
