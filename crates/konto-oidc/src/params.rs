//! Request parameters: each name at most once (RFC 6749 §3.1), empty values as absent, bounded.

use std::collections::BTreeMap;

use crate::error::OAuthError;

/// The most parameters one request may carry.
const MAX_PARAMS: usize = 64;
/// The longest value of one parameter.
pub(crate) const MAX_VALUE: usize = 8 * 1024;

/// Parsed parameters of one request.
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    /// From decoded name/value pairs (query string or form body).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Params, OAuthError> {
        if pairs.len() > MAX_PARAMS {
            return Err(OAuthError::invalid_request("too many parameters"));
        }
        let mut map = BTreeMap::new();
        for (name, value) in pairs {
            if value.len() > MAX_VALUE {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {} is too long",
                    printable(&name)
                )));
            }
            if map.contains_key(&name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {} is repeated (RFC 6749 section 3.1)",
                    printable(&name)
                )));
            }
            map.insert(name, value);
        }
        Ok(Params { map })
    }

    /// Parses `application/x-www-form-urlencoded` text.
    pub fn parse(encoded: &str) -> Result<Params, OAuthError> {
        let pairs = url::form_urlencoded::parse(encoded.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self::from_pairs(pairs)
    }

    /// The value, with an empty value treated as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name}")))
    }

    /// A value bounded to `max` bytes.
    pub fn get_bounded(&self, name: &str, max: usize) -> Result<Option<&str>, OAuthError> {
        match self.get(name) {
            Some(v) if v.len() > max => {
                Err(OAuthError::invalid_request(format!("{name} is too long")))
            }
            other => Ok(other),
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

fn printable(name: &str) -> String {
    name.chars()
        .take(40)
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(Params::parse("a=1&a=2").is_err());
        let p = Params::parse("a=1&b=").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None, "empty values count as absent");
        assert!(p.require("b").is_err());
    }

    #[test]
    fn bounded() {
        let long = format!("a={}", "x".repeat(MAX_VALUE + 1));
        assert!(Params::parse(&long).is_err());
        let many: Vec<String> = (0..100).map(|i| format!("p{i}=v")).collect();
        assert!(Params::parse(&many.join("&")).is_err());
    }
}
