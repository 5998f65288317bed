//! The fault soak: orders with whole lives (edits, shipping, refunds, cancellations) flow through
//! the three functions' real handlers, on moto and the sandboxes, with several poster, poller
//! and webhook containers at once, while a seeded schedule kills containers after their side
//! effects, duplicates, delays and reorders webhooks, and makes BigCommerce and Oracle fail.
//! Then it settles, and checks what finance is promised: every order in the ledger exactly as
//! its life implies, none twice, none missing, nothing unexplained left behind.
//!
//! The seed fixes the orders, their lives and every random choice of each worker's stream;
//! thread timing is not reproduced, so a failing seed replays the same schedule, not the same
//! interleaving.

pub mod chaos;
pub mod lives;
pub mod rng;
pub mod serial;
mod verify;
mod workers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use std::path::PathBuf;

use common::adapters::aws::{LambdaEnv, SdkConfig, local, ports, queue_with_dead_letters};
use common::adapters::local_queue::LocalQueue;
use common::adapters::secrets::FileSource;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::ports::{Ports, Queue, StateStore, SystemClock};
use common::posting::services::ServicesCache;
use common::state::{ImportState, StateName};
use sandbox::bigcommerce::{BigCommerceSandbox, SandboxOptions};
use sandbox::oracle::{OraclePod, PodOptions};

use crate::{aws_endpoint, aws_resources, document_for, example_document, quick_settings};
use crate::{seeded_pod, seeded_store};
use chaos::{Chaos, CrashPoint};
use workers::{Faults, Inbox};

/// Where the state, the queue and the document live. The three functions' handlers are the
/// same either way; only the adapters under them change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// DynamoDB, SQS and Secrets Manager on moto server (`MLC_AWS_ENDPOINT`): the AWS adapters.
    Moto,
    /// SQLite state and queue and a document file, as `mlc serve` runs. moto's DynamoDB costs
    /// time in proportion to the table on every request, so a thousand orders on it take hours;
    /// the long runs use this.
    Local,
}

/// Deliveries of an orders message before it is dead-lettered (the template's
/// `MaxReceiveCount` default).
const MAX_RECEIVES: u32 = 5;

/// The resources of a backend.
pub(crate) enum Infra {
    Moto { sdk: Box<SdkConfig>, env: LambdaEnv },
    Local { db: SqliteDb, document: PathBuf },
}

/// How hard and how long.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Which adapters.
    pub backend: Backend,
    /// Orders placed.
    pub orders: usize,
    /// The seed of everything random.
    pub seed: u64,
    /// Poster containers at once (the template's `PosterMaxConcurrency` default is 5).
    pub posters: usize,
    /// Poller containers at once (the template reserves one, so sweeps never overlap).
    pub pollers: usize,
    /// Webhook containers at once.
    pub webhook_workers: usize,
    /// Probability of dying at each crash point reached.
    pub crash_rate: f64,
    /// Probability, every 100 ms, of injecting a BigCommerce or Oracle fault.
    pub fault_rate: f64,
    /// Probability that a delivery is sent twice.
    pub duplicate_rate: f64,
    /// Probability that a delivery is held back (up to 3 s), so later ones overtake it.
    pub delay_rate: f64,
    /// Time between two orders being placed.
    pub spacing: Duration,
    /// SQS visibility timeout the posters receive with (short, so redeliveries happen).
    pub visibility: Duration,
    /// How long deaths and faults go on after the last change to an order, at most (they stop
    /// sooner when everything in flight has settled).
    pub chaos_tail: Duration,
}

impl SoakConfig {
    /// The form `./infra/test.sh` runs: a few minutes on 2 cores.
    pub fn short(backend: Backend, seed: u64) -> Self {
        Self {
            orders: match backend {
                Backend::Moto => 30,
                Backend::Local => 150,
            },
            ..Self::long(backend, 1000, seed)
        }
    }

    /// `orders` orders at the usual fault rates.
    pub fn long(backend: Backend, orders: usize, seed: u64) -> Self {
        Self {
            backend,
            orders,
            seed,
            posters: 5,
            pollers: 1,
            webhook_workers: 4,
            crash_rate: 0.03,
            fault_rate: 0.25,
            duplicate_rate: 0.15,
            delay_rate: 0.2,
            spacing: Duration::from_millis(40),
            visibility: Duration::from_secs(4),
            chaos_tail: Duration::from_secs(20).max(Duration::from_millis(40) * orders as u32 * 3),
        }
    }
}

