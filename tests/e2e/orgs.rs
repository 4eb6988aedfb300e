//! Organisations, members and mandates, end to end: accounts from the eID card, organisations
//! verified against the commercial-register simulator and confirmed by the code in their letter
//! (a real PDF, read back), a mandate from a company to a tax firm, a clerk invited by e-mail who
//! signs in over HTTP and acts for the firm's client at a tax service — with an `openidconnect`
//! relying party verifying the ID token — and nowhere else; revocation seen at once by refresh,
//! introspection and the mandate check; expiry and the objection period on the clock.

use konto_core::Level;
use konto_core::representation::{MandateStatus, Role, ServiceScope};
use konto_letter::Language;
use konto_register_sim::{
    ALTE_MUSTERMANN_DELETED, BEISPIEL_HANDEL, MUSTERMANN_SOFTWARE, WEBER_PARTNER,
};
use konto_service::ServiceError;
use konto_service::org::{Actor, NewMandate, PartyRef};
use konto_store::{ClientRepo, OrgRepo, PostboxRepo, UserRepo};
use konto_tests::rp::Rp;
use konto_tests::*;
use openidconnect::OAuth2TokenResponse;
use openidconnect::core::CoreJwsSigningAlgorithm;
use serde_json::Value;

on_both_backends!(
    a_clerk_acts_for_the_firms_client_at_a_tax_service_only,
    a_choice_stays_with_the_person_who_made_it,
    a_service_can_require_a_legal_representative,
    the_organisation_pages_over_http,
    organisations_need_a_matching_representative_and_their_letter,
    the_objection_period_and_the_end_of_a_mandate,
    one_time_values_hold_under_parallel_use,
    an_organisation_certificate_creates_its_organisation,
);

const PW: &str = "Fahrradklingel-Nordsee-42";
const HIGH: &str = "http://eidas.europa.eu/LoA/high";

fn options(backend: Backend) -> Options {
    let mut o = Options::new(backend);
    o.eid = true;
    o.register = true;
    o
}

/// The holder id in the test organisation certificate (`keys-dev/elster/org-mustermann`).
const ORG_HOLDER: &str = "KONTO-TEST-ORG-0000001";

/// A person with an account created from their eID card (`choice` of the eID simulator), at
/// level high.
async fn card_holder(server: &TestServer, choice: &str) -> Actor {
    card_holder_in(server, &server.browser(), choice).await
}

/// [`card_holder`], signed in in `browser`.
async fn card_holder_in(server: &TestServer, browser: &Browser, choice: &str) -> Actor {
    if server.store.client("portal").await.unwrap().is_none() {
        let mut portal = server.client("portal");
        portal.party.first_party = true;
        server.add_client(portal).await;
    }
    let before: Vec<String> = server
        .store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    let page = server
        .authorize(
            browser,
            "portal",
            "https://portal.example/callback",
            &[("acr_values", HIGH)],
        )
        .await
        .page();
    let page = browser.eid(&page, choice).await.page();
    let out = browser.unlinked(&page, "create").await;
    assert!(out.param("code").is_some(), "an account from the card");
    let user = server
        .store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| !before.contains(&u.id))
        .expect("a new account");
    Actor {
        user_id: user.id,
        level: Level::High,
    }
}

/// An organisation from the register, created by `admin` and confirmed with its letter's code.
async fn confirmed_org(
    server: &TestServer,
    admin: &Actor,
    key: konto_register_sim::TestKey,
) -> String {
    let created = server
        .app
        .orgs
        .create_from_register(admin, &key.key().unwrap(), Language::De)
        .await
        .expect("organisation");
    let id = created.organisation.id;
    let code = letter_code(server, &id);
    server
        .app
        .orgs
        .confirm(admin, &id, &code.to_lowercase().replace('-', " "))
        .await
        .expect("the letter's code, typed loosely");
    id
}

/// The invitation link in the newest mail.
fn invitation_token(server: &TestServer) -> String {
    let mail = server.mails().pop().expect("an invitation mail");
    link_in(&mail, "/org/join?token=")
        .expect("an invitation link")
        .trim_start_matches("/org/join?token=")
        .to_owned()
}

/// `username` follows the invitation link in a browser, not yet signed in: the link's token
/// moves into a cookie, they sign in, confirm on the join page and see the organisation in
/// their account. A second browser with the same link afterwards gets nothing.
async fn join_in_browser(server: &TestServer, username: &str, token: &str) {
    let browser = server.browser();
    let link = format!("/org/join?token={token}");
    let r = browser.get(&link).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location().as_deref(),
        Some("/org/join"),
        "the token leaves the URL"
    );
    let login = browser.visit("/org/join").await.page();
    let page = browser.password(&login, username, PW).await.page();
    assert!(page.has("action=\"/org/join\""), "{}", page.body);
    assert!(
        page.has("Weber") && page.has("Sachbearbeitung"),
        "the page names the organisation and the role before anyone agrees:\n{}",
        page.body
    );
    // a second browser, signed in as someone else and without the link's cookie, joins nothing
    server.add_user("olga", PW, "Olga", "Other").await;
    let other = server.browser();
    let login = other.visit("/account").await.page();
    let account = other.password(&login, "olga", PW).await.page();
    let csrf = account.hidden("csrf").unwrap();
    let stray = other.post("/org/join", &[("csrf", &csrf)]).await;
    assert_eq!(stray.status, 303, "{}", stray.body);
    assert_eq!(stray.location().as_deref(), Some("/org/join"));
    let nothing = other.visit("/org/join").await.page();
    assert!(!nothing.has("action=\"/org/join\""), "{}", nothing.body);
    // without the page's CSRF token nothing happens
    let forged = browser.post("/org/join", &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403);
    let csrf = page.hidden("csrf").unwrap();
    let account = browser.post("/org/join", &[("csrf", &csrf)]).await;
    assert!(
        account.has("Weber") && account.has("Sachbearbeitung"),
        "the account lists the organisation and the role:\n{}",
        account.body
    );
    // the link is spent
    let again = browser.get(&link).await;
    assert_eq!(again.status, 303);
    let page = browser.visit("/org/join").await.page();
    assert!(
        !page.has("action=\"/org/join\""),
        "a used invitation offers nothing to join:\n{}",
        page.body
    );
    // and one spent between the page and the click is refused
    let csrf = browser
        .visit("/account")
        .await
        .page()
        .hidden("csrf")
        .unwrap();
    let spent = browser.post("/org/join", &[("csrf", &csrf)]).await;
    assert!(
        spent.has("alert-error"),
        "a used invitation is refused:\n{}",
        spent.body
    );
}

