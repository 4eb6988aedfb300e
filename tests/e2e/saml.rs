//! The SAML IdP with a service provider konto did not write (pysaml2 with xmlsec1): Web Browser
//! SSO over both bindings (SAML profiles §4.1, bindings §3.4/§3.5), BundID's akdb extension,
//! signed responses with signed and encrypted assertions, and the refusals, each with its SAML
//! status (core §3.2.2.2).

use konto_core::Level;
use konto_tests::saml::PySp;
use konto_tests::*;
use serde_json::Value;

on_both_backends!(
    pysaml2_logs_in_over_both_bindings,
    python3_saml_logs_in_with_the_attributes_of_its_metadata,
    refusals_carry_their_saml_status,
    the_element_used_is_the_element_signed,
    step_up_passive_and_missing_attributes,
    single_sign_on_between_oidc_and_saml,
    single_logout_from_an_sp,
    oidc_logout_tells_the_saml_sps,
);

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
/// by single sign-on: no page, the same bPK2, a fresh transient NameID; `ForceAuthn` asks again.
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
}

/// OneLogin's python3-saml (another SAML library konto did not write, with its own XML
/// security binding) cannot send BundID's extension; it names its attributes in its metadata
/// (`AttributeConsumingService`, metadata §2.4.4.1), and konto releases those. python3-saml in
/// strict mode checks both signatures, decrypts the assertion, and checks Destination,
/// Recipient, audience, InResponseTo and the validity window.
async fn python3_saml_logs_in_with_the_attributes_of_its_metadata(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let sp = PySp::onelogin(&server, "amt").await;
    sp.register(&server, "amt", Level::Basic).await;
    let req = sp.request("redirect", &["--relay", "https://amt.example/antrag"]);
    let browser = server.browser();
    let out = browser
        .login_and_consent(req["url"].as_str().unwrap(), "erika", PW)
        .await;
    let resp = sp.response(req["id"].as_str(), &posted(out, &sp.acs));
    assert_eq!(resp["ok"], true, "{resp}");
    assert_eq!(first(&resp, GIVEN_NAME), "Erika");
    assert_eq!(first(&resp, SURNAME), "Mustermann");
    assert_eq!(first(&resp, BPK2).len(), 43);
    assert_eq!(
        resp["name_id_format"],
        "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
    );
    assert!(
        resp["attributes"].get(LEVEL).is_none(),
        "only what the metadata asks for"
    );
}

const REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
const REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";

/// A refusal as pysaml2 reads it: its own error name, the status codes and message.
fn assert_refused(sp: &PySp, out: Outcome, second: &str, code: &str) -> Value {
    assert_refused_to(sp, None, out, second, code)
}

/// The same, with the request pysaml2 sent outstanding.
fn assert_refused_to(sp: &PySp, id: Option<&str>, out: Outcome, second: &str, code: &str) -> Value {
    let resp = sp.response(id, &posted(out, &sp.acs));
    assert_eq!(resp["ok"], false, "{resp}");
    let codes = resp["raw"]["codes"].as_array().unwrap();
    assert_eq!(codes[1], second, "{resp}");
    assert!(
        resp["raw"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with(code),
        "expected {code}: {resp}"
    );
    assert_eq!(resp["raw"]["signed"], true, "refusals are signed too");
    resp
}

async fn saml_server(backend: Backend) -> Option<(TestServer, PySp)> {
    let server = TestServer::start(options(backend)).await?;
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let sp = PySp::new(&server, "stadt").await;
    sp.register(&server, "stadt", Level::Basic).await;
    Some((server, sp))
}

fn with_attrs<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--attr", GIVEN_NAME];
    args.extend_from_slice(extra);
    args
}

