//! Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3,
//! OIDC Core §9, RFC 7523).
//!
//! A client authenticates with exactly one method, the one it registered. Secrets are compared
//! as keyed hashes in constant time. Client assertions (`private_key_jwt`) are checked against the
//! client's registered keys, must name konto as audience, live briefly, and each `jti` is accepted
//! once.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use konto_core::client::{Client, TokenEndpointAuthMethod};
use konto_core::secret::SecretPurpose;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::error::OAuthError;
use crate::params::Params;
use crate::provider::Provider;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Client assertions may not live longer than this (they are remembered until they expire).
const MAX_ASSERTION_LIFETIME: i64 = 600;

/// How the client presented itself.
#[derive(Debug, Clone, Copy)]
pub struct ClientAuthInput<'a> {
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    pub params: &'a Params,
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: AssertionAudience,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    jti: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AssertionAudience {
    One(String),
    Many(Vec<String>),
}

/// The credentials after the `Basic` scheme, whose name is case-insensitive (RFC 7235 §2.1).
fn basic_token(header: &str) -> Option<&str> {
    let (scheme, rest) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("basic").then_some(rest)
}

fn basic_credentials(header: &str) -> Result<(String, String), OAuthError> {
    let bad = || {
        let mut e = OAuthError::invalid_client("malformed Basic credentials");
        e.basic_challenge = true;
        e
    };
    let encoded = basic_token(header).ok_or_else(bad)?;
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding
    let decode = |s: &str| -> Result<String, OAuthError> {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    Ok((decode(id)?, decode(secret)?))
}

impl Provider {
    /// Authenticates the client of a back-channel request.
    pub(crate) async fn authenticate_client(
        &self,
        input: ClientAuthInput<'_>,
        now: OffsetDateTime,
    ) -> Result<Client, OAuthError> {
        let p = input.params;
        let basic = match input.authorization {
            Some(h) if h.len() > 4096 => {
                return Err(OAuthError::invalid_client("Authorization header too long"));
            }
            Some(h) if basic_token(h).is_some() => Some(basic_credentials(h)?),
            _ => None,
        };
        let post_secret = p.get("client_secret");
        let assertion = p.get("client_assertion");
        let methods_used = usize::from(basic.is_some())
            + usize::from(post_secret.is_some())
            + usize::from(assertion.is_some());
        if methods_used > 1 {
            return Err(OAuthError::invalid_request(
                "use exactly one client authentication method",
            ));
        }

        if let Some((id, secret)) = basic {
            if let Some(body_id) = p.get("client_id")
                && body_id != id
            {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the Basic credentials",
                ));
            }
            return self
                .check_secret(&id, &secret, TokenEndpointAuthMethod::ClientSecretBasic)
                .await
                .map_err(|mut e| {
                    e.basic_challenge = true;
                    e
                });
        }
        if let Some(secret) = post_secret {
            let id = p.require("client_id")?;
            return self
                .check_secret(id, secret, TokenEndpointAuthMethod::ClientSecretPost)
                .await;
        }
        if let Some(assertion) = assertion {
            if p.get("client_assertion_type") != Some(JWT_BEARER) {
                return Err(OAuthError::invalid_request(
                    "client_assertion_type must be jwt-bearer (RFC 7523)",
                ));
            }
            return self
                .check_assertion(assertion, p.get("client_id"), now)
                .await;
        }
        // a public client names itself and proves nothing: PKCE protects its codes
        let id = p
            .get("client_id")
            .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
        let client = self.known_client(id).await?;
        if client.auth_method != TokenEndpointAuthMethod::None {
            return Err(OAuthError::invalid_client("this client must authenticate"));
        }
        Ok(client)
    }

    async fn known_client(&self, id: &str) -> Result<Client, OAuthError> {
        if id.len() > 256 {
            return Err(OAuthError::invalid_client("client authentication failed"));
        }
        self.store
            .client(id)
            .await?
            .ok_or_else(|| OAuthError::invalid_client("client authentication failed"))
    }

    async fn check_secret(
        &self,
        id: &str,
        secret: &str,
        method: TokenEndpointAuthMethod,
    ) -> Result<Client, OAuthError> {
        let failed = || OAuthError::invalid_client("client authentication failed");
        let client = self.known_client(id).await?;
        if client.auth_method != method {
            return Err(failed());
        }
        let stored = client.secret_hash.as_ref().ok_or_else(failed)?;
        let presented = self.hasher.hash(SecretPurpose::ClientSecret, secret);
        if !stored.matches(&presented) {
            return Err(failed());
        }
        Ok(client)
    }

    async fn check_assertion(
        &self,
        assertion: &str,
        named: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Client, OAuthError> {
        let failed =
            |why: &str| OAuthError::invalid_client(format!("client assertion rejected: {why}"));
        let peeked = konto_keys::peek(assertion).map_err(|_| failed("not a JWT"))?;
        let unverified: AssertionClaims =
            serde_json::from_slice(&peeked.payload).map_err(|_| failed("claims missing"))?;
        if let Some(n) = named
            && n != unverified.sub
        {
            return Err(failed("client_id differs from the assertion's subject"));
        }
        let client = self.known_client(&unverified.sub).await?;
        if client.auth_method != TokenEndpointAuthMethod::PrivateKeyJwt {
            return Err(OAuthError::invalid_client("client authentication failed"));
        }
        let jwks = client
            .jwks
            .as_deref()
            .ok_or_else(|| failed("the client has no registered keys"))?;
        let verified =
            konto_keys::verify_with_jwks(assertion, jwks).map_err(|e| failed(&e.to_string()))?;
        let c: AssertionClaims =
            serde_json::from_slice(&verified.payload).map_err(|_| failed("claims missing"))?;
        // RFC 7523 §3
        if c.iss != client.party.id || c.sub != client.party.id {
            return Err(failed("iss and sub must be the client_id"));
        }
        let token_endpoint = self.config.endpoint("/token");
        let aud_ok = match &c.aud {
            AssertionAudience::One(a) => *a == token_endpoint || *a == self.config.issuer,
            AssertionAudience::Many(v) => v
                .iter()
                .any(|a| *a == token_endpoint || *a == self.config.issuer),
        };
        if !aud_ok {
            return Err(failed("aud must be the token endpoint or the issuer"));
        }
        let t = now.unix_timestamp();
        if c.exp <= t {
            return Err(failed("expired"));
        }
        if c.exp - t > MAX_ASSERTION_LIFETIME {
            return Err(failed("exp is too far in the future"));
        }
        if c.nbf.is_some_and(|nbf| nbf > t + 60) {
            return Err(failed("not yet valid"));
        }
        if c.jti.is_empty() || c.jti.len() > 256 {
            return Err(failed("jti is required"));
        }
        let expires = OffsetDateTime::from_unix_timestamp(c.exp).map_err(|_| failed("exp"))?;
        if !self
            .store
            .record_client_assertion(&client.party.id, &c.jti, expires)
            .await?
        {
            return Err(failed("jti was used before"));
        }
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let h = format!("Basic {}", STANDARD.encode("my%20client:s%3Acret+x"));
        assert_eq!(
            basic_credentials(&h).unwrap(),
            ("my client".into(), "s:cret x".into())
        );
        assert!(basic_credentials("Basic !!!").is_err());
        // RFC 7235 §2.1: the scheme name is case-insensitive
        let upper = format!("BASIC {}", STANDARD.encode("a:b"));
        assert_eq!(basic_credentials(&upper).unwrap(), ("a".into(), "b".into()));
        assert!(basic_credentials(&format!("Basic {}", STANDARD.encode("nocolon"))).is_err());
        assert!(basic_credentials("Bearer x").is_err());
    }
}
