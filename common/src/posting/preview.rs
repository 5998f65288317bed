//! Preview: the journals one order would produce over its life as it stands now, decided and
//! built exactly as the poster decides and builds them (the sale, each refund mirroring it, the
//! cancellation and what follows it), and sent nowhere. Finance teams use it to check a mapping
//! before turning posting on; support uses it to explain a posted journal.

use std::fmt::Write as _;

use serde::Serialize;

use chrono::Utc;

use crate::bigcommerce::OrderBundle;
use crate::config::{ConnectorConfig, RefundConversion};
use crate::journal::{
    Journal, JournalContext, JournalError, JournalFlag, Position, PostingKind, build_refund,
    build_sale,
};
use crate::money::Currency;
use crate::posting::decide::decide;
use crate::state::{PostingRecord, PostingState};

/// BigCommerce's status names by id (merchants may relabel them; ids are what count).
pub fn status_name(id: u32) -> &'static str {
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
        _ => "unknown status",
    }
}

/// The journals of one order bundle, with notes for the reader.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// Store id the journals were built for.
    pub store: String,
    /// BigCommerce order id.
    pub order_id: u64,
    /// The order's status, as `id name`.
    pub status: String,
    /// The journals in the order the connector would post them.
    pub journals: Vec<Journal>,
    /// What the ledger holds for the order once they have all posted, per account combination.
    pub position: Position,
    /// What the connector would do differently from "post all of these", and why.
    pub notes: Vec<String>,
}

/// Rounds of the decision a preview runs at most (each posts what the last one planned).
const MAX_ROUNDS: usize = 12;

/// The journals the poster would post for the order as it stands, round after round, each
/// round assuming the last one's journals posted (a held one is shown with why it waits).
fn life(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    notes: &mut Vec<String>,
) -> Result<Vec<Journal>, JournalError> {
    let mut recorded: Vec<PostingRecord> = Vec::new();
    let now = Utc::now();
    for _ in 0..MAX_ROUNDS {
        let plan = decide(ctx, bundle, &recorded)?;
        if plan.journals.is_empty() && plan.held.is_empty() {
            // Why nothing more would post (the rounds before only waited for each other).
            notes.extend(plan.notes);
            break;
        }
        for j in plan.journals {
            let posted = PostingState::Posted {
                batch_id: 0,
                group_id: 0,
                request_id: None,
            };
            recorded.push(PostingRecord::new(j, posted, now));
        }
        for h in plan.held {
            notes.push(format!("{}: held: {}", h.journal.batch_name, h.reason));
            recorded.push(PostingRecord::new(
                h.journal,
                PostingState::Held { reason: h.reason },
                now,
            ));
        }
    }
    Ok(recorded.into_iter().map(|p| p.journal).collect())
}

/// Builds the sale and refund journals of a bundle for one store of the document.
pub fn preview(
    config: &ConnectorConfig,
    store_id: &str,
    bundle: &OrderBundle,
) -> Result<Preview, JournalError> {
    let ctx = JournalContext::new(config, store_id)?;
    let order = &bundle.order;
    let mut notes = Vec::new();
    let status = order.status_id;
    let posting = &config.posting;
    if posting.reversal_statuses.contains(&status) {
        notes.push(format!(
            "status {status} ({}) cancels the order: what was earned and owed to tax is reversed, money not given back is owed as refund due",
            status_name(status)
        ));
    } else if !posting.sale_statuses.contains(&status) {
        notes.push(format!(
            "status {status} ({}) is not a sale status (posting.sale_statuses): the sale would not post yet",
            status_name(status)
        ));
    }
    if !ctx.store.channels.is_empty() && !ctx.store.channels.contains(&order.channel_id) {
        notes.push(format!(
            "the order came from channel {}, which store \"{}\" does not list (channels {:?})",
            order.channel_id, ctx.store.id, ctx.store.channels
        ));
    }
    let mut journals = life(&ctx, bundle, &mut notes)?;
    if journals.is_empty() && !posting.reversal_statuses.contains(&status) {
        // Not a sale yet: show what it would post once it is one.
        journals.push(build_sale(&ctx, bundle)?);
        for refund in &bundle.refunds {
            journals.push(build_refund(&ctx, bundle, refund.id)?);
        }
    }
    for j in &journals {
        if j.is_empty() {
            notes.push(format!("{}: moves no money; nothing to post", j.batch_name));
        }
        for flag in &j.flags {
            notes.push(format!("{}: {}", j.batch_name, describe_flag(j, flag)));
        }
        if let (PostingKind::Refund(_), Some(conv)) = (j.posting, &j.conversion) {
            let why = match ctx.ledger.conversion.refunds {
                RefundConversion::RefundDate => {
                    "the refund's own date (conversion.refunds = refund_date)"
                }
                RefundConversion::SaleRate => "the sale's rate (conversion.refunds = sale_rate)",
            };
            notes.push(format!(
                "{}: converted to {} as {} on {}, {why}",
                j.batch_name, ctx.ledger.currency, conv.conversion_type, conv.date
            ));
        }
    }
    Ok(Preview {
        store: ctx.store.id.clone(),
        order_id: order.id,
        status: format!("{status} {}", status_name(status)),
        position: Position::of(&journals),
        journals,
        notes,
    })
}

