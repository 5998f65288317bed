//! The ledger over an order's whole life, case by case: each refund mirrors its sale (per tender,
//! per SKU rule), a cancellation keeps the money the shopper has not had back, fee and tax
//! refunds land where an auditor expects, manual discounts spread the way BigCommerce spreads
//! them, minor units of KWD and JPY, a foreign-currency refund under each conversion setting,
//! and zero-total orders in both discount modes. Journals are built by `decide`, as the poster
//! builds them, against what is already on the books.

use crate::support::*;
use chrono::{NaiveDate, Utc};
use common::bigcommerce::OrderBundle;
use common::config::ConnectorConfig;
use common::journal::{Journal, JournalContext, Position, PostingKind};
use common::posting::decide::{Plan, decide};
use common::state::{PostingRecord, PostingState};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// What is recorded for one order, every posting Posted (or Held, as decided).
#[derive(Default)]
struct Books {
    records: Vec<PostingRecord>,
}

impl Books {
    fn journals(&self) -> Vec<&Journal> {
        self.records.iter().map(|r| &r.journal).collect()
    }

    /// Net per account of everything posted (held postings are not in the ledger).
    fn ledger(&self) -> Position {
        Position::of(
            self.records
                .iter()
                .filter(|r| matches!(r.state, PostingState::Posted { .. }))
                .map(|r| &r.journal),
        )
    }

    fn record(&mut self, journal: Journal, state: PostingState) {
        self.records
            .push(PostingRecord::new(journal, state, Utc::now()));
    }

    /// Runs the decision on the order as it is now until it plans nothing more, posting what
    /// it plans (and recording held ones as Held). Returns what was planned, in order.
    fn see(&mut self, config: &ConnectorConfig, store: &str, bundle: &OrderBundle) -> Vec<Plan> {
        let ctx = JournalContext::new(config, store).unwrap();
        let mut plans = Vec::new();
        for _ in 0..8 {
            let plan = decide(&ctx, bundle, &self.records).unwrap_or_else(|e| panic!("{e}"));
            for j in plan
                .journals
                .iter()
                .chain(plan.held.iter().map(|h| &h.journal))
            {
                assert!(j.is_balanced(), "{j:#?}");
            }
            let done = plan.journals.is_empty() && plan.held.is_empty();
            for j in &plan.journals {
                self.record(
                    j.clone(),
                    PostingState::Posted {
                        batch_id: 1,
                        group_id: 1,
                        request_id: None,
                    },
                );
            }
            for h in &plan.held {
                self.record(
                    h.journal.clone(),
                    PostingState::Held {
                        reason: h.reason.clone(),
                    },
                );
            }
            for (kind, reason) in &plan.superseded {
                let r = self
                    .records
                    .iter_mut()
                    .find(|r| r.key.posting == *kind)
                    .unwrap();
                r.state = PostingState::Rejected {
                    reason: reason.clone(),
                };
            }
            let position = plan.position.clone();
            plans.push(plan);
            if done {
                // Settled: what is recorded (held postings once replayed) is exactly the
                // position.
                assert_eq!(
                    Position::of(
                        self.records
                            .iter()
                            .filter(|r| !matches!(&r.state, PostingState::Rejected { .. }))
                            .map(|r| &r.journal)
                    ),
                    position
                );
                break;
            }
        }
        plans
    }

    fn last(&self, kind: PostingKind) -> &Journal {
        &self
            .records
            .iter()
            .find(|r| r.key.posting == kind)
            .unwrap_or_else(|| panic!("no {kind} recorded"))
            .journal
    }
}

fn account(p: &Position, account: &str) -> Decimal {
    let segments: Vec<String> = account.split('-').map(String::from).collect();
    p.net(&segments)
}

