#![doc = include_str!("../README.md")]

use quick_xml::NsReader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

/// How much of a document is read at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of input.
    pub max_input: usize,
    /// Elements nested inside each other, the root counting as one.
    pub max_depth: usize,
    /// Elements in the whole document.
    pub max_elements: usize,
    /// Attributes on one element (namespace declarations not counted).
    pub max_attributes: usize,
}

impl Limits {
    /// For small protocol messages (SOAP answers, TCTokens, SAML requests): 256 KiB, depth 32,
    /// 4,096 elements, 32 attributes each.
    pub const MESSAGES: Limits = Limits {
        max_input: 256 * 1024,
        max_depth: 32,
        max_elements: 4096,
        max_attributes: 32,
    };
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("xml document larger than {0} bytes")]
    TooLarge(usize),
    #[error("xml document is not utf-8")]
    NotUtf8,
    #[error("xml document type declarations are refused")]
    Doctype,
    #[error("xml entity {0:?} is not one of the predefined entities")]
    UnknownEntity(String),
    #[error("xml nesting deeper than {0}")]
    TooDeep(usize),
    #[error("xml document has more than {0} elements")]
    TooManyElements(usize),
    #[error("xml element has more than {0} attributes")]
    TooManyAttributes(usize),
    #[error("xml document has no root element")]
    NoRoot,
    #[error("xml document has content after the root element")]
    TrailingContent,
    #[error("malformed xml: {0}")]
    Malformed(String),
}

/// An attribute: namespace URI (if its name has a prefix), local name, value (unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub ns: Option<String>,
    pub name: String,
    pub value: String,
}

/// One element: namespace URI (if bound), local name, attributes, child elements, and its own
/// text (character data directly inside it, unescaped, joined across comments, CDATA sections
/// and references, untrimmed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub ns: Option<String>,
    pub name: String,
    pub attributes: Vec<Attribute>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// Whether the element has this namespace and local name.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == Some(ns)
    }

    /// The first child with this local name, in whatever namespace (servers differ in how they
    /// qualify inner elements, e.g. the DSS `ResultMajor`).
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first child with this namespace and local name.
    pub fn child_ns(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// Every child with this namespace and local name.
    pub fn children_ns<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// Follows a path of local names.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |el, name| el.child(name))
    }

    /// The trimmed text at the end of a path of local names.
    pub fn text_of(&self, names: &[&str]) -> Option<&str> {
        self.path(names).and_then(Element::trimmed)
    }

    /// The text with surrounding whitespace removed; `None` when that leaves nothing.
    pub fn trimmed(&self) -> Option<&str> {
        let t = self.text.trim();
        (!t.is_empty()).then_some(t)
    }

    /// The trimmed text of a child, `None` when the child is absent or empty.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).and_then(Element::trimmed)
    }

    /// The value of an attribute without a namespace (`ID`, `Destination`).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.ns.is_none() && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The value of a namespaced attribute (`akdb:RequiredAttribute`…).
    pub fn attr_ns(&self, ns: &str, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.name == name)
            .map(|a| a.value.as_str())
    }
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string().chars().take(200).collect())
}

/// Parses a whole document into its root element.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Element, XmlError> {
    if input.len() > limits.max_input {
        return Err(XmlError::TooLarge(limits.max_input));
    }
    let text = std::str::from_utf8(input).map_err(|_| XmlError::NotUtf8)?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let event = reader.read_event().map_err(malformed)?;
        if root.is_some() && stack.is_empty() && matches!(event, Event::Start(_) | Event::Empty(_))
        {
            return Err(XmlError::TrailingContent);
        }
        match event {
            Event::Start(start) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(XmlError::TooManyElements(limits.max_elements));
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep(limits.max_depth));
                }
                let el = element(&reader, &start, limits)?;
                stack.push(el);
            }
            Event::Empty(start) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(XmlError::TooManyElements(limits.max_elements));
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep(limits.max_depth));
                }
                let el = element(&reader, &start, limits)?;
                close(&mut stack, &mut root, el);
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unexpected end tag".into()))?;
                close(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let s = t.decode().map_err(malformed)?;
                push_text(&mut stack, &s)?;
            }
            Event::CData(c) => {
                let s = c.decode().map_err(malformed)?;
                push_text(&mut stack, &s)?;
            }
            Event::GeneralRef(r) => {
                let s = match r.resolve_char_ref().map_err(malformed)? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(malformed)?;
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

fn namespace(resolved: &ResolveResult<'_>) -> Result<Option<String>, XmlError> {
    match resolved {
        ResolveResult::Bound(ns) => Ok(Some(
            std::str::from_utf8(ns.as_ref())
                .map_err(|_| XmlError::NotUtf8)?
                .to_owned(),
        )),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(XmlError::Malformed(format!(
            "undeclared namespace prefix {:?}",
            String::from_utf8_lossy(prefix)
                .chars()
                .take(32)
                .collect::<String>()
        ))),
    }
}

fn element(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    limits: &Limits,
) -> Result<Element, XmlError> {
    let (resolved, local) = reader.resolve_element(start.name());
    let ns = namespace(&resolved)?;
    let name = std::str::from_utf8(local.as_ref())
        .map_err(|_| XmlError::NotUtf8)?
        .to_owned();
    let mut attributes = Vec::new();
    // duplicate attribute names are refused (the checks are on by default)
    for attr in start.attributes() {
        let attr = attr.map_err(malformed)?;
        let key = attr.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        if attributes.len() >= limits.max_attributes {
            return Err(XmlError::TooManyAttributes(limits.max_attributes));
        }
        let (resolved, local) = reader.resolve_attribute(key);
        let value = attr.unescape_value().map_err(|e| match e {
            quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(
                _,
                name,
            )) => XmlError::UnknownEntity(name.chars().take(32).collect()),
            e => malformed(e),
        })?;
        attributes.push(Attribute {
            ns: namespace(&resolved)?,
            name: std::str::from_utf8(local.as_ref())
                .map_err(|_| XmlError::NotUtf8)?
                .to_owned(),
            value: value.into_owned(),
        });
    }
    Ok(Element {
        ns,
        name,
        attributes,
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
mod tests;
