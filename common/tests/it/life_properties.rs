//! Property tests over whole order lives. A life is a sale and then any sequence of refunds (of
//! lines, shipping, the fee, tax alone, a custom amount; through the card, store credit, a gift
//! certificate or split; declined), cancellations, reinstatements (replayed by a person or not),
//! and edits. After every step, every journal the decision posts balances, nothing lands in
//! suspense or rounding, and the posted journals sum, per account combination and to the minor
//! unit, to what the life implies.
//!
//! The oracle is independent of the code under test: it prices the order itself in integer minor
//! units (prices chosen so every figure BigCommerce reports is exact), keeps its own table of the
//! example document's accounts, and states the position from the life's facts: what was earned
//! net of returns, the tax owed net of tax given back, what each tender holds, and, once
//! cancelled, the refund due. It shares no helper with the builders.

use crate::support::{config_from, example_document, example_tree};
use chrono::Utc;
use common::bigcommerce::OrderBundle;
use common::config::ConnectorConfig;
use common::journal::{Journal, JournalContext, Position, PostingKind};
use common::mapping::AccountRole;
use common::posting::decide::{decide, rebuild};
use common::state::{PostingRecord, PostingState};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const CURRENCIES: [(&str, u32); 4] = [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3)];
/// Tax rates in whole percent: several per order.
const RATES: [i64; 4] = [0, 5, 10, 20];
const PRODUCTS: [u64; 4] = [77, 88, 95, 1234];
/// Discounts as fractions of a line's price (numerator, denominator).
const FRACTIONS: [(i64, i64); 4] = [(0, 1), (1, 4), (1, 2), (1, 5)];
const ORDER_ID: u64 = 9100;
const ADDRESS_ID: u64 = 12;
const FEE_ID: u64 = 3;

#[derive(Debug, Clone)]
struct GenLine {
    product: usize,
    giftbox: bool,
    gift_certificate: bool,
    qty: u64,
    unit_k: i64,
    rate: usize,
    discount: usize,
}

#[derive(Debug, Clone)]
struct GenOrder {
    currency: usize,
    inclusive: bool,
    separate: bool,
    order_level: usize,
    lines: Vec<GenLine>,
    ship_k: i64,
    ship_rate: usize,
    handling_k: i64,
    wrap_k: i64,
    fee_k: i64,
    fee_rate: usize,
    gc_pct: i64,
    sc_pct: i64,
    stripe: bool,
}

#[derive(Debug, Clone)]
enum Event {
    Refund {
        lines: Vec<(usize, u64)>,
        shipping: u8,
        fee: u8,
        tax_only: bool,
        custom: bool,
        tender: u8,
        declined: bool,
        month: u32,
        zero_total_tax: bool,
    },
    Cancel,
    Reinstate {
        replay: bool,
    },
    Edit {
        line: usize,
        qty: u64,
    },
}

fn gen_line() -> impl Strategy<Value = GenLine> {
    (
        0..PRODUCTS.len(),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.1),
        1u64..=4,
        1i64..=20,
        0..RATES.len(),
        0..FRACTIONS.len(),
    )
        .prop_map(
            |(product, giftbox, gift_certificate, qty, unit_k, rate, discount)| GenLine {
                product,
                giftbox,
                gift_certificate,
                qty,
                unit_k,
                rate,
                discount,
            },
        )
}

fn gen_order() -> impl Strategy<Value = GenOrder> {
    (
        (
            0..CURRENCIES.len(),
            any::<bool>(),
            any::<bool>(),
            0..FRACTIONS.len(),
        ),
        prop::collection::vec(gen_line(), 1..5),
        (
            0i64..=3,
            0..RATES.len(),
            0i64..=2,
            0i64..=2,
            0i64..=3,
            0..RATES.len(),
        ),
        (
            prop_oneof![Just(0i64), 1i64..=30],
            prop_oneof![Just(0i64), 1i64..=30],
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (currency, inclusive, separate, order_level),
                lines,
                (ship_k, ship_rate, handling_k, wrap_k, fee_k, fee_rate),
                (gc_pct, sc_pct, stripe),
            )| GenOrder {
                currency,
                inclusive,
                separate,
                order_level,
                lines,
                ship_k,
                ship_rate,
                handling_k,
                wrap_k,
                fee_k,
                fee_rate,
                gc_pct,
                sc_pct,
                stripe,
            },
        )
}

