//! `mlc demo`: the whole pipeline on this machine, against the sandbox BigCommerce store and
//! Oracle Fusion pod, with the example connector document. Orders are placed in the sandbox
//! store, its signed webhooks reach the local endpoint, the poster posts them as Journal
//! Imports to the sandbox pod, the poller tracks them to Posted; then a refund, a cancellation
//! and an edit follow. It prints the journals Oracle holds and one order's audit trail.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use common::adapters::local_queue::LocalQueue;
use common::adapters::secrets::FileSource;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::bigcommerce::ClientSettings;
use common::bigcommerce::api::RefundPolicy;
use common::journal::PostingKind;
use common::oracle::FusionSettings;
use common::ports::{Queue, SecretSource, StateStore, SystemClock};
use common::posting::services::{PipelineSettings, Services};
use common::posting::submit::SubmitSettings;
use common::state::{PostingKey, PostingRecord, PostingState, StateName};
use rust_decimal::Decimal;
use sandbox::bigcommerce::{RefundItemSpec, RefundSpec, SandboxOptions};
use sandbox::demo::{HASH, document_for, seeded_pod, seeded_store, us_order};
use sandbox::oracle::PodOptions;

use common::posting::poller::poll;
use common::posting::poster::drain_queue;

use crate::ReportFormat;
use crate::audit::describe;
use crate::local::{Endpoint, serve_webhooks};

/// Whether the narration goes to standard error: under `--format json` standard output holds
/// the summary document alone.
static NARRATE_TO_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

// The story is told with `println!`/`print!`; in this file they narrate where
// [`NARRATE_TO_STDERR`] says, so the story reads as it prints.
macro_rules! println {
    ($($arg:tt)*) => {
        if NARRATE_TO_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
            std::eprintln!($($arg)*)
        } else {
            std::println!($($arg)*)
        }
    };
}
macro_rules! print {
    ($($arg:tt)*) => {
        if NARRATE_TO_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
            std::eprint!($($arg)*)
        } else {
            std::print!($($arg)*)
        }
    };
}

/// The example document, built in, so the demo runs from anywhere.
const EXAMPLE: &str = include_str!("../../examples/connector.json");

/// Options of `mlc demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Directory for the demo's state (SQLite database, the document it used); a new
    /// temporary directory when absent.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Output format: the story for people, or (json) a summary document on standard output
    /// with the story on standard error.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

struct Demo {
    services: Arc<Services>,
    store: Arc<dyn StateStore>,
    queue: Arc<LocalQueue>,
}