/// Each refused request is answered to the SP's registered ACS with the status SAML core
/// §3.2.2.2 names, signed, and pysaml2 reads it as that status: an unsigned request, one signed
/// with another key, a replayed ID, a wrong Destination (bindings §3.4.5.2), a stale or future
/// IssueInstant, an ACS URL the metadata does not list (profiles §4.1.4.1: the answer goes to
/// the registered one, never to the named one), a missing akdb extension; a DTD is refused
/// before anything is answered.
async fn refusals_carry_their_saml_status(backend: Backend) {
    let Some((server, sp)) = saml_server(backend).await else {
        return;
    };
    let browser = server.browser();
    let visit = |req: Value| {
        let url = req["url"].as_str().unwrap().to_owned();
        let b = &browser;
        async move { b.visit(&url).await }
    };

    let unsigned = sp.request("redirect", &with_attrs(&["--unsigned"]));
    let id = unsigned["id"].as_str().unwrap().to_owned();
    let out = visit(unsigned).await;
    let resp = assert_refused_to(
        &sp,
        Some(&id),
        out,
        REQUEST_DENIED,
        "saml-request-not-signed",
    );
    assert_eq!(resp["raw"]["codes"][0], REQUESTER);
    assert_eq!(resp["error"], "StatusRequestDenied", "pysaml2 names it");

    let other = sp.with_other_key(&server).await;
    let forged = other.request("redirect", &with_attrs(&[]));
    assert_refused(
        &sp,
        visit(forged).await,
        REQUEST_DENIED,
        "saml-signature-invalid",
    );

    let forged_post = other.request("post", &with_attrs(&[]));
    let page = browser
        .post(
            "/saml/sso",
            &[("SAMLRequest", forged_post["SAMLRequest"].as_str().unwrap())],
        )
        .await;
    assert_refused(
        &sp,
        browser.follow(page).await,
        REQUEST_DENIED,
        "saml-signature-invalid",
    );

    // the first use shows the login page; the same request again is a replay
    let once = sp.request("redirect", &with_attrs(&[]));
    let first = visit(once.clone()).await.page();
    assert!(first.has("action=\"/login/password\""), "{}", first.body);
    assert_refused(
        &sp,
        visit(once).await,
        REQUEST_DENIED,
        "saml-request-replayed",
    );

    let elsewhere = sp.request(
        "redirect",
        &with_attrs(&["--destination", "https://idp.elsewhere.example/sso"]),
    );
    assert_refused(
        &sp,
        visit(elsewhere).await,
        REQUEST_DENIED,
        "saml-wrong-destination",
    );

    let unknown_acs = sp.request(
        "redirect",
        &with_attrs(&["--acs-url", "https://attacker.example/acs"]),
    );
    assert_refused(
        &sp,
        visit(unknown_acs).await,
        REQUEST_DENIED,
        "saml-unknown-acs",
    );

    let bare = sp.request("redirect", &["--no-extension"]);
    assert_refused(
        &sp,
        visit(bare).await,
        REQUEST_DENIED,
        "akdb-extension-missing",
    );

    // konto's clock runs ahead of the SP's: the request is older than 5 minutes
    let stale = sp.request("redirect", &with_attrs(&[]));
    let now = server.clock_now();
    server.clock.set(now + time::Duration::minutes(6));
    assert_refused(
        &sp,
        visit(stale).await,
        REQUEST_DENIED,
        "saml-request-expired",
    );
    // and behind it: the request comes from the future
    let future = sp.request("redirect", &with_attrs(&[]));
    server.clock.set(now - time::Duration::minutes(5));
    assert_refused(
        &sp,
        visit(future).await,
        REQUEST_DENIED,
        "saml-request-from-the-future",
    );
    server.clock.set(now);

    // a document type declaration (XXE) is refused before anything is parsed or answered
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        sp.request("post", &with_attrs(&[]))["xml"]
            .as_str()
            .unwrap()
    );
    let page = browser
        .post("/saml/sso", &[("SAMLRequest", &b64(xxe.as_bytes()))])
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(!page.body.contains("root:"), "no file content leaks");
    assert!(page.header("location").is_none());
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Signature wrapping ("On Breaking SAML", 2012): the SP's genuinely signed request is hidden
/// inside an attacker's unsigned request that names another ACS. konto reads only the element
/// the signature covered, so the login continues for the signed request and its answer goes to
/// the SP's own ACS with the signed request's ID, never to the attacker.
async fn the_element_used_is_the_element_signed(backend: Backend) {
    let Some((server, sp)) = saml_server(backend).await else {
        return;
    };
    let surname = format!("{SURNAME}:required");
    let signed = sp.request("post", &with_attrs(&["--attr", &surname]));
    let inner = signed["xml"].as_str().unwrap();
    let inner = inner
        .strip_prefix("<?xml version='1.0' encoding='UTF-8'?>")
        .unwrap_or(inner)
        .trim();
    let issue_instant = inner
        .split("IssueInstant=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    let wrapped = format!(
        concat!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" "#,
            r#"xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_evil" Version="2.0" "#,
            r#"IssueInstant="{ii}" Destination="{dest}" "#,
            r#"AssertionConsumerServiceURL="https://attacker.example/acs">"#,
            r#"<saml:Issuer>{issuer}</saml:Issuer>"#,
            r#"<samlp:Extensions>{inner}</samlp:Extensions></samlp:AuthnRequest>"#
        ),
        ii = issue_instant,
        dest = server.url("/saml/sso"),
        issuer = sp.entity,
        inner = inner,
    );
    let browser = server.browser();
    let page = browser
        .post("/saml/sso", &[("SAMLRequest", &b64(wrapped.as_bytes()))])
        .await;
    let out = browser.follow(page).await;
    let login = out.page();
    assert!(login.has("action=\"/login/password\""), "{}", login.body);
    assert!(
        !login.body.contains("attacker.example"),
        "the attacker's ACS is nowhere on the page"
    );
    let out = browser.password(&login, "erika", PW).await;
    let out = match out {
        Outcome::Page(p) if p.has("action=\"/login/consent\"") => browser.consent(&p, true).await,
        other => other,
    };
    let resp = sp.response(signed["id"].as_str(), &posted(out, &sp.acs));
    assert_eq!(resp["ok"], true, "{resp}");
    assert_eq!(resp["in_response_to"], signed["id"]);
    assert_eq!(first(&resp, SURNAME), "Mustermann");
}

