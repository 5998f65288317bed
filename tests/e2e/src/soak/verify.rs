//! What the soak must find at the end: per order, the ledger holds each posted journal once and
//! nothing else, the posted journals are what the order's life implies, the connector has
//! nothing left to do, the month reconciles clean, and each dead letter is explained by its
//! order's audit.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use common::bigcommerce::api::RefundPolicy;
use common::journal::{JournalContext, Position};
use common::ports::SystemClock;
use common::posting::decide::decide;
use common::posting::fetch::fetch_order;
use common::posting::message::OrderMessage;
use common::posting::preview::preview;
use common::posting::reconcile::{ReconcileRequest, Selection, Standing, reconcile};
use common::posting::services::Services;
use common::state::{AuditKind, PostingState};
use rust_decimal::Decimal;
use sandbox::demo::HASH;
use sandbox::oracle::BatchView;

use super::lives::Made;
use super::workers::soak_clients;
use super::{Rig, SoakReport};

/// Net per account combination (`101-000-1210-000-000`), zeros dropped.
type Net = BTreeMap<String, Decimal>;

fn net_of_position(p: &Position) -> Net {
    let mut net = Net::new();
    for a in &p.accounts {
        *net.entry(a.account.join("-")).or_default() += a.net;
    }
    net.retain(|_, n| !n.is_zero());
    net
}

fn net_of_batches<'b>(batches: impl IntoIterator<Item = &'b BatchView>) -> Net {
    let mut net = Net::new();
    for b in batches {
        for (_, lines) in &b.journals {
            for (account, dr, cr) in lines {
                *net.entry(account.clone()).or_default() += dr - cr;
            }
        }
    }
    net.retain(|_, n| !n.is_zero());
    net
}

/// A batch's name without Fusion's suffixes.
fn base_name(b: &BatchView) -> &str {
    b.name.split(' ').next().unwrap_or_default()
}

