//! The SAML identity provider: a request in, a protocol-neutral [`LoginRequest`] out; at the
//! end of the login, the signed response with the signed, encrypted assertion
//! ([`Completion`]).

use std::sync::Arc;
use std::time::Duration;

use konto_core::Level;
use konto_core::amr::AuthenticatorKind;
use konto_core::client::{Client, RelyingParty, SigningAlg, SubjectType, TokenEndpointAuthMethod};
use konto_core::completion::{
    BoxFuture, Completed, Completion, CompletionError, FailCode, PageParty, ProtocolAnswer,
};
use konto_core::level::AcrVocabulary;
use konto_core::login::{Authentication, LoginRequest, Principal};
use konto_core::representation::Party;
use konto_keys::KeyEncryptionKey;
use konto_store::{Participation, ServiceProviderRecord, Store};
use openssl::pkey::PKey;
use openssl::x509::X509;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::attributes::{self, INTERFACE_VERSION, Released};
use crate::encrypt::{ContentCipher, encrypt_element};
use crate::metadata::{SpMetadata, idp_metadata};
use crate::request::{
    AkdbRequest, AuthnRequest, PostMessage, RedirectMessage, RequestedAttribute, issuer_of,
};
use crate::response::{
    AssertionContent, AttributeValue, ResponseContent, assertion, missing_attributes_detail,
    response,
};
use crate::xml::{b64, new_id, unb64, without_declaration};
use crate::{BINDING_POST, NAMEID_TRANSIENT, NAMEID_UNSPECIFIED, SamlError, Status, dsig};

mod complete;
mod verify;

pub(crate) use verify::Signed;
use verify::{AnswerTo, Unsigned};

/// The tag of a SAML flow's protocol JSON.
pub const PROTOCOL: &str = "saml";

/// konto's signing key and certificate as an IdP.
#[derive(Clone)]
pub struct IdpCredentials {
    key_der: Vec<u8>,
    certificate_der: Vec<u8>,
}

impl std::fmt::Debug for IdpCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpCredentials").finish_non_exhaustive()
    }
}

impl IdpCredentials {
    /// The private key, PKCS#1 DER.
    pub(crate) fn key_der(&self) -> &[u8] {
        &self.key_der
    }

    /// An RSA key (PEM, PKCS#8 or PKCS#1) and the certificate of its public key (PEM).
    pub fn from_pem(key_pem: &[u8], certificate_pem: &[u8]) -> Result<IdpCredentials, SamlError> {
        let key = PKey::private_key_from_pem(key_pem).map_err(|_| {
            SamlError::Invalid("the SAML signing key is not a PEM private key".into())
        })?;
        let rsa = key
            .rsa()
            .map_err(|_| SamlError::Invalid("the SAML signing key must be RSA".into()))?;
        if rsa.size() < 256 {
            return Err(SamlError::Invalid(
                "the SAML signing key must have at least 2048 bits".into(),
            ));
        }
        let cert = X509::from_pem(certificate_pem)
            .map_err(|_| SamlError::Invalid("the SAML certificate is not PEM X.509".into()))?;
        let matches = cert
            .public_key()
            .map(|p| p.public_eq(&key))
            .unwrap_or(false);
        if !matches {
            return Err(SamlError::Invalid(
                "the SAML certificate is not the signing key's".into(),
            ));
        }
        Ok(IdpCredentials {
            key_der: rsa.private_key_to_der().map_err(SamlError::internal)?,
            certificate_der: cert.to_der().map_err(SamlError::internal)?,
        })
    }
}

/// How the IdP is reached and how strict it is.
#[derive(Debug, Clone)]
pub struct IdpConfig {
    pub entity_id: String,
    /// The single sign-on endpoint, for both bindings: requests must name it as `Destination`.
    pub sso_url: String,
    /// The single logout endpoint (both bindings).
    pub slo_url: String,
    /// How long an assertion is valid (BundID: 5 minutes).
    pub assertion_ttl: Duration,
    /// How old a request's `IssueInstant` may be.
    pub request_max_age: Duration,
    /// How far a request's `IssueInstant` may lie in the future (clock skew).
    pub clock_skew: Duration,
}

/// A SAML login kept in a login flow: where and how to answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlFlow {
    pub entity_id: String,
    pub client_id: String,
    pub request_id: String,
    pub acs_url: String,
    pub relay_state: Option<String>,
    pub attributes: Vec<RequestedAttribute>,
    /// `Comparison="exact"`: the reached level must be one of these.
    pub exact_levels: Option<Vec<Level>>,
    pub status_detail: bool,
    /// The organisation shown at consent (the extension's display name).
    pub display_name: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
enum Kept {
    Saml(SamlFlow),
}

impl SamlFlow {
    pub fn to_protocol_json(&self) -> String {
        serde_json::to_string(&Kept::Saml(self.clone())).unwrap_or_default()
    }

    pub fn from_protocol_json(s: &str) -> Result<SamlFlow, CompletionError> {
        match serde_json::from_str::<Kept>(s) {
            Ok(Kept::Saml(f)) => Ok(f),
            Err(e) => Err(CompletionError::BadFlow(e.to_string())),
        }
    }
}

/// A request konto accepted: the login to run and how to answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub login: LoginRequest,
    pub flow: SamlFlow,
    /// When the request's ID may be forgotten (its `IssueInstant` plus the maximum age).
    #[serde(with = "time::serde::timestamp")]
    pub replay_until: OffsetDateTime,
}

