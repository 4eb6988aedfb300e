//! Organisation accounts, their members and rights, and mandates.
//!
//! - **Creating** an organisation needs a person signed in at `substantial` or more whose
//!   identity data came from the eID card or an ELSTER certificate: konto fetches the register
//!   entry through the configured [`RegisterSource`] and matches the person against its legal
//!   representatives ([`konto_core::org::matching_representative`]). The person becomes the
//!   first administrator, but the organisation grants nothing until the administrator enters
//!   the code from a letter konto sends to the organisation's management (a PDF, written by
//!   the configured [`LetterBox`]).
//! - **Administrators** (at `substantial` or more) invite members by e-mail, give them rights
//!   per service or group of services, offer, accept and end mandates. Every change is recorded
//!   with who did it at which level, in the same transaction (`OrgRepo` takes the event).
//! - **Mandates** pass from a principal (an organisation whose administrator acts, or the
//!   person themselves) to an agent (an organisation, or a person). Offered by the principal,
//!   they are in force once the agent accepts; registered by the agent (a tax adviser), once the
//!   principal confirms or when the objection period ends. Either side ends one at once.

mod mandates;
mod members;
pub mod representation;

use std::sync::Arc;

use konto_authn::register::{EntryStatus, RegisterEntry, RegisterSource};
use konto_core::Level;
use konto_core::attributes::{Attribute, AttributeName, AttributeSource};
use konto_core::org::{OrgEvidence, RegisterKey, matching_representative};
use konto_core::representation::{Party, Right, Role, ServiceScope};
use konto_core::secret::SecretPurpose;
use konto_keys::random;
use konto_letter::{ConfirmationLetter, Language};
use konto_store::{
    Confirmation, MembershipRecord, OrgEvent, OrgLetterRecord, OrganisationRecord, StoreError,
};
use time::OffsetDateTime;

use crate::Services;
use crate::error::ServiceError;
use crate::login::CertOutcome;

pub use mandates::{NewMandate, PartyRef};
pub use members::{MemberView, OrgOverview};

/// The level an organisation's administration needs: what Mein Unternehmenskonto asks
/// (an ELSTER certificate).
pub const ADMIN_LEVEL: Level = Level::Substantial;

/// The refusal code for a person's certificate where an organisation's is needed.
pub const PERSON_CERTIFICATE: &str = "person_certificate";

/// How long a letter that may still arrive is waited for before another can be asked for.
pub const LETTER_RESEND_AFTER: time::Duration = time::Duration::days(7);

/// The person doing something, with the level their session holds now.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub level: Level,
}

/// The organisation service.
#[derive(Clone)]
pub struct OrgService {
    pub(crate) s: Arc<Services>,
}

impl std::fmt::Debug for OrgService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrgService")
    }
}

/// A new organisation, waiting for its letter.
#[derive(Debug, Clone)]
pub struct OrgCreated {
    pub organisation: OrganisationRecord,
    /// Where the confirmation letter went (none when the organisation was confirmed by its
    /// certificate).
    pub letter_reference: Option<String>,
}

/// Letters of the confirmation code: no 0/O, 1/I/L.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A 12-character confirmation code in three groups (about 59 bits).
fn confirmation_code() -> Result<String, ServiceError> {
    let bytes = random::bytes::<12>()?;
    let mut code = String::with_capacity(14);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        // 256 is not a multiple of 31; the bias (< 1 %) costs less than a bit of the 59
        code.push(char::from(
            CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()],
        ));
    }
    Ok(code)
}

