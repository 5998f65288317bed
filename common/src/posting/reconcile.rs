//! Reconciliation: for the orders a store created in a period, does the ledger hold exactly
//! what the orders say, once? This is the month-end question a finance team asks, and it is
//! answered from the sources, not from the connector's own bookkeeping alone:
//!
//! - **BigCommerce against the connector.** Each order is fetched fresh (with its refunds) and
//!   put through the same [`decide`] the poster uses. Anything it would post now was missed
//!   (a lost webhook, a change the poller has not swept yet): `not_posted`. With `fix`, those
//!   orders go on the queue, and the poster handles them like any other message.
//! - **The connector's journals against the order's position.** The decision also states what
//!   the ledger must hold for the order per account combination (its expected position); the
//!   journals recorded and planned must sum to exactly that, or the account that differs is a
//!   finding.
//! - **The connector against Oracle.** Every posting the connector holds as Posted is looked up
//!   by its deterministic batch name: missing from the ledger (a person deleted the batch),
//!   there more than once (a duplicate import), or with other entered totals or currency (a
//!   person edited the journal) are each findings. The ledger's lines are then compared per
//!   account combination with what was posted, which names an account a person moved an
//!   amount to even when the totals still agree. So is a batch of the order's name prefix
//!   that no posting accounts for, and a batch present for a posting recorded as Held or
//!   Rejected, which a replay would then duplicate.
//!
//! - **What the listing leaves out.** BigCommerce's order list leaves archived orders out, but
//!   archiving moves no money: their journals are in the ledger. Orders the connector posted for
//!   since the period began that the listing did not show are read by id (archived orders are
//!   still served) and reconciled like the others.
//!
//! Nothing here changes a posting. The only write is `fix`'s queue message and its audit
//! event. Postings in flight and orders waiting on them are reported, but are not findings:
//! the pipeline settles them by itself.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;

use crate::bigcommerce::api::{RefundPolicy, TimeWindow};
use crate::bigcommerce::{BcError, Order};
use crate::journal::{
    AccountDifference, JournalContext, Position, batch_name_prefix, journal_reference,
};
use crate::oracle::BatchRecord;
use crate::posting::decide::{SUPERSEDED, decide};
use crate::posting::fetch::fetch_order;
use crate::posting::message::{KIND_ORDER, OrderMessage};
use crate::posting::services::Services;
use crate::state::{Actor, AuditEvent, AuditKind, PostingRecord, PostingState, StateName};

/// What to reconcile.
#[derive(Debug, Clone)]
pub struct ReconcileRequest {
    /// One store id of the document, or every store.
    pub store: Option<String>,
    /// Orders created from (included)…
    pub from: DateTime<Utc>,
    /// …to (excluded).
    pub to: DateTime<Utc>,
    /// Which orders the period selects.
    pub select: Selection,
    /// Look each order up in Oracle too (one or more reads per order with postings).
    pub check_ledger: bool,
    /// Queue the orders found not posted, for the poster; `Some(who)` is kept in the audit.
    pub fix: Option<String>,
}

/// Which orders a period selects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Created in the period: the sales of the month.
    #[default]
    Created,
    /// Changed in the period (created, paid, refunded, cancelled, edited): everything the month
    /// may have posted, whenever the order was placed.
    Modified,
}

/// How many orders are reconciled at once. Each takes two or three BigCommerce calls and a
/// few Oracle reads; the BigCommerce client already paces itself by the store's quota.
const CONCURRENCY: usize = 4;

/// Posted amounts by store, then currency.
type TotalsMap = BTreeMap<String, BTreeMap<String, Totals>>;

/// Why the reconciliation could not run at all; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The store id is not in the connector document.
    #[error("store {0:?} is not in the connector document; known: {1}")]
    UnknownStore(String, String),
    /// `from` is not before `to`.
    #[error("the period is empty: from {from} is not before to {to}")]
    EmptyPeriod {
        /// Start.
        from: DateTime<Utc>,
        /// End.
        to: DateTime<Utc>,
    },
    /// The services were built without a client for this store (a document read before the
    /// store was added).
    #[error("no BigCommerce client for store {0}")]
    NoClient(String),
    /// The store's orders could not be listed.
    #[error("store {store}: orders could not be listed: {source}")]
    Listing {
        /// Store id.
        store: String,
        /// Why.
        source: BcError,
    },
    /// The connector's audit (which orders it posted for) could not be read.
    #[error("the audit of what was posted could not be read: {0}")]
    Audit(crate::state::StoreError),
}

