//! `mlc dead-letters` on local state: the orders waiting are listed with their reason and
//! receive count; `--redrive` moves them back to the queue with who moved them, and leaves
//! what is not an order message.

use std::time::Duration;

use common::adapters::local_queue::LocalQueue;
use common::adapters::sqlite::SqliteDb;
use common::ports::Queue;
use common::posting::message::{KIND_ORDER, OrderMessage};
use serde_json::Value;

use crate::support::{mlc, scratch, text};

#[tokio::test]
async fn dead_letters_are_listed_then_moved_back_with_who_moved_them() {
    let dir = scratch("dead-letters");
    let state = dir.join("state.db");
    let db = SqliteDb::open(&state).unwrap();
    // The queue as `mlc serve` uses it, made to give up after one receive.
    let queue = LocalQueue::new(db.clone(), "orders", 1);
    let seen = chrono::Utc::now();
    for (id, reason) in [(501, "webhook store/order/created"), (502, "poll")] {
        let body = OrderMessage::new("nw4x7k2p", id, reason, seen).to_body();
        queue.send(&body, &[("kind", KIND_ORDER)]).await.unwrap();
    }
    queue.send("garbage", &[]).await.unwrap();
    assert_eq!(queue.receive(10, Duration::ZERO).await.unwrap().len(), 3);
    assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
    let state_arg = state.to_str().unwrap();

    let out = mlc(&["dead-letters", "--state", state_arg]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("3 dead letters"), "{stdout}");
    assert!(
        stdout.contains(
            "order 501 of store nw4x7k2p  received 1 times  reason: webhook store/order/created"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("not an order message"), "{stdout}");

    let out = mlc(&[
        "dead-letters",
        "--state",
        state_arg,
        "--redrive",
        "--by",
        "ops@example.com",
        "--format",
        "json",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let done: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(done["moved"].as_array().unwrap().len(), 2);
    assert_eq!(done["left"].as_array().unwrap().len(), 1);
    let back = queue.receive(10, Duration::from_secs(30)).await.unwrap();
    let mut orders: Vec<u64> = back
        .iter()
        .map(|m| {
            let message = OrderMessage::parse(&m.body).unwrap();
            assert!(
                message.reason.contains("(redriven by ops@example.com at "),
                "{}",
                message.reason
            );
            message.order_id
        })
        .collect();
    orders.sort_unstable();
    assert_eq!(orders, [501, 502]);

    let missing = mlc(&[
        "dead-letters",
        "--state",
        dir.join("none.db").to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(2));
}
