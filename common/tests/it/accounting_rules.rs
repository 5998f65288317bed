//! One test (or a few) per accounting rule of DESIGN.md §3, on hand-built BigCommerce orders
//! and the shipped example document (US storefront → USD ledger, EU storefront → EUR ledger).

use crate::support::*;
use chrono::NaiveDate;
use common::config::ConnectorConfig;
use common::journal::{
    Journal, JournalContext, JournalError, JournalFlag, PostingKind, build_adjustment,
    build_cancellation, build_refund, build_sale,
};
use common::mapping::AccountRole;
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn sale(config: &ConnectorConfig, store: &str, order: Value, products: Vec<Value>) -> Journal {
    sale_of(
        config,
        store,
        json!({"order": order, "products": products, "categories": {"77": [21], "88": [31]}, "category_tree": example_tree()}),
    )
}

fn sale_of(config: &ConnectorConfig, store: &str, doc: Value) -> Journal {
    let ctx = JournalContext::new(config, store).unwrap();
    let j = build_sale(&ctx, &bundle_with(doc)).unwrap_or_else(|e| panic!("{e}"));
    assert!(j.is_balanced(), "{j:#?}");
    j
}

/// Order 500: 2 shirts at 20.00 and a skillet at 15.00 (8% tax), shipping 5.00, handling
/// 2.00, wrapping 3.00 and a 1.50 fee, all taxed at 8%; nothing discounted.
fn order_500() -> (Value, Vec<Value>) {
    let mut o = order(500);
    o["subtotal_ex_tax"] = json!("55.0000");
    o["shipping_cost_ex_tax"] = json!("5.0000");
    o["shipping_cost_inc_tax"] = json!("5.4000");
    o["handling_cost_ex_tax"] = json!("2.0000");
    o["handling_cost_inc_tax"] = json!("2.1600");
    o["wrapping_cost_ex_tax"] = json!("3.0000");
    o["wrapping_cost_inc_tax"] = json!("3.2400");
    o["fees"] = json!([{"id": 1, "type": "custom_fee", "display_name_merchant": "Eco fee",
        "cost_exc_tax": "1.5000", "cost_inc_tax": "1.6200", "cost_tax": "0.1200"}]);
    o["total_tax"] = json!("5.3200");
    o["total_ex_tax"] = json!("66.5000");
    o["total_inc_tax"] = json!("71.8200");
    let lines = vec![
        line(1, 77, 2, "20.00", "1.60"),
        line(2, 88, 1, "15.00", "1.20"),
    ];
    (o, lines)
}

#[test]
fn a_sale_debits_what_is_owed_and_credits_every_component_on_its_account() {
    let config = example_config();
    let (o, lines) = order_500();
    let j = sale(&config, "us", o, lines);
    assert_eq!(
        rows(&j),
        vec![
            row("receivable", "101-000-1210-000-000", "71.82", "0.00"),
            row("revenue", "101-310-4010-100-000", "0.00", "40.00"),
            row("revenue", "101-320-4020-200-000", "0.00", "15.00"),
            row("shipping", "101-000-4200-000-000", "0.00", "5.00"),
            row("handling", "101-000-4210-000-000", "0.00", "2.00"),
            row("wrapping", "101-000-4220-000-000", "0.00", "3.00"),
            row("fee", "101-000-4230-000-000", "0.00", "1.50"),
            row("tax", "101-000-2300-000-000", "0.00", "5.32"),
        ]
    );
    assert!(j.flags.is_empty());
    // Every line says what decided its account.
    assert_eq!(
        j.lines[1].rule,
        "chart_of_accounts, rule:apparel, rule:apparel-revenue"
    );
    assert_eq!(j.lines[0].rule, "chart_of_accounts, default:receivable");
    assert_eq!(j.lines[6].description, "Fee: Eco fee");
}

#[test]
fn names_and_references_are_deterministic() {
    let config = example_config();
    let (o, lines) = order_500();
    let j = sale(&config, "us", o.clone(), lines.clone());
    assert_eq!(j.posting, PostingKind::Sale);
    assert_eq!(j.batch_name, "BC-us-500-sale");
    assert_eq!(j.journal_name, "BC us order 500 sale");
    assert_eq!(j.reference, "BC-us-500");
    assert_eq!(j.ledger, "NW US Primary");
    assert_eq!(j.ledger_id, 300000046975971);
    assert_eq!(
        (j.source.as_str(), j.category.as_str()),
        ("BigCommerce", "Sales")
    );
    assert_eq!(j, sale(&config, "us", o, lines), "same order, same journal");
}

