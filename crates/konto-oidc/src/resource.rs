//! Userinfo (OIDC Core §5.3), introspection (RFC 7662) and revocation (RFC 7009).

use konto_core::scope::{self, Scopes};
use konto_core::secret::SecretPurpose;
use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::claims::{ClaimsRequest, is_person_claim, registered_claims, user_claims};
use crate::client_auth::ClientAuthInput;
use crate::error::{ErrorCode, OAuthError};
use crate::provider::Provider;

/// Errors of a protected resource (RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// No token at all: 401 with a bare `WWW-Authenticate: Bearer`.
    #[error("no access token")]
    Missing,
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("invalid token: {0}")]
    InvalidToken(String),
    #[error("insufficient scope: {0}")]
    InsufficientScope(String),
    #[error("server error")]
    Server(OAuthError),
}

impl From<OAuthError> for BearerError {
    fn from(e: OAuthError) -> Self {
        match e.code {
            ErrorCode::InvalidToken => BearerError::InvalidToken(e.description),
            ErrorCode::InvalidRequest => BearerError::InvalidRequest(e.description),
            _ => BearerError::Server(e),
        }
    }
}

/// RFC 7662 §2.2. A token that is not active for the caller — unknown, expired, revoked, or
/// issued to another client — is exactly `{"active": false}`: every other member is absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct IntrospectionResponse {
    pub active: bool,
    /// `Bearer`, for access tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    /// The user (pairwise for this client), the client itself for client credentials, or the
    /// represented party when someone acts for another.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub iss: Option<String>,
    /// The resource the access token is for (access tokens only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub aud: Option<String>,
    /// Expiry, seconds since the epoch (for a refresh token: the grant's).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub exp: Option<i64>,
    /// Issue time, seconds since the epoch (for a refresh token: the grant's).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub iat: Option<i64>,
    /// The access token's id (access tokens only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub jti: Option<String>,
    /// Space-separated scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub scope: Option<String>,
    /// The level the grant still holds, in the client's vocabulary.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub acr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub auth_time: Option<i64>,
    /// RFC 8176 authentication methods (access tokens only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub amr: Option<Vec<String>>,
    /// RFC 8693 §4.1: the person acting for `sub`, prior actors nested inside.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, nullable = false)]
    pub act: Option<Value>,
    /// The represented party, as in the ID token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, nullable = false)]
    pub acting_for: Option<Value>,
    /// The mandate chain the representation rests on, as in the ID token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, nullable = false)]
    pub mandate: Option<Value>,
}

impl IntrospectionResponse {
    /// `{"active": false}`.
    pub fn inactive() -> IntrospectionResponse {
        IntrospectionResponse::default()
    }
}

