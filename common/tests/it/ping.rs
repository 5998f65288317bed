//! `ping` against the sandbox store and pod over real HTTP: a document that matches passes;
//! each usual set-up mistake fails on its own check, naming the document field to change; a
//! closed period and missing webhooks are warnings. Nothing is created or changed.

use common::adapters::sqlite::SqliteDb;
use common::posting::ping::{Check, Outcome, ping};
use sandbox::bigcommerce::SandboxOptions;
use sandbox::demo::{HASH, US_LEDGER, document_for, seeded_pod, seeded_store};
use sandbox::oracle::PodOptions;
use serde_json::{Value, json};

use crate::support::pipeline::services;

async fn run(doc: &Value) -> Vec<Check> {
    let db = SqliteDb::in_memory().unwrap();
    let svc = services(doc, &db);
    ping(&svc, chrono::Utc::now().date_naive()).await
}

fn failures(checks: &[Check]) -> Vec<&Check> {
    checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matching_document_passes_and_each_mistake_names_its_field() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let good = document_for(&crate::support::example_document(), &sb, &pod);

    let checks = run(&good).await;
    assert!(failures(&checks).is_empty(), "{checks:#?}");
    // Both ledgers, the token, the store once (the two entries share it), both channels.
    assert!(
        checks
            .iter()
            .any(|c| c.system == "Oracle" && c.detail.starts_with("token accepted"))
    );
    for ledger in ["NW US Primary", "NW EU Primary"] {
        assert!(
            checks
                .iter()
                .any(|c| c.subject.starts_with(&format!("ledger {ledger}"))
                    && c.outcome == Outcome::Ok
                    && c.detail.contains("is Open")),
            "{checks:#?}"
        );
    }
    assert_eq!(
        checks
            .iter()
            .filter(|c| c.detail.starts_with("orders readable"))
            .count(),
        1
    );
    assert_eq!(
        checks
            .iter()
            .filter(|c| c.detail.starts_with("channels") && c.outcome == Outcome::Ok)
            .count(),
        2
    );
    // No webhooks yet: a warning that says who makes them.
    let hooks = checks
        .iter()
        .find(|c| c.detail.starts_with("webhooks"))
        .unwrap();
    assert_eq!(hooks.outcome, Outcome::Warn);
    assert!(
        hooks.fix.as_deref().unwrap().contains("poller"),
        "{hooks:?}"
    );
    assert!(sb.hooks(HASH).is_empty(), "ping creates nothing");

    // A token from another store.
    let mut doc = good.clone();
    for store in doc["stores"].as_array_mut().unwrap() {
        store["credentials"]["access_token"] = json!("someone-elses-token");
    }
    let checks = run(&doc).await;
    let [fail] = failures(&checks)[..] else {
        panic!("{checks:#?}")
    };
    assert_eq!(fail.system, "BigCommerce");
    assert!(fail.detail.contains("401"), "{fail:?}");
    assert!(
        fail.fix
            .as_deref()
            .unwrap()
            .starts_with("stores[0].credentials.access_token was refused"),
        "{fail:?}"
    );
    assert!(
        !format!("{checks:?}").contains("someone-elses-token"),
        "never the token"
    );

    // A channel id that is not in the store.
    let mut doc = good.clone();
    doc["stores"][1]["channels"] = json!([42]);
    let checks = run(&doc).await;
    let [fail] = failures(&checks)[..] else {
        panic!("{checks:#?}")
    };
    assert!(fail.detail.contains("[42]"), "{fail:?}");
    assert!(
        fail.fix
            .as_deref()
            .unwrap()
            .starts_with("stores[1].channels: use the ids"),
        "{fail:?}"
    );

    // A ledger id from another environment, and a ledger named otherwise in Oracle.
    let mut doc = good.clone();
    doc["oracle"]["ledgers"][1]["id"] = json!(300000000000999_u64);
    let checks = run(&doc).await;
    let [fail] = failures(&checks)[..] else {
        panic!("{checks:#?}")
    };
    assert!(
        fail.fix
            .as_deref()
            .unwrap()
            .starts_with("oracle.ledgers[1].id: use a ledger id"),
        "{fail:?}"
    );
    assert!(
        fail.fix
            .as_deref()
            .unwrap()
            .contains(&US_LEDGER.to_string()),
        "lists the visible ledgers: {fail:?}"
    );

    // Credentials the identity domain refuses: one failure, the ledgers are not tried.
    let mut doc = good.clone();
    doc["oracle"]["auth"]["client_secret"] = json!("wrong-secret");
    let checks = run(&doc).await;
    let [fail] = failures(&checks)[..] else {
        panic!("{checks:#?}")
    };
    assert_eq!(fail.system, "Oracle");
    assert!(
        fail.fix.as_deref().unwrap().starts_with("oracle.auth"),
        "{fail:?}"
    );
    assert!(!checks.iter().any(|c| c.subject.starts_with("ledger ")));
    assert!(!format!("{checks:?}").contains("wrong-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_period_is_a_warning_with_the_policy_named() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let svc = services(&doc, &db);
    let today = chrono::Utc::now().date_naive();
    let period = svc
        .oracle
        .period_for_date(US_LEDGER, today)
        .await
        .unwrap()
        .unwrap();
    pod.set_period_status(US_LEDGER, &period.name, 'C');
    // A fresh process (the client keeps the periods it has read).
    let checks = run(&doc).await;
    assert!(failures(&checks).is_empty(), "{checks:#?}");
    let us = checks
        .iter()
        .find(|c| c.subject.starts_with("ledger NW US Primary") && c.detail.contains("period"))
        .unwrap();
    assert_eq!(us.outcome, Outcome::Warn, "{us:?}");
    assert!(us.detail.contains("Closed"), "{us:?}");
    assert!(
        us.fix.as_deref().unwrap().contains("posting.closed_period"),
        "{us:?}"
    );
}
