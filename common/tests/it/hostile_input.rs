//! What trying the connector as an attacker or a careless operator found (issue 10, item 4),
//! one test per hole, each written to fail before its fix: secrets quoted back by the document
//! parser, a bad webhook secret refusing every store, timestamps that overflow, two forms of
//! one delivery id, upstream bodies echoing credentials, a string-prefix https check, amounts
//! that overflow the journal builders, currency codes that are not ISO 4217.

use std::time::Duration;

use common::adapters::local_queue::LocalQueue;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::bigcommerce::webhook::{WebhookError, WebhookVerifier};
use common::config::ConnectorConfig;
use common::metrics::Metrics;
use common::ports::{Queue, SystemClock};
use common::posting::intake::{Accepted, Intake, Refusal};
use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::support::example_document;

/// The issues of a document that must be refused, as `path: message` lines.
fn issues(doc: &Value) -> Vec<String> {
    match ConnectorConfig::from_json(&doc.to_string(), "test") {
        Ok(_) => panic!("document was accepted"),
        Err(e) => e.issues.iter().map(ToString::to_string).collect(),
    }
}

/// The example document with inline webhook secrets, and its second store under its own hash
/// (another BigCommerce store, another API account).
fn two_stores() -> Value {
    let mut doc = example_document();
    doc["stores"][0]["credentials"]["client_secret"] = json!("secret-of-us");
    doc["stores"][1]["credentials"]["client_secret"] = json!("secret-of-k9");
    doc["stores"][1]["store_hash"] = json!("k9other");
    doc
}

fn order_event(hash: &str, order_id: u64) -> String {
    json!({"created_at": chrono::Utc::now().timestamp(), "store_id": "1001",
        "producer": format!("stores/{hash}"), "scope": "store/order/created",
        "hash": "3f9ea420af83450d7ef9f78b08c8af25b2213637",
        "data": {"type": "order", "id": order_id}})
    .to_string()
}

/// A delivery's headers: `id` as sent, signed over `signed_id` with `secret`.
fn signed(secret: &str, id: &str, signed_id: &str, body: &str) -> HeaderMap {
    let now = chrono::Utc::now().timestamp();
    let signature = WebhookVerifier::new(secret)
        .unwrap()
        .sign(signed_id, now, body.as_bytes());
    let mut h = HeaderMap::new();
    h.insert("webhook-id", HeaderValue::from_str(id).unwrap());
    h.insert("webhook-timestamp", HeaderValue::from(now));
    h.insert(
        "webhook-signature",
        HeaderValue::from_str(&signature).unwrap(),
    );
    h
}

/// Intake on an in-memory database, as the webhook function and `mlc serve` run it.
struct Desk {
    store: SqliteStore,
    queue: LocalQueue,
}

impl Desk {
    fn new() -> Self {
        let db = SqliteDb::in_memory().unwrap();
        Self {
            store: SqliteStore::new(db.clone()),
            queue: LocalQueue::new(db, "orders", 5),
        }
    }

    async fn take(
        &self,
        config: &ConnectorConfig,
        headers: &HeaderMap,
        body: &str,
    ) -> Result<Accepted, Refusal> {
        Intake {
            config,
            store: &self.store,
            queue: &self.queue,
            clock: &SystemClock,
        }
        .take(headers, body.as_bytes(), &mut Metrics::default())
        .await
    }

    async fn queued(&self) -> usize {
        self.queue
            .receive(10, Duration::from_secs(30))
            .await
            .unwrap()
            .len()
    }
}

// 1. A secret in the wrong place of the document.

#[test]
fn a_secret_in_the_wrong_place_of_the_document_is_never_quoted_back() {
    let mut doc = example_document();
    doc["oracle"]["auth"] = json!("oracle-client-secret-3f9a");
    doc["stores"][0]["credentials"] = json!("bc-access-token-77c1");
    doc["stores"][1]["credentials"] = json!(998877665544_u64);
    let err = ConnectorConfig::from_json(&doc.to_string(), "connector.json").unwrap_err();
    let text = format!("{err} {err:?}");
    for secret in [
        "oracle-client-secret-3f9a",
        "bc-access-token-77c1",
        "998877665544",
    ] {
        assert!(!text.contains(secret), "{secret} quoted back: {text}");
    }
    // Still says where, and what was expected there.
    assert_eq!(
        err.issues
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![
            "stores[0].credentials: invalid type: string, expected struct StoreCredentials",
            "stores[1].credentials: invalid type: integer, expected struct StoreCredentials",
            "oracle.auth: invalid type: string, expected internally tagged enum OracleAuth",
        ]
    );
    // A whole section replaced by a pasted value is not quoted either.
    let mut doc = example_document();
    doc["oracle"] = json!("Basic dXNlcjpodW50ZXIy \"quoted\", expected");
    let lines = issues(&doc);
    assert_eq!(
        lines,
        vec!["oracle: invalid type: string, expected struct RawOracle"]
    );
}

