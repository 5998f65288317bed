//! What the orders queue carries: which order to look at and why, never the order itself. The
//! poster always fetches the order fresh, so a late or repeated message can only cause a
//! re-check, never a stale posting.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The `kind` message attribute of order messages.
pub const KIND_ORDER: &str = "order";

/// An order to look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderMessage {
    /// Format version.
    pub v: u8,
    /// The BigCommerce store.
    pub store_hash: String,
    /// The order.
    pub order_id: u64,
    /// Why: `webhook store/order/updated`, `poll`, `refund`, `resubmit`, `replay`.
    pub reason: String,
    /// The refund that caused it, if any (its refunds are then always fetched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<u64>,
    /// The webhook delivery, if any (for the audit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<String>,
    /// When the change was first seen.
    pub seen_at: DateTime<Utc>,
}

impl OrderMessage {
    /// A message about `order_id` of `store_hash`.
    pub fn new(
        store_hash: &str,
        order_id: u64,
        reason: impl Into<String>,
        seen_at: DateTime<Utc>,
    ) -> Self {
        Self {
            v: 1,
            store_hash: store_hash.to_string(),
            order_id,
            reason: reason.into(),
            refund_id: None,
            webhook_id: None,
            seen_at,
        }
    }

    /// The queue body.
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("a message serialises")
    }

    /// Reads a queue body; the error says what is wrong with it.
    pub fn parse(body: &str) -> Result<Self, String> {
        let message: Self =
            serde_json::from_str(body).map_err(|e| format!("not an order message: {e}"))?;
        if message.v != 1 {
            return Err(format!(
                "order message version {} is not supported (expected 1)",
                message.v
            ));
        }
        Ok(message)
    }

    /// Body and attributes, as `Queue::send_batch` takes them.
    pub fn to_queue_entry(&self) -> (String, Vec<(String, String)>) {
        (
            self.to_body(),
            vec![("kind".to_string(), KIND_ORDER.to_string())],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_and_a_foreign_body_is_named() {
        let mut m = OrderMessage::new("abc", 7, "poll", Utc::now());
        m.refund_id = Some(3);
        assert_eq!(OrderMessage::parse(&m.to_body()).unwrap(), m);
        let err = OrderMessage::parse("{\"hello\":1}").unwrap_err();
        assert!(err.starts_with("not an order message"), "{err}");
        let future = m.to_body().replace("\"v\":1", "\"v\":2");
        assert!(
            OrderMessage::parse(&future)
                .unwrap_err()
                .contains("version 2")
        );
    }
}
