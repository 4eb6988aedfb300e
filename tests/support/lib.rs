//! The test harness: konto on `127.0.0.1:0` with a real store (SQLite in a temporary folder, or a
//! fresh PostgreSQL schema), a manual clock, and clients that drive it the way browsers and
//! relying parties do.

pub mod audit;
pub mod browser;
pub mod chromium;
pub mod rp;
pub mod saml;
pub mod site;
pub mod tab;

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use konto_core::Level;
use konto_core::client::{
    Client, GrantType, RelyingParty, SigningAlg, SubjectType, TokenEndpointAuthMethod,
};
use konto_core::clock::ManualClock;
use konto_core::level::AcrVocabulary;
use konto_core::secret::SecretPurpose;
use konto_service::account::NewAccount;
use konto_store::{ClientRepo, Maintenance, ThrottleRepo};
use konto_store_sql::SqlStore;
use konto_store_sql::testing::{PgSchema, sqlite_store};
use konto_web::run::Running;
use konto_web::{App, Config};
use tokio::net::TcpListener;

pub use browser::{
    Browser, Outcome, Page, acting_choices, eid_client, elster_browser, elster_link, query_pairs,
};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async scenario on SQLite and on PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )*
    };
}

/// A fresh RSA-2048 key and a self-signed certificate for it, both PEM.
pub fn self_signed(common_name: &str) -> (Vec<u8>, Vec<u8>) {
    use openssl::{asn1::Asn1Time, hash::MessageDigest, pkey::PKey, rsa::Rsa, x509};
    let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("key");
    let mut name = x509::X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", common_name).expect("cn");
    let name = name.build();
    let mut b = x509::X509Builder::new().expect("builder");
    b.set_version(2).expect("version");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("time"))
        .expect("not before");
    b.set_not_after(&Asn1Time::days_from_now(30).expect("time"))
        .expect("not after");
    b.sign(&key, MessageDigest::sha256()).expect("sign");
    (
        key.private_key_to_pem_pkcs8().expect("key pem"),
        b.build().to_pem().expect("cert pem"),
    )
}

/// The repository's `keys-dev/` folder.
pub fn keys_dev(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../keys-dev")
        .join(path)
}

/// What a test server offers.
#[derive(Debug, Clone)]
pub struct Options {
    pub backend: Backend,
    pub elster: bool,
    pub eid: bool,
    /// How long the eID connector waits for the eID-Server (the simulator's `timeout` choice
    /// answers after three times this).
    pub eid_timeout_secs: u64,
    pub registration: bool,
    /// Serve the main listener over HTTPS (keys-dev/tls).
    pub https: bool,
    /// Another node's issuer and master key (several nodes behind one name).
    pub issuer: Option<String>,
    pub master_key: Option<String>,
    pub trusted_proxies: Vec<String>,
    pub proxy_header: Option<String>,
    /// Start the commercial-register simulator (embedded test companies) and verify
    /// organisations against it.
    pub register: bool,
    /// Run the SAML IdP (with a key and certificate made for this server).
    pub saml: bool,
}

impl Options {
    pub fn new(backend: Backend) -> Options {
        Options {
            backend,
            elster: false,
            eid: false,
            eid_timeout_secs: 2,
            registration: true,
            https: false,
            issuer: None,
            master_key: None,
            trusted_proxies: Vec::new(),
            proxy_header: None,
            register: false,
            saml: false,
        }
    }
}

