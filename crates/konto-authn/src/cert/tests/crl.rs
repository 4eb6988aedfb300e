//! Revocation: CRL required or not, files, refresh, rollback, a real HTTP download.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

#[test]
fn without_a_crl_require_crl_refuses_everyone() {
    let validator = CertValidator::new(config(None, true)).unwrap();
    assert_eq!(
        code(validator.validate(&leaf("erika"), NOW)),
        "crl_unavailable"
    );
    // Without the requirement the same certificate passes (revocation unchecked).
    let lenient = CertValidator::new(config(None, false)).unwrap();
    assert!(lenient.validate(&leaf("erika"), NOW).is_ok());
    assert!(lenient.validate(&leaf("revoked"), NOW).is_ok());
}

#[test]
fn pem_and_der_crls_are_read_at_start() {
    for file in ["crl.pem", "crl.der"] {
        let validator =
            CertValidator::new(config(Some(CrlSource::File(elster_path(file))), true)).unwrap();
        assert!(validator.validate(&leaf("erika"), NOW).is_ok());
        assert_eq!(code(validator.validate(&leaf("revoked"), NOW)), "revoked");
    }
}

#[test]
fn bad_crl_files_stop_the_start() {
    let with_file =
        |file: &str| CertValidator::new(config(Some(CrlSource::File(elster_path(file))), true));
    assert_eq!(code(with_file("does-not-exist.pem")), "config");
    assert_eq!(code(with_file("foreign-crl.pem")), "crl_invalid");
    assert_eq!(code(with_file("erika.crt.pem")), "crl_invalid");
}

#[test]
fn a_stale_crl_counts_as_unavailable_but_its_revocations_stand() {
    let stale = Some(CrlSource::File(elster_path("crl-stale.pem")));
    let strict = CertValidator::new(config(stale.clone(), true)).unwrap();
    assert_eq!(
        code(strict.validate(&leaf("erika"), NOW)),
        "crl_unavailable"
    );
    assert_eq!(code(strict.validate(&leaf("revoked"), NOW)), "revoked");
    let lenient = CertValidator::new(config(stale, false)).unwrap();
    assert!(lenient.validate(&leaf("erika"), NOW).is_ok());
    assert_eq!(code(lenient.validate(&leaf("revoked"), NOW)), "revoked");
}

#[tokio::test]
async fn file_refresh_swaps_in_a_good_crl_and_keeps_it_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("elster.crl");
    std::fs::copy(elster_path("crl-stale.pem"), &path).unwrap();
    let validator = CertValidator::new(config(Some(CrlSource::File(path.clone())), true)).unwrap();
    assert_eq!(
        code(validator.validate(&leaf("erika"), NOW)),
        "crl_unavailable"
    );
    // A stale file is refused by refresh as well.
    assert_eq!(code(validator.refresh_crl(NOW).await), "crl_invalid");

    std::fs::copy(elster_path("crl.der"), &path).unwrap();
    validator.refresh_crl(NOW).await.unwrap();
    assert!(validator.validate(&leaf("erika"), NOW).is_ok());
    assert_eq!(code(validator.validate(&leaf("revoked"), NOW)), "revoked");

    // Every failure leaves the loaded CRL in place.
    std::fs::write(&path, b"garbage").unwrap();
    assert_eq!(code(validator.refresh_crl(NOW).await), "crl_invalid");
    std::fs::copy(elster_path("foreign-crl.pem"), &path).unwrap();
    assert_eq!(code(validator.refresh_crl(NOW).await), "crl_invalid");
    std::fs::copy(elster_path("crl-stale.pem"), &path).unwrap();
    assert_eq!(code(validator.refresh_crl(NOW).await), "crl_invalid");
    std::fs::remove_file(&path).unwrap();
    assert_eq!(code(validator.refresh_crl(NOW).await), "crl_fetch");
    assert!(validator.validate(&leaf("erika"), NOW).is_ok());
    assert_eq!(code(validator.validate(&leaf("revoked"), NOW)), "revoked");
}

#[tokio::test]
async fn refresh_never_goes_back_to_an_older_crl() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("elster.crl");
    std::fs::copy(elster_path("crl.pem"), &path).unwrap();
    let validator = CertValidator::new(config(Some(CrlSource::File(path.clone())), true)).unwrap();
    validator.refresh_crl(NOW).await.unwrap();
    std::fs::copy(elster_path("crl-stale.pem"), &path).unwrap();
    // Even at a time where the old CRL would have been current.
    let in_2020 = time::macros::datetime!(2020-06-01 00:00 UTC);
    let err = validator.refresh_crl(in_2020).await.unwrap_err();
    assert!(err.to_string().contains("older"), "{err}");
}

#[test]
fn refresh_interval_has_a_floor() {
    let mut cfg = config(None, false);
    cfg.crl_refresh = Duration::ZERO;
    let validator = CertValidator::new(cfg).unwrap();
    assert_eq!(
        validator.crl_refresh_interval(),
        super::super::MIN_CRL_REFRESH
    );
    assert_eq!(
        CertValidator::new(config(None, false))
            .unwrap()
            .crl_refresh_interval(),
        Duration::from_secs(3600)
    );
}

#[test]
fn https_crl_urls_are_refused() {
    let url = url::Url::parse("https://crl.example/elster.crl").unwrap();
    assert_eq!(
        code(CertValidator::new(config(Some(CrlSource::Url(url)), true))),
        "config"
    );
}

/// Serves each of `responses` to one connection: status line and body.
async fn serve(responses: Vec<(&'static str, Vec<u8>)>) -> url::Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for (status, body) in responses {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            assert!(request.starts_with(b"GET /elster.crl "));
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).await.unwrap();
            socket.write_all(&body).await.unwrap();
            socket.shutdown().await.unwrap();
        }
    });
    url::Url::parse(&format!("http://{address}/elster.crl")).unwrap()
}

#[tokio::test]
async fn url_crl_is_downloaded_on_refresh() {
    let url = serve(vec![
        ("200 OK", read(elster_path("crl.der"))),
        ("404 Not Found", Vec::new()),
        ("200 OK", b"not a crl".to_vec()),
    ])
    .await;
    let validator = CertValidator::new(config(Some(CrlSource::Url(url)), true)).unwrap();
    // Nothing is fetched before the first refresh.
    assert_eq!(
        code(validator.validate(&leaf("erika"), NOW)),
        "crl_unavailable"
    );
    validator.refresh_crl(NOW).await.unwrap();
    assert!(validator.validate(&leaf("erika"), NOW).is_ok());
    assert_eq!(code(validator.validate(&leaf("revoked"), NOW)), "revoked");
    assert_eq!(code(validator.refresh_crl(NOW).await), "crl_fetch");
    assert_eq!(code(validator.refresh_crl(NOW).await), "crl_invalid");
    assert!(validator.validate(&leaf("erika"), NOW).is_ok());
}
