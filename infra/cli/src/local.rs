//! The pipeline as one local process, on SQLite: what API Gateway does in AWS, done here: a
//! webhook endpoint (axum) in front of the intake service. The queue consumer is
//! `common::posting::poster::drain_queue`; the poller runs on an interval.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::metrics::Metrics;
use common::ports::{Clock, Queue, SecretSource, StateStore};
use common::posting::intake::{Accepted, Intake, NOT_CONFIGURED_ANSWER, Refusal};
use serde_json::json;

/// What the webhook endpoint needs.
#[derive(Clone)]
pub struct Endpoint {
    /// The connector document.
    pub source: Arc<dyn SecretSource>,
    /// Delivery ids.
    pub store: Arc<dyn StateStore>,
    /// The queue.
    pub queue: Arc<dyn Queue>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

async fn deliver(
    State(e): State<Endpoint>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let config = match e.source.connector_document().await {
        Ok(c) => c,
        Err(err) => {
            // Whoever posted this is not authenticated yet: the document's problems go to the
            // operator's log, the answer says only that there is no configuration.
            tracing::error!(error = %err, "connector document unavailable; the delivery is refused for a retry");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "unavailable", "message": NOT_CONFIGURED_ANSWER}).to_string(),
            );
        }
    };
    let intake = Intake {
        config: &config,
        store: e.store.as_ref(),
        queue: e.queue.as_ref(),
        clock: e.clock.as_ref(),
        dedupe_ttl: Duration::from_secs(3 * 24 * 60 * 60),
        max_body: 64 * 1024,
    };
    let mut metrics = Metrics::default();
    match intake.take(&headers, &body, &mut metrics).await {
        Ok(Accepted::Queued { order_id, .. }) => (
            StatusCode::OK,
            json!({"status": "queued", "order_id": order_id}).to_string(),
        ),
        Ok(Accepted::Duplicate) => (StatusCode::OK, json!({"status": "duplicate"}).to_string()),
        Ok(Accepted::Ignored { reason }) => (
            StatusCode::OK,
            json!({"status": "ignored", "reason": reason}).to_string(),
        ),
        Err(refusal) => {
            let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
            if matches!(refusal, Refusal::Unavailable(_)) {
                tracing::error!(%refusal, "delivery not accepted");
            } else {
                tracing::warn!(%refusal, status = refusal.status(), "delivery refused");
            }
            (
                status,
                json!({"error": refusal.code(), "message": refusal.public_message()}).to_string(),
            )
        }
    }
}

/// Serves `POST /webhooks` on `addr`; returns the bound address.
pub async fn serve_webhooks(
    addr: SocketAddr,
    endpoint: Endpoint,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/webhooks", axum::routing::post(deliver))
        .with_state(endpoint);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("webhook endpoint stopped: {e}");
        }
    });
    Ok((bound, task))
}
