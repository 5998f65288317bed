//! A BigCommerce store on localhost.
//!
//! Serves the REST endpoints the connector uses under `/stores/{hash}/…` with BigCommerce's
//! paths, status codes, headers, pagination and JSON shapes (V2 money as four-place strings,
//! V3 amounts as numbers, RFC 2822 dates, `204 No Content` for empty V2 lists and orders
//! without transactions); checks `X-Auth-Token`; enforces the rate-limit quota with the real
//! `X-Rate-Limit-*` headers, 429s with `X-Retry-After`, and the token's OAuth scopes (403 for
//! an endpoint the token has no scope for); refuses hook destinations that are not HTTPS on
//! port 443 (422), unless a test opts out; sends Standard Webhooks-signed deliveries to
//! registered hooks, with the activation delay, retries of failed deliveries under the same
//! `webhook-id`, and the deactivation after failures; serves orders with fees, order-level
//! discounts, a display currency other than the transactional one, and archived orders; and
//! injects faults on demand (5xx, slow answers, 429 storms, dropped webhooks), counting each one
//! it serves so a test can show its fault fired. Stores, catalog, orders and refunds are created
//! through the Rust API below or the same operations over HTTP under `/__admin/…`.
//!
//! When `MLC_BC_EXCHANGES` names a directory, a sandbox leaves there, when dropped, every
//! exchange the connector had with it (requests whose `User-Agent` is the connector's), one JSON
//! line each, for the contract check over every test's exchanges (`infra/test.sh`).

mod admin;
pub mod pricing;
mod server;
mod state;
mod webhooks;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use pricing::{DisplayCurrency, FeeSpec, LineKind, LineSpec, OrderSpec};
pub use state::{Delivery, DeliveryOutcome, Exchange};
pub use webhooks::sign;

use state::World;

/// How the sandbox behaves.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Requests per window per store (BigCommerce Standard plan: 150 per 30 s).
    pub quota: u32,
    /// Rate-limit window.
    pub window: Duration,
    /// How long a new hook takes to start delivering ("up to a minute").
    pub hook_activation_delay: Duration,
    /// Consecutive failed deliveries after which a hook is deactivated (BigCommerce: after
    /// about 48 hours of retries; here a count, so tests need not wait).
    pub deactivate_after_failures: u32,
    /// Accept `http://` hook destinations (local receivers). Off by default: BigCommerce
    /// requires HTTPS on port 443 and answers 422 otherwise; a test whose receiver is plain
    /// HTTP on loopback opts out with [`SandboxOptions::with_http_destinations`].
    pub allow_http_destinations: bool,
    /// Delays before each retry of a failed delivery (same `webhook-id` and body, signed
    /// again). BigCommerce retries after 60, 180, 300… seconds for about 48 hours; the
    /// sandbox keeps the shape on a shorter clock. Empty: no retries.
    pub delivery_retries: Vec<Duration>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            quota: 150,
            window: Duration::from_secs(30),
            hook_activation_delay: Duration::ZERO,
            deactivate_after_failures: 3,
            allow_http_destinations: false,
            delivery_retries: vec![Duration::from_millis(60), Duration::from_millis(180)],
        }
    }
}

impl SandboxOptions {
    /// The same options, accepting `http://` hook destinations: for tests whose webhook
    /// receiver listens on plain HTTP (loopback), which BigCommerce itself would refuse.
    pub fn with_http_destinations(self) -> Self {
        Self {
            allow_http_destinations: true,
            ..self
        }
    }
}

/// Every OAuth scope the sandbox checks: a store's token carries all of them unless a test
/// restricts it ([`BigCommerceSandbox::set_token_scopes`]).
pub const ALL_SCOPES: [&str; 8] = [
    "store_v2_orders",
    "store_v2_orders_read_only",
    "store_v2_transactions",
    "store_v2_transactions_read_only",
    "store_v2_products",
    "store_v2_products_read_only",
    "store_channel_settings",
    "store_channel_settings_read_only",
];

/// A store and its API account.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StoreSpec {
    /// Store hash (the `{hash}` in `/stores/{hash}/`).
    pub hash: String,
    /// The `X-Auth-Token` the store accepts.
    pub access_token: String,
    /// The API account's client id (shown on hooks).
    pub client_id: String,
    /// The client secret webhook deliveries are signed with.
    pub client_secret: String,
    /// Numeric store id (`store_id` in webhook payloads).
    #[serde(default = "default_store_id")]
    pub store_id: String,
}

