//! BigCommerce calls per order, on the sandbox store: 1,000 orders over a 300-product catalog.
//! Run with `cargo bench -p common --bench bigcommerce_calls`; it prints its figures.
//!
//! - webhook path: each order fetched on its own (`fetch_bundle`), as the poster does for a
//!   webhook — target ≤ 1.1 calls per order;
//! - poll path: the orders modified in a window, the categories of their products, and the
//!   refunds created in the window, as the poller does — target ≤ 0.05 calls per order;
//! - the poster's read (`posting::fetch::fetch_order`) under the example document, whose
//!   `stripe-clearing` rule matches on the payment gateway: the order's transactions are read
//!   too, one more call (target ≤ 2.1); and under the same document without that rule, where
//!   the connector spends no call on them (target ≤ 1.1).

use std::time::{Duration, Instant};

use chrono::Utc;
use common::bigcommerce::api::{RefundPolicy, TimeWindow};
use common::bigcommerce::{BigCommerceClient, ClientSettings};
use common::config::ConnectorConfig;
use common::ports::BigCommerceApi;
use common::posting::fetch::fetch_order;
use rust_decimal::Decimal;
use sandbox::bigcommerce::{
    BigCommerceSandbox, LineSpec, OrderSpec, ProductSpec, SandboxOptions, StoreSpec,
};

const HASH: &str = "bench";
const ORDERS: u64 = 1_000;
const PRODUCTS: u64 = 300;

#[tokio::main]
async fn main() {
    // The quota is lifted: this measures calls, not BigCommerce's pacing.
    let sb = BigCommerceSandbox::start(SandboxOptions {
        quota: 1_000_000,
        window: Duration::from_secs(30),
        ..SandboxOptions::default()
    })
    .await;
    sb.add_store(StoreSpec {
        hash: HASH.into(),
        access_token: "t".into(),
        client_id: "c".into(),
        client_secret: "s".into(),
        store_id: "1".into(),
    });
    for c in 1..=20 {
        sb.add_category(
            HASH,
            c,
            if c > 5 { c % 5 + 1 } else { 0 },
            &format!("Category {c}"),
        );
    }
    for id in 1..=PRODUCTS {
        sb.add_product(
            HASH,
            ProductSpec {
                id,
                name: format!("Product {id}"),
                sku: format!("SKU-{id}"),
                price: Decimal::new(500 + (id as i64 * 37) % 9000, 2),
                categories: vec![1 + id % 20],
            },
        );
    }
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let ids: Vec<u64> = (0..ORDERS)
        .map(|_| {
            let lines = (0..1 + next(4))
                .map(|_| LineSpec {
                    product_id: 1 + next(PRODUCTS),
                    quantity: 1 + next(3),
                    ..LineSpec::default()
                })
                .collect();
            sb.create_order(
                HASH,
                OrderSpec {
                    tax_rate: Decimal::new(8, 2),
                    shipping: Decimal::new(599, 2),
                    lines,
                    ..OrderSpec::default()
                },
            )
        })
        .collect();

    let webhook = BigCommerceClient::new(
        HASH,
        Some(&sb.store_url(HASH)),
        "t".into(),
        ClientSettings::default(),
    )
    .unwrap();
    let started = Instant::now();
    for id in &ids {
        webhook
            .fetch_bundle(*id, RefundPolicy::IfRefunded)
            .await
            .unwrap();
    }
    let webhook_time = started.elapsed();
    let webhook_calls = webhook.calls();

    let poll = BigCommerceClient::new(
        HASH,
        Some(&sb.store_url(HASH)),
        "t".into(),
        ClientSettings::default(),
    )
    .unwrap();
    let window = TimeWindow {
        from: Utc::now() - chrono::Duration::hours(1),
        to: Utc::now() + chrono::Duration::hours(1),
    };
    let started = Instant::now();
    let orders = poll.orders_modified(window).await.unwrap();
    let mut products: Vec<u64> = orders
        .iter()
        .flat_map(|o| {
            common::bigcommerce::OrderBundle::assemble(
                o.clone(),
                vec![],
                Default::default(),
                Default::default(),
                vec![],
            )
            .unwrap()
            .lines
        })
        .map(|l| l.product_id)
        .collect();
    products.sort_unstable();
    products.dedup();
    poll.product_categories(&products).await.unwrap();
    poll.refunds_created(window).await.unwrap();
    let poll_time = started.elapsed();
    let poll_calls = poll.calls();

    // The poster's read under the example document, with and without its gateway rule.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let example = ConnectorConfig::load_file(std::path::Path::new(&format!(
        "{root}/infra/examples/connector.json"
    )))
    .unwrap();
    let mut plain = example.clone();
    plain
        .mapping
        .rules
        .retain(|r| r.when.payment_provider.is_empty());
    let mut posted = Vec::new();
    for (name, config) in [("gateway rule", &example), ("no gateway rule", &plain)] {
        let client = BigCommerceClient::new(
            HASH,
            Some(&sb.store_url(HASH)),
            "t".into(),
            ClientSettings::default(),
        )
        .unwrap();
        for id in &ids {
            let bundle = fetch_order(
                &config.mapping,
                &client,
                HASH,
                *id,
                RefundPolicy::IfRefunded,
            )
            .await
            .unwrap();
            assert_eq!(
                bundle.transactions.is_some(),
                config.mapping.needs_gateway()
            );
        }
        posted.push((name, client.calls()));
    }

    let per = |calls: u64| calls as f64 / ORDERS as f64;
    println!("sandbox store: {ORDERS} orders, {PRODUCTS} products");
    for ((name, calls), target) in posted.iter().zip([2.1, 1.1]) {
        println!(
            "poster's read, {name}: {calls} calls, {:.3} per order (target <= {target})",
            per(*calls)
        );
        assert!(per(*calls) <= target, "{name}: target missed");
    }
    println!(
        "webhook path: {webhook_calls} calls, {:.3} per order (target <= 1.1), {:.1} ms per order on loopback",
        per(webhook_calls),
        webhook_time.as_secs_f64() * 1e3 / ORDERS as f64
    );
    println!(
        "poll path:    {poll_calls} calls, {:.3} per order (target <= 0.05), {} orders listed in {:.0} ms",
        per(poll_calls),
        orders.len(),
        poll_time.as_secs_f64() * 1e3
    );
    assert!(
        per(webhook_calls) <= 1.1 && per(poll_calls) <= 0.05,
        "targets missed"
    );
}
