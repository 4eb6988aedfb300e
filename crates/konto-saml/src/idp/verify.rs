//! Taking a request: decoding, the signature first, then the signed request's rules; and the
//! signed refusals.

use super::*;

/// A message whose signature holds: only what it covered, and the SP that signed it.
pub(crate) struct Signed {
    pub(crate) xml: Vec<u8>,
    pub(crate) relay_state: Option<String>,
    pub(crate) record: ServiceProviderRecord,
    pub(crate) md: SpMetadata,
}

/// Why a message was not taken: nobody to answer, or the SP (at its registered ACS).
pub(super) enum Unsigned {
    Page(SamlError),
    Known { error: SamlError, to: AnswerTo },
}

/// Where a refusal goes: the SP's registered ACS (never one a request named without a valid
/// signature).
pub(super) struct AnswerTo {
    pub(super) acs: String,
    pub(super) in_response_to: Option<String>,
    pub(super) relay_state: Option<String>,
}

impl Idp {
    /// Decodes a message (`param`: `SAMLRequest` or `SAMLResponse`; its root a protocol
    /// element named `root`), finds its SP and checks its signature with the SP's keys; what is
    /// returned is only what the signature covered.
    pub(super) async fn signed(
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
        let from_metadata;
        let akdb = match &req.akdb {
            Some(a) => a,
            // a SAML SP that does not speak BundID's extension (mod_auth_mellon, python3-saml):
            // the attributes its metadata asks for (metadata §2.4.4.1)
            None if !md.requested_attributes.is_empty() => {
                from_metadata = AkdbRequest {
                    version: "2".into(),
                    attributes: md.requested_attributes.clone(),
                    ..AkdbRequest::default()
                };
                &from_metadata
            }
            None => {
                return Err(refuse(
                    &to,
                    SamlError::denied(
                        "akdb-extension-missing",
                        "the request carries no akdb:AuthenticationRequest, and the SP's \
                         metadata asks for no attributes",
                    ),
                ));
            }
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

    pub(super) fn refusal(&self, to: &AnswerTo, e: SamlError) -> RequestError {
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

    pub(super) fn error_answer(
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

    pub(super) fn post_answer(
        &self,
        acs: &str,
        signed: &str,
        relay_state: Option<&str>,
    ) -> ProtocolAnswer {
        let mut fields = vec![("SAMLResponse".to_owned(), b64(signed.as_bytes()))];
        if let Some(r) = relay_state {
            fields.push(("RelayState".to_owned(), r.to_owned()));
        }
        ProtocolAnswer::AutoPost {
            action: acs.to_owned(),
            fields,
        }
    }
}

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

fn has_signature(xml: &[u8]) -> bool {
    fn walk(e: &konto_xml::Element) -> bool {
        e.is(crate::NS_DSIG, "Signature") || e.children.iter().any(walk)
    }
    konto_xml::parse(xml, &konto_xml::Limits::MESSAGES)
        .map(|root| walk(&root))
        .unwrap_or(false)
}