fn tax_scope() -> ServiceScope {
    ServiceScope::listed(Vec::<&str>::new(), vec!["steuern"]).unwrap()
}

/// What [`firms`] set up: company A, the mandate A gave B, and A's administrator Erika.
struct Firms {
    a: String,
    mandate: String,
    erika: Actor,
}

/// Company A (Erika) mandates tax firm B (Lukas) for tax services, passable on once; B's
/// administrator invites clerk Clara (she joins in a browser) and gives her the right under
/// that mandate.
async fn firms(server: &TestServer) -> Firms {
    let erika = card_holder(server, "erika").await;
    let lukas = card_holder(server, "lukas").await;
    let a = confirmed_org(server, &erika, MUSTERMANN_SOFTWARE).await;
    let b = confirmed_org(server, &lukas, WEBER_PARTNER).await;
    let offered = server
        .app
        .orgs
        .offer_mandate(
            &erika,
            NewMandate {
                principal: PartyRef::Organisation(a.clone()),
                agent: PartyRef::Organisation(b.clone()),
                scope: tax_scope(),
                valid_from: None,
                valid_until: None,
                redelegation: 1,
                parent: None,
                evidence: Some("Vollmacht 2026-17".into()),
            },
        )
        .await
        .expect("a mandate offered");
    assert_eq!(
        offered.status_at(server.clock_now()),
        MandateStatus::Offered
    );
    let accepted = server
        .app
        .orgs
        .accept_mandate(&lukas, &offered.id)
        .await
        .expect("accepted by the agent's administrator");
    assert_eq!(
        accepted.status_at(server.clock_now()),
        MandateStatus::Active
    );
    let clara_id = server.add_user("clara", PW, "Clara", "Schmidt").await;
    let clara = Actor {
        user_id: clara_id,
        level: Level::Basic,
    };
    server
        .app
        .orgs
        .invite(&lukas, &b, "clara@example.org", Role::Clerk)
        .await
        .expect("invited");
    join_in_browser(server, "clara", &invitation_token(server)).await;
    server
        .app
        .orgs
        .grant_right(
            &lukas,
            &b,
            &clara.user_id,
            tax_scope(),
            Some(offered.id.as_str()),
        )
        .await
        .expect("a right under the mandate");
    Firms {
        a,
        mandate: offered.id,
        erika,
    }
}

/// A confidential client in a group of services, allowed the representation scope.
async fn service(server: &TestServer, id: &str, groups: &[&str]) -> (String, String) {
    let mut c = server.client(id);
    c.party.service_groups = groups.iter().map(|g| (*g).to_owned()).collect();
    let redirect = c.redirect_uris[0].clone();
    let secret = server.add_client(c).await.unwrap();
    (secret, redirect)
}

