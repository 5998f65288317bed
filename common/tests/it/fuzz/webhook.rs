//! Webhook verification with the intake, on the local adapters (an in-memory SQLite database for
//! delivery ids and the queue) and a fixed clock:
//!
//! - a delivery signed the Standard Webhooks way (HMAC-SHA256 over `{id}.{timestamp}.{body}`,
//!   `v1,<base64>`, keyed with the store's client secret, raw or `whsec_`) with any one byte
//!   changed, in the id, the timestamp, the body or the signature, is refused as
//!   unauthenticated and queues nothing; the delivery as signed is queued afterwards, once;
//! - arbitrary headers and bodies never panic the verifier, the event parser or the intake,
//!   and are never queued;
//! - a correctly signed delivery with an arbitrary body is queued only when it is an order
//!   event of a configured store, and is otherwise ignored or refused as malformed.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use common::adapters::local_queue::LocalQueue;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::bigcommerce::webhook::{WebhookError, WebhookVerifier, parse_event};
use common::config::ConnectorConfig;
use common::metrics::Metrics;
use common::ports::{Clock, Queue};
use common::posting::intake::{Accepted, Intake, MAX_BODY, Refusal};
use common::posting::message::OrderMessage;
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{any_json, apply_edits, json_edits, run};

/// The intake's clock: 2026-03-10 14:00:00 UTC.
const NOW: i64 = 1_773_151_200;
const HASH: &str = "nw4x7k2p";

struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// The example document with inline client secrets (one per store entry), and the intake's
/// ports over a private in-memory database.
struct Rig {
    config: ConnectorConfig,
    store: SqliteStore,
    queue: LocalQueue,
    clock: FixedClock,
}

impl Rig {
    fn new(secrets: [&str; 2]) -> Self {
        Self::with_secrets([json!(secrets[0]), json!(secrets[1])])
    }

    /// Each store entry's `client_secret` as the document gives it (inline, or `{"env": …}`).
    fn with_secrets(secrets: [Value; 2]) -> Self {
        let mut doc = crate::support::example_document();
        for (i, secret) in secrets.into_iter().enumerate() {
            doc["stores"][i]["credentials"]["client_secret"] = secret;
        }
        let config = crate::support::config_from(&doc);
        let db = SqliteDb::in_memory().unwrap();
        Self {
            config,
            store: SqliteStore::new(db.clone()),
            queue: LocalQueue::new(db, "orders", 5),
            clock: FixedClock(Utc.timestamp_opt(NOW, 0).unwrap()),
        }
    }

    fn take(
        &self,
        rt: &tokio::runtime::Runtime,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Accepted, Refusal> {
        let intake = Intake {
            config: &self.config,
            store: &self.store,
            queue: &self.queue,
            clock: &self.clock,
        };
        rt.block_on(intake.take(headers, body, &mut Metrics::default()))
    }

    /// The messages queued since the last look.
    fn queued(&self, rt: &tokio::runtime::Runtime) -> Vec<OrderMessage> {
        rt.block_on(self.queue.receive(100, Duration::from_secs(600)))
            .unwrap()
            .iter()
            .map(|m| OrderMessage::parse(&m.body).unwrap())
            .collect()
    }
}

fn runtime() -> Arc<tokio::runtime::Runtime> {
    Arc::new(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    )
}

/// The three signature headers from raw bytes, or `None` when one is not a header value at
/// all (no HTTP stack would deliver it).
fn headers(id: &[u8], timestamp: &[u8], signature: &[u8]) -> Option<HeaderMap> {
    let mut h = HeaderMap::new();
    h.insert("webhook-id", HeaderValue::from_bytes(id).ok()?);
    h.insert(
        "webhook-timestamp",
        HeaderValue::from_bytes(timestamp).ok()?,
    );
    h.insert(
        "webhook-signature",
        HeaderValue::from_bytes(signature).ok()?,
    );
    Some(h)
}

/// A client secret: BigCommerce's (the raw text is the key) or a Standard Webhooks `whsec_`.
fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{20,64}",
        prop::collection::vec(any::<u8>(), 1..64).prop_map(|key| format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        )),
    ]
}

const SCOPES: [&str; 6] = [
    "store/order/created",
    "store/order/updated",
    "store/order/archived",
    "store/order/statusUpdated",
    "store/order/refund/created",
    "store/channel/2/order/created",
];

