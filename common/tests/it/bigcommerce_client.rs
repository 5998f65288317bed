//! The BigCommerce client against the sandbox store over real HTTP: calls per operation,
//! pagination, the category cache, rate limits, retries, typed errors, hooks, webhooks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::eventually;
use chrono::Utc;
use common::bigcommerce::api::{HookUpdate, NewHook, RefundPolicy, TimeWindow};
use common::bigcommerce::webhook::{EventKind, WebhookVerifier, parse_event};
use common::bigcommerce::{BcError, BigCommerceClient, ClientSettings, client::RetryPolicy};
use common::ports::BigCommerceApi;
use common::posting::hooks::{HookSpec, MARKER_HEADER, keep_hooks};
use rust_decimal::Decimal;
use sandbox::bigcommerce::{
    BigCommerceSandbox, DeliveryOutcome, Fault, LineKind, LineSpec, OrderSpec, ProductSpec,
    RefundItemSpec, RefundSpec, SandboxOptions, StoreSpec,
};

const HASH: &str = "sbx1";
const TOKEN: &str = "tok-4be1d7c0-very-secret";
const CLIENT_SECRET: &str = "sandbox-client-secret";

async fn sandbox(options: SandboxOptions, products: u64) -> BigCommerceSandbox {
    let sb = BigCommerceSandbox::start(options).await;
    sb.add_store(StoreSpec {
        hash: HASH.into(),
        access_token: TOKEN.into(),
        client_id: "client-1".into(),
        client_secret: CLIENT_SECRET.into(),
        store_id: "1001".into(),
    });
    sb.add_category(HASH, 20, 0, "Apparel");
    sb.add_category(HASH, 21, 20, "Shirts");
    sb.add_category(HASH, 30, 0, "Kitchen");
    for id in 1..=products {
        sb.add_product(
            HASH,
            ProductSpec {
                id,
                name: format!("Product {id}"),
                sku: format!("SKU-{id}"),
                price: Decimal::new(1000 + id as i64, 2),
                categories: vec![if id % 2 == 0 { 21 } else { 30 }],
            },
        );
    }
    sb
}

fn client_with(sb: &BigCommerceSandbox, settings: ClientSettings) -> BigCommerceClient {
    BigCommerceClient::new(HASH, Some(&sb.store_url(HASH)), TOKEN.into(), settings).unwrap()
}

fn client(sb: &BigCommerceSandbox) -> BigCommerceClient {
    client_with(sb, fast_settings())
}

fn fast_settings() -> ClientSettings {
    ClientSettings {
        retry: RetryPolicy {
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            timeout: Duration::from_secs(5),
            ..RetryPolicy::default()
        },
        ..ClientSettings::default()
    }
}

fn order_of(products: &[u64]) -> OrderSpec {
    OrderSpec {
        tax_rate: Decimal::new(8, 2),
        shipping: Decimal::new(500, 2),
        lines: products
            .iter()
            .map(|p| LineSpec {
                product_id: *p,
                quantity: 1 + p % 3,
                ..LineSpec::default()
            })
            .collect(),
        ..OrderSpec::default()
    }
}

fn window_around_now() -> TimeWindow {
    TimeWindow {
        from: Utc::now() - chrono::Duration::hours(1),
        to: Utc::now() + chrono::Duration::hours(1),
    }
}

#[tokio::test]
async fn an_order_bundle_is_one_call_once_the_catalog_is_cached() {
    let sb = sandbox(SandboxOptions::default(), 40).await;
    let ids: Vec<u64> = (0..20)
        .map(|i| sb.create_order(HASH, order_of(&[1 + i % 40, 2 + (i * 7) % 39])))
        .collect();
    let c = client(&sb);
    let first = c
        .fetch_bundle(ids[0], RefundPolicy::IfRefunded)
        .await
        .unwrap();
    // The order, the whole (small) catalog in one page, the category tree.
    assert_eq!(c.calls(), 3);
    assert_eq!(first.lines.len(), 2);
    assert_eq!(first.product_categories.len(), 2);
    assert_eq!(first.category_tree.lineage(21), vec![21, 20]);
    for id in &ids[1..] {
        let b = c.fetch_bundle(*id, RefundPolicy::IfRefunded).await.unwrap();
        assert_eq!(b.order.id, *id);
        assert!(
            !b.lines.is_empty()
                && b.lines
                    .iter()
                    .all(|l| b.product_categories.contains_key(&l.product_id))
        );
    }
    assert_eq!(c.calls(), 3 + 19, "one call per further order");
    assert_eq!(sb.request_count(HASH) as u64, c.calls());
}