/// Where an order stands, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// The ledger does not hold what the connector recorded as posted.
    LedgerDiffers,
    /// The order has something to post that the connector has not taken up.
    NotPosted,
    /// A posting is held or rejected, or the order cannot be journalised: a person must act.
    NeedsAttention,
    /// The order or the ledger could not be read now; try again.
    Unread,
    /// A posting is on its way; the pipeline settles it by itself.
    Pending,
    /// Everything the order needs is in the ledger, once, as recorded.
    Matched,
    /// Not a sale (unpaid, incomplete, cancelled before posting) and nothing recorded.
    NothingToPost,
}

impl Standing {
    /// Whether somebody has to do something about it.
    pub fn needs_action(self) -> bool {
        matches!(
            self,
            Standing::LedgerDiffers
                | Standing::NotPosted
                | Standing::NeedsAttention
                | Standing::Unread
        )
    }
}

/// One thing found about an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    /// `decide` plans these batches now: the change behind them was never taken up.
    NotPosted {
        /// The batch names it would post.
        batches: Vec<String>,
        /// Whether `fix` queued the order.
        queued: bool,
    },
    /// The order cannot be turned into a journal as the document stands.
    CannotJournalise {
        /// Why.
        reason: String,
    },
    /// The order's channel is in no store entry of the document, so nothing of it is posted.
    NoStoreEntry {
        /// The order's channel (storefront).
        channel_id: u64,
    },
    /// A posting waits for a person.
    Held {
        /// Batch name.
        batch: String,
        /// Why.
        reason: String,
    },
    /// A held posting the order no longer needed (a reinstatement overtaken by a new
    /// cancellation): rejected by the poster, nothing to do.
    Superseded {
        /// Batch name.
        batch: String,
        /// Why.
        reason: String,
    },
    /// The connector's journals for the order do not sum to its expected position.
    PositionGap {
        /// Each account combination that differs: `expected` is the position, `found` the
        /// journals recorded and planned.
        accounts: Vec<AccountDifference>,
    },
    /// The ledger's lines for the order's posted batches differ, per account combination,
    /// from the journals posted.
    AccountsDiffer {
        /// Each account combination that differs: `expected` is what was posted, `found` what
        /// the ledger holds.
        accounts: Vec<AccountDifference>,
    },
    /// A posting was refused.
    Rejected {
        /// Batch name.
        batch: String,
        /// Why.
        reason: String,
    },
    /// A posting is queued or submitted.
    InFlight {
        /// Batch name.
        batch: String,
        /// Its state.
        state: StateName,
    },
    /// Recorded as Posted, but no batch of that name is in the ledger.
    MissingFromLedger {
        /// Batch name.
        batch: String,
        /// The batch id recorded.
        batch_id: u64,
    },
    /// More than one batch in the ledger for one posting.
    Duplicated {
        /// Batch name.
        batch: String,
        /// Every batch found.
        batch_ids: Vec<u64>,
    },
    /// The batch in the ledger does not carry the journal as sent.
    Differs {
        /// Batch name.
        batch: String,
        /// The batch found.
        batch_id: u64,
        /// What differs, in words.
        what: String,
    },
    /// A batch of the order's name in the ledger that no Posted posting accounts for.
    InLedgerNotRecorded {
        /// Fusion's batch name.
        batch: String,
        /// Its id.
        batch_id: u64,
        /// The posting's state, when a posting of that name is recorded (held, rejected):
        /// replaying it would post it twice.
        recorded_as: Option<StateName>,
    },
    /// BigCommerce or Oracle could not be read for this order.
    Unreadable {
        /// Which system.
        system: String,
        /// Why.
        error: String,
    },
}

impl Finding {
    fn standing(&self) -> Standing {
        match self {
            Finding::NotPosted { .. } => Standing::NotPosted,
            Finding::CannotJournalise { .. }
            | Finding::NoStoreEntry { .. }
            | Finding::Held { .. }
            | Finding::Rejected { .. } => Standing::NeedsAttention,
            Finding::InFlight { .. } => Standing::Pending,
            Finding::Superseded { .. } => Standing::Matched,
            Finding::PositionGap { .. } => Standing::NeedsAttention,
            Finding::MissingFromLedger { .. }
            | Finding::Duplicated { .. }
            | Finding::Differs { .. }
            | Finding::AccountsDiffer { .. }
            | Finding::InLedgerNotRecorded { .. } => Standing::LedgerDiffers,
            Finding::Unreadable { .. } => Standing::Unread,
        }
    }
}

