//! HTTP glue: authentication, rate limiting and faults in front of every API request, then the
//! store's answer, logged for contract checks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::state::{Exchange, Reply, v3_error};
use super::{Fault, Shared, admin};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(dispatch).with_state(shared)
}

async fn dispatch(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    if let Some(rest) = path.strip_prefix("/__admin") {
        return admin::handle(shared, &method, rest, uri.query(), body).await;
    }
    api(shared, method, uri, headers, body).await
}

/// Rate-limit headers for a store's current window.
fn rate_headers(
    quota: u32,
    window: Duration,
    used: u32,
    start: Instant,
) -> Vec<(&'static str, String)> {
    let reset = window.saturating_sub(start.elapsed()).as_millis();
    vec![
        ("X-Rate-Limit-Requests-Quota", quota.to_string()),
        (
            "X-Rate-Limit-Requests-Left",
            quota.saturating_sub(used).to_string(),
        ),
        (
            "X-Rate-Limit-Time-Window-Ms",
            window.as_millis().to_string(),
        ),
        ("X-Rate-Limit-Time-Reset-Ms", reset.to_string()),
    ]
}

/// The headers of a 429 for an exhausted window: the rate-limit headers and `X-Retry-After`,
/// the whole seconds until the window resets.
fn limited_headers(
    quota: u32,
    window: Duration,
    used: u32,
    start: Instant,
) -> Vec<(&'static str, String)> {
    let reset_ms = window.saturating_sub(start.elapsed()).as_millis();
    let mut h = rate_headers(quota, window, used, start);
    h.push(("X-Retry-After", reset_ms.div_ceil(1000).to_string()));
    h
}

/// What was decided before the store answers.
enum Gate {
    Answer(Reply, Vec<(&'static str, String)>),
    Proceed(Vec<(&'static str, String)>, Option<Duration>),
}

async fn api(
    shared: Arc<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let raw_query = uri.query().unwrap_or("").to_string();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&raw_query).unwrap_or_default();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (hash, rest) = match segments.as_slice() {
        ["stores", hash, rest @ ..] if !rest.is_empty() => (hash.to_string(), rest.to_vec()),
        _ => {
            return json_response(
                404,
                Some(v3_error(404, "Not Found").body.unwrap_or_default()),
                &[],
            );
        }
    };
    let request_body: Option<Value> = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => Some(v),
            Err(_) => {
                return json_response(
                    400,
                    v3_error(400, "The request body is not valid JSON").body,
                    &[],
                );
            }
        }
    };
    let options = shared.options.clone();

    let gate = {
        let mut world = shared.world.lock().expect("sandbox state");
        let Some(store) = world.stores.get_mut(&hash) else {
            return json_response(404, v3_error(404, "Store not found").body, &[]);
        };
        let token_ok = headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t == store.spec.access_token);
        if !token_ok {
            Gate::Answer(
                v3_error(401, "Unauthorized: a valid X-Auth-Token is required"),
                Vec::new(),
            )
        } else if !store.has_scope_for(method.as_str(), &rest) {
            store.scope_refusals += 1;
            Gate::Answer(
                v3_error(
                    403,
                    "You don't have a required scope to access the endpoint",
                ),
                Vec::new(),
            )
        } else {
            if store.rate.start.elapsed() >= options.window {
                store.rate.start = Instant::now();
                store.rate.used = 0;
            }
            match store.take_request_fault(&path) {
                Some(Fault::RetryAfter { seconds, .. }) => Gate::Answer(
                    v3_error(429, "Too many requests"),
                    vec![("X-Retry-After", seconds.to_string())],
                ),
                Some(Fault::RateLimitStorm { with_headers, .. }) => {
                    let h = if with_headers {
                        limited_headers(
                            options.quota,
                            options.window,
                            options.quota,
                            store.rate.start,
                        )
                    } else {
                        Vec::new()
                    };
                    Gate::Answer(v3_error(429, "Too many requests"), h)
                }
                fault => {
                    if store.rate.used >= options.quota {
                        store.quota_exceeded += 1;
                        let h = limited_headers(
                            options.quota,
                            options.window,
                            store.rate.used,
                            store.rate.start,
                        );
                        Gate::Answer(v3_error(429, "Too many requests"), h)
                    } else {
                        store.rate.used += 1;
                        let h = rate_headers(
                            options.quota,
                            options.window,
                            store.rate.used,
                            store.rate.start,
                        );
                        match fault {
                            Some(Fault::Status { status, .. }) => Gate::Answer(
                                Reply {
                                    status,
                                    body: v3_error(
                                        status,
                                        "The service is temporarily unavailable",
                                    )
                                    .body,
                                },
                                h,
                            ),
                            Some(Fault::Delay { millis, .. }) => {
                                Gate::Proceed(h, Some(Duration::from_millis(millis)))
                            }
                            _ => Gate::Proceed(h, None),
                        }
                    }
                }
            }
        }
    };

    let (reply, rate) = match gate {
        Gate::Answer(reply, rate) => (reply, rate),
        Gate::Proceed(rate, delay) => {
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            let mut world = shared.world.lock().expect("sandbox state");
            let store = world.stores.get_mut(&hash).expect("store checked above");
            (
                store.handle(
                    &options,
                    method.as_str(),
                    &rest,
                    &pairs,
                    request_body.clone(),
                ),
                rate,
            )
        }
    };

    let mut request_headers = BTreeMap::new();
    for name in ["accept", "content-type", "user-agent"] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            request_headers.insert(name.to_string(), v.to_string());
        }
    }
    if headers.contains_key("x-auth-token") {
        request_headers.insert("x-auth-token".into(), "(present)".into());
    }
    let mut response_headers: BTreeMap<String, String> = rate
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    if reply.body.is_some() {
        response_headers.insert("Content-Type".into(), "application/json".into());
    }
    shared
        .world
        .lock()
        .expect("sandbox state")
        .log
        .push(Exchange {
            store: hash,
            method: method.to_string(),
            path,
            query: raw_query,
            request_headers,
            request_body,
            status: reply.status,
            response_headers,
            response_body: reply.body.clone(),
        });
    json_response(reply.status, reply.body, &rate)
}

pub(crate) fn json_response(
    status: u16,
    body: Option<Value>,
    headers: &[(&'static str, String)],
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match body {
        Some(b) => (
            status,
            [("content-type", "application/json")],
            b.to_string(),
        )
            .into_response(),
        None => status.into_response(),
    };
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, v);
        }
    }
    response
}
