#![expect(
    clippy::expect_used,
    reason = "test helpers: failing to set up a test must stop it"
)]

//! Throw-away stores for tests: a SQLite file in a temporary directory, or a fresh schema in the
//! PostgreSQL database named by `KONTO_TEST_DATABASE_URL`.

use std::str::FromStr;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::{SqlStore, StoreOptions};

/// The environment variable naming the PostgreSQL database for tests.
pub const POSTGRES_URL_VAR: &str = "KONTO_TEST_DATABASE_URL";

/// A migrated SQLite store in a new temporary directory (deleted when the guard drops).
pub async fn sqlite_store() -> (SqlStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("konto.db").display());
    let store = SqlStore::connect(&url, &StoreOptions::default())
        .await
        .expect("open SQLite");
    store.migrate().await.expect("migrate SQLite");
    (store, dir)
}

/// A fresh PostgreSQL schema; `None` (after saying so on stderr) when no database is configured.
pub struct PgSchema {
    pub url: String,
    pub schema: String,
}

impl PgSchema {
    /// Creates a new, empty schema, or returns `None` when `KONTO_TEST_DATABASE_URL` is unset.
    pub async fn create(test: &str) -> Option<PgSchema> {
        let Ok(url) = std::env::var(POSTGRES_URL_VAR) else {
            // CI sets KONTO_TEST_REQUIRE_POSTGRES so that a missing database fails instead of skipping
            if std::env::var_os("KONTO_TEST_REQUIRE_POSTGRES").is_some() {
                panic!("{test}: KONTO_TEST_REQUIRE_POSTGRES is set but {POSTGRES_URL_VAR} is not");
            }
            eprintln!("SKIPPED (PostgreSQL): {test}: set {POSTGRES_URL_VAR} to run it");
            return None;
        };
        let mut random = [0u8; 8];
        getrandom_fill(&mut random);
        let schema = format!(
            "t_{}",
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let mut conn = PgConnection::connect(&url)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .expect("create schema");
        conn.close().await.ok();
        Some(PgSchema { url, schema })
    }

    /// A migrated store on this schema (several stores may share it, like several nodes).
    pub async fn store(&self) -> SqlStore {
        let options = PgConnectOptions::from_str(&self.url)
            .expect("PostgreSQL URL")
            .options([("search_path", self.schema.as_str())]);
        let store = SqlStore::connect_postgres(options, &StoreOptions::default())
            .await
            .expect("connect to PostgreSQL");
        store.migrate().await.expect("migrate PostgreSQL");
        store
    }

    /// Holds `LOCK TABLE {table} IN EXCLUSIVE MODE` on this schema until the lock is
    /// released: reads go on, writes to the table wait. For tests that line up concurrent
    /// requests at the moment they write.
    pub async fn hold_table_lock(&self, table: &str) -> HeldLock {
        let options = PgConnectOptions::from_str(&self.url)
            .expect("PostgreSQL URL")
            .options([("search_path", self.schema.as_str())]);
        let mut conn = PgConnection::connect_with(&options)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query("BEGIN")
            .execute(&mut conn)
            .await
            .expect("begin");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "LOCK TABLE {table} IN EXCLUSIVE MODE"
        )))
        .execute(&mut conn)
        .await
        .expect("lock table");
        HeldLock { conn }
    }

    /// Drops the schema.
    pub async fn drop_schema(self) {
        if let Ok(mut conn) = PgConnection::connect(&self.url).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA {} CASCADE",
                self.schema
            )))
            .execute(&mut conn)
            .await;
            conn.close().await.ok();
        }
    }
}

/// A table lock held by [`PgSchema::hold_table_lock`].
pub struct HeldLock {
    conn: PgConnection,
}

impl HeldLock {
    /// Waits (up to five seconds) until at least `n` lock requests on the server are waiting.
    pub async fn wait_for_waiters(&mut self, n: i64) {
        for _ in 0..100 {
            let waiting: i64 =
                sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE NOT granted")
                    .fetch_one(&mut self.conn)
                    .await
                    .expect("pg_locks");
            if waiting >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Lets the waiting writes go on.
    pub async fn release(mut self) {
        sqlx::query("COMMIT")
            .execute(&mut self.conn)
            .await
            .expect("commit");
        self.conn.close().await.ok();
    }
}

fn getrandom_fill(buf: &mut [u8]) {
    // uniqueness, not secrecy: time and a counter suffice for schema names
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let v = (t ^ (u64::from(std::process::id()) << 32))
        .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    buf.copy_from_slice(&v.to_be_bytes()[..buf.len()]);
}
