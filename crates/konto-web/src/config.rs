//! konto's configuration: typed sections with defaults. The binary layers a TOML file and
//! `KONTO_*` environment variables over these defaults; unknown keys are errors.

use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// All of konto's settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Development mode: development keys from `keys-dev/`, a demo user and demo clients, e-mail
    /// into files, HTTP on loopback. Refused with anything that looks like production.
    pub development: bool,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub keys: KeysConfig,
    pub secrets: SecretsConfig,
    pub tokens: TokensConfig,
    pub login: LoginConfig,
    pub mail: MailConfig,
    pub elster: ElsterConfig,
    pub eid: EidConfig,
    pub orgs: OrgsConfig,
    pub register: RegisterConfig,
    pub postbox: PostboxConfig,
    pub saml: SamlConfig,
}

/// The SAML 2.0 identity provider (BundID's profile): metadata at `/saml/metadata`, single
/// sign-on at `/saml/sso`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamlConfig {
    /// On or off; unset: on in development mode (with the keys in `keys-dev/saml/`), off
    /// otherwise.
    pub enabled: Option<bool>,
    /// The IdP's RSA signing key (PEM) and its certificate (PEM), published in the metadata.
    pub key_file: Option<PathBuf>,
    pub certificate_file: Option<PathBuf>,
    /// How long an assertion is valid (BundID: 5 minutes).
    pub assertion_secs: u64,
    /// How old a request's `IssueInstant` may be.
    pub request_max_age_secs: u64,
    /// How far in the future a request's `IssueInstant` may lie (clock skew).
    pub clock_skew_secs: u64,
}

impl Default for SamlConfig {
    fn default() -> Self {
        SamlConfig {
            enabled: None,
            key_file: None,
            certificate_file: None,
            assertion_secs: 300,
            request_max_age_secs: 300,
            clock_skew_secs: 60,
        }
    }
}

/// The postbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostboxConfig {
    /// A decision counts as delivered this many days after it was provided (OZG §9 as amended
    /// in 2024: 4; the earlier text: 3).
    pub delivery_days: u8,
    /// Attachments per message, at most.
    pub max_attachments: usize,
    /// Bytes per attachment, at most.
    pub max_attachment_bytes: u64,
    /// The media types attachments may have (their content is checked against the type, and
    /// the file name's extension too).
    pub attachment_types: Vec<String>,
    /// How often the outbox is looked at for events to push to senders' webhooks, in ms.
    pub webhook_poll_ms: u64,
    /// The first retry of a failed push comes after this many seconds; each next one after
    /// twice as long (at most an hour).
    pub webhook_retry_secs: u64,
    /// Attempts before an event is given up (logged; the sender can still poll).
    pub webhook_attempts: u32,
    /// The CA certificates (PEM) webhooks' https servers are checked against.
    pub webhook_ca_file: PathBuf,
}

impl Default for PostboxConfig {
    fn default() -> Self {
        let rules = konto_core::postbox::AttachmentRules::default();
        PostboxConfig {
            delivery_days: 4,
            max_attachments: rules.max_count,
            max_attachment_bytes: rules.max_bytes,
            attachment_types: rules.types,
            webhook_poll_ms: 1000,
            webhook_retry_secs: 30,
            webhook_attempts: 12,
            webhook_ca_file: PathBuf::from("/etc/ssl/certs/ca-certificates.crt"),
        }
    }
}

impl PostboxConfig {
    pub fn attachment_rules(&self) -> konto_core::postbox::AttachmentRules {
        konto_core::postbox::AttachmentRules {
            max_count: self.max_attachments,
            max_bytes: self.max_attachment_bytes,
            types: self
                .attachment_types
                .iter()
                .map(|t| konto_core::postbox::media_type(t))
                .collect(),
        }
    }
}

/// Organisation accounts and mandates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrgsConfig {
    /// Where confirmation letters (PDF) are written, for a print service to pick up (0700
    /// folder, 0600 files).
    pub letters_dir: PathBuf,
    /// How long a letter's confirmation code works, in days.
    pub letter_days: u64,
    /// Wrong codes before a letter is void.
    pub letter_max_failures: u32,
    /// How long an invitation link works, in days.
    pub invitation_days: u64,
    /// For a mandate the agent registered: the principal's objection period, in days, after
    /// which it is in force without their confirmation (tax-adviser practice: 14). 0: only the
    /// principal's confirmation puts it in force.
    pub objection_days: u64,
}

