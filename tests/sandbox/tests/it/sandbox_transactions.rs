//! An order's payments as BigCommerce shows them: `payment_provider_id` is the gateway's
//! transaction id, the gateway itself is named by `GET /v3/orders/{id}/transactions`, refunds go
//! back through it, and they make the order Refunded or Partially Refunded.

use sandbox::bigcommerce::{
    BigCommerceSandbox, LineSpec, OrderSpec, ProductSpec, RefundItemSpec, RefundSpec,
    SandboxOptions, StoreSpec,
};
use serde_json::{Value, json};

async fn store() -> BigCommerceSandbox {
    let sb = BigCommerceSandbox::start(SandboxOptions::default()).await;
    sb.add_store(StoreSpec {
        hash: "demo".into(),
        access_token: "tok".into(),
        client_id: "c".into(),
        client_secret: "sec".into(),
        store_id: "1001".into(),
    });
    sb.add_product(
        "demo",
        ProductSpec {
            id: 7,
            name: "Shirt".into(),
            sku: "SH".into(),
            price: "20.00".parse().unwrap(),
            categories: vec![],
        },
    );
    sb
}

fn shirts(quantity: u64) -> Vec<LineSpec> {
    vec![LineSpec {
        product_id: 7,
        quantity,
        ..LineSpec::default()
    }]
}

async fn get(sb: &BigCommerceSandbox, path: &str) -> (u16, Option<Value>) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", sb.store_url("demo")))
        .header("X-Auth-Token", "tok")
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap();
    let body = (!bytes.is_empty()).then(|| serde_json::from_slice(&bytes).unwrap());
    (status, body)
}

async fn order(sb: &BigCommerceSandbox, id: u64) -> Value {
    let (status, body) = get(sb, &format!("/v2/orders/{id}")).await;
    assert_eq!(status, 200);
    body.unwrap()
}

async fn transactions(sb: &BigCommerceSandbox, id: u64) -> Vec<Value> {
    let (status, body) = get(sb, &format!("/v3/orders/{id}/transactions")).await;
    assert_eq!(status, 200, "{body:?}");
    let body = body.unwrap();
    let data = body["data"].as_array().unwrap().clone();
    assert_eq!(body["meta"]["pagination"]["total"], data.len());
    data
}

#[tokio::test]
async fn the_gateway_is_named_by_the_transactions_and_payment_provider_id_is_its_transaction_id() {
    let sb = store().await;
    let id = sb.create_order(
        "demo",
        OrderSpec {
            payment_gateway: "stripe".into(),
            tax_rate: "0.1".parse().unwrap(),
            lines: shirts(3),
            store_credit_amount: "6.00".parse().unwrap(),
            gift_certificate_amount: "10.00".parse().unwrap(),
            ..OrderSpec::default()
        },
    );
    let o = order(&sb, id).await;
    assert_eq!(o["total_inc_tax"], "66.0000");
    assert_eq!(o["payment_status"], "captured");
    let provider_id = o["payment_provider_id"].as_str().unwrap();
    assert!(
        provider_id.starts_with("pi_") && provider_id.len() > 10,
        "{provider_id}"
    );
    // Deterministic per order: the same order always shows the same id, another order another.
    assert_eq!(order(&sb, id).await["payment_provider_id"], provider_id);
    let other = sb.create_order(
        "demo",
        OrderSpec {
            payment_gateway: "stripe".into(),
            lines: shirts(1),
            ..OrderSpec::default()
        },
    );
    assert_ne!(order(&sb, other).await["payment_provider_id"], provider_id);

    let t = transactions(&sb, id).await;
    let summary: Vec<(&str, &str, &str, f64)> = t
        .iter()
        .map(|t| {
            (
                t["event"].as_str().unwrap(),
                t["method"].as_str().unwrap(),
                t["gateway"].as_str().unwrap(),
                t["amount"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("purchase", "credit_card", "stripe", 50.0),
            ("purchase", "store_credit", "storecredit", 6.0),
            ("purchase", "gift_certificate", "giftcertificate", 10.0),
        ]
    );
    assert_eq!(t[0]["gateway_transaction_id"], provider_id);
    assert_eq!(t[0]["status"], "ok");
    assert_eq!(t[0]["currency"], "USD");
    assert_eq!(
        t[0]["order_id"],
        json!(id.to_string()),
        "a string, as the spec has it"
    );
    assert!(t.iter().all(|t| t["id"].is_u64()));
    let created = t[0]["date_created"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}"
    );

    // The default gateway, and an authorized (not captured) payment.
    let authorized = sb.create_order(
        "demo",
        OrderSpec {
            payment_status: "authorized".into(),
            currency: "EUR".into(),
            lines: shirts(1),
            ..OrderSpec::default()
        },
    );
    let o = order(&sb, authorized).await;
    assert_eq!(o["payment_status"], "authorized");
    let t = transactions(&sb, authorized).await;
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["event"], "authorization");
    assert_eq!(t[0]["gateway"], "braintree");
    assert_eq!(t[0]["currency"], "EUR");
    assert_eq!(t[0]["gateway_transaction_id"], o["payment_provider_id"]);
    assert_ne!(o["payment_provider_id"], "braintree");
}