/// A request as it arrived.
#[derive(Debug, Clone, Copy)]
pub enum Incoming<'a> {
    /// The raw query string of an HTTP-Redirect request.
    Redirect(&'a str),
    /// The form fields of an HTTP-POST request.
    Post(&'a [(String, String)]),
}

/// A refused request: an error page when nothing trustworthy can be answered, else the SAML
/// response for the SP's registered ACS.
#[derive(Debug)]
pub enum RequestError {
    Page(SamlError),
    Answer(ProtocolAnswer, SamlError),
}

/// Registers a service provider from its metadata, with `party` as its relying party.
pub async fn register(
    store: &dyn Store,
    metadata_xml: &str,
    party: RelyingParty,
    cipher: ContentCipher,
    now: OffsetDateTime,
) -> Result<SpMetadata, SamlError> {
    let md = SpMetadata::parse(metadata_xml.as_bytes())?;
    let record = ServiceProviderRecord {
        entity_id: md.entity_id.clone(),
        client_id: party.id.clone(),
        metadata: metadata_xml.to_owned(),
        cipher: cipher.as_str().to_owned(),
        created_at: now,
    };
    // the relying party as the client registry keeps it: nothing OpenID Connect could use
    let client = Client {
        party,
        auth_method: TokenEndpointAuthMethod::None,
        secret_hash: None,
        jwks: None,
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        grant_types: Vec::new(),
        id_token_alg: SigningAlg::RS256,
        subject_type: SubjectType::Pairwise,
        sector_identifier_uri: None,
        require_pkce: true,
        acr_vocabulary: AcrVocabulary::Stork,
    };
    store
        .create_service_provider(&client, &record)
        .await
        .map_err(|e| SamlError::Invalid(e.to_string()))?;
    Ok(md)
}

/// The SAML identity provider.
pub struct Idp {
    store: Arc<dyn Store>,
    credentials: IdpCredentials,
    config: IdpConfig,
    pairwise_key: [u8; 32],
    hop: KeyEncryptionKey,
    metadata: Arc<str>,
}

impl std::fmt::Debug for Idp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idp")
            .field("entity_id", &self.config.entity_id)
            .finish_non_exhaustive()
    }
}

const HOP_KID: &str = "saml-post-hop";
const HOP_TTL: Duration = Duration::from_secs(120);

pub(crate) fn as_time(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

impl Idp {
    /// `hop_key` seals a POST-binding request for its hop to the GET endpoint (where the
    /// browser's `SameSite=Lax` session cookie is sent).
    pub fn new(
        store: Arc<dyn Store>,
        credentials: IdpCredentials,
        config: IdpConfig,
        pairwise_key: [u8; 32],
        hop_key: [u8; 32],
    ) -> Result<Idp, SamlError> {
        let id = new_id()?;
        let unsigned = idp_metadata(
            &id,
            &config.entity_id,
            &config.sso_url,
            &config.slo_url,
            &credentials.certificate_der,
            &dsig::template(&id, &b64(&credentials.certificate_der)),
        );
        let signed = dsig::sign(&unsigned, &credentials.key_der)?;
        Ok(Idp {
            store,
            credentials,
            config,
            pairwise_key,
            hop: KeyEncryptionKey::new(hop_key),
            metadata: Arc::from(signed.as_str()),
        })
    }

    /// konto's signed IdP metadata.
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    pub fn config(&self) -> &IdpConfig {
        &self.config
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub(crate) fn credentials(&self) -> &IdpCredentials {
        &self.credentials
    }

    pub(crate) fn hop_key(&self) -> &KeyEncryptionKey {
        &self.hop
    }

    /// [`Idp::signed`] where every refusal is a page (logout messages).
    pub(crate) async fn signed_page(
        &self,
        incoming: Incoming<'_>,
        param: &str,
        root: &str,
    ) -> Result<Signed, SamlError> {
        match self.signed(incoming, param, root).await {
            Ok(s) => Ok(s),
            Err(Unsigned::Page(e)) | Err(Unsigned::Known { error: e, .. }) => Err(e),
        }
    }

    pub(crate) async fn sp(
        &self,
        entity_id: &str,
    ) -> Result<Option<(ServiceProviderRecord, SpMetadata)>, SamlError> {
        let Some(record) = self
            .store
            .service_provider(entity_id)
            .await
            .map_err(SamlError::internal)?
        else {
            return Ok(None);
        };
        let md = SpMetadata::parse(record.metadata.as_bytes())?;
        Ok(Some((record, md)))
    }

    /// Seals an accepted POST-binding request for the hop to the GET endpoint.
    pub fn seal(&self, accepted: &Accepted, now: OffsetDateTime) -> Result<String, SamlError> {
        #[derive(Serialize)]
        struct Hop<'a> {
            a: &'a Accepted,
            exp: i64,
        }
        let json = serde_json::to_vec(&Hop {
            a: accepted,
            exp: (now + as_time(HOP_TTL)).unix_timestamp(),
        })
        .map_err(SamlError::internal)?;
        let sealed = self
            .hop
            .encrypt(HOP_KID, &json)
            .map_err(SamlError::internal)?;
        Ok(base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            sealed,
        ))
    }

    /// Opens a sealed request; `None` when it is forged, damaged or stale.
    pub fn open(&self, sealed: &str, now: OffsetDateTime) -> Option<Accepted> {
        #[derive(Deserialize)]
        struct Hop {
            a: Accepted,
            exp: i64,
        }
        let bytes =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sealed)
                .ok()?;
        let json = self.hop.decrypt(HOP_KID, &bytes).ok()?;
        let hop: Hop = serde_json::from_slice(&json).ok()?;
        (hop.exp >= now.unix_timestamp()).then_some(hop.a)
    }
}

/// Base64 of a whole response, as the HTTP-POST binding carries it, decoded (for tests and
/// tools).
pub fn decode_posted(value: &str) -> Option<Vec<u8>> {
    unb64(value)
}
