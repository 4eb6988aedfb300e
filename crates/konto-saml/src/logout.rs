//! Single logout (SAML profiles §4.4) for the sessions SAML service providers took part in,
//! joined with OpenID Connect RP-initiated logout of the same session.
//!
//! A logout starts at an SP (its signed `LogoutRequest` names the session by the transient
//! name ID konto gave it) or at konto (`/logout`). The session ends at once; then the browser
//! carries a signed `LogoutRequest` to every other SP that took part (HTTP-Redirect binding),
//! each answering with a signed `LogoutResponse`, and finally the one who asked gets its answer:
//! a `LogoutResponse` (`Success`, or `PartialLogout` when an SP could not be told), or the
//! OpenID Connect client's post-logout address. Between the steps the rest of the chain travels
//! sealed in a cookie (`seal_chain`), which the SPs' answers bring back because konto sends
//! and asks for the Redirect binding only (top-level navigations carry `SameSite=Lax`
//! cookies).

use std::io::Write;

use base64::Engine;
use konto_core::completion::ProtocolAnswer;
use konto_keys::KeyEncryptionKey;
use konto_store::Participation;
use konto_xml::{Element, Limits};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::dsig::RSA_SHA256;
use crate::idp::{Idp, Incoming, as_time};
use crate::metadata::Endpoint;
use crate::xml::{b64, esc, instant, new_id, parse_instant};
use crate::{BINDING_REDIRECT, NAMEID_TRANSIENT, NS_ASSERTION, NS_PROTOCOL, SamlError, Status};

/// How long a chain may take from one step to the next.
const CHAIN_TTL: std::time::Duration = std::time::Duration::from_secs(600);
const CHAIN_KID: &str = "saml-logout-chain";

/// An SP still to be told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    entity_id: String,
    name_id: String,
    session_index: String,
}

/// The `LogoutRequest` konto sent and awaits the answer to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Waiting {
    entity_id: String,
    request_id: String,
}

/// Who asked for the logout, and so gets the last answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogoutEnd {
    /// An SP's `LogoutRequest`: a `LogoutResponse` to its single logout endpoint.
    Saml {
        entity_id: String,
        in_response_to: String,
        relay_state: Option<String>,
    },
    /// konto's own logout: the OpenID Connect client's post-logout address, or konto's page.
    Redirect(Option<String>),
}

/// The rest of a single logout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutChain {
    pending: Vec<Pending>,
    waiting: Option<Waiting>,
    /// An SP could not be told (no endpoint konto can reach, or it answered with an error).
    partial: bool,
    end: LogoutEnd,
}

impl LogoutChain {
    /// Whether an SP answered with an error or could not be reached.
    pub fn is_partial(&self) -> bool {
        self.partial
    }
}

/// What the browser does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutStep {
    /// Go there; keep the chain (sealed) while it has more to do.
    Go {
        answer: ProtocolAnswer,
        chain: Option<LogoutChain>,
    },
    /// The logout is through: konto's own ending (this address, or its logged-out page).
    Done(Option<String>),
}

/// A `LogoutRequest` konto took: the session it names (when konto still knows it) and how
/// to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequestIn {
    pub session_id: Option<String>,
    pub entity_id: String,
    pub end: LogoutEnd,
}

fn denied(code: &'static str, why: &str) -> SamlError {
    SamlError::unanswerable(code, why.to_owned())
}

fn redirect_endpoint(endpoints: &[Endpoint]) -> Option<&Endpoint> {
    endpoints.iter().find(|e| e.binding == BINDING_REDIRECT)
}

