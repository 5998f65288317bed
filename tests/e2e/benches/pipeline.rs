//! Pipeline figures, printed (not asserted): `cargo bench -p e2e --bench pipeline`.
//!
//! 1. Webhook handler latency, p50/p99, under an open-loop 500 requests/s on loopback: the real
//!    handler behind the API Gateway stand-in, with the local adapters (SQLite, local queue);
//!    and, when `MLC_AWS_ENDPOINT` names a moto server, with DynamoDB and SQS on moto at the
//!    20 requests/s moto can serve.
//! 2. End-to-end latency from the order's creation in the sandbox store to Submitted and to
//!    Posted, with the sandbox pod's job timing and a poller ticking every 250 ms (in AWS the
//!    poller runs every few minutes, which then dominates the time to Posted).
//! 3. Lambda binary sizes and init time (process start to its first call for work on a local
//!    Runtime API), for the bootstraps `./infra/build.sh` left in `target/lambda/`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::adapters::local_queue::LocalQueue;
use common::adapters::secrets::FileSource;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::journal::PostingKind;
use common::ports::SystemClock;
use common::state::{PostingKey, PostingState};
use e2e::*;
use sandbox::bigcommerce::SandboxOptions;
use sandbox::oracle::PodOptions;
use serde_json::json;
use webhook::WebhookApp;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn summary(label: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "  {label:<44} n={:<5} p50={:>8.2} ms  p90={:>8.2} ms  p99={:>8.2} ms  max={:>8.2} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.9),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(f64::NAN)
    );
}

fn delivery(id: u64) -> (Vec<(String, String)>, String) {
    let body = json!({"created_at": chrono::Utc::now().timestamp(), "store_id": "1001", "producer": format!("stores/{HASH}"),
        "scope": "store/order/updated", "hash": format!("{id:040x}"), "data": {"type": "order", "id": id}})
    .to_string();
    let msg = format!("msg_bench_{id}");
    let ts = chrono::Utc::now().timestamp();
    let headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("webhook-id".to_string(), msg.clone()),
        ("webhook-timestamp".to_string(), ts.to_string()),
        (
            "webhook-signature".to_string(),
            sandbox::bigcommerce::sign(CLIENT_SECRET, &msg, ts, &body),
        ),
    ];
    (headers, body)
}

/// Open loop: one request every 2 ms for `seconds`, each on its own task; latencies in ms.
async fn load(url: &str, rate: u64, seconds: u64, first_id: u64) -> (Vec<f64>, usize, f64) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..total {
        let due = started + interval * n as u32;
        tokio::time::sleep_until(due.into()).await;
        let (headers, body) = delivery(first_id + n);
        let client = client.clone();
        let url = url.to_string();
        tasks.spawn(async move {
            let t = Instant::now();
            let mut req = client.post(&url).body(body);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let ok = req
                .send()
                .await
                .map(|r| r.status().as_u16() == 200)
                .unwrap_or(false);
            (t.elapsed().as_secs_f64() * 1000.0, ok)
        });
    }
    let mut ms = Vec::new();
    let mut errors = 0;
    while let Some(r) = tasks.join_next().await {
        let (latency, ok) = r.unwrap();
        ms.push(latency);
        errors += usize::from(!ok);
    }
    let achieved = total as f64 / started.elapsed().as_secs_f64();
    (ms, errors, achieved)
}

