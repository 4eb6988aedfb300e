//! The data konto keeps on disk by default is its owner's only: `konto migrate` on a fresh
//! SQLite path makes the folder 0700 and the database (and SQLite's WAL beside it) 0600.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_database_folder_and_files_are_private() {
    use base64::Engine;
    let dir = tempfile::tempdir().expect("a folder");
    let data = dir.path().join("data").join("konto");
    let key = konto_keys::random::bytes::<32>().expect("randomness");
    std::fs::write(
        dir.path().join("master.key"),
        base64::engine::general_purpose::STANDARD.encode(key),
    )
    .expect("key");
    let config = dir.path().join("konto.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nissuer = \"http://127.0.0.1:1\"\n[database]\nurl = \"sqlite://{}\"\n\
             [secrets]\nmaster_key_file = \"{}\"\n",
            data.join("konto.db").display(),
            dir.path().join("master.key").display()
        ),
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_konto"))
        .arg("--config")
        .arg(&config)
        .arg("migrate")
        .output()
        .expect("konto runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&data), 0o700, "the folder konto made");
    assert_eq!(
        mode(&dir.path().join("data")),
        0o700,
        "and its parent it made"
    );
    assert_eq!(mode(&data.join("konto.db")), 0o600);
    if data.join("konto.db-wal").exists() {
        assert_eq!(mode(&data.join("konto.db-wal")), 0o600);
    }
}