fn gen_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        5 => (
            prop::collection::vec((0usize..8, 1u64..=3), 0..3),
            0u8..3,
            0u8..3,
            prop::bool::weighted(0.15),
            prop::bool::weighted(0.15),
            0u8..4,
            prop::bool::weighted(0.1),
            0u32..4,
            any::<bool>(),
        )
            .prop_map(|(lines, shipping, fee, tax_only, custom, tender, declined, month, zero_total_tax)| {
                Event::Refund { lines, shipping, fee, tax_only, custom, tender, declined, month, zero_total_tax }
            }),
        2 => Just(Event::Cancel),
        1 => any::<bool>().prop_map(|replay| Event::Reinstate { replay }),
        1 => (0usize..8, 1u64..=4).prop_map(|(line, qty)| Event::Edit { line, qty }),
    ]
}

/// Minor units per amount, signed (debit positive), per account combination.
type Book = BTreeMap<String, i64>;

fn add(book: &mut Book, account: &str, amount: i64) {
    *book.entry(account.to_string()).or_default() += amount;
}

/// One line as the oracle prices it, in minor units.
#[derive(Debug, Clone)]
struct Priced {
    id: u64,
    spec: GenLine,
    qty: u64,
    refunded: u64,
    unit_ex: i64,
    unit_tax: i64,
    /// Discount per unit, as a fraction of the unit price.
    frac: (i64, i64),
}

impl Priced {
    fn share(amount: i64, (n, d): (i64, i64)) -> i64 {
        assert_eq!(amount * n % d, 0, "generator prices must divide exactly");
        amount * n / d
    }
    fn disc_unit_ex(&self) -> i64 {
        Self::share(self.unit_ex, self.frac)
    }
    fn disc_unit_tax(&self) -> i64 {
        Self::share(self.unit_tax, self.frac)
    }
}

/// The oracle's own table of the example document's accounts (company-cost_center-account-
/// product_line-intercompany), for store `us`.
struct Accounts;

impl Accounts {
    /// (cost centre, revenue account, product line) of a product's category rules.
    fn category(l: &GenLine) -> (&'static str, &'static str, &'static str) {
        match PRODUCTS[l.product] {
            77 => ("310", "4010", "100"),
            88 => ("320", "4020", "200"),
            _ => ("000", "4000", "000"),
        }
    }
    /// The SKU rule `gift-box-promo` sets product line 900 on revenue, whatever the category.
    fn revenue(l: &GenLine) -> String {
        if l.gift_certificate {
            return "101-000-2410-000-000".into();
        }
        let (cc, account, pl) = Self::category(l);
        let pl = if l.giftbox { "900" } else { pl };
        format!("101-{cc}-{account}-{pl}-000")
    }
    /// The revenue line's segments with the returns account (4500).
    fn returns(l: &GenLine) -> String {
        if l.gift_certificate {
            return "101-000-2410-000-000".into();
        }
        let (cc, _, pl) = Self::category(l);
        let pl = if l.giftbox { "900" } else { pl };
        format!("101-{cc}-4500-{pl}-000")
    }
    fn discount(l: &GenLine) -> String {
        match PRODUCTS[l.product] {
            77 => "101-310-4900-100-000".into(),
            88 => "101-320-4900-200-000".into(),
            _ => "101-000-4900-000-000".into(),
        }
    }
    const SHIPPING: &'static str = "101-000-4200-000-000";
    const HANDLING: &'static str = "101-000-4210-000-000";
    const WRAPPING: &'static str = "101-000-4220-000-000";
    const FEE: &'static str = "101-000-4230-000-000";
    const TAX: &'static str = "101-000-2300-000-000";
    const GIFT_CERTIFICATES: &'static str = "101-000-2410-000-000";
    const STORE_CREDIT: &'static str = "101-000-2420-000-000";
    const REFUND_DUE: &'static str = "101-000-2440-000-000";
    const ORDER_RETURNS: &'static str = "101-000-4500-000-000";
    fn gateway(stripe: bool) -> &'static str {
        if stripe {
            "101-000-1230-000-000"
        } else {
            "101-000-1210-000-000"
        }
    }
}

