//! [`HttpRegister`]: the register protocol over HTTP (see the module docs for the protocol).

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use konto_core::org::RegisterKey;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::wire::{NO_SUCH_ENTRY, WireEntry, WireNotFound};
use super::{RegisterEntry, RegisterError, RegisterSource};

/// How long to wait for the connection unless configured otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one lookup may take in all, answer included, unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest answer read unless configured otherwise: an entry with a few hundred
/// representatives fits many times over.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Everything but the unreserved characters of RFC 3986, so that a court such as
/// "Berlin (Charlottenburg)" or a number such as "12345 B" stays one path segment whatever the
/// server makes of sub-delimiters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How konto reaches its register.
#[derive(Debug, Clone)]
pub struct HttpRegisterConfig {
    /// The base URL; entries are at `{base_url}/v1/entries/…`. `https`, or `http` to a loopback
    /// address only.
    pub base_url: url::Url,
    /// The only roots trusted for an `https` register, PEM. Required for `https`.
    pub ca_pem: Option<Vec<u8>>,
    pub connect_timeout: Duration,
    /// Upper bound for one lookup, connecting and reading the answer included.
    pub timeout: Duration,
    pub max_answer_bytes: usize,
}

impl HttpRegisterConfig {
    /// A configuration with the default timeouts and size limit, and no roots.
    pub fn new(base_url: url::Url) -> HttpRegisterConfig {
        HttpRegisterConfig {
            base_url,
            ca_pem: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
        }
    }
}

/// A register reached over HTTP. Cheap to clone; build once and share.
#[derive(Debug, Clone)]
pub struct HttpRegister {
    client: reqwest::Client,
    /// The base URL without a trailing slash.
    base: String,
    max_answer_bytes: usize,
}

impl HttpRegister {
    /// Checks the configuration and builds the client.
    pub fn new(config: HttpRegisterConfig) -> Result<HttpRegister, RegisterError> {
        let url = &config.base_url;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(RegisterError::Config(
                "the register url must have no query or fragment".into(),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            // they would end up in logs with every failed request
            return Err(RegisterError::Config(
                "the register url must carry no credentials".into(),
            ));
        }
        if config.timeout.is_zero() || config.connect_timeout.is_zero() {
            return Err(RegisterError::Config(
                "register timeouts must not be zero".into(),
            ));
        }
        if config.max_answer_bytes == 0 {
            return Err(RegisterError::Config(
                "the register answer limit must not be zero".into(),
            ));
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("konto/", env!("CARGO_PKG_VERSION")));
        match url.scheme() {
            "https" => {
                let pem = config.ca_pem.as_deref().ok_or_else(|| {
                    RegisterError::Config("an https register needs its ca certificates".into())
                })?;
                let roots = reqwest::Certificate::from_pem_bundle(pem)
                    .map_err(|e| RegisterError::Config(format!("register ca pem: {e}")))?;
                if roots.is_empty() {
                    return Err(RegisterError::Config(
                        "no register ca certificate given".into(),
                    ));
                }
                builder = builder.https_only(true).tls_built_in_root_certs(false);
                for root in roots {
                    builder = builder.add_root_certificate(root);
                }
            }
            "http" if is_loopback(url) => {}
            "http" => {
                return Err(RegisterError::Config(
                    "plain http to the register only on loopback; use https".into(),
                ));
            }
            _ => {
                return Err(RegisterError::Config(
                    "the register url must be http or https".into(),
                ));
            }
        }
        let client = builder
            .build()
            .map_err(|e| RegisterError::Config(format!("cannot build the http client: {e}")))?;
        Ok(HttpRegister {
            client,
            base: url.as_str().trim_end_matches('/').to_owned(),
            max_answer_bytes: config.max_answer_bytes,
        })
    }

    /// `{base}/v1/entries/{court}/{type}/{number}`, each segment percent-encoded.
    pub(super) fn entry_url(&self, key: &RegisterKey) -> Result<url::Url, RegisterError> {
        let segment = |s: &str| utf8_percent_encode(s, SEGMENT).to_string();
        let url = format!(
            "{}/v1/entries/{}/{}/{}",
            self.base,
            segment(&key.court),
            segment(key.kind.as_str()),
            segment(&key.number)
        );
        url::Url::parse(&url)
            .map_err(|e| RegisterError::Config(format!("cannot build the entry url: {e}")))
    }

    async fn answer(
        &self,
        key: &RegisterKey,
        response: reqwest::Response,
    ) -> Result<Option<RegisterEntry>, RegisterError> {
        let status = response.status();
        if status == reqwest::StatusCode::OK {
            if !is_json(&response) {
                return Err(RegisterError::Malformed(
                    "the answer is not application/json".into(),
                ));
            }
            let body = self.read_limited(response).await?;
            let wire: WireEntry = serde_json::from_slice(&body).map_err(json_reason)?;
            return wire
                .into_entry(key)
                .map(Some)
                .map_err(RegisterError::Malformed);
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            let body = self.read_limited(response).await?;
            return match serde_json::from_slice::<WireNotFound>(&body) {
                Ok(not_found) if not_found.error == NO_SUCH_ENTRY => Ok(None),
                _ => Err(RegisterError::Malformed(
                    "404 without no_such_entry: is the register url right?".into(),
                )),
            };
        }
        let busy = matches!(
            status,
            reqwest::StatusCode::REQUEST_TIMEOUT | reqwest::StatusCode::TOO_MANY_REQUESTS
        );
        if busy || status.is_server_error() {
            Err(RegisterError::Unavailable(format!(
                "the register answered {status}"
            )))
        } else {
            Err(RegisterError::Malformed(format!(
                "unexpected status {status}"
            )))
        }
    }

    async fn read_limited(
        &self,
        mut response: reqwest::Response,
    ) -> Result<Vec<u8>, RegisterError> {
        let too_large = || {
            RegisterError::Malformed(format!(
                "the answer is larger than {} bytes",
                self.max_answer_bytes
            ))
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_answer_bytes as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > self.max_answer_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[async_trait]
impl RegisterSource for HttpRegister {
    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn lookup(&self, key: &RegisterKey) -> Result<Option<RegisterEntry>, RegisterError> {
        let url = self.entry_url(key)?;
        let outcome = match self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
        {
            Ok(response) => self.answer(key, response).await,
            Err(e) => Err(transport(e)),
        };
        // the key and the outcome only: the entry's representatives are personal data
        match &outcome {
            Ok(Some(entry)) => tracing::info!(status = ?entry.status, "register entry found"),
            Ok(None) => tracing::info!("no such register entry"),
            Err(e) => tracing::warn!(code = e.code(), error = %e, "register lookup failed"),
        }
        outcome
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn is_json(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Where the JSON broke, without quoting it (serde_json's messages can quote values).
fn json_reason(e: serde_json::Error) -> RegisterError {
    RegisterError::Malformed(format!(
        "invalid json ({:?}) at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    ))
}

fn transport(e: reqwest::Error) -> RegisterError {
    if e.is_timeout() {
        return RegisterError::Timeout;
    }
    // The chain holds the useful part (refused connection, TLS alert); reqwest's own message
    // only says which URL failed.
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        reason = inner.to_string();
        source = inner.source();
    }
    RegisterError::Unavailable(reason)
}