/// Only the authenticators the request's `AuthnMethods` enable are offered, and a request
/// enabling none konto has is `NoAuthnContext`. A passive request without a session is answered `NoPassive` (core §3.4.1); a required
/// attribute the account lacks is `RequestDenied` with BundID's JSON status detail; a request
/// for `STORK-QAA-Level-3` (Comparison="minimum") steps a password session up with the ELSTER
/// certificate, and the answer says so (`AuthnContextClassRef`, `AssertionProvedBy`, levels).
async fn step_up_passive_and_missing_attributes(backend: Backend) {
    let mut o = options(backend);
    o.elster = true;
    let Some(server) = TestServer::start(o).await else {
        return;
    };
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    let sp = PySp::new(&server, "stadt").await;
    sp.register(&server, "stadt", Level::Basic).await;
    let browser = elster_browser(&server.base, Some("erika"));

    let unavailable = sp.request("redirect", &with_attrs(&["--methods", "FINK"]));
    let id = unavailable["id"].as_str().unwrap().to_owned();
    let out = browser.visit(unavailable["url"].as_str().unwrap()).await;
    assert_refused_to(
        &sp,
        Some(&id),
        out,
        "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext",
        "akdb-methods-unavailable",
    );

    let passive = sp.request("redirect", &with_attrs(&["--passive"]));
    let id = passive["id"].as_str().unwrap().to_owned();
    let out = browser.visit(passive["url"].as_str().unwrap()).await;
    let resp = assert_refused_to(
        &sp,
        Some(&id),
        out,
        "urn:oasis:names:tc:SAML:2.0:status:NoPassive",
        "",
    );
    assert_eq!(resp["error"], "StatusNoPassive");

    let birthdate = format!("{BIRTHDATE}:required");
    let lacking = sp.request("redirect", &with_attrs(&["--attr", &birthdate]));
    let out = browser
        .login_and_consent(lacking["url"].as_str().unwrap(), "erika", PW)
        .await;
    let resp = assert_refused(&sp, out, REQUEST_DENIED, "required attributes missing");
    let detail: Value = serde_json::from_str(resp["raw"]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["version"], "1.0");
    assert_eq!(
        detail["errors"][0]["code"],
        "IDP_REQUIRED_ATTRIBUTES_MISSING"
    );

    // BundID's AuthnMethods: only ELSTER allowed, so the password session does not answer and
    // no password form is offered, even at level 1
    let elster_only = sp.request("redirect", &with_attrs(&["--methods", "Elster"]));
    let page = browser
        .visit(elster_only["url"].as_str().unwrap())
        .await
        .page();
    assert!(page.has("/cert/login?flow="), "{}", page.body);
    assert!(
        !page.has("name=\"password\""),
        "the password is not allowed"
    );
    // the password session is basic; level 3 asks for ELSTER
    let stepped = sp.request(
        "redirect",
        &with_attrs(&[
            "--attr",
            PROVED_BY,
            "--attr",
            LEVEL,
            "--level",
            "STORK-QAA-Level-3",
            "--comparison",
            "minimum",
        ]),
    );
    let page = browser.visit(stepped["url"].as_str().unwrap()).await.page();
    assert!(
        page.has("/cert/login?flow="),
        "ELSTER offered:\n{}",
        page.body
    );
    assert!(
        !page.has("name=\"password\""),
        "a password cannot reach level 3"
    );
    let out = browser.elster(&page).await;
    let out = match out {
        Outcome::Page(p) if p.has("action=\"/login/consent\"") => browser.consent(&p, true).await,
        other => other,
    };
    let resp = sp.response(stepped["id"].as_str(), &posted(out, &sp.acs));
    assert_eq!(resp["ok"], true, "{resp}");
    assert_eq!(resp["class_ref"], "STORK-QAA-Level-3");
    assert_eq!(first(&resp, PROVED_BY), "Elster");
    assert_eq!(first(&resp, LEVEL), "STORK-QAA-Level-3");
    assert_eq!(resp["trust_levels"][LEVEL], "SUBSTANTIELL");
}

