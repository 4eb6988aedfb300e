//! Postboxes: one per owner, keys set once, releases, messages made once per idempotency key
//! (also under parallel sends), read marks, and nothing left after the account goes.

use futures::future::join_all;
use konto_core::Level;
use konto_core::postbox::MessageKind;
use konto_core::representation::Party;
use time::Duration;

use super::{sample_user, t0};
use crate::*;

/// Parallel callers in the one-winner checks.
const RACERS: usize = 8;

fn message(id: &str, handle: &str, key: &str) -> MessageRecord {
    MessageRecord {
        id: id.into(),
        handle: handle.into(),
        client_id: "c-post".into(),
        idempotency_key: key.into(),
        kind: MessageKind::Decision,
        min_level: Level::Substantial,
        sender: "Finanzamt".into(),
        service: "Grundsteuer".into(),
        sealed: vec![1, 2, 3, 0, 255],
        content_sha256: format!("hash-{key}"),
        reference: Some("AZ 1".into()),
        application_id: None,
        provided_at: t0(),
        delivered_at: Some(t0() + Duration::days(4)),
        read_at: None,
        deleted_at: None,
    }
}

pub(super) async fn run_all(store: &dyn Store) {
    attachments(store).await;
    pages(store).await;
    store
        .create_user(&sample_user("pb1"), &[], &[])
        .await
        .expect("create user");
    let owner = Party::Person("pb1".into());
    // one postbox per owner, whoever asks first
    let made = join_all((0..RACERS).map(|i| {
        let owner = owner.clone();
        async move {
            store
                .ensure_postbox(&owner, &format!("handle-{i}"), t0())
                .await
        }
    }))
    .await;
    let handles: Vec<String> = made
        .into_iter()
        .map(|r| r.expect("ensure").handle)
        .collect();
    assert!(
        handles.iter().all(|h| h == &handles[0]),
        "one postbox: {handles:?}"
    );
    let handle = handles[0].clone();
    let pb = store.postbox(&handle).await.expect("read").expect("exists");
    assert_eq!(pb.owner, owner);
    assert_eq!(pb.data_key, None);
    assert_eq!(
        store.postbox_of(&owner).await.expect("read"),
        Some(pb.clone())
    );
    assert!(store.postbox("nowhere").await.expect("read").is_none());
    // the data key is set once
    let key = store
        .set_postbox_key(&handle, b"sealed-1")
        .await
        .expect("key");
    assert_eq!(key, b"sealed-1");
    let key = store
        .set_postbox_key(&handle, b"sealed-2")
        .await
        .expect("key");
    assert_eq!(key, b"sealed-1", "the first key stays");
    assert_eq!(
        store.set_postbox_key("nowhere", b"k").await,
        Err(StoreError::NotFound)
    );
    // releases
    assert!(
        !store
            .postbox_released(&handle, "c-post")
            .await
            .expect("read")
    );
    store
        .release_postbox(&handle, "c-post", t0())
        .await
        .expect("release");
    store
        .release_postbox(&handle, "c-post", t0())
        .await
        .expect("twice is once");
    assert!(
        store
            .postbox_released(&handle, "c-post")
            .await
            .expect("read")
    );
    assert!(
        !store
            .postbox_released(&handle, "c-other")
            .await
            .expect("read")
    );
    assert_eq!(
        store.release_postbox("nowhere", "c-post", t0()).await,
        Err(StoreError::NotFound)
    );
    // a message, stored once per idempotency key even when sent in parallel
    let sent = join_all((0..RACERS).map(|i| {
        let m = message(&format!("m-{i}"), &handle, "key-1");
        async move { store.insert_message(&m).await }
    }))
    .await;
    let ids: Vec<String> = sent.into_iter().map(|r| r.expect("insert").id).collect();
    assert!(ids.iter().all(|id| id == &ids[0]), "one message: {ids:?}");
    let first = store
        .message(&handle, &ids[0])
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(first, message(&ids[0], &handle, "key-1"));
    // another key is another message; the same key from another client too
    let second = store
        .insert_message(&message("m-second", &handle, "key-2"))
        .await
        .expect("insert");
    assert_eq!(second.id, "m-second");
    let mut other_client = message("m-other", &handle, "key-1");
    other_client.client_id = "c-other".into();
    other_client.provided_at = t0() + Duration::hours(1);
    assert_eq!(
        store
            .insert_message(&other_client)
            .await
            .expect("insert")
            .id,
        "m-other"
    );
    assert_eq!(
        store
            .insert_message(&message("m-lost", "nowhere", "key-9"))
            .await,
        Err(StoreError::NotFound),
        "no postbox, no message"
    );
    // unread first, then newest
    assert!(
        store
            .mark_read(&handle, &ids[0], t0() + Duration::hours(2))
            .await
            .expect("mark")
    );
    assert!(
        store
            .mark_read(&handle, &ids[0], t0() + Duration::hours(3))
            .await
            .expect("mark again")
    );
    assert!(
        !store
            .mark_read(&handle, "m-none", t0())
            .await
            .expect("mark")
    );
    let listed: Vec<(String, Option<time::OffsetDateTime>)> = store
        .messages(&handle)
        .await
        .expect("list")
        .into_iter()
        .map(|m| (m.id, m.read_at))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("m-other".to_owned(), None),
            ("m-second".to_owned(), None),
            (ids[0].clone(), Some(t0() + Duration::hours(2))),
        ],
        "unread first, newest first; the first read counts"
    );
    assert!(
        store
            .message("other-handle", &ids[0])
            .await
            .expect("read")
            .is_none()
    );
    // the sender sees its own messages, whoever's postbox they are in; no one else's
    assert_eq!(
        store
            .sent_message("c-post", "m-second")
            .await
            .expect("read")
            .map(|m| m.id),
        Some("m-second".to_owned())
    );
    assert!(
        store
            .sent_message("c-other", "m-second")
            .await
            .expect("read")
            .is_none()
    );
    // deleting erases the content and hides the message; the sender still learns of it, once
    let at = t0() + Duration::hours(4);
    assert!(
        store
            .delete_message(&handle, "m-second", at)
            .await
            .expect("delete")
    );
    assert!(
        !store
            .delete_message(&handle, "m-second", at)
            .await
            .expect("again")
    );
    assert!(
        !store
            .delete_message("other-handle", "m-other", at)
            .await
            .expect("foreign")
    );
    assert!(
        store
            .message(&handle, "m-second")
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        !store
            .mark_read(&handle, "m-second", at)
            .await
            .expect("mark")
    );
    let gone = store
        .sent_message("c-post", "m-second")
        .await
        .expect("read")
        .expect("still known to its sender");
    assert_eq!(gone.deleted_at, Some(at));
    assert!(gone.sealed.is_empty(), "the content is erased");
    assert_eq!(
        store
            .insert_message(&message("m-retry", &handle, "key-2"))
            .await
            .expect("retry")
            .id,
        "m-second",
        "a retried send of a deleted message makes no new one"
    );
    assert_eq!(store.messages(&handle).await.expect("list").len(), 2);
    // status updates in the order they arrived (even within one second, or with a clock that
    // went back), by application on request
    let state = |id: &str, application: &str, at: i64| ApplicationStateRecord {
        id: id.into(),
        handle: handle.clone(),
        client_id: "c-post".into(),
        application_id: application.into(),
        status: konto_core::postbox::ApplicationStatus::Processing,
        sender: "Bürgeramt".into(),
        service_name: r#"{"de":"Anmeldung"}"#.into(),
        sealed: vec![9, 9],
        reference: None,
        recorded_at: t0() + Duration::minutes(at),
    };
    for (id, application, at) in [("s-1", "A-1", 1), ("s-2", "A-1", 1), ("s-3", "A-2", 0)] {
        store
            .insert_application_state(&state(id, application, at))
            .await
            .expect("state");
    }
    let ids_of =
        |v: Vec<ApplicationStateRecord>| -> Vec<String> { v.into_iter().map(|s| s.id).collect() };
    assert_eq!(
        ids_of(store.application_states(&handle, None).await.expect("read")),
        ["s-1", "s-2", "s-3"]
    );
    assert_eq!(
        ids_of(
            store
                .application_states(&handle, Some("A-1"))
                .await
                .expect("read")
        ),
        ["s-1", "s-2"]
    );
    assert_eq!(
        store
            .application_states(&handle, Some("A-1"))
            .await
            .expect("read")[0],
        state("s-1", "A-1", 1)
    );
    let mut lost = state("s-lost", "A-1", 4);
    lost.handle = "nowhere".into();
    assert_eq!(
        store.insert_application_state(&lost).await,
        Err(StoreError::NotFound)
    );
    // an organisation's postbox is its own
    let org = store
        .ensure_postbox(&Party::Organisation("org-x".into()), "handle-org", t0())
        .await
        .expect("ensure");
    assert_eq!(org.handle, "handle-org");
    // deleting the account closes its postbox: key and content erased, rows kept for senders
    let gone_at = t0() + Duration::days(1);
    store.delete_user("pb1", gone_at).await.expect("delete");
    let closed = store.postbox(&handle).await.expect("read").expect("kept");
    assert_eq!(closed.closed_at, Some(gone_at));
    assert_eq!(closed.data_key, None, "the key is erased");
    assert!(store.messages(&handle).await.expect("list").is_empty());
    let left = store
        .sent_message("c-other", "m-other")
        .await
        .expect("read")
        .expect("its sender still knows it");
    assert!(left.sealed.is_empty(), "its content is erased");
    assert_eq!(left.deleted_at, Some(gone_at));
    assert_eq!(
        store
            .sent_message("c-post", "m-second")
            .await
            .expect("read")
            .and_then(|m| m.deleted_at),
        Some(at),
        "a message deleted before keeps its time"
    );
    assert!(
        !store
            .postbox_released(&handle, "c-post")
            .await
            .expect("read")
    );
    assert!(
        store
            .application_states(&handle, None)
            .await
            .expect("read")
            .is_empty(),
        "and its applications' states"
    );
    assert!(store.postbox("handle-org").await.expect("read").is_some());
}

