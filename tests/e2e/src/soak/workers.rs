//! The soak's moving parts: the network between BigCommerce and the webhook function (which
//! duplicates, delays and reorders), the containers of the three functions (killed and started
//! cold again), the fault schedule, and the driver that lives the orders' lives.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use common::bigcommerce::ClientSettings;
use common::bigcommerce::client::RetryPolicy;
use common::oracle::FusionSettings;
use common::ports::{Ports, SystemClock};
use common::posting::replay::replay;
use common::posting::services::Services;
use common::state::StateName;
use poller::PollerApp;
use poster::PosterApp;
use sandbox::bigcommerce::Fault;
use sandbox::demo::HASH;
use sandbox::oracle::PodFault;
use serde_json::json;
use webhook::WebhookApp;

use super::Rig;
use super::chaos::{ChaosQueue, ChaosStore, CrashPoint, WorkerChaos};
use super::lives::{self, Life, Made};
use super::rng::Rng;
use crate::{api_gateway_event, invoke_webhook, sqs_event};

/// Client settings for the soak: timeouts short enough that the injected delays are timeouts.
pub fn soak_clients() -> (ClientSettings, FusionSettings) {
    let bc = ClientSettings {
        retry: RetryPolicy {
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(1),
            ..RetryPolicy::default()
        },
        ..ClientSettings::default()
    };
    let fusion = FusionSettings {
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(300),
        timeout: Duration::from_secs(2),
        ..FusionSettings::default()
    };
    (bc, fusion)
}

/// A delivery on its way to the webhook function.
#[derive(Clone)]
struct Delivery {
    headers: Vec<(String, String)>,
    body: Bytes,
    not_before: Instant,
}

/// The network between the store and API Gateway: takes every delivery (answering 200, as a
/// load balancer that queued it would), and hands them to the webhook containers in any order,
/// some late, some twice; a delivery whose handling failed is sent again, as BigCommerce does.
pub struct Inbox {
    waiting: Mutex<Vec<Delivery>>,
    rng: Mutex<Rng>,
    delay_rate: f64,
    received: AtomicU64,
    redelivered: AtomicU64,
    delayed: AtomicU64,
    busy: AtomicU64,
}

impl Inbox {
    /// An empty inbox.
    pub fn new(seed: u64, delay_rate: f64) -> Arc<Self> {
        Arc::new(Self {
            waiting: Mutex::new(Vec::new()),
            rng: Mutex::new(Rng::stream(seed, "network")),
            delay_rate,
            received: AtomicU64::new(0),
            redelivered: AtomicU64::new(0),
            delayed: AtomicU64::new(0),
            busy: AtomicU64::new(0),
        })
    }

