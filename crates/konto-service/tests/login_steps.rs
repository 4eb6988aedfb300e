#![expect(
    clippy::expect_used,
    reason = "test helpers: failing to set up a test must stop it"
)]

//! The login service driven directly, one call per step, against a real SQLite store and a
//! `ManualClock`: what `begin` and `step` answer, and that the flow's protocol makes the answer
//! through its `Completion` exactly once.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use konto_authn::mail::FileMailer;
use konto_authn::password::{PasswordHasher, PasswordParams};
use konto_authn::throttle::Throttle;
use konto_core::Level;
use konto_core::client::{
    Client, GrantType, RelyingParty, SigningAlg, SubjectType, TokenEndpointAuthMethod,
};
use konto_core::clock::ManualClock;
use konto_core::completion::{
    BoxFuture, Completed, Completion, CompletionError, FailCode, PageParty, ProtocolAnswer,
};
use konto_core::level::AcrVocabulary;
use konto_core::login::{Authentication, LoginRequest, Principal};
use konto_core::secret::SecretHasher;
use konto_service::account::{AccountService, NewAccount};
use konto_service::login::{LoginService, Next, Progress, Step};
use konto_service::{OrgConfig, ServiceConfig, ServiceError, Services};
use konto_store::ClientRepo;
use konto_store_sql::testing::sqlite_store;
use time::OffsetDateTime;

const PASSWORD: &str = "correct horse battery staple 7";
const IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const BINDING: &str = "the-browser-binding-cookie";

/// A relying party's protocol that records what it was asked to answer.
#[derive(Default)]
struct Recorder {
    refuse: bool,
    completed: Mutex<Vec<Authentication>>,
}

impl Completion for Recorder {
    fn handles(&self, protocol: &str) -> bool {
        protocol == "test"
    }

    fn party<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<PageParty, CompletionError>> {
        Box::pin(async {
            Ok(PageParty {
                name: "Test RP".into(),
                answer_targets: vec!["https://rp.example/cb".into()],
                cancellable: true,
            })
        })
    }

    fn complete<'a>(
        &'a self,
        _: &'a str,
        _: &'a LoginRequest,
        auth: &'a Authentication,
        _: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Completed, CompletionError>> {
        Box::pin(async move {
            self.completed.lock().expect("lock").push(auth.clone());
            if self.refuse {
                return Ok(Completed::Refused(FailCode::LoginRequired, "not this one"));
            }
            Ok(Completed::Answer(ProtocolAnswer::AutoPost {
                action: "https://rp.example/cb".into(),
                fields: vec![("code".into(), "c".into())],
            }))
        })
    }

    fn fail(&self, _: &str, code: FailCode, _: &str) -> Result<ProtocolAnswer, CompletionError> {
        Ok(ProtocolAnswer::Redirect {
            url: format!("https://rp.example/cb?error={code:?}"),
        })
    }
}

struct Fixture {
    login: LoginService,
    recorder: Arc<Recorder>,
    _dir: tempfile::TempDir,
}

