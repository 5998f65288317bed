//! What must be posted for an order now: one pure function of the order as it is (the bundle)
//! and what has been recorded for it (its postings). The webhook path and the poller both end
//! here, so whoever sees a change first, and however often, the result is the same: a posting
//! that exists is never planned again.
//!
//! The decision starts from the order's expected position (what the ledger must hold for it
//! now, [`crate::journal::Position`]) and names the business events that get the ledger there,
//! each its own journal:
//!
//! - not yet a sale (unpaid, pending): nothing;
//! - a sale status and no sale recorded: the sale; refunds wait until the sale is in the ledger,
//!   so a refund never posts without its sale;
//! - cancelled (a reversal status) before anything posted: nothing when no money moved;
//!   otherwise the sale, then its cancellation, so the money taken is on the books as owed back;
//! - the sale posted and the order standing: a refund posting per refund not yet recorded,
//!   mirroring the sale, and an adjustment for whatever else differs from the position (an edit);
//! - cancelled after the sale posted: the reversal of what was earned and owed to tax, the money
//!   still held moved to refund due; refunds after it clear the refund due. Refunded and
//!   Partially Refunded (the statuses BigCommerce sets after a refund, also on a cancelled order
//!   set back to take one) keep a booked cancellation;
//! - a sale status again after the cancellation was booked (reinstated): the journal that books
//!   the sale again, recorded Held for a person (`mlc replay`); superseded (Rejected, with the
//!   reason) if the order is cancelled again before anyone replays it;
//! - a refund giving back more than the order still holds: recorded Held with the figures;
//! - anything in flight (queued, submitted): wait, and say why; a held or rejected sale waits
//!   for a person.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::bigcommerce::{OrderBundle, OrderFee, OrderProduct};
use crate::journal::{
    Journal, JournalContext, JournalError, Position, PostingKind, SegmentMemory, build_adjustment,
    build_cancellation, build_refund, build_refund_of_cancelled, build_reinstatement, build_sale,
    cancelled_target, check_amounts, refund_paid, standing_target,
};
use crate::mapping::AccountRole;
use crate::state::{PostingRecord, PostingState, StateName};

/// The statuses BigCommerce sets after a refund (4 Refunded, 14 Partially Refunded). They say
/// money went back, not that the order goes ahead: a booked cancellation stays booked.
pub const REFUND_STATUSES: [u32; 2] = [4, 14];

/// How the reason of a held posting the order no longer needs begins, once it is rejected.
pub const SUPERSEDED: &str = "superseded: ";

/// A journal to record as Held, waiting for a person.
#[derive(Debug, Clone)]
pub struct HeldJournal {
    /// The journal, ready to post once a person replays it.
    pub journal: Journal,
    /// Why it waits, and what to do.
    pub reason: String,
}

/// The postings to create now, and why others are not.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// New journals to queue, sale first.
    pub journals: Vec<Journal>,
    /// New journals to record Held: they need a person before they post.
    pub held: Vec<HeldJournal>,
    /// Held postings the order no longer needs: to reject with the reason given.
    pub superseded: Vec<(PostingKind, String)>,
    /// What was not planned and why (for the audit).
    pub notes: Vec<String>,
    /// Something the order needs waits for a posting in flight: the order must be looked at
    /// again once that posting is settled (the tracker queues it then).
    pub waiting: bool,
    /// What the ledger must hold for the order once everything recorded and planned has posted
    /// (while something is in flight: what is recorded and planned so far).
    pub position: Position,
}

impl Plan {
    /// Nothing more now: the order waits (for a posting in flight, or a person), and the
    /// position is what is on the books so far.
    fn wait(&mut self, note: String, book: &Book<'_>) {
        self.waiting = true;
        self.notes.push(note);
        self.position = Position::of(book.booked.iter().copied());
    }
}

fn in_flight(state: StateName) -> bool {
    matches!(state, StateName::Queued | StateName::Submitted)
}

/// A held posting that was rejected because the order no longer needed it.
fn is_superseded(p: &PostingRecord) -> bool {
    matches!(&p.state, PostingState::Rejected { reason } if reason.starts_with(SUPERSEDED))
}

