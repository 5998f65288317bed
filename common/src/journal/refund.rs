//! The refund journal: an adjustment linked to the sale, never an edit of it.
//!
//! A refund mirrors its sale. Each refunded item is debited, excluding tax, on exactly the
//! segments its sale line was credited to (as booked; as the mapping gives that line now when
//! the sale is not booked yet): goods on the sale line's segments with only the natural account
//! switched to the returns account where the document names one, and, when discounts are shown
//! separately, the line's discount share credited back on the discount line's segments;
//! shipping, handling, wrapping and fees on their sale lines; an order-level custom amount
//! (`ORDER`, which carries no tax) on the returns account, or order-level revenue when the
//! document names no returns account. The tax given back is debited to tax payable. Credits are
//! the refund payments that went through, each back through the tender it names: store credit
//! and gift certificates on their liabilities, the gateway on the very account the sale debited
//! (a gateway only refunds what it took, whatever name the refund gives it: `stripev3` for a
//! payment its transaction calls `stripe`), and an offline refund (cash, cheque, bank
//! transfer) there too, unless a rule names its provider and sends it elsewhere.
//! Declined payments moved no money and are left out; a refund whose payments were all
//! declined posts nothing.
//!
//! After the order's cancellation is booked, what was earned and owed to tax is already
//! reversed, and the money still held is owed back as "refund due": a refund then debits the
//! refund due and credits the tenders, whatever its items say.
//!
//! Amounts a refund item asks for (`requested_amount`) are in the store's pricing basis, like
//! its prices; a product refunded by quantity is valued at the line's discounted unit price.
//! Kept-back adjustments (restocking fees) reduce the item's refund.

use rust_decimal::Decimal;

use super::bounds::{check, mul_div};
use super::finalize::{Leg, finalize};
use super::naming::batch_name;
use super::sale::{Basis, line_discounts, postable_lines};
use super::{Journal, JournalContext, JournalError, JournalFlag, PostingKind, Side};
use crate::bigcommerce::{
    OrderBundle, OrderFee, OrderProduct, Refund, RefundItem, RefundItemType, TenderKind,
};
use crate::config::DiscountPresentation;
use crate::mapping::AccountRole;
use crate::money::{Currency, split_pro_rata};

/// How a refund is booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Against {
    /// The order stands: the refund reverses what its items earned and the tax on them.
    Sale,
    /// The order's cancellation is booked: the refund pays out the refund due.
    RefundDue,
}

