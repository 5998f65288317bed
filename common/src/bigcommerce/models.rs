//! The parts of BigCommerce's order, line-item, fee and refund resources that carry money.
//!
//! Parsing is deliberately lenient about shape (unknown fields are ignored, amounts may be strings
//! or numbers, empty strings read as zero) because the official examples themselves contain
//! typos (`cost_exc_tax`, a key named `currency_code"`), and strict about values: an amount that
//! is not a decimal or a date that is not RFC 2822/3339 is an error naming the field.

use std::fmt;

use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::money::amount_serde;

/// An instant as BigCommerce writes it: RFC 2822 in V2 (`Tue, 05 Mar 2019 21:40:11 +0000`),
/// RFC 3339 in V3 (`2022-06-16T16:44:15+00:00`). The offset is kept so nothing is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BcDate(pub DateTime<FixedOffset>);

impl BcDate {
    /// Reads either format; `None` for an empty string, which BigCommerce sends for dates that
    /// have not happened (`date_shipped`) and sometimes for a new refund's `created`.
    pub fn parse(text: &str) -> Result<Option<Self>, String> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(None);
        }
        DateTime::parse_from_rfc2822(t)
            .or_else(|_| DateTime::parse_from_rfc3339(t))
            .map(|d| Some(BcDate(d)))
            .map_err(|_| {
                format!(
                    "\"{t}\" is not a date (expected RFC 2822 such as \"Tue, 05 Mar 2019 21:40:11 +0000\" or RFC 3339)"
                )
            })
    }
}

impl Serialize for BcDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_rfc2822())
    }
}

impl<'de> Deserialize<'de> for BcDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        BcDate::parse(&text)
            .map_err(de::Error::custom)?
            .ok_or_else(|| de::Error::custom("date is empty"))
    }
}

fn optional_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BcDate>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    match text {
        None => Ok(None),
        Some(t) => BcDate::parse(&t).map_err(de::Error::custom),
    }
}

/// Reads a value that should be text but is sometimes a number or null (`payment_provider_id`,
/// applied-discount ids, transaction ids).
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string, a number or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_unit<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
            d.deserialize_any(V)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
            // `credit_card_type: {}` and similar empty objects carry nothing.
            while map
                .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                .is_some()
            {}
            Ok(String::new())
        }
    }
    d.deserialize_any(V)
}

/// Reads the store hash out of a resource link (`{"url": ".../stores/{hash}/v2/...", ...}`);
/// anything else (no link, another shape, a URL without a store) says nothing.
fn link_store_hash<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    let url = value
        .get("url")
        .and_then(|u| u.as_str())
        .unwrap_or_default();
    Ok(url
        .split_once("/stores/")
        .and_then(|(_, rest)| rest.split('/').next())
        .filter(|hash| !hash.is_empty())
        .map(str::to_string))
}

/// Reads `fees`, which is a link object (`{url, resource}`) unless the order was fetched with
/// `include=fees`, in which case it is the array of fees.
fn fees_field<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<OrderFee>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    match value {
        serde_json::Value::Array(_) => {
            serde_json::from_value(value).map_err(|e| de::Error::custom(format!("fees: {e}")))
        }
        _ => Ok(Vec::new()),
    }
}

fn default_channel() -> u64 {
    1
}

