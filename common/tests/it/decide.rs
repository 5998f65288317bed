//! The decision "what must be posted for this order now", as a table of cases: the order as it
//! is, what is recorded for it, and the postings expected. Whoever asks (webhook, poller, a
//! retry) and however often, a posting that exists is never planned twice.

use crate::support::*;
use chrono::Utc;
use common::bigcommerce::OrderBundle;
use common::journal::{Journal, JournalContext, PostingKind, build_refund, build_sale};
use common::posting::decide::{Plan, decide, fingerprint};
use common::state::{PostingKey, PostingRecord, PostingState};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// Order 600: `qty` shirts at 20.00 plus 8% tax, in status `status`.
fn order_600(status: u32, qty: u64) -> Value {
    let mut o = order(600);
    let q = Decimal::from(qty);
    let ex = Decimal::from(20) * q;
    let tax = Decimal::new(160, 2) * q;
    o["status_id"] = json!(status);
    o["status"] = json!(match status {
        1 => "Pending",
        5 => "Cancelled",
        11 => "Awaiting Fulfillment",
        _ => "Shipped",
    });
    o["subtotal_ex_tax"] = json!(ex.to_string());
    o["total_ex_tax"] = json!(ex.to_string());
    o["total_tax"] = json!(tax.to_string());
    o["total_inc_tax"] = json!((ex + tax).to_string());
    o["products"] = json!([line(1, 77, qty, "20.00", "1.60")]);
    o
}

/// Refund `id` of one shirt (21.60 back to the card).
fn refund(id: u64) -> Value {
    json!({"id": id, "order_id": 600, "created": "2026-03-20T10:00:00+00:00", "reason": "Too small",
        "total_amount": 21.60, "total_tax": 1.60,
        "items": [{"item_type": "PRODUCT", "item_id": 1, "quantity": 1, "requested_amount": null}],
        "payments": [{"id": id + 100, "provider_id": "braintree", "amount": 21.60, "offline": false, "is_declined": false}]})
}

fn bundle_of(mut o: Value, refunds: Vec<Value>) -> OrderBundle {
    let products = o["products"].take();
    o.as_object_mut().unwrap().remove("products");
    bundle_with(json!({"order": o, "products": products, "refunds": refunds,
        "categories": {"77": [21]}, "category_tree": example_tree()}))
}

fn record(journal: Journal, state: PostingState) -> PostingRecord {
    let now = Utc::now();
    PostingRecord {
        key: PostingKey {
            store: journal.store.clone(),
            order_id: journal.order_id,
            posting: journal.posting,
        },
        state,
        journal,
        version: 1,
        created_at: now,
        updated_at: now,
        seen_at: None,
    }
}

fn posted(journal: Journal) -> PostingRecord {
    record(
        journal,
        PostingState::Posted {
            batch_id: 1,
            group_id: 1,
            request_id: Some(1),
        },
    )
}

fn plan(bundle: &OrderBundle, recorded: &[PostingRecord]) -> Plan {
    let config = example_config();
    let ctx = JournalContext::new(&config, "us").unwrap();
    let plan = decide(&ctx, bundle, recorded).unwrap_or_else(|e| panic!("{e}"));
    for j in &plan.journals {
        assert!(j.is_balanced(), "{j:#?}");
    }
    plan
}

fn kinds(plan: &Plan) -> Vec<PostingKind> {
    plan.journals.iter().map(|j| j.posting).collect()
}

/// The sale of `bundle`, built as the poster would have built it.
fn sale_of(bundle: &OrderBundle) -> Journal {
    let config = example_config();
    let ctx = JournalContext::new(&config, "us").unwrap();
    build_sale(&ctx, bundle).unwrap()
}

fn refund_of(bundle: &OrderBundle, id: u64) -> Journal {
    let config = example_config();
    let ctx = JournalContext::new(&config, "us").unwrap();
    build_refund(&ctx, bundle, id).unwrap()
}

/// Net of every journal per account: what the ledger holds for the order.
fn ledger(journals: &[&Journal]) -> Vec<(String, Decimal)> {
    let mut net: Vec<(String, Decimal)> = Vec::new();
    for j in journals {
        for l in &j.lines {
            let account = l.segments.join("-");
            match net.iter_mut().find(|(a, _)| *a == account) {
                Some((_, n)) => *n += l.dr - l.cr,
                None => net.push((account, l.dr - l.cr)),
            }
        }
    }
    net.retain(|(_, n)| !n.is_zero());
    net
}

fn notes(plan: &Plan) -> String {
    plan.notes.join(" | ")
}

