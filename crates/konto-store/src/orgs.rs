//! Organisations, their members and rights, mandates, confirmation letters, invitations, and
//! the record of every change to them.
//!
//! Every method that changes something takes the [`OrgEvent`] that records it and writes both
//! in one transaction: no change without its record, no record without its change.

use std::fmt;

use async_trait::async_trait;
use konto_core::Level;
use konto_core::org::{Euid, OrgEvidence, RegisterKey, WirtschaftsId};
use konto_core::representation::{
    Facts, Link, MAX_MANDATES_IN_CHAIN, Mandate, OrgStanding, Party, Representation, Right, Role,
};
use konto_core::secret::SecretHash;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::StoreResult;

/// A postal address of an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrgAddress {
    pub street: String,
    pub postal_code: String,
    pub locality: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// An organisation account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationRecord {
    pub id: String,
    pub name: String,
    pub legal_form: String,
    pub wirtschafts_id: Option<WirtschaftsId>,
    pub register: Option<RegisterKey>,
    pub euid: Option<Euid>,
    pub address: OrgAddress,
    /// How well its identity is established.
    pub level: Level,
    pub evidence: OrgEvidence,
    /// The postbox handle (released like a person's, once the postbox exists).
    pub postbox_handle: String,
    pub created_at: OffsetDateTime,
    /// When the first administrator was confirmed by the letter; until then the organisation
    /// grants no rights and gives and receives no mandates.
    pub confirmed_at: Option<OffsetDateTime>,
}

/// A person's membership in an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRecord {
    pub organisation: String,
    pub user_id: String,
    pub role: Role,
    /// The person matched a legal representative of the register entry.
    pub legal_representative: bool,
    pub joined_at: OffsetDateTime,
}

/// The confirmation letter for an organisation's first administrator.
#[derive(Clone, PartialEq, Eq)]
pub struct OrgLetterRecord {
    pub organisation: String,
    /// The administrator it confirms.
    pub user_id: String,
    pub code_hash: SecretHash,
    /// Where the letter went (the file written, the print job).
    pub reference: String,
    pub sent_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Wrong codes entered so far.
    pub failures: u32,
}

impl fmt::Debug for OrgLetterRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrgLetterRecord")
            .field("organisation", &self.organisation)
            .field("sent_at", &self.sent_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An invitation to join an organisation, sent by e-mail.
#[derive(Clone, PartialEq, Eq)]
pub struct OrgInvitationRecord {
    pub hash: SecretHash,
    pub organisation: String,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for OrgInvitationRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrgInvitationRecord")
            .field("organisation", &self.organisation)
            .field("role", &self.role)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// One recorded change: who (and at which level), what, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgEvent {
    /// The organisation whose record it goes into (for a mandate between two organisations,
    /// the store writes it into both).
    pub organisation: String,
    pub at: OffsetDateTime,
    /// The person who did it; `None` for an operator with the CLI.
    pub actor: Option<String>,
    pub actor_level: Option<Level>,
    /// `organisation_created`, `administrator_confirmed`, `member_added`, `right_granted`,
    /// `mandate_offered`, `mandate_revoked`, …
    pub action: String,
    /// What was changed, as JSON without personal data beyond ids.
    pub detail: String,
}

/// What a mandate change expects to find: a change is refused (`Ok(false)`) when the mandate
/// moved on meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MandateChange {
    /// The other side agrees (only while neither agreed nor revoked).
    Accept,
    /// Either side ends it (only while not revoked).
    Revoke,
}

/// The organisation facts' epoch: a number that grows, in the same transaction, with every
/// change to organisations, their members, rights and mandates (the database's triggers bump
/// it). Facts read after the epoch was `n` are at least as new as `n`; see [`crate::FactsCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgEpoch(pub i64);

