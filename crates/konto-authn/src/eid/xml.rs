//! A small, bounded XML tree for the eID-Server's answers.
//!
//! Policy: input is untrusted. It must be UTF-8 and at most [`MAX_INPUT`] bytes; a DOCTYPE is
//! refused (so no DTD, no entity declarations, no entity expansion); only the five predefined
//! entities and character references are resolved; depth and element count are capped. Every
//! element keeps its namespace URI, so callers can check the envelope and operation namespaces.
//! Parsing never panics: every failure is an [`XmlError`].

use quick_xml::NsReader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

/// The largest document accepted (a getResultResponse with all PersonalData is a few KiB).
pub(crate) const MAX_INPUT: usize = 256 * 1024;
const MAX_DEPTH: usize = 32;
const MAX_ELEMENTS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum XmlError {
    #[error("xml document larger than {MAX_INPUT} bytes")]
    TooLarge,
    #[error("xml document is not utf-8")]
    NotUtf8,
    #[error("xml document type declarations are refused")]
    Doctype,
    #[error("xml entity {0:?} is not one of the predefined entities")]
    UnknownEntity(String),
    #[error("xml nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("xml document has more than {MAX_ELEMENTS} elements")]
    TooManyElements,
    #[error("xml document has no root element")]
    NoRoot,
    #[error("xml document has content after the root element")]
    TrailingContent,
    #[error("malformed xml: {0}")]
    Malformed(String),
}

/// One element: namespace URI (if bound), local name, child elements, and its own text
/// (character data directly inside it, unescaped, concatenated, untrimmed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Element {
    pub(crate) ns: Option<String>,
    pub(crate) name: String,
    pub(crate) children: Vec<Element>,
    pub(crate) text: String,
}

impl Element {
    /// Whether the element has this namespace and local name.
    pub(crate) fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == Some(ns)
    }

    /// The first child with this local name (in whatever namespace: servers differ in how
    /// they qualify the inner elements, e.g. the DSS `ResultMajor`).
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Follows a path of local names.
    pub(crate) fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |el, name| el.child(name))
    }

    /// The text with surrounding whitespace removed; `None` when that leaves nothing.
    pub(crate) fn trimmed(&self) -> Option<&str> {
        let t = self.text.trim();
        (!t.is_empty()).then_some(t)
    }

    /// The trimmed text of a child, `None` when the child is absent or empty.
    pub(crate) fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).and_then(Element::trimmed)
    }
}

/// Parses a whole document into its root element.
pub(crate) fn parse(input: &[u8]) -> Result<Element, XmlError> {
    if input.len() > MAX_INPUT {
        return Err(XmlError::TooLarge);
    }
    let text = std::str::from_utf8(input).map_err(|_| XmlError::NotUtf8)?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| XmlError::Malformed(e.to_string()))?;
        if root.is_some() && stack.is_empty() && matches!(event, Event::Start(_) | Event::Empty(_))
        {
            return Err(XmlError::TrailingContent);
        }
        match event {
            Event::Start(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooManyElements);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(element(&resolved, &start)?);
            }
            Event::Empty(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooManyElements);
                }
                let el = element(&resolved, &start)?;
                close(&mut stack, &mut root, el);
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unexpected end tag".into()))?;
                close(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| XmlError::Malformed(e.to_string()))?;
                push_text(&mut stack, &s)?;
            }
            Event::CData(c) => {
                let s = c.decode().map_err(|e| XmlError::Malformed(e.to_string()))?;
                push_text(&mut stack, &s)?;
            }
            Event::GeneralRef(r) => {
                let resolved_char = r
                    .resolve_char_ref()
                    .map_err(|e| XmlError::Malformed(e.to_string()))?;
                let s = match resolved_char {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| XmlError::Malformed(e.to_string()))?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| {
                                XmlError::UnknownEntity(name.chars().take(32).collect())
                            })?
                            .to_owned()
                    }
                };
                push_text(&mut stack, &s)?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unclosed element".into()));
    }
    root.ok_or(XmlError::NoRoot)
}

fn element(resolved: &ResolveResult<'_>, start: &BytesStart<'_>) -> Result<Element, XmlError> {
    let ns = match resolved {
        ResolveResult::Bound(ns) => Some(
            std::str::from_utf8(ns.as_ref())
                .map_err(|_| XmlError::NotUtf8)?
                .to_owned(),
        ),
        ResolveResult::Unbound => None,
        ResolveResult::Unknown(prefix) => {
            return Err(XmlError::Malformed(format!(
                "undeclared namespace prefix {:?}",
                String::from_utf8_lossy(prefix)
                    .chars()
                    .take(32)
                    .collect::<String>()
            )));
        }
    };
    let local = start.local_name();
    let name = std::str::from_utf8(local.as_ref())
        .map_err(|_| XmlError::NotUtf8)?
        .to_owned();
    Ok(Element {
        ns,
        name,
        ..Element::default()
    })
}

fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn push_text(stack: &mut [Element], s: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(el) => {
            el.text.push_str(s);
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(XmlError::TrailingContent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_text_and_entities() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
            <a:Root xmlns:a="urn:a" xmlns="urn:d"><Child>x &amp; y&#x21;<![CDATA[<z>]]></Child><Empty/></a:Root>"#;
        let root = parse(doc).unwrap();
        assert!(root.is("urn:a", "Root"));
        let child = root.child("Child").unwrap();
        assert_eq!(child.ns.as_deref(), Some("urn:d"));
        assert_eq!(child.text, "x & y!<z>");
        assert_eq!(root.child_text("Empty"), None);
    }

    #[test]
    fn whitespace_inside_text_is_kept() {
        let root = parse(b"<d><s>1979    </s></d>").unwrap();
        assert_eq!(root.child("s").unwrap().text, "1979    ");
    }

    #[test]
    fn refuses_doctype_and_unknown_entities() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>"#;
        assert_eq!(parse(bomb), Err(XmlError::Doctype));
        assert!(matches!(
            parse(b"<a>&nbsp;</a>"),
            Err(XmlError::UnknownEntity(_))
        ));
    }

    #[test]
    fn refuses_oversized_deep_and_malformed_input() {
        let big = vec![b' '; MAX_INPUT + 1];
        assert_eq!(parse(&big), Err(XmlError::TooLarge));
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(deep.as_bytes()), Err(XmlError::TooDeep));
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a>").is_err());
        assert_eq!(parse(b""), Err(XmlError::NoRoot));
        assert_eq!(parse(b"<a/><b/>"), Err(XmlError::TrailingContent));
        assert!(parse(b"<p:a/>").is_err());
        assert_eq!(parse(&[0xff, 0xfe]), Err(XmlError::NotUtf8));
    }
}
