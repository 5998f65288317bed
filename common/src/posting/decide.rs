//! What must be posted for an order now: one pure function of the order as it is (the bundle)
//! and what has been recorded for it (its postings). The webhook path and the poller both end
//! here, so whoever sees a change first, and however often, the result is the same: a posting
//! that exists is never planned again.
//!
//! - not yet a sale (unpaid, pending): nothing;
//! - a sale status and no sale recorded: the sale; refunds wait until the sale is in the ledger,
//!   so a refund never posts without its sale;
//! - the sale posted: a refund posting per refund not yet recorded, and an adjustment when the
//!   order's financial content differs from everything posted for the sale so far;
//! - a reversal status (cancelled, declined) after the sale posted: the reversal of everything
//!   posted for the order, so the order nets to zero; before the sale posted: nothing;
//! - a sale status again after the reversal (an order reinstated): nothing by itself; a person
//!   decides, since the reversal already netted the order to zero;
//! - anything in flight (queued, submitted), held or rejected: wait, and say why.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::bigcommerce::OrderBundle;
use crate::journal::{
    Journal, JournalContext, JournalError, PostingKind, build_delta, build_refund, build_sale,
};
use crate::state::{PostingRecord, StateName};

/// The postings to create now, and why others are not.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// New journals to queue, sale first.
    pub journals: Vec<Journal>,
    /// What was not planned and why (for the audit).
    pub notes: Vec<String>,
    /// Something the order needs waits for a posting in flight: the order must be looked at
    /// again once that posting is settled (the tracker queues it then).
    pub waiting: bool,
}

fn state_of(recorded: &[PostingRecord], kind: PostingKind) -> Option<StateName> {
    recorded
        .iter()
        .find(|p| p.key.posting == kind)
        .map(|p| p.state.name())
}

fn in_flight(state: StateName) -> bool {
    matches!(state, StateName::Queued | StateName::Submitted)
}

/// The date of a change to the order: its last modification, in the store's time zone.
fn change_date(ctx: &JournalContext<'_>, bundle: &OrderBundle) -> NaiveDate {
    let order = &bundle.order;
    ctx.local_date(&order.date_modified.unwrap_or(order.date_created))
}

