//! Starting konto on bound listeners and stopping it again.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{App, spawn_background};
use crate::server::{self, Listener};
use crate::{BootError, cert_router, router};

/// A running konto.
pub struct Running {
    pub addr: SocketAddr,
    pub cert_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets open requests finish, stops background tasks.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// Resolves when a shutdown was requested elsewhere (never, unless `stop` runs).
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, BootError> {
    std::fs::read(path)
        .map_err(|e| BootError::Config(format!("cannot read {}: {e}", path.display())))
}

/// Serves `app` on `main` (HTTPS when the configuration names a certificate) and, for ELSTER
/// certificate login, on `cert`.
pub async fn launch(
    app: Arc<App>,
    main: TcpListener,
    cert: Option<TcpListener>,
) -> Result<Running, BootError> {
    let (tx, rx) = watch::channel(false);
    let s = &app.config.server;
    let main_tls = match (&s.tls_cert_file, &s.tls_key_file) {
        (Some(c), Some(k)) => Some(server::tls_config(&read(c)?, &read(k)?)?),
        (None, None) => None,
        _ => {
            return Err(BootError::Config(
                "server.tls_cert_file and server.tls_key_file go together".into(),
            ));
        }
    };
    let addr = main.local_addr()?;
    let mut tasks = Vec::new();
    let listener = Listener {
        tcp: main,
        tls: main_tls,
        router: router(Arc::clone(&app)),
    };
    tasks.push(tokio::spawn(server::run(listener, rx.clone())));

    let mut cert_addr = None;
    if let (Some(tcp), Some(validator)) = (cert, app.services.certificates.clone()) {
        let e = &app.config.elster;
        let (Some(c), Some(k)) = (&e.tls_cert_file, &e.tls_key_file) else {
            return Err(BootError::Config(
                "the certificate listener needs elster.tls_cert_file and elster.tls_key_file"
                    .into(),
            ));
        };
        let tls = server::cert_tls_config(&read(c)?, &read(k)?, validator.client_cert_verifier())?;
        cert_addr = Some(tcp.local_addr()?);
        let listener = Listener {
            tcp,
            tls: Some(tls),
            router: cert_router(Arc::clone(&app)),
        };
        tasks.push(tokio::spawn(server::run(listener, rx.clone())));
    }
    crate::webhooks::spawn(Arc::clone(&app), rx.clone());
    spawn_background(Arc::clone(&app), rx);
    Ok(Running {
        addr,
        cert_addr,
        shutdown: tx,
        tasks,
    })
}
