//! One behavioural suite for both queues: SQS (on moto server) and the local SQLite queue.
//! Attributes survive, unacknowledged messages come back after their visibility timeout with a
//! higher receive count, and a message received too often goes to the dead letters.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::ports::{Queue, Received};
use common::posting::dead_letters;
use common::posting::message::{KIND_ORDER, OrderMessage};

use crate::support::eventually;

const VISIBILITY: Duration = Duration::from_secs(1);
/// How long a wait for a visibility timeout to end may take, on a busy machine.
const PATIENCE: Duration = Duration::from_secs(15);

/// Receives until `n` messages have come back (each once), as their visibility timeouts end.
async fn receive_again(q: &dyn Queue, n: usize) -> Vec<Received> {
    let mut got: Vec<Received> = Vec::new();
    eventually(
        &format!("{n} messages back after their visibility timeout"),
        PATIENCE,
        async || {
            got.extend(q.receive(10, VISIBILITY).await.unwrap());
            got.len() >= n
        },
    )
    .await;
    assert_eq!(got.len(), n, "each once");
    got
}

/// Waits until `n` messages received too often are dead letters; no receive hands one out
/// meanwhile.
async fn until_dead(q: &dyn Queue, n: usize) {
    eventually(&format!("{n} dead letters"), PATIENCE, async || {
        let got = q.receive(10, VISIBILITY).await.unwrap();
        assert!(
            got.is_empty(),
            "received too often, yet handed out again: {got:?}"
        );
        q.dead_letters(10).await.unwrap().len() == n
    })
    .await;
}

async fn messages_round_trip_with_their_attributes(q: Arc<dyn Queue>) {
    q.send(
        r#"{"store":"us","order_id":1001,"reason":"webhook"}"#,
        &[("kind", "order")],
    )
    .await
    .unwrap();
    let got = q.receive(10, VISIBILITY).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].body,
        r#"{"store":"us","order_id":1001,"reason":"webhook"}"#
    );
    assert_eq!(
        got[0].attributes.get("kind").map(String::as_str),
        Some("order")
    );
    assert_eq!(got[0].receive_count, 1);
    q.delete(&got[0].handle).await.unwrap();
    // A control message received after it and left alone: once the control is back, the
    // deleted one's visibility timeout is over too, and it did not come back.
    q.send("control", &[]).await.unwrap();
    assert_eq!(q.receive(10, VISIBILITY).await.unwrap().len(), 1);
    let back = receive_again(q.as_ref(), 1).await;
    assert_eq!(back[0].body, "control", "deleted for good");
    q.delete(&back[0].handle).await.unwrap();
}

async fn an_unacknowledged_message_comes_back_after_its_visibility_timeout(q: Arc<dyn Queue>) {
    q.send("work", &[]).await.unwrap();
    let first = q.receive(10, VISIBILITY).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        q.receive(10, VISIBILITY).await.unwrap().is_empty(),
        "hidden while someone works on it"
    );
    let again = receive_again(q.as_ref(), 1).await;
    assert_eq!(
        (again[0].message_id.as_str(), again[0].receive_count),
        (first[0].message_id.as_str(), 2)
    );
    q.delete(&again[0].handle).await.unwrap();
}

async fn a_message_received_too_often_goes_to_the_dead_letters(q: Arc<dyn Queue>) {
    q.send("poison", &[("kind", "order")]).await.unwrap();
    assert_eq!(q.receive(10, VISIBILITY).await.unwrap().len(), 1);
    assert_eq!(receive_again(q.as_ref(), 1).await[0].receive_count, 2);
    // Moved after two receives.
    until_dead(q.as_ref(), 1).await;
    let dead = q.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
    assert_eq!(
        dead[0].attributes.get("kind").map(String::as_str),
        Some("order")
    );
    assert_eq!(
        q.dead_letters(10).await.unwrap().len(),
        1,
        "looking does not take them away"
    );
}

async fn batches_are_sent_and_received_whole(q: Arc<dyn Queue>) {
    let messages: Vec<(String, Vec<(String, String)>)> = (0..25)
        .map(|i| {
            (
                format!("order-{i}"),
                vec![("kind".to_string(), "order".to_string())],
            )
        })
        .collect();
    let ids = q.send_batch(&messages).await.unwrap();
    assert_eq!(ids.len(), 25);
    let mut bodies = BTreeSet::new();
    for _ in 0..10 {
        for m in q.receive(10, Duration::from_secs(30)).await.unwrap() {
            bodies.insert(m.body.clone());
            q.delete(&m.handle).await.unwrap();
        }
        if bodies.len() == 25 {
            break;
        }
    }
    assert_eq!(bodies.len(), 25);
}

/// Two order messages and a body that is not one, all received too often.
async fn three_dead_letters(q: &dyn Queue) -> Vec<String> {
    let now = chrono::Utc::now();
    let mut ids = Vec::new();
    for (order_id, reason) in [(7001, "webhook store/order/created"), (7002, "poll")] {
        let body = OrderMessage::new("nw4x7k2p", order_id, reason, now).to_body();
        ids.push(q.send(&body, &[("kind", KIND_ORDER)]).await.unwrap());
    }
    ids.push(q.send("not an order", &[]).await.unwrap());
    assert_eq!(q.receive(10, VISIBILITY).await.unwrap().len(), 3);
    receive_again(q, 3).await;
    until_dead(q, 3).await;
    ids
}

