//! What every page a browser test visits must pass: axe-core's WCAG 2.1 A and AA rules with no
//! violation, `<html lang>` in the user's language, no sideways scrolling on a 375 px phone, a
//! visible focus indicator on the first controls a keyboard reaches, an accessible name on every
//! control, and nothing the browser complains about (CSP violations, script errors). Each page is
//! also saved as full-page screenshots (phone and desktop) under `$KONTO_SCREENSHOT_DIR`
//! (default `target/screenshots/`), one folder per scenario, for a person to look at.

use std::path::PathBuf;

use chromiumoxide::cdp::browser_protocol::emulation::SetScriptExecutionDisabledParams;

use crate::chromium::{Js, Tab};

/// The WCAG 2.1 A and AA rule tags of axe-core.
const AXE_TAGS: &str = "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']";

/// The phone the layout must fit (an iPhone SE/mini class width).
pub const PHONE_WIDTH: i64 = 375;

/// Where screenshots go.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("KONTO_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots"))
}

/// Empties a scenario's screenshot folder (a rerun replaces the pictures).
pub(crate) fn clear_screenshots(scenario: &str) {
    let dir = screenshot_dir().join(scenario);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Lists an accessible-name problem per control: inputs, selects, text areas, buttons and links
/// that a person can reach but a screen reader could not name.
const UNLABELLED: &str = r#"(() => {
  const visible = e => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden'; };
  const named = e => {
    if ((e.getAttribute('aria-label') || '').trim()) return true;
    const by = e.getAttribute('aria-labelledby');
    if (by && by.split(/\s+/).some(id => (document.getElementById(id)?.textContent || '').trim())) return true;
    if (e.labels && [...e.labels].some(l => l.textContent.trim())) return true;
    if (e.matches('button, a, summary')) return e.textContent.trim() !== '';
    if (e.matches('input[type=submit], input[type=button]')) return (e.value || '').trim() !== '';
    return false;
  };
  return [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href], summary')]
    .filter(visible).filter(e => !named(e)).map(e => e.outerHTML.slice(0, 160));
})()"#;

/// The focused element and whether its focus can be seen: the browser's own focus ring
/// (`outline-style: auto`), an outline of at least 2 px or a box shadow, inside the window.
const FOCUS: &str = r#"(() => {
  const e = document.activeElement;
  if (!e || e === document.body || e === document.documentElement) return { tag: 'body' };
  const s = getComputedStyle(e);
  const r = e.getBoundingClientRect();
  const outline = s.outlineStyle === 'auto' ||
    (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2);
  const shadow = s.boxShadow && s.boxShadow !== 'none';
  const inside = r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.top < innerHeight;
  return { tag: e.outerHTML.slice(0, 120), visible: (outline || shadow) && inside };
})()"#;

impl Tab {
    /// Checks the page against the rules above and takes its screenshots; `page` names them.
    pub async fn check(&self, page: &str) {
        let (label, problems) = self.audit(page).await;
        assert!(
            problems.is_empty(),
            "{} / {label}: {} problem(s):\n- {}\n{}",
            self.name,
            problems.len(),
            problems.join("\n- "),
            self.describe().await
        );
    }

