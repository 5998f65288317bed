//! The sale journal.
//!
//! Debits are what the customer handed over: the receivable (or clearing account, by payment
//! method) for `total_inc_tax` less gift certificates and store credit, and those two
//! liabilities for what they covered. Credits are built from the order's components: revenue
//! per line (a sold gift certificate is a liability instead), shipping, handling, wrapping,
//! fees, tax; discounts are netted into their lines or shown as their own debits. All
//! component amounts are taken excluding tax, with tax credited once from `total_tax`; in a
//! store with tax-inclusive prices, line discounts are converted to their ex-tax share with the
//! line's own ex/inc ratio. Bundle children and zero-value lines post nothing.

use rust_decimal::Decimal;

use super::bounds::{check, mul_div};
use super::finalize::{Leg, finalize};
use super::{Journal, JournalContext, JournalError, JournalFlag, PostingKind, Side};
use crate::bigcommerce::{Order, OrderBundle, OrderProduct};
use crate::config::DiscountPresentation;
use crate::mapping::AccountRole;
use crate::money::{Currency, Money, split_pro_rata};

/// Whether the store's prices (and so its discounts and refund amounts) include tax.
#[derive(Debug, Clone, Copy)]
pub(super) struct Basis {
    inclusive: bool,
    /// The order, named when a share is out of range.
    order: u64,
}

impl Basis {
    pub fn of(order: &Order) -> Self {
        Self {
            inclusive: order.is_tax_inclusive_pricing,
            order: order.id,
        }
    }

    /// Prices include tax.
    pub fn is_inclusive(self) -> bool {
        self.inclusive
    }

    /// A line's value before discounts, in the pricing basis.
    pub fn gross(self, line: &OrderProduct) -> Decimal {
        if self.inclusive {
            line.total_inc_tax
        } else {
            line.total_ex_tax
        }
    }

    /// The ex-tax share of an amount given in the pricing basis, using the ex/inc ratio of the
    /// thing it belongs to.
    pub fn ex_share(
        self,
        amount: Decimal,
        ex: Decimal,
        inc: Decimal,
    ) -> Result<Decimal, JournalError> {
        if self.inclusive && !inc.is_zero() {
            mul_div(self.order, "an ex-tax share", amount, ex, inc)
        } else {
            Ok(amount)
        }
    }
}

/// The lines that carry money: not bundle children, not zero-valued.
pub(super) fn postable_lines(bundle: &OrderBundle) -> Vec<&OrderProduct> {
    bundle
        .lines
        .iter()
        .filter(|l| !l.is_bundle_child())
        .filter(|l| {
            !(l.total_ex_tax.is_zero() && l.total_inc_tax.is_zero() && l.discount_total().is_zero())
        })
        .collect()
}

/// Discounts per postable line, in the pricing basis.
pub(super) struct Discounts {
    /// Parallel to the postable lines.
    pub per_line: Vec<Decimal>,
    /// Order-level discount spread over the lines (when no line carried its own).
    pub allocated: Option<Decimal>,
    /// Order-level discount with no revenue line to spread it over.
    pub unplaced: Decimal,
}

/// Line discounts come from `applied_discounts` ("Discounts spread onto this line"). Older
/// orders, manual discounts and some API-created ones carry `discount_amount`/`coupon_discount`
/// only at order level; then the order-level total is spread the way BigCommerce spreads it, by
/// each line's share of the ex-tax subtotal (line `total_ex_tax`: "Total base price excluding
/// tax", before any discount), so revenue per cost centre matches BigCommerce's own reports (sold
/// gift certificates are never discounted this way).
pub(super) fn line_discounts(order: &Order, lines: &[&OrderProduct]) -> Discounts {
    let per_line: Vec<Decimal> = lines.iter().map(|l| l.discount_total()).collect();
    let order_level = order.discount_amount + order.coupon_discount;
    if per_line.iter().any(|d| !d.is_zero()) || order_level.is_zero() {
        return Discounts {
            per_line,
            allocated: None,
            unplaced: Decimal::ZERO,
        };
    }
    let weights: Vec<Decimal> = lines
        .iter()
        .map(|l| {
            if l.is_gift_certificate() {
                Decimal::ZERO
            } else {
                l.total_ex_tax
            }
        })
        .collect();
    if !weights.iter().any(|w| *w > Decimal::ZERO) {
        return Discounts {
            per_line,
            allocated: None,
            unplaced: order_level,
        };
    }
    Discounts {
        per_line: split_pro_rata(order_level, &weights),
        allocated: Some(order_level),
        unplaced: Decimal::ZERO,
    }
}

fn line_label(line: &OrderProduct) -> String {
    let name = if line.name.is_empty() {
        format!("order line {}", line.id)
    } else {
        line.name.clone()
    };
    format!("{name} ×{}", line.quantity)
}

