//! The Fusion REST client behind [`OracleApi`].
//!
//! Journals go in through FBDI Journal Import (`erpintegrations` `importBulkData`), are tracked
//! through the ESS job (`ESSJobStatusRF`, log via `ESSJobExecutionDetailsRF`), and are read back
//! from `journalBatches` by batch-name prefix, paging on `hasMore` (the server decides the page
//! size). Reads are retried on 429/503/504 and timeouts, honouring `Retry-After`; a 401 gets
//! one fresh token; an import POST is never resent when its outcome is unknown.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine;
use chrono::NaiveDate;
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::auth::{BasicHeader, Credentials, TokenProvider};
use super::error::OracleError;
use super::fbdi;
use super::models::{
    BatchRecord, JobStatus, JournalRecord, LedgerRecord, LineRecord, Period, PeriodState,
    Submission,
};
use crate::config::{ImportSettings, LedgerConfig, OracleAuth, OracleConfig};
use crate::journal::Journal;
use crate::money::decimal_from_f64;
use crate::ports::OracleApi;
use crate::redact::upstream_text;
use crate::retry::Backoff;

/// The REST path of Fusion resources (version `11.13.18.05`).
pub const REST_PATH: &str = "/fscmRestApi/resources/11.13.18.05";
/// Pages read at most from one collection.
const MAX_PAGES: u32 = 1_000;
/// How long a period lookup stays cached.
const PERIOD_TTL: Duration = Duration::from_secs(600);

/// Timeouts and retries.
#[derive(Debug, Clone)]
pub struct FusionSettings {
    /// Attempts for a read that meets 429, 503, 504 or a timeout.
    pub max_attempts: u32,
    /// First backoff (doubles, jittered) when there is no `Retry-After`.
    pub base_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Timeout of a read.
    pub timeout: Duration,
    /// Timeout of an import POST (the zip can be large).
    pub import_timeout: Duration,
}

impl Default for FusionSettings {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
            import_timeout: Duration::from_secs(180),
        }
    }
}

/// A period lookup and when it was made.
type CachedPeriod = (Instant, Option<Period>);

/// A client for one pod.
pub struct FusionClient {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
    rest_version: String,
    document_account: String,
    import: ImportSettings,
    ledgers: Vec<LedgerConfig>,
    settings: FusionSettings,
    backoff: Backoff,
    periods: Mutex<HashMap<(u64, String), CachedPeriod>>,
    calls: AtomicU64,
}

