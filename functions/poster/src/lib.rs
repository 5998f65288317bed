//! The poster function: an SQS batch goes through [`common::posting::poster`]; messages that
//! hit a passing failure are reported as batch item failures (`ReportBatchItemFailures`), so
//! SQS redelivers only those, and sends them to the dead-letter queue after the redrive limit.

// Every public item says why it exists (the project standard); clippy -D warnings holds it.
#![warn(missing_docs)]

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use common::posting::poster::{Incoming, post_batch};
use common::posting::services::ServicesCache;

/// What the function keeps between invocations.
pub struct PosterApp {
    /// Services, rebuilt when the connector document changes.
    pub services: ServicesCache,
    /// Metrics namespace.
    pub namespace: String,
}

impl PosterApp {
    /// Handles one SQS batch.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        let ids: Vec<String> = event
            .records
            .iter()
            .filter_map(|r| r.message_id.clone())
            .collect();
        let services = match self.services.services().await {
            Ok(s) => s,
            Err(e) => {
                // Nothing can be done without the document: every message stays queued.
                tracing::error!(error = %e, messages = ids.len(), "services unavailable; the batch will be retried");
                for id in ids {
                    response.add_failure(id);
                }
                return response;
            }
        };
        let messages: Vec<Incoming> = event
            .records
            .into_iter()
            .filter_map(|r| {
                Some(Incoming {
                    message_id: r.message_id?,
                    body: r.body.unwrap_or_default(),
                })
            })
            .collect();
        let report = post_batch(&services, messages).await;
        for (id, why) in &report.retry {
            tracing::warn!(message_id = %id, %why, "message will be retried");
            response.add_failure(id.clone());
        }
        tracing::info!(
            orders = report.orders,
            retried = report.retry.len(),
            discarded = report.discarded.len(),
            "batch done"
        );
        for line in report
            .metrics
            .to_emf_lines(&self.namespace, services.clock.now())
        {
            println!("{line}");
        }
        response
    }
}
