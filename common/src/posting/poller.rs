//! The scheduled sweep: what webhooks missed, the hooks themselves, and the imports.
//!
//! Webhooks are not enough on their own: a new hook takes up to a minute to start, deliveries
//! can be lost, and BigCommerce deactivates hooks after failures or 90 idle days. So per store,
//! each sweep reads the orders modified and the refunds created since its cursors (minus an
//! overlap window), queues those not already handled in their current form, and only then
//! moves the cursors; then it makes the hooks right again, and runs the [`tracker`].
//!
//! [`tracker`]: crate::posting::tracker

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::json;

use crate::bigcommerce::api::TimeWindow;
use crate::journal::PostingKind;
use crate::metrics::{self, Metrics};
use crate::ports::BigCommerceApi;
use crate::posting::hooks::{HookChanges, HookSpec, keep_hooks};
use crate::posting::message::OrderMessage;
use crate::posting::services::Services;
use crate::posting::tracker::{TrackReport, track};
use crate::state::{Actor, AuditEvent, AuditKind, Cursor, PostingKey, StateName};

/// Poll stream of orders modified.
pub const ORDERS_STREAM: &str = "orders";
/// Poll stream of refunds created.
pub const REFUNDS_STREAM: &str = "refunds";

/// What a sweep did.
#[derive(Debug, Default)]
pub struct PollReport {
    /// Orders queued, per store hash.
    pub queued: BTreeMap<String, usize>,
    /// What the hook keeper changed, per store hash.
    pub hooks: BTreeMap<String, HookChanges>,
    /// Problems that stopped part of the sweep (it continues next time).
    pub problems: Vec<String>,
    /// The tracker's round.
    pub tracking: TrackReport,
    /// Figures for the metrics line.
    pub metrics: Metrics,
}

/// Sweeps every store, keeps the hooks, tracks the imports.
#[tracing::instrument(name = "sweep", skip_all)]
pub async fn poll(svc: &Services) -> PollReport {
    let calls_before = svc.bigcommerce_calls();
    let mut report = PollReport::default();
    for hash in svc.store_hashes() {
        let Some(bc) = svc.bigcommerce(&hash).cloned() else {
            continue;
        };
        let mut queued = 0;
        match sweep_orders(svc, &hash, bc.as_ref()).await {
            Ok(n) => queued += n,
            Err(e) => report.problems.push(format!("store {hash}, orders: {e}")),
        }
        match sweep_refunds(svc, &hash, bc.as_ref()).await {
            Ok(n) => queued += n,
            Err(e) => report.problems.push(format!("store {hash}, refunds: {e}")),
        }
        report.metrics.add(metrics::ORDERS_SWEPT, queued as f64);
        report.queued.insert(hash.clone(), queued);
        if let Some(url) = &svc.settings.webhook_url {
            match keep_hooks(bc.as_ref(), &HookSpec::orders(url, &hash)).await {
                Ok(changes) => {
                    record_hook_changes(svc, &hash, &changes, &mut report.metrics).await;
                    report.hooks.insert(hash.clone(), changes);
                }
                Err(e) => report.problems.push(format!("store {hash}, hooks: {e}")),
            }
        }
    }
    for problem in &report.problems {
        tracing::warn!(%problem, "sweep incomplete; the next one retries");
    }
    report.tracking = track(svc).await;
    report.metrics.merge(&report.tracking.metrics);
    report.metrics.add(
        metrics::BIGCOMMERCE_CALLS,
        svc.bigcommerce_calls().saturating_sub(calls_before) as f64,
    );
    report
}

/// The window of a stream: from its cursor less the overlap (or the first look-back) to now.
async fn window(
    svc: &Services,
    hash: &str,
    stream: &str,
) -> Result<(TimeWindow, Option<Cursor>), String> {
    let now = svc.clock.now();
    let cursor = svc
        .store
        .cursor(hash, stream)
        .await
        .map_err(|e| e.to_string())?;
    let overlap =
        ChronoDuration::from_std(svc.settings.overlap).unwrap_or(ChronoDuration::minutes(5));
    let lookback =
        ChronoDuration::from_std(svc.settings.first_lookback).unwrap_or(ChronoDuration::hours(1));
    let from = cursor
        .as_ref()
        .map_or(now - lookback, |c| c.position - overlap);
    Ok((TimeWindow { from, to: now }, cursor))
}