/// What is recorded for the order, read the way the decision needs it.
struct Book<'r> {
    recorded: &'r [PostingRecord],
    /// Journals the ledger holds or will hold as recorded (posted, in flight, held or rejected
    /// for a replay), sale first. Reinstatements count only once posted or sent; superseded
    /// postings never.
    booked: Vec<&'r Journal>,
    memory: SegmentMemory,
}

impl<'r> Book<'r> {
    fn new(recorded: &'r [PostingRecord]) -> Self {
        let mut counted: Vec<&PostingRecord> = recorded
            .iter()
            .filter(|p| !is_superseded(p))
            .filter(|p| match p.key.posting {
                PostingKind::Reinstatement(_) => {
                    matches!(p.state.name(), StateName::Posted) || in_flight(p.state.name())
                }
                _ => true,
            })
            .collect();
        counted.sort_by_key(|p| p.key.posting);
        let booked: Vec<&Journal> = counted.iter().map(|p| &p.journal).collect();
        let memory = SegmentMemory::of(booked.iter().copied());
        Self {
            recorded,
            booked,
            memory,
        }
    }

    fn state(&self, kind: PostingKind) -> Option<StateName> {
        self.recorded
            .iter()
            .find(|p| p.key.posting == kind)
            .map(|p| p.state.name())
    }

    fn recorded_journal(&self, kind: PostingKind) -> Option<&'r Journal> {
        self.recorded
            .iter()
            .find(|p| p.key.posting == kind)
            .map(|p| &p.journal)
    }

    /// Whether the cancellation is what the books say now: more reversals than reinstatements
    /// booked.
    fn cancelled(&self) -> bool {
        let count =
            |f: fn(&PostingKind) -> bool| self.booked.iter().filter(|j| f(&j.posting)).count();
        count(|k| matches!(k, PostingKind::Reversal(_)))
            > count(|k| matches!(k, PostingKind::Reinstatement(_)))
    }

    /// The next number of a numbered posting kind (`PostingKind::Adjustment`…).
    fn next(&self, kind: fn(u32) -> PostingKind) -> u32 {
        let same = std::mem::discriminant(&kind(1));
        self.recorded
            .iter()
            .filter(|p| std::mem::discriminant(&p.key.posting) == same)
            .filter_map(|p| p.key.posting.number())
            .max()
            .unwrap_or(0)
            + 1
    }

    /// The sale side of the books: sale, adjustments and reinstatements.
    fn sale_side(&self) -> Vec<&'r Journal> {
        self.booked
            .iter()
            .copied()
            .filter(|j| {
                matches!(
                    j.posting,
                    PostingKind::Sale | PostingKind::Adjustment(_) | PostingKind::Reinstatement(_)
                )
            })
            .collect()
    }

    /// Held reinstatements waiting for a person.
    fn waiting_reinstatements(&self) -> Vec<PostingKind> {
        self.recorded
            .iter()
            .filter(|p| matches!(p.key.posting, PostingKind::Reinstatement(_)))
            .filter(|p| matches!(p.state.name(), StateName::Held | StateName::Rejected))
            .filter(|p| !is_superseded(p))
            .map(|p| p.key.posting)
            .collect()
    }
}

/// The date of a change to the order: its last modification, in the store's time zone.
fn change_date(ctx: &JournalContext<'_>, bundle: &OrderBundle) -> NaiveDate {
    let order = &bundle.order;
    ctx.local_date(&order.date_modified.unwrap_or(order.date_created))
}

/// Whether BigCommerce shows money moved for the order: a captured payment, store credit or
/// gift certificates redeemed, or a refund paid.
fn money_moved(bundle: &OrderBundle) -> bool {
    let o = &bundle.order;
    o.payment_captured()
        || !o.gift_certificate_amount.is_zero()
        || !o.store_credit_amount.is_zero()
        || bundle.refunds.iter().any(|r| !refund_paid(r).is_zero())
}