#[test]
fn the_accounting_date_is_the_order_date_in_the_store_time_zone() {
    let config = example_config();
    let (mut o, lines) = order_500();
    // 03:00 UTC on 1 March is still 28 February in New York: February's period.
    o["date_created"] = json!("Sun, 01 Mar 2026 03:00:00 +0000");
    let j = sale(&config, "us", o.clone(), lines.clone());
    assert_eq!(
        j.accounting_date,
        NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
    );
    assert_eq!(j.period_name.as_deref(), Some("Feb-26"));
    // 23:30 UTC on 30 November is already 1 December in Berlin.
    o["date_created"] = json!("Mon, 30 Nov 2026 23:30:00 +0000");
    o["default_currency_code"] = json!("EUR");
    o["channel_id"] = json!(2);
    let j = sale(&config, "eu", o, lines);
    assert_eq!(
        j.accounting_date,
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    );
    assert_eq!(j.period_name.as_deref(), Some("Dec-26"));
}

#[test]
fn gift_certificates_and_store_credit_used_as_tenders_debit_their_liabilities() {
    let config = example_config();
    let mut o = order(501);
    o["total_tax"] = json!("3.2000");
    o["total_inc_tax"] = json!("43.2000");
    o["gift_certificate_amount"] = json!("10.0000");
    o["store_credit_amount"] = json!("5.0000");
    let j = sale(&config, "us", o, vec![line(1, 77, 2, "20.00", "1.60")]);
    assert_eq!(
        rows(&j),
        vec![
            row("receivable", "101-000-1210-000-000", "28.20", "0.00"),
            row("gift_certificate", "101-000-2410-000-000", "10.00", "0.00"),
            row("store_credit", "101-000-2420-000-000", "5.00", "0.00"),
            row("revenue", "101-310-4010-100-000", "0.00", "40.00"),
            row("tax", "101-000-2300-000-000", "0.00", "3.20"),
        ]
    );
}

#[test]
fn selling_a_gift_certificate_is_a_liability_not_revenue() {
    let config = example_config();
    let mut o = order(502);
    o["total_tax"] = json!("0.8000");
    o["total_inc_tax"] = json!("35.8000");
    let mut gc = line(2, 0, 1, "25.00", "0.00");
    gc["type"] = json!("giftcertificate");
    let j = sale(&config, "us", o, vec![line(1, 88, 1, "10.00", "0.80"), gc]);
    assert_eq!(
        rows(&j),
        vec![
            row("receivable", "101-000-1210-000-000", "35.80", "0.00"),
            row("revenue", "101-320-4020-200-000", "0.00", "10.00"),
            row("gift_certificate", "101-000-2410-000-000", "0.00", "25.00"),
            row("tax", "101-000-2300-000-000", "0.00", "0.80"),
        ]
    );
}

#[test]
fn bundle_children_and_zero_priced_lines_post_nothing() {
    let config = example_config();
    let mut o = order(503);
    o["total_inc_tax"] = json!("30.0000");
    let mut child = line(2, 96, 1, "0.00", "0.00");
    child["parent_order_product_id"] = json!(1);
    child["is_bundled_product"] = json!(true);
    // A bundle child that still carries a price must not be counted twice either.
    let mut priced_child = line(3, 97, 1, "12.00", "0.00");
    priced_child["parent_order_product_id"] = json!(1);
    let free_gift = line(4, 98, 1, "0.00", "0.00");
    let j = sale(
        &config,
        "us",
        o,
        vec![
            line(1, 95, 1, "30.00", "0.00"),
            child,
            priced_child,
            free_gift,
        ],
    );
    assert_eq!(
        rows(&j),
        vec![
            row("receivable", "101-000-1210-000-000", "30.00", "0.00"),
            row("revenue", "101-000-4000-000-000", "0.00", "30.00"),
        ]
    );
    // The product is in no mapped category: the default decided, and the audit can say so.
    assert_eq!(j.lines[1].rule, "chart_of_accounts, default:revenue");
}

