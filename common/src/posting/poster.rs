//! The poster: a batch of queue messages becomes postings in Oracle.
//!
//! Messages are grouped by order (a webhook and the poller may both have queued one). Each
//! order is fetched fresh from BigCommerce, routed to its store entry by channel, and handed to
//! [`decide`] with what is recorded for it; what must be posted is recorded as Queued (a
//! conditional create: a posting that exists is never created twice), then every Queued
//! posting of the batch goes to Oracle in as few imports as the ledgers allow. The tracker
//! follows the imports from there.
//!
//! A message is retried (reported as a batch item failure) only for passing failures:
//! BigCommerce or Oracle unavailable, the state store unreachable. An order that cannot post
//! is recorded Held or Rejected with the reason and its message is done; an order BigCommerce
//! no longer has, or a channel no store entry covers, is audited and done. Everything else
//! keeps flowing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use serde_json::json;

use crate::bigcommerce::api::RefundPolicy;
use crate::bigcommerce::{BcError, OrderBundle};
use crate::journal::{JournalContext, PostingKind};
use crate::metrics::{self, Metrics};
use crate::ports::{Queue, QueueError};
use crate::posting::decide::{decide, fingerprint};
use crate::posting::dispatch::submit_postings;
use crate::posting::message::OrderMessage;
use crate::posting::services::Services;
use crate::state::{
    Actor, AuditEvent, AuditKind, OrderRecord, PostingKey, PostingRecord, PostingState, StateName,
    StoreError,
};

/// A message as the queue delivered it.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The queue's message id (what a batch item failure names).
    pub message_id: String,
    /// The body.
    pub body: String,
}

/// What the poster did with a batch.
#[derive(Debug, Default)]
pub struct PosterReport {
    /// Message ids to retry (passing failures), each with why.
    pub retry: Vec<(String, String)>,
    /// Message ids that can never be processed (not an order message): done, logged.
    pub discarded: Vec<(String, String)>,
    /// Orders looked at.
    pub orders: usize,
    /// Figures for the metrics line.
    pub metrics: Metrics,
}

/// What happened to one order before submission.
enum Prepared {
    /// Its Queued postings, to send now.
    Ready(Vec<PostingRecord>),
    /// Nothing to send (nothing to post, or waiting, or not ours).
    Done,
    /// A passing failure: retry its messages.
    Retry(String),
}

/// One order's messages and what preparing it gave.
struct OrderWork {
    hash: String,
    order_id: u64,
    ids: Vec<String>,
    outcome: Prepared,
    metrics: Metrics,
}

/// A batch's order messages by order (a webhook and the poller may both have queued one);
/// what is not an order message is discarded into the report.
fn by_order(
    messages: Vec<Incoming>,
    report: &mut PosterReport,
) -> BTreeMap<(String, u64), Vec<(String, OrderMessage)>> {
    let mut by_order: BTreeMap<(String, u64), Vec<(String, OrderMessage)>> = BTreeMap::new();
    for m in messages {
        match OrderMessage::parse(&m.body) {
            Ok(message) => by_order
                .entry((message.store_hash.clone(), message.order_id))
                .or_default()
                .push((m.message_id, message)),
            Err(why) => {
                tracing::error!(message_id = %m.message_id, %why, "discarded a message that is not an order message");
                report.discarded.push((m.message_id, why));
            }
        }
    }
    by_order
}

