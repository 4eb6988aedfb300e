//! Small helpers for writing SAML XML: escaping, instants, identifiers.

use base64::Engine;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::SamlError;

/// Escapes text and attribute values (XML 1.0 §2.4, §3.3.3).
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// An `xs:dateTime` in UTC without fractions (SAML core §1.3.3).
pub(crate) fn instant(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// Reads an `xs:dateTime` (SAML core §1.3.3: UTC, with or without fractions).
pub(crate) fn parse_instant(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok()
}

/// A fresh message identifier: an `xs:ID` (an NCName, so it starts with `_`) with 128 random
/// bits (SAML core §1.3.4).
pub(crate) fn new_id() -> Result<String, SamlError> {
    let bytes = konto_keys::random::bytes::<16>().map_err(SamlError::internal)?;
    Ok(format!("_{}", hex::encode(bytes)))
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Base64 as XML carries it: whitespace anywhere is ignored (XML Schema base64Binary).
pub(crate) fn unb64(s: &str) -> Option<Vec<u8>> {
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .ok()
}

/// Drops an XML declaration, so a document can be embedded in another.
pub(crate) fn without_declaration(xml: &str) -> &str {
    let t = xml.trim_start();
    if t.starts_with("<?xml")
        && let Some(end) = t.find("?>")
    {
        return t[end + 2..].trim_start();
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(esc("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
    }

    #[test]
    fn instants_are_utc_without_fractions() {
        let t = time::macros::datetime!(2026-12-07 06:50:01.123 +01:00);
        assert_eq!(instant(t), "2026-12-07T05:50:01Z");
        assert_eq!(
            parse_instant("2026-12-07T05:50:01.5Z").map(|t| t.unix_timestamp()),
            Some(t.unix_timestamp())
        );
        assert_eq!(parse_instant("yesterday"), None);
    }

    #[test]
    fn ids_are_ncnames_and_differ() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert!(a.starts_with('_') && a.len() == 33 && a != b);
    }

    #[test]
    fn declarations_are_dropped() {
        assert_eq!(without_declaration("<?xml version=\"1.0\"?>\n<a/>"), "<a/>");
        assert_eq!(without_declaration("<a/>"), "<a/>");
    }
}
