//! The tracker: follows every submitted import to its end. Run by the poller on each sweep.
//!
//! - job still running: wait; past the import timeout: counted as stuck (an alarm);
//! - SUCCEEDED: each journal's batch is read back by its deterministic name and the posting
//!   becomes Posted with the batch id; the order gets a metafield naming the batch;
//! - ERROR: Journal Import refused the whole group. One journal: Rejected with the job log's
//!   reason. Several: split in halves, each sent again under a new GROUP_ID (through
//!   [`submit_postings`], as the poster sends), until the bad one is alone, so one bad journal
//!   never holds back the others: 64 journals with one bad take 13 imports;
//! - WARNING (and the other failed endings): the batches found are Posted; the rest are treated
//!   as refused, like ERROR's;
//! - CANCELLED or EXPIRED: the job was stopped before Journal Import judged the journals. The
//!   batches found are Posted; the rest are Held for a person (nothing says they are wrong, and
//!   someone chose to stop them: neither rejected nor sent again unasked), who replays them;
//! - BLOCKED (an incompatible job runs first) is waiting like WAIT or PAUSED: past the import
//!   timeout it counts as stuck;
//! - answer lost (no request id): the batches are looked for by name; what is still not found
//!   after the import timeout is queued again (one last look first), never blindly resent.
//!
//! Two safety nets: postings Queued for too long are queued again (their message was lost or
//! dead-lettered), and postings Submitted under an import that is no longer tracked are looked
//! up by name.

use std::collections::BTreeSet;

use chrono::Duration as ChronoDuration;
use serde_json::json;

use crate::journal::Journal;
use crate::metrics::{self, Metrics};
use crate::oracle::JobStatus;
use crate::posting::dispatch::{close_import, move_posting, submit_postings};
use crate::posting::lookup::{FoundBatch, Lookup, look_up_by_name};
use crate::posting::message::OrderMessage;
use crate::posting::services::Services;
use crate::state::{
    Actor, AuditKind, ImportRecord, ImportState, PostingRecord, PostingState, StateName,
};

/// What a tracking round did.
#[derive(Debug, Default)]
pub struct TrackReport {
    /// Imports looked at.
    pub imports: usize,
    /// Postings now Posted.
    pub posted: usize,
    /// Postings now Rejected.
    pub rejected: usize,
    /// Imports split after an error.
    pub split: usize,
    /// Imports past the timeout.
    pub stuck: usize,
    /// Orders queued again.
    pub requeued: usize,
    /// Figures for the metrics line.
    pub metrics: Metrics,
    /// Orders with a posting settled this round (Posted, Rejected, Held).
    settled: BTreeSet<(String, u64)>,
    /// Orders queued again before a posting of theirs settled (see [`wake_before_settling`]).
    woken: BTreeSet<(String, u64)>,
}

/// Most imports looked at per round (the rest wait for the next sweep).
const IMPORTS_PER_ROUND: usize = 200;

/// Follows every open import one step.
#[tracing::instrument(skip_all)]
pub async fn track(svc: &Services) -> TrackReport {
    let mut report = TrackReport::default();
    for state in [ImportState::Submitted, ImportState::Unknown] {
        let imports = match svc.store.imports_in_state(state, IMPORTS_PER_ROUND).await {
            Ok(i) => i,
            Err(e) => {
                tracing::error!(error = %e, "cannot list imports; tracking waits for the next sweep");
                return report;
            }
        };
        for import in imports {
            report.imports += 1;
            track_import(svc, import, &mut report).await;
        }
    }
    wake_waiting(svc, &mut report).await;
    requeue_stale(svc, &mut report).await;
    report
}

