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

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::emulation::{
    SetDeviceMetricsOverrideParams, SetScriptExecutionDisabledParams, SetUserAgentOverrideParams,
};
use chromiumoxide::cdp::browser_protocol::input::{
    DispatchKeyEventParams, DispatchKeyEventType, DispatchMouseEventParams, DispatchMouseEventType,
    InsertTextParams, MouseButton,
};
use chromiumoxide::cdp::browser_protocol::log::{EnableParams as LogEnable, EventEntryAdded};
use chromiumoxide::cdp::browser_protocol::network::{Cookie, GetCookiesParams};
use chromiumoxide::cdp::browser_protocol::page::{
    CaptureScreenshotFormat, CaptureScreenshotParams, EventLoadEventFired, GetLayoutMetricsParams,
    NavigateParams, Viewport,
};
use chromiumoxide::cdp::browser_protocol::target::{
    CreateBrowserContextParams, CreateTargetParams,
};
use chromiumoxide::cdp::browser_protocol::web_authn::{
    AddVirtualAuthenticatorParams, AuthenticatorProtocol, AuthenticatorTransport, Credential,
    EnableParams as WebAuthnEnable, GetCredentialsParams, VirtualAuthenticatorOptions,
};
use chromiumoxide::cdp::js_protocol::runtime::{EvaluateParams, EventExceptionThrown};
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::types::Command as CdpCommand;
use futures::StreamExt;
use serde::de::DeserializeOwned;

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

/// The shared browser of a test binary.
pub struct Chromium {
    browser: chromiumoxide::Browser,
    /// The runtime that drives the CDP connection; it outlives every test's own runtime.
    runtime: tokio::runtime::Handle,
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

/// One tab in its own browser context (like a private window of its own).
pub struct Tab {
    pub page: Page,
    context: Option<BrowserContextId>,
    chromium: &'static Chromium,
    pub lang: Lang,
    /// The language konto should answer in (the browser's, unless `ui_locales` says otherwise).
    pub(crate) expect_lang: Mutex<Lang>,
    pub js: Js,
    pub name: String,
    pub(crate) shots: Mutex<usize>,
    /// What the browser logged: console messages, CSP violations, uncaught exceptions.
    pub log: Arc<Mutex<Vec<String>>>,
    /// How much of the log earlier checks have looked at.
    pub(crate) log_checked: Mutex<usize>,
    authenticator: Mutex<Option<String>>,
}

impl Drop for Tab {
    fn drop(&mut self) {
        if let Some(id) = self.context.take() {
            let chromium: &'static Chromium = self.chromium;
            let browser = &chromium.browser;
            // closes the tab and forgets its cookies; the CDP runtime outlives the test's
            self.chromium.runtime.spawn(async move {
                let _ = browser.dispose_browser_context(id).await;
            });
        }
    }
}

impl Tab {
    /// From now on, konto's pages should be in `lang` (a request's `ui_locales` chose it).
    pub fn expect_lang(&self, lang: Lang) {
        *self.expect_lang.lock().expect("lock") = lang;
    }

    pub(crate) fn chromium(&self) -> &'static Chromium {
        self.chromium
    }

    /// Collects what the browser reports about the page (the Log domain carries CSP violations
    /// and failed loads; exceptions come from the Runtime domain).
    async fn listen(&self) {
        self.cdp(LogEnable::default()).await;
        let mut entries = self
            .page
            .event_listener::<EventEntryAdded>()
            .await
            .expect("log events");
        let mut exceptions = self
            .page
            .event_listener::<EventExceptionThrown>()
            .await
            .expect("exception events");
        let log = Arc::clone(&self.log);
        self.chromium.runtime.spawn(async move {
            loop {
                let line = tokio::select! {
                    e = entries.next() => match e {
                        Some(e) => format!(
                            "{:?}/{:?}: {} {}",
                            e.entry.source,
                            e.entry.level,
                            e.entry.text,
                            e.entry.url.as_deref().unwrap_or("")
                        ),
                        None => break,
                    },
                    e = exceptions.next() => match e {
                        Some(e) => format!("exception: {}", e.exception_details.text),
                        None => break,
                    },
                };
                if let Ok(mut log) = log.lock() {
                    log.push(line);
                }
            }
        });
    }

    /// Sends one CDP command to this tab.
    pub async fn cdp<T: CdpCommand>(&self, cmd: T) -> T::Response {
        let method = cmd.identifier();
        match tokio::time::timeout(WAIT, self.page.execute(cmd)).await {
            Ok(Ok(r)) => r.result,
            Ok(Err(e)) => panic!("{}: {method}: {e}", self.name),
            Err(_) => panic!("{}: {method}: no answer", self.name),
        }
    }

    /// Evaluates a JavaScript expression in the page (also when page scripts are off: the
    /// DevTools protocol is not a page script) and returns its JSON value; promises are awaited.
    pub async fn eval<T: DeserializeOwned>(&self, expression: &str) -> T {
        match self.try_eval(expression).await {
            Ok(v) => serde_json::from_value(v.clone())
                .unwrap_or_else(|e| panic!("{}: {expression}: {e}: {v}", self.name)),
            Err(e) => panic!("{}: {expression}: {e}", self.name),
        }
    }

