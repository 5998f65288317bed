//! Webhook verification and parsing.
//!
//! BigCommerce signs deliveries the Standard Webhooks way: headers `webhook-id`,
//! `webhook-timestamp` (unix seconds) and `webhook-signature` (space-separated `v1,<base64>`
//! entries, any of which may match), HMAC-SHA256 over `{id}.{timestamp}.{raw body}`, keyed with
//! the API account's client secret. Verification works on the raw bytes, before any parsing,
//! compares in constant time, and refuses timestamps more than five minutes away from now.
//! Only then is the body parsed into a typed event; scopes the connector does not use are
//! accepted and ignored, so a new BigCommerce event never becomes an error.

use std::fmt;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Largest distance between the signature's timestamp and now, either way (as every Standard
/// Webhooks library uses).
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// A signature header is missing.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not unix seconds.
    #[error("webhook-timestamp {0:?} is not a unix time in seconds")]
    BadTimestamp(String),
    /// The timestamp is outside the tolerance (a replay, or a badly wrong clock).
    #[error(
        "webhook-timestamp {timestamp} is {skew} s away from now ({now}); at most {TOLERANCE_SECONDS} s is accepted"
    )]
    Stale {
        /// The delivery's timestamp.
        timestamp: i64,
        /// Now.
        now: i64,
        /// Absolute difference in seconds (unsigned: a timestamp of `i64::MIN` is as far from
        /// now as a number of seconds gets, not an overflow).
        skew: u64,
    },
    /// No `v1` signature matches: wrong secret, or the body, id or timestamp was altered.
    #[error("no signature in webhook-signature matches this delivery")]
    NoMatchingSignature,
    /// Signed correctly but not a BigCommerce event.
    #[error("malformed webhook body: {0}")]
    MalformedBody(String),
    /// The configured secret cannot be used.
    #[error("webhook secret: {0}")]
    BadSecret(String),
}

/// Verifies deliveries for one API account.
#[derive(Clone)]
pub struct WebhookVerifier {
    key: Vec<u8>,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookVerifier(«redacted»)")
    }
}

