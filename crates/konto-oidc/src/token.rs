//! The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6; OIDC Core §3.1.3, §12).

use konto_core::client::{Client, GrantType};
use konto_core::pkce;
use konto_core::scope::{self, Scopes};
use konto_core::secret::SecretPurpose;
use konto_keys::random;
use konto_store::{RefreshTokenRecord, RotateOutcome};
use serde::Serialize;
use time::OffsetDateTime;

use crate::client_auth::ClientAuthInput;
use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::provider::Provider;

/// RFC 6749 §5.1.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

const MAX_TOKEN_PARAM: usize = 512;

impl Provider {
    /// Handles one token request.
    #[tracing::instrument(skip_all, fields(grant_type = input.params.get("grant_type").unwrap_or("")))]
    pub async fn token(
        &self,
        input: ClientAuthInput<'_>,
        now: OffsetDateTime,
    ) -> Result<TokenResponse, OAuthError> {
        let grant_type = input.params.require("grant_type")?.to_owned();
        let client = self.authenticate_client(input, now).await?;
        let p = input.params;
        match grant_type.as_str() {
            "authorization_code" => self.code_grant(&client, p, now).await,
            "refresh_token" => self.refresh_grant(&client, p, now).await,
            "client_credentials" => self.client_credentials_grant(&client, p, now),
            _ => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "unsupported grant_type",
            )),
        }
    }

    async fn code_grant(
        &self,
        client: &Client,
        p: &Params,
        now: OffsetDateTime,
    ) -> Result<TokenResponse, OAuthError> {
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "this client may not use authorization codes",
            ));
        }
        let code = p
            .get_bounded("code", MAX_TOKEN_PARAM)?
            .ok_or_else(|| OAuthError::invalid_request("missing parameter code"))?;
        let hash = self.hasher.hash(SecretPurpose::AuthorizationCode, code);
        let rec = self
            .store
            .code(&hash)
            .await?
            .ok_or_else(|| OAuthError::invalid_grant("the code is invalid"))?;
        if rec.client_id != client.id {
            return Err(OAuthError::invalid_grant("the code is invalid"));
        }
        if rec.used_at.is_some() {
            // RFC 6749 §4.1.2: a code used twice revokes what was issued from it
            self.store.revoke_grant(&rec.grant_id, now).await?;
            tracing::warn!(client_id = %client.id, "authorization code replayed; grant revoked");
            return Err(OAuthError::invalid_grant(
                "the code was already used; its tokens are revoked",
            ));
        }
        if rec.expires_at <= now {
            return Err(OAuthError::invalid_grant("the code has expired"));
        }
        if p.get("redirect_uri") != Some(rec.redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        match (&rec.code_challenge, p.get("code_verifier")) {
            (Some(challenge), Some(verifier)) => pkce::verify(verifier, challenge)
                .map_err(|e| OAuthError::invalid_grant(e.to_string()))?,
            (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required")),
            // RFC 9700 §2.1.1: no downgrade — a verifier without a challenge is refused
            (None, Some(_)) => {
                return Err(OAuthError::invalid_grant(
                    "no code_challenge was sent, so no code_verifier is accepted",
                ));
            }
            (None, None) if client.pkce_required() => {
                return Err(OAuthError::invalid_grant("code_verifier is required"));
            }
            (None, None) => {}
        }
        let grant = match self.store.grant(&rec.grant_id).await? {
            Some(g) if g.is_active(now) => g,
            _ => {
                return Err(OAuthError::invalid_grant(
                    "the grant behind the code is no longer valid",
                ));
            }
        };
        let refresh_secret =
            if client.allows_grant(GrantType::RefreshToken) && grant.user_id.is_some() {
                Some(random::secret()?)
            } else {
                None
            };
        let refresh_record = refresh_secret.as_ref().map(|s| RefreshTokenRecord {
            hash: self.hasher.hash(SecretPurpose::RefreshToken, s.expose()),
            grant_id: grant.id.clone(),
            created_at: now,
            expires_at: grant.expires_at,
            used_at: None,
        });
        if !self
            .store
            .consume_code(&hash, now, refresh_record.as_ref())
            .await?
        {
            // lost a race with another redemption of the same code: that is a replay too
            self.store.revoke_grant(&rec.grant_id, now).await?;
            return Err(OAuthError::invalid_grant(
                "the code was already used; its tokens are revoked",
            ));
        }
        let (access_token, expires_in) = self.access_token(
            &grant.subject,
            &client.id,
            Some(&grant.scopes),
            Some((&grant, client)),
            now,
        )?;
        let scopes = Scopes::parse(&grant.scopes).unwrap_or_default();
        let id_token = if scopes.contains(scope::OPENID) {
            Some(
                self.id_token(client, &grant, rec.nonce.as_deref(), now)
                    .await?,
            )
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token: refresh_secret.map(|s| s.expose().to_owned()),
            id_token,
            scope: Some(grant.scopes.clone()),
        })
    }

    async fn refresh_grant(
        &self,
        client: &Client,
        p: &Params,
        now: OffsetDateTime,
    ) -> Result<TokenResponse, OAuthError> {
        if !client.allows_grant(GrantType::RefreshToken) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "this client may not use refresh tokens",
            ));
        }
        let token = p
            .get_bounded("refresh_token", MAX_TOKEN_PARAM)?
            .ok_or_else(|| OAuthError::invalid_request("missing parameter refresh_token"))?;
        let old_hash = self.hasher.hash(SecretPurpose::RefreshToken, token);
        // A narrower scope (RFC 6749 §6) is checked before the token is spent.
        let narrowed = match p.get("scope") {
            None => None,
            Some(s) => {
                let wanted = Scopes::parse(s)
                    .map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
                let rec = self.store.refresh_token(&old_hash).await?;
                let grant = match rec {
                    Some(r) => self.store.grant(&r.grant_id).await?,
                    None => None,
                };
                let granted = grant
                    .map(|g| Scopes::parse(&g.scopes).unwrap_or_default())
                    .unwrap_or_default();
                if !wanted.is_subset(&granted) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        "scope exceeds what was granted",
                    ));
                }
                Some(wanted.to_scope_string())
            }
        };
        let new_secret = random::secret()?;
        let new_hash = self
            .hasher
            .hash(SecretPurpose::RefreshToken, new_secret.expose());
        let grant = match self
            .store
            .rotate_refresh_token(&old_hash, &client.id, &new_hash, now)
            .await?
        {
            RotateOutcome::Rotated(g) => g,
            RotateOutcome::Reused { .. } => {
                tracing::warn!(client_id = %client.id, "refresh token reused; grant revoked");
                return Err(OAuthError::invalid_grant(
                    "the refresh token was already used; the grant is revoked (RFC 9700 section 4.14)",
                ));
            }
            RotateOutcome::Invalid => {
                return Err(OAuthError::invalid_grant(
                    "the refresh token is invalid or expired",
                ));
            }
        };
        let scope = narrowed.unwrap_or_else(|| grant.scopes.clone());
        let (access_token, expires_in) = self.access_token(
            &grant.subject,
            &client.id,
            Some(&scope),
            Some((&grant, client)),
            now,
        )?;
        let id_token = if Scopes::parse(&scope)
            .unwrap_or_default()
            .contains(scope::OPENID)
        {
            Some(self.id_token(client, &grant, None, now).await?)
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token: Some(new_secret.expose().to_owned()),
            id_token,
            scope: Some(scope),
        })
    }

    fn client_credentials_grant(
        &self,
        client: &Client,
        p: &Params,
        now: OffsetDateTime,
    ) -> Result<TokenResponse, OAuthError> {
        if !client.allows_grant(GrantType::ClientCredentials) || client.is_public() {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "this client may not use client credentials",
            ));
        }
        let scope = match p.get("scope") {
            None => None,
            Some(s) => {
                let wanted = Scopes::parse(s)
                    .map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
                if wanted.contains(scope::OPENID) || wanted.contains(scope::OFFLINE_ACCESS) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        "openid and offline_access need a user",
                    ));
                }
                let allowed: Vec<&str> = client.scopes.iter().map(String::as_str).collect();
                if let Some(denied) = wanted.first_unknown(&allowed) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        format!("scope {denied} is not allowed for this client"),
                    ));
                }
                Some(wanted.to_scope_string()).filter(|s| !s.is_empty())
            }
        };
        let (access_token, expires_in) =
            self.access_token(&client.id, &client.id, scope.as_deref(), None, now)?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token: None,
            id_token: None,
            scope,
        })
    }
}