/// A V2 order (`GET /v2/orders/{id}`), reduced to what accounting and mapping need.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Order {
    /// Order id, unique within the store.
    pub id: u64,
    /// When the order was placed; the sale's accounting date comes from it.
    pub date_created: BcDate,
    /// Last change; the poller's cursor and the date of reversals and deltas.
    #[serde(default, deserialize_with = "optional_date")]
    pub date_modified: Option<BcDate>,
    /// Status id (key on this, merchants rename the labels).
    pub status_id: u32,
    /// Status label as the store shows it.
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: String,
    /// Storefront / channel the order came from (1 = the default storefront).
    #[serde(default = "default_channel")]
    pub channel_id: u64,

    /// Line totals before order-level discounts, excluding tax.
    #[serde(default, with = "amount_serde")]
    pub subtotal_ex_tax: Decimal,
    /// Line totals before order-level discounts, including tax.
    #[serde(default, with = "amount_serde")]
    pub subtotal_inc_tax: Decimal,
    /// Tax on the line totals.
    #[serde(default, with = "amount_serde")]
    pub subtotal_tax: Decimal,
    /// Shipping excluding tax.
    #[serde(default, with = "amount_serde")]
    pub shipping_cost_ex_tax: Decimal,
    /// Shipping including tax.
    #[serde(default, with = "amount_serde")]
    pub shipping_cost_inc_tax: Decimal,
    /// Tax on shipping.
    #[serde(default, with = "amount_serde")]
    pub shipping_cost_tax: Decimal,
    /// Handling excluding tax.
    #[serde(default, with = "amount_serde")]
    pub handling_cost_ex_tax: Decimal,
    /// Handling including tax.
    #[serde(default, with = "amount_serde")]
    pub handling_cost_inc_tax: Decimal,
    /// Tax on handling.
    #[serde(default, with = "amount_serde")]
    pub handling_cost_tax: Decimal,
    /// Gift wrapping excluding tax.
    #[serde(default, with = "amount_serde")]
    pub wrapping_cost_ex_tax: Decimal,
    /// Gift wrapping including tax.
    #[serde(default, with = "amount_serde")]
    pub wrapping_cost_inc_tax: Decimal,
    /// Tax on gift wrapping.
    #[serde(default, with = "amount_serde")]
    pub wrapping_cost_tax: Decimal,
    /// Order total excluding tax.
    #[serde(default, with = "amount_serde")]
    pub total_ex_tax: Decimal,
    /// What the order costs the customer, all tenders together.
    #[serde(default, with = "amount_serde")]
    pub total_inc_tax: Decimal,
    /// Tax payable on the order.
    #[serde(default, with = "amount_serde")]
    pub total_tax: Decimal,
    /// Manual and automatic (promotion) discounts.
    #[serde(default, with = "amount_serde")]
    pub discount_amount: Decimal,
    /// Coupon discounts.
    #[serde(default, with = "amount_serde")]
    pub coupon_discount: Decimal,
    /// Paid with store credit (a liability the store already carries).
    #[serde(default, with = "amount_serde")]
    pub store_credit_amount: Decimal,
    /// Paid with gift certificates (a liability the store already carries).
    #[serde(default, with = "amount_serde")]
    pub gift_certificate_amount: Decimal,
    /// Documented as "always 0": refunds come from the V3 refunds API instead.
    #[serde(default, with = "amount_serde")]
    pub refunded_amount: Decimal,

    /// True when prices include tax; then the `*_inc_tax` figures are the exact ones.
    #[serde(default)]
    pub is_tax_inclusive_pricing: bool,
    /// Payment method label (`Credit Card`, `Cash`, `Test Payment Gateway`…).
    #[serde(default, deserialize_with = "lenient_string")]
    pub payment_method: String,
    /// "The external Transaction ID/Payment ID within this order's payment provider (if a
    /// payment provider was used)" (V2 spec): a transaction id, never a gateway name, so no
    /// mapping rule reads it. The gateway comes from the order's transactions.
    #[serde(default, deserialize_with = "lenient_string")]
    pub payment_provider_id: String,
    /// Payment status, one of the spec's `authorized`, `captured`, `capture pending`,
    /// `declined`, `held for review`, `paid`, `partially refunded`, `pending`, `refunded`,
    /// `void`, `void pending` or empty: whether money was taken when the order is cancelled.
    #[serde(default, deserialize_with = "lenient_string")]
    pub payment_status: String,
    /// Display currency; not the currency the shopper paid in.
    #[serde(default, deserialize_with = "lenient_string")]
    pub currency_code: String,
    /// Transactional currency: what the shopper paid in, and the journal's entered currency.
    #[serde(default, deserialize_with = "lenient_string")]
    pub default_currency_code: String,
    /// Store's base currency when multi-currency is on.
    #[serde(default, deserialize_with = "lenient_string")]
    pub store_default_currency_code: String,
    /// 1 store-default unit = this many transactional units, at the time of the order.
    #[serde(default, deserialize_with = "amount_serde::optional")]
    pub store_default_to_transactional_exchange_rate: Option<Decimal>,
    /// Custom order fees, present when the order was fetched with `include=fees`.
    #[serde(default, deserialize_with = "fees_field")]
    pub fees: Vec<OrderFee>,
    /// Consignments with their line items, when fetched with `include=consignments.line_items`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consignments: Option<serde_json::Value>,
    /// The store that answered, from the order's products link (`products_Resource.url`, the
    /// spec's example "https://api.bigcommerce.com/stores/{store_hash}/v2/orders/129/products"):
    /// how the poster knows the answer came from the store the message named.
    #[serde(
        default,
        rename = "products",
        deserialize_with = "link_store_hash",
        skip_serializing
    )]
    pub answered_by_store: Option<String>,
    /// Archived orders are still orders; the flag is kept for the decision logic.
    #[serde(default)]
    pub is_deleted: bool,
    /// Units on the order, all lines together: tells whether the consignments carried every
    /// line or the products endpoint must be asked.
    #[serde(default)]
    pub items_total: u64,
}

