#![expect(
    clippy::expect_used,
    reason = "a test suite: a broken rule must stop it with a message"
)]

//! The conformance suite every backend must pass.
//!
//! Call [`run_all`] from the backend's tests with a fresh, migrated store. Each check panics with
//! a message naming the rule it found broken.

use futures::future::join_all;
use konto_core::Level;
use konto_core::amr::{AuthenticatorKind, MethodUsed};
use konto_core::attributes::{Attribute, AttributeName, AttributeSource};
use konto_core::client::{
    Client, GrantType, RelyingParty, SigningAlg, SubjectType, TokenEndpointAuthMethod,
};
use konto_core::level::AcrVocabulary;
use konto_core::secret::{SecretHash, SecretHasher, SecretPurpose};
use konto_core::session::{AuthEvent, SessionAuth};
use konto_core::throttle::ThrottleState;
use konto_core::user::Authenticator;
use time::{Duration, OffsetDateTime};

use crate::*;

mod mandates;
mod orgs;
mod postbox;

fn t0() -> OffsetDateTime {
    // whole seconds: stores keep Unix seconds
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn hash(s: &str) -> SecretHash {
    SecretHasher::new([9; 32]).hash(SecretPurpose::RefreshToken, s)
}

pub fn sample_user(id: &str) -> NewUser {
    NewUser {
        id: id.into(),
        username: format!("{id}@example.org"),
        email: Some(format!("{id}@example.org")),
        email_verified: true,
        postbox_handle: format!("postbox-{id}"),
        created_at: t0(),
    }
}

pub fn sample_client(id: &str) -> Client {
    Client {
        party: RelyingParty {
            id: id.into(),
            name: format!("Client {id}"),
            scopes: vec!["openid".into(), "profile".into()],
            first_party: false,
            min_level: Level::Substantial,
            allow_temporary_login: true,
            service_groups: Vec::new(),
            postbox_webhook: None,
            created_at: t0(),
        },
        auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        secret_hash: Some(hash("secret")),
        jwks: None,
        redirect_uris: vec!["https://rp.example/cb".into()],
        post_logout_redirect_uris: vec!["https://rp.example/bye".into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        id_token_alg: SigningAlg::ES256,
        subject_type: SubjectType::Pairwise,
        sector_identifier_uri: None,
        require_pkce: true,
        acr_vocabulary: AcrVocabulary::Stork,
    }
}

fn attribute(name: AttributeName, value: &str, source: AttributeSource, level: Level) -> Attribute {
    Attribute::new(name, value, source, level, t0())
}

fn grant(id: &str, client: &str, user: Option<&str>) -> GrantRecord {
    GrantRecord {
        id: id.into(),
        client_id: client.into(),
        user_id: user.map(str::to_owned),
        temporary_identity: None,
        subject: format!("sub-{id}"),
        scopes: "openid profile".into(),
        claims: None,
        level: Level::High,
        amr: "mfa pin sc".into(),
        auth_time: t0(),
        session_id: Some("sid-1".into()),
        representation: None,
        created_at: t0(),
        expires_at: t0() + Duration::days(1),
        revoked_at: None,
        code: GrantCode {
            hash: hash(&format!("code-{id}")),
            redirect_uri: "https://rp.example/cb".into(),
            code_challenge: Some("challenge".into()),
            nonce: Some("n-0S6_WzA2Mj".into()),
            expires_at: t0() + Duration::minutes(1),
            used_at: None,
        },
        refresh_hash: None,
        refresh_generation: 0,
    }
}

fn key(kid: &str, alg: &str, status: KeyStatus) -> StoredKey {
    StoredKey {
        kid: kid.into(),
        alg: alg.into(),
        status,
        private_encrypted: vec![1, 2, 3, kid.len() as u8],
        public_jwk: format!("{{\"kid\":\"{kid}\"}}"),
        created_at: t0(),
        retire_after: None,
    }
}

/// Runs every check against `store`, which must be freshly migrated and empty.
pub async fn run_all(store: &dyn Store) {
    users_and_attributes(store).await;
    authenticators_are_unique(store).await;
    clients_round_trip(store).await;
    sessions_and_flows(store).await;
    codes_are_single_use(store).await;
    refresh_rotation_and_reuse(store).await;
    refresh_retry_of_a_lost_answer(store).await;
    token_deny_lists(store).await;
    consents(store).await;
    key_rotation(store).await;
    throttles_and_links(store).await;
    failures_are_counted_atomically(store).await;
    reset_links_are_spent_once_with_the_password(store).await;
    flows_are_claimed_once(store).await;
    deleting_an_account_leaves_nothing(store).await;
    purge_removes_only_expired_rows(store).await;
    saml_service_providers(store).await;
    orgs::run_all(store).await;
    postbox::run_all(store).await;
    store.ping().await.expect("ping");
}

async fn users_and_attributes(store: &dyn Store) {
    let u = sample_user("u1");
    let attrs = vec![
        attribute(
            AttributeName::GivenName,
            "Erika",
            AttributeSource::SelfAsserted,
            Level::Basic,
        ),
        attribute(
            AttributeName::FamilyName,
            "Mustermann",
            AttributeSource::Upstream("https://idp.example".into()),
            Level::Low,
        ),
    ];
    store
        .create_user(&u, &attrs, &[])
        .await
        .expect("create user");
    let got = store.user("u1").await.expect("read").expect("user exists");
    assert_eq!(got.username, u.username);
    assert_eq!(got.postbox_handle, "postbox-u1");
    assert!(got.email_verified);
    assert_eq!(got.created_at, t0());
    assert_eq!(
        store
            .user_by_username("u1@example.org")
            .await
            .expect("read")
            .map(|u| u.id),
        Some("u1".into())
    );
    assert_eq!(
        store
            .user_by_email("u1@example.org")
            .await
            .expect("read")
            .map(|u| u.id),
        Some("u1".into())
    );
    assert!(store.user("nobody").await.expect("read").is_none());

    // usernames are unique
    let mut dup = sample_user("u1b");
    dup.username = u.username.clone();
    dup.email = None;
    assert!(
        matches!(
            store.create_user(&dup, &[], &[]).await,
            Err(StoreError::Conflict(_))
        ),
        "username must be unique"
    );
    // and a failed creation leaves nothing behind
    assert!(store.user("u1b").await.expect("read").is_none());

    let mut read = store.attributes("u1").await.expect("attributes");
    read.sort_by_key(|a| a.name);
    assert_eq!(read, attrs);

    let raised = attribute(
        AttributeName::GivenName,
        "ERIKA",
        AttributeSource::Eid,
        Level::High,
    );
    store
        .put_attribute("u1", &raised)
        .await
        .expect("put attribute");
    let read = store.attributes("u1").await.expect("attributes");
    assert_eq!(
        read.iter().find(|a| a.name == AttributeName::GivenName),
        Some(&raised)
    );
    assert_eq!(read.len(), 2);

    store
        .set_last_login("u1", t0() + Duration::hours(1))
        .await
        .expect("last login");
    assert_eq!(
        store
            .user("u1")
            .await
            .expect("read")
            .and_then(|u| u.last_login_at),
        Some(t0() + Duration::hours(1))
    );
    assert!(
        store
            .list_users()
            .await
            .expect("list")
            .iter()
            .any(|u| u.id == "u1")
    );
}

async fn authenticators_are_unique(store: &dyn Store) {
    store
        .create_user(&sample_user("u2"), &[], &[])
        .await
        .expect("create");
    store
        .create_user(&sample_user("u3"), &[], &[])
        .await
        .expect("create");
    let eid = |user: &str, ext: &str| Authenticator {
        user_id: user.into(),
        kind: AuthenticatorKind::Eid,
        external_id: Some(ext.into()),
        data: "{}".into(),
        created_at: t0(),
    };
    let merged = vec![attribute(
        AttributeName::GivenName,
        "ERIKA",
        AttributeSource::Eid,
        Level::High,
    )];
    // a link decided on a stale view of the attributes writes nothing
    let stale = vec![attribute(
        AttributeName::GivenName,
        "SOMEONE",
        AttributeSource::SelfAsserted,
        Level::Basic,
    )];
    assert_eq!(
        store
            .link_authenticator(
                &eid("u2", "card-1"),
                Some(AttributeChange {
                    expected: &stale,
                    merged: &merged,
                }),
            )
            .await,
        Err(StoreError::Stale)
    );
    assert!(
        store
            .authenticator_by_external_id(AuthenticatorKind::Eid, "card-1")
            .await
            .expect("lookup")
            .is_none(),
        "a stale link adds no authenticator"
    );
    store
        .link_authenticator(
            &eid("u2", "card-1"),
            Some(AttributeChange {
                expected: &[],
                merged: &merged,
            }),
        )
        .await
        .expect("link");
    // a self-asserted value never replaces a verified one
    let typed = attribute(
        AttributeName::GivenName,
        "Eri",
        AttributeSource::SelfAsserted,
        Level::Basic,
    );
    assert!(
        !store
            .put_self_asserted("u2", &typed)
            .await
            .expect("put self-asserted")
    );
    store
        .create_user(&sample_user("u4"), &[], &[])
        .await
        .expect("create");
    let family = attribute(
        AttributeName::FamilyName,
        "Muster",
        AttributeSource::SelfAsserted,
        Level::Basic,
    );
    for _ in 0..2 {
        assert!(
            store
                .put_self_asserted("u4", &family)
                .await
                .expect("put self-asserted"),
            "a new or self-asserted value is set"
        );
    }
    assert_eq!(store.attributes("u4").await.expect("attrs"), vec![family]);
    store.delete_user("u4", t0()).await.expect("delete");

    // one of each kind per account
    assert!(matches!(
        store.link_authenticator(&eid("u2", "card-2"), None).await,
        Err(StoreError::Conflict(_))
    ));
    // one card, one account
    assert!(matches!(
        store.link_authenticator(&eid("u3", "card-1"), None).await,
        Err(StoreError::Conflict(_))
    ));
    // the refused link changed nothing
    assert_eq!(store.attributes("u2").await.expect("attrs"), merged);
    assert!(store.attributes("u3").await.expect("attrs").is_empty());

    let pw = Authenticator {
        user_id: "u3".into(),
        kind: AuthenticatorKind::Password,
        external_id: None,
        data: "$argon2id$old".into(),
        created_at: t0(),
    };
    store.link_authenticator(&pw, None).await.expect("password");
    store
        .update_authenticator_data("u3", AuthenticatorKind::Password, "$argon2id$new")
        .await
        .expect("update");
    let list = store.authenticators("u3").await.expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].data, "$argon2id$new");
    store
        .remove_authenticator("u3", AuthenticatorKind::Password)
        .await
        .expect("remove");
    assert!(store.authenticators("u3").await.expect("list").is_empty());
    assert_eq!(
        store
            .remove_authenticator("u3", AuthenticatorKind::Password)
            .await,
        Err(StoreError::NotFound)
    );
}

