//! RP-Initiated Logout 1.0.
//!
//! A `post_logout_redirect_uri` is honoured only when the client it belongs to is known (from the
//! `id_token_hint` or `client_id`) and registered it exactly: otherwise the logout endpoint would
//! be an open redirector.

use url::Url;

use crate::error::OAuthError;
use crate::params::Params;
use crate::provider::Provider;

/// A validated logout request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    pub client_id: Option<String>,
    /// The `sid` of the ID token given as hint: the session the client asks to end.
    pub hinted_session: Option<String>,
    /// Where to send the browser afterwards, with `state` added.
    pub redirect_to: Option<String>,
    pub ui_locales: Vec<String>,
}

/// What ending a session led to (for the web layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// Redirect the browser here.
    Redirect(String),
    /// Show the "you are signed out" page.
    Done,
}

impl Provider {
    pub async fn logout_request(&self, params: &Params) -> Result<LogoutRequest, OAuthError> {
        let hint = match params.get("id_token_hint") {
            Some(h) => Some(self.verify_id_token_hint(h)?),
            None => None,
        };
        let named = params.get_bounded("client_id", 256)?;
        let client_id = match (&hint, named) {
            (Some(h), Some(c)) => {
                if !h.aud.iter().any(|a| a == c) {
                    return Err(OAuthError::invalid_request(
                        "client_id does not match id_token_hint",
                    ));
                }
                Some(c.to_owned())
            }
            (Some(h), None) => h.aud.first().cloned(),
            (None, c) => c.map(str::to_owned),
        };
        let redirect_to = match params.get("post_logout_redirect_uri") {
            None => None,
            Some(uri) => {
                let id = client_id.as_deref().ok_or_else(|| {
                    OAuthError::invalid_request(
                        "post_logout_redirect_uri needs id_token_hint or client_id",
                    )
                })?;
                let client = self
                    .store
                    .client(id)
                    .await?
                    .ok_or_else(|| OAuthError::invalid_request("unknown client"))?;
                if !client.has_post_logout_redirect_uri(uri) {
                    return Err(OAuthError::invalid_request(
                        "post_logout_redirect_uri is not registered for this client",
                    ));
                }
                let mut url = Url::parse(uri).map_err(|_| {
                    OAuthError::invalid_request("post_logout_redirect_uri is not a URL")
                })?;
                if let Some(state) = params.get_bounded("state", 2048)? {
                    url.query_pairs_mut().append_pair("state", state);
                }
                Some(url.to_string())
            }
        };
        let ui_locales = params
            .get("ui_locales")
            .unwrap_or("")
            .split(' ')
            .filter(|l| !l.is_empty() && l.len() <= 35)
            .take(8)
            .map(str::to_owned)
            .collect();
        Ok(LogoutRequest {
            client_id,
            hinted_session: hint.and_then(|h| h.sid),
            redirect_to,
            ui_locales,
        })
    }
}
