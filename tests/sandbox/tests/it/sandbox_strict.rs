//! The sandbox store as strict as BigCommerce: OAuth scopes (403), HTTPS-only hook
//! destinations (422), `X-Retry-After` on 429s, faults counted as they are served; and the
//! order shapes a store produces: custom fees, an order-level discount, a display currency
//! other than the transactional one, archived orders.

use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use sandbox::bigcommerce::{
    BigCommerceSandbox, DisplayCurrency, Fault, FeeSpec, LineSpec, OrderSpec, ProductSpec,
    SandboxOptions, StoreSpec,
};
use serde_json::{Value, json};

const SCOPE_TITLE: &str = "You don't have a required scope to access the endpoint";

async fn store(options: SandboxOptions) -> BigCommerceSandbox {
    let sb = BigCommerceSandbox::start(options).await;
    sb.add_store(StoreSpec {
        hash: "demo".into(),
        access_token: "tok".into(),
        client_id: "c".into(),
        client_secret: "sec".into(),
        store_id: "1001".into(),
    });
    for (id, price) in [(7, "20.00"), (8, "10.00")] {
        sb.add_product(
            "demo",
            ProductSpec {
                id,
                name: format!("Product {id}"),
                sku: format!("P{id}"),
                price: price.parse().unwrap(),
                categories: vec![],
            },
        );
    }
    sb
}

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

async fn call(
    sb: &BigCommerceSandbox,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Option<Value>) {
    let mut r = reqwest::Client::new()
        .request(method, format!("{}{path}", sb.store_url("demo")))
        .header("X-Auth-Token", "tok")
        .header("Accept", "application/json");
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    let body = (!bytes.is_empty()).then(|| serde_json::from_slice(&bytes).unwrap());
    (status, headers, body)
}

async fn get(sb: &BigCommerceSandbox, path: &str) -> (u16, Option<Value>) {
    let (status, _, body) = call(sb, reqwest::Method::GET, path, None).await;
    (status, body)
}

fn shirts(quantity: u64) -> Vec<LineSpec> {
    vec![LineSpec {
        product_id: 7,
        quantity,
        ..LineSpec::default()
    }]
}

