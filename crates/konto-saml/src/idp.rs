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
use crate::request::{AuthnRequest, PostMessage, RedirectMessage, RequestedAttribute, issuer_of};
use crate::response::{
    AssertionContent, AttributeValue, ResponseContent, assertion, missing_attributes_detail,
    response,
};
use crate::xml::{b64, new_id, unb64, without_declaration};
use crate::{BINDING_POST, NAMEID_TRANSIENT, NAMEID_UNSPECIFIED, SamlError, Status, dsig};

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

/// A message whose signature holds: only what it covered, and the SP that signed it.
pub(crate) struct Signed {
    pub(crate) xml: Vec<u8>,
    pub(crate) relay_state: Option<String>,
    pub(crate) record: ServiceProviderRecord,
    pub(crate) md: SpMetadata,
}

/// Why a message was not taken: nobody to answer, or the SP (at its registered ACS).
enum Unsigned {
    Page(SamlError),
    Known { error: SamlError, to: AnswerTo },
}

/// Where a refusal goes: the SP's registered ACS (never one a request named without a valid
/// signature).
struct AnswerTo {
    acs: String,
    in_response_to: Option<String>,
    relay_state: Option<String>,
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

    /// Decodes a message (`param`: `SAMLRequest` or `SAMLResponse`; its root a protocol
    /// element named `root`), finds its SP and checks its signature with the SP's keys; what is
    /// returned is only what the signature covered.
    async fn signed(
        &self,
        incoming: Incoming<'_>,
        param: &str,
        root: &str,
    ) -> Result<Signed, Unsigned> {
        let (xml, relay_state, redirect, got) = match incoming {
            Incoming::Redirect(q) => {
                let m = RedirectMessage::decode(q).map_err(Unsigned::Page)?;
                (
                    m.xml.clone(),
                    m.relay_state.clone(),
                    Some(m.clone()),
                    m.param,
                )
            }
            Incoming::Post(fields) => {
                let m = PostMessage::decode(fields).map_err(Unsigned::Page)?;
                (m.xml, m.relay_state, None, m.param)
            }
        };
        if got != param {
            return Err(Unsigned::Page(SamlError::unanswerable(
                "saml-request-unreadable",
                format!("expected {param}"),
            )));
        }
        if relay_state.as_ref().is_some_and(|r| r.len() > 80) {
            // bindings §3.4.3, §3.5.3: at most 80 bytes
            return Err(Unsigned::Page(SamlError::unanswerable(
                "saml-relay-state-too-long",
                "RelayState is longer than 80 bytes",
            )));
        }
        let issuer = issuer_of(&xml, root).map_err(Unsigned::Page)?;
        let Some((record, md)) = self.sp(&issuer).await.map_err(Unsigned::Page)? else {
            return Err(Unsigned::Page(SamlError::unanswerable(
                "unknown-service-provider",
                "the message's issuer is not a registered service provider",
            )));
        };
        // until the signature holds, only the registered default ACS is answered
        let known = |error: SamlError| Unsigned::Known {
            error,
            to: AnswerTo {
                acs: md
                    .default_acs()
                    .map(|e| e.location.clone())
                    .unwrap_or_default(),
                in_response_to: konto_xml::parse(&xml, &konto_xml::Limits::MESSAGES)
                    .ok()
                    .and_then(|r| r.attr("ID").map(str::to_owned)),
                relay_state: relay_state.clone(),
            },
        };
        let not_signed =
            || SamlError::denied("saml-request-not-signed", "the message is not signed");
        let signed_xml = match &redirect {
            Some(m) => {
                let (Some(alg), Some(sig)) = (&m.sig_alg, &m.signature) else {
                    return Err(known(not_signed()));
                };
                dsig::verify_redirect(&m.signed_octets, alg, sig, &md.signing_certificates)
                    .map_err(known)?;
                xml.clone()
            }
            None => {
                if !has_signature(&xml) {
                    return Err(known(not_signed()));
                }
                let text = std::str::from_utf8(&xml).map_err(|_| {
                    Unsigned::Page(SamlError::unanswerable(
                        "saml-request-unreadable",
                        "not UTF-8",
                    ))
                })?;
                dsig::verified(text, &md.signing_certificates)
                    .map_err(known)?
                    .into_bytes()
            }
        };
        Ok(Signed {
            xml: signed_xml,
            relay_state,
            record,
            md,
        })
    }

