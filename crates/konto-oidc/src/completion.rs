//! The end of an OpenID Connect login: the code (or the error) goes back to the client's
//! redirect URI (OIDC Core §3.1.2.5, §3.1.2.6). The login service calls this through
//! [`Completion`] once the login is through; it knows nothing of codes.

use konto_core::completion::{
    BoxFuture, Completed, Completion, CompletionError, FailCode, PageParty, ProtocolAnswer,
};
use konto_core::login::{Authentication, LoginRequest};
use konto_core::scope::Scopes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::authorize::OidcFlow;
use crate::error::ErrorCode;
use crate::provider::Provider;
use crate::response::{AuthorizationResponse, ResponseMode};

/// The tag of an OIDC flow's protocol JSON.
pub const PROTOCOL: &str = "oidc";

/// How an OIDC flow is kept in a login flow: `{"protocol":"oidc", …}`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
enum Kept {
    Oidc(OidcFlow),
}

impl OidcFlow {
    /// The flow as the login flow keeps it.
    pub fn to_protocol_json(&self) -> String {
        serde_json::to_string(&Kept::Oidc(self.clone())).unwrap_or_default()
    }

    /// An OIDC flow kept by [`OidcFlow::to_protocol_json`].
    pub fn from_protocol_json(s: &str) -> Result<OidcFlow, CompletionError> {
        match serde_json::from_str::<Kept>(s) {
            Ok(Kept::Oidc(f)) => Ok(f),
            Err(e) => Err(CompletionError::BadFlow(e.to_string())),
        }
    }
}

impl From<AuthorizationResponse> for ProtocolAnswer {
    fn from(r: AuthorizationResponse) -> ProtocolAnswer {
        match r.mode {
            ResponseMode::Query => ProtocolAnswer::Redirect {
                url: r.redirect_url(),
            },
            ResponseMode::FormPost => ProtocolAnswer::AutoPost {
                action: r.redirect_uri,
                fields: r.params,
            },
        }
    }
}

fn error_code(code: FailCode) -> ErrorCode {
    match code {
        FailCode::LoginRequired => ErrorCode::LoginRequired,
        FailCode::ConsentRequired => ErrorCode::ConsentRequired,
        FailCode::UnmetAuthenticationRequirements => ErrorCode::UnmetAuthenticationRequirements,
        FailCode::AccessDenied => ErrorCode::AccessDenied,
        FailCode::InteractionRequired => ErrorCode::InteractionRequired,
    }
}

impl Completion for Provider {
    fn handles(&self, protocol: &str) -> bool {
        protocol == PROTOCOL
    }

    fn party<'a>(&'a self, state: &'a str) -> BoxFuture<'a, Result<PageParty, CompletionError>> {
        Box::pin(async move {
            let f = OidcFlow::from_protocol_json(state)?;
            let name = match self.store.client(&f.client_id).await {
                Ok(Some(c)) => c.party.name,
                _ => f.client_id.clone(),
            };
            Ok(PageParty {
                name,
                answer_targets: vec![f.redirect_uri],
                cancellable: true,
            })
        })
    }

    fn complete<'a>(
        &'a self,
        state: &'a str,
        request: &'a LoginRequest,
        auth: &'a Authentication,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Completed, CompletionError>> {
        Box::pin(async move {
            let f = OidcFlow::from_protocol_json(state)?;
            let client = self
                .store
                .client(&f.client_id)
                .await
                .map_err(|e| CompletionError::Internal(e.to_string()))?
                .ok_or_else(|| CompletionError::BadFlow("the client is gone".into()))?;
            // OIDC Core §3.1.2.1: with prompt=none the session must be the hinted user's
            if let Some(hint) = &f.id_token_hint_sub
                && request.passive
            {
                let sub = self
                    .subject_for(&client, &auth.principal)
                    .map_err(|e| CompletionError::Internal(e.description))?;
                if sub != *hint {
                    return Ok(Completed::Refused(
                        FailCode::LoginRequired,
                        "the signed-in user is not the hinted one",
                    ));
                }
            }
            let scopes = Scopes::parse(&f.scope).unwrap_or_default();
            let resp = self
                .issue_code(&f, &client, auth, &scopes, now)
                .await
                .map_err(|e| CompletionError::Internal(e.description))?;
            Ok(Completed::Answer(resp.into()))
        })
    }

    fn fail(
        &self,
        state: &str,
        code: FailCode,
        description: &str,
    ) -> Result<ProtocolAnswer, CompletionError> {
        let f = OidcFlow::from_protocol_json(state)?;
        Ok(self.flow_error(&f, error_code(code), description).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_flow_reads_back_and_carries_its_tag() {
        let f = OidcFlow {
            client_id: "c".into(),
            redirect_uri: "https://rp.example/cb".into(),
            response_mode: ResponseMode::FormPost,
            state: Some("s".into()),
            nonce: None,
            scope: "openid".into(),
            code_challenge: None,
            claims: None,
            id_token_hint_sub: None,
        };
        let json = f.to_protocol_json();
        assert_eq!(
            konto_core::completion::protocol_tag(&json).as_deref(),
            Some(PROTOCOL)
        );
        assert_eq!(OidcFlow::from_protocol_json(&json).ok(), Some(f));
        assert!(OidcFlow::from_protocol_json(r#"{"protocol":"account"}"#).is_err());
    }

    #[test]
    fn form_post_is_an_auto_post_and_query_a_redirect() {
        // OAuth 2.0 Form Post Response Mode §2; RFC 6749 §4.1.2
        let params = vec![("code".to_owned(), "x y".to_owned())];
        let post: ProtocolAnswer = AuthorizationResponse {
            redirect_uri: "https://rp.example/cb".into(),
            mode: ResponseMode::FormPost,
            params: params.clone(),
        }
        .into();
        assert_eq!(
            post,
            ProtocolAnswer::AutoPost {
                action: "https://rp.example/cb".into(),
                fields: params.clone()
            }
        );
        let query: ProtocolAnswer = AuthorizationResponse {
            redirect_uri: "https://rp.example/cb?k=1".into(),
            mode: ResponseMode::Query,
            params,
        }
        .into();
        assert_eq!(
            query,
            ProtocolAnswer::Redirect {
                url: "https://rp.example/cb?k=1&code=x+y".into()
            }
        );
    }
}
