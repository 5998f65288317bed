//! The decision "what must be posted for this order now", as a table of cases: the order as it
//! is, what is recorded for it, and the postings expected. Whoever asks (webhook, poller, a
//! retry) and however often, a posting that exists is never planned twice.

use crate::support::*;
use chrono::Utc;
use common::bigcommerce::OrderBundle;
use common::journal::{
    Journal, JournalContext, Position, PostingKind, build_refund, build_refund_of_cancelled,
    build_sale,
};
use common::posting::decide::{Plan, SUPERSEDED, decide, fingerprint};
use common::state::{PostingRecord, PostingState};
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
    PostingRecord::new(journal, state, Utc::now())
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

fn refund_of_cancelled(bundle: &OrderBundle, id: u64) -> Journal {
    let config = example_config();
    let ctx = JournalContext::new(&config, "us").unwrap();
    build_refund_of_cancelled(&ctx, bundle, id).unwrap()
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

/// A journal's lines as (role, account, debit, credit): what the ledger sees.
fn rows(j: &Journal) -> Vec<(String, String, Decimal, Decimal)> {
    j.lines
        .iter()
        .map(|l| (l.account_role.to_string(), l.segments.join("-"), l.dr, l.cr))
        .collect()
}

fn with_status(mut o: Value, status: u32, payment_status: &str) -> Value {
    o["status_id"] = json!(status);
    o["payment_status"] = json!(payment_status);
    o
}

/// Refund `id` of `amount` (no items) back through `provider`.
fn paid_back(id: u64, amount: &str, provider: &str) -> Value {
    let a: f64 = amount.parse().unwrap();
    json!({"id": id, "order_id": 600, "created": "2026-03-25T10:00:00+00:00", "reason": "",
        "total_amount": a, "total_tax": 0,
        "items": [{"item_type": "ORDER", "item_id": 600, "requested_amount": a}],
        "payments": [{"id": id + 100, "provider_id": provider, "amount": a, "offline": provider == "storecredit", "is_declined": false}]})
}

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
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
fn a_paid_then_cancelled_order_reverses_what_was_earned_and_owes_the_payment_back() {
    let paid = bundle_of(order_600(11, 2), vec![]);
    let sale = sale_of(&paid);
    let cancelled = bundle_of(order_600(5, 2), vec![]);
    let p = plan(&cancelled, &[posted(sale.clone())]);
    assert_eq!(kinds(&p), vec![PostingKind::REVERSAL]);
    let reversal = &p.journals[0];
    assert_eq!(reversal.batch_name, "BC-us-600-reversal");
    assert!(
        reversal.description.contains("BC-us-600-sale"),
        "{}",
        reversal.description
    );
    // Revenue and tax are gone; the card still holds the 43.20 it took, owed back.
    assert_eq!(
        ledger(&[&sale, reversal]),
        vec![
            ("101-000-1210-000-000".to_string(), d("43.20")),
            ("101-000-2440-000-000".to_string(), d("-43.20")),
        ]
    );
    assert_eq!(p.position, Position::of([&sale, reversal]));
    // Reversed once: asking again plans nothing.
    let again = plan(&cancelled, &[posted(sale), posted(reversal.clone())]);
    assert!(again.journals.is_empty(), "{:#?}", again.journals);
}

#[test]
fn a_cancelled_authorisation_took_nothing_and_nets_the_order_to_zero() {
    let sale = sale_of(&bundle_of(order_600(11, 2), vec![]));
    for status in ["authorized", "void", "declined", ""] {
        let voided = bundle_of(with_status(order_600(5, 2), 5, status), vec![]);
        let p = plan(&voided, &[posted(sale.clone())]);
        assert_eq!(kinds(&p), vec![PostingKind::REVERSAL]);
        assert!(
            ledger(&[&sale, &p.journals[0]]).is_empty(),
            "{status}: {:?}",
            ledger(&[&sale, &p.journals[0]])
        );
    }
}

#[test]
fn an_order_cancelled_before_anything_posted_posts_nothing_when_no_money_moved() {
    let p = plan(
        &bundle_of(with_status(order_600(5, 2), 5, "void"), vec![]),
        &[],
    );
    assert!(p.journals.is_empty());
    assert!(notes(&p).contains("no money moved"), "{}", notes(&p));
}

#[test]
fn an_order_cancelled_before_its_sale_posted_after_payment_posts_the_sale_then_its_cancellation() {
    let cancelled = bundle_of(order_600(5, 2), vec![]);
    let first = plan(&cancelled, &[]);
    assert_eq!(kinds(&first), vec![PostingKind::Sale]);
    assert!(first.waiting);
    assert!(
        notes(&first).contains("money was taken"),
        "{}",
        notes(&first)
    );
    let sale = first.journals[0].clone();
    let second = plan(&cancelled, &[posted(sale.clone())]);
    assert_eq!(kinds(&second), vec![PostingKind::REVERSAL]);
    assert_eq!(
        ledger(&[&sale, &second.journals[0]]),
        vec![
            ("101-000-1210-000-000".to_string(), d("43.20")),
            ("101-000-2440-000-000".to_string(), d("-43.20")),
        ]
    );
    assert_eq!(first.position, second.position);
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
    // Sale posted: now the refund, mirroring the sale.
    let p = plan(&b, &[posted(sale_of(&b))]);
    assert_eq!(kinds(&p), vec![PostingKind::Refund(31)]);
    assert_eq!(rows(&p.journals[0]), rows(&refund_of(&b, 31)));
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
    assert!(p.waiting);
    assert!(
        notes(&p).contains("adjust:1 is submitted; the order waits for it"),
        "{}",
        notes(&p)
    );
}

#[test]
fn a_cancellation_after_a_partial_refund_owes_back_only_what_the_shopper_has_not_had() {
    let b = bundle_of(order_600(11, 2), vec![refund(31)]);
    let sale = sale_of(&b);
    let r31 = refund_of(&b, 31);
    let cancelled = bundle_of(order_600(5, 2), vec![refund(31)]);
    let p = plan(&cancelled, &[posted(sale.clone()), posted(r31.clone())]);
    assert_eq!(kinds(&p), vec![PostingKind::REVERSAL]);
    let reversal = p.journals[0].clone();
    // 43.20 taken, 21.60 given back: 21.60 is still on the card and owed to the shopper.
    assert_eq!(
        ledger(&[&sale, &r31, &reversal]),
        vec![
            ("101-000-1210-000-000".to_string(), d("21.60")),
            ("101-000-2440-000-000".to_string(), d("-21.60")),
        ]
    );
    let books = vec![
        posted(sale.clone()),
        posted(r31.clone()),
        posted(reversal.clone()),
    ];
    // No refund ever: nothing more to post, the money stays owed.
    assert!(plan(&cancelled, &books).journals.is_empty());

    // The rest goes back to the card: the refund clears the refund due, whatever its items.
    let later = bundle_of(
        order_600(5, 2),
        vec![refund(31), paid_back(32, "21.60", "braintree")],
    );
    let p = plan(&later, &books);
    assert_eq!(kinds(&p), vec![PostingKind::Refund(32)]);
    assert_eq!(
        rows(&p.journals[0]),
        vec![
            (
                "refund_due".into(),
                "101-000-2440-000-000".into(),
                d("21.60"),
                d("0.00")
            ),
            (
                "receivable".into(),
                "101-000-1210-000-000".into(),
                d("0.00"),
                d("21.60")
            ),
        ]
    );
    assert!(ledger(&[&sale, &r31, &reversal, &p.journals[0]]).is_empty());

    // Or to store credit: the shopper now holds a credit, the merchant still the card money.
    let credit = bundle_of(
        order_600(5, 2),
        vec![refund(31), paid_back(33, "21.60", "storecredit")],
    );
    let p = plan(&credit, &books);
    assert_eq!(
        ledger(&[&sale, &r31, &reversal, &p.journals[0]]),
        vec![
            ("101-000-1210-000-000".to_string(), d("21.60")),
            ("101-000-2420-000-000".to_string(), d("-21.60")),
        ]
    );

    // BigCommerce marks the order Refunded after that refund: the cancellation stands.
    let refunded = bundle_of(
        with_status(order_600(4, 2), 4, "refunded"),
        vec![refund(31), paid_back(32, "21.60", "braintree")],
    );
    let mut all = books.clone();
    all.push(posted(refund_of_cancelled(&later, 32)));
    let p = plan(&refunded, &all);
    assert!(
        p.journals.is_empty() && p.held.is_empty(),
        "{:#?}",
        p.journals
    );
}

#[test]
fn a_refund_of_more_than_the_order_still_holds_is_held_with_the_figures() {
    let b = bundle_of(
        order_600(11, 2),
        vec![refund(31), paid_back(32, "30.00", "braintree")],
    );
    let p = plan(&b, &[posted(sale_of(&b)), posted(refund_of(&b, 31))]);
    assert!(p.journals.is_empty());
    assert_eq!(p.held.len(), 1);
    let reason = &p.held[0].reason;
    assert!(
        reason
            .contains("refund 32 gives back USD 30.00, more than the order still holds (USD 21.60"),
        "{reason}"
    );
    assert!(reason.contains("mlc replay us/600/refund:32"), "{reason}");
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
fn an_order_reinstated_after_its_reversal_is_held_for_a_person_and_superseded_if_cancelled_again() {
    let sale = sale_of(&bundle_of(order_600(11, 2), vec![]));
    let reversal =
        plan(&bundle_of(order_600(5, 2), vec![]), &[posted(sale.clone())]).journals[0].clone();
    let books = vec![posted(sale.clone()), posted(reversal.clone())];
    let back = bundle_of(order_600(11, 2), vec![]);
    let p = plan(&back, &books);
    assert!(p.journals.is_empty());
    assert_eq!(p.held.len(), 1);
    let held = &p.held[0];
    assert_eq!(held.journal.posting, PostingKind::Reinstatement(1));
    assert!(
        held.reason.contains("mlc replay us/600/reinstate:1"),
        "{}",
        held.reason
    );
    // Replayed and posted, the books hold the sale again.
    assert_eq!(ledger(&[&sale, &reversal, &held.journal]), ledger(&[&sale]));
    // Seen again while it waits: nothing new.
    let mut waiting = books.clone();
    waiting.push(record(
        held.journal.clone(),
        PostingState::Held {
            reason: held.reason.clone(),
        },
    ));
    let p = plan(&back, &waiting);
    assert!(p.journals.is_empty() && p.held.is_empty());
    assert!(
        notes(&p).contains("reinstate:1 waits for a person"),
        "{}",
        notes(&p)
    );
    // Cancelled again before anyone replayed it: the held reinstatement is superseded.
    let p = plan(&bundle_of(order_600(5, 2), vec![]), &waiting);
    assert!(p.journals.is_empty());
    assert_eq!(p.superseded.len(), 1);
    assert_eq!(p.superseded[0].0, PostingKind::Reinstatement(1));
    assert!(
        p.superseded[0].1.starts_with(SUPERSEDED),
        "{}",
        p.superseded[0].1
    );
}

#[test]
fn a_replayed_reinstatement_then_a_new_cancellation_books_a_second_reversal() {
    let sale = sale_of(&bundle_of(order_600(11, 2), vec![]));
    let reversal =
        plan(&bundle_of(order_600(5, 2), vec![]), &[posted(sale.clone())]).journals[0].clone();
    let books = vec![posted(sale.clone()), posted(reversal.clone())];
    let reinstated = plan(&bundle_of(order_600(11, 2), vec![]), &books).held[0]
        .journal
        .clone();
    let mut books = books;
    books.push(posted(reinstated.clone()));
    assert!(
        plan(&bundle_of(order_600(11, 2), vec![]), &books)
            .journals
            .is_empty()
    );
    let p = plan(&bundle_of(order_600(5, 2), vec![]), &books);
    assert_eq!(kinds(&p), vec![PostingKind::Reversal(2)]);
    assert_eq!(p.journals[0].batch_name, "BC-us-600-reversal-2");
    assert_eq!(
        ledger(&[&sale, &reversal, &reinstated, &p.journals[0]]),
        ledger(&[&sale, &reversal])
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