async fn webhook_latency() {
    println!(
        "webhook handler latency, open loop 500 requests/s for 4 s on loopback (API Gateway stand-in → handler)"
    );
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&example_document(), &sb, &pod);
    let dir = std::env::temp_dir().join(unique("mlc-bench"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("connector.json");
    std::fs::write(&path, doc.to_string()).unwrap();

    let db = SqliteDb::open(&dir.join("state.db")).unwrap();
    let ports = common::ports::Ports {
        source: Arc::new(FileSource::new(&path)),
        store: Arc::new(SqliteStore::new(db.clone())),
        queue: Arc::new(LocalQueue::new(db, "orders", 5)),
        clock: Arc::new(SystemClock),
    };
    let local = WebhookApp::new(ports, "MlConnector/bench");
    let (url, server) = serve_webhook(Arc::new(local)).await;
    load(&url, 500, 1, 9_000_000).await; // warm-up
    let (ms, errors, rate) = load(&url, 500, 4, 1_000_000).await;
    summary(
        &format!("local (SQLite file, local queue), {rate:.0} req/s, {errors} errors"),
        ms,
    );
    server.abort();

    if std::env::var("MLC_AWS_ENDPOINT").is_ok() {
        let w = World::start().await;
        let (url, server) = serve_webhook(w.webhook.clone()).await;
        // moto is one Python process and serves this workload at a few dozen requests per
        // second, so it is driven at 20/s: the figure is the handler's latency against the
        // emulated services, not a throughput (DynamoDB and SQS themselves take far more).
        load(&url, 10, 1, 8_000_000).await; // warm-up (connections)
        let (ms, errors, rate) = load(&url, 20, 5, 2_000_000).await;
        summary(
            &format!("DynamoDB + SQS on moto, {rate:.0} req/s, {errors} errors"),
            ms,
        );
        server.abort();
    } else {
        println!(
            "  (MLC_AWS_ENDPOINT not set: the DynamoDB + SQS figures need moto server; ./infra/test.sh starts one)"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

async fn end_to_end() {
    if std::env::var("MLC_AWS_ENDPOINT").is_err() {
        println!("end-to-end latency: skipped (needs MLC_AWS_ENDPOINT, moto server)");
        return;
    }
    let phase = Duration::from_millis(200);
    println!(
        "end-to-end latency, order created → Submitted and → Posted (pod job phases {} ms × 3, poller tick 250 ms, poster draining continuously)",
        phase.as_millis()
    );
    let w = Arc::new(
        // A sweep every 250 ms spends about 16 BigCommerce calls a second, past the Standard
        // plan's 150 per 30 s, and the client then (rightly) waits for the quota window: the
        // figure would measure the rate limiter. So the sandbox store gets a large quota here.
        World::start_with(
            SandboxOptions {
                quota: 100_000,
                ..SandboxOptions::default()
            },
            PodOptions {
                job_phase: phase,
                ..PodOptions::default()
            },
            |_| {},
        )
        .await,
    );
    w.sweep().await;
    let driver = {
        let w = w.clone();
        tokio::spawn(async move {
            let mut last_sweep = Instant::now();
            loop {
                w.drain().await;
                if last_sweep.elapsed() >= Duration::from_millis(250) {
                    w.sweep().await;
                    last_sweep = Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let mut submitted = Vec::new();
    let mut posted = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let id = w.sb.create_order(HASH, us_order(1, 1));
        let key = PostingKey {
            store: "us".into(),
            order_id: id,
            posting: PostingKind::Sale,
        };
        let mut seen_submitted = false;
        loop {
            match w.store.posting(&key).await.unwrap().map(|p| p.state) {
                Some(PostingState::Submitted { .. }) if !seen_submitted => {
                    submitted.push(t.elapsed().as_secs_f64() * 1000.0);
                    seen_submitted = true;
                }
                Some(PostingState::Posted { .. }) => {
                    if !seen_submitted {
                        submitted.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    posted.push(t.elapsed().as_secs_f64() * 1000.0);
                    break;
                }
                _ => {}
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "order {id} not posted in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    driver.abort();
    summary("created → Submitted", submitted);
    summary("created → Posted", posted);
}

/// ELF machine of a binary: x86_64 or aarch64.
fn machine(path: &std::path::Path) -> &'static str {
    let bytes = std::fs::read(path).unwrap_or_default();
    match bytes.get(18..20) {
        Some([0x3e, 0]) => "x86_64",
        Some([0xb7, 0]) => "arm64",
        _ => "unknown",
    }
}

/// Starts a bootstrap against a local Runtime API and times its init: process start to its
/// first `GET /runtime/invocation/next`.
async fn init_time(path: &std::path::Path, function: &str) -> Option<f64> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.ok()?;
    let addr = listener.local_addr().ok()?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Instant>(1);
    let app = axum::Router::new().route(
        "/2018-06-01/runtime/invocation/next",
        axum::routing::get(move || {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Instant::now()).await;
                tokio::time::sleep(Duration::from_secs(30)).await;
                ""
            }
        }),
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let started = Instant::now();
    let mut child = tokio::process::Command::new(path)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("MLC_CONFIG_SECRET", "bench")
        .env("MLC_TABLE", "bench")
        .env("MLC_QUEUE_URL", "http://127.0.0.1:1/queue/bench")
        .env("RUST_LOG", "off")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .ok()
        .flatten();
    let _ = child.kill().await;
    server.abort();
    first.map(|t| (t - started).as_secs_f64() * 1000.0)
}

async fn binaries() {
    println!("Lambda bootstraps (target/lambda/, from ./infra/build.sh)");
    let root = repo_root().join("target/lambda");
    let mut any = false;
    for function in ["webhook", "poster", "poller"] {
        let path = root.join(function).join("bootstrap");
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        any = true;
        let arch = machine(&path);
        let size = meta.len() as f64 / (1024.0 * 1024.0);
        let init = if arch == std::env::consts::ARCH
            || (arch == "arm64" && std::env::consts::ARCH == "aarch64")
        {
            let mut runs = Vec::new();
            for _ in 0..5 {
                if let Some(ms) = init_time(&path, function).await {
                    runs.push(ms);
                }
            }
            runs.sort_by(|a, b| a.partial_cmp(b).unwrap());
            runs.get(runs.len() / 2)
                .map_or("did not reach the Runtime API".to_string(), |m| {
                    format!("init (median of 5) {m:.1} ms")
                })
        } else {
            format!(
                "init not measured: {arch} binary on a {} machine",
                std::env::consts::ARCH
            )
        };
        println!("  {function:<8} {arch:<7} {size:>6.2} MiB   {init}");
    }
    if !any {
        println!("  none found: run ./infra/build.sh (arm64) or ./infra/build.sh x86_64 first");
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    end_to_end().await;
    webhook_latency().await;
    binaries().await;
}