async fn fixture(recorder: Recorder) -> Fixture {
    let (store, dir) = sqlite_store().await;
    let store = Arc::new(store);
    let hasher = SecretHasher::new([7; 32]);
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let services = Arc::new(Services {
        store: Arc::clone(&store) as _,
        clock,
        hasher: hasher.clone(),
        passwords: PasswordHasher::new(
            PasswordParams {
                m_cost: 64,
                t_cost: 1,
                p_cost: 1,
            },
            1,
        )
        .expect("hasher"),
        throttle: Throttle::new(Arc::clone(&store) as _, hasher),
        mailer: Arc::new(
            FileMailer::new(dir.path().join("mail"), "konto@example.org").expect("mailer"),
        ),
        passkeys: None,
        certificates: None,
        eid: None,
        register: None,
        pairwise_key: [9; 32],
        letters: Arc::new(konto_letter::FolderLetters::new(dir.path().join("letters"))),
        facts: konto_store::FactsCache::new(),
        postbox_key: konto_keys::KeyEncryptionKey::new([3; 32]),
        attachments: Arc::clone(&store) as _,
        config: ServiceConfig {
            issuer: url::Url::parse("https://konto.example").expect("url"),
            flow_ttl: Duration::from_secs(600),
            registration: false,
            registration_link_ttl: Duration::from_secs(3600),
            reset_link_ttl: Duration::from_secs(3600),
            product_name: "konto".into(),
            orgs: OrgConfig::default(),
            postbox_delivery_days: 3,
            postbox_attachments: Default::default(),
        },
    });
    AccountService::new(Arc::clone(&services))
        .create(
            &NewAccount {
                username: "erika".into(),
                email: None,
                email_verified: false,
                given_name: None,
                family_name: None,
            },
            Some(PASSWORD),
        )
        .await
        .expect("account");
    store
        .create_client(&client(OffsetDateTime::now_utc()))
        .await
        .expect("client");
    let recorder = Arc::new(recorder);
    let login = LoginService::new(services, vec![Arc::clone(&recorder) as _]);
    Fixture {
        login,
        recorder,
        _dir: dir,
    }
}

/// The relying party: no first party, so its users consent.
fn client(now: OffsetDateTime) -> Client {
    Client {
        party: RelyingParty {
            id: "rp".into(),
            name: "Test RP".into(),
            scopes: vec!["openid".into()],
            first_party: false,
            min_level: Level::Basic,
            allow_temporary_login: false,
            service_groups: Vec::new(),
            postbox_webhook: None,
            created_at: now,
        },
        auth_method: TokenEndpointAuthMethod::None,
        secret_hash: None,
        jwks: None,
        redirect_uris: vec!["https://rp.example/cb".into()],
        post_logout_redirect_uris: Vec::new(),
        grant_types: vec![GrantType::AuthorizationCode],
        id_token_alg: SigningAlg::ES256,
        subject_type: SubjectType::Pairwise,
        sector_identifier_uri: None,
        require_pkce: true,
        acr_vocabulary: AcrVocabulary::Eidas,
    }
}

fn request(passive: bool) -> LoginRequest {
    LoginRequest {
        client_id: "rp".into(),
        min_level: Level::Basic,
        force_login: false,
        max_age: None,
        passive,
        force_consent: false,
        login_hint: None,
        ui_locales: Vec::new(),
        scopes: vec!["openid".into()],
        claims: Vec::new(),
        temporary_allowed: false,
        acting_for: None,
        legal_representative_required: false,
        authenticators: None,
    }
}

const TEST_PROTOCOL: &str = r#"{"protocol":"test"}"#;

/// Begins a flow without a session: the login page, stored, with its id.
async fn begin_to_login_page(f: &Fixture) -> String {
    let began = f
        .login
        .begin(&request(false), TEST_PROTOCOL.into(), BINDING, None)
        .await
        .expect("begin");
    match began.advanced.progress {
        Progress::Page(page) => {
            assert!(matches!(page.next, Next::Login { .. }), "{:?}", page.next);
            assert_eq!(page.party.name, "Test RP");
        }
        other => panic!("expected the login page, got {other:?}"),
    }
    began
        .flow_id
        .expect("a flow that shows a page is stored")
        .expose()
        .to_owned()
}

/// Signs in with the password in a new flow; returns the flow's id, its progress and the cookie.
async fn sign_in(f: &Fixture) -> (String, Progress, String) {
    let id = begin_to_login_page(f).await;
    let mut flow = f.login.load_flow(&id, Some(BINDING)).await.expect("flow");
    let step = Step::Password {
        username: "erika",
        password: PASSWORD,
        source: IP,
    };
    let advanced = f.login.step(&mut flow, None, step).await.expect("step");
    let cookie = advanced
        .cookie
        .expect("a new session's cookie")
        .expose()
        .to_owned();
    (id, advanced.progress, cookie)
}