async fn clients_round_trip(store: &dyn Store) {
    let c = sample_client("c1");
    store.create_client(&c).await.expect("create client");
    assert_eq!(store.client("c1").await.expect("read"), Some(c.clone()));
    assert!(matches!(
        store.create_client(&c).await,
        Err(StoreError::Conflict(_))
    ));
    let mut public = sample_client("c2");
    public.auth_method = TokenEndpointAuthMethod::None;
    public.secret_hash = None;
    public.grant_types = vec![GrantType::ClientCredentials];
    store.create_client(&public).await.expect("create");
    assert_eq!(store.client("c2").await.expect("read"), Some(public));
    assert_eq!(store.list_clients().await.expect("list").len(), 2);
    store.delete_client("c2").await.expect("delete");
    assert!(store.client("c2").await.expect("read").is_none());
    assert_eq!(store.delete_client("c2").await, Err(StoreError::NotFound));
}

fn session_auth() -> SessionAuth {
    SessionAuth::new(AuthEvent {
        method: MethodUsed {
            kind: AuthenticatorKind::Password,
            user_verified: false,
        },
        level: Level::Basic,
        at: t0(),
    })
}

async fn sessions_and_flows(store: &dyn Store) {
    let s = SessionRecord {
        id: "sid-1".into(),
        secret_hash: hash("cookie-1"),
        user_id: "u1".into(),
        auth: session_auth(),
        created_at: t0(),
        expires_at: t0() + Duration::hours(1),
    };
    store.create_session(&s).await.expect("create session");
    assert_eq!(
        store
            .session_by_secret(&hash("cookie-1"))
            .await
            .expect("read"),
        Some(s.clone())
    );
    assert_eq!(store.session("sid-1").await.expect("read"), Some(s.clone()));
    assert!(
        store
            .session_by_secret(&hash("cookie-2"))
            .await
            .expect("read")
            .is_none()
    );
    let mut auth = s.auth.clone();
    auth.record(AuthEvent {
        method: MethodUsed {
            kind: AuthenticatorKind::Eid,
            user_verified: false,
        },
        level: Level::High,
        at: t0() + Duration::minutes(5),
    });
    store
        .update_session("sid-1", &auth, t0() + Duration::hours(2))
        .await
        .expect("update");
    let got = store.session("sid-1").await.expect("read").expect("exists");
    assert_eq!(got.auth, auth);
    assert_eq!(got.expires_at, t0() + Duration::hours(2));
    // a renewed session answers only to its new secret
    store
        .renew_session("sid-1", &hash("renewed"), &auth, t0() + Duration::hours(3))
        .await
        .expect("renew");
    assert!(
        store
            .session_by_secret(&s.secret_hash)
            .await
            .expect("read")
            .is_none(),
        "the old secret is dead"
    );
    let got = store
        .session_by_secret(&hash("renewed"))
        .await
        .expect("read")
        .expect("the new secret opens it");
    assert_eq!(got.id, "sid-1");
    assert_eq!(got.expires_at, t0() + Duration::hours(3));
    assert_eq!(
        store
            .renew_session("sid-none", &hash("x"), &auth, t0())
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.sessions_of_user("u1").await.expect("list").len(), 1);
    // sessions reference accounts
    let orphan = SessionRecord {
        id: "sid-x".into(),
        secret_hash: hash("x"),
        user_id: "nobody".into(),
        ..s.clone()
    };
    assert!(
        store.create_session(&orphan).await.is_err(),
        "a session needs an account"
    );

    let f = FlowRecord {
        id_hash: hash("flow-1"),
        binding_hash: hash("browser-1"),
        request: "{\"client_id\":\"c1\"}".into(),
        protocol: "{}".into(),
        state: "{\"stage\":\"start\"}".into(),
        created_at: t0(),
        expires_at: t0() + Duration::minutes(30),
    };
    store.create_flow(&f).await.expect("create flow");
    assert_eq!(
        store.flow(&hash("flow-1")).await.expect("read"),
        Some(f.clone())
    );
    store
        .update_flow_state(&hash("flow-1"), "{\"stage\":\"done\"}")
        .await
        .expect("update");
    assert_eq!(
        store
            .flow(&hash("flow-1"))
            .await
            .expect("read")
            .map(|f| f.state),
        Some("{\"stage\":\"done\"}".into())
    );
    assert_eq!(
        store.update_flow_state(&hash("flow-2"), "{}").await,
        Err(StoreError::NotFound)
    );
    // compare-and-set: only from the state the caller saw
    assert!(
        !store
            .replace_flow_state(&hash("flow-1"), "{\"stage\":\"start\"}", "{\"x\":1}")
            .await
            .expect("stale replace"),
        "a stale state is not replaced"
    );
    // of many racing for the same state, exactly one wins
    let racers = (0..8).map(|i| {
        let next = format!("{{\"winner\":{i}}}");
        async move {
            store
                .replace_flow_state(&hash("flow-1"), "{\"stage\":\"done\"}", &next)
                .await
                .expect("replace")
        }
    });
    let won = futures::future::join_all(racers).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let state = store
        .flow(&hash("flow-1"))
        .await
        .expect("read")
        .map(|f| f.state)
        .unwrap_or_default();
    assert!(state.starts_with("{\"winner\":"), "{state}");
    assert!(
        !store
            .replace_flow_state(&hash("flow-2"), "{}", "{}")
            .await
            .expect("missing flow"),
        "a missing flow is not replaced"
    );
    store.delete_flow(&hash("flow-1")).await.expect("delete");
    assert!(store.flow(&hash("flow-1")).await.expect("read").is_none());
    store.delete_session("sid-1").await.expect("delete session");
    assert!(store.session("sid-1").await.expect("read").is_none());
}

