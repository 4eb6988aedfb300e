//! What the kill tests share: the real `konto` binary, its CLI, a server that is killed when
//! dropped (also when a test fails), and a throwaway configuration.
#![expect(clippy::expect_used, reason = "tests stop with a message")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) fn konto() -> &'static str {
    env!("CARGO_BIN_EXE_konto")
}

/// Runs a CLI command of `konto` with `config`; its standard output.
pub(crate) fn cli(config: &Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new(konto())
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("konto runs");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).expect("stdin");
    }
    let out = child.wait_with_output().expect("konto ends");
    assert!(
        out.status.success(),
        "konto {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A running `konto serve`, killed when dropped.
pub(crate) struct Server(Child);

impl Server {
    /// SIGKILL, and wait for it to end.
    pub(crate) fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `konto serve`, once `/healthz` answers.
pub(crate) async fn serve(config: &Path, base: &str) -> Server {
    let child = Command::new(konto())
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("konto serve");
    let mut server = Server(child);
    for _ in 0..600 {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
            && r.status() == 200
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill();
    panic!("konto did not come up");
}

/// A configuration in `dir` on a free port, with a fresh master key and `database` (a SQLite
/// file in `dir` when `None`), registration off, and `extra` TOML after it; the configuration
/// file, the base URL and the database URL.
pub(crate) fn configure(
    dir: &Path,
    database: Option<String>,
    extra: &str,
) -> (PathBuf, String, String) {
    use base64::Engine;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let url = database.unwrap_or_else(|| format!("sqlite://{}", dir.join("konto.db").display()));
    let key = konto_keys::random::bytes::<32>().expect("randomness");
    std::fs::write(
        dir.join("master.key"),
        base64::engine::general_purpose::STANDARD.encode(key),
    )
    .expect("key");
    let config = dir.join("konto.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nissuer = \"{base}\"\n\
             [database]\nurl = \"{url}\"\n\
             [secrets]\nmaster_key_file = \"{key}\"\n[login]\nregistration = false\n{extra}",
            key = dir.join("master.key").display(),
        ),
    )
    .expect("config");
    (config, base, url)
}
