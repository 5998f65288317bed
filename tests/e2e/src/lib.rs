//! The end-to-end harness: a world with the sandbox BigCommerce store and Oracle pod (real
//! HTTP), DynamoDB, SQS and Secrets Manager on moto server (started by `infra/test.sh`), and
//! the three functions' real handler code wired the way Lambda wires them:
//!
//! - BigCommerce's deliveries reach a local stand-in for API Gateway, which turns each into an
//!   HTTP API (payload 2.0) event, parses it with `lambda_http` and calls the webhook handler;
//! - queue messages are received from SQS and handed to the poster handler as an SQS event;
//!   those it does not report as failures are deleted, as the event source mapping does;
//! - the poller handler runs when a test says a schedule tick happened.

// Every public item says why it exists (the project standard); clippy -D warnings holds it.
#![warn(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::SqsEvent;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use common::adapters::aws::{LambdaEnv, local, ports};
use common::adapters::dynamodb::DynamoStore;
use common::adapters::sqs::SqsQueue;
use common::bigcommerce::ClientSettings;
use common::bigcommerce::client::RetryPolicy;
use common::config::ConnectorConfig;
use common::oracle::FusionSettings;
use common::ports::{Queue, StateStore};
use common::posting::dispatch::SubmitSettings;
use common::posting::services::{PipelineSettings, ServicesCache};
use poller::PollerApp;
use poster::PosterApp;
use rust_decimal::Decimal;
use sandbox::bigcommerce::{BigCommerceSandbox, SandboxOptions};
use sandbox::oracle::{OraclePod, PodOptions};
use serde_json::{Value, json};
use webhook::WebhookApp;

pub mod soak;

pub use sandbox::demo::{
    CLIENT_SECRET, EU_LEDGER, HASH, SHIRT, SKILLET, TOKEN, US_LEDGER, document_for, seeded_pod,
    seeded_store, us_order,
};

/// The example connector document (`infra/examples/connector.json`).
pub fn example_document() -> Value {
    let path = repo_root().join("infra/examples/connector.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The repository root.
pub fn repo_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// moto server's endpoint, from `MLC_AWS_ENDPOINT`.
pub fn aws_endpoint() -> String {
    std::env::var("MLC_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("MLC_AWS_ENDPOINT is not set: run ./infra/test.sh, which starts moto server for the end-to-end tests")
    })
}

/// A name no other test uses on the shared emulator.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn fixture(name: &str) -> Value {
    let path = repo_root().join("tests/e2e/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// An API Gateway HTTP API (payload 2.0) event for a POST of `body` to `/webhooks`, shaped
/// from AWS's own example event.
pub fn api_gateway_event(headers: &[(String, String)], body: &[u8]) -> Value {
    let mut event = fixture("apigw-v2-request.json");
    event["routeKey"] = json!("POST /webhooks");
    event["rawPath"] = json!("/webhooks");
    event["requestContext"]["routeKey"] = json!("POST /webhooks");
    event["requestContext"]["http"]["method"] = json!("POST");
    event["requestContext"]["http"]["path"] = json!("/webhooks");
    event["requestContext"]["authentication"] = Value::Null;
    let mut h = serde_json::Map::new();
    for (k, v) in headers {
        h.insert(k.to_ascii_lowercase(), json!(v));
    }
    h.insert("content-length".into(), json!(body.len().to_string()));
    event["headers"] = Value::Object(h);
    match std::str::from_utf8(body) {
        Ok(text) => {
            event["body"] = json!(text);
            event["isBase64Encoded"] = json!(false);
        }
        Err(_) => {
            use base64::Engine;
            event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
            event["isBase64Encoded"] = json!(true);
        }
    }
    event
}

/// Calls the webhook handler with an API Gateway event; returns the status and JSON answer.
pub async fn invoke_webhook(app: &WebhookApp, event: &Value) -> (u16, Value) {
    let request =
        lambda_http::request::from_str(&event.to_string()).expect("a valid HTTP API event");
    let response = app.handle(request).await;
    let status = response.status().as_u16();
    let body = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(json!(t)),
        lambda_http::Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body)
}

/// Serves `app` at `http://127.0.0.1:{port}/webhooks` as API Gateway would front it; returns
/// the URL and the server task.
pub async fn serve_webhook(app: Arc<WebhookApp>) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .route("/webhooks", axum::routing::post(receive_delivery))
        .with_state(app);
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (url, task)
}

async fn receive_delivery(
    State(app): State<Arc<WebhookApp>>,
    headers: http::HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let (status, answer) = invoke_webhook(&app, &api_gateway_event(&pairs, &body)).await;
    (
        http::StatusCode::from_u16(status).unwrap(),
        answer.to_string(),
    )
}