async fn codes_are_single_use(store: &dyn Store) {
    store
        .create_grant(&grant("g1", "c1", Some("u1")))
        .await
        .expect("grant");
    let g = store
        .grant_by_code(&hash("code-g1"))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(g.id, "g1");
    assert_eq!(g.code.used_at, None);
    assert_eq!(g.code.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    assert_eq!(g.refresh_hash, None);
    assert_eq!(g, grant("g1", "c1", Some("u1")), "the grant round-trips");
    let now = t0() + Duration::seconds(5);
    assert!(
        store
            .consume_code(&hash("code-g1"), now, Some(&hash("rt-1")))
            .await
            .expect("consume")
    );
    // RFC 6749 §4.1.2: a code is used once
    assert!(
        !store
            .consume_code(&hash("code-g1"), now, Some(&hash("rt-1b")))
            .await
            .expect("consume again"),
        "a replay changes nothing"
    );
    let g = store.grant("g1").await.expect("read").expect("exists");
    assert_eq!(g.code.used_at, Some(now));
    assert_eq!(g.refresh_hash, Some(hash("rt-1")));
    assert!(g.is_active(now));
    assert!(
        store
            .grant_by_code(&hash("unknown"))
            .await
            .expect("read")
            .is_none()
    );
    store.revoke_grant("g1", now).await.expect("revoke");
    let g = store.grant("g1").await.expect("read").expect("exists");
    assert!(!g.is_active(now));
    assert_eq!(g.refresh_hash, None, "revocation drops the refresh token");
    // unique code hashes
    let mut dup = grant("g1b", "c1", Some("u1"));
    dup.code.hash = hash("code-g1");
    assert!(matches!(
        store.create_grant(&dup).await,
        Err(StoreError::Conflict(_))
    ));
}

/// A rotation whose answer was lost: the replaced token may be presented again for a while,
/// as long as the successor was never used; it then replaces the successor, not the
/// generation.
async fn refresh_retry_of_a_lost_answer(store: &dyn Store) {
    store
        .create_grant(&grant("g4", "c1", Some("u1")))
        .await
        .expect("grant");
    let now = t0() + Duration::seconds(1);
    assert!(
        store
            .consume_code(&hash("code-g4"), now, Some(&hash("rt-4a")))
            .await
            .expect("consume")
    );
    // before any rotation there is nothing to retry
    assert!(
        store
            .retry_refresh_token("g4", &hash("rt-4a"), "c1", &hash("rt-4z"), now, now)
            .await
            .expect("retry")
            .is_none()
    );
    let rotated_at = now + Duration::seconds(10);
    store
        .rotate_refresh_token("g4", &hash("rt-4a"), "c1", &hash("rt-4b"), rotated_at)
        .await
        .expect("rotate")
        .expect("rotated");
    let later = rotated_at + Duration::seconds(5);
    // too late, another client, or not the replaced token: no retry
    for (presented, client, since) in [
        ("rt-4a", "c1", rotated_at + Duration::seconds(1)),
        ("rt-4a", "c-other", rotated_at),
        ("rt-4b", "c1", rotated_at),
        ("rt-4x", "c1", rotated_at),
    ] {
        assert!(
            store
                .retry_refresh_token("g4", &hash(presented), client, &hash("rt-4z"), later, since)
                .await
                .expect("retry")
                .is_none(),
            "{presented} {client}"
        );
    }
    let retried = store
        .retry_refresh_token(
            "g4",
            &hash("rt-4a"),
            "c1",
            &hash("rt-4c"),
            later,
            rotated_at,
        )
        .await
        .expect("retry")
        .expect("retried");
    assert_eq!(retried.grant.refresh_hash, Some(hash("rt-4c")));
    assert_eq!(retried.grant.refresh_generation, 1, "the same generation");
    // the lost successor is void; the fresh one rotates
    assert!(
        store
            .rotate_refresh_token("g4", &hash("rt-4b"), "c1", &hash("rt-4y"), later)
            .await
            .expect("rotate")
            .is_none()
    );
    store
        .rotate_refresh_token("g4", &hash("rt-4c"), "c1", &hash("rt-4d"), later)
        .await
        .expect("rotate")
        .expect("rotated");
    // the successor was used: the first token is no retry any more
    assert!(
        store
            .retry_refresh_token(
                "g4",
                &hash("rt-4a"),
                "c1",
                &hash("rt-4w"),
                later,
                rotated_at
            )
            .await
            .expect("retry")
            .is_none()
    );
    store.revoke_grant("g4", later).await.expect("revoke");
    assert!(
        store
            .retry_refresh_token(
                "g4",
                &hash("rt-4c"),
                "c1",
                &hash("rt-4v"),
                later,
                rotated_at
            )
            .await
            .expect("retry")
            .is_none(),
        "a revoked grant is not retried"
    );
}

async fn refresh_rotation_and_reuse(store: &dyn Store) {
    store
        .create_grant(&grant("g2", "c1", Some("u1")))
        .await
        .expect("grant");
    let now = t0() + Duration::seconds(1);
    assert!(
        store
            .consume_code(&hash("code-g2"), now, Some(&hash("rt-2a")))
            .await
            .expect("consume")
    );
    // another client's token is not rotated, and stays usable by its owner
    assert!(
        store
            .rotate_refresh_token("g2", &hash("rt-2a"), "c-other", &hash("rt-2x"), now)
            .await
            .expect("rotate")
            .is_none()
    );
    let rotated = store
        .rotate_refresh_token("g2", &hash("rt-2a"), "c1", &hash("rt-2b"), now)
        .await
        .expect("rotate")
        .expect("rotated");
    assert_eq!(
        rotated.org_epoch,
        store.org_epoch().await.expect("epoch"),
        "the rotation reads the organisation facts' epoch"
    );
    let g = rotated.grant;
    assert_eq!(g.refresh_hash, Some(hash("rt-2b")));
    assert_eq!(g.refresh_generation, 1);
    assert_eq!(
        g.expires_at,
        t0() + Duration::days(1),
        "rotation keeps the grant's end"
    );
    // RFC 9700 §4.14.2: the old token no longer rotates
    assert!(
        store
            .rotate_refresh_token("g2", &hash("rt-2a"), "c1", &hash("rt-2c"), now)
            .await
            .expect("reuse")
            .is_none()
    );
    assert_eq!(
        store
            .grant("g2")
            .await
            .expect("read")
            .expect("exists")
            .refresh_generation,
        1
    );
    store.revoke_grant("g2", now).await.expect("revoke");
    assert!(
        store
            .rotate_refresh_token("g2", &hash("rt-2b"), "c1", &hash("rt-2d"), now)
            .await
            .expect("rotate")
            .is_none(),
        "a revoked grant does not rotate"
    );
    // expired grants do not rotate
    store
        .create_grant(&grant("g3", "c1", Some("u1")))
        .await
        .expect("grant");
    assert!(
        store
            .consume_code(&hash("code-g3"), now, Some(&hash("rt-3")))
            .await
            .expect("consume")
    );
    let late = t0() + Duration::days(2);
    assert!(
        store
            .rotate_refresh_token("g3", &hash("rt-3"), "c1", &hash("rt-3b"), late)
            .await
            .expect("rotate")
            .is_none()
    );
}

async fn token_deny_lists(store: &dyn Store) {
    assert!(!store.is_access_token_revoked("jti-1").await.expect("read"));
    store
        .revoke_access_token("jti-1", t0() + Duration::minutes(5))
        .await
        .expect("revoke");
    store
        .revoke_access_token("jti-1", t0() + Duration::minutes(5))
        .await
        .expect("revoking twice is fine");
    assert!(store.is_access_token_revoked("jti-1").await.expect("read"));
    let exp = t0() + Duration::minutes(5);
    assert!(
        store
            .record_client_assertion("c1", "a-1", exp)
            .await
            .expect("record")
    );
    assert!(
        !store
            .record_client_assertion("c1", "a-1", exp)
            .await
            .expect("replay"),
        "RFC 7523 §3: jti used once"
    );
    assert!(
        store
            .record_client_assertion("c2", "a-1", exp)
            .await
            .expect("other client")
    );
}

async fn consents(store: &dyn Store) {
    let c = ConsentRecord {
        user_id: "u1".into(),
        client_id: "c1".into(),
        scopes: "openid profile".into(),
        claims: String::new(),
        granted_at: t0(),
    };
    store.save_consent(&c).await.expect("save");
    assert_eq!(
        store.consent("u1", "c1").await.expect("read"),
        Some(c.clone())
    );
    let wider = ConsentRecord {
        scopes: "email openid profile".into(),
        ..c.clone()
    };
    store.save_consent(&wider).await.expect("save again");
    assert_eq!(store.consent("u1", "c1").await.expect("read"), Some(wider));
    assert_eq!(store.consents_of_user("u1").await.expect("list").len(), 1);
    store.revoke_consent("u1", "c1").await.expect("revoke");
    assert!(store.consent("u1", "c1").await.expect("read").is_none());
}

async fn key_rotation(store: &dyn Store) {
    store
        .insert_key(&key("es-1", "ES256", KeyStatus::Current))
        .await
        .expect("insert");
    store
        .insert_key(&key("es-2", "ES256", KeyStatus::Next))
        .await
        .expect("insert");
    store
        .insert_key(&key("rs-1", "RS256", KeyStatus::Current))
        .await
        .expect("insert");
    let retire = t0() + Duration::hours(1);
    store
        .rotate_keys(
            "ES256",
            &key("es-3", "ES256", KeyStatus::Next),
            retire,
            t0(),
        )
        .await
        .expect("rotate");
    let keys = store.signing_keys().await.expect("keys");
    let status = |kid: &str| keys.iter().find(|k| k.kid == kid).map(|k| k.status);
    assert_eq!(status("es-1"), Some(KeyStatus::Retired));
    assert_eq!(status("es-2"), Some(KeyStatus::Current));
    assert_eq!(status("es-3"), Some(KeyStatus::Next));
    assert_eq!(
        status("rs-1"),
        Some(KeyStatus::Current),
        "other algorithms are untouched"
    );
    assert_eq!(
        keys.iter()
            .find(|k| k.kid == "es-1")
            .and_then(|k| k.retire_after),
        Some(retire)
    );
    assert_eq!(
        keys.iter()
            .find(|k| k.kid == "es-3")
            .map(|k| k.private_encrypted.clone()),
        Some(vec![1, 2, 3, 4])
    );
    // without a next key there is nothing to rotate to, and nothing changes
    assert_eq!(
        store
            .rotate_keys(
                "RS256",
                &key("rs-2", "RS256", KeyStatus::Next),
                retire,
                t0()
            )
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.signing_keys().await.expect("keys").len(), 4);
}

async fn throttles_and_links(store: &dyn Store) {
    assert!(store.throttle("acct:x").await.expect("read").is_none());
    let s = ThrottleState {
        failures: 3,
        last_failure: t0(),
    };
    store.put_throttle("acct:x", &s).await.expect("put");
    store
        .put_throttle("acct:x", &ThrottleState { failures: 4, ..s })
        .await
        .expect("put again");
    assert_eq!(
        store
            .throttle("acct:x")
            .await
            .expect("read")
            .map(|s| s.failures),
        Some(4)
    );
    store
        .put_throttle(
            "ip:1",
            &ThrottleState {
                failures: 1,
                last_failure: t0(),
            },
        )
        .await
        .expect("put");
    let (a, b) = store.throttle_pair("acct:x", "ip:1").await.expect("pair");
    assert_eq!(
        (a.map(|s| s.failures), b.map(|s| s.failures)),
        (Some(4), Some(1))
    );
    let (a, b) = store.throttle_pair("ip:1", "none").await.expect("pair");
    assert_eq!((a.map(|s| s.failures), b), (Some(1), None));
    store.clear_throttle("acct:x").await.expect("clear");
    assert!(store.throttle("acct:x").await.expect("read").is_none());

    let link = EmailLinkRecord {
        hash: hash("link-1"),
        purpose: EmailLinkPurpose::PasswordReset,
        email: "u1@example.org".into(),
        user_id: Some("u1".into()),
        payload: "{}".into(),
        expires_at: t0() + Duration::hours(1),
    };
    store.create_email_link(&link).await.expect("create");
    assert_eq!(
        store
            .take_email_link(&hash("link-1"), t0())
            .await
            .expect("take"),
        Some(link.clone())
    );
    assert!(
        store
            .take_email_link(&hash("link-1"), t0())
            .await
            .expect("take")
            .is_none(),
        "links work once"
    );
    let old = EmailLinkRecord {
        hash: hash("link-2"),
        ..link
    };
    store.create_email_link(&old).await.expect("create");
    assert!(
        store
            .take_email_link(&hash("link-2"), t0() + Duration::hours(2))
            .await
            .expect("take")
            .is_none(),
        "expired links fail"
    );
}

/// How many operations the parallel checks start at once.
const PARALLEL: usize = 20;

/// Issue 6 hole 3: a failure is counted in one statement, so none is lost to a parallel one.
async fn failures_are_counted_atomically(store: &dyn Store) {
    let day = std::time::Duration::from_secs(24 * 3600);
    let count = |key: &'static str, at: OffsetDateTime| store.count_failure(key, at, day);
    let s = count("acct:count", t0()).await.expect("count");
    assert_eq!(
        (s.failures, s.last_failure),
        (1, t0()),
        "a new key counts 1"
    );
    let s = count("acct:count", t0() + Duration::seconds(5))
        .await
        .expect("count");
    assert_eq!(
        (s.failures, s.last_failure),
        (2, t0() + Duration::seconds(5))
    );
    let s = count("acct:count", t0()).await.expect("count");
    assert_eq!(
        (s.failures, s.last_failure),
        (3, t0() + Duration::seconds(5)),
        "a late request counts but does not move the last failure back"
    );
    let later = t0() + Duration::days(2);
    let s = count("acct:count", later).await.expect("count");
    assert_eq!(
        (s.failures, s.last_failure),
        (1, later),
        "failures older than forget_after are forgotten"
    );
    assert_eq!(store.throttle("acct:count").await.expect("read"), Some(s));

    let counted = join_all((0..PARALLEL).map(|_| count("ip:parallel", t0()))).await;
    let mut seen: Vec<u32> = counted
        .into_iter()
        .map(|s| s.expect("count").failures)
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=PARALLEL as u32).collect::<Vec<_>>(),
        "parallel failures each count once"
    );
    assert_eq!(
        store
            .throttle("ip:parallel")
            .await
            .expect("read")
            .map(|s| s.failures),
        Some(PARALLEL as u32)
    );

    // taking a place: only while nobody counted since the attempt looked
    let take = |seen: u32, at: OffsetDateTime| store.count_failure_if("acct:take", seen, at, day);
    assert_eq!(
        take(0, t0()).await.expect("take").map(|s| s.failures),
        Some(1),
        "a new key stands at none"
    );
    assert_eq!(take(0, t0()).await.expect("take"), None, "someone counted");
    assert_eq!(
        take(2, t0()).await.expect("take"),
        None,
        "nor more than there are"
    );
    assert_eq!(
        take(1, t0()).await.expect("take").map(|s| s.failures),
        Some(2)
    );
    assert_eq!(
        take(0, later).await.expect("take").map(|s| s.failures),
        Some(1),
        "forgotten failures count as none"
    );
    let taken =
        join_all((0..PARALLEL).map(|_| store.count_failure_if("acct:race", 0, t0(), day))).await;
    let winners = taken
        .into_iter()
        .filter(|t| t.as_ref().expect("take").is_some())
        .count();
    assert_eq!(
        winners, 1,
        "of parallel attempts that saw the same count one takes the place"
    );
    store.clear_throttle("acct:take").await.expect("clear");
    store.clear_throttle("acct:race").await.expect("clear");
}

