//! Orders shaped the ways a store makes them, through the pipeline (local adapters, the sandbox
//! store and pod over HTTP): custom fees, an order-level discount, a display currency other
//! than the one the shopper paid in, an archived order. Each must reach the ledger as what the
//! shopper was charged, in the currency they paid in, once.

use std::str::FromStr;

use common::adapters::sqlite::SqliteDb;
use common::journal::PostingKind;
use common::posting::services::Services;
use common::state::{PostingKey, StateName};
use rust_decimal::Decimal;
use sandbox::bigcommerce::{DisplayCurrency, FeeSpec, OrderSpec, SandboxOptions};
use sandbox::demo::{HASH, document_for, seeded_pod, seeded_store, us_order};
use sandbox::oracle::{OraclePod, PodOptions};

use crate::support::pipeline::{run_until_settled, services};

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn sale(order_id: u64) -> PostingKey {
    PostingKey {
        store: "us".into(),
        order_id,
        posting: PostingKind::Sale,
    }
}

/// The one batch of the order's sale, as (account, dr, cr) lines.
fn sale_lines(pod: &OraclePod, order_id: u64) -> Vec<(String, Decimal, Decimal)> {
    let name = format!("BC-us-{order_id}-sale");
    let batches: Vec<_> = pod
        .batches()
        .into_iter()
        .filter(|b| b.name.starts_with(&name))
        .collect();
    assert_eq!(batches.len(), 1, "exactly one {name}: {batches:#?}");
    batches[0]
        .journals
        .iter()
        .flat_map(|(_, l)| l.clone())
        .collect()
}

fn balanced(lines: &[(String, Decimal, Decimal)]) {
    let dr: Decimal = lines.iter().map(|l| l.1).sum();
    let cr: Decimal = lines.iter().map(|l| l.2).sum();
    assert_eq!(dr, cr, "balanced: {lines:?}");
}

struct Shop {
    sb: sandbox::bigcommerce::BigCommerceSandbox,
    pod: OraclePod,
    svc: Services,
    _db: SqliteDb,
}

async fn shop() -> Shop {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&crate::support::example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let svc = services(&doc, &db);
    Shop {
        sb,
        pod,
        svc,
        _db: db,
    }
}

