//! ID tokens (OIDC Core §2) and JWT access tokens (RFC 9068), signed with konto's keys.

use konto_core::Level;
use konto_core::attributes::Attribute;
use konto_core::client::{Client, SigningAlg};
use konto_core::scope;
use konto_keys::random;
use konto_store::GrantRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::claims::{is_person_claim, registered_claims, user_claims};
use crate::error::OAuthError;
use crate::provider::Provider;
use crate::represent::ActingClaims;

/// Access tokens are signed with ES256 (the choice: short tokens, fast signatures).
pub(crate) const ACCESS_TOKEN_ALG: SigningAlg = SigningAlg::ES256;
/// RFC 9068 §2.1.
pub(crate) const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The claims of a konto access token (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    /// The resource: konto's own APIs (userinfo, later the postbox) under the issuer.
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The grant the token belongs to (konto's claim): revoking the grant revokes the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// The browser session (OIDC `sid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// RFC 8693 §4.1: the person acting, when `sub` is a party they act for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Value>,
    /// The represented party (see `represent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acting_for: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mandate: Option<Value>,
}

impl AccessTokenClaims {
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
    }
}

/// What a valid `id_token_hint` says.
#[derive(Debug, Clone)]
pub(crate) struct IdTokenHint {
    pub sub: String,
    pub aud: Vec<String>,
    pub sid: Option<String>,
}

