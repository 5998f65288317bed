//! Property tests over random BigCommerce orders: random lines, quantities, line and order-level
//! discounts, tax-inclusive and exclusive pricing, shipping, handling, wrapping, fees, gift
//! certificates sold and redeemed, store credit, currencies with 0, 2 and 3 decimals, bundle
//! children, and partial refunds. The generator computes every figure the way BigCommerce does
//! (four-place intermediate values, totals in minor units) so that:
//!
//! - every journal balances exactly, always;
//! - consistent orders never raise a totals mismatch (only rounding, within the tolerance);
//! - Σ(sale) − Σ(refunds) equals BigCommerce's own totals: what the customer paid less what was
//!   refunded, and the tax charged less the tax refunded, to the minor unit;
//! - an inconsistent order puts exactly its difference in suspense, or is held.

use common::bigcommerce::OrderBundle;
use common::config::ConnectorConfig;
use common::journal::{
    Journal, JournalContext, JournalError, JournalFlag, build_refund, build_sale,
};
use common::mapping::AccountRole;
use proptest::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};

const CURRENCIES: [(&str, u32); 5] = [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3)];
const TAX_RATES_BP: [i64; 6] = [0, 500, 825, 1000, 1900, 2000];
const PRODUCTS: [u64; 4] = [77, 88, 95, 1234];

#[derive(Debug, Clone)]
struct GenLine {
    product: usize,
    qty: u64,
    unit_minor: i64,
    kind: u8,
    disc_pct: i64,
    child: bool,
}

#[derive(Debug, Clone)]
struct GenRefund {
    picks: Vec<(usize, u64)>,
    ship_pct: i64,
    store_credit_pct: i64,
}

#[derive(Debug, Clone)]
struct GenOrder {
    currency: usize,
    inclusive: bool,
    rate: usize,
    lines: Vec<GenLine>,
    ship_minor: i64,
    handling_minor: i64,
    wrap_minor: i64,
    fee_minor: i64,
    order_level_discount: bool,
    gc_pct: i64,
    sc_pct: i64,
    refunds: Vec<GenRefund>,
}

fn gen_line() -> impl Strategy<Value = GenLine> {
    (
        0..PRODUCTS.len(),
        1u64..=5,
        1i64..=40_000,
        prop_oneof![6 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8)],
        prop_oneof![Just(0i64), 1i64..=50],
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(product, qty, unit_minor, kind, disc_pct, child)| GenLine {
                product,
                qty,
                unit_minor,
                kind,
                disc_pct,
                child,
            },
        )
}

fn gen_refund() -> impl Strategy<Value = GenRefund> {
    (
        prop::collection::vec((0usize..8, 1u64..=3), 0..3),
        prop_oneof![Just(0i64), 1i64..=100],
        prop_oneof![Just(0i64), Just(100i64), 1i64..=99],
    )
        .prop_map(|(picks, ship_pct, store_credit_pct)| GenRefund {
            picks,
            ship_pct,
            store_credit_pct,
        })
}

fn gen_order() -> impl Strategy<Value = GenOrder> {
    (
        (0..CURRENCIES.len(), any::<bool>(), 0..TAX_RATES_BP.len()),
        prop::collection::vec(gen_line(), 1..8),
        (
            prop_oneof![Just(0i64), 1i64..=5_000],
            prop_oneof![Just(0i64), 1i64..=2_000],
            prop_oneof![Just(0i64), 1i64..=1_000],
            prop_oneof![Just(0i64), 1i64..=1_500],
        ),
        any::<bool>(),
        (
            prop_oneof![Just(0i64), 1i64..=60],
            prop_oneof![Just(0i64), 1i64..=40],
        ),
        prop::collection::vec(gen_refund(), 0..3),
    )
        .prop_map(
            |(
                (currency, inclusive, rate),
                lines,
                (ship, handling, wrap, fee),
                old,
                (gc, sc),
                refunds,
            )| GenOrder {
                currency,
                inclusive,
                rate,
                lines,
                ship_minor: ship,
                handling_minor: handling,
                wrap_minor: wrap,
                fee_minor: fee,
                order_level_discount: old,
                gc_pct: gc,
                sc_pct: sc,
                refunds,
            },
        )
}

fn r4(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
}

/// What the generator knows BigCommerce's totals to be.
#[derive(Debug)]
struct Expected {
    total_inc: Decimal,
    total_tax: Decimal,
    discount_spread: Option<Decimal>,
    refunds: Vec<(u64, Decimal, Decimal)>,
}