/// One session serves both protocols: signed in at an OpenID Connect client, the user is
/// answered at a SAML SP without a page (consent given once per relying party), and the other
/// way round; the SAML answer names the session's level and method.
async fn single_sign_on_between_oidc_and_saml(backend: Backend) {
    let Some((server, sp)) = saml_server(backend).await else {
        return;
    };
    let browser = server.browser();
    let (client, tokens) = oidc_login(&server, &browser).await;
    let redirect = client.redirect_uris[0].clone();
    assert!(tokens["id_token"].is_string(), "{tokens}");

    // the SAML SP: no login page, only its own consent
    let req = sp.request("redirect", &with_attrs(&["--attr", PROVED_BY]));
    let out = browser.visit(req["url"].as_str().unwrap()).await;
    let out = match out {
        Outcome::Page(p) if p.has("action=\"/login/consent\"") => browser.consent(&p, true).await,
        Outcome::Page(p) => panic!("a page other than consent:\n{}", p.body),
        other => other,
    };
    let resp = sp.response(req["id"].as_str(), &posted(out, &sp.acs));
    assert_eq!(resp["ok"], true, "{resp}");
    assert_eq!(first(&resp, PROVED_BY), "Benutzername");

    // and back: the OIDC client is answered at once
    let out = browser
        .visit(&authorize_url(
            &server,
            "portal",
            &redirect,
            &[("state", "t")],
        ))
        .await;
    assert!(out.param("code").is_some(), "single sign-on back to OIDC");
}

/// Registers the OIDC client `portal` and signs `browser` in there with a password; the client
/// and its tokens.
async fn oidc_login(server: &TestServer, browser: &Browser) -> (konto_core::client::Client, Value) {
    let client = server.client("portal");
    let secret = server.add_client(client.clone()).await.unwrap();
    let redirect = client.redirect_uris[0].clone();
    let out = browser
        .login_and_consent(
            &authorize_url(server, "portal", &redirect, &[("state", "s")]),
            "erika",
            PW,
        )
        .await;
    let code = out.param("code").expect("a code");
    let tokens = redeem_code(server, "portal", &secret, &redirect, &code).await;
    (client, tokens)
}

