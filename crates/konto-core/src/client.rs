//! Relying parties registered with konto.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Level;
use crate::level::AcrVocabulary;
use crate::secret::SecretHash;
use crate::subject::{SectorError, sector_of};

/// How a client authenticates at the token endpoint (OIDC Core §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// RFC 7523 client assertion signed with a key from the client's registered JWKS.
    PrivateKeyJwt,
    /// A public client (native or browser app); PKCE is mandatory.
    None,
}

impl TokenEndpointAuthMethod {
    pub const ALL: [TokenEndpointAuthMethod; 4] = [
        TokenEndpointAuthMethod::ClientSecretBasic,
        TokenEndpointAuthMethod::ClientSecretPost,
        TokenEndpointAuthMethod::PrivateKeyJwt,
        TokenEndpointAuthMethod::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
            TokenEndpointAuthMethod::PrivateKeyJwt => "private_key_jwt",
            TokenEndpointAuthMethod::None => "none",
        }
    }
}

impl FromStr for TokenEndpointAuthMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown token endpoint auth method {s:?}"))
    }
}

/// The algorithms konto signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SigningAlg {
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unsupported signing algorithm {s:?}"))
    }
}

/// OIDC Core §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    #[default]
    Pairwise,
    Public,
}

impl SubjectType {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectType::Pairwise => "pairwise",
            SubjectType::Public => "public",
        }
    }
}

impl FromStr for SubjectType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pairwise" => Ok(SubjectType::Pairwise),
            "public" => Ok(SubjectType::Public),
            other => Err(format!("unknown subject type {other:?}")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub const ALL: [GrantType; 3] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }
}

impl FromStr for GrantType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| format!("unknown grant type {s:?}"))
    }
}

/// What every relying party has, whatever protocol it speaks (an OpenID Connect client, a
/// SAML service provider): who it is, what it may learn, how sure a login must be, and what it
/// may do besides logging people in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    pub id: String,
    pub name: String,
    /// Scopes (groups of attributes) the relying party may ask for.
    pub scopes: Vec<String>,
    /// First parties skip the consent page.
    pub first_party: bool,
    /// The level every login for this relying party must reach, whatever the request says.
    pub min_level: Level,
    /// Whether it accepts a temporary login (OZG §8(5)) without an account.
    pub allow_temporary_login: bool,
    /// The groups of online services it belongs to (`steuern`, `gewerbe`): rights and
    /// mandates name services or groups.
    pub service_groups: Vec<String>,
    /// Where konto pushes what happens to the postbox messages it sent (read, deleted), as
    /// signed Security Event Tokens (RFC 8417, RFC 8935). `None`: polling only.
    pub postbox_webhook: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A registered OpenID Connect client: a relying party, and what only OpenID Connect has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub party: RelyingParty,
    pub auth_method: TokenEndpointAuthMethod,
    /// Keyed hash of the client secret (`client_secret_basic` / `client_secret_post`).
    pub secret_hash: Option<SecretHash>,
    /// The client's public keys as a JWK Set (`private_key_jwt`, signed postbox content).
    pub jwks: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    /// `id_token_signed_response_alg`; RS256 when the client registered none (OIDC Registration §2).
    pub id_token_alg: SigningAlg,
    pub subject_type: SubjectType,
    pub sector_identifier_uri: Option<String>,
    /// PKCE for confidential clients too (always on for public clients).
    pub require_pkce: bool,
    pub acr_vocabulary: AcrVocabulary,
}

impl Client {
    /// The sector of this client's pairwise subjects (OIDC Core §8.1): the host of its redirect
    /// URIs, or of its `sector_identifier_uri`; a client without redirect URIs (client
    /// credentials only) is a sector of its own. A registration whose redirect URIs span several
    /// hosts without a sector identifier is an error — checked when a client is registered.
    pub fn sector(&self) -> Result<String, SectorError> {
        let uris: Vec<url::Url> = self
            .redirect_uris
            .iter()
            .filter_map(|u| url::Url::parse(u).ok())
            .collect();
        let sector_uri = self
            .sector_identifier_uri
            .as_deref()
            .map(|u| url::Url::parse(u).map_err(|_| SectorError::BadSectorUri))
            .transpose()?;
        match sector_of(&uris, sector_uri.as_ref()) {
            Err(SectorError::NoRedirectUri) => Ok(format!("client:{}", self.party.id)),
            other => other,
        }
    }

    pub fn is_public(&self) -> bool {
        self.auth_method == TokenEndpointAuthMethod::None
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    pub fn pkce_required(&self) -> bool {
        self.is_public() || self.require_pkce
    }

    /// Exact string comparison (RFC 9700 §4.1.3): no prefix, wildcard or normalisation.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }
}
