//! The end of a SAML login: the attributes, the signed assertion encrypted for the SP inside
//! a signed response, and the participation single logout will need.

use super::*;

impl Idp {
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
