//! The amounts the builders compute with, kept inside what the decimal type holds.
//!
//! `Decimal` holds about 7.9 × 10^28 and its operators panic past that. An order whose amounts
//! come near it (a hostile order file, a corrupted answer) must not panic a builder: in the
//! poster one panic fails the whole batch, every order in it. So every amount an order carries
//! is checked against [`MAX_AMOUNT`] before anything is added up, which keeps every sum far
//! inside the type, and the few products and quotients (ex-tax shares, a refund valued by
//! quantity, a discount spread by weight) are computed checked. Either way the order gets
//! [`JournalError::AmountOutOfRange`]: the poster records it as held with the reason and goes
//! on with the rest, and `mlc preview` reports it as bad input.

use rust_decimal::Decimal;

use super::JournalError;
use crate::bigcommerce::{Order, OrderBundle};

/// The largest amount, either way, an order may carry: 10^15 units of its currency. No real
/// order comes near it in any currency (not in Iranian rials or Vietnamese dong either), and a
/// sum of every amount an order holds stays some thirteen orders of magnitude inside the type.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xA4C6_8000, 0x0003_8D7E, 0, false, 0);

/// The typed error for a figure of order `order` that is out of range; `field` says which.
pub(crate) fn out_of_range(order: u64, field: impl Into<String>) -> JournalError {
    JournalError::AmountOutOfRange {
        order,
        field: field.into(),
    }
}

fn within(order: u64, value: Decimal, field: impl FnOnce() -> String) -> Result<(), JournalError> {
    if value.abs() > MAX_AMOUNT {
        return Err(out_of_range(order, field()));
    }
    Ok(())
}

/// Every amount of the bundle (the order's, its lines', fees', refunds' and transactions') is
/// within [`MAX_AMOUNT`]; the first that is not is named by its path in the bundle.
pub(crate) fn check(bundle: &OrderBundle) -> Result<(), JournalError> {
    check_order(&bundle.order)?;
    check_lines(bundle)?;
    check_refunds(bundle)?;
    let id = bundle.order.id;
    for (i, t) in bundle.transactions.iter().flatten().enumerate() {
        within(id, t.amount, || format!("transactions[{i}].amount"))?;
    }
    Ok(())
}

/// The order's own amounts and its fees'.
fn check_order(o: &Order) -> Result<(), JournalError> {
    let id = o.id;
    for (field, value) in [
        ("subtotal_ex_tax", o.subtotal_ex_tax),
        ("subtotal_inc_tax", o.subtotal_inc_tax),
        ("subtotal_tax", o.subtotal_tax),
        ("shipping_cost_ex_tax", o.shipping_cost_ex_tax),
        ("shipping_cost_inc_tax", o.shipping_cost_inc_tax),
        ("shipping_cost_tax", o.shipping_cost_tax),
        ("handling_cost_ex_tax", o.handling_cost_ex_tax),
        ("handling_cost_inc_tax", o.handling_cost_inc_tax),
        ("handling_cost_tax", o.handling_cost_tax),
        ("wrapping_cost_ex_tax", o.wrapping_cost_ex_tax),
        ("wrapping_cost_inc_tax", o.wrapping_cost_inc_tax),
        ("wrapping_cost_tax", o.wrapping_cost_tax),
        ("total_ex_tax", o.total_ex_tax),
        ("total_inc_tax", o.total_inc_tax),
        ("total_tax", o.total_tax),
        ("discount_amount", o.discount_amount),
        ("coupon_discount", o.coupon_discount),
        ("store_credit_amount", o.store_credit_amount),
        ("gift_certificate_amount", o.gift_certificate_amount),
        ("refunded_amount", o.refunded_amount),
    ] {
        within(id, value, || format!("order.{field}"))?;
    }
    for (i, f) in o.fees.iter().enumerate() {
        for (field, value) in [
            ("cost_ex_tax", f.cost_ex_tax),
            ("cost_inc_tax", f.cost_inc_tax),
            ("cost_tax", f.cost_tax),
            ("base_cost", f.base_cost),
        ] {
            within(id, value.unwrap_or_default(), || {
                format!("order.fees[{i}].{field}")
            })?;
        }
    }
    Ok(())
}

/// The lines' amounts and their discounts'.
fn check_lines(bundle: &OrderBundle) -> Result<(), JournalError> {
    let id = bundle.order.id;
    for (i, l) in bundle.lines.iter().enumerate() {
        for (field, value) in [
            ("price_ex_tax", l.price_ex_tax),
            ("price_inc_tax", l.price_inc_tax),
            ("total_ex_tax", l.total_ex_tax),
            ("total_inc_tax", l.total_inc_tax),
            ("total_tax", l.total_tax),
            ("wrapping_cost_ex_tax", l.wrapping_cost_ex_tax),
            ("wrapping_cost_inc_tax", l.wrapping_cost_inc_tax),
            (
                "discounted_total_inc_tax",
                l.discounted_total_inc_tax.unwrap_or_default(),
            ),
        ] {
            within(id, value, || format!("products[{i}].{field}"))?;
        }
        for (j, d) in l.applied_discounts.iter().enumerate() {
            within(id, d.amount, || {
                format!("products[{i}].applied_discounts[{j}].amount")
            })?;
        }
    }
    Ok(())
}

/// The refunds' amounts: totals, items, kept-back adjustments, payments.
fn check_refunds(bundle: &OrderBundle) -> Result<(), JournalError> {
    let id = bundle.order.id;
    for (i, r) in bundle.refunds.iter().enumerate() {
        within(id, r.total_amount, || format!("refunds[{i}].total_amount"))?;
        within(id, r.total_tax, || format!("refunds[{i}].total_tax"))?;
        for (j, item) in r.items.iter().enumerate() {
            within(id, item.requested_amount.unwrap_or_default(), || {
                format!("refunds[{i}].items[{j}].requested_amount")
            })?;
            for (k, a) in item.adjustments.iter().enumerate() {
                within(id, a.amount, || {
                    format!("refunds[{i}].items[{j}].adjustments[{k}].amount")
                })?;
            }
        }
        for (j, p) in r.payments.iter().enumerate() {
            within(id, p.amount, || {
                format!("refunds[{i}].payments[{j}].amount")
            })?;
        }
    }
    Ok(())
}

/// `a × b ÷ c`, exactly as the operators compute it when the product fits, or the error that
/// holds order `order` (`what` names the figure) when it does not or `c` is zero.
pub(crate) fn mul_div(
    order: u64,
    what: &str,
    a: Decimal,
    b: Decimal,
    c: Decimal,
) -> Result<Decimal, JournalError> {
    a.checked_mul(b)
        .and_then(|p| p.checked_div(c))
        .ok_or_else(|| out_of_range(order, what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_ten_to_the_fifteenth() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000_000_i64));
        assert_eq!(
            mul_div(1, "x", Decimal::MAX, Decimal::TWO, Decimal::ONE)
                .unwrap_err()
                .to_string(),
            "order 1: x is too large to journal (beyond 1000000000000000 either way, or a figure computed from it is); held for a person: check the order in BigCommerce"
        );
        assert_eq!(
            mul_div(1, "x", Decimal::TEN, Decimal::TWO, Decimal::from(4)).unwrap(),
            Decimal::from(5)
        );
    }
}
