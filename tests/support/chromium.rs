//! A real browser for the tests: Debian's headless Chromium, driven over the DevTools protocol
//! (CDP) with the `chromiumoxide` crate.
//!
//! Why CDP and `chromiumoxide`: the scenarios need what only the DevTools protocol offers —
//! Chromium's virtual WebAuthn authenticator (`WebAuthn.addVirtualAuthenticator`), JavaScript
//! switched off per tab (`Emulation.setScriptExecutionDisabled`), a 375 px device
//! (`Emulation.setDeviceMetricsOverride`), full-page screenshots and the cookie jar with its
//! attributes. `fantoccini` + chromedriver would reach these only through vendor extensions and
//! needs a second process; `chromiumoxide`'s generated CDP types cover every domain (checked
//! against Chromium 156), its default features fetch no browser, and it costs about a minute and a
//! half of cold build on a busy 2-core machine. We launch the browser ourselves (not with
//! `Browser::launch`) to control flags, environment and cleanup, and tell the handler not to
//! ignore certificate errors or emulate a viewport, so that TLS and layout are the browser's own.
//!
//! One Chromium serves every test of a binary (it starts in about a second, a test server in
//! milliseconds); each [`Tab`] lives in its own browser context, which shares no cookies, storage,
//! TLS client-certificate choices or passkeys with any other. The process is started through a
//! small `sh` watchdog that holds a pipe from the test process: when the test binary exits, for
//! whatever reason, the pipe closes and the watchdog ends Chromium and removes its profile.
//!
//! The profile's `$HOME` holds an NSS database with the ELSTER test certificate of Erika
//! Mustermann and the development TLS CA, so Chromium's own TLS stack trusts konto's HTTPS
//! listeners and presents the certificate when the policy in
//! `/etc/chromium/policies/managed/konto-tests.json` (written by `scripts/setup-browser`) says so.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::emulation::{
    SetScriptExecutionDisabledParams, SetUserAgentOverrideParams,
};
use chromiumoxide::cdp::browser_protocol::target::{
    CreateBrowserContextParams, CreateTargetParams,
};
use chromiumoxide::handler::HandlerConfig;
use futures::StreamExt;

/// How long one navigation or condition may take before the test fails (debug builds on a busy
/// 2-core machine).
pub const WAIT: Duration = Duration::from_secs(30);

/// Where Debian's package puts the browser itself; `/usr/bin/chromium` is a launcher script that
/// adds flags from `/etc/chromium.d`, which the tests do not want.
const DEBIAN_CHROMIUM: &str = "/usr/lib/chromium/chromium";
/// The managed policy that lets Chromium present the ELSTER test certificate without asking.
pub const POLICY_FILE: &str = "/etc/chromium/policies/managed/konto-tests.json";

/// The user's language, as the browser announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    De,
    En,
}

impl Lang {
    /// The `<html lang>` konto must answer with.
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    fn accept_language(self) -> &'static str {
        match self {
            Lang::De => "de-DE,de;q=0.9",
            Lang::En => "en-GB,en;q=0.9",
        }
    }

    /// Picks the German or the English text.
    pub fn pick<'a>(self, de: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::De => de,
            Lang::En => en,
        }
    }
}

/// Whether the tab runs page scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Js {
    On,
    Off,
}

pub use crate::tab::{Tab, js_str};

/// The shared browser of a test binary.
pub struct Chromium {
    pub(crate) browser: chromiumoxide::Browser,
    /// The runtime that drives the CDP connection; it outlives every test's own runtime.
    pub(crate) runtime: tokio::runtime::Handle,
    user_agent: String,
    /// The axe-core script injected into pages.
    pub axe: Arc<String>,
    /// Held open for the watchdog: it ends Chromium when this process ends.
    _lifeline: Mutex<std::process::ChildStdin>,
}

