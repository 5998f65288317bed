//! The JSON log lines carry the fields of the spans they were written in: one order through
//! the poster, against the sandbox store and pod, logs lines that name its store and order
//! without the lines saying so themselves, so `filter order_id = …` finds them in CloudWatch.

use std::sync::{Arc, Mutex};

use common::adapters::sqlite::SqliteDb;
use common::posting::message::OrderMessage;
use common::posting::poster::{Incoming, post_batch};
use common::telemetry::json_subscriber;
use sandbox::bigcommerce::SandboxOptions;
use sandbox::demo::{HASH, document_for, seeded_pod, seeded_store, us_order};
use sandbox::oracle::PodOptions;
use serde_json::Value;
use tracing::instrument::WithSubscriber;

/// The lines the subscriber wrote.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn json(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orders_log_lines_carry_its_store_and_order_from_the_span() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let svc = crate::support::pipeline::services(&doc, &db);
    let id = sb.create_order(HASH, us_order(1, 0));
    let message = OrderMessage::new(HASH, id, "test", chrono::Utc::now());

    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = json_subscriber(
        move || writer.clone(),
        tracing_subscriber::EnvFilter::new("info"),
    );
    let incoming = vec![Incoming {
        message_id: "m-1".into(),
        body: message.to_body(),
    }];
    let report = post_batch(&svc, incoming).with_subscriber(subscriber).await;
    assert!(report.retry.is_empty(), "{:?}", report.retry);

    let lines = lines.json();
    let decided = lines
        .iter()
        .find(|l| l["message"] == "order decided")
        .unwrap_or_else(|| panic!("no line for the order: {lines:?}"));
    assert_eq!(decided["order_id"], id, "{decided}");
    assert_eq!(decided["store"], "us", "{decided}");
    assert_eq!(decided["store_hash"], HASH, "{decided}");
    assert_eq!(decided["new"], 1, "the sale: {decided}");
    assert_eq!(decided["span"], "order", "{decided}");
    assert_eq!(
        decided["spans"],
        serde_json::json!(["poster_batch", "order"])
    );
    // Every line written inside the order's span names the order.
    for line in lines.iter().filter(|l| {
        l["spans"]
            .as_array()
            .is_some_and(|s| s.iter().any(|n| n == "order"))
    }) {
        assert_eq!(line["order_id"], id, "{line}");
    }
}