impl Idp {
    /// Takes an SP's signed `LogoutRequest` (either binding): fresh, for konto, not seen
    /// before, naming a name ID konto gave that SP. Errors are pages: a logout konto cannot
    /// trust is never answered to anyone.
    pub async fn logout_request(
        &self,
        incoming: Incoming<'_>,
        now: OffsetDateTime,
    ) -> Result<LogoutRequestIn, SamlError> {
        let signed = self
            .signed_page(incoming, "SAMLRequest", "LogoutRequest")
            .await?;
        let root = konto_xml::parse(&signed.xml, &Limits::MESSAGES)
            .map_err(|e| denied("saml-request-unreadable", &e.to_string()))?;
        if !root.is(NS_PROTOCOL, "LogoutRequest") {
            return Err(denied(
                "saml-request-malformed",
                "the signed element is no LogoutRequest",
            ));
        }
        let id = root
            .attr("ID")
            .filter(|i| !i.is_empty() && i.len() <= 256)
            .ok_or_else(|| denied("saml-request-malformed", "no ID"))?;
        if root.attr("Version") != Some("2.0") {
            return Err(denied("saml-version", "only SAML 2.0 is spoken"));
        }
        if root.attr("Destination") != Some(self.config().slo_url.as_str()) {
            return Err(denied(
                "saml-wrong-destination",
                "the Destination is not konto's logout endpoint",
            ));
        }
        let issued = root
            .attr("IssueInstant")
            .and_then(parse_instant)
            .ok_or_else(|| denied("saml-request-malformed", "no IssueInstant"))?;
        let age = now - issued;
        if age > as_time(self.config().request_max_age) || -age > as_time(self.config().clock_skew)
        {
            return Err(denied(
                "saml-request-expired",
                "the IssueInstant is not fresh",
            ));
        }
        if let Some(until) = root.attr("NotOnOrAfter").and_then(parse_instant)
            && now >= until
        {
            return Err(denied("saml-request-expired", "past NotOnOrAfter"));
        }
        let issuer = root
            .child_ns(NS_ASSERTION, "Issuer")
            .and_then(Element::trimmed)
            .unwrap_or_default();
        if issuer != signed.md.entity_id {
            return Err(denied(
                "saml-issuer-mismatch",
                "the signed request names another issuer",
            ));
        }
        let name_id = root
            .child_ns(NS_ASSERTION, "NameID")
            .and_then(Element::trimmed)
            .ok_or_else(|| denied("saml-request-malformed", "no NameID"))?;
        let indexes: Vec<&str> = root
            .children_ns(NS_PROTOCOL, "SessionIndex")
            .filter_map(Element::trimmed)
            .collect();
        let fresh = self
            .store()
            .record_client_assertion(
                &signed.record.client_id,
                &format!("saml-logout:{id}"),
                issued + as_time(self.config().request_max_age),
            )
            .await
            .map_err(SamlError::internal)?;
        if !fresh {
            return Err(denied(
                "saml-request-replayed",
                "a request with this ID was already received",
            ));
        }
        let session_id = self
            .store()
            .participation(&signed.md.entity_id, name_id)
            .await
            .map_err(SamlError::internal)?
            .filter(|p| indexes.is_empty() || indexes.contains(&p.session_index.as_str()))
            .map(|p| p.session_id);
        Ok(LogoutRequestIn {
            session_id,
            entity_id: signed.md.entity_id.clone(),
            end: LogoutEnd::Saml {
                entity_id: signed.md.entity_id,
                in_response_to: id.to_owned(),
                relay_state: signed.relay_state,
            },
        })
    }

    /// The logout of `session_id` (its participations are taken now, once), to end with
    /// `end`; `except`: the SP that asked, which is not asked back.
    pub async fn logout_chain(
        &self,
        session_id: Option<&str>,
        except: Option<&str>,
        end: LogoutEnd,
    ) -> Result<LogoutChain, SamlError> {
        let taken: Vec<Participation> = match session_id {
            Some(s) => self
                .store()
                .take_participations(s)
                .await
                .map_err(SamlError::internal)?,
            None => Vec::new(),
        };
        let mut pending: Vec<Pending> = Vec::new();
        for p in taken {
            if Some(p.entity_id.as_str()) == except
                || pending.iter().any(|q| q.entity_id == p.entity_id)
            {
                continue;
            }
            pending.push(Pending {
                entity_id: p.entity_id,
                name_id: p.name_id,
                session_index: p.session_index,
            });
        }
        Ok(LogoutChain {
            pending,
            waiting: None,
            partial: false,
            end,
        })
    }