enum Guard {
    Sqlite(#[expect(dead_code, reason = "held for its Drop")] tempfile::TempDir),
    Postgres(PgSchema),
    Shared,
}

/// konto running for one test.
pub struct TestServer {
    pub issuer: String,
    /// Where to send requests (the issuer's origin, or this node's own address).
    pub base: String,
    pub cert_base: Option<String>,
    pub app: Arc<App>,
    pub clock: Arc<ManualClock>,
    pub store: Arc<SqlStore>,
    pub mail_dir: PathBuf,
    pub master_key: String,
    pub simulator: Option<konto_eid_sim::SimHandle>,
    pub register: Option<konto_register_sim::SimHandle>,
    /// Where confirmation letters (PDF) are written.
    pub letters_dir: PathBuf,
    running: Option<Running>,
    guard: Guard,
    _mail: tempfile::TempDir,
    _letters: tempfile::TempDir,
    _saml: Option<tempfile::TempDir>,
}

fn random_master_key() -> String {
    STANDARD.encode(konto_keys::random::bytes::<32>().expect("randomness"))
}

impl TestServer {
    /// A server on a fresh store; `None` when PostgreSQL is asked for but not configured (the
    /// test then prints that it skipped).
    pub async fn start(options: Options) -> Option<TestServer> {
        let (store, guard) = match options.backend {
            Backend::Sqlite => {
                let (store, dir) = sqlite_store().await;
                (Arc::new(store), Guard::Sqlite(dir))
            }
            Backend::Postgres => {
                let schema =
                    PgSchema::create(&format!("{:?}", std::thread::current().name())).await?;
                let store = schema.store().await;
                (Arc::new(store), Guard::Postgres(schema))
            }
        };
        Some(Self::start_with(store, guard, options).await)
    }

    /// Another node on the same database, behind the same issuer.
    pub async fn another_node(&self) -> TestServer {
        let store = match &self.guard {
            Guard::Postgres(schema) => Arc::new(schema.store().await),
            _ => Arc::clone(&self.store),
        };
        let mut options = Options::new(Backend::Sqlite);
        options.issuer = Some(self.issuer.clone());
        options.master_key = Some(self.master_key.clone());
        Self::start_with(store, Guard::Shared, options).await
    }