/// Issue 6 hole 11: a reset link is spent only together with the new password, once.
async fn reset_links_are_spent_once_with_the_password(store: &dyn Store) {
    let password = |user: &str, data: &str| Authenticator {
        user_id: user.into(),
        kind: AuthenticatorKind::Password,
        external_id: None,
        data: data.into(),
        created_at: t0(),
    };
    store
        .create_user(&sample_user("r1"), &[], &[password("r1", "$old")])
        .await
        .expect("create");
    store
        .create_user(&sample_user("r2"), &[], &[])
        .await
        .expect("create");
    store
        .create_session(&SessionRecord {
            id: "sid-r1".into(),
            secret_hash: hash("cookie-r1"),
            user_id: "r1".into(),
            auth: session_auth(),
            created_at: t0(),
            expires_at: t0() + Duration::hours(1),
        })
        .await
        .expect("session");
    let link = |name: &str, user: &str, purpose: EmailLinkPurpose| EmailLinkRecord {
        hash: hash(name),
        purpose,
        email: format!("{user}@example.org"),
        user_id: Some(user.into()),
        payload: "{}".into(),
        expires_at: t0() + Duration::hours(1),
    };
    let reset = link("reset-r1", "r1", EmailLinkPurpose::PasswordReset);
    store.create_email_link(&reset).await.expect("create");
    for _ in 0..2 {
        assert_eq!(
            store
                .email_link(&hash("reset-r1"), t0())
                .await
                .expect("read"),
            Some(reset.clone()),
            "looking does not spend"
        );
    }
    assert!(
        store
            .email_link(&hash("reset-r1"), t0() + Duration::hours(2))
            .await
            .expect("read")
            .is_none(),
        "an expired link is not shown"
    );
    assert_eq!(
        store
            .reset_password_with_link(&hash("reset-r1"), "$late", t0() + Duration::hours(2))
            .await
            .expect("reset"),
        None,
        "an expired link sets nothing"
    );
    let other = link("register-r1", "r1", EmailLinkPurpose::Registration);
    store.create_email_link(&other).await.expect("create");
    assert_eq!(
        store
            .reset_password_with_link(&hash("register-r1"), "$other", t0())
            .await
            .expect("reset"),
        None,
        "only reset links set passwords"
    );
    assert!(
        store
            .email_link(&hash("register-r1"), t0())
            .await
            .expect("read")
            .is_some(),
        "and the other link stays"
    );
    let data: Vec<String> = (0..PARALLEL).map(|i| format!("$new-{i}")).collect();
    let reset_r1 = hash("reset-r1");
    let results = join_all(
        data.iter()
            .map(|d| store.reset_password_with_link(&reset_r1, d, t0())),
    )
    .await;
    let won: Vec<usize> = (0..PARALLEL)
        .filter(|i| results[*i].as_ref().expect("reset").is_some())
        .collect();
    assert_eq!(
        won.len(),
        1,
        "one of parallel resets with one link succeeds"
    );
    assert_eq!(
        results[won[0]].as_ref().expect("reset").as_deref(),
        Some("r1")
    );
    let now_set: Vec<String> = store
        .authenticators("r1")
        .await
        .expect("read")
        .into_iter()
        .filter(|a| a.kind == AuthenticatorKind::Password)
        .map(|a| a.data)
        .collect();
    assert_eq!(
        now_set,
        vec![data[won[0]].clone()],
        "the winner's password is set"
    );
    assert!(
        store.sessions_of_user("r1").await.expect("read").is_empty(),
        "the account's sessions end"
    );
    assert!(
        store
            .email_link(&hash("reset-r1"), t0())
            .await
            .expect("read")
            .is_none()
    );
    // an account without a password gets one
    store
        .create_email_link(&link("reset-r2", "r2", EmailLinkPurpose::PasswordReset))
        .await
        .expect("create");
    assert_eq!(
        store
            .reset_password_with_link(&hash("reset-r2"), "$first", t0())
            .await
            .expect("reset")
            .as_deref(),
        Some("r2")
    );
    let added = store.authenticators("r2").await.expect("read");
    assert_eq!(
        added
            .iter()
            .map(|a| (a.kind, a.data.as_str()))
            .collect::<Vec<_>>(),
        vec![(AuthenticatorKind::Password, "$first")]
    );
}

