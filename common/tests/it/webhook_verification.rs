//! Standard Webhooks verification against the shared test vectors, with the negative cases
//! a verifier must get right, and the parsing of BigCommerce's order events.

use common::bigcommerce::webhook::{
    EventKind, TOLERANCE_SECONDS, WebhookError, WebhookVerifier, parse_event,
};
use http::{HeaderMap, HeaderValue};
use serde_json::Value;

struct Vector {
    secret: String,
    client_secret: Option<String>,
    id: String,
    timestamp: i64,
    payload: String,
    signature: String,
}

fn vectors() -> Vec<Vector> {
    let text = std::fs::read_to_string(
        crate::support::repo_root().join("tests/specs/standard-webhooks-vectors.json"),
    )
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            secret: v["secret"].as_str().unwrap().into(),
            client_secret: v["client_secret"].as_str().map(Into::into),
            id: v["id"].as_str().unwrap().into(),
            timestamp: v["timestamp"].as_i64().unwrap(),
            payload: v["payload"].as_str().unwrap().into(),
            signature: v["signature"].as_str().unwrap().into(),
        })
        .collect()
}

fn headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("webhook-id", HeaderValue::from_str(id).unwrap());
    h.insert(
        "webhook-timestamp",
        HeaderValue::from_str(timestamp).unwrap(),
    );
    h.insert(
        "webhook-signature",
        HeaderValue::from_str(signature).unwrap(),
    );
    h
}

fn check(
    secret: &str,
    id: &str,
    ts: &str,
    sig: &str,
    body: &str,
    now: i64,
) -> Result<(), WebhookError> {
    WebhookVerifier::new(secret)
        .unwrap()
        .verify(&headers(id, ts, sig), body.as_bytes(), now)
}

#[test]
fn the_three_shared_vectors_verify() {
    let all = vectors();
    assert_eq!(all.len(), 3);
    for v in &all {
        let ts = v.timestamp.to_string();
        check(&v.secret, &v.id, &ts, &v.signature, &v.payload, v.timestamp).unwrap();
        // Signing reproduces the vector exactly.
        let verifier = WebhookVerifier::new(&v.secret).unwrap();
        assert_eq!(
            verifier.sign(&v.id, v.timestamp, v.payload.as_bytes()),
            v.signature
        );
    }
    // BigCommerce's way: the API account's client secret itself is the key.
    let bc = all.iter().find(|v| v.client_secret.is_some()).unwrap();
    let raw = bc.client_secret.as_deref().unwrap();
    check(
        raw,
        &bc.id,
        &bc.timestamp.to_string(),
        &bc.signature,
        &bc.payload,
        bc.timestamp,
    )
    .unwrap();
}

#[test]
fn anything_tampered_fails() {
    for v in vectors() {
        let ts = v.timestamp.to_string();
        let now = v.timestamp;
        let tampered_body = v.payload.replacen('"', "'", 1);
        assert_eq!(
            check(&v.secret, &v.id, &ts, &v.signature, &tampered_body, now),
            Err(WebhookError::NoMatchingSignature)
        );
        assert_eq!(
            check(&v.secret, "msg_other", &ts, &v.signature, &v.payload, now),
            Err(WebhookError::NoMatchingSignature)
        );
        let later = (v.timestamp + 1).to_string();
        assert_eq!(
            check(&v.secret, &v.id, &later, &v.signature, &v.payload, now),
            Err(WebhookError::NoMatchingSignature)
        );
        assert_eq!(
            check(
                "whsec_dGhlIHdyb25nIHNlY3JldCBlbnRpcmVseQ==",
                &v.id,
                &ts,
                &v.signature,
                &v.payload,
                now
            ),
            Err(WebhookError::NoMatchingSignature)
        );
        let partial = &v.signature[..v.signature.len() - 4];
        assert_eq!(
            check(&v.secret, &v.id, &ts, partial, &v.payload, now),
            Err(WebhookError::NoMatchingSignature)
        );
        let other_version = v.signature.replacen("v1,", "v2,", 1);
        assert_eq!(
            check(&v.secret, &v.id, &ts, &other_version, &v.payload, now),
            Err(WebhookError::NoMatchingSignature)
        );
    }
}

#[test]
fn stale_and_future_timestamps_fail_at_the_edge_of_five_minutes() {
    let v = &vectors()[0];
    let ts = v.timestamp.to_string();
    for now in [
        v.timestamp + TOLERANCE_SECONDS,
        v.timestamp - TOLERANCE_SECONDS,
    ] {
        check(&v.secret, &v.id, &ts, &v.signature, &v.payload, now).unwrap();
    }
    assert_eq!(
        check(
            &v.secret,
            &v.id,
            &ts,
            &v.signature,
            &v.payload,
            v.timestamp + TOLERANCE_SECONDS + 1
        ),
        Err(WebhookError::Stale {
            timestamp: v.timestamp,
            now: v.timestamp + 301,
            skew: 301
        })
    );
    assert!(matches!(
        check(
            &v.secret,
            &v.id,
            &ts,
            &v.signature,
            &v.payload,
            v.timestamp - TOLERANCE_SECONDS - 1
        ),
        Err(WebhookError::Stale { skew: 301, .. })
    ));
    // A negative timestamp is just very stale.
    assert!(matches!(
        check(
            &v.secret,
            &v.id,
            "-1",
            &v.signature,
            &v.payload,
            v.timestamp
        ),
        Err(WebhookError::Stale { .. })
    ));
}

