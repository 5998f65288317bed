//! Reversals: a posted journal is never edited or deleted; it is cancelled by its mirror image.

use chrono::NaiveDate;

use super::finalize::ensure_balanced;
use super::naming::batch_name;
use super::{Journal, JournalContext, JournalError, PostingKind};

/// The journal that cancels `original`: every line on the other side, same accounts, dated
/// `accounting_date` (the cancellation's date; the original period may be closed), linked to
/// the original batch. Foreign-currency journals keep the original conversion so the ledger
/// nets to exactly zero.
pub fn build_reversal(
    ctx: &JournalContext<'_>,
    original: &Journal,
    accounting_date: NaiveDate,
) -> Result<Journal, JournalError> {
    let posting = PostingKind::Reversal;
    let mut reversal = original.clone();
    reversal.posting = posting;
    reversal.batch_name = batch_name(&original.store, original.order_id, &posting);
    reversal.journal_name = format!(
        "BC {} order {} {}",
        original.store, original.order_id, posting
    );
    reversal.description = format!("Reversal of {}", original.batch_name);
    reversal.accounting_date = accounting_date;
    reversal.period_name = ctx.period_name(accounting_date);
    reversal.linked_batch = Some(original.batch_name.clone());
    reversal.flags.clear();
    for line in &mut reversal.lines {
        std::mem::swap(&mut line.dr, &mut line.cr);
        line.description = format!("Reversal: {}", line.description);
    }
    ensure_balanced(&reversal)?;
    Ok(reversal)
}
