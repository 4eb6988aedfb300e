//! The eID-Server's TLS: server certificate, and a client certificate that is required and
//! verified against the configured CA (TR-03130-1 §3.5.1: "the connection MUST be refused by
//! the eID-Server IF the Client-Authentication fails").
//!
//! Handshakes run in their own tasks with a time limit, so one slow or hostile client cannot
//! hold up the others; only completed handshakes reach the HTTP server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::{SimConfig, SimError};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn server_config(config: &SimConfig) -> Result<Arc<rustls::ServerConfig>, SimError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(roots(&config.client_ca_pem)?);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| SimError::Tls(format!("client verifier: {e}")))?;
    let chain = CertificateDer::pem_slice_iter(&config.server_cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SimError::Tls(format!("server certificate: {e}")))?;
    if chain.is_empty() {
        return Err(SimError::Tls("no server certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&config.server_key_pem)
        .map_err(|e| SimError::Tls(format!("server key: {e}")))?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SimError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| SimError::Tls(format!("server certificate and key: {e}")))?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}

pub(crate) fn roots(pem: &[u8]) -> Result<rustls::RootCertStore, SimError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| SimError::Tls(format!("ca certificate: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| SimError::Tls(format!("ca certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(SimError::Tls("no ca certificate".into()));
    }
    Ok(roots)
}

/// A listener whose connections have completed the TLS handshake with a verified client.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub(crate) fn new(
        tcp: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        mut shutdown: watch::Receiver<bool>,
    ) -> TlsListener {
        let local = tcp
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(tls);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = tcp.accept() => accepted,
                    _ = shutdown.wait_for(|stop| *stop) => return,
                };
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::debug!(error = %e, "eid simulator accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::info!(%peer, error = %e, "eid simulator refused a tls client");
                        }
                        Err(_) => tracing::info!(%peer, "eid simulator tls handshake timed out"),
                    }
                });
            }
        });
        TlsListener { ready, local }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop has stopped (shutdown): never hand out another connection.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
