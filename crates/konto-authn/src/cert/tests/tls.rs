//! Real TLS handshakes over 127.0.0.1 with the certificate-login verifier.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::*;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: PathBuf) -> Vec<CertificateDer<'static>> {
    pem_blocks(path, "CERTIFICATE")
        .into_iter()
        .map(CertificateDer::from)
        .collect()
}

fn key(path: PathBuf) -> PrivateKeyDer<'static> {
    PrivatePkcs8KeyDer::from(pem_blocks(path, "PRIVATE KEY").remove(0)).into()
}

fn server_config(
    validator: &CertValidator,
    version: &'static SupportedProtocolVersion,
) -> ServerConfig {
    ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_client_cert_verifier(validator.client_cert_verifier())
        .with_single_cert(
            certs(tls_path("server.crt.pem")),
            key(tls_path("server.key.pem")),
        )
        .unwrap()
}

fn client_config(user: Option<&str>, version: &'static SupportedProtocolVersion) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    for ca in certs(tls_path("ca.pem")) {
        roots.add(ca).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots);
    match user {
        None => builder.with_no_client_auth(),
        Some(name) => builder
            .with_client_auth_cert(
                certs(elster_path(&format!("{name}.crt.pem"))),
                key(elster_path(&format!("{name}.key.pem"))),
            )
            .unwrap(),
    }
}

/// One handshake; returns the client certificates the server saw.
async fn handshake(
    validator: &CertValidator,
    user: Option<&str>,
    version: &'static SupportedProtocolVersion,
) -> Option<Vec<Vec<u8>>> {
    let acceptor = TlsAcceptor::from(Arc::new(server_config(validator, version)));
    let connector = TlsConnector::from(Arc::new(client_config(user, version)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = async {
        let (socket, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(socket).await.unwrap();
        let mut ping = [0u8; 4];
        tls.read_exact(&mut ping).await.unwrap();
        assert_eq!(&ping, b"ping");
        tls.get_ref()
            .1
            .peer_certificates()
            .map(|chain| chain.iter().map(|c| c.to_vec()).collect())
    };
    let client = async {
        let socket = TcpStream::connect(address).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, socket).await.unwrap();
        tls.write_all(b"ping").await.unwrap();
        tls.flush().await.unwrap();
        tls
    };
    let (seen, _client) = tokio::join!(server, client);
    seen
}

#[tokio::test]
async fn rsa_and_ecdsa_holders_log_in_over_tls_1_3_and_1_2() {
    let validator = strict_validator();
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let chain = handshake(&validator, Some("erika"), version)
            .await
            .expect("peer certificates");
        let identity = validator.validate(&chain, NOW).unwrap();
        assert_eq!(identity.holder_id, "KONTO-TEST-0000001");
        let chain = handshake(&validator, Some("ecdsa"), version)
            .await
            .expect("peer certificates");
        assert_eq!(
            validator.validate(&chain, NOW).unwrap().holder_id,
            "KONTO-TEST-0000006"
        );
    }
}

#[tokio::test]
async fn without_a_certificate_the_handshake_still_succeeds() {
    let validator = strict_validator();
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        assert_eq!(handshake(&validator, None, version).await, None);
    }
}

#[tokio::test]
async fn untrusted_certificates_pass_the_handshake_and_fail_validation() {
    let validator = strict_validator();
    for (user, expected) in [
        ("foreign", "untrusted_issuer"),
        ("revoked", "revoked"),
        ("expired", "expired"),
    ] {
        let chain = handshake(&validator, Some(user), &rustls::version::TLS13)
            .await
            .unwrap();
        assert_eq!(code(validator.validate(&chain, NOW)), expected, "{user}");
    }
}

#[test]
fn the_verifier_hints_the_configured_cas_and_does_not_insist() {
    let verifier = strict_validator().client_cert_verifier();
    assert!(verifier.offer_client_auth());
    assert!(!verifier.client_auth_mandatory());
    assert_eq!(verifier.root_hint_subjects().len(), 2);
    let names: Vec<String> = verifier
        .root_hint_subjects()
        .iter()
        .map(|dn| {
            use x509_parser::prelude::FromDer;
            x509_parser::x509::X509Name::from_der(dn.as_ref())
                .unwrap()
                .1
                .to_string()
        })
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.contains("konto Test-ELSTER Root CA")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.contains("konto Test-ELSTER CA 1")),
        "{names:?}"
    );
    assert!(!verifier.supported_verify_schemes().is_empty());
}

/// A client that presents `certified` and records the CA names the server hinted.
#[derive(Debug)]
struct Presenter {
    certified: Arc<rustls::sign::CertifiedKey>,
    hints: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl rustls::client::ResolvesClientCert for Presenter {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        *self.hints.lock().unwrap() = root_hint_subjects.iter().map(|h| h.to_vec()).collect();
        Some(self.certified.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Handshake of a client presenting `cert_of`'s certificate with `key_of`'s key.
async fn present(cert_of: &str, key_of: &str) -> (Result<(), std::io::Error>, Vec<Vec<u8>>) {
    let validator = strict_validator();
    let acceptor = TlsAcceptor::from(Arc::new(server_config(&validator, &rustls::version::TLS13)));
    let signing_key = provider()
        .key_provider
        .load_private_key(key(elster_path(&format!("{key_of}.key.pem"))))
        .unwrap();
    let presenter = Arc::new(Presenter {
        certified: Arc::new(rustls::sign::CertifiedKey::new(
            certs(elster_path(&format!("{cert_of}.crt.pem"))),
            signing_key,
        )),
        hints: std::sync::Mutex::new(Vec::new()),
    });
    let mut roots = RootCertStore::empty();
    roots.add(certs(tls_path("ca.pem")).remove(0)).unwrap();
    let client_config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_cert_resolver(presenter.clone());
    let connector = TlsConnector::from(Arc::new(client_config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = async {
        let (socket, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(socket).await?;
        let mut ping = [0u8; 4];
        tls.read_exact(&mut ping).await.map(|_| ())
    };
    let client = async {
        let socket = TcpStream::connect(address).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        if let Ok(mut tls) = connector.connect(name, socket).await {
            let _ = tls.write_all(b"ping").await;
            let _ = tls.flush().await;
        }
    };
    let (result, ()) = tokio::join!(server, client);
    let hints = presenter.hints.lock().unwrap().clone();
    (result, hints)
}

#[tokio::test]
async fn a_certificate_without_its_key_fails_the_handshake() {
    let (honest, hints) = present("erika", "erika").await;
    honest.unwrap();
    assert_eq!(hints.len(), 2, "the client saw the configured CAs as hints");
    let (impostor, _) = present("erika", "max").await;
    assert!(
        impostor.is_err(),
        "erika's certificate signed with max's key must not pass"
    );
}