/// A charge (shipping, handling, wrapping, the fee) in minor units: ex-tax, tax.
#[derive(Debug, Clone, Copy, Default)]
struct Charge {
    ex: i64,
    tax: i64,
}

impl Charge {
    fn of(k: i64, rate: i64) -> Self {
        let ex = 2000 * k;
        Self {
            ex,
            tax: ex * rate / 100,
        }
    }
    fn basis(self, inclusive: bool) -> i64 {
        self.ex + if inclusive { self.tax } else { 0 }
    }
}

/// A refund as the oracle knows it.
#[derive(Debug, Clone)]
struct OracleRefund {
    json: Value,
    /// Component amounts per account (debit positive), ex tax, when booked against the sale.
    components: Book,
    tax: i64,
    /// Tender amounts per account (credits, so negative).
    tenders: Book,
    paid: i64,
}

/// The life: the order as BigCommerce has it now, and what the oracle knows of it.
struct Life {
    g: GenOrder,
    exp: u32,
    code: &'static str,
    lines: Vec<Priced>,
    status: u32,
    payment_status: String,
    refunds: Vec<OracleRefund>,
    ship_refunded_halves: i64,
    fee_refunded: bool,
    modified: u32,
    /// The cancellation is on the books (posted, and no reinstatement posted since).
    booked_cancelled: bool,
    /// Refund amounts given back per tender, in minor units.
    gc_used: i64,
    sc_used: i64,
}

