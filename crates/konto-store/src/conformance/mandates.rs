//! Mandates and their changes, the reads a representation's chain needs, grants that carry a
//! representation, clients with service groups, and what deleting an account leaves of them.

use futures::future::join_all;
use konto_core::representation::{Link, Representation, Right, Role, Side};
use time::Duration;

use super::orgs::{
    RACERS, actions, admin, event, letter, mandate, org_party, organisation, person, right,
};
use super::{grant, hash, sample_client, t0};
use crate::*;

pub(super) async fn mandates_change_by_compare_and_set(store: &dyn Store) {
    let between_orgs = mandate("m-ab", org_party("org-a"), org_party("org-b"));
    store
        .create_mandate(&between_orgs, &event("org-a", "mandate_offered"))
        .await
        .expect("create mandate");
    assert_eq!(
        store
            .create_mandate(&between_orgs, &event("org-a", "mandate_offered"))
            .await,
        Err(StoreError::Conflict("mandate exists".into()))
    );
    let mut between_persons = mandate("m-person", person("oa"), person("oe"));
    between_persons.offered_by = Side::Agent;
    between_persons.valid_until = None;
    between_persons.evidence = None;
    between_persons.redelegation = 0;
    between_persons.objection_until = Some(t0() + Duration::days(14));
    store
        .create_mandate(&between_persons, &event("org-a", "mandate_offered"))
        .await
        .expect("create mandate");
    assert_eq!(
        store.mandate("m-ab").await.expect("read"),
        Some(between_orgs.clone())
    );
    assert_eq!(
        store.mandate("m-person").await.expect("read"),
        Some(between_persons.clone())
    );
    assert!(store.mandate("m-none").await.expect("read").is_none());
    assert_eq!(
        store.mandates_of(&org_party("org-a")).await.expect("read"),
        vec![between_orgs.clone()]
    );
    assert_eq!(
        store.mandates_of(&org_party("org-b")).await.expect("read"),
        vec![between_orgs.clone()],
        "the agent sees it too"
    );
    assert_eq!(
        store.mandates_of(&person("oe")).await.expect("read"),
        vec![between_persons.clone()]
    );
    assert!(
        store
            .mandates_of(&org_party("oe"))
            .await
            .expect("read")
            .is_empty(),
        "a person is no organisation of the same id"
    );
    assert_eq!(store.list_mandates().await.expect("list").len(), 2);
    // the event goes to both organisations, and to none for persons
    assert_eq!(actions(store, "org-a").await[0], "mandate_offered");
    assert_eq!(actions(store, "org-b").await[0], "mandate_offered");
    assert_eq!(
        actions(store, "org-a")
            .await
            .iter()
            .filter(|a| *a == "mandate_offered")
            .count(),
        1,
        "a mandate between persons is in no organisation's record"
    );

    let change = |id: &'static str, what, at| async move {
        store
            .change_mandate(id, what, at, &event("org-b", "mandate_changed"))
            .await
            .expect("change mandate")
    };
    let later = t0() + Duration::hours(2);
    assert!(change("m-ab", MandateChange::Accept, later).await);
    assert!(
        !change("m-ab", MandateChange::Accept, later).await,
        "accepted once"
    );
    assert_eq!(
        store
            .mandate("m-ab")
            .await
            .expect("read")
            .and_then(|m| m.accepted_at),
        Some(later)
    );
    assert!(change("m-ab", MandateChange::Revoke, later).await);
    assert!(
        !change("m-ab", MandateChange::Revoke, later).await,
        "revoked once"
    );
    assert!(
        !change("m-ab", MandateChange::Accept, later).await,
        "no acceptance after revocation"
    );
    assert!(!change("m-none", MandateChange::Revoke, later).await);
    let read = store.mandate("m-ab").await.expect("read");
    assert_eq!(read.as_ref().and_then(|m| m.revoked_at), Some(later));
    assert_eq!(read.and_then(|m| m.accepted_at), Some(later));
    for org in ["org-a", "org-b"] {
        assert_eq!(
            actions(store, org).await[..3],
            ["mandate_changed", "mandate_changed", "mandate_offered"],
            "each change that happened is in both organisations' records"
        );
    }
    // an offer revoked before acceptance cannot be accepted
    store
        .create_mandate(
            &mandate("m-withdrawn", org_party("org-b"), person("oe")),
            &event("org-b", "mandate_offered"),
        )
        .await
        .expect("create mandate");
    assert!(change("m-withdrawn", MandateChange::Revoke, later).await);
    assert!(!change("m-withdrawn", MandateChange::Accept, later).await);

    // of parallel revocations exactly one happens
    store
        .create_mandate(
            &mandate("m-race", org_party("org-a"), person("oe")),
            &event("org-a", "mandate_offered"),
        )
        .await
        .expect("create mandate");
    let results =
        join_all((0..RACERS).map(|_| change("m-race", MandateChange::Revoke, later))).await;
    assert_eq!(
        results.iter().filter(|r| **r).count(),
        1,
        "one of parallel revocations wins: {results:?}"
    );
    assert_eq!(
        actions(store, "org-a")
            .await
            .iter()
            .take_while(|a| *a == "mandate_changed")
            .count(),
        1,
        "and only it is recorded"
    );
}