/// Queues an order whose last decision waits, before a posting of it settles. The wake at the
/// end of the round comes after the settling, and a worker that dies between the two loses it
/// (the soak found a cancellation never reversed that way); a wake sent first survives, and a
/// poster that takes it before the posting has settled keeps the message until it has.
async fn wake_before_settling(svc: &Services, p: &PostingRecord, report: &mut TrackReport) {
    let order = (p.key.store.clone(), p.key.order_id);
    if report.woken.contains(&order) {
        return;
    }
    match svc.store.order(&order.0, order.1).await {
        Ok(Some(record)) if record.waiting => {
            report.woken.insert(order.clone());
            let orders = BTreeSet::from([(order.0, order.1, p.seen_at)]);
            enqueue_orders(svc, orders, "a posting it waited for is settling", report).await;
        }
        Ok(_) => {}
        Err(e) => tracing::error!(posting = %p.key, error = %e, "cannot read the order record"),
    }
}

/// Orders whose change waited for a posting just settled go back on the queue.
async fn wake_waiting(svc: &Services, report: &mut TrackReport) {
    let mut orders = BTreeSet::new();
    for (store, order_id) in std::mem::take(&mut report.settled) {
        if report.woken.contains(&(store.clone(), order_id)) {
            continue;
        }
        match svc.store.order(&store, order_id).await {
            Ok(Some(record)) if record.waiting => {
                orders.insert((store, order_id, None));
            }
            Ok(_) => {}
            Err(e) => tracing::error!(%store, order_id, error = %e, "cannot read the order record"),
        }
    }
    if !orders.is_empty() {
        enqueue_orders(
            svc,
            orders,
            "a change waited for a posting now settled",
            report,
        )
        .await;
    }
}

/// The postings still waiting on this import.
async fn live_postings(svc: &Services, import: &ImportRecord) -> Option<Vec<PostingRecord>> {
    let mut live = Vec::new();
    for key in &import.postings {
        match svc.store.posting(key).await {
            Ok(Some(p)) if matches!(p.state, PostingState::Submitted { group_id, .. } if group_id == import.group_id) => {
                live.push(p)
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(group_id = import.group_id, error = %e, "cannot read postings");
                return None;
            }
        }
    }
    Some(live)
}

/// One import one step: what its job's status says for the postings still waiting on it.
#[tracing::instrument(skip_all, fields(group_id = import.group_id, request_id = import.request_id))]
async fn track_import(svc: &Services, import: ImportRecord, report: &mut TrackReport) {
    let Some(live) = live_postings(svc, &import).await else {
        return;
    };
    if live.is_empty() {
        close_import(svc, import, ImportState::Succeeded).await;
        return;
    }
    let now = svc.clock.now();
    let timeout = ChronoDuration::from_std(svc.settings.submit.import_timeout)
        .unwrap_or(ChronoDuration::hours(2));
    let overdue = now - import.submitted_at > timeout;
    let Some(request_id) = import.request_id else {
        // The answer was lost: the batches, if imported, are found by name.
        let Some(missing) = post_found(svc, import.group_id, import.request_id, live, report).await
        else {
            return;
        };
        if missing.is_empty() {
            close_import(svc, import, ImportState::Succeeded).await;
        } else if overdue {
            requeue(
                svc,
                missing,
                "the import's answer was lost and its batches were not found",
                report,
            )
            .await;
            close_import(svc, import, ImportState::Failed).await;
        }
        return;
    };
    let status = match svc.oracle.job_status(request_id).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(group_id = import.group_id, request_id, error = %e, "job status unavailable; next sweep");
            return;
        }
    };
    if !status.is_terminal() {
        if overdue {
            report.stuck += 1;
            report.metrics.incr(metrics::IMPORTS_STUCK);
            tracing::warn!(group_id = import.group_id, request_id, %status, "import still running past the timeout");
        }
        return;
    }
    if status.is_success() {
        let Some(missing) = post_found(svc, import.group_id, import.request_id, live, report).await
        else {
            return;
        };
        if missing.is_empty() {
            close_import(svc, import, ImportState::Succeeded).await;
        } else if overdue {
            for p in missing {
                let reason = format!(
                    "import {request_id} succeeded but batch {} is not found by name; check Fusion, then mlc replay",
                    p.journal.batch_name
                );
                if let Ok(Some(_)) = move_posting(
                    svc,
                    Actor::Tracker,
                    AuditKind::Held,
                    &p,
                    PostingState::Held {
                        reason: reason.clone(),
                    },
                    None,
                    json!({"reason": reason}),
                )
                .await
                {
                    report
                        .metrics
                        .incr_for(&p.key.store, metrics::POSTINGS_HELD);
                }
            }
            close_import(svc, import, ImportState::Succeeded).await;
        }
        return;
    }
    // ERROR refuses the whole group, so none of it exists; any other ending may have imported
    // part of it: look before sending anything again.
    let refused = if status == JobStatus::Error {
        live
    } else {
        match post_found(svc, import.group_id, import.request_id, live, report).await {
            Some(missing) => missing,
            None => return,
        }
    };
    let group_id = import.group_id;
    close_import(svc, import, ImportState::Failed).await;
    if status.is_stopped() {
        for p in refused {
            let reason = format!(
                "import {request_id} ended {status} in Fusion before Journal Import judged it: nothing of it was imported; mlc replay sends it again"
            );
            hold(
                svc,
                &p,
                reason,
                json!({"group_id": group_id, "request_id": request_id}),
                report,
            )
            .await;
        }
        return;
    }
    match refused.len() {
        0 => {}
        1 => reject(svc, &refused[0], group_id, request_id, status, report).await,
        n => {
            report.split += 1;
            tracing::info!(
                group_id,
                request_id,
                journals = n,
                "import refused; sending it again in halves"
            );
            let mut first = refused;
            let second = first.split_off(n / 2);
            for half in [first, second] {
                let round = submit_postings(svc, Actor::Tracker, half, &mut report.metrics).await;
                for (key, why) in round.passing {
                    tracing::warn!(posting = %key, %why, "half not sent; it is queued again");
                }
            }
        }
    }
}

