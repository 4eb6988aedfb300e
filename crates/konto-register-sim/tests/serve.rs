//! The simulator over a real socket, and its companies against the eID simulator's people.
#![expect(clippy::unwrap_used, reason = "test helpers should fail loudly")]

use konto_core::org::{Representative, matching_representative};
use konto_eid_sim::{AYSE, ERIKA, LUKAS, OLEKSANDRA, TestIdentity};
use konto_register_sim::{
    ALTE_MUSTERMANN_DELETED, BEISPIEL_HANDEL, Companies, KOVALENKO_BERLIN, MUSTERMANN_SOFTWARE,
    SimConfig, SimHandle, TestKey, WEBER_PARTNER, YILMAZ_KOELN,
};

async fn start() -> SimHandle {
    konto_register_sim::spawn(SimConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap()
}

async fn get(sim: &SimHandle, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!(
        "{}{}",
        sim.url.as_str().trim_end_matches('/'),
        path
    ))
    .await
    .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

#[tokio::test]
async fn serves_an_entry_with_the_time_it_was_read() {
    let sim = start().await;
    let (status, body) = get(&sim, "/v1/entries/M%C3%BCnchen/HRB/123456").await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "Mustermann Software GmbH");
    assert_eq!(body["key"]["court"], "München");
    assert_eq!(body["key"]["type"], "HRB");
    assert_eq!(body["status"], "active");
    assert_eq!(body["representatives"][0]["family_name"], "Mustermann");
    let read = body["retrieved_at"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(read, &time::format_description::well_known::Rfc3339).is_ok()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn refusals_have_their_own_status() {
    let sim = start().await;
    for (path, status, error) in [
        ("/v1/entries/M%C3%BCnchen/HRB/1", 404, "no_such_entry"),
        ("/", 404, "not_found"),
        ("/v1/entries/M%C3%BCnchen/HRB", 404, "not_found"),
        ("/v1/entries/M%C3%BCnchen/HRB/123456/x", 404, "not_found"),
        (
            "/v1/entries/M%C3%BCnchen/XYZ/123456",
            400,
            "bad_register_type",
        ),
        ("/v1/entries/M%FCnchen/HRB/123456", 400, "bad_register_key"),
        ("/v1/entries/%3Cscript%3E/HRB/1", 400, "bad_register_key"),
    ] {
        let (got, body) = get(&sim, path).await;
        assert_eq!(got, status, "{path}");
        assert_eq!(body["error"], error, "{path}");
    }
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}v1/entries/M%C3%BCnchen/HRB/123456", sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_data_file_replaces_the_embedded_companies() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("companies.json");
    let one = konto_register_sim::DEFAULT_DATA.replace("Mustermann Software GmbH", "Andere GmbH");
    std::fs::write(&file, one).unwrap();
    let mut config = SimConfig::new("127.0.0.1:0".parse().unwrap());
    config.data_file = Some(file.clone());
    let sim = konto_register_sim::spawn(config.clone()).await.unwrap();
    let (_, body) = get(&sim, "/v1/entries/M%C3%BCnchen/HRB/123456").await;
    assert_eq!(body["name"], "Andere GmbH");
    sim.shutdown().await;

    std::fs::write(&file, "{\"companies\": 1}").unwrap();
    assert!(konto_register_sim::spawn(config.clone()).await.is_err());
    config.data_file = Some(dir.path().join("missing.json"));
    assert!(konto_register_sim::spawn(config).await.is_err());
}

/// The eID card's `YYYYMMDD` (unknown parts blank) as konto stores it.
fn birth_date(identity: &TestIdentity) -> String {
    let d = identity.date_of_birth;
    if d.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &d[0..4], &d[4..6], &d[6..8])
    } else {
        d.trim().to_owned()
    }
}

fn matches(companies: &Companies, company: TestKey, identity: &TestIdentity) -> bool {
    let representatives: Vec<Representative> = companies
        .get(&company.key().unwrap())
        .unwrap()
        .representatives
        .iter()
        .map(|p| Representative {
            family_name: p.family_name.clone(),
            given_names: p.given_names.clone(),
            date_of_birth: p.date_of_birth.clone(),
            role: p.role.clone(),
        })
        .collect();
    matching_representative(
        &representatives,
        identity.family_names,
        identity.given_names,
        &birth_date(identity),
    )
    .is_some()
}

/// The companies are built so that the eID simulator's people really match (or really don't).
#[test]
fn the_eid_test_people_match_their_companies() {
    let companies = Companies::embedded().unwrap();
    let people = [&ERIKA, &LUKAS, &AYSE, &OLEKSANDRA];
    for (company, who) in [
        (MUSTERMANN_SOFTWARE, Some(&ERIKA)),
        (WEBER_PARTNER, Some(&LUKAS)),
        (BEISPIEL_HANDEL, None),
        (ALTE_MUSTERMANN_DELETED, Some(&ERIKA)),
        (KOVALENKO_BERLIN, Some(&OLEKSANDRA)),
        (YILMAZ_KOELN, None),
    ] {
        for person in people {
            let expected = who.is_some_and(|w| w.key == person.key);
            assert_eq!(
                matches(&companies, company, person),
                expected,
                "{} at {}",
                person.key,
                company.number
            );
        }
    }
}
