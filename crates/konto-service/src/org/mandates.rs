//! Mandates: offered, registered, accepted, ended.

use konto_core::org::RegisterKey;
use konto_core::representation::{Mandate, MandateStatus, Party, ServiceScope, Side};
use konto_keys::random;
use konto_store::MandateChange;
use time::OffsetDateTime;

use super::{Actor, OrgService};
use crate::error::ServiceError;

/// How the other side of a new mandate is named.
#[derive(Debug, Clone)]
pub enum PartyRef {
    /// The acting person themselves.
    Me,
    /// An organisation the acting person administers, or one konto knows, by its id.
    Organisation(String),
    /// An organisation by its register entry.
    Registered(RegisterKey),
    /// A person by their konto user name.
    Person(String),
}

/// A mandate to be offered (by its principal) or registered (by its agent).
#[derive(Debug, Clone)]
pub struct NewMandate {
    pub principal: PartyRef,
    pub agent: PartyRef,
    pub scope: ServiceScope,
    pub valid_from: Option<OffsetDateTime>,
    pub valid_until: Option<OffsetDateTime>,
    pub redelegation: u8,
    /// The mandate the principal received and passes on with this one.
    pub parent: Option<String>,
    pub evidence: Option<String>,
}

/// The longest evidence reference kept.
const MAX_EVIDENCE: usize = 500;

impl OrgService {
    async fn resolve(&self, actor: &Actor, r: &PartyRef) -> Result<Party, ServiceError> {
        match r {
            PartyRef::Me => Ok(Party::Person(actor.user_id.clone())),
            PartyRef::Organisation(id) => {
                let org = self
                    .s
                    .store
                    .organisation(id)
                    .await?
                    .ok_or(ServiceError::UnknownParty)?;
                Ok(Party::Organisation(org.id))
            }
            PartyRef::Registered(key) => {
                let org = self
                    .s
                    .store
                    .organisation_by_register(key)
                    .await?
                    .ok_or(ServiceError::UnknownParty)?;
                Ok(Party::Organisation(org.id))
            }
            PartyRef::Person(username) => {
                let user = self
                    .s
                    .store
                    .user_by_username(username)
                    .await?
                    .ok_or(ServiceError::UnknownParty)?;
                Ok(Party::Person(user.id))
            }
        }
    }

    /// Offers (as the principal's side) or registers (as the agent's side) a mandate. Which
    /// side the actor is on follows from which party they control.
    pub async fn offer_mandate(
        &self,
        actor: &Actor,
        new: NewMandate,
    ) -> Result<Mandate, ServiceError> {
        let principal = self.resolve(actor, &new.principal).await?;
        let agent = self.resolve(actor, &new.agent).await?;
        if principal == agent {
            return Err(ServiceError::Invalid(
                "a mandate needs two different parties".into(),
            ));
        }
        let offered_by = if self.controls(actor, &principal).await? {
            Side::Principal
        } else if self.controls(actor, &agent).await? {
            Side::Agent
        } else {
            return Err(ServiceError::NotAllowed);
        };
        if let Party::Organisation(id) = &agent
            && self
                .s
                .store
                .organisation(id)
                .await?
                .is_none_or(|o| o.confirmed_at.is_none())
        {
            return Err(ServiceError::NotConfirmed);
        }
        if new
            .evidence
            .as_ref()
            .is_some_and(|e| e.len() > MAX_EVIDENCE)
        {
            return Err(ServiceError::Invalid(
                "the evidence reference is too long".into(),
            ));
        }
        let now = self.now();
        let valid_from = new.valid_from.unwrap_or(now);
        if new.valid_until.is_some_and(|u| u <= valid_from) {
            return Err(ServiceError::Invalid(
                "a mandate must end after it begins".into(),
            ));
        }
        if let Some(parent) = &new.parent {
            // passing on: only what the principal received, within what it allows
            if offered_by != Side::Principal {
                return Err(ServiceError::NotAllowed);
            }
            let p = self
                .s
                .store
                .mandate(parent)
                .await?
                .ok_or(ServiceError::UnknownParty)?;
            if p.agent != principal
                || p.redelegation == 0
                || new.redelegation >= p.redelegation
                || !p.scope.includes(&new.scope)
                || p.status_at(now) != MandateStatus::Active
            {
                return Err(ServiceError::Invalid(
                    "this mandate cannot be passed on like that".into(),
                ));
            }
        }
        let objection_until = match offered_by {
            Side::Agent => Some(now + self.s.config.orgs.objection_period)
                .filter(|_| !self.s.config.orgs.objection_period.is_zero()),
            Side::Principal => None,
        };
        let mandate = Mandate {
            id: random::id()?,
            principal,
            agent,
            scope: new.scope,
            valid_from,
            valid_until: new.valid_until,
            redelegation: new.redelegation,
            parent: new.parent,
            offered_by,
            evidence: new.evidence,
            created_at: now,
            accepted_at: None,
            objection_until,
            revoked_at: None,
        };
        let event = self.event(
            mandate_home(&mandate),
            Some(actor),
            "mandate_offered",
            serde_json::json!({
                "mandate": mandate.id,
                "principal": mandate.principal,
                "agent": mandate.agent,
                "scope": mandate.scope,
                "offered_by": mandate.offered_by,
                "valid_until": mandate.valid_until.map(OffsetDateTime::unix_timestamp),
                "redelegation": mandate.redelegation,
                "parent": mandate.parent,
            }),
        );
        self.s.store.create_mandate(&mandate, &event).await?;
        Ok(mandate)
    }

