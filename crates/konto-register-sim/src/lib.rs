#![doc = include_str!("../README.md")]
//!
//! Policy: this crate exists for development and tests only. It speaks konto's register protocol
//! (`konto_authn::register`) as strictly as a real source would answer it, serves test
//! companies from a data file checked at start, keeps nothing else, and never panics on a
//! request.

mod data;
mod path;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use konto_core::org::RegisterKey;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use data::{Address, Companies, Company, DEFAULT_DATA, Key, Person, Status};

/// Where the simulator listens and what it serves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Port 0 picks a free port.
    pub listen: SocketAddr,
    /// A data file in the format of `companies.json`; `None`: the embedded `companies.json`.
    pub data_file: Option<PathBuf>,
}

impl SimConfig {
    /// The embedded companies on `listen`.
    pub fn new(listen: SocketAddr) -> SimConfig {
        SimConfig {
            listen,
            data_file: None,
        }
    }
}

/// A running simulator. Dropping it stops the listener.
pub struct SimHandle {
    /// The base URL for konto's `register.url`, e.g. `http://127.0.0.1:40125`.
    pub url: url::Url,
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// Stops the listener and waits (at most five seconds) until it has closed.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
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
    #[error("register simulator data: {0}")]
    Data(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Loads the companies, binds the listener and serves it in a background task.
pub async fn spawn(config: SimConfig) -> Result<SimHandle, SimError> {
    let companies = match &config.data_file {
        Some(path) => Companies::load(path)?,
        None => Companies::embedded()?,
    };
    let bind_error = |source| SimError::Bind {
        addr: config.listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    let url = url::Url::parse(&origin(addr)).map_err(|e| SimError::Data(e.to_string()))?;
    let (shutdown, mut stop) = watch::channel(false);
    let app = server::router(Arc::new(companies));
    let task = tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::warn!(error = %e, "register simulator listener failed");
        }
    });
    tracing::info!(%url, "register simulator listening");
    Ok(SimHandle {
        url,
        addr,
        shutdown,
        task: Some(task),
    })
}

/// The origin to advertise for a bound address; a wildcard address is advertised as loopback.
fn origin(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("http://127.0.0.1:{}", a.port()),
        SocketAddr::V4(a) => format!("http://{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("http://[::1]:{}", a.port()),
        SocketAddr::V6(a) => format!("http://[{}]:{}", a.ip(), a.port()),
    }
}

/// A register key of the embedded data, for tests that need a particular company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestKey {
    pub court: &'static str,
    pub kind: &'static str,
    pub number: &'static str,
}

impl TestKey {
    /// The key; `None` only if the constant were invalid (a test checks they are not).
    pub fn key(&self) -> Option<RegisterKey> {
        RegisterKey::new(self.court, self.kind, self.number).ok()
    }
}

/// Mustermann Software GmbH: Erika Mustermann (the eID test identity `erika`, 1964-08-12) is
/// Geschäftsführerin.
pub const MUSTERMANN_SOFTWARE: TestKey = TestKey {
    court: "München",
    kind: "HRB",
    number: "123456",
};
/// Weber & Partner Steuerberatungsgesellschaft mbB, a tax firm: Lukas Weber (eID `lukas`,
/// 1990-03-01) is partner.
pub const WEBER_PARTNER: TestKey = TestKey {
    court: "Potsdam",
    kind: "PR",
    number: "321",
};
/// Beispiel Handel AG: none of the test identities; its Erika Mustermann is a namesake born on
/// another day.
pub const BEISPIEL_HANDEL: TestKey = TestKey {
    court: "Hamburg",
    kind: "HRB",
    number: "98765",
};
/// Alte Mustermann Verwaltungs GmbH: deleted (gelöscht); Erika Mustermann was its
/// Geschäftsführerin.
pub const ALTE_MUSTERMANN_DELETED: TestKey = TestKey {
    court: "München",
    kind: "HRB",
    number: "654321",
};
/// Kovalenko Übersetzungen GmbH at "Berlin (Charlottenburg)", number "12345 B": Oleksandra
/// Kovalenko (eID `oleksandra`, 1988-11-05) is Geschäftsführerin.
pub const KOVALENKO_BERLIN: TestKey = TestKey {
    court: "Berlin (Charlottenburg)",
    kind: "HRB",
    number: "12345 B",
};
/// Yılmaz Feinkost e.K. at Köln: Ayşe Yılmaz is Inhaberin with a full date of birth, but her eID
/// card (`ayse`) knows only the year, so she never matches.
pub const YILMAZ_KOELN: TestKey = TestKey {
    court: "Köln",
    kind: "HRA",
    number: "4711",
};

/// Every named test company.
pub const TEST_KEYS: [TestKey; 6] = [
    MUSTERMANN_SOFTWARE,
    WEBER_PARTNER,
    BEISPIEL_HANDEL,
    ALTE_MUSTERMANN_DELETED,
    KOVALENKO_BERLIN,
    YILMAZ_KOELN,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_test_key_is_in_the_embedded_data() {
        let companies = Companies::embedded().unwrap();
        for t in TEST_KEYS {
            let key = t.key().unwrap();
            assert!(companies.get(&key).is_some(), "{key}");
        }
        assert_eq!(
            companies
                .get(&ALTE_MUSTERMANN_DELETED.key().unwrap())
                .unwrap()
                .status,
            Status::Deleted
        );
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(origin("[::]:1".parse().unwrap()), "http://[::1]:1");
        assert_eq!(origin("127.0.0.2:9".parse().unwrap()), "http://127.0.0.2:9");
    }
}
