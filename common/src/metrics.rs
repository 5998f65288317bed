//! Operational counters, printed as CloudWatch Embedded Metric Format (EMF) lines: a JSON log
//! line that CloudWatch Logs turns into metrics, with no API call and no extra latency on the
//! webhook path. Services count what they did; entry points print one line per invocation.
//! Metrics carry no dimensions, one namespace per stack (`MlConnector/{prefix}`), so the
//! template's alarms can name them exactly.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// Webhook deliveries accepted and queued.
pub const ORDERS_RECEIVED: &str = "OrdersReceived";
/// Webhook deliveries refused (401/400/413).
pub const WEBHOOKS_REFUSED: &str = "WebhooksRefused";
/// Webhook deliveries already seen (same `webhook-id`).
pub const WEBHOOKS_DUPLICATE: &str = "WebhooksDuplicate";
/// Orders the poller found that webhooks had not (or not yet) delivered.
pub const ORDERS_SWEPT: &str = "OrdersSwept";
/// Postings decided and recorded as Queued.
pub const POSTINGS_QUEUED: &str = "PostingsQueued";
/// Postings sent to Oracle.
pub const POSTINGS_SUBMITTED: &str = "PostingsSubmitted";
/// Postings whose batch is in the ledger.
pub const POSTINGS_POSTED: &str = "PostingsPosted";
/// Postings refused for good (an alarm).
pub const POSTINGS_REJECTED: &str = "PostingsRejected";
/// Postings waiting for a person (an alarm).
pub const POSTINGS_HELD: &str = "PostingsHeld";
/// HTTP requests to BigCommerce, retries included.
pub const BIGCOMMERCE_CALLS: &str = "BigCommerceCalls";
/// Journal Import submissions.
pub const ORACLE_IMPORTS: &str = "OracleImports";
/// Imports running longer than the configured timeout (an alarm).
pub const IMPORTS_STUCK: &str = "ImportsStuck";
/// Hooks the keeper had to re-activate, recreate or point back (an alarm).
pub const HOOKS_REACTIVATED: &str = "HooksReactivated";
/// Queue messages that will be retried.
pub const MESSAGES_RETRIED: &str = "MessagesRetried";
/// Orders a scheduled reconciliation looked at.
pub const ORDERS_RECONCILED: &str = "OrdersReconciled";
/// Orders a scheduled reconciliation found needing a person (an alarm).
pub const RECONCILE_NEEDS_ACTION: &str = "ReconcileNeedsAction";
/// From the change in BigCommerce to the batch in the ledger, in milliseconds.
pub const END_TO_END_LATENCY: &str = "EndToEndLatency";

/// Counters and latency samples of one invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    counts: BTreeMap<&'static str, f64>,
    samples: BTreeMap<&'static str, Vec<f64>>,
}

impl Metrics {
    /// Adds `n` to a counter.
    pub fn add(&mut self, name: &'static str, n: f64) {
        *self.counts.entry(name).or_default() += n;
    }

    /// Adds one to a counter.
    pub fn incr(&mut self, name: &'static str) {
        self.add(name, 1.0);
    }

    /// Records a duration in milliseconds.
    pub fn sample_ms(&mut self, name: &'static str, ms: f64) {
        self.samples.entry(name).or_default().push(ms);
    }

    /// A counter's value (0 when never counted).
    pub fn count(&self, name: &str) -> f64 {
        self.counts.get(name).copied().unwrap_or(0.0)
    }

    /// The samples of a duration.
    pub fn samples(&self, name: &str) -> &[f64] {
        self.samples.get(name).map_or(&[], Vec::as_slice)
    }

    /// Adds another invocation's figures to these.
    pub fn merge(&mut self, other: &Metrics) {
        for (name, n) in &other.counts {
            self.add(name, *n);
        }
        for (name, v) in &other.samples {
            self.samples.entry(name).or_default().extend(v);
        }
    }

    /// Nothing counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.samples.is_empty()
    }

    /// One EMF log line, or `None` when there is nothing to report.
    pub fn to_emf(&self, namespace: &str, at: DateTime<Utc>) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let mut root = Map::new();
        let mut definitions = Vec::new();
        for (name, n) in &self.counts {
            definitions.push(json!({"Name": name, "Unit": "Count"}));
            root.insert((*name).to_string(), json!(n));
        }
        for (name, values) in &self.samples {
            definitions.push(json!({"Name": name, "Unit": "Milliseconds"}));
            root.insert((*name).to_string(), json!(values));
        }
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": at.timestamp_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [[]],
                    "Metrics": definitions,
                }],
            }),
        );
        Some(Value::Object(root).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_emf_line_declares_every_value_it_carries() {
        let mut m = Metrics::default();
        m.incr(POSTINGS_POSTED);
        m.add(POSTINGS_POSTED, 2.0);
        m.sample_ms(END_TO_END_LATENCY, 1500.0);
        m.sample_ms(END_TO_END_LATENCY, 900.0);
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
        let line: Value = serde_json::from_str(&m.to_emf("MlConnector/test", at).unwrap()).unwrap();
        assert_eq!(line["PostingsPosted"], json!(3.0));
        assert_eq!(line["EndToEndLatency"], json!([1500.0, 900.0]));
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "MlConnector/test");
        assert_eq!(line["_aws"]["Timestamp"], json!(at.timestamp_millis()));
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["PostingsPosted", "EndToEndLatency"]);
        assert!(Metrics::default().to_emf("x", at).is_none());
    }
}
