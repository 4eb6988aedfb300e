//! A minimal XML tree for the simulator's inputs (SOAP requests from konto, TCTokens).
//!
//! Policy: the simulator parses what konto sends as defensively as a real server would:
//! bounded size and depth, UTF-8 only, DOCTYPE refused, only predefined entities and character
//! references. It is deliberately a separate implementation from konto's, so that a mistake in
//! one is not mirrored by the other.

use quick_xml::NsReader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

pub(crate) const MAX_INPUT: usize = 64 * 1024;
const MAX_DEPTH: usize = 24;

#[derive(Debug, Default)]
pub(crate) struct Node {
    pub(crate) ns: Option<String>,
    pub(crate) name: String,
    pub(crate) children: Vec<Node>,
    pub(crate) text: String,
}

impl Node {
    pub(crate) fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == Some(ns)
    }

    pub(crate) fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(crate) fn text_of(&self, path: &[&str]) -> Option<&str> {
        let node = path.iter().try_fold(self, |n, name| n.child(name))?;
        let t = node.text.trim();
        (!t.is_empty()).then_some(t)
    }
}

pub(crate) fn parse(input: &[u8]) -> Result<Node, String> {
    if input.len() > MAX_INPUT {
        return Err("document too large".into());
    }
    let text = std::str::from_utf8(input).map_err(|_| "document is not utf-8".to_owned())?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| e.to_string())?;
        let start = match &event {
            Event::Start(s) | Event::Empty(s) => Some(s.local_name()),
            _ => None,
        };
        if let Some(local) = start {
            if root.is_some() || stack.len() >= MAX_DEPTH {
                return Err("unexpected element".into());
            }
            let ns = match ns {
                ResolveResult::Bound(ns) => Some(String::from_utf8_lossy(ns.as_ref()).into_owned()),
                ResolveResult::Unbound => None,
                ResolveResult::Unknown(_) => return Err("undeclared namespace prefix".into()),
            };
            let node = Node {
                ns,
                name: String::from_utf8_lossy(local.as_ref()).into_owned(),
                ..Node::default()
            };
            if matches!(event, Event::Empty(_)) {
                attach(&mut stack, &mut root, node);
            } else {
                stack.push(node);
            }
            continue;
        }
        match event {
            Event::End(_) => {
                let node = stack.pop().ok_or("unbalanced end tag")?;
                attach(&mut stack, &mut root, node);
            }
            Event::Text(t) => push(&mut stack, &t.decode().map_err(|e| e.to_string())?)?,
            Event::CData(t) => push(&mut stack, &t.decode().map_err(|e| e.to_string())?)?,
            Event::GeneralRef(r) => {
                let s = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| e.to_string())?;
                        resolve_predefined_entity(&name)
                            .ok_or("undeclared entity")?
                            .to_owned()
                    }
                };
                push(&mut stack, &s)?;
            }
            Event::DocType(_) => return Err("doctype refused".into()),
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("unclosed element".into());
    }
    root.ok_or_else(|| "no root element".into())
}

fn attach(stack: &mut [Node], root: &mut Option<Node>, node: Node) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => *root = Some(node),
    }
}

fn push(stack: &mut [Node], s: &str) -> Result<(), String> {
    match stack.last_mut() {
        Some(node) => {
            node.text.push_str(s);
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err("text outside the root element".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let root = parse(b"<a xmlns='urn:x'><b>1 &lt; 2</b><c/></a>").unwrap();
        assert!(root.is("urn:x", "a"));
        assert_eq!(root.text_of(&["b"]), Some("1 < 2"));
        assert_eq!(root.text_of(&["c"]), None);
        assert!(parse(b"<!DOCTYPE a><a/>").is_err());
        assert!(parse(b"<a>&ext;</a>").is_err());
        assert!(parse(b"<a/><b/>").is_err());
        assert!(parse(&vec![b' '; MAX_INPUT + 1]).is_err());
    }
}
