//! One HTTP call to Fusion, done properly: the `Authorization` header (a cached OAuth2 token,
//! one fresh token on 401, or Basic), retries of reads on 429/503/504 and timeouts honouring
//! `Retry-After`, an import POST never resent when its outcome is unknown, errors classified
//! and redacted, every request counted, and every answer decoded into its type with the JSON
//! path of what does not fit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::FusionSettings;
use super::answers::{Page, decode};
use crate::oracle::auth::Credentials;
use crate::oracle::error::OracleError;
use crate::redact::upstream_text;
use crate::retry::Backoff;

/// The REST path of Fusion resources (version `11.13.18.05`).
pub const REST_PATH: &str = "/fscmRestApi/resources/11.13.18.05";
/// Pages read at most from one collection.
const MAX_PAGES: u32 = 1_000;
/// Items asked for per page (the server may give fewer; paging follows what it gives).
const PAGE_LIMIT: &str = "500";

/// The authenticated, retrying HTTP side of a client for one pod.
pub(crate) struct Transport {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
    rest_version: String,
    settings: FusionSettings,
    backoff: Backoff,
    calls: AtomicU64,
}

impl Transport {
    /// A transport to the pod at `base_url`.
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        credentials: Credentials,
        rest_version: &str,
        settings: FusionSettings,
    ) -> Self {
        Self {
            http,
            base: format!("{}{REST_PATH}", base_url.trim_end_matches('/')),
            credentials,
            rest_version: rest_version.to_string(),
            backoff: Backoff::new(settings.base_backoff, settings.max_backoff),
            settings,
            calls: AtomicU64::new(0),
        }
    }

    /// HTTP requests sent to Fusion so far (token requests not counted).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The credentials a request went out with (its `Authorization` value, the credential in
    /// it, the secrets behind it), for redacting an answer that echoes them.
    /// A refusal Fusion answered with a status and, usually, an `o:errorCode`: one shape for
    /// every call, with what this client sent (the token) kept out of the message.
    fn refusal(
        &self,
        call: String,
        status: reqwest::StatusCode,
        body: &[u8],
        auth: &str,
    ) -> OracleError {
        let (code, message) = error_detail(body, &self.sent(auth));
        OracleError::Status {
            call,
            status: status.as_u16(),
            code,
            message,
        }
    }

    fn sent<'a>(&'a self, auth: &'a str) -> Vec<&'a str> {
        let mut known = self.credentials.secrets();
        known.push(auth);
        if let Some((_, credential)) = auth.split_once(' ') {
            known.push(credential);
        }
        known
    }

    /// Tokens fetched so far (OAuth only).
    pub fn tokens_fetched(&self) -> u64 {
        match &self.credentials {
            Credentials::OAuth(p) => p.fetched(),
            Credentials::Basic { .. } => 0,
        }
    }

    fn request(
        &self,
        method: Method,
        resource: &str,
        auth: &str,
        timeout: Duration,
    ) -> reqwest::RequestBuilder {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.http
            .request(method, format!("{}/{resource}", self.base))
            .header("Authorization", auth)
            .header("REST-Framework-Version", &self.rest_version)
            .header(
                "Accept",
                "application/json, application/vnd.oracle.adf.error+json",
            )
            .timeout(timeout)
    }

    /// A GET, retried on throttling, outages and timeouts; one fresh token on 401.
    pub async fn get<T: DeserializeOwned>(
        &self,
        resource: &str,
        query: &[(&str, String)],
    ) -> Result<T, OracleError> {
        let call = format!("GET {resource}");
        let (mut auth, mut used) = self.credentials.authorization().await?;
        let mut refreshed = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let sent = self
                .request(Method::GET, resource, &auth, self.settings.timeout)
                .query(query)
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(_) if attempt < self.settings.max_attempts => {
                    tokio::time::sleep(self.backoff.delay(attempt)).await;
                    continue;
                }
                Err(e) => {
                    let message = if e.is_timeout() {
                        format!("no answer within {:?}", self.settings.timeout)
                    } else {
                        e.without_url().to_string()
                    };
                    return Err(OracleError::Transport {
                        call,
                        attempts: attempt,
                        message,
                    });
                }
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED {
                if refreshed {
                    return Err(OracleError::Unauthorized { call });
                }
                refreshed = true;
                match self.credentials.after_unauthorized(&used).await? {
                    Some((fresh, now_used)) => {
                        (auth, used) = (fresh, now_used);
                        continue;
                    }
                    None => return Err(OracleError::Unauthorized { call }),
                }
            }
            let wait = retry_after(response.headers());
            let retryable = matches!(status.as_u16(), 429 | 503 | 504);
            let bytes = match response.bytes().await {
                Ok(b) => b,
                Err(_) if attempt < self.settings.max_attempts => {
                    tokio::time::sleep(self.backoff.delay(attempt)).await;
                    continue;
                }
                Err(e) => {
                    return Err(OracleError::Transport {
                        call,
                        attempts: attempt,
                        message: e.to_string(),
                    });
                }
            };
            if retryable && attempt < self.settings.max_attempts {
                tokio::time::sleep(
                    wait.unwrap_or_else(|| self.backoff.delay(attempt))
                        .min(self.settings.max_backoff),
                )
                .await;
                continue;
            }
            if !status.is_success() {
                return Err(self.refusal(call, status, &bytes, &auth));
            }
            return decode(&bytes).map_err(|m| OracleError::Decode {
                call,
                path: m.path,
                message: m.message,
            });
        }
    }

    /// Every item of a collection, following `hasMore` with `offset += count`: the server
    /// decides how many items a page holds, whatever `limit` asked. An item that does not fit
    /// `T` is an error naming its path in its page.
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        resource: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, OracleError> {
        let mut items = Vec::new();
        let mut offset = 0usize;
        for _ in 0..MAX_PAGES {
            let mut q = query.to_vec();
            q.push(("limit", PAGE_LIMIT.into()));
            q.push(("offset", offset.to_string()));
            let page: Page<T> = self.get(resource, &q).await.map_err(|e| match e {
                OracleError::Decode {
                    call,
                    path,
                    message,
                } if offset > 0 => OracleError::Decode {
                    call: format!("{call} (page at offset {offset})"),
                    path,
                    message,
                },
                other => other,
            })?;
            let count = page.items.len();
            items.extend(page.items);
            if !page.has_more || count == 0 {
                return Ok(items);
            }
            offset += count;
        }
        Err(OracleError::Invalid(format!(
            "GET {resource}: more than {MAX_PAGES} pages"
        )))
    }

    /// The import POST: a 401 or 429 means it was not processed and may be sent again; any
    /// other failure leaves its outcome unknown.
    pub async fn post_import<T: DeserializeOwned>(&self, body: &Value) -> Result<T, OracleError> {
        let call = "POST erpintegrations (importBulkData)".to_string();
        let (mut auth, mut used) = self.credentials.authorization().await?;
        let mut refreshed = false;
        for attempt in 1..=self.settings.max_attempts {
            let sent = self
                .request(
                    Method::POST,
                    "erpintegrations",
                    &auth,
                    self.settings.import_timeout,
                )
                .header("Content-Type", "application/json")
                .json(body)
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) if e.is_connect() => {
                    // Never reached the pod: nothing was imported.
                    return Err(OracleError::Transport {
                        call,
                        attempts: attempt,
                        message: e.without_url().to_string(),
                    });
                }
                Err(e) => {
                    return Err(OracleError::OutcomeUnknown {
                        call,
                        message: e.without_url().to_string(),
                    });
                }
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                match self.credentials.after_unauthorized(&used).await? {
                    Some((fresh, now_used)) => {
                        (auth, used) = (fresh, now_used);
                        continue;
                    }
                    None => return Err(OracleError::Unauthorized { call }),
                }
            }
            if status == StatusCode::UNAUTHORIZED {
                return Err(OracleError::Unauthorized { call });
            }
            if status == StatusCode::TOO_MANY_REQUESTS && attempt < self.settings.max_attempts {
                let wait =
                    retry_after(response.headers()).unwrap_or_else(|| self.backoff.delay(attempt));
                tokio::time::sleep(wait.min(self.settings.max_backoff)).await;
                continue;
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|e| OracleError::OutcomeUnknown {
                    call: call.clone(),
                    message: e.to_string(),
                })?;
            if status.is_server_error() {
                let (_, message) = error_detail(&bytes, &self.sent(&auth));
                return Err(OracleError::OutcomeUnknown {
                    call,
                    message: format!("HTTP {}: {message}", status.as_u16()),
                });
            }
            if !status.is_success() {
                return Err(self.refusal(call, status, &bytes, &auth));
            }
            // Accepted or not, the answer does not say: the import may have happened.
            return decode(&bytes).map_err(|m| OracleError::OutcomeUnknown {
                call,
                message: format!("answer not understood at {}: {}", m.path, m.message),
            });
        }
        Err(OracleError::Status {
            call,
            status: 429,
            code: None,
            message: "still throttled".into(),
        })
    }
}