impl Life {
    fn new(g: GenOrder) -> Self {
        let (code, exp) = CURRENCIES[g.currency];
        let single_rate = g
            .lines
            .iter()
            .all(|l| l.gift_certificate || l.rate == g.lines[0].rate);
        // An order-level discount is exact when spread by ex-tax share if prices exclude tax,
        // or include one tax rate only.
        let order_level = if g.inclusive && !single_rate {
            0
        } else {
            g.order_level
        };
        let lines = g
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let unit_ex = 2000 * l.unit_k;
                let unit_tax = if l.gift_certificate {
                    0
                } else {
                    unit_ex * RATES[l.rate] / 100
                };
                let frac = if l.gift_certificate {
                    (0, 1)
                } else if order_level != 0 {
                    FRACTIONS[order_level]
                } else {
                    FRACTIONS[l.discount]
                };
                Priced {
                    id: 100 + i as u64,
                    spec: l.clone(),
                    qty: l.qty,
                    refunded: 0,
                    unit_ex,
                    unit_tax,
                    frac,
                }
            })
            .collect();
        let mut g = g;
        g.order_level = order_level;
        let mut life = Life {
            g,
            exp,
            code,
            lines,
            status: 11,
            payment_status: "captured".into(),
            refunds: Vec::new(),
            ship_refunded_halves: 0,
            fee_refunded: false,
            modified: 0,
            booked_cancelled: false,
            gc_used: 0,
            sc_used: 0,
        };
        let total = life.totals().2;
        life.gc_used = total * life.g.gc_pct / 100;
        life.sc_used = (total - life.gc_used) * life.g.sc_pct / 100;
        life
    }

    fn ship(&self) -> Charge {
        Charge::of(self.g.ship_k, RATES[self.g.ship_rate])
    }
    fn handling(&self) -> Charge {
        Charge::of(self.g.handling_k, RATES[self.g.ship_rate])
    }
    fn wrapping(&self) -> Charge {
        Charge::of(self.g.wrap_k, RATES[self.g.ship_rate])
    }
    fn fee(&self) -> Charge {
        Charge::of(self.g.fee_k, RATES[self.g.fee_rate])
    }

    /// (ex tax, tax, inc tax) of the order, after discounts.
    fn totals(&self) -> (i64, i64, i64) {
        let mut ex = 0;
        let mut tax = 0;
        for l in &self.lines {
            let q = l.qty as i64;
            ex += (l.unit_ex - l.disc_unit_ex()) * q;
            tax += (l.unit_tax - l.disc_unit_tax()) * q;
        }
        for c in [self.ship(), self.handling(), self.wrapping(), self.fee()] {
            ex += c.ex;
            tax += c.tax;
        }
        (ex, tax, ex + tax)
    }

    fn money(&self, minor: i64) -> String {
        Decimal::new(minor, self.exp).to_string()
    }
    fn number(&self, minor: i64) -> Value {
        json!(
            Decimal::new(minor, self.exp)
                .to_string()
                .parse::<f64>()
                .unwrap()
        )
    }

    fn gateway_name(&self) -> &'static str {
        if self.g.stripe { "stripe" } else { "braintree" }
    }

    /// The bundle file BigCommerce's answers make now.
    fn bundle(&self) -> OrderBundle {
        let inc = self.g.inclusive;
        let basis = |ex: i64, tax: i64| ex + if inc { tax } else { 0 };
        let products: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                let q = l.qty as i64;
                let pid = if l.spec.gift_certificate {
                    0
                } else {
                    PRODUCTS[l.spec.product]
                };
                let sku = if l.spec.giftbox {
                    "NW-GIFTBOX".to_string()
                } else {
                    format!("SKU-{pid}")
                };
                let disc = basis(l.disc_unit_ex(), l.disc_unit_tax()) * q;
                let applied = if disc != 0 && self.g.order_level == 0 {
                    json!([{"id": "d", "amount": self.money(disc), "name": "Promo", "code": "PROMO", "target": "product"}])
                } else {
                    json!([])
                };
                json!({"id": l.id, "order_id": ORDER_ID, "product_id": pid, "sku": sku,
                    "name": format!("Item {}", l.id),
                    "type": if l.spec.gift_certificate { "giftcertificate" } else { "physical" },
                    "quantity": l.qty,
                    "price_ex_tax": self.money(l.unit_ex), "price_inc_tax": self.money(l.unit_ex + l.unit_tax),
                    "total_ex_tax": self.money(l.unit_ex * q), "total_inc_tax": self.money((l.unit_ex + l.unit_tax) * q),
                    "total_tax": self.money(l.unit_tax * q), "applied_discounts": applied,
                    "parent_order_product_id": null, "is_bundled_product": false})
            })
            .collect();
        let (ex, tax, inc_total) = self.totals();
        let order_discount: i64 = if self.g.order_level == 0 {
            0
        } else {
            self.lines
                .iter()
                .map(|l| basis(l.disc_unit_ex(), l.disc_unit_tax()) * l.qty as i64)
                .sum()
        };
        let subtotal_ex: i64 = self.lines.iter().map(|l| l.unit_ex * l.qty as i64).sum();
        let subtotal_tax: i64 = self.lines.iter().map(|l| l.unit_tax * l.qty as i64).sum();
        let charge = |c: Charge| {
            (
                self.money(c.ex),
                self.money(c.tax),
                self.money(c.ex + c.tax),
            )
        };
        let (se, st, si) = charge(self.ship());
        let (he, ht, hi) = charge(self.handling());
        let (we, wt, wi) = charge(self.wrapping());
        let fee = self.fee();
        let status_label = match self.status {
            4 => "Refunded",
            5 => "Cancelled",
            14 => "Partially Refunded",
            _ => "Awaiting Fulfillment",
        };
        let order = json!({
            "id": ORDER_ID, "date_created": "Tue, 10 Mar 2026 14:00:00 +0000",
            "date_modified": format!("Tue, 10 Mar 2026 15:{:02}:00 +0000", self.modified.min(59)),
            "status_id": self.status, "status": status_label, "channel_id": 1,
            "subtotal_ex_tax": self.money(subtotal_ex), "subtotal_inc_tax": self.money(subtotal_ex + subtotal_tax),
            "subtotal_tax": self.money(subtotal_tax),
            "shipping_cost_ex_tax": se, "shipping_cost_tax": st, "shipping_cost_inc_tax": si,
            "handling_cost_ex_tax": he, "handling_cost_tax": ht, "handling_cost_inc_tax": hi,
            "wrapping_cost_ex_tax": we, "wrapping_cost_tax": wt, "wrapping_cost_inc_tax": wi,
            "fees": if self.g.fee_k == 0 { json!([]) } else { json!([{"id": FEE_ID, "display_name_merchant": "Fee",
                "cost_ex_tax": self.money(fee.ex), "cost_inc_tax": self.money(fee.ex + fee.tax), "cost_tax": self.money(fee.tax)}]) },
            "total_ex_tax": self.money(ex), "total_inc_tax": self.money(inc_total), "total_tax": self.money(tax),
            "discount_amount": "0", "coupon_discount": self.money(order_discount),
            "gift_certificate_amount": self.money(self.gc_used), "store_credit_amount": self.money(self.sc_used),
            "is_tax_inclusive_pricing": inc,
            "payment_method": "Credit Card", "payment_provider_id": "5kq2z8w1",
            "payment_status": self.payment_status,
            "currency_code": self.code, "default_currency_code": self.code,
            "store_default_currency_code": "USD", "store_default_to_transactional_exchange_rate": "1.2500000000"
        });
        let transactions = json!([{"id": 1, "order_id": ORDER_ID.to_string(), "event": "purchase",
            "method": "credit_card", "amount": self.number(inc_total - self.gc_used - self.sc_used),
            "currency": self.code, "gateway": self.gateway_name(), "status": "ok"}]);
        let refunds: Vec<Value> = self.refunds.iter().map(|r| r.json.clone()).collect();
        OrderBundle::from_value(
            json!({"order": order, "products": products, "refunds": refunds,
            "categories": {"77": [21], "88": [31], "95": [40]}, "category_tree": example_tree(),
            "transactions": transactions}),
        )
        .unwrap()
    }

    /// What the shopper has paid and not had back (the most a refund may give back).
    fn standing(&self) -> i64 {
        self.totals().2 - self.refunds.iter().map(|r| r.paid).sum::<i64>()
    }

    /// Applies a refund; `None` when there is nothing (left) to refund.
    fn refund(&mut self, e: &Event, n: u64) -> Option<()> {
        let Event::Refund {
            lines,
            shipping,
            fee,
            tax_only,
            custom,
            tender,
            declined,
            month,
            zero_total_tax,
        } = e
        else {
            return None;
        };
        let inc = self.g.inclusive;
        let mut components = Book::new();
        let mut tax = 0;
        let mut value = 0; // in the pricing basis
        let mut items = Vec::new();
        let separate = self.g.separate;
        for (pick, q) in lines {
            let i = pick % self.lines.len();
            let l = &mut self.lines[i];
            let q = (*q).min(l.qty - l.refunded);
            if q == 0 {
                continue;
            }
            l.refunded += q;
            let qi = q as i64;
            let net_ex = (l.unit_ex - l.disc_unit_ex()) * qi;
            let net_tax = (l.unit_tax - l.disc_unit_tax()) * qi;
            if l.spec.gift_certificate {
                add(&mut components, &Accounts::revenue(&l.spec), net_ex);
            } else if separate && l.frac.0 != 0 {
                add(&mut components, &Accounts::returns(&l.spec), l.unit_ex * qi);
                add(
                    &mut components,
                    &Accounts::discount(&l.spec),
                    -l.disc_unit_ex() * qi,
                );
            } else {
                add(&mut components, &Accounts::returns(&l.spec), net_ex);
            }
            tax += net_tax;
            value += net_ex + if inc { net_tax } else { 0 };
            items.push(json!({"item_type": "PRODUCT", "item_id": l.id, "quantity": q}));
        }
        let ship = self.ship();
        let halves = i64::from(*shipping).min(2 - self.ship_refunded_halves);
        if halves > 0 && ship.ex != 0 {
            self.ship_refunded_halves += halves;
            let (ex, t) = (ship.ex * halves / 2, ship.tax * halves / 2);
            add(&mut components, Accounts::SHIPPING, ex);
            tax += t;
            let basis = ex + if inc { t } else { 0 };
            value += basis;
            items.push(json!({"item_type": "SHIPPING", "item_id": ADDRESS_ID, "requested_amount": self.number(basis)}));
        }
        let f = self.fee();
        if *fee > 0 && !self.fee_refunded && f.ex != 0 {
            self.fee_refunded = true;
            add(&mut components, Accounts::FEE, f.ex);
            tax += f.tax;
            value += f.basis(inc);
            let id = if *fee == 1 { FEE_ID } else { ORDER_ID };
            items.push(json!({"item_type": "FEE", "item_id": id, "requested_amount": self.number(f.basis(inc))}));
        }
        let mut tax_item = 0;
        if *tax_only && items.is_empty() {
            tax_item = (self.standing() / 10).min(5 * 10i64.pow(self.exp));
            if tax_item > 0 {
                tax += tax_item;
                value += tax_item;
                items.push(json!({"item_type": "TAX", "item_id": ORDER_ID, "requested_amount": self.number(tax_item)}));
            }
        }
        // Prices including tax carry the tax in `value`; excluding it, the tax comes on top
        // (a TAX item is tax and is in `value` already).
        let mut total = if inc { value } else { value + tax - tax_item };
        if *custom {
            let amount = ((self.standing() - total) / 4).max(0);
            if amount > 0 {
                add(&mut components, Accounts::ORDER_RETURNS, amount);
                total += amount;
                items.push(json!({"item_type": "ORDER", "item_id": ORDER_ID, "requested_amount": self.number(amount)}));
            }
        }
        if total <= 0 || total > self.standing() {
            return None;
        }
        let card = Accounts::gateway(self.g.stripe);
        let provider = if self.g.stripe {
            "stripev3"
        } else {
            "braintree"
        };
        let split: Vec<(&str, &str, i64)> = match tender {
            0 => vec![(provider, card, total)],
            1 => vec![("storecredit", Accounts::STORE_CREDIT, total)],
            2 => vec![("giftcertificate", Accounts::GIFT_CERTIFICATES, total)],
            _ => vec![
                ("storecredit", Accounts::STORE_CREDIT, total / 2),
                (provider, card, total - total / 2),
            ],
        };
        let mut tenders = Book::new();
        let mut payments = Vec::new();
        for (k, (p, account, amount)) in split.iter().enumerate() {
            if *amount == 0 {
                continue;
            }
            if !declined {
                add(&mut tenders, account, -amount);
            }
            payments.push(
                json!({"id": n * 10 + k as u64, "provider_id": p, "amount": self.number(*amount),
                "offline": *p != provider, "is_declined": declined}),
            );
        }
        let reported_tax = if *zero_total_tax && items.len() == 1 && tax_item > 0 {
            0
        } else {
            tax
        };
        let json = json!({"id": n, "order_id": ORDER_ID,
            "created": format!("2026-{:02}-15T12:00:00+00:00", 3 + month),
            "reason": "", "total_amount": self.number(total), "total_tax": self.number(reported_tax),
            "items": items, "payments": payments});
        let paid = if *declined { 0 } else { total };
        self.refunds.push(OracleRefund {
            json,
            components: if *declined { Book::new() } else { components },
            tax: if *declined { 0 } else { tax },
            tenders,
            paid,
        });
        if !declined {
            let refunded: i64 = self.refunds.iter().map(|r| r.paid).sum();
            let full = refunded >= self.totals().2;
            self.status = if full { 4 } else { 14 };
            self.payment_status = if full {
                "refunded"
            } else {
                "partially refunded"
            }
            .into();
        }
        self.modified += 1;
        Some(())
    }

    /// The sale's tenders: what the shopper handed over, per account.
    fn sale_tenders(&self, with_gateway: bool) -> Book {
        let mut b = Book::new();
        let total = self.totals().2;
        if with_gateway {
            add(
                &mut b,
                Accounts::gateway(self.g.stripe),
                total - self.gc_used - self.sc_used,
            );
        }
        add(&mut b, Accounts::GIFT_CERTIFICATES, self.gc_used);
        add(&mut b, Accounts::STORE_CREDIT, self.sc_used);
        b
    }

    /// What the ledger must hold now, by the oracle.
    fn expected(&self) -> Book {
        let mut b = if self.booked_cancelled {
            let captured = self.payment_status != "authorized";
            self.sale_tenders(captured)
        } else {
            self.sale_tenders(true)
        };
        for r in &self.refunds {
            for (a, v) in &r.tenders {
                add(&mut b, a, *v);
            }
        }
        if self.booked_cancelled {
            let held: i64 = b.values().sum();
            add(&mut b, Accounts::REFUND_DUE, -held);
        } else {
            let separate = self.g.separate;
            for l in &self.lines {
                let q = l.qty as i64;
                if separate && l.frac.0 != 0 && !l.spec.gift_certificate {
                    add(&mut b, &Accounts::revenue(&l.spec), -l.unit_ex * q);
                    add(&mut b, &Accounts::discount(&l.spec), l.disc_unit_ex() * q);
                } else {
                    add(
                        &mut b,
                        &Accounts::revenue(&l.spec),
                        -(l.unit_ex - l.disc_unit_ex()) * q,
                    );
                }
            }
            let (_, tax, _) = self.totals();
            add(&mut b, Accounts::SHIPPING, -self.ship().ex);
            add(&mut b, Accounts::HANDLING, -self.handling().ex);
            add(&mut b, Accounts::WRAPPING, -self.wrapping().ex);
            add(&mut b, Accounts::FEE, -self.fee().ex);
            add(&mut b, Accounts::TAX, -tax);
            for r in &self.refunds {
                for (a, v) in &r.components {
                    add(&mut b, a, *v);
                }
                add(&mut b, Accounts::TAX, r.tax);
            }
        }
        b.retain(|_, v| *v != 0);
        b
    }

    fn expected_position(&self) -> BTreeMap<String, Decimal> {
        self.expected()
            .into_iter()
            .map(|(a, v)| (a, Decimal::new(v, self.exp)))
            .collect()
    }
}