/// A line as the generator priced it.
struct Priced {
    id: u64,
    qty: u64,
    gift: bool,
    postable: bool,
    total_ex: Decimal,
    total_inc: Decimal,
    total_tax: Decimal,
    discount: Decimal,
}

/// Prices a charge (shipping, handling, wrapping) given in the pricing basis.
fn charge(basis_amount: Decimal, t: Decimal, inclusive: bool) -> (Decimal, Decimal, Decimal) {
    if inclusive {
        let ex = r4(basis_amount / (Decimal::ONE + t));
        (ex, basis_amount - ex, basis_amount)
    } else {
        let tax = r4(basis_amount * t);
        (basis_amount, tax, basis_amount + tax)
    }
}

/// Builds a bundle the way BigCommerce would describe the generated order.
fn build(g: &GenOrder) -> (Value, Expected) {
    let (code, exp) = CURRENCIES[g.currency];
    let minor = |n: i64| Decimal::new(n, exp);
    let round_minor =
        |d: Decimal| d.round_dp_with_strategy(exp, RoundingStrategy::MidpointAwayFromZero);
    let floor_minor = |d: Decimal| d.round_dp_with_strategy(exp, RoundingStrategy::ToZero);
    let t = Decimal::new(TAX_RATES_BP[g.rate], 4);

    let mut priced: Vec<Priced> = Vec::new();
    let mut products = Vec::new();
    let mut last_parent: Option<u64> = None;
    for (i, l) in g.lines.iter().enumerate() {
        let id = 100 + i as u64;
        let gift = l.kind == 2;
        let child = l.child && last_parent.is_some() && !gift;
        let lt = if gift { Decimal::ZERO } else { t };
        let unit = minor(l.unit_minor);
        let q = Decimal::from(l.qty);
        let (ex_u, tax_u, inc_u) = if child {
            (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO)
        } else {
            charge(unit, lt, g.inclusive)
        };
        let (total_ex, total_tax, total_inc) = (ex_u * q, tax_u * q, inc_u * q);
        let gross = if g.inclusive { total_inc } else { total_ex };
        let discount = if gift || child || l.disc_pct == 0 {
            Decimal::ZERO
        } else {
            round_minor(gross * Decimal::new(l.disc_pct, 2))
        };
        let product_id = if gift { 0 } else { PRODUCTS[l.product] };
        products.push(json!({
            "id": id, "order_id": 9000, "product_id": product_id,
            "name": format!("Item {i}"), "sku": format!("SKU-{product_id}"),
            "type": match l.kind { 0 => "physical", 1 => "digital", _ => "giftcertificate" },
            "quantity": l.qty,
            "price_ex_tax": ex_u.to_string(), "price_inc_tax": inc_u.to_string(),
            "total_ex_tax": total_ex.to_string(), "total_inc_tax": total_inc.to_string(),
            "total_tax": total_tax.to_string(),
            "applied_discounts": [],
            "parent_order_product_id": if child { json!(last_parent) } else { Value::Null },
            "is_bundled_product": child,
        }));
        if !child && !gift {
            last_parent = Some(id);
        }
        priced.push(Priced {
            id,
            qty: l.qty,
            gift,
            postable: !child && (!total_ex.is_zero() || !total_inc.is_zero()),
            total_ex,
            total_inc,
            total_tax,
            discount,
        });
    }

    // Order-level discounts: BigCommerce spreads them over the lines by each line's share of
    // the ex-tax subtotal (gift certificates take none); the last line takes what division
    // leaves, so the shares add up to the discount exactly.
    let discount_total: Decimal = priced.iter().map(|p| p.discount).sum();
    let mut discount_spread = None;
    if g.order_level_discount && !discount_total.is_zero() {
        let takers: Vec<usize> = (0..priced.len())
            .filter(|&i| priced[i].postable && !priced[i].gift && !priced[i].total_ex.is_zero())
            .collect();
        let subtotal: Decimal = takers.iter().map(|&i| priced[i].total_ex).sum();
        for p in priced.iter_mut() {
            p.discount = Decimal::ZERO;
        }
        let mut given = Decimal::ZERO;
        for (n, &i) in takers.iter().enumerate() {
            let share = if n + 1 == takers.len() {
                discount_total - given
            } else {
                discount_total * priced[i].total_ex / subtotal
            };
            given += share;
            priced[i].discount = share;
        }
        discount_spread = Some(discount_total);
    } else {
        for (p, json_line) in priced.iter().zip(products.iter_mut()) {
            if !p.discount.is_zero() {
                json_line["applied_discounts"] = json!([{"id": "d", "amount": p.discount.to_string(),
                    "name": "Promo", "code": "PROMO", "target": "product"}]);
            }
        }
    }

    // Tax after discounts, per line, exactly; the order total is rounded once.
    let line_tax_after = |p: &Priced| -> Decimal {
        if !p.postable {
            Decimal::ZERO
        } else if g.inclusive {
            if p.total_inc.is_zero() {
                Decimal::ZERO
            } else {
                (p.total_inc - p.discount) * p.total_tax / p.total_inc
            }
        } else {
            (p.total_ex - p.discount) * if p.gift { Decimal::ZERO } else { t }
        }
    };
    let (ship_ex, ship_tax, ship_inc) = charge(minor(g.ship_minor), t, g.inclusive);
    let (hand_ex, hand_tax, hand_inc) = charge(minor(g.handling_minor), t, g.inclusive);
    let (wrap_ex, wrap_tax, wrap_inc) = charge(minor(g.wrap_minor), t, g.inclusive);
    let fee_ex = minor(g.fee_minor);
    let fee_tax = round_minor(fee_ex * t);
    let total_tax = round_minor(
        priced.iter().map(line_tax_after).sum::<Decimal>()
            + ship_tax
            + hand_tax
            + wrap_tax
            + fee_tax,
    );
    // BigCommerce's totals are in minor units: the discount total, not its exact spread shares.
    let lines_net: Decimal = priced
        .iter()
        .filter(|p| p.postable)
        .map(|p| if g.inclusive { p.total_inc } else { p.total_ex })
        .sum::<Decimal>()
        - discount_total;
    let (total_ex, total_inc) = if g.inclusive {
        let inc = lines_net + ship_inc + hand_inc + wrap_inc + fee_ex + fee_tax;
        (inc - total_tax, inc)
    } else {
        let ex = lines_net + ship_ex + hand_ex + wrap_ex + fee_ex;
        (ex, ex + total_tax)
    };
    let gc = floor_minor(total_inc * Decimal::new(g.gc_pct, 2));
    let sc = floor_minor((total_inc - gc) * Decimal::new(g.sc_pct, 2));

    // Refunds, each within what is left to refund.
    let mut remaining: Vec<u64> = priced
        .iter()
        .map(|p| if p.postable { p.qty } else { 0 })
        .collect();
    let mut ship_left = minor(g.ship_minor);
    let mut refunds = Vec::new();
    let mut expected_refunds = Vec::new();
    for (n, r) in g.refunds.iter().enumerate() {
        let id = 50 + n as u64;
        let mut items = Vec::new();
        let (mut value, mut tax) = (Decimal::ZERO, Decimal::ZERO);
        for (pick, qty) in &r.picks {
            let i = pick % priced.len();
            let q = (*qty).min(remaining[i]);
            if q == 0 {
                continue;
            }
            remaining[i] -= q;
            let p = &priced[i];
            let gross = if g.inclusive { p.total_inc } else { p.total_ex };
            let share = Decimal::from(q) / Decimal::from(p.qty);
            value += (gross - p.discount) * share;
            tax += line_tax_after(p) * share;
            items.push(json!({"item_type": "PRODUCT", "item_id": p.id, "quantity": q, "requested_amount": null}));
        }
        let ship = floor_minor(ship_left * Decimal::new(r.ship_pct, 2));
        if !ship.is_zero() {
            ship_left -= ship;
            value += ship;
            tax += ship * ship_tax / minor(g.ship_minor);
            items.push(json!({"item_type": "SHIPPING", "item_id": 1, "requested_amount": ship.to_string().parse::<f64>().unwrap()}));
        }
        let refund_tax = round_minor(tax);
        let total = if g.inclusive {
            round_minor(value)
        } else {
            round_minor(value) + refund_tax
        };
        if total.is_zero() {
            continue;
        }
        let to_credit = floor_minor(total * Decimal::new(r.store_credit_pct, 2));
        let mut payments = Vec::new();
        for (pid, provider, amount) in [
            (1, "storecredit", to_credit),
            (2, "braintree", total - to_credit),
        ] {
            if !amount.is_zero() {
                payments.push(json!({"id": id * 10 + pid, "provider_id": provider, "amount": amount.to_string().parse::<f64>().unwrap()}));
            }
        }
        refunds.push(
            json!({"id": id, "order_id": 9000, "created": "2026-05-02T12:00:00+00:00",
            "total_amount": total.to_string().parse::<f64>().unwrap(),
            "total_tax": refund_tax.to_string().parse::<f64>().unwrap(),
            "items": items, "payments": payments}),
        );
        expected_refunds.push((id, total, refund_tax));
    }

    let order = json!({
        "id": 9000, "date_created": "Fri, 01 May 2026 12:00:00 +0000", "status_id": 10, "channel_id": 1,
        "shipping_cost_ex_tax": ship_ex.to_string(), "shipping_cost_inc_tax": ship_inc.to_string(), "shipping_cost_tax": ship_tax.to_string(),
        "handling_cost_ex_tax": hand_ex.to_string(), "handling_cost_inc_tax": hand_inc.to_string(), "handling_cost_tax": hand_tax.to_string(),
        "wrapping_cost_ex_tax": wrap_ex.to_string(), "wrapping_cost_inc_tax": wrap_inc.to_string(), "wrapping_cost_tax": wrap_tax.to_string(),
        "fees": if g.fee_minor == 0 { json!([]) } else { json!([{"id": 3, "display_name_merchant": "Fee",
            "cost_ex_tax": fee_ex.to_string(), "cost_inc_tax": (fee_ex + fee_tax).to_string(), "cost_tax": fee_tax.to_string()}]) },
        "total_ex_tax": total_ex.to_string(), "total_inc_tax": total_inc.to_string(), "total_tax": total_tax.to_string(),
        "discount_amount": if discount_spread.is_some() { discount_total.to_string() } else { "0".to_string() },
        "coupon_discount": "0",
        "gift_certificate_amount": gc.to_string(), "store_credit_amount": sc.to_string(),
        "is_tax_inclusive_pricing": g.inclusive,
        "payment_method": "Credit Card", "payment_provider_id": "braintree",
        "currency_code": code, "default_currency_code": code,
        "store_default_currency_code": "USD", "store_default_to_transactional_exchange_rate": "1.2500000000"
    });
    let doc = json!({"order": order, "products": products, "refunds": refunds,
        "categories": {"77": [21], "88": [31], "95": [40]}, "category_tree": crate::support::example_tree()});
    (
        doc,
        Expected {
            total_inc,
            total_tax,
            discount_spread,
            refunds: expected_refunds,
        },
    )
}