/// A flow completes once: of parallel claims exactly one wins.
async fn flows_are_claimed_once(store: &dyn Store) {
    let f = FlowRecord {
        id_hash: hash("flow-claimed"),
        binding_hash: hash("browser-1"),
        request: "{}".into(),
        protocol: "{}".into(),
        state: "{}".into(),
        created_at: t0(),
        expires_at: t0() + Duration::minutes(30),
    };
    store.create_flow(&f).await.expect("create flow");
    let claims = join_all((0..PARALLEL).map(|_| store.claim_flow(&f.id_hash))).await;
    assert_eq!(
        claims
            .into_iter()
            .filter(|c| *c.as_ref().expect("claim"))
            .count(),
        1,
        "one of parallel claims wins"
    );
    assert!(store.flow(&f.id_hash).await.expect("read").is_none());
    assert!(!store.claim_flow(&f.id_hash).await.expect("claim"));
}

async fn deleting_an_account_leaves_nothing(store: &dyn Store) {
    let u = sample_user("gone");
    let pw = Authenticator {
        user_id: "gone".into(),
        kind: AuthenticatorKind::Password,
        external_id: None,
        data: "$argon2id$x".into(),
        created_at: t0(),
    };
    let attrs = [attribute(
        AttributeName::GivenName,
        "Max",
        AttributeSource::SelfAsserted,
        Level::Basic,
    )];
    store.create_user(&u, &attrs, &[pw]).await.expect("create");
    store
        .create_session(&SessionRecord {
            id: "sid-gone".into(),
            secret_hash: hash("cookie-gone"),
            user_id: "gone".into(),
            auth: session_auth(),
            created_at: t0(),
            expires_at: t0() + Duration::hours(1),
        })
        .await
        .expect("session");
    store
        .create_grant(&grant("g-gone", "c1", Some("gone")))
        .await
        .expect("grant");
    assert!(
        store
            .consume_code(&hash("code-g-gone"), t0(), Some(&hash("rt-gone")))
            .await
            .expect("consume")
    );
    store
        .save_consent(&ConsentRecord {
            user_id: "gone".into(),
            client_id: "c1".into(),
            scopes: "openid".into(),
            claims: String::new(),
            granted_at: t0(),
        })
        .await
        .expect("consent");
    store.delete_user("gone", t0()).await.expect("delete");
    assert!(store.user("gone").await.expect("read").is_none());
    assert!(store.attributes("gone").await.expect("read").is_empty());
    assert!(store.authenticators("gone").await.expect("read").is_empty());
    assert!(store.session("sid-gone").await.expect("read").is_none());
    assert!(store.grant("g-gone").await.expect("read").is_none());
    assert!(
        store
            .grant_by_code(&hash("code-g-gone"))
            .await
            .expect("read")
            .is_none()
    );
    assert!(store.consent("gone", "c1").await.expect("read").is_none());
    assert_eq!(
        store.delete_user("gone", t0()).await,
        Err(StoreError::NotFound)
    );
}

