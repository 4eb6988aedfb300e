//! End to end over real sockets: konto's eID connector against the simulator's eID-Server
//! (mutual TLS), a TCToken served by a small local HTTP server, the simulator's eID client
//! fetching it, and the refresh redirect read back by `check_refresh_query`.
#![expect(clippy::unwrap_used, reason = "test helpers should fail loudly")]

use std::sync::Arc;
use std::time::Duration;

use konto_authn::eid::{EidConfig, EidConnector, EidError, EidIdentity, check_refresh_query};
use konto_core::Level;
use konto_core::amr::AuthenticatorKind;
use konto_core::attributes::{AttributeName, AttributeSource};
use konto_eid_sim::{SimConfig, SimHandle};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;
use url::Url;

fn dev(file: &str) -> Vec<u8> {
    let path = format!("{}/../../keys-dev/eid/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn simulator(timeout_delay: Duration) -> SimHandle {
    let mut config = SimConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
        dev("server.pem"),
        dev("server.key"),
        dev("ca.pem"),
    );
    config.timeout_delay = timeout_delay;
    konto_eid_sim::spawn(config).await.unwrap()
}

fn config(sim: &SimHandle, timeout: Duration) -> EidConfig {
    EidConfig {
        server_url: sim.soap_url.clone(),
        client_cert_pem: dev("client.pem"),
        client_key_pem: dev("client.key"),
        server_ca_pem: dev("ca.pem"),
        timeout,
        eid_client_url: sim.client_url.clone(),
    }
}

fn connector(sim: &SimHandle) -> EidConnector {
    EidConnector::new(config(sim, Duration::from_secs(10))).unwrap()
}

