//! The HTTP side of the eID-Server's web service: one reqwest client with mutual TLS.
//!
//! Policy: https only, TLS 1.2 or 1.3 with the ring provider; the eID-Server is verified against
//! the configured roots only (never the system's); konto always presents its client certificate;
//! redirects are not followed; every call has the configured timeout; answers larger than
//! [`super::xml::MAX_INPUT`] are refused before they are parsed.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;

use super::soap;
use super::xml::MAX_INPUT;
use super::{EidConfig, EidError, EidIdentity, EidSession, mapping, tctoken};

/// konto's client for its eID-Server. Cheap to clone; build once and share.
#[derive(Debug, Clone)]
pub struct EidConnector {
    client: reqwest::Client,
    server_url: url::Url,
    eid_client_url: url::Url,
}

impl EidConnector {
    /// Checks the configuration and builds the TLS client. Fails on a non-https server URL, on
    /// PEM that holds no certificate or key, or when key and certificate do not fit together.
    pub fn new(config: EidConfig) -> Result<EidConnector, EidError> {
        if config.server_url.scheme() != "https" {
            return Err(EidError::Config("the eid-server url must be https".into()));
        }
        if !matches!(config.eid_client_url.scheme(), "http" | "https") {
            return Err(EidError::Config(
                "the eid client url must be http or https".into(),
            ));
        }
        if config.timeout.is_zero() {
            return Err(EidError::Config(
                "the eid-server timeout must not be zero".into(),
            ));
        }
        let tls = tls_config(&config)?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("konto/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| EidError::Config(format!("cannot build the http client: {e}")))?;
        Ok(EidConnector {
            client,
            server_url: config.server_url,
            eid_client_url: config.eid_client_url,
        })
    }

    /// Opens an eID-Server session (`useIDRequest`): konto's attribute request at level high.
    #[tracing::instrument(skip_all)]
    pub async fn start(&self) -> Result<EidSession, EidError> {
        let body = self
            .call(soap::SOAP_ACTION_USE_ID, soap::use_id_request())
            .await?;
        let session = soap::parse_use_id_response(&body)?;
        tracing::debug!(session_id = %session.session_id, "eid-server session opened");
        Ok(session)
    }

    /// The TCToken konto serves at its tcToken URL for this session. `ServerAddress` is the
    /// session's `eCardServerAddress`, or the eID-Server URL when the server sent none.
    pub fn tc_token(
        &self,
        session: &EidSession,
        refresh_address: &url::Url,
        communication_error_address: Option<&url::Url>,
    ) -> String {
        let server_address = session
            .ecard_server_address
            .as_deref()
            .unwrap_or(self.server_url.as_str());
        tctoken::tc_token(
            session,
            server_address,
            refresh_address,
            communication_error_address,
        )
    }

    /// The eID client's address with `tcTokenURL` (percent-encoded) appended: where the browser
    /// goes to start the eID client.
    pub fn client_url(&self, tc_token_url: &url::Url) -> url::Url {
        let mut url = self.eid_client_url.clone();
        url.query_pairs_mut()
            .append_pair("tcTokenURL", tc_token_url.as_str());
        url
    }

    /// Fetches the result (`getResultRequest`, RequestCounter 1) and turns it into an identity
    /// whose attributes are verified at `now`; or the error the eID-Server reports.
    #[tracing::instrument(skip_all, fields(session_id = %session.session_id))]
    pub async fn result(
        &self,
        session: &EidSession,
        now: OffsetDateTime,
    ) -> Result<EidIdentity, EidError> {
        let request = soap::get_result_request(&session.session_id, 1);
        let body = self.call(soap::SOAP_ACTION_GET_RESULT, request).await?;
        let outcome = soap::parse_get_result_response(&body)
            .and_then(|result| mapping::identity(result, now));
        if let Err(e) = &outcome {
            tracing::info!(code = e.code(), "eid result refused");
        }
        outcome
    }

    async fn call(&self, action: &str, request: String) -> Result<Vec<u8>, EidError> {
        let response = self
            .client
            .post(self.server_url.clone())
            .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"{action}\""))
            .body(request)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = read_limited(response).await?;
        // SOAP 1.1 sends faults with status 500: let the parser read them.
        let fault = status == reqwest::StatusCode::INTERNAL_SERVER_ERROR && soap::is_fault(&body);
        if status.is_success() || fault {
            Ok(body)
        } else if status.is_server_error() {
            Err(EidError::Unavailable(format!(
                "eid-server answered {status}"
            )))
        } else {
            Err(EidError::Protocol(format!("eid-server answered {status}")))
        }
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, EidError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_INPUT as u64)
    {
        return Err(EidError::Protocol("eid-server answer too large".into()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_INPUT {
            return Err(EidError::Protocol("eid-server answer too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport(e: reqwest::Error) -> EidError {
    if e.is_timeout() {
        return EidError::Timeout;
    }
    // The chain holds the useful part (refused connection, TLS alert); reqwest's own message
    // only says which URL failed.
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        reason = inner.to_string();
        source = inner.source();
    }
    EidError::Unavailable(reason)
}

fn tls_config(config: &EidConfig) -> Result<rustls::ClientConfig, EidError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&config.server_ca_pem) {
        let cert = cert.map_err(|e| EidError::Config(format!("eid-server ca pem: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| EidError::Config(format!("eid-server ca certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(EidError::Config(
            "no eid-server ca certificate given".into(),
        ));
    }
    let chain = CertificateDer::pem_slice_iter(&config.client_cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| EidError::Config(format!("client certificate pem: {e}")))?;
    if chain.is_empty() {
        return Err(EidError::Config("no client certificate given".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&config.client_key_pem)
        .map_err(|e| EidError::Config(format!("client key pem: {e}")))?;
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| EidError::Config(format!("tls versions: {e}")))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| EidError::Config(format!("client certificate and key: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(file: &str) -> Vec<u8> {
        let path = format!("{}/../../keys-dev/eid/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(path).unwrap()
    }

    fn config() -> EidConfig {
        EidConfig {
            server_url: url::Url::parse("https://127.0.0.1:1/eID-Server").unwrap(),
            client_cert_pem: dev("client.pem"),
            client_key_pem: dev("client.key"),
            server_ca_pem: dev("ca.pem"),
            timeout: std::time::Duration::from_secs(5),
            eid_client_url: url::Url::parse("http://127.0.0.1:24727/eID-Client").unwrap(),
        }
    }

    #[test]
    fn client_url_percent_encodes_the_tc_token_url() {
        let connector = EidConnector::new(config()).unwrap();
        let tc = url::Url::parse("https://konto.example/eid/tc-token?login=a b&x=1").unwrap();
        let url = connector.client_url(&tc);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:24727/eID-Client?tcTokenURL=https%3A%2F%2Fkonto.example%2Feid%2Ftc-token%3Flogin%3Da%2520b%26x%3D1"
        );
        let back: Vec<_> = url.query_pairs().collect();
        assert_eq!(back[0].1, tc.as_str());
    }

    #[test]
    fn bad_configuration_is_refused() {
        let code = |c: EidConfig| EidConnector::new(c).unwrap_err().code();
        let mut c = config();
        c.server_url = url::Url::parse("http://127.0.0.1:1/").unwrap();
        assert_eq!(code(c), "config");
        let mut c = config();
        c.client_cert_pem = Vec::new();
        assert_eq!(code(c), "config");
        let mut c = config();
        c.client_key_pem =
            b"-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n".to_vec();
        assert_eq!(code(c), "config");
        let mut c = config();
        c.server_ca_pem = Vec::new();
        assert_eq!(code(c), "config");
        let mut c = config();
        c.timeout = std::time::Duration::ZERO;
        assert_eq!(code(c), "config");
    }

    #[test]
    fn tc_token_falls_back_to_the_server_url() {
        let connector = EidConnector::new(config()).unwrap();
        let session = EidSession {
            session_id: "ab".repeat(16),
            ecard_server_address: None,
            psk_id: "0123456789abcdef".into(),
            psk_key: "cd".repeat(16),
        };
        let refresh = url::Url::parse("https://konto.example/eid/back").unwrap();
        let token = connector.tc_token(&session, &refresh, None);
        assert!(token.contains("<ServerAddress>https://127.0.0.1:1/eID-Server</ServerAddress>"));
    }
}