/// The payment statuses that mean the gateway took the money (or will without anybody acting):
/// `captured`, `paid`, `capture pending`, and the two refund states, which follow a capture.
/// `authorized`, `pending`, `held for review`, `void`, `void pending`, `declined` and an empty
/// status took nothing: a cancelled order in one of them owes nothing back through the gateway.
const CAPTURED_STATUSES: [&str; 5] = [
    "captured",
    "paid",
    "capture pending",
    "partially refunded",
    "refunded",
];

impl Order {
    /// Whether the order shows signs of refunds, so that fetching them is worth a call.
    /// (`refunded_amount` is documented as always 0, so status and payment status decide.)
    pub fn looks_refunded(&self) -> bool {
        matches!(self.status_id, 4 | 14) || self.payment_status.contains("refund")
    }

    /// Whether the gateway took the shopper's money (see [`CAPTURED_STATUSES`]).
    pub fn payment_captured(&self) -> bool {
        let status = self.payment_status.trim();
        CAPTURED_STATUSES
            .iter()
            .any(|s| s.eq_ignore_ascii_case(status))
    }

    /// What the shopper owes through the payment gateway: the total less what gift
    /// certificates and store credit covered.
    pub fn owed(&self) -> Decimal {
        self.total_inc_tax - self.gift_certificate_amount - self.store_credit_amount
    }
}

/// A line-level discount (`applied_discounts[]`): a coupon, a promotion or a manual discount.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct AppliedDiscount {
    /// Discount id (`manual-discount`, `total-coupon`, a number…).
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    /// Money off this line, in the store's pricing basis (inc-tax when prices include tax).
    #[serde(with = "amount_serde")]
    pub amount: Decimal,
    /// Display name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// Coupon code; empty for manual discounts and promotions.
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: String,
    /// `order` or `product`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub target: String,
}

