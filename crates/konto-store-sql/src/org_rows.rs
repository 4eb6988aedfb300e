//! The rows of the organisation tables and their decoding into records: a value the domain
//! types refuse is `Corrupt`, named by its column.

use konto_core::Level;
use konto_core::org::{Euid, OrgEvidence, RegisterKey, WirtschaftsId};
use konto_core::representation::{Mandate, Party, Right, Role, ServiceScope, Side};
use konto_core::secret::SecretHash;
use konto_store::{
    MembershipRecord, OrgAddress, OrgEvent, OrgInvitationRecord, OrgLetterRecord,
    OrganisationRecord, StoreError,
};

use crate::{from_json, from_opt_ts, from_ts};

macro_rules! org_columns {
    () => {
        "id, name, legal_form, wirtschafts_id, register_court, register_type, register_number, \
         euid, address, level, evidence, postbox_handle, created_at, confirmed_at"
    };
}

macro_rules! member_columns {
    () => {
        "organisation, user_id, role, legal_representative, joined_at"
    };
}

macro_rules! right_columns {
    () => {
        "id, organisation, user_id, scope, mandate, granted_at"
    };
}

macro_rules! mandate_columns {
    () => {
        "id, principal_type, principal_id, agent_type, agent_id, scope, valid_from, valid_until, \
         redelegation, parent, offered_by, evidence, created_at, accepted_at, objection_until, \
         revoked_at"
    };
}

macro_rules! letter_columns {
    () => {
        "organisation, user_id, code_hash, reference, sent_at, expires_at, failures"
    };
}

macro_rules! invitation_columns {
    () => {
        "hash, organisation, email, role, invited_by, expires_at"
    };
}

pub(crate) fn corrupt_column(column: &str) -> StoreError {
    StoreError::Corrupt(column.to_owned())
}

/// The key that makes one organisation of one piece of evidence (one ELSTER organisation
/// certificate, one organisation); `None` for evidence whose identifier has a column of its own
/// (the register key) or none (an operator's check).
pub(crate) fn evidence_key(evidence: &OrgEvidence) -> Option<String> {
    match evidence {
        OrgEvidence::ElsterCertificate { holder_id } => Some(format!("elster:{holder_id}")),
        OrgEvidence::RegisterMatch { .. } | OrgEvidence::Operator { .. } => None,
    }
}

pub(crate) fn side_str(side: Side) -> &'static str {
    match side {
        Side::Principal => "principal",
        Side::Agent => "agent",
    }
}

fn parse_side(s: &str) -> Result<Side, StoreError> {
    match s {
        "principal" => Ok(Side::Principal),
        "agent" => Ok(Side::Agent),
        _ => Err(corrupt_column("offered_by")),
    }
}

pub(crate) fn party(kind: &str, id: String, column: &str) -> Result<Party, StoreError> {
    match kind {
        "person" => Ok(Party::Person(id)),
        "organisation" => Ok(Party::Organisation(id)),
        _ => Err(corrupt_column(column)),
    }
}

fn level(s: &str, column: &str) -> Result<Level, StoreError> {
    s.parse::<Level>().map_err(|_| corrupt_column(column))
}

fn role(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| corrupt_column("role"))
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrgRow {
    id: String,
    name: String,
    legal_form: String,
    wirtschafts_id: Option<String>,
    register_court: Option<String>,
    register_type: Option<String>,
    register_number: Option<String>,
    euid: Option<String>,
    address: String,
    level: String,
    evidence: String,
    postbox_handle: String,
    created_at: i64,
    confirmed_at: Option<i64>,
}