/// An order event as BigCommerce sends it, and the order it names.
fn order_event() -> impl Strategy<Value = (Vec<u8>, u64)> {
    (
        prop::sample::select(&SCOPES[..]),
        1u64..=u64::from(u32::MAX),
        any::<bool>(),
        1u64..100_000,
        "[0-9a-f]{40}",
        any::<bool>(),
    )
        .prop_map(|(scope, order_id, as_text, refund_id, hash, pretty)| {
            let id = if as_text {
                json!(order_id.to_string())
            } else {
                json!(order_id)
            };
            let data = if scope.starts_with("store/channel/") {
                json!({"type": "order", "order_id": id})
            } else {
                json!({"type": "order", "id": id, "refund": {"refund_id": refund_id},
                    "status": {"previous_status_id": 11, "new_status_id": 2}})
            };
            let event = json!({"scope": scope, "store_id": "1025646", "data": data,
                "hash": hash, "created_at": NOW - 5, "producer": format!("stores/{HASH}")});
            let body = if pretty {
                serde_json::to_vec_pretty(&event)
            } else {
                serde_json::to_vec(&event)
            };
            (body.unwrap(), order_id)
        })
}

#[derive(Debug, Clone)]
struct Tampered {
    secrets: [String; 2],
    signer: usize,
    id: String,
    skew: i64,
    body: Vec<u8>,
    order_id: u64,
    /// 0 id, 1 timestamp, 2 body, 3 signature.
    part: usize,
    at: prop::sample::Index,
    xor: u8,
    stranger: String,
}

fn tampered() -> impl Strategy<Value = Tampered> {
    (
        [secret(), secret()],
        0usize..2,
        "msg_[A-Za-z0-9]{1,27}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        -300i64..=300,
        order_event(),
        (0usize..4, any::<prop::sample::Index>(), 1u8..=255),
        secret(),
    )
        .prop_map(
            |(secrets, signer, id, skew, (body, order_id), (part, at, xor), stranger)| Tampered {
                secrets,
                signer,
                id,
                skew,
                body,
                order_id,
                part,
                at,
                xor,
                stranger,
            },
        )
}

fn refusal_kind(r: &Result<Accepted, Refusal>) -> String {
    match r {
        Ok(a) => format!("accepted {a:?}"),
        Err(Refusal::Unauthenticated(e)) => format!(
            "unauthenticated:{}",
            match e {
                WebhookError::MissingHeader(_) => "missing_header",
                WebhookError::BadTimestamp(_) => "bad_timestamp",
                WebhookError::Stale { .. } => "stale",
                WebhookError::NoMatchingSignature => "no_matching_signature",
                WebhookError::MalformedBody(_) => "malformed_body",
                WebhookError::BadSecret(_) => "bad_secret",
            }
        ),
        Err(Refusal::Malformed(_)) => "malformed".into(),
        Err(Refusal::TooLarge { .. }) => "too_large".into(),
        Err(Refusal::Unavailable(_)) => "unavailable".into(),
    }
}

#[test]
fn fuzz_any_byte_changed_in_a_signed_delivery_is_refused() {
    let rt = runtime();
    run("webhook tampered", tampered(), |t, tally| {
        let rig = Rig::new([&t.secrets[0], &t.secrets[1]]);
        let timestamp = NOW + t.skew;
        let signature = WebhookVerifier::new(&t.secrets[t.signer])
            .unwrap()
            .sign(&t.id, timestamp, &t.body);
        let original = [
            t.id.clone().into_bytes(),
            timestamp.to_string().into_bytes(),
            t.body.clone(),
            signature.clone().into_bytes(),
        ];

        // One byte changed.
        let mut parts = original.clone();
        let target = &mut parts[t.part];
        let at = t.at.index(target.len());
        target[at] ^= t.xor;
        prop_assert_ne!(&parts, &original);
        match headers(&parts[0], &parts[1], &parts[3]) {
            None => tally.add("refused:not_a_header_value"),
            Some(h) => {
                let result = rig.take(&rt, &h, &parts[2]);
                prop_assert!(
                    matches!(result, Err(Refusal::Unauthenticated(_))),
                    "part {} byte {at} changed, yet {result:?}",
                    t.part
                );
                tally.add(refusal_kind(&result));
            }
        }
        prop_assert!(rig.queued(&rt).is_empty(), "a refused delivery queued");

        // Signed with a secret no store has.
        if !t.secrets.contains(&t.stranger) {
            let forged = WebhookVerifier::new(&t.stranger)
                .unwrap()
                .sign(&t.id, timestamp, &t.body);
            let h = headers(&original[0], &original[1], forged.as_bytes()).unwrap();
            let result = rig.take(&rt, &h, &t.body);
            prop_assert!(
                matches!(
                    result,
                    Err(Refusal::Unauthenticated(WebhookError::NoMatchingSignature))
                ),
                "{result:?}"
            );
            prop_assert!(rig.queued(&rt).is_empty());
        }

        // The delivery as signed: queued once (the refused ones recorded nothing), then a
        // duplicate.
        let h = headers(&original[0], &original[1], &original[3]).unwrap();
        let result = rig.take(&rt, &h, &t.body);
        prop_assert!(
            matches!(&result, Ok(Accepted::Queued { store_hash, order_id, .. }) if store_hash == HASH && *order_id == t.order_id),
            "{result:?}"
        );
        let queued = rig.queued(&rt);
        prop_assert_eq!(queued.len(), 1);
        prop_assert_eq!(queued[0].order_id, t.order_id);
        prop_assert_eq!(queued[0].webhook_id.as_deref(), Some(t.id.as_str()));
        prop_assert_eq!(rig.take(&rt, &h, &t.body), Ok(Accepted::Duplicate));
        prop_assert!(rig.queued(&rt).is_empty());
        tally.add("signed:queued_once");
        Ok(())
    });
}

