//! The expected position: what the ledger must hold for an order at a point of its life, per
//! account combination, and the journals that take the ledger there after a cancellation or a
//! reinstatement.
//!
//! While the order stands (a sale status, or Refunded / Partially Refunded without a booked
//! cancellation), the position is its sale as the order is now plus each refund, mirrored:
//! what is earned (goods, shipping, handling, wrapping, fees, net of discounts and returns),
//! what is owed to tax, what each tender holds (captured less given back through it), and the
//! store credit and gift certificates the shopper holds.
//!
//! Once cancelled, nothing is earned and nothing is owed to tax any more; the tenders still
//! hold what was taken and not given back (the gateway only when the payment was captured: an
//! authorisation or a voided payment took nothing), and exactly that is owed back to the
//! shopper as "refund due". Each refund after the cancellation moves money from the tenders and
//! clears as much refund due.

use rust_decimal::Decimal;
use serde::Serialize;

use super::delta::{delta_lines, follow_up};
use super::finalize::{Leg, ensure_balanced, line_of};
use super::naming::batch_name;
use super::{Journal, JournalContext, JournalError, PostingKind, Side, build_refund, build_sale};
use crate::bigcommerce::OrderBundle;
use crate::mapping::AccountRole;
use crate::money::{Currency, amount_serde};

/// One account combination's net in a position (debit positive, credit negative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountNet {
    /// Segment values in chart-of-accounts order.
    pub account: Vec<String>,
    /// The roles of the lines on it (what the amount is: revenue, tax, receivable…).
    pub roles: Vec<AccountRole>,
    /// Debits less credits.
    #[serde(with = "amount_serde")]
    pub net: Decimal,
}

/// An order's amounts per account combination. Zero nets are left out, so two positions are
/// equal exactly when every account holds the same.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Position {
    /// The accounts, in order of first appearance.
    pub accounts: Vec<AccountNet>,
}

/// One account on which two positions differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountDifference {
    /// Segment values.
    pub account: Vec<String>,
    /// Roles seen on it, on either side.
    pub roles: Vec<AccountRole>,
    /// What the expected position holds.
    #[serde(with = "amount_serde")]
    pub expected: Decimal,
    /// What the other side holds.
    #[serde(with = "amount_serde")]
    pub found: Decimal,
}

impl Position {
    /// The sum of these journals per account combination.
    pub fn of<'j>(journals: impl IntoIterator<Item = &'j Journal>) -> Self {
        let mut p = Position::default();
        for line in journals.into_iter().flat_map(|j| &j.lines) {
            p.add(&line.segments, Some(line.account_role), line.net());
        }
        p.accounts.retain(|a| !a.net.is_zero());
        p
    }

    /// Adds an amount to an account (`role` when it is known).
    pub fn add(&mut self, account: &[String], role: Option<AccountRole>, net: Decimal) {
        let entry = match self.accounts.iter_mut().position(|a| a.account == account) {
            Some(i) => &mut self.accounts[i],
            None => {
                self.accounts.push(AccountNet {
                    account: account.to_vec(),
                    roles: Vec::new(),
                    net: Decimal::ZERO,
                });
                self.accounts.last_mut().expect("just pushed")
            }
        };
        entry.net += net;
        if let Some(r) = role
            && !entry.roles.contains(&r)
        {
            entry.roles.push(r);
        }
    }

    /// Drops accounts that net to zero.
    pub fn without_zeros(mut self) -> Self {
        self.accounts.retain(|a| !a.net.is_zero());
        self
    }

    /// What one account holds.
    pub fn net(&self, account: &[String]) -> Decimal {
        self.accounts
            .iter()
            .find(|a| a.account == account)
            .map_or(Decimal::ZERO, |a| a.net)
    }

    /// Total of the accounts that carry one role.
    pub fn net_of(&self, role: AccountRole) -> Decimal {
        self.accounts
            .iter()
            .filter(|a| a.roles.contains(&role))
            .map(|a| a.net)
            .sum()
    }

    /// Every account on which `found` differs from this position.
    pub fn differences(&self, found: &Position) -> Vec<AccountDifference> {
        let mut out = Vec::new();
        let mut seen: Vec<&Vec<String>> = Vec::new();
        for a in self.accounts.iter().chain(&found.accounts) {
            if seen.contains(&&a.account) {
                continue;
            }
            seen.push(&a.account);
            let expected = self.net(&a.account);
            let other = found.net(&a.account);
            if expected != other {
                let mut roles = Vec::new();
                for p in [self, found] {
                    for x in p.accounts.iter().filter(|x| x.account == a.account) {
                        for r in &x.roles {
                            if !roles.contains(r) {
                                roles.push(*r);
                            }
                        }
                    }
                }
                out.push(AccountDifference {
                    account: a.account.clone(),
                    roles,
                    expected,
                    found: other,
                });
            }
        }
        out
    }
}

