//! The refund journal: an adjustment linked to the sale, never an edit of it.
//!
//! Debits are what is given back, component by component and excluding tax: goods on the
//! refund (sales returns) account with the line's own mapping context, shipping, handling,
//! wrapping and fees on their revenue accounts, an order-level custom amount on the refund
//! account, and the refunded tax (`total_tax`, which may be negative). Credits are the refund
//! payments that went through: the receivable/clearing account of each provider, or the store
//! credit liability for refunds to store credit. Declined payments moved no money and are left
//! out; a refund whose payments were all declined posts nothing.
//!
//! Amounts a refund item asks for (`requested_amount`) are in the store's pricing basis, like
//! its prices; a product refunded by quantity is valued at the line's discounted unit price.
//! Kept-back adjustments (restocking fees) reduce the item's refund.

use rust_decimal::Decimal;

use super::finalize::{Leg, finalize};
use super::naming::batch_name;
use super::sale::{Basis, line_discounts, postable_lines};
use super::{Journal, JournalContext, JournalError, JournalFlag, PostingKind, Side};
use crate::bigcommerce::{OrderBundle, RefundItem, RefundItemType};
use crate::mapping::AccountRole;

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

/// Builds the journal of one refund of the bundle's order.
pub fn build_refund(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    refund_id: u64,
) -> Result<Journal, JournalError> {
    let order = &bundle.order;
    let refund =
        bundle
            .refunds
            .iter()
            .find(|r| r.id == refund_id)
            .ok_or(JournalError::UnknownRefund {
                order: order.id,
                refund: refund_id,
            })?;
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
    let mut journal = ctx.header(order, PostingKind::Refund(refund.id), date, currency, &what);
    journal.linked_batch = Some(batch_name(&ctx.store.id, order.id, &PostingKind::Sale));

    let paid: Vec<_> = refund.payments.iter().filter(|p| !p.is_declined).collect();
    if !refund.payments.is_empty() && paid.is_empty() {
        // Every payment was declined: nothing moved, nothing to post.
        return Ok(journal);
    }

    let basis = Basis::of(order);
    let lines = postable_lines(bundle);
    let discounts = line_discounts(order, &lines, basis);
    let mut legs = Vec::new();
    for item in &refund.items {
        let reference = format!("refund:{}:{}", refund.id, item_key(item));
        let requested = item.requested_amount;
        let mut not_found = || {
            journal.flags.push(JournalFlag::RefundItemNotFound {
                item: item_key(item),
            });
        };
        let leg = match &item.item_type {
            RefundItemType::Product => match lines.iter().position(|l| l.id == item.item_id) {
                Some(i) => {
                    let line = lines[i];
                    let value = requested.unwrap_or_else(|| {
                        let qty = Decimal::from(item.quantity.unwrap_or(0));
                        if line.quantity == 0 {
                            Decimal::ZERO
                        } else {
                            (basis.gross(line) - discounts.per_line[i]) * qty
                                / Decimal::from(line.quantity)
                        }
                    });
                    let kept: Decimal = item.adjustments.iter().map(|a| a.amount).sum();
                    let role = if line.is_gift_certificate() {
                        AccountRole::GiftCertificate
                    } else {
                        AccountRole::Refund
                    };
                    let mut label = format!(
                        "Refund: {} ×{}",
                        if line.name.is_empty() {
                            "item"
                        } else {
                            &line.name
                        },
                        item.quantity.unwrap_or(0)
                    );
                    if !kept.is_zero() {
                        label.push_str(&format!(", less {} kept back", currency.format(-kept)));
                    }
                    Leg::new(
                        role,
                        Side::Dr,
                        basis.ex_share(value + kept, line.total_ex_tax, line.total_inc_tax),
                        label,
                        reference,
                    )
                    .for_product(line)
                }
                None => {
                    not_found();
                    Leg::new(
                        AccountRole::Refund,
                        Side::Dr,
                        requested.unwrap_or_default(),
                        format!("Refund of order line {} (not in the order)", item.item_id),
                        reference,
                    )
                }
            },
            RefundItemType::GiftWrapping => {
                let line = bundle.line(item.item_id);
                let (ex, inc) = line.map_or((Decimal::ZERO, Decimal::ZERO), |l| {
                    (l.wrapping_cost_ex_tax, l.wrapping_cost_inc_tax)
                });
                if line.is_none() {
                    not_found();
                }
                let amount = requested.map_or(ex, |a| basis.ex_share(a, ex, inc));
                Leg::new(
                    AccountRole::Wrapping,
                    Side::Dr,
                    amount,
                    "Refund: gift wrapping",
                    reference,
                )
            }
            RefundItemType::Shipping => {
                let (ex, inc) = (order.shipping_cost_ex_tax, order.shipping_cost_inc_tax);
                let amount = requested.map_or(ex, |a| basis.ex_share(a, ex, inc));
                Leg::new(
                    AccountRole::Shipping,
                    Side::Dr,
                    amount,
                    "Refund: shipping",
                    reference,
                )
            }
            RefundItemType::Handling => {
                let (ex, inc) = (order.handling_cost_ex_tax, order.handling_cost_inc_tax);
                let amount = requested.map_or(ex, |a| basis.ex_share(a, ex, inc));
                Leg::new(
                    AccountRole::Handling,
                    Side::Dr,
                    amount,
                    "Refund: handling",
                    reference,
                )
            }
            RefundItemType::Order => Leg::new(
                AccountRole::Refund,
                Side::Dr,
                requested.unwrap_or_default(),
                "Refund: order-level amount",
                reference,
            ),
            RefundItemType::Fee => {
                let fee = order.fees.iter().find(|f| f.id == item.item_id);
                if fee.is_none() {
                    not_found();
                }
                let amount = match (fee, requested) {
                    (Some(f), Some(a)) => basis.ex_share(a, f.amount_ex_tax(), f.amount_inc_tax()),
                    (Some(f), None) => f.amount_ex_tax(),
                    (None, a) => a.unwrap_or_default(),
                };
                let label = fee.map_or_else(|| "fee".to_string(), |f| f.label().to_string());
                Leg::new(
                    AccountRole::Fee,
                    Side::Dr,
                    amount,
                    format!("Refund: {label}"),
                    reference,
                )
            }
            RefundItemType::Other(kind) => Leg::new(
                AccountRole::Refund,
                Side::Dr,
                requested.unwrap_or_default(),
                format!("Refund: {kind}"),
                reference,
            ),
        };
        legs.push(leg);
    }
    legs.push(Leg::new(
        AccountRole::Tax,
        Side::Dr,
        refund.total_tax,
        "Tax refunded",
        format!("refund:{}:tax", refund.id),
    ));
    if paid.is_empty() {
        legs.push(
            Leg::new(
                AccountRole::Receivable,
                Side::Cr,
                refund.total_amount,
                "Refunded to customer",
                format!("refund:{}", refund.id),
            )
            .tender(),
        );
    }
    for p in paid {
        let role = if p.is_store_credit() {
            AccountRole::StoreCredit
        } else {
            AccountRole::Receivable
        };
        let how = if p.offline { " (offline)" } else { "" };
        legs.push(
            Leg::new(
                role,
                Side::Cr,
                p.amount,
                format!("Refunded via {}{how}", p.provider_id),
                format!("refund:{}:payment:{}", refund.id, p.id),
            )
            .via(&p.provider_id)
            .tender(),
        );
    }
    finalize(ctx, bundle, journal, legs, Side::Cr)
}
