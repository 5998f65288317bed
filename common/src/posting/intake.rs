//! Intake: a webhook delivery becomes a queue message, fast. The signature is checked with the
//! API account's client secret (Standard Webhooks, constant-time comparison, five-minute
//! window), the delivery id is recorded so BigCommerce's retries are not queued twice, and the
//! order id goes on the queue. No BigCommerce or Oracle call is made here: BigCommerce expects
//! an answer within seconds and deactivates hooks that keep failing.
//!
//! Answers: 200 for anything handled (queued, duplicate, or a scope we ignore, so BigCommerce
//! does not retry it); 401 when the delivery cannot be authenticated; 400 when a signed body is
//! not a BigCommerce event; 413 when the body is too large to be one; 503 when the delivery
//! could not be recorded or queued (BigCommerce retries, and nothing was kept).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use crate::bigcommerce::webhook::{WebhookError, WebhookVerifier, delivery_id, parse_event};
use crate::config::ConnectorConfig;
use crate::metrics::{self, Metrics};
use crate::ports::{Clock, Ports, Queue, StateStore};
use crate::posting::message::{KIND_ORDER, OrderMessage};

/// What intake did with an accepted delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Queued for the poster.
    Queued {
        /// Store hash.
        store_hash: String,
        /// Order.
        order_id: u64,
        /// Queue message id.
        message_id: String,
    },
    /// This delivery id was queued before (a retry by BigCommerce).
    Duplicate,
    /// Authentic, but nothing the connector acts on (another scope, an unconfigured store).
    Ignored {
        /// Why.
        reason: String,
    },
}

/// Why a delivery was refused; each maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not signed by a known API account, or outside the time window.
    #[error("{0}")]
    Unauthenticated(WebhookError),
    /// Signed, but not a BigCommerce event.
    #[error("{0}")]
    Malformed(String),
    /// Larger than any BigCommerce event.
    #[error("body of {size} bytes is larger than the {limit} bytes accepted")]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// Bytes accepted.
        limit: usize,
    },
    /// Could not be recorded or queued now; the sender should retry.
    #[error("not accepted now, retry later: {0}")]
    Unavailable(String),
}

impl Refusal {
    /// The HTTP status to answer.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Unauthenticated(_) => 401,
            Refusal::Malformed(_) => 400,
            Refusal::TooLarge { .. } => 413,
            Refusal::Unavailable(_) => 503,
        }
    }

    /// A short machine-readable code for the answer body.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Unauthenticated(_) => "unauthenticated",
            Refusal::Malformed(_) => "malformed",
            Refusal::TooLarge { .. } => "too_large",
            Refusal::Unavailable(_) => "unavailable",
        }
    }

    /// What the answer to the sender says. The sender is not authenticated when most refusals
    /// happen, so it learns nothing about the configuration: the detail of an
    /// [`Refusal::Unavailable`] (which store's secret, which variable, which table) goes to the
    /// operator's log only.
    pub fn public_message(&self) -> String {
        match self {
            Refusal::Unavailable(_) => UNAVAILABLE_ANSWER.to_string(),
            other => other.to_string(),
        }
    }
}

/// The whole answer to a delivery that cannot be taken now, whatever the reason.
pub const UNAVAILABLE_ANSWER: &str = "not accepted now; retry later";

/// The whole answer to a delivery that arrives while the connector document cannot be used:
/// the internet learns that much and no more (the document's problems go to the log).
pub const NOT_CONFIGURED_ANSWER: &str = "the connector is not configured; retry later";

/// The largest delivery body taken, at every front door: BigCommerce's events are well under
/// 1 KiB, so anything near this is not one, and reading more only costs memory.
pub const MAX_BODY: usize = 64 * 1024;

/// How long a delivery id is remembered: BigCommerce retries a delivery for about two days, and
/// a retry inside this time is answered as a duplicate, not queued again.
pub const DEDUPE_TTL: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// What intake needs.
pub struct Intake<'a> {
    /// The connector document (client secrets, stores).
    pub config: &'a ConnectorConfig,
    /// Delivery ids.
    pub store: &'a dyn StateStore,
    /// The orders queue.
    pub queue: &'a dyn Queue,
    /// The time (signature window).
    pub clock: &'a dyn Clock,
}