    /// Listens on loopback; returns the URL hooks deliver to.
    pub async fn serve(self: Arc<Self>) -> String {
        async fn take(State(inbox): State<Arc<Inbox>>, headers: http::HeaderMap, body: Bytes) {
            let headers = headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect();
            inbox.received.fetch_add(1, Ordering::SeqCst);
            inbox.push(
                Delivery {
                    headers,
                    body,
                    not_before: Instant::now(),
                },
                true,
            );
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/webhooks", axum::routing::post(take))
            .with_state(self);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn push(&self, mut d: Delivery, may_delay: bool) {
        if may_delay {
            let mut rng = self.rng.lock().unwrap();
            if rng.chance(self.delay_rate) {
                d.not_before = Instant::now() + Duration::from_millis(rng.below(3000));
                self.delayed.fetch_add(1, Ordering::SeqCst);
            }
        }
        self.waiting.lock().unwrap().push(d);
    }

    /// Sends `d` again after `after`.
    fn again(&self, mut d: Delivery, after: Duration) {
        self.redelivered.fetch_add(1, Ordering::SeqCst);
        d.not_before = Instant::now() + after;
        self.waiting.lock().unwrap().push(d);
    }

    /// A delivery that is due, picked at random among those due.
    fn take(&self) -> Option<Delivery> {
        let mut waiting = self.waiting.lock().unwrap();
        let now = Instant::now();
        let due: Vec<usize> = (0..waiting.len())
            .filter(|i| waiting[*i].not_before <= now)
            .collect();
        if due.is_empty() {
            return None;
        }
        let pick = due[self.rng.lock().unwrap().below(due.len() as u64) as usize];
        self.busy.fetch_add(1, Ordering::SeqCst);
        Some(waiting.swap_remove(pick))
    }

    fn done(&self) {
        self.busy.fetch_sub(1, Ordering::SeqCst);
    }

    /// Nothing waiting and nothing being handled.
    pub fn is_empty(&self) -> bool {
        self.waiting.lock().unwrap().is_empty() && self.busy.load(Ordering::SeqCst) == 0
    }

    /// Deliveries the store sent.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    /// Deliveries sent again.
    pub fn redelivered(&self) -> u64 {
        self.redelivered.load(Ordering::SeqCst)
    }

    /// Deliveries held back.
    pub fn delayed(&self) -> u64 {
        self.delayed.load(Ordering::SeqCst)
    }
}

/// A webhook container.
fn webhook_container(rig: &Rig, chaos: &Arc<WorkerChaos>) -> WebhookApp {
    let ports = rig.ports();
    let ports = Ports {
        store: Arc::new(ChaosStore {
            inner: ports.store,
            chaos: chaos.clone(),
        }),
        queue: Arc::new(ChaosQueue {
            inner: ports.queue,
            chaos: chaos.clone(),
        }),
        ..ports
    };
    WebhookApp::new(ports, &rig.namespace)
}

/// Takes deliveries until stopped; dies where the dice say, and starts cold again.
pub async fn webhook_worker(rig: Arc<Rig>, n: usize) {
    let name = format!("webhook-{n}");
    let mut rng = Rng::stream(rig.cfg.seed, &name);
    let mut life = 0;
    let mut chaos = rig.chaos.worker(&name, life);
    let mut app = webhook_container(&rig, &chaos);
    while !rig.stop.load(Ordering::SeqCst) {
        let Some(delivery) = rig.inbox.take() else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        if rng.chance(rig.cfg.duplicate_rate) {
            rig.inbox
                .again(delivery.clone(), Duration::from_millis(rng.below(2000)));
        }
        let event = api_gateway_event(&delivery.headers, &delivery.body);
        match chaos.run(invoke_webhook(&app, &event)).await {
            Some((status, _)) if (200..300).contains(&status) => {}
            Some((status, answer)) => {
                if status == 401 || status == 400 {
                    rig.faults.problem(format!(
                        "a delivery the store signed was refused with {status}: {answer}"
                    ));
                } else {
                    rig.inbox.again(delivery, Duration::from_millis(200));
                }
            }
            None => {
                rig.inbox.again(delivery, Duration::from_millis(200));
                life += 1;
                chaos = rig.chaos.worker(&name, life);
                app = webhook_container(&rig, &chaos);
            }
        }
        rig.inbox.done();
    }
}

/// Receives from the queue and hands batches to a poster container, deleting what it did not
/// report as failed (the event source mapping's part); dies where the dice say.
pub async fn poster_worker(rig: Arc<Rig>, n: usize) {
    let name = format!("poster-{n}");
    let queue = rig.ports().queue;
    let mut life = 0;
    let mut chaos = rig.chaos.worker(&name, life);
    let mut app = PosterApp {
        services: rig.services(&chaos),
        namespace: rig.namespace.clone(),
    };
    while !rig.stop.load(Ordering::SeqCst) {
        let received = match queue.receive(10, rig.cfg.visibility).await {
            Ok(r) => r,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if received.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        *rig.last_work.lock().unwrap() = Instant::now();
        let outcome = chaos.run(app.handle(sqs_event(&received))).await;
        let died = match outcome {
            None => true,
            Some(_) if chaos.should_crash(CrashPoint::BeforeDeletingMessages) => true,
            Some(response) => {
                let failed: Vec<&str> = response
                    .batch_item_failures
                    .iter()
                    .map(|f| f.item_identifier.as_str())
                    .collect();
                for m in &received {
                    if !failed.contains(&m.message_id.as_str()) {
                        let _ = queue.delete(&m.handle).await;
                    }
                }
                false
            }
        };
        *rig.last_work.lock().unwrap() = Instant::now();
        if died {
            life += 1;
            chaos = rig.chaos.worker(&name, life);
            app = PosterApp {
                services: rig.services(&chaos),
                namespace: rig.namespace.clone(),
            };
        }
    }
}

/// The first sweep, without deaths: it makes the hooks.
pub async fn first_sweep(rig: &Rig) -> Result<(), String> {
    let calm = super::chaos::Chaos::new(0, 0.0);
    let app = PollerApp {
        services: rig.services(&calm.worker("first", 0)),
        namespace: rig.namespace.clone(),
    };
    app.handle(&json!({}))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Ticks: two tracker runs (`{"job": "track"}`, the template's minute schedule) to one sweep.
pub async fn poller_worker(rig: Arc<Rig>, n: usize) {
    let name = format!("poller-{n}");
    let mut rng = Rng::stream(rig.cfg.seed, &name);
    let mut life = 0;
    let mut chaos = rig.chaos.worker(&name, life);
    let mut app = PollerApp {
        services: rig.services(&chaos),
        namespace: rig.namespace.clone(),
    };
    let mut tick: u64 = n as u64;
    while !rig.stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(150 + rng.below(300))).await;
        tick += 1;
        let sweep = tick.is_multiple_of(3);
        let event = if sweep {
            json!({})
        } else {
            json!({"job": "track"})
        };
        match chaos.run(app.handle(&event)).await {
            Some(Ok(_)) => {
                if sweep {
                    rig.sweeps.fetch_add(1, Ordering::SeqCst);
                }
            }
            Some(Err(_)) => {}
            None => {
                life += 1;
                chaos = rig.chaos.worker(&name, life);
                app = PollerApp {
                    services: rig.services(&chaos),
                    namespace: rig.namespace.clone(),
                };
            }
        }
    }
}

/// Faults injected, by kind, and what the workers saw that must never happen.
#[derive(Default)]
pub struct Faults {
    counts: Mutex<BTreeMap<&'static str, u64>>,
    stopped: AtomicBool,
    problems: Mutex<Vec<String>>,
}

impl Faults {
    fn count(&self, kind: &'static str) {
        *self.counts.lock().unwrap().entry(kind).or_default() += 1;
    }

    /// No more injections.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// Injections by kind.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.counts.lock().unwrap().clone()
    }

    fn problem(&self, what: String) {
        self.problems.lock().unwrap().push(what);
    }

    /// What must never happen, and did.
    pub fn problems(&self) -> Vec<String> {
        self.problems.lock().unwrap().clone()
    }
}

/// Every 100 ms, maybe one fault, of a kind drawn from the seed.
pub async fn fault_schedule(rig: Arc<Rig>) {
    let mut rng = Rng::stream(rig.cfg.seed, "faults");
    while !rig.faults.stopped.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if !rng.chance(rig.cfg.fault_rate) {
            continue;
        }
        let kind = match rng.below(9) {
            0 => {
                rig.sb.inject(
                    HASH,
                    Fault::RateLimitStorm {
                        times: 3 + rng.below(12) as u32,
                        with_headers: rng.chance(0.5),
                    },
                );
                "BigCommerce 429 storm"
            }
            1 => {
                let status = [500, 502, 503, 504][rng.below(4) as usize];
                rig.sb.inject(
                    HASH,
                    Fault::Status {
                        status,
                        times: 1 + rng.below(3) as u32,
                        path: None,
                    },
                );
                "BigCommerce 5xx"
            }
            2 => {
                rig.sb.inject(
                    HASH,
                    Fault::Delay {
                        millis: 1500,
                        times: 1,
                        path: None,
                    },
                );
                "BigCommerce timeout"
            }
            3 => {
                rig.pod.expire_tokens();
                "Oracle 401 (token revoked mid-run)"
            }
            4 => {
                rig.pod.inject(PodFault::Throttle {
                    retry_after: 1,
                    times: 1 + rng.below(2) as u32,
                });
                "Oracle 429 with Retry-After"
            }
            5 => {
                rig.pod.inject(PodFault::Status {
                    status: 503,
                    times: 1 + rng.below(2) as u32,
                    path: None,
                });
                "Oracle 503"
            }
            6 => {
                rig.pod.inject(PodFault::LoseImportResponse { times: 1 });
                "Oracle import answer lost"
            }
            7 => {
                rig.pod.inject(PodFault::Delay {
                    millis: 2500,
                    times: 1,
                    path: None,
                });
                "Oracle timeout"
            }
            _ => {
                // Journal Import refuses outright (`ReqstId` -1) while the privilege is gone.
                rig.pod.set_import_privilege(false);
                tokio::time::sleep(Duration::from_millis(150)).await;
                rig.pod.set_import_privilege(true);
                "Oracle ReqstId -1 (import privilege revoked)"
            }
        };
        rig.faults.count(kind);
    }
}

/// Places the orders and makes their changes on schedule; returns what it made, by life.
pub async fn drive(rig: &Rig, drawn: &[Life]) -> Vec<Made> {
    let start = Instant::now();
    let mut rng = Rng::stream(rig.cfg.seed, "driver");
    // (when, life, step): step 0 places the order, step k makes change k-1.
    let mut schedule: Vec<(Duration, usize, usize)> = Vec::new();
    for (i, life) in drawn.iter().enumerate() {
        let mut at = life.placed_at;
        schedule.push((at, i, 0));
        for (k, gap) in life.gaps.iter().enumerate() {
            at += *gap;
            schedule.push((at, i, k + 1));
        }
    }
    schedule.sort();
    let mut made: Vec<Made> = vec![Made::default(); drawn.len()];
    for (at, i, step) in schedule {
        if let Some(wait) = at.checked_sub(start.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        if step == 0 {
            made[i] = lives::place(&rig.sb, &drawn[i]);
        } else {
            lives::apply(&rig.sb, &mut made[i], &drawn[i].steps[step - 1], &mut rng);
        }
    }
    made
}

/// Replays what injected faults left Held or Rejected, as an operator would once Oracle is
/// healthy again; returns the postings replayed with the reason they had.
pub async fn replay_stopped(rig: &Rig) -> Result<Vec<String>, String> {
    let ports = rig.ports();
    let config = ports
        .source
        .connector_document()
        .await
        .map_err(|e| e.to_string())?;
    let (bc, fusion) = soak_clients();
    let settings = crate::quick_settings(&config, Some(rig.webhook_url.clone()));
    let svc = Services::connect(
        config,
        ports.store.clone(),
        ports.queue.clone(),
        Arc::new(SystemClock),
        settings,
        bc,
        fusion,
    )
    .map_err(|e| e.to_string())?;
    let now = chrono::Utc::now() + chrono::Duration::hours(1);
    let mut replayed = Vec::new();
    for state in [StateName::Held, StateName::Rejected] {
        let stopped = ports
            .store
            .postings_in_state(state, now, 1000)
            .await
            .map_err(|e| e.to_string())?;
        for p in stopped {
            let reason = match &p.state {
                common::state::PostingState::Held { reason }
                | common::state::PostingState::Rejected { reason } => reason.clone(),
                _ => String::new(),
            };
            if reason.trim().is_empty() {
                return Err(format!("posting {} is {state} without a reason", p.key));
            }
            // As the refusal says: Fusion could not be read now, try again a little later.
            let mut tries = 0;
            loop {
                match replay(&svc, &p.key, "soak operator").await {
                    Ok(_) => break,
                    Err(_) if tries < 20 => {
                        tries += 1;
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Err(e) => return Err(format!("replaying {}: {e}", p.key)),
                }
            }
            replayed.push(format!("{} ({reason})", p.key));
        }
    }
    Ok(replayed)
}