/// Checks everything; adds what is wrong to `report.problems`.
pub(super) async fn verify(rig: &Rig, made: &[Made], started: Instant, report: &mut SoakReport) {
    report.problems.extend(rig.faults.problems());
    let ports = rig.ports();
    let config = match ports.source.connector_document().await {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(format!("reading the document: {e}"));
            return;
        }
    };
    let (bc_settings, fusion) = soak_clients();
    let svc = match Services::connect(
        config.clone(),
        ports.store.clone(),
        ports.queue.clone(),
        Arc::new(SystemClock),
        crate::quick_settings(&config, Some(rig.webhook_url.clone())),
        bc_settings,
        fusion,
    ) {
        Ok(s) => s,
        Err(e) => {
            report.problems.push(format!("services: {e}"));
            return;
        }
    };
    let bc = svc.bigcommerce(HASH).expect("the soak's store").clone();
    let ctx = JournalContext::new(&config, "us").expect("the example's us store");

    let batches = rig.pod.batches();
    let mut by_name: BTreeMap<&str, Vec<&BatchView>> = BTreeMap::new();
    for b in &batches {
        by_name.entry(base_name(b)).or_default().push(b);
    }
    report.journals = batches.len();
    let mut accounted: BTreeSet<String> = BTreeSet::new();

    for m in made.iter().filter(|m| m.id != 0) {
        let id = m.id;
        let postings = match svc.store.postings_of("us", id).await {
            Ok(p) => p,
            Err(e) => {
                report.problems.push(format!("order {id}: {e}"));
                continue;
            }
        };
        let mut posted = Vec::new();
        for p in &postings {
            accounted.insert(p.journal.batch_name.clone());
            match &p.state {
                PostingState::Posted { .. } => posted.push(&p.journal),
                other => report.problems.push(format!(
                    "order {id}: posting {} ended {} ({other:?})",
                    p.key,
                    other.name()
                )),
            }
        }
        // Each posted journal once in the ledger; nothing of the order that is not posted.
        for j in posted.iter().filter(|j| !j.is_empty()) {
            let found = by_name.get(j.batch_name.as_str()).map_or(0, Vec::len);
            if found == 0 {
                report.lost += 1;
                report.problems.push(format!(
                    "order {id}: {} is recorded posted but not in the ledger",
                    j.batch_name
                ));
            } else if found > 1 {
                report.duplicates += found - 1;
                let groups: Vec<&str> = by_name[j.batch_name.as_str()]
                    .iter()
                    .map(|b| b.group_id.as_str())
                    .collect();
                let story = svc
                    .store
                    .audit_of_order("us", id)
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|e| e.posting == Some(j.posting))
                    .map(|e| {
                        format!(
                            "{:?} {:?} {:?}->{:?} {}",
                            e.actor, e.kind, e.before, e.after, e.detail
                        )
                    })
                    .collect::<Vec<_>>();
                report.problems.push(format!(
                    "order {id}: {} is in the ledger {found} times (groups {groups:?}); its story: {story:#?}",
                    j.batch_name
                ));
            }
        }
        let prefix = format!("BC-us-{id}-");
        let in_ledger: Vec<&BatchView> = batches
            .iter()
            .filter(|b| b.name.starts_with(&prefix))
            .collect();
        let ledger = net_of_batches(in_ledger.iter().copied());
        let booked = net_of_position(&Position::of(posted.iter().copied()));
        if ledger != booked {
            report.problems.push(format!(
                "order {id}: the ledger holds {ledger:?} but the posted journals sum to {booked:?}"
            ));
        }

        // What the life implies: the connector, shown the order as it ends, has nothing left
        // to post, and (for an order never cancelled, whose books do not depend on when the
        // cancellation came) the ledger is what a fresh decision on the final order books.
        let bundle =
            match fetch_order(&config.mapping, bc.as_ref(), HASH, id, RefundPolicy::Always).await {
                Ok(b) => b,
                Err(e) => {
                    report.problems.push(format!("order {id}: fetching: {e}"));
                    continue;
                }
            };
        match decide(&ctx, &bundle, &postings) {
            Ok(plan) => {
                if !plan.journals.is_empty() || !plan.held.is_empty() || plan.waiting {
                    report.lost += plan.journals.len() + plan.held.len();
                    report.problems.push(format!(
                        "order {id}: still to post: {:?}; held: {}; waiting: {}",
                        plan.journals
                            .iter()
                            .map(|j| j.batch_name.as_str())
                            .collect::<Vec<_>>(),
                        plan.held.len(),
                        plan.waiting
                    ));
                }
                let position = net_of_position(&plan.position);
                if position != ledger {
                    report.problems.push(format!(
                        "order {id}: the expected position is {position:?} but the ledger holds {ledger:?}"
                    ));
                }
            }
            Err(e) => report
                .problems
                .push(format!("order {id}: cannot be decided: {e}")),
        }
        if !m.cancelled {
            // `preview` lives the order afresh, round after round, each posting what the last
            // one planned: the ledger of the order's life, whatever order things happened in.
            match preview(&config, "us", &bundle) {
                Ok(fresh) => {
                    let fresh = net_of_position(&fresh.position);
                    if fresh != ledger {
                        report.problems.push(format!(
                            "order {id}: its life implies {fresh:?} but the ledger holds {ledger:?}"
                        ));
                    }
                }
                Err(e) => report
                    .problems
                    .push(format!("order {id}: cannot be lived afresh: {e}")),
            }
        }
    }
    for b in &batches {
        if !accounted.contains(base_name(b)) {
            report.duplicates += 1;
            report.problems.push(format!(
                "{} is in the ledger with no posting recorded for it",
                b.name
            ));
        }
    }

    // The month, as finance reconciles it: BigCommerce, the connector and the ledger agree.
    let now = chrono::Utc::now();
    let since = now
        - chrono::Duration::from_std(started.elapsed()).unwrap_or_default()
        - chrono::Duration::hours(1);
    let request = ReconcileRequest {
        store: None,
        from: since,
        to: now + chrono::Duration::hours(1),
        select: Selection::Modified,
        check_ledger: true,
        fix: None,
    };
    match reconcile(&svc, &request).await {
        Ok(r) => {
            let unsettled: Vec<String> = r
                .orders
                .iter()
                .filter(|o| o.standing.needs_action() || o.standing == Standing::Pending)
                .map(|o| format!("{} {:?} {:?}", o.order_id, o.standing, o.findings))
                .collect();
            if !unsettled.is_empty() {
                report
                    .problems
                    .push(format!("reconciliation is not clean: {unsettled:?}"));
            }
            let placed = made.iter().filter(|m| m.id != 0).count();
            if r.orders.len() != placed {
                report.problems.push(format!(
                    "reconciliation saw {} orders; {placed} were placed",
                    r.orders.len()
                ));
            }
        }
        Err(e) => report.problems.push(format!("reconciliation: {e}")),
    }

    // Dead letters: each names an order of the run whose audit shows it was taken up.
    let dlq = match rig.queue_with_dead_letters().await {
        Ok(q) => q,
        Err(e) => {
            report.problems.push(format!("dead-letter queue: {e}"));
            return;
        }
    };
    // Looking leaves dead letters visible: the local queue answers all of them at once, SQS a
    // sample of at most ten per call, so it is asked until three calls in a row bring nothing new.
    let mut seen = BTreeSet::new();
    let mut dry = 0;
    while dry < 3 {
        let letters = match dlq.dead_letters(1000).await {
            Ok(l) => l,
            Err(e) => {
                report.problems.push(format!("dead letters: {e}"));
                break;
            }
        };
        let fresh: Vec<_> = letters
            .into_iter()
            .filter(|l| seen.insert(l.message_id.clone()))
            .collect();
        if fresh.is_empty() {
            dry += 1;
            continue;
        }
        dry = 0;
        for letter in fresh {
            report.dead_letters += 1;
            let Ok(message) = OrderMessage::parse(&letter.body) else {
                report.problems.push(format!(
                    "dead letter {} is not an order message",
                    letter.message_id
                ));
                continue;
            };
            if !made.iter().any(|m| m.id == message.order_id) {
                report.problems.push(format!(
                    "dead letter for order {}, which the soak never placed",
                    message.order_id
                ));
                continue;
            }
            let story = svc
                .store
                .audit_of_order("us", message.order_id)
                .await
                .unwrap_or_default();
            if !story.iter().any(|e| e.kind == AuditKind::Fetched) {
                report.problems.push(format!(
                    "dead letter for order {} ({}): its audit never shows it fetched",
                    message.order_id, message.reason
                ));
            }
        }
    }
}
