use std::time::Duration;

use proptest::prelude::*;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;

const T0: OffsetDateTime = datetime!(2026-12-01 10:00 UTC);
const DAY: Duration = Duration::from_secs(86_400);

fn tax() -> Vec<String> {
    vec!["steuern".to_owned()]
}

fn svc<'a>(client_id: &'a str, groups: &'a [String]) -> Service<'a> {
    Service { client_id, groups }
}

fn org(id: &str) -> OrgStanding {
    OrgStanding {
        id: id.to_owned(),
        confirmed: true,
        user_is_legal_representative: false,
    }
}

fn mandate(id: &str, principal: Party, agent: Party, scope: ServiceScope) -> Mandate {
    Mandate {
        id: id.to_owned(),
        principal,
        agent,
        scope,
        valid_from: T0,
        valid_until: None,
        redelegation: 0,
        parent: None,
        offered_by: Side::Principal,
        evidence: None,
        created_at: T0,
        accepted_at: Some(T0),
        objection_until: None,
        revoked_at: None,
    }
}

fn right(id: &str, org: &str, user: &str, scope: ServiceScope, m: Option<&str>) -> Right {
    Right {
        id: id.to_owned(),
        organisation: org.to_owned(),
        user_id: user.to_owned(),
        scope,
        mandate: m.map(str::to_owned),
        granted_at: T0,
    }
}

fn tax_scope() -> ServiceScope {
    ServiceScope::listed(Vec::<&str>::new(), vec!["steuern"]).unwrap()
}

fn a() -> Party {
    Party::Organisation("A".into())
}
fn b() -> Party {
    Party::Organisation("B".into())
}

/// The chain: A mandates tax firm B for tax services (M); B's administrator gives
/// clerk C the right to act under M in tax services (R).
fn chain_facts() -> (Vec<Right>, Vec<OrgStanding>, Vec<Mandate>) {
    (
        vec![right("R", "B", "C", tax_scope(), Some("M"))],
        vec![org("A"), org("B")],
        vec![mandate("M", a(), b(), tax_scope())],
    )
}

#[test]
fn clerk_acts_for_the_client_company_at_a_tax_service_and_nowhere_else() {
    let (rights, orgs, mandates) = chain_facts();
    let facts = Facts {
        rights: &rights,
        organisations: &orgs,
        mandates: &mandates,
    };
    let groups = tax();
    let got = options("C", svc("elster-portal", &groups), &facts, T0 + DAY);
    assert_eq!(
        got,
        vec![Representation {
            actor: "C".into(),
            represented: a(),
            chain: vec![Link::Mandate("M".into()), Link::Right("R".into())],
            legal_representative: false,
        }]
    );
    assert!(verify(&got[0], svc("elster-portal", &groups), &facts, T0 + DAY).is_ok());
    // a service outside the scope: nothing, and the chain does not hold there
    let none: Vec<String> = vec!["gewerbe".into()];
    assert!(options("C", svc("gewerbe-portal", &none), &facts, T0 + DAY).is_empty());
    assert!(verify(&got[0], svc("gewerbe-portal", &none), &facts, T0 + DAY).is_err());
    // another person holds nothing
    assert!(options("D", svc("elster-portal", &groups), &facts, T0 + DAY).is_empty());
}

#[test]
fn revocation_and_expiry_end_the_chain_at_once() {
    let (rights, orgs, mut mandates) = chain_facts();
    let groups = tax();
    let s = svc("elster-portal", &groups);
    let rep = {
        let facts = Facts {
            rights: &rights,
            organisations: &orgs,
            mandates: &mandates,
        };
        options("C", s, &facts, T0 + DAY).remove(0)
    };
    mandates[0].revoked_at = Some(T0 + 2 * DAY);
    let facts = Facts {
        rights: &rights,
        organisations: &orgs,
        mandates: &mandates,
    };
    assert!(verify(&rep, s, &facts, T0 + DAY).is_ok());
    assert!(verify(&rep, s, &facts, T0 + 2 * DAY).is_err());
    assert_eq!(mandates[0].status_at(T0 + 2 * DAY), MandateStatus::Revoked);

    mandates[0].revoked_at = None;
    mandates[0].valid_until = Some(T0 + 3 * DAY);
    let facts = Facts {
        rights: &rights,
        organisations: &orgs,
        mandates: &mandates,
    };
    assert!(verify(&rep, s, &facts, T0 + 3 * DAY - Duration::from_secs(1)).is_ok());
    assert!(verify(&rep, s, &facts, T0 + 3 * DAY).is_err());
    assert_eq!(mandates[0].status_at(T0 + 3 * DAY), MandateStatus::Expired);
}