impl TryFrom<OrgRow> for OrganisationRecord {
    type Error = StoreError;
    fn try_from(r: OrgRow) -> Result<Self, StoreError> {
        let register = match (r.register_court, r.register_type, r.register_number) {
            (Some(court), Some(kind), Some(number)) => Some(RegisterKey {
                court,
                kind: kind.parse().map_err(|_| corrupt_column("register_type"))?,
                number,
            }),
            (None, None, None) => None,
            _ => return Err(corrupt_column("register_court")),
        };
        Ok(OrganisationRecord {
            id: r.id,
            name: r.name,
            legal_form: r.legal_form,
            wirtschafts_id: r
                .wirtschafts_id
                .map(|w| w.parse::<WirtschaftsId>())
                .transpose()
                .map_err(|_| corrupt_column("wirtschafts_id"))?,
            register,
            euid: r
                .euid
                .map(|e| e.parse::<Euid>())
                .transpose()
                .map_err(|_| corrupt_column("euid"))?,
            address: from_json::<OrgAddress>(&r.address, "address")?,
            level: level(&r.level, "level")?,
            evidence: from_json::<OrgEvidence>(&r.evidence, "evidence")?,
            postbox_handle: r.postbox_handle,
            created_at: from_ts(r.created_at)?,
            confirmed_at: from_opt_ts(r.confirmed_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    organisation: String,
    user_id: String,
    role: String,
    legal_representative: bool,
    joined_at: i64,
}

impl TryFrom<MemberRow> for MembershipRecord {
    type Error = StoreError;
    fn try_from(r: MemberRow) -> Result<Self, StoreError> {
        Ok(MembershipRecord {
            organisation: r.organisation,
            user_id: r.user_id,
            role: role(&r.role)?,
            legal_representative: r.legal_representative,
            joined_at: from_ts(r.joined_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RightRow {
    id: String,
    organisation: String,
    user_id: String,
    scope: String,
    mandate: Option<String>,
    granted_at: i64,
}

impl TryFrom<RightRow> for Right {
    type Error = StoreError;
    fn try_from(r: RightRow) -> Result<Self, StoreError> {
        Ok(Right {
            id: r.id,
            organisation: r.organisation,
            user_id: r.user_id,
            scope: from_json::<ServiceScope>(&r.scope, "scope")?,
            mandate: r.mandate,
            granted_at: from_ts(r.granted_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MandateRow {
    id: String,
    principal_type: String,
    principal_id: String,
    agent_type: String,
    agent_id: String,
    scope: String,
    valid_from: i64,
    valid_until: Option<i64>,
    redelegation: i64,
    parent: Option<String>,
    offered_by: String,
    evidence: Option<String>,
    created_at: i64,
    accepted_at: Option<i64>,
    objection_until: Option<i64>,
    revoked_at: Option<i64>,
}

impl TryFrom<MandateRow> for Mandate {
    type Error = StoreError;
    fn try_from(r: MandateRow) -> Result<Self, StoreError> {
        Ok(Mandate {
            id: r.id,
            principal: party(&r.principal_type, r.principal_id, "principal_type")?,
            agent: party(&r.agent_type, r.agent_id, "agent_type")?,
            scope: from_json::<ServiceScope>(&r.scope, "scope")?,
            valid_from: from_ts(r.valid_from)?,
            valid_until: from_opt_ts(r.valid_until)?,
            redelegation: u8::try_from(r.redelegation)
                .map_err(|_| corrupt_column("redelegation"))?,
            parent: r.parent,
            offered_by: parse_side(&r.offered_by)?,
            evidence: r.evidence,
            created_at: from_ts(r.created_at)?,
            accepted_at: from_opt_ts(r.accepted_at)?,
            objection_until: from_opt_ts(r.objection_until)?,
            revoked_at: from_opt_ts(r.revoked_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LetterRow {
    organisation: String,
    user_id: String,
    code_hash: String,
    reference: String,
    sent_at: i64,
    expires_at: i64,
    failures: i64,
}

impl TryFrom<LetterRow> for OrgLetterRecord {
    type Error = StoreError;
    fn try_from(r: LetterRow) -> Result<Self, StoreError> {
        Ok(OrgLetterRecord {
            organisation: r.organisation,
            user_id: r.user_id,
            code_hash: SecretHash::from_stored(r.code_hash),
            reference: r.reference,
            sent_at: from_ts(r.sent_at)?,
            expires_at: from_ts(r.expires_at)?,
            failures: u32::try_from(r.failures).map_err(|_| corrupt_column("failures"))?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct InvitationRow {
    hash: String,
    organisation: String,
    email: String,
    role: String,
    invited_by: String,
    expires_at: i64,
}

impl TryFrom<InvitationRow> for OrgInvitationRecord {
    type Error = StoreError;
    fn try_from(r: InvitationRow) -> Result<Self, StoreError> {
        Ok(OrgInvitationRecord {
            hash: SecretHash::from_stored(r.hash),
            organisation: r.organisation,
            email: r.email,
            role: role(&r.role)?,
            invited_by: r.invited_by,
            expires_at: from_ts(r.expires_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    organisation: String,
    at: i64,
    actor: Option<String>,
    actor_level: Option<String>,
    action: String,
    detail: String,
}

impl TryFrom<EventRow> for OrgEvent {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        Ok(OrgEvent {
            organisation: r.organisation,
            at: from_ts(r.at)?,
            actor: r.actor,
            actor_level: r
                .actor_level
                .map(|l| level(&l, "actor_level"))
                .transpose()?,
            action: r.action,
            detail: r.detail,
        })
    }
}