/// What a soak did and found.
#[derive(Debug, Default)]
pub struct SoakReport {
    /// The seed.
    pub seed: u64,
    /// Orders placed.
    pub orders: usize,
    /// Changes made to them after placing (edits, statuses, refunds, cancellations).
    pub changes: usize,
    /// Refunds made.
    pub refunds: usize,
    /// Orders cancelled.
    pub cancelled: usize,
    /// Webhook deliveries BigCommerce sent.
    pub deliveries: u64,
    /// Deliveries sent again (duplicates, plus retries after a failed or crashed attempt).
    pub redeliveries: u64,
    /// Deliveries held back and overtaken.
    pub delayed: u64,
    /// Faults injected into BigCommerce and Oracle, by kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// Containers killed, by crash point.
    pub crashes: BTreeMap<&'static str, u64>,
    /// Journals in the ledger.
    pub journals: usize,
    /// Journal Import runs.
    pub imports: usize,
    /// Postings held or rejected by an injected fault, then replayed by the operator.
    pub replayed: Vec<String>,
    /// Messages in the dead-letter queue, each explained by its order's audit.
    pub dead_letters: usize,
    /// Journals in the ledger more than once.
    pub duplicates: usize,
    /// Journals a life implies that the ledger lacks.
    pub lost: usize,
    /// State-store requests, and the time the store spent answering them.
    pub store_usage: serial::Usage,
    /// How long it took.
    pub elapsed: Duration,
    /// What is wrong (empty when the soak passes).
    pub problems: Vec<String>,
}

impl SoakReport {
    /// The figures, one per line, for the README and the test log.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "soak seed {}: {} orders ({} changes after placing, {} refunds, {} cancelled) in {:.0} s\n",
            self.seed,
            self.orders,
            self.changes,
            self.refunds,
            self.cancelled,
            self.elapsed.as_secs_f64()
        );
        out += &format!(
            "  webhooks: {} sent by the store, {} sent again, {} held back and overtaken\n",
            self.deliveries, self.redeliveries, self.delayed
        );
        for (kind, n) in &self.faults {
            out += &format!("  fault  {kind:<48} {n:>5}\n");
        }
        for (point, n) in &self.crashes {
            out += &format!("  killed {point:<48} {n:>5}\n");
        }
        out += &format!(
            "  ledger: {} journals in {} imports; replayed by the operator after injected refusals: {}; dead letters: {} (each explained)\n",
            self.journals,
            self.imports,
            self.replayed.len(),
            self.dead_letters
        );
        out += &format!(
            "  state store: {} requests, {:.1} ms each on average\n",
            self.store_usage.requests,
            self.store_usage.busy.as_secs_f64() * 1000.0 / self.store_usage.requests.max(1) as f64
        );
        out += &format!(
            "  duplicates {}, lost {}, problems {}\n",
            self.duplicates,
            self.lost,
            self.problems.len()
        );
        for p in &self.problems {
            out += &format!("  PROBLEM: {p}\n");
        }
        out
    }
}

/// Everything the workers share.
pub(crate) struct Rig {
    pub cfg: SoakConfig,
    pub sb: BigCommerceSandbox,
    pub pod: OraclePod,
    pub infra: Infra,
    /// Where hooks deliver (the soak's network).
    pub webhook_url: String,
    /// Metrics namespace of the functions.
    pub namespace: String,
    pub chaos: Arc<Chaos>,
    pub inbox: Arc<Inbox>,
    pub faults: Faults,
    /// Workers stop when set.
    pub stop: AtomicBool,
    /// The last time a poster received anything.
    pub last_work: std::sync::Mutex<Instant>,
    /// Sweeps finished since the last reset.
    pub sweeps: std::sync::atomic::AtomicU64,
    /// One state-store request at a time (see [`serial`]).
    pub store_lock: Arc<tokio::sync::Mutex<serial::Usage>>,
}

impl Rig {
    /// A container's ports, its state store one request at a time with everyone else's.
    pub fn ports(&self) -> Ports {
        let mut ports = match &self.infra {
            Infra::Moto { sdk, env } => ports(env, sdk),
            Infra::Local { db, document } => Ports {
                source: Arc::new(FileSource::new(document.clone())),
                store: Arc::new(SqliteStore::new(db.clone())),
                queue: Arc::new(LocalQueue::new(db.clone(), "orders", MAX_RECEIVES)),
                clock: Arc::new(SystemClock),
            },
        };
        ports.store = Arc::new(serial::OneAtATime {
            inner: ports.store,
            lock: self.store_lock.clone(),
        });
        ports
    }

