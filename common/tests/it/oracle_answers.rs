//! Fusion answers of the wrong shape, served by the sandbox pod over real HTTP
//! (`PodFault::Malform`): each read is refused with the JSON path of the bad field, and a
//! reconciliation that meets a malformed amount reports Oracle unreadable for the order instead
//! of comparing against a zero.

use chrono::{Duration as Days, Utc};
use common::adapters::sqlite::SqliteDb;
use common::journal::PostingKind;
use common::oracle::{FusionClient, FusionSettings, OracleError};
use common::ports::OracleApi;
use common::posting::reconcile::{Finding, ReconcileRequest, Selection, Standing, reconcile};
use common::state::{PostingKey, StateName};
use sandbox::bigcommerce::SandboxOptions;
use sandbox::demo::{HASH, US_LEDGER, document_for, seeded_pod, seeded_store, us_order};
use sandbox::oracle::{PodFault, PodOptions};
use serde_json::{Value, json};

use crate::support::config_from;
use crate::support::pipeline::{run_until_settled, services};

fn sale(order_id: u64) -> PostingKey {
    PostingKey {
        store: "us".into(),
        order_id,
        posting: PostingKind::Sale,
    }
}

fn malform(field: &str, value: Option<Value>, path: &str) -> PodFault {
    PodFault::Malform {
        field: field.into(),
        value,
        times: 1,
        path: Some(path.into()),
    }
}

/// The call, path and message of a decoding error.
fn decode_error(e: OracleError) -> (String, String, String) {
    match e {
        OracleError::Decode {
            call,
            path,
            message,
        } => (call, path, message),
        other => panic!("expected a decoding error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_are_refused_at_their_path_and_reconcile_reports_oracle_unreadable() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let svc = services(&doc, &db);
    let order = sb.create_order(HASH, us_order(1, 0));
    assert_eq!(
        run_until_settled(&svc, &sale(order)).await,
        StateName::Posted
    );
    let record = svc.store.posting(&sale(order)).await.unwrap().unwrap();
    let batch = record.journal.batch_name.clone();

    let fusion =
        FusionClient::from_config(&config_from(&doc).oracle, FusionSettings::default()).unwrap();
    // Read well, the batch's lines add up to what was sent.
    let found = fusion.find_batches(&batch, true).await.unwrap();
    let entered: rust_decimal::Decimal = found[0].journals[0]
        .lines
        .iter()
        .map(|l| l.entered_dr)
        .sum();
    assert_eq!(entered, record.journal.total_dr());

    // A malformed amount on a line, a batch total of the wrong type, a missing key.
    pod.inject(malform("EnteredDr", Some(json!("12.3x")), "journalLines"));
    let (call, path, message) = decode_error(fusion.find_batches(&batch, true).await.unwrap_err());
    assert!(
        call.starts_with("GET journalBatches/") && call.ends_with("/child/journalLines"),
        "{call}"
    );
    assert_eq!(
        (path.as_str(), message.as_str()),
        ("items[0].EnteredDr", r#"invalid decimal "12.3x""#)
    );

    pod.inject(malform(
        "RunningTotalDr",
        Some(json!(true)),
        "journalBatches",
    ));
    let e = fusion.find_batches(&batch, false).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "GET journalBatches: unexpected answer at items[0].RunningTotalDr: invalid type: boolean, \
         expected an amount (a JSON number, a numeric string or null)"
    );

    pod.inject(malform("JeBatchId", None, "journalBatches"));
    let (_, path, message) = decode_error(fusion.find_batches(&batch, false).await.unwrap_err());
    assert_eq!(
        (path.as_str(), message.as_str()),
        ("items[0].JeBatchId", "required field is missing")
    );

    pod.inject(malform("LedgerId", Some(json!("US-1")), "ledgersLOV"));
    let (_, path, message) = decode_error(fusion.ledgers().await.unwrap_err());
    assert_eq!(
        (path.as_str(), message.as_str()),
        ("items[0].LedgerId", r#"invalid id "US-1""#)
    );

    pod.inject(malform(
        "StartDate",
        Some(json!("1 March")),
        "accountingPeriodStatusLOV",
    ));
    let date = record.journal.accounting_date;
    let (_, path, message) =
        decode_error(fusion.period_for_date(US_LEDGER, date).await.unwrap_err());
    assert_eq!(
        (path.as_str(), message.as_str()),
        ("items[0].StartDate", r#"invalid date "1 March""#)
    );
    // The fault spent, the same reads succeed: nothing was cached from the bad answers.
    assert!(
        fusion
            .period_for_date(US_LEDGER, date)
            .await
            .unwrap()
            .is_some()
    );
    assert!(!fusion.ledgers().await.unwrap().is_empty());

    // Reconciliation: the ledger's lines unreadable is a finding on the order, and the ledger's
    // total for the period is unknown, not zero.
    let request = ReconcileRequest {
        store: Some("us".into()),
        from: Utc::now() - Days::days(3),
        to: Utc::now() + Days::days(1),
        select: Selection::Created,
        check_ledger: true,
        fix: None,
    };
    let clean = reconcile(&svc, &request).await.unwrap();
    assert!(clean.is_clean(), "{clean:#?}");
    assert_eq!(
        clean.totals["us"]["USD"].ledger_dr,
        Some(record.journal.total_dr())
    );

    pod.inject(malform("EnteredDr", Some(json!("12.3x")), "journalLines"));
    let report = reconcile(&svc, &request).await.unwrap();
    let line = report
        .orders
        .iter()
        .find(|o| o.order_id == order)
        .expect("the order is in the report");
    assert_eq!(line.standing, Standing::Unread, "{line:#?}");
    let [Finding::Unreadable { system, error }] = line.findings.as_slice() else {
        panic!("{line:#?}")
    };
    assert_eq!(system, "Oracle");
    assert!(
        error.contains(r#"items[0].EnteredDr: invalid decimal "12.3x""#),
        "{error}"
    );
    assert!(!report.is_clean());
    let usd = &report.totals["us"]["USD"];
    assert_eq!(usd.recorded_dr, record.journal.total_dr());
    assert_eq!(
        usd.ledger_dr, None,
        "no ledger figure rather than a zero one"
    );
    assert_eq!(pod.faults_served().get("malform"), Some(&6));
}