    async fn start_with(store: Arc<SqlStore>, guard: Guard, options: Options) -> TestServer {
        let main = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = main.local_addr().expect("address").port();
        let scheme = if options.https { "https" } else { "http" };
        let own = format!("{scheme}://localhost:{port}");
        let issuer = options.issuer.clone().unwrap_or_else(|| own.clone());
        let master_key = options.master_key.clone().unwrap_or_else(random_master_key);
        let mail = tempfile::tempdir().expect("mail folder");
        let letters = tempfile::tempdir().expect("letters folder");
        let letters_dir = letters.path().to_path_buf();

        let mut config = Config::default();
        config.server.listen = main.local_addr().expect("address");
        config.server.issuer = issuer.clone();
        config.server.trusted_proxies = options
            .trusted_proxies
            .iter()
            .map(|p| p.parse().expect("cidr"))
            .collect();
        if options.https {
            config.server.tls_cert_file = Some(keys_dev("tls/server.fullchain.pem"));
            config.server.tls_key_file = Some(keys_dev("tls/server.key.pem"));
        }
        config.secrets.master_key = Some(master_key.clone());
        config.mail.file_dir = Some(mail.path().to_path_buf());
        config.orgs.letters_dir = letters_dir.clone();
        config.login.registration = options.registration;
        let saml = options.saml.then(|| {
            let dir = tempfile::tempdir().expect("saml folder");
            let (key, cert) = self_signed("konto test SAML IdP");
            std::fs::write(dir.path().join("idp.key"), key).expect("write key");
            std::fs::write(dir.path().join("idp.crt"), cert).expect("write certificate");
            config.saml.enabled = Some(true);
            config.saml.key_file = Some(dir.path().join("idp.key"));
            config.saml.certificate_file = Some(dir.path().join("idp.crt"));
            dir
        });
        // cheap hashes keep the suite fast; the parameters are covered by their own test
        config.login.argon2_memory_kib = 256;
        config.login.argon2_iterations = 1;
        config.database.purge_interval_secs = 3600;
        // pushes to webhooks go out soon after their event; retries come when the test moves
        // the clock
        config.postbox.webhook_poll_ms = 25;
        config.postbox.webhook_retry_secs = 10;

        let cert_listener = if options.elster || options.proxy_header.is_some() {
            config.elster.enabled = true;
            config.elster.trust_anchors_file = Some(keys_dev("elster/ca-chain.pem"));
            config.elster.crl_file = Some(keys_dev("elster/crl.pem"));
            config.elster.proxy_header = options.proxy_header.clone();
            if options.elster {
                let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let cert_port = l.local_addr().expect("address").port();
                config.elster.listen = Some(l.local_addr().expect("address"));
                config.elster.public_url = Some(format!("https://localhost:{cert_port}"));
                config.elster.tls_cert_file = Some(keys_dev("tls/server.fullchain.pem"));
                config.elster.tls_key_file = Some(keys_dev("tls/server.key.pem"));
                Some(l)
            } else {
                None
            }
        } else {
            None
        };

        let simulator = if options.eid {
            let read = |p: &str| std::fs::read(keys_dev(p)).expect("keys-dev/eid");
            let mut sim = konto_eid_sim::SimConfig::new(
                "127.0.0.1:0".parse().expect("address"),
                "127.0.0.1:0".parse().expect("address"),
                read("eid/server.pem"),
                read("eid/server.key"),
                read("eid/ca.pem"),
            );
            sim.timeout_delay = std::time::Duration::from_secs(options.eid_timeout_secs * 3);
            let sim = konto_eid_sim::spawn(sim).await.expect("eID simulator");
            config.eid.enabled = true;
            config.eid.server_url = Some(sim.soap_url.to_string());
            config.eid.eid_client_url = sim.client_url.to_string();
            config.eid.client_cert_file = Some(keys_dev("eid/client.pem"));
            config.eid.client_key_file = Some(keys_dev("eid/client.key"));
            config.eid.server_ca_file = Some(keys_dev("eid/ca.pem"));
            config.eid.timeout_secs = options.eid_timeout_secs;
            Some(sim)
        } else {
            None
        };

        let register = if options.register {
            let sim = konto_register_sim::spawn(konto_register_sim::SimConfig::new(
                "127.0.0.1:0".parse().expect("address"),
            ))
            .await
            .expect("register simulator");
            config.register.enabled = true;
            config.register.url = Some(sim.url.to_string());
            Some(sim)
        } else {
            None
        };

        let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
        let app = konto_web::build(
            config,
            Arc::clone(&store) as Arc<dyn konto_store::Store>,
            clock.clone(),
        )
        .await
        .expect("konto builds");
        let running = konto_web::run::launch(Arc::clone(&app), main, cert_listener)
            .await
            .expect("konto starts");
        let cert_base = running
            .cert_addr
            .map(|a| format!("https://localhost:{}", a.port()));
        TestServer {
            issuer,
            base: own,
            cert_base,
            app,
            clock,
            store,
            mail_dir: mail.path().to_path_buf(),
            master_key,
            simulator,
            register,
            letters_dir,
            running: Some(running),
            guard,
            _mail: mail,
            _letters: letters,
            _saml: saml,
        }
    }