/// Order 700: 2 shirts (product 77, apparel) at 20.00 + 8 % tax, paid by card through
/// `gateway` (its transactions read), status `status`.
fn order_700(status: u32) -> Value {
    let mut o = order(700);
    o["status_id"] = json!(status);
    o["subtotal_ex_tax"] = json!("40.0000");
    o["total_ex_tax"] = json!("40.0000");
    o["total_tax"] = json!("3.2000");
    o["total_inc_tax"] = json!("43.2000");
    o
}

fn transactions(gateway: &str, amount: &str) -> Value {
    json!([{"id": 1, "order_id": "700", "event": "purchase", "method": "credit_card",
        "amount": amount.parse::<f64>().unwrap(), "currency": "USD", "gateway": gateway,
        "gateway_transaction_id": "pi_3PqX8t2eZvKYlo2C0x3Jd9aB", "status": "ok"}])
}

fn bundle_700(o: Value, sku: &str, refunds: Vec<Value>, gateway: &str) -> OrderBundle {
    let mut shirts = line(1, 77, 2, "20.00", "1.60");
    shirts["sku"] = json!(sku);
    bundle_with(json!({"order": o, "products": [shirts], "refunds": refunds,
        "categories": {"77": [21]}, "category_tree": example_tree(),
        "transactions": transactions(gateway, "43.20")}))
}

/// Refund `id` of one shirt, back through `provider` (offline or not).
fn shirt_refund(id: u64, provider: &str, offline: bool) -> Value {
    json!({"id": id, "order_id": 700, "created": "2026-03-20T10:00:00+00:00", "reason": "",
        "total_amount": 21.60, "total_tax": 1.60,
        "items": [{"item_type": "PRODUCT", "item_id": 1, "quantity": 1}],
        "payments": [{"id": id + 100, "provider_id": provider, "amount": 21.60,
            "offline": offline, "is_declined": false}]})
}

#[test]
fn a_refund_goes_back_through_the_clearing_account_its_sale_was_debited_on() {
    // The example's rule names the gateway as transactions spell it and as refunds do.
    // Here it names only the transactions' spelling: the refund (`stripev3`) still goes back
    // through the Stripe clearing account the sale hit, not the default receivable.
    let mut doc = example_document();
    doc["mapping"]["rules"][8]["when"]["payment_provider"] = json!("stripe");
    doc["mapping"]["rules"].as_array_mut().unwrap().push(
        json!({"name": "refunds-by-bank-transfer", "applies_to": ["receivable"],
            "when": {"payment_provider": "bankdeposit"}, "set": {"account": "1010"}}),
    );
    let config = config_from(&doc);
    let mut books = Books::default();
    books.see(
        &config,
        "us",
        &bundle_700(order_700(11), "SKU-77", vec![], "stripe"),
    );
    assert_eq!(
        rows(books.last(PostingKind::Sale))[0],
        row("receivable", "101-000-1230-000-000", "43.20", "0.00")
    );
    let refunds = vec![
        shirt_refund(41, "stripev3", false),
        shirt_refund(42, "bankdeposit", true),
    ];
    books.see(
        &config,
        "us",
        &bundle_700(order_700(4), "SKU-77", refunds, "stripe"),
    );
    let card = rows(books.last(PostingKind::Refund(41)));
    assert_eq!(
        card.last().unwrap(),
        &row("receivable", "101-000-1230-000-000", "0.00", "21.60")
    );
    // Paid out by bank transfer, which a rule sends to the bank account: there.
    let bank = rows(books.last(PostingKind::Refund(42)));
    assert_eq!(
        bank.last().unwrap(),
        &row("receivable", "101-000-1010-000-000", "0.00", "21.60")
    );
    // The Stripe clearing account holds what Stripe still holds: the second shirt's money.
    let ledger = books.ledger();
    assert_eq!(account(&ledger, "101-000-1230-000-000"), d("21.60"));
    assert_eq!(account(&ledger, "101-000-1210-000-000"), Decimal::ZERO);
}

