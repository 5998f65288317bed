//! Turning an order description into the V2 JSON BigCommerce would return for it: four-place
//! amounts as strings, totals in the currency's minor units, RFC 2822 dates, line items with
//! their discounts, and consignments that carry the lines.

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LineKind {
    /// Shipped goods.
    #[default]
    Physical,
    /// Downloads.
    Digital,
    /// A gift certificate sold (never taxed).
    Giftcertificate,
}

/// One order line to create.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LineSpec {
    /// Catalog product id; 0 for a custom product.
    pub product_id: u64,
    /// Name; the catalog's when empty.
    #[serde(default)]
    pub name: String,
    /// SKU; the catalog's when empty.
    #[serde(default)]
    pub sku: String,
    /// Units.
    pub quantity: u64,
    /// Unit price in the store's pricing basis (inc-tax when prices include tax); the catalog
    /// price when absent.
    #[serde(default)]
    pub unit_price: Option<Decimal>,
    /// Physical, digital or gift certificate.
    #[serde(default)]
    pub kind: LineKind,
    /// Discount on the whole line, in the pricing basis.
    #[serde(default)]
    pub discount: Decimal,
    /// Bundle children (catalog product id, units), priced at zero.
    #[serde(default)]
    pub bundle_children: Vec<(u64, u64)>,
}

/// A custom fee on an order (`fees[]`, type `custom_fee`): charged on top of the goods,
/// taxed at the order's rate unless `taxable` is off.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FeeSpec {
    /// The name the merchant and the shopper see.
    pub name: String,
    /// The fee in the store's pricing basis (inc-tax when prices include tax).
    pub amount: Decimal,
    /// Taxed at the order's rate.
    #[serde(default = "yes")]
    pub taxable: bool,
}

/// The currency the storefront showed the shopper, when it differs from the one they paid in
/// (`currency_code` and `currency_exchange_rate`; amounts stay in the transactional currency).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DisplayCurrency {
    /// ISO 4217 code of the display currency.
    pub code: String,
    /// "The exchange rate between the store's default currency and the display currency."
    pub rate: Decimal,
}

/// An order to create.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OrderSpec {
    /// Storefront.
    #[serde(default = "one")]
    pub channel_id: u64,
    /// Status id (11 Awaiting Fulfillment by default).
    #[serde(default = "awaiting_fulfillment")]
    pub status_id: u32,
    /// Transactional currency.
    #[serde(default = "usd")]
    pub currency: String,
    /// Store base currency (for multi-currency orders).
    #[serde(default)]
    pub store_currency: Option<String>,
    /// 1 store-currency unit in the transactional currency.
    #[serde(default)]
    pub exchange_rate: Option<Decimal>,
    /// Prices include tax.
    #[serde(default)]
    pub tax_inclusive: bool,
    /// Tax rate, e.g. 0.08.
    #[serde(default)]
    pub tax_rate: Decimal,
    /// Lines.
    pub lines: Vec<LineSpec>,
    /// Shipping in the pricing basis.
    #[serde(default)]
    pub shipping: Decimal,
    /// Handling in the pricing basis.
    #[serde(default)]
    pub handling: Decimal,
    /// Gift wrapping in the pricing basis.
    #[serde(default)]
    pub wrapping: Decimal,
    /// Payment method label.
    #[serde(default = "card")]
    pub payment_method: String,
    /// The gateway the shopper paid through, as the order's transactions name it (`braintree`,
    /// `stripe`, …: one of the names the `gateway` enum of V3's `Transaction` lists). The
    /// order's `payment_provider_id` is not this but the gateway's transaction id; refunds go
    /// back through this gateway. Specs written before the rename still load (`alias`).
    #[serde(default = "braintree", alias = "payment_provider_id")]
    pub payment_gateway: String,
    /// The order's `payment_status`, one of the V2 spec's enum (`captured`, `authorized`,
    /// `paid`, `pending`, `declined`, …); an `authorized` order's gateway transaction is an
    /// authorization, not a purchase.
    #[serde(default = "captured")]
    pub payment_status: String,
    /// Paid with gift certificates.
    #[serde(default)]
    pub gift_certificate_amount: Decimal,
    /// Paid with store credit.
    #[serde(default)]
    pub store_credit_amount: Decimal,
    /// An old order: its consignments carry no line items.
    #[serde(default)]
    pub legacy: bool,
    /// When it was placed (now when absent).
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Custom fees (`fees`, served as an array with `include=fees`, as a link otherwise).
    #[serde(default)]
    pub fees: Vec<FeeSpec>,
    /// A discount on the whole order in the pricing basis (a manual discount), shown only in
    /// the order's `discount_amount`, not on its lines; BigCommerce spreads it over the lines
    /// by their share of the subtotal to tax what remains.
    #[serde(default)]
    pub order_discount: Decimal,
    /// Shown to the shopper in another currency than the one they paid in.
    #[serde(default)]
    pub display_currency: Option<DisplayCurrency>,
}