/// Fusion's error detail: ADF JSON (`o:errorDetails`) or a plain-text body, with every
/// credential in `known` (what the request was sent with) and anything shaped like one
/// redacted, and cut to a readable length: a pod or proxy that echoes the request must not put
/// the token into errors and logs.
fn error_detail(body: &[u8], known: &[&str]) -> (Option<String>, String) {
    let (code, message) = match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            let details = &v["o:errorDetails"][0];
            let code = details["o:errorCode"].as_str().map(str::to_string);
            let message = details["detail"]
                .as_str()
                .or_else(|| v["detail"].as_str())
                .or_else(|| v["title"].as_str())
                .unwrap_or("no detail")
                .to_string();
            (code, message)
        }
        Err(_) => {
            let t = String::from_utf8_lossy(body);
            let t = t.trim();
            (
                None,
                if t.is_empty() {
                    "no detail".into()
                } else {
                    t.to_string()
                },
            )
        }
    };
    (
        code.map(|c| upstream_text(&c, known)),
        upstream_text(&message, known),
    )
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_read_from_adf_json_or_plain_text() {
        let adf = br#"{"title":"Bad Request","status":"400","o:errorDetails":[{"detail":"PeriodName is not an attribute","o:errorCode":"JBO-27024"}]}"#;
        assert_eq!(
            error_detail(adf, &[]),
            (
                Some("JBO-27024".into()),
                "PeriodName is not an attribute".into()
            )
        );
        assert_eq!(error_detail(b"Not Found", &[]), (None, "Not Found".into()));
        assert_eq!(error_detail(b"", &[]), (None, "no detail".into()));
        assert_eq!(
            error_detail(b"token tok-123456 expired\nforged line", &["tok-123456"]),
            (None, "token «redacted» expired forged line".into())
        );
    }
}
