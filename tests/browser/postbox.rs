//! The postbox in Chromium: the inbox after signing in (unread first, a message above the
//! session's level without its title), reading a message, the step-up offer for the other,
//! the filter by application, the account page's way there, and deleting; each page with
//! its accessibility checks.

use std::sync::Arc;

use konto_core::Level;
use konto_core::postbox::{ApplicationStatus, BodyFormat, MessageKind, NewMessage, StateUpdate};
use konto_service::postbox::{NewAttachment, PostboxService};
use konto_store::PostboxRepo;
use konto_tests::chromium::{Js, Lang};

use crate::{PW, shows, sign_in, sqlite, start, texts, variants};

variants!(reading_the_postbox: de_js => (De, On), en_nojs => (En, Off));

async fn reading_the_postbox(test: &str, lang: Lang, js: Js) {
    let Some((chromium, server)) = start(test, sqlite()).await else {
        return;
    };
    let t = texts(lang);
    let erika = server.add_user("erika", PW, "Erika", "Mustermann").await;
    server.add_client(server.client("amt")).await;
    // the service was given Erika's handle (as by the postbox_handle claim) and delivers
    let postbox = PostboxService::new(Arc::clone(&server.app.services));
    let handle = postbox.postbox_of_user(&erika).await.unwrap().handle;
    server
        .store
        .release_postbox(&handle, "amt", server.clock_now())
        .await
        .unwrap();
    let message = |title: &str, body: &str, level: Level, application: &str| NewMessage {
        kind: MessageKind::Decision,
        sender: "Finanzamt München".into(),
        service: "Grundsteuer".into(),
        title: title.into(),
        body: body.into(),
        format: BodyFormat::Text,
        min_level: level,
        reference: Some("AZ 4711".into()),
        application_id: Some(application.into()),
        reply_address: None,
    };
    let low = postbox
        .send(
            "amt",
            &handle,
            "m-1",
            message(
                "Ihr Grundsteuerbescheid",
                "Sehr geehrte Frau Mustermann,\n<script>alert(1)</script> bleibt Text.",
                Level::Basic,
                "A-1",
            ),
            vec![NewAttachment {
                filename: "Zahlungsplan März.txt".into(),
                content_type: "text/plain".into(),
                data: "Rate 1: 15. Januar\n".into(),
            }],
            None,
        )
        .await
        .unwrap();
    let high = postbox
        .send(
            "amt",
            &handle,
            "m-2",
            message("Geheimer Bescheid", "Nur mit Ausweis.", Level::High, "A-2"),
            Vec::new(),
            None,
        )
        .await
        .unwrap();

    for (status, details) in [
        (ApplicationStatus::Submitted, "Eingereicht"),
        (
            ApplicationStatus::ActionRequired,
            "Bitte die Unterlagen nachreichen",
        ),
    ] {
        postbox
            .record_state(
                "amt",
                &handle,
                StateUpdate {
                    application_id: "A-1".into(),
                    status,
                    sender: "Finanzamt München".into(),
                    service_name: [
                        ("de".to_owned(), "Grundsteuer".to_owned()),
                        ("en".to_owned(), "Property tax".to_owned()),
                    ]
                    .into(),
                    details: [("de".to_owned(), details.to_owned())].into(),
                    reference: None,
                },
            )
            .await
            .unwrap();
    }

    let formatted = postbox
        .send(
            "amt",
            &handle,
            "m-3",
            NewMessage {
                format: BodyFormat::Html,
                ..message(
                    "Hinweise zur Zahlung",
                    "<h2>Zahlung</h2><p>Bitte zahlen Sie <strong>bis zum 15. Januar</strong>.</p>\
                     <ul><li>Überweisung</li><li>Lastschrift</li></ul>\
                     <p><a href=\"https://amt.example/zahlung\">Mehr dazu</a></p>",
                    Level::Basic,
                    "A-3",
                )
            },
            Vec::new(),
            None,
        )
        .await
        .unwrap();

    let tab = chromium.tab(test, lang, js).await;
    tab.goto(&server.url("/postbox")).await;
    sign_in(&tab, "erika", PW).await;
    shows(&tab, t.postbox_title).await;
    shows(&tab, "Ihr Grundsteuerbescheid").await;
    shows(&tab, t.postbox_locked_title).await;
    let text = tab.text().await;
    assert!(
        !text.contains("Geheimer Bescheid"),
        "no title above the session's level:\n{text}"
    );
    tab.check("postbox").await;

    // reading marks it read; the body stays text
    tab.goto(&server.url(&format!("/postbox/{}", low.id))).await;
    shows(&tab, "bleibt Text").await;
    shows(&tab, "<script>alert(1)</script>").await;
    shows(&tab, t.postbox_delivered).await;
    shows(&tab, t.postbox_attachments).await;
    shows(&tab, "Zahlungsplan März.txt").await;
    let link = format!("/postbox/{}/attachments/0", low.id);
    assert!(tab.has(&format!("a[href='{link}'][download]")).await);
    tab.check("postbox-message").await;
    // the link downloads the file with the browser's session, and without it nothing
    let cookie = tab
        .cookies(&server.issuer)
        .await
        .iter()
        .map(|c| format!("{}={}", c.name, c.value))
        .collect::<Vec<_>>()
        .join("; ");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let r = http
        .get(server.url(&link))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(r.text().await.unwrap(), "Rate 1: 15. Januar\n");
    let r = http.get(server.url(&link)).send().await.unwrap();
    assert_ne!(r.status(), 200, "no session, no file");
    let inbox = postbox.inbox(&erika, Level::Basic).await.unwrap();
    assert!(inbox.iter().any(|m| m.id == low.id && m.read_at.is_some()));

    // an HTML body is shown as HTML, sanitised
    tab.goto(&server.url(&format!("/postbox/{}", formatted.id)))
        .await;
    assert!(tab.has(".message-body.html strong").await);
    assert!(
        tab.has(".message-body.html a[rel~='noopener'][href='https://amt.example/zahlung']")
            .await
    );
    shows(&tab, "bis zum 15. Januar").await;
    tab.check("postbox-html").await;

    // the other asks for a sign-in at its level first
    tab.goto(&server.url(&format!("/postbox/{}", high.id)))
        .await;
    shows(&tab, t.postbox_step_up_text).await;
    shows(&tab, t.level_high).await;
    assert!(
        tab.has(&format!("a[href='/postbox/{}/step-up']", high.id))
            .await
    );
    tab.check("postbox-step-up").await;

    // the applications with their latest state; one application's timeline with its messages
    tab.goto(&server.url("/postbox")).await;
    shows(&tab, t.postbox_applications).await;
    shows(&tab, t.status_action_required).await;
    tab.goto(&server.url("/postbox?application=A-1")).await;
    shows(&tab, t.postbox_timeline).await;
    shows(&tab, t.status_submitted).await;
    shows(&tab, "Bitte die Unterlagen nachreichen").await;
    shows(&tab, lang.pick("Grundsteuer", "Property tax")).await;
    shows(&tab, "Ihr Grundsteuerbescheid").await;
    tab.check("postbox-application").await;
    assert!(!tab.text().await.contains(t.postbox_locked_title));
    tab.goto(&server.url("/account")).await;
    assert!(tab.has("a[href='/postbox']").await);

    // deleting: back to the inbox, without it
    tab.goto(&server.url(&format!("/postbox/{}", low.id))).await;
    tab.click_and_wait("form[action$='/delete'] button").await;
    shows(&tab, t.postbox_title).await;
    assert!(!tab.text().await.contains("Ihr Grundsteuerbescheid"));
    assert_eq!(postbox.inbox(&erika, Level::High).await.unwrap().len(), 2);
    server.stop().await;
}
