//! The same thing at the same time: one code, one refresh token, one reset link, one login and
//! one account's password, each sent N times in parallel over real HTTP. Whatever may happen once
//! happens once; whatever is counted is counted every time.

use futures::future::join_all;
use konto_core::throttle::ThrottlePolicy;
use konto_tests::*;
use reqwest::StatusCode;
use serde_json::Value;

on_both_backends!(
    parallel_failures_from_one_source_are_all_counted,
    parallel_failures_on_one_account_are_counted_and_bounded,
    one_code_redeemed_in_parallel_gives_one_token_response,
    one_refresh_token_used_in_parallel_leaves_one_live_token,
    one_reset_link_used_in_parallel_sets_one_password,
    one_consent_posted_in_parallel_issues_one_code,
    one_completing_password_step_in_parallel_issues_one_code,
);

/// How many requests go out at once.
const N: usize = 20;
const PW: &str = "Fahrradklingel-Nordsee-42";

/// A server with the confidential client `rp` (consent required) and the account `erika`.
async fn setup(backend: Backend, first_party: bool) -> Option<(TestServer, String, String)> {
    let server = TestServer::start(Options::new(backend)).await?;
    let mut client = server.client("rp");
    client.party.first_party = first_party;
    let secret = server.add_client(client.clone()).await.unwrap();
    server.add_user("erika", PW, "Erika", "Mustermann").await;
    Some((server, secret, client.redirect_uris[0].clone()))
}