/// Serves one TCToken at `http://127.0.0.1:<port>/tc-token`, as konto's web layer will.
async fn serve_tc_token(token: String) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/tc-token",
        axum::routing::get(move || {
            let token = token.clone();
            async move { ([("content-type", "text/xml; charset=utf-8")], token) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Url::parse(&format!("http://{addr}/tc-token?login=4711")).unwrap()
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Login {
    session: konto_authn::eid::EidSession,
    refresh: Result<(), EidError>,
}

/// Everything up to the browser's return to konto: start, TCToken, eID client, refresh.
async fn login_until_refresh(sim: &SimHandle, connector: &EidConnector, choice: &str) -> Login {
    let session = connector.start().await.unwrap();
    let refresh_address = Url::parse("https://konto.example/login/eid/back?flow=abc").unwrap();
    let error_address = Url::parse("https://konto.example/login/eid/error?flow=abc").unwrap();
    let token = connector.tc_token(&session, &refresh_address, Some(&error_address));
    let tc_token_url = serve_tc_token(token).await;

    // The browser is sent to the eID client, which shows the choices.
    let client_url = connector.client_url(&tc_token_url);
    assert!(client_url.as_str().starts_with(sim.client_url.as_str()));
    let page = browser().get(client_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("ERIKA MUSTERMANN"));
    assert!(!html.contains("<script"));

    // The user picks; the eID client fetches the TCToken and redirects to the refresh address.
    let answer = browser()
        .post(sim.client_url.clone())
        .form(&[("tcTokenURL", tc_token_url.as_str()), ("choice", choice)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
    let location = Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.path(), refresh_address.path());
    assert!(location.query().unwrap().starts_with("flow=abc&"));
    Login {
        session,
        refresh: check_refresh_query(location.query()),
    }
}

async fn login(choice: &str) -> (Result<(), EidError>, Result<EidIdentity, EidError>) {
    let sim = simulator(Duration::from_secs(30)).await;
    let connector = connector(&sim);
    let login = login_until_refresh(&sim, &connector, choice).await;
    let result = connector
        .result(&login.session, OffsetDateTime::now_utc())
        .await;
    sim.shutdown().await;
    (login.refresh, result)
}

fn value(identity: &EidIdentity, name: AttributeName) -> Option<&str> {
    identity
        .attributes
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.value.as_str())
}

#[tokio::test]
async fn erika_logs_in_at_level_high() {
    let (refresh, result) = login("erika").await;
    refresh.unwrap();
    let erika = result.unwrap();
    assert_eq!(erika.restricted_id, konto_eid_sim::ERIKA.restricted_id);
    assert_eq!(erika.document_type.as_deref(), Some("ID"));
    for (name, expected) in [
        (AttributeName::GivenName, "ERIKA"),
        (AttributeName::FamilyName, "MUSTERMANN"),
        (AttributeName::BirthName, "GABLER"),
        (AttributeName::AcademicTitle, "DR."),
        (AttributeName::BirthDate, "1964-08-12"),
        (AttributeName::PlaceOfBirth, "BERLIN"),
        (AttributeName::Nationality, "DE"),
        (AttributeName::Street, "HEIDESTRASSE 17"),
        (AttributeName::PostalCode, "51147"),
        (AttributeName::Locality, "KÖLN"),
        (AttributeName::Country, "DE"),
        (AttributeName::DocumentType, "ID"),
        (AttributeName::CommunityId, "027605315000"),
    ] {
        assert_eq!(value(&erika, name), Some(expected), "{name}");
    }
    assert!(
        erika
            .attributes
            .iter()
            .all(|a| a.level == Level::High && a.source == AttributeSource::Eid)
    );
    let verified = erika.into_verified();
    assert_eq!(verified.kind(), AuthenticatorKind::Eid);
    assert_eq!(verified.level, Level::High);
    assert_eq!(
        verified.external_id.as_deref(),
        Some(konto_eid_sim::ERIKA.restricted_id)
    );

    // The pseudonym is stable: a second login finds the same account.
    let (_, again) = login("erika").await;
    assert_eq!(
        again.unwrap().restricted_id,
        konto_eid_sim::ERIKA.restricted_id
    );
}

#[tokio::test]
async fn the_other_test_cards() {
    let (_, lukas) = login("lukas").await;
    let lukas = lukas.unwrap();
    assert_eq!(value(&lukas, AttributeName::AcademicTitle), None);
    assert_eq!(value(&lukas, AttributeName::BirthName), None);
    assert_eq!(value(&lukas, AttributeName::PlaceOfBirth), None);
    assert_eq!(value(&lukas, AttributeName::BirthDate), Some("1990-03-01"));

    let (_, ayse) = login("ayse").await;
    let ayse = ayse.unwrap();
    assert_eq!(value(&ayse, AttributeName::GivenName), Some("AYŞE"));
    assert_eq!(value(&ayse, AttributeName::BirthDate), Some("1979"));
    assert_eq!(
        value(&ayse, AttributeName::PlaceOfBirth),
        Some("ISTANBUL/TÜRKEI")
    );
    assert_eq!(
        value(&ayse, AttributeName::Locality),
        Some("KEINE HAUPTWOHNUNG IN DEUTSCHLAND")
    );
    assert_eq!(value(&ayse, AttributeName::Street), None);

    let (_, oleksandra) = login("oleksandra").await;
    let oleksandra = oleksandra.unwrap();
    assert_eq!(oleksandra.document_type.as_deref(), Some("AR"));
    assert_eq!(value(&oleksandra, AttributeName::Nationality), Some("UKR"));
    assert_eq!(oleksandra.into_verified().level, Level::High);
}

#[tokio::test]
async fn failures_map_to_their_errors() {
    let (refresh, result) = login("cancel").await;
    assert!(matches!(refresh, Err(EidError::Cancelled)), "{refresh:?}");
    assert!(matches!(result, Err(EidError::Cancelled)), "{result:?}");

    let (refresh, result) = login("expired").await;
    assert!(
        matches!(refresh, Err(EidError::ServerError(_))),
        "{refresh:?}"
    );
    assert!(
        matches!(result, Err(EidError::DocumentExpired)),
        "{result:?}"
    );

    let (_, result) = login("revoked").await;
    assert!(
        matches!(result, Err(EidError::DocumentInvalid)),
        "{result:?}"
    );

    let (refresh, result) = login("server_error").await;
    assert!(
        matches!(refresh, Err(EidError::ServerError(_))),
        "{refresh:?}"
    );
    assert!(
        matches!(result, Err(EidError::ServerError(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_slow_eid_server_is_a_timeout() {
    let sim = simulator(Duration::from_secs(5)).await;
    let connector = EidConnector::new(config(&sim, Duration::from_millis(800))).unwrap();
    let login = login_until_refresh(&sim, &connector, "timeout").await;
    login.refresh.unwrap();
    let started = std::time::Instant::now();
    let result = connector
        .result(&login.session, OffsetDateTime::now_utc())
        .await;
    assert!(matches!(result, Err(EidError::Timeout)), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
    sim.shutdown().await;
}

#[tokio::test]
async fn sessions_answer_once_and_only_after_the_user_chose() {
    let sim = simulator(Duration::from_secs(30)).await;
    let connector = connector(&sim);
    let session = connector.start().await.unwrap();
    let now = OffsetDateTime::now_utc();
    let early = connector.result(&session, now).await;
    assert!(matches!(early, Err(EidError::NoResultYet)), "{early:?}");

    let login = login_until_refresh(&sim, &connector, "erika").await;
    connector.result(&login.session, now).await.unwrap();
    let again = connector.result(&login.session, now).await;
    assert!(matches!(again, Err(EidError::SessionUnknown)), "{again:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_tc_token_with_the_wrong_psk_gets_no_trusted_channel() {
    let sim = simulator(Duration::from_secs(30)).await;
    let connector = connector(&sim);
    let mut session = connector.start().await.unwrap();
    session.psk_key = "00".repeat(32);
    let refresh_address = Url::parse("https://konto.example/back").unwrap();
    let tc_token_url = serve_tc_token(connector.tc_token(&session, &refresh_address, None)).await;
    let answer = browser()
        .post(sim.client_url.clone())
        .form(&[("tcTokenURL", tc_token_url.as_str()), ("choice", "erika")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    let location = Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        location.query(),
        Some("ResultMajor=error&ResultMinor=trustedChannelEstablishmentFailed")
    );
    assert!(matches!(
        check_refresh_query(location.query()),
        Err(EidError::Unavailable(_))
    ));
    sim.shutdown().await;
}

fn tls_client(identity: Option<(&[u8], &[u8])>) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&dev("ca.pem")) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let tls = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert)
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_slice(key).unwrap(),
            )
            .unwrap(),
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_simulator_refuses_clients_without_the_right_certificate() {
    let sim = simulator(Duration::from_secs(30)).await;

    // No client certificate at all: the TLS handshake is refused.
    let refused = tls_client(None)
        .post(sim.soap_url.clone())
        .body("<x/>")
        .send()
        .await;
    let refused = format!("{refused:?}");
    assert!(refused.contains("CertificateRequired"), "{refused}");

    // A certificate the simulator's CA did not issue.
    let mut untrusted = config(&sim, Duration::from_secs(5));
    untrusted.client_cert_pem = dev("untrusted-client.pem");
    untrusted.client_key_pem = dev("untrusted-client.key");
    let start = EidConnector::new(untrusted).unwrap().start().await;
    assert!(
        matches!(&start, Err(EidError::Unavailable(m)) if m.contains("UnknownCA")),
        "{start:?}"
    );

    // konto in turn refuses a server its CA did not issue.
    let mut wrong_root = config(&sim, Duration::from_secs(5));
    wrong_root.server_ca_pem = dev("untrusted-client.pem");
    let start = EidConnector::new(wrong_root).unwrap().start().await;
    assert!(
        matches!(&start, Err(EidError::Unavailable(m)) if m.contains("UnknownIssuer")),
        "{start:?}"
    );

    // With the right certificate a malformed request is answered with a SOAP fault.
    let client = tls_client(Some((&dev("client.pem"), &dev("client.key"))));
    let fault = client
        .post(sim.soap_url.clone())
        .body("<not-soap/>")
        .send()
        .await
        .unwrap();
    assert_eq!(fault.status(), 500);
    assert!(fault.text().await.unwrap().contains("<soapenv:Fault>"));
    sim.shutdown().await;
}
