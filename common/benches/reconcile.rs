//! Reconciliation of a period on the sandbox store and pod: orders per second and calls per
//! order, BigCommerce and Oracle. Run with `cargo bench -p common --bench reconcile`; it prints
//! its figures.
//!
//! The orders are first posted by the pipeline itself (poster on the local queue, the poller's
//! sweep and tracker), so the reconciliation meets what production would: a posting per order,
//! each with its batch in the pod. The store's quota is lifted: this measures the work, not
//! BigCommerce's pacing (at a standard plan's quota the BigCommerce calls set the pace).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::adapters::local_queue::LocalQueue;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::bigcommerce::{BigCommerceClient, ClientSettings};
use common::config::ConnectorConfig;
use common::oracle::{FusionClient, FusionSettings};
use common::ports::{BigCommerceApi, SystemClock};
use common::posting::dispatch::SubmitSettings;
use common::posting::group_ids::ClockGroupIds;
use common::posting::poller::poll;
use common::posting::poster::drain_queue;
use common::posting::reconcile::{ReconcileRequest, Selection, Standing, reconcile};
use common::posting::services::{PipelineSettings, Services};
use sandbox::bigcommerce::SandboxOptions;
use sandbox::demo::{HASH, document_for, seeded_pod, seeded_store, us_order};
use sandbox::oracle::PodOptions;

const ORDERS: u64 = 300;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sb = seeded_store(SandboxOptions {
        quota: 1_000_000,
        window: Duration::from_secs(30),
        ..SandboxOptions::default()
    })
    .await;
    let pod = seeded_pod(PodOptions::default()).await;
    let example: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../infra/examples/connector.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let doc = document_for(&example, &sb, &pod);
    let config = Arc::new(ConnectorConfig::from_json(&doc.to_string(), "bench").unwrap());
    let mut settings = PipelineSettings::for_config(&config);
    settings.submit = SubmitSettings {
        import_timeout: Duration::from_secs(30),
    };
    let bc = Arc::new(
        BigCommerceClient::for_store(&config.stores[0], ClientSettings::default()).unwrap(),
    );
    let oracle =
        Arc::new(FusionClient::from_config(&config.oracle, FusionSettings::default()).unwrap());
    let db = SqliteDb::in_memory().unwrap();
    let svc = Services::new(
        config,
        Arc::new(SqliteStore::new(db.clone())),
        Arc::new(LocalQueue::new(db, "orders", 5)),
        Arc::new(SystemClock),
        oracle,
        Arc::new(ClockGroupIds::default()),
        BTreeMap::from([(HASH.to_string(), bc.clone() as Arc<dyn BigCommerceApi>)]),
        settings,
    );

    for n in 0..ORDERS {
        sb.create_order(HASH, us_order(1 + n % 3, n % 2));
    }
    let started = Instant::now();
    loop {
        drain_queue(&svc, svc.queue.as_ref(), Duration::from_secs(5))
            .await
            .unwrap();
        poll(&svc).await;
        if pod.batches().len() as u64 >= ORDERS {
            // One more round for the tracker to mark the last ones Posted.
            tokio::time::sleep(Duration::from_millis(100)).await;
            poll(&svc).await;
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the pipeline did not post them"
        );
    }
    let posting_time = started.elapsed();

    let request = ReconcileRequest {
        store: Some("us".into()),
        from: Utc::now() - chrono::Duration::hours(1),
        to: Utc::now() + chrono::Duration::hours(1),
        select: Selection::Created,
        check_ledger: true,
        fix: None,
    };
    let bc_before = bc.calls();
    let pod_before = pod.requests().len();
    let started = Instant::now();
    let report = reconcile(&svc, &request).await.unwrap();
    let elapsed = started.elapsed();
    let bc_calls = bc.calls() - bc_before;
    let oracle_calls = pod.requests().len() - pod_before;
    assert_eq!(report.orders.len() as u64, ORDERS);
    assert_eq!(
        report.counts.get(&Standing::Matched),
        Some(&(ORDERS as usize)),
        "{:?}",
        report.counts
    );

    println!(
        "reconcile: {ORDERS} orders, each posted (pipeline took {:.1} s)",
        posting_time.as_secs_f64()
    );
    println!(
        "  {:.2} s, {:.0} orders/s",
        elapsed.as_secs_f64(),
        ORDERS as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  BigCommerce calls per order {:.2}; Oracle calls per order {:.2}",
        bc_calls as f64 / ORDERS as f64,
        oracle_calls as f64 / ORDERS as f64
    );
}