fn journals(
    config: &ConnectorConfig,
    bundle: &OrderBundle,
) -> Result<(Journal, Vec<Journal>), JournalError> {
    let ctx = JournalContext::new(config, "us").unwrap();
    let sale = build_sale(&ctx, bundle)?;
    let refunds = bundle
        .refunds
        .iter()
        .map(|r| build_refund(&ctx, bundle, r.id))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((sale, refunds))
}

fn sum_side(j: &Journal, roles: &[AccountRole], debit: bool) -> Decimal {
    j.lines
        .iter()
        .filter(|l| roles.contains(&l.account_role))
        .map(|l| if debit { l.dr } else { l.cr })
        .sum()
}

fn configs() -> [ConnectorConfig; 2] {
    let netted = crate::support::example_config();
    let mut doc = crate::support::example_document();
    doc["posting"]["discounts"] = json!("separate");
    [netted, crate::support::config_from(&doc)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn consistent_orders_balance_and_reconcile_to_bigcommerce_totals(g in gen_order()) {
        let (doc, expected) = build(&g);
        let bundle = OrderBundle::from_value(doc).unwrap();
        for config in configs() {
            let (sale, refunds) = journals(&config, &bundle).unwrap();
            let tolerance = sale.currency.from_minor(i64::from(config.posting.rounding_tolerance));
            for j in std::iter::once(&sale).chain(&refunds) {
                prop_assert!(j.is_balanced(), "{} does not balance", j.batch_name);
                prop_assert!(!j.has_totals_mismatch(), "{}: {:?}", j.batch_name, j.flags);
                for l in j.lines.iter().filter(|l| l.account_role == AccountRole::Rounding) {
                    prop_assert!(l.dr + l.cr <= tolerance);
                }
                for l in &j.lines {
                    prop_assert!(l.dr >= Decimal::ZERO && l.cr >= Decimal::ZERO);
                    prop_assert!(l.dr.is_zero() != l.cr.is_zero(), "one side per line");
                    prop_assert_eq!(l.dr.scale().max(l.cr.scale()), sale.currency.exponent());
                }
            }
            prop_assert_eq!(
                sale.flags.contains(&JournalFlag::OrderDiscountAllocated { amount: expected.discount_spread.unwrap_or_default() }),
                expected.discount_spread.is_some()
            );

            // What the customer handed over (receivable, gift certificates, store credit)...
            let tenders = [AccountRole::Receivable, AccountRole::GiftCertificate, AccountRole::StoreCredit];
            prop_assert_eq!(sum_side(&sale, &tenders, true), expected.total_inc);
            // ...less what each refund handed back, equals BigCommerce's net.
            let mut refunded = Decimal::ZERO;
            let mut tax_refunded = Decimal::ZERO;
            prop_assert_eq!(refunds.len(), expected.refunds.len());
            for (j, (id, total, tax)) in refunds.iter().zip(&expected.refunds) {
                prop_assert_eq!(j.linked_batch.as_deref(), Some(sale.batch_name.as_str()));
                prop_assert_eq!(&j.batch_name, &format!("BC-us-9000-refund-{id}"));
                prop_assert_eq!(sum_side(j, &[AccountRole::Receivable, AccountRole::StoreCredit], false), *total);
                refunded += *total;
                tax_refunded += *tax;
            }
            let net_tenders = sale.net_of(AccountRole::Receivable) + sale.net_of(AccountRole::StoreCredit)
                + sum_side(&sale, &[AccountRole::GiftCertificate], true)
                + refunds.iter().map(|j| j.net_of(AccountRole::Receivable) + j.net_of(AccountRole::StoreCredit)).sum::<Decimal>();
            prop_assert_eq!(net_tenders, expected.total_inc - refunded);
            // Tax payable, net of refunds, is BigCommerce's tax less the tax refunded.
            let net_tax = -(sale.net_of(AccountRole::Tax) + refunds.iter().map(|j| j.net_of(AccountRole::Tax)).sum::<Decimal>());
            prop_assert_eq!(net_tax, expected.total_tax - tax_refunded);
        }
    }

    #[test]
    fn an_inconsistent_order_puts_exactly_its_difference_in_suspense_or_is_held(
        g in gen_order(),
        delta_minor in prop_oneof![-50_000i64..=-6, 6i64..=50_000],
    ) {
        let (mut doc, expected) = build(&g);
        let currency = common::money::Currency::parse(doc["order"]["default_currency_code"].as_str().unwrap()).unwrap();
        let delta = currency.from_minor(delta_minor);
        doc["order"]["total_inc_tax"] = json!((expected.total_inc + delta).to_string());
        let bundle = OrderBundle::from_value(doc).unwrap();
        let config = crate::support::example_config();
        let ctx = JournalContext::new(&config, "us").unwrap();
        let sale = build_sale(&ctx, &bundle).unwrap();
        prop_assert!(sale.is_balanced());
        let Some(JournalFlag::TotalsMismatch { difference, .. }) = sale.flags.iter().find(|f| matches!(f, JournalFlag::TotalsMismatch { .. })).cloned() else {
            return Err(TestCaseError::fail("no totals_mismatch flag"));
        };
        // The consistent order was off by at most its rounding; the difference is the change.
        prop_assert!((difference - delta).abs() <= currency.minor_unit(), "difference {} for a change of {}", difference, delta);
        let suspense: Decimal = sale.lines.iter().filter(|l| l.account_role == AccountRole::Suspense).map(|l| l.dr + l.cr).sum();
        prop_assert_eq!(suspense, difference.abs());

        let mut held_doc = crate::support::example_document();
        held_doc["posting"]["totals_mismatch"] = json!("hold");
        let held = crate::support::config_from(&held_doc);
        let ctx = JournalContext::new(&held, "us").unwrap();
        let is_mismatch = matches!(build_sale(&ctx, &bundle), Err(JournalError::TotalsMismatch { order: 9000, .. }));
        prop_assert!(is_mismatch);
    }

    #[test]
    fn journals_survive_a_round_trip_through_json(g in gen_order()) {
        let (doc, _) = build(&g);
        let bundle = OrderBundle::from_value(doc).unwrap();
        let (sale, refunds) = journals(&crate::support::example_config(), &bundle).unwrap();
        for j in std::iter::once(sale).chain(refunds) {
            let text = serde_json::to_string(&j).unwrap();
            let back: Journal = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(back, j);
        }
    }
}
