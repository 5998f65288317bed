//! Contract tests against BigCommerce's official OpenAPI specs (`tests/specs/bigcommerce`):
//!
//! - every request the client sends, and every answer the sandbox gives it, is checked by
//!   `infra/contract/validate_bigcommerce.py` with openapi-core (installed by `infra/test.sh`);
//! - the validator itself is shown to reject violations;
//! - the specs' own response examples parse with the client's models.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::Utc;
use common::bigcommerce::api::{
    CatalogProduct, Channel, Hook, HookUpdate, Metafield, NewHook, RefundPolicy, TimeWindow,
};
use common::bigcommerce::bundle::RawCategory;
use common::bigcommerce::{BigCommerceClient, ClientSettings, Order, OrderProduct, Refund};
use common::ports::BigCommerceApi;
use rust_decimal::Decimal;
use sandbox::bigcommerce::{
    BigCommerceSandbox, LineKind, LineSpec, OrderSpec, ProductSpec, RefundItemSpec, RefundSpec,
    SandboxOptions, StoreSpec,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const HASH: &str = "contract1";
const TOKEN: &str = "contract-token";

fn validate(exchanges: &Path) -> (i32, String) {
    let out = Command::new(crate::support::python())
        .arg(crate::support::repo_root().join("infra/contract/validate_bigcommerce.py"))
        .arg("--specs")
        .arg(crate::support::repo_root().join("tests/specs/bigcommerce"))
        .arg(exchanges)
        .output()
        .expect("run the contract checker");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn write_lines(name: &str, lines: &[Value]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn what_the_client_sends_and_the_sandbox_answers_follows_the_specs() {
    let sb = BigCommerceSandbox::start(SandboxOptions {
        quota: 10_000,
        ..SandboxOptions::default()
    })
    .await;
    sb.add_store(StoreSpec {
        hash: HASH.into(),
        access_token: TOKEN.into(),
        client_id: "c".into(),
        client_secret: "s".into(),
        store_id: "7".into(),
    });
    sb.add_category(HASH, 20, 0, "Apparel");
    sb.add_category(HASH, 21, 20, "Shirts");
    sb.add_channel(HASH, 2, "EU storefront");
    for id in 1..=600 {
        sb.add_product(
            HASH,
            ProductSpec {
                id,
                name: format!("P{id}"),
                sku: format!("S{id}"),
                price: Decimal::new(999, 2),
                categories: vec![21],
            },
        );
    }
    let line = |p: u64, kind: LineKind| LineSpec {
        product_id: p,
        quantity: 2,
        kind,
        discount: Decimal::new(100, 2),
        ..LineSpec::default()
    };
    let plain = sb.create_order(
        HASH,
        OrderSpec {
            tax_rate: Decimal::new(8, 2),
            shipping: Decimal::new(500, 2),
            lines: vec![line(1, LineKind::Physical), line(590, LineKind::Physical)],
            ..OrderSpec::default()
        },
    );
    let legacy = sb.create_order(
        HASH,
        OrderSpec {
            legacy: true,
            lines: vec![line(2, LineKind::Physical)],
            ..OrderSpec::default()
        },
    );
    let mixed = sb.create_order(
        HASH,
        OrderSpec {
            tax_inclusive: true,
            tax_rate: Decimal::new(19, 2),
            currency: "EUR".into(),
            channel_id: 2,
            lines: vec![
                LineSpec {
                    product_id: 3,
                    quantity: 1,
                    bundle_children: vec![(4, 1)],
                    ..LineSpec::default()
                },
                line(5, LineKind::Digital),
                LineSpec {
                    product_id: 0,
                    quantity: 1,
                    kind: LineKind::Giftcertificate,
                    unit_price: Some(Decimal::new(2000, 2)),
                    name: "Gift Certificate".into(),
                    ..LineSpec::default()
                },
            ],
            ..OrderSpec::default()
        },
    );
    let c = BigCommerceClient::new(
        HASH,
        Some(&sb.store_url(HASH)),
        TOKEN.into(),
        ClientSettings {
            warm_catalog_max_pages: 1,
            ..ClientSettings::default()
        },
    )
    .unwrap();
    let b = c
        .fetch_bundle(plain, RefundPolicy::IfRefunded)
        .await
        .unwrap();
    sb.create_refund(
        HASH,
        plain,
        RefundSpec {
            items: vec![
                RefundItemSpec::Product {
                    line_id: b.lines[0].id,
                    quantity: 1,
                },
                RefundItemSpec::Shipping {
                    amount: Decimal::new(200, 2),
                },
            ],
            to_store_credit: Decimal::new(500, 2),
            reason: "damaged".into(),
            ..RefundSpec::default()
        },
    );
    c.fetch_bundle(plain, RefundPolicy::IfRefunded)
        .await
        .unwrap();
    c.fetch_bundle(legacy, RefundPolicy::Always).await.unwrap();
    c.fetch_bundle(mixed, RefundPolicy::Never).await.unwrap();
    let now = Utc::now();
    c.orders_modified(TimeWindow {
        from: now - chrono::Duration::hours(1),
        to: now + chrono::Duration::hours(1),
    })
    .await
    .unwrap();
    c.orders_modified(TimeWindow {
        from: now - chrono::Duration::days(9),
        to: now - chrono::Duration::days(8),
    })
    .await
    .unwrap();
    c.refunds_created(TimeWindow {
        from: now - chrono::Duration::hours(1),
        to: now + chrono::Duration::hours(1),
    })
    .await
    .unwrap();
    c.channels().await.unwrap();
    let hook = c
        .create_hook(&NewHook {
            scope: "store/order/created".into(),
            destination: "https://connector.example.com/webhook".into(),
            is_active: true,
            headers: [("x-mlc-connector".to_string(), "us".to_string())].into(),
        })
        .await
        .unwrap();
    c.update_hook(
        hook.id,
        &HookUpdate {
            is_active: Some(false),
            ..HookUpdate::default()
        },
    )
    .await
    .unwrap();
    c.hooks().await.unwrap();
    c.put_order_metafield(plain, "ml_connector", "journal", "BC-us-100-sale")
        .await
        .unwrap();
    c.put_order_metafield(plain, "ml_connector", "journal", "BC-us-100-sale (posted)")
        .await
        .unwrap();
    assert!(c.fetch_bundle(424_242, RefundPolicy::Never).await.is_err());
    // The gateway of a paid order, and an order with no transaction at all (204).
    let paid = c.order_transactions(plain).await.unwrap();
    assert!(paid.iter().any(|t| t.is_gateway_payment()), "{paid:?}");
    assert!(c.order_transactions(424_242).await.is_err());
    let free = sb.create_order(
        HASH,
        OrderSpec {
            lines: vec![LineSpec {
                product_id: 1,
                quantity: 1,
                unit_price: Some(Decimal::ZERO),
                ..LineSpec::default()
            }],
            ..OrderSpec::default()
        },
    );
    assert!(c.order_transactions(free).await.unwrap().is_empty());
    let wrong = BigCommerceClient::new(
        HASH,
        Some(&sb.store_url(HASH)),
        "wrong".into(),
        ClientSettings::default(),
    )
    .unwrap();
    assert!(wrong.channels().await.is_err());

    for e in sb.exchanges() {
        let h = &e.request_headers;
        assert!(
            h.get("user-agent")
                .is_some_and(|ua| ua.starts_with("ml-connector/")),
            "{} {}: {h:?}",
            e.method,
            e.path
        );
        assert_eq!(
            h.get("accept").map(String::as_str),
            Some("application/json")
        );
        assert_eq!(
            h.get("content-type").map(String::as_str),
            Some("application/json")
        );
    }
    let exchanges: Vec<Value> = sb
        .exchanges()
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    let operations: std::collections::BTreeSet<String> = exchanges
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["method"].as_str().unwrap(),
                e["path"]
                    .as_str()
                    .unwrap()
                    .split('/')
                    .skip(3)
                    .map(|s| if s.parse::<u64>().is_ok() { "{id}" } else { s })
                    .collect::<Vec<_>>()
                    .join("/")
            )
        })
        .collect();
    for op in [
        "GET v2/orders/{id}",
        "GET v2/orders/{id}/products",
        "GET v2/orders",
        "GET v3/catalog/products",
        "GET v3/catalog/trees/categories",
        "GET v3/orders/{id}/payment_actions/refunds",
        "GET v3/orders/payment_actions/refunds",
        "GET v3/orders/{id}/transactions",
        "GET v3/channels",
        "GET v3/hooks",
        "POST v3/hooks",
        "PUT v3/hooks/{id}",
        "POST v3/orders/{id}/metafields",
        "GET v3/orders/{id}/metafields",
        "PUT v3/orders/{id}/metafields/{id}",
    ] {
        assert!(
            operations.contains(op),
            "scenario does not exercise {op}: {operations:?}"
        );
    }
    let file = write_lines("bigcommerce-exchanges.jsonl", &exchanges);
    let (code, report) = validate(&file);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains(&format!(
            "checked {n} exchanges: {n} conform, 0 do not",
            n = exchanges.len()
        )),
        "{report}"
    );
}