pub(super) async fn reads_by_ids(store: &dyn Store) {
    let ids = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(store.rights_by_ids(&[]).await.expect("read").is_empty());
    assert!(store.mandates_by_ids(&[]).await.expect("read").is_empty());
    store
        .grant_right(
            &right("r-under", "org-b", "ob", Some("m-ab")),
            &event("org-b", "right_granted"),
        )
        .await
        .expect("grant a right under a mandate");
    assert_eq!(
        store
            .rights_by_ids(&ids(&["first-org-a"]))
            .await
            .expect("read"),
        vec![right("first-org-a", "org-a", "oa", None)]
    );
    let found: Vec<String> = store
        .rights_by_ids(&ids(&["r-under", "first-org-b", "r-none", "r-under"]))
        .await
        .expect("read")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        found,
        ["first-org-b", "r-under"],
        "each found right once, missing ones left out"
    );
    assert_eq!(
        store.rights_by_ids(&ids(&["r-under"])).await.expect("read")[0].mandate,
        Some("m-ab".into())
    );
    assert_eq!(
        store
            .mandates_by_ids(&ids(&["m-person"]))
            .await
            .expect("read"),
        store
            .mandate("m-person")
            .await
            .expect("read")
            .into_iter()
            .collect::<Vec<_>>()
    );
    let found: Vec<String> = store
        .mandates_by_ids(&ids(&["m-race", "m-ab", "m-none", "m-ab"]))
        .await
        .expect("read")
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(found, ["m-ab", "m-race"]);
}