fn one() -> u64 {
    1
}
fn awaiting_fulfillment() -> u32 {
    11
}
fn usd() -> String {
    "USD".into()
}
fn card() -> String {
    "Credit Card".into()
}
fn braintree() -> String {
    "braintree".into()
}
fn captured() -> String {
    "captured".into()
}
fn yes() -> bool {
    true
}

impl Default for OrderSpec {
    fn default() -> Self {
        Self {
            channel_id: 1,
            status_id: 11,
            currency: usd(),
            store_currency: None,
            exchange_rate: None,
            tax_inclusive: false,
            tax_rate: Decimal::ZERO,
            lines: Vec::new(),
            shipping: Decimal::ZERO,
            handling: Decimal::ZERO,
            wrapping: Decimal::ZERO,
            payment_method: card(),
            payment_gateway: braintree(),
            payment_status: captured(),
            gift_certificate_amount: Decimal::ZERO,
            store_credit_amount: Decimal::ZERO,
            legacy: false,
            created_at: None,
            fees: Vec::new(),
            order_discount: Decimal::ZERO,
            display_currency: None,
        }
    }
}

/// The part of an order paid through its payment gateway: the total less what gift
/// certificates and store credit paid.
pub fn gateway_amount(order: &Value) -> Decimal {
    let amount = |field: &str| -> Decimal {
        order[field]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default()
    };
    amount("total_inc_tax") - amount("gift_certificate_amount") - amount("store_credit_amount")
}

/// The transaction id a gateway gives an order's payment, as BigCommerce shows it in the
/// order's `payment_provider_id` and the transaction's `gateway_transaction_id`: the same for
/// the same gateway and order, shaped as that gateway's ids are (Stripe `pi_…` payment
/// intents, eight lowercase letters and digits for Braintree and the others).
pub fn gateway_transaction_id(gateway: &str, order_id: u64) -> String {
    // FNV-1a: deterministic, and different for every order.
    let fnv = |bytes: &[u8]| {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let base36 = |mut n: u64, len: usize| -> String {
        (0..len)
            .map(|_| {
                let digit = char::from_digit((n % 36) as u32, 36).unwrap_or('0');
                n /= 36;
                digit
            })
            .collect()
    };
    let first = fnv(&[gateway.as_bytes(), &order_id.to_le_bytes()].concat());
    if gateway.starts_with("stripe") {
        let second = fnv(&first.to_le_bytes());
        format!("pi_{}{}", base36(first, 12), base36(second, 12))
    } else {
        base36(first, 8)
    }
}

/// Status labels by id.
pub fn status_label(id: u32) -> &'static str {
    match id {
        0 => "Incomplete",
        1 => "Pending",
        2 => "Shipped",
        3 => "Partially Shipped",
        4 => "Refunded",
        5 => "Cancelled",
        6 => "Declined",
        7 => "Awaiting Payment",
        8 => "Awaiting Pickup",
        9 => "Awaiting Shipment",
        10 => "Completed",
        11 => "Awaiting Fulfillment",
        12 => "Manual Verification Required",
        13 => "Disputed",
        14 => "Partially Refunded",
        _ => "Unknown",
    }
}