#[test]
fn a_new_paid_order_posts_its_sale() {
    let b = bundle_of(order_600(11, 2), vec![]);
    let p = plan(&b, &[]);
    assert_eq!(kinds(&p), vec![PostingKind::Sale]);
    assert_eq!(p.journals[0], sale_of(&b));
}

#[test]
fn an_unpaid_order_posts_nothing_and_says_why() {
    let p = plan(&bundle_of(order_600(1, 2), vec![]), &[]);
    assert!(p.journals.is_empty());
    assert!(
        notes(&p).contains("status 1 (Pending) is not a sale status"),
        "{}",
        notes(&p)
    );
}

#[test]
fn a_paid_then_cancelled_order_reverses_the_sale_exactly() {
    let paid = bundle_of(order_600(11, 2), vec![]);
    let sale = sale_of(&paid);
    let cancelled = bundle_of(order_600(5, 2), vec![]);
    let p = plan(&cancelled, &[posted(sale.clone())]);
    assert_eq!(kinds(&p), vec![PostingKind::Reversal]);
    let reversal = &p.journals[0];
    assert_eq!(reversal.batch_name, "BC-us-600-reversal");
    assert!(
        reversal.description.contains("BC-us-600-sale"),
        "{}",
        reversal.description
    );
    assert!(
        ledger(&[&sale, reversal]).is_empty(),
        "{:?}",
        ledger(&[&sale, reversal])
    );
    // Reversed once: asking again plans nothing.
    let again = plan(&cancelled, &[posted(sale), posted(reversal.clone())]);
    assert!(again.journals.is_empty());
    assert_eq!(notes(&again), "already reversed");
}

#[test]
fn an_order_cancelled_before_anything_posted_posts_nothing() {
    let p = plan(&bundle_of(order_600(5, 2), vec![]), &[]);
    assert!(p.journals.is_empty());
    assert!(notes(&p).contains("nothing to reverse"), "{}", notes(&p));
}

#[test]
fn a_cancellation_while_the_sale_is_in_flight_waits_for_it() {
    let sale = sale_of(&bundle_of(order_600(11, 2), vec![]));
    let submitted = record(
        sale,
        PostingState::Submitted {
            group_id: 7,
            request_id: None,
        },
    );
    let p = plan(&bundle_of(order_600(5, 2), vec![]), &[submitted]);
    assert!(p.journals.is_empty());
    assert!(notes(&p).contains("the sale is submitted"), "{}", notes(&p));
}

#[test]
fn an_order_edited_after_posting_posts_the_difference_then_the_next_difference() {
    let sale = sale_of(&bundle_of(order_600(11, 2), vec![]));
    let edited = bundle_of(order_600(11, 3), vec![]);
    let p = plan(&edited, std::slice::from_ref(&posted(sale.clone())));
    assert_eq!(kinds(&p), vec![PostingKind::Adjustment(1)]);
    let first = p.journals[0].clone();
    assert_eq!(first.batch_name, "BC-us-600-adjust-1");
    // Sale plus adjustment is exactly the edited order's sale.
    assert_eq!(ledger(&[&sale, &first]), ledger(&[&sale_of(&edited)]));

    // Unchanged since the adjustment: nothing more.
    let recorded = vec![posted(sale.clone()), posted(first.clone())];
    assert!(plan(&edited, &recorded).journals.is_empty());

    // Edited again, down to one shirt: the second adjustment.
    let again = bundle_of(order_600(11, 1), vec![]);
    let p = plan(&again, &recorded);
    assert_eq!(kinds(&p), vec![PostingKind::Adjustment(2)]);
    assert_eq!(
        ledger(&[&sale, &first, &p.journals[0]]),
        ledger(&[&sale_of(&again)])
    );
}

#[test]
fn an_unchanged_posted_order_posts_nothing() {
    let b = bundle_of(order_600(11, 2), vec![]);
    let p = plan(&b, &[posted(sale_of(&b))]);
    assert!(p.journals.is_empty(), "{:#?}", p.journals);
}

#[test]
fn a_refund_before_the_sale_posted_waits_and_the_sale_goes_first() {
    let b = bundle_of(order_600(11, 2), vec![refund(31)]);
    // Nothing recorded: the sale only.
    let p = plan(&b, &[]);
    assert_eq!(kinds(&p), vec![PostingKind::Sale]);
    assert!(notes(&p).contains("1 refund(s) wait until the sale is in the ledger"));
    // Sale queued (the webhook saw the refund before the poster ran): still nothing.
    let queued = record(sale_of(&b), PostingState::Queued);
    let p = plan(&b, &[queued]);
    assert!(p.journals.is_empty());
    assert!(notes(&p).contains("the sale is queued"), "{}", notes(&p));
    // Sale posted: now the refund.
    let p = plan(&b, &[posted(sale_of(&b))]);
    assert_eq!(kinds(&p), vec![PostingKind::Refund(31)]);
    assert_eq!(p.journals[0], refund_of(&b, 31));
}

