//! Resources the client reads and writes besides orders: hooks, channels, catalog products,
//! metafields; and the small types its operations take.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A closed time window: `from` and `to` both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// Start (included).
    pub from: DateTime<Utc>,
    /// End (included).
    pub to: DateTime<Utc>,
}

/// Whether fetching an order also fetches its refunds (one more call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundPolicy {
    /// Only when the order shows refunds (refunded status or payment status).
    IfRefunded,
    /// Always (a refund webhook, an operator's capture).
    Always,
    /// Never.
    Never,
}

/// A webhook subscription (`/v3/hooks`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Hook {
    /// Hook id.
    pub id: u64,
    /// Event scope, e.g. `store/order/created`.
    pub scope: String,
    /// Where deliveries go.
    pub destination: String,
    /// Whether BigCommerce delivers (false after repeated failures or 90 idle days).
    #[serde(default)]
    pub is_active: bool,
    /// Custom headers sent with each delivery.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// The API account that owns it.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// Unix seconds.
    #[serde(default)]
    pub updated_at: Option<i64>,
}

/// A hook to register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewHook {
    /// Event scope.
    pub scope: String,
    /// HTTPS destination.
    pub destination: String,
    /// Start active.
    pub is_active: bool,
    /// Custom headers (the connector marks its own hooks with one).
    pub headers: BTreeMap<String, String>,
}

/// A partial update of a hook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HookUpdate {
    /// New destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Switch on or off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    /// Replace the custom headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
}

/// A channel: a storefront, marketplace or point of sale.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Channel {
    /// Channel id (orders carry it as `channel_id`).
    pub id: u64,
    /// Name.
    pub name: String,
    /// `storefront`, `marketplace`, `pos`, `marketing`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// `bigcommerce`, `amazon`, `custom`…
    #[serde(default)]
    pub platform: String,
    /// `active`, `prelaunch`, `inactive`…
    #[serde(default)]
    pub status: String,
}

/// A catalog product, as far as mapping needs it (`include_fields=categories`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CatalogProduct {
    /// Product id.
    pub id: u64,
    /// Category ids.
    #[serde(default)]
    pub categories: Vec<u64>,
}

/// An order metafield.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Metafield {
    /// Metafield id.
    pub id: u64,
    /// Namespace.
    #[serde(default)]
    pub namespace: String,
    /// Key.
    #[serde(default)]
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}