fn decimal(v: &Value) -> Decimal {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(Decimal::from)
            .or_else(|| n.as_f64().and_then(|f| decimal_from_f64(f).ok()))
            .unwrap_or_default(),
        Value::String(s) => s.parse().unwrap_or_default(),
        _ => Decimal::ZERO,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
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

/// A decoding error's message without the value it quotes, fit for errors and logs.
fn decode_message(serde: &str) -> String {
    upstream_text(&crate::json_path::without_value(serde), &[])
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

/// Values put into a `q` filter: Fusion has no escaping, so quotes and separators are refused.
fn q_value(value: &str) -> Result<&str, OracleError> {
    if value.contains(['\'', ';', '%', '"']) {
        return Err(OracleError::Invalid(format!(
            "{value:?} cannot be used in a Fusion q filter (quotes, ; and % are not allowed)"
        )));
    }
    Ok(value)
}

impl FusionClient {
    /// A client for the pod of the connector document (reads its secrets).
    pub fn from_config(
        oracle: &OracleConfig,
        settings: FusionSettings,
    ) -> Result<Self, OracleError> {
        let http = reqwest::Client::builder()
            .user_agent(crate::bigcommerce::client::USER_AGENT)
            .build()
            .map_err(|e| OracleError::Invalid(format!("HTTP client: {e}")))?;
        let credentials = match &oracle.auth {
            OracleAuth::Oauth2ClientCredentials {
                token_url,
                scope,
                client_id,
                client_secret,
            } => {
                let secret = client_secret
                    .reveal()
                    .map_err(|e| OracleError::Invalid(format!("oracle.auth.client_secret: {e}")))?;
                Credentials::OAuth(TokenProvider::new(
                    http.clone(),
                    token_url,
                    client_id,
                    secret,
                    scope,
                ))
            }
            OracleAuth::Basic { username, password } => {
                let password = password
                    .reveal()
                    .map_err(|e| OracleError::Invalid(format!("oracle.auth.password: {e}")))?;
                Credentials::Basic {
                    header: BasicHeader::new(username, &password),
                }
            }
        };
        Ok(Self {
            http,
            base: format!("{}{REST_PATH}", oracle.base_url.trim_end_matches('/')),
            credentials,
            rest_version: oracle.rest_framework_version.clone(),
            document_account: oracle.document_account.clone(),
            import: oracle.import.clone(),
            ledgers: oracle.ledgers.clone(),
            backoff: Backoff::new(settings.base_backoff, settings.max_backoff),
            settings,
            periods: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
        })
    }

    /// HTTP requests sent to Fusion so far (token requests not counted).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The credentials a request went out with (its `Authorization` value, the credential in
    /// it, the secrets behind it), for redacting an answer that echoes them.
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
    async fn get(&self, resource: &str, query: &[(&str, String)]) -> Result<Value, OracleError> {
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
                let (code, message) = error_detail(&bytes, &self.sent(&auth));
                return Err(OracleError::Status {
                    call,
                    status: status.as_u16(),
                    code,
                    message,
                });
            }
            return serde_json::from_slice(&bytes).map_err(|e| OracleError::Decode {
                call,
                message: decode_message(&e.to_string()),
            });
        }
    }

    /// Every item of a collection, following `hasMore` with `offset += count`: the server
    /// decides how many items a page holds, whatever `limit` asked.
    async fn get_all(
        &self,
        resource: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<Value>, OracleError> {
        let mut items = Vec::new();
        let mut offset = 0usize;
        for _ in 0..MAX_PAGES {
            let mut q = query.to_vec();
            q.push(("limit", "500".into()));
            q.push(("offset", offset.to_string()));
            let page = self.get(resource, &q).await?;
            let got = page["items"].as_array().cloned().unwrap_or_default();
            let count = got.len();
            items.extend(got);
            if !page["hasMore"].as_bool().unwrap_or(false) || count == 0 {
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
    async fn post_import(&self, body: &Value) -> Result<Value, OracleError> {
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
                let (code, message) = error_detail(&bytes, &self.sent(&auth));
                return Err(OracleError::Status {
                    call,
                    status: status.as_u16(),
                    code,
                    message,
                });
            }
            return serde_json::from_slice(&bytes).map_err(|e| OracleError::OutcomeUnknown {
                call,
                message: format!("unreadable answer: {}", decode_message(&e.to_string())),
            });
        }
        Err(OracleError::Status {
            call,
            status: 429,
            code: None,
            message: "still throttled".into(),
        })
    }

    fn ledger(&self, id: u64) -> Option<&LedgerConfig> {
        self.ledgers.iter().find(|l| l.id == id)
    }

    fn period_of(item: &Value) -> Option<Period> {
        let date =
            |k: &str| NaiveDate::parse_from_str(item[k].as_str()?.get(..10)?, "%Y-%m-%d").ok();
        Some(Period {
            name: item["PeriodNameId"].as_str()?.to_string(),
            state: PeriodState::parse(item["ClosingStatus"].as_str().unwrap_or("")),
            start: date("StartDate")?,
            end: date("EndDate")?,
        })
    }
}

#[async_trait]
impl OracleApi for FusionClient {
    async fn submit_import(
        &self,
        journals: &[Journal],
        group_id: u64,
    ) -> Result<Submission, OracleError> {
        let first = journals.iter().find(|j| !j.is_empty()).ok_or_else(|| {
            OracleError::Invalid("nothing to import: no journal has lines".into())
        })?;
        if let Some(other) = journals.iter().find(|j| j.ledger_id != first.ledger_id) {
            return Err(OracleError::Invalid(format!(
                "one import takes one ledger: {} is for ledger {}, {} for {}",
                first.batch_name, first.ledger_id, other.batch_name, other.ledger_id
            )));
        }
        let file = fbdi::build_import(journals, group_id, chrono::Utc::now().date_naive())
            .map_err(|e| OracleError::Invalid(e.to_string()))?;
        let yn = |b: bool| if b { "Y" } else { "N" };
        let das = self
            .ledger(first.ledger_id)
            .and_then(|l| l.data_access_set_id)
            .map_or_else(|| "#NULL".to_string(), |d| d.to_string());
        let source = self
            .import
            .journal_source_id
            .map_or_else(|| first.source.clone(), |id| id.to_string());
        let parameters = format!(
            "{das},{source},{},{group_id},{},{},{}",
            first.ledger_id,
            yn(self.import.errors_to_suspense),
            yn(self.import.summary_journals),
            yn(self.import.import_descriptive_flexfields)
        );
        let body = json!({
            "OperationName": "importBulkData",
            "DocumentContent": file.base64(),
            "ContentType": "zip",
            "FileName": file.zip_name(),
            "DocumentAccount": self.document_account,
            "JobName": self.import.job_name,
            "ParameterList": parameters,
            "JobOptions": self.import.job_options,
            "CallbackURL": "#NULL",
            "NotificationCode": self.import.notification_code,
        });
        let answer = self.post_import(&body).await?;
        let id = text(&answer["ReqstId"]);
        match id.trim() {
            "-1" => Err(OracleError::ImportRefused),
            other => other
                .parse()
                .map(|request_id| Submission {
                    request_id,
                    group_id,
                    batches: file.batches,
                })
                .map_err(|_| OracleError::Decode {
                    call: "POST erpintegrations (importBulkData)".into(),
                    message: upstream_text(&format!("ReqstId {other:?} is not a request id"), &[]),
                }),
        }
    }

    async fn job_status(&self, request_id: u64) -> Result<JobStatus, OracleError> {
        let page = self
            .get(
                "erpintegrations",
                &[
                    ("finder", format!("ESSJobStatusRF;requestId={request_id}")),
                    ("onlyData", "true".into()),
                ],
            )
            .await?;
        Ok(JobStatus::parse(
            page["items"][0]["RequestStatus"].as_str().unwrap_or(""),
        ))
    }

    async fn job_log(&self, request_id: u64) -> Result<String, OracleError> {
        let call = format!("GET erpintegrations (log of {request_id})");
        let page = self
            .get(
                "erpintegrations",
                &[
                    (
                        "finder",
                        format!("ESSJobExecutionDetailsRF;requestId={request_id},fileType=log"),
                    ),
                    ("onlyData", "true".into()),
                ],
            )
            .await?;
        let Some(content) = page["items"][0]["DocumentContent"].as_str() else {
            return Ok(String::new());
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content)
            .map_err(|e| OracleError::Decode {
                call: call.clone(),
                message: format!("DocumentContent is not base64: {e}"),
            })?;
        let mut archive =
            zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| OracleError::Decode {
                call: call.clone(),
                message: format!("DocumentContent is not a zip: {e}"),
            })?;
        let mut out = String::new();
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(|e| OracleError::Decode {
                call: call.clone(),
                message: e.to_string(),
            })?;
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|e| OracleError::Decode {
                    call: call.clone(),
                    message: e.to_string(),
                })?;
            out.push_str(&text);
        }
        Ok(out)
    }

    async fn find_batches(
        &self,
        name_prefix: &str,
        with_lines: bool,
    ) -> Result<Vec<BatchRecord>, OracleError> {
        let prefix = q_value(name_prefix)?;
        let items = self
            .get_all(
                "journalBatches",
                &[
                    ("q", format!("BatchName LIKE '{prefix}%'")),
                    ("onlyData", "true".into()),
                ],
            )
            .await?;
        let mut batches = Vec::new();
        for item in items {
            let id = item["JeBatchId"]
                .as_u64()
                .or_else(|| item["JeBatchId"].as_str()?.parse().ok());
            let Some(id) = id else {
                return Err(OracleError::Decode {
                    call: "GET journalBatches".into(),
                    message: upstream_text(&format!("an item has no JeBatchId: {item}"), &[]),
                });
            };
            let mut batch = BatchRecord {
                id,
                name: text(&item["BatchName"]),
                status: text(&item["Status"]),
                period: text(&item["DefaultPeriodName"]),
                total_dr: decimal(&item["RunningTotalDr"]),
                total_cr: decimal(&item["RunningTotalCr"]),
                journals: Vec::new(),
            };
            if with_lines {
                let headers_path = format!("journalBatches/{id}/child/journalHeaders");
                for h in self.get_all(&headers_path, &[]).await? {
                    let href = h["links"]
                        .as_array()
                        .and_then(|l| l.iter().find(|l| l["rel"] == "self"))
                        .and_then(|l| l["href"].as_str())
                        .unwrap_or("");
                    let header_id = href.rsplit('/').next().unwrap_or("");
                    let lines = if header_id.is_empty() {
                        Vec::new()
                    } else {
                        self.get_all(
                            &format!("{headers_path}/{header_id}/child/journalLines"),
                            &[("onlyData", "true".into())],
                        )
                        .await?
                    };
                    batch.journals.push(JournalRecord {
                        name: text(&h["JournalName"]),
                        reference: text(&h["ExternalReference"]),
                        currency: text(&h["CurrencyCode"]),
                        period: text(&h["PeriodName"]),
                        lines: lines
                            .iter()
                            .map(|l| LineRecord {
                                number: l["JeLineNumber"].as_u64().unwrap_or(0) as u32,
                                account: text(&l["AccountCombination"]),
                                entered_dr: decimal(&l["EnteredDr"]),
                                entered_cr: decimal(&l["EnteredCr"]),
                                description: text(&l["Description"]),
                            })
                            .collect(),
                    });
                }
            }
            batches.push(batch);
        }
        Ok(batches)
    }

    async fn period_for_date(
        &self,
        ledger_id: u64,
        date: NaiveDate,
    ) -> Result<Option<Period>, OracleError> {
        let name = self
            .ledger(ledger_id)
            .and_then(|l| l.period_name_format.as_ref())
            .map(|f| date.format(f).to_string());
        let key = (ledger_id, name.clone().unwrap_or_else(|| date.to_string()));
        if let Some((at, p)) = self.periods.lock().expect("period cache").get(&key)
            && at.elapsed() < PERIOD_TTL
        {
            return Ok(p.clone());
        }
        // The key is PeriodNameId (PeriodName is rejected); without a naming pattern, by dates.
        let q = match &name {
            Some(n) => format!(
                "LedgerId={ledger_id};PeriodNameId={};ApplicationId=101",
                q_value(n)?
            ),
            None => format!(
                "LedgerId={ledger_id};ApplicationId=101;StartDate<='{date}';EndDate>='{date}'"
            ),
        };
        let items = self
            .get_all(
                "accountingPeriodStatusLOV",
                &[("q", q), ("onlyData", "true".into())],
            )
            .await?;
        let period = items
            .iter()
            .filter_map(Self::period_of)
            .find(|p| p.start <= date && date <= p.end);
        self.periods
            .lock()
            .expect("period cache")
            .insert(key, (Instant::now(), period.clone()));
        Ok(period)
    }

    async fn next_open_period(
        &self,
        ledger_id: u64,
        after: NaiveDate,
    ) -> Result<Option<Period>, OracleError> {
        let q =
            format!("LedgerId={ledger_id};ApplicationId=101;ClosingStatus='O';StartDate>'{after}'");
        let items = self
            .get_all(
                "accountingPeriodStatusLOV",
                &[
                    ("q", q),
                    ("orderBy", "StartDate:asc".into()),
                    ("onlyData", "true".into()),
                ],
            )
            .await?;
        let mut periods: Vec<Period> = items
            .iter()
            .filter_map(Self::period_of)
            .filter(|p| p.state == PeriodState::Open && p.start > after)
            .collect();
        periods.sort_by_key(|p| p.start);
        Ok(periods.into_iter().next())
    }

    async fn ledgers(&self) -> Result<Vec<LedgerRecord>, OracleError> {
        let items = self
            .get_all("ledgersLOV", &[("onlyData", "true".into())])
            .await?;
        Ok(items
            .iter()
            .filter_map(|l| {
                Some(LedgerRecord {
                    id: l["LedgerId"].as_u64()?,
                    name: text(&l["Name"]),
                    currency: text(&l["CurrencyCode"]),
                })
            })
            .collect())
    }
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

    #[test]
    fn q_values_cannot_break_out_of_the_filter() {
        assert!(q_value("BC-us-1-sale").is_ok());
        for bad in ["a'b", "a;b", "a%", "a\"b"] {
            assert!(q_value(bad).is_err(), "{bad}");
        }
    }
}
