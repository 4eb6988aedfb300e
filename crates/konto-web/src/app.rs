//! Building konto from its configuration: keys, engines, services, background tasks.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use konto_authn::cert::{CertConfig, CertValidator, CrlSource};
use konto_authn::mail::{FileMailer, Mailer, SmtpMailer};
use konto_authn::passkey::Passkeys;
use konto_authn::password::{PasswordHasher, PasswordParams};
use konto_authn::throttle::Throttle;
use konto_core::client::SigningAlg;
use konto_core::clock::Clock;
use konto_core::completion::Completion;
use konto_core::secret::SecretHasher;
use konto_keys::{KeyEncryptionKey, Keyring, import_pkcs8_pem, stored_key};
use konto_oidc::{OidcConfig, Provider};
use konto_service::account::AccountService;
use konto_service::login::LoginService;
use konto_service::org::OrgService;
use konto_service::{ServiceConfig, Services};
use konto_store::{KeyStatus, Store};
use tokio::sync::watch;
use url::Url;

use crate::BootError;
use crate::config::Config;
use crate::secrets::{self, DEV_SIGNING_KEYS, DerivedKeys};

/// Cookie names and attributes: `__Host-` and `Secure` over HTTPS; plain names on loopback HTTP in
/// development, where browsers would drop secure cookies.
#[derive(Debug, Clone)]
pub struct Cookies {
    pub secure: bool,
    pub session: &'static str,
    pub binding: &'static str,
    /// The rest of a SAML single logout, sealed, between its steps.
    pub logout: &'static str,
}

impl Cookies {
    fn new(secure: bool) -> Cookies {
        if secure {
            Cookies {
                secure,
                session: "__Host-konto-session",
                binding: "__Host-konto-browser",
                logout: "__Host-konto-logout",
            }
        } else {
            Cookies {
                secure,
                session: "konto-session",
                binding: "konto-browser",
                logout: "konto-logout",
            }
        }
    }
}

/// Everything a request handler can reach.
pub struct App {
    pub config: Config,
    pub issuer: Url,
    pub oidc: Arc<Provider>,
    /// The SAML identity provider, when `[saml]` is on.
    pub saml: Option<Arc<konto_saml::Idp>>,
    pub login: LoginService,
    pub accounts: AccountService,
    pub orgs: OrgService,
    pub services: Arc<Services>,
    pub clock: Arc<dyn Clock>,
    pub keys: DerivedKeys,
    pub cookies: Cookies,
    pub trusted_proxies: Vec<IpNet>,
    /// The public base URL of the certificate-login listener.
    pub cert_base_url: Option<Url>,
    pub hsts: bool,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("issuer", &self.issuer.as_str())
            .finish_non_exhaustive()
    }
}

/// Whether `url` names this machine (`localhost` or a loopback address).
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Checks the issuer URL (OIDC Discovery §3: https, no query or fragment).
pub fn check_issuer(config: &Config) -> Result<Url, BootError> {
    let issuer = Url::parse(&config.server.issuer)
        .map_err(|_| BootError::Config("server.issuer is not a URL".into()))?;
    if config.server.issuer.ends_with('/') {
        return Err(BootError::Config(
            "server.issuer must not end with a slash".into(),
        ));
    }
    if issuer.query().is_some() || issuer.fragment().is_some() {
        return Err(BootError::Config(
            "server.issuer must have no query or fragment".into(),
        ));
    }
    match issuer.scheme() {
        "https" => {}
        "http" if is_loopback_host(&issuer) => {}
        "http" => {
            return Err(BootError::Config(
                "server.issuer must be https (http only on loopback addresses)".into(),
            ));
        }
        _ => {
            return Err(BootError::Config(
                "server.issuer must be an https URL".into(),
            ));
        }
    }
    if !config.development && issuer.scheme() == "http" {
        tracing::warn!(
            "the issuer is plain http on loopback: fine for trying konto, not for production"
        );
    }
    Ok(issuer)
}

fn read(path: &Path) -> Result<Vec<u8>, BootError> {
    std::fs::read(path)
        .map_err(|e| BootError::Config(format!("cannot read {}: {e}", path.display())))
}