#[test]
fn one_valid_signature_among_several_is_enough() {
    let v = &vectors()[1];
    let ts = v.timestamp.to_string();
    let other = WebhookVerifier::new("whsec_b3RoZXIgc2VjcmV0")
        .unwrap()
        .sign(&v.id, v.timestamp, v.payload.as_bytes());
    let rotated = format!("v1,Zm9v {other} {} v1a,ignored", v.signature);
    check(&v.secret, &v.id, &ts, &rotated, &v.payload, v.timestamp).unwrap();
    let none_valid = format!("{other} v1,AAAA");
    assert_eq!(
        check(&v.secret, &v.id, &ts, &none_valid, &v.payload, v.timestamp),
        Err(WebhookError::NoMatchingSignature)
    );
}

#[test]
fn missing_or_malformed_headers_are_typed_errors() {
    let v = &vectors()[0];
    let verifier = WebhookVerifier::new(&v.secret).unwrap();
    let full = headers(&v.id, &v.timestamp.to_string(), &v.signature);
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut h = full.clone();
        h.remove(name);
        assert_eq!(
            verifier.verify(&h, v.payload.as_bytes(), v.timestamp),
            Err(WebhookError::MissingHeader(name))
        );
    }
    let h = headers(&v.id, "yesterday", &v.signature);
    assert_eq!(
        verifier.verify(&h, v.payload.as_bytes(), v.timestamp),
        Err(WebhookError::BadTimestamp("yesterday".into()))
    );
    assert!(matches!(
        WebhookVerifier::new("whsec_!!!"),
        Err(WebhookError::BadSecret(_))
    ));
    assert!(matches!(
        WebhookVerifier::new(""),
        Err(WebhookError::BadSecret(_))
    ));
    assert_eq!(format!("{verifier:?}"), "WebhookVerifier(«redacted»)");
}

#[test]
fn order_events_parse_into_typed_events() {
    let bc = vectors()
        .into_iter()
        .find(|v| v.client_secret.is_some())
        .unwrap();
    let e = parse_event(bc.payload.as_bytes()).unwrap();
    assert_eq!(e.kind, EventKind::OrderCreated { order_id: 250 });
    assert_eq!(e.store_hash(), Some("abc123"));
    assert_eq!(e.store_id, "1025646");
    assert_eq!(
        e.hash.as_deref(),
        Some("dd70c0976e06b67aaf671e73f49dcb79230ebf9d")
    );

    let parse = |body: &str| parse_event(body.as_bytes());
    assert_eq!(
        parse(r#"{"scope":"store/order/statusUpdated","store_id":"1","data":{"type":"order","id":250,"status":{"previous_status_id":0,"new_status_id":11}},"producer":"stores/x"}"#).unwrap().kind,
        EventKind::OrderStatusUpdated { order_id: 250, previous_status_id: Some(0), new_status_id: Some(11) }
    );
    assert_eq!(
        parse(r#"{"scope":"store/order/refund/created","store_id":"1","data":{"type":"order","id":250,"refund":{"refund_id":12}}}"#).unwrap().kind,
        EventKind::RefundCreated { order_id: 250, refund_id: 12 }
    );
    assert_eq!(
        parse(r#"{"scope":"store/order/updated","store_id":1,"data":{"type":"order","id":"251"}}"#)
            .unwrap()
            .kind,
        EventKind::OrderUpdated { order_id: 251 }
    );
    assert_eq!(
        parse(r#"{"scope":"store/order/archived","store_id":"1","data":{"type":"order","id":9}}"#)
            .unwrap()
            .order_id(),
        Some(9)
    );
    let channel = parse(
        r#"{"scope":"store/channel/2/order/created","store_id":"1","data":{"order_id":127}}"#,
    )
    .unwrap();
    assert_eq!(
        (channel.kind, channel.channel_id),
        (EventKind::OrderCreated { order_id: 127 }, Some(2))
    );
    // Scopes the connector does not use are accepted and ignored.
    let other = parse(
        r#"{"scope":"store/product/updated","store_id":"1","data":{"type":"product","id":5}}"#,
    )
    .unwrap();
    assert_eq!((other.kind, other.order_id()), (EventKind::Ignored, None));
}

#[test]
fn malformed_bodies_are_typed_errors() {
    let parse = |body: &str| parse_event(body.as_bytes()).unwrap_err().to_string();
    assert!(parse("not json").starts_with("malformed webhook body: not JSON"));
    assert_eq!(
        parse(r#"{"store_id":"1","data":{}}"#),
        "malformed webhook body: scope is missing"
    );
    assert_eq!(
        parse(r#"{"scope":"store/order/created","data":{}}"#),
        "malformed webhook body: store_id is missing"
    );
    assert_eq!(
        parse(r#"{"scope":"store/order/created","store_id":"1"}"#),
        "malformed webhook body: data is missing"
    );
    assert_eq!(
        parse(r#"{"scope":"store/order/created","store_id":"1","data":{"type":"order"}}"#),
        "malformed webhook body: data.id (the order id) is missing for store/order/created"
    );
    assert_eq!(
        parse(r#"{"scope":"store/order/refund/created","store_id":"1","data":{"id":5}}"#),
        "malformed webhook body: data.refund.refund_id is missing"
    );
}