fn item_key(item: &RefundItem) -> String {
    let kind = serde_json::to_value(&item.item_type)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    format!("{kind}:{}", item.item_id)
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Builds the journal of one refund of the bundle's order, mirroring its sale.
pub fn build_refund(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    refund_id: u64,
) -> Result<Journal, JournalError> {
    build(ctx, bundle, refund_id, Against::Sale)
}

/// Builds the journal of a refund made after the order's cancellation was booked: it clears the
/// refund due the cancellation set up.
pub fn build_refund_of_cancelled(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    refund_id: u64,
) -> Result<Journal, JournalError> {
    build(ctx, bundle, refund_id, Against::RefundDue)
}

/// The refund with this id, or the typed error naming it.
fn find(bundle: &OrderBundle, refund_id: u64) -> Result<&Refund, JournalError> {
    bundle
        .refunds
        .iter()
        .find(|r| r.id == refund_id)
        .ok_or(JournalError::UnknownRefund {
            order: bundle.order.id,
            refund: refund_id,
        })
}

/// What a refund gave back: its payments that went through (all of `total_amount` when it
/// lists none).
pub fn refund_paid(refund: &Refund) -> Decimal {
    if refund.payments.is_empty() {
        refund.total_amount
    } else {
        refund
            .payments
            .iter()
            .filter(|p| !p.is_declined)
            .map(|p| p.amount)
            .sum()
    }
}

fn build(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    refund_id: u64,
    against: Against,
) -> Result<Journal, JournalError> {
    check(bundle)?;
    let order = &bundle.order;
    let refund = find(bundle, refund_id)?;
    let currency = ctx.entered_currency(order)?;
    let when = refund
        .created
        .or(order.date_modified)
        .unwrap_or(order.date_created);
    let date = ctx.local_date(&when);
    let what = if refund.reason.trim().is_empty() {
        format!("refund {}", refund.id)
    } else {
        format!("refund {}: {}", refund.id, short(refund.reason.trim(), 80))
    };
    let conversion = ctx.refund_conversion(order, currency, date);
    let mut journal = ctx.header_with(
        order,
        PostingKind::Refund(refund.id),
        date,
        currency,
        &what,
        conversion,
    );
    journal.linked_batch = Some(batch_name(&ctx.store.id, order.id, &PostingKind::Sale));

    if !refund.payments.is_empty() && refund.payments.iter().all(|p| p.is_declined) {
        // Every payment was declined: nothing moved, nothing to post.
        return Ok(journal);
    }
    let mut legs = match against {
        Against::Sale => component_legs(ctx, bundle, refund, currency, &mut journal.flags)?,
        Against::RefundDue => vec![
            Leg::new(
                AccountRole::RefundDue,
                Side::Dr,
                refund_paid(refund),
                "Refund due paid back to the shopper",
                format!("refund:{}:refund_due", refund.id),
            )
            .mirror("refund_due", AccountRole::RefundDue),
        ],
    };
    legs.extend(tender_legs(ctx, bundle, refund));
    finalize(ctx, bundle, journal, legs, Side::Cr)
}

/// The money given back, each payment through the tender it names.
fn tender_legs<'b>(
    ctx: &JournalContext<'_>,
    bundle: &'b OrderBundle,
    refund: &'b Refund,
) -> Vec<Leg<'b>> {
    let sale_gateway = bundle.payment_gateway();
    if refund.payments.is_empty() {
        return vec![
            Leg::new(
                AccountRole::Receivable,
                Side::Cr,
                refund.total_amount,
                "Refunded to customer",
                format!("refund:{}", refund.id),
            )
            .mirror("order", AccountRole::Receivable)
            .tender(),
        ];
    }
    refund
        .payments
        .iter()
        .filter(|p| !p.is_declined)
        .map(|p| {
            let how = if p.offline { " (offline)" } else { "" };
            let leg = |role| {
                Leg::new(
                    role,
                    Side::Cr,
                    p.amount,
                    format!("Refunded via {}{how}", p.provider_id),
                    format!("refund:{}:payment:{}", refund.id, p.id),
                )
                .tender()
            };
            match p.tender() {
                TenderKind::StoreCredit => {
                    leg(AccountRole::StoreCredit).mirror("store_credit", AccountRole::StoreCredit)
                }
                TenderKind::GiftCertificate => leg(AccountRole::GiftCertificate)
                    .mirror("gift_certificates", AccountRole::GiftCertificate),
                // Paid out offline, through a provider a rule sends elsewhere (a bank account):
                // where that rule says.
                TenderKind::Gateway
                    if p.offline
                        && !sale_gateway.eq_ignore_ascii_case(&p.provider_id)
                        && ctx.config.mapping.names_gateway(&p.provider_id) =>
                {
                    leg(AccountRole::Receivable).via(&p.provider_id)
                }
                // Back through the gateway the sale went through: the account the sale debited.
                TenderKind::Gateway => {
                    leg(AccountRole::Receivable).mirror("order", AccountRole::Receivable)
                }
            }
        })
        .collect()
}

/// What the refund's items reverse, excluding tax, and the tax given back.
fn component_legs<'b>(
    ctx: &JournalContext<'_>,
    bundle: &'b OrderBundle,
    refund: &'b Refund,
    currency: Currency,
    flags: &mut Vec<JournalFlag>,
) -> Result<Vec<Leg<'b>>, JournalError> {
    let lines = postable_lines(bundle);
    let discounts = line_discounts(&bundle.order, &lines).per_line;
    let items = Items {
        bundle,
        basis: Basis::of(&bundle.order),
        lines,
        discounts,
        separate: ctx.config.posting.discounts == DiscountPresentation::Separate,
        currency,
    };
    let mut legs = Vec::new();
    let mut tax_items = Decimal::ZERO;
    for item in &refund.items {
        let reference = format!("refund:{}:{}", refund.id, item_key(item));
        let requested = item.requested_amount.unwrap_or_default();
        let found = match &item.item_type {
            RefundItemType::Product => items.product(item, reference, &mut legs)?,
            RefundItemType::GiftWrapping => items.wrapping(item, reference, &mut legs)?,
            RefundItemType::Shipping | RefundItemType::Handling => {
                legs.push(items.shipping_or_handling(item, reference)?);
                true
            }
            RefundItemType::Order => {
                let label = "Refund: order-level amount";
                legs.push(Leg::new(
                    AccountRole::Refund,
                    Side::Dr,
                    requested,
                    label,
                    reference,
                ));
                true
            }
            RefundItemType::Fee => items.fees(item, reference, &mut legs)?,
            RefundItemType::Tax => {
                tax_items += requested;
                true
            }
            RefundItemType::Other(kind) => {
                let label = format!("Refund: {kind}");
                legs.push(Leg::new(
                    AccountRole::Refund,
                    Side::Dr,
                    requested,
                    label,
                    reference,
                ));
                true
            }
        };
        if !found {
            flags.push(JournalFlag::RefundItemNotFound {
                item: item_key(item),
            });
        }
    }
    legs.push(tax_leg(refund, tax_items));
    Ok(legs)
}

