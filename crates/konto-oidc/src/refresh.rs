//! Refresh tokens: `<grant>.<generation>.<nonce>.<tag>`.
//!
//! The grant keeps only the keyed hash of its current token, so a database leak yields no usable
//! token. The tag (a MAC over grant, generation and nonce) lets konto recognise one of its own
//! older tokens of a grant without remembering it: presenting a token whose generation is below
//! the grant's is a reuse of a rotated token and revokes the grant (RFC 9700 §4.14.2), while a
//! forged token (bad tag) is merely invalid and cannot be used to revoke someone's grant.
//!
//! A rotation can be committed while its answer never reaches the client (konto crashed, the
//! connection dropped): the client then still holds the token that was replaced, and its retry
//! would look like theft. So for `refresh_retry` after a rotation, and only while the new token
//! was never used, the replaced token may be presented again: the client gets a fresh token of
//! the same generation and the unused one is void (Okta's grace period, Keycloak's reuse count).
//! Once the new token was used, the old one is a reuse as before and ends the grant.
//!
//! A grant vouches for its login's level only within that level's limits (TR-03160-1, README
//! "Levels of assurance"): tokens minted from it — on redeeming the code and on every refresh —
//! carry the level that still holds ([`konto_core::session::level_of_grant`]: the maximum age
//! counted from `auth_time`, the idle limit from the code's issue, since a refresh is not the
//! person's presence; `basic` at the least). `auth_time` and `amr` stay those of the login, which
//! they describe. When the level that holds falls below what the client needs — its registered
//! minimum, or an `acr` the claims request asked for as essential (OIDC Core §5.5.1.1) — the
//! grant ends: `invalid_grant`, and the person has to sign in again. (`acr_values` is not kept
//! with the grant; a client that asked for a level there reads the lower `acr`.)

use konto_core::Level;
use konto_core::client::Client;
use konto_core::secret::{Secret, SecretHash, SecretPurpose};
use konto_core::session::level_of_grant;
use konto_keys::random;
use konto_store::{GrantRecord, Rotated};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::claims::ClaimsRequest;
use crate::error::OAuthError;
use crate::provider::Provider;

/// Hex characters of the tag kept in the token (128 bits).
const TAG_LEN: usize = 32;

/// What a well-formed, authentic refresh token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefreshTokenId {
    pub grant_id: String,
    pub generation: i64,
}

impl Provider {
    /// A new refresh token for `grant_id` at `generation`.
    pub(crate) fn mint_refresh_token(
        &self,
        grant_id: &str,
        generation: i64,
    ) -> Result<Secret, OAuthError> {
        let body = format!("{grant_id}.{generation}.{}", random::id()?);
        let tag = self.hasher.hash(SecretPurpose::RefreshTag, &body);
        let tag = tag.as_str().get(..TAG_LEN).unwrap_or(tag.as_str());
        Ok(Secret::from_client(format!("{body}.{tag}")))
    }

    /// The level `grant` vouches for at `now`, or `None` when that is below what `client` needs
    /// (module docs).
    pub(crate) fn grant_level(
        &self,
        grant: &GrantRecord,
        client: &Client,
        now: OffsetDateTime,
    ) -> Result<Option<Level>, OAuthError> {
        let level = level_of_grant(grant.level, grant.auth_time, grant.created_at, now);
        let mut needed = client.party.min_level;
        if let Some(json) = grant.claims.as_deref()
            && let Some(essential) = ClaimsRequest::parse(json)?.essential_acr(&self.acr)?
        {
            needed = needed.max(essential);
        }
        Ok((level >= needed).then_some(level))
    }

    /// A retry of the token the grant's last rotation replaced (module docs): the rotation's
    /// answer was lost. `None` when retries are off, too late, or the successor was used.
    pub(crate) async fn retry(
        &self,
        grant_id: &str,
        presented: &SecretHash,
        client: &Client,
        new_hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<Rotated>, OAuthError> {
        if self.config.refresh_retry.is_zero() {
            return Ok(None);
        }
        let since = now - self.config.refresh_retry;
        let rotated = self
            .store
            .retry_refresh_token(grant_id, presented, &client.party.id, new_hash, now, since)
            .await?;
        if rotated.is_some() {
            tracing::info!(
                client_id = %client.party.id,
                "a client presented the refresh token it held again; its unused successor is void"
            );
        }
        Ok(rotated)
    }

    /// Parses a refresh token and checks its tag; `None` for anything konto did not issue.
    pub(crate) fn parse_refresh_token(&self, token: &str) -> Option<RefreshTokenId> {
        if token.len() > 200 {
            return None;
        }
        let (body, tag) = token.rsplit_once('.')?;
        let mut parts = body.split('.');
        let (Some(grant_id), Some(generation), Some(nonce), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        if grant_id.is_empty() || nonce.is_empty() {
            return None;
        }
        let generation: i64 = generation.parse().ok().filter(|g| *g >= 0)?;
        let expected = self.hasher.hash(SecretPurpose::RefreshTag, body);
        let expected = expected.as_str().get(..TAG_LEN)?;
        if !bool::from(expected.as_bytes().ct_eq(tag.as_bytes())) {
            return None;
        }
        Some(RefreshTokenId {
            grant_id: grant_id.to_owned(),
            generation,
        })
    }
}