async fn purge_removes_only_expired_rows(store: &dyn Store) {
    let later = t0() + Duration::days(3);
    store
        .revoke_access_token("jti-late", later + Duration::hours(1))
        .await
        .expect("revoke");
    let purged = store.purge_expired(later).await.expect("purge");
    assert!(purged > 0, "expired codes, tokens and grants are purged");
    assert!(
        store.grant("g1").await.expect("read").is_none(),
        "expired grants go"
    );
    assert!(
        store
            .grant_by_code(&hash("code-g1"))
            .await
            .expect("read")
            .is_none(),
        "expired codes go with their grant"
    );
    assert!(
        !store.is_access_token_revoked("jti-1").await.expect("read"),
        "expired deny-list entries go"
    );
    assert!(
        store
            .is_access_token_revoked("jti-late")
            .await
            .expect("read"),
        "live deny-list entries stay"
    );
    assert!(
        store.user("u1").await.expect("read").is_some(),
        "accounts are never purged"
    );
    assert!(
        store
            .signing_keys()
            .await
            .expect("keys")
            .iter()
            .all(|k| k.kid != "es-1"),
        "retired keys go after retire_after"
    );
    let counts = store.row_counts().await.expect("counts");
    let n = |t: &str| counts.iter().find(|(name, _)| name == t).map(|(_, n)| *n);
    assert_eq!(n("grants"), Some(0));
    assert_eq!(n("flows"), Some(0));
}