/// The tax given back. `total_tax`: "Total tax amount refunded back to the shopper". A `TAX`
/// item (`tax_items`) is tax given back on its own: part of `total_tax` when BigCommerce
/// reports one, the tax refunded when it reports none. Counted once either way.
fn tax_leg(refund: &Refund, tax_items: Decimal) -> Leg<'_> {
    let tax = if refund.total_tax.is_zero() {
        tax_items
    } else {
        refund.total_tax
    };
    Leg::new(
        AccountRole::Tax,
        Side::Dr,
        tax,
        "Tax refunded",
        format!("refund:{}:tax", refund.id),
    )
    .mirror("tax", AccountRole::Tax)
}

/// What a refund's items are valued against: the order's postable lines with their discounts,
/// and whether prices include tax. Each item kind's legs are pushed by a method that answers
/// whether the item named something the order has (a flag is raised when it did not).
struct Items<'b> {
    bundle: &'b OrderBundle,
    basis: Basis,
    lines: Vec<&'b OrderProduct>,
    /// Parallel to `lines`, in the pricing basis.
    discounts: Vec<Decimal>,
    /// The sale showed discounts on their own lines.
    separate: bool,
    currency: Currency,
}

impl<'b> Items<'b> {
    /// A product line's refund, at the line's discounted unit price when only a quantity is
    /// given, less what was kept back.
    fn product(
        &self,
        item: &RefundItem,
        reference: String,
        legs: &mut Vec<Leg<'b>>,
    ) -> Result<bool, JournalError> {
        let Some(i) = self.lines.iter().position(|l| l.id == item.item_id) else {
            legs.push(Leg::new(
                AccountRole::Refund,
                Side::Dr,
                item.requested_amount.unwrap_or_default(),
                format!("Refund of order line {} (not in the order)", item.item_id),
                reference,
            ));
            return Ok(false);
        };
        let order = self.bundle.order.id;
        let line = self.lines[i];
        let gross = self.basis.gross(line);
        let discount = self.discounts[i];
        let net = gross - discount;
        let value = match item.requested_amount {
            Some(value) => value,
            None if line.quantity == 0 => Decimal::ZERO,
            None => mul_div(
                order,
                &format!("the value of {reference}"),
                net,
                Decimal::from(item.quantity.unwrap_or(0)),
                Decimal::from(line.quantity),
            )?,
        };
        let kept: Decimal = item.adjustments.iter().map(|a| a.amount).sum();
        let value = value + kept;
        let basis = self.basis;
        let ex = |amount| basis.ex_share(amount, line.total_ex_tax, line.total_inc_tax);
        let label = self.product_label(line, item, kept);
        let line_ref = format!("line:{}", line.id);
        if line.is_gift_certificate() {
            legs.push(
                Leg::new(
                    AccountRole::GiftCertificate,
                    Side::Dr,
                    ex(value)?,
                    label,
                    reference,
                )
                .for_product(line)
                .mirror(line_ref, AccountRole::GiftCertificate),
            );
        } else if self.separate && !discount.is_zero() && !net.is_zero() {
            // The sale showed the line at list price and its discount apart: give back the
            // same proportion of each.
            legs.push(
                Leg::new(
                    AccountRole::Refund,
                    Side::Dr,
                    ex(mul_div(order, &reference, value, gross, net)?)?,
                    label.clone(),
                    reference.clone(),
                )
                .for_product(line)
                .returns_of(line_ref.clone(), AccountRole::Revenue),
            );
            legs.push(
                Leg::new(
                    AccountRole::Discount,
                    Side::Cr,
                    ex(mul_div(order, &reference, value, discount, net)?)?,
                    format!("Discount given back on {label}"),
                    reference,
                )
                .for_product(line)
                .mirror(line_ref, AccountRole::Discount),
            );
        } else {
            legs.push(
                Leg::new(AccountRole::Refund, Side::Dr, ex(value)?, label, reference)
                    .for_product(line)
                    .returns_of(line_ref, AccountRole::Revenue),
            );
        }
        Ok(true)
    }

    /// How a product refund reads: the line's name and the quantity, and what was kept back.
    fn product_label(&self, line: &OrderProduct, item: &RefundItem, kept: Decimal) -> String {
        let name = if line.name.is_empty() {
            "item"
        } else {
            &line.name
        };
        let mut label = format!("Refund: {name} ×{}", item.quantity.unwrap_or(0));
        if !kept.is_zero() {
            label.push_str(&format!(", less {} kept back", self.currency.format(-kept)));
        }
        label
    }