async fn token(server: &TestServer, secret: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth("rp", Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A code for `erika` at `rp` (signs in and consents first).
async fn code(server: &TestServer, browser: &Browser, redirect: &str) -> String {
    browser
        .login_and_consent(&authorize_url(server, "rp", redirect, &[]), "erika", PW)
        .await
        .param("code")
        .expect("a code")
}

fn count<T>(items: &[T], f: impl Fn(&T) -> bool) -> usize {
    items.iter().filter(|i| f(i)).count()
}

/// Issue 6 hole 3: the failure count was read before the hash and written after, so parallel
/// failures overwrote each other. N wrong passwords for N names from one address, all at once:
/// the address's count rises by exactly N (NIST SP 800-63B §5.2.2 rate limiting).
async fn parallel_failures_from_one_source_are_all_counted(backend: Backend) {
    let Some((server, _, redirect)) = setup(backend, true).await else {
        return;
    };
    let browser = server.browser();
    let page = server
        .authorize(&browser, "rp", &redirect, &[])
        .await
        .page();
    let names: Vec<String> = (0..N).map(|i| format!("name-{i}")).collect();
    let pages = join_all(names.iter().map(|name| {
        let (browser, page) = (&browser, &page);
        async move { browser.password(page, name, "wrong password").await.page() }
    }))
    .await;
    assert_eq!(
        count(&pages, |p| p.status == StatusCode::UNAUTHORIZED),
        N,
        "every attempt was a plain failure: {:?}",
        pages.iter().map(|p| p.status).collect::<Vec<_>>()
    );
    let (_, source) = server.throttle_failures("name-0").await;
    assert_eq!(source, N as u32, "{N} parallel failures counted {source}");
    server.stop().await;
}

/// Hole 3 on one account: every attempt that was checked against a wrong password is counted,
/// and attempts that all passed the check before any failure was recorded do not all get to try
/// a password: no more than the free failures of the account throttle are tried at once, the
/// others wait (429) without being counted, so the owner is not locked out for longer.
async fn parallel_failures_on_one_account_are_counted_and_bounded(backend: Backend) {
    let Some((server, _, redirect)) = setup(backend, true).await else {
        return;
    };
    let browser = server.browser();
    let page = server
        .authorize(&browser, "rp", &redirect, &[])
        .await
        .page();
    let attempts = 2 * N;
    let pages = join_all((0..attempts).map(|_| {
        let (browser, page) = (&browser, &page);
        async move {
            browser
                .password(page, "erika", "wrong password")
                .await
                .page()
        }
    }))
    .await;
    let failed = count(&pages, |p| p.status == StatusCode::UNAUTHORIZED);
    let waited = count(&pages, |p| p.status == StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(failed + waited, attempts, "only failures and waits");
    let (account, source) = server.throttle_failures("erika").await;
    assert_eq!(
        (account, source),
        (failed as u32, failed as u32),
        "{failed} wrong passwords were tried, the account counted {account}, the address {source}"
    );
    // At most the free failures are tried; fewer when one attempt's failure is already counted
    // while it still holds its place (the others then see one failure more and one place
    // fewer): seen once in a loaded full run, 4 of 5.
    let free = ThrottlePolicy::ACCOUNT.free_failures as usize;
    assert!(
        (1..=free).contains(&failed),
        "parallel attempts are held to the {free} free failures: {failed} were tried"
    );
    // no lockout: after the delay the owner gets in
    server.clock.advance(time::Duration::seconds(2));
    let out = browser.password(&page, "erika", PW).await;
    assert!(out.param("code").is_some(), "the owner gets in after 1 s");
    server.stop().await;
}

/// RFC 6749 §4.1.2: a code is used once. N redemptions at once give one token response; the
/// others are `invalid_grant` and, as for any replay, revoke what the code gave (so the winner's
/// tokens end too — konto's documented answer to a replayed code).
async fn one_code_redeemed_in_parallel_gives_one_token_response(backend: Backend) {
    let Some((server, secret, redirect)) = setup(backend, false).await else {
        return;
    };
    let browser = server.browser();
    let code = code(&server, &browser, &redirect).await;
    let answers = join_all((0..N).map(|_| {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", VERIFIER),
        ];
        let (server, secret) = (&server, &secret);
        async move { token(server, secret, &form).await }
    }))
    .await;
    let won: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(won.len(), 1, "one redemption succeeds: {answers:?}");
    assert_eq!(
        count(&answers, |(s, v)| *s == StatusCode::BAD_REQUEST
            && v["error"] == "invalid_grant"),
        N - 1
    );
    let (_, refreshed) = token(
        &server,
        &secret,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", won[0]["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        refreshed["error"], "invalid_grant",
        "the replays revoked the grant"
    );
    server.stop().await;
}

/// RFC 9700 §4.14.2 with the retry window (`tokens.refresh_retry_secs`): N uses of one refresh
/// token at once rotate the grant once; the others are retries of the replaced token (each
/// voids the token answered before it), so of all the tokens answered exactly one is live, the
/// generation moved by one, and presenting any of the voided ones is a reuse that ends the
/// grant.
async fn one_refresh_token_used_in_parallel_leaves_one_live_token(backend: Backend) {
    let Some((server, secret, redirect)) = setup(backend, false).await else {
        return;
    };
    let browser = server.browser();
    let code = code(&server, &browser, &redirect).await;
    let first = redeem_code(&server, "rp", &secret, &redirect, &code).await;
    let rt = first["refresh_token"].as_str().unwrap().to_owned();
    let answers = join_all((0..N).map(|_| {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
        ];
        let (server, secret) = (&server, &secret);
        async move { token(server, secret, &form).await }
    }))
    .await;
    assert!(
        answers
            .iter()
            .all(|(s, v)| *s == StatusCode::OK || v["error"] == "invalid_grant"),
        "{answers:?}"
    );
    let answered: Vec<&str> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .filter_map(|(_, v)| v["refresh_token"].as_str())
        .collect();
    assert!(!answered.is_empty());
    let grant_id = rt.split('.').next().unwrap();
    let grant = {
        use konto_store::GrantRepo;
        server
            .store
            .grant(grant_id)
            .await
            .unwrap()
            .expect("the grant")
    };
    assert_eq!(grant.refresh_generation, 1, "one rotation");
    let live: Vec<&&str> = answered
        .iter()
        .filter(|t| {
            grant.refresh_hash.as_ref().is_some_and(|h| {
                *h == server
                    .app
                    .services
                    .hasher
                    .hash(konto_core::secret::SecretPurpose::RefreshToken, t)
            })
        })
        .collect();
    assert_eq!(live.len(), 1, "exactly one answered token is live");
    if let Some(voided) = answered.iter().find(|t| **t != *live[0]) {
        let (_, reuse) = token(
            &server,
            &secret,
            &[("grant_type", "refresh_token"), ("refresh_token", voided)],
        )
        .await;
        assert_eq!(reuse["error"], "invalid_grant");
        let (_, next) = token(
            &server,
            &secret,
            &[("grant_type", "refresh_token"), ("refresh_token", live[0])],
        )
        .await;
        assert_eq!(
            next["error"], "invalid_grant",
            "the reuse revoked the grant"
        );
    }
    server.stop().await;
}

async fn wait_for_mail(server: &TestServer) -> String {
    for _ in 0..200 {
        if let Some(m) = server.mails().pop() {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no mail")
}

/// A reset link works once: N submissions at once, each with another good password, set exactly
/// one of them.
async fn one_reset_link_used_in_parallel_sets_one_password(backend: Backend) {
    let Some((server, _, redirect)) = setup(backend, true).await else {
        return;
    };
    let browser = server.browser();
    let form = browser.get("/reset").await;
    let csrf = form.hidden("csrf").unwrap();
    browser
        .post("/reset", &[("csrf", &csrf), ("email", "erika@example.org")])
        .await;
    let mail = wait_for_mail(&server).await;
    let link = link_in(&mail, &format!("{}/reset/confirm", server.issuer)).expect("a link");
    let form = browser.get(&link).await;
    let token = form.hidden("token").unwrap();
    let passwords: Vec<String> = (0..N)
        .map(|i| format!("Leuchtturm-Wattenmeer-Sturm-{i}"))
        .collect();
    let pages = join_all(passwords.iter().map(|password| {
        let (browser, csrf, token) = (&browser, &csrf, &token);
        async move {
            browser
                .post(
                    "/reset/confirm",
                    &[("csrf", csrf), ("token", token), ("password", password)],
                )
                .await
        }
    }))
    .await;
    let won: Vec<usize> = (0..N).filter(|i| pages[*i].status == 200).collect();
    assert_eq!(
        won.len(),
        1,
        "one submission sets the password: {:?}",
        pages.iter().map(|p| p.status).collect::<Vec<_>>()
    );
    assert_eq!(
        count(&pages, |p| p.status == StatusCode::BAD_REQUEST),
        N - 1
    );
    // the winner's password is the account's
    let other = server.browser();
    let page = server.authorize(&other, "rp", &redirect, &[]).await.page();
    let out = other.password(&page, "erika", &passwords[won[0]]).await;
    assert!(out.param("code").is_some(), "the new password works");
    server.stop().await;
}

/// The consent form of one flow posted N times at once: the flow is claimed once, so the client
/// gets one code (and one grant exists).
async fn one_consent_posted_in_parallel_issues_one_code(backend: Backend) {
    let Some((server, _, redirect)) = setup(backend, false).await else {
        return;
    };
    let browser = server.browser();
    let page = server
        .authorize(&browser, "rp", &redirect, &[])
        .await
        .page();
    let consent = browser.password(&page, "erika", PW).await.page();
    assert!(consent.has("action=\"/login/consent\""), "{}", consent.body);
    let outcomes = join_all((0..N).map(|_| {
        let (browser, consent) = (&browser, &consent);
        async move { browser.consent(consent, true).await }
    }))
    .await;
    let codes = count(&outcomes, |o| o.param("code").is_some());
    assert_eq!(codes, 1, "{codes} codes for one login");
    assert_eq!(server.rows("grants").await, 1);
    server.stop().await;
}

/// The password step that completes a flow (no consent needed), posted N times at once: one code.
async fn one_completing_password_step_in_parallel_issues_one_code(backend: Backend) {
    let Some((server, _, redirect)) = setup(backend, true).await else {
        return;
    };
    let browser = server.browser();
    let page = server
        .authorize(&browser, "rp", &redirect, &[])
        .await
        .page();
    let outcomes = join_all((0..N).map(|_| {
        let (browser, page) = (&browser, &page);
        async move { browser.password(page, "erika", PW).await }
    }))
    .await;
    let codes = count(&outcomes, |o| o.param("code").is_some());
    assert_eq!(codes, 1, "{codes} codes for one login");
    assert_eq!(server.rows("grants").await, 1);
    server.stop().await;
}
