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
