//! Certificates forwarded by a reverse proxy, in the formats proxies actually send.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::super::{MAX_FORWARDED_HEADER_BYTES, parse_forwarded_certificate};
use super::*;

fn erika_pem() -> String {
    String::from_utf8(read(elster_path("erika.crt.pem"))).unwrap()
}

#[test]
fn nginx_escaped_pem_is_read() {
    // What nginx puts into $ssl_client_escaped_cert.
    let header = utf8_percent_encode(&erika_pem(), NON_ALPHANUMERIC).to_string();
    let chain = parse_forwarded_certificate(&header).unwrap();
    assert_eq!(chain, leaf("erika"));
    let identity = strict_validator().validate(&chain, NOW).unwrap();
    assert_eq!(identity.common_name, "Erika Mustermann");
}

#[test]
fn escaped_pem_chain_keeps_its_order() {
    let pem = format!(
        "{}{}",
        erika_pem(),
        String::from_utf8(read(elster_path("ca-chain.pem"))).unwrap()
    );
    let header = utf8_percent_encode(&pem, NON_ALPHANUMERIC).to_string();
    let chain = parse_forwarded_certificate(&header).unwrap();
    assert_eq!(chain.len(), 3);
    assert_eq!(chain[0], leaf("erika")[0]);
    assert!(strict_validator().validate(&chain, NOW).is_ok());
}

#[test]
fn pem_with_spaces_and_bare_base64_der_are_read() {
    let spaced = erika_pem().replace('\n', " ");
    assert_eq!(parse_forwarded_certificate(&spaced).unwrap(), leaf("erika"));
    let der = leaf("erika").remove(0);
    let bare = STANDARD.encode(&der);
    assert_eq!(
        parse_forwarded_certificate(&bare).unwrap(),
        vec![der.clone()]
    );
    let issuing = pem_blocks(elster_path("issuing-ca.crt.pem"), "CERTIFICATE").remove(0);
    let list = format!("{bare}, {}", STANDARD.encode(&issuing));
    assert_eq!(
        parse_forwarded_certificate(&list).unwrap(),
        vec![der, issuing]
    );
}

#[test]
fn empty_oversized_and_broken_values_are_refused() {
    for none in ["", "  ", "-", "(null)"] {
        assert_eq!(
            code(parse_forwarded_certificate(none)),
            "no_certificate",
            "{none:?}"
        );
    }
    assert_eq!(
        code(parse_forwarded_certificate(
            &"A".repeat(MAX_FORWARDED_HEADER_BYTES + 1)
        )),
        "too_large"
    );
    assert_eq!(code(parse_forwarded_certificate("%FF%FE")), "malformed");
    assert_eq!(code(parse_forwarded_certificate("not*base64")), "malformed");
    assert_eq!(
        code(parse_forwarded_certificate("Z2FyYmFnZQ==")),
        "malformed"
    );
    assert_eq!(
        code(parse_forwarded_certificate(
            "-----BEGIN CERTIFICATE-----AAAA"
        )),
        "malformed"
    );
    let five = erika_pem().repeat(5);
    assert_eq!(code(parse_forwarded_certificate(&five)), "chain_too_long");
    let big = STANDARD.encode(vec![0x30; 17 * 1024]);
    assert_eq!(code(parse_forwarded_certificate(&big)), "too_large");
}
