//! Organisations, members, rights, mandates, letters, invitations and their record of changes;
//! grants that carry a representation, clients with service groups.

use futures::future::join_all;
use konto_core::Level;
use konto_core::org::{Euid, OrgEvidence, RegisterKey, WirtschaftsId};
use konto_core::representation::{Mandate, Party, Right, Role, ServiceScope, Side};
use time::Duration;

use super::mandates;
use super::{hash, sample_user, t0};
use crate::*;

/// Parallel callers in the one-winner checks (as many as a default pool has connections).
pub(super) const RACERS: usize = 8;

/// How many wrong codes a letter takes.
const MAX_FAILURES: u32 = 3;

pub(super) async fn run_all(store: &dyn Store) {
    for id in ["oa", "ob", "oc", "od", "oe"] {
        store
            .create_user(&sample_user(id), &[], &[])
            .await
            .expect("create user");
    }
    organisations_round_trip(store).await;
    identifiers_make_one_organisation(store).await;
    letters_confirm_once(store).await;
    letters_are_replaced_once(store).await;
    members_and_rights(store).await;
    mandates::mandates_change_by_compare_and_set(store).await;
    mandates::reads_by_ids(store).await;
    events_are_listed_newest_first(store).await;
    mandates::grants_carry_their_representation(store).await;
    mandates::cached_facts_follow_every_change(store).await;
    mandates::clients_keep_their_service_groups(store).await;
    invitations_work_once(store).await;
    mandates::deleting_an_account_leaves_its_organisations(store).await;
    purge_removes_expired_letters_and_invitations(store).await;
}

fn wirtschafts_id(eight: &str) -> WirtschaftsId {
    WirtschaftsId::with_check_digit(eight).expect("W-IdNr.")
}

fn register(number: &str) -> RegisterKey {
    RegisterKey::new("München", "HRB", number).expect("register key")
}

fn euid(s: &str) -> Euid {
    s.parse().expect("EUID")
}

pub(super) fn organisation(id: &str) -> OrganisationRecord {
    OrganisationRecord {
        id: id.into(),
        name: format!("Firma {id}"),
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
            reference: format!("checked {id}"),
        },
        postbox_handle: format!("postbox-{id}"),
        created_at: t0(),
        confirmed_at: None,
    }
}

pub(super) fn admin(org: &str, user: &str) -> MembershipRecord {
    MembershipRecord {
        organisation: org.into(),
        user_id: user.into(),
        role: Role::Administrator,
        legal_representative: true,
        joined_at: t0(),
    }
}

pub(super) fn letter(org: &str, user: &str) -> OrgLetterRecord {
    OrgLetterRecord {
        organisation: org.into(),
        user_id: user.into(),
        code_hash: hash(&format!("letter-{org}")),
        reference: format!("letters/{org}.pdf"),
        sent_at: t0(),
        expires_at: t0() + Duration::days(30),
        failures: 0,
    }
}

pub(super) fn event(org: &str, action: &str) -> OrgEvent {
    OrgEvent {
        organisation: org.into(),
        at: t0(),
        actor: Some("oa".into()),
        actor_level: Some(Level::High),
        action: action.into(),
        detail: format!("{{\"what\":\"{action}\"}}"),
    }
}

pub(super) fn tax_scope() -> ServiceScope {
    ServiceScope::listed(["elster-portal"], ["steuern"]).expect("scope")
}

pub(super) fn right(id: &str, org: &str, user: &str, mandate: Option<&str>) -> Right {
    Right {
        id: id.into(),
        organisation: org.into(),
        user_id: user.into(),
        scope: tax_scope(),
        mandate: mandate.map(str::to_owned),
        granted_at: t0(),
    }
}

pub(super) fn org_party(id: &str) -> Party {
    Party::Organisation(id.into())
}

pub(super) fn person(id: &str) -> Party {
    Party::Person(id.into())
}

pub(super) fn mandate(id: &str, principal: Party, agent: Party) -> Mandate {
    Mandate {
        id: id.into(),
        principal,
        agent,
        scope: tax_scope(),
        valid_from: t0(),
        valid_until: Some(t0() + Duration::days(365)),
        redelegation: 1,
        parent: None,
        offered_by: Side::Principal,
        evidence: Some("Vollmacht 2026-17".into()),
        created_at: t0(),
        accepted_at: None,
        objection_until: None,
        revoked_at: None,
    }
}

