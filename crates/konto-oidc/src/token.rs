//! The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6; OIDC Core §3.1.3, §12).

use konto_core::client::{Client, GrantType};
use konto_core::pkce;
use konto_core::scope::{self, Scopes};
use konto_core::secret::SecretPurpose;
use konto_store::GrantRecord;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::client_auth::ClientAuthInput;
use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::provider::Provider;

/// RFC 6749 §5.1 (OIDC Core §3.1.3.3 adds `id_token`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenResponse {
    /// An RFC 9068 JWT access token (`typ: at+jwt`, ES256).
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(value_type = String, examples("Bearer"))]
    pub token_type: &'static str,
    /// Lifetime of the access token in seconds.
    pub expires_in: i64,
    /// With the authorization code and refresh grants when the client may refresh; rotated on
    /// every use.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub refresh_token: Option<String>,
    /// With the authorization code and refresh grants when `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub id_token: Option<String>,
    /// The granted scopes, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
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
        let grant = self
            .store
            .grant_by_code(&hash)
            .await?
            .ok_or_else(|| OAuthError::invalid_grant("the code is invalid"))?;
        if grant.client_id != client.party.id {
            return Err(OAuthError::invalid_grant("the code is invalid"));
        }
        if grant.code.used_at.is_some() {
            // RFC 6749 §4.1.2: a code used twice revokes what was issued from it
            self.store.revoke_grant(&grant.id, now).await?;
            tracing::warn!(client_id = %client.party.id, "authorization code replayed; grant revoked");
            return Err(OAuthError::invalid_grant(
                "the code was already used; its tokens are revoked",
            ));
        }
        if grant.code.expires_at <= now {
            return Err(OAuthError::invalid_grant("the code has expired"));
        }
        if p.get("redirect_uri") != Some(grant.code.redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        match (&grant.code.code_challenge, p.get("code_verifier")) {
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
        if !grant.is_active(now) {
            return Err(OAuthError::invalid_grant(
                "the grant behind the code is no longer valid",
            ));
        }
        let Some(level) = self.grant_level(&grant, client, now)? else {
            self.store.revoke_grant(&grant.id, now).await?;
            return Err(level_expired());
        };
        let grant = GrantRecord { level, ..grant };
        let acting = match self.acting_claims(&grant, client, now, None).await {
            Ok(a) => a,
            Err(e) => {
                self.store.revoke_grant(&grant.id, now).await?;
                return Err(e);
            }
        };
        let refresh = if client.allows_grant(GrantType::RefreshToken) && grant.user_id.is_some() {
            Some(self.mint_refresh_token(&grant.id, 0)?)
        } else {
            None
        };
        let refresh_hash = refresh
            .as_ref()
            .map(|s| self.hasher.hash(SecretPurpose::RefreshToken, s.expose()));
        if !self
            .store
            .consume_code(&hash, now, refresh_hash.as_ref())
            .await?
        {
            // lost a race with another redemption of the same code: that is a replay too
            self.store.revoke_grant(&grant.id, now).await?;
            return Err(OAuthError::invalid_grant(
                "the code was already used; its tokens are revoked",
            ));
        }
        let (access_token, expires_in) = self.access_token(
            &grant.subject,
            &client.party.id,
            Some(&grant.scopes),
            Some((&grant, client)),
            acting.as_ref(),
            now,
        )?;
        let scopes = Scopes::parse(&grant.scopes).unwrap_or_default();
        let id_token = if scopes.contains(scope::OPENID) {
            Some(
                self.id_token(
                    client,
                    &grant,
                    grant.code.nonce.as_deref(),
                    acting.as_ref(),
                    now,
                )
                .await?,
            )
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token: refresh.map(|s| s.expose().to_owned()),
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
        let invalid = || OAuthError::invalid_grant("the refresh token is invalid or expired");
        let id = self.parse_refresh_token(token).ok_or_else(invalid)?;
        let old_hash = self.hasher.hash(SecretPurpose::RefreshToken, token);
        // A narrower scope (RFC 6749 §6) is checked before the token is spent.
        let narrowed = match p.get("scope") {
            None => None,
            Some(s) => {
                let wanted = Scopes::parse(s)
                    .map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
                let granted = match self.store.grant(&id.grant_id).await? {
                    Some(g) if g.client_id == client.party.id => {
                        Scopes::parse(&g.scopes).unwrap_or_default()
                    }
                    _ => return Err(invalid()),
                };
                if !wanted.is_subset(&granted) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        "scope exceeds what was granted",
                    ));
                }
                Some(wanted.to_scope_string())
            }
        };
        let next = self.mint_refresh_token(&id.grant_id, id.generation + 1)?;
        let next_hash = self.hasher.hash(SecretPurpose::RefreshToken, next.expose());
        let rotated = match self
            .store
            .rotate_refresh_token(&id.grant_id, &old_hash, &client.party.id, &next_hash, now)
            .await?
        {
            Some(r) => Some(r),
            None => {
                self.retry(&id.grant_id, &old_hash, client, &next_hash, now)
                    .await?
            }
        };
        let (grant, org_epoch) = match rotated {
            Some(r) => (r.grant, r.org_epoch),
            None => {
                // An authentic token of this grant from before the last rotation (past the
                // retry window, or whose successor was used), or one of the current generation
                // that a retry replaced (so two parties hold this grant): a reuse.
                if let Some(g) = self.store.grant(&id.grant_id).await?
                    && g.client_id == client.party.id
                    && g.revoked_at.is_none()
                    && g.expires_at > now
                    && id.generation <= g.refresh_generation
                {
                    self.store.revoke_grant(&g.id, now).await?;
                    tracing::warn!(client_id = %client.party.id, "refresh token reused; grant revoked");
                    return Err(OAuthError::invalid_grant(
                        "the refresh token was already used; the grant is revoked (RFC 9700 section 4.14)",
                    ));
                }
                return Err(invalid());
            }
        };
        // the login's level as far as it still holds (see `refresh`)
        let Some(level) = self.grant_level(&grant, client, now)? else {
            self.store.revoke_grant(&grant.id, now).await?;
            return Err(level_expired());
        };
        let grant = GrantRecord { level, ..grant };
        // a revoked or expired mandate ends the grant at its next refresh
        let acting = match self
            .acting_claims(&grant, client, now, Some(org_epoch))
            .await
        {
            Ok(a) => a,
            Err(e) => {
                self.store.revoke_grant(&grant.id, now).await?;
                tracing::info!(client_id = %client.party.id, "a representing grant ended: its chain no longer holds");
                return Err(e);
            }
        };
        let scope = narrowed.unwrap_or_else(|| grant.scopes.clone());
        let (access_token, expires_in) = self.access_token(
            &grant.subject,
            &client.party.id,
            Some(&scope),
            Some((&grant, client)),
            acting.as_ref(),
            now,
        )?;
        let id_token = if Scopes::parse(&scope)
            .unwrap_or_default()
            .contains(scope::OPENID)
        {
            Some(
                self.id_token(client, &grant, None, acting.as_ref(), now)
                    .await?,
            )
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token: Some(next.expose().to_owned()),
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
                let allowed: Vec<&str> = client.party.scopes.iter().map(String::as_str).collect();
                if let Some(denied) = wanted.first_unknown(&allowed) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        format!("scope {denied} is not allowed for this client"),
                    ));
                }
                Some(wanted.to_scope_string()).filter(|s| !s.is_empty())
            }
        };
        let (access_token, expires_in) = self.access_token(
            &client.party.id,
            &client.party.id,
            scope.as_deref(),
            None,
            None,
            now,
        )?;
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

/// The grant's login no longer holds the level the client needs: the grant is over.
fn level_expired() -> OAuthError {
    OAuthError::invalid_grant(
        "the login no longer holds the level this client needs; the grant has ended",
    )
}