async fn dead_letters_taken_to_move_are_hidden_then_deleted(q: Arc<dyn Queue>) {
    three_dead_letters(q.as_ref()).await;
    let taken = q
        .take_dead_letters(10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(taken.len(), 3);
    assert!(
        q.take_dead_letters(10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty(),
        "a second operator does not take the same ones"
    );
    for m in &taken {
        q.delete_dead_letter(&m.handle).await.unwrap();
    }
    assert!(q.dead_letters(10).await.unwrap().is_empty());
    assert!(
        q.receive(10, VISIBILITY).await.unwrap().is_empty(),
        "nothing went to the queue"
    );
}

async fn redrive_moves_order_messages_back_and_leaves_the_rest(q: Arc<dyn Queue>) {
    three_dead_letters(q.as_ref()).await;
    let listed = dead_letters::list(q.as_ref(), 10).await.unwrap();
    assert_eq!(listed.len(), 3);
    let orders: BTreeSet<u64> = listed
        .iter()
        .filter_map(|d| d.order.as_ref().map(|o| o.order_id))
        .collect();
    assert_eq!(orders, BTreeSet::from([7001, 7002]));
    assert!(listed.iter().all(|d| d.receive_count >= 2));
    let garbage = listed.iter().find(|d| d.order.is_none()).unwrap();
    assert!(garbage.unreadable.is_some());

    let now = chrono::Utc::now();
    let done = dead_letters::redrive(q.as_ref(), 10, "ops@example.com", now)
        .await
        .unwrap();
    assert_eq!(done.moved.len(), 2, "{done:?}");
    assert_eq!(done.left.len(), 1);
    assert!(done.failed.is_empty());
    let back = q.receive(10, VISIBILITY).await.unwrap();
    assert_eq!(back.len(), 2);
    for m in &back {
        assert_eq!(m.receive_count, 1, "a fresh start");
        assert_eq!(m.attributes.get("kind").map(String::as_str), Some("order"));
        let message = OrderMessage::parse(&m.body).unwrap();
        assert!(
            message.reason.ends_with(&format!(
                "(redriven by ops@example.com at {})",
                now.format("%Y-%m-%dT%H:%M:%SZ")
            )),
            "{}",
            message.reason
        );
        q.delete(&m.handle).await.unwrap();
    }
    // The body that is not an order stays a dead letter (hidden for the move's minute).
    assert!(dead_letters::list(q.as_ref(), 10).await.unwrap().len() <= 1);
}

macro_rules! suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn messages_round_trip_with_their_attributes() {
                super::messages_round_trip_with_their_attributes($make.await).await
            }
            #[tokio::test]
            async fn an_unacknowledged_message_comes_back_after_its_visibility_timeout() {
                super::an_unacknowledged_message_comes_back_after_its_visibility_timeout(
                    $make.await,
                )
                .await
            }
            #[tokio::test]
            async fn a_message_received_too_often_goes_to_the_dead_letters() {
                super::a_message_received_too_often_goes_to_the_dead_letters($make.await).await
            }
            #[tokio::test]
            async fn dead_letters_taken_to_move_are_hidden_then_deleted() {
                super::dead_letters_taken_to_move_are_hidden_then_deleted($make.await).await
            }
            #[tokio::test]
            async fn redrive_moves_order_messages_back_and_leaves_the_rest() {
                super::redrive_moves_order_messages_back_and_leaves_the_rest($make.await).await
            }
            #[tokio::test]
            async fn batches_are_sent_and_received_whole() {
                super::batches_are_sent_and_received_whole($make.await).await
            }
        }
    };
}

async fn local() -> Arc<dyn Queue> {
    let db = common::adapters::sqlite::SqliteDb::in_memory().unwrap();
    Arc::new(common::adapters::local_queue::LocalQueue::new(
        db, "orders", 2,
    ))
}

async fn sqs() -> Arc<dyn Queue> {
    let config = common::adapters::aws::local(&crate::support::aws_endpoint()).await;
    let client = aws_sdk_sqs::Client::new(&config);
    Arc::new(
        common::adapters::sqs::SqsQueue::create_with_dead_letters(
            client,
            &crate::support::unique("orders"),
            2,
        )
        .await
        .unwrap(),
    )
}

suite!(on_local_queue, local());
suite!(on_sqs, sqs());

/// `mlc dead-letters --aws` knows only the stack's queue URL: the dead-letter queue is found
/// through the queue's redrive policy.
#[tokio::test]
async fn the_dead_letter_queue_is_found_from_the_redrive_policy() {
    let config = common::adapters::aws::local(&crate::support::aws_endpoint()).await;
    let client = aws_sdk_sqs::Client::new(&config);
    let created = common::adapters::sqs::SqsQueue::create_with_dead_letters(
        client.clone(),
        &crate::support::unique("orders"),
        2,
    )
    .await
    .unwrap();
    let found =
        common::adapters::sqs::SqsQueue::discover_dead_letters(client.clone(), created.url())
            .await
            .unwrap();
    assert_eq!(found.dead_letter_url(), created.dead_letter_url());
    assert!(found.dead_letter_url().is_some());
    // A queue without a redrive policy has none, and says so by having none.
    let plain = client
        .create_queue()
        .queue_name(crate::support::unique("plain"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let none = common::adapters::sqs::SqsQueue::discover_dead_letters(client, &plain)
        .await
        .unwrap();
    assert_eq!(none.dead_letter_url(), None);
}