    /// Checks a request without writing anything: the SP is registered, the signature is its
    /// key's, the signed request is fresh, meant for konto and names a registered ACS.
    pub async fn verify(
        &self,
        incoming: Incoming<'_>,
        languages: &[String],
        now: OffsetDateTime,
    ) -> Result<Accepted, RequestError> {
        let Signed {
            xml: signed_xml,
            relay_state,
            record,
            md,
        } = match self.signed(incoming, "SAMLRequest", "AuthnRequest").await {
            Ok(s) => s,
            Err(Unsigned::Page(e)) => return Err(RequestError::Page(e)),
            Err(Unsigned::Known { error, to }) => return Err(self.refusal(&to, error)),
        };
        let mut to = AnswerTo {
            acs: md
                .default_acs()
                .map(|e| e.location.clone())
                .unwrap_or_default(),
            in_response_to: None,
            relay_state: relay_state.clone(),
        };
        let refuse = |to: &AnswerTo, e: SamlError| self.refusal(to, e);
        // from here on, only the element the signature covered is read
        let req = AuthnRequest::parse(&signed_xml).map_err(|e| refuse(&to, e))?;
        to.in_response_to = Some(req.id.clone());
        if req.issuer != md.entity_id {
            return Err(refuse(
                &to,
                SamlError::denied(
                    "saml-issuer-mismatch",
                    "the signed request names another issuer",
                ),
            ));
        }
        if req.version != "2.0" {
            return Err(refuse(
                &to,
                SamlError::Refused {
                    status: Status::VersionMismatch,
                    code: "saml-version",
                    description: "only SAML 2.0 is spoken".into(),
                },
            ));
        }
        // bindings §3.4.5.2, §3.5.5.2: a signed request names its destination
        if req.destination.as_deref() != Some(self.config.sso_url.as_str()) {
            return Err(refuse(
                &to,
                SamlError::denied(
                    "saml-wrong-destination",
                    "the request's Destination is not konto's SSO endpoint",
                ),
            ));
        }
        let age = now - req.issue_instant;
        if age > as_time(self.config.request_max_age) {
            return Err(refuse(
                &to,
                SamlError::denied(
                    "saml-request-expired",
                    "the request's IssueInstant is too old",
                ),
            ));
        }
        if -age > as_time(self.config.clock_skew) {
            return Err(refuse(
                &to,
                SamlError::denied(
                    "saml-request-from-the-future",
                    "the request's IssueInstant lies in the future",
                ),
            ));
        }
        let Some(acs) = md.acs(req.acs_url.as_deref(), req.acs_index) else {
            return Err(refuse(
                &to,
                SamlError::denied(
                    "saml-unknown-acs",
                    "the AssertionConsumerServiceURL is not in the SP's metadata",
                ),
            ));
        };
        to.acs = acs.location.clone();
        if req
            .protocol_binding
            .as_deref()
            .is_some_and(|b| b != BINDING_POST)
        {
            return Err(refuse(
                &to,
                SamlError::Refused {
                    status: Status::RequestUnsupported,
                    code: "saml-binding-unsupported",
                    description: "konto answers with the HTTP-POST binding only".into(),
                },
            ));
        }
        if let Some(f) = &req.name_id_format
            && f != NAMEID_TRANSIENT
            && f != NAMEID_UNSPECIFIED
        {
            return Err(refuse(
                &to,
                SamlError::Refused {
                    status: Status::InvalidNameIdPolicy,
                    code: "saml-nameid-format",
                    description: "konto issues transient name identifiers only".into(),
                },
            ));
        }
        let Some(akdb) = &req.akdb else {
            return Err(refuse(
                &to,
                SamlError::denied(
                    "akdb-extension-missing",
                    "the request carries no akdb:AuthenticationRequest",
                ),
            ));
        };
        if akdb.version != "2" {
            return Err(refuse(
                &to,
                SamlError::Refused {
                    status: Status::RequestUnsupported,
                    code: "akdb-version-unsupported",
                    description: "konto reads version 2 of the akdb extension".into(),
                },
            ));
        }
        let (requested, exact) = match &req.context {
            None => (Level::Basic, None),
            Some(c) => {
                let levels: Result<Vec<Level>, _> =
                    c.class_refs.iter().map(|r| Level::parse_any(r)).collect();
                let levels = match levels {
                    Ok(l) if !l.is_empty() => l,
                    _ => {
                        return Err(refuse(
                            &to,
                            SamlError::Refused {
                                status: Status::NoAuthnContext,
                                code: "saml-authn-context-unknown",
                                description:
                                    "a requested AuthnContextClassRef is not a level konto knows"
                                        .into(),
                            },
                        ));
                    }
                };
                let lowest = levels.iter().copied().min().unwrap_or(Level::Basic);
                match c.comparison.as_str() {
                    "minimum" => (lowest, None),
                    "exact" => (lowest, Some(levels)),
                    _ => {
                        return Err(refuse(
                            &to,
                            SamlError::Refused {
                                status: Status::RequestUnsupported,
                                code: "saml-comparison-unsupported",
                                description: "konto supports the comparisons minimum and exact"
                                    .into(),
                            },
                        ));
                    }
                }
            }
        };
        let party = self
            .store
            .client(&record.client_id)
            .await
            .map_err(|e| RequestError::Page(SamlError::internal(e)))?
            .ok_or_else(|| {
                RequestError::Page(SamlError::unanswerable(
                    "unknown-service-provider",
                    "the SP's relying party is gone",
                ))
            })?
            .party;
        let authenticators = if akdb.methods.is_empty() {
            None
        } else {
            let kinds = authenticators(&akdb.methods);
            if kinds.is_empty() {
                return Err(refuse(
                    &to,
                    SamlError::Refused {
                        status: Status::NoAuthnContext,
                        code: "akdb-methods-unavailable",
                        description: "konto offers none of the allowed authentication methods"
                            .into(),
                    },
                ));
            }
            Some(kinds)
        };
        let mut claims: Vec<String> = Vec::new();
        for a in &akdb.attributes {
            if let Some(known) = attributes::by_oid(&a.name) {
                let c = known.released.claim().to_owned();
                if !claims.contains(&c) {
                    claims.push(c);
                }
            }
        }
        let mut ui_locales: Vec<String> = akdb.lang.iter().cloned().collect();
        ui_locales.extend(languages.iter().cloned());
        let login = LoginRequest {
            client_id: record.client_id.clone(),
            min_level: requested.max(party.min_level),
            force_login: req.force_authn,
            max_age: None,
            passive: req.is_passive,
            force_consent: false,
            login_hint: None,
            ui_locales,
            scopes: Vec::new(),
            claims,
            temporary_allowed: party.allow_temporary_login,
            acting_for: None,
            legal_representative_required: false,
            authenticators,
        };
        Ok(Accepted {
            login,
            flow: SamlFlow {
                entity_id: md.entity_id.clone(),
                client_id: record.client_id,
                request_id: req.id.clone(),
                acs_url: acs.location.clone(),
                relay_state,
                attributes: akdb.attributes.clone(),
                exact_levels: exact,
                status_detail: akdb.status_detail,
                display_name: akdb.organisation_display_name.clone(),
            },
            replay_until: req.issue_instant + as_time(self.config.request_max_age),
        })
    }