    /// A services cache over ports whose deaths `chaos` decides.
    pub fn services(&self, chaos: &Arc<chaos::WorkerChaos>) -> ServicesCache {
        let ports = self.ports();
        let store: Arc<dyn StateStore> = Arc::new(chaos::ChaosStore {
            inner: ports.store,
            chaos: chaos.clone(),
        });
        let queue = Arc::new(chaos::ChaosQueue {
            inner: ports.queue,
            chaos: chaos.clone(),
        });
        let url = Some(self.webhook_url.clone());
        let requeue = Duration::from_secs(6);
        let (bc, fusion) = workers::soak_clients();
        let ports = Ports {
            store,
            queue,
            ..ports
        };
        ServicesCache::new(ports, move |c| {
            let mut s = quick_settings(c, url.clone());
            s.requeue_after = requeue;
            s
        })
        .with_client_settings(bc, fusion)
    }

    /// The orders queue as an operator sees it, dead letters included.
    pub async fn queue_with_dead_letters(&self) -> Result<Arc<dyn Queue>, String> {
        match &self.infra {
            Infra::Moto { sdk, env } => queue_with_dead_letters(env, sdk)
                .await
                .map(|q| Arc::new(q) as Arc<dyn Queue>)
                .map_err(|e| e.to_string()),
            Infra::Local { db, .. } => Ok(Arc::new(LocalQueue::new(
                db.clone(),
                "orders",
                MAX_RECEIVES,
            ))),
        }
    }

    fn plain_store(&self) -> Arc<dyn StateStore> {
        self.ports().store
    }
}

/// Runs a soak; the report's `problems` say what failed.
pub async fn run(cfg: SoakConfig) -> SoakReport {
    let started = Instant::now();
    let sb = seeded_store(SandboxOptions {
        // BigCommerce's window is 30 s; a second here, so a 429 storm with headers (which
        // makes the client wait for the window's reset) costs seconds, not minutes.
        quota: 1_000_000,
        window: Duration::from_secs(1),
        allow_http_destinations: true,
        ..SandboxOptions::default()
    })
    .await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&example_document(), &sb, &pod);
    let inbox = Inbox::new(cfg.seed, cfg.delay_rate);
    let webhook_url = inbox.clone().serve().await;
    let namespace = "MlConnector/soak".to_string();
    let infra = match cfg.backend {
        Backend::Moto => {
            let sdk = local(&aws_endpoint()).await;
            let (table, queue, secret) = aws_resources(&sdk, &doc, "soak").await;
            let env = LambdaEnv {
                config_secret: secret,
                table,
                queue_url: queue.url().to_string(),
                metrics_namespace: namespace.clone(),
                webhook_url: Some(webhook_url.clone()),
            };
            Infra::Moto {
                sdk: Box::new(sdk),
                env,
            }
        }
        Backend::Local => {
            let document =
                std::env::temp_dir().join(format!("{}.json", crate::unique("soak-document")));
            std::fs::write(&document, doc.to_string()).expect("the soak's document file");
            Infra::Local {
                db: SqliteDb::in_memory().expect("an in-memory database"),
                document,
            }
        }
    };
    let rig = Arc::new(Rig {
        chaos: Chaos::new(cfg.seed, cfg.crash_rate),
        faults: Faults::default(),
        cfg: cfg.clone(),
        sb,
        pod,
        infra,
        webhook_url,
        namespace,
        inbox,
        stop: AtomicBool::new(false),
        last_work: std::sync::Mutex::new(Instant::now()),
        sweeps: Default::default(),
        store_lock: Arc::new(tokio::sync::Mutex::new(serial::Usage::default())),
    });
    let mut report = SoakReport {
        seed: cfg.seed,
        orders: cfg.orders,
        ..SoakReport::default()
    };

    // The first sweep makes the hooks, before any order is placed (a new hook that missed the
    // first orders would only make the poller do the work).
    let first = workers::first_sweep(&rig).await;
    if let Err(e) = first {
        report.problems.push(format!("first sweep: {e}"));
        return report;
    }
    let mut tasks = Vec::new();
    for i in 0..cfg.webhook_workers {
        tasks.push(tokio::spawn(workers::webhook_worker(rig.clone(), i)));
    }
    for i in 0..cfg.posters {
        tasks.push(tokio::spawn(workers::poster_worker(rig.clone(), i)));
    }
    for i in 0..cfg.pollers {
        tasks.push(tokio::spawn(workers::poller_worker(rig.clone(), i)));
    }
    let fault_task = tokio::spawn(workers::fault_schedule(rig.clone()));

    let drawn = lives::draw(cfg.seed, cfg.orders, cfg.spacing);
    let made = workers::drive(&rig, &drawn).await;
    report.changes = drawn.iter().map(|l| l.steps.len()).sum();
    report.refunds = drawn
        .iter()
        .flat_map(|l| &l.steps)
        .filter(|s| matches!(s, lives::Step::RefundUnit | lives::Step::RefundShipping))
        .count();
    report.cancelled = made.iter().filter(|m| m.cancelled).count();

    // The work of the last orders goes on after they are placed: the deaths and faults go on
    // with it for a while (most tracking happens here), then stop, and what is in flight
    // settles.
    // Until the pipeline is quiet once (so the trackers' rounds meet deaths too), at most
    // `chaos_tail`.
    let _ = tokio::time::timeout(cfg.chaos_tail, settle(&rig, cfg.chaos_tail)).await;
    rig.faults.stop();
    let _ = fault_task.await;
    rig.chaos.calm();
    rig.pod.set_import_privilege(true);
    rig.pod.clear_faults();
    let stall = Duration::from_secs(120);
    if let Err(e) = settle(&rig, stall).await {
        report.problems.push(e);
    }
    // The operator's morning: what an injected fault held or rejected is replayed.
    match workers::replay_stopped(&rig).await {
        Ok(replayed) => report.replayed = replayed,
        Err(e) => report.problems.push(e),
    }
    if !report.replayed.is_empty()
        && let Err(e) = settle(&rig, stall).await
    {
        report.problems.push(e);
    }
    rig.stop.store(true, Ordering::SeqCst);
    for t in tasks {
        let _ = t.await;
    }

    report.deliveries = rig.inbox.received();
    report.redeliveries = rig.inbox.redelivered();
    report.delayed = rig.inbox.delayed();
    report.faults = rig.faults.counts();
    report.crashes = rig
        .chaos
        .crashes()
        .into_iter()
        .map(|(p, n)| (CrashPoint::name(p), n))
        .collect();
    report.imports = rig.pod.imports();
    report.store_usage = *rig.store_lock.lock().await;
    verify::verify(&rig, &made, started, &mut report).await;
    report.elapsed = started.elapsed();
    report
}