/// One order's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderLine {
    /// Store id.
    pub store: String,
    /// Order id.
    pub order_id: u64,
    /// Created.
    pub created: DateTime<Utc>,
    /// BigCommerce status.
    pub status: String,
    /// The worst of its findings, or matched / nothing to post.
    pub standing: Standing,
    /// What was found.
    pub findings: Vec<Finding>,
}

/// Posted amounts per store and currency: what the connector recorded and what the ledger
/// holds for those postings, to tie to Oracle's journal reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Postings recorded as Posted.
    pub postings: usize,
    /// Their entered debits as recorded (credits are equal: every journal balances).
    pub recorded_dr: Decimal,
    /// Entered debits of the batches found for them (when the ledger was checked).
    pub ledger_dr: Option<Decimal>,
}

/// The reconciliation of a period.
#[derive(Debug, Clone, Serialize)]
pub struct ReconcileReport {
    /// Orders created from…
    pub from: DateTime<Utc>,
    /// …to (excluded).
    pub to: DateTime<Utc>,
    /// Stores covered.
    pub stores: Vec<String>,
    /// Which orders the period selected.
    pub selected_by: Selection,
    /// Whether Oracle was read.
    pub ledger_checked: bool,
    /// Orders by standing.
    pub counts: BTreeMap<Standing, usize>,
    /// Posted amounts by store, then currency.
    pub totals: TotalsMap,
    /// Every order, worst standing first.
    pub orders: Vec<OrderLine>,
    /// Orders queued by `fix`.
    pub queued: usize,
}

impl ReconcileReport {
    /// Whether nothing needs a person (pending postings settle by themselves).
    pub fn is_clean(&self) -> bool {
        self.needing_action() == 0
    }

    /// Orders that need a person (what the daily alarm counts and `mlc` exits 1 on).
    pub fn needing_action(&self) -> usize {
        self.orders
            .iter()
            .filter(|o| o.standing.needs_action())
            .count()
    }
}

/// Reconciles the orders created in `req.from..req.to`.
#[tracing::instrument(name = "reconcile", skip_all, fields(store = req.store.as_deref()))]
pub async fn reconcile(
    svc: &Services,
    req: &ReconcileRequest,
) -> Result<ReconcileReport, ReconcileError> {
    reconcile_with_progress(svc, req, &crate::progress::Silent).await
}

