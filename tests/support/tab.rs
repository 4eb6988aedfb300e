//! A tab of the shared browser ([`crate::chromium`]) and what a person does in it: open pages,
//! click, type, press keys; and what a test reads from it: the page, its cookies, the browser's
//! log, the virtual authenticator's passkeys. Waiting is driven by the browser's load events,
//! never by sleeping.

use std::sync::{Arc, Mutex};

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
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
use chromiumoxide::cdp::browser_protocol::web_authn::{
    AddVirtualAuthenticatorParams, AuthenticatorProtocol, AuthenticatorTransport, Credential,
    EnableParams as WebAuthnEnable, GetCredentialsParams, VirtualAuthenticatorOptions,
};
use chromiumoxide::cdp::js_protocol::runtime::{EvaluateParams, EventExceptionThrown};
use chromiumoxide::types::Command as CdpCommand;
use futures::StreamExt;
use serde::de::DeserializeOwned;

use crate::chromium::{Chromium, Js, Lang, WAIT};

/// One tab in its own browser context (like a private window of its own).
pub struct Tab {
    pub page: Page,
    pub(crate) context: Option<BrowserContextId>,
    pub(crate) chromium: &'static Chromium,
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
    pub(crate) authenticator: Mutex<Option<String>>,
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
    pub(crate) async fn listen(&self) {
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