/// Moves a cursor to the end of the window just handled.
async fn advance(
    svc: &Services,
    hash: &str,
    stream: &str,
    to: DateTime<Utc>,
    cursor: Option<Cursor>,
) -> Result<(), String> {
    let next = Cursor {
        store: hash.to_string(),
        stream: stream.to_string(),
        position: to,
        version: cursor.as_ref().map_or(0, |c| c.version),
    };
    // A conflict means an overlapping sweep moved it: its position is as good as ours.
    match svc
        .store
        .save_cursor(&next, cursor.map(|c| c.version))
        .await
    {
        Ok(_) | Err(crate::state::StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

async fn send(svc: &Services, messages: Vec<OrderMessage>) -> Result<usize, String> {
    if messages.is_empty() {
        return Ok(0);
    }
    let entries: Vec<(String, Vec<(String, String)>)> =
        messages.iter().map(OrderMessage::to_queue_entry).collect();
    svc.queue
        .send_batch(&entries)
        .await
        .map(|ids| ids.len())
        .map_err(|e| e.to_string())
}

/// Queues the orders modified since the cursor that are not recorded in their current form.
#[tracing::instrument(name = "sweep_orders", skip_all, fields(store_hash = hash))]
async fn sweep_orders(
    svc: &Services,
    hash: &str,
    bc: &dyn BigCommerceApi,
) -> Result<usize, String> {
    let (window, cursor) = window(svc, hash, ORDERS_STREAM).await?;
    let orders = bc
        .orders_modified(window)
        .await
        .map_err(|e| e.to_string())?;
    let posting = &svc.config.posting;
    let mut messages = Vec::new();
    for order in orders {
        let Some(entry) = svc.config.route(hash, order.channel_id) else {
            continue;
        };
        let modified = order.date_modified.map(|d| d.0.with_timezone(&Utc));
        let seen = svc
            .store
            .order(&entry.id, order.id)
            .await
            .map_err(|e| e.to_string())?;
        match seen {
            Some(record) if record.date_modified == modified => continue,
            // Never handled and not yet a sale or a cancellation: nothing to post yet; it will
            // be modified (and seen) again when it is paid.
            None if !posting.sale_statuses.contains(&order.status_id)
                && !posting.reversal_statuses.contains(&order.status_id) =>
            {
                continue;
            }
            _ => {}
        }
        messages.push(OrderMessage::new(
            hash,
            order.id,
            "poll",
            modified.unwrap_or(window.to),
        ));
    }
    let queued = send(svc, messages).await?;
    advance(svc, hash, ORDERS_STREAM, window.to, cursor).await?;
    Ok(queued)
}

/// Queues the orders of refunds created since the cursor that have no posting yet.
#[tracing::instrument(name = "sweep_refunds", skip_all, fields(store_hash = hash))]
async fn sweep_refunds(
    svc: &Services,
    hash: &str,
    bc: &dyn BigCommerceApi,
) -> Result<usize, String> {
    let (window, cursor) = window(svc, hash, REFUNDS_STREAM).await?;
    let refunds = bc
        .refunds_created(window)
        .await
        .map_err(|e| e.to_string())?;
    let entries: Vec<String> = svc
        .config
        .stores
        .iter()
        .filter(|s| s.store_hash == hash)
        .map(|s| s.id.clone())
        .collect();
    let mut messages: BTreeMap<u64, OrderMessage> = BTreeMap::new();
    'refunds: for refund in refunds {
        for store in &entries {
            // The poster already saw this order and waits for a posting still in flight, or
            // held for a person: the tracker or the replay queues it when that settles, refunds
            // and all. Queuing it again every sweep meanwhile would only fetch it again.
            if matches!(
                waiting_on(svc, store, refund.order_id).await?,
                Wait::InFlight | Wait::Held
            ) {
                continue 'refunds;
            }
            let key = PostingKey {
                store: store.clone(),
                order_id: refund.order_id,
                posting: PostingKind::Refund(refund.id),
            };
            if svc
                .store
                .posting(&key)
                .await
                .map_err(|e| e.to_string())?
                .is_some()
            {
                continue 'refunds;
            }
        }
        let created = refund
            .created
            .map(|d| d.0.with_timezone(&Utc))
            .unwrap_or(window.to);
        let mut m = OrderMessage::new(hash, refund.order_id, "poll refund", created);
        m.refund_id = Some(refund.id);
        messages.insert(refund.order_id, m);
    }
    let queued = send(svc, messages.into_values().collect()).await?;
    advance(svc, hash, REFUNDS_STREAM, window.to, cursor).await?;
    Ok(queued)
}

/// What an order's last decision waits for, as the records stand now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// It waits for nothing.
    Nothing,
    /// For a posting still Queued or Submitted: settled by the pipeline.
    InFlight,
    /// For a posting held for a person: the replay queues the order.
    Held,
    /// It waited, but what it waited for has settled since: it must be looked at again.
    Stale,
}

/// What the order's last decision waits for (one or two state-store reads).
#[tracing::instrument(name = "waiting_on", skip_all, fields(store = store, order_id = order_id))]
pub(crate) async fn waiting_on(svc: &Services, store: &str, order_id: u64) -> Result<Wait, String> {
    let waiting = svc
        .store
        .order(store, order_id)
        .await
        .map_err(|e| e.to_string())?
        .is_some_and(|r| r.waiting);
    if !waiting {
        return Ok(Wait::Nothing);
    }
    let postings = svc
        .store
        .postings_of(store, order_id)
        .await
        .map_err(|e| e.to_string())?;
    let any = |states: &[StateName]| postings.iter().any(|p| states.contains(&p.state.name()));
    Ok(if any(&[StateName::Queued, StateName::Submitted]) {
        Wait::InFlight
    } else if any(&[StateName::Held]) {
        Wait::Held
    } else {
        Wait::Stale
    })
}

/// Audits what the hook keeper changed; re-activations and redirects are alarms.
#[tracing::instrument(name = "hook_changes", skip_all, fields(store_hash = hash))]
async fn record_hook_changes(
    svc: &Services,
    hash: &str,
    changes: &HookChanges,
    metrics: &mut Metrics,
) {
    if !changes.changed_anything() {
        return;
    }
    metrics.add(
        metrics::HOOKS_REACTIVATED,
        (changes.reactivated.len() + changes.redirected.len()) as f64,
    );
    tracing::warn!(store_hash = hash, ?changes, "hooks repaired");
    let event = AuditEvent::new(Actor::Poller, AuditKind::HookRepaired, hash, 0, svc.clock.now()).detail(json!({
        "created": changes.created,
        "reactivated": changes.reactivated,
        "redirected": changes.redirected.iter().map(|(id, from)| json!({"hook": id, "was": from})).collect::<Vec<_>>(),
    }));
    if let Err(e) = svc.store.append_audit(&event).await {
        tracing::error!(error = %e, "could not audit the hook repair");
    }
}

/// What a scheduled invocation of the poller function asks for: the template's three schedules.
/// The sweep's schedule sends no input (the plain EventBridge event), so an event without a
/// `job` is a sweep; a `job` the function does not know is refused, never taken for a sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Orders and refunds webhooks missed, the hooks, and a tracking round (`{}`,
    /// `{"job": "sweep"}`).
    Sweep,
    /// The imports only, between sweeps (`{"job": "track"}`).
    Track,
    /// The orders of the last `window_hours`, ending `settle_minutes` ago, against the ledger
    /// (`{"job": "reconcile"}`; both optional, 24 and 15 by default).
    Reconcile {
        /// Hours reconciled.
        window_hours: i64,
        /// Minutes left out at the end, for orders still being posted.
        settle_minutes: i64,
    },
}