#[test]
fn a_refunded_line_keeps_the_segments_a_sku_rule_gave_its_sale() {
    // NW-GIFTBOX's SKU rule sets product line 900 on revenue only; the apparel rule would
    // give a refund product line 100. The return must hit 900, with only the account switched.
    let config = example_config();
    let mut books = Books::default();
    books.see(
        &config,
        "us",
        &bundle_700(order_700(11), "NW-GIFTBOX", vec![], "braintree"),
    );
    assert_eq!(
        rows(books.last(PostingKind::Sale))[1],
        row("revenue", "101-310-4010-900-000", "0.00", "40.00")
    );
    let refunded = bundle_700(
        order_700(14),
        "NW-GIFTBOX",
        vec![shirt_refund(43, "braintree", false)],
        "braintree",
    );
    books.see(&config, "us", &refunded);
    assert_eq!(
        rows(books.last(PostingKind::Refund(43))),
        vec![
            row("refund", "101-310-4500-900-000", "20.00", "0.00"),
            row("tax", "101-000-2300-000-000", "1.60", "0.00"),
            row("receivable", "101-000-1210-000-000", "0.00", "21.60"),
        ]
    );
    // A mapping changed after the sale posted moves nothing already booked.
    let mut doc = example_document();
    doc["mapping"]["rules"][6]["set"]["product_line"] = json!("950");
    let changed = config_from(&doc);
    let mut later = Books {
        records: books.records.clone(),
    };
    let plans = later.see(&changed, "us", &refunded);
    assert!(
        plans.iter().all(|p| p.journals.is_empty()),
        "{:#?}",
        plans[0].journals
    );
}

#[test]
fn without_a_returns_account_a_refund_reverses_the_revenue_account_itself() {
    let doc = document_without_returns_account();
    let config = config_from(&doc);
    let mut books = Books::default();
    let refunded = bundle_700(
        order_700(14),
        "SKU-77",
        vec![shirt_refund(44, "braintree", false)],
        "braintree",
    );
    books.see(&config, "us", &refunded);
    assert_eq!(
        rows(books.last(PostingKind::Refund(44)))[0],
        row("refund", "101-310-4010-100-000", "20.00", "0.00")
    );
    assert_eq!(
        account(&books.ledger(), "101-310-4010-100-000"),
        d("-20.00")
    );
}

#[test]
fn a_cancelled_order_set_back_to_take_a_refund_then_cancelled_again_ends_at_zero() {
    // BigCommerce's control panel refunds only orders in a sale status: a merchant cancels,
    // sets the order back to Awaiting Fulfillment, refunds it (it becomes Refunded), and
    // cancels it again.
    let config = example_config();
    let mut books = Books::default();
    let gw = "braintree";
    books.see(
        &config,
        "us",
        &bundle_700(order_700(11), "SKU-77", vec![], gw),
    );
    books.see(
        &config,
        "us",
        &bundle_700(order_700(5), "SKU-77", vec![], gw),
    );
    let ledger = books.ledger();
    assert_eq!(account(&ledger, "101-000-1210-000-000"), d("43.20"));
    assert_eq!(account(&ledger, "101-000-2440-000-000"), d("-43.20"));
    // Set back: the reinstatement waits for a person.
    let plans = books.see(
        &config,
        "us",
        &bundle_700(order_700(11), "SKU-77", vec![], gw),
    );
    assert_eq!(plans[0].held.len(), 1);
    // The refund of everything, the order now Refunded: it clears the refund due.
    let everything = json!({"id": 45, "order_id": 700, "created": "2026-03-22T10:00:00+00:00",
        "total_amount": 43.20, "total_tax": 3.20,
        "items": [{"item_type": "PRODUCT", "item_id": 1, "quantity": 2}],
        "payments": [{"id": 145, "provider_id": gw, "amount": 43.20}]});
    let mut refunded = order_700(4);
    refunded["payment_status"] = json!("refunded");
    let plans = books.see(
        &config,
        "us",
        &bundle_700(refunded, "SKU-77", vec![everything.clone()], gw),
    );
    assert_eq!(plans[0].superseded.len(), 1, "{:#?}", plans[0]);
    assert_eq!(
        rows(books.last(PostingKind::Refund(45))),
        vec![
            row("refund_due", "101-000-2440-000-000", "43.20", "0.00"),
            row("receivable", "101-000-1210-000-000", "0.00", "43.20"),
        ]
    );
    books.see(
        &config,
        "us",
        &bundle_700(order_700(5), "SKU-77", vec![everything], gw),
    );
    assert!(books.ledger().accounts.is_empty(), "{:?}", books.ledger());
}

