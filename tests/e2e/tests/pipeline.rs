//! End to end: signed webhooks from the sandbox store enter through the webhook handler, the
//! poster handler consumes the SQS messages, the poller handler tracks the imports, and the
//! sandbox pod ends up holding exactly the expected journals: sales, refunds linked to their
//! sale, reversals, deltas. DynamoDB, SQS and Secrets Manager are moto server.

use std::str::FromStr;
use std::time::Duration;

use common::bigcommerce::api::RefundPolicy;
use common::bigcommerce::{BigCommerceClient, OrderBundle};
use common::journal::PostingKind;
use common::ports::{BigCommerceApi, Queue};
use common::state::{AuditKind, PostingKey, PostingState};
use e2e::*;
use rust_decimal::Decimal;
use sandbox::bigcommerce::{DeliveryOutcome, Fault, RefundItemSpec, RefundSpec, SandboxOptions};
use sandbox::oracle::{PodFault, PodOptions};
use serde_json::json;

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// The order as BigCommerce has it, read with the connector's own client.
async fn fetch(w: &World, order_id: u64) -> OrderBundle {
    let (settings, _) = fast_clients();
    let client =
        BigCommerceClient::new(HASH, Some(&w.sb.store_url(HASH)), TOKEN.into(), settings).unwrap();
    client
        .fetch_bundle(order_id, RefundPolicy::Always)
        .await
        .unwrap()
}

fn key(order_id: u64, posting: PostingKind) -> PostingKey {
    PostingKey {
        store: "us".into(),
        order_id,
        posting,
    }
}

async fn posted(w: &World, order_id: u64, posting: PostingKind) -> u64 {
    match w
        .store
        .posting(&key(order_id, posting))
        .await
        .unwrap()
        .map(|p| p.state)
    {
        Some(PostingState::Posted { batch_id, .. }) => batch_id,
        other => panic!("{posting} of order {order_id} is {other:?}, not posted"),
    }
}

/// Lines of the one batch named `name` (with Fusion's suffixes), as (account, dr, cr).
fn lines_of(w: &World, name: &str) -> Vec<(String, Decimal, Decimal)> {
    let batches = w.batches(name);
    assert_eq!(batches.len(), 1, "exactly one batch {name}: {batches:#?}");
    batches[0]
        .journals
        .iter()
        .flat_map(|(_, l)| l.clone())
        .collect()
}

/// Runs the pipeline until the posting is Posted (its batch read back by the tracker).
async fn until_posted(w: &World, key: &PostingKey) {
    w.run_until(&format!("{key} posted"), async |w: &World| {
        matches!(
            w.store.posting(key).await.unwrap().map(|p| p.state),
            Some(PostingState::Posted { .. })
        )
    })
    .await;
}