/// A flag in words.
pub fn describe_flag(journal: &Journal, flag: &JournalFlag) -> String {
    let c = journal.currency;
    match flag {
        JournalFlag::TotalsMismatch {
            tenders,
            components,
            difference,
        } => format!(
            "totals mismatch: tenders {c} {}, components {c} {}, difference {c} {} posted to suspense",
            c.format(*tenders),
            c.format(*components),
            c.format(*difference)
        ),
        JournalFlag::OrderDiscountAllocated { amount } => format!(
            "order-level discount of {c} {} spread over the lines in proportion to their value",
            amount.normalize()
        ),
        JournalFlag::RateLookedUpInOracle { reason } => {
            format!("conversion rate left to Oracle: {reason}")
        }
        JournalFlag::RefundItemNotFound { item } => {
            format!("refund item {item} is not in the order; posted at order level")
        }
        JournalFlag::MovedToOpenPeriod { from, period } => {
            format!("{from} is in a closed period; dated in the next open period, {period}")
        }
    }
}

/// The preview as a table for people.
pub fn render_table(preview: &Preview) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Order {} · store {} · status {}",
        preview.order_id, preview.store, preview.status
    );
    for note in &preview.notes {
        let _ = writeln!(out, "note: {note}");
    }
    for j in &preview.journals {
        render_journal(&mut out, j);
    }
    if let Some(currency) = preview.journals.first().map(|j| j.currency) {
        render_position(&mut out, &preview.position, currency);
    }
    out
}

/// One journal: its header, conversion, lines with the rule that decided each, and totals.
fn render_journal(out: &mut String, j: &Journal) {
    let _ = writeln!(out);
    let period = j
        .period_name
        .as_ref()
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{} · {} · {} · {}{} · {}",
        j.batch_name, j.posting, j.ledger, j.accounting_date, period, j.currency
    );
    if let Some(conv) = &j.conversion {
        let rate = conv.rate.map(|r| format!(" rate {r}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  conversion: {} on {}{rate}",
            conv.conversion_type, conv.date
        );
    }
    if j.is_empty() {
        let _ = writeln!(out, "  (no lines)");
        return;
    }
    let width = j
        .lines
        .iter()
        .map(|l| l.segments.join("-").len())
        .max()
        .unwrap_or(0)
        .max(8);
    let _ = writeln!(
        out,
        "  {:<width$}  {:<16} {:>14} {:>14}  decided by · description",
        "account", "role", "debit", "credit"
    );
    for l in &j.lines {
        let show = |v: rust_decimal::Decimal| {
            if v.is_zero() {
                String::new()
            } else {
                v.to_string()
            }
        };
        let _ = writeln!(
            out,
            "  {:<width$}  {:<16} {:>14} {:>14}  {} · {}",
            l.segments.join("-"),
            l.account_role.as_str(),
            show(l.dr),
            show(l.cr),
            l.rule,
            l.description
        );
    }
    let _ = writeln!(
        out,
        "  {:<width$}  {:<16} {:>14} {:>14}",
        "total",
        "",
        j.currency.format(j.total_dr()),
        j.currency.format(j.total_cr())
    );
}

/// What the ledger holds for the order per account once the journals are posted.
fn render_position(out: &mut String, position: &Position, currency: Currency) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "What the ledger holds for the order once these are posted, per account:"
    );
    if position.accounts.is_empty() {
        let _ = writeln!(out, "  nothing: every account nets to zero");
    }
    for a in &position.accounts {
        let roles: Vec<&str> = a.roles.iter().map(|r| r.as_str()).collect();
        let (dr, cr) = if a.net > rust_decimal::Decimal::ZERO {
            (currency.format(a.net), String::new())
        } else {
            (String::new(), currency.format(-a.net))
        };
        let _ = writeln!(
            out,
            "  {:<22}  {:<16} {:>14} {:>14}",
            a.account.join("-"),
            roles.join("/"),
            dr,
            cr
        );
    }
}