/// An order of the EU storefront (channel 2, EUR), its prices including tax.
fn eu_order(id: u64) -> Value {
    let mut o = order(id);
    o["channel_id"] = json!(2);
    for f in [
        "currency_code",
        "default_currency_code",
        "store_default_currency_code",
    ] {
        o[f] = json!("EUR");
    }
    o["is_tax_inclusive_pricing"] = json!(true);
    o
}

/// An EU order (channel 2, EUR, prices include 19 % VAT) of one skillet (product 88) at
/// 119.00 and the fee `fee` (id 3: 11.90 with 1.90 VAT).
fn eu_order_with_fee(id: u64) -> (Value, Vec<Value>) {
    let mut o = eu_order(id);
    o["fees"] = json!([{"id": 3, "type": "custom_fee", "display_name_merchant": "Bulky item",
        "cost_ex_tax": "10.0000", "cost_inc_tax": "11.9000", "cost_tax": "1.9000"}]);
    o["subtotal_ex_tax"] = json!("100.0000");
    o["subtotal_inc_tax"] = json!("119.0000");
    o["total_ex_tax"] = json!("110.0000");
    o["total_tax"] = json!("20.9000");
    o["total_inc_tax"] = json!("130.9000");
    (o, vec![line(1, 88, 1, "100.00", "19.00")])
}

#[test]
fn a_fee_refund_takes_its_vat_out_once_whichever_id_the_refund_names() {
    let config = example_config();
    for item_id in [3, 701] {
        let (o, lines) = eu_order_with_fee(701);
        let refund = json!({"id": 46, "order_id": 701, "created": "2026-03-20T10:00:00+00:00",
            "total_amount": 11.90, "total_tax": 1.90,
            "items": [{"item_type": "FEE", "item_id": item_id, "requested_amount": 11.90}],
            "payments": [{"id": 146, "provider_id": "braintree", "amount": 11.90}]});
        let b = bundle_with(json!({"order": o, "products": lines, "refunds": [refund],
            "categories": {"88": [31]}, "category_tree": example_tree()}));
        let mut books = Books::default();
        books.see(&config, "eu", &b);
        let j = books.last(PostingKind::Refund(46));
        assert_eq!(
            rows(j),
            vec![
                row("fee", "201-000-4230-000-000", "10.00", "0.00"),
                row("tax", "201-000-2310-000-000", "1.90", "0.00"),
                row("receivable", "201-000-1210-000-000", "0.00", "11.90"),
            ],
            "item_id {item_id}"
        );
        assert!(j.flags.is_empty(), "{:?}", j.flags);
    }
}

#[test]
fn a_tax_item_is_tax_payable_given_back_counted_once() {
    let config = example_config();
    for total_tax in [0.0, 3.2] {
        let refund = json!({"id": 47, "order_id": 700, "created": "2026-03-20T10:00:00+00:00",
            "total_amount": 3.20, "total_tax": total_tax,
            "items": [{"item_type": "TAX", "item_id": 700, "requested_amount": 3.20}],
            "payments": [{"id": 147, "provider_id": "braintree", "amount": 3.20}]});
        let mut books = Books::default();
        books.see(
            &config,
            "us",
            &bundle_700(order_700(14), "SKU-77", vec![refund], "braintree"),
        );
        assert_eq!(
            rows(books.last(PostingKind::Refund(47))),
            vec![
                row("tax", "101-000-2300-000-000", "3.20", "0.00"),
                row("receivable", "101-000-1210-000-000", "0.00", "3.20"),
            ],
            "total_tax {total_tax}"
        );
    }
}

