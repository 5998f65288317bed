//! The admin API: the sandbox's Rust operations over HTTP under `/__admin/…`, for processes
//! that run the sandbox without linking it (and for `mlc demo`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::server::json_response;
use super::{Fault, OrderSpec, ProductSpec, RefundSpec, Shared, StoreSpec, webhooks};

#[derive(Deserialize)]
struct CategorySpec {
    id: u64,
    #[serde(default)]
    parent_id: u64,
    name: String,
}

#[derive(Deserialize)]
struct ChannelSpec {
    id: u64,
    name: String,
}

#[derive(Deserialize)]
struct Scopes {
    scopes: Vec<String>,
}

#[derive(Deserialize)]
struct StatusChange {
    status_id: u32,
}

fn bad(message: String) -> Response {
    json_response(400, Some(json!({"error": message})), &[])
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid body: {e}"))
}

fn ok(body: Value) -> Response {
    json_response(200, Some(body), &[])
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    method: &Method,
    path: &str,
    _query: Option<&str>,
    body: Bytes,
) -> Response {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let known = |hash: &str| {
        shared
            .world
            .lock()
            .expect("sandbox state")
            .stores
            .contains_key(hash)
    };
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["requests"]) => {
            let log = shared.world.lock().expect("sandbox state").log.clone();
            ok(serde_json::to_value(log).unwrap_or_default())
        }
        ("GET", ["deliveries"]) => {
            let d = shared
                .world
                .lock()
                .expect("sandbox state")
                .deliveries
                .clone();
            ok(serde_json::to_value(d).unwrap_or_default())
        }
        ("POST", ["stores"]) => match parse::<StoreSpec>(&body) {
            Ok(spec) => {
                let hash = spec.hash.clone();
                shared.world.lock().expect("sandbox state").add_store(spec);
                ok(json!({"hash": hash}))
            }
            Err(m) => bad(m),
        },
        (_, ["stores", hash, ..]) if !known(hash) => {
            json_response(404, Some(json!({"error": format!("no store {hash}")})), &[])
        }
        ("POST", ["stores", hash, "categories"]) => match parse::<CategorySpec>(&body) {
            Ok(c) => {
                let mut w = shared.world.lock().expect("sandbox state");
                w.store_mut(hash).add_category(c.id, c.parent_id, &c.name);
                ok(json!({"id": c.id}))
            }
            Err(m) => bad(m),
        },
        ("POST", ["stores", hash, "channels"]) => match parse::<ChannelSpec>(&body) {
            Ok(c) => {
                let mut w = shared.world.lock().expect("sandbox state");
                w.store_mut(hash).add_channel(c.id, &c.name);
                ok(json!({"id": c.id}))
            }
            Err(m) => bad(m),
        },
        ("POST", ["stores", hash, "products"]) => match parse::<ProductSpec>(&body) {
            Ok(p) => {
                let id = p.id;
                shared
                    .world
                    .lock()
                    .expect("sandbox state")
                    .store_mut(hash)
                    .add_product(p);
                ok(json!({"id": id}))
            }
            Err(m) => bad(m),
        },
        ("POST", ["stores", hash, "orders"]) => match parse::<OrderSpec>(&body) {
            Ok(spec) => {
                let (id, events) = shared
                    .world
                    .lock()
                    .expect("sandbox state")
                    .create_order(hash, &spec);
                webhooks::emit(&shared, hash, events);
                ok(json!({"id": id}))
            }
            Err(m) => bad(m),
        },
        ("POST", ["stores", hash, "orders", id, "status"]) => {
            let (Ok(id), Ok(change)) = (id.parse::<u64>(), parse::<StatusChange>(&body)) else {
                return bad("expected /orders/{id}/status with {\"status_id\": n}".into());
            };
            let events =
                shared
                    .world
                    .lock()
                    .expect("sandbox state")
                    .set_status(hash, id, change.status_id);
            webhooks::emit(&shared, hash, events);
            ok(json!({"id": id}))
        }
        ("POST", ["stores", hash, "orders", id, "archive"]) => {
            let Ok(id) = id.parse::<u64>() else {
                return bad("expected /orders/{id}/archive".into());
            };
            let events = shared
                .world
                .lock()
                .expect("sandbox state")
                .archive_order(hash, id);
            webhooks::emit(&shared, hash, events);
            ok(json!({"id": id}))
        }
        ("PUT", ["stores", hash, "scopes"]) => match parse::<Scopes>(&body) {
            Ok(s) => {
                shared
                    .world
                    .lock()
                    .expect("sandbox state")
                    .store_mut(hash)
                    .scopes = s.scopes;
                ok(json!({"updated": true}))
            }
            Err(m) => bad(m),
        },
        ("POST", ["stores", hash, "orders", id, "refunds"]) => {
            let (Ok(id), Ok(spec)) = (id.parse::<u64>(), parse::<RefundSpec>(&body)) else {
                return bad("expected /orders/{id}/refunds with a refund".into());
            };
            let (refund, events) = shared
                .world
                .lock()
                .expect("sandbox state")
                .create_refund(hash, id, &spec);
            webhooks::emit(&shared, hash, events);
            ok(json!({"id": refund}))
        }
        ("POST", ["stores", hash, "faults"]) => match parse::<Fault>(&body) {
            Ok(f) => {
                shared
                    .world
                    .lock()
                    .expect("sandbox state")
                    .store_mut(hash)
                    .inject(f);
                ok(json!({"queued": true}))
            }
            Err(m) => bad(m),
        },
        ("GET", ["stores", hash, "hooks"]) => {
            let hooks = shared
                .world
                .lock()
                .expect("sandbox state")
                .store_mut(hash)
                .hooks_json();
            ok(Value::Array(hooks))
        }
        _ => json_response(
            404,
            Some(json!({"error": format!("no admin route {method} {path}")})),
            &[],
        ),
    }
}
