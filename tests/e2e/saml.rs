//! The SAML IdP with a service provider konto did not write (pysaml2 with xmlsec1): Web Browser
//! SSO over both bindings (SAML profiles §4.1, bindings §3.4/§3.5), BundID's akdb extension,
//! signed responses with signed and encrypted assertions, and the refusals, each with its SAML
//! status (core §3.2.2.2).

use konto_core::Level;
use konto_tests::saml::PySp;
use konto_tests::*;
use serde_json::Value;

on_both_backends!(pysaml2_logs_in_over_both_bindings,);

const PW: &str = "Fahrradklingel-Nordsee-42";
const GIVEN_NAME: &str = "urn:oid:2.5.4.42";
const SURNAME: &str = "urn:oid:2.5.4.4";
const BPK2: &str = "urn:oid:1.3.6.1.4.1.25484.494450.3";
const LEVEL: &str = "urn:oid:1.2.40.0.10.2.1.1.261.94";
const PROVED_BY: &str = "urn:oid:1.3.6.1.4.1.25484.494450.2";
const POSTBOX: &str = "urn:oid:2.5.4.18";
const BIRTHDATE: &str = "urn:oid:1.2.40.0.10.2.1.1.55";

fn options(backend: Backend) -> Options {
    let mut o = Options::new(backend);
    o.saml = true;
    o
}

fn first(v: &Value, name: &str) -> String {
    v["attributes"][name][0]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
        .to_owned()
}

/// Where the browser posts the SAML response: the auto-submitted form's `SAMLResponse`.
fn posted(out: Outcome, acs: &str) -> String {
    let (url, params) = out.callback();
    assert_eq!(url, acs, "the answer goes to the registered ACS");
    params
        .into_iter()
        .find(|(k, _)| k == "SAMLResponse")
        .map(|(_, v)| v)
        .expect("a SAMLResponse")
}

/// pysaml2 logs in with a signed request (Redirect binding) carrying the akdb extension,
/// checks both signatures, decrypts the assertion and reads the attributes by their `urn:oid:`
/// names, each with its `akdb:TrustLevel`. A second request with the POST binding is answered
/// by single sign-on: no page, the same bPK2, a fresh transient NameID.
async fn pysaml2_logs_in_over_both_bindings(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let sp = PySp::new(&server, "stadt").await;
    sp.register(&server, "stadt", Level::Basic).await;
    let attrs = [
        &format!("{GIVEN_NAME}:required"),
        &format!("{SURNAME}:required"),
        BPK2,
        LEVEL,
        PROVED_BY,
        POSTBOX,
    ];
    let mut args: Vec<&str> = Vec::new();
    for a in &attrs {
        args.extend_from_slice(&["--attr", a]);
    }
    args.extend_from_slice(&["--relay", "antrag-42"]);
    let req = sp.request("redirect", &args);
    let browser = server.browser();
    let out = browser
        .login_and_consent(req["url"].as_str().unwrap(), "erika", PW)
        .await;
    let (_, params) = match &out {
        Outcome::Callback { url, params } => (url.clone(), params.clone()),
        Outcome::Page(p) => panic!("no answer: {}", p.body),
    };
    assert!(params.contains(&("RelayState".into(), "antrag-42".into())));
    let resp = sp.response(req["id"].as_str(), &posted(out, &sp.acs));
    assert_eq!(resp["ok"], true, "{resp}");
    assert_eq!(first(&resp, GIVEN_NAME), "Erika");
    assert_eq!(first(&resp, SURNAME), "Mustermann");
    assert_eq!(first(&resp, LEVEL), "STORK-QAA-Level-1");
    assert_eq!(first(&resp, PROVED_BY), "Benutzername");
    let bpk2 = first(&resp, BPK2);
    assert_eq!(bpk2.len(), 43, "bPK2 is 256 bits in base64url");
    assert!(!first(&resp, POSTBOX).is_empty());
    assert_eq!(resp["trust_levels"][GIVEN_NAME], "UNTERGEORDNET");
    assert_eq!(
        resp["ava"]["givenName"][0], "Erika",
        "pysaml2 knows the name"
    );
    assert_eq!(resp["class_ref"], "STORK-QAA-Level-1");
    assert_eq!(
        resp["name_id_format"],
        "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
    );
    assert_eq!(resp["audience"], serde_json::json!([sp.entity]));
    assert_eq!(
        resp["raw"]["encrypted"], true,
        "the assertion travels encrypted"
    );
    assert_eq!(resp["raw"]["signed"], true, "the response is signed");
    assert_eq!(resp["assertion_signed"], true);
    assert_eq!(resp["in_response_to"], req["id"]);

    // the POST binding, and single sign-on: the session answers at once
    let req2 = sp.request("post", &args);
    let page = browser
        .post(
            "/saml/sso",
            &[
                ("SAMLRequest", req2["SAMLRequest"].as_str().unwrap()),
                ("RelayState", req2["RelayState"].as_str().unwrap_or("")),
            ],
        )
        .await;
    let out = browser.follow(page).await;
    let resp2 = sp.response(req2["id"].as_str(), &posted(out, &sp.acs));
    assert_eq!(resp2["ok"], true, "{resp2}");
    assert_eq!(first(&resp2, BPK2), bpk2, "bPK2 is stable per SP");
    assert_ne!(
        resp2["name_id"], resp["name_id"],
        "transient NameIDs are fresh"
    );
    let _ = BIRTHDATE;
}