/// Rejects the one posting left of a refused import, with the job log's reason.
#[tracing::instrument(skip_all, fields(store = %p.key.store, order_id = p.key.order_id, posting = %p.key))]
async fn reject(
    svc: &Services,
    p: &PostingRecord,
    group_id: u64,
    request_id: u64,
    status: JobStatus,
    report: &mut TrackReport,
) {
    let reason = match svc.oracle.job_log(request_id).await {
        Ok(log) => reason_from_log(&log, &p.journal.batch_name),
        Err(e) => format!("import {request_id} ended {status}; its log could not be read: {e}"),
    };
    let detail = json!({"group_id": group_id, "request_id": request_id, "reason": reason});
    wake_before_settling(svc, p, report).await;
    if let Ok(Some(_)) = move_posting(
        svc,
        Actor::Tracker,
        AuditKind::Rejected,
        p,
        PostingState::Rejected {
            reason: reason.clone(),
        },
        None,
        detail,
    )
    .await
    {
        report.rejected += 1;
        report.settled.insert((p.key.store.clone(), p.key.order_id));
        report
            .metrics
            .incr_for(&p.key.store, metrics::POSTINGS_REJECTED);
    }
}

/// Holds a posting for a person, with the reason in its audit event.
#[tracing::instrument(skip_all, fields(store = %p.key.store, order_id = p.key.order_id, posting = %p.key))]
async fn hold(
    svc: &Services,
    p: &PostingRecord,
    reason: String,
    mut detail: serde_json::Value,
    report: &mut TrackReport,
) {
    detail["reason"] = json!(reason);
    wake_before_settling(svc, p, report).await;
    if let Ok(Some(_)) = move_posting(
        svc,
        Actor::Tracker,
        AuditKind::Held,
        p,
        PostingState::Held { reason },
        None,
        detail,
    )
    .await
    {
        report.settled.insert((p.key.store.clone(), p.key.order_id));
        report
            .metrics
            .incr_for(&p.key.store, metrics::POSTINGS_HELD);
    }
}