/// Waits until nothing is left in flight: no delivery waiting, no posting Queued or
/// Submitted, no import open, the posters idle and two sweeps run since. Fails when nothing
/// has moved (postings in flight, batches in the ledger) for `stall`.
async fn settle(rig: &Rig, stall: Duration) -> Result<(), String> {
    let store = rig.plain_store();
    let mut moved = Instant::now();
    let mut last = None;
    let mut quiet_since_sweep: Option<u64> = None;
    loop {
        let flight = in_flight(store.as_ref()).await;
        let idle = rig.last_work.lock().unwrap().elapsed() > rig.cfg.visibility;
        let quiet = rig.inbox.is_empty() && idle && flight == Some(0);
        let now = (flight, rig.pod.batches().len(), rig.inbox.is_empty());
        if last != Some(now) {
            last = Some(now);
            moved = Instant::now();
        }
        let sweeps = rig.sweeps.load(Ordering::SeqCst);
        match (quiet, quiet_since_sweep) {
            // Quiet through two whole sweeps: settled.
            (true, Some(first)) if sweeps >= first + 2 => return Ok(()),
            (true, None) => quiet_since_sweep = Some(sweeps),
            (true, Some(_)) => {}
            (false, _) => quiet_since_sweep = None,
        }
        if moved.elapsed() > stall {
            return Err(format!(
                "nothing moved for {:.0} s: {flight:?} postings or imports in flight, deliveries waiting: {}, sweeps so far {sweeps}",
                stall.as_secs_f64(),
                !rig.inbox.is_empty()
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Postings Queued or Submitted and imports open; `None` when the store cannot say.
async fn in_flight(store: &dyn StateStore) -> Option<usize> {
    let now = chrono::Utc::now() + chrono::Duration::hours(1);
    let mut n = 0;
    for state in [StateName::Queued, StateName::Submitted] {
        n += store.postings_in_state(state, now, 1000).await.ok()?.len();
    }
    for state in [ImportState::Submitted, ImportState::Unknown] {
        n += store.imports_in_state(state, 1000).await.ok()?.len();
    }
    Some(n)
}