#[derive(Deserialize)]
struct HintClaims {
    iss: String,
    sub: String,
    aud: Audience,
    #[serde(default)]
    sid: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Provider {
    /// A signed access token and its lifetime in seconds.
    pub(crate) fn access_token(
        &self,
        sub: &str,
        client_id: &str,
        scope: Option<&str>,
        grant: Option<(&GrantRecord, &Client)>,
        acting: Option<&ActingClaims>,
        now: OffsetDateTime,
    ) -> Result<(String, i64), OAuthError> {
        let ttl = self.config.access_token_ttl.as_secs() as i64;
        let iat = now.unix_timestamp();
        let claims = AccessTokenClaims {
            iss: self.config.issuer.clone(),
            sub: acting.map_or(sub, |a| a.sub.as_str()).to_owned(),
            aud: self.config.issuer.clone(),
            client_id: client_id.to_owned(),
            exp: iat + ttl,
            iat,
            jti: random::id()?,
            scope: scope.map(str::to_owned),
            auth_time: grant.map(|(g, _)| g.auth_time.unix_timestamp()),
            acr: grant.map(|(g, c)| self.acr.to_acr(g.level, c.acr_vocabulary)),
            amr: grant.map(|(g, _)| split_amr(&g.amr)),
            gid: grant.map(|(g, _)| g.id.clone()),
            sid: grant.and_then(|(g, _)| g.session_id.clone()),
            act: acting.map(|a| a.act.clone()),
            acting_for: acting.map(|a| a.acting_for.clone()),
            mandate: acting.and_then(|a| a.mandate.clone()),
        };
        let payload = serde_json::to_vec(&claims).map_err(|e| OAuthError::server_error(&e))?;
        let token = self
            .keys
            .sign(ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYP, &payload)?;
        Ok((token, ttl))
    }

    /// An ID token for a grant (OIDC Core §2, §3.1.3.7), with the claims the `claims` parameter
    /// asked to have in it.
    pub(crate) async fn id_token(
        &self,
        client: &Client,
        grant: &GrantRecord,
        nonce: Option<&str>,
        acting: Option<&ActingClaims>,
        now: OffsetDateTime,
    ) -> Result<String, OAuthError> {
        let iat = now.unix_timestamp();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.config.issuer));
        claims.insert("sub".into(), json!(grant.subject));
        claims.insert("aud".into(), json!(client.party.id));
        claims.insert(
            "exp".into(),
            json!(iat + self.config.id_token_ttl.as_secs() as i64),
        );
        claims.insert("iat".into(), json!(iat));
        claims.insert("auth_time".into(), json!(grant.auth_time.unix_timestamp()));
        if let Some(n) = nonce {
            claims.insert("nonce".into(), json!(n));
        }
        claims.insert("azp".into(), json!(client.party.id));
        claims.insert(
            "acr".into(),
            json!(self.acr.to_acr(grant.level, client.acr_vocabulary)),
        );
        claims.insert("amr".into(), json!(split_amr(&grant.amr)));
        if let Some(sid) = &grant.session_id {
            claims.insert("sid".into(), json!(sid));
        }
        if let Some(a) = acting {
            let mut acting_for = a.acting_for.clone();
            self.add_acting_postbox(client, grant, &mut acting_for, now)
                .await?;
            claims.insert("acting_for".into(), acting_for);
            if let Some(m) = &a.mandate {
                claims.insert("mandate".into(), m.clone());
            }
        }
        if let Some(handle) = self.postbox_handle(client, grant, now).await? {
            claims.insert("postbox_handle".into(), json!(handle));
        }
        // individual claims requested for the ID token (OIDC Core §5.5), within the registration
        if let Some(requested) = grant.claims.as_deref() {
            let req = crate::claims::ClaimsRequest::parse(requested)?;
            let allowed = registered_claims(client);
            let wanted: Vec<&str> = req
                .id_token
                .keys()
                .map(String::as_str)
                .filter(|c| is_person_claim(c) && allowed.contains(c))
                .collect();
            if !wanted.is_empty() {
                let attrs = self.grant_attributes(grant).await?;
                for (k, v) in user_claims(&attrs, &wanted) {
                    claims.insert(k, v);
                }
            }
        }
        let payload =
            serde_json::to_vec(&Value::Object(claims)).map_err(|e| OAuthError::server_error(&e))?;
        Ok(self.keys.sign(client.id_token_alg, "JWT", &payload)?)
    }

    /// The person's postbox handle for a grant with the `postbox` scope (which only clients
    /// registered for it may ask for, and the user consented to), recorded as given to this
    /// client: from then on the client may deliver to it. `None` for other grants and for a
    /// temporary login, which has no postbox.
    pub(crate) async fn postbox_handle(
        &self,
        client: &Client,
        grant: &GrantRecord,
        now: OffsetDateTime,
    ) -> Result<Option<String>, OAuthError> {
        let (Some(user_id), true) = (
            &grant.user_id,
            grant.scopes.split(' ').any(|s| s == scope::POSTBOX),
        ) else {
            return Ok(None);
        };
        let owner = konto_core::representation::Party::Person(user_id.clone());
        let postbox = match self.store.postbox_of(&owner).await? {
            Some(p) => p,
            None => {
                // made on first use, with the handle the account was given when it was created
                let Some(user) = self.store.user(user_id).await? else {
                    return Ok(None);
                };
                self.store
                    .ensure_postbox(&owner, &user.postbox_handle, now)
                    .await?
            }
        };
        if !self
            .store
            .postbox_released(&postbox.handle, &client.party.id)
            .await?
        {
            self.store
                .release_postbox(&postbox.handle, &client.party.id, now)
                .await?;
        }
        Ok(Some(postbox.handle))
    }

    /// For a grant acting for an organisation with the `postbox` scope: the organisation's
    /// postbox handle in `acting_for` (`postbox_handle`), recorded as given to this client, so
    /// that the service can deliver to the organisation; its members read what their rights
    /// cover.
    pub(crate) async fn add_acting_postbox(
        &self,
        client: &Client,
        grant: &GrantRecord,
        acting_for: &mut Value,
        now: OffsetDateTime,
    ) -> Result<(), OAuthError> {
        let (Some(rep), true) = (
            &grant.representation,
            grant.scopes.split(' ').any(|s| s == scope::POSTBOX),
        ) else {
            return Ok(());
        };
        let konto_core::representation::Party::Organisation(id) = &rep.represented else {
            return Ok(());
        };
        let owner = rep.represented.clone();
        let postbox = match self.store.postbox_of(&owner).await? {
            Some(p) => p,
            None => {
                let Some(org) = self.store.organisation(id).await? else {
                    return Ok(());
                };
                self.store
                    .ensure_postbox(&owner, &org.postbox_handle, now)
                    .await?
            }
        };
        if !self
            .store
            .postbox_released(&postbox.handle, &client.party.id)
            .await?
        {
            self.store
                .release_postbox(&postbox.handle, &client.party.id, now)
                .await?;
        }
        if let Value::Object(m) = acting_for {
            m.insert("postbox_handle".into(), json!(postbox.handle));
        }
        Ok(())
    }

    /// The identity data behind a grant: the account's attributes, or a temporary login's.
    pub(crate) async fn grant_attributes(
        &self,
        grant: &GrantRecord,
    ) -> Result<Vec<Attribute>, OAuthError> {
        if let Some(user_id) = &grant.user_id {
            return Ok(self.store.attributes(user_id).await?);
        }
        match &grant.temporary_identity {
            Some(json) => serde_json::from_str(json).map_err(|e| OAuthError::server_error(&e)),
            None => Ok(Vec::new()),
        }
    }

    /// Checks an access token konto issued: signature, `typ` (RFC 9068 §4), issuer, audience, expiry,
    /// deny list and the grant behind it.
    pub(crate) async fn verify_access_token(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<AccessTokenClaims, OAuthError> {
        let invalid = |d: &str| OAuthError::new(crate::error::ErrorCode::InvalidToken, d);
        let jws = self
            .keys
            .verify(token)
            .map_err(|_| invalid("the access token is not valid"))?;
        if jws.header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return Err(invalid("the token is not an access token"));
        }
        let claims: AccessTokenClaims = serde_json::from_slice(&jws.payload)
            .map_err(|_| invalid("the access token is not valid"))?;
        if claims.iss != self.config.issuer || claims.aud != self.config.issuer {
            return Err(invalid("the access token is not for this server"));
        }
        if claims.exp <= now.unix_timestamp() {
            return Err(invalid("the access token has expired"));
        }
        if self.store.is_access_token_revoked(&claims.jti).await? {
            return Err(invalid("the access token has been revoked"));
        }
        if let Some(gid) = &claims.gid {
            let grant = match self.store.grant(gid).await? {
                Some(g) if g.revoked_at.is_none() => g,
                _ => return Err(invalid("the access token has been revoked")),
            };
            // acting for someone holds only as long as the chain does
            if grant.representation.is_some() {
                let client = self
                    .store
                    .client(&grant.client_id)
                    .await?
                    .ok_or_else(|| invalid("the client is unknown"))?;
                if self
                    .acting_claims(&grant, &client, now, None)
                    .await
                    .is_err()
                {
                    return Err(invalid(
                        "the mandate or right the token acts under no longer holds",
                    ));
                }
            }
        }
        Ok(claims)
    }

    /// Checks an `id_token_hint`: konto's signature and issuer. Expiry is not checked: a hint may
    /// be an old ID token (RP-Initiated Logout 1.0 §2).
    pub(crate) fn verify_id_token_hint(&self, token: &str) -> Result<IdTokenHint, OAuthError> {
        let bad = || OAuthError::invalid_request("id_token_hint is not valid");
        let jws = self.keys.verify(token).map_err(|_| bad())?;
        if jws.header.typ.as_deref() == Some(ACCESS_TOKEN_TYP) {
            return Err(bad());
        }
        let c: HintClaims = serde_json::from_slice(&jws.payload).map_err(|_| bad())?;
        if c.iss != self.config.issuer {
            return Err(bad());
        }
        Ok(IdTokenHint {
            sub: c.sub,
            aud: match c.aud {
                Audience::One(a) => vec![a],
                Audience::Many(a) => a,
            },
            sid: c.sid,
        })
    }

    pub(crate) fn acr_of(&self, level: Level, client: &Client) -> String {
        self.acr.to_acr(level, client.acr_vocabulary)
    }
}

pub(crate) fn split_amr(amr: &str) -> Vec<String> {
    amr.split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