/// Decides what to post for `bundle` given what is `recorded` for the order.
pub fn decide(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    recorded: &[PostingRecord],
) -> Result<Plan, JournalError> {
    let settings = &ctx.config.posting;
    let order = &bundle.order;
    let status = order.status_id;
    let mut plan = Plan::default();
    let sale = state_of(recorded, PostingKind::Sale);
    let posted: Vec<&Journal> = recorded
        .iter()
        .filter(|p| p.state.name() == StateName::Posted)
        .map(|p| &p.journal)
        .collect();

    if settings.reversal_statuses.contains(&status) {
        match sale {
            None => plan.notes.push(format!(
                "status {status}: cancelled before any posting; nothing to reverse"
            )),
            Some(s) if in_flight(s) => {
                plan.waiting = true;
                plan.notes.push(format!(
                    "status {status}: the sale is {s}; the reversal waits for it"
                ));
            }
            Some(StateName::Posted) => {
                if state_of(recorded, PostingKind::Reversal).is_some() {
                    plan.notes.push("already reversed".into());
                } else if recorded.iter().any(|p| in_flight(p.state.name())) {
                    plan.waiting = true;
                    plan.notes.push(
                        "a posting of the order is in flight; the reversal waits for it".into(),
                    );
                } else {
                    // Everything posted for the order, mirrored: sale, adjustments and refunds.
                    let mut empty = build_sale(ctx, bundle)?;
                    empty.lines.clear();
                    let mut reversal =
                        build_delta(ctx, &posted, &empty, 0, change_date(ctx, bundle))?;
                    let sale_batch = posted
                        .first()
                        .map(|j| j.batch_name.clone())
                        .unwrap_or_default();
                    reversal.posting = PostingKind::Reversal;
                    reversal.batch_name =
                        crate::journal::batch_name(&ctx.store.id, order.id, &PostingKind::Reversal);
                    reversal.journal_name =
                        format!("BC {} order {} reversal", ctx.store.id, order.id);
                    reversal.description = format!(
                        "Reversal of {sale_batch}: order {} was {}",
                        order.id, order.status
                    );
                    for line in &mut reversal.lines {
                        line.description =
                            line.description.replacen("No longer: ", "Reversal: ", 1);
                    }
                    plan.journals.push(reversal);
                }
            }
            Some(s) => plan.notes.push(format!(
                "status {status}: the sale is {s}, so there is nothing to reverse"
            )),
        }
        return Ok(plan);
    }

    match sale {
        None if settings.sale_statuses.contains(&status) => {
            plan.journals.push(build_sale(ctx, bundle)?);
            if !bundle.refunds.is_empty() {
                plan.waiting = true;
                plan.notes.push(format!("{} refund(s) wait until the sale is in the ledger", bundle.refunds.len()));
            }
        }
        None => plan.notes.push(format!("status {status} ({}) is not a sale status; nothing to post yet", order.status)),
        Some(s) if in_flight(s) => {
            // Waiting matters only if the order is no longer what the sale in flight says
            // (a repeated message about the same state is not a change).
            let in_flight_sale = recorded.iter().find(|p| p.key.posting == PostingKind::Sale).map(|p| &p.journal.lines);
            let current = build_sale(ctx, bundle)?;
            if !bundle.refunds.is_empty() || in_flight_sale != Some(&current.lines) {
                plan.waiting = true;
                plan.notes.push(format!("the sale is {s}; changes and refunds wait for it"));
            } else {
                plan.notes.push(format!("the sale is {s} and the order has not changed since"));
            }
        }
        Some(StateName::Posted) if state_of(recorded, PostingKind::Reversal).is_some() => plan.notes.push(format!(
            "status {status} ({}) after the order was reversed: reinstating it is left to a person (replay), \
             so the ledger never sees an order come back by itself",
            order.status
        )),
        Some(StateName::Posted) => {
            let adjustments: Vec<&PostingRecord> = recorded.iter().filter(|p| matches!(p.key.posting, PostingKind::Adjustment(_))).collect();
            if adjustments.iter().any(|p| in_flight(p.state.name())) {
                plan.waiting = true;
                plan.notes.push("an adjustment is in flight; further changes wait for it".into());
            } else {
                let sale_so_far: Vec<&Journal> = recorded
                    .iter()
                    .filter(|p| p.state.name() == StateName::Posted && matches!(p.key.posting, PostingKind::Sale | PostingKind::Adjustment(_)))
                    .map(|p| &p.journal)
                    .collect();
                let current = build_sale(ctx, bundle)?;
                let n = adjustments.iter().filter_map(|p| match p.key.posting { PostingKind::Adjustment(n) => Some(n), _ => None }).max().unwrap_or(0) + 1;
                let delta = build_delta(ctx, &sale_so_far, &current, n, change_date(ctx, bundle))?;
                if !delta.is_empty() {
                    plan.journals.push(delta);
                }
            }
            for refund in &bundle.refunds {
                if state_of(recorded, PostingKind::Refund(refund.id)).is_some() {
                    continue;
                }
                let journal = build_refund(ctx, bundle, refund.id)?;
                if journal.is_empty() {
                    plan.notes.push(format!("refund {} moved no money (its payments were declined)", refund.id));
                } else {
                    plan.journals.push(journal);
                }
            }
        }
        Some(s) => {
            // Once a person has replayed the sale and it posts, the rest of the order follows.
            plan.waiting = true;
            plan.notes.push(format!("the sale is {s}; it waits for a person (mlc replay) before anything else posts"));
        }
    }
    Ok(plan)
}

/// A fingerprint of what matters to the ledger in an order: status, currency, amounts, lines,
/// fees, refunds. Unchanged fingerprint, nothing to decide (the poller skips such orders);
/// a shipping address or a staff note does not change it.
pub fn fingerprint(bundle: &OrderBundle) -> String {
    let o = &bundle.order;
    let lines: Vec<serde_json::Value> = bundle
        .lines
        .iter()
        .map(|l| {
            serde_json::json!([
                l.id,
                l.product_id,
                l.quantity,
                l.total_ex_tax.normalize().to_string(),
                l.total_inc_tax.normalize().to_string(),
                l.discount_total().normalize().to_string(),
                l.kind,
                l.parent_order_product_id
            ])
        })
        .collect();
    let refunds: Vec<serde_json::Value> = bundle
        .refunds
        .iter()
        .map(|r| serde_json::json!([r.id, r.total_amount.normalize().to_string()]))
        .collect();
    let fees: Vec<String> = o
        .fees
        .iter()
        .map(|f| format!("{}:{}", f.id, f.amount_inc_tax().normalize()))
        .collect();
    let amounts: Vec<String> = [
        o.total_inc_tax,
        o.total_tax,
        o.subtotal_ex_tax,
        o.shipping_cost_ex_tax,
        o.handling_cost_ex_tax,
        o.wrapping_cost_ex_tax,
        o.discount_amount,
        o.coupon_discount,
        o.gift_certificate_amount,
        o.store_credit_amount,
    ]
    .iter()
    .map(|d| d.normalize().to_string())
    .collect();
    let canonical = serde_json::json!({
        "status": o.status_id, "currency": o.default_currency_code, "channel": o.channel_id,
        "amounts": amounts, "lines": lines, "fees": fees, "refunds": refunds,
    });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}
