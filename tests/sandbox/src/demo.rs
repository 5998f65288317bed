//! The example world: the two-storefront retailer of `infra/examples/connector.json` as a
//! sandbox store (catalog, storefronts) and a sandbox pod (ledgers, chart of accounts, journal
//! source), and the document pointed at them. `mlc demo`, the end-to-end tests and the
//! benchmarks all start from here. (The document is handled as plain JSON: this crate stays
//! independent of the connector's own types.)

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::bigcommerce::{
    BigCommerceSandbox, LineSpec, OrderSpec, ProductSpec, SandboxOptions, StoreSpec,
};
use crate::oracle::{LedgerSpec, OraclePod, PodOptions};

/// The example document's BigCommerce store.
pub const HASH: &str = "nw4x7k2p";
/// The sandbox store's access token.
pub const TOKEN: &str = "sandbox-access-token";
/// The API account's client secret (webhook signatures).
pub const CLIENT_SECRET: &str = "sandbox-client-secret";
/// The US ledger of the example document.
pub const US_LEDGER: u64 = 300000046975971;
/// The EU ledger.
pub const EU_LEDGER: u64 = 300000046975990;
/// Product 77: a shirt (category Shirts, under Apparel), 20.00.
pub const SHIRT: u64 = 77;
/// Product 88: a skillet (category Cookware, under Kitchen), 15.00.
pub const SKILLET: u64 = 88;

/// `example` (the example connector document) pointed at the sandboxes, with the secrets
/// inline, as it would be in Secrets Manager.
pub fn document_for(example: &Value, sb: &BigCommerceSandbox, pod: &OraclePod) -> Value {
    let mut doc = example.clone();
    for store in doc["stores"].as_array_mut().unwrap() {
        store["api_base_url"] = json!(sb.store_url(HASH));
        store["credentials"]["access_token"] = json!(TOKEN);
        store["credentials"]["client_secret"] = json!(CLIENT_SECRET);
    }
    doc["oracle"]["base_url"] = json!(pod.url());
    doc["oracle"]["auth"]["token_url"] = json!(pod.token_url());
    doc["oracle"]["auth"]["client_id"] = json!("pod-client");
    doc["oracle"]["auth"]["client_secret"] = json!("pod-secret");
    doc
}

/// The sandbox store of the example document: Apparel › Shirts, Kitchen › Cookware, the
/// shirt and the skillet, the US (1) and EU (2) storefronts.
pub async fn seeded_store(options: SandboxOptions) -> BigCommerceSandbox {
    let sb = BigCommerceSandbox::start(options).await;
    sb.add_store(StoreSpec {
        hash: HASH.into(),
        access_token: TOKEN.into(),
        client_id: "sandbox-client".into(),
        client_secret: CLIENT_SECRET.into(),
        store_id: "1001".into(),
    });
    sb.add_channel(HASH, 2, "EU storefront");
    for (id, parent, name) in [
        (20, 0, "Apparel"),
        (21, 20, "Shirts"),
        (30, 0, "Kitchen"),
        (31, 30, "Cookware"),
    ] {
        sb.add_category(HASH, id, parent, name);
    }
    sb.add_product(
        HASH,
        ProductSpec {
            id: SHIRT,
            name: "Oxford shirt".into(),
            sku: "NW-SHIRT".into(),
            price: Decimal::new(2000, 2),
            categories: vec![21],
        },
    );
    sb.add_product(
        HASH,
        ProductSpec {
            id: SKILLET,
            name: "Cast-iron skillet".into(),
            sku: "NW-SKILLET".into(),
            price: Decimal::new(1500, 2),
            categories: vec![31],
        },
    );
    sb
}

/// The pod of the example document: its two ledgers, its chart of accounts, its source and
/// journal categories.
pub async fn seeded_pod(options: PodOptions) -> OraclePod {
    let pod = OraclePod::start(options).await;
    pod.add_ledger(
        LedgerSpec {
            id: US_LEDGER,
            name: "NW US Primary".into(),
            currency: "USD".into(),
            allow_suspense: false,
        },
        2025..=2027,
    );
    pod.add_ledger(
        LedgerSpec {
            id: EU_LEDGER,
            name: "NW EU Primary".into(),
            currency: "EUR".into(),
            allow_suspense: false,
        },
        2025..=2027,
    );
    let list = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    pod.set_chart(vec![
        list(&["101", "201"]),
        list(&["000", "310", "320"]),
        list(&[
            "1010", "1210", "1220", "1230", "1999", "2300", "2310", "2410", "2420", "2440", "4000",
            "4010", "4020", "4200", "4210", "4220", "4230", "4500", "4900", "7990",
        ]),
        list(&["000", "100", "200", "900"]),
        list(&["000"]),
    ]);
    pod.add_source("BigCommerce");
    // The example document's journal category (`oracle.journal_category`), and Fusion's
    // predefined Adjustment and Other.
    for category in ["Sales", "Adjustment", "Other"] {
        pod.add_category(category);
    }
    pod
}

/// An order of `shirts` shirts and `skillets` skillets at 8% tax with 5.00 shipping, on the
/// US storefront.
pub fn us_order(shirts: u64, skillets: u64) -> OrderSpec {
    let mut lines = Vec::new();
    if shirts > 0 {
        lines.push(LineSpec {
            product_id: SHIRT,
            quantity: shirts,
            ..LineSpec::default()
        });
    }
    if skillets > 0 {
        lines.push(LineSpec {
            product_id: SKILLET,
            quantity: skillets,
            ..LineSpec::default()
        });
    }
    OrderSpec {
        tax_rate: Decimal::new(8, 2),
        shipping: Decimal::new(500, 2),
        lines,
        ..OrderSpec::default()
    }
}
