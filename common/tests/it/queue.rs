//! One behavioural suite for both queues: SQS (on moto server) and the local SQLite queue.
//! Attributes survive, unacknowledged messages come back after their visibility timeout with a
//! higher receive count, and a message received too often goes to the dead letters.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::ports::Queue;

const VISIBILITY: Duration = Duration::from_secs(1);

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
    tokio::time::sleep(VISIBILITY + Duration::from_millis(300)).await;
    assert!(
        q.receive(10, VISIBILITY).await.unwrap().is_empty(),
        "deleted for good"
    );
}

async fn an_unacknowledged_message_comes_back_after_its_visibility_timeout(q: Arc<dyn Queue>) {
    q.send("work", &[]).await.unwrap();
    let first = q.receive(10, VISIBILITY).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        q.receive(10, VISIBILITY).await.unwrap().is_empty(),
        "hidden while someone works on it"
    );
    tokio::time::sleep(VISIBILITY + Duration::from_millis(300)).await;
    let again = q.receive(10, VISIBILITY).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].message_id.as_str(), again[0].receive_count),
        (first[0].message_id.as_str(), 2)
    );
    q.delete(&again[0].handle).await.unwrap();
}

async fn a_message_received_too_often_goes_to_the_dead_letters(q: Arc<dyn Queue>) {
    q.send("poison", &[("kind", "order")]).await.unwrap();
    for round in 1..=2 {
        let got = q.receive(10, VISIBILITY).await.unwrap();
        assert_eq!(got.len(), 1, "receive {round}");
        tokio::time::sleep(VISIBILITY + Duration::from_millis(300)).await;
    }
    assert!(
        q.receive(10, VISIBILITY).await.unwrap().is_empty(),
        "moved after two receives"
    );
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