/// One order line (`GET /v2/orders/{id}/products`, or inside consignments).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct OrderProduct {
    /// Order-product id: what refunds name in `item_id`.
    pub id: u64,
    /// "Numeric ID of the associated order" (V2 spec, `orderProducts.order_id`): a line of
    /// another order is refused rather than booked on this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<u64>,
    /// Catalog product id; 0 for custom products.
    #[serde(default)]
    pub product_id: u64,
    /// Variant id; 0 or absent for custom products.
    #[serde(default)]
    pub variant_id: Option<u64>,
    /// Shipping address (consignment) the line ships to.
    #[serde(default)]
    pub order_address_id: Option<u64>,
    /// Product name as sold.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// SKU as sold.
    #[serde(default, deserialize_with = "lenient_string")]
    pub sku: String,
    /// `physical`, `digital` or `giftcertificate`.
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub kind: String,
    /// Units sold.
    #[serde(default)]
    pub quantity: u64,
    /// Unit price excluding tax.
    #[serde(default, with = "amount_serde")]
    pub price_ex_tax: Decimal,
    /// Unit price including tax.
    #[serde(default, with = "amount_serde")]
    pub price_inc_tax: Decimal,
    /// Line total excluding tax, before discounts.
    #[serde(default, with = "amount_serde")]
    pub total_ex_tax: Decimal,
    /// Line total including tax, before discounts.
    #[serde(default, with = "amount_serde")]
    pub total_inc_tax: Decimal,
    /// Tax on the line total.
    #[serde(default, with = "amount_serde")]
    pub total_tax: Decimal,
    /// Line total after every discount, including tax.
    #[serde(default, deserialize_with = "amount_serde::optional")]
    pub discounted_total_inc_tax: Option<Decimal>,
    /// Discounts spread onto this line.
    #[serde(default)]
    pub applied_discounts: Vec<AppliedDiscount>,
    /// Set on the children of a bundle; the parent carries the price.
    #[serde(default)]
    pub parent_order_product_id: Option<u64>,
    /// True on the children of a bundle.
    #[serde(default)]
    pub is_bundled_product: bool,
    /// Gift wrapping on this line, excluding tax.
    #[serde(default, with = "amount_serde")]
    pub wrapping_cost_ex_tax: Decimal,
    /// Gift wrapping on this line, including tax.
    #[serde(default, with = "amount_serde")]
    pub wrapping_cost_inc_tax: Decimal,
}

impl OrderProduct {
    /// A gift certificate sold is a liability to honour, not revenue.
    pub fn is_gift_certificate(&self) -> bool {
        self.kind.eq_ignore_ascii_case("giftcertificate")
    }

    /// Bundle children repeat what the parent line already charges.
    pub fn is_bundle_child(&self) -> bool {
        self.is_bundled_product || self.parent_order_product_id.is_some_and(|p| p != 0)
    }

    /// Sum of this line's applied discounts, in the store's pricing basis.
    pub fn discount_total(&self) -> Decimal {
        self.applied_discounts.iter().map(|d| d.amount).sum()
    }
}

/// A custom order fee (`fees[]`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct OrderFee {
    /// Fee id: what refunds name in `item_id` for FEE items.
    #[serde(default)]
    pub id: u64,
    /// Name the merchant sees.
    #[serde(default, deserialize_with = "lenient_string")]
    pub display_name_merchant: String,
    /// Name the customer sees.
    #[serde(default, deserialize_with = "lenient_string")]
    pub display_name_customer: String,
    /// Fee before tax. The spec's own example spells it `cost_exc_tax` once; both are read.
    #[serde(
        default,
        alias = "cost_exc_tax",
        deserialize_with = "amount_serde::optional"
    )]
    pub cost_ex_tax: Option<Decimal>,
    /// Fee including tax.
    #[serde(default, deserialize_with = "amount_serde::optional")]
    pub cost_inc_tax: Option<Decimal>,
    /// Tax on the fee.
    #[serde(default, deserialize_with = "amount_serde::optional")]
    pub cost_tax: Option<Decimal>,
    /// Fee as first charged.
    #[serde(default, deserialize_with = "amount_serde::optional")]
    pub base_cost: Option<Decimal>,
}

impl OrderFee {
    /// The fee excluding tax: given directly, or including-tax less the tax, or the base cost.
    pub fn amount_ex_tax(&self) -> Decimal {
        self.cost_ex_tax
            .or_else(|| {
                self.cost_inc_tax
                    .map(|inc| inc - self.cost_tax.unwrap_or_default())
            })
            .or(self.base_cost)
            .unwrap_or_default()
    }

