//! Looking batches up by name, where exactly-once depends on it (both found by the fault soak):
//! a lookup that fails is never taken for a batch that is missing, and a replay looks in the
//! ledger before it sends a held journal again.

use std::time::{Duration, Instant};

use common::adapters::sqlite::SqliteDb;
use common::journal::PostingKind;
use common::posting::poller::poll;
use common::posting::poster::drain_queue;
use common::posting::replay::replay;
use common::state::{PostingKey, PostingState, StateName};
use sandbox::bigcommerce::SandboxOptions;
use sandbox::demo::{HASH, document_for, seeded_pod, seeded_store, us_order};
use sandbox::oracle::{PodFault, PodOptions};

fn sale(order_id: u64) -> PostingKey {
    PostingKey {
        store: "us".into(),
        order_id,
        posting: PostingKind::Sale,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_whose_lookups_fail_past_the_timeout_is_not_sent_again() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let svc = crate::support::pipeline::services(&doc, &db);
    let id = sb.create_order(HASH, us_order(1, 0));

    // The import is accepted and its answer lost; then every lookup by name fails for longer
    // than the import timeout (5 s here).
    pod.inject(PodFault::LoseImportResponse { times: 1 });
    poll(&svc).await;
    drain_queue(&svc, svc.queue.as_ref(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(pod.faults_served().get("lose_import_response"), Some(&1));
    pod.inject(PodFault::Status {
        status: 503,
        times: 10_000,
        path: Some("journalBatches".into()),
    });
    let until = Instant::now() + svc.settings.submit.import_timeout + Duration::from_secs(3);
    while Instant::now() < until {
        poll(&svc).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        pod.faults_served().get("status").copied().unwrap_or(0) > 0,
        "the lookups failed"
    );
    let record = svc.store.posting(&sale(id)).await.unwrap().unwrap();
    assert_eq!(
        record.state.name(),
        StateName::Submitted,
        "neither given up nor queued again while Fusion cannot be read: {:?}",
        record.state
    );
    assert!(
        svc.queue
            .receive(10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty(),
        "nothing queued to send it again"
    );

    // Fusion answers again: the batch is found by name, once.
    pod.clear_faults();
    let state = crate::support::pipeline::run_until_settled(&svc, &sale(id)).await;
    assert_eq!(state, StateName::Posted);
    let name = format!("BC-us-{id}-sale");
    let copies = pod
        .batches()
        .iter()
        .filter(|b| b.name.split(' ').next() == Some(name.as_str()))
        .count();
    assert_eq!(copies, 1, "in the ledger once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_of_a_held_posting_whose_batch_is_in_the_ledger_records_it_posted() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let svc = crate::support::pipeline::services(&doc, &db);
    let id = sb.create_order(HASH, us_order(1, 1));

    // Held: Journal Import refused it (ReqstId -1).
    pod.set_import_privilege(false);
    poll(&svc).await;
    drain_queue(&svc, svc.queue.as_ref(), Duration::from_secs(60))
        .await
        .unwrap();
    let held = svc.store.posting(&sale(id)).await.unwrap().unwrap();
    assert_eq!(held.state.name(), StateName::Held);

    // Yet the batch reaches the ledger (someone imported the same journal by hand).
    pod.set_import_privilege(true);
    svc.oracle
        .submit_import(std::slice::from_ref(&held.journal), 4242)
        .await
        .unwrap();
    let name = format!("BC-us-{id}-sale");
    let in_ledger = || {
        pod.batches()
            .iter()
            .filter(|b| b.name.split(' ').next() == Some(name.as_str()))
            .count()
    };
    let until = Instant::now() + Duration::from_secs(10);
    while in_ledger() == 0 {
        assert!(Instant::now() < until, "the hand import never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let done = replay(&svc, &sale(id), "ops").await.unwrap();
    assert!(done.already_in_ledger.is_some(), "{done:?}");
    assert!(done.message_id.is_empty(), "nothing sent again");
    let record = svc.store.posting(&sale(id)).await.unwrap().unwrap();
    assert!(
        matches!(record.state, PostingState::Posted { batch_id, .. } if Some(batch_id) == done.already_in_ledger),
        "{:?}",
        record.state
    );
    // More sweeps and the queue change nothing: the ledger holds it once.
    for _ in 0..3 {
        poll(&svc).await;
        drain_queue(&svc, svc.queue.as_ref(), Duration::from_secs(60))
            .await
            .unwrap();
    }
    assert_eq!(in_ledger(), 1);
}
