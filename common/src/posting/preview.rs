//! Preview: the journals one order would produce, built exactly as the poster builds them, and
//! sent nowhere. Finance teams use it to check a mapping before turning posting on; support uses
//! it to explain a posted journal.

use std::fmt::Write as _;

use serde::Serialize;

use crate::bigcommerce::OrderBundle;
use crate::config::ConnectorConfig;
use crate::journal::{
    Journal, JournalContext, JournalError, JournalFlag, build_refund, build_sale,
};

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
    /// The sale, then one journal per refund.
    pub journals: Vec<Journal>,
    /// What the connector would do differently from "post all of these", and why.
    pub notes: Vec<String>,
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
            "status {status} ({}) reverses a posted sale; an order never posted posts nothing",
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
    let mut journals = vec![build_sale(&ctx, bundle)?];
    for refund in &bundle.refunds {
        journals.push(build_refund(&ctx, bundle, refund.id)?);
    }
    for j in &journals {
        if j.is_empty() {
            notes.push(format!("{}: moves no money; nothing to post", j.batch_name));
        }
        for flag in &j.flags {
            notes.push(format!("{}: {}", j.batch_name, describe_flag(j, flag)));
        }
    }
    Ok(Preview {
        store: ctx.store.id.clone(),
        order_id: order.id,
        status: format!("{status} {}", status_name(status)),
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
            continue;
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
    out
}