fn default_store_id() -> String {
    "1001".into()
}

/// A catalog product.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ProductSpec {
    /// Product id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// SKU.
    pub sku: String,
    /// List price (pricing basis).
    pub price: Decimal,
    /// Category ids.
    pub categories: Vec<u64>,
}

/// One refunded item.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RefundItemSpec {
    /// Units of an order line (valued by the store at the discounted price).
    Product {
        /// Order-product id.
        line_id: u64,
        /// Units.
        quantity: u64,
    },
    /// Part of the shipping, in the pricing basis.
    Shipping {
        /// Amount.
        amount: Decimal,
    },
    /// A custom amount against the order (no tax).
    Order {
        /// Amount.
        amount: Decimal,
    },
}

/// A refund to create.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RefundSpec {
    /// What is refunded.
    pub items: Vec<RefundItemSpec>,
    /// How much of the refund goes to store credit; the rest goes back through the order's
    /// payment gateway (`OrderSpec::payment_gateway`).
    #[serde(default)]
    pub to_store_credit: Decimal,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// When (now when absent).
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
}

/// Trouble to cause, for the next `times` matching requests (or deliveries).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this status (500, 502, 503, 504…) instead.
    Status {
        /// HTTP status.
        status: u16,
        /// How many requests.
        times: u32,
        /// Only requests whose path contains this.
        #[serde(default)]
        path: Option<String>,
    },
    /// Answer this late (longer than the client's timeout makes it a timeout).
    Delay {
        /// Delay in milliseconds.
        millis: u64,
        /// How many requests.
        times: u32,
        /// Only requests whose path contains this.
        #[serde(default)]
        path: Option<String>,
    },
    /// 429s regardless of the quota; without the rate-limit headers when the platform itself
    /// is overloaded.
    RateLimitStorm {
        /// How many requests.
        times: u32,
        /// Send the `X-Rate-Limit-*` headers with them.
        with_headers: bool,
    },
    /// Lose the next webhook deliveries (they are never sent).
    DropWebhooks {
        /// How many deliveries.
        times: u32,
    },
    /// 429s that carry only `X-Retry-After` (whole seconds), no `X-Rate-Limit-*` headers.
    RetryAfter {
        /// `X-Retry-After` seconds.
        seconds: u64,
        /// How many requests.
        times: u32,
    },
}

impl Fault {
    /// The fault's kind, as `faults_served` counts it (`status`, `delay`, `rate_limit_storm`,
    /// `drop_webhooks`, `retry_after`).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Status { .. } => "status",
            Fault::Delay { .. } => "delay",
            Fault::RateLimitStorm { .. } => "rate_limit_storm",
            Fault::DropWebhooks { .. } => "drop_webhooks",
            Fault::RetryAfter { .. } => "retry_after",
        }
    }
}

pub(crate) struct Shared {
    pub world: Mutex<World>,
    pub options: SandboxOptions,
    pub in_flight: AtomicUsize,
    pub http: reqwest::Client,
}