/// The SQS event Lambda's event source mapping hands the poster for these messages.
pub fn sqs_event(received: &[common::ports::Received]) -> SqsEvent {
    let records: Vec<Value> = received
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id, "receiptHandle": m.handle, "body": m.body,
                "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
                "attributes": {"ApproximateReceiveCount": m.receive_count.to_string(), "SentTimestamp": "0",
                    "SenderId": "e2e", "ApproximateFirstReceiveTimestamp": "0"},
                "messageAttributes": m.attributes.iter().map(|(k, v)| (k.clone(), json!({"stringValue": v, "dataType": "String",
                    "stringListValues": [], "binaryListValues": []}))).collect::<serde_json::Map<String, Value>>(),
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("an SQS event")
}

/// Client settings that do not wait long between retries.
pub fn fast_clients() -> (ClientSettings, FusionSettings) {
    let bc = ClientSettings {
        retry: RetryPolicy {
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            timeout: Duration::from_secs(5),
            ..RetryPolicy::default()
        },
        ..ClientSettings::default()
    };
    let fusion = FusionSettings {
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(200),
        timeout: Duration::from_secs(5),
        ..FusionSettings::default()
    };
    (bc, fusion)
}

/// On the emulator, what the stack creates: the state table (as `template.yaml` declares it),
/// the orders queue with its dead-letter queue, and the secret holding `doc`. Names start with
/// `prefix` and are unique. Returns (table, queue, secret name).
pub async fn aws_resources(
    sdk: &common::adapters::aws::SdkConfig,
    doc: &Value,
    prefix: &str,
) -> (String, SqsQueue, String) {
    let table = unique(&format!("{prefix}-state"));
    DynamoStore::create_table(&aws_sdk_dynamodb::Client::new(sdk), &table)
        .await
        .unwrap();
    let queue = SqsQueue::create_with_dead_letters(
        aws_sdk_sqs::Client::new(sdk),
        &unique(&format!("{prefix}-orders")),
        5,
    )
    .await
    .unwrap();
    let secret = unique(&format!("{prefix}-connector"));
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(&secret)
        .secret_string(doc.to_string())
        .send()
        .await
        .unwrap();
    (table, queue, secret)
}

/// Everything the tests drive.
pub struct World {
    /// The BigCommerce store.
    pub sb: BigCommerceSandbox,
    /// The Oracle pod.
    pub pod: OraclePod,
    /// The document as stored in the secret.
    pub config: Arc<ConnectorConfig>,
    /// DynamoDB on moto.
    pub store: Arc<dyn StateStore>,
    /// SQS on moto.
    pub queue: Arc<SqsQueue>,
    /// The webhook function's handler.
    pub webhook: Arc<WebhookApp>,
    /// The poster function's handler.
    pub poster: PosterApp,
    /// The poller function's handler.
    pub poller: PollerApp,
    /// Where hooks deliver (the API Gateway stand-in).
    pub webhook_url: String,
    /// What the functions' environment says.
    pub env: LambdaEnv,
    receiver: tokio::task::JoinHandle<()>,
}

impl Drop for World {
    fn drop(&mut self) {
        self.receiver.abort();
    }
}

/// Pipeline settings for tests: quick job polling, short timeouts.
pub fn quick_settings(config: &ConnectorConfig, webhook_url: Option<String>) -> PipelineSettings {
    let mut s = PipelineSettings::for_config(config);
    s.submit = SubmitSettings {
        import_timeout: Duration::from_secs(3),
    };
    s.webhook_url = webhook_url;
    s
}

impl World {
    /// A world with default sandboxes.
    pub async fn start() -> Self {
        Self::start_with(SandboxOptions::default(), PodOptions::default(), |_| {}).await
    }