/// Marks Posted what is found by name; returns what Fusion says is not there, or `None` when
/// some lookup failed: then nothing is concluded this round (a batch that could not be read is
/// never taken for one that is missing, which would send it again).
async fn post_found(
    svc: &Services,
    group_id: u64,
    request_id: Option<u64>,
    live: Vec<PostingRecord>,
    report: &mut TrackReport,
) -> Option<Vec<PostingRecord>> {
    let items: Vec<(PostingRecord, Journal)> = live
        .into_iter()
        .map(|p| {
            let j = p.journal.clone();
            (p, j)
        })
        .collect();
    let Lookup {
        found,
        missing,
        unread,
    } = look_up_by_name(svc.oracle.as_ref(), items).await;
    for (
        p,
        FoundBatch {
            batch_id,
            fusion_name,
        },
    ) in found
    {
        mark_posted(
            svc,
            &p,
            batch_id,
            &fusion_name,
            group_id,
            request_id,
            report,
        )
        .await;
    }
    if !unread.is_empty() {
        tracing::warn!(
            group_id,
            unread = unread.len(),
            "batches could not be looked up by name; the next round looks again"
        );
        return None;
    }
    Some(missing.into_iter().map(|(p, _)| p).collect())
}

/// Records a posting Posted with its batch, and names the batch on the order in BigCommerce.
#[tracing::instrument(skip_all, fields(store = %p.key.store, order_id = p.key.order_id, posting = %p.key))]
async fn mark_posted(
    svc: &Services,
    p: &PostingRecord,
    batch_id: u64,
    fusion_name: &str,
    group_id: u64,
    request_id: Option<u64>,
    report: &mut TrackReport,
) {
    let state = PostingState::Posted {
        batch_id,
        group_id,
        request_id,
    };
    let detail = json!({"batch_id": batch_id, "fusion_batch_name": fusion_name, "group_id": group_id, "request_id": request_id});
    wake_before_settling(svc, p, report).await;
    match move_posting(
        svc,
        Actor::Tracker,
        AuditKind::Posted,
        p,
        state,
        None,
        detail,
    )
    .await
    {
        Ok(Some(_)) => {}
        Ok(None) => return,
        Err(e) => {
            tracing::error!(posting = %p.key, error = %e, "could not record Posted; next sweep");
            return;
        }
    }
    report.posted += 1;
    report.settled.insert((p.key.store.clone(), p.key.order_id));
    report
        .metrics
        .incr_for(&p.key.store, metrics::POSTINGS_POSTED);
    let now = svc.clock.now();
    if let Some(seen) = p.seen_at {
        report.metrics.sample_ms_for(
            &p.key.store,
            metrics::END_TO_END_LATENCY,
            (now - seen).num_milliseconds().max(0) as f64,
        );
    }
    tracing::info!(posting = %p.key, batch_id, batch = %p.journal.batch_name, "posted");
    // The batch on the order, for people working in BigCommerce. Not essential: logged only.
    let Some(entry) = svc.store_entry(&p.key.store) else {
        return;
    };
    if let Some(bc) = svc.bigcommerce(&entry.store_hash) {
        let value = json!({"batch_name": p.journal.batch_name, "batch_id": batch_id, "ledger": p.journal.ledger, "posted_at": now}).to_string();
        let key = format!("journal-{}", p.key.posting.name_tag());
        if let Err(e) = bc
            .put_order_metafield(p.key.order_id, "ml-connector", &key, &value)
            .await
        {
            tracing::warn!(posting = %p.key, error = %e, "could not write the order metafield");
        }
    }
}

/// Gives postings back to the poster: Queued, and their orders on the queue.
async fn requeue(
    svc: &Services,
    postings: Vec<PostingRecord>,
    why: &str,
    report: &mut TrackReport,
) {
    let mut orders = BTreeSet::new();
    for p in postings {
        let detail = json!({"reason": why});
        match move_posting(
            svc,
            Actor::Tracker,
            AuditKind::Replayed,
            &p,
            PostingState::Queued,
            None,
            detail,
        )
        .await
        {
            Ok(_) => {
                orders.insert((p.key.store.clone(), p.key.order_id, p.seen_at));
            }
            Err(e) => tracing::error!(posting = %p.key, error = %e, "could not requeue"),
        }
    }
    enqueue_orders(svc, orders, why, report).await;
}

