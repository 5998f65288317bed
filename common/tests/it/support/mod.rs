//! Shared helpers for the integration tests: the shipped example document and order fixtures
//! built the way BigCommerce sends them.
#![allow(dead_code)]

pub mod pipeline;
pub mod submit_rounds;

use std::path::PathBuf;

use common::bigcommerce::OrderBundle;
use common::config::ConnectorConfig;
use common::journal::Journal;
use serde_json::{Value, json};

/// Repository root (the workspace).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The example connector document as JSON, to be changed by a test.
pub fn example_document() -> Value {
    let path = repo_root().join("infra/examples/connector.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Loads a (changed) document.
pub fn config_from(doc: &Value) -> ConnectorConfig {
    ConnectorConfig::from_json(&doc.to_string(), "test").unwrap_or_else(|e| panic!("{e}"))
}

/// The example document with no returns account: no `refund` default, no rule on `refund`.
pub fn document_without_returns_account() -> Value {
    let mut doc = example_document();
    doc["mapping"]["defaults"]
        .as_object_mut()
        .unwrap()
        .remove("refund");
    for rule in doc["mapping"]["rules"].as_array_mut().unwrap() {
        rule["applies_to"]
            .as_array_mut()
            .unwrap()
            .retain(|r| r != "refund");
    }
    doc
}

/// The example document, loaded.
pub fn example_config() -> ConnectorConfig {
    config_from(&example_document())
}

/// A V2 order in USD, tax-exclusive, status 11, paid by card (captured; `payment_provider_id`
/// is the gateway's transaction id, as the spec says), with every money field zero.
pub fn order(id: u64) -> Value {
    json!({
        "id": id,
        "date_created": "Tue, 10 Mar 2026 14:00:00 +0000",
        "date_modified": "Tue, 10 Mar 2026 15:00:00 +0000",
        "status_id": 11,
        "status": "Awaiting Fulfillment",
        "channel_id": 1,
        "subtotal_ex_tax": "0.0000", "subtotal_inc_tax": "0.0000", "subtotal_tax": "0.0000",
        "shipping_cost_ex_tax": "0.0000", "shipping_cost_inc_tax": "0.0000", "shipping_cost_tax": "0.0000",
        "handling_cost_ex_tax": "0.0000", "handling_cost_inc_tax": "0.0000", "handling_cost_tax": "0.0000",
        "wrapping_cost_ex_tax": "0.0000", "wrapping_cost_inc_tax": "0.0000", "wrapping_cost_tax": "0.0000",
        "total_ex_tax": "0.0000", "total_inc_tax": "0.0000", "total_tax": "0.0000",
        "discount_amount": "0.0000", "coupon_discount": "0.0000",
        "store_credit_amount": "0.0000", "gift_certificate_amount": "0.0000",
        "is_tax_inclusive_pricing": false,
        "payment_method": "Credit Card",
        "payment_provider_id": "8fj2kq7w",
        "payment_status": "captured",
        "currency_code": "USD",
        "default_currency_code": "USD",
        "store_default_currency_code": "USD",
        "store_default_to_transactional_exchange_rate": "1.0000000000"
    })
}

/// A physical line: `qty` units at `unit_ex` before tax, `unit_tax` tax each.
pub fn line(id: u64, product_id: u64, qty: u64, unit_ex: &str, unit_tax: &str) -> Value {
    use rust_decimal::Decimal;
    let ex: Decimal = unit_ex.parse().unwrap();
    let tax: Decimal = unit_tax.parse().unwrap();
    let q = Decimal::from(qty);
    json!({
        "id": id, "product_id": product_id, "name": format!("Product {product_id}"),
        "sku": format!("SKU-{product_id}"), "type": "physical", "quantity": qty,
        "price_ex_tax": ex.to_string(), "price_inc_tax": (ex + tax).to_string(),
        "total_ex_tax": (ex * q).to_string(), "total_inc_tax": ((ex + tax) * q).to_string(),
        "total_tax": (tax * q).to_string(),
        "applied_discounts": [], "parent_order_product_id": null, "is_bundled_product": false
    })
}

/// Bundle from parts.
pub fn bundle(order: Value, products: Vec<Value>) -> OrderBundle {
    bundle_with(json!({"order": order, "products": products}))
}

/// Bundle from a whole bundle document.
pub fn bundle_with(doc: Value) -> OrderBundle {
    OrderBundle::from_value(doc).unwrap_or_else(|e| panic!("{e}"))
}

/// The category tree of the example document's store.
pub fn example_tree() -> Value {
    json!([
        {"id": 20, "parent_id": 0, "name": "Apparel"},
        {"id": 21, "parent_id": 20, "name": "Shirts"},
        {"id": 30, "parent_id": 0, "name": "Kitchen"},
        {"id": 31, "parent_id": 30, "name": "Cookware"}
    ])
}

/// The local AWS emulator (moto server) that `infra/test.sh` starts and names in
/// `MLC_AWS_ENDPOINT`.
pub fn aws_endpoint() -> String {
    std::env::var("MLC_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("MLC_AWS_ENDPOINT is not set: run ./infra/test.sh, which starts moto server for the AWS adapter tests")
    })
}

/// Polls `done` until it holds, panicking with `what` after `within`: a test waits on the
/// condition it needs, never on a guess of how long that takes.
pub async fn eventually(
    what: &str,
    within: std::time::Duration,
    mut done: impl AsyncFnMut() -> bool,
) {
    let deadline = std::time::Instant::now() + within;
    loop {
        if done().await {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Waits for the clock to turn to the next whole second. BigCommerce dates have whole seconds:
/// a change made after this is dated later than anything made before it.
pub async fn next_second() {
    let now = chrono::Utc::now().timestamp();
    eventually(
        "the next second",
        std::time::Duration::from_secs(5),
        async || chrono::Utc::now().timestamp() > now,
    )
    .await;
}

/// A name no other test uses (tables, queues, secrets on the shared emulator).
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The project's Python with the test tools (openapi-core, PyYAML) that `infra/test.sh`
/// installs: `MLC_PYTHON`, else `.venv`.
pub fn python() -> PathBuf {
    let path = std::env::var_os("MLC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "{} not found: run ./infra/test.sh, which installs the test tools (openapi-core, PyYAML) into .venv",
        path.display()
    );
    path
}

/// A journal as (role, account, debit, credit) rows, easy to compare whole.
pub fn rows(j: &Journal) -> Vec<(String, String, String, String)> {
    j.lines
        .iter()
        .map(|l| {
            (
                l.account_role.to_string(),
                l.segments.join("-"),
                l.dr.to_string(),
                l.cr.to_string(),
            )
        })
        .collect()
}

/// One expected row of [`rows`].
pub fn row(role: &str, account: &str, dr: &str, cr: &str) -> (String, String, String, String) {
    (role.into(), account.into(), dr.into(), cr.into())
}
