//! The poller function, run on a schedule: [`common::posting::poller::poll`] sweeps every store
//! for what webhooks missed, keeps the hooks active and pointed at the webhook URL, and tracks
//! the Oracle imports. A sweep that fails in part is not retried: the next one covers it,
//! because cursors only move after their orders are queued.
//!
//! Two more schedules call it. Every minute, the tracker runs alone: a refused import is split
//! and sent again within a minute, not a sweep period. Concurrent rounds are safe, because
//! postings are claimed by conditional writes. Daily,
//! [`common::posting::reconcile::scheduled`] checks the day before, so a difference between
//! the orders and the ledger raises an alarm the next morning, not at month-end.

// Every public item says why it exists (the project standard); clippy -D warnings holds it.
#![warn(missing_docs)]

use common::posting::poller::poll;
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

/// The sweep could not start.
#[derive(Debug)]
pub struct SweepFailed(pub String);

impl std::fmt::Display for SweepFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sweep could not start: {}", self.0)
    }
}

impl std::error::Error for SweepFailed {}

/// The scheduled reconciliation's defaults: the day before, ending 15 minutes ago.
const RECONCILE_HOURS: i64 = 24;
const RECONCILE_SETTLE_MINUTES: i64 = 15;

impl PollerApp {
    /// Runs what the scheduled event asks: `{"job": "track"}` follows the imports only;
    /// `{"job": "reconcile"}` (optionally with `window_hours` and `settle_minutes`) reconciles
    /// the day before; anything else is a sweep. Returns the summary (the invocation's result,
    /// for logs and `invoke`).
    pub async fn handle(&self, event: &Value) -> Result<Value, SweepFailed> {
        let services = self
            .services
            .services()
            .await
            .map_err(|e| SweepFailed(e.to_string()))?;
        let (summary, metrics) = match event["job"].as_str() {
            Some("track") => {
                // Between sweeps: follow the imports only, so a finished import is confirmed,
                // and a refused one split and sent again, within a minute, not a sweep period.
                let t = track(&services).await;
                let summary = json!({"job": "track", "tracking": tracking(&t)});
                (summary, t.metrics)
            }
            Some("reconcile") => {
                let hours = event["window_hours"].as_i64().unwrap_or(RECONCILE_HOURS);
                let settle = event["settle_minutes"]
                    .as_i64()
                    .unwrap_or(RECONCILE_SETTLE_MINUTES);
                let (report, metrics) =
                    scheduled(&services, hours, chrono::Duration::minutes(settle))
                        .await
                        .map_err(|e| SweepFailed(e.to_string()))?;
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
            _ => {
                let report = poll(&services).await;
                let summary = json!({
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