/// A running sandbox store server.
pub struct BigCommerceSandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl BigCommerceSandbox {
    /// Starts a server on a free loopback port.
    pub async fn start(options: SandboxOptions) -> Self {
        let shared = Arc::new(Shared {
            world: Mutex::new(World::default()),
            options,
            in_flight: AtomicUsize::new(0),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("HTTP client"),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let app = server::router(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("sandbox server");
        });
        Self {
            addr,
            shared,
            server,
        }
    }

    /// `http://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The API base of a store: `http://127.0.0.1:{port}/stores/{hash}` (the connector's
    /// `api_base_url`).
    pub fn store_url(&self, hash: &str) -> String {
        format!("{}/stores/{hash}", self.url())
    }

    fn with<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.shared.world.lock().expect("sandbox state"))
    }

    /// Adds a store (replacing one with the same hash).
    pub fn add_store(&self, spec: StoreSpec) {
        self.with(|w| w.add_store(spec));
    }

    /// Adds a category to the store's tree.
    pub fn add_category(&self, hash: &str, id: u64, parent_id: u64, name: &str) {
        self.with(|w| w.store_mut(hash).add_category(id, parent_id, name));
    }

    /// Adds a catalog product.
    pub fn add_product(&self, hash: &str, product: ProductSpec) {
        self.with(|w| w.store_mut(hash).add_product(product));
    }

    /// Adds a channel (storefront).
    pub fn add_channel(&self, hash: &str, id: u64, name: &str) {
        self.with(|w| w.store_mut(hash).add_channel(id, name));
    }

    /// Creates an order (priced as BigCommerce would) and fires `store/order/created`.
    pub fn create_order(&self, hash: &str, spec: OrderSpec) -> u64 {
        let (id, events) = self.with(|w| w.create_order(hash, &spec));
        self.emit(hash, events);
        id
    }

    /// Stores an order exactly as given (any figures, even inconsistent ones), with its lines.
    pub fn put_raw_order(&self, hash: &str, order: Value, lines: Vec<Value>) {
        self.with(|w| w.store_mut(hash).put_raw_order(order, lines));
    }

    /// Edits an order (new lines and amounts, priced again); fires `store/order/updated`.
    pub fn edit_order(&self, hash: &str, order_id: u64, spec: OrderSpec) {
        let events = self.with(|w| w.edit_order(hash, order_id, &spec));
        self.emit(hash, events);
    }

    /// Changes an order's status; fires `store/order/statusUpdated` and `store/order/updated`.
    pub fn set_status(&self, hash: &str, order_id: u64, status_id: u32) {
        let events = self.with(|w| w.set_status(hash, order_id, status_id));
        self.emit(hash, events);
    }

    /// Creates a refund (valued as BigCommerce would), sets the order Refunded once its refunds
    /// cover its total and Partially Refunded before, and fires `store/order/refund/created`.
    pub fn create_refund(&self, hash: &str, order_id: u64, spec: RefundSpec) -> u64 {
        let (id, events) = self.with(|w| w.create_refund(hash, order_id, &spec));
        self.emit(hash, events);
        id
    }

    /// The order-product ids of an order (what product refunds name), for drivers that refund
    /// lines without reading the order through the API (and its injected faults).
    pub fn line_ids(&self, hash: &str, order_id: u64) -> Vec<u64> {
        self.with(|w| w.store_mut(hash).line_ids(order_id))
    }

    /// Archives an order, as `DELETE /v2/orders/{id}` does: it keeps its status and figures,
    /// shows `is_deleted: true`, drops out of `GET /v2/orders` (listed with `is_deleted=true`
    /// only), is still served by id; fires `store/order/archived`.
    pub fn archive_order(&self, hash: &str, order_id: u64) {
        let events = self.with(|w| w.archive_order(hash, order_id));
        self.emit(hash, events);
    }

    /// The OAuth scopes the store's token carries (all of [`ALL_SCOPES`] until this is
    /// called). A call the token has no scope for is answered 403, as BigCommerce does.
    pub fn set_token_scopes(&self, hash: &str, scopes: &[&str]) {
        self.with(|w| w.store_mut(hash).scopes = scopes.iter().map(|s| s.to_string()).collect());
    }

    /// Queues a fault for a store.
    pub fn inject(&self, hash: &str, fault: Fault) {
        self.with(|w| w.store_mut(hash).inject(fault));
    }

    /// Faults served so far for a store, by kind ([`Fault::kind`]): one per request (or
    /// delivery) a fault changed.
    pub fn faults_served(&self, hash: &str) -> BTreeMap<&'static str, u32> {
        self.with(|w| w.store_mut(hash).faults_served.clone())
    }

    /// Uses of injected faults not served yet (0 once every injected fault has fired).
    pub fn faults_pending(&self, hash: &str) -> u32 {
        self.with(|w| w.store_mut(hash).faults.iter().map(|s| s.left).sum())
    }

    /// 403s served because the token lacked the scope.
    pub fn scope_refusals(&self, hash: &str) -> u64 {
        self.with(|w| w.store_mut(hash).scope_refusals)
    }

    /// Switches a hook off, as BigCommerce does after 90 idle days.
    pub fn deactivate_hook(&self, hash: &str, hook_id: u64) {
        self.with(|w| w.store_mut(hash).deactivate_hook(hook_id));
    }

    /// Hooks that deliver now: active, and past their activation delay.
    pub fn hooks_delivering(&self, hash: &str) -> usize {
        self.with(|w| {
            w.store_mut(hash)
                .hooks
                .iter()
                .filter(|h| h.is_active && h.active_from <= std::time::Instant::now())
                .count()
        })
    }

    /// The store's hooks, as the API shows them.
    pub fn hooks(&self, hash: &str) -> Vec<Value> {
        self.with(|w| w.store_mut(hash).hooks_json())
    }

    /// Adds a hook directly (as another app or an earlier installation would have).
    pub fn put_hook(
        &self,
        hash: &str,
        scope: &str,
        destination: &str,
        is_active: bool,
        headers: Option<Value>,
    ) -> u64 {
        self.with(|w| {
            w.store_mut(hash)
                .put_hook(scope, destination, is_active, headers)
        })
    }

    /// Every API request served, in order (the token is never recorded).
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.with(|w| w.log.clone())
    }

    /// Requests served for one store.
    pub fn request_count(&self, hash: &str) -> usize {
        self.with(|w| w.log.iter().filter(|e| e.store == hash).count())
    }

    /// 429s served because the quota was exhausted (storms not counted).
    pub fn quota_exceeded(&self, hash: &str) -> u64 {
        self.with(|w| w.store_mut(hash).quota_exceeded)
    }

    /// Forgets the request log.
    pub fn clear_exchanges(&self) {
        self.with(|w| w.log.clear());
    }

    /// Every webhook delivery attempted, in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.with(|w| w.deliveries.clone())
    }

    /// Sends a delivery again, with the same webhook id and body (BigCommerce's retries and
    /// duplicates look like this).
    pub fn redeliver(&self, index: usize) {
        let job = self.with(|w| {
            let d = w.deliveries.get(index)?;
            let secret = w.stores.get(&d.store)?.spec.client_secret.clone();
            Some(webhooks::Job::again(d, &secret))
        });
        if let Some(job) = job {
            webhooks::spawn(self.shared.clone(), job);
        }
    }

    /// Waits until every webhook delivery in flight has finished, its retries included.
    pub async fn settle(&self) {
        while self.shared.in_flight.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn emit(&self, hash: &str, events: Vec<state::Event>) {
        webhooks::emit(&self.shared, hash, events);
    }
}

