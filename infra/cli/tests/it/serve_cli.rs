//! `mlc serve` as one local process against the sandboxes: its first sweep points the store's
//! webhooks at its endpoint, a new order's signed delivery comes in, the poster sends the sale
//! to the pod, and the tracker between sweeps confirms it Posted (the next sweep is an hour
//! away).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::journal::PostingKind;
use common::ports::StateStore;
use common::state::{PostingKey, StateName};
use sandbox::bigcommerce::SandboxOptions;
use sandbox::demo::{HASH, seeded_pod, seeded_store, us_order};
use sandbox::oracle::PodOptions;

use crate::support::{sandboxed_config, scratch};

/// Stops the server when the test ends, passed or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_a_webhook_to_a_posted_journal() {
    // `mlc serve` listens on plain HTTP (loopback), which BigCommerce would refuse.
    let sb = seeded_store(SandboxOptions::default().with_http_destinations()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let dir = scratch("serve");
    let config = sandboxed_config(&dir, &sb, &pod);
    let state = dir.join("state.db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/webhooks");
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_mlc"))
            .args([
                "serve",
                "--config",
                config.to_str().unwrap(),
                "--state",
                state.to_str().unwrap(),
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--webhook-url",
                &url,
                "--poll-seconds",
                "3600",
                "--track-seconds",
                "1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The first sweep registers the hooks at the endpoint.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sb.hooks(HASH).len() < 4 {
        assert!(Instant::now() < deadline, "hooks: {:?}", sb.hooks(HASH));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        sb.hooks(HASH)
            .iter()
            .all(|h| h["destination"] == url.as_str())
    );

    let id = sb.create_order(HASH, us_order(1, 0));
    sb.settle().await;
    let key = PostingKey {
        store: "us".into(),
        order_id: id,
        posting: PostingKind::Sale,
    };
    let store = SqliteStore::new(SqliteDb::open(&state).unwrap());
    let mut now = None;
    while now != Some(StateName::Posted) {
        assert!(
            Instant::now() < deadline,
            "the sale is {now:?}; deliveries: {:?}",
            sb.deliveries()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        now = store
            .posting(&key)
            .await
            .ok()
            .flatten()
            .map(|p| p.state.name());
    }
    assert_eq!(pod.batches().len(), 1);
    let story = store.audit_of_order("us", id).await.unwrap();
    assert!(
        story[0].detail["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("webhook "),
        "{story:?}"
    );
}

/// The two front doors, the webhook function behind API Gateway and `mlc serve`, answer every
/// delivery alike: the same status and the same body for the same hostile or normal input, in
/// the same order (so the second sighting of a delivery is a duplicate at both).
mod front_doors {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use common::adapters::local_queue::LocalQueue;
    use common::adapters::secrets::FileSource;
    use common::adapters::sqlite::{SqliteDb, SqliteStore};
    use common::ports::{Ports, SystemClock};
    use common::posting::intake::MAX_BODY;
    use sandbox::bigcommerce::sign;
    use serde_json::{Value, json};
    use webhook::WebhookApp;

    use super::Server;
    use crate::support::{example_document, scratch, write};

    const SECRET: &str = "parity-client-secret";

    /// One delivery: its headers (name, value) and its body.
    struct Delivery {
        name: &'static str,
        headers: Vec<(String, String)>,
        body: String,
    }

    fn event(scope: &str, producer: Option<&str>, id: u64) -> String {
        let mut event = json!({"scope": scope, "store_id": "1001",
            "data": {"type": "order", "id": id}, "created_at": chrono::Utc::now().timestamp()});
        if let Some(p) = producer {
            event["producer"] = json!(p);
        }
        event.to_string()
    }

    /// `body` signed with the document's client secret as BigCommerce signs it, `age` seconds
    /// ago, with these header names.
    fn signed(name: &'static str, id: &str, body: String, age: i64, names: [&str; 3]) -> Delivery {
        let timestamp = chrono::Utc::now().timestamp() - age;
        let signature = sign(SECRET, id, timestamp, &body);
        Delivery {
            name,
            headers: vec![
                (names[0].into(), id.into()),
                (names[1].into(), timestamp.to_string()),
                (names[2].into(), signature),
            ],
            body,
        }
    }

    const STANDARD: [&str; 3] = ["webhook-id", "webhook-timestamp", "webhook-signature"];

    /// The table: each row's expected status, then the delivery.
    fn deliveries() -> Vec<(u16, Delivery)> {
        let order = event("store/order/created", Some("stores/nw4x7k2p"), 101);
        let mut wrong_key = signed(
            "a signature by another key",
            "msg_w",
            order.clone(),
            0,
            STANDARD,
        );
        wrong_key.headers[2].1 = sign(
            "someone-else",
            "msg_w",
            chrono::Utc::now().timestamp(),
            &order,
        );
        let mut unsigned = signed("no signature headers", "msg_u", order.clone(), 0, STANDARD);
        unsigned.headers.clear();
        let mut rotated = signed(
            "two signatures, the second ours",
            "msg_r",
            event("store/order/updated", Some("stores/nw4x7k2p"), 104),
            0,
            STANDARD,
        );
        rotated.headers[2].1 = format!("v1,AAAA {}", rotated.headers[2].1);
        let big = format!(
            "{{\"scope\":\"store/order/created\",\"pad\":\"{}\"}}",
            "x".repeat(MAX_BODY)
        );
        vec![
            (200, signed("an order", "msg_1", order.clone(), 0, STANDARD)),
            (
                200,
                signed(
                    "the same delivery again",
                    "msg_1",
                    order.clone(),
                    0,
                    STANDARD,
                ),
            ),
            (
                200,
                signed(
                    "header names in capitals",
                    "msg_2",
                    event("store/order/created", Some("stores/nw4x7k2p"), 102),
                    0,
                    ["Webhook-Id", "WEBHOOK-TIMESTAMP", "Webhook-Signature"],
                ),
            ),
            (200, rotated),
            (
                200,
                signed(
                    "a scope the connector ignores",
                    "msg_3",
                    event("store/product/updated", Some("stores/nw4x7k2p"), 5),
                    0,
                    STANDARD,
                ),
            ),
            (
                200,
                signed(
                    "a store not in the document",
                    "msg_4",
                    event("store/order/created", Some("stores/zz9zz9zz"), 103),
                    0,
                    STANDARD,
                ),
            ),
            (401, unsigned),
            (401, wrong_key),
            (
                401,
                signed(
                    "a delivery an hour old",
                    "msg_5",
                    order.clone(),
                    3600,
                    STANDARD,
                ),
            ),
            (
                400,
                signed(
                    "signed, not JSON",
                    "msg_6",
                    "order 101 please".into(),
                    0,
                    STANDARD,
                ),
            ),
            (
                400,
                signed(
                    "signed, without a producer",
                    "msg_7",
                    event("store/order/created", None, 105),
                    0,
                    STANDARD,
                ),
            ),
            (
                400,
                signed("signed, empty", "msg_8", String::new(), 0, STANDARD),
            ),
            (
                413,
                signed("larger than any event", "msg_9", big, 0, STANDARD),
            ),
        ]
    }

    /// The example document with an inline client secret (and no other usable credential: no
    /// call leaves this machine).
    fn document(dir: &Path) -> std::path::PathBuf {
        let mut doc = example_document();
        for store in doc["stores"].as_array_mut().unwrap() {
            store["credentials"]["client_secret"] = json!(SECRET);
        }
        write(dir, "connector.json", &doc)
    }

    /// The webhook function's answer, invoked with the API Gateway (payload 2.0) event for the
    /// delivery (header names lower-cased, as API Gateway sends them).
    async fn through_the_function(app: &WebhookApp, d: &Delivery) -> (u16, Value) {
        let mut headers = d.headers.clone();
        headers.push(("content-type".into(), "application/json".into()));
        let event = e2e::api_gateway_event(&headers, d.body.as_bytes());
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let response = app.handle(request).await;
        let body = match response.body() {
            lambda_http::Body::Text(t) => t.clone(),
            lambda_http::Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{}",
            d.name
        );
        (
            response.status().as_u16(),
            serde_json::from_str(&body).unwrap_or(json!(body)),
        )
    }

    /// `mlc serve`'s answer to the delivery as a plain HTTP/1.1 POST.
    fn through_serve(port: u16, d: &Delivery) -> (u16, Value) {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut head = format!(
            "POST /webhooks HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            d.body.len()
        );
        for (k, v) in &d.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        // The body may be refused before it is all sent (413): what was answered still counts.
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(d.body.as_bytes());
        // No half-close: the server would take it for a caller gone and drop the answer;
        // `Connection: close` ends the exchange once answered.
        let mut got = Vec::new();
        let _ = stream.read_to_end(&mut got);
        let text = String::from_utf8_lossy(&got).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("{}: {text:?}", d.name));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{}: {head}",
            d.name
        );
        (status, serde_json::from_str(body).unwrap_or(json!(body)))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_function_and_serve_answer_every_delivery_alike() {
        let dir = scratch("front-doors");
        let config = document(&dir);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let _server = Server(
            Command::new(env!("CARGO_BIN_EXE_mlc"))
                .args(["serve", "--config", config.to_str().unwrap()])
                .args(["--state", dir.join("serve.db").to_str().unwrap()])
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(["--poll-seconds", "3600"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mlc serve did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let db = SqliteDb::open(&dir.join("function.db")).unwrap();
        let function = WebhookApp::new(
            Ports {
                source: Arc::new(FileSource::new(&config)),
                store: Arc::new(SqliteStore::new(db.clone())),
                queue: Arc::new(LocalQueue::new(db, "orders", 5)),
                clock: Arc::new(SystemClock),
            },
            "MlConnector/parity",
        );
        let mut seen = Vec::new();
        for (status, delivery) in deliveries() {
            let lambda = through_the_function(&function, &delivery).await;
            let serve = tokio::task::block_in_place(|| through_serve(port, &delivery));
            assert_eq!(
                lambda, serve,
                "{}: the function and serve differ",
                delivery.name
            );
            assert_eq!(lambda.0, status, "{}: {}", delivery.name, lambda.1);
            seen.push((delivery.name, lambda.1));
        }
        // What the rows answered, beyond their status.
        let answer = |name: &str| seen.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(
            answer("an order"),
            json!({"status": "queued", "order_id": 101})
        );
        assert_eq!(
            answer("the same delivery again"),
            json!({"status": "duplicate"})
        );
        assert_eq!(answer("header names in capitals")["order_id"], 102);
        assert_eq!(answer("two signatures, the second ours")["order_id"], 104);
        assert_eq!(answer("a store not in the document")["status"], "ignored");
        assert_eq!(answer("larger than any event")["error"], "too_large");
        assert_eq!(answer("a delivery an hour old")["error"], "unauthenticated");
        std::fs::remove_dir_all(&dir).ok();
    }
}
