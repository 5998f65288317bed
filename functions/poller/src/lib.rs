//! The poller function, run on a schedule: [`common::posting::poller::poll`] sweeps every store
//! for what webhooks missed, keeps the hooks active and pointed at the webhook URL, and tracks
//! the Oracle imports. A sweep that fails in part is not retried: the next one covers it,
//! because cursors only move after their orders are queued.
//!
//! The event names the job ([`Job`]); one it does not know is refused with the jobs listed.
//! Two more schedules call it. Every minute, the tracker runs alone: a refused import is split
//! and sent again within a minute, not a sweep period. Concurrent rounds are safe, because
//! postings are claimed by conditional writes. Daily,
//! [`common::posting::reconcile::scheduled`] checks the day before, so a difference between
//! the orders and the ledger raises an alarm the next morning, not at month-end.

// Every public item says why it exists (the project standard); clippy -D warnings holds it.
#![warn(missing_docs)]

use common::posting::poller::{Job, JobError, poll};
use common::posting::reconcile::scheduled;
use common::posting::services::ServicesCache;
use common::posting::tracker::{TrackReport, track};
use serde_json::{Value, json};

/// What the function keeps between invocations.
pub struct PollerApp {
    /// Services, rebuilt when the connector document changes.
    pub services: ServicesCache,
    /// Metrics namespace.
    pub namespace: String,
}

/// Why an invocation did no work: the invocation fails, so the error shows in the function's
/// errors metric and its log, and the next schedule tries again.
#[derive(Debug, thiserror::Error)]
pub enum PollerError {
    /// The event asks for a job that does not exist (a schedule's input mistyped).
    #[error("{0}")]
    Job(#[from] JobError),
    /// The job could not start (the connector document, a client).
    #[error("{job} could not start: {why}")]
    NotStarted {
        /// The job's name.
        job: &'static str,
        /// Why.
        why: String,
    },
}

impl PollerApp {
    /// Runs the [`Job`] the scheduled event asks for (`{"job": "track"}`, `{"job": "reconcile"}`
    /// with optional `window_hours` and `settle_minutes`; no `job` is a sweep). Returns the
    /// summary (the invocation's result, for logs and `invoke`).
    pub async fn handle(&self, event: &Value) -> Result<Value, PollerError> {
        let job = Job::from_event(event)?;
        let not_started = |why: String| PollerError::NotStarted {
            job: job.name(),
            why,
        };
        let services = self
            .services
            .services()
            .await
            .map_err(|e| not_started(e.to_string()))?;
        let (summary, metrics) = match &job {
            Job::Track => {
                // Between sweeps: follow the imports only, so a finished import is confirmed,
                // and a refused one split and sent again, within a minute, not a sweep period.
                let t = track(&services).await;
                let summary = json!({"job": "track", "tracking": tracking(&t)});
                (summary, t.metrics)
            }
            Job::Reconcile {
                window_hours,
                settle_minutes,
            } => {
                let settle = chrono::Duration::minutes(*settle_minutes);
                let (report, metrics) = scheduled(&services, *window_hours, settle)
                    .await
                    .map_err(|e| not_started(e.to_string()))?;
                let summary = json!({
                    "job": "reconcile",
                    "from": report.from,
                    "to": report.to,
                    "orders": report.orders.len(),
                    "needs_action": report.needing_action(),
                    "counts": report.counts,
                });
                (summary, metrics)
            }
            Job::Sweep => {
                let report = poll(&services).await;
                let summary = json!({
                    "job": "sweep",
                    "queued": report.queued,
                    "hooks_changed": report.hooks.iter().filter(|(_, c)| c.changed_anything()).map(|(h, _)| h).collect::<Vec<_>>(),
                    "problems": report.problems,
                    "tracking": tracking(&report.tracking),
                });
                (summary, report.metrics)
            }
        };
        tracing::info!(%summary, "poller done");
        for line in metrics.to_emf_lines(&self.namespace, services.clock.now()) {
            println!("{line}");
        }
        Ok(summary)
    }
}

/// A tracking round in the summary.
fn tracking(t: &TrackReport) -> Value {
    json!({"imports": t.imports, "posted": t.posted, "rejected": t.rejected, "split": t.split, "stuck": t.stuck, "requeued": t.requeued})
}