/// The shared browser, or why there is none. A missing browser fails the test when
/// `KONTO_TEST_REQUIRE_BROWSER=1` (CI), and skips it with a visible line otherwise.
pub async fn chromium(test: &str) -> Option<&'static Chromium> {
    let shared = tokio::task::spawn_blocking(Chromium::shared)
        .await
        .expect("browser start");
    match shared {
        Ok(c) => Some(c),
        Err(why) => {
            if std::env::var("KONTO_TEST_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                panic!("{test}: KONTO_TEST_REQUIRE_BROWSER=1 but {why}");
            }
            eprintln!("SKIPPED (browser): {test}: {why}");
            None
        }
    }
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn executable() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("KONTO_TEST_CHROMIUM") {
        let p = PathBuf::from(p);
        return if p.exists() {
            Ok(p)
        } else {
            Err(format!(
                "KONTO_TEST_CHROMIUM={} does not exist",
                p.display()
            ))
        };
    }
    if Path::new(DEBIAN_CHROMIUM).exists() {
        return Ok(PathBuf::from(DEBIAN_CHROMIUM));
    }
    Err(format!(
        "no Chromium at {DEBIAN_CHROMIUM} (run scripts/setup-browser, or set KONTO_TEST_CHROMIUM)"
    ))
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e} (run scripts/setup-browser)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The NSS database Chromium reads on Linux (`$HOME/.pki/nssdb`): erika's certificate and key,
/// and the development TLS CA trusted for servers.
fn nss_database(home: &Path) -> Result<(), String> {
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db).map_err(|e| e.to_string())?;
    let db = format!("sql:{}", db.display());
    run("certutil", &["-N", "-d", &db, "--empty-password"])?;
    let p12 = repo("keys-dev/elster/erika.p12");
    run(
        "pk12util",
        &["-d", &db, "-i", &p12.to_string_lossy(), "-W", "123456"],
    )?;
    let ca = repo("keys-dev/tls/ca.pem");
    run(
        "certutil",
        &[
            "-A",
            "-d",
            &db,
            "-t",
            "C,,",
            "-n",
            "konto development TLS CA",
            "-i",
            &ca.to_string_lossy(),
        ],
    )
}

/// Starts Chromium behind the watchdog; returns the DevTools WebSocket address.
fn spawn(dir: &Path) -> Result<(String, std::process::ChildStdin), String> {
    let exe = executable()?;
    let home = dir.join("home");
    nss_database(&home)?;
    let flags = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--no-default-browser-check".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-extensions".to_owned(),
        "--disable-default-apps".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--password-store=basic".to_owned(),
        "--hide-scrollbars".to_owned(),
        // plain http must stay plain http: the relying parties and the eID client listen on it
        "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,MediaRouter".to_owned(),
        // every name stays on this machine (the relying parties are `<client>.example`)
        "--host-resolver-rules=MAP * 127.0.0.1, EXCLUDE localhost".to_owned(),
        "--remote-debugging-port=0".to_owned(),
        format!("--user-data-dir={}", dir.join("profile").display()),
        "about:blank".to_owned(),
    ];
    // The watchdog: Chromium runs in the background; when the test process's end of stdin closes
    // (the test binary exited, however), Chromium gets SIGTERM and its profile is removed.
    // (the watchdog closes its own copy of stderr, so that the pipe ends when Chromium does)
    let watchdog = r#""$@" >/dev/null &
pid=$!
exec 2>&-
cat >/dev/null
kill "$pid" 2>/dev/null
wait "$pid"
rm -rf "$KONTO_CHROMIUM_DIR""#;
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(watchdog)
        .arg("konto-chromium")
        .arg(&exe)
        .args(&flags)
        .env("HOME", &home)
        .env("KONTO_CHROMIUM_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = std::sync::mpsc::channel();
    // reads the address, then keeps draining Chromium's log so that it never blocks on a full pipe
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(Ok(url.trim().to_owned()));
                }
            } else if tx.is_some() && seen.len() < 40 {
                seen.push(line);
            }
        }
        if let Some(tx) = tx.take() {
            let _ = tx.send(Err(format!("Chromium exited:\n{}", seen.join("\n"))));
        }
        let _ = child.wait();
    });
    let url = rx
        .recv_timeout(WAIT)
        .map_err(|_| "Chromium did not announce its DevTools address".to_owned())??;
    Ok((url, stdin))
}

