//! One HTTP call to BigCommerce, done properly: headers, rate-limit pacing, 429 waits, bounded
//! jittered retries of idempotent reads, and errors that say which call failed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::retry::Backoff;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::BcError;
use crate::redact::upstream_text;

/// The `User-Agent` every call carries, as BigCommerce asks integrations to identify themselves.
pub const USER_AGENT: &str = concat!(
    "ml-connector/",
    env!("CARGO_PKG_VERSION"),
    " (BigCommerce to Oracle Fusion GL)"
);

/// How hard to try.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts for a read that fails with 5xx, a timeout or a broken connection.
    pub max_attempts: u32,
    /// Attempts when BigCommerce keeps answering 429.
    pub max_rate_limited: u32,
    /// First backoff; doubles per attempt, with jitter.
    pub base_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Share of the quota left to other apps on the store: when fewer requests than this are
    /// left in the window, wait for the window to reset instead of spending them.
    pub reserve_share: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            max_rate_limited: 8,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(20),
            timeout: Duration::from_secs(30),
            reserve_share: 0.05,
        }
    }
}

/// Waits for a window reset before a request is sent anyway.
const PACING_ROUNDS: u32 = 8;
/// The longest `X-Retry-After` honoured as given: the store's window is 30 s.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// Slack between the store's rate-limit clock and ours.
const WINDOW_JITTER: Duration = Duration::from_millis(30);

#[derive(Debug, Default)]
struct Quota {
    /// Requests left in the window, as the store last reported.
    left: Option<u64>,
    /// The window's size in requests.
    quota: Option<u64>,
    /// When the window resets.
    reset_at: Option<Instant>,
    /// Requests sent and not yet answered: the last report may not count them yet.
    in_flight: u64,
}

/// One answer as it came, before it is judged: its status, the rate-limit headers that say
/// when to try again, and its body.
struct Reply {
    status: StatusCode,
    /// `X-Rate-Limit-Time-Reset-Ms`.
    reset_ms: Option<u64>,
    /// `X-Retry-After` (seconds).
    retry_after: Option<u64>,
    body: Vec<u8>,
}

/// An answer with a 2xx status (or 204, which has no body).
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

pub(crate) struct Transport {
    http: reqwest::Client,
    base: String,
    token: String,
    policy: RetryPolicy,
    quota: Mutex<Quota>,
    calls: AtomicU64,
    backoff: Backoff,
}