/// A SAML SP is registered with its relying party in one step, found by entity ID, and removed
/// with it; a relying party that OpenID Connect could use is refused as an SP's.
async fn saml_service_providers(store: &dyn Store) {
    let mut party = sample_client("saml-sp-1");
    party.redirect_uris.clear();
    party.grant_types.clear();
    let sp = ServiceProviderRecord {
        entity_id: "https://sp.example/metadata".into(),
        client_id: "saml-sp-1".into(),
        metadata: "<md:EntityDescriptor/>".into(),
        cipher: "aes256-gcm".into(),
        created_at: t0(),
    };
    store
        .create_service_provider(&party, &sp)
        .await
        .expect("create sp");
    assert_eq!(
        store.service_provider(&sp.entity_id).await.expect("read"),
        Some(sp.clone())
    );
    assert_eq!(
        store
            .client("saml-sp-1")
            .await
            .expect("client")
            .map(|c| c.party),
        Some(party.party.clone()),
        "the SP's relying party is in the client registry"
    );
    // the same entity ID twice, or its relying party's id, is a conflict and leaves nothing
    let mut again = sample_client("saml-sp-2");
    again.redirect_uris.clear();
    again.grant_types.clear();
    let dup = ServiceProviderRecord {
        client_id: "saml-sp-2".into(),
        ..sp.clone()
    };
    assert!(matches!(
        store.create_service_provider(&again, &dup).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        store.client("saml-sp-2").await.expect("client").is_none(),
        "a refused SP leaves no relying party behind"
    );
    // a relying party with OIDC redirect URIs cannot be an SP's
    let oidc = sample_client("saml-sp-3");
    let other = ServiceProviderRecord {
        entity_id: "https://other.example".into(),
        client_id: "saml-sp-3".into(),
        ..sp.clone()
    };
    assert!(store.create_service_provider(&oidc, &other).await.is_err());
    assert_eq!(
        store
            .list_service_providers()
            .await
            .expect("list")
            .into_iter()
            .map(|s| s.entity_id)
            .collect::<Vec<_>>(),
        vec![sp.entity_id.clone()]
    );
    // participations: found by the SP's name ID, taken once per session, gone with the SP
    let part = |name_id: &str, session: &str, at: i64| Participation {
        entity_id: sp.entity_id.clone(),
        name_id: name_id.into(),
        session_id: session.into(),
        session_index: format!("_idx-{name_id}"),
        created_at: t0() + Duration::seconds(at),
        expires_at: t0() + Duration::hours(12),
    };
    for p in [
        part("n1", "s1", 1),
        part("n2", "s1", 2),
        part("n3", "s2", 3),
    ] {
        store.record_participation(&p).await.expect("participation");
    }
    assert_eq!(
        store
            .participation(&sp.entity_id, "n2")
            .await
            .expect("read"),
        Some(part("n2", "s1", 2))
    );
    assert!(
        store
            .participation("https://other.example", "n2")
            .await
            .expect("read")
            .is_none()
    );
    let taken = join_all((0..4).map(|_| store.take_participations("s1"))).await;
    let mut all: Vec<Participation> = taken.into_iter().flat_map(|r| r.expect("take")).collect();
    all.sort_by(|a, b| a.name_id.cmp(&b.name_id));
    assert_eq!(
        all,
        vec![part("n1", "s1", 1), part("n2", "s1", 2)],
        "parallel takes share the session's participations, each once"
    );
    assert!(
        store
            .participation(&sp.entity_id, "n1")
            .await
            .expect("read")
            .is_none()
    );
    // expired participations are purged
    store
        .purge_expired(t0() + Duration::hours(13))
        .await
        .expect("purge");
    assert!(
        store
            .participation(&sp.entity_id, "n3")
            .await
            .expect("read")
            .is_none()
    );
    store
        .record_participation(&part("n4", "s3", 4))
        .await
        .expect("participation");
    store
        .delete_service_provider(&sp.entity_id)
        .await
        .expect("delete");
    assert!(
        store
            .participation(&sp.entity_id, "n4")
            .await
            .expect("read")
            .is_none(),
        "participations go with their SP"
    );
    assert!(
        store
            .service_provider(&sp.entity_id)
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        store.client("saml-sp-1").await.expect("client").is_none(),
        "the relying party goes with its SP"
    );
    assert_eq!(
        store.delete_service_provider(&sp.entity_id).await,
        Err(StoreError::NotFound)
    );
}