/// The journals that make up the position of a standing order: its sale as the order is now,
/// then each refund (as recorded when it was booked as a mirror of the sale; built now
/// otherwise, which also turns a refund booked against a cancellation back into a mirror of the
/// sale when the order is reinstated).
pub(crate) fn standing_target<'r>(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    recorded_refund: impl Fn(u64) -> Option<&'r Journal>,
) -> Result<Vec<Journal>, JournalError> {
    let mut out = vec![build_sale(ctx, bundle)?];
    for refund in &bundle.refunds {
        match recorded_refund(refund.id) {
            Some(j)
                if !j
                    .lines
                    .iter()
                    .any(|l| l.account_role == AccountRole::RefundDue) =>
            {
                out.push(j.clone())
            }
            _ => {
                let j = build_refund(ctx, bundle, refund.id)?;
                if !j.is_empty() {
                    out.push(j);
                }
            }
        }
    }
    Ok(out)
}

/// The position of a cancelled order as one journal: the tender lines of the sale side
/// (`sale_side`: the booked sale, adjustments and reinstatements, or the sale as built now when
/// nothing is booked) and of `refunds`, the gateway's part of the sale left out when the
/// payment was never captured, and the refund due that balances them.
pub(crate) fn cancelled_target(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    sale_side: &[&Journal],
    refunds: &[&Journal],
) -> Result<Journal, JournalError> {
    let template = sale_side
        .first()
        .copied()
        .ok_or_else(|| JournalError::Incompatible {
            order: bundle.order.id,
            message: "a cancelled order's position needs its sale".into(),
        })?;
    let captured = bundle.order.payment_captured();
    let mut target = template.clone();
    target.lines = sale_side
        .iter()
        .flat_map(|j| &j.lines)
        .filter(|l| l.is_tender())
        .filter(|l| {
            captured || !(l.account_role == AccountRole::Receivable && l.reference == "order")
        })
        .chain(
            refunds
                .iter()
                .flat_map(|j| &j.lines)
                .filter(|l| l.is_tender()),
        )
        .cloned()
        .collect();
    let held: Decimal = target.lines.iter().map(|l| l.net()).sum();
    if !held.is_zero() {
        target
            .lines
            .push(refund_due_line(ctx, bundle, template.currency, held)?);
    }
    Ok(target)
}

/// The refund due line for `held` (what the tenders hold: a debit balance is owed back, so it
/// is credited here), on the refund due account the order's cancellation was booked to.
fn refund_due_line(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    currency: Currency,
    held: Decimal,
) -> Result<super::JournalLine, JournalError> {
    let (side, amount) = if held > Decimal::ZERO {
        (Side::Cr, held)
    } else {
        (Side::Dr, -held)
    };
    line_of(
        ctx,
        bundle,
        currency,
        Leg::new(
            AccountRole::RefundDue,
            side,
            amount,
            "Refund due: taken from the shopper and not given back",
            "refund_due",
        )
        .mirror("refund_due", AccountRole::RefundDue),
    )
}

