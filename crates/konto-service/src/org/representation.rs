//! Whom a signed-in person may act for at a service, with the names a page shows.

use konto_core::client::RelyingParty;
use konto_core::representation::{self, Party, Representation, Service};

use super::OrgService;
use crate::error::ServiceError;

/// One choice on the "whom do you act for" page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepresentationOption {
    pub representation: Representation,
    /// The represented party's name.
    pub name: String,
    /// The organisation the actor acts through, when it is not the represented one (the tax
    /// firm whose clerk acts for its client).
    pub via: Option<String>,
}

impl RepresentationOption {
    /// A stable name of this option for a form: its chain's link ids.
    pub fn key(&self) -> String {
        self.representation
            .chain
            .iter()
            .map(|l| match l {
                representation::Link::Mandate(id) => format!("m:{id}"),
                representation::Link::Right(id) => format!("r:{id}"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn service_of(party: &RelyingParty) -> Service<'_> {
    Service {
        client_id: &party.id,
        groups: &party.service_groups,
    }
}

impl OrgService {
    /// A party's name for pages: an organisation's name, a person's given and family names.
    pub async fn party_name(&self, party: &Party) -> Result<String, ServiceError> {
        Ok(match party {
            Party::Organisation(id) => self
                .s
                .store
                .organisation(id)
                .await?
                .map(|o| o.name)
                .unwrap_or_default(),
            Party::Person(id) => {
                let attrs = self.s.store.attributes(id).await?;
                let get = |n| {
                    attrs
                        .iter()
                        .find(|a| a.name == n)
                        .map(|a| a.value.clone())
                        .unwrap_or_default()
                };
                let name = format!(
                    "{} {}",
                    get(konto_core::attributes::AttributeName::GivenName),
                    get(konto_core::attributes::AttributeName::FamilyName)
                );
                name.trim().to_owned()
            }
        })
    }

    /// The representations `user_id` may choose at the relying party `client` now.
    pub async fn options(
        &self,
        user_id: &str,
        client: &RelyingParty,
    ) -> Result<Vec<RepresentationOption>, ServiceError> {
        let epoch = self.s.store.org_epoch().await?;
        let facts = self
            .s
            .facts
            .user(self.s.store.as_ref(), user_id, epoch)
            .await?;
        let reps = representation::options(user_id, service_of(client), &facts.facts(), self.now());
        let mut out = Vec::with_capacity(reps.len());
        for rep in reps {
            let via = match rep.chain.last() {
                Some(representation::Link::Right(id)) => {
                    let org = facts
                        .rights
                        .iter()
                        .find(|r| &r.id == id)
                        .map(|r| r.organisation.clone());
                    match org {
                        Some(o) if Party::Organisation(o.clone()) != rep.represented => {
                            Some(self.party_name(&Party::Organisation(o)).await?)
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            out.push(RepresentationOption {
                name: self.party_name(&rep.represented).await?,
                representation: rep,
                via,
            });
        }
        Ok(out)
    }

    /// Whether a representation still holds at the relying party `client` now.
    pub async fn holds(
        &self,
        representation: &Representation,
        client: &RelyingParty,
    ) -> Result<bool, ServiceError> {
        let epoch = self.s.store.org_epoch().await?;
        let chain = self
            .s
            .facts
            .chain(self.s.store.as_ref(), representation, epoch)
            .await?;
        Ok(representation::verify(
            representation,
            service_of(client),
            &chain.facts.facts(),
            self.now(),
        )
        .is_ok())
    }
}