#[test]
fn a_manual_discount_on_mixed_tax_rates_is_spread_by_each_lines_share_of_the_ex_tax_subtotal() {
    // EU store, prices include tax: a shirt at 120.00 (20 % VAT) and a skillet at 52.50 (5 %),
    // a manual discount of 15.00 with no applied_discounts. BigCommerce spreads it 2:1 by the
    // ex-tax subtotal (100 : 50): 10.00 and 5.00 including tax, then recomputes the tax:
    // 18.3333 + 2.2619 = 20.60.
    let config = example_config();
    let mut o = eu_order(702);
    o["discount_amount"] = json!("15.0000");
    o["subtotal_ex_tax"] = json!("150.0000");
    o["subtotal_inc_tax"] = json!("172.5000");
    o["total_ex_tax"] = json!("136.9000");
    o["total_tax"] = json!("20.6000");
    o["total_inc_tax"] = json!("157.5000");
    let lines = vec![
        line(1, 77, 1, "100.00", "20.00"),
        line(2, 88, 1, "50.00", "2.50"),
    ];
    let b = bundle_with(json!({"order": o, "products": lines,
        "categories": {"77": [21], "88": [31]}, "category_tree": example_tree()}));
    let mut books = Books::default();
    books.see(&config, "eu", &b);
    let sale = books.last(PostingKind::Sale);
    assert_eq!(
        rows(sale),
        vec![
            row("receivable", "201-000-1210-000-000", "157.50", "0.00"),
            row("revenue", "201-310-4010-100-000", "0.00", "91.66"),
            row("revenue", "201-320-4020-200-000", "0.00", "45.24"),
            row("tax", "201-000-2310-000-000", "0.00", "20.60"),
        ]
    );
    assert!(!sale.has_totals_mismatch());
}

#[test]
fn refunds_in_three_and_zero_decimal_currencies_keep_their_minor_units() {
    let config = example_config();
    for (code, unit_ex, unit_tax, total_tax, refund_tax, refunded) in [
        ("KWD", "4.125", "0.4125", "0.8250", 0.413, "4.538"),
        ("JPY", "1980", "198", "396", 198.0, "2178"),
    ] {
        let mut o = order(703);
        for f in ["currency_code", "default_currency_code"] {
            o[f] = json!(code);
        }
        o["store_default_to_transactional_exchange_rate"] = json!("0.3100000000");
        let ex = d(unit_ex) * Decimal::TWO;
        let tax = d(total_tax);
        o["subtotal_ex_tax"] = json!(ex.to_string());
        o["total_ex_tax"] = json!(ex.to_string());
        o["total_tax"] = json!(total_tax);
        o["total_inc_tax"] = json!((ex + tax).to_string());
        let total: f64 = refunded.parse().unwrap();
        let refund = json!({"id": 48, "order_id": 703, "created": "2026-03-20T10:00:00+00:00",
            "total_amount": total, "total_tax": refund_tax,
            "items": [{"item_type": "PRODUCT", "item_id": 1, "quantity": 1}],
            "payments": [{"id": 148, "provider_id": "braintree", "amount": total}]});
        let b = bundle_with(
            json!({"order": o, "products": [line(1, 77, 2, unit_ex, unit_tax)],
            "refunds": [refund], "categories": {"77": [21]}, "category_tree": example_tree()}),
        );
        let mut books = Books::default();
        books.see(&config, "us", &b);
        let j = books.last(PostingKind::Refund(48));
        let expect_ex = d(unit_ex);
        assert_eq!(j.currency.to_string(), code);
        assert_eq!(
            rows(j),
            vec![
                row(
                    "refund",
                    "101-310-4500-100-000",
                    &j.currency.round(expect_ex).to_string(),
                    &j.currency.round(Decimal::ZERO).to_string()
                ),
                row(
                    "tax",
                    "101-000-2300-000-000",
                    &j.currency.round(d(&refund_tax.to_string())).to_string(),
                    &j.currency.round(Decimal::ZERO).to_string()
                ),
                row(
                    "receivable",
                    "101-000-1210-000-000",
                    &j.currency.round(Decimal::ZERO).to_string(),
                    refunded
                ),
            ],
            "{code}"
        );
        for l in &j.lines {
            assert_eq!(
                l.dr.scale().max(l.cr.scale()),
                j.currency.exponent(),
                "{code}"
            );
        }
    }
}