    /// Stops the server and drops a PostgreSQL schema it created.
    /// Stops this node's listeners and background work (as a node going down), keeping its
    /// database for another node.
    pub async fn halt(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        if let Some(sim) = self.simulator.take() {
            sim.shutdown().await;
        }
        if let Some(sim) = self.register.take() {
            sim.shutdown().await;
        }
        self.store.close().await;
        if let Guard::Postgres(schema) = std::mem::replace(&mut self.guard, Guard::Shared) {
            schema.drop_schema().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `browser` follows an authorization request of `client` (PKCE, see [`authorize_url`]).
    pub async fn authorize(
        &self,
        browser: &Browser,
        client: &str,
        redirect: &str,
        extra: &[(&str, &str)],
    ) -> Outcome {
        browser
            .visit(&authorize_url(self, client, redirect, extra))
            .await
    }

    /// A browser-like client (cookies, no automatic redirects).
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// Registers a client; returns its secret for secret-based methods.
    pub async fn add_client(&self, client: Client) -> Option<String> {
        let secret = match client.auth_method {
            TokenEndpointAuthMethod::ClientSecretBasic
            | TokenEndpointAuthMethod::ClientSecretPost => {
                Some(format!("secret-of-{}", client.party.id))
            }
            _ => None,
        };
        let client = Client {
            secret_hash: secret.as_ref().map(|s| {
                self.app
                    .services
                    .hasher
                    .hash(SecretPurpose::ClientSecret, s)
            }),
            ..client
        };
        self.store.create_client(&client).await.expect("client");
        secret
    }

    /// A confidential client with the code and refresh grants, consent required.
    pub fn client(&self, id: &str) -> Client {
        Client {
            party: RelyingParty {
                id: id.into(),
                name: format!("Test service {id}"),
                scopes: konto_core::scope::SUPPORTED
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                first_party: false,
                min_level: Level::Basic,
                allow_temporary_login: false,
                service_groups: Vec::new(),
                postbox_webhook: None,
                created_at: self.clock_now(),
            },
            auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
            secret_hash: None,
            jwks: None,
            redirect_uris: vec![format!("https://{id}.example/callback")],
            post_logout_redirect_uris: vec![format!("https://{id}.example/bye")],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            id_token_alg: SigningAlg::RS256,
            subject_type: SubjectType::Pairwise,
            sector_identifier_uri: None,
            require_pkce: true,
            acr_vocabulary: AcrVocabulary::Eidas,
        }
    }

    pub fn clock_now(&self) -> time::OffsetDateTime {
        use konto_core::clock::Clock;
        self.clock.now()
    }

    /// Creates an account with a password and names.
    pub async fn add_user(
        &self,
        username: &str,
        password: &str,
        given: &str,
        family: &str,
    ) -> String {
        self.app
            .accounts
            .create(
                &NewAccount {
                    username: username.into(),
                    email: Some(format!("{username}@example.org").replace("@example.org@", "@")),
                    email_verified: true,
                    given_name: Some(given.into()),
                    family_name: Some(family.into()),
                },
                Some(password),
            )
            .await
            .expect("account")
    }

    /// On PostgreSQL, an exclusive lock on `table` held until released (writes to it wait,
    /// reads go on); `None` on SQLite, whose one writer connection serialises all writes.
    pub async fn hold_table_lock(&self, table: &str) -> Option<konto_store_sql::testing::HeldLock> {
        match &self.guard {
            Guard::Postgres(schema) => Some(schema.hold_table_lock(table).await),
            _ => None,
        }
    }

    /// Rows per table.
    pub async fn rows(&self, table: &str) -> i64 {
        self.store
            .row_counts()
            .await
            .expect("counts")
            .into_iter()
            .find(|(t, _)| t == table)
            .map(|(_, n)| n)
            .unwrap_or(-1)
    }

    /// The failed logins recorded for `account` and for the test clients' source address
    /// 127.0.0.1, read from the store under the throttle's keys (`konto_authn::throttle`: a keyed
    /// hash of the trimmed, lower-cased name; the address as is).
    pub async fn throttle_failures(&self, account: &str) -> (u32, u32) {
        let name = self
            .app
            .services
            .hasher
            .hash(SecretPurpose::Throttle, &account.trim().to_lowercase());
        let failures = |s: Option<konto_core::throttle::ThrottleState>| s.map_or(0, |s| s.failures);
        let a = self
            .store
            .throttle(&format!("acct:{}", name.as_str()))
            .await
            .expect("throttle");
        let s = self.store.throttle("ip:127.0.0.1").await.expect("throttle");
        (failures(a), failures(s))
    }

    /// The mails written so far, newest last: (recipient line, body).
    pub fn mails(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(&self.mail_dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|m| decode_mail(&m))
            .collect()
    }
}

/// A mail as written (8bit text): headers and body.
fn decode_mail(raw: &str) -> String {
    raw.replace("\r\n", "\n")
}

/// Finds the first link in `text` that starts with `prefix`.
pub fn link_in(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)?;
    let rest = &text[start..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

/// The PKCE verifier the scenarios use (RFC 7636 Appendix B).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// An authorization request with PKCE (S256 over [`VERIFIER`]) and `scope=openid profile`;
/// `extra` adds parameters or replaces these defaults.
pub fn authorize_url(
    server: &TestServer,
    client: &str,
    redirect: &str,
    extra: &[(&str, &str)],
) -> String {
    let challenge = konto_core::pkce::s256(VERIFIER);
    let defaults = [
        ("client_id", client),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let mut url = url::Url::parse(&server.url("/authorize")).expect("url");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in defaults {
            if !extra.iter().any(|(e, _)| *e == k) {
                q.append_pair(k, v);
            }
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// Redeems a code (client_secret_basic, [`VERIFIER`]); the token endpoint's JSON answer.
pub async fn redeem_code(
    server: &TestServer,
    client: &str,
    secret: &str,
    redirect: &str,
    code: &str,
) -> serde_json::Value {
    reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(client, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token response")
}

/// The userinfo answer (JSON) for an access token.
pub async fn userinfo_claims(server: &TestServer, access_token: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(server.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo request")
        .json()
        .await
        .expect("userinfo JSON")
}

/// The claims of a JWT, without checking its signature (the relying-party tests check those).
pub fn jwt_claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims")
}

/// The `amr` values of a JWT's claims.
pub fn amr(claims: &serde_json::Value) -> Vec<String> {
    claims["amr"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A signature (RSASSA-PKCS1-v1_5 with SHA-256, standard base64) by the key of the ELSTER test
/// certificate `name`, as a non-browser client answers konto's certificate challenge.
pub fn elster_signature(name: &str, message: &[u8]) -> String {
    use rustls_pki_types::PrivatePkcs8KeyDer;
    use rustls_pki_types::pem::PemObject;
    let key = PrivatePkcs8KeyDer::from_pem_file(keys_dev(&format!("elster/{name}.key.pem")))
        .expect("test key");
    let pair = ring::signature::RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()).expect("RSA key");
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        message,
        &mut sig,
    )
    .expect("signature");
    STANDARD.encode(sig)
}

/// The ELSTER test certificate `name` (DER, standard base64), as a challenge answer carries it.
pub fn elster_certificate(name: &str) -> String {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let cert = CertificateDer::from_pem_file(keys_dev(&format!("elster/{name}.crt.pem")))
        .expect("test certificate");
    STANDARD.encode(cert.as_ref())
}

/// The confirmation code printed in the newest letter to `organisation` (read from the PDF).
pub fn letter_code(server: &TestServer, organisation: &str) -> String {
    let mut letters: Vec<_> = std::fs::read_dir(&server.letters_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(organisation) && n.ends_with(".pdf"))
        })
        .collect();
    letters.sort();
    let pdf = std::fs::read(letters.last().expect("a letter")).unwrap();
    let text = pdf_extract::extract_text_from_mem(&pdf).expect("a readable PDF");
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-'))
        .find(|w| {
            let groups: Vec<&str> = w.split('-').collect();
            groups.len() == 3
                && groups.iter().all(|g| {
                    g.len() == 4
                        && g.chars()
                            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
                })
        })
        .unwrap_or_else(|| panic!("no code in the letter:\n{text}"))
        .to_owned()
}

/// An organisation an operator created (`konto org add`) with `admin` (a user id) as its
/// first administrator, confirmed with its letter's code; its id.
pub async fn operator_org(server: &TestServer, name: &str, admin: &str) -> String {
    use konto_core::org::OrgEvidence;
    let org = konto_store::OrganisationRecord {
        id: konto_keys::random::id().expect("id"),
        name: name.to_owned(),
        legal_form: "GmbH".into(),
        wirtschafts_id: None,
        register: None,
        euid: None,
        address: konto_store::OrgAddress {
            street: "Marktplatz 3".into(),
            postal_code: "14467".into(),
            locality: "Potsdam".into(),
            country: "DE".into(),
        },
        level: konto_core::Level::Substantial,
        evidence: OrgEvidence::Operator {
            reference: "test".into(),
        },
        postbox_handle: konto_keys::random::uuid().expect("uuid"),
        created_at: server.clock_now(),
        confirmed_at: None,
    };
    let created = server
        .app
        .orgs
        .create_by_operator(org, admin, konto_letter::Language::De)
        .await
        .expect("organisation");
    let id = created.organisation.id;
    let actor = konto_service::org::Actor {
        user_id: admin.to_owned(),
        level: konto_core::Level::High,
    };
    server
        .app
        .orgs
        .confirm(&actor, &id, &letter_code(server, &id))
        .await
        .expect("confirmed");
    id
}
