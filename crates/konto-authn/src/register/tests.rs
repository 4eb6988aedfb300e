//! The connector against the real simulator over a socket, and against stubs that misbehave.

use std::time::{Duration, Instant};

use konto_core::org::RegisterKey;
use konto_register_sim::{
    ALTE_MUSTERMANN_DELETED, KOVALENKO_BERLIN, MUSTERMANN_SOFTWARE, SimConfig, SimHandle,
    YILMAZ_KOELN,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

async fn simulator() -> SimHandle {
    konto_register_sim::spawn(SimConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap()
}

fn register(base: &url::Url) -> HttpRegister {
    HttpRegister::new(HttpRegisterConfig::new(base.clone())).unwrap()
}

fn key(court: &str, kind: &str, number: &str) -> RegisterKey {
    RegisterKey::new(court, kind, number).unwrap()
}

#[tokio::test]
async fn finds_an_entry_with_its_representatives() {
    let sim = simulator().await;
    let before = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let asked = MUSTERMANN_SOFTWARE.key().unwrap();
    let entry = register(&sim.url).lookup(&asked).await.unwrap().unwrap();
    assert_eq!(entry.key, asked);
    assert_eq!(entry.name, "Mustermann Software GmbH");
    assert_eq!(entry.legal_form, "Gesellschaft mit beschränkter Haftung");
    assert_eq!(entry.status, EntryStatus::Active);
    assert_eq!(entry.euid.unwrap().as_str(), "DED2601V.HRB123456");
    assert_eq!(
        entry.wirtschafts_id,
        Some(WirtschaftsId::with_check_digit("12345678").unwrap())
    );
    assert_eq!(entry.address.locality, "München");
    assert_eq!(entry.address.country, "DE");
    assert!(entry.retrieved_at >= before);
    // Erika of the eID simulator, as the eID connector hands her over
    let erika = konto_core::org::matching_representative(
        &entry.representatives,
        "MUSTERMANN",
        "ERIKA",
        "1964-08-12",
    )
    .unwrap();
    assert_eq!(erika.role, "Geschäftsführerin");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unknown_entry_is_none() {
    let sim = simulator().await;
    let found = register(&sim.url)
        .lookup(&key("München", "HRB", "999999"))
        .await
        .unwrap();
    assert!(found.is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_deleted_entry_says_so() {
    let sim = simulator().await;
    let entry = register(&sim.url)
        .lookup(&ALTE_MUSTERMANN_DELETED.key().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.status, EntryStatus::Deleted);
    sim.shutdown().await;
}

#[tokio::test]
async fn courts_with_spaces_umlauts_and_parentheses_arrive_whole() {
    let sim = simulator().await;
    let register = register(&sim.url);
    for company in [KOVALENKO_BERLIN, YILMAZ_KOELN] {
        let asked = company.key().unwrap();
        let entry = register.lookup(&asked).await.unwrap().unwrap();
        assert_eq!(entry.key, asked);
    }
    // the same court without its parentheses is another court
    let other = key("Berlin Charlottenburg", "HRB", "12345 B");
    assert!(register.lookup(&other).await.unwrap().is_none());
    sim.shutdown().await;
}

#[test]
fn entry_urls_encode_each_segment() {
    let at = |base: &str| register(&url::Url::parse(base).unwrap());
    let url = at("http://127.0.0.1:1")
        .entry_url(&key("Berlin (Charlottenburg)", "HRB", "12345 B"))
        .unwrap();
    assert_eq!(
        url.as_str(),
        "http://127.0.0.1:1/v1/entries/Berlin%20%28Charlottenburg%29/HRB/12345%20B"
    );
    let url = at("http://localhost:1/register/")
        .entry_url(&key("Köln", "GnR", "7"))
        .unwrap();
    assert_eq!(
        url.as_str(),
        "http://localhost:1/register/v1/entries/K%C3%B6ln/GnR/7"
    );
}

#[test]
fn configuration_is_checked() {
    let config = |url: &str| HttpRegisterConfig::new(url::Url::parse(url).unwrap());
    let code = |c: HttpRegisterConfig| HttpRegister::new(c).err().map(|e| e.code());
    assert_eq!(code(config("http://127.0.0.1:8080")), None);
    assert_eq!(code(config("http://[::1]:8080/base")), None);
    assert_eq!(code(config("http://localhost:8080")), None);
    assert_eq!(code(config("http://register.example")), Some("config"));
    assert_eq!(code(config("http://10.0.0.1")), Some("config"));
    assert_eq!(code(config("https://register.example")), Some("config"));
    assert_eq!(code(config("ftp://127.0.0.1")), Some("config"));
    assert_eq!(code(config("http://127.0.0.1/?a=1")), Some("config"));
    assert_eq!(code(config("http://user:pw@127.0.0.1/")), Some("config"));
    let mut zero = config("http://127.0.0.1");
    zero.timeout = Duration::ZERO;
    assert_eq!(code(zero), Some("config"));
    let mut https = config("https://register.example");
    https.ca_pem = Some(b"not pem".to_vec());
    assert_eq!(code(https.clone()), Some("config"));
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/../../keys-dev/tls/ca.pem");
    https.ca_pem = Some(std::fs::read(ca).unwrap());
    assert_eq!(code(https), None);
}

#[test]
fn debug_shows_no_representative() {
    let entry = RegisterEntry {
        key: key("München", "HRB", "1"),
        euid: None,
        wirtschafts_id: None,
        name: "A GmbH".into(),
        legal_form: "GmbH".into(),
        address: OrgAddress {
            street: "S".into(),
            postal_code: "1".into(),
            locality: "L".into(),
            country: "DE".into(),
        },
        representatives: vec![Representative {
            family_name: "Geheimrat".into(),
            given_names: "Gustav".into(),
            date_of_birth: "1950-01-01".into(),
            role: "Geschäftsführer".into(),
        }],
        status: EntryStatus::Active,
        retrieved_at: OffsetDateTime::UNIX_EPOCH,
    };
    let shown = format!("{entry:?}");
    assert!(!shown.contains("Geheimrat"), "{shown}");
    assert!(!shown.contains("1950"), "{shown}");
    assert!(shown.contains("A GmbH"));
}

#[test]
fn codes_are_distinct() {
    let all = [
        RegisterError::Timeout,
        RegisterError::Unavailable(String::new()),
        RegisterError::Malformed(String::new()),
        RegisterError::Config(String::new()),
    ];
    let mut codes: Vec<_> = all.iter().map(RegisterError::code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
}

// --- stubs that misbehave ------------------------------------------------------------------------

/// What a stub does after reading the request head.
#[derive(Clone)]
enum Stub {
    /// Writes these bytes and closes.
    Answer(Vec<u8>),
    /// Writes these bytes and then holds the connection open without a word more.
    AnswerThenStall(Vec<u8>),
}

/// A server on loopback that treats every connection the same; the base URL.
async fn stub(behaviour: Stub) -> url::Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let behaviour = behaviour.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                match behaviour {
                    Stub::Answer(bytes) => {
                        let _ = socket.write_all(&bytes).await;
                        let _ = socket.shutdown().await;
                    }
                    Stub::AnswerThenStall(bytes) => {
                        let _ = socket.write_all(&bytes).await;
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                }
            });
        }
    });
    url::Url::parse(&format!("http://{addr}")).unwrap()
}

fn http(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

const ASKED: (&str, &str, &str) = ("München", "HRB", "1");

fn asked() -> RegisterKey {
    key(ASKED.0, ASKED.1, ASKED.2)
}

/// A correct answer for [`asked`].
fn valid_json() -> serde_json::Value {
    serde_json::json!({
        "key": { "court": "München", "type": "HRB", "number": "1" },
        "euid": "DED2601V.HRB1",
        "name": "Stub GmbH",
        "legal_form": "GmbH",
        "address": { "street": "S 1", "postal_code": "80331", "locality": "München", "country": "DE" },
        "representatives": [
            { "family_name": "Geheimrat", "given_names": "Gustav", "date_of_birth": "1950-01-01", "role": "Geschäftsführer" }
        ],
        "status": "active",
        "retrieved_at": "2026-01-01T00:00:00Z"
    })
}

async fn lookup_at(
    behaviour: Stub,
    timeout: Duration,
) -> Result<Option<RegisterEntry>, RegisterError> {
    let mut config = HttpRegisterConfig::new(stub(behaviour).await);
    config.timeout = timeout;
    HttpRegister::new(config).unwrap().lookup(&asked()).await
}

async fn answered(
    status: &str,
    content_type: &str,
    body: &str,
) -> Result<Option<RegisterEntry>, RegisterError> {
    lookup_at(
        Stub::Answer(http(status, content_type, body)),
        Duration::from_secs(5),
    )
    .await
}

fn malformed(outcome: Result<Option<RegisterEntry>, RegisterError>) -> String {
    match outcome {
        Err(RegisterError::Malformed(reason)) => reason,
        other => panic!("expected malformed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_correct_stub_answer_is_read() {
    let entry = answered(
        "200 OK",
        "application/json; charset=utf-8",
        &valid_json().to_string(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(entry.name, "Stub GmbH");
    assert_eq!(entry.wirtschafts_id, None);
    let not_found = r#"{"error":"no_such_entry"}"#;
    assert!(
        answered("404 Not Found", "application/json", not_found)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn garbage_is_malformed() {
    malformed(answered("200 OK", "application/json", "hello").await);
    malformed(answered("200 OK", "application/json", "").await);
    malformed(answered("200 OK", "text/html", &valid_json().to_string()).await);
    malformed(answered("200 OK", "application/json", "[]").await);
    // a bare 404 (a wrong base URL, a proxy's error page) is not "no such entry"
    malformed(answered("404 Not Found", "text/html", "<h1>Not Found</h1>").await);
    malformed(answered("404 Not Found", "application/json", r#"{"error":"x"}"#).await);
    malformed(answered("400 Bad Request", "application/json", "{}").await);
    // redirects are not followed
    let redirect =
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n";
    malformed(lookup_at(Stub::Answer(redirect.to_vec()), Duration::from_secs(5)).await);
    // garbage instead of HTTP
    let outcome = lookup_at(
        Stub::Answer(b"SSH-2.0-OpenSSH\r\n\r\n".to_vec()),
        Duration::from_secs(5),
    )
    .await;
    assert!(
        matches!(outcome, Err(RegisterError::Unavailable(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn wrong_values_are_malformed_and_never_quoted() {
    type Change = fn(&mut serde_json::Value);
    let variants: Vec<(&str, Change)> = vec![
        (
            "unknown field",
            (|v: &mut serde_json::Value| v["extra"] = "x".into()),
        ),
        (
            "unknown field in a representative",
            (|v: &mut serde_json::Value| v["representatives"][0]["geheim"] = "x".into()),
        ),
        (
            "another key",
            (|v: &mut serde_json::Value| v["key"]["number"] = "2".into()),
        ),
        (
            "another court",
            (|v: &mut serde_json::Value| v["key"]["court"] = "Muenchen".into()),
        ),
        (
            "a key with spaces",
            (|v: &mut serde_json::Value| v["key"]["court"] = " München".into()),
        ),
        (
            "a bad type",
            (|v: &mut serde_json::Value| v["key"]["type"] = "HRX".into()),
        ),
        (
            "a bad euid",
            (|v: &mut serde_json::Value| v["euid"] = "Geheimrat".into()),
        ),
        (
            "a bad w-idnr",
            (|v: &mut serde_json::Value| v["wirtschafts_id"] = "DE123456789".into()),
        ),
        (
            "a bad status",
            (|v: &mut serde_json::Value| v["status"] = "Geheimrat".into()),
        ),
        (
            "a bad date",
            (|v: &mut serde_json::Value| {
                v["representatives"][0]["date_of_birth"] = "1950-02-30".into()
            }),
        ),
        (
            "a partial date",
            (|v: &mut serde_json::Value| v["representatives"][0]["date_of_birth"] = "1950".into()),
        ),
        (
            "a number as a name",
            (|v: &mut serde_json::Value| v["representatives"][0]["family_name"] = 7.into()),
        ),
        (
            "a control character",
            (|v: &mut serde_json::Value| {
                v["representatives"][0]["family_name"] = "Geheim\u{1b}rat".into()
            }),
        ),
        (
            "an empty name",
            (|v: &mut serde_json::Value| v["name"] = " ".into()),
        ),
        (
            "a bad country",
            (|v: &mut serde_json::Value| v["address"]["country"] = "Deutschland".into()),
        ),
        (
            "a missing field",
            (|v: &mut serde_json::Value| {
                v.as_object_mut().unwrap().remove("retrieved_at");
            }),
        ),
        (
            "a bad time",
            (|v: &mut serde_json::Value| v["retrieved_at"] = "yesterday".into()),
        ),
    ];
    for (what, change) in variants {
        let mut json = valid_json();
        change(&mut json);
        let reason = malformed(answered("200 OK", "application/json", &json.to_string()).await);
        assert!(
            !reason.contains("Geheim") && !reason.contains("1950"),
            "{what}: {reason}"
        );
    }
    let mut many = valid_json();
    let one = many["representatives"][0].clone();
    many["representatives"] = serde_json::Value::Array(vec![one; wire::MAX_REPRESENTATIVES + 1]);
    malformed(answered("200 OK", "application/json", &many.to_string()).await);
}

#[tokio::test]
async fn a_too_big_answer_is_refused() {
    let mut big = valid_json();
    big["legal_form"] = "x".repeat(DEFAULT_MAX_ANSWER_BYTES).into();
    let body = big.to_string();
    // announced
    let reason = malformed(answered("200 OK", "application/json", &body).await);
    assert!(reason.contains("larger"), "{reason}");
    // not announced: the body ends when the connection closes
    let unannounced = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{body}"
    );
    let reason = malformed(
        lookup_at(
            Stub::Answer(unannounced.into_bytes()),
            Duration::from_secs(5),
        )
        .await,
    );
    assert!(reason.contains("larger"), "{reason}");
}

#[tokio::test]
async fn a_too_slow_register_times_out() {
    let timeout = Duration::from_millis(300);
    // no answer at all
    let started = Instant::now();
    let outcome = lookup_at(Stub::AnswerThenStall(Vec::new()), timeout).await;
    assert!(
        matches!(outcome, Err(RegisterError::Timeout)),
        "{outcome:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // the head, then half the body
    let body = valid_json().to_string();
    let half = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..body.len() / 2]
    );
    let outcome = lookup_at(Stub::AnswerThenStall(half.into_bytes()), timeout).await;
    assert!(
        matches!(outcome, Err(RegisterError::Timeout)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn an_overloaded_or_absent_register_is_unavailable() {
    for status in [
        "503 Service Unavailable",
        "500 Internal Server Error",
        "429 Too Many Requests",
    ] {
        let outcome = answered(status, "text/plain", "busy").await;
        assert!(
            matches!(outcome, Err(RegisterError::Unavailable(_))),
            "{status}: {outcome:?}"
        );
    }
    // a port nobody listens on
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let base = url::Url::parse(&format!("http://{closed}")).unwrap();
    let outcome = register(&base).lookup(&asked()).await;
    assert!(
        matches!(outcome, Err(RegisterError::Unavailable(_))),
        "{outcome:?}"
    );
}
