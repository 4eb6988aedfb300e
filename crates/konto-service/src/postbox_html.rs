//! HTML message bodies: a small set of elements for structure, emphasis, lists, tables and
//! links, sanitised with `ammonia` before a body is stored and again before it is shown.
//!
//! Before sanitising, a body is checked for what a sender should learn about rather than see
//! silently dropped — an element outside the set (`<script>`, `<iframe>`, `<img>`, …), an event
//! handler attribute, a `javascript:` address — and refused with its name. The check is a
//! courtesy to senders; the sanitiser is the defence.

use std::collections::{HashMap, HashSet};

use ammonia::{Builder, UrlRelative};
use konto_core::postbox::MessageError;

/// The elements a body may use.
pub const ALLOWED_TAGS: [&str; 28] = [
    "a",
    "b",
    "blockquote",
    "br",
    "code",
    "div",
    "em",
    "h2",
    "h3",
    "h4",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
];

fn builder() -> Builder<'static> {
    let mut b = Builder::empty();
    b.tags(ALLOWED_TAGS.into_iter().collect::<HashSet<_>>())
        .tag_attributes(HashMap::from([
            ("a", HashSet::from(["href", "title"])),
            ("td", HashSet::from(["colspan", "rowspan"])),
            ("th", HashSet::from(["colspan", "rowspan", "scope"])),
        ]))
        .url_schemes(HashSet::from(["https", "mailto"]))
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .strip_comments(true);
    b
}

/// What a body must not contain, found before sanitising (see the module's text).
fn forbidden(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    if lower.contains("javascript:") || lower.contains("vbscript:") {
        return Some("a script address".into());
    }
    let bytes = lower.as_bytes();
    let mut i = 0;
    while let Some(at) = lower[i..].find('<') {
        let start = i + at + 1;
        let rest = &bytes[start..];
        let rest = rest.strip_prefix(b"/").unwrap_or(rest);
        let name: String = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .map(|b| char::from(*b))
            .collect();
        i = start;
        if !rest.first().is_some_and(u8::is_ascii_alphabetic) {
            // not a tag: a `<` in text
            continue;
        }
        if !ALLOWED_TAGS.contains(&name.as_str()) {
            return Some(format!("<{name}>"));
        }
        // the tag's attributes: an event handler is `on…=` after a space, slash or quote
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        let tag = &lower[start..end];
        let mut j = 0;
        while let Some(k) = tag[j..].find("on") {
            let pos = j + k;
            let before = tag[..pos].chars().last();
            let after: String = tag[pos + 2..]
                .chars()
                .take_while(char::is_ascii_alphabetic)
                .collect();
            let rest = tag[pos + 2 + after.len()..].trim_start();
            if matches!(before, Some(c) if c.is_whitespace() || c == '/' || c == '"' || c == '\'')
                && !after.is_empty()
                && rest.starts_with('=')
            {
                return Some(format!("the event handler on{after}"));
            }
            j = pos + 2;
        }
    }
    None
}

/// The body as stored: refused if it holds something named above, sanitised otherwise.
pub fn accept(html: &str) -> Result<String, MessageError> {
    if let Some(what) = forbidden(html) {
        return Err(MessageError::Html(what));
    }
    Ok(builder().clean(html).to_string())
}

/// A stored body made safe to show (sanitised again: what was stored by an older version, or
/// by hand, passes the same sieve).
pub fn show(html: &str) -> String {
    builder().clean(html).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_and_links_pass() {
        let body = accept(
            "<h2>Bescheid</h2><p>Sehr <strong>geehrte</strong> Frau Mustermann,</p>\
             <ul><li>eins</li></ul><p><a href=\"https://amt.example/info\">Hinweise</a></p>",
        )
        .expect("allowed");
        assert!(body.contains("<strong>geehrte</strong>"));
        assert!(
            body.contains("rel=\"noopener noreferrer nofollow\""),
            "{body}"
        );
    }

    #[test]
    fn what_a_sender_must_fix_is_named() {
        for (html, named) in [
            ("<p>x</p><script>alert(1)</script>", "<script>"),
            ("<SCRIPT src=//evil></SCRIPT>", "<script>"),
            ("<img src=x onerror=alert(1)>", "<img>"),
            ("<iframe src=\"https://evil\"></iframe>", "<iframe>"),
            ("<style>p{}</style>", "<style>"),
            ("<p onclick=\"steal()\">x</p>", "the event handler onclick"),
            (
                "<p title='x' onmouseover = 'y'>x</p>",
                "the event handler onmouseover",
            ),
            ("<a href=\"javascript:alert(1)\">x</a>", "a script address"),
            ("<a href=\"JaVaScRiPt:alert(1)\">x</a>", "a script address"),
            ("<svg><g/onload=alert(1)></svg>", "<svg>"),
        ] {
            assert_eq!(
                accept(html),
                Err(MessageError::Html(named.into())),
                "{html}"
            );
        }
    }

    #[test]
    fn words_that_look_like_handlers_are_text() {
        assert!(accept("<p>Die Person online = ja</p>").is_ok());
        assert!(accept("<p>1 < 2 und onion=3</p>").is_ok());
    }

    #[test]
    fn what_is_shown_is_sanitised_again() {
        let shown = show("<p>a</p><script>alert(1)</script><a href=\"http://x\">b</a>");
        assert!(
            !shown.contains("script") && !shown.contains("href"),
            "{shown}"
        );
    }
}
