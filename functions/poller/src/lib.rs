//! The poller function, run on a schedule: [`common::posting::poller::poll`] sweeps every store
//! for what webhooks missed, keeps the hooks active and pointed at the webhook URL, and tracks
//! the Oracle imports. A sweep that fails in part is not retried: the next one covers it,
//! because cursors only move after their orders are queued.

use common::posting::poller::poll;
use common::posting::services::ServicesCache;
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

impl PollerApp {
    /// Runs one sweep; returns its summary (the invocation's result, for logs and `invoke`).
    pub async fn handle(&self) -> Result<Value, SweepFailed> {
        let services = self
            .services
            .services()
            .await
            .map_err(|e| SweepFailed(e.to_string()))?;
        let report = poll(&services).await;
        let t = &report.tracking;
        let summary = json!({
            "queued": report.queued,
            "hooks_changed": report.hooks.iter().filter(|(_, c)| c.changed_anything()).map(|(h, _)| h).collect::<Vec<_>>(),
            "problems": report.problems,
            "tracking": {"imports": t.imports, "posted": t.posted, "rejected": t.rejected, "split": t.split, "stuck": t.stuck, "requeued": t.requeued},
        });
        tracing::info!(%summary, "sweep done");
        if let Some(line) = report.metrics.to_emf(&self.namespace, services.clock.now()) {
            println!("{line}");
        }
        Ok(summary)
    }
}
