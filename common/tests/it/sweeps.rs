//! What the poller's sweep queues, on the local adapters against the sandboxes: an order whose
//! sale is held for a person is not fetched again by every sweep because a refund of it has no
//! posting yet; the replay that releases the sale brings the refund with it.

use std::time::Duration;

use common::adapters::sqlite::SqliteDb;
use common::journal::PostingKind;
use common::posting::poller::poll;
use common::posting::poster::drain_queue;
use common::posting::replay::replay;
use common::state::{PostingKey, StateName};
use rust_decimal::Decimal;
use sandbox::bigcommerce::{RefundItemSpec, RefundSpec, SandboxOptions};
use sandbox::demo::{HASH, document_for, seeded_pod, seeded_store, us_order};
use sandbox::oracle::PodOptions;

async fn state(svc: &common::posting::services::Services, key: &PostingKey) -> Option<StateName> {
    svc.store
        .posting(key)
        .await
        .unwrap()
        .map(|p| p.state.name())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_waiting_on_a_held_sale_is_not_queued_by_every_sweep() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let svc = crate::support::pipeline::services(&doc, &db);
    let visibility = Duration::from_secs(60);

    // Journal Import refuses the sale (ReqstId -1): it is held for a person.
    pod.set_import_privilege(false);
    let id = sb.create_order(HASH, us_order(1, 0));
    let sale = PostingKey {
        store: "us".into(),
        order_id: id,
        posting: PostingKind::Sale,
    };
    assert_eq!(poll(&svc).await.queued.get(HASH), Some(&1));
    drain_queue(&svc, svc.queue.as_ref(), visibility)
        .await
        .unwrap();
    assert_eq!(state(&svc, &sale).await, Some(StateName::Held));

    // A refund: the first sweep queues the order, and the poster finds it must wait.
    let refund_id = sb.create_refund(
        HASH,
        id,
        RefundSpec {
            items: vec![RefundItemSpec::Shipping {
                amount: Decimal::new(200, 2),
            }],
            ..RefundSpec::default()
        },
    );
    let first = poll(&svc).await;
    assert_eq!(first.queued.get(HASH), Some(&1), "{first:?}");
    let handled: usize = drain_queue(&svc, svc.queue.as_ref(), visibility)
        .await
        .unwrap()
        .iter()
        .map(|r| r.orders)
        .sum();
    assert_eq!(handled, 1);
    assert!(svc.store.order("us", id).await.unwrap().unwrap().waiting);

    // Later sweeps leave it alone: nothing moved, nothing to fetch again.
    for _ in 0..3 {
        let again = poll(&svc).await;
        assert_eq!(again.queued.get(HASH), Some(&0), "{again:?}");
    }

    // The person grants the privilege and replays the sale; the refund follows it.
    pod.set_import_privilege(true);
    replay(&svc, &sale, "ops").await.unwrap();
    let refund = PostingKey {
        posting: PostingKind::Refund(refund_id),
        ..sale.clone()
    };
    let settled = crate::support::pipeline::run_until_settled(&svc, &refund).await;
    assert_eq!(settled, StateName::Posted);
    assert_eq!(state(&svc, &sale).await, Some(StateName::Posted));
}