    /// The chain's next step: a `LogoutRequest` to the next SP, or the last answer.
    pub async fn logout_step(
        &self,
        mut chain: LogoutChain,
        now: OffsetDateTime,
    ) -> Result<LogoutStep, SamlError> {
        while let Some(next) = chain.pending.first().cloned() {
            chain.pending.remove(0);
            let endpoint = match self.sp(&next.entity_id).await? {
                Some((_, md)) => redirect_endpoint(&md.slo).map(|e| e.location.clone()),
                None => None,
            };
            let Some(location) = endpoint else {
                tracing::info!("a service provider of the session has no single logout endpoint");
                chain.partial = true;
                continue;
            };
            let id = new_id()?;
            let xml = format!(
                concat!(
                    r#"<samlp:LogoutRequest xmlns:samlp="{p}" xmlns:saml="{a}" ID="{id}" Version="2.0" "#,
                    r#"IssueInstant="{now}" Destination="{dest}" NotOnOrAfter="{until}">"#,
                    r#"<saml:Issuer>{issuer}</saml:Issuer>"#,
                    r#"<saml:NameID Format="{transient}" SPNameQualifier="{sp}">{name_id}</saml:NameID>"#,
                    r#"<samlp:SessionIndex>{index}</samlp:SessionIndex></samlp:LogoutRequest>"#
                ),
                p = NS_PROTOCOL,
                a = NS_ASSERTION,
                id = id,
                now = instant(now),
                dest = esc(&location),
                until = instant(now + as_time(self.config().assertion_ttl)),
                issuer = esc(&self.config().entity_id),
                transient = NAMEID_TRANSIENT,
                sp = esc(&next.entity_id),
                name_id = esc(&next.name_id),
                index = esc(&next.session_index),
            );
            let url = self.redirect_url(&location, "SAMLRequest", &xml, None)?;
            chain.waiting = Some(Waiting {
                entity_id: next.entity_id,
                request_id: id,
            });
            return Ok(LogoutStep::Go {
                answer: ProtocolAnswer::Redirect { url },
                chain: Some(chain),
            });
        }
        match chain.end {
            LogoutEnd::Redirect(to) => Ok(LogoutStep::Done(to)),
            LogoutEnd::Saml {
                entity_id,
                in_response_to,
                relay_state,
            } => {
                let endpoint = match self.sp(&entity_id).await? {
                    Some((_, md)) => redirect_endpoint(&md.slo).cloned(),
                    None => None,
                };
                let Some(endpoint) = endpoint else {
                    return Ok(LogoutStep::Done(None));
                };
                let location = endpoint
                    .response_location
                    .clone()
                    .unwrap_or(endpoint.location.clone());
                let status = if chain.partial {
                    Status::PartialLogout
                } else {
                    Status::Success
                };
                let (top, second) = status.codes();
                let second = second
                    .map(|s| format!(r#"<samlp:StatusCode Value="{s}"/>"#))
                    .unwrap_or_default();
                let xml = format!(
                    concat!(
                        r#"<samlp:LogoutResponse xmlns:samlp="{p}" xmlns:saml="{a}" ID="{id}" Version="2.0" "#,
                        r#"IssueInstant="{now}" Destination="{dest}" InResponseTo="{irt}">"#,
                        r#"<saml:Issuer>{issuer}</saml:Issuer><samlp:Status>"#,
                        r#"<samlp:StatusCode Value="{top}">{second}</samlp:StatusCode></samlp:Status>"#,
                        r#"</samlp:LogoutResponse>"#
                    ),
                    p = NS_PROTOCOL,
                    a = NS_ASSERTION,
                    id = new_id()?,
                    now = instant(now),
                    dest = esc(&location),
                    irt = esc(&in_response_to),
                    issuer = esc(&self.config().entity_id),
                    top = top,
                    second = second,
                );
                let url =
                    self.redirect_url(&location, "SAMLResponse", &xml, relay_state.as_deref())?;
                Ok(LogoutStep::Go {
                    answer: ProtocolAnswer::Redirect { url },
                    chain: None,
                })
            }
        }
    }

    /// The answer of the SP konto is waiting for: signed by it, to the request konto sent.
    /// An error status makes the logout partial; a forged or stray answer is refused.
    pub async fn logout_response(
        &self,
        incoming: Incoming<'_>,
        chain: &mut LogoutChain,
    ) -> Result<(), SamlError> {
        let Some(waiting) = chain.waiting.clone() else {
            return Err(denied(
                "saml-logout-unexpected",
                "konto awaits no logout response",
            ));
        };
        let signed = self
            .signed_page(incoming, "SAMLResponse", "LogoutResponse")
            .await?;
        let root = konto_xml::parse(&signed.xml, &Limits::MESSAGES)
            .map_err(|e| denied("saml-request-unreadable", &e.to_string()))?;
        if !root.is(NS_PROTOCOL, "LogoutResponse")
            || signed.md.entity_id != waiting.entity_id
            || root.attr("InResponseTo") != Some(waiting.request_id.as_str())
        {
            return Err(denied(
                "saml-logout-unexpected",
                "not the answer to the logout request konto sent",
            ));
        }
        let success = root
            .child_ns(NS_PROTOCOL, "Status")
            .and_then(|s| s.child_ns(NS_PROTOCOL, "StatusCode"))
            .and_then(|c| c.attr("Value"))
            == Some("urn:oasis:names:tc:SAML:2.0:status:Success");
        if !success {
            chain.partial = true;
        }
        chain.waiting = None;
        Ok(())
    }

    /// A URL carrying a signed message with the HTTP-Redirect binding (bindings §3.4.4.1).
    fn redirect_url(
        &self,
        location: &str,
        param: &str,
        xml: &str,
        relay_state: Option<&str>,
    ) -> Result<String, SamlError> {
        let enc =
            |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
        let mut deflate =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        deflate
            .write_all(xml.as_bytes())
            .map_err(SamlError::internal)?;
        let deflated = deflate.finish().map_err(SamlError::internal)?;
        let mut query = format!("{param}={}", enc(&b64(&deflated)));
        if let Some(r) = relay_state {
            query.push_str(&format!("&RelayState={}", enc(r)));
        }
        query.push_str(&format!("&SigAlg={}", enc(RSA_SHA256)));
        let key = PKey::private_key_from_der(self.credentials().key_der())
            .map_err(SamlError::internal)?;
        let mut signer = Signer::new(MessageDigest::sha256(), &key).map_err(SamlError::internal)?;
        signer
            .update(query.as_bytes())
            .map_err(SamlError::internal)?;
        let signature = signer.sign_to_vec().map_err(SamlError::internal)?;
        let sep = if location.contains('?') { '&' } else { '?' };
        Ok(format!(
            "{location}{sep}{query}&Signature={}",
            enc(&b64(&signature))
        ))
    }

    /// Seals a chain for the browser to carry to the next step.
    pub fn seal_chain(
        &self,
        chain: &LogoutChain,
        now: OffsetDateTime,
    ) -> Result<String, SamlError> {
        seal(self.hop_key(), chain, now)
    }

    /// Opens a sealed chain; `None` when forged, damaged or stale.
    pub fn open_chain(&self, sealed: &str, now: OffsetDateTime) -> Option<LogoutChain> {
        open(self.hop_key(), sealed, now)
    }
}

#[derive(Serialize, Deserialize)]
struct Sealed<T> {
    v: T,
    exp: i64,
}

fn seal(
    key: &KeyEncryptionKey,
    chain: &LogoutChain,
    now: OffsetDateTime,
) -> Result<String, SamlError> {
    let json = serde_json::to_vec(&Sealed {
        v: chain,
        exp: (now + as_time(CHAIN_TTL)).unix_timestamp(),
    })
    .map_err(SamlError::internal)?;
    let sealed = key.encrypt(CHAIN_KID, &json).map_err(SamlError::internal)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed))
}

fn open(key: &KeyEncryptionKey, sealed: &str, now: OffsetDateTime) -> Option<LogoutChain> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sealed)
        .ok()?;
    let json = key.decrypt(CHAIN_KID, &bytes).ok()?;
    let s: Sealed<LogoutChain> = serde_json::from_slice(&json).ok()?;
    (s.exp >= now.unix_timestamp()).then_some(s.v)
}
