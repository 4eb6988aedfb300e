//! `/v1/entries/{court}/{type}/{number}`, parsed by hand from the raw request path.
//!
//! By hand rather than with the router's path extractor, so that each segment is percent-decoded
//! exactly once, an encoded `/` inside a segment stays inside it, and every refusal has its own
//! status (unknown path 404, unknown register type 400, invalid court or number 400).

use konto_core::org::{RegisterKey, RegisterType};
use percent_encoding::percent_decode_str;

const PREFIX: &str = "/v1/entries/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathError {
    /// Not a path of the register protocol.
    NotFound,
    /// The type segment is no register type.
    BadType,
    /// Court or number are not valid (or not percent-encoded UTF-8, or not canonical).
    BadKey,
}

pub(crate) fn parse(path: &str) -> Result<RegisterKey, PathError> {
    let rest = path.strip_prefix(PREFIX).ok_or(PathError::NotFound)?;
    let mut segments = rest.split('/');
    let (Some(court), Some(kind), Some(number), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(PathError::NotFound);
    };
    let decode = |s: &str| {
        percent_decode_str(s)
            .decode_utf8()
            .map(|d| d.into_owned())
            .map_err(|_| PathError::BadKey)
    };
    let (court, kind, number) = (decode(court)?, decode(kind)?, decode(number)?);
    let kind: RegisterType = kind.parse().map_err(|_| PathError::BadType)?;
    let key = RegisterKey::new(&court, kind.as_str(), &number).map_err(|_| PathError::BadKey)?;
    // "München " would find "München": a client that sends it has a bug worth seeing
    if key.court != court || key.number != number {
        return Err(PathError::BadKey);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    use proptest::prelude::*;

    use super::*;

    /// What konto's connector encodes: everything but RFC 3986's unreserved characters.
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');

    fn path_of(court: &str, kind: &str, number: &str) -> String {
        let e = |s: &str| utf8_percent_encode(s, SEGMENT).to_string();
        format!("{PREFIX}{}/{}/{}", e(court), e(kind), e(number))
    }

    #[test]
    fn parses_encoded_keys() {
        let key = parse("/v1/entries/M%C3%BCnchen/HRB/123456").unwrap();
        assert_eq!(key, RegisterKey::new("München", "HRB", "123456").unwrap());
        let key = parse(&path_of("Berlin (Charlottenburg)", "HRB", "12345 B")).unwrap();
        assert_eq!(key.court, "Berlin (Charlottenburg)");
        assert_eq!(key.number, "12345 B");
        // parentheses unencoded are the same path
        assert_eq!(
            parse("/v1/entries/Berlin%20(Charlottenburg)/HRB/12345%20B").unwrap(),
            key
        );
    }

    #[test]
    fn refusals() {
        use PathError::*;
        for (path, want) in [
            ("/", NotFound),
            ("/v1/entries", NotFound),
            ("/v1/entries/", NotFound),
            ("/v1/entries/München/HRB", NotFound),
            ("/v1/entries/M%C3%BCnchen/HRB/1/", NotFound),
            ("/v1/entries/M%C3%BCnchen/HRB/1/x", NotFound),
            ("/v2/entries/M%C3%BCnchen/HRB/1", NotFound),
            ("/v1/entries/M%C3%BCnchen/HRC/1", BadType),
            ("/v1/entries/M%C3%BCnchen/hrb/1", BadType),
            ("/v1/entries/M%C3%BCnchen/HRB/", BadKey),
            ("/v1/entries//HRB/1", BadKey),
            ("/v1/entries/M%FCnchen/HRB/1", BadKey),
            ("/v1/entries/M%C3%BCnchen%2F/HRB/1", BadKey),
            ("/v1/entries/M%C3%BCnchen%20/HRB/1", BadKey),
            ("/v1/entries/M%C3%BCnchen/HRB/%201", BadKey),
            ("/v1/entries/M%C3%BCnchen/HRB/1%00", BadKey),
            ("/v1/entries/%/HRB/1", BadKey),
        ] {
            assert_eq!(parse(path), Err(want), "{path}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(path in "\\PC{0,120}") {
            let _ = parse(&path);
            let _ = parse(&format!("{PREFIX}{path}"));
        }

        #[test]
        fn parsing_segments_never_panics(
            segments in prop::collection::vec("[%/ A-Za-z0-9äöü()._~-]{0,12}", 0..5),
        ) {
            let _ = parse(&format!("{PREFIX}{}", segments.join("/")));
        }

        #[test]
        fn encoded_keys_round_trip(
            court in "[A-ZÄÖÜ][a-zäöüß]{1,12}( \\([A-Z][a-zäöü]{1,12}\\))?",
            kind in prop::sample::select(RegisterType::ALL.to_vec()),
            number in "[1-9][0-9]{0,6}( [A-Z])?",
        ) {
            let key = RegisterKey::new(&court, kind.as_str(), &number).unwrap();
            prop_assert_eq!(parse(&path_of(&court, kind.as_str(), &number)), Ok(key));
        }
    }
}
