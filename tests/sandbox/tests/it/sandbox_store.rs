//! The sandbox store on its own, over HTTP: the admin API, the rate-limit headers and 429s,
//! authentication, V2 empty lists, refund webhooks.

use std::time::Duration;

use sandbox::bigcommerce::{BigCommerceSandbox, SandboxOptions};
use serde_json::{Value, json};

async fn admin(sb: &BigCommerceSandbox, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{}/__admin{path}", sb.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

async fn api(sb: &BigCommerceSandbox, path: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/stores/demo{path}", sb.url()))
        .header("X-Auth-Token", token)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
}

async fn seeded(options: SandboxOptions) -> BigCommerceSandbox {
    let sb = BigCommerceSandbox::start(options).await;
    admin(
        &sb,
        "/stores",
        json!({"hash": "demo", "access_token": "tok", "client_id": "c", "client_secret": "sec"}),
    )
    .await;
    admin(
        &sb,
        "/stores/demo/categories",
        json!({"id": 20, "name": "Apparel"}),
    )
    .await;
    admin(
        &sb,
        "/stores/demo/products",
        json!({"id": 7, "name": "Shirt", "sku": "SH", "price": "20.00", "categories": [20]}),
    )
    .await;
    sb
}

#[tokio::test]
async fn the_admin_api_creates_what_the_rest_api_then_serves() {
    let sb = seeded(SandboxOptions::default()).await;
    let order = admin(
        &sb,
        "/stores/demo/orders",
        json!({"tax_rate": "0.1", "lines": [{"product_id": 7, "quantity": 3}]}),
    )
    .await;
    let id = order["id"].as_u64().unwrap();
    let got: Value = api(&sb, &format!("/v2/orders/{id}"), "tok")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["total_inc_tax"], "66.0000");
    assert_eq!(got["total_tax"], "6.0000");
    assert_eq!(
        got["date_created"].as_str().unwrap().len(),
        "Tue, 05 Mar 2019 21:40:11 +0000".len()
    );
    let lines: Value = api(&sb, &format!("/v2/orders/{id}/products"), "tok")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lines[0]["price_ex_tax"], "20.0000");
    admin(
        &sb,
        &format!("/stores/demo/orders/{id}/status"),
        json!({"status_id": 2}),
    )
    .await;
    let refund = admin(
        &sb,
        &format!("/stores/demo/orders/{id}/refunds"),
        json!({"items": [{"type": "product", "line_id": lines[0]["id"], "quantity": 1}]}),
    )
    .await;
    let refunds: Value = api(
        &sb,
        &format!("/v3/orders/{id}/payment_actions/refunds"),
        "tok",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(refunds["data"][0]["id"], refund["id"]);
    assert_eq!(
        refunds["data"][0]["total_amount"],
        json!(22.0),
        "V3 amounts are numbers"
    );
    let log: Value = reqwest::get(format!("{}/__admin/requests", sb.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.as_array().unwrap().len(), 3);
    let r = reqwest::Client::new()
        .post(format!("{}/__admin/stores/nope/orders", sb.url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn empty_v2_lists_are_204_and_tokens_are_checked() {
    let sb = seeded(SandboxOptions::default()).await;
    let r = api(&sb, "/v2/orders", "tok").await;
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = api(&sb, "/v2/orders", "bad").await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("X-Rate-Limit-Requests-Left").is_none());
    let r = api(&sb, "/v2/orders/12345", "tok").await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body[0]["message"], "The requested resource was not found.");
}

#[tokio::test]
async fn the_quota_is_enforced_with_the_real_headers() {
    // A window long enough for three requests on a busy machine.
    let sb = seeded(SandboxOptions {
        quota: 3,
        window: Duration::from_millis(2000),
        ..SandboxOptions::default()
    })
    .await;
    let mut lefts = Vec::new();
    for _ in 0..3 {
        let r = api(&sb, "/v3/channels", "tok").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["X-Rate-Limit-Requests-Quota"], "3");
        assert_eq!(r.headers()["X-Rate-Limit-Time-Window-Ms"], "2000");
        lefts.push(
            r.headers()["X-Rate-Limit-Requests-Left"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(lefts, ["2", "1", "0"]);
    let r = api(&sb, "/v3/channels", "tok").await;
    let limited_at = std::time::Instant::now();
    assert_eq!(r.status(), 429);
    let reset: u64 = r.headers()["X-Rate-Limit-Time-Reset-Ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset <= 2000);
    assert_eq!(sb.quota_exceeded("demo"), 1);
    // The window resets: the store serves again (polled, not slept for).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while api(&sb, "/v3/channels", "tok").await.status() == 429 {
        assert!(
            std::time::Instant::now() < deadline,
            "the window never reset"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        limited_at.elapsed() + Duration::from_millis(50) >= Duration::from_millis(reset),
        "served again only once the window was over"
    );
    // A storm without headers is what an overloaded platform sends.
    admin(
        &sb,
        "/stores/demo/faults",
        json!({"kind": "rate_limit_storm", "times": 1, "with_headers": false}),
    )
    .await;
    let r = api(&sb, "/v3/channels", "tok").await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("X-Rate-Limit-Time-Reset-Ms").is_none());
}

#[tokio::test]
async fn refunds_fire_their_webhook_with_the_nested_refund_id() {
    let sb = seeded(SandboxOptions::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = received.clone();
    let app = axum::Router::new().fallback(move |body: String| {
        let sink = sink.clone();
        async move {
            sink.lock().unwrap().push(body);
            "ok"
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    sb.put_hook("demo", "store/order/*", &url, true, None);
    let id = admin(
        &sb,
        "/stores/demo/orders",
        json!({"lines": [{"product_id": 7, "quantity": 1}]}),
    )
    .await["id"]
        .as_u64()
        .unwrap();
    let refund = admin(
        &sb,
        &format!("/stores/demo/orders/{id}/refunds"),
        json!({"items": [{"type": "order", "amount": "5.00"}]}),
    )
    .await;
    sb.settle().await;
    let bodies: Vec<Value> = received
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    let scopes: Vec<&str> = bodies
        .iter()
        .map(|b| b["scope"].as_str().unwrap())
        .collect();
    assert_eq!(
        scopes,
        [
            "store/order/created",
            "store/order/refund/created",
            "store/order/updated"
        ]
    );
    assert_eq!(bodies[1]["data"]["refund"]["refund_id"], refund["id"]);
    assert_eq!(bodies[1]["producer"], "stores/demo");
    assert_eq!(bodies[1]["hash"].as_str().unwrap().len(), 40);
}