/// Attachments: kept in order, read one by one, replaced as a whole, deleted with their
/// message; the purge takes those whose message never arrived or was deleted, after an hour.
async fn attachments(store: &dyn Store) {
    store
        .create_user(&sample_user("pba"), &[], &[])
        .await
        .expect("create user");
    let pb = store
        .ensure_postbox(&Party::Person("pba".into()), "handle-att", t0())
        .await
        .expect("postbox");
    let two = vec![vec![1u8; 70_000], vec![0u8, 255, 7]];
    store
        .put_attachments("m-att", &two, t0())
        .await
        .expect("put");
    assert_eq!(
        store.attachment("m-att", 0).await.expect("read"),
        Some(two[0].clone())
    );
    assert_eq!(
        store.attachment("m-att", 1).await.expect("read"),
        Some(two[1].clone())
    );
    assert_eq!(store.attachment("m-att", 2).await.expect("read"), None);
    assert_eq!(store.attachment("m-other", 0).await.expect("read"), None);
    // a retried put replaces what it names, never doubles
    store
        .put_attachments("m-att", &[vec![9]], t0())
        .await
        .expect("put again");
    assert_eq!(
        store.attachment("m-att", 0).await.expect("read"),
        Some(vec![9])
    );
    assert_eq!(
        store.attachment("m-att", 1).await.expect("read"),
        Some(two[1].clone())
    );
    assert_eq!(
        store
            .released_postbox(&pb.handle, "c-att")
            .await
            .expect("read"),
        None,
        "not given to the client"
    );
    store
        .release_postbox(&pb.handle, "c-att", t0())
        .await
        .expect("release");
    assert_eq!(
        store
            .released_postbox(&pb.handle, "c-att")
            .await
            .expect("read")
            .map(|p| p.handle),
        Some(pb.handle.clone())
    );
    store
        .put_attachments("m-orphan", &[vec![5]], t0())
        .await
        .expect("put orphan");
    store
        .put_attachments("m-fresh-orphan", &[vec![6]], t0() + Duration::minutes(59))
        .await
        .expect("put orphan");
    let mut m = message("m-att", &pb.handle, "k-att");
    m.client_id = "c-att".into();
    store.insert_message(&m).await.expect("insert");
    store
        .purge_expired(t0() + Duration::minutes(61))
        .await
        .expect("purge");
    assert_eq!(
        store.attachment("m-orphan", 0).await.expect("read"),
        None,
        "no message after an hour: purged"
    );
    assert!(
        store
            .attachment("m-fresh-orphan", 0)
            .await
            .expect("read")
            .is_some(),
        "a send may still be storing its message"
    );
    assert!(
        store.attachment("m-att", 0).await.expect("read").is_some(),
        "a stored message keeps its attachments"
    );
    assert!(
        store
            .delete_message(&pb.handle, "m-att", t0())
            .await
            .expect("delete")
    );
    store
        .purge_expired(t0() + Duration::minutes(61))
        .await
        .expect("purge");
    assert_eq!(
        store.attachment("m-att", 0).await.expect("read"),
        None,
        "a deleted message's attachments go with the purge"
    );
    store
        .delete_attachments("m-fresh-orphan")
        .await
        .expect("delete");
    assert_eq!(
        store.attachment("m-fresh-orphan", 0).await.expect("read"),
        None
    );
    store
        .delete_attachments("m-none")
        .await
        .expect("none is fine");
}

