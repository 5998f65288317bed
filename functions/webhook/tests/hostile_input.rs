//! What the webhook function tells the internet, and what it logs, when a delivery cannot be
//! taken because of the configuration: the sender (not authenticated yet) learns only that the
//! connector is not configured or cannot take it now; the operator's log says which field is
//! wrong and never quotes a secret from the document.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::adapters::local_queue::LocalQueue;
use common::adapters::secrets::FileSource;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::ports::{Ports, SystemClock};
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use webhook::WebhookApp;

/// Everything the function logged while a test ran.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn example_document() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/examples/connector.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The function over `doc` written to a file, with its answer to one delivery and its log.
async fn deliver(name: &str, doc: &Value) -> (u16, String, String) {
    let dir = std::env::temp_dir().join(format!("webhook-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("connector.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    let db = SqliteDb::in_memory().unwrap();
    let ports = Ports {
        source: Arc::new(FileSource::new(&path)),
        store: Arc::new(SqliteStore::new(db.clone())),
        queue: Arc::new(LocalQueue::new(db, "orders", 5)),
        clock: Arc::new(SystemClock),
    };
    let app = WebhookApp::new(ports, "test");
    let body = json!({"scope": "store/order/created", "store_id": "1001",
        "producer": "stores/nw4x7k2p", "data": {"type": "order", "id": 7}})
    .to_string();
    let request: Request = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/webhooks")
        .header("webhook-id", "msg_1")
        .header(
            "webhook-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .header("webhook-signature", "v1,AAAA")
        .body(Body::from(body))
        .unwrap();
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let response = {
        let _guard = tracing::subscriber::set_default(subscriber);
        app.handle(request).await
    };
    std::fs::remove_dir_all(&dir).ok();
    let answer = match response.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    (response.status().as_u16(), answer, log.text())
}

#[tokio::test]
async fn a_secret_in_the_wrong_place_is_neither_answered_nor_logged() {
    let mut doc = example_document();
    doc["oracle"]["auth"] = json!("oracle-client-secret-3f9a");
    let (status, answer, log) = deliver("misplaced", &doc).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap(),
        json!({"error": "unavailable", "message": "the connector is not configured; retry later"})
    );
    assert!(
        log.contains("oracle.auth"),
        "the operator is told where: {log}"
    );
    assert!(!log.contains("oracle-client-secret-3f9a"), "{log}");
}

#[tokio::test]
async fn a_store_secret_that_cannot_be_read_is_not_named_to_the_sender() {
    let mut doc = example_document();
    for store in doc["stores"].as_array_mut().unwrap() {
        store["credentials"]["client_secret"] = json!({"env": "MLC_TEST_SURELY_UNSET_SECRET_9"});
    }
    let (status, answer, log) = deliver("unreadable", &doc).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap(),
        json!({"error": "unavailable", "message": "not accepted now; retry later"})
    );
    assert!(
        log.contains("MLC_TEST_SURELY_UNSET_SECRET_9"),
        "the operator is told which variable: {log}"
    );
}