/// Whether the order is cancelled for the ledger now: a reversal status, or a refund status
/// while the cancellation is booked.
fn is_cancelled(ctx: &JournalContext<'_>, bundle: &OrderBundle, book: &Book<'_>) -> bool {
    let status = bundle.order.status_id;
    ctx.config.posting.reversal_statuses.contains(&status)
        || (REFUND_STATUSES.contains(&status) && book.cancelled())
}

/// Decides what to post for `bundle` given what is `recorded` for the order.
pub fn decide(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    recorded: &[PostingRecord],
) -> Result<Plan, JournalError> {
    // Before anything is added up: an order past the decimal range is held, not a panic.
    check_amounts(bundle)?;
    let book = Book::new(recorded);
    let ctx = ctx.with_memory(&book.memory);
    let ctx = &ctx;
    let mut plan = Plan::default();
    let cancelled = is_cancelled(ctx, bundle, &book);

    match book.state(PostingKind::Sale) {
        None => {
            first_sale(ctx, bundle, cancelled, &mut plan)?;
            return Ok(plan);
        }
        Some(s) if in_flight(s) => {
            // Waiting matters only if the order is no longer what the sale in flight says
            // (a repeated message about the same state is not a change).
            let current = build_sale(ctx, bundle)?;
            let same = book
                .recorded_journal(PostingKind::Sale)
                .is_some_and(|j| j.lines == current.lines);
            if cancelled || !bundle.refunds.is_empty() || !same {
                plan.wait(
                    format!("the sale is {s}; changes and refunds wait for it"),
                    &book,
                );
            } else {
                plan.notes.push(format!(
                    "the sale is {s} and the order has not changed since"
                ));
                plan.position = Position::of(book.booked.iter().copied());
            }
            return Ok(plan);
        }
        Some(StateName::Posted) => {}
        Some(s) => {
            // Once a person has replayed the sale and it posts, the rest of the order follows.
            plan.wait(
                format!(
                    "the sale is {s}; it waits for a person (mlc replay) before anything else posts"
                ),
                &book,
            );
            return Ok(plan);
        }
    }
    if let Some(p) = recorded.iter().find(|p| in_flight(p.state.name())) {
        let note = format!(
            "{} is {}; the order waits for it",
            p.key.posting,
            p.state.name()
        );
        plan.wait(note, &book);
        return Ok(plan);
    }
    if cancelled {
        plan_cancelled(ctx, bundle, &book, &mut plan)?;
    } else {
        plan_standing(ctx, bundle, &book, &mut plan)?;
    }
    Ok(plan)
}

/// Nothing is recorded yet.
fn first_sale(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    cancelled: bool,
    plan: &mut Plan,
) -> Result<(), JournalError> {
    let order = &bundle.order;
    let status = order.status_id;
    if cancelled {
        if !money_moved(bundle) {
            plan.notes.push(format!(
                "status {status}: cancelled before any posting, and no money moved (payment status \"{}\"); nothing to post",
                order.payment_status
            ));
            return Ok(());
        }
        let sale = build_sale(ctx, bundle)?;
        plan.position = Position::of([&cancelled_target(ctx, bundle, &[&sale], &[])?]);
        plan.notes.push(format!(
            "status {status}: cancelled before its sale posted, but money was taken (payment status \"{}\"): the sale posts first, then its cancellation",
            order.payment_status
        ));
        plan.journals.push(sale);
        plan.waiting = true;
        return Ok(());
    }
    if !ctx.config.posting.sale_statuses.contains(&status) {
        plan.notes.push(format!(
            "status {status} ({}) is not a sale status; nothing to post yet",
            order.status
        ));
        return Ok(());
    }
    let sale = build_sale(ctx, bundle)?;
    plan.position = Position::of([&sale]);
    plan.journals.push(sale);
    if !bundle.refunds.is_empty() {
        plan.waiting = true;
        plan.notes.push(format!(
            "{} refund(s) wait until the sale is in the ledger",
            bundle.refunds.len()
        ));
    }
    Ok(())
}