/// [`reconcile`], telling `progress` each order reconciled out of those listed so far: a
/// month of orders takes minutes, and the person who asked should see it move.
pub async fn reconcile_with_progress(
    svc: &Services,
    req: &ReconcileRequest,
    progress: &dyn crate::progress::Progress,
) -> Result<ReconcileReport, ReconcileError> {
    if req.from >= req.to {
        return Err(ReconcileError::EmptyPeriod {
            from: req.from,
            to: req.to,
        });
    }
    let entries: Vec<_> = svc
        .config
        .stores
        .iter()
        .filter(|s| req.store.as_deref().is_none_or(|id| s.id == id))
        .collect();
    if let Some(id) = &req.store
        && entries.is_empty()
    {
        let known: Vec<&str> = svc.config.stores.iter().map(|s| s.id.as_str()).collect();
        return Err(ReconcileError::UnknownStore(id.clone(), known.join(", ")));
    }
    let mut report = ReconcileReport {
        from: req.from,
        to: req.to,
        stores: entries.iter().map(|s| s.id.clone()).collect(),
        selected_by: req.select,
        ledger_checked: req.check_ledger,
        counts: BTreeMap::new(),
        totals: BTreeMap::new(),
        orders: Vec::new(),
        queued: 0,
    };
    // One listing per BigCommerce store; several entries (channels) may share it.
    let mut hashes: Vec<&str> = entries.iter().map(|s| s.store_hash.as_str()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let (mut done_count, mut total) = (0, 0);
    for hash in hashes {
        let bc = svc
            .bigcommerce(hash)
            .ok_or_else(|| ReconcileError::NoClient(hash.to_string()))?;
        // Modified since `from` covers every order created since `from`; the creation date
        // then picks the period's orders, also those edited after it ended.
        let window = TimeWindow {
            from: req.from,
            to: svc.clock.now().max(req.to),
        };
        let mut listed =
            bc.orders_modified(window)
                .await
                .map_err(|source| ReconcileError::Listing {
                    store: hash.to_string(),
                    source,
                })?;
        // Orders posted for that the listing does not show (archived ones), read by id.
        let shown: std::collections::BTreeSet<u64> = listed.iter().map(|o| o.id).collect();
        for order_id in posted_since(svc, req, &entries, hash).await? {
            if shown.contains(&order_id) {
                continue;
            }
            match bc.fetch_bundle(order_id, RefundPolicy::Never).await {
                Ok(bundle) => listed.push(bundle.order),
                Err(e) => {
                    let store = entries
                        .iter()
                        .find(|s| s.store_hash == hash)
                        .map_or_else(|| hash.to_string(), |s| s.id.clone());
                    report.orders.push(OrderLine {
                        store,
                        order_id,
                        created: req.from,
                        status: String::new(),
                        standing: Standing::Unread,
                        findings: vec![unreadable("BigCommerce", e)],
                    });
                }
            }
        }
        let mut work = Vec::new();
        for order in listed {
            let created = order.date_created.0.with_timezone(&Utc);
            let at = match req.select {
                Selection::Created => created,
                Selection::Modified => order
                    .date_modified
                    .map_or(created, |d| d.0.with_timezone(&Utc)),
            };
            if at < req.from || at >= req.to {
                continue;
            }
            let Some(entry) = svc.config.route(hash, order.channel_id) else {
                // A storefront no entry of the document covers: its revenue never reaches the
                // ledger, which is exactly what a month-end must not miss.
                report.orders.push(OrderLine {
                    store: hash.to_string(),
                    order_id: order.id,
                    created,
                    status: order.status.clone(),
                    standing: Standing::NeedsAttention,
                    findings: vec![Finding::NoStoreEntry {
                        channel_id: order.channel_id,
                    }],
                });
                continue;
            };
            if report.stores.contains(&entry.id) {
                work.push((entry.id.clone(), order));
            }
        }
        total += work.len();
        progress.advanced(done_count, total);
        // Owned items: a future over borrowed ones is not `Send` for every lifetime, which
        // the poller's handler (spawned by the runtime) needs.
        let mut done =
            stream::iter(work)
                .map(|(store, order)| async move {
                    reconcile_order(svc, req, hash, &store, &order).await
                })
                .buffer_unordered(CONCURRENCY);
        while let Some(checked) = done.next().await {
            report.queued += usize::from(checked.queued);
            merge(&mut report.totals, checked.totals);
            report.orders.push(checked.line);
            done_count += 1;
            progress.advanced(done_count, total);
        }
    }
    report.orders.sort_by(|a, b| {
        (a.standing, &a.store, a.order_id).cmp(&(b.standing, &b.store, b.order_id))
    });
    for line in &report.orders {
        *report.counts.entry(line.standing).or_default() += 1;
    }
    Ok(report)
}

/// Orders of the store `hash` (through the reconciled entries) that the connector posted a
/// journal for since the period began, from its audit.
async fn posted_since(
    svc: &Services,
    req: &ReconcileRequest,
    entries: &[&crate::config::StoreConfig],
    hash: &str,
) -> Result<std::collections::BTreeSet<u64>, ReconcileError> {
    let stores: Vec<&str> = entries
        .iter()
        .filter(|s| s.store_hash == hash)
        .map(|s| s.id.as_str())
        .collect();
    let events = svc
        .store
        .audit_between(req.from, svc.clock.now().max(req.to))
        .await
        .map_err(ReconcileError::Audit)?;
    Ok(events
        .into_iter()
        .filter(|e| e.kind == AuditKind::Posted && stores.contains(&e.store.as_str()))
        .map(|e| e.order_id)
        .collect())
}

/// One order's outcome, merged into the report by the caller.
struct Checked {
    line: OrderLine,
    totals: TotalsMap,
    queued: bool,
}

/// Adds one order's totals to the report's.
fn merge(into: &mut TotalsMap, from: TotalsMap) {
    for (store, currencies) in from {
        for (currency, t) in currencies {
            let sum = into
                .entry(store.clone())
                .or_default()
                .entry(currency)
                .or_default();
            sum.postings += t.postings;
            sum.recorded_dr += t.recorded_dr;
            if let Some(d) = t.ledger_dr {
                *sum.ledger_dr.get_or_insert(Decimal::ZERO) += d;
            }
        }
    }
}

#[tracing::instrument(name = "reconcile_order", skip_all, fields(store = store, order_id = order.id))]
async fn reconcile_order(
    svc: &Services,
    req: &ReconcileRequest,
    hash: &str,
    store: &str,
    order: &Order,
) -> Checked {
    let mut totals = TotalsMap::new();
    let mut queued = false;
    let mut line = OrderLine {
        store: store.to_string(),
        order_id: order.id,
        created: order.date_created.0.with_timezone(&Utc),
        status: order.status.clone(),
        standing: Standing::Matched,
        findings: Vec::new(),
    };
    let recorded = match svc.store.postings_of(store, order.id).await {
        Ok(r) => r,
        Err(e) => {
            line.findings.push(unreadable("state store", e));
            return Checked {
                line: settle(line, &[]),
                totals,
                queued,
            };
        }
    };
    for p in &recorded {
        let batch = p.journal.batch_name.clone();
        match &p.state {
            PostingState::Held { reason } => line.findings.push(Finding::Held {
                batch,
                reason: reason.clone(),
            }),
            PostingState::Rejected { reason } if reason.starts_with(SUPERSEDED) => {
                line.findings.push(Finding::Superseded {
                    batch,
                    reason: reason.clone(),
                })
            }
            PostingState::Rejected { reason } => line.findings.push(Finding::Rejected {
                batch,
                reason: reason.clone(),
            }),
            PostingState::Queued | PostingState::Submitted { .. } => {
                line.findings.push(Finding::InFlight {
                    batch,
                    state: p.state.name(),
                })
            }
            PostingState::Posted { .. } => {}
        }
    }

    // BigCommerce against the connector: what would be posted now?
    match svc.bigcommerce(hash).map(|bc| {
        fetch_order(
            &svc.config.mapping,
            bc.as_ref(),
            hash,
            order.id,
            RefundPolicy::Always,
        )
    }) {
        Some(fetch) => match fetch.await {
            Ok(bundle) => match JournalContext::new(&svc.config, store)
                .map_err(|e| e.to_string())
                .and_then(|ctx| decide(&ctx, &bundle, &recorded).map_err(|e| e.to_string()))
            {
                // A plan that waits names a posting in flight, held or rejected: already a
                // finding above.
                Ok(plan) => {
                    if !plan.waiting {
                        let accounted = Position::of(
                            recorded
                                .iter()
                                .filter(|p| {
                                    !matches!(&p.state, PostingState::Rejected { reason } if reason.starts_with(SUPERSEDED))
                                })
                                .map(|p| &p.journal)
                                .chain(&plan.journals)
                                .chain(plan.held.iter().map(|h| &h.journal)),
                        );
                        let accounts = plan.position.differences(&accounted);
                        if !accounts.is_empty() {
                            line.findings.push(Finding::PositionGap { accounts });
                        }
                    }
                    if !plan.journals.is_empty() && !plan.waiting {
                        let batches: Vec<String> =
                            plan.journals.iter().map(|j| j.batch_name.clone()).collect();
                        queued = match &req.fix {
                            Some(by) => queue_again(svc, hash, store, order.id, by, &batches).await,
                            None => false,
                        };
                        line.findings.push(Finding::NotPosted { batches, queued });
                    }
                }
                Err(reason) => line.findings.push(Finding::CannotJournalise { reason }),
            },
            Err(e) => line.findings.push(unreadable("BigCommerce", e)),
        },
        None => line.findings.push(Finding::Unreadable {
            system: "BigCommerce".into(),
            error: format!("no client for store {hash}"),
        }),
    }

    // The connector against Oracle.
    // A journal without lines was never sent: nothing of it is in the ledger to look for.
    let posted: Vec<&PostingRecord> = recorded
        .iter()
        .filter(|p| p.state.name() == StateName::Posted && !p.journal.is_empty())
        .collect();
    for p in &posted {
        let t = totals_of(&mut totals, store, p);
        t.postings += 1;
        t.recorded_dr += p.journal.total_dr();
    }
    if req.check_ledger && !recorded.is_empty() {
        let prefix = batch_name_prefix(store, order.id);
        match svc.oracle.find_batches(&prefix, true).await {
            Ok(mut batches) => {
                // A shortened prefix can match other orders' batches; the reference cannot.
                let reference = journal_reference(store, order.id);
                batches.retain(|b| b.journals.iter().any(|j| j.reference == reference));
                compare_ledger(store, &recorded, &posted, &batches, &mut line, &mut totals);
            }
            Err(e) => line.findings.push(unreadable("Oracle", e)),
        }
    }
    Checked {
        line: settle(line, &recorded),
        totals,
        queued,
    }
}

/// Compares what the connector recorded for one order with the batches Oracle holds for it.
fn compare_ledger(
    store: &str,
    recorded: &[PostingRecord],
    posted: &[&PostingRecord],
    batches: &[BatchRecord],
    line: &mut OrderLine,
    totals: &mut TotalsMap,
) {
    for p in posted {
        let name = &p.journal.batch_name;
        let found: Vec<&BatchRecord> = batches.iter().filter(|b| b.is_named(name)).collect();
        let PostingState::Posted { batch_id, .. } = p.state else {
            continue;
        };
        match found.as_slice() {
            [] => line.findings.push(Finding::MissingFromLedger {
                batch: name.clone(),
                batch_id,
            }),
            [one] => {
                let (dr, cr, currencies) = entered(one);
                // Fusion answers numbers (64.8); shown at the currency's minor unit (64.80),
                // compared as they are.
                let shown = |mut d: Decimal| {
                    if d.scale() < p.journal.currency.exponent() {
                        d.rescale(p.journal.currency.exponent());
                    }
                    d
                };
                let t = totals_of(totals, store, p);
                let sum = t.ledger_dr.unwrap_or_default() + dr;
                t.ledger_dr = Some(shown(sum));
                let mut what = Vec::new();
                if dr != p.journal.total_dr() || cr != p.journal.total_cr() {
                    what.push(format!(
                        "entered {} Dr / {} Cr, sent {} Dr / {} Cr",
                        shown(dr),
                        shown(cr),
                        p.journal.total_dr(),
                        p.journal.total_cr()
                    ));
                }
                let sent = p.journal.currency.to_string();
                if currencies.iter().any(|c| *c != sent) {
                    what.push(format!("currency {}, sent {sent}", currencies.join("/")));
                }
                if one.id != batch_id {
                    what.push(format!("batch id {}, recorded {batch_id}", one.id));
                }
                if !what.is_empty() {
                    line.findings.push(Finding::Differs {
                        batch: name.clone(),
                        batch_id: one.id,
                        what: what.join("; "),
                    });
                }
            }
            many => line.findings.push(Finding::Duplicated {
                batch: name.clone(),
                batch_ids: many.iter().map(|b| b.id).collect(),
            }),
        }
    }
    // Per account combination: the lines of the batches found for the posted postings against
    // the journals posted.
    let found: Vec<&PostingRecord> = posted
        .iter()
        .copied()
        .filter(|p| batches.iter().any(|b| b.is_named(&p.journal.batch_name)))
        .collect();
    let sent = Position::of(found.iter().map(|p| &p.journal));
    let mut held = Position::default();
    for p in &found {
        if let Some(b) = batches.iter().find(|b| b.is_named(&p.journal.batch_name)) {
            for l in b.journals.iter().flat_map(|j| &j.lines) {
                held.add(&segments_of(&l.account), None, l.entered_dr - l.entered_cr);
            }
        }
    }
    let accounts = sent.differences(&held.without_zeros());
    if !accounts.is_empty() {
        line.findings.push(Finding::AccountsDiffer { accounts });
    }
    for b in batches {
        if posted.iter().any(|p| b.is_named(&p.journal.batch_name)) {
            continue;
        }
        let other = recorded.iter().find(|p| b.is_named(&p.journal.batch_name));
        match other.map(|p| p.state.name()) {
            // Imported, and the tracker has not confirmed it yet: that is its job.
            Some(StateName::Queued | StateName::Submitted) => {}
            recorded_as => line.findings.push(Finding::InLedgerNotRecorded {
                batch: b.name.clone(),
                batch_id: b.id,
                recorded_as,
            }),
        }
    }
}

/// The segment values of an account combination as Fusion shows it (segments joined by the
/// chart's separator, `-` or `.`).
fn segments_of(account: &str) -> Vec<String> {
    account
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .map(str::to_string)
        .collect()
}

/// The totals line of the posting's store and currency.
fn totals_of<'r>(totals: &'r mut TotalsMap, store: &str, p: &PostingRecord) -> &'r mut Totals {
    totals
        .entry(store.to_string())
        .or_default()
        .entry(p.journal.currency.to_string())
        .or_default()
}

