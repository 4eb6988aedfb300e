//! Who acts, and for whom: the rules of representation.
//!
//! A person always signs in as themselves (the **actor**). They may act for someone else — an
//! organisation they belong to, or a principal who gave them (or their organisation) a
//! **mandate** — in an online service, when a **chain** connects them:
//!
//! - a **right** an organisation's administrator gave a member: act for the organisation, or
//!   under one mandate the organisation received, in the services of its scope;
//! - a **mandate** from a principal (organisation or person) to an agent (organisation or
//!   person): scope, validity, and how many times it may be passed on; a mandate that passes
//!   another on names it as its `parent` and is given by that one's agent.
//!
//! Company A mandates tax firm B for tax services (mandate M); B's administrator gives clerk C
//! the right to act under M in tax services (right R). The chain from A to C is `[M, R]`: C acts
//! for A, at a tax service, and nowhere else — every link must hold at that instant and cover
//! that service.
//!
//! Everything here is a pure function of the facts and the instant; the store loads the facts,
//! the login service asks [`options`] which representations a person may choose at a service,
//! and [`verify`] re-checks a chosen one whenever a token of it is used (a revocation or expiry
//! takes effect at once).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The longest chain accepted: at most this many mandates between a principal and the actor.
pub const MAX_MANDATES_IN_CHAIN: usize = 4;

/// A person (an account) or an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Party {
    Person(String),
    Organisation(String),
}

impl Party {
    pub fn id(&self) -> &str {
        match self {
            Party::Person(id) | Party::Organisation(id) => id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Party::Person(_) => "person",
            Party::Organisation(_) => "organisation",
        }
    }
}

/// An online service as representation sees it: its client id and the groups it belongs to
/// ("steuern", "gewerbe").
#[derive(Debug, Clone, Copy)]
pub struct Service<'a> {
    pub client_id: &'a str,
    pub groups: &'a [String],
}

/// The services a right or mandate covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServiceScope {
    /// Every service.
    All,
    /// The listed services (client ids) and every service in the listed groups.
    Listed {
        #[serde(default)]
        services: BTreeSet<String>,
        #[serde(default)]
        groups: BTreeSet<String>,
    },
}

/// The longest service or group name accepted in a scope.
const MAX_SCOPE_NAME: usize = 100;
/// The most entries a scope lists.
const MAX_SCOPE_ENTRIES: usize = 200;

/// A scope that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("a scope names at least one service or group")]
    Empty,
    #[error("a scope lists at most 200 services and groups")]
    TooMany,
    #[error("a service or group name is 1 to 100 letters, digits, '-', '_', '.', ':' or '/'")]
    BadName,
}

impl ServiceScope {
    /// A listed scope, validated.
    pub fn listed<S: AsRef<str>>(
        services: impl IntoIterator<Item = S>,
        groups: impl IntoIterator<Item = S>,
    ) -> Result<ServiceScope, ScopeError> {
        let services: BTreeSet<String> = services
            .into_iter()
            .map(|s| s.as_ref().trim().to_owned())
            .collect();
        let groups: BTreeSet<String> = groups
            .into_iter()
            .map(|s| s.as_ref().trim().to_owned())
            .collect();
        if services.is_empty() && groups.is_empty() {
            return Err(ScopeError::Empty);
        }
        if services.len() + groups.len() > MAX_SCOPE_ENTRIES {
            return Err(ScopeError::TooMany);
        }
        if !services.iter().chain(&groups).all(|n| valid_name(n)) {
            return Err(ScopeError::BadName);
        }
        Ok(ServiceScope::Listed { services, groups })
    }

    pub fn covers(&self, service: Service<'_>) -> bool {
        match self {
            ServiceScope::All => true,
            ServiceScope::Listed { services, groups } => {
                services.contains(service.client_id)
                    || service.groups.iter().any(|g| groups.contains(g))
            }
        }
    }

    /// Whether everything `other` covers, this covers too (a mandate passed on, or a right
    /// under a mandate, should not claim more than it has; checking coverage per service at
    /// use is what decides, this is for telling the user early).
    pub fn includes(&self, other: &ServiceScope) -> bool {
        match (self, other) {
            (ServiceScope::All, _) => true,
            (ServiceScope::Listed { .. }, ServiceScope::All) => false,
            (
                ServiceScope::Listed { services, groups },
                ServiceScope::Listed {
                    services: s2,
                    groups: g2,
                },
            ) => s2.is_subset(services) && g2.is_subset(groups),
        }
    }

    /// Services and groups, for display and claims.
    pub fn entries(&self) -> Vec<String> {
        match self {
            ServiceScope::All => vec!["*".to_owned()],
            ServiceScope::Listed { services, groups } => services
                .iter()
                .map(|s| format!("service:{s}"))
                .chain(groups.iter().map(|g| format!("group:{g}")))
                .collect(),
        }
    }
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= MAX_SCOPE_NAME
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'))
}

