//! The store conformance suite on SQLite and on PostgreSQL.

use konto_store_sql::testing::{PgSchema, sqlite_store};

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let (store, _dir) = sqlite_store().await;
    konto_store::conformance::run_all(&store).await;
    store.close().await;
}

#[tokio::test]
async fn sqlite_in_memory_passes_the_conformance_suite() {
    let store = konto_store_sql::SqlStore::connect("sqlite::memory:", &Default::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    konto_store::conformance::run_all(&store).await;
}

#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    let Some(schema) = PgSchema::create("postgres_passes_the_conformance_suite").await else {
        return;
    };
    let store = schema.store().await;
    konto_store::conformance::run_all(&store).await;
    store.close().await;
    schema.drop_schema().await;
}

#[test]
fn both_backends_have_the_same_migrations() {
    let (sqlite, postgres) = konto_store_sql::migration_names();
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must carry the same names"
    );
}

#[tokio::test]
async fn bad_urls_are_clear_errors() {
    let e = konto_store_sql::SqlStore::connect("mysql://x", &Default::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("sqlite: or postgres://"));
}

/// The database holds personal data and secret hashes: a new SQLite file, and the WAL and
/// shared-memory files SQLite makes beside it, are readable by their owner only.
#[tokio::test]
async fn a_new_sqlite_database_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("konto.db");
    let store = konto_store_sql::SqlStore::connect(
        &format!("sqlite://{}", db.display()),
        &Default::default(),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    for name in ["konto.db", "konto.db-wal", "konto.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
    }
    store.close().await;
}