/// The jobs' names, as an event's `job` gives them.
pub const JOB_NAMES: [&str; 3] = ["sweep", "track", "reconcile"];

/// The scheduled reconciliation's default window: the day before.
pub const RECONCILE_HOURS: i64 = 24;
/// The scheduled reconciliation's default settling time.
pub const RECONCILE_SETTLE_MINUTES: i64 = 15;

/// A scheduled event the poller cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// `job` names no job.
    #[error("unknown job {0:?}: expected one of {names}", names = JOB_NAMES.join(", "))]
    Unknown(String),
    /// `job` is there but not a string.
    #[error("job: expected a string, one of {names}; got {0}", names = JOB_NAMES.join(", "))]
    NotAName(String),
    /// A reconciliation's option is not a whole number.
    #[error("{0}: expected a whole number, got {1}")]
    NotANumber(&'static str, String),
}

impl Job {
    /// The job a scheduled event asks for.
    pub fn from_event(event: &serde_json::Value) -> Result<Self, JobError> {
        let name = match event.get("job") {
            None | Some(serde_json::Value::Null) => return Ok(Job::Sweep),
            Some(serde_json::Value::String(name)) => name.as_str(),
            Some(other) => return Err(JobError::NotAName(other.to_string())),
        };
        let number = |field: &'static str, default: i64| match event.get(field) {
            None | Some(serde_json::Value::Null) => Ok(default),
            Some(v) => v
                .as_i64()
                .ok_or_else(|| JobError::NotANumber(field, v.to_string())),
        };
        match name {
            "sweep" => Ok(Job::Sweep),
            "track" => Ok(Job::Track),
            "reconcile" => Ok(Job::Reconcile {
                window_hours: number("window_hours", RECONCILE_HOURS)?,
                settle_minutes: number("settle_minutes", RECONCILE_SETTLE_MINUTES)?,
            }),
            other => Err(JobError::Unknown(other.to_string())),
        }
    }

    /// The job's name, as an event gives it (and the summary reports it).
    pub fn name(&self) -> &'static str {
        match self {
            Job::Sweep => JOB_NAMES[0],
            Job::Track => JOB_NAMES[1],
            Job::Reconcile { .. } => JOB_NAMES[2],
        }
    }
}