    /// The fee including tax, derived the same way.
    pub fn amount_inc_tax(&self) -> Decimal {
        self.cost_inc_tax
            .unwrap_or_else(|| self.amount_ex_tax() + self.cost_tax.unwrap_or_default())
    }

    /// A label for journal lines.
    pub fn label(&self) -> &str {
        if self.display_name_merchant.is_empty() {
            &self.display_name_customer
        } else {
            &self.display_name_merchant
        }
    }
}

/// What a refund item refunds (V3 `item_type`). Anything BigCommerce adds later is kept as
/// `Other` so the refund still posts, at order level, with its name in the description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundItemType {
    /// An order line; `item_id` is the order-product id.
    Product,
    /// Gift wrapping of a line; `item_id` is the order-product id.
    GiftWrapping,
    /// Shipping of a consignment; `item_id` is the order address id.
    Shipping,
    /// Handling of a consignment; `item_id` is the order address id.
    Handling,
    /// A custom amount against the whole order; `item_id` is the order id. Carries no tax.
    Order,
    /// A custom fee. The spec disagrees with itself on `item_id`: the refund (GET) schema says
    /// "`order.id` corresponding to the item_type of ORDER, FEE", the request schema "Numeric ID
    /// of the fee in the order"; both are accepted.
    Fee,
    /// Tax given back on its own (the request schema's `AmountBoundItem` allows `TAX`): tax
    /// payable, never revenue.
    Tax,
    /// A type this version does not know.
    Other(String),
}

impl<'de> Deserialize<'de> for RefundItemType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(match text.to_ascii_uppercase().as_str() {
            "PRODUCT" => Self::Product,
            "GIFT_WRAPPING" => Self::GiftWrapping,
            "SHIPPING" => Self::Shipping,
            "HANDLING" => Self::Handling,
            "ORDER" => Self::Order,
            "FEE" => Self::Fee,
            "TAX" => Self::Tax,
            _ => Self::Other(text),
        })
    }
}

impl Serialize for RefundItemType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Self::Product => "PRODUCT",
            Self::GiftWrapping => "GIFT_WRAPPING",
            Self::Shipping => "SHIPPING",
            Self::Handling => "HANDLING",
            Self::Order => "ORDER",
            Self::Fee => "FEE",
            Self::Tax => "TAX",
            Self::Other(t) => t,
        })
    }
}

/// A negative amount kept back from a refunded item (restocking fee, service fee).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct RefundAdjustment {
    /// Negative: it reduces what is refunded.
    #[serde(with = "amount_serde")]
    pub amount: Decimal,
    /// Why it was kept back.
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: String,
}

/// One refunded item of a V3 refund.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct RefundItem {
    /// What is refunded.
    pub item_type: RefundItemType,
    /// Order-product, address, order or fee id, depending on the type.
    #[serde(default)]
    pub item_id: u64,
    /// Units refunded (PRODUCT only).
    #[serde(default)]
    pub quantity: Option<u64>,
    /// Amount asked for; null for quantity-based product refunds.
    #[serde(default, deserialize_with = "amount_serde::optional")]
    pub requested_amount: Option<Decimal>,
    /// Why.
    #[serde(default, deserialize_with = "lenient_string")]
    pub reason: String,
    /// Amounts kept back (PRODUCT only).
    #[serde(default)]
    pub adjustments: Vec<RefundAdjustment>,
}

/// One payment of a refund back to a provider.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct RefundPayment {
    /// Refund payment id.
    #[serde(default)]
    pub id: u64,
    /// Provider (`storecredit`, `braintree`, `checkout_paypalexpress`…).
    #[serde(default, deserialize_with = "lenient_string")]
    pub provider_id: String,
    /// Amount returned through this provider.
    #[serde(with = "amount_serde")]
    pub amount: Decimal,
    /// Recorded by hand rather than through a gateway.
    #[serde(default)]
    pub offline: bool,
    /// The provider refused it: no money moved.
    #[serde(default)]
    pub is_declined: bool,
}