impl Demo {
    /// Drains and sweeps until every key is in a final state, or fails after 60 s.
    async fn settle(
        &self,
        sb: &sandbox::bigcommerce::BigCommerceSandbox,
        keys: &[PostingKey],
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            sb.settle().await;
            drain_queue(&self.services, self.queue.as_ref(), Duration::from_secs(1)).await?;
            let mut done = true;
            for key in keys {
                let state = self.store.posting(key).await?.map(|p| p.state.name());
                done &= matches!(
                    state,
                    Some(StateName::Posted | StateName::Rejected | StateName::Held)
                );
            }
            if done {
                return Ok(());
            }
            poll(&self.services).await;
            if Instant::now() > deadline {
                bail!("the demo's postings did not settle within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn key(store: &str, order_id: u64, posting: PostingKind) -> PostingKey {
    PostingKey {
        store: store.into(),
        order_id,
        posting,
    }
}

fn money(d: Decimal) -> String {
    if d.is_zero() {
        String::new()
    } else {
        format!("{:.2}", d)
    }
}

/// Writes a document that holds secrets so that only its owner can read it (0600 on unix). A
/// file left by an earlier run keeps its mode when written over, so the mode is set on the
/// open file, before the secrets go in.
fn write_owner_only(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    NARRATE_TO_STDERR.store(
        args.format == ReportFormat::Json,
        std::sync::atomic::Ordering::Relaxed,
    );
    let dir = match args.state {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("mlc-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    println!("ml-connector demo: BigCommerce orders into Oracle Fusion GL journals, exactly once.");
    println!(
        "Sandbox BigCommerce store and Oracle Fusion pod on this machine; nothing is sent anywhere else."
    );
    println!("State: {}\n", dir.display());

    // The demo's webhook receiver is plain HTTP on loopback, which BigCommerce would refuse.
    let sb = seeded_store(SandboxOptions::default().with_http_destinations()).await;
    let pod = seeded_pod(PodOptions {
        job_phase: Duration::from_millis(100),
        ..PodOptions::default()
    })
    .await;
    let example: serde_json::Value =
        serde_json::from_str(EXAMPLE).context("the built-in example document")?;
    let doc_path = dir.join("connector.json");
    write_owner_only(
        &doc_path,
        &serde_json::to_string_pretty(&document_for(&example, &sb, &pod))?,
    )
    .with_context(|| format!("writing {}", doc_path.display()))?;
    let source: Arc<dyn SecretSource> = Arc::new(FileSource::new(&doc_path));
    let config = source.connector_document().await?;

    let db_path = dir.join("state.db");
    let _ = std::fs::remove_file(&db_path);
    let db = SqliteDb::open(&db_path)?;
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::new(db.clone()));
    let queue = Arc::new(LocalQueue::new(db, "orders", 5));
    let clock = Arc::new(SystemClock);
    let endpoint = Endpoint {
        source: source.clone(),
        store: store.clone(),
        queue: queue.clone() as Arc<dyn Queue>,
        clock: clock.clone(),
    };
    let (addr, server) = serve_webhooks("127.0.0.1:0".parse()?, endpoint).await?;
    let webhook_url = format!("http://{addr}/webhooks");

    let mut settings = PipelineSettings::for_config(&config);
    settings.submit = SubmitSettings {
        poll_interval: Duration::from_millis(50),
        import_timeout: Duration::from_secs(20),
        unknown_wait: Duration::from_secs(1),
    };
    settings.webhook_url = Some(webhook_url.clone());
    let services = Arc::new(Services::connect(
        config.clone(),
        store.clone(),
        queue.clone(),
        clock,
        settings,
        ClientSettings::default(),
        FusionSettings::default(),
    )?);
    let demo = Demo {
        services: services.clone(),
        store: store.clone(),
        queue,
    };

    let first = poll(&services).await;
    let hooks: usize = first.hooks.values().map(|c| c.created.len()).sum();
    println!(
        "1. The poller registered {hooks} webhooks on store {HASH}, delivering to {webhook_url}."
    );

    let a = sb.create_order(HASH, us_order(2, 1));
    let b = sb.create_order(HASH, us_order(2, 0));
    let c = sb.create_order(HASH, us_order(0, 1));
    let d = sb.create_order(HASH, us_order(1, 0));
    let mut eu_spec = us_order(1, 1);
    eu_spec.channel_id = 2;
    eu_spec.currency = "EUR".into();
    eu_spec.tax_rate = Decimal::new(19, 2);
    let e = sb.create_order(HASH, eu_spec);
    let mut pending = us_order(1, 0);
    pending.status_id = 1;
    let p = sb.create_order(HASH, pending);
    println!(
        "2. Six orders placed: US {a}, {b}, {c}, {d}; EU {e} (EUR, EU storefront); {p} pending payment."
    );
    let sales = [("us", a), ("us", b), ("us", c), ("us", d), ("eu", e)]
        .map(|(s, o)| key(s, o, PostingKind::Sale));
    demo.settle(&sb, &sales).await?;
    println!(
        "   Their webhooks were queued, the poster sent the five paid ones to Oracle, the poller saw them imported.\n   Order {p} is not paid: nothing is posted for it.",
    );

    let bc = services.bigcommerce(HASH).context("store client")?;
    let line = bc.fetch_bundle(b, RefundPolicy::Never).await?.lines[0].id;
    let refund = sb.create_refund(
        HASH,
        b,
        RefundSpec {
            items: vec![RefundItemSpec::Product {
                line_id: line,
                quantity: 1,
            }],
            reason: "Wrong size".into(),
            ..RefundSpec::default()
        },
    );
    sb.set_status(HASH, c, 5);
    sb.edit_order(HASH, d, us_order(3, 0));
    println!(
        "3. Then: refund {refund} of one shirt on {b}; order {c} cancelled; order {d} edited from 1 shirt to 3."
    );
    let follow = [
        key("us", b, PostingKind::Refund(refund)),
        key("us", c, PostingKind::REVERSAL),
        key("us", d, PostingKind::Adjustment(1)),
    ];
    demo.settle(&sb, &follow).await?;
    println!(
        "   Posted as a refund mirroring the sale's accounts, a reversal that keeps the card's money owed\n   back to the shopper (refund due), and an adjustment for the difference."
    );
    // Order b's whole life: cancelled with one shirt already refunded, then the rest refunded.
    sb.set_status(HASH, b, 5);
    demo.settle(&sb, &[key("us", b, PostingKind::REVERSAL)])
        .await?;
    let rest = sb.create_refund(
        HASH,
        b,
        RefundSpec {
            items: vec![
                RefundItemSpec::Product {
                    line_id: line,
                    quantity: 1,
                },
                RefundItemSpec::Shipping {
                    amount: Decimal::new(500, 2),
                },
            ],
            reason: "Order cancelled".into(),
            ..RefundSpec::default()
        },
    );
    demo.settle(&sb, &[key("us", b, PostingKind::Refund(rest))])
        .await?;
    println!(
        "4. Order {b} cancelled after that refund, then refund {rest} of the rest: the reversal moves what the\n   card still holds to refund due, and the refund clears it.\n"
    );

    // What Oracle holds, by batch, from the pod itself.
    let mut postings: Vec<PostingRecord> = Vec::new();
    for (s, o) in [
        ("us", a),
        ("us", b),
        ("us", c),
        ("us", d),
        ("eu", e),
        ("us", p),
    ] {
        postings.extend(store.postings_of(s, o).await?);
    }
    let batches: BTreeMap<String, sandbox::oracle::BatchView> = pod
        .batches()
        .into_iter()
        .map(|b| (b.name.clone(), b))
        .collect();
    println!("Journals in Oracle (the sandbox pod), as imported:");
    for posting in &postings {
        let PostingState::Posted { batch_id, .. } = posting.state else {
            println!("  {} is {}", posting.key, posting.state.name());
            continue;
        };
        let j = &posting.journal;
        println!(
            "  {}  ledger {}  {}  batch {batch_id}",
            j.batch_name, j.ledger, j.currency
        );
        let Some(view) = batches
            .iter()
            .find(|(name, _)| name.starts_with(&j.batch_name))
            .map(|(_, v)| v)
        else {
            continue;
        };
        for (_, lines) in &view.journals {
            for (account, dr, cr) in lines {
                println!("      {account:<24} {:>10} {:>10}", money(*dr), money(*cr));
            }
        }
    }
    println!("\nWhat the ledger holds for each order, per account (the pod's lines netted):");
    for (s, o) in [("us", a), ("us", b), ("us", c), ("us", d), ("eu", e)] {
        let prefix = common::journal::batch_name_prefix(s, o);
        let mut net: BTreeMap<String, Decimal> = BTreeMap::new();
        for view in batches.values().filter(|v| v.name.starts_with(&prefix)) {
            for (_, lines) in &view.journals {
                for (account, dr, cr) in lines {
                    *net.entry(account.clone()).or_default() += *dr - *cr;
                }
            }
        }
        net.retain(|_, v| !v.is_zero());
        let shown: Vec<String> = net
            .iter()
            .map(|(a, v)| format!("{a} {}", money(*v)))
            .collect();
        println!(
            "  {s}/{o}: {}",
            if shown.is_empty() {
                "nothing (every account nets to zero)".to_string()
            } else {
                shown.join(", ")
            }
        );
    }
    println!(
        "\nAudit trail of order {b} (who did what, with the ids that tie it to BigCommerce and Oracle):"
    );
    for event in store.audit_of_order("us", b).await? {
        println!("  {}", describe(&event));
    }
    // The month-end question, asked of today's orders: BigCommerce fetched fresh, against
    // what the connector recorded and what the pod holds.
    let today = chrono::Utc::now();
    let report = common::posting::reconcile::reconcile(
        &services,
        &common::posting::reconcile::ReconcileRequest {
            store: None,
            from: today - chrono::Duration::days(1),
            to: today + chrono::Duration::days(1),
            select: Default::default(),
            check_ledger: true,
            fix: None,
        },
    )
    .await?;
    println!(
        "\n5. `mlc reconcile` for today: {}",
        if report.is_clean() {
            "everything ties out."
        } else {
            "something needs action!"
        }
    );
    print!("{}", crate::reconcile::render(&report));
    let states = postings
        .iter()
        .fold(BTreeMap::<&str, usize>::new(), |mut m, p| {
            *m.entry(p.state.name().as_str()).or_default() += 1;
            m
        });
    println!(
        "\nPostings: {states:?}; BigCommerce calls: {}; Oracle imports: {}.",
        services.bigcommerce_calls(),
        pod.imports()
    );
    println!(
        "Try `mlc preview --config infra/examples/connector.json --order-file infra/examples/orders/us-1001.json --format text` to see how one order is mapped."
    );
    if args.format == ReportFormat::Json {
        let summary = serde_json::json!({
            "state": dir,
            "orders": {"us": [a, b, c, d, p], "eu": [e]},
            "postings": states,
            "bigcommerce_calls": services.bigcommerce_calls(),
            "oracle_imports": pod.imports(),
            "reconciliation": report,
        });
        std::println!("{summary:#}");
    }
    server.abort();
    Ok(())
}
