//! Organisation pages in Chromium: joining from an invitation link (not yet signed in), the
//! account's list of organisations, and choosing whom one acts for at a service, with the
//! consent page naming the organisation.

use konto_core::Level;
use konto_core::representation::{Role, ServiceScope};
use konto_service::org::{Actor, NewMandate, PartyRef};
use konto_tests::site::ClientSite;
use konto_tests::{link_in, operator_org};

use crate::{PW, allow, code_at_client, id_claims, shows, sign_in, sqlite, start, texts, variants};
use konto_tests::chromium::{Js, Lang};

variants!(join_and_act_for_an_organisation: de_js => (De, On), en_nojs => (En, Off));
variants!(organisation_pages: de_nojs => (De, Off), en_js => (En, On));

async fn join_and_act_for_an_organisation(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, sqlite()).await else {
        return;
    };
    let t = texts(lang);
    let lukas = server.add_user("lukas", PW, "Lukas", "Weber").await;
    let clara = server.add_user("clara", PW, "Clara", "Schmidt").await;
    let org = operator_org(&server, "Weber Steuerberatung GmbH", &lukas).await;
    let admin = Actor {
        user_id: lukas,
        level: Level::Substantial,
    };
    server
        .app
        .orgs
        .invite(&admin, &org, "clara@example.org", Role::Clerk)
        .await
        .unwrap();
    let mail = server.mails().pop().unwrap();
    let link = link_in(&mail, "/org/join?token=").unwrap();

    // the invitation, opened before signing in
    let tab = chromium.tab(test, lang, js).await;
    tab.goto(&server.url(&link)).await;
    sign_in(&tab, "clara", PW).await;
    shows(&tab, t.org_join_title).await;
    assert!(
        !tab.url().await.contains("token="),
        "the token left the address bar"
    );
    tab.check("org-join").await;
    tab.click_and_wait("form[action='/org/join'] button[type=submit]")
        .await;
    shows(&tab, t.org_joined).await;
    shows(&tab, "Weber Steuerberatung GmbH").await;
    shows(&tab, t.role_clerk).await;
    tab.check("account-organisations").await;

    // the administrator gives Clara the right for every service
    server
        .app
        .orgs
        .grant_right(&admin, &org, &clara, ServiceScope::All, None)
        .await
        .unwrap();
    let site = ClientSite::start(&server, "steuer", |_| {}).await;
    tab.goto(&site.authorize_url(&server, &[("scope", "openid representation")]))
        .await;
    shows(&tab, t.acting_title).await;
    tab.check("acting").await;
    tab.click("#acting-1").await;
    tab.click_and_wait("form[action='/login/acting'] button[type=submit]")
        .await;
    shows(&tab, t.consent_acting_for).await;
    shows(&tab, "Weber Steuerberatung GmbH").await;
    allow(&tab, &site).await;
    let tokens = code_at_client(&server, &site, None).await;
    let claims = id_claims(&tokens);
    assert_eq!(claims["acting_for"]["name"], "Weber Steuerberatung GmbH");
    server.stop().await;
}

/// An administrator's page — members with their rights, mandates given and received, the
/// record of changes, the forms — and the page that creates an organisation from the register.
async fn organisation_pages(test: &str, lang: Lang, js: Js) {
    let mut options = sqlite();
    options.register = true;
    // the page also offers creation with an organisation certificate
    options.elster = true;
    let Some((chromium, server)) = start(test, options).await else {
        return;
    };
    let t = texts(lang);
    let lukas = server.add_user("lukas", PW, "Lukas", "Weber").await;
    let clara = server.add_user("clara", PW, "Clara", "Schmidt").await;
    let firm = operator_org(&server, "Weber Steuerberatung GmbH", &lukas).await;
    let client_org = operator_org(&server, "Mustermann Software GmbH", &lukas).await;
    let admin = Actor {
        user_id: lukas,
        level: Level::High,
    };
    let orgs = &server.app.orgs;
    orgs.invite(&admin, &firm, "clara@example.org", Role::Clerk)
        .await
        .unwrap();
    let token = link_in(&server.mails().pop().unwrap(), "/org/join?token=")
        .unwrap()
        .trim_start_matches("/org/join?token=")
        .to_owned();
    let clara_actor = Actor {
        user_id: clara.clone(),
        level: Level::Basic,
    };
    orgs.join(&clara_actor, &token).await.unwrap();
    let steuern = ServiceScope::listed(Vec::<&str>::new(), vec!["steuern"]).unwrap();
    let mandate = orgs
        .offer_mandate(
            &admin,
            NewMandate {
                principal: PartyRef::Organisation(client_org),
                agent: PartyRef::Organisation(firm.clone()),
                scope: steuern.clone(),
                valid_from: None,
                valid_until: None,
                redelegation: 1,
                parent: None,
                evidence: None,
            },
        )
        .await
        .unwrap();
    orgs.grant_right(&admin, &firm, &clara, steuern, Some(&mandate.id))
        .await
        .unwrap();

    let tab = chromium.tab(test, lang, js).await;
    tab.goto(&server.url(&format!("/org/{firm}"))).await;
    sign_in(&tab, "lukas", PW).await;
    shows(&tab, "Weber Steuerberatung GmbH").await;
    shows(&tab, t.org_members).await;
    shows(&tab, "clara").await;
    shows(&tab, "Mustermann Software GmbH").await;
    shows(&tab, t.org_admin_level).await;
    for summary in [
        "details:nth-of-type(1) summary",
        "details:nth-of-type(2) summary",
    ] {
        if tab.has(summary).await {
            tab.click(summary).await;
        }
    }
    tab.check("org").await;
    // the organisation's postbox, linked from its page
    assert!(tab.has(&format!("a[href='/org/{firm}/postbox']")).await);
    tab.goto(&server.url(&format!("/org/{firm}/postbox"))).await;
    shows(&tab, t.postbox_title).await;
    shows(&tab, "Weber Steuerberatung GmbH").await;
    tab.check("org-postbox").await;

    tab.goto(&server.url("/org/new")).await;
    shows(&tab, t.org_new_title).await;
    shows(&tab, t.org_new_register).await;
    shows(&tab, t.org_new_cert).await;
    tab.check("org-new").await;
    server.stop().await;
}