/// Order 504: 2 shirts at 20.00 with a 4.00 coupon, a skillet at 15.00; 8% tax after discount.
fn order_504(line_level: bool) -> (Value, Vec<Value>) {
    let mut o = order(504);
    o["coupon_discount"] = json!("4.0000");
    o["total_tax"] = json!("4.0800");
    o["total_ex_tax"] = json!("51.0000");
    o["total_inc_tax"] = json!("55.0800");
    let mut shirts = line(1, 77, 2, "20.00", "1.60");
    if line_level {
        shirts["applied_discounts"] = json!([{"id": "c1", "amount": "4.0000", "name": "4 off", "code": "FOUR", "target": "order"}]);
    }
    (o, vec![shirts, line(2, 88, 1, "15.00", "1.20")])
}

#[test]
fn discounts_are_netted_into_revenue_by_default() {
    let config = example_config();
    let (o, lines) = order_504(true);
    let j = sale(&config, "us", o, lines);
    assert_eq!(
        rows(&j),
        vec![
            row("receivable", "101-000-1210-000-000", "55.08", "0.00"),
            row("revenue", "101-310-4010-100-000", "0.00", "36.00"),
            row("revenue", "101-320-4020-200-000", "0.00", "15.00"),
            row("tax", "101-000-2300-000-000", "0.00", "4.08"),
        ]
    );
}

#[test]
fn discounts_can_be_shown_on_their_own_contra_revenue_lines() {
    let mut doc = example_document();
    doc["posting"]["discounts"] = json!("separate");
    let config = config_from(&doc);
    let (o, lines) = order_504(true);
    let j = sale(&config, "us", o, lines);
    assert_eq!(
        rows(&j),
        vec![
            row("receivable", "101-000-1210-000-000", "55.08", "0.00"),
            row("revenue", "101-310-4010-100-000", "0.00", "40.00"),
            // The discount keeps the line's cost centre (rule "apparel" applies to discounts).
            row("discount", "101-310-4900-100-000", "4.00", "0.00"),
            row("revenue", "101-320-4020-200-000", "0.00", "15.00"),
            row("tax", "101-000-2300-000-000", "0.00", "4.08"),
        ]
    );
}

#[test]
fn order_level_discounts_are_spread_over_revenue_lines_and_flagged() {
    let config = example_config();
    let (mut o, lines) = order_504(false);
    o["coupon_discount"] = json!("0.0000");
    o["discount_amount"] = json!("5.5000");
    o["total_tax"] = json!("3.9600");
    o["total_inc_tax"] = json!("53.4600");
    let j = sale(&config, "us", o, lines);
    assert_eq!(
        rows(&j),
        vec![
            row("receivable", "101-000-1210-000-000", "53.46", "0.00"),
            row("revenue", "101-310-4010-100-000", "0.00", "36.00"),
            row("revenue", "101-320-4020-200-000", "0.00", "13.50"),
            row("tax", "101-000-2300-000-000", "0.00", "3.96"),
        ]
    );
    assert_eq!(
        j.flags,
        vec![JournalFlag::OrderDiscountAllocated {
            amount: Decimal::new(55, 1)
        }]
    );
}

#[test]
fn tax_inclusive_prices_split_into_net_revenue_and_tax() {
    let config = example_config();
    let mut o = order(505);
    o["is_tax_inclusive_pricing"] = json!(true);
    o["default_currency_code"] = json!("EUR");
    o["channel_id"] = json!(2);
    o["shipping_cost_ex_tax"] = json!("5.0000");
    o["shipping_cost_inc_tax"] = json!("5.9500");
    o["total_tax"] = json!("10.3700");
    o["total_inc_tax"] = json!("64.9500");
    let j = sale(&config, "eu", o, vec![line(1, 78, 1, "49.5798", "9.4202")]);
    assert_eq!(
        rows(&j),
        vec![
            row("receivable", "201-000-1210-000-000", "64.95", "0.00"),
            row("revenue", "201-000-4000-000-000", "0.00", "49.58"),
            row("shipping", "201-000-4200-000-000", "0.00", "5.00"),
            row("tax", "201-000-2310-000-000", "0.00", "10.37"),
        ]
    );
}

#[test]
fn a_residue_within_the_tolerance_goes_to_the_rounding_account() {
    let config = example_config();
    let (mut o, lines) = order_500();
    o["total_inc_tax"] = json!("71.8400");
    let j = sale(&config, "us", o, lines);
    assert_eq!(
        rows(&j).last().unwrap(),
        &row("rounding", "101-000-7990-000-000", "0.00", "0.02")
    );
    assert!(j.flags.is_empty());
}