#[cfg(test)]
mod job_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_templates_schedules_name_their_jobs() {
        // The sweep's schedule has no input: Lambda gets the plain scheduled event.
        let plain = json!({"version": "0", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(Job::from_event(&plain), Ok(Job::Sweep));
        assert_eq!(Job::from_event(&json!({"job": "sweep"})), Ok(Job::Sweep));
        assert_eq!(Job::from_event(&json!({"job": "track"})), Ok(Job::Track));
        assert_eq!(
            Job::from_event(&json!({"job": "reconcile"})),
            Ok(Job::Reconcile {
                window_hours: 24,
                settle_minutes: 15
            })
        );
        assert_eq!(
            Job::from_event(&json!({"job": "reconcile", "settle_minutes": 0})),
            Ok(Job::Reconcile {
                window_hours: 24,
                settle_minutes: 0
            })
        );
        for name in JOB_NAMES {
            assert_eq!(Job::from_event(&json!({"job": name})).unwrap().name(), name);
        }
    }

    #[test]
    fn a_mistyped_job_is_refused_with_the_jobs_listed() {
        let err = Job::from_event(&json!({"job": "swep"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown job \"swep\": expected one of sweep, track, reconcile"
        );
        let err = Job::from_event(&json!({"job": 1})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "job: expected a string, one of sweep, track, reconcile; got 1"
        );
        let err = Job::from_event(&json!({"job": "reconcile", "window_hours": "24"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "window_hours: expected a whole number, got \"24\""
        );
    }
}
