//! A rotation that was answered still holds after a crash, and a client whose answer was lost
//! in the crash is not taken for a thief: konto (the real binary) is killed with SIGKILL while
//! 16 clients rotate refresh tokens as fast as they can, on SQLite and on PostgreSQL, and
//! started again. Every client's last answered token then works (the rotation after it may
//! have been committed with its answer lost: retrying the token one still holds is allowed for
//! `tokens.refresh_retry_secs` while its successor was never used), the token before it is
//! refused as a reuse, and nothing is half-applied (RFC 9700 §4.14.2 with a retry window, as
//! Okta's grace period and Keycloak's reuse count).
#![expect(clippy::expect_used, reason = "tests stop with a message")]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use support::{cli, serve};

mod support;

/// Clients rotating at once.
const CLIENTS: usize = 16;
/// How long they rotate before the kill (the scenario: 3 s).
const RUN: Duration = Duration::from_secs(3);
const PASSWORD: &str = "Fahrradklingel-Nordsee-42";
const REDIRECT: &str = "http://127.0.0.1:9/cb";
/// The PKCE verifier of every code flow here (RFC 7636 §4.1: 43 to 128 characters).
const VERIFIER: &str = "a-verifier-of-forty-three-or-more-characters-long";

/// The value of a hidden form field in a page.
fn field(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no field {name} in {}", &html[..html.len().min(3000)]));
    let rest = &html[at..];
    let v = rest.find("value=\"").expect("a value") + 7;
    let end = rest[v..].find('"').expect("the value's end");
    rest[v..v + end]
        .replace("&#x2D;", "-")
        .replace("&#x5F;", "_")
}

/// The `name=value` parts of a response's cookies, joined for a `Cookie` header.
fn cookies(r: &reqwest::Response, jar: &mut Vec<String>) {
    for c in r.headers().get_all(reqwest::header::SET_COOKIE) {
        if let Some(pair) = c.to_str().ok().and_then(|c| c.split(';').next()) {
            let name = pair.split('=').next().unwrap_or("");
            jar.retain(|p| !p.starts_with(&format!("{name}=")));
            jar.push(pair.to_owned());
        }
    }
}

/// The code in a redirect to the client.
fn code_of(r: &reqwest::Response) -> String {
    let location = r
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .expect("a redirect to the client");
    let url = url::Url::parse(location).expect("a URL");
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {location}"))
}

fn authorize_url(base: &str, n: usize) -> String {
    format!(
        "{base}/authorize?response_type=code&client_id=web&redirect_uri={}&scope=openid&state=s{n}\
         &code_challenge={}&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        konto_core::pkce::s256(VERIFIER),
    )
}

/// Signs erika in once, then takes one code flow per client (single sign-on), each redeemed
/// for a grant with a refresh token.
async fn refresh_tokens(base: &str, secret: &str) -> Vec<String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut jar = Vec::new();
    let page = http
        .get(authorize_url(base, 0))
        .send()
        .await
        .expect("authorize");
    cookies(&page, &mut jar);
    let html = page.text().await.expect("the login page");
    let login = http
        .post(format!("{base}/login/password"))
        .header(reqwest::header::COOKIE, jar.join("; "))
        .header(reqwest::header::ORIGIN, base)
        .form(&[
            ("flow", field(&html, "flow")),
            ("csrf", field(&html, "csrf")),
            ("username", "erika".to_owned()),
            ("password", PASSWORD.to_owned()),
        ])
        .send()
        .await
        .expect("password");
    cookies(&login, &mut jar);
    let mut codes = vec![code_of(&login)];
    for n in 1..CLIENTS {
        let r = http
            .get(authorize_url(base, n))
            .header(reqwest::header::COOKIE, jar.join("; "))
            .send()
            .await
            .expect("authorize");
        codes.push(code_of(&r));
    }
    let mut tokens = Vec::new();
    for code in codes {
        let r: Value = http
            .post(format!("{base}/token"))
            .basic_auth("web", Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token JSON");
        tokens.push(
            r["refresh_token"]
                .as_str()
                .unwrap_or_else(|| panic!("no refresh token: {r}"))
                .to_owned(),
        );
    }
    tokens
}

