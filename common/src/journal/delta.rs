//! Deltas: when a posted order's financial content changes, the difference is posted as a new
//! journal; the posted one stays as it was.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::finalize::ensure_balanced;
use super::naming::batch_name;
use super::{Journal, JournalContext, JournalError, JournalLine, PostingKind};
use crate::mapping::AccountRole;

type Key = (Vec<String>, AccountRole);

/// Net amount per (account, role), in order of first appearance.
fn nets<'j>(
    journals: impl IntoIterator<Item = &'j Journal>,
) -> Vec<(Key, Decimal, &'j JournalLine)> {
    let mut out: Vec<(Key, Decimal, &JournalLine)> = Vec::new();
    for line in journals.into_iter().flat_map(|j| &j.lines) {
        let key = (line.segments.clone(), line.account_role);
        match out.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, net, _)) => *net += line.net(),
            None => out.push((key, line.net(), line)),
        }
    }
    out
}

fn lookup<'a>(
    list: &'a [(Key, Decimal, &'a JournalLine)],
    key: &Key,
) -> (Decimal, Option<&'a JournalLine>) {
    list.iter()
        .find(|(k, _, _)| k == key)
        .map_or((Decimal::ZERO, None), |(_, net, line)| (*net, Some(*line)))
}

/// The adjustment that takes the ledger from what was posted for an order (`posted`: the sale
/// and any earlier adjustments) to what the order is now (`current`, freshly built). Returns a
/// journal with no lines when nothing of financial weight changed.
pub fn build_delta(
    ctx: &JournalContext<'_>,
    posted: &[&Journal],
    current: &Journal,
    n: u32,
    accounting_date: NaiveDate,
) -> Result<Journal, JournalError> {
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
    let before = nets(posted.iter().copied());
    let after = nets([current]);
    let mut keys: Vec<&Key> = Vec::new();
    for (key, _, _) in after.iter().chain(&before) {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let zero = current.currency.round(Decimal::ZERO);
    let mut lines = Vec::new();
    for key in keys {
        let (was, was_line) = lookup(&before, key);
        let (now, now_line) = lookup(&after, key);
        let change = current.currency.round(now - was);
        let Some(template) = now_line.or(was_line) else {
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
        lines.push(JournalLine {
            dr,
            cr,
            description: match now_line {
                Some(l) => format!("Change: {}", l.description),
                None => format!("No longer: {}", template.description),
            },
            ..template.clone()
        });
    }
    let posting = PostingKind::Adjustment(n);
    let sale_batch = posted
        .first()
        .map_or_else(|| current.batch_name.clone(), |p| p.batch_name.clone());
    let mut delta = current.clone();
    delta.posting = posting;
    delta.batch_name = batch_name(&current.store, current.order_id, &posting);
    delta.journal_name = format!(
        "BC {} order {} {}",
        current.store, current.order_id, posting
    );
    delta.description = format!("Adjustment {n} of {sale_batch}: the order changed after posting");
    delta.accounting_date = accounting_date;
    delta.period_name = ctx.period_name(accounting_date);
    delta.linked_batch = Some(sale_batch);
    delta.lines = lines;
    ensure_balanced(&delta)?;
    Ok(delta)
}