// 2. A webhook secret that cannot be used.

#[test]
fn a_whsec_secret_that_is_not_base64_is_refused_when_the_document_loads() {
    let mut doc = two_stores();
    doc["stores"][1]["credentials"]["client_secret"] = json!("whsec_not*base64!");
    let lines = issues(&doc);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(
            "stores[1].credentials.client_secret: the part after whsec_ is not valid base64"
        ),
        "{lines:?}"
    );
    assert!(!lines[0].contains("not*base64!"), "{lines:?}");
    // A valid one loads.
    doc["stores"][1]["credentials"]["client_secret"] =
        json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    ConnectorConfig::from_json(&doc.to_string(), "test").unwrap();
}

#[tokio::test]
async fn one_stores_unusable_webhook_secret_never_refuses_another_stores_deliveries() {
    let mut doc = two_stores();
    doc["stores"][0]["credentials"]["client_secret"] =
        json!({"env": "MLC_TEST_SURELY_UNSET_WEBHOOK_SECRET"});
    let config = ConnectorConfig::from_json(&doc.to_string(), "test").unwrap();
    let desk = Desk::new();
    let body = order_event("k9other", 41);
    let got = desk
        .take(
            &config,
            &signed("secret-of-k9", "msg_k9", "msg_k9", &body),
            &body,
        )
        .await;
    assert!(
        matches!(got, Ok(Accepted::Queued { order_id: 41, .. })),
        "{got:?}"
    );
    assert_eq!(desk.queued().await, 1);
    // The store whose secret cannot be read is not answered as unauthenticated (its secret may
    // come back): retry later, and the answer names no configuration.
    let body = order_event("nw4x7k2p", 42);
    let got = desk
        .take(
            &config,
            &signed("secret-of-us", "msg_us", "msg_us", &body),
            &body,
        )
        .await;
    let Err(refusal) = got else { panic!("{got:?}") };
    assert_eq!(refusal.status(), 503, "{refusal}");
    let public = refusal.public_message();
    assert!(
        !public.contains("MLC_TEST_SURELY_UNSET_WEBHOOK_SECRET") && !public.contains("stores["),
        "{public}"
    );
}

// 3. A timestamp at the edge of i64.

#[test]
fn a_timestamp_at_the_edge_of_i64_is_stale_not_a_panic() {
    let verifier = WebhookVerifier::new("secret-of-us").unwrap();
    for ts in [i64::MIN, i64::MIN + 1, i64::MAX, -1] {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", HeaderValue::from_static("msg_edge"));
        h.insert("webhook-timestamp", HeaderValue::from(ts));
        h.insert(
            "webhook-signature",
            HeaderValue::from_str(&verifier.sign("msg_edge", ts, b"{}")).unwrap(),
        );
        let got = verifier.verify(&h, b"{}", 1_773_150_000);
        assert!(
            matches!(got, Err(WebhookError::Stale { timestamp, .. }) if timestamp == ts),
            "{ts}: {got:?}"
        );
    }
}

// 4. One form of the delivery id.

#[tokio::test]
async fn the_delivery_id_is_deduplicated_in_the_form_that_was_signed() {
    let config = ConnectorConfig::from_json(&two_stores().to_string(), "test").unwrap();
    let desk = Desk::new();
    let body = order_event("nw4x7k2p", 43);
    // The signature covers the trimmed id; the same delivery sent again with the id padded is
    // the same delivery.
    let first = desk
        .take(
            &config,
            &signed("secret-of-us", "msg_43", "msg_43", &body),
            &body,
        )
        .await;
    assert!(matches!(first, Ok(Accepted::Queued { .. })), "{first:?}");
    let again = desk
        .take(
            &config,
            &signed("secret-of-us", " msg_43 ", "msg_43", &body),
            &body,
        )
        .await;
    assert_eq!(again, Ok(Accepted::Duplicate));
    assert_eq!(desk.queued().await, 1);
}

// 6. The https requirement.