#[tokio::test]
async fn a_call_outside_the_tokens_scopes_is_403_in_bigcommerces_shape() {
    let sb = store(SandboxOptions::default()).await;
    let id = sb.create_order(
        "demo",
        OrderSpec {
            lines: shirts(1),
            ..OrderSpec::default()
        },
    );
    sb.set_token_scopes("demo", &["store_v2_orders_read_only"]);
    assert_eq!(get(&sb, &format!("/v2/orders/{id}")).await.0, 200);
    for path in [
        "/v3/catalog/products".to_string(),
        "/v3/channels".to_string(),
        format!("/v3/orders/{id}/transactions"),
    ] {
        let (status, body) = get(&sb, &path).await;
        assert_eq!(status, 403, "{path}");
        let body = body.unwrap();
        assert_eq!(body["status"], 403);
        assert_eq!(body["title"], SCOPE_TITLE);
        assert!(body["type"].as_str().unwrap().starts_with("https://"));
    }
    // Refunds are readable with the orders scope; a read-only scope writes nothing; hooks
    // need no scope beyond the default.
    assert_eq!(
        get(&sb, &format!("/v3/orders/{id}/payment_actions/refunds"))
            .await
            .0,
        200
    );
    let (status, _, _) = call(
        &sb,
        reqwest::Method::POST,
        &format!("/v3/orders/{id}/metafields"),
        Some(json!({"namespace": "n", "key": "k", "value": "v", "permission_set": "app_only"})),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(get(&sb, "/v3/hooks").await.0, 200);
    assert_eq!(sb.scope_refusals("demo"), 4);
    // Over the admin API as well.
    let r = reqwest::Client::new()
        .put(format!("{}/__admin/stores/demo/scopes", sb.url()))
        .json(&json!({"scopes": ["store_v2_orders", "store_v2_transactions_read_only"]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(
        get(&sb, &format!("/v3/orders/{id}/transactions")).await.0,
        200
    );
}

#[tokio::test]
async fn hook_destinations_are_https_on_port_443_unless_the_test_opts_out() {
    let hook = |destination: &str| json!({"scope": "store/order/created", "destination": destination, "is_active": true});
    let strict = store(SandboxOptions::default()).await;
    for refused in [
        "http://127.0.0.1:9/hook",
        "http://receiver.example.com/hook",
        "https://receiver.example.com:8443/hook",
        "ftp://receiver.example.com/hook",
    ] {
        let (status, _, body) = call(
            &strict,
            reqwest::Method::POST,
            "/v3/hooks",
            Some(hook(refused)),
        )
        .await;
        assert_eq!(status, 422, "{refused}");
        assert_eq!(body.unwrap()["status"], 422);
    }
    assert!(strict.hooks("demo").is_empty());
    let (status, _, _) = call(
        &strict,
        reqwest::Method::POST,
        "/v3/hooks",
        Some(hook("https://receiver.example.com/hook")),
    )
    .await;
    assert_eq!(status, 200);
    // Moving a hook to plain http is refused the same way.
    let id = strict.hooks("demo")[0]["id"].as_u64().unwrap();
    let (status, _, _) = call(
        &strict,
        reqwest::Method::PUT,
        &format!("/v3/hooks/{id}"),
        Some(json!({"destination": "http://receiver.example.com/hook"})),
    )
    .await;
    assert_eq!(status, 422);
    let local = store(SandboxOptions::default().with_http_destinations()).await;
    let (status, _, _) = call(
        &local,
        reqwest::Method::POST,
        "/v3/hooks",
        Some(hook("http://127.0.0.1:9/hook")),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_429_says_in_x_retry_after_when_to_come_back() {
    let sb = store(SandboxOptions {
        quota: 1,
        window: Duration::from_millis(1500),
        ..SandboxOptions::default()
    })
    .await;
    assert_eq!(get(&sb, "/v2/orders").await.0, 204);
    let (status, headers, _) = call(&sb, reqwest::Method::GET, "/v2/orders", None).await;
    assert_eq!(status, 429);
    let reset: u64 = headers["X-Rate-Limit-Time-Reset-Ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let retry_after: u64 = headers["X-Retry-After"].to_str().unwrap().parse().unwrap();
    assert_eq!(
        retry_after,
        reset.div_ceil(1000),
        "whole seconds to the reset"
    );
    assert!((1..=2).contains(&retry_after));
    // A fault can send X-Retry-After alone.
    let sb = store(SandboxOptions::default()).await;
    sb.inject(
        "demo",
        Fault::RetryAfter {
            seconds: 7,
            times: 1,
        },
    );
    let (status, headers, body) = call(&sb, reqwest::Method::GET, "/v2/orders", None).await;
    assert_eq!(status, 429);
    assert_eq!(headers["X-Retry-After"], "7");
    assert!(headers.get("X-Rate-Limit-Time-Reset-Ms").is_none());
    assert_eq!(body.unwrap()["status"], 429);
    assert_eq!(sb.faults_served("demo").get("retry_after"), Some(&1));
}

#[tokio::test]
async fn faults_are_counted_as_they_are_served() {
    let sb = store(SandboxOptions::default()).await;
    sb.inject(
        "demo",
        Fault::Status {
            status: 503,
            times: 2,
            path: Some("/v3/channels".into()),
        },
    );
    sb.inject(
        "demo",
        Fault::Delay {
            millis: 50,
            times: 1,
            path: None,
        },
    );
    assert_eq!(sb.faults_pending("demo"), 3);
    assert!(sb.faults_served("demo").is_empty(), "nothing served yet");
    // Not the path of the 503s: the delay is the first fault that applies.
    let started = Instant::now();
    assert_eq!(get(&sb, "/v2/orders").await.0, 204);
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(get(&sb, "/v3/channels").await.0, 503);
    assert_eq!(get(&sb, "/v3/channels").await.0, 503);
    assert_eq!(get(&sb, "/v3/channels").await.0, 200);
    let served = sb.faults_served("demo");
    assert_eq!(
        served.into_iter().collect::<Vec<_>>(),
        vec![("delay", 1), ("status", 2)]
    );
    assert_eq!(sb.faults_pending("demo"), 0);
}

#[tokio::test]
async fn fees_are_in_the_totals_and_listed_with_include_fees() {
    let sb = store(SandboxOptions::default()).await;
    let id = sb.create_order(
        "demo",
        OrderSpec {
            tax_rate: d("0.1"),
            shipping: d("5.00"),
            lines: shirts(1),
            fees: vec![
                FeeSpec {
                    name: "Packaging".into(),
                    amount: d("3.00"),
                    taxable: true,
                },
                FeeSpec {
                    name: "Duty".into(),
                    amount: d("1.50"),
                    taxable: false,
                },
            ],
            ..OrderSpec::default()
        },
    );
    let (_, order) = get(&sb, &format!("/v2/orders/{id}")).await;
    let order = order.unwrap();
    // Goods 20 + shipping 5 + fees 4.50; tax 10% of 20, 5 and the taxable 3.
    assert_eq!(order["subtotal_ex_tax"], "20.0000");
    assert_eq!(order["total_ex_tax"], "29.5000");
    assert_eq!(order["total_tax"], "2.8000");
    assert_eq!(order["total_inc_tax"], "32.3000");
    assert_eq!(
        order["fees"],
        json!({"url": format!("https://api.bigcommerce.com/stores/demo/v2/orders/{id}/fees"),
            "resource": format!("/orders/{id}/fees")}),
        "a link unless asked for"
    );
    let (_, with_fees) = get(
        &sb,
        &format!(
            "/v2/orders/{id}?include=consignments.line_items,fees&consignment_structure=object"
        ),
    )
    .await;
    let with_fees = with_fees.unwrap();
    assert!(with_fees["consignments"]["shipping"].is_array());
    let fees = with_fees["fees"].as_array().unwrap();
    assert_eq!(fees.len(), 2);
    assert_eq!(fees[0]["type"], "custom_fee");
    assert_eq!(fees[0]["display_name_merchant"], "Packaging");
    assert_eq!(
        (
            &fees[0]["cost_ex_tax"],
            &fees[0]["cost_tax"],
            &fees[0]["cost_inc_tax"]
        ),
        (&json!("3.0000"), &json!("0.3000"), &json!("3.3000"))
    );
    assert_eq!(fees[1]["cost_tax"], "0.0000");
    assert_ne!(fees[0]["id"], fees[1]["id"]);
    // The list serves them the same way.
    let (_, list) = get(&sb, "/v2/orders?include=fees").await;
    assert_eq!(list.unwrap()[0]["fees"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_order_level_discount_is_in_discount_amount_and_taxed_away() {
    let sb = store(SandboxOptions::default()).await;
    let id = sb.create_order(
        "demo",
        OrderSpec {
            tax_rate: d("0.1"),
            lines: vec![
                LineSpec {
                    product_id: 7,
                    quantity: 2,
                    ..LineSpec::default()
                },
                LineSpec {
                    product_id: 8,
                    quantity: 1,
                    ..LineSpec::default()
                },
            ],
            order_discount: d("5.00"),
            ..OrderSpec::default()
        },
    );
    let (_, order) = get(&sb, &format!("/v2/orders/{id}")).await;
    let order = order.unwrap();
    assert_eq!(order["discount_amount"], "5.0000");
    assert_eq!(order["coupon_discount"], "0.0000");
    assert_eq!(order["subtotal_ex_tax"], "50.0000", "before the discount");
    // Tax on 45 (the discount spread 4 : 1 over the lines by their share of 50).
    assert_eq!(order["total_tax"], "4.5000");
    assert_eq!(order["total_ex_tax"], "45.0000");
    assert_eq!(order["total_inc_tax"], "49.5000");
    let (_, lines) = get(&sb, &format!("/v2/orders/{id}/products")).await;
    for line in lines.unwrap().as_array().unwrap() {
        assert_eq!(
            line["applied_discounts"],
            json!([]),
            "shown at order level only"
        );
    }
}

#[tokio::test]
async fn a_display_currency_is_shown_while_the_amounts_stay_transactional() {
    let sb = store(SandboxOptions::default()).await;
    let plain = sb.create_order(
        "demo",
        OrderSpec {
            tax_rate: d("0.08"),
            lines: shirts(2),
            ..OrderSpec::default()
        },
    );
    let shown_in_gbp = sb.create_order(
        "demo",
        OrderSpec {
            tax_rate: d("0.08"),
            lines: shirts(2),
            display_currency: Some(DisplayCurrency {
                code: "GBP".into(),
                rate: d("0.79"),
            }),
            ..OrderSpec::default()
        },
    );
    let (_, a) = get(&sb, &format!("/v2/orders/{plain}")).await;
    let (_, b) = get(&sb, &format!("/v2/orders/{shown_in_gbp}")).await;
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a["currency_code"], "USD");
    assert_eq!(b["currency_code"], "GBP");
    assert_eq!(b["currency_exchange_rate"], "0.7900000000");
    assert_ne!(b["currency_id"], b["default_currency_id"]);
    assert_eq!(b["default_currency_code"], "USD", "paid in dollars");
    for field in ["total_inc_tax", "total_tax", "subtotal_ex_tax"] {
        assert_eq!(a[field], b[field], "{field}: the same dollars");
    }
    let (_, tx) = get(&sb, &format!("/v3/orders/{shown_in_gbp}/transactions")).await;
    assert_eq!(tx.unwrap()["data"][0]["currency"], "USD");
}

#[tokio::test]
async fn an_archived_order_leaves_the_list_and_is_still_served_by_id() {
    let sb = store(SandboxOptions::default()).await;
    let kept = sb.create_order(
        "demo",
        OrderSpec {
            lines: shirts(1),
            ..OrderSpec::default()
        },
    );
    let archived = sb.create_order(
        "demo",
        OrderSpec {
            lines: shirts(2),
            ..OrderSpec::default()
        },
    );
    let (_, before) = get(&sb, &format!("/v2/orders/{archived}")).await;
    let before = before.unwrap();
    assert_eq!(before["is_deleted"], false);
    // Put directly (as an earlier installation would have); nobody listens on port 1.
    let hook = sb.put_hook(
        "demo",
        "store/order/*",
        "https://127.0.0.1:1/in",
        true,
        None,
    );
    sb.archive_order("demo", archived);
    let (status, after) = get(&sb, &format!("/v2/orders/{archived}")).await;
    assert_eq!(status, 200);
    let after = after.unwrap();
    assert_eq!(after["is_deleted"], true);
    for field in ["status_id", "total_inc_tax", "payment_status"] {
        assert_eq!(
            after[field], before[field],
            "{field}: archiving changes nothing else"
        );
    }
    let ids = |v: Option<Value>| -> Vec<u64> {
        v.map(|v| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_u64().unwrap())
                .collect()
        })
        .unwrap_or_default()
    };
    assert_eq!(ids(get(&sb, "/v2/orders").await.1), vec![kept]);
    assert_eq!(
        ids(get(&sb, "/v2/orders?is_deleted=true").await.1),
        vec![archived]
    );
    // The archive fired its webhook (refused: a failed delivery, retried under the same
    // webhook id).
    sb.settle().await;
    let archived_deliveries: Vec<_> = sb
        .deliveries()
        .into_iter()
        .filter(|d| d.hook_id == hook && d.scope == "store/order/archived")
        .collect();
    assert!(!archived_deliveries.is_empty());
    assert!(
        archived_deliveries
            .iter()
            .all(|d| d.webhook_id == archived_deliveries[0].webhook_id
                && d.body.contains(&format!("\"id\":{archived}")))
    );
    // Over the admin API as well.
    let r = reqwest::Client::new()
        .post(format!(
            "{}/__admin/stores/demo/orders/{kept}/archive",
            sb.url()
        ))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(get(&sb, "/v2/orders").await.0, 204);
}
