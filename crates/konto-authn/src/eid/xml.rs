//! The eID-Server's answers are read with konto's one XML reader (`konto-xml`: UTF-8, no
//! DOCTYPE, predefined entities only, bounded), within the limits of a protocol message (a
//! getResultResponse with all PersonalData is a few KiB).

pub(crate) use konto_xml::{Element, XmlError};

const LIMITS: konto_xml::Limits = konto_xml::Limits::MESSAGES;

/// The largest document accepted.
pub(crate) const MAX_INPUT: usize = LIMITS.max_input;

/// Parses a whole document into its root element.
pub(crate) fn parse(input: &[u8]) -> Result<Element, XmlError> {
    konto_xml::parse(input, &LIMITS)
}
