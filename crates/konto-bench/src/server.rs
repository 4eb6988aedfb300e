//! konto as a separate process: prepared with its own CLI, started and stopped, read from /proc.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A prepared konto: configuration, database, client and user.
#[derive(Clone)]
pub(crate) struct Konto {
    bin: PathBuf,
    config: PathBuf,
    _dir: Arc<TempDir>,
    port: u16,
    pub(crate) client_id: String,
    secret: String,
    pub(crate) user: String,
    password: String,
    pub(crate) redirect: String,
    /// The mandate chain the user (a clerk of tax firm B) acts under for company A.
    pub(crate) chain: crate::orgs::Chain,
    /// The SAML service provider (a first party, registered from its metadata).
    pub(crate) sp: crate::saml::Sp,
}

/// A folder removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(bin: &Path, config: &Path, args: &[&str], stdin: Option<&str>) -> Result<String> {
    use std::io::Write;
    let mut child = Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}", bin.display()))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "konto {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Konto {
    pub(crate) async fn prepare(
        bin: &Path,
        durability: &str,
        database: Option<&str>,
    ) -> Result<Konto> {
        let dir = std::env::temp_dir().join(format!("konto-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let dir = TempDir(dir);
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = (std::process::id() as u8)
                .wrapping_mul(31)
                .wrapping_add(i as u8)
                .wrapping_mul(97);
        }
        std::fs::write(dir.0.join("master.key"), STANDARD.encode(key))?;
        let config = dir.0.join("konto.toml");
        let (saml_section, sp_metadata, sp) =
            crate::saml::prepare(&dir.0, &format!("http://127.0.0.1:{port}"))?;
        let db = match database {
            Some(url) => url.to_owned(),
            None => format!("sqlite://{}", dir.0.join("konto.db").display()),
        };
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\nissuer = \"http://127.0.0.1:{port}\"\n\
                 [database]\nurl = \"{db}\"\nsqlite_durability = \"{durability}\"\n\
                 [secrets]\nmaster_key_file = \"{key}\"\n[login]\nregistration = false\n\
                 {saml_section}",
                key = dir.0.join("master.key").display(),
            ),
        )?;
        run(bin, &config, &["migrate"], None)?;
        let redirect = "http://127.0.0.1:9/callback".to_owned();
        let out = run(
            bin,
            &config,
            &[
                "client",
                "add",
                "bench",
                "--grant",
                "client_credentials",
                "--grant",
                "authorization_code",
                "--grant",
                "refresh_token",
                "--scope",
                "openid",
                "--scope",
                "offline_access",
                "--scope",
                "representation",
                "--scope",
                "postbox",
                "--scope",
                "postbox:send",
                "--service-group",
                crate::orgs::GROUP,
                "--id-token-alg",
                "ES256",
                "--redirect-uri",
                &redirect,
                "--first-party",
            ],
            None,
        )?;
        let secret = out
            .lines()
            .find_map(|l| l.strip_prefix("client_secret: "))
            .context("client secret")?
            .to_owned();
        run(
            bin,
            &config,
            &[
                "sp",
                "add",
                "--metadata",
                &sp_metadata.display().to_string(),
                "--id",
                "bench-sp",
                "--first-party",
            ],
            None,
        )?;
        let password = "Benchmark-Leuchtturm-Ostsee-7".to_owned();
        run(
            bin,
            &config,
            &["user", "add", "bench-user"],
            Some(&format!("{password}\n")),
        )?;
        // tax firm B's and company A's administrator; the bench user is B's clerk
        run(
            bin,
            &config,
            &["user", "add", "bench-admin"],
            Some(&format!("{password}\n")),
        )?;
        let chain = crate::orgs::seed(&db, "bench-admin", "bench-user")
            .await
            .context("seeding organisations, mandate and right")?;
        Ok(Konto {
            bin: bin.to_owned(),
            config,
            _dir: Arc::new(dir),
            port,
            client_id: "bench".into(),
            secret,
            user: "bench-user".into(),
            password,
            redirect,
            chain,
            sp,
        })
    }

    pub(crate) fn basic_auth(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.client_id, self.secret))
        )
    }

    pub(crate) fn password_form(&self) -> String {
        url::form_urlencoded::byte_serialize(self.password.as_bytes()).collect()
    }

    /// Starts `konto serve` and waits until `/healthz` answers.
    pub(crate) async fn start(&self) -> Result<Running> {
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let started = Instant::now();
        let child = Command::new(&self.bin)
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        loop {
            if started.elapsed() > Duration::from_secs(30) {
                bail!("konto did not become ready");
            }
            if let Ok(mut c) = crate::client::Conn::connect(addr).await
                && let Ok(r) = c.request(hyper::Method::GET, "/healthz", &[], None).await
                && r.status == 200
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(Running {
            ready: started.elapsed(),
            child,
            addr,
        })
    }
}

/// A running konto process.
pub(crate) struct Running {
    pub(crate) ready: Duration,
    pub(crate) addr: SocketAddr,
    child: Child,
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

impl Running {
    /// User plus system CPU time of the process so far.
    pub(crate) fn cpu_time(&self) -> Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        let after = stat.rsplit_once(')').map(|(_, r)| r).context("stat")?;
        let fields: Vec<&str> = after.split_whitespace().collect();
        // fields after the command name: state is [0]; utime [11], stime [12]
        let utime: f64 = fields.get(11).context("utime")?.parse()?;
        let stime: f64 = fields.get(12).context("stime")?.parse()?;
        Ok(Duration::from_secs_f64((utime + stime) / clock_ticks()))
    }

    /// Resident set size in KiB.
    pub(crate) fn rss_kib(&self) -> Result<u64> {
        (self.rss_reader())()
    }

    /// Reads the resident set size in KiB, from another task.
    pub(crate) fn rss_reader(&self) -> impl Fn() -> Result<u64> + Send + 'static {
        let path = format!("/proc/{}/status", self.child.id());
        move || {
            let status = std::fs::read_to_string(&path)?;
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .context("VmRSS")
        }
    }

    /// Stops the process with SIGTERM (graceful) and waits for it.
    pub(crate) async fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