/// The books of one order, as the poster and a person (replay) leave them.
#[derive(Default)]
struct Books {
    records: Vec<PostingRecord>,
}

impl Books {
    fn record(&mut self, journal: Journal, state: PostingState) {
        self.records
            .push(PostingRecord::new(journal, state, Utc::now()));
    }

    fn posted() -> PostingState {
        PostingState::Posted {
            batch_id: 1,
            group_id: 1,
            request_id: None,
        }
    }

    /// The poster, until it plans nothing more; every journal checked on the way.
    fn settle(
        &mut self,
        ctx: &JournalContext<'_>,
        bundle: &OrderBundle,
    ) -> Result<(), TestCaseError> {
        for _ in 0..8 {
            let plan = decide(ctx, bundle, &self.records)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for j in plan
                .journals
                .iter()
                .chain(plan.held.iter().map(|h| &h.journal))
            {
                prop_assert!(j.is_balanced(), "{} does not balance", j.batch_name);
                for l in &j.lines {
                    prop_assert!(
                        !matches!(
                            l.account_role,
                            AccountRole::Suspense | AccountRole::Rounding
                        ),
                        "{}: {} {} {}",
                        j.batch_name,
                        l.account_role,
                        l.dr,
                        l.cr
                    );
                    prop_assert!(l.dr.is_zero() != l.cr.is_zero(), "one side per line");
                }
            }
            prop_assert!(
                plan.held
                    .iter()
                    .all(|h| matches!(h.journal.posting, PostingKind::Reinstatement(_))),
                "only reinstatements are held: {:?}",
                plan.held.iter().map(|h| &h.reason).collect::<Vec<_>>()
            );
            let done = plan.journals.is_empty() && plan.held.is_empty();
            for j in plan.journals {
                self.record(j, Self::posted());
            }
            for h in plan.held {
                self.record(h.journal, PostingState::Held { reason: h.reason });
            }
            for (kind, reason) in plan.superseded {
                if let Some(r) = self.records.iter_mut().find(|r| r.key.posting == kind) {
                    r.state = PostingState::Rejected { reason };
                }
            }
            if done {
                return Ok(());
            }
        }
        Err(TestCaseError::fail(
            "the decision did not settle in 8 rounds",
        ))
    }

