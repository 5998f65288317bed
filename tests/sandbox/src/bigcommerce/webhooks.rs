//! Webhook deliveries, signed the Standard Webhooks way with the API account's client secret:
//! `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
//! id.timestamp.body>`. Written from the specification, independently of the connector's verifier.
//! A failed delivery is retried after each of `SandboxOptions::delivery_retries` while its hook
//! is active, with the same `webhook-id` and body, signed again with the attempt's timestamp
//! (the Standard Webhooks way: the id is the idempotency key).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha1::Digest;

use super::state::{Delivery, DeliveryOutcome, Event, World};
use super::{SandboxOptions, Shared};

/// One delivery to make (or to record as not made).
pub(crate) struct Job {
    store: String,
    hook_id: u64,
    scope: String,
    destination: String,
    webhook_id: String,
    body: String,
    headers: BTreeMap<String, String>,
    secret: String,
    skip: Option<DeliveryOutcome>,
}

impl Job {
    /// The same event again: same webhook id and body, as BigCommerce's retries are.
    pub fn again(delivery: &Delivery, secret: &str) -> Self {
        // A duplicate of a delivery, not one of its retries: retried again on failure.
        Self {
            store: delivery.store.clone(),
            hook_id: delivery.hook_id,
            scope: delivery.scope.clone(),
            destination: delivery.destination.clone(),
            webhook_id: delivery.webhook_id.clone(),
            body: delivery.body.clone(),
            headers: delivery.headers.clone(),
            secret: secret.to_string(),
            skip: None,
        }
    }
}

fn scope_matches(hook: &str, event: &str) -> bool {
    hook == event
        || hook
            .strip_suffix('*')
            .is_some_and(|prefix| event.starts_with(prefix))
}

fn message_id() -> String {
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let digest = sha1::Sha1::digest(format!("sandbox-{n}-{}", std::process::id()).as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("msg_{}", &hex[..24])
}

/// `v1,` + base64(HMAC-SHA256(client secret bytes, "{id}.{timestamp}.{body}")).
pub fn sign(client_secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(client_secret.as_bytes()).expect("any key length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// Deliveries for events of one store: one per active hook whose scope matches.
pub(crate) fn plan(
    world: &mut World,
    _options: &SandboxOptions,
    hash: &str,
    events: Vec<Event>,
) -> Vec<Job> {
    let Some(store) = world.stores.get_mut(hash) else {
        return Vec::new();
    };
    let mut jobs = Vec::new();
    for event in events {
        let created_at = chrono::Utc::now().timestamp();
        let digest = sha1::Sha1::digest(event.data.to_string().as_bytes());
        let payload = json!({
            "scope": event.scope, "store_id": store.spec.store_id, "data": event.data,
            "hash": digest.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "created_at": created_at, "producer": format!("stores/{hash}"),
        });
        let hooks: Vec<(u64, String, Option<Value>, Instant)> = store
            .hooks
            .iter()
            .filter(|h| h.is_active && scope_matches(&h.scope, &event.scope))
            .map(|h| {
                (
                    h.id,
                    h.destination.clone(),
                    h.headers.clone(),
                    h.active_from,
                )
            })
            .collect();
        for (hook_id, destination, headers, active_from) in hooks {
            let skip = if Instant::now() < active_from {
                Some(DeliveryOutcome::NotYetActive)
            } else if store.take_drop() {
                Some(DeliveryOutcome::Dropped)
            } else {
                None
            };
            let headers = headers
                .and_then(|h| h.as_object().cloned())
                .map(|m| {
                    m.into_iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            jobs.push(Job {
                store: hash.to_string(),
                hook_id,
                scope: event.scope.clone(),
                destination,
                webhook_id: message_id(),
                body: payload.to_string(),
                headers,
                secret: store.spec.client_secret.clone(),
                skip,
            });
        }
    }
    jobs
}

/// Plans and starts the deliveries of some events.
pub(crate) fn emit(shared: &Arc<Shared>, hash: &str, events: Vec<Event>) {
    let jobs = {
        let mut world = shared.world.lock().expect("sandbox state");
        plan(&mut world, &shared.options, hash, events)
    };
    for job in jobs {
        spawn(shared.clone(), job);
    }
}

fn record(
    shared: &Shared,
    job: &Job,
    timestamp: i64,
    outcome: DeliveryOutcome,
    status: Option<u16>,
    attempt: u32,
) {
    let mut world = shared.world.lock().expect("sandbox state");
    if let Some(store) = world.stores.get_mut(&job.store)
        && let Some(hook) = store.hooks.iter_mut().find(|h| h.id == job.hook_id)
    {
        match &outcome {
            DeliveryOutcome::Delivered => hook.failures = 0,
            DeliveryOutcome::Failed(_) => {
                hook.failures += 1;
                if hook.failures >= shared.options.deactivate_after_failures {
                    hook.is_active = false;
                    hook.updated_at = chrono::Utc::now().timestamp();
                }
            }
            _ => {}
        }
    }
    world.deliveries.push(Delivery {
        store: job.store.clone(),
        hook_id: job.hook_id,
        scope: job.scope.clone(),
        destination: job.destination.clone(),
        webhook_id: job.webhook_id.clone(),
        timestamp,
        body: job.body.clone(),
        headers: job.headers.clone(),
        outcome,
        status,
        attempt,
    });
}

/// Whether the hook is still there and active (retries stop when it is not).
fn hook_active(shared: &Shared, job: &Job) -> bool {
    let world = shared.world.lock().expect("sandbox state");
    world
        .stores
        .get(&job.store)
        .and_then(|s| s.hooks.iter().find(|h| h.id == job.hook_id))
        .is_some_and(|h| h.is_active)
}

/// Sends one delivery in the background (or records why it was not sent).
pub(crate) fn spawn(shared: Arc<Shared>, job: Job) {
    if let Some(outcome) = job.skip.clone() {
        let timestamp = chrono::Utc::now().timestamp();
        record(&shared, &job, timestamp, outcome, None, 1);
        return;
    }
    // Counted in flight until the last retry is done, so `settle` waits for the retries too.
    shared.in_flight.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        let retries = shared.options.delivery_retries.clone();
        let mut attempt = 1;
        loop {
            let timestamp = chrono::Utc::now().timestamp();
            let (outcome, status) = send(&shared, &job, timestamp).await;
            let failed = matches!(outcome, DeliveryOutcome::Failed(_));
            record(&shared, &job, timestamp, outcome, status, attempt);
            let Some(delay) = retries.get(attempt as usize - 1).filter(|_| failed) else {
                break;
            };
            tokio::time::sleep(*delay).await;
            if !hook_active(&shared, &job) {
                break;
            }
            attempt += 1;
        }
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    });
}

/// One attempt: the delivery signed with `timestamp`, and what the destination answered.
async fn send(shared: &Shared, job: &Job, timestamp: i64) -> (DeliveryOutcome, Option<u16>) {
    let signature = sign(&job.secret, &job.webhook_id, timestamp, &job.body);
    let mut request = shared
        .http
        .post(&job.destination)
        .header("content-type", "application/json")
        .header("webhook-id", &job.webhook_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature);
    for (k, v) in &job.headers {
        request = request.header(k.as_str(), v.as_str());
    }
    match request.body(job.body.clone()).send().await {
        Ok(r) if r.status().is_success() => (DeliveryOutcome::Delivered, Some(r.status().as_u16())),
        Ok(r) => (
            DeliveryOutcome::Failed(format!("HTTP {}", r.status().as_u16())),
            Some(r.status().as_u16()),
        ),
        Err(e) => (DeliveryOutcome::Failed(e.to_string()), None),
    }
}