    /// Records the request's ID: a second request with it is a replay (core §1.3.4). Call
    /// once, right before the login begins.
    pub async fn record(&self, accepted: &Accepted) -> Result<(), RequestError> {
        let fresh = self
            .store
            .record_client_assertion(
                &accepted.flow.client_id,
                &format!("saml:{}", accepted.flow.request_id),
                accepted.replay_until,
            )
            .await
            .map_err(|e| RequestError::Page(SamlError::internal(e)))?;
        if fresh {
            return Ok(());
        }
        let to = AnswerTo {
            acs: accepted.flow.acs_url.clone(),
            in_response_to: Some(accepted.flow.request_id.clone()),
            relay_state: accepted.flow.relay_state.clone(),
        };
        Err(self.refusal(
            &to,
            SamlError::denied(
                "saml-request-replayed",
                "a request with this ID was already received",
            ),
        ))
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

    fn refusal(&self, to: &AnswerTo, e: SamlError) -> RequestError {
        let SamlError::Refused {
            status,
            code,
            description,
        } = &e
        else {
            return RequestError::Page(e);
        };
        tracing::info!(code, %description, "a SAML request was refused");
        match self.error_answer(to, *status, &format!("{code}: {description}"), None) {
            Ok(answer) => RequestError::Answer(answer, e),
            Err(inner) => RequestError::Page(inner),
        }
    }

    fn error_answer(
        &self,
        to: &AnswerTo,
        status: Status,
        message: &str,
        detail: Option<&str>,
    ) -> Result<ProtocolAnswer, SamlError> {
        let id = new_id()?;
        let xml = response(
            &ResponseContent {
                id: &id,
                issuer: &self.config.entity_id,
                issued: OffsetDateTime::now_utc(),
                destination: &to.acs,
                in_response_to: to.in_response_to.as_deref(),
                status,
                message: Some(message),
                detail,
            },
            &dsig::template(&id, &b64(&self.credentials.certificate_der)),
            None,
        );
        let signed = dsig::sign(&xml, &self.credentials.key_der)?;
        Ok(self.post_answer(&to.acs, &signed, to.relay_state.as_deref()))
    }

    fn post_answer(&self, acs: &str, signed: &str, relay_state: Option<&str>) -> ProtocolAnswer {
        let mut fields = vec![("SAMLResponse".to_owned(), b64(signed.as_bytes()))];
        if let Some(r) = relay_state {
            fields.push(("RelayState".to_owned(), r.to_owned()));
        }
        ProtocolAnswer::AutoPost {
            action: acs.to_owned(),
            fields,
        }
    }

    /// The values of the requested attributes this login can give, and the names of required
    /// ones it cannot.
    async fn release(
        &self,
        flow: &SamlFlow,
        md: &SpMetadata,
        auth: &Authentication,
        now: OffsetDateTime,
    ) -> Result<(Vec<AttributeValue>, Vec<String>), CompletionError> {
        let internal = |e: konto_store::StoreError| CompletionError::Internal(e.to_string());
        let (account, held) = match &auth.principal {
            Principal::Account { user_id } => (
                Some(user_id.as_str()),
                self.store.attributes(user_id).await.map_err(internal)?,
            ),
            Principal::Temporary { attributes, .. } => (None, attributes.clone()),
        };
        let login_trust = auth.level.akdb_trust_level();
        let mut out = Vec::new();
        let mut missing = Vec::new();
        for requested in &flow.attributes {
            let Some(known) = attributes::by_oid(&requested.name) else {
                if requested.required {
                    missing.push(requested.name.clone());
                }
                continue;
            };
            let value: Option<(String, &'static str)> = match known.released {
                Released::Identity(name) => held
                    .iter()
                    .find(|a| a.name == name)
                    .map(|a| (a.value.clone(), a.level.akdb_trust_level())),
                Released::Bpk2 => account.map(|id| {
                    (
                        konto_core::subject::bpk2(&self.pairwise_key, &md.host(), id),
                        login_trust,
                    )
                }),
                Released::PostboxHandle => match account {
                    Some(id) => self
                        .postbox_handle(id, &flow.client_id, now)
                        .await?
                        .map(|h| (h, login_trust)),
                    None => None,
                },
                Released::Level => Some((auth.level.stork().to_owned(), login_trust)),
                Released::ProvedBy => Some((proved_by(&auth.amr).to_owned(), login_trust)),
                Released::Mfa => {
                    Some((auth.amr.iter().any(|a| a == "mfa").to_string(), login_trust))
                }
                Released::ApplicationId => Some((
                    konto_keys::random::uuid()
                        .map_err(|e| CompletionError::Internal(e.to_string()))?,
                    login_trust,
                )),
                Released::Version => Some((INTERFACE_VERSION.to_owned(), login_trust)),
            };
            match value {
                Some((value, trust_level)) => out.push(AttributeValue {
                    oid: known.oid,
                    friendly: known.friendly,
                    value,
                    trust_level,
                }),
                None if requested.required => missing.push(known.friendly.to_owned()),
                None => {}
            }
        }
        Ok((out, missing))
    }

    /// The account's postbox handle, recorded as given to this SP (so it may deliver to it).
    async fn postbox_handle(
        &self,
        user_id: &str,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, CompletionError> {
        let internal = |e: konto_store::StoreError| CompletionError::Internal(e.to_string());
        let owner = Party::Person(user_id.to_owned());
        let postbox = match self.store.postbox_of(&owner).await.map_err(internal)? {
            Some(p) => p,
            None => {
                let Some(user) = self.store.user(user_id).await.map_err(internal)? else {
                    return Ok(None);
                };
                self.store
                    .ensure_postbox(&owner, &user.postbox_handle, now)
                    .await
                    .map_err(internal)?
            }
        };
        if !self
            .store
            .postbox_released(&postbox.handle, client_id)
            .await
            .map_err(internal)?
        {
            self.store
                .release_postbox(&postbox.handle, client_id, now)
                .await
                .map_err(internal)?;
        }
        Ok(Some(postbox.handle))
    }

    async fn answer(
        &self,
        flow: &SamlFlow,
        auth: &Authentication,
        now: OffsetDateTime,
    ) -> Result<ProtocolAnswer, SamlError> {
        let to = AnswerTo {
            acs: flow.acs_url.clone(),
            in_response_to: Some(flow.request_id.clone()),
            relay_state: flow.relay_state.clone(),
        };
        let Some((record, md)) = self.sp(&flow.entity_id).await? else {
            return Err(SamlError::Internal("the service provider is gone".into()));
        };
        if let Some(levels) = &flow.exact_levels
            && !levels.contains(&auth.level)
        {
            return self.error_answer(
                &to,
                Status::NoAuthnContext,
                "the login reached a level other than the one requested exactly",
                None,
            );
        }
        let (released, missing) = self
            .release(flow, &md, auth, now)
            .await
            .map_err(|e| SamlError::Internal(e.to_string()))?;
        if !missing.is_empty() {
            let detail = flow
                .status_detail
                .then(|| missing_attributes_detail(&missing));
            return self.error_answer(
                &to,
                Status::RequestDenied,
                &format!("required attributes missing: {}", missing.join(", ")),
                detail.as_deref(),
            );
        }
        let cert_b64 = b64(&self.credentials.certificate_der);
        let assertion_id = new_id()?;
        let name_id = new_id()?;
        let session_index = match &auth.session_id {
            Some(s) => format!("_{}", hex::encode(openssl::sha::sha256(s.as_bytes()))),
            None => new_id()?,
        };
        let content = AssertionContent {
            id: &assertion_id,
            issuer: &self.config.entity_id,
            issued: now,
            not_on_or_after: now + as_time(self.config.assertion_ttl),
            audience: &md.entity_id,
            recipient: &flow.acs_url,
            in_response_to: &flow.request_id,
            name_id: &name_id,
            session_index: &session_index,
            authn_instant: auth.auth_time,
            class_ref: auth.level.stork(),
            attributes: &released,
        };
        let signed_assertion = dsig::sign(
            &assertion(&content, &dsig::template(&assertion_id, &cert_b64)),
            &self.credentials.key_der,
        )?;
        let cipher = ContentCipher::parse(&record.cipher).unwrap_or(ContentCipher::Aes256Gcm);
        let cert = md
            .encryption_certificates
            .first()
            .ok_or_else(|| SamlError::Internal("the SP has no encryption certificate".into()))?;
        let encrypted = encrypt_element(
            without_declaration(&signed_assertion).as_bytes(),
            cert,
            cipher,
        )?;
        let response_id = new_id()?;
        let xml = response(
            &ResponseContent {
                id: &response_id,
                issuer: &self.config.entity_id,
                issued: now,
                destination: &flow.acs_url,
                in_response_to: Some(&flow.request_id),
                status: Status::Success,
                message: None,
                detail: None,
            },
            &dsig::template(&response_id, &cert_b64),
            Some(&encrypted),
        );
        let signed = dsig::sign(&xml, &self.credentials.key_der)?;
        if let Some(session_id) = &auth.session_id {
            // single logout finds the session by the name ID this SP now holds
            self.store
                .record_participation(&Participation {
                    entity_id: md.entity_id.clone(),
                    name_id: name_id.clone(),
                    session_id: session_id.clone(),
                    session_index: session_index.clone(),
                    created_at: now,
                    expires_at: now + PARTICIPATION_TTL,
                })
                .await
                .map_err(SamlError::internal)?;
        }
        Ok(self.post_answer(&flow.acs_url, &signed, flow.relay_state.as_deref()))
    }
}

/// Longer than the longest session (12 hours at the basic level).
const PARTICIPATION_TTL: time::Duration = time::Duration::hours(13);

/// konto's authenticators for BundID's `AuthnMethods` (`Benutzername`: the password, with a
/// passkey as its second factor; `eID` and `Smart-eID`: the eID card; `Elster`). Methods konto
/// does not offer (`eIDAS`, `FINK`) are left out.
fn authenticators(methods: &[String]) -> Vec<AuthenticatorKind> {
    let mut out = Vec::new();
    for m in methods {
        let kinds: &[AuthenticatorKind] = match m.as_str() {
            "Benutzername" => &[AuthenticatorKind::Password, AuthenticatorKind::Passkey],
            "eID" | "Smart-eID" => &[AuthenticatorKind::Eid],
            "Elster" => &[AuthenticatorKind::Elster],
            _ => &[],
        };
        for k in kinds {
            if !out.contains(k) {
                out.push(*k);
            }
        }
    }
    out
}

/// BundID's `AssertionProvedBy` from the session's RFC 8176 methods, strongest first.
fn proved_by(amr: &[String]) -> &'static str {
    let has = |m: &str| amr.iter().any(|a| a == m);
    if has("sc") {
        "eID"
    } else if has("swk") {
        "Elster"
    } else {
        "Benutzername"
    }
}

fn has_signature(xml: &[u8]) -> bool {
    fn walk(e: &konto_xml::Element) -> bool {
        e.is(crate::NS_DSIG, "Signature") || e.children.iter().any(walk)
    }
    konto_xml::parse(xml, &konto_xml::Limits::MESSAGES)
        .map(|root| walk(&root))
        .unwrap_or(false)
}

fn status_of(code: FailCode) -> Status {
    match code {
        FailCode::LoginRequired | FailCode::InteractionRequired => Status::NoPassive,
        FailCode::ConsentRequired => Status::RequestDenied,
        FailCode::UnmetAuthenticationRequirements => Status::NoAuthnContext,
        FailCode::AccessDenied => Status::AuthnFailed,
    }
}

fn completion_error(e: SamlError) -> CompletionError {
    CompletionError::Internal(e.to_string())
}

impl Completion for Idp {
    fn handles(&self, protocol: &str) -> bool {
        protocol == PROTOCOL
    }