    /// A person replays the held reinstatement; true when it posted.
    fn replay(
        &mut self,
        ctx: &JournalContext<'_>,
        bundle: &OrderBundle,
    ) -> Result<bool, TestCaseError> {
        let Some(i) = self.records.iter().position(|r| {
            matches!(r.key.posting, PostingKind::Reinstatement(_))
                && matches!(r.state, PostingState::Held { .. })
        }) else {
            return Ok(false);
        };
        let kind = self.records[i].key.posting;
        let rebuilt = rebuild(ctx, bundle, &self.records, kind)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let Some(journal) = rebuilt else {
            return Ok(false);
        };
        self.records[i].journal = journal;
        self.records[i].state = Self::posted();
        Ok(true)
    }

    fn ledger(&self) -> BTreeMap<String, Decimal> {
        Position::of(
            self.records
                .iter()
                .filter(|r| matches!(r.state, PostingState::Posted { .. }))
                .map(|r| &r.journal),
        )
        .accounts
        .into_iter()
        .map(|a| (a.account.join("-"), a.net))
        .collect()
    }
}

fn config(separate: bool) -> ConnectorConfig {
    let mut doc = example_document();
    if separate {
        doc["posting"]["discounts"] = json!("separate");
    }
    config_from(&doc)
}

fn live(g: GenOrder, events: Vec<Event>) -> Result<(), TestCaseError> {
    let config = config(g.separate);
    let ctx = JournalContext::new(&config, "us").unwrap();
    let mut life = Life::new(g);
    let mut books = Books::default();
    books.settle(&ctx, &life.bundle())?;
    prop_assert_eq!(books.ledger(), life.expected_position(), "after the sale");
    for (n, e) in events.iter().enumerate() {
        let mut replay = false;
        match e {
            Event::Refund { .. } => {
                if life.refund(e, 60 + n as u64).is_none() {
                    continue;
                }
            }
            Event::Cancel => {
                if life.status == 5 {
                    continue;
                }
                life.status = 5;
                life.booked_cancelled = true;
                life.modified += 1;
            }
            Event::Reinstate { replay: r } => {
                if life.status != 5 && !life.booked_cancelled {
                    continue;
                }
                life.status = 11;
                life.modified += 1;
                replay = *r;
            }
            Event::Edit { line, qty } => {
                // Edits before any refund or cancellation only (BigCommerce re-prices the order).
                if !life.refunds.is_empty() || life.booked_cancelled {
                    continue;
                }
                let i = line % life.lines.len();
                life.lines[i].qty = *qty;
                let total = life.totals().2;
                life.gc_used = life.gc_used.min(total);
                life.sc_used = life.sc_used.min(total - life.gc_used);
                life.modified += 1;
            }
        }
        let bundle = life.bundle();
        books.settle(&ctx, &bundle)?;
        if replay && books.replay(&ctx, &bundle)? {
            life.booked_cancelled = false;
            books.settle(&ctx, &bundle)?;
        }
        prop_assert_eq!(
            books.ledger(),
            life.expected_position(),
            "after event {} {:?}",
            n,
            e
        );
        // Each business event is its own journal: only an edit calls for an adjustment.
        let adjusted = books
            .records
            .iter()
            .any(|r| matches!(r.key.posting, PostingKind::Adjustment(_)));
        let edited = events[..=n].iter().any(|e| matches!(e, Event::Edit { .. }));
        prop_assert!(
            !adjusted || edited,
            "an adjustment with no edit, after event {} {:?}",
            n,
            e
        );
    }
    // Each refund is dated the day it was made, whatever month that is.
    for r in &books.records {
        let PostingKind::Refund(id) = r.key.posting else {
            continue;
        };
        let made = life.refunds.iter().find(|x| x.json["id"] == id).unwrap();
        let created = made.json["created"].as_str().unwrap();
        prop_assert_eq!(
            r.journal.accounting_date.to_string(),
            created[..10].to_string()
        );
    }
    // Conversions: the sale at the order's own rate, each refund on its own date.
    for r in &books.records {
        let j = &r.journal;
        if life.code == "USD" {
            prop_assert!(j.conversion.is_none());
            continue;
        }
        let c = j.conversion.as_ref().unwrap();
        match j.posting {
            PostingKind::Refund(_) => {
                prop_assert_eq!(c.conversion_type.as_str(), "Corporate");
                prop_assert_eq!(c.date, j.accounting_date);
                prop_assert!(c.rate.is_none());
            }
            _ => {
                prop_assert_eq!(c.conversion_type.as_str(), "User");
                prop_assert_eq!(c.rate, Some(Decimal::new(8, 1)));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_step_of_an_orders_life_leaves_the_ledger_at_its_expected_position(
        g in gen_order(),
        events in prop::collection::vec(gen_event(), 0..7),
    ) {
        live(g, events)?;
    }
}