#[tokio::test]
async fn old_orders_fall_back_to_the_products_endpoint() {
    let sb = sandbox(SandboxOptions::default(), 5).await;
    let id = sb.create_order(
        HASH,
        OrderSpec {
            legacy: true,
            ..order_of(&[1, 2])
        },
    );
    let c = client(&sb);
    let b = c.fetch_bundle(id, RefundPolicy::Never).await.unwrap();
    assert_eq!(b.lines.len(), 2);
    let paths: Vec<String> = sb.exchanges().into_iter().map(|e| e.path).collect();
    assert_eq!(paths[0], format!("/stores/{HASH}/v2/orders/{id}"));
    assert_eq!(paths[1], format!("/stores/{HASH}/v2/orders/{id}/products"));
}

#[tokio::test]
async fn digital_gift_certificate_and_bundle_lines_come_with_the_order() {
    let sb = sandbox(SandboxOptions::default(), 5).await;
    let spec = OrderSpec {
        lines: vec![
            LineSpec {
                product_id: 1,
                quantity: 1,
                bundle_children: vec![(2, 2)],
                ..LineSpec::default()
            },
            LineSpec {
                product_id: 3,
                quantity: 1,
                kind: LineKind::Digital,
                ..LineSpec::default()
            },
            LineSpec {
                product_id: 0,
                quantity: 1,
                kind: LineKind::Giftcertificate,
                unit_price: Some(Decimal::new(2500, 2)),
                name: "Gift Certificate".into(),
                ..LineSpec::default()
            },
        ],
        ..OrderSpec::default()
    };
    let id = sb.create_order(HASH, spec);
    let c = client(&sb);
    let b = c.fetch_bundle(id, RefundPolicy::Never).await.unwrap();
    assert_eq!(
        b.lines.len(),
        4,
        "parent, bundle child, digital, gift certificate"
    );
    assert!(b.lines.iter().any(|l| l.is_gift_certificate()));
    assert!(b.lines.iter().any(|l| l.is_bundle_child()));
    let fallback = format!("/v2/orders/{id}/products");
    assert_eq!(
        sb.exchanges()
            .iter()
            .filter(|e| e.path.ends_with(&fallback))
            .count(),
        0
    );
}

#[tokio::test]
async fn refunds_are_fetched_when_the_order_shows_them() {
    let sb = sandbox(SandboxOptions::default(), 5).await;
    let id = sb.create_order(HASH, order_of(&[1, 2]));
    let c = client(&sb);
    let b = c.fetch_bundle(id, RefundPolicy::IfRefunded).await.unwrap();
    assert!(b.refunds.is_empty());
    let line = b.lines[0].id;
    let refund = sb.create_refund(
        HASH,
        id,
        RefundSpec {
            items: vec![RefundItemSpec::Product {
                line_id: line,
                quantity: 1,
            }],
            ..RefundSpec::default()
        },
    );
    let before = c.calls();
    let b = c.fetch_bundle(id, RefundPolicy::IfRefunded).await.unwrap();
    assert_eq!(
        b.refunds.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![refund]
    );
    assert_eq!(c.calls() - before, 2, "the order and its refunds");
}

#[tokio::test]
async fn a_thousand_order_window_takes_four_pages_and_the_empty_page_that_ends_it() {
    let sb = sandbox(
        SandboxOptions {
            quota: 10_000,
            ..SandboxOptions::default()
        },
        10,
    )
    .await;
    for i in 0..1000u64 {
        sb.create_order(HASH, order_of(&[1 + i % 10]));
    }
    let c = client(&sb);
    let orders = c.orders_modified(window_around_now()).await.unwrap();
    assert_eq!(orders.len(), 1000);
    let mut ids: Vec<u64> = orders.iter().map(|o| o.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 1000, "no order twice");
    // V2 lists carry no total: four full pages of 250, then a 204 proves the end.
    let statuses: Vec<u16> = sb.exchanges().iter().map(|e| e.status).collect();
    assert_eq!(statuses, vec![200, 200, 200, 200, 204]);
    assert!(
        orders.iter().all(|o| o.consignments.is_some()),
        "line items come with the list"
    );
    // An empty window is one 204.
    sb.clear_exchanges();
    let past = TimeWindow {
        from: Utc::now() - chrono::Duration::days(3),
        to: Utc::now() - chrono::Duration::days(2),
    };
    assert!(c.orders_modified(past).await.unwrap().is_empty());
    assert_eq!(sb.request_count(HASH), 1);
}