async fn post_form(
    server: &TestServer,
    path: &str,
    client: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(server.url(path))
        .basic_auth(client, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn mandate_check(server: &TestServer, client: &str, secret: &str, id: &str) -> Value {
    let (status, body) = post_form(
        server,
        "/mandates/check",
        client,
        secret,
        &[("mandate", id)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The whole chain over HTTP: Clara signs in at the tax service, chooses company A, and the
/// tokens say she acts for A through B under the mandate. Other services offer no choice and
/// refuse a named party; revoking the mandate ends the grant at once.
async fn a_clerk_acts_for_the_firms_client_at_a_tax_service_only(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let f = firms(&server).await;
    let (tax_secret, tax_redirect) = service(&server, "steuer", &["steuern"]).await;
    let (kfz_secret, kfz_redirect) = service(&server, "kfz", &["kfz"]).await;
    let rp = Rp::new(
        &server.issuer,
        "steuer",
        Some(&tax_secret),
        &tax_redirect,
        None,
    )
    .await;

    // Clara signs in and is asked for whom she acts: herself, B (her own right covers tax
    // services) or A through B
    let browser = server.browser();
    let pending = rp.authorize(&["openid", "profile", "representation", "postbox"], &[]);
    let page = browser.visit(&pending.url).await.page();
    let page = browser.password(&page, "clara", PW).await.page();
    let choices = acting_choices(&page);
    assert_eq!(choices[0].0, "self");
    let for_a = choices
        .iter()
        .find(|(_, label)| label.contains("Mustermann Software GmbH"))
        .unwrap_or_else(|| panic!("A is offered: {choices:?}"));
    assert!(
        for_a.1.contains("über Weber"),
        "the option says through whom: {}",
        for_a.1
    );
    assert!(
        !choices
            .iter()
            .any(|(_, l)| l.contains("Weber") && !l.contains("Mustermann")),
        "Clara has no right of her own to act for B: {choices:?}"
    );
    // a choice that is not on offer is refused (a forged key)
    let forged = browser.acting(&page, "o:forged|m:x").await.page();
    assert!(forged.status.as_u16() >= 400, "{}", forged.body);
    let page = browser.visit(&pending.url).await.page();
    let choices = acting_choices(&page);
    let key = choices
        .iter()
        .find(|(_, l)| l.contains("Mustermann Software GmbH"))
        .unwrap()
        .0
        .clone();
    let consent = browser.acting(&page, &key).await.page();
    assert!(
        consent.has("Mustermann Software GmbH"),
        "the consent page names the organisation the service will learn about:\n{}",
        consent.body
    );
    let out = browser.consent(&consent, true).await;
    let code = out.param("code").expect("a code");
    let (tokens, id_claims) = rp
        .exchange(
            pending,
            &code,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        )
        .await;

    // OIDC Core §2: the ID token's subject stays the person who authenticated
    let id_token = jwt_claims(&tokens.extra_fields().id_token().unwrap().to_string());
    let person = id_claims.subject().to_string();
    assert_eq!(id_token["sub"], person.as_str());
    let acting_for = &id_token["acting_for"];
    assert_eq!(acting_for["type"], "organisation");
    assert_eq!(acting_for["name"], "Mustermann Software GmbH");
    assert_eq!(acting_for["wirtschafts_id"], "DE123456788");
    assert_eq!(acting_for["register"]["court"], "München");
    assert_eq!(acting_for["legal_representative"], false);
    let org_sub = acting_for["sub"].as_str().unwrap().to_owned();
    assert_ne!(
        org_sub, f.a,
        "the organisation's subject is pairwise, not its id"
    );
    assert_eq!(id_token["mandate"]["id"], f.mandate.as_str());
    // with the postbox scope: the represented organisation's postbox handle, now given to
    // this service (the person's own stays in `postbox_handle`)
    let org_handle = server
        .store
        .organisation(&f.a)
        .await
        .unwrap()
        .unwrap()
        .postbox_handle;
    assert_eq!(acting_for["postbox_handle"], org_handle.as_str());
    assert_ne!(id_token["postbox_handle"], org_handle.as_str());
    assert!(
        server
            .store
            .postbox_released(&org_handle, "steuer")
            .await
            .unwrap()
    );
    assert_eq!(id_token["mandate"]["chain"].as_array().unwrap().len(), 2);

    // RFC 8693 §4.1: the access token's subject is the represented party, `act` the person,
    // and the firm a prior actor nested inside
    let access = jwt_claims(tokens.access_token().secret());
    assert_eq!(access["sub"], org_sub.as_str());
    assert_eq!(access["act"]["sub"], person.as_str());
    let firm_sub = access["act"]["act"]["sub"].as_str().expect("the firm");
    assert_ne!(firm_sub, org_sub);
    assert_eq!(access["acting_for"]["name"], "Mustermann Software GmbH");

    let info = userinfo_claims(&server, tokens.access_token().secret()).await;
    assert_eq!(info["sub"], person.as_str());
    assert_eq!(info["acting_for"]["sub"], org_sub.as_str());

    // the mandate check, with the tax service's credentials; another service learns nothing
    let check = mandate_check(&server, "steuer", &tax_secret, &f.mandate).await;
    assert_eq!(check["active"], true, "{check}");
    assert_eq!(check["principal"]["sub"], org_sub.as_str());
    assert_eq!(check["agent"]["sub"], firm_sub);
    let elsewhere = mandate_check(&server, "kfz", &kfz_secret, &f.mandate).await;
    assert_eq!(elsewhere, serde_json::json!({ "active": false }));
    let (status, body) = post_form(
        &server,
        "/mandates/check",
        "steuer",
        "wrong-secret",
        &[("mandate", &f.mandate)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // at the vehicle service Clara may act for no one: no question is asked
    let kfz = server.browser();
    let url = authorize_url(
        &server,
        "kfz",
        &kfz_redirect,
        &[("scope", "openid representation")],
    );
    let page = kfz.visit(&url).await.page();
    let out = kfz.password(&page, "clara", PW).await.page();
    assert!(
        out.has("action=\"/login/consent\"") && !out.has("action=\"/login/acting\""),
        "{}",
        out.body
    );
    // and naming A (as the tax service knows it) is refused
    let url = authorize_url(
        &server,
        "kfz",
        &kfz_redirect,
        &[("scope", "openid representation"), ("acting_for", &org_sub)],
    );
    let out = kfz.visit(&url).await;
    assert_eq!(out.param("error").as_deref(), Some("access_denied"));
    // the tax service names A itself: no question, straight to consent
    let url = authorize_url(
        &server,
        "steuer",
        &tax_redirect,
        &[("scope", "openid representation"), ("acting_for", &org_sub)],
    );
    let out = browser.visit(&url).await;
    let out = match out {
        Outcome::Page(p) if p.has("action=\"/login/consent\"") => browser.consent(&p, true).await,
        other => other,
    };
    let named = redeem_code(
        &server,
        "steuer",
        &tax_secret,
        &tax_redirect,
        &out.param("code").expect("a code"),
    )
    .await;
    assert_eq!(
        jwt_claims(named["access_token"].as_str().unwrap())["sub"],
        org_sub.as_str()
    );
    // acting_for without the representation scope is a malformed request (RFC 6749 §4.1.2.1)
    let url = authorize_url(
        &server,
        "steuer",
        &tax_redirect,
        &[("scope", "openid"), ("acting_for", &org_sub)],
    );
    let out = browser.visit(&url).await;
    assert_eq!(out.param("error").as_deref(), Some("invalid_request"));

    // a client not registered for the representation scope cannot ask for it (RFC 6749 §3.3)
    let mut plain = server.client("plain");
    plain.party.scopes.retain(|s| s != "representation");
    let plain_redirect = plain.redirect_uris[0].clone();
    server.add_client(plain).await;
    let url = authorize_url(
        &server,
        "plain",
        &plain_redirect,
        &[("scope", "openid representation")],
    );
    let out = browser.visit(&url).await;
    assert_eq!(out.param("error").as_deref(), Some("invalid_scope"));

    // Each node keeps what a chain rests on while the organisation facts' epoch stands: warm
    // this node and a second one on the same database with refreshes under the chain
    let other = server.another_node().await;
    let mut refresh = tokens
        .refresh_token()
        .expect("a refresh token")
        .secret()
        .clone();
    for node in [&server, &other, &other] {
        let (status, body) = post_form(
            node,
            "/token",
            "steuer",
            &tax_secret,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            jwt_claims(body["access_token"].as_str().unwrap())["act"]["sub"],
            person.as_str()
        );
        refresh = body["refresh_token"].as_str().unwrap().to_owned();
    }
    // A's administrator revokes the mandate on this node: the next refresh fails on the other
    // one, introspection and the check say so at once (RFC 7662 §2.2: inactive, nothing else)
    server
        .app
        .orgs
        .revoke_mandate(&f.erika, &f.mandate)
        .await
        .unwrap();
    let (status, body) = post_form(
        &other,
        "/token",
        "steuer",
        &tax_secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "a cached chain does not outlive its revocation on any node"
    );
    let (_, intro) = post_form(
        &server,
        "/introspect",
        "steuer",
        &tax_secret,
        &[("token", tokens.access_token().secret())],
    )
    .await;
    assert_eq!(intro, serde_json::json!({ "active": false }));
    let check = mandate_check(&server, "steuer", &tax_secret, &f.mandate).await;
    assert_eq!(check["active"], false);
    assert_eq!(check["status"], "revoked");
    let r = reqwest::Client::new()
        .get(server.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "userinfo refuses the token of a revoked chain"
    );
    // and the next login offers A no more: Clara may act for no one here now, so konto asks
    // nothing and the tokens act for no one
    let out = browser
        .visit(&authorize_url(
            &server,
            "steuer",
            &tax_redirect,
            &[("scope", "openid representation")],
        ))
        .await;
    let out = match out {
        Outcome::Page(p) => {
            assert!(
                !p.has("action=\"/login/acting\"") && !p.has("Mustermann Software GmbH"),
                "{}",
                p.body
            );
            browser.consent(&p, true).await
        }
        callback => callback,
    };
    let after = redeem_code(
        &server,
        "steuer",
        &tax_secret,
        &tax_redirect,
        &out.param("code").expect("a code"),
    )
    .await;
    let id = jwt_claims(after["id_token"].as_str().unwrap());
    assert!(id.get("acting_for").is_none(), "{id}");
    server.stop().await;
}

/// Only a legal representative in the register (matched on the verified identity) at
/// substantial or higher may create an organisation; deleted entries are refused; until the
/// letter's code is entered nothing can be granted, and only its addressee can enter it.
async fn organisations_need_a_matching_representative_and_their_letter(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let erika = card_holder(&server, "erika").await;
    let lukas = card_holder(&server, "lukas").await;
    let orgs = &server.app.orgs;
    let at = |key: konto_register_sim::TestKey| key.key().unwrap();
    // a namesake born on another day is not Erika
    let err = orgs
        .create_from_register(&erika, &at(BEISPIEL_HANDEL), Language::De)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::NotARepresentative), "{err:?}");
    let err = orgs
        .create_from_register(&erika, &at(ALTE_MUSTERMANN_DELETED), Language::De)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::NotInRegister), "{err:?}");
    let err = orgs
        .create_from_register(&lukas, &at(MUSTERMANN_SOFTWARE), Language::De)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::NotARepresentative), "{err:?}");
    let basic = Actor {
        user_id: erika.user_id.clone(),
        level: Level::Basic,
    };
    let err = orgs
        .create_from_register(&basic, &at(MUSTERMANN_SOFTWARE), Language::De)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::LevelTooLow { .. }), "{err:?}");
    // a password account has no verified identity to match
    let pw = server.add_user("paula", PW, "Erika", "Mustermann").await;
    let err = orgs
        .create_from_register(
            &Actor {
                user_id: pw,
                level: Level::High,
            },
            &at(MUSTERMANN_SOFTWARE),
            Language::De,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::IdentityNotVerified), "{err:?}");

    let created = orgs
        .create_from_register(&erika, &at(MUSTERMANN_SOFTWARE), Language::De)
        .await
        .unwrap();
    let a = created.organisation.id.clone();
    assert_eq!(created.organisation.name, "Mustermann Software GmbH");
    let err = orgs
        .create_from_register(&erika, &at(MUSTERMANN_SOFTWARE), Language::De)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::OrganisationExists), "{err:?}");
    // unconfirmed: no rights, no invitations
    let err = orgs
        .grant_right(&erika, &a, &erika.user_id, tax_scope(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::NotConfirmed), "{err:?}");
    let code = letter_code(&server, &a);
    // only the addressee enters the code; a wrong one is counted
    let err = orgs.confirm(&lukas, &a, &code).await.unwrap_err();
    assert!(matches!(err, ServiceError::NotAllowed), "{err:?}");
    let err = orgs
        .confirm(&erika, &a, "2222-3333-4444")
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::BadCode), "{err:?}");
    // a letter on its way is waited for a week; then a new one replaces it (lost in the post)
    let err = orgs
        .resend_letter(&erika, &a, Language::De)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::LetterPending), "{err:?}");
    let err = orgs
        .resend_letter(&lukas, &a, Language::De)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::NotAllowed), "{err:?}");
    server.clock.advance(time::Duration::days(8));
    orgs.resend_letter(&erika, &a, Language::En).await.unwrap();
    let err = orgs.confirm(&erika, &a, &code).await.unwrap_err();
    assert!(
        matches!(err, ServiceError::BadCode),
        "the old code is void: {err:?}"
    );
    let code = letter_code(&server, &a);
    orgs.confirm(&erika, &a, &code).await.unwrap();
    // once only
    let err = orgs.confirm(&erika, &a, &code).await.unwrap_err();
    assert!(matches!(err, ServiceError::BadCode), "{err:?}");
    // Lukas administers nothing at A
    let err = orgs
        .invite(&lukas, &a, "mallory@example.org", Role::Administrator)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::NotAllowed), "{err:?}");
    // the administrator (a legal representative) may act for A at any service
    service(&server, "any", &[]).await;
    let any = server.store.client("any").await.unwrap().unwrap();
    let options = orgs.options(&erika.user_id, &any.party).await.unwrap();
    assert!(
        options
            .iter()
            .any(|o| o.name == "Mustermann Software GmbH" && o.representation.legal_representative),
        "{options:?}"
    );
    let overview = orgs.overview(&erika, &a).await.unwrap();
    assert_eq!(overview.members.len(), 1);
    server.stop().await;
}