#[test]
fn the_contract_checker_rejects_what_the_specs_do_not_allow() {
    let ok_order =
        json!({"id": 1, "date_created": "Tue, 05 Mar 2019 21:40:11 +0000", "status_id": 11});
    let headers = json!({"accept": "application/json", "content-type": "application/json", "x-auth-token": "(present)"});
    let exchange = |method: &str,
                    path: &str,
                    query: &str,
                    body: Value,
                    status: u16,
                    response: Value| {
        json!({"store": "s", "method": method, "path": path, "query": query, "request_headers": headers,
            "request_body": body, "status": status, "response_headers": {}, "response_body": response})
    };
    let lines = vec![
        exchange(
            "GET",
            "/stores/s/v2/orders/1",
            "",
            Value::Null,
            200,
            ok_order.clone(),
        ),
        exchange(
            "GET",
            "/stores/s/v2/orders/1",
            "",
            Value::Null,
            200,
            json!({"id": "one"}),
        ),
        exchange(
            "GET",
            "/stores/s/v2/orders",
            "min_date=2024-01-01",
            Value::Null,
            204,
            Value::Null,
        ),
        exchange(
            "POST",
            "/stores/s/v3/hooks",
            "",
            json!({"scope": "store/order/created"}),
            200,
            json!({"data": {"id": 1, "scope": "store/order/created", "destination": "https://x"}, "meta": {}}),
        ),
        exchange(
            "GET",
            "/stores/s/v3/frobnicate",
            "",
            Value::Null,
            200,
            json!({}),
        ),
        exchange(
            "GET",
            "/stores/s/v3/channels",
            "",
            Value::Null,
            503,
            json!("<html>oops</html>"),
        ),
        // A store with no hooks lists none, though the spec gives the list `minItems: 1`…
        exchange(
            "GET",
            "/stores/s/v3/hooks",
            "page=1&limit=250",
            Value::Null,
            200,
            json!({"data": [], "meta": {"pagination": {"total": 0, "count": 0, "per_page": 250,
                "current_page": 1, "total_pages": 1, "links": {"current": "?page=1&limit=250"}}}}),
        ),
        // …and that allowance covers nothing else of the answer.
        exchange(
            "GET",
            "/stores/s/v3/hooks",
            "page=1&limit=250",
            Value::Null,
            200,
            json!({"data": [], "meta": "none"}),
        ),
    ];
    let file = write_lines("bigcommerce-violations.jsonl", &lines);
    let (code, report) = validate(&file);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("checked 8 exchanges: 2 conform, 6 do not"),
        "{report}"
    );
    for expected in [
        "#2 GET /stores/s/v2/orders/1? -> 200: response 200: id: 'one' is not of type 'integer'",
        "#3 GET /stores/s/v2/orders?min_date=2024-01-01 -> 204: request: query parameter 'min_date' is not documented",
        "#4 POST /stores/s/v3/hooks? -> 200: request:",
        "#5 GET /stores/s/v3/frobnicate? -> 200: no spec covers /stores/s/v3/frobnicate",
        "#6 GET /stores/s/v3/channels? -> 503: response: status 503 is undocumented and not BigCommerce's error shape",
        "#8 GET /stores/s/v3/hooks?page=1&limit=250 -> 200: response 200: data: [] should be non-empty; meta: 'none' is not of type 'object'",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in:\n{report}"
        );
    }
}