#[test]
fn a_right_removed_or_an_unconfirmed_organisation_gives_nothing() {
    let (rights, mut orgs, mandates) = chain_facts();
    let groups = tax();
    let s = svc("elster-portal", &groups);
    let facts = Facts {
        rights: &[],
        organisations: &orgs,
        mandates: &mandates,
    };
    assert!(options("C", s, &facts, T0).is_empty());
    orgs[1].confirmed = false;
    let facts = Facts {
        rights: &rights,
        organisations: &orgs,
        mandates: &mandates,
    };
    assert!(options("C", s, &facts, T0).is_empty());
}

#[test]
fn members_act_for_their_organisation_within_their_rights() {
    let rights = vec![
        right("R1", "B", "C", tax_scope(), None),
        right(
            "R2",
            "B",
            "E",
            ServiceScope::listed(vec!["gewerbe-portal"], Vec::<&str>::new()).unwrap(),
            None,
        ),
    ];
    let mut orgs = vec![org("B")];
    orgs[0].user_is_legal_representative = true;
    let facts = Facts {
        rights: &rights,
        organisations: &orgs,
        mandates: &[],
    };
    let groups = tax();
    let got = options("C", svc("elster-portal", &groups), &facts, T0);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].represented, b());
    assert!(got[0].legal_representative);
    assert!(options("E", svc("elster-portal", &groups), &facts, T0).is_empty());
    assert_eq!(
        options("E", svc("gewerbe-portal", &[]), &facts, T0).len(),
        1
    );
}

#[test]
fn an_agent_registered_mandate_is_in_force_after_the_objection_period() {
    let mut m = mandate("M", a(), Party::Person("P".into()), ServiceScope::All);
    m.offered_by = Side::Agent;
    m.accepted_at = None;
    m.objection_until = Some(T0 + 14 * DAY);
    assert_eq!(m.status_at(T0), MandateStatus::Offered);
    assert_eq!(m.status_at(T0 + 14 * DAY), MandateStatus::Active);
    // the principal may confirm earlier
    m.accepted_at = Some(T0 + DAY);
    assert_eq!(m.status_at(T0 + DAY), MandateStatus::Active);
    // an objection is a revocation
    m.accepted_at = None;
    m.revoked_at = Some(T0 + 3 * DAY);
    assert_eq!(m.status_at(T0 + 14 * DAY), MandateStatus::Revoked);
    // a principal's offer waits for the agent, however long
    let mut offer = mandate("N", a(), Party::Person("P".into()), ServiceScope::All);
    offer.accepted_at = None;
    offer.objection_until = Some(T0);
    assert_eq!(offer.status_at(T0 + 100 * DAY), MandateStatus::Offered);
    // agreed, but not valid yet
    let mut later = mandate("L", a(), Party::Person("P".into()), ServiceScope::All);
    later.valid_from = T0 + DAY;
    assert_eq!(later.status_at(T0), MandateStatus::Accepted);
}

#[test]
fn a_person_holding_a_mandate_acts_directly() {
    let mandates = vec![mandate(
        "M",
        Party::Person("parent".into()),
        Party::Person("child".into()),
        ServiceScope::All,
    )];
    let facts = Facts {
        rights: &[],
        organisations: &[],
        mandates: &mandates,
    };
    let got = options("child", svc("any", &[]), &facts, T0);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].represented, Party::Person("parent".into()));
    assert_eq!(got[0].chain, vec![Link::Mandate("M".into())]);
}