/// A mandate the agent registers is in force only after the principal's objection period
/// (14 days by default) or the principal's confirmation; a mandate's end (valid_until) ends
/// what was granted under it.
async fn the_objection_period_and_the_end_of_a_mandate(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let erika = card_holder(&server, "erika").await;
    let lukas = card_holder(&server, "lukas").await;
    let a = confirmed_org(&server, &erika, MUSTERMANN_SOFTWARE).await;
    let b = confirmed_org(&server, &lukas, WEBER_PARTNER).await;
    let orgs = &server.app.orgs;
    let now = server.clock_now();
    // the firm registers the mandate it holds (tax-adviser practice)
    let registered = orgs
        .offer_mandate(
            &lukas,
            NewMandate {
                principal: PartyRef::Organisation(a.clone()),
                agent: PartyRef::Organisation(b.clone()),
                scope: tax_scope(),
                valid_from: None,
                valid_until: Some(now + time::Duration::days(30)),
                redelegation: 0,
                parent: None,
                evidence: Some("Vollmacht vom 1.12.".into()),
            },
        )
        .await
        .unwrap();
    // the agent cannot accept what it registered itself
    let err = orgs
        .accept_mandate(&lukas, &registered.id)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::NotAllowed), "{err:?}");
    let (secret, _) = service(&server, "steuer", &["steuern"]).await;
    let check = mandate_check(&server, "steuer", &secret, &registered.id).await;
    assert_eq!(check["active"], false);
    assert_eq!(check["status"], "offered");
    server.clock.advance(time::Duration::days(15));
    let check = mandate_check(&server, "steuer", &secret, &registered.id).await;
    assert_eq!(
        check["active"], true,
        "in force after the objection period: {check}"
    );
    // an administrator, too, acts under a mandate only with a right under it
    let steuer = server.store.client("steuer").await.unwrap().unwrap();
    let options = orgs.options(&lukas.user_id, &steuer.party).await.unwrap();
    assert!(
        !options.iter().any(|o| o.name == "Mustermann Software GmbH"),
        "{options:?}"
    );
    orgs.grant_right(
        &lukas,
        &b,
        &lukas.user_id,
        tax_scope(),
        Some(&registered.id),
    )
    .await
    .unwrap();
    let options = orgs.options(&lukas.user_id, &steuer.party).await.unwrap();
    assert!(
        options.iter().any(|o| o.name == "Mustermann Software GmbH"),
        "{options:?}"
    );
    // redelegation 0: B cannot pass it on to Lukas personally
    let err = orgs
        .offer_mandate(
            &lukas,
            NewMandate {
                principal: PartyRef::Organisation(b.clone()),
                agent: PartyRef::Me,
                scope: tax_scope(),
                valid_from: None,
                valid_until: None,
                redelegation: 0,
                parent: Some(registered.id.clone()),
                evidence: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Invalid(_)), "{err:?}");
    // 30 days after its start the mandate has ended
    server.clock.advance(time::Duration::days(16));
    let check = mandate_check(&server, "steuer", &secret, &registered.id).await;
    assert_eq!(
        (check["active"].clone(), check["status"].clone()),
        (Value::Bool(false), Value::String("expired".into()))
    );
    let options = orgs.options(&lukas.user_id, &steuer.party).await.unwrap();
    assert!(
        !options.iter().any(|o| o.name == "Mustermann Software GmbH"),
        "{options:?}"
    );
    server.stop().await;
}