/// Entered debits, credits and currencies of a batch's journals.
fn entered(batch: &BatchRecord) -> (Decimal, Decimal, Vec<String>) {
    let mut dr = Decimal::ZERO;
    let mut cr = Decimal::ZERO;
    let mut currencies = Vec::new();
    for j in &batch.journals {
        if !currencies.contains(&j.currency) {
            currencies.push(j.currency.clone());
        }
        for l in &j.lines {
            dr += l.entered_dr;
            cr += l.entered_cr;
        }
    }
    (dr, cr, currencies)
}

fn unreadable(system: &str, error: impl std::fmt::Display) -> Finding {
    Finding::Unreadable {
        system: system.to_string(),
        error: error.to_string(),
    }
}

/// The line's standing: its worst finding; without findings, matched when something is
/// recorded and nothing to post otherwise.
fn settle(mut line: OrderLine, recorded: &[PostingRecord]) -> OrderLine {
    line.standing =
        line.findings
            .iter()
            .map(Finding::standing)
            .min()
            .unwrap_or(if recorded.is_empty() {
                Standing::NothingToPost
            } else {
                Standing::Matched
            });
    line
}

/// Puts the order on the queue, with an audit event saying who asked and what was missing.
#[tracing::instrument(name = "queue_again", skip_all, fields(store = store, order_id = order_id))]
async fn queue_again(
    svc: &Services,
    hash: &str,
    store: &str,
    order_id: u64,
    by: &str,
    batches: &[String],
) -> bool {
    let now = svc.clock.now();
    let message = OrderMessage::new(hash, order_id, format!("reconcile by {by}"), now);
    let Ok(message_id) = svc
        .queue
        .send(&message.to_body(), &[("kind", KIND_ORDER)])
        .await
    else {
        return false;
    };
    let event = AuditEvent::new(Actor::Operator, AuditKind::Reconciled, store, order_id, now)
        .detail(json!({"by": by, "not_posted": batches, "message_id": message_id}));
    if let Err(e) = svc.store.append_audit(&event).await {
        tracing::warn!(store, order_id, error = %e, "the order was queued; its audit event was not written");
    }
    true
}

