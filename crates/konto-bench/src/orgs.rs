//! The organisations of issue 7's scenario, written straight into the bench's store before konto
//! starts: company A gives tax firm B a mandate for the service group `steuern`, and B's
//! administrator gives the clerk (the bench user) the right to act under it — the two-link chain
//! `[Mandate, Right]`. konto's CLI creates organisations but neither rights nor mandates, and an
//! organisation created there waits for its letter; the store's own `OrgRepo` does it all in a
//! few writes, through the same code konto's services use.

use anyhow::{Context, Result};
use konto_core::Level;
use konto_core::org::OrgEvidence;
use konto_core::representation::{Mandate, Party, Right, Role, ServiceScope, Side};
use konto_store::{
    Confirmation, MembershipRecord, OrgAddress, OrgEvent, OrgRepo, OrganisationRecord, UserRepo,
};
use konto_store_sql::{SqlStore, SqliteDurability, StoreOptions};
use time::{Duration, OffsetDateTime};

/// The service group the bench client is in, and the mandate and right cover.
pub(crate) const GROUP: &str = "steuern";

/// The chain the clerk acts under.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    pub(crate) mandate: String,
    pub(crate) right: String,
}

impl Chain {
    /// The value of the acting page's radio button for this chain (`RepresentationOption::key`).
    pub(crate) fn option_key(&self) -> String {
        format!("m:{},r:{}", self.mandate, self.right)
    }
}

fn scope() -> Result<ServiceScope> {
    ServiceScope::listed(Vec::<&str>::new(), vec![GROUP]).context("the mandate's scope")
}

fn event(organisation: &str, action: &str, at: OffsetDateTime) -> OrgEvent {
    OrgEvent {
        organisation: organisation.to_owned(),
        at,
        actor: None,
        actor_level: None,
        action: action.to_owned(),
        detail: format!("{{\"by\":\"konto-bench\",\"action\":\"{action}\"}}"),
    }
}

/// Creates organisation `id` with `admin` as its confirmed first administrator (who gets the
/// usual first right to act for it).
async fn confirmed_organisation(
    store: &SqlStore,
    id: &str,
    name: &str,
    admin: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let org = OrganisationRecord {
        id: id.to_owned(),
        name: name.to_owned(),
        legal_form: "GmbH".into(),
        wirtschafts_id: None,
        register: None,
        euid: None,
        address: OrgAddress {
            street: "Hauptstraße 1".into(),
            postal_code: "80331".into(),
            locality: "München".into(),
            country: "DE".into(),
        },
        level: Level::Substantial,
        evidence: OrgEvidence::Operator {
            reference: "konto-bench".into(),
        },
        postbox_handle: format!("postbox-{id}"),
        created_at: now,
        confirmed_at: None,
    };
    let first_right = Right {
        id: format!("{id}-first"),
        organisation: id.to_owned(),
        user_id: admin.to_owned(),
        scope: ServiceScope::All,
        mandate: None,
        granted_at: now,
    };
    // created confirmed, as from an organisation certificate: no letter round
    store
        .create_organisation(
            &OrganisationRecord {
                confirmed_at: Some(now),
                ..org
            },
            &MembershipRecord {
                organisation: id.to_owned(),
                user_id: admin.to_owned(),
                role: Role::Administrator,
                legal_representative: true,
                joined_at: now,
            },
            Confirmation::Confirmed(&first_right),
            &event(id, "organisation_created", now),
        )
        .await?;
    Ok(())
}

/// Seeds company A, tax firm B (both administered by `admin`), the mandate A → B for
/// [`GROUP`], and the right B gives `clerk` under it; returns the chain.
pub(crate) async fn seed(database: &str, admin: &str, clerk: &str) -> Result<Chain> {
    let store = SqlStore::connect(
        database,
        &StoreOptions {
            sqlite_durability: SqliteDurability::Full,
            ..StoreOptions::default()
        },
    )
    .await
    .context("opening the bench's store")?;
    let result = seed_into(&store, admin, clerk).await;
    store.close().await;
    result
}

