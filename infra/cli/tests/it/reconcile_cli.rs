//! `mlc reconcile` as an operator runs it on local state, against the sandbox store and pod:
//! an order the connector never took up is named (exit code 1), `--fix` queues it with an
//! audit event, and once the pipeline has posted it the period ties out (exit code 0). Bad
//! periods and stores are refused with exit code 2, naming the flag.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::adapters::local_queue::LocalQueue;
use common::adapters::secrets::FileSource;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::bigcommerce::ClientSettings;
use common::oracle::FusionSettings;
use common::ports::{SecretSource, SystemClock};
use common::posting::poller::poll;
use common::posting::poster::drain_queue;
use common::posting::services::{PipelineSettings, Services};
use common::state::{PostingKey, StateName};
use sandbox::bigcommerce::SandboxOptions;
use sandbox::demo::{HASH, seeded_pod, seeded_store, us_order};
use sandbox::oracle::PodOptions;
use serde_json::Value;

use crate::support::{mlc, read_csv, sandboxed_config, scratch, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_names_a_missed_order_fix_queues_it_and_the_period_then_ties_out() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let dir = scratch("reconcile");
    let config = sandboxed_config(&dir, &sb, &pod);
    let state = dir.join("state.db");
    let db = SqliteDb::open(&state).unwrap();
    let order = sb.create_order(HASH, us_order(2, 1));
    let today = Utc::now().date_naive();
    let from = (today - chrono::Days::new(1)).to_string();
    let to = (today + chrono::Days::new(2)).to_string();
    let (config_arg, state_arg) = (config.to_str().unwrap(), state.to_str().unwrap());
    let base = [
        "reconcile",
        "--config",
        config_arg,
        "--state",
        state_arg,
        "--store",
        "us",
        "--from",
        &from,
        "--to",
        &to,
    ];

    // Nothing ran: the paid order is not posted. Exit code 1, and the order is named.
    let out = mlc(&base);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 orders: 1 not posted"), "{stdout}");
    assert!(
        stdout.contains(&format!("us/{order}  not posted"))
            && stdout.contains(&format!("not posted: BC-us-{order}-sale")),
        "{stdout}"
    );
    assert!(stderr.contains("1 order(s) need action"), "{stderr}");

    // The same as CSV, for a spreadsheet: a header and a row per finding.
    let mut csv = base.to_vec();
    csv.extend(["--format", "csv"]);
    let out = mlc(&csv);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    let rows = read_csv(&stdout);
    assert_eq!(
        rows[0],
        [
            "store", "order_id", "created", "status", "standing", "finding", "batch", "detail"
        ]
    );
    assert_eq!(rows.len(), 2, "{stdout}");
    let sale = format!("BC-us-{order}-sale");
    assert_eq!(rows[1][..2], ["us", order.to_string().as_str()], "{stdout}");
    assert_eq!(
        rows[1][4..7],
        ["not posted", "not_posted", sale.as_str()],
        "{stdout}"
    );

    // --fix queues it; the JSON report says so, and the audit keeps who asked.
    let mut fix = base.to_vec();
    fix.extend([
        "--fix",
        "--by",
        "controller@example.com",
        "--format",
        "json",
    ]);
    let out = mlc(&fix);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["queued"], 1);
    assert_eq!(report["orders"][0]["standing"], "not_posted");
    assert_eq!(report["orders"][0]["findings"][0]["finding"], "not_posted");
    assert_eq!(report["orders"][0]["findings"][0]["queued"], true);
    let audit = mlc(&[
        "audit",
        "--state",
        state_arg,
        "--store",
        "us",
        "--order-id",
        &order.to_string(),
    ]);
    assert!(text(&audit).0.contains("reconciled"), "{}", text(&audit).0);

    // The pipeline (as `mlc serve` runs it) takes the queued message and posts the order.
    let source = FileSource::new(&config);
    let doc = source.connector_document().await.unwrap();
    let svc = Services::connect(
        doc.clone(),
        Arc::new(SqliteStore::new(db.clone())),
        Arc::new(LocalQueue::new(db.clone(), "orders", 5)),
        Arc::new(SystemClock),
        PipelineSettings::for_config(&doc),
        ClientSettings::default(),
        FusionSettings::default(),
    )
    .unwrap();
    let key = PostingKey {
        store: "us".into(),
        order_id: order,
        posting: common::journal::PostingKind::Sale,
    };
    let mut state_now = None;
    for _ in 0..200 {
        drain_queue(&svc, svc.queue.as_ref(), Duration::from_secs(1))
            .await
            .unwrap();
        poll(&svc).await;
        state_now = svc
            .store
            .posting(&key)
            .await
            .unwrap()
            .map(|p| p.state.name());
        if state_now == Some(StateName::Posted) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state_now, Some(StateName::Posted));

    // Now the period ties out against the ledger.
    let out = mlc(&base);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 orders: 1 matched"), "{stdout}");
    let posted = svc.store.posting(&key).await.unwrap().unwrap();
    let dr = posted.journal.total_dr();
    assert!(
        stdout.contains(&format!(
            "us USD: 1 postings, entered debits {dr} recorded, {dr} in the ledger"
        )),
        "{stdout}"
    );
    assert_eq!(pod.batches().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_periods_and_stores_are_refused_naming_the_flag() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let dir = scratch("reconcile-bad");
    let state = dir.join("state.db");
    SqliteDb::open(&state).unwrap();
    let config = sandboxed_config(&dir, &sb, &pod);
    let run = |extra: &[&str]| {
        let mut args = vec![
            "reconcile",
            "--config",
            config.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ];
        args.extend(extra);
        let out = mlc(&args);
        (out.status.code(), text(&out).1)
    };
    let (code, err) = run(&["--from", "March 1st"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--from \"March 1st\": expected a date"),
        "{err}"
    );
    let (code, err) = run(&["--from", "2026-03-01", "--to", "2026-13-01"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--to \"2026-13-01\""), "{err}");
    let (code, err) = run(&["--from", "2026-03-02", "--to", "2026-03-01"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("the period is empty"), "{err}");
    let (code, err) = run(&["--store", "uk", "--from", "2026-03-01"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("store \"uk\" is not in the connector document"),
        "{err}"
    );
    let missing = mlc(&[
        "reconcile",
        "--config",
        config.to_str().unwrap(),
        "--state",
        dir.join("nowhere.db").to_str().unwrap(),
        "--from",
        "2026-03-01",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing).1.contains("no such state database"));
    // Refused before any system was asked.
    assert_eq!(sb.request_count(HASH), 0);
    assert_eq!(pod.requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bigcommerce_outage_while_listing_is_a_failure_not_bad_input() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let dir = scratch("reconcile-outage");
    let state = dir.join("state.db");
    SqliteDb::open(&state).unwrap();
    let config = sandboxed_config(&dir, &sb, &pod);
    sb.inject(
        HASH,
        sandbox::bigcommerce::Fault::Status {
            status: 503,
            times: 1000,
            path: Some("/v2/orders".into()),
        },
    );
    let out = mlc(&[
        "reconcile",
        "--config",
        config.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--store",
        "us",
        "--from",
        "2026-03-01",
        "--to",
        "2026-04-01",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("orders could not be listed") && stderr.contains("HTTP 503"),
        "{stderr}"
    );
    assert!(sb.faults_served(HASH).get("status").copied().unwrap_or(0) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_counts_every_order_and_a_pipe_sees_no_bar() {
    use common::progress::Progress;
    use std::sync::Mutex;

    /// Every count the reconciliation reports.
    #[derive(Default)]
    struct Recorded(Mutex<Vec<(usize, usize)>>);
    impl Progress for Recorded {
        fn advanced(&self, done: usize, total: usize) {
            self.0.lock().unwrap().push((done, total));
        }
    }

    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let dir = scratch("reconcile-progress");
    let config = sandboxed_config(&dir, &sb, &pod);
    let state = dir.join("state.db");
    let db = SqliteDb::open(&state).unwrap();
    for _ in 0..3 {
        sb.create_order(HASH, us_order(1, 0));
    }
    let doc = FileSource::new(&config).connector_document().await.unwrap();
    let svc = Services::connect(
        doc.clone(),
        Arc::new(SqliteStore::new(db.clone())),
        Arc::new(LocalQueue::new(db, "orders", 5)),
        Arc::new(SystemClock),
        PipelineSettings::for_config(&doc),
        ClientSettings::default(),
        FusionSettings::default(),
    )
    .unwrap();
    let now = Utc::now();
    let request = common::posting::reconcile::ReconcileRequest {
        store: Some("us".into()),
        from: now - chrono::Duration::days(1),
        to: now + chrono::Duration::days(1),
        select: Default::default(),
        check_ledger: false,
        fix: None,
    };
    let seen = Recorded::default();
    let report = common::posting::reconcile::reconcile_with_progress(&svc, &request, &seen)
        .await
        .unwrap();
    assert_eq!(report.orders.len(), 3);
    let seen = seen.0.into_inner().unwrap();
    assert_eq!(seen.first(), Some(&(0, 3)), "{seen:?}");
    assert_eq!(seen.last(), Some(&(3, 3)), "{seen:?}");
    let done: Vec<usize> = seen.iter().map(|(d, _)| *d).collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(done, [0, 1, 2, 3]);

    // Run by a script (standard error a pipe): the report as before, and nothing else.
    let today = Utc::now().date_naive();
    let out = mlc(&[
        "reconcile",
        "--config",
        config.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--store",
        "us",
        "--no-ledger",
        "--from",
        &(today - chrono::Days::new(1)).to_string(),
        "--to",
        &(today + chrono::Days::new(2)).to_string(),
        "--format",
        "json",
    ]);
    let (stdout, stderr) = text(&out);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["orders"].as_array().unwrap().len(), 3);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr, "3 order(s) need action\n", "no bar on a pipe");
}
