//! `mlc fetch` against the sandbox store: the bundle it writes is what `mlc preview` reads, and
//! failures say which call failed, with status and message, never the token.

use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use sandbox::bigcommerce::{
    BigCommerceSandbox, LineSpec, OrderSpec, ProductSpec, RefundItemSpec, RefundSpec,
    SandboxOptions, StoreSpec,
};
use serde_json::{Value, json};

use crate::support::{mlc, root};

const HASH: &str = "fetchstore";
const TOKEN: &str = "fetch-token-7c1f-secret";

/// The example document with its US store pointed at the sandbox.
fn config(dir: &Path, sb: &BigCommerceSandbox, token: Value) -> PathBuf {
    let mut doc: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("infra/examples/connector.json")).unwrap(),
    )
    .unwrap();
    doc["stores"][0]["store_hash"] = json!(HASH);
    doc["stores"][0]["api_base_url"] = json!(sb.store_url(HASH));
    doc["stores"][0]["credentials"]["access_token"] = token;
    let path = dir.join("connector.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

async fn store() -> (BigCommerceSandbox, u64) {
    let sb = BigCommerceSandbox::start(SandboxOptions::default()).await;
    sb.add_store(StoreSpec {
        hash: HASH.into(),
        access_token: TOKEN.into(),
        client_id: "c".into(),
        client_secret: "s".into(),
        store_id: "9".into(),
    });
    sb.add_category(HASH, 20, 0, "Apparel");
    sb.add_category(HASH, 21, 20, "Shirts");
    sb.add_product(
        HASH,
        ProductSpec {
            id: 77,
            name: "Linen Shirt".into(),
            sku: "NW-SH".into(),
            price: Decimal::new(4800, 2),
            categories: vec![21],
        },
    );
    let id = sb.create_order(
        HASH,
        OrderSpec {
            tax_rate: Decimal::new(8, 2),
            shipping: Decimal::new(600, 2),
            lines: vec![LineSpec {
                product_id: 77,
                quantity: 2,
                discount: Decimal::new(480, 2),
                ..LineSpec::default()
            }],
            ..OrderSpec::default()
        },
    );
    (sb, id)
}

fn scratch(name: &str) -> PathBuf {
    crate::support::scratch(&format!("fetch-{name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_bundle_previews_as_balanced_journals() {
    let (sb, id) = store().await;
    let line = 1; // the sandbox numbers lines from 1
    sb.create_refund(
        HASH,
        id,
        RefundSpec {
            items: vec![RefundItemSpec::Product {
                line_id: line,
                quantity: 1,
            }],
            ..RefundSpec::default()
        },
    );
    let dir = scratch("ok");
    let config = config(&dir, &sb, json!(TOKEN));
    let bundle = dir.join("bundle.json");
    let (c, b, i) = (
        config.to_str().unwrap().to_string(),
        bundle.to_str().unwrap().to_string(),
        id.to_string(),
    );
    let out = tokio::task::spawn_blocking(move || {
        mlc(&[
            "fetch",
            "--config",
            &c,
            "--store",
            "us",
            "--order-id",
            &i,
            "--out",
            &b,
        ])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "order {id} with 1 lines, 1 refunds, 1 categorised products"
        )),
        "{stderr}"
    );
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    assert_eq!(written["categories"]["77"], json!([21]));
    assert_eq!(written["category_tree"].as_array().unwrap().len(), 2);
    assert!(
        written["order"].get("consignments").is_none(),
        "lines are under products, not repeated"
    );
    // The example document matches a rule on the payment gateway: the order's transactions
    // come along, and name the gateway the sale went through.
    assert_eq!(written["transactions"][0]["gateway"], "braintree");
    assert_eq!(written["transactions"][0]["event"], "purchase");

    let (c, b) = (
        config.to_str().unwrap().to_string(),
        bundle.to_str().unwrap().to_string(),
    );
    let out =
        tokio::task::spawn_blocking(move || mlc(&["preview", "--config", &c, "--order-file", &b]))
            .await
            .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let preview: Value = serde_json::from_slice(&out.stdout).unwrap();
    let journals = preview["journals"].as_array().unwrap();
    assert_eq!(journals.len(), 2, "sale and refund");
    for j in journals {
        let sum = |side: &str| -> Decimal {
            j["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l[side].as_str().unwrap().parse::<Decimal>().unwrap())
                .sum()
        };
        assert_eq!(sum("dr"), sum("cr"));
        assert!(
            j["flags"].as_array().unwrap().is_empty(),
            "the sandbox's figures add up: {j}"
        );
    }
    let shirt = journals[0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["account_role"] == "revenue")
        .unwrap();
    assert_eq!(
        shirt["segments"],
        json!(["101", "310", "4010", "100", "000"]),
        "mapped through the fetched category tree"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_call_is_named_without_the_token() {
    let (sb, id) = store().await;
    let dir = scratch("refused");
    let config = config(&dir, &sb, json!("wrong-token-value"));
    let (c, i) = (config.to_str().unwrap().to_string(), id.to_string());
    let out = tokio::task::spawn_blocking(move || {
        mlc(&["fetch", "--config", &c, "--store", "us", "--order-id", &i])
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        format!(
            "cannot fetch order {id}: GET /v2/orders/{id}: HTTP 401: Unauthorized: a valid X-Auth-Token is required; check the store's access_token and the API account's scopes"
        )
    );
    assert!(!stderr.contains("wrong-token-value"));
    let c = config.to_str().unwrap().to_string();
    let missing_env = {
        let dir = scratch("env");
        let config = self::config(&dir, &sb, json!({"env": "MLC_TEST_TOKEN_NOT_SET"}));
        let c2 = config.to_str().unwrap().to_string();
        tokio::task::spawn_blocking(move || {
            mlc(&["fetch", "--config", &c2, "--store", "us", "--order-id", "1"])
        })
        .await
        .unwrap()
    };
    assert_eq!(missing_env.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&missing_env.stderr).trim(),
        "error: BigCommerce client for store us: credentials.access_token: environment variable MLC_TEST_TOKEN_NOT_SET is not set"
    );
    let unknown = tokio::task::spawn_blocking(move || {
        mlc(&["fetch", "--config", &c, "--store", "uk", "--order-id", "1"])
    })
    .await
    .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}