async fn enqueue_orders(
    svc: &Services,
    orders: BTreeSet<(String, u64, Option<chrono::DateTime<chrono::Utc>>)>,
    why: &str,
    report: &mut TrackReport,
) {
    let entries: Vec<(String, Vec<(String, String)>)> = orders
        .iter()
        .filter_map(|(store, order_id, seen)| {
            let entry = svc.store_entry(store)?;
            let m = OrderMessage::new(
                &entry.store_hash,
                *order_id,
                format!("resubmit: {why}"),
                seen.unwrap_or_else(|| svc.clock.now()),
            );
            Some(m.to_queue_entry())
        })
        .collect();
    if entries.is_empty() {
        return;
    }
    match svc.queue.send_batch(&entries).await {
        Ok(ids) => report.requeued += ids.len(),
        Err(e) => tracing::error!(error = %e, "could not requeue orders; next sweep"),
    }
}

/// Postings Queued too long, and Submitted under an import no longer tracked.
async fn requeue_stale(svc: &Services, report: &mut TrackReport) {
    let now = svc.clock.now();
    let after =
        ChronoDuration::from_std(svc.settings.requeue_after).unwrap_or(ChronoDuration::minutes(15));
    match svc
        .store
        .postings_in_state(StateName::Queued, now - after, 100)
        .await
    {
        Ok(stale) if !stale.is_empty() => {
            let orders = stale
                .iter()
                .map(|p| (p.key.store.clone(), p.key.order_id, p.seen_at))
                .collect();
            tracing::info!(
                postings = stale.len(),
                "postings queued too long; their orders are queued again"
            );
            enqueue_orders(svc, orders, "queued too long", report).await;
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "cannot list queued postings"),
    }
    let timeout = ChronoDuration::from_std(svc.settings.submit.import_timeout)
        .unwrap_or(ChronoDuration::hours(2));
    let submitted = match svc
        .store
        .postings_in_state(StateName::Submitted, now - timeout * 2, 100)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot list submitted postings");
            return;
        }
    };
    // Grouped first, so each import is read once.
    let mut by_group: std::collections::BTreeMap<u64, Vec<PostingRecord>> =
        std::collections::BTreeMap::new();
    for p in submitted {
        if let PostingState::Submitted { group_id, .. } = p.state {
            by_group.entry(group_id).or_default().push(p);
        }
    }
    for (group_id, postings) in by_group {
        let tracked = matches!(svc.store.import(group_id).await, Ok(Some(i)) if matches!(i.state, ImportState::Submitted | ImportState::Unknown));
        if tracked {
            continue;
        }
        // No import to follow: the batches are looked up by name, as after a lost answer.
        let Some(missing) = post_found(svc, group_id, None, postings, report).await else {
            continue;
        };
        if !missing.is_empty() {
            requeue(
                svc,
                missing,
                "submitted under an import that is no longer tracked, and not found by name",
                report,
            )
            .await;
        }
    }
}

/// Why Journal Import refused a batch: the lines of its job log about that batch, or else the
/// log's error lines (EBS-style codes such as EF04, EP01).
fn reason_from_log(log: &str, batch_name: &str) -> String {
    let about: Vec<&str> = log.lines().filter(|l| l.contains(batch_name)).collect();
    let lines = if about.is_empty() {
        log.lines()
            .filter(|l| {
                l.len() > 5
                    && l.as_bytes()[..2].iter().all(u8::is_ascii_uppercase)
                    && l.as_bytes()[2..4].iter().all(u8::is_ascii_digit)
            })
            .collect()
    } else {
        about
    };
    if lines.is_empty() {
        format!(
            "Journal Import ended in error; its log says: {}",
            log.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        )
    } else {
        format!("Journal Import rejected it: {}", lines.join("; "))
    }
}
