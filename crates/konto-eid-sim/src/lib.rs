#![doc = include_str!("../README.md")]
//!
//! Policy: this crate exists for development and tests only. It speaks the same protocols as a
//! real eID-Server and eID client, checks what konto sends as strictly as they would (client
//! certificate, schema of the requests, PSK in the TCToken), and keeps every session in memory
//! with a bound on their number and age. It never talks to anything but loopback and the
//! addresses konto hands it.

mod client;
mod identities;
mod server;
mod soap;
mod state;
mod tctoken;
mod tls;
mod xml;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use identities::{AYSE, CHOICES, Choice, ERIKA, LUKAS, OLEKSANDRA, TestIdentity, TestPlace};

/// Where the simulator listens and with which certificates.
#[derive(Clone)]
pub struct SimConfig {
    /// The eID-Server's SOAP endpoint: HTTPS, client certificate required and verified against
    /// `client_ca_pem`. Port 0 picks a free port.
    pub soap_listen: SocketAddr,
    /// The eID client (plays the AusweisApp for the browser): plain HTTP. Port 0 picks a free port.
    pub client_listen: SocketAddr,
    pub server_cert_pem: Vec<u8>,
    pub server_key_pem: Vec<u8>,
    pub client_ca_pem: Vec<u8>,
    /// How long getResult waits before answering for the `timeout` choice; longer than the
    /// connector's timeout. Default 30 s.
    pub timeout_delay: Duration,
    /// Roots trusted when the eID client fetches a TCToken over https; `None`: `client_ca_pem`
    /// (in development one CA signs everything). Plain http is accepted for loopback only.
    pub tc_token_ca_pem: Option<Vec<u8>>,
}

impl SimConfig {
    /// A configuration with the default timeout delay and TCToken roots.
    pub fn new(
        soap_listen: SocketAddr,
        client_listen: SocketAddr,
        server_cert_pem: Vec<u8>,
        server_key_pem: Vec<u8>,
        client_ca_pem: Vec<u8>,
    ) -> SimConfig {
        SimConfig {
            soap_listen,
            client_listen,
            server_cert_pem,
            server_key_pem,
            client_ca_pem,
            timeout_delay: Duration::from_secs(30),
            tc_token_ca_pem: None,
        }
    }
}

/// A running simulator. Dropping it stops both listeners.
pub struct SimHandle {
    /// The eID-Server's SOAP endpoint, e.g. `https://127.0.0.1:40123/eID-Server`.
    pub soap_url: url::Url,
    /// The eID client's address, e.g. `http://127.0.0.1:40124/eID-Client`.
    pub client_url: url::Url,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl SimHandle {
    /// Stops both listeners and waits (at most five seconds) until they have closed.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("simulator certificate or key: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot build the tctoken http client: {0}")]
    Http(String),
}

/// Shared by the eID-Server and the eID client: the sessions and how to reach each other.
pub(crate) struct Shared {
    pub(crate) sessions: Mutex<state::Sessions>,
    /// What `useIDResponse` names as `eCardServerAddress` (and the TCToken must repeat).
    pub(crate) ecard_server_address: String,
    pub(crate) timeout_delay: Duration,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Binds both listeners and serves them in background tasks.
pub async fn spawn(config: SimConfig) -> Result<SimHandle, SimError> {
    let tls = tls::server_config(&config)?;
    let fetcher = client::tc_token_client(&config)?;
    let soap_listener = bind(config.soap_listen).await?;
    let client_listener = bind(config.client_listen).await?;
    let soap_addr = local_addr(&soap_listener, config.soap_listen)?;
    let client_addr = local_addr(&client_listener, config.client_listen)?;
    let soap_origin = origin("https", soap_addr);
    let client_origin = origin("http", client_addr);
    let parse = |s: String| url::Url::parse(&s).map_err(|e| SimError::Http(e.to_string()));
    let soap_url = parse(format!("{soap_origin}/eID-Server"))?;
    let client_url = parse(format!("{client_origin}/eID-Client"))?;

    let (shutdown, shutdown_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        sessions: Mutex::new(state::Sessions::default()),
        ecard_server_address: format!("{soap_origin}/paos"),
        timeout_delay: config.timeout_delay,
        shutdown: shutdown_rx.clone(),
    });

    let tls_listener = tls::TlsListener::new(soap_listener, tls, shutdown_rx.clone());
    let soap_app = server::router(shared.clone());
    let client_app = client::router(shared, fetcher);
    let tasks = vec![
        tokio::spawn(serve(tls_listener, soap_app, shutdown_rx.clone())),
        tokio::spawn(serve(client_listener, client_app, shutdown_rx)),
    ];
    tracing::info!(%soap_url, %client_url, "eid simulator listening");
    Ok(SimHandle {
        soap_url,
        client_url,
        shutdown,
        tasks,
    })
}

async fn serve<L>(listener: L, app: axum::Router, mut shutdown: watch::Receiver<bool>)
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let stop = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::warn!(error = %e, "eid simulator listener failed");
    }
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, SimError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })
}

fn local_addr(
    listener: &tokio::net::TcpListener,
    addr: SocketAddr,
) -> Result<SocketAddr, SimError> {
    listener
        .local_addr()
        .map_err(|source| SimError::Bind { addr, source })
}

/// The origin to advertise for a bound address; a wildcard address is advertised as loopback.
fn origin(scheme: &str, addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => {
            format!("{scheme}://127.0.0.1:{}", a.port())
        }
        SocketAddr::V4(a) => format!("{scheme}://{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("{scheme}://[::1]:{}", a.port()),
        SocketAddr::V6(a) => format!("{scheme}://[{}]:{}", a.ip(), a.port()),
    }
}