/// The organisation facts' epoch moves with every change to organisations, members, rights
/// and mandates, in the same transaction, and with nothing else; a [`FactsCache`] serves the
/// same facts while it stands and fresh ones once it moved.
pub(super) async fn cached_facts_follow_every_change(store: &dyn Store) {
    let rep = Representation {
        actor: "ob".into(),
        represented: org_party("org-a"),
        chain: vec![Link::Mandate("m-ab".into()), Link::Right("r-under".into())],
        legal_representative: false,
    };
    let cache = FactsCache::new();
    let epoch = || async { store.org_epoch().await.expect("epoch") };
    let e0 = epoch().await;
    let first = cache.chain(store, &rep, e0).await.expect("facts");
    assert!(first.facts.mandates.iter().any(|m| m.id == "m-ab"));
    assert!(first.facts.rights.iter().any(|r| r.id == "r-under"));
    assert_eq!(
        first.represented.as_ref().map(|o| o.id.as_str()),
        Some("org-a")
    );
    let again = cache.chain(store, &rep, e0).await.expect("facts");
    assert!(
        std::sync::Arc::ptr_eq(&first, &again),
        "served from the cache while the epoch stands"
    );
    // other writes leave it alone
    store
        .create_grant(&grant("g-epoch", "c1", Some("oc")))
        .await
        .expect("grant");
    assert_eq!(epoch().await, e0, "a grant is no organisation fact");
    // each kind of change moves it
    store
        .create_organisation(
            &organisation("org-epoch"),
            &admin("org-epoch", "oe"),
            Confirmation::Letter(&letter("org-epoch", "oe")),
            &event("org-epoch", "organisation_created"),
        )
        .await
        .expect("create organisation");
    let e1 = epoch().await;
    assert!(e1 > e0, "an organisation");
    let member = MembershipRecord {
        organisation: "org-epoch".into(),
        user_id: "oa".into(),
        role: Role::Clerk,
        legal_representative: false,
        joined_at: t0(),
    };
    store
        .add_member(&member, &event("org-epoch", "member_added"))
        .await
        .expect("add member");
    let e1 = {
        let e = epoch().await;
        assert!(e > e1, "a member");
        e
    };
    store
        .grant_right(
            &right("r-epoch", "org-epoch", "oa", None),
            &event("org-epoch", "right_granted"),
        )
        .await
        .expect("grant");
    let e2 = epoch().await;
    assert!(e2 > e1, "a right");
    let same = cache.chain(store, &rep, e2).await.expect("facts");
    assert!(
        !std::sync::Arc::ptr_eq(&first, &same),
        "fetched again under a new epoch"
    );
    // the chain's right revoked: the cache shows it at the next epoch
    store
        .revoke_right("org-b", "r-under", &event("org-b", "right_revoked"))
        .await
        .expect("revoke");
    let e3 = epoch().await;
    assert!(e3 > e2, "a revoked right");
    let after = cache.chain(store, &rep, e3).await.expect("facts");
    assert!(
        !after.facts.rights.iter().any(|r| r.id == "r-under"),
        "a revoked right is gone from the facts at once"
    );
    // an epoch read before the change (a racing request) is served correctly too: it empties
    // the cache rather than trusting it
    let stale = cache.chain(store, &rep, e2).await.expect("facts");
    assert!(!stale.facts.rights.iter().any(|r| r.id == "r-under"));
    // a mandate, and its change
    store
        .create_mandate(
            &mandate("m-epoch", org_party("org-epoch"), org_party("org-b")),
            &event("org-epoch", "mandate_offered"),
        )
        .await
        .expect("mandate");
    let e4 = epoch().await;
    assert!(e4 > e3, "a mandate");
    assert!(
        store
            .change_mandate(
                "m-epoch",
                MandateChange::Revoke,
                t0() + Duration::hours(3),
                &event("org-epoch", "mandate_revoked"),
            )
            .await
            .expect("revoke mandate")
    );
    assert!(epoch().await > e4, "a mandate's change");
    // parallel changes are each counted (no lost update of the one row)
    let before = epoch().await;
    let ids: Vec<String> = (0..RACERS).map(|i| format!("r-par-{i}")).collect();
    let grants = ids.iter().map(|id| async move {
        store
            .grant_right(
                &right(id, "org-epoch", "oa", None),
                &event("org-epoch", "right_granted"),
            )
            .await
    });
    for done in join_all(grants).await {
        done.expect("grant");
    }
    assert_eq!(
        epoch().await,
        OrgEpoch(before.0 + i64::try_from(RACERS).expect("small")),
        "every parallel change moved the epoch"
    );
    // the person's own facts follow the same epoch
    let e5 = epoch().await;
    let oa = cache.user(store, "oa", e5).await.expect("facts");
    assert!(oa.rights.iter().any(|r| r.id == "r-epoch"));
    store
        .revoke_right("org-epoch", "r-epoch", &event("org-epoch", "right_revoked"))
        .await
        .expect("revoke");
    let oa = cache.user(store, "oa", epoch().await).await.expect("facts");
    assert!(!oa.rights.iter().any(|r| r.id == "r-epoch"));
}

pub(super) async fn grants_carry_their_representation(store: &dyn Store) {
    let mut g = grant("g-repr", "c1", Some("oc"));
    g.representation = Some(Representation {
        actor: "ob".into(),
        represented: org_party("org-a"),
        chain: vec![Link::Mandate("m-ab".into()), Link::Right("r-under".into())],
        legal_representative: false,
    });
    store.create_grant(&g).await.expect("grant");
    assert_eq!(store.grant("g-repr").await.expect("read"), Some(g.clone()));
    assert_eq!(
        store
            .grant_by_code(&hash("code-g-repr"))
            .await
            .expect("read"),
        Some(g.clone())
    );
    assert!(
        store
            .consume_code(&hash("code-g-repr"), t0(), Some(&hash("rt-repr")))
            .await
            .expect("consume")
    );
    let rotated = store
        .rotate_refresh_token("g-repr", &hash("rt-repr"), "c1", &hash("rt-repr-2"), t0())
        .await
        .expect("rotate")
        .expect("active grant")
        .grant;
    assert_eq!(
        rotated.representation, g.representation,
        "a rotation returns the representation to check"
    );
    let own = grant("g-own", "c1", Some("oc"));
    store.create_grant(&own).await.expect("grant");
    assert_eq!(
        store
            .grant("g-own")
            .await
            .expect("read")
            .and_then(|g| g.representation),
        None
    );
}