fn looks_like_jws(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

impl Provider {
    /// The claims about the user behind an access token.
    /// The client calling one of konto's client APIs with an access token of its own (client
    /// credentials, RFC 6749 §4.4) that carries `needed` among its scopes. A token that stands
    /// for a user is refused: these APIs act as the service, not as a person.
    pub async fn client_for_call(
        &self,
        token: &str,
        needed: &str,
        now: OffsetDateTime,
    ) -> Result<String, BearerError> {
        let claims = self.verify_access_token(token, now).await?;
        if claims.gid.is_some() || claims.sub != claims.client_id {
            return Err(BearerError::InvalidToken(
                "a client credentials token is needed".into(),
            ));
        }
        if !claims.scopes().any(|s| s == needed) {
            return Err(BearerError::InsufficientScope(format!(
                "the token lacks the {needed} scope"
            )));
        }
        if self
            .store
            .client(&claims.client_id)
            .await
            .map_err(OAuthError::from)?
            .is_none()
        {
            return Err(BearerError::InvalidToken("the client is unknown".into()));
        }
        Ok(claims.client_id)
    }

    /// The person behind a user's own access token that carries `needed` among its scopes,
    /// for konto's user APIs: their account id and the level that still holds for the login
    /// behind the token (the session limits of the trust levels apply as at refresh).
    pub async fn user_for_call(
        &self,
        token: &str,
        needed: &str,
        now: OffsetDateTime,
    ) -> Result<(String, konto_core::Level), BearerError> {
        let claims = self.verify_access_token(token, now).await?;
        if !claims.scopes().any(|s| s == needed) {
            return Err(BearerError::InsufficientScope(format!(
                "the token lacks the {needed} scope"
            )));
        }
        let gid = claims.gid.as_deref().ok_or_else(|| {
            BearerError::InvalidToken("the token does not stand for a user".into())
        })?;
        let grant = match self.store.grant(gid).await.map_err(OAuthError::from)? {
            Some(g) if g.revoked_at.is_none() => g,
            _ => {
                return Err(BearerError::InvalidToken(
                    "the access token has been revoked".into(),
                ));
            }
        };
        let user_id = grant
            .user_id
            .clone()
            .ok_or_else(|| BearerError::InvalidToken("a temporary login has no postbox".into()))?;
        let level = konto_core::session::level_of_grant(
            grant.level,
            grant.auth_time,
            grant.created_at,
            now,
        );
        Ok((user_id, level))
    }

    pub async fn userinfo(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Map<String, Value>, BearerError> {
        let claims = self.verify_access_token(token, now).await?;
        if !claims.scopes().any(|s| s == scope::OPENID) {
            return Err(BearerError::InsufficientScope(
                "the token lacks the openid scope".into(),
            ));
        }
        let gid = claims.gid.as_deref().ok_or_else(|| {
            BearerError::InvalidToken("the token does not stand for a user".into())
        })?;
        let grant = match self.store.grant(gid).await.map_err(OAuthError::from)? {
            Some(g) if g.is_active(now) || g.revoked_at.is_none() => g,
            _ => {
                return Err(BearerError::InvalidToken(
                    "the access token has been revoked".into(),
                ));
            }
        };
        // what the token's scopes and the claims request ask for, within the client's
        // registration (OIDC Core §5.5)
        let client = self
            .store
            .client(&claims.client_id)
            .await
            .map_err(OAuthError::from)?
            .ok_or_else(|| BearerError::InvalidToken("the client is unknown".into()))?;
        let allowed = registered_claims(&client);
        let scopes = Scopes::parse(claims.scope.as_deref().unwrap_or("")).unwrap_or_default();
        let mut wanted: Vec<&str> = scopes.claims().into_iter().collect();
        let requested = grant
            .claims
            .as_deref()
            .map(ClaimsRequest::parse)
            .transpose()?;
        if let Some(req) = &requested {
            for name in req.userinfo.keys() {
                if is_person_claim(name) && !wanted.contains(&name.as_str()) {
                    wanted.push(name.as_str());
                }
            }
        }
        wanted.retain(|c| allowed.contains(c));
        let attrs = self.grant_attributes(&grant).await?;
        let mut out = Map::new();
        out.insert("sub".into(), json!(grant.subject));
        out.extend(user_claims(&attrs, &wanted));
        // konto reports the level of the login behind the token (the trust-level issue)
        if let Some(acr) = &claims.acr {
            out.insert("acr".into(), json!(acr));
        }
        if let Some(handle) = self.postbox_handle(&client, &grant, now).await? {
            out.insert("postbox_handle".into(), json!(handle));
        }
        // the represented party, described as in the ID token (the chain was checked with the
        // token)
        if scopes.contains(scope::REPRESENTATION) && grant.representation.is_some() {
            let acting = self
                .acting_claims(&grant, &client, now, None)
                .await
                .map_err(|_| {
                    BearerError::InvalidToken(
                        "the mandate or right the token acts under no longer holds".into(),
                    )
                })?;
            if let Some(a) = acting {
                let mut acting_for = a.acting_for;
                self.add_acting_postbox(&client, &grant, &mut acting_for, now)
                    .await?;
                out.insert("acting_for".into(), acting_for);
                if let Some(m) = a.mandate {
                    out.insert("mandate".into(), m);
                }
            }
        }
        Ok(out)
    }

    /// RFC 7662: whether a token is active, for the client it was issued to.
    pub async fn introspect(
        &self,
        input: ClientAuthInput<'_>,
        now: OffsetDateTime,
    ) -> Result<IntrospectionResponse, OAuthError> {
        let client = self.authenticate_client(input, now).await?;
        if client.is_public() {
            return Err(OAuthError::invalid_client(
                "introspection needs an authenticated client",
            ));
        }
        let token = input.params.require("token")?;
        let inactive = IntrospectionResponse::inactive;
        if looks_like_jws(token) {
            return Ok(match self.verify_access_token(token, now).await {
                Ok(c) if c.client_id == client.party.id => IntrospectionResponse {
                    active: true,
                    token_type: Some("Bearer"),
                    client_id: Some(c.client_id),
                    sub: Some(c.sub),
                    iss: Some(c.iss),
                    aud: Some(c.aud),
                    exp: Some(c.exp),
                    iat: Some(c.iat),
                    jti: Some(c.jti),
                    scope: c.scope,
                    acr: c.acr,
                    auth_time: c.auth_time,
                    amr: c.amr,
                    act: c.act,
                    acting_for: c.acting_for,
                    mandate: c.mandate,
                },
                Ok(_) => inactive(),
                Err(e) if e.code == ErrorCode::InvalidToken => inactive(),
                Err(e) => return Err(e),
            });
        }
        let Some(id) = self.parse_refresh_token(token) else {
            return Ok(inactive());
        };
        let Some(grant) = self.store.grant(&id.grant_id).await? else {
            return Ok(inactive());
        };
        let current = grant
            .refresh_hash
            .as_ref()
            .is_some_and(|h| h.matches(&self.hasher.hash(SecretPurpose::RefreshToken, token)));
        if grant.client_id != client.party.id || !current || !grant.is_active(now) {
            return Ok(inactive());
        }
        // what a refresh would vouch for now (see `refresh`)
        let Some(level) = self.grant_level(&grant, &client, now)? else {
            return Ok(inactive());
        };
        let acting = match self.acting_claims(&grant, &client, now, None).await {
            Ok(a) => a,
            Err(e) if e.code == ErrorCode::InvalidGrant => return Ok(inactive()),
            Err(e) => return Err(e),
        };
        let (sub, act, acting_for, mandate) = match acting {
            Some(a) => (a.sub, Some(a.act), Some(a.acting_for), a.mandate),
            None => (grant.subject.clone(), None, None, None),
        };
        Ok(IntrospectionResponse {
            active: true,
            client_id: Some(grant.client_id.clone()),
            sub: Some(sub),
            scope: Some(grant.scopes.clone()),
            exp: Some(grant.expires_at.unix_timestamp()),
            iat: Some(grant.created_at.unix_timestamp()),
            iss: Some(self.config.issuer.clone()),
            acr: Some(self.acr_of(level, &client)),
            auth_time: Some(grant.auth_time.unix_timestamp()),
            act,
            acting_for,
            mandate,
            ..IntrospectionResponse::inactive()
        })
    }

    /// RFC 7009: revokes a refresh token (and with it its grant) or an access token.
    /// Unknown tokens are not an error (§2.2).
    pub async fn revoke(
        &self,
        input: ClientAuthInput<'_>,
        now: OffsetDateTime,
    ) -> Result<(), OAuthError> {
        let client = self.authenticate_client(input, now).await?;
        let token = input.params.require("token")?;
        if let Some(hint) = input.params.get("token_type_hint")
            && !matches!(hint, "access_token" | "refresh_token")
        {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedTokenType,
                "unsupported token_type_hint",
            ));
        }
        if looks_like_jws(token) {
            return match self.verify_access_token(token, now).await {
                Ok(c) if c.client_id != client.party.id => Err(OAuthError::new(
                    ErrorCode::UnauthorizedClient,
                    "the token was issued to another client",
                )),
                Ok(c) => {
                    let exp = OffsetDateTime::from_unix_timestamp(c.exp).unwrap_or(now);
                    self.store.revoke_access_token(&c.jti, exp).await?;
                    Ok(())
                }
                Err(e) if e.code == ErrorCode::InvalidToken => Ok(()),
                Err(e) => Err(e),
            };
        }
        let Some(id) = self.parse_refresh_token(token) else {
            return Ok(());
        };
        let Some(grant) = self.store.grant(&id.grant_id).await? else {
            return Ok(());
        };
        if grant.client_id != client.party.id {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "the token was issued to another client",
            ));
        }
        // any authentic token of the grant ends it: the holder wants out
        self.store.revoke_grant(&grant.id, now).await?;
        Ok(())
    }
}