fn header_u64(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// BigCommerce's message from an error body: V3 `{title, detail}`, V2 `[{message}]`, or text;
/// whole (the caller redacts it, then cuts it: cut first, half a token could escape).
fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let first = v.as_array().and_then(|a| a.first()).unwrap_or(&v);
        for key in ["title", "message", "detail", "error"] {
            if let Some(text) = first.get(key).and_then(Value::as_str) {
                let detail = first
                    .get("detail")
                    .and_then(Value::as_str)
                    .filter(|_| key == "title");
                return match detail {
                    Some(d) => format!("{text}: {d}"),
                    None => text.to_string(),
                };
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "no message".into()
    } else {
        text.to_string()
    }
}

impl Transport {
    pub fn new(base: String, token: String, policy: RetryPolicy) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
            quota: Mutex::new(Quota::default()),
            calls: AtomicU64::new(0),
            backoff: Backoff::new(policy.base_backoff, policy.max_backoff),
            policy,
        })
    }

    /// HTTP requests sent so far (retries included).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.backoff.delay(attempt)
    }

    /// Waits for the window to reset when the quota is nearly spent, and books one request.
    async fn pace(&self) {
        // Bounded: each round either books the request or sleeps until a reset has passed;
        // the last round books it regardless.
        for round in 0..PACING_ROUNDS {
            let wait = {
                let mut q = self.quota.lock().expect("quota state");
                let reserve = q.quota.map_or(1, |quota| {
                    ((quota as f64 * self.policy.reserve_share).ceil() as u64).max(1)
                });
                let now = Instant::now();
                let available = q.left.map(|left| left.saturating_sub(q.in_flight));
                let wait = match (available, q.reset_at) {
                    (Some(available), Some(reset)) if available <= reserve => {
                        // Wait a little past the announced reset: the store's clock started the
                        // window when it saw the first request, a little after we sent it.
                        let until = reset + WINDOW_JITTER;
                        if until > now {
                            Some(until - now)
                        } else {
                            // The window has reset; what is left is unknown until an answer says.
                            q.left = None;
                            q.reset_at = None;
                            None
                        }
                    }
                    _ => None,
                };
                if wait.is_none() || round + 1 == PACING_ROUNDS {
                    q.in_flight += 1;
                    None
                } else {
                    wait
                }
            };
            match wait {
                Some(w) => tokio::time::sleep(w).await,
                None => return,
            }
        }
    }

    /// A request was answered (or failed): it is no longer in flight, and the answer's
    /// rate-limit headers, when any, say what is left. Both in one step, so that no other
    /// request sees the one without the other.
    fn landed(&self, headers: Option<&reqwest::header::HeaderMap>) {
        let mut q = self.quota.lock().expect("quota state");
        q.in_flight = q.in_flight.saturating_sub(1);
        let Some(headers) = headers else { return };
        let left = header_u64(headers, "x-rate-limit-requests-left");
        let reset = header_u64(headers, "x-rate-limit-time-reset-ms")
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        let quota = header_u64(headers, "x-rate-limit-requests-quota");
        // Answers to concurrent requests arrive in any order: within one window the count of
        // requests left only goes down, so an older, higher figure must not overwrite it.
        let same_window = match (q.reset_at, reset) {
            (Some(old), Some(new)) => new <= old + WINDOW_JITTER,
            _ => false,
        };
        if let Some(l) = left {
            q.left = Some(match (same_window, q.left) {
                (true, Some(current)) => current.min(l),
                _ => l,
            });
        }
        if let Some(r) = reset {
            q.reset_at = Some(if same_window {
                q.reset_at.map_or(r, |old| old.min(r))
            } else {
                r
            });
        }
        if quota.is_some() {
            q.quota = quota;
        }
    }

    /// Sends a request; returns the successful answer or a typed error. A GET is sent again
    /// after a transport failure or a 5xx, up to the policy's attempts; any call is sent again
    /// after a 429, once the store's window allows.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, BcError> {
        let call = format!("{method} {path}");
        let idempotent = method == Method::GET;
        let mut failures = 0u32;
        let mut limited = 0u32;
        let mut attempts = 0u32;
        loop {
            self.pace().await;
            attempts += 1;
            let reply = match self.exchange(&method, path, query, body).await {
                Ok(reply) => reply,
                Err(e) => {
                    failures += 1;
                    if idempotent && failures < self.policy.max_attempts {
                        tokio::time::sleep(self.backoff(failures)).await;
                        continue;
                    }
                    let message = if e.is_timeout() {
                        format!("no answer within {:?}", self.policy.timeout)
                    } else {
                        e.without_url().to_string()
                    };
                    return Err(BcError::Transport {
                        call,
                        attempts,
                        message,
                    });
                }
            };
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                limited += 1;
                if limited >= self.policy.max_rate_limited {
                    return Err(BcError::RateLimited { call, attempts });
                }
                tokio::time::sleep(self.rate_limit_wait(&reply, limited)).await;
                continue;
            }
            if reply.status.is_server_error() {
                failures += 1;
                if idempotent && failures < self.policy.max_attempts {
                    tokio::time::sleep(self.backoff(failures)).await;
                    continue;
                }
            }
            if reply.status.is_success() {
                return Ok(Answer {
                    status: reply.status.as_u16(),
                    body: reply.body,
                });
            }
            return Err(self.refusal(call, &reply));
        }
    }

    /// One request and its whole answer, counted, with the quota headers it carries noted.
    async fn exchange(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply, reqwest::Error> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("X-Auth-Token", &self.token)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .query(query)
            .timeout(self.policy.timeout);
        if let Some(b) = body {
            request = request.json(b);
        }
        let sent = request.send().await;
        self.landed(sent.as_ref().ok().map(reqwest::Response::headers));
        let response = sent?;
        let status = response.status();
        let reset_ms = header_u64(response.headers(), "x-rate-limit-time-reset-ms");
        let retry_after = header_u64(response.headers(), "x-retry-after");
        let body = response.bytes().await?.to_vec();
        Ok(Reply {
            status,
            reset_ms,
            retry_after,
            body,
        })
    }

    /// How long to wait after the `limited`-th 429 in a row. With the headers, exactly until
    /// the window resets; with only `X-Retry-After`, as many seconds as it says; without
    /// either the platform itself is overloaded: back off longer each time.
    fn rate_limit_wait(&self, reply: &Reply, limited: u32) -> Duration {
        match (reply.reset_ms, reply.retry_after) {
            (Some(ms), _) => Duration::from_millis(ms) + Duration::from_millis(10),
            (None, Some(seconds)) => Duration::from_secs(seconds).min(MAX_RETRY_AFTER),
            (None, None) => self.backoff(limited + 2),
        }
    }

    /// The typed error for an answer that is neither a success nor to be tried again.
    fn refusal(&self, call: String, reply: &Reply) -> BcError {
        // An upstream that echoes the token would otherwise put it into errors and logs.
        let message = upstream_text(&error_message(&reply.body), &[&self.token]);
        let code = reply.status.as_u16();
        match code {
            404 => BcError::NotFound { call, message },
            401 | 403 => BcError::Unauthorized {
                call,
                status: code,
                message,
            },
            _ => BcError::Status {
                call,
                status: code,
                message,
            },
        }
    }

    /// A GET whose JSON answer is read into `T`; a `204 No Content` (BigCommerce's empty V2
    /// list) reads as `None`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<T>, BcError> {
        let answer = self.send(Method::GET, path, query, None).await?;
        if answer.status == 204 || answer.body.is_empty() {
            return Ok(None);
        }
        decode(&format!("GET {path}"), &answer).map(Some)
    }
}

/// Reads an answer's JSON body into `T`, naming the bad field when it does not fit.
pub(crate) fn decode<T: DeserializeOwned>(call: &str, answer: &Answer) -> Result<T, BcError> {
    let mut de = serde_json::Deserializer::from_slice(&answer.body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| BcError::Decode {
        call: call.to_string(),
        path: e.path().to_string(),
        message: decode_message(&e.inner().to_string()),
    })
}

/// A decoding error's message without the value it quotes (an answer may carry a credential
/// where a number was expected), fit for errors and logs.
pub(crate) fn decode_message(serde: &str) -> String {
    upstream_text(&crate::json_path::without_value(serde), &[])
}
