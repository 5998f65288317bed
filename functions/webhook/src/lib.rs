//! The webhook function: an API Gateway (HTTP API) request carrying a BigCommerce delivery
//! becomes a queue message through [`common::posting::intake`]. The raw body is used exactly as
//! received, because the signature covers its bytes.

// Every public item says why it exists (the project standard); clippy -D warnings holds it.
#![warn(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use common::metrics::Metrics;
use common::ports::{Clock, Queue, SecretSource, StateStore};
use common::posting::intake::{Accepted, Intake, NOT_CONFIGURED_ANSWER, Refusal};
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// What the function keeps between invocations.
pub struct WebhookApp {
    /// The connector document.
    pub source: Arc<dyn SecretSource>,
    /// Delivery ids.
    pub store: Arc<dyn StateStore>,
    /// The orders queue.
    pub queue: Arc<dyn Queue>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Metrics namespace.
    pub namespace: String,
    /// How long delivery ids are remembered.
    pub dedupe_ttl: Duration,
    /// Largest body accepted.
    pub max_body: usize,
}

fn answer(status: u16, body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("a valid response")
}

impl WebhookApp {
    /// An app over these ports with the production limits.
    pub fn new(
        source: Arc<dyn SecretSource>,
        store: Arc<dyn StateStore>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        namespace: &str,
    ) -> Self {
        Self {
            source,
            store,
            queue,
            clock,
            namespace: namespace.to_string(),
            dedupe_ttl: Duration::from_secs(3 * 24 * 60 * 60),
            max_body: 64 * 1024,
        }
    }

    /// Answers one request, and prints its metrics line.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let mut metrics = Metrics::default();
        let response = self.respond(request, &mut metrics).await;
        for line in metrics.to_emf_lines(&self.namespace, self.clock.now()) {
            println!("{line}");
        }
        response
    }

    async fn respond(&self, request: Request, metrics: &mut Metrics) -> Response<Body> {
        let body: &[u8] = match request.body() {
            Body::Text(t) => t.as_bytes(),
            Body::Binary(b) => b,
            // Empty (and any kind a later lambda_http adds): no body, which intake refuses.
            _ => &[],
        };
        let config = match self.source.connector_document().await {
            Ok(c) => c,
            Err(e) => {
                // The detail (which field, which secret) is for the operator's log; the sender
                // is not authenticated yet and learns only that there is no configuration.
                tracing::error!(error = %e, "connector document unavailable; BigCommerce will retry");
                return answer(
                    503,
                    json!({"error": "unavailable", "message": NOT_CONFIGURED_ANSWER}),
                );
            }
        };
        let intake = Intake {
            config: &config,
            store: self.store.as_ref(),
            queue: self.queue.as_ref(),
            clock: self.clock.as_ref(),
            dedupe_ttl: self.dedupe_ttl,
            max_body: self.max_body,
        };
        match intake.take(request.headers(), body, metrics).await {
            Ok(Accepted::Queued {
                store_hash,
                order_id,
                message_id,
            }) => {
                tracing::info!(%store_hash, order_id, %message_id, "queued");
                answer(200, json!({"status": "queued", "order_id": order_id}))
            }
            Ok(Accepted::Duplicate) => answer(200, json!({"status": "duplicate"})),
            Ok(Accepted::Ignored { reason }) => {
                tracing::info!(%reason, "ignored");
                answer(200, json!({"status": "ignored", "reason": reason}))
            }
            Err(refusal) => {
                log_refusal(&refusal);
                answer(
                    refusal.status(),
                    json!({"error": refusal.code(), "message": refusal.public_message()}),
                )
            }
        }
    }
}

fn log_refusal(refusal: &Refusal) {
    match refusal {
        Refusal::Unavailable(_) => tracing::error!(%refusal, "delivery not accepted"),
        _ => tracing::warn!(%refusal, status = refusal.status(), "delivery refused"),
    }
}
