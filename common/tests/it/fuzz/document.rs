//! The connector-document parser, over the shipped example with its JSON or its bytes edited:
//! a document is either refused with every problem, each naming the JSON path of a field, or
//! loaded; a loaded one gives a journal context for every store, its advice, and journals for
//! the example order (or typed refusals). Never a panic.

use std::sync::OnceLock;

use chrono::NaiveDate;
use common::bigcommerce::OrderBundle;
use common::config::ConnectorConfig;
use common::journal::{JournalContext, build_refund, build_sale};
use common::oracle::fbdi::gl_interface_csv;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

use super::{Tally, apply_byte_edits, apply_edits, byte_edits, json_edits, run};

fn example_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        std::fs::read_to_string(crate::support::repo_root().join("infra/examples/connector.json"))
            .unwrap()
    })
}

fn example_order() -> &'static OrderBundle {
    static ORDER: OnceLock<OrderBundle> = OnceLock::new();
    ORDER.get_or_init(|| {
        let text = std::fs::read_to_string(
            crate::support::repo_root().join("infra/examples/orders/us-1001.json"),
        )
        .unwrap();
        OrderBundle::from_json(&text).unwrap()
    })
}

fn check(text: &str, tally: &Tally) -> Result<(), TestCaseError> {
    let config = match ConnectorConfig::from_json(text, "fuzz") {
        Err(e) => {
            prop_assert!(!e.issues.is_empty(), "refused without a problem");
            for issue in &e.issues {
                prop_assert!(
                    !issue.path.trim().is_empty(),
                    "a problem without a path: {issue:?}"
                );
                prop_assert!(!issue.message.trim().is_empty(), "{issue:?}");
            }
            prop_assert!(
                e.to_string()
                    .starts_with("fuzz: invalid connector document")
            );
            tally.add(if e.issues.len() == 1 {
                "refused:1_problem"
            } else {
                "refused:several_problems"
            });
            return Ok(());
        }
        Ok(config) => config,
    };
    tally.add("loaded");
    let _ = config.advice();
    let bundle = example_order();
    let _ = config.route("nw4x7k2p", bundle.order.channel_id);
    let mut built = Vec::new();
    for store in &config.stores {
        let ctx = JournalContext::new(&config, &store.id);
        prop_assert!(
            ctx.is_ok(),
            "a loaded document without a context for store {}: {:?}",
            store.id,
            ctx.err()
        );
        let ctx = ctx.unwrap();
        let results = std::iter::once(build_sale(&ctx, bundle)).chain(
            bundle
                .refunds
                .iter()
                .map(|r| build_refund(&ctx, bundle, r.id)),
        );
        for result in results {
            match result {
                Ok(j) => {
                    prop_assert!(j.is_balanced(), "{} does not balance", j.batch_name);
                    tally.add("journal:built");
                    built.push(j);
                }
                Err(e) => {
                    prop_assert!(!e.to_string().is_empty());
                    tally.add("journal:refused");
                }
            }
        }
    }
    let date = NaiveDate::from_ymd_opt(2026, 5, 2).unwrap();
    if let Ok(csv) = gl_interface_csv(&built, 7, date) {
        super::journal_import::check_csv(&built, 7, date, &csv)?;
    }
    Ok(())
}

#[test]
fn fuzz_connector_document_with_json_edits() {
    run("document json", json_edits(4), |edits, tally| {
        let mut doc: Value = serde_json::from_str(example_text()).unwrap();
        apply_edits(&mut doc, &edits);
        check(&doc.to_string(), tally)
    });
}

#[test]
fn fuzz_connector_document_with_byte_edits() {
    run("document bytes", byte_edits(8), |edits, tally| {
        let mut bytes = example_text().as_bytes().to_vec();
        apply_byte_edits(&mut bytes, &edits);
        check(&String::from_utf8_lossy(&bytes), tally)
    });
}