#[tokio::test]
async fn a_large_catalog_is_read_in_batches_of_250_ids_and_cached() {
    let sb = sandbox(SandboxOptions::default(), 1200).await;
    let products: Vec<u64> = (600..900).collect();
    let id = sb.create_order(HASH, order_of(&products));
    let c = client_with(
        &sb,
        ClientSettings {
            warm_catalog_max_pages: 1,
            ..fast_settings()
        },
    );
    let b = c.fetch_bundle(id, RefundPolicy::Never).await.unwrap();
    assert_eq!(b.lines.len(), 300);
    assert!(
        products
            .iter()
            .all(|p| b.product_categories.get(p).is_some_and(|c| !c.is_empty()))
    );
    let catalog_calls: Vec<String> = sb
        .exchanges()
        .into_iter()
        .filter(|e| e.path.ends_with("/catalog/products"))
        .map(|e| e.query)
        .collect();
    // One page to learn the catalog is large, then 300 ids in two batches.
    assert_eq!(catalog_calls.len(), 3, "{catalog_calls:?}");
    assert!(
        catalog_calls[1].contains("id%3Ain=600%2C601"),
        "{}",
        catalog_calls[1]
    );
    let again = sb.create_order(HASH, order_of(&[600, 601, 899]));
    let before = c.calls();
    c.fetch_bundle(again, RefundPolicy::Never).await.unwrap();
    assert_eq!(c.calls() - before, 1, "known products cost no catalog call");
}

