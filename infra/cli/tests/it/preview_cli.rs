//! `mlc preview` as a user runs it: the shipped examples, the official BigCommerce spec's own
//! example orders (which do not add up), every output format, and bad input.

use std::path::Path;
use std::process::Output;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::support::{example_config, mlc, root, write};

fn scratch_dir() -> std::path::PathBuf {
    crate::support::scratch("preview-test")
}

fn preview(config: &Path, order_file: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "preview",
        "--config",
        config.to_str().unwrap(),
        "--order-file",
        order_file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    mlc(&args)
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "mlc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

/// Checks the documented shape of every journal and that each balances; returns them.
fn balanced_journals(preview: &Value) -> Vec<Value> {
    let journals = preview["journals"].as_array().unwrap().clone();
    for j in &journals {
        for field in [
            "posting",
            "batch_name",
            "journal_name",
            "ledger",
            "accounting_date",
            "currency",
        ] {
            assert!(j[field].is_string(), "journal lacks {field}: {j}");
        }
        let (mut dr, mut cr) = (Decimal::ZERO, Decimal::ZERO);
        for l in j["lines"].as_array().unwrap() {
            assert!(
                l["segments"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(Value::is_string)
            );
            for field in ["account_role", "description", "rule"] {
                assert!(l[field].is_string(), "line lacks {field}: {l}");
            }
            dr += dec(&l["dr"]);
            cr += dec(&l["cr"]);
        }
        assert_eq!(dr, cr, "{} does not balance", j["batch_name"]);
    }
    journals
}

fn lines_of<'a>(j: &'a Value, role: &str) -> Vec<&'a Value> {
    j["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["account_role"] == role)
        .collect()
}

#[test]
fn previews_the_shipped_us_order_with_its_refund() {
    let out = preview(
        &example_config(),
        &root().join("infra/examples/orders/us-1001.json"),
        &[],
    );
    let p = stdout_json(&out);
    assert_eq!(p["store"], "us");
    let journals = balanced_journals(&p);
    let names: Vec<&str> = journals
        .iter()
        .map(|j| j["batch_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["BC-us-1001-sale", "BC-us-1001-refund-7"]);
    let sale = &journals[0];
    assert_eq!(sale["ledger"], "NW US Primary");
    assert_eq!(
        sale["accounting_date"], "2026-11-19",
        "New York date of 03:15 UTC"
    );
    assert_eq!(lines_of(sale, "receivable")[0]["dr"], "203.06");
    assert_eq!(lines_of(sale, "gift_certificate")[0]["cr"], "50.00");
    let shirts = lines_of(sale, "revenue")[0];
    assert_eq!(
        shirts["segments"],
        json!(["101", "310", "4010", "100", "000"])
    );
    assert_eq!(shirts["cr"], "86.40");
    assert_eq!(
        shirts["rule"],
        "chart_of_accounts, rule:apparel, rule:apparel-revenue"
    );
    assert_eq!(journals[1]["linked_batch"], "BC-us-1001-sale");
    // The refund mirrors its sale: the shirt's segments with only the account switched to
    // returns, and back through the Stripe clearing account the sale was debited on (the
    // gateway from the order's transactions; the refund names it `stripev3`).
    let refund = &journals[1];
    assert_eq!(
        lines_of(refund, "refund")[0]["segments"],
        json!(["101", "310", "4500", "100", "000"])
    );
    assert_eq!(
        lines_of(sale, "receivable")[0]["segments"],
        json!(["101", "000", "1230", "000", "000"])
    );
    assert_eq!(
        lines_of(refund, "receivable")[0]["segments"],
        lines_of(sale, "receivable")[0]["segments"]
    );
    // What the ledger holds once both post: the card 203.06 less 47.03 given back.
    let card = p["position"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == json!(["101", "000", "1230", "000", "000"]))
        .unwrap();
    assert_eq!(card["net"], "156.03");
}

#[test]
fn previews_a_cancelled_order_with_its_refunds_down_to_nothing_owed() {
    let out = preview(
        &example_config(),
        &root().join("infra/examples/orders/us-1002.json"),
        &[],
    );
    let p = stdout_json(&out);
    let journals = balanced_journals(&p);
    let names: Vec<&str> = journals
        .iter()
        .map(|j| j["batch_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "BC-us-1002-sale",
            "BC-us-1002-reversal",
            "BC-us-1002-refund-7",
            "BC-us-1002-refund-8"
        ]
    );
    // The cancellation reverses what was earned and owed to tax; the money taken (the card's
    // 203.06 and the store credit's 20.00) is owed back.
    let reversal = &journals[1];
    assert!(lines_of(reversal, "receivable").is_empty());
    assert_eq!(lines_of(reversal, "refund_due")[0]["cr"], "223.06");
    assert_eq!(lines_of(reversal, "tax")[0]["dr"], "14.11");
    // Each refund clears the refund due and goes back through the tender it names.
    let last = &journals[3];
    assert_eq!(lines_of(last, "refund_due")[0]["dr"], "176.03");
    assert_eq!(lines_of(last, "store_credit")[0]["cr"], "20.00");
    assert_eq!(
        lines_of(last, "receivable")[0]["segments"],
        json!(["101", "000", "1230", "000", "000"])
    );
    assert_eq!(p["position"]["accounts"], json!([]));
    let table = preview(
        &example_config(),
        &root().join("infra/examples/orders/us-1002.json"),
        &["--format", "table"],
    );
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("nothing: every account nets to zero"),
        "{text}"
    );
}

#[test]
fn previews_the_eu_order_on_the_eu_ledger_as_a_table() {
    let out = preview(
        &example_config(),
        &root().join("infra/examples/orders/eu-2001.json"),
        &["--store", "eu", "--format", "table"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("BC-eu-2001-sale · sale · NW EU Primary · 2026-11-30 (Nov-26) · EUR"),
        "{text}"
    );
    assert!(
        text.contains("201-000-2310-000-000"),
        "EU VAT account: {text}"
    );
    assert!(
        text.contains("total                                          173.95         173.95"),
        "{text}"
    );
    assert!(
        text.contains("order-level discount of EUR 10 spread"),
        "{text}"
    );
}

#[test]
fn writes_the_journal_import_file() {
    let dir = scratch_dir();
    let out = preview(
        &example_config(),
        &root().join("infra/examples/orders/us-1001.json"),
        &[
            "--format",
            "fbdi",
            "--out",
            dir.to_str().unwrap(),
            "--group-id",
            "31337",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(dir.join("GlInterface.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        8 + 3,
        "8 sale lines and 3 refund lines"
    );
    assert!(csv.lines().all(|l| l.starts_with("NEW,300000046975971,")));
    assert!(csv.lines().all(|l| l.contains(",31337,")));
    let zip = std::fs::read(dir.join("GlInterface_31337.zip")).unwrap();
    assert_eq!(&zip[..2], b"PK");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("BC-us-1001-sale, BC-us-1001-refund-7"),
        "{stdout}"
    );
}

#[test]
fn fbdi_without_an_output_directory_is_a_usage_error() {
    let out = preview(
        &example_config(),
        &root().join("infra/examples/orders/us-1001.json"),
        &["--format", "fbdi"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: --out: required with --format fbdi (a directory)"
    );
}

/// Examples by name.
type Named = Vec<(String, Value)>;

/// The response examples of the official V2 orders spec: orders, the line-item collection,
/// and the single line items.
/// Lines borrowed from another order's example, re-pointed at `order` (their `order_id` names
/// the order they belong to, and a line of another order is refused).
fn lent_to(lines: &Value, order: &Value) -> Value {
    let mut lines = lines.clone();
    for line in lines.as_array_mut().into_iter().flatten() {
        line["order_id"] = order["id"].clone();
    }
    lines
}

fn spec_examples() -> (Named, Value, Named) {
    let text =
        std::fs::read_to_string(root().join("tests/specs/bigcommerce/orders.v2.oas2.yml")).unwrap();
    let spec: Value = serde_norway::from_str(&text).unwrap();
    let responses = &spec["components"]["responses"];
    let examples = |name: &str| -> Named {
        responses[name]["content"]["application/json"]["examples"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v["value"].clone()))
            .collect()
    };
    let mut orders = examples("order_Resp");
    for (k, v) in examples("orderCollection_Resp") {
        for o in v.as_array().unwrap() {
            orders.push((format!("collection {k} #{}", o["id"]), o.clone()));
        }
    }
    let products = examples("orderProductsCollection_Resp")[0].1.clone();
    let single_lines = examples("orderProductLineItem_Resp");
    (orders, products, single_lines)
}

#[test]
fn the_official_spec_examples_balance_and_show_their_inconsistencies() {
    let (orders, products, single_lines) = spec_examples();
    assert_eq!(
        orders.len(),
        3,
        "order 218, order 247 and the collection's order 100"
    );
    let dir = scratch_dir();
    for (name, order) in orders {
        let id = order["id"].as_u64().unwrap();
        // Order 247's own lines are among the single-line examples; the others borrow the
        // collection example (order 149's lines), as a user pasting examples would.
        let own: Vec<Value> = single_lines
            .iter()
            .map(|(_, l)| l.clone())
            .filter(|l| l["order_id"] == id)
            .collect();
        let lines = if own.is_empty() {
            lent_to(&products, &order)
        } else {
            Value::Array(own)
        };
        let file = write(
            &dir,
            &format!("spec-{id}.json"),
            &json!({"order": order, "products": lines}),
        );
        let p = stdout_json(&preview(&example_config(), &file, &[]));
        let journals = balanced_journals(&p);
        assert_eq!(journals.len(), 1, "{name}");
        let sale = &journals[0];
        // None of the examples adds up: each says so, with the difference in suspense.
        let flags = sale["flags"].as_array().unwrap();
        let mismatch = flags
            .iter()
            .find(|f| f["kind"] == "totals_mismatch")
            .unwrap_or_else(|| panic!("{name}: {sale}"));
        let suspense = lines_of(sale, "suspense");
        assert_eq!(suspense.len(), 1, "{name}");
        let amount = dec(&suspense[0]["dr"]) + dec(&suspense[0]["cr"]);
        assert_eq!(amount, dec(&mismatch["difference"]).abs(), "{name}");
        assert!(
            p["notes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n.as_str().unwrap().contains("totals mismatch"))
        );
        if id == 218 {
            // 55.99 − 1.59 discount + 11.09 shipping + 12.30 and 4.00 fees + 5.31 tax = 87.10,
            // against a total of 69.84. (Fee 1 spells its amount `cost_exc_tax`.)
            assert_eq!(mismatch["tenders"], "69.84");
            assert_eq!(mismatch["components"], "87.10");
            assert_eq!(mismatch["difference"], "-17.26");
            assert_eq!(lines_of(sale, "fee").len(), 2);
            assert!(
                p["notes"][0]
                    .as_str()
                    .unwrap()
                    .contains("status 7 (Awaiting Payment) is not a sale status")
            );
        }
        if id == 247 {
            // The custom product and the four T-shirts: 41.57 + 868.36 + 7.39 + 76.88 = 994.20
            // against 1008.74. The display currency key is misspelt in the spec; the
            // transactional currency is what counts.
            assert_eq!(mismatch["components"], "994.20");
            assert_eq!(mismatch["difference"], "14.54");
            assert_eq!(sale["currency"], "USD");
        }
    }
}

#[test]
fn every_single_line_example_of_the_spec_is_readable() {
    let (orders, _, single_lines) = spec_examples();
    let dir = scratch_dir();
    let order = &orders[0].1;
    for (name, line) in single_lines {
        let file = write(
            &dir,
            "line.json",
            &json!({"order": order, "products": lent_to(&json!([line]), order)}),
        );
        let out = preview(&example_config(), &file, &[]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_bad_order_file_names_the_field_and_changes_nothing() {
    let dir = scratch_dir();
    let mut bundle: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("infra/examples/orders/us-1001.json")).unwrap(),
    )
    .unwrap();
    bundle["order"]["total_inc_tax"] = json!("12,50");
    let file = write(&dir, "bad.json", &bundle);
    let out = preview(
        &example_config(),
        &file,
        &[
            "--format",
            "fbdi",
            "--out",
            dir.join("out").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.json: order.total_inc_tax: \"12,50\" is not a decimal amount"),
        "{stderr}"
    );
    assert!(!dir.join("out").exists(), "nothing written for a bad file");

    std::fs::write(dir.join("broken.json"), "{\"order\": ").unwrap();
    let out = preview(&example_config(), &dir.join("broken.json"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("order bundle is not valid JSON"));
}

#[test]
fn a_bad_connector_document_lists_every_problem() {
    let dir = scratch_dir();
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(example_config()).unwrap()).unwrap();
    doc["stores"][1]["ledger"] = json!("EU-LEDGR");
    doc["posting"]["batch_size"] = json!(5000);
    let config = write(&dir, "connector.json", &doc);
    let out = preview(
        &config,
        &root().join("infra/examples/orders/us-1001.json"),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid connector document (2 problems)"),
        "{stderr}"
    );
    assert!(stderr.contains(
        r#"stores[1].ledger: unknown ledger "EU-LEDGR"; known: NW US Primary, NW EU Primary"#
    ));
    assert!(stderr.contains("posting.batch_size: 5000 is out of range"));
    let out = mlc(&["config", "check", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = mlc(&[
        "config",
        "check",
        "--config",
        example_config().to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("valid (schema version 1; 2 stores, 2 ledgers, 9 mapping rules)")
    );
}

#[test]
fn config_check_warns_about_rules_on_the_payment_provider_and_still_passes() {
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(example_config()).unwrap()).unwrap();
    // Written against the order's payment_provider_id (a transaction id), and a refund-only
    // spelling of the gateway.
    doc["mapping"]["rules"][8]["when"]["payment_provider"] = json!("stripev3");
    doc["mapping"]["rules"].as_array_mut().unwrap().push(json!({
        "name": "one-order", "applies_to": ["receivable"],
        "when": {"payment_provider": ["pi_3QJ7bK2eZvKYlo2C1f0aXy9Q"]}, "set": {"account": "1220"}
    }));
    let path = write(&scratch_dir(), "payment-provider.json", &doc);
    let out = mlc(&["config", "check", "--config", path.to_str().unwrap()]);
    assert!(out.status.success(), "advice does not fail the check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(r#"warning: mapping.rules[8].when.payment_provider: rule "stripe-clearing" names no gateway BigCommerce's transactions name"#),
        "{text}"
    );
    assert!(
        text.contains(r#"warning: mapping.rules[9].when.payment_provider[0]: "pi_3QJ7bK2eZvKYlo2C1f0aXy9Q" looks like a transaction id"#),
        "{text}"
    );
    assert!(
        text.contains("one more BigCommerce call per order (GET /v3/orders/{id}/transactions)"),
        "{text}"
    );
}

#[test]
fn an_unknown_store_is_a_usage_error() {
    let out = preview(
        &example_config(),
        &root().join("infra/examples/orders/us-1001.json"),
        &["--store", "uk"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        r#"error: --store: unknown store "uk"; known: us, eu"#
    );
}

#[test]
fn an_order_held_for_review_exits_1_with_the_reason() {
    let dir = scratch_dir();
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(example_config()).unwrap()).unwrap();
    doc["posting"]["totals_mismatch"] = json!("hold");
    let config = write(&dir, "connector.json", &doc);
    let (orders, products, _) = spec_examples();
    let order_218 = &orders.iter().find(|(_, o)| o["id"] == 218).unwrap().1;
    let file = write(
        &dir,
        "o218.json",
        &json!({"order": order_218, "products": lent_to(&products, order_218)}),
    );
    let out = preview(&config, &file, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "cannot post: order 218 (sale): totals do not add up: tenders USD 69.84, components USD 87.10, difference USD -17.26 exceeds the rounding tolerance of USD 0.05; held for review (posting.totals_mismatch = \"hold\")"
    );
}