async fn seed_into(store: &SqlStore, admin: &str, clerk: &str) -> Result<Chain> {
    let admin = store
        .user_by_username(admin)
        .await?
        .with_context(|| format!("no account {admin}"))?
        .id;
    let clerk = store
        .user_by_username(clerk)
        .await?
        .with_context(|| format!("no account {clerk}"))?
        .id;
    // a day back, so that the clocks of the bench and konto need not agree to the second
    let now = OffsetDateTime::now_utc() - Duration::days(1);
    let (company, firm) = ("bench-company-a", "bench-taxfirm-b");
    confirmed_organisation(store, company, "Bench Maschinenbau GmbH", &admin, now).await?;
    confirmed_organisation(store, firm, "Bench Steuerberatung GmbH", &admin, now).await?;
    store
        .add_member(
            &MembershipRecord {
                organisation: firm.to_owned(),
                user_id: clerk.clone(),
                role: Role::Clerk,
                legal_representative: false,
                joined_at: now,
            },
            &event(firm, "member_added", now),
        )
        .await?;
    let chain = Chain {
        mandate: "bench-mandate-ab".into(),
        right: "bench-right-bc".into(),
    };
    store
        .create_mandate(
            &Mandate {
                id: chain.mandate.clone(),
                principal: Party::Organisation(company.to_owned()),
                agent: Party::Organisation(firm.to_owned()),
                scope: scope()?,
                valid_from: now,
                valid_until: Some(now + Duration::days(365)),
                redelegation: 0,
                parent: None,
                offered_by: Side::Principal,
                evidence: Some("konto-bench".into()),
                created_at: now,
                accepted_at: Some(now),
                objection_until: None,
                revoked_at: None,
            },
            &event(company, "mandate_offered", now),
        )
        .await?;
    store
        .grant_right(
            &Right {
                id: chain.right.clone(),
                organisation: firm.to_owned(),
                user_id: clerk,
                scope: scope()?,
                mandate: Some(chain.mandate.clone()),
                granted_at: now,
            },
            &event(firm, "right_granted", now),
        )
        .await?;
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use konto_core::representation::{self, Link, Service};
    use konto_store::conformance::sample_user;

    use super::*;

    #[tokio::test]
    async fn the_seeded_chain_is_what_the_clerk_may_choose_at_a_tax_service() {
        let store = SqlStore::connect("sqlite::memory:", &StoreOptions::default())
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        for id in ["admin", "clerk"] {
            store
                .create_user(&sample_user(id), &[], &[])
                .await
                .expect("user");
        }
        let chain = seed_into(&store, "admin@example.org", "clerk@example.org")
            .await
            .expect("seed");
        let facts = konto_store::facts_for_user(&store, "clerk")
            .await
            .expect("facts");
        let now = OffsetDateTime::now_utc();
        let groups = [GROUP.to_owned()];
        let tax = Service {
            client_id: "bench",
            groups: &groups,
        };
        let options = representation::options("clerk", tax, &facts.facts(), now);
        assert_eq!(options.len(), 1, "{options:?}");
        let only = &options[0];
        assert_eq!(
            only.represented,
            Party::Organisation("bench-company-a".into())
        );
        assert_eq!(
            only.chain,
            [
                Link::Mandate(chain.mandate.clone()),
                Link::Right(chain.right.clone())
            ]
        );
        assert_eq!(chain.option_key(), "m:bench-mandate-ab,r:bench-right-bc");
        // the chain holds as konto re-checks it at every use, and only for the tax services
        let chain_facts = konto_store::facts_for_chain(&store, only)
            .await
            .expect("chain facts");
        assert!(representation::verify(only, tax, &chain_facts.facts(), now).is_ok());
        let other = Service {
            client_id: "bench",
            groups: &[],
        };
        assert!(representation::options("clerk", other, &facts.facts(), now).is_empty());
    }
}
