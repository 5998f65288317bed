//! Never post the wrong order: an answer from BigCommerce about another order, or from another
//! store than the message named, is refused as a passing failure (the message is retried, then
//! dead-lettered with the reason) and nothing is recorded or imported from it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use common::adapters::local_queue::LocalQueue;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::bigcommerce::{BigCommerceClient, ClientSettings};
use common::config::ConnectorConfig;
use common::oracle::{FusionClient, FusionSettings};
use common::ports::{BigCommerceApi, SystemClock};
use common::posting::group_ids::ClockGroupIds;
use common::posting::message::OrderMessage;
use common::posting::poster::drain_queue;
use common::posting::services::{PipelineSettings, Services};
use sandbox::bigcommerce::SandboxOptions;
use sandbox::demo::{HASH, document_for, seeded_pod, seeded_store, us_order};
use sandbox::oracle::PodOptions;
use serde_json::Value;

/// Services for `doc`, with a client per store hash the document names.
fn services(doc: &Value, db: &SqliteDb) -> Services {
    let config = Arc::new(ConnectorConfig::from_json(&doc.to_string(), "test").unwrap());
    let settings = PipelineSettings::for_config(&config);
    let mut clients: BTreeMap<String, Arc<dyn BigCommerceApi>> = BTreeMap::new();
    for entry in &config.stores {
        clients.insert(
            entry.store_hash.clone(),
            Arc::new(BigCommerceClient::for_store(entry, ClientSettings::default()).unwrap()),
        );
    }
    let oracle =
        Arc::new(FusionClient::from_config(&config.oracle, FusionSettings::default()).unwrap());
    Services::new(
        config,
        Arc::new(SqliteStore::new(db.clone())),
        Arc::new(LocalQueue::new(db.clone(), "orders", 5)),
        Arc::new(SystemClock),
        oracle,
        Arc::new(ClockGroupIds::default()),
        clients,
        settings,
    )
}

/// A stand-in for a misrouting cache or gateway in front of the store: every request for
/// order `asked` is answered with order `answered`'s resources.
async fn misrouting_proxy(upstream: String, asked: u64, answered: u64) -> String {
    #[derive(Clone)]
    struct Route {
        upstream: String,
        asked: String,
        answered: String,
        http: reqwest::Client,
    }
    async fn forward(
        State(r): State<Route>,
        method: http::Method,
        uri: http::Uri,
        headers: http::HeaderMap,
        body: Bytes,
    ) -> impl IntoResponse {
        let path = uri
            .path_and_query()
            .map_or(uri.path().to_string(), |p| p.to_string());
        let path = path.replace(&r.asked, &r.answered);
        let mut request = r.http.request(method, format!("{}{path}", r.upstream));
        for (name, value) in &headers {
            if name != http::header::HOST {
                request = request.header(name, value);
            }
        }
        let answer = request.body(body).send().await.unwrap();
        let status = answer.status();
        let text = answer.text().await.unwrap();
        (
            status,
            [(http::header::CONTENT_TYPE, "application/json")],
            text,
        )
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let route = Route {
        upstream,
        asked: format!("/v2/orders/{asked}"),
        answered: format!("/v2/orders/{answered}"),
        http: reqwest::Client::new(),
    };
    let app = axum::Router::new().fallback(forward).with_state(route);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Queues a message about `order_id` of `hash`, drains the queue once, and returns the
/// reasons the poster gave for retrying.
async fn post_once(svc: &Services, hash: &str, order_id: u64) -> Vec<String> {
    let message = OrderMessage::new(
        hash,
        order_id,
        "webhook store/order/created",
        chrono::Utc::now(),
    );
    svc.queue
        .send(&message.to_body(), &[("kind", "order")])
        .await
        .unwrap();
    let reports = drain_queue(svc, svc.queue.as_ref(), std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(reports.len(), 1, "one batch was handled");
    reports[0]
        .retry
        .iter()
        .map(|(_, why)| why.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_about_another_order_is_refused_and_nothing_is_posted() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let other = sb.create_order(HASH, us_order(2, 0));
    let asked = sb.create_order(HASH, us_order(1, 1));
    let proxy = misrouting_proxy(sb.url(), asked, other).await;
    let mut doc = document_for(&crate::support::example_document(), &sb, &pod);
    for store in doc["stores"].as_array_mut().unwrap() {
        store["api_base_url"] = Value::from(format!("{proxy}/stores/{HASH}"));
    }
    let db = SqliteDb::in_memory().unwrap();
    let svc = services(&doc, &db);

    let reasons = post_once(&svc, HASH, asked).await;
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].contains(&format!(
            "answered with order {other} when asked for order {asked}"
        )),
        "{reasons:?}"
    );
    for id in [asked, other] {
        assert!(svc.store.postings_of("us", id).await.unwrap().is_empty());
        assert!(svc.store.order("us", id).await.unwrap().is_none());
    }
    assert!(pod.batches().is_empty(), "nothing reached the ledger");
    // The message stays on the queue for a retry (then the dead-letter queue), not lost.
    assert_eq!(
        svc.queue
            .receive(10, std::time::Duration::from_secs(1))
            .await
            .unwrap()
            .len(),
        0,
        "invisible until its visibility timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_from_another_store_than_the_message_named_is_refused() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let id = sb.create_order(HASH, us_order(1, 0));
    // The document names the store `wronghash` but its API base points at store HASH: the
    // answer's products link names HASH.
    let mut doc = document_for(&crate::support::example_document(), &sb, &pod);
    for store in doc["stores"].as_array_mut().unwrap() {
        store["store_hash"] = Value::from("wronghash");
    }
    let db = SqliteDb::in_memory().unwrap();
    let svc = services(&doc, &db);

    let reasons = post_once(&svc, "wronghash", id).await;
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].contains(&format!(
            "asked of store wronghash but the answer comes from store {HASH}"
        )),
        "{reasons:?}"
    );
    assert!(svc.store.postings_of("us", id).await.unwrap().is_empty());
    assert!(pod.batches().is_empty());

    // The same document with the right hash posts the order: the refusal was the mismatch.
    let mut right = doc.clone();
    for store in right["stores"].as_array_mut().unwrap() {
        store["store_hash"] = Value::from(HASH);
    }
    let fixed = services(&right, &db);
    let reasons = post_once(&fixed, HASH, id).await;
    assert!(reasons.is_empty(), "{reasons:?}");
    assert_eq!(fixed.store.postings_of("us", id).await.unwrap().len(), 1);
}