impl Drop for BigCommerceSandbox {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(dir) = std::env::var_os(EXCHANGES_DIR) {
            self.leave_exchanges(std::path::Path::new(&dir));
        }
    }
}

/// The environment variable naming the directory where each sandbox leaves the connector's
/// exchanges when dropped.
pub const EXCHANGES_DIR: &str = "MLC_BC_EXCHANGES";

impl BigCommerceSandbox {
    /// Writes the exchanges the connector had with this sandbox (its `User-Agent` starts with
    /// `ml-connector/`) to `{dir}/{binary}-{test}-{pid}-{n}.jsonl`, named after the test binary
    /// and the test's thread.
    fn leave_exchanges(&self, dir: &std::path::Path) {
        static N: AtomicUsize = AtomicUsize::new(0);
        let Ok(world) = self.shared.world.lock() else {
            return;
        };
        let lines: String = world
            .log
            .iter()
            .filter(|e| {
                e.request_headers
                    .get("user-agent")
                    .is_some_and(|ua| ua.starts_with("ml-connector/"))
            })
            .filter_map(|e| serde_json::to_string(e).ok())
            .map(|l| l + "\n")
            .collect();
        if lines.is_empty() {
            return;
        }
        // The test binary (`pipeline-…`, `it-…`) and the test's thread, e.g.
        // `pipeline-1f2e…-a_paid_order_goes_from_webhook_to_the_ledger_exactly_once`.
        let binary = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let test: String = format!(
            "{binary}-{}",
            std::thread::current().name().unwrap_or("sandbox")
        )
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
        let name = format!(
            "{test}-{}-{}.jsonl",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        // A test's own assertions decide the test; a directory that cannot be written only
        // leaves the later contract check with less to read, which it reports.
        let _ = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(dir.join(name), lines));
    }
}