/// One refresh: the new refresh token, `Err(body)` for a refusal, `None` when no answer came.
async fn refresh(
    http: &reqwest::Client,
    base: &str,
    secret: &str,
    token: &str,
) -> Option<Result<String, String>> {
    let r = http
        .post(format!("{base}/token"))
        .basic_auth("web", Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .ok()?;
    let status = r.status();
    let body: Value = r.json().await.ok()?;
    if status == 200 {
        Some(Ok(body["refresh_token"].as_str()?.to_owned()))
    } else {
        Some(Err(body.to_string()))
    }
}

/// What a client got: the token it holds (the last answered) and the one before it.
#[derive(Clone, Default)]
struct Held {
    last: String,
    before: Option<String>,
}

async fn kill_during_rotations(database: Option<String>, dir: PathBuf) {
    let (config, base, _) = support::configure(
        &dir,
        database,
        "argon2_memory_kib = 1024\nargon2_iterations = 1\n",
    );
    cli(&config, &["migrate"], None);
    let out = cli(
        &config,
        &[
            "client",
            "add",
            "web",
            "--redirect-uri",
            REDIRECT,
            "--first-party",
            "--grant",
            "authorization_code",
            "--grant",
            "refresh_token",
            "--scope",
            "openid",
        ],
        None,
    );
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .expect("client secret")
        .to_owned();
    cli(
        &config,
        &["user", "add", "erika"],
        Some(&format!("{PASSWORD}\n")),
    );

    let mut server = serve(&config, &base).await;
    let first = refresh_tokens(&base, &secret).await;
    assert_eq!(first.len(), CLIENTS);

    // 16 clients rotating, and SIGKILL after 3 s
    let held: Arc<Vec<Mutex<Held>>> = Arc::new(
        first
            .into_iter()
            .map(|last| Mutex::new(Held { last, before: None }))
            .collect(),
    );
    let answered = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::new();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (http, base, secret) = (http.clone(), base.clone(), secret.clone());
            let (held, answered) = (Arc::clone(&held), Arc::clone(&answered));
            tokio::spawn(async move {
                loop {
                    let token = held[c]
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .last
                        .clone();
                    match refresh(&http, &base, &secret, &token).await {
                        Some(Ok(next)) => {
                            let mut h = held[c].lock().unwrap_or_else(|p| p.into_inner());
                            h.before = Some(std::mem::replace(&mut h.last, next));
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                        Some(Err(e)) => panic!("client {c}: refused before the crash: {e}"),
                        None => return,
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(RUN).await;
    server.kill();
    for c in clients {
        c.await.expect("a client");
    }
    let answered = answered.load(Ordering::SeqCst);
    assert!(answered > CLIENTS, "the clients rotated ({answered})");

    let mut server = serve(&config, &base).await;
    let mut retried = 0;
    for (c, h) in held.iter().enumerate() {
        let h = h.lock().unwrap_or_else(|p| p.into_inner()).clone();
        // the token the client holds works, whether or not its successor was committed
        let next = refresh(&http, &base, &secret, &h.last)
            .await
            .expect("an answer")
            .unwrap_or_else(|e| panic!("client {c}: its last answered token was refused: {e}"));
        // and the one it got then works too: the grant is whole
        let after = refresh(&http, &base, &secret, &next)
            .await
            .expect("an answer")
            .unwrap_or_else(|e| panic!("client {c}: the retried grant is broken: {e}"));
        // the token before the last answered one is a reuse: refused, and the grant ends
        if let Some(before) = &h.before {
            let reuse = refresh(&http, &base, &secret, before)
                .await
                .expect("an answer");
            assert!(reuse.is_err(), "client {c}: an old token was accepted");
            let ended = refresh(&http, &base, &secret, &after)
                .await
                .expect("an answer");
            assert!(ended.is_err(), "client {c}: the grant outlived a reuse");
            retried += 1;
        }
    }
    assert!(retried > 0);
    server.kill();
    eprintln!("killed after {answered} answered rotations; every client's last token held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().expect("a folder");
    kill_during_rotations(None, dir.path().to_path_buf()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(schema) = konto_store_sql::testing::PgSchema::create("refresh_kill").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("a folder");
    let url = format!(
        "{}?options=-c%20search_path%3D{}",
        schema.url, schema.schema
    );
    kill_during_rotations(Some(url), dir.path().to_path_buf()).await;
    schema.drop_schema().await;
}