pub(super) async fn clients_keep_their_service_groups(store: &dyn Store) {
    let mut c = sample_client("c-groups");
    c.party.service_groups = vec!["steuern".into(), "gewerbe".into()];
    store.create_client(&c).await.expect("create client");
    assert_eq!(
        store.client("c-groups").await.expect("read"),
        Some(c.clone())
    );
    // a second read may come from the cache: the same
    assert_eq!(
        store.client("c-groups").await.expect("read"),
        Some(c.clone())
    );
    assert!(
        store.list_clients().await.expect("list").contains(&c),
        "listed with its groups"
    );
    assert_eq!(
        store
            .client("c1")
            .await
            .expect("read")
            .map(|c| c.party.service_groups),
        Some(Vec::new())
    );
}

pub(super) async fn deleting_an_account_leaves_its_organisations(store: &dyn Store) {
    let member = MembershipRecord {
        organisation: "org-a".into(),
        user_id: "od".into(),
        role: Role::Clerk,
        legal_representative: false,
        joined_at: t0(),
    };
    store
        .add_member(&member, &event("org-a", "member_added"))
        .await
        .expect("add member");
    store
        .grant_right(
            &right("r-od", "org-a", "od", None),
            &event("org-a", "right_granted"),
        )
        .await
        .expect("grant");
    // od mandates org-b, org-b's administrator acts under it and passes it on to oe
    store
        .create_mandate(
            &mandate("m-od", person("od"), org_party("org-b")),
            &event("org-b", "mandate_offered"),
        )
        .await
        .expect("mandate");
    store
        .grant_right(
            &right("r-under-od", "org-b", "ob", Some("m-od")),
            &event("org-b", "right_granted"),
        )
        .await
        .expect("grant");
    let mut passed_on = mandate("m-od-child", org_party("org-b"), person("oe"));
    passed_on.parent = Some("m-od".into());
    passed_on.redelegation = 0;
    store
        .create_mandate(&passed_on, &event("org-b", "mandate_offered"))
        .await
        .expect("mandate");
    store
        .create_mandate(
            &mandate("m-to-od", org_party("org-a"), person("od")),
            &event("org-a", "mandate_offered"),
        )
        .await
        .expect("mandate");
    // a letter for od as first administrator
    store
        .create_organisation(
            &organisation("org-d"),
            &admin("org-d", "od"),
            Confirmation::Letter(&letter("org-d", "od")),
            &event("org-d", "organisation_created"),
        )
        .await
        .expect("create organisation");

    let ids_of = |rights: Vec<Right>| -> Vec<String> { rights.into_iter().map(|r| r.id).collect() };
    let mut kept = ids_of(store.rights_of_user("ob").await.expect("read"));
    kept.retain(|id| id != "r-under-od");
    store.delete_user("od", t0()).await.expect("delete user");
    // the organisations learn it, in the same transaction
    let event_of = |events: Vec<OrgEvent>, action: &str| {
        let details: Vec<serde_json::Value> = events
            .into_iter()
            .filter(|e| e.action == action && e.actor.is_none())
            .map(|e| serde_json::from_str(&e.detail).expect("JSON detail"))
            .collect();
        details
    };
    let left = event_of(
        store.org_events("org-a", 10).await.expect("events"),
        "member_left",
    );
    assert_eq!(
        left,
        vec![serde_json::json!({ "user": "od", "reason": "account_deleted" })]
    );
    let ended = event_of(
        store.org_events("org-b", 10).await.expect("events"),
        "mandate_ended",
    );
    assert_eq!(
        ended,
        vec![serde_json::json!({ "mandate": "m-od", "reason": "account_deleted" })]
    );
    assert!(
        store
            .memberships_of_user("od")
            .await
            .expect("read")
            .is_empty()
    );
    assert!(store.rights_of_user("od").await.expect("read").is_empty());
    assert!(
        store
            .mandates_of(&person("od"))
            .await
            .expect("read")
            .is_empty(),
        "the person's mandates end"
    );
    let ids = vec!["r-under-od".to_owned()];
    assert!(
        store.rights_by_ids(&ids).await.expect("read").is_empty(),
        "rights under them too"
    );
    assert!(store.org_letter("org-d").await.expect("read").is_none());
    assert_eq!(
        store
            .mandate("m-od-child")
            .await
            .expect("read")
            .and_then(|m| m.parent),
        Some("m-od".into()),
        "a mandate passed on stays, its chain broken"
    );
    assert!(
        store.organisation("org-a").await.expect("read").is_some()
            && store.organisation("org-d").await.expect("read").is_some(),
        "organisations stay"
    );
    assert!(
        !store
            .members("org-a")
            .await
            .expect("read")
            .iter()
            .any(|m| m.user_id == "od")
    );
    assert_eq!(
        ids_of(store.rights_of_user("ob").await.expect("read")),
        kept,
        "other members keep their rights (all but the one under the person's mandate)"
    );
}
