//! The pipeline as one local process, on SQLite (`mlc serve`): what API Gateway does in AWS,
//! done here: a webhook endpoint (axum) in front of the same intake desk the webhook function
//! answers with ([`FrontDoor`]). The queue consumer is `common::posting::poster::drain_queue`;
//! the poller runs on an interval, the tracker between its sweeps.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::adapters::local_queue::LocalQueue;
use common::adapters::secrets::FileSource;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::metrics::Metrics;
use common::ports::{Ports, SystemClock};
use common::posting::intake::{Answer, BodyReader, FrontDoor};
use common::posting::services::{PipelineSettings, Services, ServicesCache};

use crate::{Failure, bad};

/// `mlc serve`'s arguments.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The connector document (re-read when the file changes).
    #[arg(long)]
    config: PathBuf,
    /// The SQLite state database (created when missing).
    #[arg(long, default_value = "mlc-state.db")]
    state: PathBuf,
    /// Address of the webhook endpoint (`POST /webhooks`).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The public HTTPS URL BigCommerce should deliver to (a tunnel or reverse proxy to
    /// --listen); the poller keeps the hooks pointed there. Without it, hooks are left alone.
    #[arg(long)]
    webhook_url: Option<String>,
    /// Seconds between sweeps (missed orders, hooks, import tracking).
    #[arg(long, default_value_t = 300)]
    poll_seconds: u64,
    /// Seconds between import-tracking rounds between sweeps, as the deployed poller's minute
    /// schedule does (a refused import is split and sent again this soon).
    #[arg(long, default_value_t = 60)]
    track_seconds: u64,
}

/// The local ports: the document file, the SQLite state and queue, the system clock.
pub fn local_ports(config: &std::path::Path, db: SqliteDb) -> Ports {
    Ports {
        source: Arc::new(FileSource::new(config)),
        store: Arc::new(SqliteStore::new(db.clone())),
        queue: Arc::new(LocalQueue::new(db, "orders", 5)),
        clock: Arc::new(SystemClock),
    }
}

/// Runs the pipeline until Ctrl-C: the webhook endpoint, the poster on the local queue, the
/// poller every `--poll-seconds` and the tracker every `--track-seconds` between sweeps.
pub async fn run_serve(args: ServeArgs) -> Result<(), Failure> {
    common::telemetry::init_json_logs();
    let db = SqliteDb::open(&args.state).map_err(bad)?;
    let ports = local_ports(&args.config, db);
    ports.source.connector_document().await?;
    let (addr, _server) = serve_webhooks(args.listen, FrontDoor::new(ports.clone()))
        .await
        .map_err(|e| bad(e.context(format!("listening on {}", args.listen))))?;
    let url = args.webhook_url.clone();
    let queue = ports.queue.clone();
    let cache = ServicesCache::new(ports, move |config| {
        let mut settings = PipelineSettings::for_config(config);
        settings.webhook_url = url.clone();
        settings
    });
    eprintln!(
        "mlc serve: webhooks on http://{addr}/webhooks, state in {}, sweeping every {} s; Ctrl-C stops",
        args.state.display(),
        args.poll_seconds
    );
    let mut rounds = Rounds::new(
        Duration::from_secs(args.poll_seconds.max(1)),
        Duration::from_secs(args.track_seconds.max(1)),
    );
    loop {
        match cache.services().await {
            Ok(services) => {
                let drained = common::posting::poster::drain_queue(
                    &services,
                    queue.as_ref(),
                    Duration::from_secs(60),
                )
                .await;
                if let Err(e) = drained {
                    tracing::error!(error = %e, "draining the queue");
                }
                rounds.run_due(&services).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "the connector document cannot be used; waiting for a fix")
            }
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// When the next sweep and the next tracking round are due.
struct Rounds {
    sweep_every: Duration,
    track_every: Duration,
    next_sweep: Instant,
    next_track: Instant,
}

impl Rounds {
    /// The first sweep at once, tracking one period later.
    fn new(sweep_every: Duration, track_every: Duration) -> Self {
        Self {
            sweep_every,
            track_every,
            next_sweep: Instant::now(),
            next_track: Instant::now() + track_every,
        }
    }

    /// A sweep when one is due (it tracks too), otherwise a tracking round when one is due.
    async fn run_due(&mut self, services: &Services) {
        if Instant::now() >= self.next_sweep {
            let report = common::posting::poller::poll(services).await;
            tracing::info!(queued = ?report.queued, problems = ?report.problems, posted = report.tracking.posted, "sweep");
            self.next_sweep = Instant::now() + self.sweep_every;
            self.next_track = Instant::now() + self.track_every;
        } else if Instant::now() >= self.next_track {
            let t = common::posting::tracker::track(services).await;
            if t.imports > 0 {
                tracing::info!(
                    imports = t.imports,
                    posted = t.posted,
                    rejected = t.rejected,
                    split = t.split,
                    "tracking"
                );
            }
            self.next_track = Instant::now() + self.track_every;
        }
    }
}

/// The answer as an HTTP response, as the webhook function sends it.
fn response(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, Answer::CONTENT_TYPE)],
        answer.body,
    )
        .into_response()
}

/// The body, read only as far as the intake's limit ([`BodyReader`]): axum's own extractor
/// would buffer up to its 2 MB default first.
async fn read_body(headers: &HeaderMap, mut body: Body) -> Result<Vec<u8>, Answer> {
    let mut reader = BodyReader::for_headers(headers)?;
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame.map_err(|e| Answer::unreadable(&e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            reader.push(&data)?;
        }
    }
    Ok(reader.finish())
}

async fn deliver(State(door): State<FrontDoor>, headers: HeaderMap, body: Body) -> Response {
    let body = match read_body(&headers, body).await {
        Ok(body) => body,
        Err(answer) => return response(answer),
    };
    response(door.answer(&headers, &body, &mut Metrics::default()).await)
}

/// Serves `POST /webhooks` on `addr`; returns the bound address.
pub async fn serve_webhooks(
    addr: SocketAddr,
    door: FrontDoor,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/webhooks", axum::routing::post(deliver))
        .with_state(door);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("webhook endpoint stopped: {e}");
        }
    });
    Ok((bound, task))
}
