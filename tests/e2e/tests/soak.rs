//! The fault soak's short form (`./infra/test.sh` runs it): a few dozen orders with whole lives,
//! with containers killed after their side effects, webhooks duplicated, delayed and
//! reordered, and BigCommerce and Oracle failing, must all end in the ledger exactly once.
//! The long form: `cargo run --release -p e2e --bin soak -- --orders 1000 --seed S`.
//! `MLC_SOAK_SEED` replays a seed here.

use e2e::soak::{Backend, SoakConfig, run};

/// The seed: `MLC_SOAK_SEED`, or the clock's.
fn seed() -> u64 {
    std::env::var("MLC_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        })
}

async fn soak(backend: Backend) {
    if std::env::var_os("MLC_SOAK_LOG").is_some() {
        common::telemetry::init_json_logs();
    }
    let seed = seed();
    println!("soak seed {seed} on {backend:?} (replay with MLC_SOAK_SEED={seed})");
    let report = run(SoakConfig::short(backend, seed)).await;
    println!("{}", report.summary());
    assert!(report.problems.is_empty(), "{}", report.summary());
    assert_eq!((report.duplicates, report.lost), (0, 0));
    // The soak proves something only if its faults fired.
    let crashes: u64 = report.crashes.values().sum();
    assert!(
        crashes >= 3,
        "too few deaths to mean anything: {}",
        report.summary()
    );
    assert!(
        report.faults.len() >= 5,
        "too few kinds of fault fired: {}",
        report.summary()
    );
    assert!(
        report.redeliveries > 0 && report.delayed > 0,
        "{}",
        report.summary()
    );
    assert!(report.journals >= report.orders, "{}", report.summary());
}

/// On the AWS adapters (DynamoDB, SQS, Secrets Manager on moto).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_aws_every_order_reaches_the_ledger_exactly_once_whatever_crashes_repeats_or_fails() {
    soak(Backend::Moto).await;
}

/// On the local adapters (SQLite state and queue), with more orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn locally_every_order_reaches_the_ledger_exactly_once_whatever_crashes_repeats_or_fails() {
    soak(Backend::Local).await;
}