#[test]
fn a_foreign_currency_refund_converts_as_the_document_says() {
    // A USD-ledger store selling in EUR: 1 USD = 0.90 EUR on the order.
    let order_eur = || {
        let mut o = order_700(11);
        for f in ["currency_code", "default_currency_code"] {
            o[f] = json!("EUR");
        }
        o["store_default_to_transactional_exchange_rate"] = json!("0.9000000000");
        o
    };
    let refund = shirt_refund(49, "braintree", false);
    let mut refund = refund;
    refund["created"] = json!("2026-04-15T10:00:00+00:00");
    for (setting, conversion_type, date, rate) in [
        ("refund_date", "Corporate", (2026, 4, 15), None),
        (
            "sale_rate",
            "User",
            (2026, 3, 10),
            Some(d("1.111111111111")),
        ),
    ] {
        let mut doc = example_document();
        doc["oracle"]["ledgers"][0]["conversion"]["refunds"] = json!(setting);
        let config = config_from(&doc);
        let mut books = Books::default();
        let mut b = bundle_700(order_eur(), "SKU-77", vec![refund.clone()], "braintree");
        b.transactions = None;
        books.see(&config, "us", &b);
        let sale = books.last(PostingKind::Sale).conversion.clone().unwrap();
        assert_eq!(
            (sale.conversion_type.as_str(), sale.rate),
            ("User", Some(d("1.111111111111")))
        );
        let c = books
            .last(PostingKind::Refund(49))
            .conversion
            .clone()
            .unwrap();
        let (y, m, dd) = date;
        assert_eq!(
            (c.conversion_type.as_str(), c.date, c.rate),
            (
                conversion_type,
                NaiveDate::from_ymd_opt(y, m, dd).unwrap(),
                rate
            ),
            "{setting}"
        );
    }
}

#[test]
fn a_zero_total_order_shows_gross_revenue_and_its_discount_when_discounts_are_separate() {
    // A shirt at 20.00 with a 100 % coupon: nothing to pay, nothing taxed.
    let mut o = order(704);
    o["subtotal_ex_tax"] = json!("20.0000");
    o["coupon_discount"] = json!("20.0000");
    let mut shirt = line(1, 77, 1, "20.00", "0.00");
    shirt["applied_discounts"] = json!([{"id": "c1", "amount": "20.0000", "name": "Free",
        "code": "FREE", "target": "product"}]);
    let b = bundle_with(json!({"order": o, "products": [shirt],
        "categories": {"77": [21]}, "category_tree": example_tree()}));

    let netted = example_config();
    let mut books = Books::default();
    books.see(&netted, "us", &b);
    assert!(
        books.last(PostingKind::Sale).is_empty(),
        "netted: nothing moves"
    );

    let mut doc = example_document();
    doc["posting"]["discounts"] = json!("separate");
    let separate = config_from(&doc);
    let mut books = Books::default();
    books.see(&separate, "us", &b);
    assert_eq!(
        rows(books.last(PostingKind::Sale)),
        vec![
            row("revenue", "101-310-4010-100-000", "0.00", "20.00"),
            row("discount", "101-310-4900-100-000", "20.00", "0.00"),
        ]
    );
    let _ = books.journals();
}
