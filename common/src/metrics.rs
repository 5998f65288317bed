//! Operational counters, printed as CloudWatch Embedded Metric Format (EMF) lines: a JSON log
//! line that CloudWatch Logs turns into metrics, with no API call and no extra latency on the
//! webhook path. Services count what they did; entry points print one line per invocation.
//! Every figure is emitted without dimensions, one namespace per stack (`MlConnector/{prefix}`),
//! so the template's alarms can name them exactly. The outcomes of postings (posted, rejected,
//! held, end-to-end latency) are emitted a second time with a `Store` dimension, on a line per
//! store, so a merchant with several stores sees which one is failing.

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
    /// The same figures of one store (`stores[].id`), for the `Store` dimension.
    stores: BTreeMap<String, Metrics>,
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

    /// Adds one to a counter, for the stack and for `store`.
    pub fn incr_for(&mut self, store: &str, name: &'static str) {
        self.incr(name);
        self.stores.entry(store.to_string()).or_default().incr(name);
    }

    /// Records a duration in milliseconds, for the stack and for `store`.
    pub fn sample_ms_for(&mut self, store: &str, name: &'static str, ms: f64) {
        self.sample_ms(name, ms);
        self.stores
            .entry(store.to_string())
            .or_default()
            .sample_ms(name, ms);
    }

    /// The figures of one store.
    pub fn of_store(&self, store: &str) -> Option<&Metrics> {
        self.stores.get(store)
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
        for (store, figures) in &other.stores {
            self.stores.entry(store.clone()).or_default().merge(figures);
        }
    }

    /// Nothing counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.samples.is_empty()
    }

    /// The EMF log lines to print: the stack's figures, then a line per store with its
    /// `Store` dimension; none when there is nothing to report.
    pub fn to_emf_lines(&self, namespace: &str, at: DateTime<Utc>) -> Vec<String> {
        let mut lines: Vec<String> = self.line(namespace, at, None).into_iter().collect();
        for (store, figures) in &self.stores {
            lines.extend(figures.line(namespace, at, Some(store)));
        }
        lines
    }

    /// One EMF line of these counts and samples (not the per-store ones).
    fn line(&self, namespace: &str, at: DateTime<Utc>, store: Option<&str>) -> Option<String> {
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
        let dimensions = match store {
            Some(store) => {
                root.insert("Store".into(), json!(store));
                json!([["Store"]])
            }
            None => json!([[]]),
        };
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": at.timestamp_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": dimensions,
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
        let lines = m.to_emf_lines("MlConnector/test", at);
        assert_eq!(lines.len(), 1, "no store figures, no store line");
        let line: Value = serde_json::from_str(&lines[0]).unwrap();
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
        assert!(Metrics::default().to_emf_lines("x", at).is_empty());
    }

    #[test]
    fn store_figures_get_a_line_each_with_the_store_dimension() {
        let mut m = Metrics::default();
        m.incr_for("us", POSTINGS_POSTED);
        m.incr_for("eu", POSTINGS_REJECTED);
        m.incr(ORACLE_IMPORTS);
        let mut other = Metrics::default();
        other.incr_for("us", POSTINGS_POSTED);
        other.sample_ms_for("us", END_TO_END_LATENCY, 700.0);
        m.merge(&other);
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
        let lines: Vec<Value> = m
            .to_emf_lines("MlConnector/test", at)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        // The stack's line: everything, no dimension (what the alarms watch).
        assert_eq!(lines[0]["PostingsPosted"], json!(2.0));
        assert_eq!(lines[0]["PostingsRejected"], json!(1.0));
        assert_eq!(lines[0]["OracleImports"], json!(1.0));
        assert_eq!(
            lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
        assert!(lines[0].get("Store").is_none());
        // Then one per store, by id, with only its own figures.
        let eu = &lines[1];
        assert_eq!(eu["Store"], "eu");
        assert_eq!(
            eu["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Store"]])
        );
        assert_eq!(eu["PostingsRejected"], json!(1.0));
        assert!(eu.get("OracleImports").is_none());
        let us = &lines[2];
        assert_eq!(us["Store"], "us");
        assert_eq!(us["PostingsPosted"], json!(2.0));
        assert_eq!(us["EndToEndLatency"], json!([700.0]));
        assert_eq!(m.of_store("us").unwrap().count(POSTINGS_POSTED), 2.0);
    }
}