#[test]
fn a_larger_difference_goes_to_suspense_and_is_flagged() {
    let config = example_config();
    let (mut o, lines) = order_500();
    o["total_inc_tax"] = json!("81.8200");
    let j = sale(&config, "us", o, lines);
    assert_eq!(
        rows(&j).last().unwrap(),
        &row("suspense", "101-000-1999-000-000", "0.00", "10.00")
    );
    assert_eq!(
        j.flags,
        vec![JournalFlag::TotalsMismatch {
            tenders: "81.82".parse().unwrap(),
            components: "71.82".parse().unwrap(),
            difference: "10.00".parse().unwrap(),
        }]
    );
    assert!(j.has_totals_mismatch());
}

#[test]
fn a_difference_is_held_instead_when_the_document_says_so() {
    let mut doc = example_document();
    doc["posting"]["totals_mismatch"] = json!("hold");
    let config = config_from(&doc);
    let (mut o, lines) = order_500();
    o["total_inc_tax"] = json!("81.8200");
    let ctx = JournalContext::new(&config, "us").unwrap();
    let err = build_sale(&ctx, &bundle(o, lines)).unwrap_err();
    assert!(matches!(
        err,
        JournalError::TotalsMismatch { order: 500, .. }
    ));
    assert_eq!(
        err.to_string(),
        "order 500 (sale): totals do not add up: tenders USD 81.82, components USD 71.82, difference USD 10.00 exceeds the rounding tolerance of USD 0.05; held for review (posting.totals_mismatch = \"hold\")"
    );
}

#[test]
fn the_entered_currency_is_the_transactional_one_not_the_display_one() {
    let config = example_config();
    let (mut o, lines) = order_500();
    o["currency_code"] = json!("GBP");
    let j = sale(&config, "us", o, lines);
    assert_eq!(j.currency.code(), "USD");
    assert_eq!(j.conversion, None);
}

#[test]
fn a_foreign_currency_order_uses_its_own_rate_as_a_user_conversion() {
    let config = example_config();
    let mut o = order(506);
    o["default_currency_code"] = json!("CAD");
    o["store_default_to_transactional_exchange_rate"] = json!("1.3500000000");
    o["total_inc_tax"] = json!("100.0000");
    let j = sale(&config, "us", o, vec![line(1, 88, 1, "100.00", "0.00")]);
    assert_eq!(j.currency.code(), "CAD");
    let conv = j.conversion.clone().unwrap();
    assert_eq!(conv.conversion_type, "User");
    assert_eq!(conv.rate.unwrap().to_string(), "0.740740740741");
    assert_eq!(conv.date, j.accounting_date);
    assert!(j.flags.is_empty());
}

#[test]
fn without_a_usable_rate_oracle_looks_the_rate_up() {
    let config = example_config();
    let mut o = order(507);
    o["default_currency_code"] = json!("CAD");
    o["store_default_to_transactional_exchange_rate"] = json!("1.0000000000");
    o["total_inc_tax"] = json!("100.0000");
    let j = sale(
        &config,
        "us",
        o.clone(),
        vec![line(1, 88, 1, "100.00", "0.00")],
    );
    let conv = j.conversion.clone().unwrap();
    assert_eq!(
        (conv.conversion_type.as_str(), conv.rate),
        ("Corporate", None)
    );
    assert_eq!(
        j.flags,
        vec![JournalFlag::RateLookedUpInOracle {
            reason: "the order's rate from USD to CAD is 1.0000000000, which cannot be right between different currencies".into()
        }]
    );
    o["store_default_currency_code"] = json!("GBP");
    o["store_default_to_transactional_exchange_rate"] = json!("1.7000000000");
    let j = sale(&config, "us", o, vec![line(1, 88, 1, "100.00", "0.00")]);
    assert_eq!(
        j.flags,
        vec![JournalFlag::RateLookedUpInOracle {
            reason: "the order's rate converts from the store currency GBP, not from the ledger currency USD".into()
        }]
    );
}