/// How the lines of a journal that moves the books are described: a line whose account the
/// target still holds, and one it no longer does.
struct Wording {
    changed: &'static str,
    gone: &'static str,
}

/// The journal `posting` that takes the ledger from `booked` to `target` (its first journal
/// gives the header: currency, ledger, conversion), dated `date`, linked to the sale, described
/// by `description` given the sale's batch name.
fn moving_the_books(
    ctx: &JournalContext<'_>,
    booked: &[&Journal],
    target: &[&Journal],
    posting: PostingKind,
    date: chrono::NaiveDate,
    wording: Wording,
    description: impl FnOnce(&str) -> String,
) -> Result<Journal, JournalError> {
    let first = target.first().ok_or_else(|| JournalError::Incompatible {
        order: booked.first().map_or(0, |j| j.order_id),
        message: format!("{posting} needs the order's position"),
    })?;
    super::delta::check_same_order(booked, first)?;
    let sale = batch_name(&first.store, first.order_id, &PostingKind::Sale);
    let mut journal = follow_up(ctx, first, posting, &sale, date);
    journal.description = description(&sale);
    journal.lines = delta_lines(
        first.currency,
        booked,
        target,
        wording.changed,
        wording.gone,
    );
    ensure_balanced(&journal)?;
    Ok(journal)
}

/// The journal that books an order's cancellation (`reversal`, or `reversal:n` after a
/// reinstatement): it takes the ledger from `booked` to the cancelled `target`, reversing
/// every line earned and owed to tax at the sale's conversion (so they net to exactly zero in
/// the ledger currency too), and crediting the refund due with what the shopper has not got
/// back. Dated `date`, the day of the cancellation; linked to the sale.
pub fn build_cancellation(
    ctx: &JournalContext<'_>,
    booked: &[&Journal],
    target: &Journal,
    n: u32,
    date: chrono::NaiveDate,
    status: &str,
) -> Result<Journal, JournalError> {
    let wording = Wording {
        changed: "",
        gone: "Reversal: ",
    };
    moving_the_books(
        ctx,
        booked,
        &[target],
        PostingKind::Reversal(n),
        date,
        wording,
        |sale| format!("Reversal of {sale}: order {} was {status}", target.order_id),
    )
}

/// The journal that books a cancelled order again after it came back to a sale status: from
/// `booked` to the standing `target`. It is recorded Held: a person confirms the order really
/// goes ahead (a status set back only to make a refund possible is not a sale).
pub fn build_reinstatement(
    ctx: &JournalContext<'_>,
    booked: &[&Journal],
    target: &[&Journal],
    n: u32,
    date: chrono::NaiveDate,
    status: &str,
) -> Result<Journal, JournalError> {
    let wording = Wording {
        changed: "Reinstated: ",
        gone: "No longer: ",
    };
    let order = target.first().map_or(0, |j| j.order_id);
    let posting = PostingKind::Reinstatement(n);
    moving_the_books(ctx, booked, target, posting, date, wording, |sale| {
        format!(
            "Reinstatement {n} of {sale}: order {order} is {status} again after its cancellation"
        )
    })
}

/// The adjustment that takes the ledger from `booked` to `target` when the order changed after
/// posting (an edit; a cancelled order whose payment was voided or captured after all).
pub fn build_adjustment(
    ctx: &JournalContext<'_>,
    booked: &[&Journal],
    target: &[&Journal],
    n: u32,
    date: chrono::NaiveDate,
    why: &str,
) -> Result<Journal, JournalError> {
    let wording = Wording {
        changed: "Change: ",
        gone: "No longer: ",
    };
    let posting = PostingKind::Adjustment(n);
    moving_the_books(ctx, booked, target, posting, date, wording, |sale| {
        format!("Adjustment {n} of {sale}: {why}")
    })
}