/// Which side offered a mandate; the other side's agreement puts it in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The principal offered it; in force once the agent accepts.
    Principal,
    /// The agent registered it (a tax adviser with a power of attorney); in force once the
    /// principal confirms it, or when the principal's objection period ends without objection.
    Agent,
}

/// Where a mandate stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MandateStatus {
    /// Waiting for the other side (or for the principal's objection period to end).
    Offered,
    /// Agreed, not yet valid (`valid_from` is ahead).
    Accepted,
    Active,
    /// Ended by either side (or objected to by the principal).
    Revoked,
    /// Past `valid_until`.
    Expired,
}

impl MandateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MandateStatus::Offered => "offered",
            MandateStatus::Accepted => "accepted",
            MandateStatus::Active => "active",
            MandateStatus::Revoked => "revoked",
            MandateStatus::Expired => "expired",
        }
    }
}

/// A mandate: the principal lets the agent act for it in the scope's services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mandate {
    pub id: String,
    pub principal: Party,
    pub agent: Party,
    pub scope: ServiceScope,
    #[serde(with = "time::serde::timestamp")]
    pub valid_from: OffsetDateTime,
    #[serde(with = "time::serde::timestamp::option")]
    pub valid_until: Option<OffsetDateTime>,
    /// How many more mandates may follow this one in a chain (0: it may not be passed on).
    pub redelegation: u8,
    /// The mandate this one passes on (its agent is this one's principal).
    pub parent: Option<String>,
    pub offered_by: Side,
    /// A reference to the evidence (a power of attorney's number, a document's hash).
    pub evidence: Option<String>,
    #[serde(with = "time::serde::timestamp")]
    pub created_at: OffsetDateTime,
    /// When the other side agreed.
    #[serde(with = "time::serde::timestamp::option")]
    pub accepted_at: Option<OffsetDateTime>,
    /// For a mandate the agent registered: until when the principal may object; after that it
    /// is in force without the principal's confirmation. `None`: only confirmation puts it in
    /// force.
    #[serde(with = "time::serde::timestamp::option")]
    pub objection_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::timestamp::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl Mandate {
    /// Where the mandate stands at `now`.
    pub fn status_at(&self, now: OffsetDateTime) -> MandateStatus {
        if self.revoked_at.is_some_and(|r| r <= now) {
            return MandateStatus::Revoked;
        }
        if self.valid_until.is_some_and(|u| now >= u) {
            return MandateStatus::Expired;
        }
        let agreed = self.accepted_at.is_some_and(|a| a <= now)
            || (self.offered_by == Side::Agent && self.objection_until.is_some_and(|o| now >= o));
        if !agreed {
            MandateStatus::Offered
        } else if now < self.valid_from {
            MandateStatus::Accepted
        } else {
            MandateStatus::Active
        }
    }

    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.status_at(now) == MandateStatus::Active
    }
}

/// A member's role in an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages members, rights and mandates.
    Administrator,
    /// Acts in the services their rights cover.
    Clerk,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Clerk => "clerk",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "administrator" => Some(Role::Administrator),
            "clerk" => Some(Role::Clerk),
            _ => None,
        }
    }
}

/// A right an organisation gave one of its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Right {
    pub id: String,
    pub organisation: String,
    pub user_id: String,
    pub scope: ServiceScope,
    /// Act under this mandate the organisation received, rather than for the organisation.
    pub mandate: Option<String>,
    #[serde(with = "time::serde::timestamp")]
    pub granted_at: OffsetDateTime,
}

/// What [`options`] and [`verify`] need to know about an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgStanding {
    pub id: String,
    /// Its first administrator was confirmed (by the letter); before, it grants nothing.
    pub confirmed: bool,
    /// Whether the user is one of its legal representatives as the register lists them.
    pub user_is_legal_representative: bool,
}

/// One link of a chain, from the principal's end to the actor's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Link {
    Mandate(String),
    Right(String),
}

/// Who acts for whom, and by what chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Representation {
    /// The person who signed in.
    pub actor: String,
    /// The party they act for.
    pub represented: Party,
    /// From the represented party to the actor. Empty never: acting for oneself is no
    /// representation.
    pub chain: Vec<Link>,
    /// The actor is a legal representative of the represented organisation as its register
    /// entry lists them (and the chain is that membership alone).
    #[serde(default)]
    pub legal_representative: bool,
}

impl Representation {
    /// The mandates in the chain, principal's end first.
    pub fn mandates(&self) -> impl Iterator<Item = &str> {
        self.chain.iter().filter_map(|l| match l {
            Link::Mandate(id) => Some(id.as_str()),
            Link::Right(_) => None,
        })
    }
}