    /// A line's gift wrapping, on the sale's wrapping line.
    fn wrapping(
        &self,
        item: &RefundItem,
        reference: String,
        legs: &mut Vec<Leg<'b>>,
    ) -> Result<bool, JournalError> {
        let line = self.bundle.line(item.item_id);
        let (ex, inc) = line.map_or((Decimal::ZERO, Decimal::ZERO), |l| {
            (l.wrapping_cost_ex_tax, l.wrapping_cost_inc_tax)
        });
        let amount = match item.requested_amount {
            Some(a) => self.basis.ex_share(a, ex, inc)?,
            None => ex,
        };
        legs.push(
            Leg::new(
                AccountRole::Wrapping,
                Side::Dr,
                amount,
                "Refund: gift wrapping",
                reference,
            )
            .mirror("wrapping", AccountRole::Wrapping),
        );
        Ok(line.is_some())
    }

    /// Shipping or handling, on the sale's line for it.
    fn shipping_or_handling(
        &self,
        item: &RefundItem,
        reference: String,
    ) -> Result<Leg<'b>, JournalError> {
        let order = &self.bundle.order;
        let (role, ex, inc, what) = if item.item_type == RefundItemType::Shipping {
            (
                AccountRole::Shipping,
                order.shipping_cost_ex_tax,
                order.shipping_cost_inc_tax,
                "shipping",
            )
        } else {
            (
                AccountRole::Handling,
                order.handling_cost_ex_tax,
                order.handling_cost_inc_tax,
                "handling",
            )
        };
        let amount = match item.requested_amount {
            Some(a) => self.basis.ex_share(a, ex, inc)?,
            None => ex,
        };
        Ok(
            Leg::new(role, Side::Dr, amount, format!("Refund: {what}"), reference)
                .mirror(what, role),
        )
    }

    /// The fee(s) an item refunds, each on the sale's line for it.
    fn fees(
        &self,
        item: &RefundItem,
        reference: String,
        legs: &mut Vec<Leg<'b>>,
    ) -> Result<bool, JournalError> {
        let fees = fees_refunded(self.bundle, item);
        if fees.is_empty() {
            legs.push(Leg::new(
                AccountRole::Fee,
                Side::Dr,
                item.requested_amount.unwrap_or_default(),
                "Refund: fee",
                reference,
            ));
            return Ok(false);
        }
        for (fee, share) in fees {
            let amount = match share {
                Some(a) => self
                    .basis
                    .ex_share(a, fee.amount_ex_tax(), fee.amount_inc_tax())?,
                None => fee.amount_ex_tax(),
            };
            legs.push(
                Leg::new(
                    AccountRole::Fee,
                    Side::Dr,
                    amount,
                    format!("Refund: {}", fee.label()),
                    reference.clone(),
                )
                .mirror(format!("fee:{}", fee.id), AccountRole::Fee),
            );
        }
        Ok(true)
    }
}

/// The fee(s) a `FEE` item refunds, each with its share of the requested amount (`None`: the
/// whole fee). `item_id` is the fee's id (request schema) or the order's id (refund schema):
/// a fee id wins; the order id means the order's only fee, or the fee whose amount is the
/// amount requested, or else the requested amount spread over the fees by their amounts.
fn fees_refunded<'b>(
    bundle: &'b OrderBundle,
    item: &RefundItem,
) -> Vec<(&'b OrderFee, Option<Decimal>)> {
    let order = &bundle.order;
    let fees = &order.fees;
    let requested = item.requested_amount;
    if let Some(fee) = fees.iter().find(|f| f.id == item.item_id && f.id != 0) {
        return vec![(fee, requested)];
    }
    if item.item_id != order.id || fees.is_empty() {
        return Vec::new();
    }
    let basis = Basis::of(order);
    let in_basis = |f: &OrderFee| {
        if basis.is_inclusive() {
            f.amount_inc_tax()
        } else {
            f.amount_ex_tax()
        }
    };
    if let [only] = fees.as_slice() {
        return vec![(only, requested)];
    }
    if let Some(a) = requested
        && let Some(fee) = fees.iter().find(|f| in_basis(f) == a)
    {
        return vec![(fee, requested)];
    }
    let Some(total) = requested else {
        return fees.iter().map(|f| (f, None)).collect();
    };
    let weights: Vec<Decimal> = fees.iter().map(in_basis).collect();
    fees.iter()
        .zip(split_pro_rata(total, &weights))
        .map(|(f, share)| (f, Some(share)))
        .collect()
}