/// How a new organisation's first administrator is confirmed.
#[derive(Debug, Clone, Copy)]
pub enum Confirmation<'a> {
    /// Later, with the code of this letter ([`OrgRepo::confirm_organisation`]).
    Letter(&'a OrgLetterRecord),
    /// Already, because the evidence came from the organisation itself (its ELSTER
    /// certificate): the organisation is created with `confirmed_at` set and the administrator
    /// gets this first right.
    Confirmed(&'a Right),
}

#[async_trait]
pub trait OrgRepo: Send + Sync {
    /// Creates the organisation, its first administrator's membership and, by `confirmation`,
    /// the confirmation letter or the confirmed administrator's first right, in one
    /// transaction. `Conflict` when an organisation with the same W-IdNr., register key, EUID or
    /// ELSTER holder id exists.
    async fn create_organisation(
        &self,
        org: &OrganisationRecord,
        first_admin: &MembershipRecord,
        confirmation: Confirmation<'_>,
        event: &OrgEvent,
    ) -> StoreResult<()>;
    async fn organisation(&self, id: &str) -> StoreResult<Option<OrganisationRecord>>;
    /// The organisation facts' epoch now.
    async fn org_epoch(&self) -> StoreResult<OrgEpoch>;
    async fn organisation_by_register(
        &self,
        key: &RegisterKey,
    ) -> StoreResult<Option<OrganisationRecord>>;
    async fn list_organisations(&self) -> StoreResult<Vec<OrganisationRecord>>;
    /// The pending letter of an organisation, if any.
    async fn org_letter(&self, organisation: &str) -> StoreResult<Option<OrgLetterRecord>>;
    /// Confirms the administrator with the letter's code: when `code_hash` is the pending,
    /// unexpired letter's, deletes the letter, sets `confirmed_at`, and gives the administrator
    /// `first_right` — one transaction. Otherwise counts a failure (deleting the letter after
    /// `max_failures`) and returns `false`.
    async fn confirm_organisation(
        &self,
        organisation: &str,
        code_hash: &SecretHash,
        first_right: &Right,
        max_failures: u32,
        now: OffsetDateTime,
        event: &OrgEvent,
    ) -> StoreResult<bool>;

    /// Puts a new letter in place of the one sent at `previous_sent_at` (`None`: when there is
    /// none, e.g. after too many wrong codes), while the organisation is unconfirmed — one
    /// transaction, compare-and-set: `false` when the letter changed meanwhile, a letter
    /// exists although `None` was given, or the organisation is confirmed.
    async fn replace_letter(
        &self,
        letter: &OrgLetterRecord,
        previous_sent_at: Option<OffsetDateTime>,
        event: &OrgEvent,
    ) -> StoreResult<bool>;

    async fn members(&self, organisation: &str) -> StoreResult<Vec<MembershipRecord>>;
    async fn memberships_of_user(&self, user_id: &str) -> StoreResult<Vec<MembershipRecord>>;
    /// `Conflict` if the person is a member already.
    async fn add_member(&self, member: &MembershipRecord, event: &OrgEvent) -> StoreResult<()>;
    /// Removes the membership and the member's rights. `NotFound` if not a member.
    async fn remove_member(
        &self,
        organisation: &str,
        user_id: &str,
        event: &OrgEvent,
    ) -> StoreResult<()>;
    /// Sets a member's role. `NotFound` if not a member; `Conflict` when it would leave the
    /// organisation without an administrator (checked under a lock on the organisation, so two
    /// administrators demoting each other at once cannot both succeed).
    async fn set_role(
        &self,
        organisation: &str,
        user_id: &str,
        role: Role,
        event: &OrgEvent,
    ) -> StoreResult<()>;

    /// `NotFound` if the person is not a member of the right's organisation.
    async fn grant_right(&self, right: &Right, event: &OrgEvent) -> StoreResult<()>;
    /// `NotFound` if the organisation has no such right.
    async fn revoke_right(&self, organisation: &str, id: &str, event: &OrgEvent)
    -> StoreResult<()>;
    async fn rights_of_org(&self, organisation: &str) -> StoreResult<Vec<Right>>;
    async fn rights_of_user(&self, user_id: &str) -> StoreResult<Vec<Right>>;
    async fn rights_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Right>>;

    /// Stores a new mandate; the event goes to every organisation among its parties.
    async fn create_mandate(&self, mandate: &Mandate, event: &OrgEvent) -> StoreResult<()>;
    async fn mandate(&self, id: &str) -> StoreResult<Option<Mandate>>;
    async fn mandates_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Mandate>>;
    /// Mandates where `party` is principal or agent.
    async fn mandates_of(&self, party: &Party) -> StoreResult<Vec<Mandate>>;
    async fn list_mandates(&self) -> StoreResult<Vec<Mandate>>;
    /// Accepts or revokes, compare-and-set (see [`MandateChange`]); `false` if the mandate is
    /// not in a state that allows it (or is gone). The event goes to every organisation among
    /// its parties.
    async fn change_mandate(
        &self,
        id: &str,
        change: MandateChange,
        now: OffsetDateTime,
        event: &OrgEvent,
    ) -> StoreResult<bool>;

    async fn create_invitation(
        &self,
        invitation: &OrgInvitationRecord,
        event: &OrgEvent,
    ) -> StoreResult<()>;
    /// A live invitation, without spending it (for the page that asks whether to join).
    async fn invitation(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<OrgInvitationRecord>>;
    /// Returns and deletes a live invitation: each works once.
    async fn take_invitation(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<OrgInvitationRecord>>;

    /// The organisation's record of changes, newest first, at most `limit`.
    async fn org_events(&self, organisation: &str, limit: u32) -> StoreResult<Vec<OrgEvent>>;
}

/// The facts [`konto_core::representation`] decides on, loaded from the store.
#[derive(Debug, Clone, Default)]
pub struct OwnedFacts {
    pub rights: Vec<Right>,
    pub organisations: Vec<OrgStanding>,
    pub mandates: Vec<Mandate>,
}

impl OwnedFacts {
    pub fn facts(&self) -> Facts<'_> {
        Facts {
            rights: &self.rights,
            organisations: &self.organisations,
            mandates: &self.mandates,
        }
    }

    /// Adds the mandates that `self.mandates` pass on, up to the longest chain allowed.
    async fn with_parents(mut self, store: &(impl OrgRepo + ?Sized)) -> StoreResult<Self> {
        for _ in 0..MAX_MANDATES_IN_CHAIN {
            let missing: Vec<String> = self
                .mandates
                .iter()
                .filter_map(|m| m.parent.clone())
                .filter(|p| !self.mandates.iter().any(|m| &m.id == p))
                .collect();
            if missing.is_empty() {
                break;
            }
            self.mandates.extend(store.mandates_by_ids(&missing).await?);
        }
        Ok(self)
    }

    async fn with_organisations(
        mut self,
        store: &(impl OrgRepo + ?Sized),
        user_id: &str,
        memberships: &[MembershipRecord],
    ) -> StoreResult<Self> {
        let mut ids: Vec<&str> = self
            .rights
            .iter()
            .map(|r| r.organisation.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            if let Some(org) = store.organisation(id).await? {
                self.organisations.push(OrgStanding {
                    id: org.id,
                    confirmed: org.confirmed_at.is_some(),
                    user_is_legal_representative: memberships.iter().any(|m| {
                        m.organisation == id && m.user_id == user_id && m.legal_representative
                    }),
                });
            }
        }
        Ok(self)
    }
}

/// Everything that may connect `user_id` to someone they act for: their rights, the
/// organisations those are in, the mandates they hold themselves or act under, and what those
/// pass on.
pub async fn facts_for_user(
    store: &(impl OrgRepo + ?Sized),
    user_id: &str,
) -> StoreResult<OwnedFacts> {
    let rights = store.rights_of_user(user_id).await?;
    let memberships = store.memberships_of_user(user_id).await?;
    let mut mandates = store
        .mandates_of(&Party::Person(user_id.to_owned()))
        .await?;
    let under: Vec<String> = rights.iter().filter_map(|r| r.mandate.clone()).collect();
    if !under.is_empty() {
        mandates.extend(store.mandates_by_ids(&under).await?);
    }
    OwnedFacts {
        rights,
        organisations: Vec::new(),
        mandates,
    }
    .with_parents(store)
    .await?
    .with_organisations(store, user_id, &memberships)
    .await
}

/// Mandate `id` with the mandates it was passed on from, nearest first, at most
/// [`MAX_MANDATES_IN_CHAIN`] + 1 deep (a
/// longer chain cannot hold, so reading further is pointless). Empty when `id` is unknown.
pub async fn mandate_with_ancestors(
    store: &(impl OrgRepo + ?Sized),
    id: &str,
) -> StoreResult<Vec<Mandate>> {
    let mut out: Vec<Mandate> = Vec::new();
    let mut next = Some(id.to_owned());
    while let Some(id) = next.take() {
        if out.len() > MAX_MANDATES_IN_CHAIN || out.iter().any(|m| m.id == id) {
            break;
        }
        let Some(m) = store.mandate(&id).await? else {
            break;
        };
        next = m.parent.clone();
        out.push(m);
    }
    Ok(out)
}

/// The facts behind one representation's chain, to check that it still holds.
pub async fn facts_for_chain(
    store: &(impl OrgRepo + ?Sized),
    representation: &Representation,
) -> StoreResult<OwnedFacts> {
    let mut right_ids = Vec::new();
    let mut mandate_ids = Vec::new();
    for link in &representation.chain {
        match link {
            Link::Right(id) => right_ids.push(id.clone()),
            Link::Mandate(id) => mandate_ids.push(id.clone()),
        }
    }
    let rights = store.rights_by_ids(&right_ids).await?;
    let mandates = store.mandates_by_ids(&mandate_ids).await?;
    OwnedFacts {
        rights,
        organisations: Vec::new(),
        mandates,
    }
    .with_organisations(store, &representation.actor, &[])
    .await
}
