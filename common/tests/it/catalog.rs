//! Catalog alignment against the sandbox store over real HTTP: each category's revenue
//! account and the rule that decided it; a category added by merchandising without a rule is
//! named as going to the defaults; rules naming a category, channel or product the store no
//! longer has are named as stale.

use common::adapters::sqlite::SqliteDb;
use common::posting::catalog::{CatalogError, StaleRule, catalog_alignment};
use sandbox::bigcommerce::{ProductSpec, SandboxOptions};
use sandbox::demo::{HASH, SHIRT, document_for, seeded_pod, seeded_store};
use sandbox::oracle::PodOptions;
use serde_json::json;

use crate::support::pipeline::services;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_category_shows_its_account_and_drift_is_named() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let good = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();

    let report = catalog_alignment(&services(&good, &db), Some("us"))
        .await
        .unwrap();
    assert!(report.is_aligned(), "{report:#?}");
    let shirts = report
        .categories
        .iter()
        .find(|c| c.category_id == 21)
        .unwrap();
    assert_eq!(shirts.path, "Apparel › Shirts");
    // company-cost_center-account-product_line-intercompany, as the example maps apparel.
    assert_eq!(shirts.account, "101-310-4010-100-000");
    assert!(
        shirts.decided_by.contains("rule:apparel")
            && shirts.decided_by.contains("rule:apparel-revenue"),
        "{shirts:?}"
    );
    let cookware = report
        .categories
        .iter()
        .find(|c| c.category_id == 31)
        .unwrap();
    assert_eq!(cookware.account, "101-320-4020-200-000");
    assert_eq!(report.categories.len(), 4);

    // Merchandising opens a Garden department; the document names a product (a bundle) and a
    // wholesale channel, neither in the store.
    sb.add_category(HASH, 50, 0, "Garden");
    sb.add_category(HASH, 51, 50, "Planters");
    sb.add_product(
        HASH,
        ProductSpec {
            id: 501,
            name: "Terracotta planter".into(),
            sku: "NW-PLANTER".into(),
            price: rust_decimal::Decimal::new(1500, 2),
            categories: vec![51],
        },
    );
    let mut doc = good.clone();
    let rules = doc["mapping"]["rules"].as_array_mut().unwrap();
    rules.push(json!({"name": "bundle", "applies_to": ["revenue"], "when": {"product": [SHIRT, 9_999]}, "set": {"product_line": "300"}}));
    rules.push(json!({"name": "wholesale", "applies_to": ["revenue"], "when": {"channel": 7}, "set": {"cost_center": "330"}}));
    rules.push(json!({"name": "outdoor", "applies_to": ["revenue"], "when": {"category": 60}, "set": {"cost_center": "340"}}));
    let report = catalog_alignment(&services(&doc, &db), None).await.unwrap();
    assert!(!report.is_aligned());
    let garden: Vec<_> = report
        .categories
        .iter()
        .filter(|c| c.only_defaults)
        .map(|c| (c.store.as_str(), c.path.as_str(), c.account.as_str()))
        .collect();
    // Both stores (the EU entry adds its company by rule, so only the US entry's are pure
    // defaults).
    assert_eq!(
        garden,
        [
            ("us", "Garden", "101-000-4000-000-000"),
            ("us", "Garden › Planters", "101-000-4000-000-000")
        ],
        "{report:#?}"
    );
    assert_eq!(
        report.stale,
        [
            StaleRule::Product {
                rule: "bundle".into(),
                id: 9_999
            },
            StaleRule::Channel {
                rule: "wholesale".into(),
                id: 7
            },
            StaleRule::Category {
                rule: "outdoor".into(),
                id: 60
            },
        ]
    );

    let unknown = catalog_alignment(&services(&good, &db), Some("uk")).await;
    assert!(matches!(unknown, Err(CatalogError::UnknownStore(..))));
}