/// A header value: random bytes, text, numbers at the edges of i64, signature-shaped entries.
fn header_value() -> BoxedStrategy<Option<Vec<u8>>> {
    let sig_entry = prop::collection::vec(any::<u8>(), 0..40)
        .prop_map(|b| format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(b)));
    prop_oneof![
        1 => Just(None),
        2 => prop::collection::vec(any::<u8>(), 0..80).prop_map(Some),
        2 => "[ -~]{0,60}".prop_map(|s| Some(s.into_bytes())),
        2 => any::<i64>().prop_map(|n| Some(n.to_string().into_bytes())),
        2 => prop::sample::select(vec![
            "-9223372036854775808", "9223372036854775807", "-9223372036854775807",
            "9223372036854775808", "+1773151200", " 1773151200 ", "1773151200.0", "0", "-0",
            "1e9", "",
        ]).prop_map(|s| Some(s.as_bytes().to_vec())),
        2 => (NOW - 400..NOW + 400).prop_map(|n| Some(n.to_string().into_bytes())),
        2 => prop::collection::vec(sig_entry, 0..4).prop_map(|e| Some(e.join(" ").into_bytes())),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
struct Junk {
    id: Option<Vec<u8>>,
    timestamp: Option<Vec<u8>>,
    signature: Option<Vec<u8>>,
    body: Vec<u8>,
    now: i64,
    unset: bool,
}

fn body() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..512),
        1 => order_event().prop_map(|(b, _)| b),
        2 => event_like().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => any_json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => (MAX_BODY - 2..MAX_BODY + 64).prop_map(|n| vec![b' '; n]),
    ]
    .boxed()
}

#[test]
fn fuzz_arbitrary_deliveries_never_panic_and_are_never_queued() {
    let rt = runtime();
    let strategy = (
        header_value(),
        header_value(),
        header_value(),
        body(),
        prop_oneof![
            Just(NOW),
            any::<i64>(),
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0i64)
        ],
        prop::bool::weighted(0.3),
    )
        .prop_map(|(id, timestamp, signature, body, now, unset)| Junk {
            id,
            timestamp,
            signature,
            body,
            now,
            unset,
        });
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let other = "another-client-secret-0123456789";
    let variable = "MLC_FUZZ_VARIABLE_NOT_SET";
    run("webhook arbitrary", strategy, |j, tally| {
        let mut h = HeaderMap::new();
        for (name, value) in [
            ("webhook-id", &j.id),
            ("webhook-timestamp", &j.timestamp),
            ("webhook-signature", &j.signature),
        ] {
            if let Some(v) = value
                && let Ok(v) = HeaderValue::from_bytes(v)
            {
                h.insert(name, v);
            }
        }
        // The verifier alone, at any time.
        let verified = WebhookVerifier::new(secret)
            .unwrap()
            .verify(&h, &j.body, j.now);
        prop_assert!(verified.is_err(), "a random delivery verified");
        // The parser alone (it only ever sees verified bodies, but must not care).
        let _ = parse_event(&j.body);
        // The intake.
        // The intake, the second store's secret now and then unusable (its variable unset).
        let second = if j.unset {
            json!({ "env": variable })
        } else {
            json!(other)
        };
        let rig = Rig::with_secrets([json!(secret), second]);
        let result = rig.take(&rt, &h, &j.body);
        prop_assert!(
            matches!(
                result,
                Err(Refusal::Unauthenticated(_) | Refusal::TooLarge { .. })
            ) || (j.unset && matches!(result, Err(Refusal::Unavailable(_)))),
            "{result:?}"
        );
        // What the sender is told names no secret and no part of the configuration.
        let answer = result.as_ref().unwrap_err().public_message();
        for detail in [secret, &secret[6..], other, variable, "client_secret"] {
            prop_assert!(
                !answer.contains(detail),
                "the answer {answer:?} tells {detail}"
            );
        }
        prop_assert!(rig.queued(&rt).is_empty());
        tally.add(refusal_kind(&result));
        Ok(())
    });
}