#[test]
fn passing_on_needs_the_parent_to_allow_it() {
    // A → B (M1), B → D (M2, passes M1 on), D's clerk E under M2
    let d = Party::Organisation("D".into());
    let mut m1 = mandate("M1", a(), b(), tax_scope());
    let mut m2 = mandate("M2", b(), d.clone(), tax_scope());
    m2.parent = Some("M1".into());
    let rights = vec![right("R", "D", "E", tax_scope(), Some("M2"))];
    let orgs = vec![org("A"), org("B"), org("D")];
    let groups = tax();
    let s = svc("elster-portal", &groups);
    // M1 does not allow passing on
    let mandates = vec![m1.clone(), m2.clone()];
    let facts = Facts {
        rights: &rights,
        organisations: &orgs,
        mandates: &mandates,
    };
    assert!(options("E", s, &facts, T0).is_empty());
    m1.redelegation = 1;
    let mandates = vec![m1.clone(), m2.clone()];
    let facts = Facts {
        rights: &rights,
        organisations: &orgs,
        mandates: &mandates,
    };
    let got = options("E", s, &facts, T0);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].represented, a());
    assert_eq!(
        got[0].chain,
        vec![
            Link::Mandate("M1".into()),
            Link::Mandate("M2".into()),
            Link::Right("R".into())
        ]
    );
    // a mandate "passing on" one its principal never received is refused
    m2.principal = Party::Organisation("X".into());
    let mandates = vec![m1, m2];
    let facts = Facts {
        rights: &rights,
        organisations: &orgs,
        mandates: &mandates,
    };
    assert!(options("E", s, &facts, T0).is_empty());
}

#[test]
fn a_cycle_of_mandates_ends() {
    let mut m1 = mandate("M1", a(), b(), ServiceScope::All);
    let mut m2 = mandate("M2", b(), a(), ServiceScope::All);
    m1.parent = Some("M2".into());
    m2.parent = Some("M1".into());
    m1.redelegation = 255;
    m2.redelegation = 255;
    let rights = vec![right("R", "A", "C", ServiceScope::All, Some("M2"))];
    let orgs = vec![org("A"), org("B")];
    let mandates = vec![m1, m2];
    let facts = Facts {
        rights: &rights,
        organisations: &orgs,
        mandates: &mandates,
    };
    assert!(options("C", svc("x", &[]), &facts, T0).is_empty());
}

#[test]
fn scopes_are_validated_and_compared() {
    assert_eq!(
        ServiceScope::listed(Vec::<&str>::new(), Vec::<&str>::new()),
        Err(ScopeError::Empty)
    );
    assert_eq!(
        ServiceScope::listed(vec!["a b"], Vec::<&str>::new()),
        Err(ScopeError::BadName)
    );
    let t = tax_scope();
    assert!(ServiceScope::All.includes(&t));
    assert!(!t.includes(&ServiceScope::All));
    assert!(t.includes(&t));
}

proptest! {
    /// Whatever the facts, options never panic, and every option verifies.
    #[test]
    fn every_option_verifies(
        links in proptest::collection::vec((0u8..4, 0u8..4, 0u8..3, any::<bool>()), 0..8),
        rights in proptest::collection::vec((0u8..4, 0u8..4, any::<bool>()), 0..6),
    ) {
        let party = |i: u8| if i.is_multiple_of(2) {
            Party::Organisation(format!("O{i}"))
        } else {
            Party::Person(format!("P{i}"))
        };
        let mandates: Vec<Mandate> = links.iter().enumerate().map(|(n, (p, ag, red, chained))| {
            let mut m = mandate(&format!("M{n}"), party(*p), party(*ag), ServiceScope::All);
            m.redelegation = *red;
            if *chained && n > 0 {
                m.parent = Some(format!("M{}", n - 1));
            }
            m
        }).collect();
        let rights: Vec<Right> = rights.iter().enumerate().map(|(n, (o, m, under))| {
            right(
                &format!("R{n}"),
                &format!("O{}", o * 2 % 4),
                "P1",
                ServiceScope::All,
                under.then(|| format!("M{m}")).as_deref(),
            )
        }).collect();
        let orgs = vec![org("O0"), org("O2")];
        let facts = Facts { rights: &rights, organisations: &orgs, mandates: &mandates };
        for actor in ["P1", "P3"] {
            for o in options(actor, svc("s", &[]), &facts, T0) {
                prop_assert!(verify(&o, svc("s", &[]), &facts, T0).is_ok());
                prop_assert!(!o.chain.is_empty());
                prop_assert!(o.mandates().count() <= MAX_MANDATES_IN_CHAIN);
            }
        }
    }
}
