//! What tokens say when a person acts for someone else.
//!
//! - **ID token and userinfo**: the subject stays the person (OIDC Core §2: the subject is the
//!   End-User who authenticated); `acting_for` describes the represented party — its subject as
//!   this client sees it (pairwise like a person's), and for an organisation its name, legal
//!   form, identifiers, verification level and whether the person is one of its legal
//!   representatives; `mandate` describes the chain (the root mandate's id, scope and validity,
//!   and every link). Both only with the `representation` scope, which only registered clients
//!   may ask for, and the user's consent.
//! - **Access tokens** follow RFC 8693 §4.1: `sub` is the represented party and `act` the
//!   actor, the person; prior actors — the organisations a mandate passed through — nest inside
//!   it, the least recent deepest.
//! - Every use of a representing grant — redeeming its code, each refresh, userinfo,
//!   introspection — checks that the chain still holds at that instant and for this client
//!   ([`konto_core::representation::verify`]); a revoked or expired link ends the grant.

use konto_core::client::Client;
use konto_core::representation::{self, Facts, Link, Party, Representation, Service};
use konto_core::subject::pairwise_party;
use konto_store::{GrantRecord, OrgEpoch, OrganisationRecord};
use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::OAuthError;
use crate::provider::Provider;

/// The claims of a representing grant.
#[derive(Debug, Clone)]
pub(crate) struct ActingClaims {
    /// The represented party's subject for this client.
    pub sub: String,
    /// RFC 8693 `act`.
    pub act: Value,
    pub acting_for: Value,
    pub mandate: Option<Value>,
}

impl Provider {
    fn party_subject(&self, client: &Client, party: &Party) -> Result<String, OAuthError> {
        Ok(pairwise_party(
            &self.pairwise_key,
            &self.sector_of(client)?,
            party,
        ))
    }

    /// The claims of `grant`'s representation if it still holds at `now`; `Ok(None)` when the
    /// grant has none; `Err(invalid_grant)` when it no longer holds. `epoch`: the organisation
    /// facts' epoch if the caller read it already (a refresh reads it with the rotation);
    /// otherwise it is read here, one small read instead of the chain's facts.
    pub(crate) async fn acting_claims(
        &self,
        grant: &GrantRecord,
        client: &Client,
        now: OffsetDateTime,
        epoch: Option<OrgEpoch>,
    ) -> Result<Option<ActingClaims>, OAuthError> {
        let Some(rep) = &grant.representation else {
            return Ok(None);
        };
        let epoch = match epoch {
            Some(e) => e,
            None => self.store.org_epoch().await?,
        };
        let chain = self.facts.chain(self.store.as_ref(), rep, epoch).await?;
        let facts = &chain.facts;
        let service = Service {
            client_id: &client.party.id,
            groups: &client.party.service_groups,
        };
        if representation::verify(rep, service, &facts.facts(), now).is_err() {
            return Err(OAuthError::invalid_grant(
                "the mandate or right this grant acts under no longer holds",
            ));
        }
        let acting_for = self.describe_party(client, rep, chain.represented.as_ref())?;
        let mandate = rep.mandates().next().map(|root| {
            let root_mandate = facts.mandates.iter().find(|m| m.id == root);
            let chain: Vec<Value> = rep
                .chain
                .iter()
                .map(|l| match l {
                    Link::Mandate(id) => json!({ "type": "mandate", "id": id }),
                    Link::Right(id) => json!({ "type": "right", "id": id }),
                })
                .collect();
            json!({
                "id": root,
                "scope": root_mandate.map(|m| m.scope.entries()).unwrap_or_default(),
                "valid_until": root_mandate.and_then(|m| m.valid_until).map(OffsetDateTime::unix_timestamp),
                "chain": chain,
            })
        });
        // prior actors: the agents the mandates passed through, most recent first, without the
        // person themselves
        let mut prior: Vec<Party> = Vec::new();
        for id in rep.mandates() {
            if let Some(m) = facts.mandates.iter().find(|m| m.id == id)
                && m.agent != Party::Person(rep.actor.clone())
            {
                prior.push(m.agent.clone());
            }
        }
        let mut act = Map::new();
        act.insert("sub".into(), json!(grant.subject));
        let mut innermost: Option<Value> = None;
        for party in &prior {
            let mut level = Map::new();
            level.insert("sub".into(), json!(self.party_subject(client, party)?));
            if let Some(inner) = innermost.take() {
                level.insert("act".into(), inner);
            }
            innermost = Some(Value::Object(level));
        }
        if let Some(inner) = innermost {
            act.insert("act".into(), inner);
        }
        Ok(Some(ActingClaims {
            sub: self.party_subject(client, &rep.represented)?,
            act: Value::Object(act),
            acting_for,
            mandate,
        }))
    }