/// Logs `browser` in at `sp` (password on first use, else single sign-on) with consent;
/// pysaml2's reading of the answer.
async fn saml_login(browser: &Browser, sp: &PySp) -> Value {
    let req = sp.request("redirect", &with_attrs(&[]));
    let out = browser.visit(req["url"].as_str().unwrap()).await;
    let out = match out {
        Outcome::Page(p) if p.has("name=\"password\"") => {
            let out = browser.password(&p, "erika", PW).await;
            match out {
                Outcome::Page(p) if p.has("action=\"/login/consent\"") => {
                    browser.consent(&p, true).await
                }
                other => other,
            }
        }
        Outcome::Page(p) if p.has("action=\"/login/consent\"") => browser.consent(&p, true).await,
        other => other,
    };
    let resp = sp.response(req["id"].as_str(), &posted(out, &sp.acs));
    assert_eq!(resp["ok"], true, "{resp}");
    resp
}

fn slo_of(sp: &PySp) -> String {
    sp.acs.replace("/acs", "/slo")
}

/// SAML profiles §4.4: an SP's signed LogoutRequest ends the session it names; konto carries a
/// signed LogoutRequest to the session's other SP (which pysaml2 checks and answers), then
/// answers the first SP with a signed LogoutResponse `Success`. The session is gone, and the
/// same LogoutRequest again is refused.
async fn single_logout_from_an_sp(backend: Backend) {
    let Some((server, stadt)) = saml_server(backend).await else {
        return;
    };
    let kreis = PySp::new(&server, "kreis").await;
    kreis.register(&server, "kreis", Level::Basic).await;
    let browser = server.browser();
    let at_stadt = saml_login(&browser, &stadt).await;
    let at_kreis = saml_login(&browser, &kreis).await;

    let lr = stadt.logout_request(
        at_stadt["name_id"].as_str().unwrap(),
        at_stadt["session_index"].as_str().unwrap(),
    );
    let (url, _) = browser.visit(lr["url"].as_str().unwrap()).await.callback();
    assert!(
        url.starts_with(&slo_of(&kreis)),
        "kreis is told next: {url}"
    );
    let answer = kreis.logout_answer(&url);
    assert_eq!(answer["name_id"], at_kreis["name_id"]);
    let (url, _) = browser
        .visit(answer["url"].as_str().unwrap())
        .await
        .callback();
    assert!(
        url.starts_with(&slo_of(&stadt)),
        "then stadt is answered: {url}"
    );
    let result = stadt.logout_result(&url);
    assert_eq!(result["signed"], true, "{result}");
    assert_eq!(
        result["codes"],
        serde_json::json!(["urn:oasis:names:tc:SAML:2.0:status:Success"])
    );
    assert_eq!(result["in_response_to"], lr["id"]);
    assert_eq!(result["relay_state"], "bye");

    // the session is gone: kreis's next request asks for the password again
    let again = kreis.request("redirect", &with_attrs(&[]));
    let page = browser.visit(again["url"].as_str().unwrap()).await.page();
    assert!(page.has("name=\"password\""), "{}", page.body);
    // and the same logout request is not taken twice
    let replay = browser.get(lr["url"].as_str().unwrap()).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
}

/// OIDC RP-initiated logout of a session a SAML SP took part in: konto tells the SP (signed
/// LogoutRequest, pysaml2 answers) before sending the browser to the client's post-logout
/// address.
async fn oidc_logout_tells_the_saml_sps(backend: Backend) {
    let Some((server, stadt)) = saml_server(backend).await else {
        return;
    };
    let browser = server.browser();
    let (client, tokens) = oidc_login(&server, &browser).await;
    let at_stadt = saml_login(&browser, &stadt).await;

    let mut logout = url::Url::parse(&server.url("/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair(
            "post_logout_redirect_uri",
            &client.post_logout_redirect_uris[0],
        )
        .append_pair("state", "z");
    let (url, _) = browser.visit(logout.as_str()).await.callback();
    assert!(url.starts_with(&slo_of(&stadt)), "the SP is told: {url}");
    let answer = stadt.logout_answer(&url);
    assert_eq!(answer["name_id"], at_stadt["name_id"]);
    let (url, params) = browser
        .visit(answer["url"].as_str().unwrap())
        .await
        .callback();
    assert!(
        url.starts_with(&client.post_logout_redirect_uris[0]),
        "{url}"
    );
    assert!(params.contains(&("state".into(), "z".into())));
}
