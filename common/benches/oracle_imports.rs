//! Oracle imports per 1,000 orders, at a steady 10 orders per second, with the default
//! batching: the SQS event source of `template.yaml` (batching window 20 s, batch size 100) in
//! front of the poster, and `posting.batch_size` 100 journals per import. Target: ≤ 10.
//! Run with `cargo bench -p common --bench oracle_imports`; it prints its figures.
//!
//! Arrivals and batching are simulated (no waiting for real seconds); every batch goes through
//! the real submission policy to the sandbox pod over HTTP.

use std::time::{Duration, Instant};

use common::config::ConnectorConfig;
use common::journal::{JournalContext, build_sale};
use common::oracle::{FusionClient, FusionSettings};
use common::posting::submit::{ClockGroupIds, SubmitSettings, post_journals};
use sandbox::oracle::{LedgerSpec, OraclePod, PodOptions};
use serde_json::json;

const ORDERS: usize = 1_000;
const ORDERS_PER_SECOND: f64 = 10.0;
/// `MaximumBatchingWindowInSeconds` and `BatchSize` of the poster's SQS event in template.yaml.
const SQS_WINDOW_SECONDS: f64 = 20.0;
const SQS_BATCH_SIZE: usize = 100;

#[tokio::main]
async fn main() {
    let pod = OraclePod::start(PodOptions {
        job_phase: Duration::from_millis(5),
        ..PodOptions::default()
    })
    .await;
    pod.add_ledger(
        LedgerSpec {
            id: 300000046975971,
            name: "NW US Primary".into(),
            currency: "USD".into(),
            allow_suspense: false,
        },
        2025..=2027,
    );
    pod.add_source("BigCommerce");
    pod.add_category("Sales");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/infra/examples/connector.json")).unwrap(),
    )
    .unwrap();
    doc["oracle"]["base_url"] = json!(pod.url());
    doc["oracle"]["auth"]["token_url"] = json!(pod.token_url());
    doc["oracle"]["auth"]["client_id"] = json!("pod-client");
    doc["oracle"]["auth"]["client_secret"] = json!("pod-secret");
    let config = ConnectorConfig::from_json(&doc.to_string(), "bench").unwrap();
    let template: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/infra/examples/orders/us-1001.json")).unwrap(),
    )
    .unwrap();
    let ctx = JournalContext::new(&config, "us").unwrap();

    // Order i arrives at i / rate seconds; the event source hands the poster a batch when it
    // is full or when the window since its first message has passed.
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut opened_at = 0.0;
    for i in 0..ORDERS {
        let t = i as f64 / ORDERS_PER_SECOND;
        if !current.is_empty() && t - opened_at >= SQS_WINDOW_SECONDS {
            batches.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            opened_at = t;
        }
        current.push(i);
        if current.len() == SQS_BATCH_SIZE {
            batches.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        batches.push(current);
    }

    let client = FusionClient::from_config(&config.oracle, FusionSettings::default()).unwrap();
    let settings = SubmitSettings {
        poll_interval: Duration::from_millis(5),
        import_timeout: Duration::from_secs(30),
        unknown_wait: Duration::from_secs(1),
    };
    let ids = ClockGroupIds::default();
    let started = Instant::now();
    let mut imports = 0;
    let mut posted = 0;
    for batch in &batches {
        let journals = batch
            .iter()
            .map(|i| {
                let mut d = template.clone();
                d["order"]["id"] = json!(100_000 + i);
                d["refunds"] = json!([]);
                build_sale(
                    &ctx,
                    &common::bigcommerce::OrderBundle::from_value(d).unwrap(),
                )
                .unwrap()
            })
            .collect();
        let report = post_journals(&client, &config, &settings, &ids, journals).await;
        imports += report.imports;
        posted += report
            .results
            .iter()
            .filter(|r| matches!(r.outcome, common::posting::submit::Outcome::Posted { .. }))
            .count();
    }
    let elapsed = started.elapsed();
    println!(
        "{ORDERS} orders at {ORDERS_PER_SECOND}/s, SQS window {SQS_WINDOW_SECONDS} s, SQS batch {SQS_BATCH_SIZE}, posting.batch_size {}",
        config.posting.batch_size
    );
    println!(
        "Oracle imports: {imports} ({:.1} per 1,000 orders; target <= 10); {posted} journals posted; pod saw {} imports and {} batches",
        imports as f64 * 1000.0 / ORDERS as f64,
        pod.imports(),
        pod.batches().len()
    );
    println!(
        "wall time on loopback: {:.0} ms per import (job phases shortened to 5 ms)",
        elapsed.as_secs_f64() * 1e3 / imports.max(1) as f64
    );
    assert!(
        imports as f64 * 1000.0 / ORDERS as f64 <= 10.0 && posted == ORDERS,
        "target missed"
    );
}