/// The SAML IdP, when it is on: its key and certificate from `[saml]`, or in development mode
/// the public ones from `keys-dev/saml/` (refused otherwise).
fn saml_idp(
    config: &Config,
    issuer: &Url,
    store: &Arc<dyn konto_store::Store>,
    keys: &DerivedKeys,
) -> Result<Option<Arc<konto_saml::Idp>>, BootError> {
    let s = &config.saml;
    if !s.enabled.unwrap_or(config.development) {
        return Ok(None);
    }
    let (key, cert) = match (&s.key_file, &s.certificate_file) {
        (Some(k), Some(c)) => (read(k)?, read(c)?),
        (None, None) if config.development => (
            crate::secrets::DEV_SAML_KEY.as_bytes().to_vec(),
            crate::secrets::DEV_SAML_CERT.as_bytes().to_vec(),
        ),
        _ => {
            return Err(BootError::Config(
                "saml: set saml.key_file and saml.certificate_file".into(),
            ));
        }
    };
    if !config.development && cert == crate::secrets::DEV_SAML_CERT.as_bytes() {
        return Err(BootError::Config(
            "saml: the certificate is the public development one from keys-dev/: refused outside development mode".into(),
        ));
    }
    let credentials = konto_saml::IdpCredentials::from_pem(&key, &cert)
        .map_err(|e| BootError::Config(format!("saml: {e}")))?;
    let base = issuer.as_str().trim_end_matches('/');
    let idp = konto_saml::Idp::new(
        Arc::clone(store),
        credentials,
        konto_saml::IdpConfig {
            entity_id: format!("{base}/saml/metadata"),
            sso_url: format!("{base}/saml/sso"),
            slo_url: format!("{base}/saml/slo"),
            assertion_ttl: Duration::from_secs(s.assertion_secs.clamp(30, 3600)),
            request_max_age: Duration::from_secs(s.request_max_age_secs.clamp(30, 3600)),
            clock_skew: Duration::from_secs(s.clock_skew_secs.min(600)),
        },
        keys.pairwise,
        keys.saml_hop,
    )
    .map_err(|e| BootError::Config(format!("saml: {e}")))?;
    Ok(Some(Arc::new(idp)))
}

fn need<'a, T>(v: &'a Option<T>, name: &str) -> Result<&'a T, BootError> {
    v.as_ref()
        .ok_or_else(|| BootError::Config(format!("{name} is required")))
}

/// Imports PEM keys from a folder for every algorithm and status the store lacks.
async fn import_keys(
    store: &dyn Store,
    kek: &KeyEncryptionKey,
    dir: &Path,
    now: time::OffsetDateTime,
) -> Result<(), BootError> {
    let existing = store.signing_keys().await?;
    for alg in SigningAlg::ALL {
        for (status, suffix) in [(KeyStatus::Current, ""), (KeyStatus::Next, "-next")] {
            if existing
                .iter()
                .any(|k| k.alg == alg.as_str() && k.status == status)
            {
                continue;
            }
            let path = dir.join(format!("{}{suffix}.pem", alg.as_str().to_lowercase()));
            if !path.exists() {
                continue;
            }
            let key = import_pkcs8_pem(alg, &read(&path)?)
                .map_err(|e| BootError::Config(format!("{}: {e}", path.display())))?;
            store
                .insert_key(&stored_key(&key, kek, status, now)?)
                .await?;
            tracing::info!(kid = %key.kid, alg = %alg, "imported signing key from {}", path.display());
        }
    }
    Ok(())
}

/// The key ids of the public development keys.
fn dev_kids() -> Vec<String> {
    DEV_SIGNING_KEYS
        .iter()
        .filter_map(|(alg, pem)| {
            let alg: SigningAlg = alg.parse().ok()?;
            import_pkcs8_pem(alg, pem.as_bytes()).ok().map(|k| k.kid)
        })
        .collect()
}