#[test]
fn the_same_refund_seen_twice_posts_once() {
    let b = bundle_of(order_600(11, 2), vec![refund(31), refund(32)]);
    let sale = posted(sale_of(&b));
    let r31 = posted(refund_of(&b, 31));
    let p = plan(&b, &[sale.clone(), r31.clone()]);
    assert_eq!(kinds(&p), vec![PostingKind::Refund(32)]);
    // Refund 32 queued by the webhook, then the poller sees both refunds: nothing.
    let r32 = record(refund_of(&b, 32), PostingState::Queued);
    assert!(plan(&b, &[sale, r31, r32]).journals.is_empty());
}

#[test]
fn webhook_and_poller_seeing_the_same_change_post_it_once() {
    let b = bundle_of(order_600(11, 2), vec![]);
    // The webhook's message decided first and recorded the sale as Queued…
    let first = plan(&b, &[]);
    assert_eq!(kinds(&first), vec![PostingKind::Sale]);
    let recorded = vec![record(first.journals[0].clone(), PostingState::Queued)];
    // …then the poller's message for the same order finds it recorded: nothing.
    let second = plan(&b, &recorded);
    assert!(second.journals.is_empty());
    // And after it posted, a redelivered message still finds nothing to do.
    let third = plan(&b, &[posted(first.journals[0].clone())]);
    assert!(third.journals.is_empty());
}

#[test]
fn a_change_while_an_adjustment_is_in_flight_waits() {
    let sale = sale_of(&bundle_of(order_600(11, 2), vec![]));
    let edited = bundle_of(order_600(11, 3), vec![]);
    let adj = plan(&edited, &[posted(sale.clone())]).journals[0].clone();
    let in_flight = record(
        adj,
        PostingState::Submitted {
            group_id: 3,
            request_id: Some(9),
        },
    );
    let p = plan(
        &bundle_of(order_600(11, 4), vec![]),
        &[posted(sale), in_flight],
    );
    assert!(p.journals.is_empty());
    assert!(notes(&p).contains("an adjustment is in flight"));
}

#[test]
fn a_cancellation_after_a_partial_refund_nets_the_order_to_zero() {
    let b = bundle_of(order_600(11, 2), vec![refund(31)]);
    let sale = sale_of(&b);
    let r31 = refund_of(&b, 31);
    let cancelled = bundle_of(order_600(5, 2), vec![refund(31)]);
    let p = plan(&cancelled, &[posted(sale.clone()), posted(r31.clone())]);
    assert_eq!(kinds(&p), vec![PostingKind::Reversal]);
    assert!(ledger(&[&sale, &r31, &p.journals[0]]).is_empty());
}

#[test]
fn a_held_sale_blocks_everything_until_a_person_replays_it() {
    let b = bundle_of(order_600(11, 3), vec![refund(31)]);
    let held = record(
        sale_of(&b),
        PostingState::Held {
            reason: "period closed".into(),
        },
    );
    let p = plan(&b, &[held]);
    assert!(p.journals.is_empty());
    assert!(notes(&p).contains("the sale is held"), "{}", notes(&p));
}

#[test]
fn an_order_reinstated_after_its_reversal_is_left_to_a_person() {
    let sale = sale_of(&bundle_of(order_600(11, 2), vec![]));
    let reversal =
        plan(&bundle_of(order_600(5, 2), vec![]), &[posted(sale.clone())]).journals[0].clone();
    let p = plan(
        &bundle_of(order_600(11, 2), vec![]),
        &[posted(sale), posted(reversal)],
    );
    assert!(p.journals.is_empty());
    assert!(
        notes(&p).contains("after the order was reversed"),
        "{}",
        notes(&p)
    );
}

#[test]
fn the_fingerprint_follows_money_not_addresses() {
    let base = order_600(11, 2);
    let fp = fingerprint(&bundle_of(base.clone(), vec![]));
    assert_eq!(fp, fingerprint(&bundle_of(base.clone(), vec![])));
    assert_eq!(fp.len(), 32);

    let mut note = base.clone();
    note["staff_notes"] = json!("call before delivery");
    note["billing_address"] = json!({"first_name": "Ada", "city": "London"});
    assert_eq!(fp, fingerprint(&bundle_of(note, vec![])));

    assert_ne!(fp, fingerprint(&bundle_of(order_600(11, 3), vec![])));
    assert_ne!(fp, fingerprint(&bundle_of(order_600(5, 2), vec![])));
    assert_ne!(fp, fingerprint(&bundle_of(base, vec![refund(31)])));
}