    /// A world with these sandbox options, and the document changed by `change`.
    pub async fn start_with(
        sb_options: SandboxOptions,
        pod_options: PodOptions,
        change: impl FnOnce(&mut Value),
    ) -> Self {
        // The API Gateway stand-in listens on plain HTTP (loopback), a destination BigCommerce
        // would refuse: the world opts out of the sandbox's HTTPS rule for its own receiver.
        let sb = seeded_store(sb_options.with_http_destinations()).await;
        let pod = seeded_pod(pod_options).await;
        let mut doc = document_for(&example_document(), &sb, &pod);
        change(&mut doc);
        let config = Arc::new(
            ConnectorConfig::from_json(&doc.to_string(), "e2e document")
                .unwrap_or_else(|e| panic!("{e}")),
        );

        let sdk = local(&aws_endpoint()).await;
        let (table, queue, secret) = aws_resources(&sdk, &doc, "e2e").await;

        // The webhook URL must be known before the apps are built (the poller keeps hooks
        // pointed at it), so the listener is bound first.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let webhook_url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        let env = LambdaEnv {
            config_secret: secret,
            table,
            queue_url: queue.url().to_string(),
            metrics_namespace: "MlConnector/e2e".into(),
            webhook_url: Some(webhook_url.clone()),
        };
        let webhook = Arc::new(Self::webhook_app(&env, &sdk));
        let app = axum::Router::new()
            .route("/webhooks", axum::routing::post(receive_delivery))
            .with_state(webhook.clone());
        let receiver = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let poster = PosterApp {
            services: Self::services(&env, &sdk),
            namespace: env.metrics_namespace.clone(),
        };
        let poller = PollerApp {
            services: Self::services(&env, &sdk),
            namespace: env.metrics_namespace.clone(),
        };
        let ports = ports(&env, &sdk);
        Self {
            sb,
            pod,
            config,
            store: ports.store,
            queue: Arc::new(queue),
            webhook,
            poster,
            poller,
            webhook_url,
            env,
            receiver,
        }
    }

    /// The webhook function as its `main` builds it, from the environment contract.
    pub fn webhook_app(env: &LambdaEnv, sdk: &common::adapters::aws::SdkConfig) -> WebhookApp {
        WebhookApp::new(ports(env, sdk), &env.metrics_namespace)
    }

    /// A services cache as the poster's and poller's `main` build it (quicker timings).
    pub fn services(env: &LambdaEnv, sdk: &common::adapters::aws::SdkConfig) -> ServicesCache {
        let url = env.webhook_url.clone();
        let (bc, fusion) = fast_clients();
        ServicesCache::new(ports(env, sdk), move |c| quick_settings(c, url.clone()))
            .with_client_settings(bc, fusion)
    }

    /// One schedule tick: the poller handler (hooks are made right on the first one).
    pub async fn sweep(&self) -> Value {
        let schedule = Value::Object(serde_json::Map::new());
        self.poller
            .handle(&schedule)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Hands every message on the queue to the poster handler, as the event source mapping
    /// would (batches of up to 10; messages not reported as failures are deleted). Failed ones
    /// become visible again after `visibility`. Returns (messages handled, failures).
    pub async fn drain_with(&self, visibility: Duration) -> (usize, usize) {
        let mut handled = 0;
        let mut failed = 0;
        loop {
            let received = self.queue.receive(10, visibility).await.unwrap();
            if received.is_empty() {
                return (handled, failed);
            }
            handled += received.len();
            let event = sqs_event(&received);
            let response = self.poster.handle(event).await;
            let failures: Vec<String> = response
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.clone())
                .collect();
            failed += failures.len();
            for m in &received {
                if !failures.contains(&m.message_id) {
                    self.queue.delete(&m.handle).await.unwrap();
                }
            }
            if !failures.is_empty() {
                return (handled, failed);
            }
        }
    }

    /// [`Self::drain_with`] with a one-second visibility timeout.
    pub async fn drain(&self) -> (usize, usize) {
        self.drain_with(Duration::from_secs(1)).await
    }

    /// Lets deliveries finish, drains the queue, sweeps, until `done` holds (or panics after
    /// 20 s, saying `what`).
    pub async fn run_until(&self, what: &str, done: impl AsyncFn(&World) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.sb.settle().await;
            self.drain().await;
            if done(self).await {
                return;
            }
            self.sweep().await;
            if done(self).await {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Batches in the pod whose name starts with `prefix`.
    pub fn batches(&self, prefix: &str) -> Vec<sandbox::oracle::BatchView> {
        self.pod
            .batches()
            .into_iter()
            .filter(|b| b.name.starts_with(prefix))
            .collect()
    }

    /// The net of every line the pod holds for an order, per account: what the ledger says.
    pub fn ledger_net(&self, order_id: u64) -> Vec<(String, Decimal)> {
        let prefix = format!("BC-us-{order_id}-");
        let mut net: Vec<(String, Decimal)> = Vec::new();
        for b in self.batches(&prefix) {
            for (_, lines) in b.journals {
                for (account, dr, cr) in lines {
                    match net.iter_mut().find(|(a, _)| *a == account) {
                        Some((_, n)) => *n += dr - cr,
                        None => net.push((account, dr - cr)),
                    }
                }
            }
        }
        net.retain(|(_, n)| !n.is_zero());
        net.sort();
        net
    }
}