#[test]
fn amounts_follow_the_currency_minor_units() {
    let config = example_config();
    let mut o = order(508);
    o["default_currency_code"] = json!("JPY");
    o["total_tax"] = json!("450.0000");
    o["total_inc_tax"] = json!("4950.0000");
    let j = sale(&config, "us", o, vec![line(1, 88, 3, "1500.00", "150.00")]);
    assert_eq!(
        rows(&j),
        vec![
            row("receivable", "101-000-1210-000-000", "4950", "0"),
            row("revenue", "101-320-4020-200-000", "0", "4500"),
            row("tax", "101-000-2300-000-000", "0", "450"),
        ]
    );
    let mut o = order(509);
    o["default_currency_code"] = json!("KWD");
    o["total_tax"] = json!("0.1875");
    o["total_inc_tax"] = json!("3.9375");
    let j = sale(&config, "us", o, vec![line(1, 88, 3, "1.25", "0.0625")]);
    assert_eq!(
        rows(&j),
        vec![
            row("receivable", "101-000-1210-000-000", "3.938", "0.000"),
            row("revenue", "101-320-4020-200-000", "0.000", "3.750"),
            row("tax", "101-000-2300-000-000", "0.000", "0.188"),
        ]
    );
}

#[test]
fn an_order_with_a_subtotal_but_no_lines_is_an_error_naming_the_fix() {
    let config = example_config();
    let (o, _) = order_500();
    let ctx = JournalContext::new(&config, "us").unwrap();
    let err = build_sale(&ctx, &bundle(o, vec![])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "order 500: no line items for a subtotal of USD 55.00: add \"products\" (GET /v2/orders/500/products) or fetch the order with include=consignments.line_items"
    );
}

#[test]
fn payment_methods_map_the_receivable_to_their_clearing_accounts() {
    let config = example_config();
    let (mut o, lines) = order_500();
    o["payment_method"] = json!("paypal");
    let j = sale(&config, "us", o.clone(), lines.clone());
    assert_eq!(j.lines[0].segments.join("-"), "101-000-1220-000-000");
    o["payment_method"] = json!("Credit Card");
    // `payment_provider_id` is "the external Transaction ID/Payment ID" (V2 spec): a Stripe
    // payment intent here. It never decides an account, even when it looks like a gateway.
    o["payment_provider_id"] = json!("pi_3PqX8t2eZvKYlo2C0x3Jd9aB");
    let doc = |o: &Value, transactions: Value| {
        json!({"order": o, "products": lines, "categories": {"77": [21], "88": [31]},
            "category_tree": example_tree(), "transactions": transactions})
    };
    let j = sale_of(&config, "us", doc(&o, json!(null)));
    assert_eq!(j.lines[0].segments.join("-"), "101-000-1210-000-000");
    o["payment_provider_id"] = json!("stripev3");
    let j = sale_of(&config, "us", doc(&o, json!(null)));
    assert_eq!(j.lines[0].segments.join("-"), "101-000-1210-000-000");
    // The gateway comes from the order's transactions: the purchase that went through Stripe.
    let transactions = json!({"data": [
        {"id": 1, "order_id": "500", "event": "purchase", "method": "store_credit", "amount": 5,
         "currency": "USD", "gateway": "storecredit", "status": "ok"},
        {"id": 2, "order_id": "500", "event": "authorization", "method": "credit_card", "amount": 66.82,
         "currency": "USD", "gateway": "stripe", "status": "error"},
        {"id": 3, "order_id": "500", "event": "purchase", "method": "credit_card", "amount": 66.82,
         "currency": "USD", "gateway": "stripe", "gateway_transaction_id": "pi_3PqX8t2eZvKYlo2C0x3Jd9aB", "status": "ok"}
    ], "meta": {}});
    let j = sale_of(&config, "us", doc(&o, transactions));
    assert_eq!(j.lines[0].segments.join("-"), "101-000-1230-000-000");
    assert_eq!(j.lines[0].rule, "chart_of_accounts, rule:stripe-clearing");
}

// ---------------------------------------------------------------- refunds

fn refund_journal(
    config: &ConnectorConfig,
    order: Value,
    lines: Vec<Value>,
    refund: Value,
) -> Journal {
    let id = refund["id"].as_u64().unwrap();
    let b = bundle_with(
        json!({"order": order, "products": lines, "refunds": [refund],
        "categories": {"77": [21], "88": [31]}, "category_tree": example_tree()}),
    );
    let ctx = JournalContext::new(config, "us").unwrap();
    let j = build_refund(&ctx, &b, id).unwrap_or_else(|e| panic!("{e}"));
    assert!(j.is_balanced(), "{j:#?}");
    j
}