    async fn try_eval(&self, expression: &str) -> Result<serde_json::Value, String> {
        let params = EvaluateParams::builder()
            .expression(expression)
            .return_by_value(true)
            .await_promise(true)
            .build()
            .map_err(|e| e.to_string())?;
        let r = tokio::time::timeout(WAIT, self.page.execute(params))
            .await
            .map_err(|_| "no answer".to_owned())?
            .map_err(|e| e.to_string())?
            .result;
        if let Some(ex) = r.exception_details {
            return Err(format!(
                "{} {}",
                ex.text,
                ex.exception.and_then(|e| e.description).unwrap_or_default()
            ));
        }
        Ok(r.result.value.unwrap_or(serde_json::Value::Null))
    }

    pub async fn url(&self) -> String {
        self.eval("location.href").await
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        self.eval("document.body ? document.body.innerText : ''")
            .await
    }

    /// Whether an element matches `selector`.
    pub async fn has(&self, selector: &str) -> bool {
        self.eval(&format!(
            "document.querySelector({}) !== null",
            js_str(selector)
        ))
        .await
    }

    /// An attribute of the first element matching `selector`.
    pub async fn attr(&self, selector: &str, name: &str) -> Option<String> {
        self.eval(&format!(
            "(document.querySelector({}) || {{ getAttribute: () => null }}).getAttribute({})",
            js_str(selector),
            js_str(name)
        ))
        .await
    }

    /// A page for failure messages: where the tab is, what it shows, what the browser logged.
    pub async fn describe(&self) -> String {
        let url = self.try_eval("location.href").await.unwrap_or_default();
        let text = self
            .try_eval("document.body ? document.body.innerText : ''")
            .await
            .unwrap_or_default();
        let log = self.log.lock().map(|l| l.join("\n")).unwrap_or_default();
        format!(
            "tab {} at {url}\n--- page:\n{text}\n--- browser log:\n{log}",
            self.name
        )
    }

    /// Marks the current document, so that a new one can be told from it.
    async fn mark(&self) {
        let _ = self.try_eval("window.__kontoOld = true").await;
    }

