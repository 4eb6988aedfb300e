//! Authorization responses: a redirect with query parameters, or an auto-submitted form
//! (OAuth 2.0 Form Post Response Mode). Every response carries `iss` (RFC 9207) so a client
//! talking to several providers can tell which one answered (mix-up defence, RFC 9700 §4.4).

use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
}

impl ResponseMode {
    pub fn parse(s: &str) -> Option<ResponseMode> {
        match s {
            "query" => Some(ResponseMode::Query),
            "form_post" => Some(ResponseMode::FormPost),
            _ => None,
        }
    }
}

/// What goes back to the client's redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(String, String)>,
}

impl AuthorizationResponse {
    /// The redirect URI with the parameters added to its query (RFC 6749 §4.1.2: the URI's own
    /// query is kept).
    pub fn redirect_url(&self) -> String {
        match Url::parse(&self.redirect_uri) {
            Ok(mut url) => {
                {
                    let mut q = url.query_pairs_mut();
                    for (k, v) in &self.params {
                        q.append_pair(k, v);
                    }
                }
                url.to_string()
            }
            // registered redirect URIs are validated URLs; fall back to plain appending
            Err(_) => {
                let sep = if self.redirect_uri.contains('?') {
                    '&'
                } else {
                    '?'
                };
                let q: String = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&self.params)
                    .finish();
                format!("{}{sep}{q}", self.redirect_uri)
            }
        }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_redirect_uris_query() {
        let r = AuthorizationResponse {
            redirect_uri: "https://rp.example/cb?tenant=a".into(),
            mode: ResponseMode::Query,
            params: vec![
                ("code".into(), "x y".into()),
                ("iss".into(), "https://op".into()),
            ],
        };
        assert_eq!(
            r.redirect_url(),
            "https://rp.example/cb?tenant=a&code=x+y&iss=https%3A%2F%2Fop"
        );
    }
}