/// Response examples of `method path` (status 200) in a spec file.
fn examples(file: &str, path: &str, method: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(
        crate::support::repo_root()
            .join("tests/specs/bigcommerce")
            .join(file),
    )
    .unwrap();
    let spec: Value = serde_norway::from_str(&text).unwrap();
    let resolve = |node: &Value| -> Value {
        let mut node = node.clone();
        while let Some(r) = node.get("$ref").and_then(Value::as_str).map(str::to_string) {
            node = r
                .trim_start_matches("#/")
                .split('/')
                .fold(&spec, |n, part| &n[part])
                .clone();
        }
        node
    };
    let op = &spec["paths"][path][method];
    let response = resolve(&op["responses"]["200"]);
    let content = &response["content"]["application/json"];
    let mut out = Vec::new();
    if let Some(e) = content.get("example") {
        out.push(e.clone());
    }
    if let Some(map) = content.get("examples").and_then(Value::as_object) {
        out.extend(map.values().map(|e| resolve(e)["value"].clone()));
    }
    out
}

fn parse_all<T: DeserializeOwned>(what: &str, values: Vec<Value>) -> usize {
    for v in &values {
        if let Err(e) = serde_path_to_error::deserialize::<_, T>(v) {
            panic!(
                "{what}: example does not parse at {}: {}\n{v}",
                e.path(),
                e.inner()
            );
        }
    }
    values.len()
}