#[tokio::test]
async fn specs_written_with_the_old_field_name_still_load() {
    let spec: OrderSpec = serde_json::from_value(
        json!({"payment_provider_id": "stripe", "lines": [{"product_id": 7, "quantity": 1}]}),
    )
    .unwrap();
    assert_eq!(spec.payment_gateway, "stripe");
    assert_eq!(spec.payment_status, "captured");
    // And over the admin API.
    let sb = store().await;
    let r: Value = reqwest::Client::new()
        .post(format!("{}/__admin/stores/demo/orders", sb.url()))
        .json(
            &json!({"payment_provider_id": "stripe", "lines": [{"product_id": 7, "quantity": 1}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t = transactions(&sb, r["id"].as_u64().unwrap()).await;
    assert_eq!(t[0]["gateway"], "stripe");
}

#[tokio::test]
async fn refunds_go_back_through_the_gateway_and_set_refunded_or_partially_refunded() {
    let sb = store().await;
    let id = sb.create_order(
        "demo",
        OrderSpec {
            payment_gateway: "stripe".into(),
            tax_rate: "0.1".parse().unwrap(),
            lines: shirts(3),
            ..OrderSpec::default()
        },
    );
    let line = get(&sb, &format!("/v2/orders/{id}/products"))
        .await
        .1
        .unwrap()[0]["id"]
        .as_u64()
        .unwrap();
    // One shirt (22.00 with tax): 5.00 to store credit, 17.00 back to the card.
    sb.create_refund(
        "demo",
        id,
        RefundSpec {
            items: vec![RefundItemSpec::Product {
                line_id: line,
                quantity: 1,
            }],
            to_store_credit: "5.00".parse().unwrap(),
            ..RefundSpec::default()
        },
    );
    let (_, refunds) = get(&sb, &format!("/v3/orders/{id}/payment_actions/refunds")).await;
    let payments = refunds.unwrap()["data"][0]["payments"].clone();
    let providers: Vec<(&str, f64)> = payments
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["provider_id"].as_str().unwrap(),
                p["amount"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(providers, [("storecredit", 5.0), ("stripe", 17.0)]);
    let o = order(&sb, id).await;
    assert_eq!(o["status_id"], 14);
    assert_eq!(o["status"], "Partially Refunded");
    assert_eq!(o["payment_status"], "partially refunded");

    let t = transactions(&sb, id).await;
    let refunds: Vec<(&str, &str, f64)> = t
        .iter()
        .filter(|t| t["event"] == "refund")
        .map(|t| {
            (
                t["method"].as_str().unwrap(),
                t["gateway"].as_str().unwrap(),
                t["amount"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        refunds,
        [
            ("store_credit", "storecredit", 5.0),
            ("credit_card", "stripe", 17.0)
        ]
    );
    let card_refund = t
        .iter()
        .find(|t| t["event"] == "refund" && t["gateway"] == "stripe")
        .unwrap();
    assert_eq!(card_refund["reference_transaction_id"], t[0]["id"]);

    // A cancelled order set back, then refunded for the rest: Refunded, not its old status.
    sb.set_status("demo", id, 5);
    sb.set_status("demo", id, 11);
    sb.create_refund(
        "demo",
        id,
        RefundSpec {
            items: vec![RefundItemSpec::Product {
                line_id: line,
                quantity: 2,
            }],
            ..RefundSpec::default()
        },
    );
    let o = order(&sb, id).await;
    assert_eq!(o["status_id"], 4);
    assert_eq!(o["status"], "Refunded");
    assert_eq!(o["payment_status"], "refunded");
    let t = transactions(&sb, id).await;
    let refunded: f64 = t
        .iter()
        .filter(|t| t["event"] == "refund")
        .map(|t| t["amount"].as_f64().unwrap())
        .sum();
    assert_eq!(refunded, 66.0);
}

#[tokio::test]
async fn a_refund_in_one_go_makes_the_order_refunded() {
    let sb = store().await;
    let id = sb.create_order(
        "demo",
        OrderSpec {
            currency: "JPY".into(),
            lines: vec![LineSpec {
                product_id: 7,
                quantity: 1,
                unit_price: Some("2500".parse().unwrap()),
                ..LineSpec::default()
            }],
            shipping: "500".parse().unwrap(),
            ..OrderSpec::default()
        },
    );
    sb.create_refund(
        "demo",
        id,
        RefundSpec {
            items: vec![RefundItemSpec::Order {
                amount: "3000".parse().unwrap(),
            }],
            ..RefundSpec::default()
        },
    );
    let o = order(&sb, id).await;
    assert_eq!(o["status"], "Refunded");
    assert_eq!(o["payment_status"], "refunded");
}

#[tokio::test]
async fn an_order_without_payments_has_no_transactions_and_an_unknown_order_none_either() {
    let sb = store().await;
    let free = sb.create_order(
        "demo",
        OrderSpec {
            lines: vec![LineSpec {
                product_id: 7,
                quantity: 1,
                unit_price: Some("0".parse().unwrap()),
                ..LineSpec::default()
            }],
            ..OrderSpec::default()
        },
    );
    let o = order(&sb, free).await;
    assert_eq!(o["total_inc_tax"], "0.0000");
    assert_eq!(o["payment_provider_id"], "", "no gateway was used");
    let (status, body) = get(&sb, &format!("/v3/orders/{free}/transactions")).await;
    assert_eq!(status, 204);
    assert!(body.is_none());

    let (status, body) = get(&sb, "/v3/orders/424242/transactions").await;
    assert_eq!(status, 404);
    let body = body.unwrap();
    assert_eq!(body["status"], 404);
    assert!(body["title"].is_string());

    // Paid in full with store credit: a transaction, but no gateway and no gateway id.
    let credit = sb.create_order(
        "demo",
        OrderSpec {
            lines: shirts(1),
            store_credit_amount: "20.00".parse().unwrap(),
            ..OrderSpec::default()
        },
    );
    assert_eq!(order(&sb, credit).await["payment_provider_id"], "");
    let t = transactions(&sb, credit).await;
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["gateway"], "storecredit");
}

#[tokio::test]
async fn the_transactions_endpoint_is_rate_limited_and_faulted_like_the_others() {
    let sb = store().await;
    let id = sb.create_order(
        "demo",
        OrderSpec {
            lines: shirts(1),
            ..OrderSpec::default()
        },
    );
    sb.inject(
        "demo",
        sandbox::bigcommerce::Fault::Status {
            status: 503,
            times: 1,
            path: Some("/transactions".into()),
        },
    );
    let (status, _) = get(&sb, &format!("/v3/orders/{id}/transactions")).await;
    assert_eq!(status, 503);
    let r = reqwest::Client::new()
        .get(format!(
            "{}/v3/orders/{id}/transactions",
            sb.store_url("demo")
        ))
        .header("X-Auth-Token", "tok")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["X-Rate-Limit-Requests-Quota"], "150");
    assert_eq!(r.headers()["X-Rate-Limit-Requests-Left"], "148");
}