/// Posts a batch of messages.
#[tracing::instrument(name = "poster_batch", skip_all)]
pub async fn post_batch(svc: &Services, messages: Vec<Incoming>) -> PosterReport {
    let calls_before = svc.bigcommerce_calls();
    let mut report = PosterReport::default();
    let by_order = by_order(messages, &mut report);
    report.orders = by_order.len();
    let prepared: Vec<OrderWork> = stream::iter(by_order)
        .map(|((hash, order_id), msgs)| async move {
            let mut metrics = Metrics::default();
            let ids = msgs.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
            let messages: Vec<OrderMessage> = msgs.into_iter().map(|(_, m)| m).collect();
            let outcome = prepare_order(svc, &hash, order_id, &messages, &mut metrics).await;
            OrderWork {
                hash,
                order_id,
                ids,
                outcome,
                metrics,
            }
        })
        .buffer_unordered(svc.settings.concurrency.max(1))
        .collect()
        .await;

    let mut to_send: Vec<PostingRecord> = Vec::new();
    let mut messages_of: BTreeMap<(String, u64), Vec<String>> = BTreeMap::new();
    for OrderWork {
        hash,
        order_id,
        ids,
        outcome,
        metrics,
    } in prepared
    {
        report.metrics.merge(&metrics);
        match outcome {
            Prepared::Ready(postings) => {
                for p in &postings {
                    messages_of
                        .entry((p.key.store.clone(), p.key.order_id))
                        .or_default()
                        .extend(ids.iter().cloned());
                }
                to_send.extend(postings);
            }
            Prepared::Done => {}
            Prepared::Retry(why) => {
                tracing::warn!(store_hash = %hash, order_id, %why, "order will be retried");
                report
                    .retry
                    .extend(ids.into_iter().map(|id| (id, why.clone())));
            }
        }
    }
    if !to_send.is_empty() {
        let round = submit_postings(svc, Actor::Poster, to_send, &mut report.metrics).await;
        for (key, why) in round.passing {
            for id in messages_of
                .remove(&(key.store.clone(), key.order_id))
                .unwrap_or_default()
            {
                report.retry.push((id, why.clone()));
            }
        }
    }
    report.retry.sort();
    report.retry.dedup_by(|a, b| a.0 == b.0);
    report
        .metrics
        .add(metrics::MESSAGES_RETRIED, report.retry.len() as f64);
    report.metrics.add(
        metrics::BIGCOMMERCE_CALLS,
        svc.bigcommerce_calls().saturating_sub(calls_before) as f64,
    );
    report
}

impl From<StoreError> for Prepared {
    /// The state store failing is a passing failure: the order's messages are retried.
    fn from(e: StoreError) -> Self {
        Prepared::Retry(format!("state store: {e}"))
    }
}

/// One order being prepared: the services, the store entry it routed to, and the time.
struct OrderAt<'a> {
    svc: &'a Services,
    store_id: String,
    order_id: u64,
    now: DateTime<Utc>,
}

/// Fetches, routes, decides and records one order; returns its postings to send. Each step
/// either hands on what the next needs or ends the order's preparation with its outcome.
#[tracing::instrument(
    name = "order",
    skip_all,
    fields(store_hash = hash, order_id = order_id, store = tracing::field::Empty)
)]
async fn prepare_order(
    svc: &Services,
    hash: &str,
    order_id: u64,
    messages: &[OrderMessage],
    metrics: &mut Metrics,
) -> Prepared {
    match prepare_steps(svc, hash, order_id, messages, metrics).await {
        Ok(queued) => Prepared::Ready(queued),
        Err(outcome) => outcome,
    }
}

/// The steps of [`prepare_order`]; an `Err` is an outcome reached before the end (nothing to
/// send, or a retry).
async fn prepare_steps(
    svc: &Services,
    hash: &str,
    order_id: u64,
    messages: &[OrderMessage],
    metrics: &mut Metrics,
) -> Result<Vec<PostingRecord>, Prepared> {
    let bundle = fetch(svc, hash, order_id, messages).await?;
    let (at, ctx) = route(svc, hash, order_id, &bundle)?;
    let seen_at = audit_received(&at, messages, &bundle).await?;
    let recorded = svc.store.postings_of(&at.store_id, order_id).await?;
    let plan = match decide(&ctx, &bundle, &recorded) {
        Ok(plan) => plan,
        Err(e) => return Err(hold_undecidable(&at, e.to_string(), metrics).await),
    };
    if !plan.notes.is_empty() {
        tracing::info!(notes = ?plan.notes, "decision");
    }
    supersede(&at, &plan.superseded, &recorded).await?;
    let mut queued: Vec<PostingRecord> = recorded
        .into_iter()
        .filter(|p| p.state.name() == StateName::Queued)
        .collect();
    let (held, new) = (plan.held.len(), plan.journals.len());
    let to_record = plan
        .journals
        .into_iter()
        .map(|j| (j, None))
        .chain(plan.held.into_iter().map(|h| (h.journal, Some(h.reason))));
    for (journal, reason) in to_record {
        let posting = PostingNote {
            seen_at,
            notes: &plan.notes,
            held: reason,
        };
        if let Some(created) = record_posting(&at, journal, posting, metrics).await? {
            queued.push(created);
        }
    }
    remember_order(svc, &at.store_id, &bundle, plan.waiting, at.now).await?;
    tracing::info!(
        new,
        held,
        queued = queued.len(),
        waiting = plan.waiting,
        "order decided"
    );
    if plan.waiting && queued.is_empty() {
        keep_waiting(&at).await?;
    }
    Ok(queued)
}

