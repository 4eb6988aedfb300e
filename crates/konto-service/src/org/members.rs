//! Members, invitations and rights.

use konto_core::representation::{Mandate, Right, Role, ServiceScope};
use konto_core::secret::SecretPurpose;
use konto_keys::random;
use konto_store::{
    MembershipRecord, OrgEvent, OrgInvitationRecord, OrgLetterRecord, OrganisationRecord,
    StoreError,
};

use super::{Actor, OrgService};
use crate::account::normalise_email;
use crate::error::ServiceError;

/// A member as the organisation's pages show them.
#[derive(Debug, Clone)]
pub struct MemberView {
    pub membership: MembershipRecord,
    pub username: String,
    pub rights: Vec<Right>,
}

/// What a member sees of their organisation; administrators see members, rights, mandates and
/// the record of changes too.
#[derive(Debug, Clone)]
pub struct OrgOverview {
    pub organisation: OrganisationRecord,
    pub membership: MembershipRecord,
    /// The actor's own rights.
    pub my_rights: Vec<Right>,
    /// For administrators.
    pub members: Vec<MemberView>,
    pub mandates: Vec<Mandate>,
    pub events: Vec<OrgEvent>,
    pub pending_letter: Option<OrgLetterRecord>,
}

impl OrgService {
    /// The organisation as `actor` may see it.
    pub async fn overview(
        &self,
        actor: &Actor,
        organisation: &str,
    ) -> Result<OrgOverview, ServiceError> {
        let (org, membership) = self.membership(actor, organisation).await?;
        let my_rights = self
            .s
            .store
            .rights_of_user(&actor.user_id)
            .await?
            .into_iter()
            .filter(|r| r.organisation == organisation)
            .collect();
        let pending_letter = self.s.store.org_letter(organisation).await?;
        let mut overview = OrgOverview {
            organisation: org,
            membership,
            my_rights,
            members: Vec::new(),
            mandates: Vec::new(),
            events: Vec::new(),
            pending_letter,
        };
        if overview.membership.role != Role::Administrator {
            return Ok(overview);
        }
        let rights = self.s.store.rights_of_org(organisation).await?;
        for m in self.s.store.members(organisation).await? {
            let username = self
                .s
                .store
                .user(&m.user_id)
                .await?
                .map(|u| u.username)
                .unwrap_or_default();
            overview.members.push(MemberView {
                rights: rights
                    .iter()
                    .filter(|r| r.user_id == m.user_id)
                    .cloned()
                    .collect(),
                membership: m,
                username,
            });
        }
        overview.mandates = self
            .s
            .store
            .mandates_of(&konto_core::representation::Party::Organisation(
                organisation.to_owned(),
            ))
            .await?;
        overview.events = self.s.store.org_events(organisation, 100).await?;
        Ok(overview)
    }

    /// Invites `email` into the organisation; the link goes to that address.
    pub async fn invite(
        &self,
        actor: &Actor,
        organisation: &str,
        email: &str,
        role: Role,
    ) -> Result<(), ServiceError> {
        let org = self.administered(actor, organisation).await?;
        let email = normalise_email(email)?;
        let token = random::secret()?;
        let invitation = OrgInvitationRecord {
            hash: self
                .s
                .hasher
                .hash(SecretPurpose::OrgInvitation, token.expose()),
            organisation: organisation.to_owned(),
            email: email.clone(),
            role,
            invited_by: actor.user_id.clone(),
            expires_at: self.now() + self.s.config.orgs.invitation_ttl,
        };
        let event = self.event(
            organisation,
            Some(actor),
            "member_invited",
            serde_json::json!({ "role": role.as_str() }),
        );
        self.s.store.create_invitation(&invitation, &event).await?;
        let link = format!(
            "{}/org/join?token={}",
            self.s.config.issuer.as_str().trim_end_matches('/'),
            token.expose()
        );
        let subject = format!("Einladung: {} / Invitation: {}", org.name, org.name);
        let body = format!(
            "Sie wurden eingeladen, im Konto der Organisation „{name}“ mitzuwirken.\n\
             Melden Sie sich mit Ihrem eigenen Konto an und folgen Sie diesem Link:\n\n{link}\n\n\
             You were invited to work in the account of the organisation \"{name}\".\n\
             Sign in with your own account and follow the link above.\n",
            name = org.name
        );
        if let Err(e) = self.s.mailer.send(&email, &subject, &body).await {
            tracing::warn!(error = %e, "the invitation e-mail could not be sent");
            return Err(ServiceError::Unavailable);
        }
        Ok(())
    }