#[test]
fn plain_http_is_allowed_only_for_a_loopback_host() {
    for url in [
        "http://localhost@pod.example.com",
        "http://localhost:80@pod.example.com/",
        "http://localhost.evil.example.com",
        "http://127.0.0.1.nip.io",
        "http://[::1].evil.example.com",
        "http://pod.example.com",
        "ftp://localhost",
        "https://",
    ] {
        let mut doc = example_document();
        doc["oracle"]["base_url"] = json!(url);
        let lines = issues(&doc);
        assert_eq!(lines.len(), 1, "{url}: {lines:?}");
        assert!(
            lines[0].starts_with("oracle.base_url: "),
            "{url}: {lines:?}"
        );
    }
    // Credentials in a URL would travel into every log line that names it.
    let mut doc = example_document();
    doc["oracle"]["auth"]["token_url"] =
        json!("https://admin:hunter2@idcs.example.com/oauth2/v1/token");
    let lines = issues(&doc);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("oracle.auth.token_url: ") && !lines[0].contains("hunter2"),
        "{lines:?}"
    );
    for url in [
        "https://pod.example.com",
        "http://localhost:9000",
        "http://127.0.0.1:9000",
        "http://127.8.9.10/x",
        "http://[::1]:8080/fscm",
    ] {
        let mut doc = example_document();
        doc["oracle"]["base_url"] = json!(url);
        ConnectorConfig::from_json(&doc.to_string(), "test")
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }
}

// 9. Currency codes that are not ISO 4217.