/// The order as BigCommerce has it now, with its refunds when a message names one.
async fn fetch(
    svc: &Services,
    hash: &str,
    order_id: u64,
    messages: &[OrderMessage],
) -> Result<OrderBundle, Prepared> {
    let Some(bc) = svc.bigcommerce(hash) else {
        // Not in the document (removed since the message was queued?): the queue keeps it,
        // then the dead-letter queue, for `mlc replay` after the document is fixed.
        return Err(Prepared::Retry(format!(
            "store {hash} is not in the connector document"
        )));
    };
    let policy = if messages.iter().any(|m| m.refund_id.is_some()) {
        RefundPolicy::Always
    } else {
        RefundPolicy::IfRefunded
    };
    let fetched = crate::posting::fetch::fetch_order(
        &svc.config.mapping,
        bc.as_ref(),
        hash,
        order_id,
        policy,
    )
    .await;
    match fetched {
        Ok(bundle) => Ok(bundle),
        Err(BcError::NotFound { .. }) => {
            tracing::info!("order no longer exists in BigCommerce; nothing to post");
            Err(Prepared::Done)
        }
        // Passing failures are retried by the queue; so are credentials, scopes and answers we
        // cannot read, until the dead-letter queue, where they wait for a fix and a redrive.
        // Nothing is lost.
        Err(e) => Err(Prepared::Retry(e.to_string())),
    }
}

/// The store entry whose channel the order is on (recorded in the order's span as `store`),
/// and its journal context.
fn route<'a>(
    svc: &'a Services,
    hash: &str,
    order_id: u64,
    bundle: &OrderBundle,
) -> Result<(OrderAt<'a>, JournalContext<'a>), Prepared> {
    let Some(entry) = svc.config.route(hash, bundle.order.channel_id) else {
        tracing::warn!(
            channel_id = bundle.order.channel_id,
            "no store entry covers this channel; the order is not posted"
        );
        return Err(Prepared::Done);
    };
    tracing::Span::current().record("store", entry.id.as_str());
    let ctx = JournalContext::new(&svc.config, &entry.id)
        .map_err(|e| Prepared::Retry(format!("store {}: {e}", entry.id)))?;
    let at = OrderAt {
        svc,
        store_id: entry.id.clone(),
        order_id,
        now: svc.clock.now(),
    };
    Ok((at, ctx))
}

/// Audits what came in for the order (the messages' reasons, the order's status and refunds);
/// returns when the order was first seen.
async fn audit_received(
    at: &OrderAt<'_>,
    messages: &[OrderMessage],
    bundle: &OrderBundle,
) -> Result<DateTime<Utc>, StoreError> {
    let seen_at = messages.iter().map(|m| m.seen_at).min().unwrap_or(at.now);
    let received = AuditEvent::new(
        Actor::Poster,
        AuditKind::Fetched,
        &at.store_id,
        at.order_id,
        at.now,
    )
    .detail(json!({
        "reasons": messages.iter().map(|m| m.reason.as_str()).collect::<Vec<_>>(),
        "webhook_ids": messages.iter().filter_map(|m| m.webhook_id.as_deref()).collect::<Vec<_>>(),
        "seen_at": seen_at,
        "status_id": bundle.order.status_id,
        "status": bundle.order.status,
        "date_modified": bundle.order.date_modified.map(|d| d.0),
        "refunds": bundle.refunds.iter().map(|r| r.id).collect::<Vec<_>>(),
    }));
    at.svc.store.append_audit(&received).await?;
    Ok(seen_at)
}