/// A typed code as the letter prints it: case, spaces and hyphens aside.
fn normalise_code(code: &str) -> String {
    let bare: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect();
    bare.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

fn attribute(attrs: &[Attribute], name: AttributeName) -> Option<&Attribute> {
    attrs.iter().find(|a| a.name == name)
}

impl OrgService {
    pub fn new(services: Arc<Services>) -> OrgService {
        OrgService { s: services }
    }

    fn now(&self) -> OffsetDateTime {
        self.s.clock.now()
    }

    pub(crate) fn event(
        &self,
        organisation: &str,
        actor: Option<&Actor>,
        action: &str,
        detail: serde_json::Value,
    ) -> OrgEvent {
        OrgEvent {
            organisation: organisation.to_owned(),
            at: self.now(),
            actor: actor.map(|a| a.user_id.clone()),
            actor_level: actor.map(|a| a.level),
            action: action.to_owned(),
            detail: detail.to_string(),
        }
    }

    fn register(&self) -> Result<&Arc<dyn RegisterSource>, ServiceError> {
        self.s.register.as_ref().ok_or(ServiceError::NotAvailable)
    }

    /// Looks up a register entry (for the page that shows what will be created).
    pub async fn lookup(&self, key: &RegisterKey) -> Result<RegisterEntry, ServiceError> {
        match self.register()?.lookup(key).await {
            Ok(Some(e)) if e.status == EntryStatus::Active => Ok(e),
            Ok(_) => Err(ServiceError::NotInRegister),
            Err(e) => {
                tracing::warn!(error = %e, "the commercial register could not be asked");
                Err(ServiceError::RegisterUnavailable)
            }
        }
    }

    /// Creates the organisation of register entry `key` with `actor` as its first
    /// administrator, when the actor's verified identity matches one of the entry's legal
    /// representatives; sends the confirmation letter.
    pub async fn create_from_register(
        &self,
        actor: &Actor,
        key: &RegisterKey,
        language: Language,
    ) -> Result<OrgCreated, ServiceError> {
        if actor.level < ADMIN_LEVEL {
            return Err(ServiceError::LevelTooLow {
                needed: ADMIN_LEVEL,
            });
        }
        let attrs = self.s.store.attributes(&actor.user_id).await?;
        let verified = |name| {
            attribute(&attrs, name)
                .filter(|a| a.level >= ADMIN_LEVEL && a.source != AttributeSource::SelfAsserted)
        };
        let (Some(family), Some(given), Some(birth)) = (
            verified(AttributeName::FamilyName),
            verified(AttributeName::GivenName),
            verified(AttributeName::BirthDate),
        ) else {
            return Err(ServiceError::IdentityNotVerified);
        };
        let entry = self.lookup(key).await?;
        let Some(rep) = matching_representative(
            &entry.representatives,
            &family.value,
            &given.value,
            &birth.value,
        ) else {
            tracing::info!(register = %key, "a person asked for an organisation they do not represent");
            return Err(ServiceError::NotARepresentative);
        };
        if self.s.store.organisation_by_register(key).await?.is_some() {
            return Err(ServiceError::OrganisationExists);
        }
        let identity_level = family.level.min(given.level).min(birth.level);
        let evidence = OrgEvidence::RegisterMatch {
            key: key.clone(),
            fetched_at: entry
                .retrieved_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            role: rep.role.clone(),
        };
        let now = self.now();
        let org = OrganisationRecord {
            id: random::id()?,
            name: entry.name.clone(),
            legal_form: entry.legal_form.clone(),
            wirtschafts_id: entry.wirtschafts_id.clone(),
            register: Some(key.clone()),
            euid: entry.euid.clone(),
            address: konto_store::OrgAddress {
                street: entry.address.street.clone(),
                postal_code: entry.address.postal_code.clone(),
                locality: entry.address.locality.clone(),
                country: entry.address.country.clone(),
            },
            level: evidence.level(identity_level),
            evidence,
            postbox_handle: random::uuid()?,
            created_at: now,
            confirmed_at: None,
        };
        let requested_by = format!("{} {}", given.value, family.value);
        self.create(actor, org, true, &requested_by, language).await
    }

    /// Creates the organisation an organisation ELSTER certificate names, with `actor` (who
    /// presented it, signed in as themselves) as its first administrator. The certificate was
    /// sent to the company by ELSTER after its own checks, so holding it confirms the
    /// administrator: the organisation is confirmed at once, without a letter (as in Mein
    /// Unternehmenskonto). A person's certificate or a refused one creates nothing.
    pub async fn create_from_certificate(
        &self,
        actor: &Actor,
        outcome: CertOutcome,
    ) -> Result<OrgCreated, ServiceError> {
        if actor.level < ADMIN_LEVEL {
            return Err(ServiceError::LevelTooLow {
                needed: ADMIN_LEVEL,
            });
        }
        let (holder_id, certified) = match outcome {
            CertOutcome::Organisation {
                holder_id,
                organisation,
            } => (holder_id, organisation),
            CertOutcome::Verified { .. } => {
                return Err(ServiceError::Certificate(PERSON_CERTIFICATE.into()));
            }
            CertOutcome::Refused { code } => return Err(ServiceError::Certificate(code)),
        };
        let evidence = OrgEvidence::ElsterCertificate { holder_id };
        let now = self.now();
        let org = OrganisationRecord {
            id: random::id()?,
            name: certified.name.clone(),
            // the certificate names neither the legal form nor the address
            legal_form: String::new(),
            // DE + nine digits, the W-IdNr. without a distinguishing feature
            wirtschafts_id: certified.vat_number().and_then(|v| v.parse().ok()),
            register: None,
            euid: None,
            address: konto_store::OrgAddress {
                street: String::new(),
                postal_code: String::new(),
                locality: String::new(),
                country: "DE".into(),
            },
            level: evidence.level(ADMIN_LEVEL),
            evidence,
            postbox_handle: random::uuid()?,
            created_at: now,
            confirmed_at: Some(now),
        };
        let member = MembershipRecord {
            organisation: org.id.clone(),
            user_id: actor.user_id.clone(),
            role: Role::Administrator,
            // the certificate says nothing about who holds it within the company
            legal_representative: false,
            joined_at: now,
        };
        let first_right = Right {
            id: random::id()?,
            organisation: org.id.clone(),
            user_id: actor.user_id.clone(),
            scope: ServiceScope::All,
            mandate: None,
            granted_at: now,
        };
        let event = self.event(
            &org.id,
            Some(actor),
            "organisation_created",
            serde_json::json!({
                "evidence": org.evidence,
                "certificate_identifier": certified.identifier,
                "right": first_right.id,
            }),
        );
        match self
            .s
            .store
            .create_organisation(&org, &member, Confirmation::Confirmed(&first_right), &event)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(ServiceError::OrganisationExists),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(organisation = %org.id, "organisation created from its ELSTER certificate");
        Ok(OrgCreated {
            organisation: org,
            letter_reference: None,
        })
    }

    /// Creates an organisation an operator checked (the CLI), with `user_id` as its first
    /// administrator; the letter goes out as for any other.
    pub async fn create_by_operator(
        &self,
        org: OrganisationRecord,
        admin_user_id: &str,
        language: Language,
    ) -> Result<OrgCreated, ServiceError> {
        let user = self
            .s
            .store
            .user(admin_user_id)
            .await?
            .ok_or(ServiceError::Invalid("no such account".into()))?;
        let actor = Actor {
            user_id: user.id.clone(),
            level: Level::Basic,
        };
        self.create(&actor, org, false, &user.username, language)
            .await
    }

    /// Renders the confirmation letter for `org` with a new code and hands it to the letter
    /// box; the code and where the letter went.
    async fn send_letter(
        &self,
        org: &OrganisationRecord,
        requested_by: &str,
        language: Language,
        now: OffsetDateTime,
    ) -> Result<(String, String), ServiceError> {
        let code = confirmation_code()?;
        let ttl = self.s.config.orgs.letter_ttl;
        let letter = ConfirmationLetter {
            language,
            recipient_lines: {
                let mut lines = vec![
                    match language {
                        Language::De => "An die Geschäftsführung".to_owned(),
                        Language::En => "To the management".to_owned(),
                    },
                    org.name.clone(),
                ];
                if !org.address.street.is_empty() {
                    lines.push(org.address.street.clone());
                }
                let city = format!("{} {}", org.address.postal_code, org.address.locality);
                if !city.trim().is_empty() {
                    lines.push(city.trim().to_owned());
                }
                lines
            },
            organisation_name: org.name.clone(),
            register_entry: org
                .register
                .as_ref()
                .map(|k| format!("Registergericht {k}")),
            requested_by: requested_by.to_owned(),
            code: code.clone(),
            revocation_hint: true,
            issued_on: now.date(),
            valid_until: (now + ttl).date(),
            issuer_name: self.s.config.product_name.clone(),
            issuer_url: format!(
                "{}/org/{}",
                self.s.config.issuer.as_str().trim_end_matches('/'),
                org.id
            ),
        };
        let pdf = konto_letter::render(&letter)
            .map_err(|e| ServiceError::Internal(format!("letter: {e}")))?;
        let reference = self
            .s
            .letters
            .send(&org.id, pdf)
            .await
            .map_err(|e| ServiceError::Internal(format!("letter: {e}")))?;
        Ok((code, reference))
    }

    async fn create(
        &self,
        actor: &Actor,
        org: OrganisationRecord,
        legal_representative: bool,
        requested_by: &str,
        language: Language,
    ) -> Result<OrgCreated, ServiceError> {
        let now = self.now();
        let (code, reference) = self.send_letter(&org, requested_by, language, now).await?;
        let ttl = self.s.config.orgs.letter_ttl;
        let member = MembershipRecord {
            organisation: org.id.clone(),
            user_id: actor.user_id.clone(),
            role: Role::Administrator,
            legal_representative,
            joined_at: now,
        };
        let record = OrgLetterRecord {
            organisation: org.id.clone(),
            user_id: actor.user_id.clone(),
            code_hash: self.s.hasher.hash(SecretPurpose::OrgLetter, &code),
            reference: reference.clone(),
            sent_at: now,
            expires_at: now + ttl,
            failures: 0,
        };
        let event = self.event(
            &org.id,
            Some(actor),
            "organisation_created",
            serde_json::json!({ "evidence": org.evidence, "letter": reference }),
        );
        match self
            .s
            .store
            .create_organisation(&org, &member, Confirmation::Letter(&record), &event)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(ServiceError::OrganisationExists),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(organisation = %org.id, "organisation created; confirmation letter sent");
        Ok(OrgCreated {
            organisation: org,
            letter_reference: Some(reference),
        })
    }

    /// A new confirmation letter for an unconfirmed organisation, asked for by its first
    /// administrator: when the last one was void (too many wrong codes), has expired, or was
    /// sent at least [`LETTER_RESEND_AFTER`] ago (lost in the post). The new code replaces the
    /// old one; of parallel requests one sends a letter that counts.
    pub async fn resend_letter(
        &self,
        actor: &Actor,
        organisation: &str,
        language: Language,
    ) -> Result<(), ServiceError> {
        let (org, membership) = self.membership(actor, organisation).await?;
        if membership.role != Role::Administrator || org.confirmed_at.is_some() {
            return Err(ServiceError::NotAllowed);
        }
        let now = self.now();
        let previous = self.s.store.org_letter(organisation).await?;
        if let Some(l) = &previous {
            if l.user_id != actor.user_id {
                return Err(ServiceError::NotAllowed);
            }
            let usable = l.expires_at > now && l.failures < self.s.config.orgs.letter_max_failures;
            if usable && now - l.sent_at < LETTER_RESEND_AFTER {
                return Err(ServiceError::LetterPending);
            }
        }
        let requested_by = self
            .party_name(&konto_core::representation::Party::Person(
                actor.user_id.clone(),
            ))
            .await?;
        let (code, reference) = self.send_letter(&org, &requested_by, language, now).await?;
        let record = OrgLetterRecord {
            organisation: org.id.clone(),
            user_id: actor.user_id.clone(),
            code_hash: self.s.hasher.hash(SecretPurpose::OrgLetter, &code),
            reference: reference.clone(),
            sent_at: now,
            expires_at: now + self.s.config.orgs.letter_ttl,
            failures: 0,
        };
        let event = self.event(
            &org.id,
            Some(actor),
            "letter_sent",
            serde_json::json!({ "letter": reference }),
        );
        if !self
            .s
            .store
            .replace_letter(&record, previous.map(|l| l.sent_at), &event)
            .await?
        {
            // a parallel request sent one first; this letter's code will not work
            return Err(ServiceError::LetterPending);
        }
        tracing::info!(organisation = %org.id, "confirmation letter sent again");
        Ok(())
    }

    /// The first administrator enters the letter's code: the organisation is confirmed and the
    /// administrator may act for it in every service.
    pub async fn confirm(
        &self,
        actor: &Actor,
        organisation: &str,
        code: &str,
    ) -> Result<(), ServiceError> {
        let letter = self
            .s
            .store
            .org_letter(organisation)
            .await?
            .ok_or(ServiceError::BadCode)?;
        if letter.user_id != actor.user_id {
            return Err(ServiceError::NotAllowed);
        }
        let code = normalise_code(code);
        if code.len() > 20 {
            return Err(ServiceError::BadCode);
        }
        let first_right = Right {
            id: random::id()?,
            organisation: organisation.to_owned(),
            user_id: actor.user_id.clone(),
            scope: ServiceScope::All,
            mandate: None,
            granted_at: self.now(),
        };
        let event = self.event(
            organisation,
            Some(actor),
            "administrator_confirmed",
            serde_json::json!({ "right": first_right.id }),
        );
        let ok = self
            .s
            .store
            .confirm_organisation(
                organisation,
                &self.s.hasher.hash(SecretPurpose::OrgLetter, &code),
                &first_right,
                self.s.config.orgs.letter_max_failures,
                self.now(),
                &event,
            )
            .await?;
        if ok {
            Ok(())
        } else {
            Err(ServiceError::BadCode)
        }
    }

    /// The organisation, if `actor` is a member.
    pub(crate) async fn membership(
        &self,
        actor: &Actor,
        organisation: &str,
    ) -> Result<(OrganisationRecord, MembershipRecord), ServiceError> {
        let memberships = self.s.store.memberships_of_user(&actor.user_id).await?;
        let m = memberships
            .into_iter()
            .find(|m| m.organisation == organisation)
            .ok_or(ServiceError::NotAllowed)?;
        let org = self
            .s
            .store
            .organisation(organisation)
            .await?
            .ok_or(ServiceError::NotAllowed)?;
        Ok((org, m))
    }

    /// The organisation, if `actor` administers it now: a confirmed organisation, an
    /// administrator's membership, and a session at [`ADMIN_LEVEL`].
    pub(crate) async fn administered(
        &self,
        actor: &Actor,
        organisation: &str,
    ) -> Result<OrganisationRecord, ServiceError> {
        let (org, m) = self.membership(actor, organisation).await?;
        if m.role != Role::Administrator {
            return Err(ServiceError::NotAllowed);
        }
        if org.confirmed_at.is_none() {
            return Err(ServiceError::NotConfirmed);
        }
        if actor.level < ADMIN_LEVEL {
            return Err(ServiceError::LevelTooLow {
                needed: ADMIN_LEVEL,
            });
        }
        Ok(org)
    }

    /// Whether `actor` may speak for `party`: themselves, or an organisation they administer.
    pub(crate) async fn controls(
        &self,
        actor: &Actor,
        party: &Party,
    ) -> Result<bool, ServiceError> {
        match party {
            Party::Person(id) => Ok(*id == actor.user_id),
            Party::Organisation(id) => match self.administered(actor, id).await {
                Ok(_) => Ok(true),
                Err(ServiceError::NotAllowed) => Ok(false),
                Err(e) => Err(e),
            },
        }
    }

    /// The organisations `user_id` belongs to, with their membership.
    pub async fn organisations_of(
        &self,
        user_id: &str,
    ) -> Result<Vec<(OrganisationRecord, MembershipRecord)>, ServiceError> {
        let mut out = Vec::new();
        for m in self.s.store.memberships_of_user(user_id).await? {
            if let Some(org) = self.s.store.organisation(&m.organisation).await? {
                out.push((org, m));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped_and_typed_codes_normalised() {
        let c = confirmation_code().unwrap();
        assert_eq!(c.len(), 14);
        assert_eq!(c.matches('-').count(), 2);
        assert!(c.bytes().all(|b| b == b'-' || CODE_ALPHABET.contains(&b)));
        assert_eq!(normalise_code(" k7qf 2mxd-9pla "), "K7QF-2MXD-9PLA");
        assert_eq!(normalise_code(&c.to_lowercase()), c);
    }
}