#[test]
fn a_currency_code_that_is_not_iso_4217_is_bad_input() {
    use common::money::Currency;
    for code in ["XBT", "ABC", "BTC", "RMB", "XXX", "XTS"] {
        let err = Currency::parse(code).unwrap_err();
        assert!(err.to_string().contains("ISO 4217"), "{code}: {err}");
    }
    for code in ["USD", "eur", "JPY", "KWD", "CHF", "XAF", "XCG", "ZWG"] {
        Currency::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
    }
    // In the document as well: a ledger in a made-up currency is refused when it loads.
    let mut doc = example_document();
    doc["oracle"]["ledgers"][0]["currency"] = json!("XBT");
    let lines = issues(&doc);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("oracle.ledgers[0].currency: \"XBT\" is not"),
        "{lines:?}"
    );
    // An order in one cannot be journalised: the builders say why instead of guessing cents.
    let config = crate::support::example_config();
    let mut order = crate::support::order(610);
    order["currency_code"] = json!("XBT");
    order["default_currency_code"] = json!("XBT");
    order["subtotal_ex_tax"] = json!("10.0000");
    order["total_ex_tax"] = json!("10.0000");
    order["total_inc_tax"] = json!("10.0000");
    let bundle =
        crate::support::bundle(order, vec![crate::support::line(1, 77, 1, "10.00", "0.00")]);
    let ctx = common::journal::JournalContext::new(&config, "us").unwrap();
    let err = common::journal::build_sale(&ctx, &bundle).unwrap_err();
    assert!(
        matches!(
            err,
            common::journal::JournalError::Currency { order: 610, .. }
        ),
        "{err}"
    );
    assert!(err.is_bad_input(), "{err}");
    assert!(err.to_string().contains("\"XBT\""), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_in_a_currency_that_is_not_iso_4217_is_held_with_that_reason_not_posted() {
    use common::posting::poller::poll;
    use common::posting::poster::drain_queue;
    use common::state::AuditKind;
    use sandbox::bigcommerce::SandboxOptions;
    use sandbox::demo::{HASH, document_for, seeded_pod, seeded_store, us_order};
    use sandbox::oracle::PodOptions;

    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&example_document(), &sb, &pod);
    let db = SqliteDb::in_memory().unwrap();
    let svc = crate::support::pipeline::services(&doc, &db);
    let mut spec = us_order(1, 0);
    spec.currency = "XBT".into();
    let id = sb.create_order(HASH, spec);
    let mut held = None;
    for _ in 0..100 {
        poll(&svc).await;
        for report in drain_queue(&svc, svc.queue.as_ref(), Duration::from_secs(1))
            .await
            .unwrap()
        {
            assert!(report.retry.is_empty(), "not retried: {:?}", report.retry);
        }
        let story = svc.store.audit_of_order("us", id).await.unwrap();
        held = story.into_iter().find(|e| e.kind == AuditKind::Held);
        if held.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let held = held.expect("the order is held");
    let reason = held.detail["reason"].as_str().unwrap();
    assert!(
        reason.contains("\"XBT\"") && reason.contains("ISO 4217"),
        "{reason}"
    );
    assert!(pod.batches().is_empty(), "nothing posted");
    assert_eq!(pod.imports(), 0, "nothing sent");
}

// 7. Amounts near the decimal type's maximum.

#[test]
fn amounts_near_the_decimal_maximum_hold_the_order_instead_of_panicking() {
    use common::journal::{JournalContext, JournalError, build_sale};
    use common::posting::decide::decide;
    use common::posting::preview::preview;

    const MAX: &str = "79228162514264337593543950335";
    const HALF: &str = "39614081257132168796771975168";
    let config = crate::support::example_config();
    let ctx = JournalContext::new(&config, "us").unwrap();
    let mut cases: Vec<(&str, Value)> = Vec::new();
    // One line at the maximum, the order's totals with it.
    let mut o = crate::support::order(620);
    for field in [
        "subtotal_ex_tax",
        "subtotal_inc_tax",
        "total_ex_tax",
        "total_inc_tax",
    ] {
        o[field] = json!(MAX);
    }
    let mut line = crate::support::line(1, 77, 1, "1.00", "0.00");
    for field in [
        "price_ex_tax",
        "price_inc_tax",
        "total_ex_tax",
        "total_inc_tax",
    ] {
        line[field] = json!(MAX);
    }
    cases.push((
        "a line at the maximum",
        json!({"order": o, "products": [line]}),
    ));
    // Two halves that only overflow once added (lines, then shipping on top).
    let mut o = crate::support::order(621);
    o["subtotal_ex_tax"] = json!(HALF);
    o["shipping_cost_ex_tax"] = json!(HALF);
    o["shipping_cost_inc_tax"] = json!(HALF);
    o["total_ex_tax"] = json!(HALF);
    o["total_inc_tax"] = json!(HALF);
    let mut line = crate::support::line(1, 77, 1, "1.00", "0.00");
    for field in [
        "price_ex_tax",
        "price_inc_tax",
        "total_ex_tax",
        "total_inc_tax",
    ] {
        line[field] = json!(HALF);
    }
    cases.push((
        "halves that add past it",
        json!({"order": o, "products": [line]}),
    ));
    // Tenders past it: store credit and gift certificates on top of a maximal total.
    let mut o = crate::support::order(622);
    o["subtotal_ex_tax"] = json!("10.0000");
    o["total_ex_tax"] = json!("10.0000");
    o["total_inc_tax"] = json!(MAX);
    o["store_credit_amount"] = json!(MAX);
    o["gift_certificate_amount"] = json!(MAX);
    cases.push((
        "tenders past it",
        json!({"order": o, "products": [crate::support::line(1, 77, 1, "10.00", "0.00")]}),
    ));
    for (what, doc) in cases {
        let bundle = crate::support::bundle_with(doc);
        let order_id = bundle.order.id;
        let err = build_sale(&ctx, &bundle).expect_err(what);
        assert!(
            matches!(err, JournalError::AmountOutOfRange { order, .. } if order == order_id),
            "{what}: {err}"
        );
        assert!(err.is_bad_input(), "{what}: {err}");
        assert!(err.to_string().contains("too large"), "{what}: {err}");
        // The poster decides with the same builders: an error, which it records as held with
        // this reason, and the rest of its batch keeps flowing.
        let held = decide(&ctx, &bundle, &[]).expect_err(what);
        assert_eq!(held.to_string(), err.to_string(), "{what}");
        assert!(preview(&config, "us", &bundle).is_err(), "{what}");
    }
}

// 5. Upstream bodies that echo credentials.

/// An upstream that echoes back every credential it was sent, in the shapes error bodies take
/// (a JSON `detail`, an `access_token` field, an `Authorization` line, a query parameter), and
/// pads its answer to ten thousand characters. Its token endpoint answers `token_status`:
/// 200 with a bearer token, or that status with the echo.
async fn echoing_upstream(token_status: u16) -> String {
    use axum::body::Bytes;
    let app = axum::Router::new().fallback(
        move |uri: http::Uri, headers: HeaderMap, _body: Bytes| async move {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            let auth = header("authorization");
            let bc_token = header("x-auth-token");
            let bearer = auth.strip_prefix("Bearer ").unwrap_or("").to_string();
            let basic = auth.strip_prefix("Basic ").unwrap_or("").to_string();
            let basic_plain = {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(&basic)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()
            };
            let echo = format!(
                "refused Authorization: {auth}\nX-Auth-Token: {bc_token} \"access_token\": \"{bearer}\" ?access_token={bc_token}&client_secret={basic_plain} {bc_token} {basic_plain} {}",
                "x".repeat(10_000)
            );
            if uri.path().ends_with("/token") && token_status == 200 {
                return (
                    http::StatusCode::OK,
                    json!({"access_token": "fusion-bearer-9c1d4e7a", "token_type": "Bearer", "expires_in": 3600})
                        .to_string(),
                );
            }
            let status = if uri.path().ends_with("/token") {
                token_status
            } else {
                400
            };
            let body = json!({
                "title": echo.clone(),
                "detail": echo.clone(),
                "error": "invalid_client",
                "error_description": echo.clone(),
                "o:errorDetails": [{"detail": echo.clone(), "o:errorCode": format!("E {bearer}")}],
            });
            (
                http::StatusCode::from_u16(status).unwrap(),
                body.to_string(),
            )
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// What an error may carry of an upstream body: no credential, and not all of it.
fn assert_clean(what: &str, error: &str, secrets: &[&str]) {
    let shown: String = error.chars().take(600).collect();
    for secret in secrets {
        assert!(!error.contains(secret), "{what} leaks {secret}: {shown}");
    }
    assert!(
        !error.contains('\n'),
        "{what}: a line break from upstream would forge a log line: {shown}"
    );
    assert!(
        error.len() < 2_000,
        "{what}: the upstream body is not capped ({} characters)",
        error.len()
    );
}

#[tokio::test]
async fn upstream_error_bodies_never_carry_a_credential_into_an_error() {
    use common::bigcommerce::{BigCommerceClient, ClientSettings};
    use common::oracle::{FusionClient, FusionSettings};
    use common::ports::{BigCommerceApi, OracleApi};

    // BigCommerce: the access token echoed in a 400's title and detail.
    let url = echoing_upstream(200).await;
    let bc = BigCommerceClient::new(
        "k9other",
        Some(&format!("{url}/stores/k9other")),
        "bc-access-token-5f2e8a".into(),
        ClientSettings::default(),
    )
    .unwrap();
    let err = bc.channels().await.unwrap_err().to_string();
    assert!(err.contains("HTTP 400"), "{err}");
    assert_clean("BigCommerce", &err, &["bc-access-token-5f2e8a"]);

    // Fusion with OAuth: the bearer token echoed by a 400 (and by its error code).
    let mut doc = example_document();
    doc["oracle"]["base_url"] = json!(url);
    doc["oracle"]["auth"]["token_url"] = json!(format!("{url}/oauth2/v1/token"));
    doc["oracle"]["auth"]["client_id"] = json!("fusion-client");
    doc["oracle"]["auth"]["client_secret"] = json!("oauth-client-secret-77b3");
    let config = ConnectorConfig::from_json(&doc.to_string(), "test").unwrap();
    let fusion = FusionClient::from_config(&config.oracle, FusionSettings::default()).unwrap();
    let err = fusion.ledgers().await.unwrap_err().to_string();
    assert!(err.contains("HTTP 400"), "{err}");
    assert_clean(
        "Fusion",
        &err,
        &["fusion-bearer-9c1d4e7a", "oauth-client-secret-77b3"],
    );

    // The identity domain refusing the client, echoing its secret and the Basic header.
    let url = echoing_upstream(401).await;
    doc["oracle"]["base_url"] = json!(url);
    doc["oracle"]["auth"]["token_url"] = json!(format!("{url}/oauth2/v1/token"));
    let config = ConnectorConfig::from_json(&doc.to_string(), "test").unwrap();
    let fusion = FusionClient::from_config(&config.oracle, FusionSettings::default()).unwrap();
    let err = fusion.ledgers().await.unwrap_err().to_string();
    assert!(err.contains("HTTP 401"), "{err}");
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode("fusion-client:oauth-client-secret-77b3")
    };
    assert_clean(
        "the token endpoint",
        &err,
        &["oauth-client-secret-77b3", &basic],
    );

    // Fusion with Basic: the password echoed in the clear and in its header.
    doc["oracle"]["auth"] =
        json!({"type": "basic", "username": "integration.user", "password": "basic-password-31c9"});
    let config = ConnectorConfig::from_json(&doc.to_string(), "test").unwrap();
    let fusion = FusionClient::from_config(&config.oracle, FusionSettings::default()).unwrap();
    let err = fusion.ledgers().await.unwrap_err().to_string();
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode("integration.user:basic-password-31c9")
    };
    assert_clean("Fusion with Basic", &err, &["basic-password-31c9", &basic]);
}