/// The facts about one person's representations: their rights (with the organisations they are
/// in) and the mandates that may be in their chains.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub rights: &'a [Right],
    pub organisations: &'a [OrgStanding],
    pub mandates: &'a [Mandate],
}

impl Facts<'_> {
    fn mandate(&self, id: &str) -> Option<&Mandate> {
        self.mandates.iter().find(|m| m.id == id)
    }

    fn organisation(&self, id: &str) -> Option<&OrgStanding> {
        self.organisations.iter().find(|o| o.id == id)
    }
}

/// Follows a mandate up to its root: the represented party and the mandates from the root
/// down to `id`, if every one is active at `now`, covers `service`, and the chain is well
/// formed (each passed-on mandate given by its parent's agent, within its parent's
/// redelegation, no longer than [`MAX_MANDATES_IN_CHAIN`]). `agent` is who holds `id`.
fn mandate_chain(
    facts: &Facts<'_>,
    id: &str,
    agent: &Party,
    service: Service<'_>,
    now: OffsetDateTime,
) -> Option<(Party, Vec<Link>)> {
    let mut links = Vec::new();
    let mut current = facts.mandate(id)?;
    if current.agent != *agent {
        return None;
    }
    loop {
        if !current.is_active(now) || !current.scope.covers(service) {
            return None;
        }
        links.push(Link::Mandate(current.id.clone()));
        if links.len() > MAX_MANDATES_IN_CHAIN {
            return None;
        }
        let Some(parent_id) = &current.parent else {
            break;
        };
        let parent = facts.mandate(parent_id)?;
        // passed on by the one who received it, and within what it allows
        let passed_on = links.len(); // mandates after the parent, this one included
        if parent.agent != current.principal || usize::from(parent.redelegation) < passed_on {
            return None;
        }
        current = parent;
    }
    links.reverse();
    Some((current.principal.clone(), links))
}

/// Whether mandate `id` holds for `service` at `now` together with every mandate it was passed
/// on from (the rules of a chain, as for a login). The facts need hold the mandate and its
/// ancestors.
pub fn mandate_holds(
    facts: &Facts<'_>,
    id: &str,
    service: Service<'_>,
    now: OffsetDateTime,
) -> bool {
    facts
        .mandate(id)
        .is_some_and(|m| mandate_chain(facts, id, &m.agent, service, now).is_some())
}

/// The representations `actor` may choose at `service` at `now`, in a stable order:
/// organisations they are a member of first, then what mandates give them.
pub fn options(
    actor: &str,
    service: Service<'_>,
    facts: &Facts<'_>,
    now: OffsetDateTime,
) -> Vec<Representation> {
    let mut out: Vec<Representation> = Vec::new();
    let mut push = |r: Representation| {
        if !out
            .iter()
            .any(|o| o.represented == r.represented && o.chain == r.chain)
        {
            out.push(r);
        }
    };
    for right in facts.rights.iter().filter(|r| r.user_id == actor) {
        let Some(org) = facts.organisation(&right.organisation) else {
            continue;
        };
        if !org.confirmed || !right.scope.covers(service) {
            continue;
        }
        let org_party = Party::Organisation(org.id.clone());
        match &right.mandate {
            None => push(Representation {
                actor: actor.to_owned(),
                represented: org_party,
                chain: vec![Link::Right(right.id.clone())],
                legal_representative: org.user_is_legal_representative,
            }),
            Some(m) => {
                if let Some((represented, mut chain)) =
                    mandate_chain(facts, m, &org_party, service, now)
                {
                    chain.push(Link::Right(right.id.clone()));
                    push(Representation {
                        actor: actor.to_owned(),
                        represented,
                        chain,
                        legal_representative: false,
                    });
                }
            }
        }
    }
    let me = Party::Person(actor.to_owned());
    for m in facts.mandates.iter().filter(|m| m.agent == me) {
        if let Some((represented, chain)) = mandate_chain(facts, &m.id, &me, service, now)
            && represented != me
        {
            push(Representation {
                actor: actor.to_owned(),
                represented,
                chain,
                legal_representative: false,
            });
        }
    }
    out
}

/// Why a representation no longer holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the representation no longer holds for this service")]
pub struct NoLongerHolds;

/// Checks that `representation` still holds at `service` at `now` — every link of its chain
/// exists, is active and covers the service. The facts need hold only the chain's links.
pub fn verify(
    representation: &Representation,
    service: Service<'_>,
    facts: &Facts<'_>,
    now: OffsetDateTime,
) -> Result<(), NoLongerHolds> {
    let holds = options(&representation.actor, service, facts, now)
        .iter()
        .any(|o| o.represented == representation.represented && o.chain == representation.chain);
    if holds { Ok(()) } else { Err(NoLongerHolds) }
}

#[cfg(test)]
#[path = "representation_tests.rs"]
mod tests;