impl Default for OrgsConfig {
    fn default() -> Self {
        OrgsConfig {
            letters_dir: PathBuf::from("data/letters"),
            letter_days: 30,
            letter_max_failures: 5,
            invitation_days: 7,
            objection_days: 14,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the main listener binds.
    pub listen: SocketAddr,
    /// The public issuer URL (`https://…`, no trailing slash). `http://` only on loopback.
    pub issuer: String,
    /// Serve HTTPS directly with this certificate chain (PEM) and key; otherwise plain HTTP
    /// behind a TLS-terminating reverse proxy.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Reverse proxies whose `X-Forwarded-For` konto believes (CIDR blocks).
    pub trusted_proxies: Vec<IpNet>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            issuer: "http://127.0.0.1:8080".into(),
            tls_cert_file: None,
            tls_key_file: None,
            trusted_proxies: Vec::new(),
            max_body_bytes: 64 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path/konto.db` (embedded, the default) or `postgres://user@host/db`.
    pub url: String,
    /// Pool size (PostgreSQL) or read connections (SQLite).
    pub max_connections: u32,
    /// SQLite: `full` (the default: a write is acknowledged only once it is on disk; concurrent
    /// writes share one fsync) or `normal` (survives a crash of konto, but the last writes may be
    /// lost on power loss).
    pub sqlite_durability: String,
    /// Seconds between purges of expired rows.
    pub purge_interval_secs: u64,
    /// Seconds a client registration is reused from memory; changes made on another node take
    /// effect within this time. 0 reads it from the database for every request.
    pub client_cache_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://data/konto.db".into(),
            max_connections: 4,
            sqlite_durability: "full".into(),
            purge_interval_secs: 300,
            client_cache_secs: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// A folder of PKCS#8 PEM keys to import when the database has none: `rs256.pem`,
    /// `es256.pem`, `eddsa.pem` (current) and `*-next.pem` (next). Otherwise keys are generated.
    pub import_dir: Option<PathBuf>,
    /// Seconds between checks for keys rotated by another node.
    pub reload_secs: u64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig {
            import_dir: None,
            reload_secs: 30,
        }
    }
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// The master secret (32 bytes, base64). Keys for token hashing, pairwise subjects, CSRF
    /// tokens and the encryption of private keys at rest are derived from it. Prefer
    /// `master_key_file` (or `KONTO_SECRETS__MASTER_KEY_FILE`).
    pub master_key: Option<String>,
    pub master_key_file: Option<PathBuf>,
}

impl std::fmt::Debug for SecretsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsConfig")
            .field(
                "master_key",
                &self.master_key.as_ref().map(|_| "<redacted>"),
            )
            .field("master_key_file", &self.master_key_file)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensConfig {
    pub access_token_secs: u64,
    pub id_token_secs: u64,
    pub code_secs: u64,
    /// Refresh tokens without `offline_access`.
    pub refresh_token_secs: u64,
    /// Refresh tokens with `offline_access`.
    pub offline_refresh_token_secs: u64,
    /// How long after a rotation a client may present the refresh token it still holds again,
    /// as long as the new one was never used: its answer may have been lost to a crash or a
    /// dropped connection. It gets a fresh token; the unused one is void. A token presented
    /// after its successor was used is still a reuse and ends the grant. Zero: no retries.
    pub refresh_retry_secs: u64,
}

impl Default for TokensConfig {
    fn default() -> Self {
        TokensConfig {
            access_token_secs: 300,
            id_token_secs: 300,
            code_secs: 60,
            refresh_token_secs: 12 * 3600,
            offline_refresh_token_secs: 30 * 24 * 3600,
            refresh_retry_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// Seconds a login may take from the authorization request to the code.
    pub flow_secs: u64,
    /// Whether people may register accounts themselves (needs mail).
    pub registration: bool,
    /// Argon2id memory in KiB, iterations and lanes (OWASP: 19456, 2, 1).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_lanes: u32,
    /// Password hashes computed at once; 0 means one per CPU core.
    pub hash_concurrency: usize,
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            flow_secs: 1800,
            registration: true,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_lanes: 1,
            hash_concurrency: 0,
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// Sender address.
    pub from: String,
    /// SMTP server (`smtp://host:587?tls=required`, `smtps://host:465`).
    pub smtp_url: Option<String>,
    pub smtp_user: Option<String>,
    pub smtp_password: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
    /// Write mails as `.eml` files into this folder instead of sending them (development).
    pub file_dir: Option<PathBuf>,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("from", &self.from)
            .field("smtp_url", &self.smtp_url)
            .field("smtp_user", &self.smtp_user)
            .field(
                "smtp_password",
                &self.smtp_password.as_ref().map(|_| "<redacted>"),
            )
            .field("smtp_password_file", &self.smtp_password_file)
            .field("file_dir", &self.file_dir)
            .finish()
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            from: "konto <noreply@localhost>".into(),
            smtp_url: None,
            smtp_user: None,
            smtp_password: None,
            smtp_password_file: None,
            file_dir: None,
        }
    }
}

/// Login with the ELSTER software certificate (level substantial).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ElsterConfig {
    pub enabled: bool,
    /// The certificate-login listener (HTTPS, asks the browser for a client certificate).
    pub listen: Option<SocketAddr>,
    /// Its public base URL, e.g. `https://cert.konto.example` or `https://konto.example:8443`.
    pub public_url: Option<String>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// PEM bundle of the ELSTER CA certificates.
    pub trust_anchors_file: Option<PathBuf>,
    pub crl_file: Option<PathBuf>,
    pub crl_url: Option<String>,
    pub crl_refresh_secs: u64,
    /// Refuse certificates while no current CRL is loaded.
    pub require_crl: bool,
    /// A header in which a trusted reverse proxy forwards the client certificate (URL-encoded
    /// PEM), e.g. `X-SSL-Client-Cert`; accepted only from `server.trusted_proxies`.
    pub proxy_header: Option<String>,
}

