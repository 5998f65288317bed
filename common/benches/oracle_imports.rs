//! Oracle imports on the production submission path: postings recorded in a state store (SQLite
//! in memory), sent by `dispatch::submit_postings` as the poster sends them, and followed by
//! `tracker::track` rounds (as the poller runs them) until every posting has settled, against
//! the sandbox pod over HTTP. Run with `cargo bench -p common --bench oracle_imports`; it
//! prints its figures next to their targets.
//!
//! - 1,000 orders at a steady 10 orders per second with the default batching: the SQS event
//!   source of `template.yaml` (batching window 20 s, batch size 100) in front of the poster,
//!   and `posting.batch_size` 100 journals per import. Target: ≤ 10 imports per 1,000 orders.
//!   Arrivals and batching are simulated (no waiting for real seconds).
//! - 64 journals of which k are bad (a segment value Fusion's chart does not have): the import
//!   is refused and split in halves until each bad journal is alone. Target: 2·log2(64)+1 = 13
//!   imports for one bad journal, at most 2·k·log2(64)+1 for k.

#[path = "../tests/it/support/submit_rounds.rs"]
mod submit_rounds;

use std::time::{Duration, Instant};

use common::config::ConnectorConfig;
use common::journal::{Journal, JournalContext, build_sale};
use common::oracle::FusionSettings;
use common::posting::dispatch::SubmitSettings;
use common::state::StateName;
use sandbox::demo::seeded_pod;
use sandbox::oracle::{OraclePod, PodOptions};
use serde_json::json;
use submit_rounds::Desk;

const ORDERS: usize = 1_000;
const ORDERS_PER_SECOND: f64 = 10.0;
/// `MaximumBatchingWindowInSeconds` and `BatchSize` of the poster's SQS event in template.yaml.
const SQS_WINDOW_SECONDS: f64 = 20.0;
const SQS_BATCH_SIZE: usize = 100;
/// Journals in the import one bad journal must not hold back.
const GROUP: usize = 64;

struct World {
    pod: OraclePod,
    config: ConnectorConfig,
    template: serde_json::Value,
}

impl World {
    async fn start() -> Self {
        let pod = seeded_pod(PodOptions {
            job_phase: Duration::from_millis(5),
            ..PodOptions::default()
        })
        .await;
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
        Self {
            pod,
            config,
            template,
        }
    }

    fn desk(&self) -> Desk {
        Desk::new(
            self.config.clone(),
            FusionSettings::default(),
            SubmitSettings {
                import_timeout: Duration::from_secs(30),
            },
        )
    }

    /// The sale journals of orders `ids`, built from the example order.
    fn journals(&self, ids: impl Iterator<Item = usize>) -> Vec<Journal> {
        let ctx = JournalContext::new(&self.config, "us").unwrap();
        ids.map(|i| {
            let mut d = self.template.clone();
            d["order"]["id"] = json!(i);
            for p in d["products"].as_array_mut().unwrap() {
                p["order_id"] = json!(i);
            }
            for t in d["transactions"].as_array_mut().unwrap() {
                t["order_id"] = json!(i.to_string());
            }
            d["refunds"] = json!([]);
            build_sale(
                &ctx,
                &common::bigcommerce::OrderBundle::from_value(d).unwrap(),
            )
            .unwrap()
        })
        .collect()
    }
}

/// The SQS batches the poster is handed: order i arrives at i / rate seconds, and the event
/// source hands over a batch when it is full or when the window since its first message has
/// passed.
fn sqs_batches() -> Vec<Vec<usize>> {
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
    batches
}

/// 1,000 orders through the SQS batching; returns whether the target was met.
async fn steady_flow(world: &World) -> bool {
    let mut desk = world.desk();
    let imports_before = world.pod.imports();
    let started = Instant::now();
    let (mut posted, mut rounds, mut retried) = (0, 0, 0);
    for batch in sqs_batches() {
        let journals = world.journals(batch.iter().map(|i| 100_000 + i));
        let settled = desk.post(journals, Duration::from_secs(60)).await;
        retried += settled.first_round.passing.len();
        posted += settled.named(StateName::Posted).len();
        rounds += settled.track_rounds;
    }
    let elapsed = started.elapsed();
    let imports = desk.imports();
    let per_thousand = imports as f64 * 1000.0 / ORDERS as f64;
    println!(
        "{ORDERS} orders at {ORDERS_PER_SECOND}/s, SQS window {SQS_WINDOW_SECONDS} s, SQS batch {SQS_BATCH_SIZE}, posting.batch_size {}",
        world.config.posting.batch_size
    );
    println!(
        "  Oracle imports: {imports} ({per_thousand:.1} per 1,000 orders; target <= 10); {posted} posted, {retried} left for a retry; pod saw {} imports",
        world.pod.imports() - imports_before
    );
    println!(
        "  Fusion calls: {} ({:.2} per order, mostly each journal's read-back by name); {rounds} tracking rounds",
        desk.oracle.calls(),
        desk.oracle.calls() as f64 / ORDERS as f64
    );
    println!(
        "  wall time on loopback: {:.0} ms per import (job phases shortened to 5 ms)",
        elapsed.as_secs_f64() * 1e3 / imports.max(1) as f64
    );
    per_thousand <= 10.0 && posted == ORDERS && retried == 0
}

/// 64 journals with `bad` of them refused by Journal Import; returns whether the target was met.
async fn bad_among_64(world: &World, first_order: usize, bad: &[usize]) -> bool {
    let mut desk = world.desk();
    let mut journals = world.journals(first_order..first_order + GROUP);
    for &i in bad {
        journals[i].lines[0].segments[2] = "8888".into();
    }
    let settled = desk.post(journals, Duration::from_secs(120)).await;
    let imports = desk.imports();
    let log2 = GROUP.ilog2() as u64;
    let target = 2 * bad.len() as u64 * log2 + 1;
    let rejected = settled.named(StateName::Rejected).len();
    let posted = settled.named(StateName::Posted).len();
    println!(
        "{GROUP} journals with {} bad: {imports} imports (target <= {target}), {} splits, {posted} posted, {rejected} rejected; {} Fusion calls; {} tracking rounds",
        bad.len(),
        settled.splits,
        desk.oracle.calls(),
        settled.track_rounds
    );
    imports <= target && rejected == bad.len() && posted == GROUP - bad.len()
}

#[tokio::main]
async fn main() {
    let world = World::start().await;
    let steady = steady_flow(&world).await;
    let one = bad_among_64(&world, 200_000, &[37]).await;
    let two = bad_among_64(&world, 300_000, &[5, 50]).await;
    assert!(steady && one && two, "target missed");
}