    /// What [`Tab::check`] would complain about, one line per problem; and the screenshots'
    /// label.
    pub async fn audit(&self, page: &str) -> (String, Vec<String>) {
        let n = {
            let mut shots = self.shots.lock().expect("lock");
            *shots += 1;
            *shots
        };
        let label = format!("{n:02}-{page}");
        let mut problems = Vec::new();

        let expected = *self.expect_lang.lock().expect("lock");
        let lang: String = self.eval("document.documentElement.lang").await;
        if lang != expected.code() {
            problems.push(format!(
                "<html lang=\"{lang}\">, the user reads {}",
                expected.code()
            ));
        }

        // a phone: the page must fit its width. (A phone zooms out to show a page that is too
        // wide, so `innerWidth` grows with the page; the device width is the measure.)
        self.viewport(PHONE_WIDTH, 800, true).await;
        let (scroll, layout): (i64, i64) = self
            .eval("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            .await;
        if scroll > PHONE_WIDTH || layout > PHONE_WIDTH {
            let wide: Vec<String> = self
                .eval(&format!(
                    "[...document.querySelectorAll('body *')]
                       .filter(e => e.getBoundingClientRect().right > {PHONE_WIDTH} + 1)
                       .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' +
                         Math.round(e.getBoundingClientRect().width) + 'px')"
                ))
                .await;
            problems.push(format!(
                "scrolls sideways at {PHONE_WIDTH} px: {scroll} px wide ({wide:?})"
            ));
        }
        self.save(&format!("{label}-{PHONE_WIDTH}")).await;
        self.viewport(1280, 900, false).await;
        self.save(&format!("{label}-1280")).await;

        let unlabelled: Vec<String> = self.eval(UNLABELLED).await;
        for u in unlabelled {
            problems.push(format!("a control without a name: {u}"));
        }

        // the keyboard: the first three stops show where the focus is
        let _ = self
            .eval::<serde_json::Value>("document.activeElement && document.activeElement.blur()")
            .await;
        for stop in 1..=3 {
            self.key("Tab", 9).await;
            let focus: serde_json::Value = self.eval(FOCUS).await;
            if focus["tag"] == "body" {
                break;
            }
            if focus["visible"] != true {
                problems.push(format!(
                    "tab stop {stop} has no visible focus: {}",
                    focus["tag"]
                ));
            }
        }
        let _ = self
            .eval::<serde_json::Value>("document.activeElement && document.activeElement.blur()")
            .await;

        problems.extend(self.axe().await);

        // CSP violations and script errors (failed loads of deliberate error pages are fine)
        let complaints: Vec<String> = {
            let log = self.log.lock().expect("lock");
            let mut checked = self.log_checked.lock().expect("lock");
            let new = log[(*checked).min(log.len())..].to_vec();
            *checked = log.len();
            new
        };
        let complaints: Vec<String> = complaints
            .into_iter()
            .filter(|l| !l.starts_with("Network/"))
            .filter(|l| {
                l.contains("/Error") || l.starts_with("exception") || l.contains("Security")
            })
            .collect();
        problems.extend(complaints);
        (label, problems)
    }

    /// Runs axe-core on the page; one line per violation.
    async fn axe(&self) -> Vec<String> {
        // axe needs timers and promise jobs, which a tab without scripts does not run; it is let
        // run for the audit only, on the page as it was built without scripts
        if self.js == Js::Off {
            self.cdp(SetScriptExecutionDisabledParams::new(false)).await;
        }
        let found = self.run_axe().await;
        if self.js == Js::Off {
            self.cdp(SetScriptExecutionDisabledParams::new(true)).await;
        }
        found
    }

    async fn run_axe(&self) -> Vec<String> {
        let loaded: bool = self.eval("typeof window.axe === 'object'").await;
        if !loaded {
            let _: serde_json::Value = self.eval(&format!("{};\n0", self.axe_source())).await;
        }
        let result: serde_json::Value = self
            .eval(&format!(
                "axe.run(document, {{ runOnly: {{ type: 'tag', values: {AXE_TAGS} }},
                   resultTypes: ['violations'] }})
                 .then(r => r.violations.map(v => ({{ id: v.id, impact: v.impact, help: v.help,
                   nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary) }})))"
            ))
            .await;
        result
            .as_array()
            .map(|vs| {
                vs.iter()
                    .map(|v| {
                        format!(
                            "axe {} ({}): {} at {}",
                            v["id"].as_str().unwrap_or(""),
                            v["impact"].as_str().unwrap_or(""),
                            v["help"].as_str().unwrap_or(""),
                            v["nodes"]
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn axe_source(&self) -> &str {
        self.chromium().axe.as_str()
    }

    async fn save(&self, label: &str) {
        let png = self.screenshot_png().await;
        let dir = screenshot_dir().join(&self.name);
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        std::fs::write(dir.join(format!("{label}.png")), png).expect("screenshot");
    }
}