    /// Waits until a new document has loaded (the marked one is gone) and `ready` (a JavaScript
    /// condition) holds in it. Driven by the browser's load events, with [`WAIT`] as the limit.
    async fn settle(
        &self,
        loads: &mut chromiumoxide::listeners::EventStream<EventLoadEventFired>,
        ready: &str,
        what: &str,
    ) {
        let check = format!(
            "window.__kontoOld === undefined && document.readyState === 'complete' && ({ready})"
        );
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(serde_json::Value::Bool(true)) = self.try_eval(&check).await {
                return;
            }
            match tokio::time::timeout_at(deadline, loads.next()).await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("{}: the tab closed while waiting for {what}", self.name),
                Err(_) => panic!(
                    "{what}: no such page within {WAIT:?}\n{}",
                    self.describe().await
                ),
            }
        }
    }

    async fn loads(&self) -> chromiumoxide::listeners::EventStream<EventLoadEventFired> {
        self.page
            .event_listener::<EventLoadEventFired>()
            .await
            .expect("load events")
    }

    /// Waits, without doing anything, until a page where `ready` holds has loaded (a page that
    /// moves on by itself, like an auto-submitted form).
    pub async fn wait_for(&self, ready: &str) {
        let mut loads = self.loads().await;
        let check = format!("document.readyState === 'complete' && ({ready})");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(serde_json::Value::Bool(true)) = self.try_eval(&check).await {
                return;
            }
            match tokio::time::timeout_at(deadline, loads.next()).await {
                Ok(Some(_)) => continue,
                _ => panic!("waiting for {ready}\n{}", self.describe().await),
            }
        }
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.goto_until(url, "true").await
    }

    /// Opens `url` and waits until a page where `ready` holds has loaded (through redirects and
    /// auto-submitted forms).
    pub async fn goto_until(&self, url: &str, ready: &str) {
        self.mark().await;
        let mut loads = self.loads().await;
        let nav = NavigateParams::builder()
            .url(url)
            .build()
            .expect("navigate");
        // the answer may come only after the load; the load events are what we wait for
        let page = self.page.clone();
        let nav = tokio::spawn(async move { page.execute(nav).await });
        self.settle(&mut loads, ready, url).await;
        if let Ok(Ok(Ok(r))) = tokio::time::timeout(WAIT, nav).await
            && let Some(e) = &r.result.error_text
        {
            panic!("{}: {url}: {e}", self.name);
        }
    }

    /// Scrolls the element into view and returns its centre.
    async fn centre(&self, selector: &str) -> (f64, f64) {
        let js = format!(
            "(() => {{ const e = document.querySelector({sel});
               if (!e) return null;
               e.scrollIntoView({{ block: 'center', inline: 'center' }});
               const r = e.getBoundingClientRect();
               if (r.width === 0 || r.height === 0) return 'hidden';
               return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            sel = js_str(selector)
        );
        match self.try_eval(&js).await {
            Ok(serde_json::Value::Array(a)) if a.len() == 2 => (
                a[0].as_f64().unwrap_or_default(),
                a[1].as_f64().unwrap_or_default(),
            ),
            other => panic!(
                "{}: no visible {selector} ({other:?})\n{}",
                self.name,
                self.describe().await
            ),
        }
    }

    /// Clicks an element with the mouse, as a person would (what covers it gets the click).
    pub async fn click(&self, selector: &str) {
        let (x, y) = self.centre(selector).await;
        for kind in [
            DispatchMouseEventType::MousePressed,
            DispatchMouseEventType::MouseReleased,
        ] {
            self.cdp(
                DispatchMouseEventParams::builder()
                    .r#type(kind)
                    .x(x)
                    .y(y)
                    .button(MouseButton::Left)
                    .click_count(1)
                    .build()
                    .expect("mouse event"),
            )
            .await;
        }
    }

    /// Clicks and waits for the next page.
    pub async fn click_and_wait(&self, selector: &str) {
        self.click_until(selector, "true").await
    }

    /// Clicks and waits until a page where `ready` holds has loaded.
    pub async fn click_until(&self, selector: &str, ready: &str) {
        self.mark().await;
        let mut loads = self.loads().await;
        self.click(selector).await;
        self.settle(&mut loads, ready, &format!("after clicking {selector}"))
            .await;
    }

    /// Types into a field, as a keyboard would (after emptying it).
    pub async fn fill(&self, selector: &str, text: &str) {
        self.click(selector).await;
        self.eval::<serde_json::Value>(&format!(
            "(() => {{ const e = document.querySelector({}); e.focus(); e.select && e.select(); }})()",
            js_str(selector)
        ))
        .await;
        self.cdp(InsertTextParams::new(text)).await;
        let value: String = self
            .eval(&format!(
                "document.querySelector({}).value",
                js_str(selector)
            ))
            .await;
        assert_eq!(value, text, "{}: typing into {selector}", self.name);
    }

    /// Presses a key (`Tab`, `Enter`, …).
    pub async fn key(&self, key: &str, code: i64) {
        for kind in [
            DispatchKeyEventType::RawKeyDown,
            DispatchKeyEventType::KeyUp,
        ] {
            self.cdp(
                DispatchKeyEventParams::builder()
                    .r#type(kind)
                    .key(key)
                    .code(key)
                    .windows_virtual_key_code(code)
                    .native_virtual_key_code(code)
                    .build()
                    .expect("key event"),
            )
            .await;
        }
    }

    /// The window size; `mobile` applies the page's viewport meta tag as a phone would.
    pub async fn viewport(&self, width: i64, height: i64, mobile: bool) {
        self.cdp(
            SetDeviceMetricsOverrideParams::builder()
                .width(width)
                .height(height)
                .device_scale_factor(1.0)
                .mobile(mobile)
                .build()
                .expect("metrics"),
        )
        .await;
    }

    /// A PNG of the whole page, beyond the window.
    pub async fn screenshot_png(&self) -> Vec<u8> {
        let metrics = self.cdp(GetLayoutMetricsParams::default()).await;
        let size = metrics.css_content_size;
        let shot = self
            .cdp(
                CaptureScreenshotParams::builder()
                    .format(CaptureScreenshotFormat::Png)
                    .capture_beyond_viewport(true)
                    .clip(Viewport {
                        x: 0.0,
                        y: 0.0,
                        width: size.width.ceil(),
                        height: size.height.ceil(),
                        scale: 1.0,
                    })
                    .build(),
            )
            .await;
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(AsRef::<str>::as_ref(&shot.data))
            .expect("PNG data")
    }

    /// The cookies the browser holds for `url`, with their attributes.
    pub async fn cookies(&self, url: &str) -> Vec<Cookie> {
        self.cdp(
            GetCookiesParams::builder()
                .urls(vec![url.to_owned()])
                .build(),
        )
        .await
        .cookies
    }

    /// Gives the tab Chromium's virtual platform authenticator (CTAP2, built in, with resident
    /// keys and user verification that always succeeds), as a phone or laptop with a fingerprint
    /// reader would offer.
    pub async fn add_authenticator(&self) {
        self.cdp(WebAuthnEnable::default()).await;
        let options = VirtualAuthenticatorOptions::builder()
            .protocol(AuthenticatorProtocol::Ctap2)
            .transport(AuthenticatorTransport::Internal)
            .has_resident_key(true)
            .has_user_verification(true)
            .is_user_verified(true)
            .automatic_presence_simulation(true)
            .build()
            .expect("authenticator options");
        let id = self
            .cdp(AddVirtualAuthenticatorParams::new(options))
            .await
            .authenticator_id;
        *self.authenticator.lock().expect("lock") = Some(id.inner().clone());
    }

    /// The credentials the virtual authenticator holds.
    pub async fn passkeys(&self) -> Vec<Credential> {
        let id = self
            .authenticator
            .lock()
            .expect("lock")
            .clone()
            .expect("an authenticator");
        self.cdp(GetCredentialsParams::new(id)).await.credentials
    }
}

/// A JavaScript string literal.
pub fn js_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}
