//! Reconciliation against the sandbox store and pod over real HTTP, on the local adapters: a
//! period that ties out, then each way the ledger and the connector can drift apart (a change
//! never taken up, a rejected posting, a batch deleted, edited or imported twice in Fusion, a
//! batch nobody recorded), each named on its order; `fix` queues what was missed, and the
//! pipeline posts it.

use std::time::Duration;

use chrono::{Duration as Days, Utc};
use common::adapters::sqlite::SqliteDb;
use common::journal::PostingKind;
use common::posting::reconcile::{
    Finding, ReconcileError, ReconcileReport, ReconcileRequest, Selection, Standing, reconcile,
};
use common::posting::services::Services;
use common::state::{AuditKind, PostingKey, PostingRecord, PostingState, StateName};
use rust_decimal::Decimal;
use sandbox::bigcommerce::SandboxOptions;
use sandbox::demo::{HASH, document_for, seeded_pod, seeded_store, us_order};
use sandbox::oracle::{OraclePod, PodOptions};
use serde_json::json;

use crate::support::pipeline::{run_until_settled, services};

fn sale(order_id: u64) -> PostingKey {
    PostingKey {
        store: "us".into(),
        order_id,
        posting: PostingKind::Sale,
    }
}

fn this_week(fix: Option<&str>) -> ReconcileRequest {
    ReconcileRequest {
        store: Some("us".into()),
        from: Utc::now() - Days::days(3),
        to: Utc::now() + Days::days(1),
        select: Selection::Created,
        check_ledger: true,
        fix: fix.map(str::to_string),
    }
}

fn line_of(report: &ReconcileReport, order_id: u64) -> &common::posting::reconcile::OrderLine {
    report
        .orders
        .iter()
        .find(|o| o.order_id == order_id)
        .unwrap_or_else(|| panic!("order {order_id} is not in the report: {report:#?}"))
}

async fn posted(svc: &Services, order_id: u64) -> PostingRecord {
    let record = svc.store.posting(&sale(order_id)).await.unwrap().unwrap();
    assert_eq!(record.state.name(), StateName::Posted, "{record:?}");
    record
}