async fn posted_order(w: &World, shirts: u64, skillets: u64) -> u64 {
    let id = w.sb.create_order(HASH, us_order(shirts, skillets));
    until_posted(w, &key(id, PostingKind::Sale)).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_goes_from_webhook_to_the_ledger_exactly_once() {
    let w = World::start().await;
    let summary = w.sweep().await;
    assert_eq!(summary["hooks_changed"], json!([HASH]), "{summary}");
    let hooks = w.sb.hooks(HASH);
    assert_eq!(hooks.len(), 4);
    assert!(
        hooks
            .iter()
            .all(|h| h["destination"] == json!(w.webhook_url) && h["is_active"] == json!(true))
    );

    let id = posted_order(&w, 2, 1).await;
    let bundle = fetch(&w, id).await;
    let total = bundle.order.total_inc_tax;
    let tax = bundle.order.total_tax;
    let lines = lines_of(&w, &format!("BC-us-{id}-sale"));
    let dr: Decimal = lines.iter().map(|l| l.1).sum();
    let cr: Decimal = lines.iter().map(|l| l.2).sum();
    assert_eq!(dr, cr, "balanced: {lines:?}");
    assert!(
        lines.contains(&("101-000-1210-000-000".into(), total, d("0"))),
        "receivable of {total}: {lines:?}"
    );
    assert!(
        lines.contains(&("101-310-4010-100-000".into(), d("0"), d("40.00"))),
        "shirts: {lines:?}"
    );
    assert!(
        lines.contains(&("101-320-4020-200-000".into(), d("0"), d("15.00"))),
        "skillet: {lines:?}"
    );
    assert!(
        lines.contains(&("101-000-4200-000-000".into(), d("0"), d("5.00"))),
        "shipping: {lines:?}"
    );
    assert!(
        lines.contains(&("101-000-2300-000-000".into(), d("0"), tax)),
        "tax: {lines:?}"
    );

    let batch_id = posted(&w, id, PostingKind::Sale).await;
    // The story of the order, in order, with the identifiers on each step.
    let story = w.store.audit_of_order("us", id).await.unwrap();
    let kinds: Vec<AuditKind> = story.iter().map(|e| e.kind).collect();
    let at = |k: AuditKind| {
        kinds
            .iter()
            .position(|x| *x == k)
            .unwrap_or_else(|| panic!("no {k:?} in {kinds:?}"))
    };
    assert!(at(AuditKind::Fetched) < at(AuditKind::Mapped));
    assert!(at(AuditKind::Mapped) < at(AuditKind::Validated));
    assert!(at(AuditKind::Validated) < at(AuditKind::Submitted));
    assert!(at(AuditKind::Submitted) < at(AuditKind::Posted));
    let posted_event = &story[at(AuditKind::Posted)];
    assert_eq!(posted_event.detail["batch_id"], json!(batch_id));
    let fetched = &story[at(AuditKind::Fetched)];
    assert!(
        fetched.detail["webhook_ids"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{fetched:?}"
    );
    let mapped = &story[at(AuditKind::Mapped)];
    assert!(
        mapped.detail["lines"]
            .to_string()
            .contains("rule:apparel-revenue"),
        "{mapped:?}"
    );
    // The batch is named on the order in BigCommerce.
    assert!(
        w.sb.exchanges().iter().any(|e| e.method == "POST"
            && e.path.ends_with(&format!("/v3/orders/{id}/metafields"))
            && e.request_body
                .as_ref()
                .is_some_and(|b| b.to_string().contains(&format!("BC-us-{id}-sale")))),
        "no metafield written"
    );

    // BigCommerce delivers the same event again, and more sweeps run: nothing changes.
    let first =
        w.sb.deliveries()
            .iter()
            .position(|d| d.body.contains(&format!("\"id\":{id}")))
            .unwrap();
    w.sb.redeliver(first);
    w.sb.settle().await;
    let last = w.sb.deliveries().pop().unwrap();
    assert_eq!(last.status, Some(200));
    for _ in 0..3 {
        w.drain().await;
        w.sweep().await;
    }
    assert_eq!(
        w.batches(&format!("BC-us-{id}-")).len(),
        1,
        "still exactly one journal"
    );
    assert_eq!(w.pod.imports(), 1, "one import");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_posts_an_adjustment_linked_to_its_sale() {
    let w = World::start().await;
    w.sweep().await;
    let id = posted_order(&w, 2, 0).await;
    let line_id = fetch(&w, id).await.lines[0].id;
    let refund_id = w.sb.create_refund(
        HASH,
        id,
        RefundSpec {
            items: vec![RefundItemSpec::Product {
                line_id,
                quantity: 1,
            }],
            reason: "Too small".into(),
            ..RefundSpec::default()
        },
    );
    let name = format!("BC-us-{id}-refund-{refund_id}");
    until_posted(&w, &key(id, PostingKind::Refund(refund_id))).await;
    let lines = lines_of(&w, &name);
    assert!(
        lines.contains(&("101-310-4500-100-000".into(), d("20.00"), d("0"))),
        "{lines:?}"
    );
    assert!(
        lines.contains(&("101-000-2300-000-000".into(), d("1.60"), d("0"))),
        "{lines:?}"
    );
    assert!(
        lines.contains(&("101-000-1210-000-000".into(), d("0"), d("21.60"))),
        "{lines:?}"
    );
    posted(&w, id, PostingKind::Refund(refund_id)).await;
    let story = w.store.audit_of_order("us", id).await.unwrap();
    let refund_events: Vec<_> = story
        .iter()
        .filter(|e| e.posting == Some(PostingKind::Refund(refund_id)))
        .collect();
    assert!(!refund_events.is_empty());
    assert!(
        refund_events
            .iter()
            .all(|e| e.links_to.as_deref() == Some(format!("BC-us-{id}-sale").as_str()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_after_posting_reverses_what_was_earned_and_owes_the_payment_back() {
    let w = World::start().await;
    w.sweep().await;
    let id = posted_order(&w, 1, 1).await;
    assert!(!w.ledger_net(id).is_empty());
    w.sb.set_status(HASH, id, 5);
    let name = format!("BC-us-{id}-reversal");
    until_posted(&w, &key(id, PostingKind::REVERSAL)).await;
    assert_eq!(w.batches(&name).len(), 1, "exactly one {name}");
    // Revenue, shipping and tax are gone; the 43.20 the card took is owed to the shopper.
    assert_eq!(
        w.ledger_net(id),
        vec![
            ("101-000-1210-000-000".into(), d("43.20")),
            ("101-000-2440-000-000".into(), d("-43.20")),
        ],
        "the money taken is owed back"
    );
    posted(&w, id, PostingKind::REVERSAL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_after_a_partial_refund_then_a_refund_of_the_rest_ends_at_zero_and_reconciles()
 {
    use common::posting::reconcile::{ReconcileRequest, Standing, reconcile};
    let w = World::start().await;
    w.sweep().await;
    let id = posted_order(&w, 2, 0).await;
    let line_id = fetch(&w, id).await.lines[0].id;
    let one_shirt = |reason: &str| RefundSpec {
        items: vec![RefundItemSpec::Product {
            line_id,
            quantity: 1,
        }],
        reason: reason.into(),
        ..RefundSpec::default()
    };
    let first = w.sb.create_refund(HASH, id, one_shirt("Too small"));
    until_posted(&w, &key(id, PostingKind::Refund(first))).await;
    // Cancelled with one shirt refunded: shipping, the other shirt and their tax are reversed,
    // and what the card still holds (2 × 21.60 + 5.40 − 21.60) is owed back.
    w.sb.set_status(HASH, id, 5);
    until_posted(&w, &key(id, PostingKind::REVERSAL)).await;
    assert_eq!(
        w.ledger_net(id),
        vec![
            ("101-000-1210-000-000".into(), d("27.00")),
            ("101-000-2440-000-000".into(), d("-27.00")),
        ]
    );
    // The rest goes back to the card (the shirt and the shipping): it clears the refund due.
    let mut rest = one_shirt("Order cancelled");
    rest.items
        .push(RefundItemSpec::Shipping { amount: d("5.00") });
    let second = w.sb.create_refund(HASH, id, rest);
    until_posted(&w, &key(id, PostingKind::Refund(second))).await;
    let lines = lines_of(&w, &format!("BC-us-{id}-refund-{second}"));
    assert_eq!(
        lines,
        vec![
            ("101-000-2440-000-000".into(), d("27.00"), d("0")),
            ("101-000-1210-000-000".into(), d("0"), d("27.00")),
        ]
    );
    assert_eq!(
        w.ledger_net(id),
        vec![],
        "everything given back, nothing owed"
    );
    // BigCommerce made the order Refunded; the cancellation stands and nothing more posts.
    assert_eq!(fetch(&w, id).await.order.status_id, 4);
    w.sweep().await;
    w.drain().await;
    assert_eq!(w.batches(&format!("BC-us-{id}-")).len(), 4);
    // And the reconciliation of the day finds the ledger at the order's expected position.
    let svc = w.poster.services.services().await.unwrap();
    let now = chrono::Utc::now();
    let report = reconcile(
        &svc,
        &ReconcileRequest {
            store: Some("us".into()),
            from: now - chrono::Duration::hours(1),
            to: now + chrono::Duration::hours(1),
            select: Default::default(),
            check_ledger: true,
            fix: None,
        },
    )
    .await
    .unwrap();
    let line = report.orders.iter().find(|o| o.order_id == id).unwrap();
    assert_eq!(
        (line.standing, line.findings.clone()),
        (Standing::Matched, vec![])
    );
    assert!(report.is_clean(), "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_after_posting_posts_the_difference() {
    let w = World::start().await;
    w.sweep().await;
    let id = posted_order(&w, 2, 1).await;
    w.sb.edit_order(HASH, id, us_order(3, 0));
    let name = format!("BC-us-{id}-adjust-1");
    until_posted(&w, &key(id, PostingKind::Adjustment(1))).await;
    assert_eq!(w.batches(&name).len(), 1, "exactly one {name}");
    let edited = fetch(&w, id).await;
    let net = w.ledger_net(id);
    let of = |account: &str| net.iter().find(|(a, _)| a == account).map(|(_, n)| *n);
    assert_eq!(
        of("101-310-4010-100-000"),
        Some(d("-60.00")),
        "three shirts: {net:?}"
    );
    assert_eq!(
        of("101-320-4020-200-000"),
        None,
        "no skillet any more: {net:?}"
    );
    assert_eq!(
        of("101-000-1210-000-000"),
        Some(edited.order.total_inc_tax),
        "{net:?}"
    );
    assert_eq!(
        of("101-000-2300-000-000"),
        Some(-edited.order.total_tax),
        "{net:?}"
    );
    posted(&w, id, PostingKind::Adjustment(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_webhook_is_found_by_the_poller() {
    let w = World::start().await;
    w.sweep().await;
    w.sb.inject(HASH, Fault::DropWebhooks { times: 100 });
    let id = w.sb.create_order(HASH, us_order(1, 0));
    w.sb.settle().await;
    assert_eq!(w.drain().await, (0, 0), "nothing was delivered");
    let of_order: Vec<DeliveryOutcome> =
        w.sb.deliveries()
            .into_iter()
            .filter(|d| d.body.contains(&format!("\"id\":{id}")))
            .map(|d| d.outcome)
            .collect();
    assert!(!of_order.is_empty(), "the order's events were due to hooks");
    assert!(
        of_order.iter().all(|o| *o == DeliveryOutcome::Dropped),
        "{of_order:?}"
    );
    assert_eq!(
        w.sb.faults_served(HASH).get("drop_webhooks").copied(),
        Some(of_order.len() as u32)
    );
    let summary = w.sweep().await;
    for e in
        w.sb.exchanges()
            .iter()
            .filter(|e| e.path.ends_with("/v2/orders"))
    {
        eprintln!("{} {} {}", e.method, e.query, e.status);
    }
    assert_eq!(summary["queued"][HASH], json!(1), "{summary}");
    let name = format!("BC-us-{id}-sale");
    until_posted(&w, &key(id, PostingKind::Sale)).await;
    assert_eq!(w.batches(&name).len(), 1, "exactly one {name}");
    let story = w.store.audit_of_order("us", id).await.unwrap();
    assert_eq!(story[0].kind, AuditKind::Fetched);
    assert_eq!(story[0].detail["reasons"], json!(["poll"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_hook_is_reactivated_and_audited() {
    let w = World::start().await;
    w.sweep().await;
    let hook = w.sb.hooks(HASH)[0]["id"].as_u64().unwrap();
    w.sb.deactivate_hook(HASH, hook);
    assert!(
        w.sb.hooks(HASH)
            .iter()
            .any(|h| h["is_active"] == json!(false))
    );
    let summary = w.sweep().await;
    assert_eq!(summary["hooks_changed"], json!([HASH]), "{summary}");
    assert!(
        w.sb.hooks(HASH)
            .iter()
            .all(|h| h["is_active"] == json!(true))
    );
    let repairs = w.store.audit_of_order(HASH, 0).await.unwrap();
    let last = repairs.last().unwrap();
    assert_eq!(last.kind, AuditKind::HookRepaired);
    assert_eq!(last.detail["reactivated"], json!([hook]));
    // Nothing more to repair on the next sweep.
    assert_eq!(w.sweep().await["hooks_changed"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_journal_is_rejected_and_the_rest_of_its_import_posts() {
    // A mapping the pod's chart of accounts does not have (cost centre 999) for the skillet.
    let w = World::start_with(SandboxOptions::default(), PodOptions::default(), |doc| {
        doc["mapping"]["rules"].as_array_mut().unwrap().push(json!({
            "name": "bad-cost-centre", "applies_to": ["revenue"], "when": {"sku": "NW-SKILLET"}, "set": {"cost_center": "999"}
        }));
    })
    .await;
    w.sweep().await;
    let good: Vec<u64> = (0..3)
        .map(|_| w.sb.create_order(HASH, us_order(1, 0)))
        .collect();
    let bad = w.sb.create_order(HASH, us_order(1, 1));
    w.sb.settle().await;
    // All four in one poster batch, so in one import.
    let (handled, failed) = w.drain_with(Duration::from_secs(30)).await;
    assert_eq!((handled, failed), (4, 0));
    assert_eq!(w.pod.imports(), 1);
    let bad_key = key(bad, PostingKind::Sale);
    w.run_until("the bad journal isolated", async |w: &World| {
        matches!(
            w.store.posting(&bad_key).await.unwrap().map(|p| p.state),
            Some(PostingState::Rejected { .. })
        )
    })
    .await;
    for id in &good {
        until_posted(&w, &key(*id, PostingKind::Sale)).await;
        assert_eq!(w.batches(&format!("BC-us-{id}-sale")).len(), 1);
    }
    let Some(PostingState::Rejected { reason }) =
        w.store.posting(&bad_key).await.unwrap().map(|p| p.state)
    else {
        panic!("not rejected")
    };
    assert!(
        reason.contains("999"),
        "the reason names the bad value: {reason}"
    );
    assert!(w.batches(&format!("BC-us-{bad}-")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_import_answer_is_settled_by_name_without_a_second_import() {
    let w = World::start().await;
    w.sweep().await;
    w.pod.inject(PodFault::LoseImportResponse { times: 1 });
    let id = posted_order(&w, 1, 0).await;
    assert_eq!(
        w.pod.faults_served().get("lose_import_response"),
        Some(&1),
        "the import's answer was lost"
    );
    // Posted without the request id the lost answer carried: found by its batch name.
    let state = w
        .store
        .posting(&key(id, PostingKind::Sale))
        .await
        .unwrap()
        .map(|p| p.state);
    assert!(
        matches!(
            state,
            Some(PostingState::Posted {
                request_id: None,
                ..
            })
        ),
        "{state:?}"
    );
    for _ in 0..2 {
        w.sweep().await;
    }
    assert_eq!(w.pod.imports(), 1, "never resent");
    assert_eq!(w.batches(&format!("BC-us-{id}-")).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_of_each_storefront_go_to_their_own_ledger() {
    let w = World::start().await;
    w.sweep().await;
    let mut eu = us_order(1, 0);
    eu.channel_id = 2;
    eu.currency = "EUR".into();
    eu.tax_rate = Decimal::new(19, 2);
    let eu_id = w.sb.create_order(HASH, eu);
    let us_id = w.sb.create_order(HASH, us_order(1, 0));
    let (eu_name, us_name) = (format!("BC-eu-{eu_id}-sale"), format!("BC-us-{us_id}-sale"));
    until_posted(
        &w,
        &PostingKey {
            store: "eu".into(),
            order_id: eu_id,
            posting: PostingKind::Sale,
        },
    )
    .await;
    until_posted(&w, &key(us_id, PostingKind::Sale)).await;
    let eu_lines = lines_of(&w, &eu_name);
    assert!(
        eu_lines.iter().all(|(a, _, _)| a.starts_with("201-")),
        "EU entity: {eu_lines:?}"
    );
    assert!(
        eu_lines.iter().any(|(a, _, _)| a == "201-000-2310-000-000"),
        "EU VAT: {eu_lines:?}"
    );
    assert!(
        lines_of(&w, &us_name)
            .iter()
            .all(|(a, _, _)| a.starts_with("101-"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_while_the_sale_is_in_flight_is_reversed_once_the_sale_posts() {
    let w = World::start().await;
    w.sweep().await;
    let id = w.sb.create_order(HASH, us_order(1, 0));
    w.sb.settle().await;
    w.drain().await;
    let sale = key(id, PostingKind::Sale);
    let state = w.store.posting(&sale).await.unwrap().map(|p| p.state);
    assert!(
        matches!(state, Some(PostingState::Submitted { .. })),
        "{state:?}"
    );
    // Cancelled before the import is tracked: the reversal must wait for the sale...
    w.sb.set_status(HASH, id, 5);
    w.sb.settle().await;
    w.drain().await;
    assert!(
        w.store
            .posting(&key(id, PostingKind::REVERSAL))
            .await
            .unwrap()
            .is_none()
    );
    assert!(w.store.order("us", id).await.unwrap().unwrap().waiting);
    // ...and follows it without another webhook once the tracker has posted the sale.
    let name = format!("BC-us-{id}-reversal");
    until_posted(&w, &key(id, PostingKind::REVERSAL)).await;
    assert_eq!(w.batches(&name).len(), 1, "exactly one {name}");
    assert_eq!(
        w.ledger_net(id),
        vec![
            ("101-000-1210-000-000".into(), d("27.00")),
            ("101-000-2440-000-000".into(), d("-27.00")),
        ]
    );
}

/// Request headers as (name, value).
type Headers = Vec<(String, String)>;

/// A delivery as BigCommerce signs it.
fn signed(secret: &str, id: &str, timestamp: i64, body: &str) -> Headers {
    vec![
        ("content-type".into(), "application/json".into()),
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), timestamp.to_string()),
        (
            "webhook-signature".into(),
            sandbox::bigcommerce::sign(secret, id, timestamp, body),
        ),
    ]
}

fn order_event(order_id: u64) -> String {
    json!({"created_at": chrono::Utc::now().timestamp(), "store_id": "1001", "producer": format!("stores/{HASH}"),
        "scope": "store/order/created", "hash": "3f9ea420af83450d7ef9f78b08c8af25b2213637",
        "data": {"type": "order", "id": order_id}})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_webhook_input_is_refused_with_its_status_and_nothing_is_queued() {
    let w = World::start().await;
    let now = chrono::Utc::now().timestamp();
    let body = order_event(501);
    let cases: Vec<(&str, Headers, String, u16, &str)> = vec![
        (
            "wrong signature",
            signed("not-the-secret", "msg_1", now, &body),
            body.clone(),
            401,
            "unauthenticated",
        ),
        (
            "stale timestamp",
            signed(CLIENT_SECRET, "msg_2", now - 600, &body),
            body.clone(),
            401,
            "unauthenticated",
        ),
        (
            "no signature",
            vec![("webhook-id".into(), "msg_3".into())],
            body.clone(),
            401,
            "unauthenticated",
        ),
        (
            "body altered after signing",
            signed(CLIENT_SECRET, "msg_4", now, &body),
            body.replace("501", "502"),
            401,
            "unauthenticated",
        ),
        (
            "malformed JSON",
            signed(CLIENT_SECRET, "msg_5", now, "{\"scope\": "),
            "{\"scope\": ".into(),
            400,
            "malformed",
        ),
        (
            "oversized",
            signed(CLIENT_SECRET, "msg_6", now, &"x".repeat(70_000)),
            "x".repeat(70_000),
            413,
            "too_large",
        ),
    ];
    for (what, headers, sent, status, code) in cases {
        let (got, answer) =
            invoke_webhook(&w.webhook, &api_gateway_event(&headers, sent.as_bytes())).await;
        assert_eq!(
            (got, answer["error"].as_str().unwrap_or("")),
            (status, code),
            "{what}: {answer}"
        );
        assert!(
            !answer.to_string().contains(CLIENT_SECRET),
            "{what}: the answer leaks nothing"
        );
    }
    assert_eq!(
        w.queue.receive(10, Duration::from_secs(1)).await.unwrap(),
        vec![],
        "nothing queued"
    );
    // The same delivery, correctly signed, is queued once, however often it comes.
    let good = signed(CLIENT_SECRET, "msg_7", now, &body);
    let (status, answer) =
        invoke_webhook(&w.webhook, &api_gateway_event(&good, body.as_bytes())).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("queued")),
        "{answer}"
    );
    let (status, answer) =
        invoke_webhook(&w.webhook, &api_gateway_event(&good, body.as_bytes())).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate")),
        "{answer}"
    );
    let queued = w.queue.receive(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert!(
        queued[0].body.contains("\"order_id\":501"),
        "{}",
        queued[0].body
    );
    assert_eq!(
        queued[0].attributes.get("kind").map(String::as_str),
        Some("order")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_encoded_body_is_verified_on_its_exact_bytes() {
    // API Gateway base64-encodes bodies it does not take for text; the signature still holds.
    let w = World::start().await;
    let body = order_event(777);
    let headers = signed(
        CLIENT_SECRET,
        "msg_b64",
        chrono::Utc::now().timestamp(),
        &body,
    );
    let mut event = api_gateway_event(&headers, body.as_bytes());
    use base64::Engine;
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body.as_bytes()));
    event["isBase64Encoded"] = json!(true);
    let (status, answer) = invoke_webhook(&w.webhook, &event).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("queued")),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn month_end_reconciliation_on_the_deployed_state_finds_a_missed_order_and_fix_posts_it() {
    use common::posting::reconcile::{Finding, ReconcileRequest, Standing, reconcile};
    let w = World::start().await;
    w.sweep().await;
    let matched = posted_order(&w, 1, 0).await;
    // Every delivery of the next order is lost, and no sweep runs before the reconciliation.
    w.sb.inject(HASH, Fault::DropWebhooks { times: 100 });
    let missed = w.sb.create_order(HASH, us_order(2, 0));
    w.sb.settle().await;
    assert!(
        w.sb.faults_served(HASH)
            .get("drop_webhooks")
            .is_some_and(|n| *n > 0),
        "the order's deliveries were lost"
    );
    assert_eq!(w.drain().await, (0, 0), "nothing was delivered");

    // The services as the functions build them: DynamoDB, SQS and the secret on moto.
    let svc = w.poster.services.services().await.unwrap();
    let now = chrono::Utc::now();
    let request = |fix: Option<&str>| ReconcileRequest {
        store: Some("us".into()),
        from: now - chrono::Duration::hours(1),
        to: now + chrono::Duration::hours(1),
        select: Default::default(),
        check_ledger: true,
        fix: fix.map(str::to_string),
    };
    let report = reconcile(&svc, &request(Some("month-end"))).await.unwrap();
    let standing = |id: u64| {
        report
            .orders
            .iter()
            .find(|o| o.order_id == id)
            .map(|o| (o.standing, o.findings.clone()))
    };
    assert_eq!(standing(matched), Some((Standing::Matched, vec![])));
    assert_eq!(
        standing(missed),
        Some((
            Standing::NotPosted,
            vec![Finding::NotPosted {
                batches: vec![format!("BC-us-{missed}-sale")],
                queued: true
            }]
        ))
    );
    // The queued message is on SQS; the poster handler takes it (before any sweep could find
    // the order), and the pipeline posts it, once.
    assert_eq!(w.drain().await, (1, 0));
    let fetched = w.store.audit_of_order("us", missed).await.unwrap();
    let fetched = fetched
        .iter()
        .find(|e| e.kind == AuditKind::Fetched)
        .expect("fetched by the poster");
    assert_eq!(fetched.detail["reasons"], json!(["reconcile by month-end"]));
    until_posted(&w, &key(missed, PostingKind::Sale)).await;
    assert_eq!(w.batches(&format!("BC-us-{missed}-sale")).len(), 1);
    let story = w.store.audit_of_order("us", missed).await.unwrap();
    assert!(story.iter().any(|e| e.kind == AuditKind::Reconciled));
    let again = reconcile(&svc, &request(None)).await.unwrap();
    assert!(again.is_clean(), "{again:#?}");
    assert_eq!(again.counts.get(&Standing::Matched), Some(&2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_reconciliation_in_the_poller_names_a_batch_gone_from_the_ledger() {
    let w = World::start().await;
    w.sweep().await;
    let id = posted_order(&w, 2, 0).await;
    let reconcile = json!({"job": "reconcile", "settle_minutes": 0});
    let clean = w.poller.handle(&reconcile).await.unwrap();
    assert_eq!(
        (
            clean["job"].as_str(),
            clean["orders"].as_u64(),
            clean["needs_action"].as_u64()
        ),
        (Some("reconcile"), Some(1), Some(0)),
        "{clean}"
    );
    // Someone deletes the batch in Fusion; the next morning's run says so.
    let batch = posted(&w, id, PostingKind::Sale).await;
    assert!(w.pod.delete_batch(batch));
    let found = w.poller.handle(&reconcile).await.unwrap();
    assert_eq!(found["needs_action"], 1, "{found}");
    assert_eq!(found["counts"]["ledger_differs"], 1, "{found}");
    // The same order, and nothing else, is what the metric counts.
    let svc = w.poller.services.services().await.unwrap();
    let (report, metrics) =
        common::posting::reconcile::scheduled(&svc, 24, chrono::Duration::zero())
            .await
            .unwrap();
    assert_eq!(report.orders[0].order_id, id);
    assert_eq!(metrics.count(common::metrics::RECONCILE_NEEDS_ACTION), 1.0);
    assert_eq!(metrics.count(common::metrics::ORDERS_RECONCILED), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_minute_tracker_posts_an_import_without_sweeping_bigcommerce() {
    let w = World::start().await;
    w.sweep().await;
    let id = w.sb.create_order(HASH, us_order(1, 0));
    w.sb.settle().await;
    assert_eq!(
        w.drain().await,
        (1, 0),
        "the webhook's message, sent to Oracle"
    );
    let listings = |w: &World| {
        w.sb.exchanges()
            .iter()
            .filter(|e| e.method == "GET" && e.path.ends_with("/v2/orders"))
            .count()
    };
    let before = listings(&w);
    let track = json!({"job": "track"});
    let mut posted = 0;
    for _ in 0..100 {
        let summary = w.poller.handle(&track).await.unwrap();
        assert_eq!(summary["job"], "track", "{summary}");
        posted += summary["tracking"]["posted"].as_u64().unwrap();
        if posted > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(posted, 1);
    posted_batch_of(&w, id).await;
    assert_eq!(listings(&w), before, "no sweep ran");
}

async fn posted_batch_of(w: &World, id: u64) {
    let batch = posted(w, id, PostingKind::Sale).await;
    assert!(
        w.batches(&format!("BC-us-{id}-sale"))
            .iter()
            .any(|b| b.id == batch)
    );
}
