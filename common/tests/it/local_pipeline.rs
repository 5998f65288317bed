//! The pipeline services on the local adapters (SQLite state, SQLite queue) against the sandbox
//! store and pod over real HTTP, as `mlc serve` runs them: a rejected journal, a fix to the
//! document, and a replay that posts it; imports that Fusion ends WARNING, cancels, or blocks.

use common::adapters::sqlite::SqliteDb;
use common::journal::PostingKind;
use common::posting::replay::{ReplayError, replay};
use common::state::{AuditKind, PostingKey, PostingState, StateName};
use sandbox::bigcommerce::SandboxOptions;
use sandbox::demo::{HASH, document_for, seeded_pod, seeded_store, us_order};
use sandbox::oracle::{JobEnd, PodFault, PodOptions};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_journal_is_replayed_after_the_mapping_is_fixed() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let mut doc = document_for(&crate::support::example_document(), &sb, &pod);
    let good_rules = doc["mapping"]["rules"].clone();
    doc["mapping"]["rules"].as_array_mut().unwrap().push(json!({
        "name": "typo", "applies_to": ["revenue"], "when": {"sku": "NW-SKILLET"}, "set": {"cost_center": "999"}
    }));
    let db = SqliteDb::in_memory().unwrap();
    let broken = crate::support::pipeline::services(&doc, &db);
    let id = sb.create_order(HASH, us_order(0, 1));
    // No hooks in this test: the poller's sweep finds the order.
    let sale = PostingKey {
        store: "us".into(),
        order_id: id,
        posting: PostingKind::Sale,
    };
    assert_eq!(
        crate::support::pipeline::run_until_settled(&broken, &sale).await,
        StateName::Rejected
    );
    let Some(PostingState::Rejected { reason }) =
        broken.store.posting(&sale).await.unwrap().map(|p| p.state)
    else {
        panic!()
    };
    assert!(reason.contains("999"), "{reason}");
    assert!(pod.batches().is_empty());

    // Refused without a change: the sale is not held or rejected any more once replayed, and
    // unknown postings are named.
    let unknown = PostingKey {
        posting: PostingKind::Refund(9),
        ..sale.clone()
    };
    assert!(matches!(
        replay(&broken, &unknown, "ops").await,
        Err(ReplayError::Unknown(_))
    ));

    // The rule is fixed; the replay builds the journal again from the fixed document.
    doc["mapping"]["rules"] = good_rules;
    let fixed = crate::support::pipeline::services(&doc, &db);
    let done = replay(&fixed, &sale, "ops@example.com").await.unwrap();
    assert!(done.journal_changed);
    let queued = fixed.store.posting(&sale).await.unwrap().unwrap();
    assert_eq!(queued.state, PostingState::Queued);
    assert!(queued.journal.lines.iter().all(|l| l.segments[1] != "999"));
    assert_eq!(
        crate::support::pipeline::run_until_settled(&fixed, &sale).await,
        StateName::Posted
    );
    let batches = pod.batches();
    assert_eq!(batches.len(), 1);
    assert!(
        batches[0].journals[0]
            .1
            .iter()
            .any(|(a, _, _)| a == "101-320-4020-200-000"),
        "{batches:?}"
    );
    let story = fixed.store.audit_of_order("us", id).await.unwrap();
    let replayed = story
        .iter()
        .find(|e| e.kind == AuditKind::Replayed)
        .expect("a replayed event");
    assert_eq!(replayed.detail["by"], json!("ops@example.com"));
    assert!(replayed.detail["was"].as_str().unwrap().contains("999"));
    // A posted journal is never replayed.
    let err = replay(&fixed, &sale, "ops").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("posting {sale} is posted: only held or rejected postings are replayed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_outcomes_are_counted_per_store_as_well() {
    use common::metrics::{END_TO_END_LATENCY, Metrics, POSTINGS_POSTED};
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let svc = crate::support::pipeline::services(&doc, &db);
    let id = sb.create_order(HASH, us_order(1, 0));
    let sale = PostingKey {
        store: "us".into(),
        order_id: id,
        posting: PostingKind::Sale,
    };
    let mut figures = Metrics::default();
    for _ in 0..200 {
        common::posting::poster::drain_queue(
            &svc,
            svc.queue.as_ref(),
            std::time::Duration::from_secs(1),
        )
        .await
        .unwrap();
        figures.merge(&common::posting::poller::poll(&svc).await.metrics);
        if figures.count(POSTINGS_POSTED) > 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        svc.store
            .posting(&sale)
            .await
            .unwrap()
            .map(|p| p.state.name()),
        Some(StateName::Posted)
    );
    let us = figures.of_store("us").expect("the US store's figures");
    assert_eq!(us.count(POSTINGS_POSTED), 1.0);
    assert_eq!(us.samples(END_TO_END_LATENCY).len(), 1);
    assert!(figures.of_store("eu").is_none());
    // The stack's line still carries it, for the alarms.
    assert_eq!(figures.count(POSTINGS_POSTED), 1.0);
}