impl Chromium {
    fn shared() -> Result<&'static Chromium, String> {
        static SHARED: OnceLock<Result<Chromium, String>> = OnceLock::new();
        SHARED
            .get_or_init(Chromium::launch)
            .as_ref()
            .map_err(Clone::clone)
    }

    fn launch() -> Result<Chromium, String> {
        let axe_file = repo("tests/browser/node_modules/axe-core/axe.min.js");
        let axe = std::fs::read_to_string(&axe_file).map_err(|e| {
            format!(
                "{}: {e} (run scripts/setup-browser: npm ci in tests/browser)",
                axe_file.display()
            )
        })?;
        if !Path::new(POLICY_FILE).exists() {
            return Err(format!(
                "{POLICY_FILE} is missing (run scripts/setup-browser as root)"
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("konto-chromium-")
            .tempdir()
            .map_err(|e| e.to_string())?
            .keep();
        let (url, lifeline) = spawn(&dir)?;
        // the CDP connection lives on a runtime of its own, since every test has its own runtime
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("chromium-cdp".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let config = HandlerConfig {
                        ignore_https_errors: false,
                        viewport: None,
                        request_timeout: WAIT,
                        ..HandlerConfig::default()
                    };
                    match chromiumoxide::Browser::connect_with_config(url, config).await {
                        Ok((browser, mut handler)) => {
                            let _ = tx.send(Ok((browser, tokio::runtime::Handle::current())));
                            // Chromium 156 speaks a newer protocol than the generated types know;
                            // events it cannot parse are reported here and do not matter
                            while handler.next().await.is_some() {}
                        }
                        Err(e) => {
                            let _ = tx.send(Err(format!("CDP connection: {e}")));
                        }
                    }
                });
            })
            .map_err(|e| e.to_string())?;
        let (browser, runtime) = rx.recv().map_err(|e| e.to_string())??;
        let user_agent = runtime
            .block_on(browser.user_agent())
            .map_err(|e| e.to_string())?
            // a headless browser says so; pages must not see a difference
            .replace("HeadlessChrome", "Chrome");
        Ok(Chromium {
            browser,
            runtime,
            user_agent,
            axe: Arc::new(axe),
            _lifeline: Mutex::new(lifeline),
        })
    }

    /// A fresh tab in a browser context of its own: its language, scripts on or off, a desktop
    /// window (1280×900). `name` names its screenshot folder.
    pub async fn tab(&'static self, name: &str, lang: Lang, js: Js) -> Tab {
        let context = self
            .browser
            .create_browser_context(CreateBrowserContextParams::default())
            .await
            .expect("browser context");
        let page = self
            .browser
            .new_page(
                CreateTargetParams::builder()
                    .url("about:blank")
                    .browser_context_id(context.clone())
                    .build()
                    .expect("target"),
            )
            .await
            .expect("a tab");
        let tab = Tab {
            page,
            context: Some(context),
            chromium: self,
            lang,
            expect_lang: Mutex::new(lang),
            js,
            name: name.to_owned(),
            shots: Mutex::new(0),
            log: Arc::new(Mutex::new(Vec::new())),
            log_checked: Mutex::new(0),
            authenticator: Mutex::new(None),
        };
        tab.listen().await;
        tab.cdp(
            SetUserAgentOverrideParams::builder()
                .user_agent(self.user_agent.clone())
                .accept_language(lang.accept_language())
                .build()
                .expect("user agent"),
        )
        .await;
        tab.cdp(SetScriptExecutionDisabledParams::new(js == Js::Off))
            .await;
        tab.viewport(1280, 900, false).await;
        crate::audit::clear_screenshots(name);
        tab
    }
}