/// A JSON value shaped like a webhook event, with any field of any type or missing.
fn event_like() -> BoxedStrategy<Value> {
    let id = prop_oneof![
        (1u64..1_000_000).prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n.to_string())),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!("99999999999999999999999")),
        Just(json!(" 42 ")),
        any_json(),
    ];
    let scope = prop_oneof![
        prop::sample::select(&SCOPES[..]).prop_map(str::to_string),
        Just("store/channel//order/created".to_string()),
        Just("store/channel/".to_string()),
        Just("store/channel/99999999999999999999999/order/refund/created".to_string()),
        "store/[a-z/]{0,24}",
        any::<String>(),
    ];
    let producer = prop_oneof![
        Just(json!(format!("stores/{HASH}"))),
        Just(json!("stores/otherhash")),
        Just(json!("stores/")),
        Just(json!(HASH)),
        any_json(),
    ];
    (
        scope,
        prop_oneof![Just(json!("1025646")), any_json()],
        id.clone(),
        id,
        producer,
        any::<bool>(),
        json_edits(2),
        any::<bool>(),
    )
        .prop_map(
            |(scope, store_id, order_id, refund_id, producer, channel, edits, edit)| {
                let key = if channel { "order_id" } else { "id" };
                let mut v = json!({"scope": scope, "store_id": store_id,
                    "data": {"type": "order", key: order_id, "refund": {"refund_id": refund_id},
                        "status": {"previous_status_id": refund_id, "new_status_id": order_id}},
                    "producer": producer, "hash": "abc", "created_at": NOW});
                if edit {
                    apply_edits(&mut v, &edits);
                }
                v
            },
        )
        .boxed()
}

#[derive(Debug, Clone)]
struct SignedBody {
    secret: String,
    id: String,
    skew: i64,
    body: Vec<u8>,
}

#[test]
fn fuzz_signed_arbitrary_bodies_are_queued_only_as_order_events_of_a_configured_store() {
    let rt = runtime();
    let strategy = (secret(), "[A-Za-z0-9_.:-]{1,40}", -300i64..=300, body()).prop_map(
        |(secret, id, skew, body)| SignedBody {
            secret,
            id,
            skew,
            body,
        },
    );
    run("webhook signed body", strategy, |s, tally| {
        let rig = Rig::new([&s.secret, "another-client-secret-0123456789"]);
        let timestamp = NOW + s.skew;
        let signature = WebhookVerifier::new(&s.secret)
            .unwrap()
            .sign(&s.id, timestamp, &s.body);
        let h = headers(
            s.id.as_bytes(),
            timestamp.to_string().as_bytes(),
            signature.as_bytes(),
        )
        .unwrap();
        let result = rig.take(&rt, &h, &s.body);
        let event = parse_event(&s.body);
        let queued = rig.queued(&rt);
        match &result {
            Ok(Accepted::Queued {
                store_hash,
                order_id,
                ..
            }) => {
                let event = event.as_ref().unwrap();
                prop_assert_eq!(store_hash.as_str(), HASH);
                prop_assert_eq!(event.store_hash(), Some(HASH));
                prop_assert_eq!(Some(*order_id), event.order_id());
                prop_assert_eq!(queued.len(), 1);
                prop_assert_eq!(queued[0].order_id, *order_id);
            }
            Ok(Accepted::Ignored { .. }) => {
                let event = event.as_ref().unwrap();
                prop_assert!(event.order_id().is_none() || event.store_hash() != Some(HASH));
                prop_assert!(queued.is_empty());
            }
            Err(Refusal::Malformed(_)) => {
                prop_assert!(event.is_err() || event.as_ref().unwrap().store_hash().is_none());
                prop_assert!(queued.is_empty());
            }
            Err(Refusal::TooLarge { size, limit }) => {
                prop_assert!(size > limit);
                prop_assert!(queued.is_empty());
            }
            other => prop_assert!(false, "a correctly signed delivery: {other:?}"),
        }
        tally.add(match &result {
            Ok(Accepted::Queued { .. }) => "queued".to_string(),
            Ok(Accepted::Ignored { .. }) => "ignored".to_string(),
            Ok(Accepted::Duplicate) => "duplicate".to_string(),
            r => refusal_kind(r),
        });
        Ok(())
    });
}