/// What the order still holds of the shopper's money: the tenders' net on the books and in
/// what is planned.
fn standing_held(booked: &[&Journal], planned: &[Journal]) -> Decimal {
    booked
        .iter()
        .copied()
        .chain(planned)
        .flat_map(|j| &j.lines)
        .filter(|l| l.is_tender())
        .map(|l| l.net())
        .sum()
}

/// What the cancelled order still owes the shopper: the refund due's credit balance.
fn refund_due(booked: &[&Journal], planned: &[Journal]) -> Decimal {
    -booked
        .iter()
        .copied()
        .chain(planned)
        .flat_map(|j| &j.lines)
        .filter(|l| l.account_role == AccountRole::RefundDue)
        .map(|l| l.net())
        .sum::<Decimal>()
}

/// Plans the refunds not recorded yet, against the sale or the refund due, holding any that
/// gives back more than the order still holds.
fn plan_refunds(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    book: &Book<'_>,
    against_refund_due: bool,
    plan: &mut Plan,
) -> Result<(), JournalError> {
    for refund in &bundle.refunds {
        if book.state(PostingKind::Refund(refund.id)).is_some() {
            continue;
        }
        let journal = if against_refund_due {
            build_refund_of_cancelled(ctx, bundle, refund.id)?
        } else {
            build_refund(ctx, bundle, refund.id)?
        };
        if journal.is_empty() {
            plan.notes.push(format!(
                "refund {} moved no money (its payments were declined)",
                refund.id
            ));
            continue;
        }
        let planned: Vec<Journal> = plan
            .journals
            .iter()
            .chain(plan.held.iter().map(|h| &h.journal))
            .cloned()
            .collect();
        let (standing, what) = if against_refund_due {
            (
                refund_due(&book.booked, &planned),
                "the refund due of the cancelled order",
            )
        } else {
            (
                standing_held(&book.booked, &planned),
                "what the shopper paid less what was given back",
            )
        };
        let paid = refund_paid(refund);
        if paid > standing {
            let c = journal.currency;
            plan.held.push(HeldJournal {
                reason: format!(
                    "refund {} gives back {} {}, more than the order still holds ({} {}: {what}); check the refund and the order in BigCommerce, then `mlc replay {}/{}/refund:{}` to post it as it is",
                    refund.id,
                    c,
                    c.format(paid),
                    c,
                    c.format(standing),
                    ctx.store.id,
                    bundle.order.id,
                    refund.id
                ),
                journal,
            });
        } else {
            plan.journals.push(journal);
        }
    }
    Ok(())
}

/// Journals of the books and of the plan together.
fn with_planned<'a>(booked: &[&'a Journal], plan: &'a Plan) -> Vec<&'a Journal> {
    booked
        .iter()
        .copied()
        .chain(&plan.journals)
        .chain(plan.held.iter().map(|h| &h.journal))
        .collect()
}