/// The store hashes whose API account signed the delivery, or why none did.
///
/// A store whose secret cannot be used (its variable unset, a `whsec_` value that is not
/// base64) is skipped, so it never refuses another store's deliveries. When no usable key
/// matched and some could not be tried, the delivery may be that store's: it is refused as
/// unavailable (the sender retries; the fix may come) rather than as unauthenticated.
fn authenticate(
    config: &ConnectorConfig,
    headers: &http::HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<BTreeSet<String>, Refusal> {
    let mut last = WebhookError::NoMatchingSignature;
    let mut tried: Vec<String> = Vec::new();
    let mut unusable: Vec<String> = Vec::new();
    for entry in &config.stores {
        let secret = match entry.credentials.client_secret.reveal() {
            Ok(secret) => secret,
            Err(e) => {
                unusable.push(format!(
                    "store {}: credentials.client_secret: {e}",
                    entry.id
                ));
                continue;
            }
        };
        if tried.contains(&secret) {
            continue;
        }
        let verifier = match WebhookVerifier::new(&secret) {
            Ok(verifier) => verifier,
            Err(e) => {
                unusable.push(format!(
                    "store {}: credentials.client_secret: {e}",
                    entry.id
                ));
                tried.push(secret);
                continue;
            }
        };
        match verifier.verify(headers, body, now) {
            Ok(()) => {
                return Ok(config
                    .stores
                    .iter()
                    .filter(|s| s.credentials.client_secret.reveal().ok().as_ref() == Some(&secret))
                    .map(|s| s.store_hash.clone())
                    .collect());
            }
            // The same for every key: no point trying the others.
            Err(
                e @ (WebhookError::MissingHeader(_)
                | WebhookError::BadTimestamp(_)
                | WebhookError::Stale { .. }),
            ) => {
                return Err(Refusal::Unauthenticated(e));
            }
            Err(e) => last = e,
        }
        tried.push(secret);
    }
    if !unusable.is_empty() {
        return Err(Refusal::Unavailable(format!(
            "no usable key matched, and some could not be tried: {}",
            unusable.join("; ")
        )));
    }
    Err(Refusal::Unauthenticated(last))
}

impl Intake<'_> {
    /// Takes one delivery: its headers and its raw body, exactly as received.
    pub async fn take(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        metrics: &mut Metrics,
    ) -> Result<Accepted, Refusal> {
        let result = self.take_inner(headers, body).await;
        match &result {
            Ok(Accepted::Queued { .. }) => metrics.incr(metrics::ORDERS_RECEIVED),
            Ok(Accepted::Duplicate) => metrics.incr(metrics::WEBHOOKS_DUPLICATE),
            Ok(Accepted::Ignored { .. }) | Err(Refusal::Unavailable(_)) => {}
            Err(_) => metrics.incr(metrics::WEBHOOKS_REFUSED),
        }
        result
    }

    async fn take_inner(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<Accepted, Refusal> {
        if body.len() > MAX_BODY {
            return Err(Refusal::TooLarge {
                size: body.len(),
                limit: MAX_BODY,
            });
        }
        let now = self.clock.now();
        let signers = authenticate(self.config, headers, body, now.timestamp())?;
        let event = parse_event(body).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let Some(order_id) = event.order_id() else {
            return Ok(Accepted::Ignored {
                reason: format!("scope {} is not one the connector acts on", event.scope),
            });
        };
        let Some(store_hash) = event.store_hash().map(str::to_string) else {
            return Err(Refusal::Malformed(
                "producer is missing: expected \"stores/{store_hash}\"".into(),
            ));
        };
        if !signers.contains(&store_hash) {
            // Authentic (the account's secret signed it) but for a store this document does
            // not post: answer 200 so BigCommerce does not retry it for days.
            return Ok(Accepted::Ignored {
                reason: format!("store {store_hash} is not in the connector document"),
            });
        }
        // The id in the form the signature covered (verification refused a delivery without).
        let webhook_id = delivery_id(headers).unwrap_or_default().to_string();
        let key = format!("webhook#{store_hash}#{webhook_id}");
        let first = self
            .store
            .first_sighting(&key, DEDUPE_TTL, now)
            .await
            .map_err(|e| Refusal::Unavailable(format!("recording the delivery: {e}")))?;
        if !first {
            return Ok(Accepted::Duplicate);
        }
        let mut message = OrderMessage::new(
            &store_hash,
            order_id,
            format!("webhook {}", event.scope),
            now,
        );
        message.webhook_id = Some(webhook_id);
        if let crate::bigcommerce::webhook::EventKind::RefundCreated { refund_id, .. } = event.kind
        {
            message.refund_id = Some(refund_id);
        }
        match self
            .queue
            .send(&message.to_body(), &[("kind", KIND_ORDER)])
            .await
        {
            Ok(message_id) => Ok(Accepted::Queued {
                store_hash,
                order_id,
                message_id,
            }),
            Err(e) => {
                // Not queued: forget the delivery so BigCommerce's retry is taken.
                if let Err(forget) = self.store.forget_sighting(&key).await {
                    tracing::error!(error = %forget, "could not forget a delivery that was not queued; the poller will catch the order");
                }
                Err(Refusal::Unavailable(format!("queueing the order: {e}")))
            }
        }
    }
}

/// The answer to a delivery as it goes on the wire: a status and a JSON body. Every front door
/// (the webhook function behind API Gateway, `mlc serve`) sends exactly this, so they cannot
/// drift apart in what the sender (and BigCommerce's retry logic) sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: String,
}

impl Answer {
    /// The `Content-Type` of every answer.
    pub const CONTENT_TYPE: &'static str = "application/json";

    fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            body: body.to_string(),
        }
    }

    /// The answer to an accepted delivery: 200, so BigCommerce does not send it again.
    pub fn accepted(accepted: &Accepted) -> Self {
        match accepted {
            Accepted::Queued { order_id, .. } => {
                Self::json(200, json!({"status": "queued", "order_id": order_id}))
            }
            Accepted::Duplicate => Self::json(200, json!({"status": "duplicate"})),
            Accepted::Ignored { reason } => {
                Self::json(200, json!({"status": "ignored", "reason": reason}))
            }
        }
    }

    /// The answer to a refused delivery: its status, its code and what the sender may learn.
    pub fn refused(refusal: &Refusal) -> Self {
        Self::json(
            refusal.status(),
            json!({"error": refusal.code(), "message": refusal.public_message()}),
        )
    }

    /// The answer while the connector document cannot be used (503; BigCommerce retries).
    pub fn not_configured() -> Self {
        Self::json(
            503,
            json!({"error": "unavailable", "message": NOT_CONFIGURED_ANSWER}),
        )
    }

    /// The answer to a body the transport could not deliver whole (a broken chunked stream).
    pub fn unreadable(detail: &str) -> Self {
        Self::refused(&Refusal::Malformed(format!(
            "the body could not be read: {detail}"
        )))
    }
}

/// A body read as it arrives, refused as soon as it passes [`MAX_BODY`]: a front door that
/// reads a stream (`mlc serve`) stops reading there, and an announced `Content-Length` above it
/// is refused before a byte is read.
#[derive(Debug, Default)]
pub struct BodyReader {
    read: Vec<u8>,
}

impl BodyReader {
    /// A reader for a delivery with these headers, or the 413 answer when its announced length
    /// is already too large.
    pub fn for_headers(headers: &http::HeaderMap) -> Result<Self, Answer> {
        let announced = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        match announced {
            Some(n) if n > MAX_BODY as u64 => {
                Err(too_large(usize::try_from(n).unwrap_or(usize::MAX)))
            }
            _ => Ok(Self::default()),
        }
    }

    /// Adds the next chunk; the 413 answer once the body passes the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), Answer> {
        if self.read.len() + chunk.len() > MAX_BODY {
            return Err(too_large(self.read.len() + chunk.len()));
        }
        self.read.extend_from_slice(chunk);
        Ok(())
    }

    /// The whole body.
    pub fn finish(self) -> Vec<u8> {
        self.read
    }
}

/// The 413 answer, the same whether the size was announced, found while reading, or measured.
fn too_large(size: usize) -> Answer {
    Answer::refused(&Refusal::TooLarge {
        size,
        limit: MAX_BODY,
    })
}

/// A front door's desk: the ports it takes deliveries with, and the one way a delivery becomes
/// an [`Answer`] and a log line. The webhook function and `mlc serve` each hold one and only
/// move bytes between HTTP and it.
#[derive(Clone)]
pub struct FrontDoor {
    ports: Ports,
}

impl FrontDoor {
    /// A front door over these ports.
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// The ports (the function's metrics line needs the clock).
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// Answers one delivery: its headers and its raw body, exactly as received. Its log lines
    /// carry the order (`order_id`) and BigCommerce store (`store_hash`) once the delivery is
    /// authenticated and read; before that nothing in it can be trusted enough to log.
    #[tracing::instrument(
        name = "delivery",
        skip_all,
        fields(store_hash = tracing::field::Empty, order_id = tracing::field::Empty)
    )]
    pub async fn answer(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        metrics: &mut Metrics,
    ) -> Answer {
        let config = match self.ports.source.connector_document().await {
            Ok(config) => config,
            Err(e) => {
                // The detail (which field, which secret) is for the operator's log; the sender
                // is not authenticated yet and learns only that there is no configuration.
                tracing::error!(error = %e, "connector document unavailable; the delivery is refused for a retry");
                return Answer::not_configured();
            }
        };
        let intake = Intake {
            config: &config,
            store: self.ports.store.as_ref(),
            queue: self.ports.queue.as_ref(),
            clock: self.ports.clock.as_ref(),
        };
        match intake.take(headers, body, metrics).await {
            Ok(accepted) => {
                log_accepted(&accepted);
                Answer::accepted(&accepted)
            }
            Err(refusal) => {
                log_refusal(&refusal);
                Answer::refused(&refusal)
            }
        }
    }
}

fn log_accepted(accepted: &Accepted) {
    match accepted {
        Accepted::Queued {
            store_hash,
            order_id,
            message_id,
        } => {
            let span = tracing::Span::current();
            span.record("store_hash", store_hash.as_str());
            span.record("order_id", order_id);
            tracing::info!(%message_id, "queued");
        }
        Accepted::Duplicate => tracing::info!("duplicate delivery"),
        Accepted::Ignored { reason } => tracing::info!(%reason, "ignored"),
    }
}

fn log_refusal(refusal: &Refusal) {
    match refusal {
        Refusal::Unavailable(_) => tracing::error!(%refusal, "delivery not accepted"),
        _ => tracing::warn!(%refusal, status = refusal.status(), "delivery refused"),
    }
}