/// Digits of the minor unit.
pub fn exponent(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "CLP" | "ISK" | "VND" => 0,
        "KWD" | "BHD" | "JOD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

pub(crate) fn r4(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
}

/// Four-place decimal string, as V2 writes money.
pub fn money(d: Decimal) -> String {
    let mut d = r4(d);
    d.rescale(4);
    d.to_string()
}

/// RFC 2822 with a two-digit day, as V2 writes dates.
pub fn rfc2822(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// A catalog product, as far as pricing needs it.
#[derive(Debug, Clone)]
pub struct CatalogItem {
    /// Name.
    pub name: String,
    /// SKU.
    pub sku: String,
    /// List price.
    pub price: Decimal,
}

/// Prices a charge given in the pricing basis: (ex, tax, inc).
fn charge(amount: Decimal, rate: Decimal, inclusive: bool) -> (Decimal, Decimal, Decimal) {
    if inclusive {
        let ex = r4(amount / (Decimal::ONE + rate));
        (ex, amount - ex, amount)
    } else {
        let tax = r4(amount * rate);
        (amount, tax, amount + tax)
    }
}

/// A priced line, kept so refunds can be valued later.
#[derive(Debug, Clone)]
pub struct PricedLine {
    /// Order-product id.
    pub id: u64,
    /// Units.
    pub quantity: u64,
    /// Total before discount in the pricing basis.
    pub gross: Decimal,
    /// Discount in the pricing basis.
    pub discount: Decimal,
    /// Tax after discount, exact.
    pub tax_after_discount: Decimal,
    /// The line's JSON.
    pub json: Value,
}

/// Everything created for one order.
pub struct PricedOrder {
    /// The order's JSON (without consignments and fees).
    pub order: Value,
    /// Lines, bundle children included.
    pub lines: Vec<PricedLine>,
    /// The order's fees as `include=fees` serves them.
    pub fees: Vec<Value>,
}

/// Ids the pricing needs from the store.
pub struct Ids<'a> {
    /// The order id.
    pub order_id: u64,
    /// The first free order-product id (advanced).
    pub next_line_id: &'a mut u64,
    /// Shipping address id of the order.
    pub address_id: u64,
    /// The store hash (for resource links).
    pub store_hash: &'a str,
}

/// Prices an order the way BigCommerce does and builds its JSON.
pub fn price(
    spec: &OrderSpec,
    catalog: &dyn Fn(u64) -> Option<CatalogItem>,
    ids: Ids<'_>,
    now: DateTime<Utc>,
) -> PricedOrder {
    let exp = exponent(&spec.currency);
    let round_minor =
        |d: Decimal| d.round_dp_with_strategy(exp, RoundingStrategy::MidpointAwayFromZero);
    let inclusive = spec.tax_inclusive;
    let created = spec.created_at.unwrap_or(now);
    let mut lines = Vec::new();
    let mut taxes = Decimal::ZERO;
    let mut net_basis = Decimal::ZERO;
    let (mut sub_ex, mut sub_inc, mut sub_tax) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let mut items_total = 0u64;
    let mut discount_total = Decimal::ZERO;
    let order_share = spread_order_discount(spec, catalog);
    let line_json = |id: u64,
                     product_id: u64,
                     name: &str,
                     sku: &str,
                     kind: LineKind,
                     qty: u64,
                     unit: (Decimal, Decimal, Decimal),
                     parent: Option<u64>,
                     discount: Decimal| {
        let q = Decimal::from(qty);
        let (ex, tax, inc) = unit;
        let discounts = if discount.is_zero() {
            json!([])
        } else {
            json!([{"id": "total-coupon", "amount": money(discount), "name": "Promotion", "code": "SAVE", "target": "order"}])
        };
        json!({
            "id": id, "order_id": ids.order_id, "product_id": product_id,
            "variant_id": if product_id == 0 { 0 } else { product_id * 10 },
            "order_address_id": ids.address_id,
            "name": name, "name_customer": name, "name_merchant": name,
            "sku": sku, "upc": "",
            "type": match kind { LineKind::Physical => "physical", LineKind::Digital => "digital", LineKind::Giftcertificate => "giftcertificate" },
            "base_price": money(if inclusive { inc } else { ex }),
            "price_ex_tax": money(ex), "price_inc_tax": money(inc), "price_tax": money(tax),
            "base_total": money(if inclusive { inc * q } else { ex * q }),
            "total_ex_tax": money(ex * q), "total_inc_tax": money(inc * q), "total_tax": money(tax * q),
            "weight": "1.0000", "width": "1.0000", "height": "1.0000", "depth": "1.0000",
            "quantity": qty,
            "base_cost_price": "0.0000", "cost_price_inc_tax": "0.0000", "cost_price_ex_tax": "0.0000", "cost_price_tax": "0.0000",
            "is_refunded": false, "quantity_refunded": 0, "refund_amount": "0.0000", "return_id": 0,
            "wrapping_id": 0, "wrapping_name": "", "base_wrapping_cost": "0.0000",
            "wrapping_cost_ex_tax": "0.0000", "wrapping_cost_inc_tax": "0.0000", "wrapping_cost_tax": "0.0000",
            "wrapping_message": "", "quantity_shipped": 0, "event_name": null, "event_date": null,
            "fixed_shipping_cost": "0.0000", "ebay_item_id": "", "ebay_transaction_id": "",
            "option_set_id": null, "parent_order_product_id": parent, "is_bundled_product": parent.is_some(),
            "bin_picking_number": "", "external_id": null, "brand": "",
            "applied_discounts": discounts, "product_options": [], "configurable_fields": [],
            "gift_certificate_id": if kind == LineKind::Giftcertificate { json!(ids.order_id * 100 + id) } else { Value::Null },
            "discounted_total_inc_tax": money(inc * q - if inclusive { discount } else { discount * (Decimal::ONE + if ex.is_zero() { Decimal::ZERO } else { tax / ex }) }),
        })
    };
    for (l, order_part) in spec.lines.iter().zip(order_share) {
        let item = catalog(l.product_id);
        let name = if l.name.is_empty() {
            item.as_ref()
                .map_or_else(|| "Custom item".to_string(), |i| i.name.clone())
        } else {
            l.name.clone()
        };
        let sku = if l.sku.is_empty() {
            item.as_ref().map_or_else(String::new, |i| i.sku.clone())
        } else {
            l.sku.clone()
        };
        let unit_price = l
            .unit_price
            .or(item.as_ref().map(|i| i.price))
            .unwrap_or_default();
        let rate = if l.kind == LineKind::Giftcertificate {
            Decimal::ZERO
        } else {
            spec.tax_rate
        };
        let unit = charge(unit_price, rate, inclusive);
        let q = Decimal::from(l.quantity);
        let id = *ids.next_line_id;
        *ids.next_line_id += 1;
        let gross = if inclusive { unit.2 * q } else { unit.0 * q };
        let line_discount = l.discount.min(gross);
        // The order-level part is taxed away like the line's own, but shown only at order level.
        let discount = (line_discount + order_part).min(gross);
        let tax_after = if inclusive {
            if gross.is_zero() {
                Decimal::ZERO
            } else {
                (gross - discount) * unit.1 * q / gross
            }
        } else {
            (gross - discount) * rate
        };
        taxes += tax_after;
        net_basis += gross - discount;
        discount_total += line_discount;
        sub_ex += unit.0 * q;
        sub_inc += unit.2 * q;
        sub_tax += unit.1 * q;
        items_total += l.quantity;
        let json = line_json(
            id,
            l.product_id,
            &name,
            &sku,
            l.kind,
            l.quantity,
            unit,
            None,
            line_discount,
        );
        lines.push(PricedLine {
            id,
            quantity: l.quantity,
            gross,
            discount,
            tax_after_discount: tax_after,
            json,
        });
        for (child_product, child_qty) in &l.bundle_children {
            let child = catalog(*child_product);
            let cid = *ids.next_line_id;
            *ids.next_line_id += 1;
            let cname = child
                .as_ref()
                .map_or_else(|| "Bundle item".to_string(), |c| c.name.clone());
            let csku = child.as_ref().map_or_else(String::new, |c| c.sku.clone());
            items_total += child_qty;
            let zero = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
            let json = line_json(
                cid,
                *child_product,
                &cname,
                &csku,
                LineKind::Physical,
                *child_qty,
                zero,
                Some(id),
                Decimal::ZERO,
            );
            lines.push(PricedLine {
                id: cid,
                quantity: *child_qty,
                gross: Decimal::ZERO,
                discount: Decimal::ZERO,
                tax_after_discount: Decimal::ZERO,
                json,
            });
        }
    }
    let ship = charge(spec.shipping, spec.tax_rate, inclusive);
    let hand = charge(spec.handling, spec.tax_rate, inclusive);
    let wrap = charge(spec.wrapping, spec.tax_rate, inclusive);
    let mut fees = Vec::new();
    let (mut fees_ex, mut fees_tax, mut fees_inc) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for (n, fee) in spec.fees.iter().enumerate() {
        let rate = if fee.taxable {
            spec.tax_rate
        } else {
            Decimal::ZERO
        };
        let (ex, tax, inc) = charge(fee.amount, rate, inclusive);
        fees_ex += ex;
        fees_tax += tax;
        fees_inc += inc;
        fees.push(json!({
            "id": ids.order_id * 10 + n as u64 + 1, "type": "custom_fee",
            "display_name_customer": fee.name, "display_name_merchant": fee.name, "source": "v2",
            "base_cost": money(fee.amount), "cost_ex_tax": money(ex), "cost_inc_tax": money(inc),
            "cost_tax": money(tax), "tax_class_id": null,
        }));
    }
    let total_tax = round_minor(taxes + ship.1 + hand.1 + wrap.1 + fees_tax);
    let (total_ex, total_inc) = if inclusive {
        let inc = net_basis + ship.2 + hand.2 + wrap.2 + fees_inc;
        (inc - total_tax, inc)
    } else {
        let ex = net_basis + ship.0 + hand.0 + wrap.0 + fees_ex;
        (ex, ex + total_tax)
    };
    let digital = !spec.lines.is_empty() && spec.lines.iter().all(|l| l.kind != LineKind::Physical);
    let link = |what: &str| {
        json!({
            "url": format!("https://api.bigcommerce.com/stores/{}/v2/orders/{}/{what}", ids.store_hash, ids.order_id),
            "resource": format!("/orders/{}/{what}", ids.order_id),
        })
    };
    let display = spec
        .display_currency
        .as_ref()
        .filter(|d| d.code != spec.currency);
    let store_currency = spec
        .store_currency
        .clone()
        .unwrap_or_else(|| spec.currency.clone());
    let mut order = json!({
        "id": ids.order_id, "customer_id": 0,
        "date_created": rfc2822(created), "date_modified": rfc2822(now), "date_shipped": "",
        "status_id": spec.status_id, "status": status_label(spec.status_id), "custom_status": status_label(spec.status_id),
        "subtotal_ex_tax": money(sub_ex), "subtotal_inc_tax": money(sub_inc), "subtotal_tax": money(sub_tax),
        "base_shipping_cost": money(spec.shipping), "shipping_cost_ex_tax": money(ship.0), "shipping_cost_inc_tax": money(ship.2), "shipping_cost_tax": money(ship.1), "shipping_cost_tax_class_id": 2,
        "base_handling_cost": money(spec.handling), "handling_cost_ex_tax": money(hand.0), "handling_cost_inc_tax": money(hand.2), "handling_cost_tax": money(hand.1), "handling_cost_tax_class_id": 2,
        "base_wrapping_cost": money(spec.wrapping), "wrapping_cost_ex_tax": money(wrap.0), "wrapping_cost_inc_tax": money(wrap.2), "wrapping_cost_tax": money(wrap.1), "wrapping_cost_tax_class_id": 3,
        "total_ex_tax": money(total_ex), "total_inc_tax": money(total_inc), "total_tax": money(total_tax),
        "is_tax_inclusive_pricing": inclusive,
        "items_total": items_total, "items_shipped": 0,
        "payment_method": spec.payment_method, "payment_provider_id": "",
        "payment_status": spec.payment_status, "refunded_amount": "0.0000",
        "order_is_digital": digital,
        "store_credit_amount": money(spec.store_credit_amount), "gift_certificate_amount": money(spec.gift_certificate_amount),
        "ip_address": "", "ip_address_v6": "", "geoip_country": "", "geoip_country_iso2": "",
        "currency_id": if display.is_some() { 2 } else { 1 }, "currency_code": display.map_or(spec.currency.as_str(), |d| d.code.as_str()),
        "currency_exchange_rate": format!("{:.10}", display.map_or(Decimal::ONE, |d| d.rate)),
        "default_currency_id": 1, "default_currency_code": spec.currency,
        "store_default_currency_code": store_currency,
        "store_default_to_transactional_exchange_rate": format!("{:.10}", spec.exchange_rate.unwrap_or(Decimal::ONE)),
        "staff_notes": "", "customer_message": "",
        "discount_amount": money(spec.order_discount), "coupon_discount": money(discount_total),
        "shipping_address_count": 1, "ebay_order_id": "0", "cart_id": format!("cart-{}", ids.order_id),
        "billing_address": {"first_name": "Sandbox", "last_name": "Shopper", "company": "", "street_1": "1 Test Street",
            "street_2": "", "city": "Austin", "state": "Texas", "zip": "78701", "country": "United States",
            "country_iso2": "US", "phone": "", "email": "shopper@example.com", "form_fields": []},
        "is_email_opt_in": false, "credit_card_type": null, "order_source": "www", "channel_id": spec.channel_id,
        "external_source": null,
        "products": link("products"), "shipping_addresses": link("shipping_addresses"), "coupons": link("coupons"),
        "external_id": null, "external_merchant_id": null, "tax_provider_id": "BasicTaxProvider",
        "customer_locale": "en", "external_order_id": "", "is_deleted": false,
    });
    // Only a payment that went through the gateway has a gateway transaction id.
    if !gateway_amount(&order).is_zero() {
        order["payment_provider_id"] =
            json!(gateway_transaction_id(&spec.payment_gateway, ids.order_id));
    }
    PricedOrder { order, lines, fees }
}

/// The order-level discount spread over the spec's lines by their share of the ex-tax
/// subtotal (sold gift certificates take none), the last line taking what rounding leaves.
fn spread_order_discount(
    spec: &OrderSpec,
    catalog: &dyn Fn(u64) -> Option<CatalogItem>,
) -> Vec<Decimal> {
    let weights: Vec<Decimal> = spec
        .lines
        .iter()
        .map(|l| {
            if l.kind == LineKind::Giftcertificate {
                return Decimal::ZERO;
            }
            let unit = l
                .unit_price
                .or(catalog(l.product_id).map(|i| i.price))
                .unwrap_or_default();
            unit * Decimal::from(l.quantity)
        })
        .collect();
    let total: Decimal = weights.iter().sum();
    let mut shares = vec![Decimal::ZERO; weights.len()];
    if spec.order_discount.is_zero() || total.is_zero() {
        return shares;
    }
    let mut left = spec.order_discount;
    let last = weights.iter().rposition(|w| !w.is_zero());
    for (i, w) in weights.iter().enumerate() {
        if Some(i) == last {
            shares[i] = left;
        } else if !w.is_zero() {
            shares[i] = r4(spec.order_discount * *w / total);
            left -= shares[i];
        }
    }
    shares
}

/// The order's consignments (`consignment_structure=object`), with full line items unless the
/// order is a legacy one.
pub fn consignments(order: &Value, lines: &[PricedLine], address_id: u64, legacy: bool) -> Value {
    let of_type = |t: &str| -> Vec<Value> {
        if legacy {
            return Vec::new();
        }
        lines
            .iter()
            .filter(|l| l.json["type"] == t)
            .map(|l| l.json.clone())
            .collect()
    };
    let physical = of_type("physical");
    let digital = of_type("digital");
    let gifts = of_type("giftcertificate");
    let number = |field: &str| -> f64 {
        order[field]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0)
    };
    let shipping = if physical.is_empty() && !legacy {
        json!([])
    } else {
        json!([{
            "id": address_id, "first_name": "Sandbox", "last_name": "Shopper", "company": "",
            "street_1": "1 Test Street", "street_2": "", "city": "Austin", "state": "Texas", "zip": "78701",
            "country": "United States", "country_iso2": "US", "phone": "", "email": "shopper@example.com",
            "form_fields": [], "shipping_method": "Flat Rate",
            "line_items": physical, "items_total": physical.iter().map(|l| l["quantity"].as_u64().unwrap_or(0)).sum::<u64>(),
            "items_shipped": 0,
            "base_cost": number("base_shipping_cost"), "cost_ex_tax": number("shipping_cost_ex_tax"),
            "cost_inc_tax": number("shipping_cost_inc_tax"), "cost_tax": number("shipping_cost_tax"), "cost_tax_class_id": 2,
            "base_handling_cost": number("base_handling_cost"), "handling_cost_ex_tax": number("handling_cost_ex_tax"),
            "handling_cost_inc_tax": number("handling_cost_inc_tax"), "handling_cost_tax": number("handling_cost_tax"),
            "handling_cost_tax_class_id": 2, "shipping_zone_id": 1, "shipping_zone_name": "United States",
            "shipping_quotes": {"url": "https://api.bigcommerce.com/stores/x/v2/orders/0/consignments/shipping/0/shipping_quotes",
                "resource": "/orders/0/consignments/shipping/0/shipping_quotes"}
        }])
    };
    let downloads = if digital.is_empty() {
        json!([])
    } else {
        json!([{"recipient_email": "shopper@example.com", "line_items": digital}])
    };
    let gift_certificates = if gifts.is_empty() {
        json!([])
    } else {
        json!([{"recipient_email": "friend@example.com", "line_items": gifts}])
    };
    json!({"pickups": [], "shipping": shipping, "downloads": downloads, "email": {"gift_certificates": gift_certificates}})
}