/// Waits until the pod holds `n` batches (its jobs finish on their own clock).
async fn until_batches(pod: &OraclePod, n: usize) {
    for _ in 0..300 {
        if pod.batches().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the pod never held {n} batches: {:?}", pod.batches());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_period_ties_out_then_every_drift_is_named_and_fix_posts_what_was_missed() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let mut doc = document_for(&crate::support::example_document(), &sb, &pod);
    // A cost center the pod's chart does not have, for the skillet only: orders with a
    // skillet are rejected by Journal Import, orders of shirts post.
    doc["mapping"]["rules"].as_array_mut().unwrap().push(json!({
        "name": "typo", "applies_to": ["revenue"], "when": {"sku": "NW-SKILLET"}, "set": {"cost_center": "999"}
    }));
    let db = SqliteDb::in_memory().unwrap();
    let svc = services(&doc, &db);

    let orders: Vec<u64> = (1..=3)
        .map(|n| sb.create_order(HASH, us_order(n, 0)))
        .collect();
    for id in &orders {
        assert_eq!(run_until_settled(&svc, &sale(*id)).await, StateName::Posted);
    }

    // Everything posted ties out: each order matched, the amounts recorded equal the ledger's.
    let clean = reconcile(&svc, &this_week(None)).await.unwrap();
    assert!(clean.is_clean(), "{clean:#?}");
    assert_eq!(clean.orders.len(), 3);
    assert!(clean.orders.iter().all(|o| o.standing == Standing::Matched));
    assert_eq!(clean.counts.get(&Standing::Matched), Some(&3));
    let usd = &clean.totals["us"]["USD"];
    let mut recorded = Decimal::ZERO;
    for id in &orders {
        recorded += posted(&svc, *id).await.journal.total_dr();
    }
    assert_eq!(usd.postings, 3);
    assert_eq!(usd.recorded_dr, recorded);
    assert_eq!(usd.ledger_dr, Some(recorded));
    // Another period has none of these orders.
    let earlier = ReconcileRequest {
        from: Utc::now() - Days::days(40),
        to: Utc::now() - Days::days(10),
        ..this_week(None)
    };
    assert!(reconcile(&svc, &earlier).await.unwrap().orders.is_empty());

    // A fourth order, posted before the drift (its line is moved in Fusion below).
    let moved = sb.create_order(HASH, us_order(1, 0));
    assert_eq!(
        run_until_settled(&svc, &sale(moved)).await,
        StateName::Posted
    );
    let moved_record = posted(&svc, moved).await;
    let PostingState::Posted {
        batch_id: moved_batch,
        ..
    } = moved_record.state
    else {
        unreachable!()
    };
    let revenue = moved_record
        .journal
        .lines
        .iter()
        .position(|l| l.account_role == common::mapping::AccountRole::Revenue)
        .unwrap();

    // Now the drift. An order Journal Import refuses: rejected.
    let refused = sb.create_order(HASH, us_order(0, 1));
    assert_eq!(
        run_until_settled(&svc, &sale(refused)).await,
        StateName::Rejected
    );
    // An order paid while nothing runs (no hooks, no sweep): not posted.
    let missed = sb.create_order(HASH, us_order(2, 0));
    // An order of a storefront opened after the document was written: no entry covers it.
    sb.add_channel(HASH, 3, "Wholesale");
    let mut wholesale = us_order(5, 0);
    wholesale.channel_id = 3;
    let unmapped = sb.create_order(HASH, wholesale);
    // In Fusion, a person deletes the first order's batch, edits the second's first line, and
    // the third's journal is imported a second time.
    let [first, second, third] = [orders[0], orders[1], orders[2]];
    let first_batch = match posted(&svc, first).await.state {
        PostingState::Posted { batch_id, .. } => batch_id,
        _ => unreachable!(),
    };
    let second_batch = match posted(&svc, second).await.state {
        PostingState::Posted { batch_id, .. } => batch_id,
        _ => unreachable!(),
    };
    assert!(pod.delete_batch(first_batch));
    assert!(pod.edit_line(second_batch, 1, Decimal::new(1, 2), Decimal::ZERO));
    // And a fourth order's revenue line is moved to another account, totals unchanged.
    assert!(pod.move_line(moved_batch, revenue as u32 + 1, "101-000-4000-000-000"));
    let held_before = pod.batches().len();
    let third_journal = posted(&svc, third).await.journal;
    svc.oracle
        .submit_import(std::slice::from_ref(&third_journal), 990_001)
        .await
        .unwrap();
    // And a batch under the third order's name that no posting accounts for.
    let mut stray = third_journal.clone();
    stray.posting = PostingKind::Refund(99);
    stray.batch_name = common::journal::batch_name("us", third, &stray.posting);
    svc.oracle.submit_import(&[stray], 990_002).await.unwrap();
    until_batches(&pod, held_before + 2).await;

    let drift = reconcile(&svc, &this_week(None)).await.unwrap();
    assert!(!drift.is_clean());
    assert_eq!(drift.queued, 0);
    let first_line = line_of(&drift, first);
    assert_eq!(first_line.standing, Standing::LedgerDiffers);
    assert_eq!(
        first_line.findings,
        vec![Finding::MissingFromLedger {
            batch: format!("BC-us-{first}-sale"),
            batch_id: first_batch
        }]
    );
    let second_line = line_of(&drift, second);
    assert_eq!(second_line.standing, Standing::LedgerDiffers);
    let [
        Finding::Differs { batch_id, what, .. },
        Finding::AccountsDiffer { accounts },
    ] = second_line.findings.as_slice()
    else {
        panic!("{second_line:?}")
    };
    assert_eq!(*batch_id, second_batch);
    assert!(what.contains("Dr") && what.contains("sent"), "{what}");
    // The account edited is named, with what was posted and what the ledger holds.
    let receivable = posted(&svc, second).await.journal.lines[0].clone();
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(accounts[0].account, receivable.segments);
    assert_eq!(
        (accounts[0].expected, accounts[0].found),
        (receivable.dr, Decimal::new(1, 2))
    );
    // Totals that still agree do not hide an amount moved to another account.
    let moved_line = line_of(&drift, moved);
    assert_eq!(moved_line.standing, Standing::LedgerDiffers);
    let [Finding::AccountsDiffer { accounts }] = moved_line.findings.as_slice() else {
        panic!("{moved_line:?}")
    };
    let credited = moved_record.journal.lines[revenue].clone();
    let mut found: Vec<(String, Decimal, Decimal)> = accounts
        .iter()
        .map(|a| (a.account.join("-"), a.expected, a.found))
        .collect();
    found.sort();
    let mut want = vec![
        (
            "101-000-4000-000-000".to_string(),
            Decimal::ZERO,
            -credited.cr,
        ),
        (credited.segments.join("-"), -credited.cr, Decimal::ZERO),
    ];
    want.sort();
    assert_eq!(found, want);
    let third_line = line_of(&drift, third);
    assert_eq!(third_line.standing, Standing::LedgerDiffers);
    assert!(
        third_line.findings.iter().any(|f| matches!(
            f, Finding::Duplicated { batch, batch_ids } if batch == &format!("BC-us-{third}-sale") && batch_ids.len() == 2
        )),
        "{third_line:?}"
    );
    assert!(
        third_line.findings.iter().any(|f| matches!(
            f, Finding::InLedgerNotRecorded { batch, recorded_as: None, .. } if batch.starts_with(&format!("BC-us-{third}-refund-99"))
        )),
        "{third_line:?}"
    );
    let refused_line = line_of(&drift, refused);
    assert_eq!(refused_line.standing, Standing::NeedsAttention);
    assert!(
        matches!(
            refused_line.findings.as_slice(),
            [Finding::Rejected { reason, .. }] if reason.contains("999")
        ),
        "{refused_line:?}"
    );
    let missed_line = line_of(&drift, missed);
    assert_eq!(missed_line.standing, Standing::NotPosted);
    assert_eq!(
        missed_line.findings,
        vec![Finding::NotPosted {
            batches: vec![format!("BC-us-{missed}-sale")],
            queued: false
        }]
    );
    let unmapped_line = line_of(&drift, unmapped);
    assert_eq!(
        (unmapped_line.store.as_str(), unmapped_line.standing),
        (HASH, Standing::NeedsAttention)
    );
    assert_eq!(
        unmapped_line.findings,
        vec![Finding::NoStoreEntry { channel_id: 3 }]
    );
    // Worst first: ledger differences, then not posted, then attention.
    let standings: Vec<Standing> = drift.orders.iter().map(|o| o.standing).collect();
    let mut sorted = standings.clone();
    sorted.sort();
    assert_eq!(standings, sorted);
    assert_eq!(drift.counts.get(&Standing::LedgerDiffers), Some(&4));
    // The report changed nothing.
    assert!(svc.store.posting(&sale(missed)).await.unwrap().is_none());

    // `fix` queues the missed order, with an audit event; the pipeline posts it.
    let fixed = reconcile(&svc, &this_week(Some("ops@example.com")))
        .await
        .unwrap();
    assert_eq!(fixed.queued, 1);
    assert_eq!(
        line_of(&fixed, missed).findings,
        vec![Finding::NotPosted {
            batches: vec![format!("BC-us-{missed}-sale")],
            queued: true
        }]
    );
    let story = svc.store.audit_of_order("us", missed).await.unwrap();
    let event = story
        .iter()
        .find(|e| e.kind == AuditKind::Reconciled)
        .expect("a reconciled event");
    assert_eq!(event.detail["by"], "ops@example.com");
    assert_eq!(
        run_until_settled(&svc, &sale(missed)).await,
        StateName::Posted
    );
    let after = reconcile(&svc, &this_week(None)).await.unwrap();
    assert_eq!(line_of(&after, missed).standing, Standing::Matched);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_change_nothing() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let svc = services(&doc, &db);
    let unknown = ReconcileRequest {
        store: Some("uk".into()),
        ..this_week(Some("ops"))
    };
    let err = reconcile(&svc, &unknown).await.unwrap_err();
    assert!(matches!(err, ReconcileError::UnknownStore(..)));
    assert!(err.to_string().contains("known: us, eu"), "{err}");
    let backwards = ReconcileRequest {
        from: Utc::now(),
        to: Utc::now() - Days::days(1),
        ..this_week(None)
    };
    assert!(matches!(
        reconcile(&svc, &backwards).await,
        Err(ReconcileError::EmptyPeriod { .. })
    ));
    assert_eq!(sb.request_count(HASH), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_period_selects_orders_by_creation_or_by_change() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let svc = services(&doc, &db);
    // Paid by an authorisation that is voided with the cancellation: no money moved.
    let mut unpaid = us_order(1, 0);
    unpaid.payment_status = "authorized".into();
    let placed = sb.create_order(HASH, unpaid);
    // BigCommerce dates have whole seconds: the change comes in a later second.
    crate::support::next_second().await;
    let since = chrono::SubsecRound::trunc_subsecs(Utc::now(), 0);
    sb.set_status(HASH, placed, 5);
    let later = ReconcileRequest {
        from: since,
        to: since + Days::days(1),
        check_ledger: false,
        ..this_week(None)
    };
    let created = reconcile(&svc, &later).await.unwrap();
    assert!(created.orders.is_empty(), "{created:#?}");
    let changed = reconcile(
        &svc,
        &ReconcileRequest {
            select: Selection::Modified,
            ..later
        },
    )
    .await
    .unwrap();
    assert_eq!(changed.selected_by, Selection::Modified);
    assert_eq!(changed.orders.len(), 1);
    // Cancelled before anything was posted, and no money taken: nothing to post.
    assert_eq!(
        (changed.orders[0].order_id, changed.orders[0].standing),
        (placed, Standing::NothingToPost)
    );
}