/// Builds the application. Does not bind or spawn anything.
/// The postbox's attachment settings: known types only (each has its extensions), sane limits.
fn check_postbox(postbox: &crate::config::PostboxConfig) -> Result<(), BootError> {
    for t in &postbox.attachment_types {
        let media = konto_core::postbox::media_type(t);
        if !konto_core::postbox::EXTENSIONS
            .iter()
            .any(|(known, _)| *known == media)
        {
            return Err(BootError::Config(format!(
                "postbox.attachment_types: {t:?} is not a type konto can check (known: {})",
                konto_core::postbox::EXTENSIONS
                    .iter()
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    if postbox.max_attachments > 100 || postbox.max_attachment_bytes > 64 * 1024 * 1024 {
        return Err(BootError::Config(
            "postbox: at most 100 attachments of at most 64 MiB each".into(),
        ));
    }
    Ok(())
}

pub async fn build(
    config: Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> Result<Arc<App>, BootError> {
    let issuer = check_issuer(&config)?;
    check_postbox(&config.postbox)?;
    let now = clock.now();
    let master = secrets::master_key(&config)?;
    let keys = secrets::derive(&master);
    let kek = KeyEncryptionKey::new(keys.key_encryption);

    if let Some(dir) = &config.keys.import_dir {
        if !config.development && dir.components().any(|c| c.as_os_str() == "keys-dev") {
            return Err(BootError::Config(
                "keys.import_dir points into keys-dev/: refused outside development mode".into(),
            ));
        }
        import_keys(store.as_ref(), &kek, dir, now).await?;
    }
    Keyring::ensure_keys(store.as_ref(), &kek, now).await?;
    if !config.development {
        let dev = dev_kids();
        if store
            .signing_keys()
            .await?
            .iter()
            .any(|k| dev.contains(&k.kid))
        {
            return Err(BootError::Config(
                "the database holds public development signing keys from keys-dev/: refused outside development mode".into(),
            ));
        }
    }
    let keyring = Arc::new(
        Keyring::load(
            Arc::clone(&store) as Arc<dyn konto_store::KeyRepo>,
            kek.clone(),
            now,
        )
        .await?,
    );

    let hasher = SecretHasher::new(keys.secret_hash);
    let t = &config.tokens;
    let oidc = Arc::new(Provider::new(
        Arc::clone(&store),
        Arc::clone(&keyring),
        hasher.clone(),
        keys.pairwise,
        OidcConfig {
            issuer: config.server.issuer.clone(),
            access_token_ttl: Duration::from_secs(t.access_token_secs),
            id_token_ttl: Duration::from_secs(t.id_token_secs),
            code_ttl: Duration::from_secs(t.code_secs),
            refresh_token_ttl: Duration::from_secs(t.refresh_token_secs),
            offline_refresh_token_ttl: Duration::from_secs(t.offline_refresh_token_secs),
            refresh_retry: Duration::from_secs(t.refresh_retry_secs),
        },
    ));

    let l = &config.login;
    let concurrency = if l.hash_concurrency == 0 {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    } else {
        l.hash_concurrency
    };
    let passwords = PasswordHasher::new(
        PasswordParams {
            m_cost: l.argon2_memory_kib,
            t_cost: l.argon2_iterations,
            p_cost: l.argon2_lanes,
        },
        concurrency,
    )
    .map_err(|e| BootError::Config(e.to_string()))?;

    let mailer: Arc<dyn Mailer> = match (&config.mail.smtp_url, &config.mail.file_dir) {
        (Some(_), Some(_)) => {
            return Err(BootError::Config(
                "give mail.smtp_url or mail.file_dir, not both".into(),
            ));
        }
        (Some(url), None) => {
            let password = match (&config.mail.smtp_password, &config.mail.smtp_password_file) {
                (Some(p), _) => Some(p.clone()),
                (None, Some(f)) => Some(secrets::read_secret_file(f)?.trim().to_owned()),
                (None, None) => None,
            };
            let creds = config.mail.smtp_user.clone().zip(password);
            Arc::new(
                SmtpMailer::new(url, &config.mail.from, creds)
                    .map_err(|e| BootError::Config(e.to_string()))?,
            )
        }
        (None, Some(dir)) => Arc::new(
            FileMailer::new(dir.clone(), &config.mail.from)
                .map_err(|e| BootError::Config(e.to_string()))?,
        ),
        (None, None) => {
            if config.login.registration {
                return Err(BootError::Config(
                    "login.registration needs mail: set mail.smtp_url (or mail.file_dir for development)".into(),
                ));
            }
            Arc::new(
                FileMailer::new(std::env::temp_dir().join("konto-mail"), &config.mail.from)
                    .map_err(|e| BootError::Config(e.to_string()))?,
            )
        }
    };

    // WebAuthn relying-party ids are domain names; an IP-address issuer has no passkeys
    let passkeys = if matches!(issuer.host(), Some(url::Host::Domain(_))) {
        match Passkeys::new(&issuer, "konto", hasher.clone()) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(error = %e, "passkeys are off");
                None
            }
        }
    } else {
        tracing::info!(
            "passkeys are off: WebAuthn needs a domain name, not an IP address, as issuer host"
        );
        None
    };

    let e = &config.elster;
    let (certificates, cert_base_url) = if e.enabled {
        let crl = match (&e.crl_file, &e.crl_url) {
            (Some(_), Some(_)) => {
                return Err(BootError::Config(
                    "give elster.crl_file or elster.crl_url, not both".into(),
                ));
            }
            (Some(f), None) => Some(CrlSource::File(f.clone())),
            (None, Some(u)) => {
                Some(CrlSource::Url(Url::parse(u).map_err(|_| {
                    BootError::Config("elster.crl_url is not a URL".into())
                })?))
            }
            (None, None) => None,
        };
        let validator = CertValidator::new(CertConfig {
            trust_anchors_pem: read(need(&e.trust_anchors_file, "elster.trust_anchors_file")?)?,
            crl,
            crl_refresh: Duration::from_secs(e.crl_refresh_secs),
            require_crl: e.require_crl,
        })
        .map_err(|err| BootError::Config(format!("elster: {err}")))?;
        let base = match &e.public_url {
            Some(u) => Some(
                Url::parse(u)
                    .map_err(|_| BootError::Config("elster.public_url is not a URL".into()))?,
            ),
            None if e.proxy_header.is_some() => None,
            None => {
                return Err(BootError::Config(
                    "elster.public_url is required for the certificate listener".into(),
                ));
            }
        };
        (Some(Arc::new(validator)), base)
    } else {
        (None, None)
    };

    let eid = if config.eid.enabled {
        let c = &config.eid;
        let connector = konto_authn::eid::EidConnector::new(konto_authn::eid::EidConfig {
            server_url: Url::parse(need(&c.server_url, "eid.server_url")?)
                .map_err(|_| BootError::Config("eid.server_url is not a URL".into()))?,
            client_cert_pem: read(need(&c.client_cert_file, "eid.client_cert_file")?)?,
            client_key_pem: read(need(&c.client_key_file, "eid.client_key_file")?)?,
            server_ca_pem: read(need(&c.server_ca_file, "eid.server_ca_file")?)?,
            timeout: Duration::from_secs(c.timeout_secs),
            eid_client_url: Url::parse(&c.eid_client_url)
                .map_err(|_| BootError::Config("eid.eid_client_url is not a URL".into()))?,
        })
        .map_err(|err| BootError::Config(format!("eid: {err}")))?;
        Some(Arc::new(connector))
    } else {
        None
    };

    let register: Option<Arc<dyn konto_authn::register::RegisterSource>> =
        if config.register.enabled {
            let c = &config.register;
            let url = Url::parse(need(&c.url, "register.url")?)
                .map_err(|_| BootError::Config("register.url is not a URL".into()))?;
            let mut r = konto_authn::register::HttpRegisterConfig::new(url);
            r.ca_pem = c.ca_file.as_deref().map(read).transpose()?;
            r.timeout = Duration::from_secs(c.timeout_secs.max(1));
            let source = konto_authn::register::HttpRegister::new(r)
                .map_err(|err| BootError::Config(format!("register: {err}")))?;
            Some(Arc::new(source))
        } else {
            None
        };

    let services = Arc::new(Services {
        store: Arc::clone(&store),
        clock: Arc::clone(&clock),
        hasher: hasher.clone(),
        passwords,
        throttle: Throttle::new(
            Arc::clone(&store) as Arc<dyn konto_store::ThrottleRepo>,
            hasher,
        ),
        mailer,
        passkeys,
        certificates,
        eid,
        register,
        letters: Arc::new(konto_letter::FolderLetters::new(
            config.orgs.letters_dir.clone(),
        )),
        pairwise_key: keys.pairwise,
        facts: konto_store::FactsCache::new(),
        postbox_key: kek.clone(),
        attachments: Arc::clone(&store) as Arc<dyn konto_store::AttachmentStore>,
        config: ServiceConfig {
            issuer: issuer.clone(),
            flow_ttl: Duration::from_secs(config.login.flow_secs),
            registration: config.login.registration,
            registration_link_ttl: Duration::from_secs(24 * 3600),
            reset_link_ttl: Duration::from_secs(3600),
            product_name: "konto".into(),
            orgs: konto_service::OrgConfig {
                letter_ttl: Duration::from_secs(config.orgs.letter_days.max(1) * 86_400),
                letter_max_failures: config.orgs.letter_max_failures.max(1),
                invitation_ttl: Duration::from_secs(config.orgs.invitation_days.max(1) * 86_400),
                objection_period: Duration::from_secs(config.orgs.objection_days * 86_400),
            },
            postbox_delivery_days: config.postbox.delivery_days,
            postbox_attachments: config.postbox.attachment_rules(),
        },
    });
    let saml = saml_idp(&config, &issuer, &store, &keys)?;
    let mut completions = vec![
        Arc::clone(&oidc) as Arc<dyn Completion>,
        Arc::new(crate::routes::OwnPages),
    ];
    if let Some(idp) = &saml {
        completions.push(Arc::clone(idp) as Arc<dyn Completion>);
    }
    let secure = issuer.scheme() == "https";
    Ok(Arc::new(App {
        login: LoginService::new(Arc::clone(&services), completions),
        saml,
        accounts: AccountService::new(Arc::clone(&services)),
        orgs: OrgService::new(Arc::clone(&services)),
        oidc,
        services,
        clock,
        cookies: Cookies::new(secure),
        trusted_proxies: config.server.trusted_proxies.clone(),
        cert_base_url,
        hsts: secure,
        keys,
        issuer,
        config,
    }))
}

impl App {
    /// Whether a peer is a reverse proxy konto trusts.
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// A URL under the issuer.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.server.issuer)
    }

    /// Where a browser presents its ELSTER certificate for flow `flow_id`: konto's certificate
    /// listener, or the forwarding path behind a TLS-terminating proxy; `None` when ELSTER
    /// certificates are not accepted here.
    pub fn certificate_url(&self, flow_id: &str) -> Option<String> {
        match (&self.cert_base_url, &self.config.elster.proxy_header) {
            (Some(base), _) => Some(format!(
                "{}/cert/login?flow={flow_id}",
                base.as_str().trim_end_matches('/'),
            )),
            (None, Some(_)) => Some(format!("/login/cert/forwarded?flow={flow_id}")),
            (None, None) => None,
        }
    }
}

/// Runs the housekeeping tasks until `shutdown` turns true: purging expired rows, reloading
/// rotated keys, refreshing the CRL.
pub fn spawn_background(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let purge_every = Duration::from_secs(app.config.database.purge_interval_secs.max(1));
    let reload_every = Duration::from_secs(app.config.keys.reload_secs.max(1));
    let crl_every = app
        .services
        .certificates
        .as_ref()
        .map(|c| c.crl_refresh_interval());
    tokio::spawn(async move {
        let mut purge = tokio::time::interval(purge_every);
        let mut reload = tokio::time::interval(reload_every);
        let mut crl = tokio::time::interval(crl_every.unwrap_or(Duration::from_secs(3600)));
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = purge.tick() => {
                    match app.services.store.purge_expired(app.clock.now()).await {
                        Ok(n) if n > 0 => tracing::debug!(rows = n, "purged expired rows"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "purging expired rows failed"),
                    }
                }
                _ = reload.tick() => {
                    match app.oidc.keys().reload(app.clock.now()).await {
                        Ok(true) => tracing::info!("signing keys changed; reloaded"),
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %e, "reloading signing keys failed"),
                    }
                }
                _ = crl.tick(), if crl_every.is_some() => {
                    if let Some(c) = &app.services.certificates
                        && let Err(e) = c.refresh_crl(app.clock.now()).await
                    {
                        tracing::warn!(error = %e, "refreshing the ELSTER CRL failed");
                    }
                }
            }
        }
    });
}