#[test]
fn a_product_refund_by_quantity_is_valued_at_the_discounted_price_and_linked_to_the_sale() {
    let config = example_config();
    let (o, lines) = order_504(true);
    let j = refund_journal(
        &config,
        o,
        lines,
        json!({"id": 31, "order_id": 504, "created": "2026-03-20T10:00:00+00:00", "reason": "Too small",
            "total_amount": 19.44, "total_tax": 1.44,
            "items": [{"item_type": "PRODUCT", "item_id": 1, "quantity": 1, "requested_amount": null}],
            "payments": [{"id": 9, "provider_id": "braintree", "amount": 19.44, "offline": false, "is_declined": false}]}),
    );
    assert_eq!(
        rows(&j),
        vec![
            row("refund", "101-310-4500-100-000", "18.00", "0.00"),
            row("tax", "101-000-2300-000-000", "1.44", "0.00"),
            row("receivable", "101-000-1210-000-000", "0.00", "19.44"),
        ]
    );
    assert_eq!(j.posting, PostingKind::Refund(31));
    assert_eq!(j.batch_name, "BC-us-504-refund-31");
    assert_eq!(j.linked_batch.as_deref(), Some("BC-us-504-sale"));
    assert_eq!(j.reference, "BC-us-504");
    assert_eq!(
        j.accounting_date,
        NaiveDate::from_ymd_opt(2026, 3, 20).unwrap()
    );
    assert_eq!(
        j.description,
        "BigCommerce order 504 (us, channel 1): refund 31: Too small"
    );
}

#[test]
fn shipping_handling_and_order_level_refunds_with_tax_kept_back() {
    let config = example_config();
    let (o, lines) = order_500();
    let j = refund_journal(
        &config,
        o,
        lines,
        json!({"id": 32, "order_id": 500, "created": "2026-03-21T10:00:00+00:00",
            "total_amount": 9.5, "total_tax": -0.5,
            "items": [
                {"item_type": "SHIPPING", "item_id": 11, "requested_amount": 5.0},
                {"item_type": "HANDLING", "item_id": 11, "requested_amount": 2.0},
                {"item_type": "ORDER", "item_id": 500, "requested_amount": 3.0}
            ],
            "payments": [{"id": 10, "provider_id": "braintree", "amount": 9.5}]}),
    );
    assert_eq!(
        rows(&j),
        vec![
            row("shipping", "101-000-4200-000-000", "5.00", "0.00"),
            row("handling", "101-000-4210-000-000", "2.00", "0.00"),
            row("refund", "101-000-4500-000-000", "3.00", "0.00"),
            row("tax", "101-000-2300-000-000", "0.00", "0.50"),
            row("receivable", "101-000-1210-000-000", "0.00", "9.50"),
        ]
    );
}

#[test]
fn a_refund_to_store_credit_credits_the_store_credit_liability() {
    let config = example_config();
    let (o, lines) = order_500();
    let j = refund_journal(
        &config,
        o,
        lines,
        json!({"id": 33, "order_id": 500, "total_amount": 16.2, "total_tax": 1.2,
            "items": [{"item_type": "PRODUCT", "item_id": 2, "quantity": 1}],
            "payments": [{"id": 11, "provider_id": "storecredit", "amount": 16.2, "offline": true}]}),
    );
    assert_eq!(
        rows(&j),
        vec![
            row("refund", "101-320-4500-200-000", "15.00", "0.00"),
            row("tax", "101-000-2300-000-000", "1.20", "0.00"),
            row("store_credit", "101-000-2420-000-000", "0.00", "16.20"),
        ]
    );
    // Without a `created` date the refund takes the order's last change.
    assert_eq!(
        j.accounting_date,
        NaiveDate::from_ymd_opt(2026, 3, 10).unwrap()
    );
}

#[test]
fn a_refund_whose_payments_were_all_declined_posts_nothing() {
    let config = example_config();
    let (o, lines) = order_500();
    let j = refund_journal(
        &config,
        o,
        lines,
        json!({"id": 34, "order_id": 500, "total_amount": 16.2, "total_tax": 1.2,
            "items": [{"item_type": "PRODUCT", "item_id": 2, "quantity": 1}],
            "payments": [{"id": 12, "provider_id": "braintree", "amount": 16.2, "is_declined": true}]}),
    );
    assert!(j.is_empty());
}