/// The order stands (a sale status, or refunded without a booked cancellation).
fn plan_standing(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    book: &Book<'_>,
    plan: &mut Plan,
) -> Result<(), JournalError> {
    let order = &bundle.order;
    let booked_cancelled = book.cancelled();
    // While the cancellation is on the books, a refund pays out the refund due.
    plan_refunds(ctx, bundle, book, booked_cancelled, plan)?;
    let target = standing_target(ctx, bundle, |id| {
        book.recorded_journal(PostingKind::Refund(id))
    })?;
    let target_refs: Vec<&Journal> = target.iter().collect();
    plan.position = Position::of(target_refs.iter().copied());
    if booked_cancelled {
        let waiting = book.waiting_reinstatements();
        if !waiting.is_empty() {
            plan.notes.push(format!(
                "status {} after the cancellation was posted: {} waits for a person (mlc replay)",
                order.status_id,
                waiting
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            return Ok(());
        }
        let n = book.next(PostingKind::Reinstatement);
        let so_far = with_planned(&book.booked, plan);
        let journal = build_reinstatement(
            ctx,
            &so_far,
            &target_refs,
            n,
            change_date(ctx, bundle),
            &order.status,
        )?;
        if !journal.is_empty() {
            let key = journal.posting;
            plan.held.push(HeldJournal {
                reason: format!(
                    "order {} is \"{}\" (status {}) again after its cancellation was posted. BigCommerce needs a cancelled order set back to a sale status before it can be refunded, so this may only be the way to a refund; if the order really goes ahead, `mlc replay {}/{}/{key}` books its sale again; if it is cancelled again, nothing needs doing",
                    order.id, order.status, order.status_id, ctx.store.id, order.id
                ),
                journal,
            });
        }
        return Ok(());
    }
    plan_adjustment(
        ctx,
        bundle,
        book,
        &target_refs,
        "the order changed after posting",
        plan,
    )
}

/// Whatever still differs from the position (an edit; a cancelled order's payment voided or
/// captured after all), as the next adjustment.
fn plan_adjustment(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    book: &Book<'_>,
    target: &[&Journal],
    why: &str,
    plan: &mut Plan,
) -> Result<(), JournalError> {
    let so_far = with_planned(&book.booked, plan);
    let n = book.next(PostingKind::Adjustment);
    let delta = build_adjustment(ctx, &so_far, target, n, change_date(ctx, bundle), why)?;
    if !delta.is_empty() {
        plan.journals.push(delta);
    }
    Ok(())
}

/// The order is cancelled for the ledger.
fn plan_cancelled(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    book: &Book<'_>,
    plan: &mut Plan,
) -> Result<(), JournalError> {
    let order = &bundle.order;
    let sale_side = book.sale_side();
    let recorded_refunds: Vec<&Journal> = book
        .booked
        .iter()
        .copied()
        .filter(|j| matches!(j.posting, PostingKind::Refund(_)))
        .collect();
    if !book.cancelled() {
        // The cancellation first, over what is booked; refunds not recorded yet post after it,
        // against the refund due.
        let target = cancelled_target(ctx, bundle, &sale_side, &recorded_refunds)?;
        let n = book.next(PostingKind::Reversal);
        let reversal = build_cancellation(
            ctx,
            &book.booked,
            &target,
            n,
            change_date(ctx, bundle),
            &order.status,
        )?;
        let unrecorded = bundle
            .refunds
            .iter()
            .filter(|r| book.state(PostingKind::Refund(r.id)).is_none())
            .count();
        if unrecorded > 0 {
            plan.waiting = true;
            plan.notes.push(format!(
                "{unrecorded} refund(s) post after the cancellation, against the refund due"
            ));
        }
        plan.position = Position::of([&target]);
        if reversal.is_empty() {
            plan.notes
                .push("the cancellation changes nothing on the books".into());
        } else {
            plan.journals.push(reversal);
        }
        return Ok(());
    }
    for kind in book.waiting_reinstatements() {
        plan.superseded.push((
            kind,
            format!(
                "{SUPERSEDED}order {} is \"{}\" (status {}) again; its cancellation stands, nothing to reinstate",
                order.id, order.status, order.status_id
            ),
        ));
    }
    plan_refunds(ctx, bundle, book, true, plan)?;
    let refunds: Vec<&Journal> = recorded_refunds
        .iter()
        .copied()
        .chain(
            plan.journals
                .iter()
                .chain(plan.held.iter().map(|h| &h.journal))
                .filter(|j| matches!(j.posting, PostingKind::Refund(_))),
        )
        .collect();
    let target = cancelled_target(ctx, bundle, &sale_side, &refunds)?;
    plan.position = Position::of([&target]);
    let why = format!(
        "what the cancelled order owes back changed (payment status \"{}\")",
        order.payment_status
    );
    plan_adjustment(ctx, bundle, book, &[&target], &why, plan)
}

/// The journal a replay sends for a held or rejected posting, built again from the order as it
/// is now and what else is recorded: a refund as the books stand now (against the sale, or the
/// refund due once the cancellation is booked), a reinstatement as the order stands now (`None`
/// when there is nothing to reinstate any more). Other postings are sent as recorded.
pub fn rebuild(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    recorded: &[PostingRecord],
    kind: PostingKind,
) -> Result<Option<Journal>, JournalError> {
    check_amounts(bundle)?;
    let others: Vec<PostingRecord> = recorded
        .iter()
        .filter(|p| p.key.posting != kind)
        .cloned()
        .collect();
    let book = Book::new(&others);
    let ctx = ctx.with_memory(&book.memory);
    let ctx = &ctx;
    match kind {
        PostingKind::Sale => build_sale(ctx, bundle).map(Some),
        PostingKind::Refund(id) if book.cancelled() => {
            build_refund_of_cancelled(ctx, bundle, id).map(Some)
        }
        PostingKind::Refund(id) => build_refund(ctx, bundle, id).map(Some),
        PostingKind::Reinstatement(n) => {
            if is_cancelled(ctx, bundle, &book) || !book.cancelled() {
                return Ok(None);
            }
            let target = standing_target(ctx, bundle, |id| {
                book.recorded_journal(PostingKind::Refund(id))
            })?;
            let target_refs: Vec<&Journal> = target.iter().collect();
            let journal = build_reinstatement(
                ctx,
                &book.booked,
                &target_refs,
                n,
                change_date(ctx, bundle),
                &bundle.order.status,
            )?;
            Ok((!journal.is_empty()).then_some(journal))
        }
        _ => Ok(recorded
            .iter()
            .find(|p| p.key.posting == kind)
            .map(|p| p.journal.clone())),
    }
}

/// A fingerprint of what matters to the ledger in an order: status, payment status, currency,
/// amounts, lines, fees, refunds. Unchanged fingerprint, nothing to decide (the poller skips
/// such orders); a shipping address or a staff note does not change it.
/// It is total: sums of parts that would overflow the decimal type (an order the builders
/// refuse as out of range) are shown as their parts instead of panicking.
pub fn fingerprint(bundle: &OrderBundle) -> String {
    let o = &bundle.order;
    let lines: Vec<serde_json::Value> = bundle.lines.iter().map(line_fingerprint).collect();
    let refunds: Vec<serde_json::Value> = bundle
        .refunds
        .iter()
        .map(|r| serde_json::json!([r.id, r.total_amount.normalize().to_string()]))
        .collect();
    let fees: Vec<String> = o.fees.iter().map(fee_fingerprint).collect();
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
        "status": o.status_id, "payment": o.payment_status, "currency": o.default_currency_code,
        "channel": o.channel_id, "amounts": amounts, "lines": lines, "fees": fees,
        "refunds": refunds,
    });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// One line as the fingerprint sees it; a discount total that would overflow is shown as its parts.
fn line_fingerprint(l: &OrderProduct) -> serde_json::Value {
    serde_json::json!([
        l.id,
        l.product_id,
        l.quantity,
        l.total_ex_tax.normalize().to_string(),
        l.total_inc_tax.normalize().to_string(),
        l.applied_discounts
            .iter()
            .try_fold(Decimal::ZERO, |sum, d| sum.checked_add(d.amount))
            .map_or_else(
                || format!(
                    "{:?}",
                    l.applied_discounts
                        .iter()
                        .map(|d| d.amount)
                        .collect::<Vec<_>>()
                ),
                |total| total.normalize().to_string(),
            ),
        l.kind,
        l.parent_order_product_id
    ])
}

/// One fee as `id:amount including tax`, or its parts when their sum would overflow.
fn fee_fingerprint(f: &OrderFee) -> String {
    // OrderFee::amount_inc_tax, checked: the sum of a fee's parts near the decimal
    // type's edge is shown as the parts.
    let inc = f.cost_inc_tax.or_else(|| {
        f.cost_ex_tax
            .or(f.base_cost)
            .unwrap_or_default()
            .checked_add(f.cost_tax.unwrap_or_default())
    });
    match inc {
        Some(inc) => format!("{}:{}", f.id, inc.normalize()),
        None => format!(
            "{}:{:?}+{:?}",
            f.id,
            f.cost_ex_tax.or(f.base_cost),
            f.cost_tax
        ),
    }
}