#[tokio::test]
async fn a_step_that_leaves_more_to_do_keeps_the_flow_for_its_page() {
    let f = fixture(Recorder::default()).await;
    let (id, progress, cookie) = sign_in(&f).await;
    // the client is no first party and nobody consented yet: the consent page comes next,
    // after post/redirect/get
    assert!(matches!(progress, Progress::Saved), "{progress:?}");
    let session = f.login.session(Some(&cookie)).await.expect("session");
    assert!(session.is_some());
    let mut flow = f.login.load_flow(&id, Some(BINDING)).await.expect("flow");
    let shown = f
        .login
        .step(&mut flow, session, Step::Show)
        .await
        .expect("show");
    match shown.progress {
        Progress::Page(page) => {
            assert!(matches!(page.next, Next::Consent { .. }), "{:?}", page.next);
            assert_eq!(page.party.answer_targets, ["https://rp.example/cb"]);
        }
        other => panic!("expected the consent page, got {other:?}"),
    }
    // without the session cookie the same flow asks for a login
    let mut flow = f.login.load_flow(&id, Some(BINDING)).await.expect("flow");
    let shown = f
        .login
        .step(&mut flow, None, Step::Show)
        .await
        .expect("show");
    assert!(matches!(&shown.progress, Progress::Page(p) if matches!(p.next, Next::Login { .. })));
    // and another browser cannot continue it at all
    assert!(matches!(
        f.login.load_flow(&id, Some("another-browser")).await,
        Err(ServiceError::FlowNotFound)
    ));
    assert!(f.recorder.completed.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn consent_completes_through_the_completion_and_single_sign_on_answers_at_once() {
    let f = fixture(Recorder::default()).await;
    let (id, _, cookie) = sign_in(&f).await;
    let session = f.login.session(Some(&cookie)).await.expect("session");
    let mut flow = f.login.load_flow(&id, Some(BINDING)).await.expect("flow");
    let advanced = f
        .login
        .step(&mut flow, session, Step::Consent { approve: true })
        .await
        .expect("consent");
    match advanced.progress {
        Progress::Answer(ProtocolAnswer::AutoPost { action, .. }) => {
            assert_eq!(action, "https://rp.example/cb");
        }
        other => panic!("expected the protocol's answer, got {other:?}"),
    }
    {
        let completed = f.recorder.completed.lock().expect("lock");
        assert_eq!(completed.len(), 1);
        assert_eq!(completed[0].level, Level::Basic);
        assert!(matches!(completed[0].principal, Principal::Account { .. }));
        assert!(completed[0].amr.contains(&"pwd".to_owned()));
    }
    // the flow is claimed: it cannot be continued again
    assert!(matches!(
        f.login.load_flow(&id, Some(BINDING)).await,
        Err(ServiceError::FlowNotFound)
    ));
    // consent is remembered: the next request with the session is answered at once, unstored
    let began = f
        .login
        .begin(&request(true), TEST_PROTOCOL.into(), BINDING, Some(&cookie))
        .await
        .expect("begin");
    assert!(began.flow_id.is_none());
    assert!(matches!(began.advanced.progress, Progress::Answer(_)));
    assert_eq!(f.recorder.completed.lock().expect("lock").len(), 2);
}

#[tokio::test]
async fn a_wrong_password_is_shown_on_the_login_page() {
    let f = fixture(Recorder::default()).await;
    let id = begin_to_login_page(&f).await;
    let mut flow = f.login.load_flow(&id, Some(BINDING)).await.expect("flow");
    let step = Step::Password {
        username: "erika",
        password: "wrong",
        source: IP,
    };
    let advanced = f.login.step(&mut flow, None, step).await.expect("step");
    assert!(advanced.cookie.is_none());
    match advanced.progress {
        Progress::Page(page) => {
            assert!(matches!(page.error, Some(ServiceError::BadCredentials)));
            assert!(matches!(page.next, Next::Login { .. }));
        }
        other => panic!("expected the page with its error, got {other:?}"),
    }
}

#[tokio::test]
async fn parallel_consents_for_one_flow_answer_once() {
    let f = fixture(Recorder::default()).await;
    let (id, _, cookie) = sign_in(&f).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let login = f.login.clone();
        let id = id.clone();
        let cookie = cookie.clone();
        tasks.push(tokio::spawn(async move {
            let session = login.session(Some(&cookie)).await?;
            let mut flow = login.load_flow(&id, Some(BINDING)).await?;
            login
                .step(&mut flow, session, Step::Consent { approve: true })
                .await
        }));
    }
    let mut answers = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(a) if matches!(a.progress, Progress::Answer(_)) => answers += 1,
            Ok(other) => panic!("unexpected {:?}", other.progress),
            Err(ServiceError::FlowNotFound | ServiceError::StepTaken) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(answers, 1);
    assert_eq!(f.recorder.completed.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn a_protocol_that_refuses_the_login_answers_with_its_failure() {
    let f = fixture(Recorder {
        refuse: true,
        ..Recorder::default()
    })
    .await;
    let (id, _, cookie) = sign_in(&f).await;
    let session = f.login.session(Some(&cookie)).await.expect("session");
    let mut flow = f.login.load_flow(&id, Some(BINDING)).await.expect("flow");
    let advanced = f
        .login
        .step(&mut flow, session, Step::Consent { approve: true })
        .await
        .expect("consent");
    assert!(matches!(
        advanced.progress,
        Progress::Answer(ProtocolAnswer::Redirect { ref url }) if url.ends_with("error=LoginRequired")
    ));
}

#[tokio::test]
async fn cancel_and_denied_consent_fail_the_flow_with_access_denied() {
    let f = fixture(Recorder::default()).await;
    let id = begin_to_login_page(&f).await;
    let mut flow = f.login.load_flow(&id, Some(BINDING)).await.expect("flow");
    let advanced = f
        .login
        .step(&mut flow, None, Step::Cancel)
        .await
        .expect("cancel");
    assert!(matches!(
        advanced.progress,
        Progress::Answer(ProtocolAnswer::Redirect { ref url }) if url.ends_with("error=AccessDenied")
    ));
    assert!(f.login.load_flow(&id, Some(BINDING)).await.is_err());

    let (id, _, cookie) = sign_in(&f).await;
    let session = f.login.session(Some(&cookie)).await.expect("session");
    let mut flow = f.login.load_flow(&id, Some(BINDING)).await.expect("flow");
    let advanced = f
        .login
        .step(&mut flow, session, Step::Consent { approve: false })
        .await
        .expect("deny");
    assert!(matches!(
        advanced.progress,
        Progress::Answer(ProtocolAnswer::Redirect { ref url }) if url.ends_with("error=AccessDenied")
    ));
    assert!(f.recorder.completed.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_flow_of_a_protocol_nobody_completes_is_refused() {
    let f = fixture(Recorder::default()).await;
    let err = f
        .login
        .begin(
            &request(false),
            r#"{"protocol":"nobody"}"#.into(),
            BINDING,
            None,
        )
        .await
        .expect_err("no completion");
    assert!(matches!(err, ServiceError::Internal(_)), "{err}");
    let err = f
        .login
        .begin(&request(false), "not json".into(), BINDING, None)
        .await
        .expect_err("no tag");
    assert!(matches!(err, ServiceError::FlowNotFound), "{err}");
}

#[tokio::test]
async fn a_passive_request_without_a_session_fails_at_once_unstored() {
    // OIDC Core §3.1.2.1 prompt=none, SAML core §3.4.1 IsPassive: never a page
    let f = fixture(Recorder::default()).await;
    let began = f
        .login
        .begin(&request(true), TEST_PROTOCOL.into(), BINDING, None)
        .await
        .expect("begin");
    assert!(began.flow_id.is_none());
    assert!(matches!(
        began.advanced.progress,
        Progress::Answer(ProtocolAnswer::Redirect { ref url }) if url.ends_with("error=LoginRequired")
    ));
}
