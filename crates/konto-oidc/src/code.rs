//! Issuing the authorization code once the login service has authenticated the user and the
//! user has consented (OIDC Core §3.1.2.5).

use konto_core::client::{Client, GrantType};
use konto_core::login::{Authentication, Principal};
use konto_core::scope::{self, Scopes};
use konto_core::secret::SecretPurpose;
use konto_keys::random;
use konto_store::{GrantCode, GrantRecord};
use time::OffsetDateTime;

use crate::authorize::OidcFlow;
use crate::error::OAuthError;
use crate::provider::Provider;
use crate::response::AuthorizationResponse;

impl Provider {
    /// Stores a grant for `auth` with the consented `scopes` and answers the client with a code.
    pub async fn issue_code(
        &self,
        flow: &OidcFlow,
        client: &Client,
        auth: &Authentication,
        scopes: &Scopes,
        now: OffsetDateTime,
    ) -> Result<AuthorizationResponse, OAuthError> {
        let subject = self.subject_for(client, &auth.principal)?;
        let (user_id, temporary_identity) = match &auth.principal {
            Principal::Account { user_id } => (Some(user_id.clone()), None),
            Principal::Temporary { attributes, .. } => (
                None,
                Some(serde_json::to_string(attributes).map_err(|e| OAuthError::server_error(&e))?),
            ),
        };
        // The grant lives as long as its last token can: refresh tokens for accounts, only the
        // access token for a temporary login (nothing of it outlives its tokens).
        let lifetime = if user_id.is_some() && client.allows_grant(GrantType::RefreshToken) {
            if scopes.contains(scope::OFFLINE_ACCESS) {
                self.config.offline_refresh_token_ttl
            } else {
                self.config.refresh_token_ttl
            }
        } else {
            self.config.access_token_ttl + self.config.code_ttl
        };
        let code = random::secret()?;
        let grant = GrantRecord {
            id: random::id()?,
            client_id: client.party.id.clone(),
            user_id,
            temporary_identity,
            subject,
            scopes: scopes.to_scope_string(),
            claims: match &flow.claims {
                Some(c) => {
                    Some(serde_json::to_string(c).map_err(|e| OAuthError::server_error(&e))?)
                }
                None => None,
            },
            level: auth.level,
            amr: auth.amr.join(" "),
            auth_time: auth.auth_time,
            session_id: auth.session_id.clone(),
            representation: auth.representation.clone(),
            created_at: now,
            expires_at: now + lifetime,
            revoked_at: None,
            code: GrantCode {
                hash: self
                    .hasher
                    .hash(SecretPurpose::AuthorizationCode, code.expose()),
                redirect_uri: flow.redirect_uri.clone(),
                code_challenge: flow.code_challenge.clone(),
                nonce: flow.nonce.clone(),
                expires_at: now + self.config.code_ttl,
                used_at: None,
            },
            refresh_hash: None,
            refresh_generation: 0,
        };
        self.store.create_grant(&grant).await?;
        let mut params = vec![("code".to_owned(), code.expose().to_owned())];
        if let Some(s) = &flow.state {
            params.push(("state".to_owned(), s.clone()));
        }
        params.push(("iss".to_owned(), self.config.issuer.clone()));
        Ok(AuthorizationResponse {
            redirect_uri: flow.redirect_uri.clone(),
            mode: flow.response_mode,
            params,
        })
    }
}