/// The tender a payment moved: the order's payment gateway, store credit or a gift certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenderKind {
    /// Money through a payment gateway (or paid offline).
    Gateway,
    /// The shopper's store credit.
    StoreCredit,
    /// A gift certificate.
    GiftCertificate,
}

impl TenderKind {
    /// The tender a provider or gateway id names (`storecredit`, `giftcertificate`, as the
    /// transactions' `gateway` enum spells them; anything else is a gateway).
    pub fn of(provider: &str) -> Self {
        let p = provider
            .trim()
            .to_ascii_lowercase()
            .replace(['_', '-', ' '], "");
        match p.as_str() {
            "storecredit" => TenderKind::StoreCredit,
            "giftcertificate" | "giftcertificates" => TenderKind::GiftCertificate,
            _ => TenderKind::Gateway,
        }
    }
}

impl RefundPayment {
    /// The tender the money went back through.
    pub fn tender(&self) -> TenderKind {
        TenderKind::of(&self.provider_id)
    }
}

/// One payment transaction of an order (`GET /v3/orders/{id}/transactions`), as far as the
/// ledger needs it: which gateway took the money.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Transaction {
    /// Transaction id.
    #[serde(default)]
    pub id: u64,
    /// "Store event that created the transaction": purchase, authorization, capture, refund,
    /// void, pending, settled.
    #[serde(default, deserialize_with = "lenient_string")]
    pub event: String,
    /// "The payment method": credit_card, store_credit, gift_certificate, custom, offline…
    #[serde(default, deserialize_with = "lenient_string")]
    pub method: String,
    /// Amount (a JSON number).
    #[serde(default, with = "amount_serde")]
    pub amount: Decimal,
    /// "The payment gateway, where applicable" (braintree, stripe, storecredit…).
    #[serde(default, deserialize_with = "lenient_string")]
    pub gateway: String,
    /// `ok` or `error`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: String,
}

impl Transaction {
    /// A transaction that took (or held) the shopper's money through a gateway: a purchase,
    /// authorization or capture that went through, not store credit or a gift certificate.
    pub fn is_gateway_payment(&self) -> bool {
        matches!(
            self.event.as_str(),
            "purchase" | "authorization" | "capture" | "pending"
        ) && !self.status.eq_ignore_ascii_case("error")
            && TenderKind::of(&self.gateway) == TenderKind::Gateway
            && TenderKind::of(&self.method.replace("_", "")) == TenderKind::Gateway
            && !self.gateway.trim().is_empty()
    }
}

/// A V3 refund (`/v3/orders/{id}/payment_actions/refunds`). Amounts are JSON numbers.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Refund {
    /// Refund id, unique within the store: the refund posting's key.
    pub id: u64,
    /// The order refunded.
    pub order_id: u64,
    /// When it was made; the refund journal's accounting date. May be empty.
    #[serde(default, deserialize_with = "optional_date")]
    pub created: Option<BcDate>,
    /// Why.
    #[serde(default, deserialize_with = "lenient_string")]
    pub reason: String,
    /// Returned to the customer, tax included.
    #[serde(with = "amount_serde")]
    pub total_amount: Decimal,
    /// Tax given back; negative when tax was kept by refunding less.
    #[serde(default, with = "amount_serde")]
    pub total_tax: Decimal,
    /// Amount and tax were typed in by the merchant.
    #[serde(default)]
    pub uses_merchant_override_values: bool,
    /// What was refunded; empty for a pure tax adjustment.
    #[serde(default)]
    pub items: Vec<RefundItem>,
    /// Where the money went.
    #[serde(default)]
    pub payments: Vec<RefundPayment>,
}