    fn describe_party(
        &self,
        client: &Client,
        rep: &Representation,
        represented: Option<&OrganisationRecord>,
    ) -> Result<Value, OAuthError> {
        let sub = self.party_subject(client, &rep.represented)?;
        match &rep.represented {
            Party::Organisation(_) => {
                let Some(org) = represented else {
                    return Err(OAuthError::invalid_grant(
                        "the represented organisation no longer exists",
                    ));
                };
                let mut m = Map::new();
                m.insert("type".into(), json!("organisation"));
                m.insert("sub".into(), json!(sub));
                m.insert("name".into(), json!(org.name));
                if !org.legal_form.is_empty() {
                    m.insert("legal_form".into(), json!(org.legal_form));
                }
                if let Some(w) = &org.wirtschafts_id {
                    m.insert("wirtschafts_id".into(), json!(w.as_str()));
                }
                if let Some(k) = &org.register {
                    m.insert(
                        "register".into(),
                        json!({ "court": k.court, "type": k.kind.as_str(), "number": k.number }),
                    );
                }
                if let Some(e) = &org.euid {
                    m.insert("euid".into(), json!(e.as_str()));
                }
                m.insert("verification_level".into(), json!(org.level.as_str()));
                m.insert(
                    "legal_representative".into(),
                    json!(rep.legal_representative),
                );
                Ok(Value::Object(m))
            }
            Party::Person(_) => Ok(json!({ "type": "person", "sub": sub })),
        }
    }
}

/// The answer of the mandate check. A mandate the client may not learn about — unknown, or
/// for other services — is exactly `{"active": false}`; for any other every member but
/// `valid_until` is present, and `active` says whether the mandate, and every mandate it was
/// passed on from, holds now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct MandateCheckResponse {
    pub active: bool,
    /// The mandate's id, as asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub mandate: Option<String>,
    /// Where the mandate itself stands: `offered`, `accepted`, `active`, `revoked` or `expired`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    pub status: Option<&'static str>,
    /// Who gave the mandate.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub principal: Option<PartyRef>,
    /// Who may act under it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub agent: Option<PartyRef>,
    /// The services it covers: `*`, `service:{client_id}`, `group:{name}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub scope: Option<Vec<String>>,
    /// Seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub valid_from: Option<i64>,
    /// Seconds since the epoch; absent for a mandate without end.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub valid_until: Option<i64>,
}

/// A party as the calling client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PartyRef {
    /// `person` or `organisation`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// The party's subject for this client (pairwise, like a person's `sub`).
    pub sub: String,
}

impl Provider {
    /// The mandate check (konto's API for relying parties): does mandate `mandate` hold now,
    /// for the calling client? A client learns only about mandates whose scope covers it; any
    /// other id — unknown, or for other services — reads as inactive, so the API reveals
    /// nothing about mandates the client was never shown.
    pub async fn check_mandate(
        &self,
        input: crate::client_auth::ClientAuthInput<'_>,
        now: OffsetDateTime,
    ) -> Result<MandateCheckResponse, OAuthError> {
        let client = self.authenticate_client(input, now).await?;
        if client.is_public() {
            return Err(OAuthError::invalid_client(
                "the mandate check needs an authenticated client",
            ));
        }
        let id = input
            .params
            .get_bounded("mandate", 64)?
            .ok_or_else(|| OAuthError::invalid_request("missing parameter mandate"))?;
        let inactive = MandateCheckResponse::default;
        let service = Service {
            client_id: &client.party.id,
            groups: &client.party.service_groups,
        };
        // the mandate first, then the ones it was passed on from: a mandate that was passed on
        // holds only while they do
        let mandates = konto_store::mandate_with_ancestors(self.store.as_ref(), id).await?;
        let Some(mandate) = mandates.first() else {
            return Ok(inactive());
        };
        if !mandate.scope.covers(service) {
            return Ok(inactive());
        }
        let facts = Facts {
            rights: &[],
            organisations: &[],
            mandates: &mandates,
        };
        let chain_holds = representation::mandate_holds(&facts, id, service, now);
        let status = mandate.status_at(now);
        let party = |p: &Party| -> Result<PartyRef, OAuthError> {
            Ok(PartyRef {
                kind: p.kind(),
                sub: self.party_subject(&client, p)?,
            })
        };
        Ok(MandateCheckResponse {
            active: chain_holds,
            mandate: Some(mandate.id.clone()),
            status: Some(status.as_str()),
            principal: Some(party(&mandate.principal)?),
            agent: Some(party(&mandate.agent)?),
            scope: Some(mandate.scope.entries()),
            valid_from: Some(mandate.valid_from.unix_timestamp()),
            valid_until: mandate.valid_until.map(OffsetDateTime::unix_timestamp),
        })
    }
}
