//! The pipeline as one local process, on SQLite: what API Gateway does in AWS, done here: a
//! webhook endpoint (axum) in front of the intake service. The queue consumer is
//! `common::posting::poster::drain_queue`; the poller runs on an interval.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
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

/// Largest delivery body read, as the webhook function's: no BigCommerce event comes near it.
const MAX_BODY: usize = 64 * 1024;

/// The 413 answer, the same whether the length was announced or found while reading.
fn too_large(size: usize) -> (StatusCode, String) {
    let refusal = Refusal::TooLarge {
        size,
        limit: MAX_BODY,
    };
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        json!({"error": refusal.code(), "message": refusal.public_message()}).to_string(),
    )
}

/// The body, read only as far as [`MAX_BODY`]: a `Content-Length` above it is refused before
/// a byte is read, and a body without one (chunked) stops being read once it passes the limit.
/// (axum's own extractor would buffer up to its 2 MB default first.)
async fn read_body(headers: &HeaderMap, mut body: Body) -> Result<Vec<u8>, (StatusCode, String)> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = announced
        && n > MAX_BODY as u64
    {
        return Err(too_large(usize::try_from(n).unwrap_or(usize::MAX)));
    }
    let mut read = Vec::new();
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame.map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                json!({"error": "malformed", "message": format!("the body could not be read: {e}")})
                    .to_string(),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if read.len() + data.len() > MAX_BODY {
                return Err(too_large(read.len() + data.len()));
            }
            read.extend_from_slice(&data);
        }
    }
    Ok(read)
}

async fn deliver(
    State(e): State<Endpoint>,
    headers: HeaderMap,
    body: Body,
) -> (StatusCode, String) {
    let body = match read_body(&headers, body).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
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
        max_body: MAX_BODY,
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