fn data_items(examples: Vec<Value>) -> Vec<Value> {
    examples
        .into_iter()
        .flat_map(|e| match &e["data"] {
            Value::Array(items) => items.clone(),
            Value::Object(_) => vec![e["data"].clone()],
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn the_specs_own_examples_parse_with_the_client_models() {
    let orders = examples("orders.v2.oas2.yml", "/orders/{order_id}", "get");
    let listed: Vec<Value> = examples("orders.v2.oas2.yml", "/orders", "get")
        .into_iter()
        .flat_map(|e| e.as_array().cloned().unwrap_or_default())
        .collect();
    let lines: Vec<Value> = examples("orders.v2.oas2.yml", "/orders/{order_id}/products", "get")
        .into_iter()
        .flat_map(|e| e.as_array().cloned().unwrap_or_default())
        .collect();
    let line_one = examples(
        "orders.v2.oas2.yml",
        "/orders/{order_id}/products/{product_id}",
        "get",
    );
    let mut parsed = 0;
    parsed += parse_all::<Order>("order", orders);
    parsed += parse_all::<Order>("order list", listed);
    parsed += parse_all::<OrderProduct>("order products", lines);
    parsed += parse_all::<OrderProduct>("order product", line_one);
    parsed += parse_all::<Refund>(
        "refunds",
        data_items(examples(
            "orders.v3.yml",
            "/orders/{order_id}/payment_actions/refunds",
            "get",
        )),
    );
    parsed += parse_all::<Refund>(
        "all refunds",
        data_items(examples(
            "orders.v3.yml",
            "/orders/payment_actions/refunds",
            "get",
        )),
    );
    parsed += parse_all::<Hook>(
        "hooks",
        data_items(examples("webhooks.v3.yml", "/hooks", "get")),
    );
    parsed += parse_all::<Hook>(
        "hook",
        data_items(examples("webhooks.v3.yml", "/hooks/{webhook_id}", "get")),
    );
    parsed += parse_all::<Channel>(
        "channels",
        data_items(examples("channels.v3.yml", "/channels", "get")),
    );
    parsed += parse_all::<CatalogProduct>(
        "products",
        data_items(examples(
            "products_catalog.v3.yml",
            "/catalog/products",
            "get",
        )),
    );
    parsed += parse_all::<RawCategory>(
        "tree categories",
        data_items(examples(
            "category-trees_catalog.v3.yml",
            "/catalog/trees/categories",
            "get",
        )),
    );
    parsed += parse_all::<Metafield>(
        "metafields",
        data_items(examples(
            "orders.v3.yml",
            "/orders/{order_id}/metafields",
            "get",
        )),
    );
    assert!(parsed >= 12, "only {parsed} examples found");
}

/// The shape of a JSON value: object keys with their shapes, the distinct shapes of an array's
/// items, the type of a scalar. Two answers of one shape are checked alike by a schema.
fn shape(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let fields: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{}", shape(v))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let kinds: std::collections::BTreeSet<String> = items.iter().map(shape).collect();
            format!("[{}]", kinds.into_iter().collect::<Vec<_>>().join("|"))
        }
        Value::String(_) => "s".into(),
        Value::Number(_) => "n".into(),
        Value::Bool(_) => "b".into(),
        Value::Null => "0".into(),
    }
}

/// An exchange's operation: method and path with its store and ids replaced.
fn operation(e: &Value) -> String {
    format!(
        "{} {}",
        e["method"].as_str().unwrap_or(""),
        e["path"]
            .as_str()
            .unwrap_or("")
            .split('/')
            .skip(3)
            .map(|s| if s.parse::<u64>().is_ok() { "{id}" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    )
}

/// Run by `infra/test.sh` after the workspace's tests, over what they left in
/// `MLC_BC_EXCHANGES`: every exchange the connector had with a sandbox store in any test (the
/// end-to-end pipeline, the fault tests, the CLI's) is checked against the specs. Exchanges of
/// one operation, status and shape are checked once (twice at most), which keeps the check to
/// seconds however many orders the tests made.
#[test]
#[ignore = "run by infra/test.sh after the workspace tests, over the exchanges they recorded"]
fn every_exchange_the_tests_had_with_the_store_follows_the_specs() {
    let dir = std::env::var_os(sandbox::bigcommerce::EXCHANGES_DIR).unwrap_or_else(|| {
        panic!(
            "{} is not set: infra/test.sh sets it for the workspace tests, then runs this",
            sandbox::bigcommerce::EXCHANGES_DIR
        )
    });
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", Path::new(&dir).display()))
        .map(|f| f.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut total = 0usize;
    let mut kept: Vec<Value> = Vec::new();
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    let mut operations = std::collections::BTreeSet::new();
    let mut statuses = std::collections::BTreeSet::new();
    for file in &files {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let e: Value = serde_json::from_str(line).unwrap();
            total += 1;
            operations.insert(operation(&e));
            statuses.insert(e["status"].as_u64().unwrap_or(0));
            let query_keys: std::collections::BTreeSet<&str> = e["query"]
                .as_str()
                .unwrap_or("")
                .split('&')
                .filter_map(|kv| kv.split('=').next())
                .collect();
            let key = format!(
                "{} {} {query_keys:?} {} {}",
                operation(&e),
                e["status"],
                shape(&e["request_body"]),
                shape(&e["response_body"])
            );
            let n = seen.entry(key).or_default();
            *n += 1;
            if *n <= 2 {
                kept.push(e);
            }
        }
    }
    let from = |prefix: &str| {
        files.iter().any(|f| {
            f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
    };
    // The run really covered the end-to-end pipeline and the fault tests.
    assert!(
        from("pipeline-"),
        "no exchanges of the e2e tests in {files:?}"
    );
    assert!(
        from("it-") && files.len() >= 20,
        "too few tests left exchanges: {files:?}"
    );
    for status in [200, 204, 401, 403, 404, 409, 422, 429, 500, 503] {
        assert!(
            statuses.contains(&status),
            "no exchange answered {status}: {statuses:?}"
        );
    }
    for op in [
        "GET v2/orders/{id}",
        "GET v2/orders",
        "GET v3/catalog/products",
        "GET v3/catalog/trees/categories",
        "GET v3/orders/{id}/payment_actions/refunds",
        "GET v3/orders/payment_actions/refunds",
        "GET v3/orders/{id}/transactions",
        "GET v3/channels",
        "GET v3/hooks",
        "POST v3/hooks",
        "PUT v3/hooks/{id}",
    ] {
        assert!(operations.contains(op), "no {op}: {operations:?}");
    }
    let file = write_lines("bigcommerce-recorded-exchanges.jsonl", &kept);
    let (code, report) = validate(&file);
    eprintln!(
        "{total} exchanges from {} tests; {} distinct by operation, status and shape, checked:\n{report}",
        files.len(),
        kept.len()
    );
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains(&format!(
            "checked {n} exchanges: {n} conform, 0 do not",
            n = kept.len()
        )),
        "{report}"
    );
}
