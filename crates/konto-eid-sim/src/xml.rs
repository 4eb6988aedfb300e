//! The simulator reads what konto sends (SOAP requests, TCTokens) with the workspace's one XML
//! reader (`konto-xml`), as defensively as a real eID-Server would: UTF-8 only, no DOCTYPE,
//! predefined entities only, and tighter bounds than konto's own (a request is small).

pub(crate) use konto_xml::Element as Node;

const LIMITS: konto_xml::Limits = konto_xml::Limits {
    max_input: 64 * 1024,
    max_depth: 24,
    ..konto_xml::Limits::MESSAGES
};

/// The largest request accepted.
pub(crate) const MAX_INPUT: usize = LIMITS.max_input;

/// Parses a whole document; the error is a fault's text.
pub(crate) fn parse(input: &[u8]) -> Result<Node, String> {
    konto_xml::parse(input, &LIMITS).map_err(|e| e.to_string())
}