#[test]
fn amounts_kept_back_reduce_the_refund() {
    let config = example_config();
    let (o, lines) = order_500();
    let j = refund_journal(
        &config,
        o,
        lines,
        json!({"id": 35, "order_id": 500, "total_amount": 14.04, "total_tax": 1.04,
            "items": [{"item_type": "PRODUCT", "item_id": 2, "quantity": 1,
                "adjustments": [{"amount": -2.0, "description": "Restocking"}]}],
            "payments": [{"id": 13, "provider_id": "braintree", "amount": 14.04}]}),
    );
    assert_eq!(
        rows(&j),
        vec![
            row("refund", "101-320-4500-200-000", "13.00", "0.00"),
            row("tax", "101-000-2300-000-000", "1.04", "0.00"),
            row("receivable", "101-000-1210-000-000", "0.00", "14.04"),
        ]
    );
    assert_eq!(
        j.lines[0].description,
        "Refund: Product 88 ×1, less 2.00 kept back"
    );
}

#[test]
fn a_refund_item_missing_from_the_order_posts_at_order_level_and_is_flagged() {
    let config = example_config();
    let (o, lines) = order_500();
    let j = refund_journal(
        &config,
        o,
        lines,
        json!({"id": 36, "order_id": 500, "total_amount": 5.0, "total_tax": 0,
            "items": [{"item_type": "PRODUCT", "item_id": 999, "quantity": 1, "requested_amount": 5.0}],
            "payments": [{"id": 14, "provider_id": "braintree", "amount": 5.0}]}),
    );
    assert_eq!(
        rows(&j),
        vec![
            row("refund", "101-000-4500-000-000", "5.00", "0.00"),
            row("receivable", "101-000-1210-000-000", "0.00", "5.00"),
        ]
    );
    assert_eq!(
        j.flags,
        vec![JournalFlag::RefundItemNotFound {
            item: "PRODUCT:999".into()
        }]
    );
}

#[test]
fn refunding_a_sold_gift_certificate_reduces_the_liability() {
    let config = example_config();
    let mut o = order(510);
    o["total_inc_tax"] = json!("25.0000");
    let mut gc = line(1, 0, 1, "25.00", "0.00");
    gc["type"] = json!("giftcertificate");
    let j = refund_journal(
        &config,
        o,
        vec![gc],
        json!({"id": 37, "order_id": 510, "total_amount": 25.0, "total_tax": 0,
            "items": [{"item_type": "PRODUCT", "item_id": 1, "quantity": 1}],
            "payments": [{"id": 15, "provider_id": "braintree", "amount": 25.0}]}),
    );
    assert_eq!(
        rows(&j)[0],
        row("gift_certificate", "101-000-2410-000-000", "25.00", "0.00")
    );
}

#[test]
fn an_unknown_refund_is_a_typed_error() {
    let config = example_config();
    let (o, lines) = order_500();
    let ctx = JournalContext::new(&config, "us").unwrap();
    let err = build_refund(&ctx, &bundle(o, lines), 77).unwrap_err();
    assert_eq!(
        err,
        JournalError::UnknownRefund {
            order: 500,
            refund: 77
        }
    );
}

// ------------------------------------------------------ reversals and deltas

/// Why the adjustments below are posted, as the decision words it for an edit.
const WHY: &str = "the order changed after posting";

#[test]
fn a_cancellation_reverses_what_was_earned_on_the_cancellation_date_and_owes_the_money_back() {
    let config = example_config();
    let (o, lines) = order_500();
    let posted = sale(&config, "us", o, lines);
    let ctx = JournalContext::new(&config, "us").unwrap();
    let date = NaiveDate::from_ymd_opt(2026, 4, 2).unwrap();
    // The cancelled position: the card still holds what it took; that is owed back.
    let mut target = posted.clone();
    target.lines.retain(|l| l.is_tender());
    let owed = target.lines[0].dr;
    let mut due = target.lines[0].clone();
    due.account_role = AccountRole::RefundDue;
    due.segments = vec!["101", "000", "2440", "000", "000"]
        .into_iter()
        .map(String::from)
        .collect();
    due.reference = "refund_due".into();
    due.tender = false;
    (due.dr, due.cr) = (Decimal::new(0, 2), owed);
    target.lines.push(due);
    let reversal = build_cancellation(&ctx, &[&posted], &target, 1, date, "Cancelled").unwrap();
    assert_eq!(reversal.posting, PostingKind::REVERSAL);
    assert_eq!(reversal.batch_name, "BC-us-500-reversal");
    assert_eq!(reversal.linked_batch.as_deref(), Some("BC-us-500-sale"));
    assert_eq!(
        (reversal.accounting_date, reversal.period_name.as_deref()),
        (date, Some("Apr-26"))
    );
    assert_eq!(reversal.conversion, posted.conversion, "at the sale's rate");
    // Every component line comes back on its own account; the receivable stays; the refund
    // due takes the money taken.
    for p in posted.lines.iter().filter(|l| !l.is_tender()) {
        let r = reversal
            .lines
            .iter()
            .find(|r| r.segments == p.segments && r.account_role == p.account_role)
            .unwrap_or_else(|| panic!("{} not reversed", p.description));
        assert_eq!((r.dr, r.cr), (p.cr, p.dr));
        assert!(r.description.starts_with("Reversal: "), "{}", r.description);
    }
    assert_eq!(reversal.net_of(AccountRole::Receivable), Decimal::ZERO);
    assert_eq!(reversal.net_of(AccountRole::RefundDue), -owed);
    assert!(reversal.is_balanced());
}