/// Posts the order's sale (the poller's sweep finds it: no hooks here) and returns the order's
/// total as the store has it.
async fn post(shop: &Shop, spec: OrderSpec) -> (u64, Decimal) {
    let id = shop.sb.create_order(HASH, spec);
    assert_eq!(
        run_until_settled(&shop.svc, &sale(id)).await,
        StateName::Posted,
        "{:?}",
        shop.svc
            .store
            .posting(&sale(id))
            .await
            .unwrap()
            .map(|p| p.state)
    );
    let total = shop
        .sb
        .exchanges()
        .iter()
        .rev()
        .filter(|e| e.path.ends_with(&format!("/v2/orders/{id}")) && e.status == 200)
        .find_map(|e| e.response_body.as_ref()?["total_inc_tax"].as_str().map(d))
        .unwrap_or_else(|| {
            // The sweep read it from the list.
            shop.sb
                .exchanges()
                .iter()
                .rev()
                .filter(|e| e.path.ends_with("/v2/orders") && e.status == 200)
                .find_map(|e| {
                    e.response_body.as_ref()?.as_array()?.iter().find_map(|o| {
                        (o["id"] == id).then(|| d(o["total_inc_tax"].as_str().unwrap()))
                    })
                })
                .expect("the order as BigCommerce served it")
        });
    (id, total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fee_the_shopper_paid_is_credited_to_the_fee_account() {
    let shop = shop().await;
    let (id, total) = post(
        &shop,
        OrderSpec {
            fees: vec![FeeSpec {
                name: "Packaging".into(),
                amount: d("2.50"),
                taxable: true,
            }],
            ..us_order(1, 0)
        },
    )
    .await;
    // A shirt 20.00, shipping 5.00, the fee 2.50; 8% tax on all three.
    assert_eq!(total, d("29.70"));
    let lines = sale_lines(&shop.pod, id);
    balanced(&lines);
    assert!(
        lines.contains(&("101-000-1210-000-000".into(), total, d("0"))),
        "receivable of the whole total: {lines:?}"
    );
    assert!(
        lines.contains(&("101-000-4230-000-000".into(), d("0"), d("2.50"))),
        "the fee: {lines:?}"
    );
    assert!(
        lines.contains(&("101-000-2300-000-000".into(), d("0"), d("2.20"))),
        "tax, the fee's included: {lines:?}"
    );
    // The order was read with its fees, in the one call that also brings its lines.
    let order_reads: Vec<String> = shop
        .sb
        .exchanges()
        .into_iter()
        .filter(|e| e.path.contains("/v2/orders"))
        .map(|e| e.query)
        .collect();
    assert!(!order_reads.is_empty());
    assert!(
        order_reads
            .iter()
            .all(|q| q.contains("include=consignments.line_items%2Cfees")),
        "{order_reads:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_level_discount_is_taken_off_the_revenue_it_was_spread_over() {
    let shop = shop().await;
    let (id, total) = post(
        &shop,
        OrderSpec {
            order_discount: d("5.50"),
            ..us_order(2, 1)
        },
    )
    .await;
    // Shirts 40.00 and a skillet 15.00, 5.50 off spread 40 : 15; shipping 5.00; 8% tax.
    assert_eq!(total, d("58.86"));
    let lines = sale_lines(&shop.pod, id);
    balanced(&lines);
    assert!(
        lines.contains(&("101-310-4010-100-000".into(), d("0"), d("36.00"))),
        "shirts net of their 4.00: {lines:?}"
    );
    assert!(
        lines.contains(&("101-320-4020-200-000".into(), d("0"), d("13.50"))),
        "skillet net of its 1.50: {lines:?}"
    );
    assert!(lines.contains(&("101-000-1210-000-000".into(), total, d("0"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_shown_in_pounds_and_paid_in_dollars_posts_in_dollars() {
    let shop = shop().await;
    let plain = post(&shop, us_order(1, 1)).await;
    let shown_in_gbp = post(
        &shop,
        OrderSpec {
            display_currency: Some(DisplayCurrency {
                code: "GBP".into(),
                rate: d("0.79"),
            }),
            ..us_order(1, 1)
        },
    )
    .await;
    assert_eq!(shown_in_gbp.1, plain.1, "the same dollars");
    let record = shop
        .svc
        .store
        .posting(&sale(shown_in_gbp.0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.journal.currency.to_string(), "USD");
    assert!(
        record.journal.conversion.is_none(),
        "dollars into a dollar ledger: nothing to convert"
    );
    let strip = |lines: Vec<(String, Decimal, Decimal)>| {
        let mut l = lines;
        l.sort();
        l
    };
    assert_eq!(
        strip(sale_lines(&shop.pod, shown_in_gbp.0)),
        strip(sale_lines(&shop.pod, plain.0)),
        "the same journal as for the order shown in dollars"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_order_is_still_an_order_and_its_sale_stands() {
    use common::posting::message::{KIND_ORDER, OrderMessage};
    let shop = shop().await;
    let (id, _) = post(&shop, us_order(1, 0)).await;
    shop.sb.archive_order(HASH, id);
    // What the `store/order/archived` webhook puts on the queue: the poster reads the order
    // by id (archived orders are still served) and finds nothing to post. Archiving moves no
    // money.
    let message = OrderMessage::new(HASH, id, "webhook store/order/archived", chrono::Utc::now());
    shop.svc
        .queue
        .send(&message.to_body(), &[("kind", KIND_ORDER)])
        .await
        .unwrap();
    for _ in 0..2 {
        for report in common::posting::poster::drain_queue(
            &shop.svc,
            shop.svc.queue.as_ref(),
            std::time::Duration::from_secs(1),
        )
        .await
        .unwrap()
        {
            assert!(report.retry.is_empty(), "{:?}", report.retry);
        }
        common::posting::poller::poll(&shop.svc).await;
    }
    let archived_reads = shop
        .sb
        .exchanges()
        .iter()
        .filter(|e| {
            e.path.ends_with(&format!("/v2/orders/{id}"))
                && e.response_body
                    .as_ref()
                    .is_some_and(|o| o["is_deleted"] == true)
        })
        .count();
    assert_eq!(archived_reads, 1, "the poster read the archived order");
    let batches: Vec<String> = shop
        .pod
        .batches()
        .into_iter()
        .map(|b| b.name)
        .filter(|n| n.starts_with(&format!("BC-us-{id}-")))
        .collect();
    assert_eq!(batches.len(), 1, "the sale alone: {batches:?}");
    let postings = shop.svc.store.postings_of("us", id).await.unwrap();
    assert_eq!(postings.len(), 1, "{postings:?}");
    assert_eq!(postings[0].state.name(), StateName::Posted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_order_stays_in_the_month_end_reconciliation() {
    use common::posting::reconcile::{ReconcileRequest, Selection, Standing, reconcile};
    let shop = shop().await;
    let (archived, archived_total) = post(&shop, us_order(1, 0)).await;
    let (kept, kept_total) = post(&shop, us_order(2, 0)).await;
    shop.sb.archive_order(HASH, archived);
    let request = ReconcileRequest {
        store: Some("us".into()),
        from: chrono::Utc::now() - chrono::Duration::days(3),
        to: chrono::Utc::now() + chrono::Duration::days(1),
        select: Selection::Created,
        check_ledger: true,
        fix: None,
    };
    let report = reconcile(&shop.svc, &request).await.unwrap();
    // BigCommerce's list leaves the archived order out; its sale is in the ledger all the
    // same, and so in the period's figures.
    let standing: Vec<(u64, Standing)> = report
        .orders
        .iter()
        .map(|o| (o.order_id, o.standing))
        .collect();
    assert_eq!(
        standing,
        vec![(archived, Standing::Matched), (kept, Standing::Matched)],
        "{report:#?}"
    );
    let usd = &report.totals["us"]["USD"];
    assert_eq!(usd.postings, 2);
    assert_eq!(usd.recorded_dr, archived_total + kept_total);
    assert_eq!(usd.ledger_dr, Some(archived_total + kept_total));
    assert!(report.is_clean(), "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_order_posts_nothing_until_the_shopper_completes_it() {
    let shop = shop().await;
    // Status 0, Incomplete: "the shopper reached the payment page, but did not complete the
    // transaction" (the spec's status table). BigCommerce fires store/order/created for it.
    let id = shop.sb.create_order(
        HASH,
        OrderSpec {
            status_id: 0,
            payment_status: String::new(),
            ..us_order(1, 0)
        },
    );
    for _ in 0..2 {
        common::posting::poller::poll(&shop.svc).await;
        common::posting::poster::drain_queue(
            &shop.svc,
            shop.svc.queue.as_ref(),
            std::time::Duration::from_secs(1),
        )
        .await
        .unwrap();
    }
    assert!(
        shop.svc
            .store
            .postings_of("us", id)
            .await
            .unwrap()
            .is_empty(),
        "nothing was sold yet"
    );
    assert!(shop.pod.batches().is_empty());
    // Paid: Awaiting Fulfillment, captured. The sweep finds the change (a later second).
    crate::support::next_second().await;
    shop.sb.edit_order(
        HASH,
        id,
        OrderSpec {
            status_id: 11,
            ..us_order(1, 0)
        },
    );
    assert_eq!(
        run_until_settled(&shop.svc, &sale(id)).await,
        StateName::Posted
    );
    balanced(&sale_lines(&shop.pod, id));
}