/// Builds the sale journal of an order.
pub fn build_sale(ctx: &JournalContext<'_>, bundle: &OrderBundle) -> Result<Journal, JournalError> {
    check(bundle)?;
    let order = &bundle.order;
    let currency = ctx.entered_currency(order)?;
    let date = ctx.local_date(&order.date_created);
    let mut journal = ctx.header(order, PostingKind::Sale, date, currency, "sale");
    let lines = postable_lines(bundle);
    if lines.is_empty() && !(order.subtotal_ex_tax.is_zero() && order.subtotal_inc_tax.is_zero()) {
        let subtotal = if order.subtotal_inc_tax.is_zero() {
            order.subtotal_ex_tax
        } else {
            order.subtotal_inc_tax
        };
        return Err(JournalError::NoLineItems {
            order: order.id,
            subtotal: Money::new(subtotal, currency),
        });
    }
    let discounts = line_discounts(order, &lines);
    if let Some(amount) = discounts.allocated {
        journal
            .flags
            .push(JournalFlag::OrderDiscountAllocated { amount });
    }
    let separate = ctx.config.posting.discounts == DiscountPresentation::Separate;
    let mut legs = sale_tenders(order);
    for (line, discount) in lines.iter().zip(&discounts.per_line) {
        legs.extend(line_legs(
            Basis::of(order),
            line,
            *discount,
            separate,
            currency,
        )?);
    }
    legs.extend(charge_legs(order, discounts.unplaced));
    finalize(ctx, bundle, journal, legs, Side::Dr)
}

/// What the shopper paid with: owed through the payment method, gift certificates, store
/// credit.
fn sale_tenders(order: &Order) -> Vec<Leg<'_>> {
    let method = if order.payment_method.is_empty() {
        "unknown payment method".to_string()
    } else {
        order.payment_method.clone()
    };
    vec![
        Leg::new(
            AccountRole::Receivable,
            Side::Dr,
            order.owed(),
            format!("Due from customer ({method})"),
            "order",
        )
        .tender(),
        Leg::new(
            AccountRole::GiftCertificate,
            Side::Dr,
            order.gift_certificate_amount,
            "Paid with gift certificates",
            "gift_certificates",
        )
        .tender(),
        Leg::new(
            AccountRole::StoreCredit,
            Side::Dr,
            order.store_credit_amount,
            "Paid with store credit",
            "store_credit",
        )
        .tender(),
    ]
}

/// One product line's revenue (or sold gift certificate) excluding tax, with its `discount`
/// (in the pricing basis) on a line of its own when the document shows discounts apart or
/// netted into the revenue when it does not.
fn line_legs<'b>(
    basis: Basis,
    line: &'b OrderProduct,
    discount: Decimal,
    separate: bool,
    currency: Currency,
) -> Result<Vec<Leg<'b>>, JournalError> {
    let role = if line.is_gift_certificate() {
        AccountRole::GiftCertificate
    } else {
        AccountRole::Revenue
    };
    let gross_ex = line.total_ex_tax;
    let discount_ex = basis.ex_share(discount, line.total_ex_tax, line.total_inc_tax)?;
    let label = line_label(line);
    let reference = format!("line:{}", line.id);
    if separate || discount_ex.is_zero() {
        return Ok(vec![
            Leg::new(role, Side::Cr, gross_ex, label.clone(), reference.clone()).for_product(line),
            Leg::new(
                AccountRole::Discount,
                Side::Dr,
                discount_ex,
                format!("Discount on {label}"),
                reference,
            )
            .for_product(line),
        ]);
    }
    Ok(vec![
        Leg::new(
            role,
            Side::Cr,
            gross_ex - discount_ex,
            format!("{label}, net of discount {}", currency.format(discount_ex)),
            reference,
        )
        .for_product(line),
    ])
}

/// The order-level amounts: a discount no line could take (`unplaced`), shipping, handling,
/// wrapping, fees (excluding tax), and the tax.
fn charge_legs(order: &Order, unplaced: Decimal) -> Vec<Leg<'_>> {
    let mut legs = vec![
        Leg::new(
            AccountRole::Discount,
            Side::Dr,
            unplaced,
            "Order discount",
            "order_discount",
        ),
        Leg::new(
            AccountRole::Shipping,
            Side::Cr,
            order.shipping_cost_ex_tax,
            "Shipping",
            "shipping",
        ),
        Leg::new(
            AccountRole::Handling,
            Side::Cr,
            order.handling_cost_ex_tax,
            "Handling",
            "handling",
        ),
        Leg::new(
            AccountRole::Wrapping,
            Side::Cr,
            order.wrapping_cost_ex_tax,
            "Gift wrapping",
            "wrapping",
        ),
    ];
    for fee in &order.fees {
        legs.push(Leg::new(
            AccountRole::Fee,
            Side::Cr,
            fee.amount_ex_tax(),
            format!("Fee: {}", fee.label()),
            format!("fee:{}", fee.id),
        ));
    }
    legs.push(Leg::new(
        AccountRole::Tax,
        Side::Cr,
        order.total_tax,
        "Tax",
        "tax",
    ));
    legs
}