/// A reconciliation the schedule runs on its own: the orders changed in the `hours` before
/// `settle` ago (so what is still being posted has had time to settle), against the ledger,
/// without `fix`: a person looks at what it finds. Its metrics carry the orders looked at and
/// those needing action (the template's alarm); each such order is logged with its findings
/// (ids, batch names and reasons; no customer data).
#[tracing::instrument(name = "scheduled_reconcile", skip_all)]
pub async fn scheduled(
    svc: &Services,
    hours: i64,
    settle: chrono::Duration,
) -> Result<(ReconcileReport, crate::metrics::Metrics), ReconcileError> {
    let to = svc.clock.now() - settle;
    let request = ReconcileRequest {
        store: None,
        from: to - chrono::Duration::hours(hours.max(1)),
        to,
        select: Selection::Modified,
        check_ledger: true,
        fix: None,
    };
    let report = reconcile(svc, &request).await?;
    let mut metrics = crate::metrics::Metrics::default();
    metrics.add(
        crate::metrics::ORDERS_RECONCILED,
        report.orders.len() as f64,
    );
    metrics.add(
        crate::metrics::RECONCILE_NEEDS_ACTION,
        report.needing_action() as f64,
    );
    for o in report.orders.iter().filter(|o| o.standing.needs_action()) {
        tracing::warn!(
            store = %o.store,
            order_id = o.order_id,
            standing = ?o.standing,
            findings = %serde_json::to_string(&o.findings).unwrap_or_default(),
            "reconciliation: needs action"
        );
    }
    Ok((report, metrics))
}
