//! `mlc demo`: the whole pipeline on this machine, against the sandbox BigCommerce store and
//! Oracle Fusion pod, with the example connector document. Orders are placed in the sandbox
//! store, its signed webhooks reach the local endpoint, the poster posts them as Journal
//! Imports to the sandbox pod, the poller tracks them to Posted; then a refund, a cancellation
//! and an edit follow. It prints the journals Oracle holds and one order's audit trail.
//!
//! Its state (the SQLite database, the document with the sandboxes' secrets) lives in a
//! scratch directory that is removed when the demo ends, done, failed or stopped with Ctrl-C,
//! unless `--state` names a directory to keep.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use common::adapters::local_queue::LocalQueue;
use common::adapters::secrets::FileSource;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::bigcommerce::ClientSettings;
use common::bigcommerce::api::RefundPolicy;
use common::config::ConnectorConfig;
use common::journal::PostingKind;
use common::oracle::FusionSettings;
use common::ports::{Ports, Queue, SecretSource, StateStore, SystemClock};
use common::posting::dispatch::SubmitSettings;
use common::posting::intake::FrontDoor;
use common::posting::poller::poll;
use common::posting::poster::drain_queue;
use common::posting::reconcile::{ReconcileReport, ReconcileRequest, reconcile};
use common::posting::services::{PipelineSettings, Services};
use common::state::{PostingKey, PostingRecord, PostingState, StateName};
use rust_decimal::Decimal;
use sandbox::bigcommerce::{BigCommerceSandbox, RefundItemSpec, RefundSpec, SandboxOptions};
use sandbox::demo::{HASH, document_for, seeded_pod, seeded_store, us_order};
use sandbox::oracle::{BatchView, OraclePod, PodOptions};

use crate::ReportFormat;
use crate::local::serve_webhooks;
use crate::trail::describe;

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
    /// Directory for the demo's state (SQLite database, the document it used), kept after the
    /// demo for `mlc audit` and `mlc replay`; without it, a scratch directory removed when
    /// the demo ends.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Output format: the story for people, or (json) a summary document on standard output
    /// with the story on standard error.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// Runs the demo in `--state` or in a scratch directory that is gone when this returns,
/// whether the demo finished, failed or was stopped with Ctrl-C.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let json = args.format == ReportFormat::Json;
    NARRATE_TO_STDERR.store(json, std::sync::atomic::Ordering::Relaxed);
    let scratch = match &args.state {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("mlc-demo-")
                .tempdir()
                .context("creating the demo's scratch directory")?,
        ),
    };
    let dir = match (&args.state, &scratch) {
        (Some(dir), _) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.clone()
        }
        (None, Some(scratch)) => scratch.path().to_path_buf(),
        (None, None) => unreachable!("a scratch directory is made when --state is absent"),
    };
    // Ctrl-C is listened for before the demo starts. Everything the demo holds (servers,
    // database) is dropped with its future, before the scratch directory is.
    tokio::select! {
        biased;
        _ = tokio::signal::ctrl_c() => bail!("mlc demo: interrupted"),
        done = walk_through(&dir, scratch.is_some(), json) => done,
    }
}

/// The demo from start to end, printed as it goes.
async fn walk_through(dir: &Path, scratch: bool, json: bool) -> anyhow::Result<()> {
    println!("ml-connector demo: BigCommerce orders into Oracle Fusion GL journals, exactly once.");
    println!(
        "Sandbox BigCommerce store and Oracle Fusion pod on this machine; nothing is sent anywhere else."
    );
    if scratch {
        println!(
            "State: {} (removed when the demo ends; --state DIR keeps it)\n",
            dir.display()
        );
    } else {
        println!("State: {}\n", dir.display());
    }
    let demo = Demo::start(dir).await?;
    demo.register_hooks().await;
    let orders = demo.place_orders().await?;
    let line = demo.refund_cancel_edit(&orders).await?;
    demo.cancel_after_refund(&orders, line).await?;

    let postings = demo.postings(&orders).await?;
    let batches: BTreeMap<String, BatchView> = demo
        .pod
        .batches()
        .into_iter()
        .map(|b| (b.name.clone(), b))
        .collect();
    print_journals(&postings, &batches);
    print_net_positions(&orders, &batches);
    demo.print_audit_trail(orders.b).await?;
    let report = demo.print_reconciliation().await?;
    let states = demo.print_summary(&postings);
    if json {
        let summary = serde_json::json!({
            "state": dir,
            "orders": {"us": [orders.a, orders.b, orders.c, orders.d, orders.p], "eu": [orders.e]},
            "postings": states,
            "bigcommerce_calls": demo.services.bigcommerce_calls(),
            "oracle_imports": demo.pod.imports(),
            "reconciliation": report,
        });
        std::println!("{summary:#}");
    }
    Ok(())
}

/// The demo's world: the two sandboxes, and the local pipeline working against them.
struct Demo {
    sb: BigCommerceSandbox,
    pod: OraclePod,
    services: Arc<Services>,
    store: Arc<dyn StateStore>,
    queue: Arc<LocalQueue>,
    webhook_url: String,
    /// The webhook endpoint, stopped with the demo.
    _server: AbortOnDrop,
}