/// Creates `id` with `user` as first administrator and confirms it with its letter's code.
async fn confirmed(store: &dyn Store, org: OrganisationRecord, user: &str) {
    let id = org.id.clone();
    store
        .create_organisation(
            &org,
            &admin(&id, user),
            Confirmation::Letter(&letter(&id, user)),
            &event(&id, "organisation_created"),
        )
        .await
        .expect("create organisation");
    assert!(
        store
            .confirm_organisation(
                &id,
                &hash(&format!("letter-{id}")),
                &right(&format!("first-{id}"), &id, user, None),
                MAX_FAILURES,
                t0(),
                &event(&id, "administrator_confirmed"),
            )
            .await
            .expect("confirm"),
        "the letter's code confirms"
    );
}

pub(super) async fn actions(store: &dyn Store, org: &str) -> Vec<String> {
    store
        .org_events(org, 100)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn organisations_round_trip(store: &dyn Store) {
    let mut org = organisation("org-a");
    org.wirtschafts_id = Some(wirtschafts_id("13669597"));
    org.register = Some(register("123456"));
    org.euid = Some(euid("DED2601V.HRB123456"));
    org.level = Level::High;
    org.evidence = OrgEvidence::RegisterMatch {
        key: register("123456"),
        fetched_at: "2026-12-01T10:00:00Z".into(),
        role: "Geschäftsführerin".into(),
    };
    let created = event("org-a", "organisation_created");
    store
        .create_organisation(
            &org,
            &admin("org-a", "oa"),
            Confirmation::Letter(&letter("org-a", "oa")),
            &created,
        )
        .await
        .expect("create organisation");
    assert_eq!(
        store.organisation("org-a").await.expect("read"),
        Some(org.clone()),
        "an organisation reads back with every identifier"
    );
    assert_eq!(
        store
            .organisation_by_register(&register("123456"))
            .await
            .expect("read"),
        Some(org.clone())
    );
    assert!(
        store
            .organisation_by_register(&register("654321"))
            .await
            .expect("read")
            .is_none()
    );
    assert!(store.organisation("nowhere").await.expect("read").is_none());
    assert_eq!(
        store.members("org-a").await.expect("members"),
        vec![admin("org-a", "oa")]
    );
    assert_eq!(
        store.org_letter("org-a").await.expect("letter"),
        Some(letter("org-a", "oa"))
    );
    assert_eq!(
        store.org_events("org-a", 10).await.expect("events"),
        vec![created],
        "the creation is recorded with it"
    );
    // an organisation without any identifier
    store
        .create_organisation(
            &organisation("org-plain"),
            &admin("org-plain", "ob"),
            Confirmation::Letter(&letter("org-plain", "ob")),
            &event("org-plain", "organisation_created"),
        )
        .await
        .expect("create organisation");
    let listed: Vec<String> = store
        .list_organisations()
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert!(listed.contains(&"org-a".to_owned()) && listed.contains(&"org-plain".to_owned()));
}

async fn identifiers_make_one_organisation(store: &dyn Store) {
    // an organisation certificate confirms its organisation itself: created confirmed, with
    // the administrator's first right and no letter
    let mut elster = organisation("org-e1");
    elster.evidence = OrgEvidence::ElsterCertificate {
        holder_id: "H-4711".into(),
    };
    elster.confirmed_at = Some(t0());
    let first = Right {
        scope: ServiceScope::All,
        ..right("first-org-e1", "org-e1", "ob", None)
    };
    store
        .create_organisation(
            &elster,
            &admin("org-e1", "ob"),
            Confirmation::Confirmed(&first),
            &event("org-e1", "organisation_created"),
        )
        .await
        .expect("create organisation");
    assert_eq!(
        store.organisation("org-e1").await.expect("read"),
        Some(elster.clone())
    );
    assert_eq!(
        store.rights_of_org("org-e1").await.expect("rights"),
        vec![first]
    );
    assert!(store.org_letter("org-e1").await.expect("letter").is_none());
    // organisations without identifiers do not collide with each other
    store
        .create_organisation(
            &organisation("org-plain2"),
            &admin("org-plain2", "ob"),
            Confirmation::Letter(&letter("org-plain2", "ob")),
            &event("org-plain2", "organisation_created"),
        )
        .await
        .expect("a second organisation without identifiers");

    let same_wid = {
        let mut o = organisation("dup");
        o.wirtschafts_id = Some(wirtschafts_id("13669597"));
        o
    };
    let same_register = {
        let mut o = organisation("dup");
        o.register = Some(register("123456"));
        o
    };
    let same_euid = {
        let mut o = organisation("dup");
        o.euid = Some(euid("DED2601V.HRB123456"));
        o
    };
    let same_certificate = {
        let mut o = organisation("dup");
        o.evidence = OrgEvidence::ElsterCertificate {
            holder_id: "H-4711".into(),
        };
        o
    };
    for (rule, dup) in [
        ("W-IdNr.", same_wid),
        ("register key", same_register),
        ("EUID", same_euid),
        ("ELSTER holder id", same_certificate),
    ] {
        assert_eq!(
            store
                .create_organisation(
                    &dup,
                    &admin("dup", "oc"),
                    Confirmation::Letter(&letter("dup", "oc")),
                    &event("dup", "organisation_created"),
                )
                .await,
            Err(StoreError::Conflict("organisation exists".into())),
            "the same {rule} makes one organisation"
        );
        assert!(store.organisation("dup").await.expect("read").is_none());
        assert!(
            store
                .memberships_of_user("oc")
                .await
                .expect("read")
                .is_empty(),
            "a refused organisation leaves nothing behind"
        );
    }
    // the same number at another court is another entry
    let mut other_court = organisation("org-b");
    other_court.register =
        Some(RegisterKey::new("Berlin (Charlottenburg)", "HRB", "123456").expect("key"));
    other_court.wirtschafts_id = Some(wirtschafts_id("12345678"));
    other_court.euid = Some(euid("DEX1517R.HRB395KI"));
    confirmed(store, other_court, "ob").await;
}

async fn letters_confirm_once(store: &dyn Store) {
    let first = right("first-org-a", "org-a", "oa", None);
    let confirm = |code: &str, at| {
        let code = hash(code);
        let first = first.clone();
        async move {
            store
                .confirm_organisation(
                    "org-a",
                    &code,
                    &first,
                    MAX_FAILURES,
                    at,
                    &event("org-a", "administrator_confirmed"),
                )
                .await
                .expect("confirm")
        }
    };
    // a wrong code counts
    assert!(!confirm("letter-wrong", t0()).await);
    assert_eq!(
        store
            .org_letter("org-a")
            .await
            .expect("read")
            .map(|l| l.failures),
        Some(1)
    );
    assert!(
        store
            .organisation("org-a")
            .await
            .expect("read")
            .and_then(|o| o.confirmed_at)
            .is_none()
    );
    // of parallel confirmations with the right code exactly one confirms
    let now = t0() + Duration::hours(1);
    let results = join_all((0..RACERS).map(|_| confirm("letter-org-a", now))).await;
    assert_eq!(
        results.iter().filter(|r| **r).count(),
        1,
        "one of parallel confirmations wins: {results:?}"
    );
    assert_eq!(
        store
            .organisation("org-a")
            .await
            .expect("read")
            .and_then(|o| o.confirmed_at),
        Some(now)
    );
    assert!(store.org_letter("org-a").await.expect("read").is_none());
    assert_eq!(
        store.rights_of_org("org-a").await.expect("rights"),
        vec![first.clone()],
        "the administrator gets the first right, once"
    );
    assert!(!confirm("letter-org-a", now).await, "a letter works once");
    assert_eq!(
        actions(store, "org-a").await,
        vec!["administrator_confirmed", "organisation_created"]
    );

    // wrong codes up to the limit delete the letter; the right one is no use then
    let plain_first = right("first-plain", "org-plain", "ob", None);
    for n in 1..=MAX_FAILURES {
        assert!(
            !store
                .confirm_organisation(
                    "org-plain",
                    &hash("letter-wrong"),
                    &plain_first,
                    MAX_FAILURES,
                    t0(),
                    &event("org-plain", "administrator_confirmed"),
                )
                .await
                .expect("confirm")
        );
        let left = store.org_letter("org-plain").await.expect("read");
        assert_eq!(left.is_some(), n < MAX_FAILURES, "after {n} wrong codes");
    }
    assert!(
        !store
            .confirm_organisation(
                "org-plain",
                &hash("letter-org-plain"),
                &plain_first,
                MAX_FAILURES,
                t0(),
                &event("org-plain", "administrator_confirmed"),
            )
            .await
            .expect("confirm")
    );
    assert!(
        store
            .rights_of_org("org-plain")
            .await
            .expect("rights")
            .is_empty()
    );

    // an expired letter confirms nothing
    let after = t0() + Duration::days(31);
    assert!(
        !store
            .confirm_organisation(
                "org-plain2",
                &hash("letter-org-plain2"),
                &right("first-plain2", "org-plain2", "ob", None),
                MAX_FAILURES,
                after,
                &event("org-plain2", "administrator_confirmed"),
            )
            .await
            .expect("confirm")
    );
    let unconfirmed = store.organisation("org-plain2").await.expect("read");
    assert!(unconfirmed.is_some_and(|o| o.confirmed_at.is_none()));
    assert!(
        store
            .rights_of_org("org-plain2")
            .await
            .expect("rights")
            .is_empty()
    );
}

/// A new letter replaces a void or lost one, compare-and-set on the one it replaces, and only
/// while the organisation is unconfirmed.
async fn letters_are_replaced_once(store: &dyn Store) {
    let later = t0() + Duration::days(2);
    let new_letter = |org: &str| OrgLetterRecord {
        code_hash: hash(&format!("letter-new-{org}")),
        sent_at: later,
        expires_at: later + Duration::days(30),
        ..letter(org, "ob")
    };
    // org-plain's letter is void (too many wrong codes): of parallel requests one sends anew
    let results = join_all((0..RACERS).map(|_| async {
        store
            .replace_letter(
                &new_letter("org-plain"),
                None,
                &event("org-plain", "letter_sent"),
            )
            .await
            .expect("replace")
    }))
    .await;
    assert_eq!(results.iter().filter(|r| **r).count(), 1, "{results:?}");
    assert_eq!(
        store.org_letter("org-plain").await.expect("read"),
        Some(new_letter("org-plain"))
    );
    // org-plain2's letter expired: replaced only when named by the time it was sent
    let replace = |previous| async move {
        store
            .replace_letter(
                &new_letter("org-plain2"),
                previous,
                &event("org-plain2", "letter_sent"),
            )
            .await
            .expect("replace")
    };
    assert!(!replace(Some(t0() + Duration::hours(1))).await);
    assert!(!replace(None).await, "a letter is there");
    assert!(replace(Some(t0())).await);
    assert!(!replace(Some(t0())).await, "replaced already");
    // a confirmed organisation gets no letter
    assert!(
        !store
            .replace_letter(&new_letter("org-a"), None, &event("org-a", "letter_sent"))
            .await
            .expect("replace")
    );
    assert!(store.org_letter("org-a").await.expect("read").is_none());
}

async fn members_and_rights(store: &dyn Store) {
    let clerk = MembershipRecord {
        organisation: "org-a".into(),
        user_id: "oc".into(),
        role: Role::Clerk,
        legal_representative: false,
        joined_at: t0() + Duration::minutes(1),
    };
    store
        .add_member(&clerk, &event("org-a", "member_added"))
        .await
        .expect("add member");
    assert_eq!(
        store
            .add_member(&clerk, &event("org-a", "member_added"))
            .await,
        Err(StoreError::Conflict("member exists".into()))
    );
    assert_eq!(
        store.members("org-a").await.expect("members"),
        vec![admin("org-a", "oa"), clerk.clone()]
    );
    assert_eq!(
        store.memberships_of_user("oc").await.expect("memberships"),
        vec![clerk.clone()]
    );
    store
        .set_role(
            "org-a",
            "oc",
            Role::Administrator,
            &event("org-a", "role_set"),
        )
        .await
        .expect("set role");
    assert_eq!(
        store
            .memberships_of_user("oc")
            .await
            .expect("memberships")
            .first()
            .map(|m| m.role),
        Some(Role::Administrator)
    );
    assert_eq!(
        store
            .set_role("org-a", "oe", Role::Clerk, &event("org-a", "role_set"))
            .await,
        Err(StoreError::NotFound),
        "only a member has a role"
    );
    // an organisation keeps an administrator: the last one cannot step down, and of two
    // stepping down at once one succeeds
    assert!(matches!(
        store
            .set_role(
                "org-plain2",
                "ob",
                Role::Clerk,
                &event("org-plain2", "role_set")
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    let both = join_all(["oa", "oc"].map(|user| async move {
        (
            user,
            store
                .set_role("org-a", user, Role::Clerk, &event("org-a", "role_set"))
                .await,
        )
    }))
    .await;
    let stepped_down: Vec<&str> = both
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(u, _)| *u)
        .collect();
    assert_eq!(stepped_down.len(), 1, "{both:?}");
    assert!(
        both.iter()
            .any(|(_, r)| matches!(r, Err(StoreError::Conflict(_)))),
        "{both:?}"
    );
    store
        .set_role(
            "org-a",
            stepped_down[0],
            Role::Administrator,
            &event("org-a", "role_set"),
        )
        .await
        .expect("back");

    let r1 = right("r-c1", "org-a", "oc", None);
    store
        .grant_right(&r1, &event("org-a", "right_granted"))
        .await
        .expect("grant");
    assert_eq!(
        store
            .grant_right(
                &right("r-e1", "org-a", "oe", None),
                &event("org-a", "right_granted")
            )
            .await,
        Err(StoreError::NotFound),
        "only a member gets rights"
    );
    assert_eq!(
        store.rights_of_user("oc").await.expect("rights"),
        vec![r1.clone()]
    );
    assert_eq!(
        store
            .revoke_right("org-a", "r-none", &event("org-a", "right_revoked"))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store
            .revoke_right("org-b", "r-c1", &event("org-b", "right_revoked"))
            .await,
        Err(StoreError::NotFound),
        "an organisation revokes only its own rights"
    );
    store
        .revoke_right("org-a", "r-c1", &event("org-a", "right_revoked"))
        .await
        .expect("revoke");
    assert!(store.rights_of_user("oc").await.expect("rights").is_empty());

    // rights go with the member
    for id in ["r-c2", "r-c3"] {
        store
            .grant_right(
                &right(id, "org-a", "oc", None),
                &event("org-a", "right_granted"),
            )
            .await
            .expect("grant");
    }
    store
        .remove_member("org-a", "oc", &event("org-a", "member_removed"))
        .await
        .expect("remove member");
    assert!(store.rights_of_user("oc").await.expect("rights").is_empty());
    assert!(
        store
            .memberships_of_user("oc")
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        store
            .remove_member("org-a", "oc", &event("org-a", "member_removed"))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.rights_of_org("org-a").await.expect("rights"),
        vec![right("first-org-a", "org-a", "oa", None)],
        "the other members keep theirs"
    );
    assert_eq!(
        actions(store, "org-a").await[..10],
        [
            "member_removed",
            "right_granted",
            "right_granted",
            "right_revoked",
            "right_granted",
            // the restore, the one who stepped down, the promotion
            "role_set",
            "role_set",
            "role_set",
            "member_added",
            "administrator_confirmed",
        ],
        "every change is recorded, refused ones are not"
    );
    // back as a clerk for the checks that follow
    store
        .add_member(&clerk, &event("org-a", "member_added"))
        .await
        .expect("add member");
}

async fn events_are_listed_newest_first(store: &dyn Store) {
    let mut late = event("org-b", "renamed");
    late.at = t0() + Duration::days(1);
    late.actor = None;
    late.actor_level = None;
    store
        .add_member(
            &MembershipRecord {
                organisation: "org-b".into(),
                user_id: "oe".into(),
                role: Role::Clerk,
                legal_representative: false,
                joined_at: t0(),
            },
            &late,
        )
        .await
        .expect("add member");
    let newest = store.org_events("org-b", 2).await.expect("events");
    assert_eq!(newest.len(), 2, "at most the limit");
    assert_eq!(newest[0], late, "the newest first, as written");
    assert_eq!(newest[1].action, "right_granted");
    let all = store.org_events("org-b", 1000).await.expect("events");
    assert_eq!(
        all.last().map(|e| e.action.as_str()),
        Some("organisation_created")
    );
    assert!(all.iter().all(|e| e.organisation == "org-b"));
    assert!(
        store
            .org_events("org-none", 10)
            .await
            .expect("events")
            .is_empty()
    );
}

fn invitation(code: &str, org: &str, expires_at: time::OffsetDateTime) -> OrgInvitationRecord {
    OrgInvitationRecord {
        hash: hash(code),
        organisation: org.into(),
        email: format!("{code}@example.org"),
        role: Role::Clerk,
        invited_by: "oa".into(),
        expires_at,
    }
}

async fn invitations_work_once(store: &dyn Store) {
    let live = invitation("inv-1", "org-a", t0() + Duration::days(7));
    store
        .create_invitation(&live, &event("org-a", "member_invited"))
        .await
        .expect("invite");
    assert!(matches!(
        store
            .create_invitation(&live, &event("org-a", "member_invited"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(actions(store, "org-a").await[0], "member_invited");
    let code = hash("inv-1");
    // looking does not spend it; an expired one is not shown
    for _ in 0..2 {
        assert_eq!(
            store.invitation(&code, t0()).await.expect("read"),
            Some(live.clone())
        );
    }
    assert_eq!(
        store
            .invitation(&code, t0() + Duration::days(8))
            .await
            .expect("read"),
        None
    );
    let taken = join_all((0..RACERS).map(|_| store.take_invitation(&code, t0()))).await;
    let taken: Vec<_> = taken.into_iter().filter_map(|t| t.expect("take")).collect();
    assert_eq!(taken, vec![live], "an invitation works once");
    assert_eq!(store.invitation(&code, t0()).await.expect("read"), None);
    let expired = invitation("inv-2", "org-a", t0() + Duration::hours(1));
    store
        .create_invitation(&expired, &event("org-a", "member_invited"))
        .await
        .expect("invite");
    assert!(
        store
            .take_invitation(&hash("inv-2"), t0() + Duration::hours(2))
            .await
            .expect("take")
            .is_none(),
        "an expired invitation does not work"
    );
    assert!(
        store
            .take_invitation(&hash("inv-2"), t0())
            .await
            .expect("take")
            .is_none(),
        "nor later with an earlier clock"
    );
}

async fn purge_removes_expired_letters_and_invitations(store: &dyn Store) {
    let mut short = letter("org-p", "oe");
    short.expires_at = t0() + Duration::hours(1);
    store
        .create_organisation(
            &organisation("org-p"),
            &admin("org-p", "oe"),
            Confirmation::Letter(&short),
            &event("org-p", "organisation_created"),
        )
        .await
        .expect("create organisation");
    store
        .create_invitation(
            &invitation("inv-old", "org-p", t0() + Duration::hours(1)),
            &event("org-p", "member_invited"),
        )
        .await
        .expect("invite");
    store
        .create_invitation(
            &invitation("inv-live", "org-p", t0() + Duration::days(7)),
            &event("org-p", "member_invited"),
        )
        .await
        .expect("invite");
    store
        .create_organisation(
            &organisation("org-q"),
            &admin("org-q", "oe"),
            Confirmation::Letter(&letter("org-q", "oe")),
            &event("org-q", "organisation_created"),
        )
        .await
        .expect("create organisation");
    let before = store.row_counts().await.expect("counts");
    let count = |counts: &[(String, i64)], t: &str| {
        counts
            .iter()
            .find(|(name, _)| name == t)
            .map(|(_, n)| *n)
            .expect("the table is counted")
    };
    for table in [
        "organisations",
        "org_members",
        "org_rights",
        "mandates",
        "org_events",
    ] {
        assert!(count(&before, table) > 0, "{table} is counted");
    }
    store
        .purge_expired(t0() + Duration::hours(2))
        .await
        .expect("purge");
    let after = store.row_counts().await.expect("counts");
    assert!(
        store.org_letter("org-p").await.expect("read").is_none(),
        "an expired letter goes"
    );
    assert!(
        store.org_letter("org-q").await.expect("read").is_some(),
        "a live letter stays"
    );
    assert_eq!(
        count(&after, "org_invitations"),
        count(&before, "org_invitations") - 1,
        "an expired invitation goes"
    );
    assert!(
        store
            .take_invitation(&hash("inv-live"), t0() + Duration::hours(2))
            .await
            .expect("take")
            .is_some(),
        "a live invitation stays"
    );
    assert_eq!(
        count(&after, "organisations"),
        count(&before, "organisations"),
        "organisations are never purged"
    );
}