#[tokio::test]
async fn pacing_keeps_within_the_quota_even_with_concurrent_callers() {
    let sb = sandbox(
        SandboxOptions {
            quota: 10,
            window: Duration::from_millis(400),
            ..SandboxOptions::default()
        },
        5,
    )
    .await;
    let ids: Vec<u64> = (0..36)
        .map(|i| sb.create_order(HASH, order_of(&[1 + i % 5])))
        .collect();
    let c = Arc::new(client(&sb));
    c.fetch_bundle(ids[0], RefundPolicy::Never).await.unwrap();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in ids[1..].chunks(9) {
        let (c, chunk) = (c.clone(), chunk.to_vec());
        tasks.spawn(async move {
            for id in chunk {
                c.fetch_bundle(id, RefundPolicy::Never).await.unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert_eq!(
        sb.quota_exceeded(HASH),
        0,
        "the client slowed down instead of hitting 429s"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "35 calls at 10 per 400 ms need several windows"
    );
}

#[tokio::test]
async fn a_429_waits_for_the_reset_then_succeeds() {
    let sb = sandbox(
        SandboxOptions {
            window: Duration::from_millis(300),
            ..SandboxOptions::default()
        },
        3,
    )
    .await;
    let id = sb.create_order(HASH, order_of(&[1]));
    let c = client(&sb);
    sb.inject(
        HASH,
        Fault::RateLimitStorm {
            times: 2,
            with_headers: true,
        },
    );
    c.fetch_bundle(id, RefundPolicy::Never).await.unwrap();
    let order_calls = |sb: &BigCommerceSandbox| {
        sb.exchanges()
            .iter()
            .filter(|e| e.path.ends_with(&format!("/orders/{id}")))
            .map(|e| e.status)
            .collect::<Vec<_>>()
    };
    assert_eq!(order_calls(&sb), vec![429, 429, 200]);
    assert_eq!(sb.faults_served(HASH).get("rate_limit_storm"), Some(&2));
    // The storm's 429s said when to come back, as BigCommerce's do.
    let limited: Vec<_> = sb
        .exchanges()
        .into_iter()
        .filter(|e| e.status == 429)
        .collect();
    assert!(!limited.is_empty());
    for e in &limited {
        for header in ["X-Rate-Limit-Time-Reset-Ms", "X-Retry-After"] {
            assert!(e.response_headers.contains_key(header), "{header}: {e:?}");
        }
    }
    // Without headers (the platform overloaded), the client backs off and still gets through.
    sb.clear_exchanges();
    sb.inject(
        HASH,
        Fault::RateLimitStorm {
            times: 2,
            with_headers: false,
        },
    );
    c.fetch_bundle(id, RefundPolicy::Never).await.unwrap();
    assert_eq!(order_calls(&sb), vec![429, 429, 200]);
    assert_eq!(sb.faults_served(HASH).get("rate_limit_storm"), Some(&4));
    // A storm that does not end is a typed, transient error after a bounded number of tries.
    sb.inject(
        HASH,
        Fault::RateLimitStorm {
            times: 50,
            with_headers: false,
        },
    );
    let err = c.fetch_bundle(id, RefundPolicy::Never).await.unwrap_err();
    assert_eq!(
        err,
        BcError::RateLimited {
            call: format!("GET /v2/orders/{id}"),
            attempts: 8
        }
    );
    assert!(err.is_transient());
    assert_eq!(sb.faults_served(HASH).get("rate_limit_storm"), Some(&12));
    assert_eq!(
        sb.faults_pending(HASH),
        42,
        "the storm outlasted the client's tries"
    );
}

#[tokio::test]
async fn a_429_with_only_x_retry_after_waits_as_many_seconds_as_it_says() {
    let sb = sandbox(SandboxOptions::default(), 3).await;
    let id = sb.create_order(HASH, order_of(&[1]));
    let c = client(&sb);
    c.fetch_bundle(id, RefundPolicy::Never).await.unwrap();
    sb.inject(
        HASH,
        Fault::RetryAfter {
            seconds: 1,
            times: 1,
        },
    );
    let before = c.calls();
    let started = Instant::now();
    c.fetch_bundle(id, RefundPolicy::Never).await.unwrap();
    assert_eq!(sb.faults_served(HASH).get("retry_after"), Some(&1));
    assert_eq!(c.calls() - before, 2, "the 429, then the order");
    // The client's own backoff after a bare 429 is at most 100 ms here: only the header can
    // have made it wait a second.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "came back after {:?}, before X-Retry-After's second",
        started.elapsed()
    );
}

#[tokio::test]
async fn server_errors_and_timeouts_on_reads_are_retried_with_a_bound() {
    let sb = sandbox(SandboxOptions::default(), 3).await;
    let id = sb.create_order(HASH, order_of(&[1]));
    let settings = ClientSettings {
        retry: RetryPolicy {
            timeout: Duration::from_millis(300),
            ..fast_settings().retry
        },
        ..fast_settings()
    };
    let c = client_with(&sb, settings);
    sb.inject(
        HASH,
        Fault::Status {
            status: 503,
            times: 2,
            path: Some("/v2/orders".into()),
        },
    );
    c.fetch_bundle(id, RefundPolicy::Never).await.unwrap();
    assert_eq!(sb.faults_served(HASH).get("status"), Some(&2));
    let statuses: Vec<u16> = sb
        .exchanges()
        .iter()
        .filter(|e| e.path.ends_with(&format!("/orders/{id}")))
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses, vec![503, 503, 200]);
    // An answer 900 ms late against a 300 ms timeout: the client gives up on it and asks
    // again. A client without the timeout would wait for the late answer: one call, not two,
    // and not back before the 900 ms were up.
    sb.inject(
        HASH,
        Fault::Delay {
            millis: 900,
            times: 1,
            path: Some("/v2/orders".into()),
        },
    );
    let before = c.calls();
    let started = Instant::now();
    c.fetch_bundle(id, RefundPolicy::Never).await.unwrap();
    let took = started.elapsed();
    assert_eq!(sb.faults_served(HASH).get("delay"), Some(&1));
    assert_eq!(c.calls() - before, 2, "the timed-out call, then its retry");
    assert!(
        took < Duration::from_millis(900),
        "the late answer was awaited: {took:?}"
    );
    sb.clear_exchanges();
    sb.inject(
        HASH,
        Fault::Status {
            status: 500,
            times: 10,
            path: Some("/v2/orders".into()),
        },
    );
    let err = c.fetch_bundle(id, RefundPolicy::Never).await.unwrap_err();
    assert!(
        matches!(&err, BcError::Status { status: 500, call, .. } if call == &format!("GET /v2/orders/{id}")),
        "{err}"
    );
    assert_eq!(sb.request_count(HASH), 4, "bounded: max_attempts");
    assert_eq!(sb.faults_served(HASH).get("status"), Some(&6));
    assert!(err.is_transient());
}

#[tokio::test]
async fn writes_are_never_retried_blindly() {
    let sb = sandbox(SandboxOptions::default(), 1).await;
    let c = client(&sb);
    sb.inject(
        HASH,
        Fault::Status {
            status: 503,
            times: 1,
            path: Some("/v3/hooks".into()),
        },
    );
    let err = c
        .create_hook(&NewHook {
            scope: "store/order/created".into(),
            destination: "https://example.com/h".into(),
            is_active: true,
            headers: Default::default(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, BcError::Status { status: 503, .. }));
    assert_eq!(sb.faults_served(HASH).get("status"), Some(&1));
    assert_eq!(sb.request_count(HASH), 1);
    assert!(sb.hooks(HASH).is_empty());
}

#[tokio::test]
async fn errors_name_the_call_and_the_status_and_never_the_token() {
    let sb = sandbox(SandboxOptions::default(), 1).await;
    let wrong = BigCommerceClient::new(
        HASH,
        Some(&sb.store_url(HASH)),
        "not-the-token".into(),
        fast_settings(),
    )
    .unwrap();
    let unauthorized = wrong
        .fetch_bundle(7, RefundPolicy::Never)
        .await
        .unwrap_err();
    assert_eq!(
        unauthorized.to_string(),
        "GET /v2/orders/7: HTTP 401: Unauthorized: a valid X-Auth-Token is required; check the store's access_token and the API account's scopes"
    );
    assert!(!unauthorized.is_transient());
    let c = client(&sb);
    let missing = c
        .fetch_bundle(999_999, RefundPolicy::Never)
        .await
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "GET /v2/orders/999999: not found (HTTP 404): The requested resource was not found."
    );
    for e in [&unauthorized, &missing] {
        assert!(!format!("{e} {e:?}").contains(TOKEN));
    }
}

#[tokio::test]
async fn refunds_created_in_a_window_are_paged_to_the_end() {
    let sb = sandbox(
        SandboxOptions {
            quota: 10_000,
            ..SandboxOptions::default()
        },
        3,
    )
    .await;
    let c = client(&sb);
    let mut expected = Vec::new();
    for _ in 0..130 {
        let id = sb.create_order(HASH, order_of(&[1, 2]));
        let line = c.fetch_bundle(id, RefundPolicy::Never).await.unwrap().lines[0].id;
        for _ in 0..2 {
            expected.push(sb.create_refund(
                HASH,
                id,
                RefundSpec {
                    items: vec![RefundItemSpec::Product {
                        line_id: line,
                        quantity: 1,
                    }],
                    ..RefundSpec::default()
                },
            ));
        }
    }
    sb.clear_exchanges();
    let refunds = c.refunds_created(window_around_now()).await.unwrap();
    assert_eq!(refunds.iter().map(|r| r.id).collect::<Vec<_>>(), expected);
    // 260 refunds, no pagination in `meta`: a full page of 250, then a short one.
    assert_eq!(sb.request_count(HASH), 2);
}

#[tokio::test]
async fn channels_hooks_and_metafields() {
    let sb = sandbox(SandboxOptions::default(), 1).await;
    sb.add_channel(HASH, 2, "EU storefront");
    let c = client(&sb);
    let channels = c.channels().await.unwrap();
    assert_eq!(
        channels.iter().map(|ch| ch.id).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(channels[1].kind, "storefront");
    let hook = c
        .create_hook(&NewHook {
            scope: "store/order/created".into(),
            destination: "https://example.com/h".into(),
            is_active: true,
            headers: Default::default(),
        })
        .await
        .unwrap();
    let updated = c
        .update_hook(
            hook.id,
            &HookUpdate {
                is_active: Some(false),
                ..HookUpdate::default()
            },
        )
        .await
        .unwrap();
    assert!(!updated.is_active);
    assert_eq!(c.hooks().await.unwrap(), vec![updated]);
    let order = sb.create_order(HASH, order_of(&[1]));
    c.put_order_metafield(order, "ml_connector", "journal", "BC-us-1-sale")
        .await
        .unwrap();
    // A second write replaces the value (create answers 409; the client finds it and updates).
    c.put_order_metafield(order, "ml_connector", "journal", "BC-us-1-sale posted")
        .await
        .unwrap();
    let methods: Vec<String> = sb
        .exchanges()
        .iter()
        .filter(|e| e.path.contains("/metafields"))
        .map(|e| format!("{} {}", e.method, e.status))
        .collect();
    assert_eq!(methods, vec!["POST 200", "POST 409", "GET 200", "PUT 200"]);
    let last = sb
        .exchanges()
        .last()
        .unwrap()
        .response_body
        .clone()
        .unwrap();
    assert_eq!(last["data"]["value"], "BC-us-1-sale posted");
}

#[tokio::test]
async fn the_hook_keeper_fixes_ours_and_leaves_others_alone() {
    let sb = sandbox(SandboxOptions::default(), 1).await;
    let ours = "https://connector.example.com/webhook";
    let marker = serde_json::json!({MARKER_HEADER: "us"});
    let deactivated = sb.put_hook(
        HASH,
        "store/order/created",
        ours,
        false,
        Some(marker.clone()),
    );
    let misdirected = sb.put_hook(
        HASH,
        "store/order/updated",
        "https://old-stage.example.com/webhook",
        true,
        Some(marker),
    );
    let foreign = sb.put_hook(
        HASH,
        "store/order/created",
        "https://erp-other.example.com/in",
        false,
        None,
    );
    let c = client(&sb);
    let spec = HookSpec::orders(ours, "us");
    let changes = keep_hooks(&c, &spec).await.unwrap();
    assert_eq!(changes.reactivated, vec![deactivated]);
    assert_eq!(
        changes.redirected,
        vec![(
            misdirected,
            "https://old-stage.example.com/webhook".to_string()
        )]
    );
    assert_eq!(
        changes
            .created
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>(),
        vec!["store/order/statusUpdated", "store/order/refund/created"]
    );
    assert_eq!(changes.foreign, vec![foreign]);
    let hooks = sb.hooks(HASH);
    let by_id = |id: u64| hooks.iter().find(|h| h["id"] == id).unwrap().clone();
    assert_eq!(by_id(deactivated)["is_active"], true);
    assert_eq!(by_id(misdirected)["destination"], ours);
    assert_eq!(
        by_id(foreign)["is_active"],
        false,
        "someone else's hook is not ours to switch on"
    );
    assert!(
        hooks
            .iter()
            .filter(|h| h["destination"] == ours)
            .all(|h| h["headers"][MARKER_HEADER] == "us" && h["is_active"] == true)
    );
    // Once in line, a second run changes nothing.
    let again = keep_hooks(&c, &spec).await.unwrap();
    assert!(!again.changed_anything(), "{again:?}");
    assert_eq!(again.unchanged.len(), 4);
}

/// A webhook receiver on loopback that records deliveries and answers `status`.
async fn receiver(
    status: u16,
) -> (
    String,
    Arc<std::sync::Mutex<Vec<(http::HeaderMap, Vec<u8>)>>>,
) {
    receiver_answering(move |_| status).await
}

/// A webhook receiver on loopback that records deliveries and answers `status(n)` to the n-th
/// (from 0).
async fn receiver_answering(
    status: impl Fn(usize) -> u16 + Clone + Send + Sync + 'static,
) -> (
    String,
    Arc<std::sync::Mutex<Vec<(http::HeaderMap, Vec<u8>)>>>,
) {
    use axum::body::Bytes;
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = got.clone();
    let app = axum::Router::new().fallback(move |headers: http::HeaderMap, body: Bytes| {
        let (sink, status) = (sink.clone(), status.clone());
        async move {
            let mut all = sink.lock().unwrap();
            all.push((headers, body.to_vec()));
            http::StatusCode::from_u16(status(all.len() - 1)).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// The receivers here are plain HTTP on loopback, which BigCommerce would refuse.
fn local_receivers() -> SandboxOptions {
    SandboxOptions::default().with_http_destinations()
}

#[tokio::test]
async fn the_sandbox_sends_signed_deliveries_our_verifier_accepts() {
    let sb = sandbox(local_receivers(), 2).await;
    let (url, got) = receiver(200).await;
    let c = client(&sb);
    keep_hooks(&c, &HookSpec::orders(&url, "us")).await.unwrap();
    let order = sb.create_order(HASH, order_of(&[1]));
    sb.set_status(HASH, order, 2);
    sb.settle().await;
    let verifier = WebhookVerifier::new(CLIENT_SECRET).unwrap();
    let deliveries = got.lock().unwrap().clone();
    let mut kinds = Vec::new();
    for (headers, body) in &deliveries {
        verifier
            .verify(headers, body, Utc::now().timestamp())
            .unwrap();
        assert_eq!(headers[MARKER_HEADER], "us");
        let event = parse_event(body).unwrap();
        assert_eq!(event.store_hash(), Some(HASH));
        kinds.push(event.kind);
    }
    assert_eq!(
        kinds,
        vec![
            EventKind::OrderCreated { order_id: order },
            EventKind::OrderStatusUpdated {
                order_id: order,
                previous_status_id: Some(11),
                new_status_id: Some(2)
            },
            EventKind::OrderUpdated { order_id: order },
        ]
    );
    // A redelivery carries the same webhook id (what dedupe keys on).
    sb.redeliver(0);
    sb.settle().await;
    let all = got.lock().unwrap().clone();
    assert_eq!(all.len(), 4);
    assert_eq!(all[3].0["webhook-id"], all[0].0["webhook-id"]);
    verifier
        .verify(&all[3].0, &all[3].1, Utc::now().timestamp())
        .unwrap();
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_the_same_webhook_id_until_it_is_taken() {
    let sb = sandbox(local_receivers(), 2).await;
    // Refused twice (a 503, then a 500), then taken.
    let (url, got) = receiver_answering(|n| [503, 500, 204].get(n).copied().unwrap_or(200)).await;
    let c = client(&sb);
    let spec = HookSpec {
        scopes: vec!["store/order/created".into()],
        ..HookSpec::orders(&url, "us")
    };
    keep_hooks(&c, &spec).await.unwrap();
    let order = sb.create_order(HASH, order_of(&[1]));
    sb.settle().await;
    let attempts: Vec<(u32, DeliveryOutcome)> = sb
        .deliveries()
        .into_iter()
        .map(|d| (d.attempt, d.outcome))
        .collect();
    assert_eq!(
        attempts,
        vec![
            (1, DeliveryOutcome::Failed("HTTP 503".into())),
            (2, DeliveryOutcome::Failed("HTTP 500".into())),
            (3, DeliveryOutcome::Delivered),
        ]
    );
    let received = got.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    let verifier = WebhookVerifier::new(CLIENT_SECRET).unwrap();
    for (headers, body) in &received {
        assert_eq!(
            headers["webhook-id"], received[0].0["webhook-id"],
            "one event, one id"
        );
        assert_eq!(body, &received[0].1, "the same body");
        verifier
            .verify(headers, body, Utc::now().timestamp())
            .unwrap();
        assert_eq!(
            parse_event(body).unwrap().kind,
            EventKind::OrderCreated { order_id: order }
        );
    }
    assert_eq!(sb.hooks(HASH)[0]["is_active"], true, "taken in the end");
}

#[tokio::test]
async fn hook_destinations_must_be_https_on_port_443_unless_a_test_opts_out() {
    let sb = sandbox(SandboxOptions::default(), 1).await;
    let c = client(&sb);
    let hook = |destination: &str| NewHook {
        scope: "store/order/created".into(),
        destination: destination.into(),
        is_active: true,
        headers: Default::default(),
    };
    for refused in [
        "http://connector.example.com/webhook",
        "http://127.0.0.1:8080/webhook",
        "https://connector.example.com:8443/webhook",
    ] {
        let err = c.create_hook(&hook(refused)).await.unwrap_err();
        assert!(
            matches!(&err, BcError::Status { status: 422, message, .. } if message.contains("HTTPS")),
            "{refused}: {err}"
        );
    }
    // The hook keeper meets the same refusal for a plain-http webhook URL.
    assert!(
        keep_hooks(
            &c,
            &HookSpec::orders("http://127.0.0.1:8080/webhooks", "us")
        )
        .await
        .is_err()
    );
    assert!(sb.hooks(HASH).is_empty());
    for accepted in [
        "https://connector.example.com/webhook",
        "https://connector.example.com:443/other",
    ] {
        c.create_hook(&hook(accepted)).await.unwrap();
    }
    let local = sandbox(local_receivers(), 1).await;
    client(&local)
        .create_hook(&hook("http://127.0.0.1:8080/webhook"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_token_without_the_scope_gets_bigcommerces_403() {
    let sb = sandbox(SandboxOptions::default(), 2).await;
    let id = sb.create_order(HASH, order_of(&[1]));
    // Orders read-only: the order is readable, the catalog behind the bundle is not.
    sb.set_token_scopes(HASH, &["store_v2_orders_read_only"]);
    let c = client(&sb);
    let err = c.fetch_bundle(id, RefundPolicy::Never).await.unwrap_err();
    assert!(
        matches!(&err, BcError::Unauthorized { status: 403, call, message }
            if call == "GET /v3/catalog/products"
                && message == "You don't have a required scope to access the endpoint"),
        "{err:?}"
    );
    assert!(
        !err.is_transient(),
        "a missing scope is for a person to grant"
    );
    assert!(!format!("{err} {err:?}").contains(TOKEN));
    assert_eq!(sb.scope_refusals(HASH), 1);
    let refused = sb
        .exchanges()
        .into_iter()
        .find(|e| e.status == 403)
        .unwrap();
    assert_eq!(refused.response_body.as_ref().unwrap()["status"], 403);
    // A read-only scope never writes; channels need their own scope; hooks need none.
    assert!(matches!(
        c.put_order_metafield(id, "ml_connector", "journal", "BC-us-1-sale")
            .await
            .unwrap_err(),
        BcError::Unauthorized { status: 403, .. }
    ));
    assert!(matches!(
        c.channels().await.unwrap_err(),
        BcError::Unauthorized { status: 403, .. }
    ));
    c.hooks().await.unwrap();
    assert_eq!(sb.scope_refusals(HASH), 3);
    // With the products scope as well the bundle is whole.
    sb.set_token_scopes(
        HASH,
        &["store_v2_orders_read_only", "store_v2_products_read_only"],
    );
    let b = c.fetch_bundle(id, RefundPolicy::Never).await.unwrap();
    assert_eq!(b.order.id, id);
    assert_eq!(sb.scope_refusals(HASH), 3);
}

#[tokio::test]
async fn hooks_start_late_fail_off_and_can_lose_deliveries() {
    let sb = sandbox(
        SandboxOptions {
            hook_activation_delay: Duration::from_millis(300),
            deactivate_after_failures: 2,
            // Each refused delivery counts once: no retries to race the count.
            delivery_retries: Vec::new(),
            ..local_receivers()
        },
        2,
    )
    .await;
    let (url, got) = receiver(500).await;
    let c = client(&sb);
    let spec = HookSpec {
        scopes: vec!["store/order/created".into()],
        ..HookSpec::orders(&url, "us")
    };
    keep_hooks(&c, &spec).await.unwrap();
    sb.create_order(HASH, order_of(&[1]));
    sb.settle().await;
    assert_eq!(sb.deliveries()[0].outcome, DeliveryOutcome::NotYetActive);
    eventually(
        "the new hook to start",
        Duration::from_secs(5),
        async || sb.hooks_delivering(HASH) == 1,
    )
    .await;
    sb.create_order(HASH, order_of(&[1]));
    sb.create_order(HASH, order_of(&[2]));
    sb.settle().await;
    assert_eq!(
        got.lock().unwrap().len(),
        2,
        "sent, and refused by the receiver"
    );
    assert!(
        !sb.hooks(HASH)[0]["is_active"].as_bool().unwrap(),
        "deactivated after two failures"
    );
    sb.create_order(HASH, order_of(&[1]));
    sb.settle().await;
    assert_eq!(
        got.lock().unwrap().len(),
        2,
        "an inactive hook delivers nothing"
    );
    // The keeper switches it back on; a dropped delivery is never sent.
    let changes = keep_hooks(&c, &spec).await.unwrap();
    assert_eq!(changes.reactivated.len(), 1);
    eventually(
        "the reactivated hook to start",
        Duration::from_secs(5),
        async || sb.hooks_delivering(HASH) == 1,
    )
    .await;
    sb.inject(HASH, Fault::DropWebhooks { times: 1 });
    sb.create_order(HASH, order_of(&[1]));
    sb.settle().await;
    assert_eq!(sb.faults_served(HASH).get("drop_webhooks"), Some(&1));
    assert_eq!(
        sb.deliveries().last().unwrap().outcome,
        DeliveryOutcome::Dropped
    );
    assert_eq!(got.lock().unwrap().len(), 2);
}