/// A spawned task stopped when this is dropped (a plain `JoinHandle` lets it run on).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The orders the demo places, by the sandbox store's ids.
struct Orders {
    /// Two shirts and a skillet; stays as it is.
    a: u64,
    /// Two shirts: refunded one, cancelled, refunded the rest.
    b: u64,
    /// A skillet: cancelled.
    c: u64,
    /// A shirt, edited to three.
    d: u64,
    /// The EU storefront's, in EUR.
    e: u64,
    /// Not paid: nothing is posted.
    p: u64,
}

impl Orders {
    /// The paid orders, with their store ids.
    fn paid(&self) -> [(&'static str, u64); 5] {
        [
            ("us", self.a),
            ("us", self.b),
            ("us", self.c),
            ("us", self.d),
            ("eu", self.e),
        ]
    }

    /// Every order, with its store id.
    fn all(&self) -> [(&'static str, u64); 6] {
        let [a, b, c, d, e] = self.paid();
        [a, b, c, d, e, ("us", self.p)]
    }
}

impl Demo {
    /// Starts the sandboxes, writes the document pointed at them into `dir`, opens the state
    /// there, and serves the webhook endpoint.
    async fn start(dir: &Path) -> anyhow::Result<Demo> {
        // The demo's webhook receiver is plain HTTP on loopback, which BigCommerce would refuse.
        let sb = seeded_store(SandboxOptions::default().with_http_destinations()).await;
        let pod = seeded_pod(PodOptions {
            job_phase: Duration::from_millis(100),
            ..PodOptions::default()
        })
        .await;
        let source = write_document(dir, &sb, &pod)?;
        let config = source.connector_document().await?;

        let db_path = dir.join("state.db");
        let _ = std::fs::remove_file(&db_path);
        let db = SqliteDb::open(&db_path)?;
        let store: Arc<dyn StateStore> = Arc::new(SqliteStore::new(db.clone()));
        let queue = Arc::new(LocalQueue::new(db, "orders", 5));
        let door = FrontDoor::new(Ports {
            source: source.clone(),
            store: store.clone(),
            queue: queue.clone() as Arc<dyn Queue>,
            clock: Arc::new(SystemClock),
        });
        let (addr, server) = serve_webhooks("127.0.0.1:0".parse()?, door).await?;
        let webhook_url = format!("http://{addr}/webhooks");
        let services = connect(config, store.clone(), queue.clone(), &webhook_url)?;
        Ok(Demo {
            sb,
            pod,
            services: Arc::new(services),
            store,
            queue,
            webhook_url,
            _server: AbortOnDrop(server),
        })
    }

    /// Step 1: the poller's first sweep registers the store's webhooks.
    async fn register_hooks(&self) {
        let first = poll(&self.services).await;
        let hooks: usize = first.hooks.values().map(|c| c.created.len()).sum();
        println!(
            "1. The poller registered {hooks} webhooks on store {HASH}, delivering to {}.",
            self.webhook_url
        );
    }

    /// Step 2: six orders, five of them paid, posted as sales.
    async fn place_orders(&self) -> anyhow::Result<Orders> {
        let sb = &self.sb;
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
        let orders = Orders { a, b, c, d, e, p };
        let sales = orders.paid().map(|(s, o)| key(s, o, PostingKind::Sale));
        self.settle(&sales).await?;
        println!(
            "   Their webhooks were queued, the poster sent the five paid ones to Oracle, the poller saw them imported.\n   Order {p} is not paid: nothing is posted for it.",
        );
        Ok(orders)
    }

    /// Step 3: a refund of one shirt of `b`, `c` cancelled, `d` edited; returns the refunded
    /// line of `b`.
    async fn refund_cancel_edit(&self, o: &Orders) -> anyhow::Result<u64> {
        let bc = self.services.bigcommerce(HASH).context("store client")?;
        let line = bc.fetch_bundle(o.b, RefundPolicy::Never).await?.lines[0].id;
        let refund = self.sb.create_refund(
            HASH,
            o.b,
            RefundSpec {
                items: vec![RefundItemSpec::Product {
                    line_id: line,
                    quantity: 1,
                }],
                reason: "Wrong size".into(),
                ..RefundSpec::default()
            },
        );
        self.sb.set_status(HASH, o.c, 5);
        self.sb.edit_order(HASH, o.d, us_order(3, 0));
        println!(
            "3. Then: refund {refund} of one shirt on {}; order {} cancelled; order {} edited from 1 shirt to 3.",
            o.b, o.c, o.d
        );
        self.settle(&[
            key("us", o.b, PostingKind::Refund(refund)),
            key("us", o.c, PostingKind::REVERSAL),
            key("us", o.d, PostingKind::Adjustment(1)),
        ])
        .await?;
        println!(
            "   Posted as a refund mirroring the sale's accounts, a reversal that keeps the card's money owed\n   back to the shopper (refund due), and an adjustment for the difference."
        );
        Ok(line)
    }

    /// Step 4: order `b`'s whole life: cancelled with one shirt already refunded, then the
    /// rest (the other shirt on `line`, and the shipping) refunded.
    async fn cancel_after_refund(&self, o: &Orders, line: u64) -> anyhow::Result<()> {
        self.sb.set_status(HASH, o.b, 5);
        self.settle(&[key("us", o.b, PostingKind::REVERSAL)])
            .await?;
        let rest = self.sb.create_refund(
            HASH,
            o.b,
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
        self.settle(&[key("us", o.b, PostingKind::Refund(rest))])
            .await?;
        println!(
            "4. Order {} cancelled after that refund, then refund {rest} of the rest: the reversal moves what the\n   card still holds to refund due, and the refund clears it.\n",
            o.b
        );
        Ok(())
    }

    /// Drains and sweeps until every key is in a final state, or fails after 60 s.
    async fn settle(&self, keys: &[PostingKey]) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.sb.settle().await;
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

    /// Every posting the connector recorded for the orders.
    async fn postings(&self, orders: &Orders) -> anyhow::Result<Vec<PostingRecord>> {
        let mut postings = Vec::new();
        for (s, o) in orders.all() {
            postings.extend(self.store.postings_of(s, o).await?);
        }
        Ok(postings)
    }

    /// Order `order`'s audit trail, as `mlc audit` prints it.
    async fn print_audit_trail(&self, order: u64) -> anyhow::Result<()> {
        println!(
            "\nAudit trail of order {order} (who did what, with the ids that tie it to BigCommerce and Oracle):"
        );
        for event in self.store.audit_of_order("us", order).await? {
            println!("  {}", describe(&event));
        }
        Ok(())
    }

    /// Step 5, the month-end question asked of today's orders: BigCommerce fetched fresh,
    /// against what the connector recorded and what the pod holds.
    async fn print_reconciliation(&self) -> anyhow::Result<ReconcileReport> {
        let today = chrono::Utc::now();
        let report = reconcile(
            &self.services,
            &ReconcileRequest {
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
        Ok(report)
    }

    /// The postings by state, and what the demo cost in calls; gives the counts by state.
    fn print_summary(&self, postings: &[PostingRecord]) -> BTreeMap<&'static str, usize> {
        let states = postings
            .iter()
            .fold(BTreeMap::<&str, usize>::new(), |mut m, p| {
                *m.entry(p.state.name().as_str()).or_default() += 1;
                m
            });
        println!(
            "\nPostings: {states:?}; BigCommerce calls: {}; Oracle imports: {}.",
            self.services.bigcommerce_calls(),
            self.pod.imports()
        );
        println!(
            "Try `mlc preview --config infra/examples/connector.json --order-file infra/examples/orders/us-1001.json --format text` to see how one order is mapped."
        );
        states
    }
}

/// The example document pointed at the sandboxes, written owner-only into `dir`, as the
/// source the pipeline reads.
fn write_document(
    dir: &Path,
    sb: &BigCommerceSandbox,
    pod: &OraclePod,
) -> anyhow::Result<Arc<dyn SecretSource>> {
    let example: serde_json::Value =
        serde_json::from_str(EXAMPLE).context("the built-in example document")?;
    let doc_path = dir.join("connector.json");
    write_owner_only(
        &doc_path,
        &serde_json::to_string_pretty(&document_for(&example, sb, pod))?,
    )
    .with_context(|| format!("writing {}", doc_path.display()))?;
    Ok(Arc::new(FileSource::new(&doc_path)))
}

/// The pipeline's services, with the tracker polling fast enough for a demo and the hooks
/// pointed at the local endpoint.
fn connect(
    config: Arc<ConnectorConfig>,
    store: Arc<dyn StateStore>,
    queue: Arc<LocalQueue>,
    webhook_url: &str,
) -> anyhow::Result<Services> {
    let mut settings = PipelineSettings::for_config(&config);
    settings.submit = SubmitSettings {
        import_timeout: Duration::from_secs(20),
    };
    settings.webhook_url = Some(webhook_url.to_string());
    Ok(Services::connect(
        config,
        store,
        queue,
        Arc::new(SystemClock),
        settings,
        ClientSettings::default(),
        FusionSettings::default(),
    )?)
}

/// What Oracle holds, by batch, from the pod itself: each posting's journal lines as imported.
fn print_journals(postings: &[PostingRecord], batches: &BTreeMap<String, BatchView>) {
    println!("Journals in Oracle (the sandbox pod), as imported:");
    for posting in postings {
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
}

/// What the ledger holds for each paid order, per account: the pod's lines netted, as a
/// controller reads an order's position.
fn print_net_positions(orders: &Orders, batches: &BTreeMap<String, BatchView>) {
    println!("\nWhat the ledger holds for each order, per account (the pod's lines netted):");
    for (s, o) in orders.paid() {
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
fn write_owner_only(path: &Path, text: &str) -> std::io::Result<()> {
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