    /// The signed-in person follows an invitation link and joins; returns the organisation.
    /// The organisation an invitation link leads to, and the role it offers, without spending
    /// the link: the join page names them before the person agrees.
    pub async fn invitation(
        &self,
        token: &str,
    ) -> Result<(OrganisationRecord, Role), ServiceError> {
        if token.is_empty() || token.len() > 64 {
            return Err(ServiceError::BadLink);
        }
        let invitation = self
            .s
            .store
            .invitation(
                &self.s.hasher.hash(SecretPurpose::OrgInvitation, token),
                self.now(),
            )
            .await?
            .ok_or(ServiceError::BadLink)?;
        let org = self
            .s
            .store
            .organisation(&invitation.organisation)
            .await?
            .ok_or(ServiceError::BadLink)?;
        Ok((org, invitation.role))
    }

    pub async fn join(&self, actor: &Actor, token: &str) -> Result<String, ServiceError> {
        if token.is_empty() || token.len() > 64 {
            return Err(ServiceError::BadLink);
        }
        let invitation = self
            .s
            .store
            .take_invitation(
                &self.s.hasher.hash(SecretPurpose::OrgInvitation, token),
                self.now(),
            )
            .await?
            .ok_or(ServiceError::BadLink)?;
        let member = MembershipRecord {
            organisation: invitation.organisation.clone(),
            user_id: actor.user_id.clone(),
            role: invitation.role,
            legal_representative: false,
            joined_at: self.now(),
        };
        let event = self.event(
            &invitation.organisation,
            Some(actor),
            "member_joined",
            serde_json::json!({ "user": actor.user_id, "role": invitation.role.as_str(), "invited_by": invitation.invited_by }),
        );
        match self.s.store.add_member(&member, &event).await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(invitation.organisation),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives a member the right to act for the organisation (or under one mandate it
    /// received) in the scope's services.
    pub async fn grant_right(
        &self,
        actor: &Actor,
        organisation: &str,
        member: &str,
        scope: ServiceScope,
        mandate: Option<&str>,
    ) -> Result<Right, ServiceError> {
        self.administered(actor, organisation).await?;
        if let Some(m) = mandate {
            let received = self
                .s
                .store
                .mandate(m)
                .await?
                .filter(|m| {
                    m.agent
                        == konto_core::representation::Party::Organisation(organisation.to_owned())
                })
                .ok_or(ServiceError::Invalid(
                    "the organisation did not receive this mandate".into(),
                ))?;
            if !received.scope.includes(&scope) {
                return Err(ServiceError::Invalid(
                    "the right reaches beyond the mandate's services".into(),
                ));
            }
        }
        let right = Right {
            id: random::id()?,
            organisation: organisation.to_owned(),
            user_id: member.to_owned(),
            scope,
            mandate: mandate.map(str::to_owned),
            granted_at: self.now(),
        };
        let event = self.event(
            organisation,
            Some(actor),
            "right_granted",
            serde_json::json!({ "right": right.id, "member": member, "scope": right.scope, "mandate": right.mandate }),
        );
        match self.s.store.grant_right(&right, &event).await {
            Ok(()) => Ok(right),
            Err(StoreError::NotFound) => Err(ServiceError::Invalid("not a member".into())),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn revoke_right(
        &self,
        actor: &Actor,
        organisation: &str,
        right: &str,
    ) -> Result<(), ServiceError> {
        self.administered(actor, organisation).await?;
        let event = self.event(
            organisation,
            Some(actor),
            "right_revoked",
            serde_json::json!({ "right": right }),
        );
        match self.s.store.revoke_right(organisation, right, &event).await {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(ServiceError::Invalid("no such right".into())),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes a member an administrator or a clerk; an organisation always keeps one
    /// administrator.
    pub async fn set_role(
        &self,
        actor: &Actor,
        organisation: &str,
        member: &str,
        role: Role,
    ) -> Result<(), ServiceError> {
        self.administered(actor, organisation).await?;
        let event = self.event(
            organisation,
            Some(actor),
            "role_set",
            serde_json::json!({ "member": member, "role": role.as_str() }),
        );
        match self
            .s
            .store
            .set_role(organisation, member, role, &event)
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(ServiceError::Invalid("not a member".into())),
            Err(StoreError::Conflict(_)) => Err(ServiceError::LastAdministrator),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn remove_member(
        &self,
        actor: &Actor,
        organisation: &str,
        member: &str,
    ) -> Result<(), ServiceError> {
        self.administered(actor, organisation).await?;
        if member == actor.user_id {
            return Err(ServiceError::Invalid(
                "administrators cannot remove themselves".into(),
            ));
        }
        let event = self.event(
            organisation,
            Some(actor),
            "member_removed",
            serde_json::json!({ "member": member }),
        );
        match self
            .s
            .store
            .remove_member(organisation, member, &event)
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(ServiceError::Invalid("not a member".into())),
            Err(e) => Err(e.into()),
        }
    }
}