    fn party<'a>(&'a self, state: &'a str) -> BoxFuture<'a, Result<PageParty, CompletionError>> {
        Box::pin(async move {
            let f = SamlFlow::from_protocol_json(state)?;
            let name = match &f.display_name {
                Some(n) => n.clone(),
                None => match self.store.client(&f.client_id).await {
                    Ok(Some(c)) => c.party.name,
                    _ => f.entity_id.clone(),
                },
            };
            Ok(PageParty {
                name,
                answer_targets: vec![f.acs_url],
                cancellable: true,
            })
        })
    }

    fn complete<'a>(
        &'a self,
        state: &'a str,
        _request: &'a LoginRequest,
        auth: &'a Authentication,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Completed, CompletionError>> {
        Box::pin(async move {
            let f = SamlFlow::from_protocol_json(state)?;
            let answer = self.answer(&f, auth, now).await.map_err(completion_error)?;
            Ok(Completed::Answer(answer))
        })
    }

    fn fail(
        &self,
        state: &str,
        code: FailCode,
        description: &str,
    ) -> Result<ProtocolAnswer, CompletionError> {
        let f = SamlFlow::from_protocol_json(state)?;
        let to = AnswerTo {
            acs: f.acs_url,
            in_response_to: Some(f.request_id),
            relay_state: f.relay_state,
        };
        self.error_answer(&to, status_of(code), description, None)
            .map_err(completion_error)
    }
}

/// Base64 of a whole response, as the HTTP-POST binding carries it, decoded (for tests and
/// tools).
pub fn decode_posted(value: &str) -> Option<Vec<u8>> {
    unb64(value)
}