    async fn load_mandate(&self, id: &str) -> Result<Mandate, ServiceError> {
        if id.is_empty() || id.len() > 64 {
            return Err(ServiceError::UnknownParty);
        }
        self.s
            .store
            .mandate(id)
            .await?
            .ok_or(ServiceError::UnknownParty)
    }

    /// The other side agrees: the agent accepts an offer, or the principal confirms what the
    /// agent registered (before the objection period ends).
    pub async fn accept_mandate(&self, actor: &Actor, id: &str) -> Result<Mandate, ServiceError> {
        let m = self.load_mandate(id).await?;
        let counterpart = match m.offered_by {
            Side::Principal => &m.agent,
            Side::Agent => &m.principal,
        };
        if !self.controls(actor, counterpart).await? {
            return Err(ServiceError::NotAllowed);
        }
        let event = self.event(
            mandate_home(&m),
            Some(actor),
            "mandate_accepted",
            serde_json::json!({ "mandate": m.id }),
        );
        if !self
            .s
            .store
            .change_mandate(id, MandateChange::Accept, self.now(), &event)
            .await?
        {
            return Err(ServiceError::MandateState);
        }
        self.load_mandate(id).await
    }

    /// Either side ends the mandate, at once (an objection by the principal is the same).
    pub async fn revoke_mandate(&self, actor: &Actor, id: &str) -> Result<(), ServiceError> {
        let m = self.load_mandate(id).await?;
        if !(self.controls(actor, &m.principal).await? || self.controls(actor, &m.agent).await?) {
            return Err(ServiceError::NotAllowed);
        }
        let event = self.event(
            mandate_home(&m),
            Some(actor),
            "mandate_revoked",
            serde_json::json!({ "mandate": m.id }),
        );
        if !self
            .s
            .store
            .change_mandate(id, MandateChange::Revoke, self.now(), &event)
            .await?
        {
            return Err(ServiceError::MandateState);
        }
        tracing::info!(mandate = %m.id, "mandate revoked");
        Ok(())
    }

    /// The mandates a person holds or gave themselves.
    pub async fn mandates_of_person(&self, user_id: &str) -> Result<Vec<Mandate>, ServiceError> {
        Ok(self
            .s
            .store
            .mandates_of(&Party::Person(user_id.to_owned()))
            .await?)
    }
}

/// The organisation whose record a mandate's event goes into first (the store copies it to the
/// other organisation party).
fn mandate_home(m: &Mandate) -> &str {
    match (&m.principal, &m.agent) {
        (Party::Organisation(id), _) | (_, Party::Organisation(id)) => id,
        (Party::Person(id), _) => id,
    }
}