impl Default for ElsterConfig {
    fn default() -> Self {
        ElsterConfig {
            enabled: false,
            listen: None,
            public_url: None,
            tls_cert_file: None,
            tls_key_file: None,
            trust_anchors_file: None,
            crl_file: None,
            crl_url: None,
            crl_refresh_secs: 3600,
            require_crl: true,
            proxy_header: None,
        }
    }
}

/// The commercial register konto verifies organisations against (konto's register protocol,
/// `konto_authn::register`). Without it organisations are created only by an operator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegisterConfig {
    pub enabled: bool,
    /// The register's base URL: `https://…`, or `http://` to a loopback address (the simulator).
    pub url: Option<String>,
    /// The only roots trusted for an `https` register (PEM); required for `https`.
    pub ca_file: Option<PathBuf>,
    /// Upper bound for one lookup, in seconds.
    pub timeout_secs: u64,
}

impl Default for RegisterConfig {
    fn default() -> Self {
        RegisterConfig {
            enabled: false,
            url: None,
            ca_file: None,
            timeout_secs: 10,
        }
    }
}

/// Login with the eID card through an eID-Server (BSI TR-03130; level high).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EidConfig {
    pub enabled: bool,
    /// The eID-Server's SOAP endpoint.
    pub server_url: Option<String>,
    /// konto's TLS client certificate and key for the eID-Server (PEM).
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// CA certificates to verify the eID-Server (PEM).
    pub server_ca_file: Option<PathBuf>,
    pub timeout_secs: u64,
    /// The local eID client (AusweisApp) address.
    pub eid_client_url: String,
}

impl Default for EidConfig {
    fn default() -> Self {
        EidConfig {
            enabled: false,
            server_url: None,
            client_cert_file: None,
            client_key_file: None,
            server_ca_file: None,
            timeout_secs: 30,
            eid_client_url: "http://127.0.0.1:24727/eID-Client".into(),
        }
    }
}