#[test]
fn an_edit_after_posting_posts_only_the_difference() {
    let config = example_config();
    let (o, lines) = order_500();
    let posted = sale(&config, "us", o.clone(), lines.clone());
    // The skillet's quantity went from 1 to 2.
    let mut edited = o.clone();
    edited["total_tax"] = json!("6.5200");
    edited["total_inc_tax"] = json!("88.0200");
    let current = sale(
        &config,
        "us",
        edited,
        vec![lines[0].clone(), line(2, 88, 2, "15.00", "1.20")],
    );
    let ctx = JournalContext::new(&config, "us").unwrap();
    let date = NaiveDate::from_ymd_opt(2026, 3, 12).unwrap();
    let delta = build_adjustment(&ctx, &[&posted], &[&current], 1, date, WHY).unwrap();
    assert_eq!(delta.batch_name, "BC-us-500-adjust-1");
    assert_eq!(delta.linked_batch.as_deref(), Some("BC-us-500-sale"));
    assert_eq!(
        rows(&delta),
        vec![
            row("receivable", "101-000-1210-000-000", "16.20", "0.00"),
            row("revenue", "101-320-4020-200-000", "0.00", "15.00"),
            row("tax", "101-000-2300-000-000", "0.00", "1.20"),
        ]
    );
    // What was posted plus the delta is exactly what the order is now.
    for role in AccountRole::ALL {
        assert_eq!(
            posted.net_of(role) + delta.net_of(role),
            current.net_of(role)
        );
    }
    // A second look at the unchanged order posts nothing more.
    let again = build_adjustment(&ctx, &[&posted, &delta], &[&current], 2, date, WHY).unwrap();
    assert!(again.is_empty());
}

#[test]
fn a_line_that_disappears_is_reversed_by_the_delta() {
    let config = example_config();
    let (o, lines) = order_500();
    let posted = sale(&config, "us", o.clone(), lines.clone());
    let mut edited = o;
    edited["total_tax"] = json!("4.1200");
    edited["total_inc_tax"] = json!("55.6200");
    let current = sale(&config, "us", edited, vec![lines[0].clone()]);
    let ctx = JournalContext::new(&config, "us").unwrap();
    let delta = build_adjustment(
        &ctx,
        &[&posted],
        &[&current],
        1,
        posted.accounting_date,
        WHY,
    )
    .unwrap();
    let skillet = delta
        .lines
        .iter()
        .find(|l| l.segments.join("-") == "101-320-4020-200-000")
        .unwrap();
    assert_eq!(skillet.dr.to_string(), "15.00");
    assert!(
        skillet.description.starts_with("No longer: "),
        "{}",
        skillet.description
    );
}

#[test]
fn a_delta_between_different_orders_is_refused() {
    let config = example_config();
    let (o, lines) = order_500();
    let posted = sale(&config, "us", o.clone(), lines.clone());
    let mut other = o;
    other["id"] = json!(501);
    let current = sale(&config, "us", other, lines);
    let ctx = JournalContext::new(&config, "us").unwrap();
    let err = build_adjustment(
        &ctx,
        &[&posted],
        &[&current],
        1,
        posted.accounting_date,
        WHY,
    )
    .unwrap_err();
    assert!(
        matches!(err, JournalError::Incompatible { order: 501, .. }),
        "{err}"
    );
}