/// The order cannot be turned into a journal (e.g. a currency the ledger cannot take): a
/// person must look. Audited as held; the rest keep flowing.
async fn hold_undecidable(at: &OrderAt<'_>, reason: String, metrics: &mut Metrics) -> Prepared {
    tracing::warn!(%reason, "order cannot be journalised");
    let event = AuditEvent::new(Actor::Poster, AuditKind::Held, &at.store_id, at.order_id, at.now)
        .detail(json!({"reason": reason, "fix": "correct the connector document or the order, then mlc replay"}));
    metrics.incr_for(&at.store_id, metrics::POSTINGS_HELD);
    match at.svc.store.append_audit(&event).await {
        Ok(()) => Prepared::Done,
        Err(e) => e.into(),
    }
}

/// Rejects the held postings the order no longer needs, each with the reason.
async fn supersede(
    at: &OrderAt<'_>,
    superseded: &[(PostingKind, String)],
    recorded: &[PostingRecord],
) -> Result<(), StoreError> {
    for (kind, reason) in superseded {
        let Some(held) = recorded.iter().find(|p| p.key.posting == *kind) else {
            continue;
        };
        let event = AuditEvent::new(
            Actor::Poster,
            AuditKind::Superseded,
            &at.store_id,
            at.order_id,
            at.now,
        )
        .posting(*kind)
        .states(Some(held.state.name()), Some(StateName::Rejected))
        .detail(json!({"reason": reason}));
        let rejected = PostingState::Rejected {
            reason: reason.clone(),
        };
        match at
            .svc
            .store
            .transition(&held.key, held.version, rejected, None, &event)
            .await
        {
            Ok(_) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What a new posting is recorded with besides its journal.
struct PostingNote<'a> {
    seen_at: DateTime<Utc>,
    notes: &'a [String],
    /// Why it is held for a person (`None`: queued to send).
    held: Option<String>,
}

/// Records one planned journal as a Queued (or Held) posting with its audit event; returns
/// the posting when it is Queued by this worker.
async fn record_posting(
    at: &OrderAt<'_>,
    journal: crate::journal::Journal,
    note: PostingNote<'_>,
    metrics: &mut Metrics,
) -> Result<Option<PostingRecord>, Prepared> {
    let (store_id, order_id) = (at.store_id.as_str(), at.order_id);
    // The posting key comes from the message, the batch name from the answer: they must
    // name one order (fetch_order checked the answer; this keeps it so whatever decides).
    if journal.order_id != order_id || journal.store != store_id {
        return Err(Prepared::Retry(format!(
            "journal {} is for order {} of store {}, not order {order_id} of store {store_id}; nothing is recorded",
            journal.batch_name, journal.order_id, journal.store
        )));
    }
    let key = PostingKey {
        store: store_id.to_string(),
        order_id,
        posting: journal.posting,
    };
    let held = note.held;
    let kind = match (journal.posting, &held) {
        (PostingKind::Reinstatement(_), _) => AuditKind::Reinstated,
        (_, Some(_)) => AuditKind::Held,
        (PostingKind::Reversal(_), _) => AuditKind::Reversed,
        (PostingKind::Adjustment(_), _) => AuditKind::Adjusted,
        _ => AuditKind::Mapped,
    };
    let rules: Vec<serde_json::Value> = journal
        .lines
        .iter()
        .map(|l| json!({"role": l.account_role.to_string(), "account": l.segments.join("-"), "rule": l.rule, "dr": l.dr, "cr": l.cr}))
        .collect();
    let state = match &held {
        Some(reason) => PostingState::Held {
            reason: reason.clone(),
        },
        None => PostingState::Queued,
    };
    let record = PostingRecord {
        seen_at: Some(note.seen_at),
        ..PostingRecord::new(journal, state, at.now)
    };
    let mut detail =
        json!({"batch_name": record.journal.batch_name, "lines": rules, "notes": note.notes});
    if let Some(reason) = &held {
        detail["reason"] = json!(reason);
    }
    let mut event = AuditEvent::new(Actor::Poster, kind, store_id, order_id, at.now)
        .posting(key.posting)
        .states(None, Some(record.state.name()))
        .detail(detail);
    if key.posting != PostingKind::Sale {
        event = event.links(crate::journal::batch_name(
            store_id,
            order_id,
            &PostingKind::Sale,
        ));
    }
    match at.svc.store.create_posting(&record, &event).await {
        Ok(_) if held.is_some() => {
            tracing::warn!(posting = %key, reason = ?held, "held for a person");
            metrics.incr_for(store_id, metrics::POSTINGS_HELD);
            Ok(None)
        }
        Ok(created) => {
            metrics.incr(metrics::POSTINGS_QUEUED);
            Ok(Some(created))
        }
        Err(StoreError::Conflict { .. }) => {
            tracing::info!(posting = %key, "already recorded by another worker");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// A wait with nothing of its own to send. The tracker queues the order again when what it
/// waits for settles; but that wake is a step after the settling (a worker that dies between
/// the two loses it), and the wait may have settled before it was recorded. So the message
/// itself stays until the wait is over: it comes back after the visibility timeout and the
/// order is decided again. Only a wait for a person lets it go (the replay queues).
async fn keep_waiting(at: &OrderAt<'_>) -> Result<(), Prepared> {
    use crate::posting::poller::{Wait, waiting_on};
    match waiting_on(at.svc, &at.store_id, at.order_id).await {
        Ok(Wait::Held) => Ok(()),
        Ok(Wait::InFlight) => Err(Prepared::Retry(
            "it waits for a posting in flight; decided again when this message comes back".into(),
        )),
        Ok(Wait::Stale | Wait::Nothing) => Err(Prepared::Retry(
            "what the order waited for settled while it was being decided; it is decided again"
                .into(),
        )),
        Err(e) => Err(Prepared::Retry(format!("state store: {e}"))),
    }
}

/// Records the order as seen, so the poller skips it until it changes again.
async fn remember_order(
    svc: &Services,
    store_id: &str,
    bundle: &OrderBundle,
    waiting: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let order = &bundle.order;
    for _ in 0..3 {
        let existing = svc.store.order(store_id, order.id).await?;
        let record = OrderRecord {
            store: store_id.to_string(),
            order_id: order.id,
            date_modified: order.date_modified.map(|d| d.0.with_timezone(&Utc)),
            fingerprint: fingerprint(bundle),
            status_id: order.status_id,
            waiting,
            version: existing.as_ref().map_or(0, |r| r.version),
            updated_at: now,
        };
        match svc
            .store
            .save_order(&record, existing.map(|r| r.version))
            .await
        {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Hands every visible message of `queue` to [`post_batch`], 100 at a time, deleting those it
/// does not report for retry: what Lambda's SQS event source does in AWS, for the local
/// process. Stops at the first batch with retries (those come back after `visibility`).
pub async fn drain_queue(
    svc: &Services,
    queue: &dyn Queue,
    visibility: std::time::Duration,
) -> Result<Vec<PosterReport>, QueueError> {
    let mut reports = Vec::new();
    loop {
        let received = queue.receive(100, visibility).await?;
        if received.is_empty() {
            return Ok(reports);
        }
        let messages = received
            .iter()
            .map(|m| Incoming {
                message_id: m.message_id.clone(),
                body: m.body.clone(),
            })
            .collect();
        let report = post_batch(svc, messages).await;
        for m in &received {
            if !report.retry.iter().any(|(id, _)| *id == m.message_id) {
                queue.delete(&m.handle).await?;
            }
        }
        let retried = !report.retry.is_empty();
        reports.push(report);
        if retried {
            return Ok(reports);
        }
    }
}
