//! A relying party's web site for browser tests: a tiny HTTP listener on 127.0.0.1 that the
//! browser reaches as `http://<client>.example:<port>` (the browser maps every name to loopback),
//! so that konto's redirects and form posts really leave konto for another site. It records what
//! arrives at `/callback`, `/bye` and `/saml/acs` and answers with a small page; it can serve
//! pages of the test's own (a SAML request that posts itself to konto).

use std::sync::Arc;

use konto_core::client::Client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

use crate::TestServer;
use crate::chromium::WAIT;

/// A request that reached the site: its method, path and parameters (query or form body).
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    pub path: String,
    pub params: Vec<(String, String)>,
}

impl Hit {
    pub fn param(&self, name: &str) -> Option<String> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

/// A registered client and its site.
pub struct ClientSite {
    pub id: String,
    pub origin: String,
    pub redirect_uri: String,
    pub logout_uri: String,
    pub secret: String,
    hits: Mutex<mpsc::UnboundedReceiver<Hit>>,
    /// Pages the site serves (path → HTML), e.g. a SAML SP's auto-submitted request.
    pages: Pages,
    task: tokio::task::JoinHandle<()>,
}

type Pages = Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>;

impl Drop for ClientSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ClientSite {
    /// Starts the site and registers `id` (a confidential client, see [`TestServer::client`])
    /// with its redirect URIs; `adjust` may change the registration.
    pub async fn start(server: &TestServer, id: &str, adjust: impl FnOnce(&mut Client)) -> Self {
        let mut site = ClientSite::bare(id).await;
        let mut client = server.client(id);
        client.redirect_uris = vec![site.redirect_uri.clone()];
        client.post_logout_redirect_uris = vec![site.logout_uri.clone()];
        adjust(&mut client);
        site.secret = server.add_client(client).await.unwrap_or_default();
        site
    }

    /// The site alone, registered nowhere (a SAML SP registers from its metadata).
    pub async fn bare(id: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let origin = format!("http://{id}.example:{port}");
        let (tx, rx) = mpsc::unbounded_channel();
        let tx = Arc::new(tx);
        let pages = Pages::default();
        let served = Arc::clone(&pages);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&tx), Arc::clone(&served)));
            }
        });
        ClientSite {
            id: id.to_owned(),
            redirect_uri: format!("{origin}/callback"),
            logout_uri: format!("{origin}/bye"),
            origin,
            secret: String::new(),
            hits: Mutex::new(rx),
            pages,
            task,
        }
    }

    /// Serves `html` at `path` from now on.
    pub fn put_page(&self, path: &str, html: String) {
        self.pages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path.to_owned(), html);
    }

    /// An authorization request of this client (PKCE, `scope=openid profile`), see
    /// [`crate::authorize_url`].
    pub fn authorize_url(&self, server: &TestServer, extra: &[(&str, &str)]) -> String {
        crate::authorize_url(server, &self.id, &self.redirect_uri, extra)
    }

    /// The next request that reached the site.
    pub async fn next_hit(&self) -> Hit {
        let mut hits = self.hits.lock().await;
        match tokio::time::timeout(WAIT, hits.recv()).await {
            Ok(Some(h)) => h,
            _ => panic!("nothing reached {} within {WAIT:?}", self.origin),
        }
    }

    /// Redeems a code at konto's token endpoint; the JSON answer.
    pub async fn redeem(&self, server: &TestServer, code: &str) -> serde_json::Value {
        http_client()
            .post(server.url("/token"))
            .basic_auth(&self.id, Some(&self.secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_uri),
                ("code_verifier", crate::VERIFIER),
            ])
            .send()
            .await
            .expect("token request")
            .json()
            .await
            .expect("token response")
    }
}

/// An HTTP client that trusts the development TLS CA (for HTTPS issuers).
pub fn http_client() -> reqwest::Client {
    let ca = std::fs::read(crate::keys_dev("tls/ca.pem")).expect("tls ca");
    reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("ca"))
        .build()
        .expect("client")
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    hits: Arc<mpsc::UnboundedSender<Hit>>,
    pages: Pages,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let target = first.next().unwrap_or("/").to_owned();
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let body = &buf[head_end.min(buf.len())..];
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .chain(url::form_urlencoded::parse(body))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let served = pages
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(path)
        .cloned();
    let known = served.is_some() || ["/callback", "/bye", "/saml/acs"].contains(&path);
    let page = match served {
        Some(html) => html,
        None if known => {
            let _ = hits.send(Hit {
                method,
                path: path.to_owned(),
                params,
            });
            "<!DOCTYPE html><html lang=\"en\"><head><title>Client</title></head>\
             <body><main><h1>Back at the service</h1></main></body></html>"
                .to_owned()
        }
        None => "not found".to_owned(),
    };
    let status = if known { "200 OK" } else { "404 Not Found" };
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}