/// The inbox in pages: the same order as the whole list (unread first, then newest first),
/// sliced by offset and limit, of one application on request.
async fn pages(store: &dyn Store) {
    store
        .create_user(&sample_user("pbp"), &[], &[])
        .await
        .expect("create user");
    let pb = store
        .ensure_postbox(&Party::Person("pbp".into()), "handle-pages", t0())
        .await
        .expect("postbox");
    for n in 0..7i64 {
        let mut m = message(&format!("m-page-{n}"), &pb.handle, &format!("k-page-{n}"));
        m.client_id = "c-pages".into();
        m.provided_at = t0() + Duration::minutes(n);
        m.application_id = (n % 2 == 0).then(|| "A-even".to_owned());
        store.insert_message(&m).await.expect("insert");
    }
    for n in [1, 4] {
        assert!(
            store
                .mark_read(&pb.handle, &format!("m-page-{n}"), t0())
                .await
                .expect("read")
        );
    }
    let ids = |l: Vec<MessageRecord>| l.into_iter().map(|m| m.id).collect::<Vec<_>>();
    let all = ids(store.messages(&pb.handle).await.expect("all"));
    assert_eq!(
        all,
        [
            "m-page-6", "m-page-5", "m-page-3", "m-page-2", "m-page-0", "m-page-4", "m-page-1"
        ],
        "unread first, then newest first"
    );
    let mut paged = Vec::new();
    for offset in (0..8).step_by(3) {
        paged.extend(ids(store
            .messages_page(&pb.handle, None, offset, 3)
            .await
            .expect("page")));
    }
    assert_eq!(paged, all);
    assert_eq!(
        ids(store
            .messages_page(&pb.handle, Some("A-even"), 1, 2)
            .await
            .expect("page")),
        ["m-page-2", "m-page-0"]
    );
    assert!(
        store
            .messages_page(&pb.handle, Some("none"), 0, 10)
            .await
            .expect("page")
            .is_empty()
    );
}