/// The pod's lines for one order, netted per account (what the ledger holds for it).
fn ledger_of(
    pod: &sandbox::oracle::OraclePod,
    order_id: u64,
) -> Vec<(String, rust_decimal::Decimal)> {
    let prefix = format!("BC-us-{order_id}-");
    let mut net: std::collections::BTreeMap<String, rust_decimal::Decimal> = Default::default();
    for b in pod
        .batches()
        .into_iter()
        .filter(|b| b.name.starts_with(&prefix))
    {
        for (_, lines) in b.journals {
            for (account, dr, cr) in lines {
                *net.entry(account).or_default() += dr - cr;
            }
        }
    }
    net.into_iter().filter(|(_, n)| !n.is_zero()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_order_set_back_waits_for_a_person_and_a_replay_books_it_again() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let svc = crate::support::pipeline::services(&doc, &db);
    let settle = crate::support::pipeline::run_until_settled;
    // No hooks: the sweep finds each change by its date_modified, which has whole seconds.
    let next_second = crate::support::next_second;
    let id = sb.create_order(HASH, us_order(1, 0));
    let key = |posting| PostingKey {
        store: "us".into(),
        order_id: id,
        posting,
    };
    assert_eq!(
        settle(&svc, &key(PostingKind::Sale)).await,
        StateName::Posted
    );
    let sold = ledger_of(&pod, id);
    next_second().await;
    sb.set_status(HASH, id, 5);
    assert_eq!(
        settle(&svc, &key(PostingKind::REVERSAL)).await,
        StateName::Posted
    );

    // Set back to Awaiting Fulfillment: the journal that books the sale again waits.
    next_second().await;
    sb.set_status(HASH, id, 11);
    let first = key(PostingKind::Reinstatement(1));
    assert_eq!(settle(&svc, &first).await, StateName::Held);
    let held = svc.store.posting(&first).await.unwrap().unwrap();
    let PostingState::Held { reason } = &held.state else {
        unreachable!()
    };
    assert!(
        reason.contains(&format!("mlc replay us/{id}/reinstate:1")),
        "{reason}"
    );
    let story = svc.store.audit_of_order("us", id).await.unwrap();
    assert!(story.iter().any(|e| e.kind == AuditKind::Reinstated));
    // Cancelled again before anyone looked: superseded, and a replay has nothing to post.
    next_second().await;
    sb.set_status(HASH, id, 5);
    crate::support::pipeline::run_until(&svc, &first, |s| s == StateName::Rejected).await;
    let superseded = svc.store.posting(&first).await.unwrap().unwrap();
    assert!(
        matches!(&superseded.state, PostingState::Rejected { reason } if reason.starts_with("superseded: ")),
        "{superseded:?}"
    );
    let err = replay(&svc, &first, "controller").await.unwrap_err();
    assert!(err.to_string().contains("nothing to post"), "{err}");

    // Set back once more, and this time the order goes ahead: the replay books the sale again.
    next_second().await;
    sb.set_status(HASH, id, 11);
    let second = key(PostingKind::Reinstatement(2));
    assert_eq!(settle(&svc, &second).await, StateName::Held);
    replay(&svc, &second, "controller").await.unwrap();
    assert_eq!(settle(&svc, &second).await, StateName::Posted);
    assert_eq!(ledger_of(&pod, id), sold, "the ledger holds the sale again");
}

/// The sale posting of order `id` of the US store.
fn sale_of(id: u64) -> PostingKey {
    PostingKey {
        store: "us".into(),
        order_id: id,
        posting: PostingKind::Sale,
    }
}

/// The request id of the import a posting was last submitted (or posted) under.
async fn request_of(svc: &common::posting::services::Services, key: &PostingKey) -> u64 {
    let group_id = match svc.store.posting(key).await.unwrap().unwrap().state {
        PostingState::Submitted { group_id, .. } | PostingState::Posted { group_id, .. } => {
            group_id
        }
        other => panic!("{key} is {other:?}"),
    };
    let import = svc
        .store
        .import(group_id)
        .await
        .unwrap()
        .expect("an import record");
    import.request_id.expect("the submission was answered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_ending_in_warning_posts_what_it_imported() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let svc = crate::support::pipeline::services(&doc, &db);
    pod.inject(PodFault::EndJob {
        status: JobEnd::Warning,
        times: 1,
    });
    let sale = sale_of(sb.create_order(HASH, us_order(1, 0)));
    assert_eq!(
        crate::support::pipeline::run_until_settled(&svc, &sale).await,
        StateName::Posted
    );
    let request_id = request_of(&svc, &sale).await;
    assert_eq!(
        pod.job_status(request_id).as_deref(),
        Some("WARNING"),
        "the import ended WARNING"
    );
    assert_eq!(pod.batches().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_cancelled_in_fusion_is_held_for_a_person_not_rejected_or_resent() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let svc = crate::support::pipeline::services(&doc, &db);
    pod.inject(PodFault::EndJob {
        status: JobEnd::Cancelled,
        times: 1,
    });
    let id = sb.create_order(HASH, us_order(0, 1));
    let sale = sale_of(id);
    assert_eq!(
        crate::support::pipeline::run_until_settled(&svc, &sale).await,
        StateName::Held
    );
    let Some(PostingState::Held { reason }) =
        svc.store.posting(&sale).await.unwrap().map(|p| p.state)
    else {
        unreachable!()
    };
    assert!(
        reason.contains("ended CANCELLED in Fusion before Journal Import judged it")
            && reason.contains("mlc replay"),
        "{reason}"
    );
    assert_eq!(pod.imports(), 1, "not sent again on the connector's own");
    assert!(pod.batches().is_empty());
    let story = svc.store.audit_of_order("us", id).await.unwrap();
    let held = story
        .iter()
        .find(|e| e.kind == AuditKind::Held)
        .expect("a held event");
    assert_eq!(
        pod.job_status(held.detail["request_id"].as_u64().unwrap())
            .as_deref(),
        Some("CANCELLED")
    );
    // A person replays it: sent again, and posted.
    replay(&svc, &sale, "ops").await.unwrap();
    assert_eq!(
        crate::support::pipeline::run_until_settled(&svc, &sale).await,
        StateName::Posted
    );
    assert_eq!((pod.imports(), pod.batches().len()), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_import_is_waited_for_counted_stuck_and_posted_once_it_runs() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let mut svc = crate::support::pipeline::services(&doc, &db);
    svc.settings.submit.import_timeout = std::time::Duration::from_millis(300);
    pod.inject(PodFault::EndJob {
        status: JobEnd::Blocked,
        times: 1,
    });
    let sale = sale_of(sb.create_order(HASH, us_order(1, 1)));
    crate::support::pipeline::run_until(&svc, &sale, |s| s == StateName::Submitted).await;
    let request_id = request_of(&svc, &sale).await;
    // BLOCKED is waiting, not an ending: past the import timeout it is counted stuck (the
    // alarm), and the posting stays Submitted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let round = common::posting::tracker::track(&svc).await;
        if round.stuck > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never counted stuck; the job is {:?}",
            pod.job_status(request_id)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(pod.job_status(request_id).as_deref(), Some("BLOCKED"));
    assert_eq!(
        svc.store
            .posting(&sale)
            .await
            .unwrap()
            .map(|p| p.state.name()),
        Some(StateName::Submitted)
    );
    assert!(pod.batches().is_empty());
    // The job that blocked it ended: it runs, and the sale is posted from the same import.
    assert_eq!(pod.release_blocked_jobs(), 1);
    assert_eq!(
        crate::support::pipeline::run_until_settled(&svc, &sale).await,
        StateName::Posted
    );
    assert_eq!(request_of(&svc, &sale).await, request_id);
    assert_eq!(pod.imports(), 1);
}
