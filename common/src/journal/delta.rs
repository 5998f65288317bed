//! Deltas: when what an order implies for the ledger differs from what is booked for it, the
//! difference is posted as a new journal; the posted ones stay as they were.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::naming::batch_name;
use super::{Journal, JournalContext, JournalError, JournalLine, PostingKind};
use crate::mapping::AccountRole;
use crate::money::Currency;

/// Lines are netted per account combination, role, and whether they are a tender.
type Key = (Vec<String>, AccountRole, bool);

/// The net of one key, with the first line that had it (for its rule and reference) and how
/// many lines went into it.
struct Net<'j> {
    key: Key,
    net: Decimal,
    first: &'j JournalLine,
    lines: usize,
}

/// Net amount per key, in order of first appearance.
fn nets<'j>(journals: impl IntoIterator<Item = &'j Journal>) -> Vec<Net<'j>> {
    let mut out: Vec<Net<'j>> = Vec::new();
    for line in journals.into_iter().flat_map(|j| &j.lines) {
        let key = (line.segments.clone(), line.account_role, line.is_tender());
        match out.iter_mut().find(|n| n.key == key) {
            Some(n) => {
                n.net += line.net();
                n.lines += 1;
            }
            None => out.push(Net {
                key,
                net: line.net(),
                first: line,
                lines: 1,
            }),
        }
    }
    out
}

/// What a netted key is called: its one line's description, or its role when several lines
/// went into it.
fn described(n: &Net<'_>) -> String {
    if n.lines == 1 {
        n.first.description.clone()
    } else {
        format!("{} ({} lines)", n.first.account_role, n.lines)
    }
}

/// The lines that take the ledger from `booked` to `target`, per account combination and role,
/// rounded to the currency's minor units. `changed` and `gone` word the description of a line
/// still in the target and of one the target no longer has.
pub(crate) fn delta_lines(
    currency: Currency,
    booked: &[&Journal],
    target: &[&Journal],
    changed: &str,
    gone: &str,
) -> Vec<JournalLine> {
    let before = nets(booked.iter().copied());
    let after = nets(target.iter().copied());
    let zero = currency.round(Decimal::ZERO);
    let mut keys: Vec<&Key> = Vec::new();
    for n in after.iter().chain(&before) {
        if !keys.contains(&&n.key) {
            keys.push(&n.key);
        }
    }
    let mut lines = Vec::new();
    for key in keys {
        let was = before.iter().find(|n| &n.key == key);
        let now = after.iter().find(|n| &n.key == key);
        let change = currency
            .round(now.map_or(Decimal::ZERO, |n| n.net) - was.map_or(Decimal::ZERO, |n| n.net));
        let Some(template) = now.or(was) else {
            continue;
        };
        if change.is_zero() {
            continue;
        }
        let (dr, cr) = if change > Decimal::ZERO {
            (change, zero)
        } else {
            (zero, -change)
        };
        let description = match (now, was) {
            (Some(n), _) if n.net.is_zero() => format!("{gone}{}", described(template)),
            (Some(n), _) => format!("{changed}{}", described(n)),
            (None, _) => format!("{gone}{}", described(template)),
        };
        lines.push(JournalLine {
            dr,
            cr,
            description,
            ..template.first.clone()
        });
    }
    lines
}

/// Refuses journals of another order, or in another currency or ledger, than `current`.
pub(crate) fn check_same_order(posted: &[&Journal], current: &Journal) -> Result<(), JournalError> {
    let incompatible = |message: String| JournalError::Incompatible {
        order: current.order_id,
        message,
    };
    for p in posted {
        if (p.store.as_str(), p.order_id) != (current.store.as_str(), current.order_id) {
            return Err(incompatible(format!(
                "{} belongs to another order than {}",
                p.batch_name, current.batch_name
            )));
        }
        if p.currency != current.currency || p.ledger != current.ledger {
            return Err(incompatible(format!(
                "{} is in {} on {}, the order is now in {} on {}",
                p.batch_name, p.currency, p.ledger, current.currency, current.ledger
            )));
        }
    }
    Ok(())
}

/// A journal that follows up on the order's sale: `template`'s header (currency, conversion,
/// ledger) under a new posting key, dated `accounting_date`, linked to `sale_batch`, no lines.
pub(crate) fn follow_up(
    ctx: &JournalContext<'_>,
    template: &Journal,
    posting: PostingKind,
    sale_batch: &str,
    accounting_date: NaiveDate,
) -> Journal {
    let mut journal = template.clone();
    journal.posting = posting;
    journal.batch_name = batch_name(&template.store, template.order_id, &posting);
    journal.journal_name = format!(
        "BC {} order {} {}",
        template.store, template.order_id, posting
    );
    journal.accounting_date = accounting_date;
    journal.period_name = ctx.period_name(accounting_date);
    journal.linked_batch = Some(sale_batch.to_string());
    journal.flags.clear();
    journal.lines.clear();
    journal
}