impl WebhookVerifier {
    /// A verifier keyed with the API account's client secret (its raw bytes, which is what
    /// BigCommerce signs with), or with a Standard Webhooks `whsec_<base64>` secret.
    pub fn new(secret: &str) -> Result<Self, WebhookError> {
        let key = match secret.strip_prefix("whsec_") {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| {
                    WebhookError::BadSecret(
                        "the part after whsec_ is not valid base64; copy the signing secret again exactly, or give the API account's client secret as it is".into(),
                    )
                })?,
            None => secret.as_bytes().to_vec(),
        };
        if key.is_empty() {
            return Err(WebhookError::BadSecret(
                "is empty; give the API account's client secret".into(),
            ));
        }
        Ok(Self { key })
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` value for a delivery (tests, sandboxes).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self
            .mac(id, &timestamp.to_string(), body)
            .finalize()
            .into_bytes();
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(tag)
        )
    }

    /// Checks a delivery's headers and raw body at `now` (unix seconds).
    pub fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), WebhookError> {
        let header = |name: &'static str| {
            signed_header(headers, name).ok_or(WebhookError::MissingHeader(name))
        };
        let id = header("webhook-id")?;
        let timestamp_text = header("webhook-timestamp")?;
        let signatures = header("webhook-signature")?;
        let timestamp: i64 = timestamp_text
            .parse()
            .map_err(|_| WebhookError::BadTimestamp(timestamp_text.to_string()))?;
        // `abs_diff` cannot overflow, whatever the sender put in the header.
        let skew = now.abs_diff(timestamp);
        if skew > TOLERANCE_SECONDS.unsigned_abs() {
            return Err(WebhookError::Stale {
                timestamp,
                now,
                skew,
            });
        }
        let expected = self.mac(id, timestamp_text, body);
        let matched = signatures
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            // `verify_slice` compares in constant time.
            .any(|candidate| expected.clone().verify_slice(&candidate).is_ok());
        if matched {
            Ok(())
        } else {
            Err(WebhookError::NoMatchingSignature)
        }
    }
}

/// A signature header's value in the form the signature covers: text, trimmed, not empty.
fn signed_header<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The delivery's `webhook-id` exactly as [`WebhookVerifier::verify`] signs it (trimmed).
/// Intake deduplicates on this same form: were it to use the raw header, a retry whose id
/// differs only in padding would verify as the same delivery and still be queued again.
pub fn delivery_id(headers: &http::HeaderMap) -> Option<&str> {
    signed_header(headers, "webhook-id")
}

/// What a delivery is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `store/order/created` (also fired for incomplete orders).
    OrderCreated {
        /// Order id.
        order_id: u64,
    },
    /// `store/order/updated`: any change, status included.
    OrderUpdated {
        /// Order id.
        order_id: u64,
    },
    /// `store/order/archived`.
    OrderArchived {
        /// Order id.
        order_id: u64,
    },
    /// `store/order/statusUpdated`.
    OrderStatusUpdated {
        /// Order id.
        order_id: u64,
        /// Status before, when sent.
        previous_status_id: Option<u32>,
        /// Status after, when sent.
        new_status_id: Option<u32>,
    },
    /// `store/order/refund/created`.
    RefundCreated {
        /// Order id.
        order_id: u64,
        /// Refund id (`data.refund.refund_id`).
        refund_id: u64,
    },
    /// A scope the connector does not act on.
    Ignored,
}

/// A parsed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// Scope as sent (`store/order/created`, `store/channel/2/order/created`…).
    pub scope: String,
    /// Numeric store id, as text.
    pub store_id: String,
    /// `stores/{hash}`.
    pub producer: Option<String>,
    /// Hash of the event data: the same event sent twice has the same hash.
    pub hash: Option<String>,
    /// Event time, unix seconds.
    pub created_at: Option<i64>,
    /// Channel, for channel-scoped hooks.
    pub channel_id: Option<u64>,
    /// What it is about.
    pub kind: EventKind,
}

impl WebhookEvent {
    /// The store hash from `producer`.
    pub fn store_hash(&self) -> Option<&str> {
        self.producer.as_deref()?.strip_prefix("stores/")
    }

    /// The order the event is about, if any.
    pub fn order_id(&self) -> Option<u64> {
        match self.kind {
            EventKind::OrderCreated { order_id }
            | EventKind::OrderUpdated { order_id }
            | EventKind::OrderArchived { order_id }
            | EventKind::OrderStatusUpdated { order_id, .. }
            | EventKind::RefundCreated { order_id, .. } => Some(order_id),
            EventKind::Ignored => None,
        }
    }
}

fn number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())
}

/// Parses a verified body.
pub fn parse_event(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let bad = |m: String| WebhookError::MalformedBody(m);
    let v: Value = serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    let scope = v["scope"]
        .as_str()
        .ok_or_else(|| bad("scope is missing".into()))?
        .to_string();
    let store_id = match &v["store_id"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(bad("store_id is missing".into())),
    };
    let data = v
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| bad("data is missing".into()))?;
    // Channel-scoped hooks: store/channel/{id}/order/… with data.order_id.
    let (channel_id, topic) = match scope.strip_prefix("store/channel/") {
        Some(rest) => {
            let (channel, topic) = rest.split_once('/').unwrap_or((rest, ""));
            (channel.parse().ok(), format!("store/{topic}"))
        }
        None => (None, scope.clone()),
    };
    let order_id = || {
        number(&data["id"])
            .or_else(|| number(&data["order_id"]))
            .ok_or_else(|| bad(format!("data.id (the order id) is missing for {scope}")))
    };
    let kind = match topic.as_str() {
        "store/order/created" => EventKind::OrderCreated {
            order_id: order_id()?,
        },
        "store/order/updated" => EventKind::OrderUpdated {
            order_id: order_id()?,
        },
        "store/order/archived" => EventKind::OrderArchived {
            order_id: order_id()?,
        },
        "store/order/statusUpdated" => EventKind::OrderStatusUpdated {
            order_id: order_id()?,
            previous_status_id: number(&data["status"]["previous_status_id"]).map(|n| n as u32),
            new_status_id: number(&data["status"]["new_status_id"]).map(|n| n as u32),
        },
        "store/order/refund/created" => EventKind::RefundCreated {
            order_id: order_id()?,
            refund_id: number(&data["refund"]["refund_id"])
                .ok_or_else(|| bad("data.refund.refund_id is missing".into()))?,
        },
        _ => EventKind::Ignored,
    };
    Ok(WebhookEvent {
        scope,
        store_id,
        producer: v["producer"].as_str().map(str::to_string),
        hash: v["hash"].as_str().map(str::to_string),
        created_at: v["created_at"].as_i64(),
        channel_id,
        kind,
    })
}