/// Parallel use of one-time values: an invitation link joins one person only; parallel
/// acceptance of one offer succeeds once; the letter voids after the allowed wrong codes even
/// when they arrive together.
async fn one_time_values_hold_under_parallel_use(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let erika = card_holder(&server, "erika").await;
    let lukas = card_holder(&server, "lukas").await;
    let orgs = server.app.orgs.clone();

    // wrong codes in parallel: at most the allowed number are judged, then the letter is void
    let a = orgs
        .create_from_register(&erika, &MUSTERMANN_SOFTWARE.key().unwrap(), Language::De)
        .await
        .unwrap()
        .organisation
        .id;
    let code = letter_code(&server, &a);
    let tries = (0..12).map(|i| {
        let orgs = orgs.clone();
        let erika = erika.clone();
        let a = a.clone();
        tokio::spawn(async move {
            orgs.confirm(&erika, &a, &format!("2222-3333-{:04}", 4000 + i))
                .await
        })
    });
    for t in tries {
        assert!(t.await.unwrap().is_err());
    }
    let err = orgs.confirm(&erika, &a, &code).await.unwrap_err();
    assert!(
        matches!(err, ServiceError::BadCode),
        "after five wrong codes even the right one is refused: {err:?}"
    );

    let b = confirmed_org(&server, &lukas, WEBER_PARTNER).await;
    // one invitation, three people joining at once: one member
    orgs.invite(&lukas, &b, "team@example.org", Role::Clerk)
        .await
        .unwrap();
    let token = invitation_token(&server);
    let mut joins = Vec::new();
    for name in ["c1", "c2", "c3"] {
        let id = server.add_user(name, PW, "C", name).await;
        let orgs = orgs.clone();
        let token = token.clone();
        joins.push(tokio::spawn(async move {
            orgs.join(
                &Actor {
                    user_id: id,
                    level: Level::Basic,
                },
                &token,
            )
            .await
        }));
    }
    let mut joined = 0;
    for j in joins {
        if j.await.unwrap().is_ok() {
            joined += 1;
        }
    }
    assert_eq!(joined, 1);
    let overview = orgs.overview(&lukas, &b).await.unwrap();
    assert_eq!(overview.members.len(), 2, "Lukas and one clerk");

    // Lukas offers his firm's services to Erika personally; two accepts at once: one wins
    let offer = orgs
        .offer_mandate(
            &lukas,
            NewMandate {
                principal: PartyRef::Organisation(b.clone()),
                agent: PartyRef::Person("erika-does-not-exist".into()),
                scope: tax_scope(),
                valid_from: None,
                valid_until: None,
                redelegation: 0,
                parent: None,
                evidence: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(offer, ServiceError::UnknownParty), "{offer:?}");
    let clara = server.add_user("clara", PW, "Clara", "Schmidt").await;
    let offer = orgs
        .offer_mandate(
            &lukas,
            NewMandate {
                principal: PartyRef::Organisation(b.clone()),
                agent: PartyRef::Person("clara".into()),
                scope: tax_scope(),
                valid_from: None,
                valid_until: None,
                redelegation: 0,
                parent: None,
                evidence: None,
            },
        )
        .await
        .unwrap();
    let clara = Actor {
        user_id: clara,
        level: Level::Basic,
    };
    let accepts: Vec<_> = (0..4)
        .map(|_| {
            let orgs = orgs.clone();
            let clara = clara.clone();
            let id = offer.id.clone();
            tokio::spawn(async move { orgs.accept_mandate(&clara, &id).await })
        })
        .collect();
    let mut accepted = 0;
    for a in accepts {
        if a.await.unwrap().is_ok() {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 1);
    server.stop().await;
}

/// One browser, two people (a shared computer): Clara chooses to act for A at the tax service
/// and leaves the login at its consent page; Mallory signs in in the same browser and takes the
/// flow up. Clara's choice is not Mallory's: the grant acts for no one.
async fn a_choice_stays_with_the_person_who_made_it(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    firms(&server).await;
    let (secret, redirect) = service(&server, "steuer", &["steuern"]).await;
    server.add_user("mallory", PW, "Mallory", "Moe").await;
    let browser = server.browser();
    let url = authorize_url(
        &server,
        "steuer",
        &redirect,
        &[("scope", "openid representation")],
    );
    let page = browser.visit(&url).await.page();
    let flow = page.hidden("flow").unwrap();
    let page = browser.password(&page, "clara", PW).await.page();
    let key = acting_choices(&page)
        .into_iter()
        .find(|(_, l)| l.contains("Mustermann"))
        .unwrap()
        .0;
    let consent = browser.acting(&page, &key).await.page();
    assert!(consent.has("Mustermann Software GmbH"));
    // Clara signs out; Mallory signs in in the same browser
    let account = browser.visit("/account").await.page();
    let csrf = account.hidden("csrf").unwrap();
    browser.post("/account/logout", &[("csrf", &csrf)]).await;
    let login = browser.visit("/account").await.page();
    let mine = browser.password(&login, "mallory", PW).await.page();
    assert!(mine.has("mallory"), "{}", mine.body);
    // Mallory takes Clara's flow up
    let page = browser.visit(&format!("/login?flow={flow}")).await;
    let out = match page {
        Outcome::Page(p) if p.has("action=\"/login/consent\"") => {
            assert!(!p.has("Mustermann"), "{}", p.body);
            browser.consent(&p, true).await
        }
        Outcome::Page(p) => panic!("expected the consent page:\n{}", p.body),
        callback => callback,
    };
    let tokens = redeem_code(
        &server,
        "steuer",
        &secret,
        &redirect,
        &out.param("code").expect("a code"),
    )
    .await;
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert!(id.get("acting_for").is_none(), "{id}");
    let access = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert!(access.get("act").is_none(), "{access}");
    server.stop().await;
}

/// A service that needs a legal representative asks for it in the claims parameter (OIDC Core
/// §5.5.1 allows members of its own): `acting_for` essential with `legal_representative`. A
/// clerk acting under a mandate is refused; Erika, the company's Geschäftsführerin as the
/// register says, chooses the company — acting for herself is not offered.
async fn a_service_can_require_a_legal_representative(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    firms(&server).await;
    let (secret, redirect) = service(&server, "steuer", &["steuern"]).await;
    let claims = r#"{"id_token":{"acting_for":{"essential":true,"legal_representative":true}}}"#;
    let ask = |extra: &[(&str, &str)]| {
        let mut all = vec![
            ("scope", "openid representation"),
            ("claims", claims),
            ("acr_values", HIGH),
        ];
        all.extend_from_slice(extra);
        authorize_url(&server, "steuer", &redirect, &all)
    };
    // Clara may act for A only under the mandate
    let clara = server.browser();
    let page = clara
        .visit(&authorize_url(
            &server,
            "steuer",
            &redirect,
            &[("scope", "openid representation"), ("claims", claims)],
        ))
        .await
        .page();
    let out = clara.password(&page, "clara", PW).await;
    assert_eq!(out.param("error").as_deref(), Some("access_denied"));

    // Erika signs in with her card and chooses A; there is no "for myself"
    let erika = server.browser();
    let page = erika.visit(&ask(&[])).await.page();
    let page = erika.eid(&page, "erika").await.page();
    let choices = acting_choices(&page);
    assert!(
        choices.iter().all(|(k, _)| k != "self"),
        "acting for oneself is no choice here: {choices:?}"
    );
    let (key, _) = choices
        .iter()
        .find(|(_, l)| l.contains("Mustermann Software GmbH"))
        .unwrap_or_else(|| panic!("{choices:?}"));
    // a hand-made "self" is refused all the same
    let refused = erika.acting(&page, "self").await.page();
    assert!(refused.status.as_u16() >= 400, "{}", refused.body);
    let page = erika.visit(&ask(&[])).await.page();
    let consent = erika.acting(&page, key).await.page();
    let out = erika.consent(&consent, true).await;
    let tokens = redeem_code(
        &server,
        "steuer",
        &secret,
        &redirect,
        &out.param("code").expect("a code"),
    )
    .await;
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["acting_for"]["legal_representative"], true, "{id}");
    assert_eq!(id["acting_for"]["name"], "Mustermann Software GmbH");

    // without the representation scope the requirement is a malformed request
    let url = authorize_url(
        &server,
        "steuer",
        &redirect,
        &[("scope", "openid"), ("claims", claims)],
    );
    let out = erika.visit(&url).await;
    assert_eq!(out.param("error").as_deref(), Some("invalid_request"));
    server.stop().await;
}

/// The organisation pages as a browser uses them: Erika (signed in with her card) creates her
/// company from the register, confirms it with the letter's code, invites Clara, gives her a
/// right and records a mandate to the tax firm, which Lukas accepts and Erika ends. Clara sees
/// her own rights but cannot administer; a stranger sees nothing; an administrator signed in
/// with a password only is asked to sign in at a higher level; forms without the CSRF token
/// are refused.
async fn the_organisation_pages_over_http(backend: Backend) {
    let Some(server) = TestServer::start(options(backend)).await else {
        return;
    };
    let lukas = card_holder(&server, "lukas").await;
    let b = confirmed_org(&server, &lukas, WEBER_PARTNER).await;
    let portal_redirect = "https://portal.example/callback";
    let erika = server.browser();
    let page = erika
        .visit(&authorize_url(
            &server,
            "portal",
            portal_redirect,
            &[("acr_values", HIGH)],
        ))
        .await
        .page();
    let page = erika.eid(&page, "erika").await.page();
    erika.unlinked(&page, "create").await;

    // create from the register
    let form = erika.visit("/org/new").await.page();
    let csrf = form.hidden("csrf").unwrap();
    let r = erika
        .post(
            "/org/new",
            &[
                ("csrf", &csrf),
                ("court", "München"),
                ("register_type", "HRB"),
                ("number", "123456"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let org_path = r.location().unwrap();
    let a = org_path.trim_start_matches("/org/").to_owned();
    let page = erika.visit(&org_path).await.page();
    assert!(
        page.has("Mustermann Software GmbH") && page.has("action=\"/org/"),
        "{}",
        page.body
    );
    assert!(
        page.has("name=\"code\""),
        "the addressee may enter the code"
    );
    let csrf = page.hidden("csrf").unwrap();
    let wrong = erika
        .post(
            &format!("{org_path}/confirm"),
            &[("csrf", &csrf), ("code", "2222-3333-4444")],
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.has("alert-error"), "{}", wrong.body);
    // a letter is on its way: no second one yet
    let early = erika
        .post(&format!("{org_path}/letter"), &[("csrf", &csrf)])
        .await;
    assert_eq!(early.status, 400);
    assert!(early.has("alert-error"), "{}", early.body);
    // four more wrong codes void the letter (five in all); then a new one may be asked for,
    // and the old code stops working
    let old_code = letter_code(&server, &a);
    for _ in 0..4 {
        erika
            .post(
                &format!("{org_path}/confirm"),
                &[("csrf", &csrf), ("code", "2222-3333-4444")],
            )
            .await;
    }
    let resent = erika
        .post(&format!("{org_path}/letter"), &[("csrf", &csrf)])
        .await;
    assert!(resent.has("alert-info"), "{}", resent.body);
    let stale = erika
        .post(
            &format!("{org_path}/confirm"),
            &[("csrf", &csrf), ("code", &old_code)],
        )
        .await;
    assert_eq!(stale.status, 400, "the old letter's code is void");
    let code = letter_code(&server, &a);
    assert_ne!(code, old_code);
    let ok = erika
        .post(
            &format!("{org_path}/confirm"),
            &[("csrf", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(!ok.has("name=\"code\""), "confirmed: {}", ok.body);

    // invite Clara, who joins; give her a right for tax services
    let clara = server.add_user("clara", PW, "Clara", "Schmidt").await;
    let invited = erika
        .post(
            &format!("{org_path}/invite"),
            &[
                ("csrf", &csrf),
                ("email", "clara@example.org"),
                ("role", "clerk"),
            ],
        )
        .await;
    assert!(invited.has("alert-info"), "{}", invited.body);
    let token = invitation_token(&server);
    let clara_browser = server.browser();
    clara_browser.get(&format!("/org/join?token={token}")).await;
    let login = clara_browser.visit("/org/join").await.page();
    let join = clara_browser.password(&login, "clara", PW).await.page();
    let jc = join.hidden("csrf").unwrap();
    clara_browser.post("/org/join", &[("csrf", &jc)]).await;
    let granted = erika
        .post(
            &format!("{org_path}/rights"),
            &[
                ("csrf", &csrf),
                ("member", &clara),
                ("scope", "listed"),
                ("groups", "steuern"),
                ("mandate", ""),
            ],
        )
        .await;
    assert!(
        granted.has("alert-info") && granted.has("steuern"),
        "{}",
        granted.body
    );

    // Erika is the only administrator: she cannot step down, nor delete her account while
    // Clara is a member; she makes Clara an administrator, then steps down herself
    let erika_id = server
        .store
        .members(&a)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.user_id != clara)
        .unwrap()
        .user_id;
    let alone = erika
        .post(
            &format!("{org_path}/members/role"),
            &[("csrf", &csrf), ("member", &erika_id), ("role", "clerk")],
        )
        .await;
    assert_eq!(alone.status, 400);
    assert!(alone.has("alert-error"), "{}", alone.body);
    let err = server.app.accounts.delete(&erika_id).await.unwrap_err();
    assert!(matches!(err, ServiceError::LastAdministrator), "{err:?}");
    let promoted = erika
        .post(
            &format!("{org_path}/members/role"),
            &[
                ("csrf", &csrf),
                ("member", &clara),
                ("role", "administrator"),
            ],
        )
        .await;
    assert!(promoted.has("alert-info"), "{}", promoted.body);
    let demoted = erika
        .post(
            &format!("{org_path}/members/role"),
            &[("csrf", &csrf), ("member", &clara), ("role", "clerk")],
        )
        .await;
    assert!(demoted.has("alert-info"), "{}", demoted.body);

    // Clara sees her rights, and may administer nothing
    let hers = clara_browser.visit(&org_path).await.page();
    assert!(
        hers.has("steuern") && !hers.has("/invite\""),
        "{}",
        hers.body
    );
    // (a clerk's page has no forms; the account page's token is this browser's token)
    let cc = clara_browser
        .visit("/account")
        .await
        .page()
        .hidden("csrf")
        .unwrap();
    let refused = clara_browser
        .post(
            &format!("{org_path}/invite"),
            &[
                ("csrf", &cc),
                ("email", "mallory@example.org"),
                ("role", "administrator"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(refused.has("alert-error"), "{}", refused.body);
    // without the CSRF token nothing happens
    let forged = clara_browser
        .post(&format!("{org_path}/invite"), &[("email", "x@example.org")])
        .await;
    assert_eq!(forged.status, 403);

    // a stranger learns nothing about the organisation
    server.add_user("mallory", PW, "Mallory", "Moe").await;
    let mallory = server.browser();
    let login = mallory.visit("/account").await.page();
    mallory.password(&login, "mallory", PW).await;
    let nothing = mallory.visit(&org_path).await.page();
    assert_eq!(nothing.status, 404);
    assert!(!nothing.has("Mustermann"), "{}", nothing.body);

    // a mandate to the tax firm, recorded on the page, accepted by Lukas, ended by Erika
    let given = erika
        .post(
            &format!("{org_path}/mandates"),
            &[
                ("csrf", &csrf),
                ("direction", "give"),
                ("party", "org"),
                ("court", "Potsdam"),
                ("register_type", "PR"),
                ("number", "321"),
                ("scope", "listed"),
                ("groups", "steuern"),
                ("redelegation", "1"),
                ("valid_until", ""),
                ("parent", ""),
                ("evidence", "Vollmacht 2026-17"),
            ],
        )
        .await;
    assert!(
        given.has("alert-info") && given.has("Weber"),
        "{}",
        given.body
    );
    let mandates = server
        .store
        .mandates_of(&konto_core::representation::Party::Organisation(b.clone()))
        .await
        .unwrap();
    assert_eq!(mandates.len(), 1);
    server
        .app
        .orgs
        .accept_mandate(&lukas, &mandates[0].id)
        .await
        .unwrap();
    let ended = erika
        .post(
            &format!("{org_path}/mandates/revoke"),
            &[("csrf", &csrf), ("mandate", &mandates[0].id)],
        )
        .await;
    assert!(ended.has("alert-info"), "{}", ended.body);
    let check = server
        .store
        .mandate(&mandates[0].id)
        .await
        .unwrap()
        .unwrap();
    assert!(check.revoked_at.is_some());
    // and the record of changes shows who did it, at which level
    assert!(
        ended.has("Vollmacht beendet") && ended.has("Mitglied beigetreten"),
        "{}",
        ended.body
    );

    // an administrator signed in with a password only is asked to sign in at a higher level
    let paula = server.add_user("paula", PW, "Paula", "Weber").await;
    let p_org = operator_org(&server, "Paula GmbH", &paula).await;
    let pb = server.browser();
    let login = pb.visit(&format!("/org/{p_org}")).await.page();
    let page = pb.password(&login, "paula", PW).await.page();
    assert!(page.has(&format!("/org/{p_org}/step-up")), "{}", page.body);
    let pc = page.hidden("csrf").unwrap();
    let low = pb
        .post(
            &format!("/org/{p_org}/invite"),
            &[("csrf", &pc), ("email", "x@example.org"), ("role", "clerk")],
        )
        .await;
    assert_eq!(low.status, 400);
    assert!(low.has("step-up"), "{}", low.body);
    let step_up = pb.visit(&format!("/org/{p_org}/step-up")).await.page();
    assert!(
        step_up.has("action=\"/login/eid\"") || step_up.has("/login/eid"),
        "{}",
        step_up.body
    );
    server.stop().await;
}

/// `browser`, signed in, asks to create an organisation with a certificate: where konto sends
/// it (the certificate listener with a new flow).
async fn start_certificate_creation(browser: &Browser) -> Page {
    let page = browser.visit("/org/new").await.page();
    assert!(
        page.has("action=\"/org/new/certificate\""),
        "the page offers the certificate:\n{}",
        page.body
    );
    let csrf = page.hidden("csrf").expect("csrf");
    browser
        .post("/org/new/certificate", &[("csrf", csrf.as_str())])
        .await
}

/// An organisation ELSTER certificate, presented by a signed-in person at level substantial
/// or above, creates its organisation already confirmed (as in Mein Unternehmenskonto: ELSTER
/// sent the certificate to the company), with that person as administrator. The hand-off back
/// from the certificate listener works once and only in the browser that started it; a
/// person's certificate, a repeated certificate, the same company from the register and a
/// session below the level create nothing.
async fn an_organisation_certificate_creates_its_organisation(backend: Backend) {
    let mut o = options(backend);
    o.elster = true;
    let Some(server) = TestServer::start(o).await else {
        return;
    };
    // Erika signs in with her card in a browser that holds the company's certificate
    let browser = elster_browser(&server.base, Some("org-mustermann"));
    let erika = card_holder_in(&server, &browser, "erika").await;
    let to_listener = start_certificate_creation(&browser).await;
    assert_eq!(to_listener.status, 303, "{}", to_listener.body);
    let listener = to_listener.location().expect("to the certificate listener");
    assert!(listener.contains("/cert/login?flow="), "{listener}");
    let back = browser.get(&listener).await;
    let done = back.location().expect("back to konto with the hand-off");
    assert!(
        done.contains("/login/cert/done?") && done.contains("handoff="),
        "{done}"
    );
    let created = browser.get(&done).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let org_page = created.location().expect("to the organisation's page");
    let id = org_page.trim_start_matches("/org/").to_owned();
    let page = browser.visit(&org_page).await.page();
    assert!(page.has("Mustermann Software GmbH"), "{}", page.body);
    assert!(
        !page.has("name=\"code\""),
        "confirmed at once, no letter to wait for:\n{}",
        page.body
    );

    let org = server
        .store
        .organisation(&id)
        .await
        .unwrap()
        .expect("created");
    assert!(org.confirmed_at.is_some());
    assert_eq!(
        org.evidence,
        konto_core::org::OrgEvidence::ElsterCertificate {
            holder_id: ORG_HOLDER.into()
        }
    );
    assert_eq!(
        org.wirtschafts_id.as_ref().map(|w| w.as_str()),
        Some("DE123456788"),
        "from the certificate's VATDE identifier"
    );
    assert_eq!(org.level, Level::Substantial);
    let members = server.store.members(&id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].user_id, erika.user_id);
    assert_eq!(members[0].role, Role::Administrator);
    assert!(
        !members[0].legal_representative,
        "the certificate says nothing about who holds it"
    );
    let rights = server.store.rights_of_org(&id).await.unwrap();
    assert_eq!(rights.len(), 1);
    assert_eq!(rights[0].scope, ServiceScope::All);
    assert!(server.store.org_letter(&id).await.unwrap().is_none());
    let letters = std::fs::read_dir(&server.letters_dir)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(letters, 0, "no letter was written");
    let events = server.store.org_events(&id, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "organisation_created");
    assert_eq!(events[0].actor.as_deref(), Some(erika.user_id.as_str()));
    // confirmed: the administrator can give rights at once
    server
        .app
        .orgs
        .grant_right(&erika, &id, &erika.user_id, tax_scope(), None)
        .await
        .expect("a confirmed organisation grants rights");

    // the hand-off is spent: the same address again creates nothing
    let again = browser.get(&done).await;
    assert!(again.status.is_client_error(), "{}", again.status);
    // the same certificate again is the same organisation
    let to_listener = start_certificate_creation(&browser).await;
    let back = browser.get(&to_listener.location().unwrap()).await;
    let page = browser.get(&back.location().unwrap()).await;
    assert_eq!(page.status, 400);
    assert!(
        page.has("hat schon ein Konto") || page.has("already has an account"),
        "{}",
        page.body
    );
    // and the same company from the register too (the same W-IdNr.)
    let err = server
        .app
        .orgs
        .create_from_register(&erika, &MUSTERMANN_SOFTWARE.key().unwrap(), Language::De)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::OrganisationExists), "{err:?}");

    // a person's certificate creates no organisation
    let max_browser = elster_browser(&server.base, Some("max"));
    card_holder_in(&server, &max_browser, "lukas").await;
    let to_listener = start_certificate_creation(&max_browser).await;
    let back = max_browser.get(&to_listener.location().unwrap()).await;
    let page = max_browser.get(&back.location().unwrap()).await;
    assert_eq!(page.status, 400);
    assert!(page.has("person_certificate"), "{}", page.body);

    // below level substantial nobody is sent to present one
    server.add_user("paula", PW, "Paula", "Basic").await;
    let basic = elster_browser(&server.base, Some("org-mustermann"));
    let login = basic.visit("/org/new").await.page();
    let page = basic.password(&login, "paula", PW).await.page();
    let csrf = page.hidden("csrf").expect("csrf");
    let refused = basic
        .post("/org/new/certificate", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.location().is_none());

    // two browsers: an attacker starts the creation in their own session and lures the
    // company's certificate holder to the listener address. The certificate is read in the
    // holder's browser, which did not start the flow: the result is destroyed, not handed over.
    let attacker = server.browser();
    card_holder_in(&server, &attacker, "ayse").await;
    let before = server.rows("organisations").await;
    let lure = start_certificate_creation(&attacker).await;
    let lure = lure.location().unwrap();
    let victim = elster_browser(&server.base, Some("org-mustermann"));
    let back = victim.get(&lure).await;
    let handed = victim.get(&back.location().unwrap()).await;
    assert!(handed.status.is_client_error(), "{}", handed.status);
    // the attacker's browser has no hand-off value; with the flow alone it gets nothing
    let flow = lure.split("flow=").nth(1).unwrap();
    let tried = attacker.get(&format!("/login/cert/done?flow={flow}")).await;
    assert!(
        tried.location().is_none_or(|l| l == "/org/new"),
        "{:?}",
        tried.location()
    );
    assert_eq!(server.rows("organisations").await, before);
    server.stop().await;
}
