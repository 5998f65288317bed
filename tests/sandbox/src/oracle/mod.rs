//! An Oracle Fusion Cloud ERP pod on localhost, as far as journals go.
//!
//! - the identity domain's token endpoint (`/oauth2/v1/token`): OAuth2 client credentials with
//!   Basic client authentication, JWT-shaped tokens with an expiry, which can be expired early;
//! - `erpintegrations` `importBulkData`: unzips `GlInterface.csv`, parses its 149 positional
//!   columns, applies Journal Import's rules (balanced journals, segment values of the chart of
//!   accounts, open periods, conversion rates, known journal categories, values within their
//!   GL_INTERFACE column widths) and accepts or rejects the whole group with EBS-style codes;
//!   `ReqstId` `-1` for an unknown job or a missing privilege; the job moves
//!   WAIT → RUNNING → PAUSED → SUCCEEDED/ERROR over configurable time (`ESSJobStatusRF`), and
//!   its log is served zipped (`ESSJobExecutionDetailsRF`);
//! - `journalBatches` with headers and lines, batch names with Fusion's suffixes, `q` filters
//!   (expressions need `REST-Framework-Version` 2 or later), `hasMore` paging with the server's
//!   own page cap; each journal header names its own ledger (`LedgerName`,
//!   `LedgerCurrencyCode`) and headers filter by it; `accountingPeriodStatusLOV` with one status
//!   per ledger, period and application (General Ledger is 101; without `ApplicationId` the
//!   other applications' rows come too); `ledgersLOV`;
//! - faults: tokens expired mid-run (401), 429 with `Retry-After`, 503, slow answers, import
//!   responses lost after the import was accepted, and jobs that end WARNING or CANCELLED or
//!   stay BLOCKED until released.

mod journal_import;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use state::Pod;

/// The REST path prefix of Fusion resources.
pub const REST_PREFIX: &str = "/fscmRestApi/resources/11.13.18.05";

/// How the pod behaves.
#[derive(Debug, Clone)]
pub struct PodOptions {
    /// The confidential application's client id.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// A Basic-auth user (name, password), if any.
    pub basic_user: Option<(String, String)>,
    /// Token lifetime (`expires_in`; IAM's default is an hour).
    pub token_lifetime: Duration,
    /// Time each job phase takes (WAIT, RUNNING, PAUSED), before the job ends.
    pub job_phase: Duration,
    /// The most items one page returns, whatever `limit` asks.
    pub page_cap: usize,
    /// The Import Journals job name accepted.
    pub job_name: String,
}

impl Default for PodOptions {
    fn default() -> Self {
        Self {
            client_id: "pod-client".into(),
            client_secret: "pod-secret".into(),
            basic_user: None,
            token_lifetime: Duration::from_secs(3600),
            job_phase: Duration::from_millis(20),
            page_cap: 25,
            job_name:
                "/oracle/apps/ess/financials/generalLedger/programs/common,JournalImportLauncher"
                    .into(),
        }
    }
}

/// A ledger of the pod.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LedgerSpec {
    /// `LedgerId`.
    pub id: u64,
    /// `Name`.
    pub name: String,
    /// Ledger currency.
    pub currency: String,
    /// Unbalanced journals go to suspense instead of being rejected (EU02).
    #[serde(default)]
    pub allow_suspense: bool,
}

/// Trouble to cause for the next `times` matching requests.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PodFault {
    /// Answer with this status instead.
    Status {
        /// HTTP status.
        status: u16,
        /// How many requests.
        times: u32,
        /// Only requests whose path contains this.
        #[serde(default)]
        path: Option<String>,
    },
    /// 429 Too Many Requests with `Retry-After`.
    Throttle {
        /// `Retry-After` seconds.
        retry_after: u64,
        /// How many requests.
        times: u32,
    },
    /// Answer this late.
    Delay {
        /// Milliseconds.
        millis: u64,
        /// How many requests.
        times: u32,
        /// Only requests whose path contains this.
        #[serde(default)]
        path: Option<String>,
    },
    /// Accept the import, then lose the answer (504 from the gateway).
    LoseImportResponse {
        /// How many imports.
        times: u32,
    },
    /// The next imports' jobs end this way instead of SUCCEEDED/ERROR.
    EndJob {
        /// How the job ends.
        status: JobEnd,
        /// How many imports.
        times: u32,
    },
    /// Answer a collection read (`journalBatches`, its headers and lines, periods, ledgers)
    /// with `value` in place of `field` in every item: a malformed amount (`"12.3x"`), a
    /// wrong type, or, with `value` absent, the field missing. A client must refuse it, not
    /// read a default.
    Malform {
        /// The attribute to spoil, e.g. `EnteredDr`.
        field: String,
        /// What to put there; `None` removes the field.
        #[serde(default)]
        value: Option<serde_json::Value>,
        /// How many requests.
        times: u32,
        /// Only requests whose path contains this, e.g. `journalLines`.
        #[serde(default)]
        path: Option<String>,
    },
}

impl PodFault {
    /// The fault's kind, as `faults_served` counts it (`status`, `throttle`, `delay`,
    /// `lose_import_response`, `end_job`, `malform`).
    pub fn kind(&self) -> &'static str {
        match self {
            PodFault::Status { .. } => "status",
            PodFault::Throttle { .. } => "throttle",
            PodFault::Delay { .. } => "delay",
            PodFault::LoseImportResponse { .. } => "lose_import_response",
            PodFault::EndJob { .. } => "end_job",
            PodFault::Malform { .. } => "malform",
        }
    }
}

/// An ending of an import job other than its verdict's SUCCEEDED or ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobEnd {
    /// The job runs and ends WARNING: the batches the verdict accepted are created (Journal
    /// Import with warnings), or, when it refused the group, none (the log has the errors).
    Warning,
    /// A person cancels the job while it waits: nothing is imported, the job ends CANCELLED.
    Cancelled,
    /// The job waits in BLOCKED (an incompatible job runs) until [`OraclePod::release_blocked_jobs`],
    /// then goes on to its verdict.
    Blocked,
}

/// A line as the pod holds it: (account combination, entered debit, entered credit).
pub type LineView = (String, Decimal, Decimal);

/// A batch as the pod holds it, for assertions.
#[derive(Debug, Clone, Serialize)]
pub struct BatchView {
    /// `JeBatchId`.
    pub id: u64,
    /// The ledger its journals are in.
    pub ledger_id: u64,
    /// `BatchName`, with Fusion's suffixes.
    pub name: String,
    /// Group it was imported in.
    pub group_id: String,
    /// Journals: (name, lines).
    pub journals: Vec<(String, Vec<LineView>)>,
}

pub(crate) struct Shared {
    pub pod: Mutex<Pod>,
    pub options: PodOptions,
}

/// A running pod.
pub struct OraclePod {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl OraclePod {
    /// Starts a pod on a free loopback port.
    pub async fn start(options: PodOptions) -> Self {
        let shared = Arc::new(Shared {
            pod: Mutex::new(Pod::default()),
            options,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let app = server::router(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("pod server");
        });
        Self {
            addr,
            shared,
            server,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Pod) -> R) -> R {
        f(&mut self.shared.pod.lock().expect("pod state"))
    }

    /// The pod URL (`oracle.base_url`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token endpoint (`oracle.auth.token_url`).
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/v1/token", self.url())
    }

    /// Adds a ledger with monthly periods named `%b-%y` (`Jan-26`), all open, for these years.
    pub fn add_ledger(&self, ledger: LedgerSpec, years: std::ops::RangeInclusive<i32>) {
        let mut periods = Vec::new();
        for year in years {
            for month in 1..=12u32 {
                let start = NaiveDate::from_ymd_opt(year, month, 1).expect("valid date");
                let next = if month == 12 {
                    NaiveDate::from_ymd_opt(year + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(year, month + 1, 1)
                };
                let end = next.expect("valid date").pred_opt().expect("valid date");
                periods.push((start.format("%b-%y").to_string(), start, end, 'O'));
            }
        }
        self.with(|p| p.add_ledger(ledger, periods));
    }

    /// Sets a period's closing status (`O` open, `C` closed, `F` future-enterable, `N` never
    /// opened, `P` permanently closed).
    pub fn set_period_status(&self, ledger_id: u64, period: &str, status: char) {
        self.with(|p| p.set_period_status(ledger_id, period, status));
    }

    /// Sets a period's status for one application (`ApplicationId`: 101 General Ledger, whose
    /// status is the one Journal Import checks; 200 Payables, 222 Receivables…).
    pub fn set_application_period_status(
        &self,
        ledger_id: u64,
        period: &str,
        application_id: u32,
        status: char,
    ) {
        self.with(|p| p.set_app_period_status(ledger_id, period, application_id, status));
    }

    /// The allowed values of each chart-of-accounts segment (None: anything).
    pub fn set_chart(&self, segments: Vec<Option<Vec<String>>>) {
        self.with(|p| p.segments = segments);
    }

    /// Registers a journal source.
    pub fn add_source(&self, name: &str) {
        self.with(|p| p.sources.push(name.to_string()));
    }

    /// Registers a journal category (`USER_JE_CATEGORY_NAME`); imports naming another are
    /// rejected.
    pub fn add_category(&self, name: &str) {
        self.with(|p| p.categories.push(name.to_string()));
    }

    /// Lets the jobs waiting in BLOCKED go on to their verdict; returns how many.
    pub fn release_blocked_jobs(&self) -> usize {
        let phase = self.shared.options.job_phase;
        self.with(|p| p.release_blocked(phase))
    }

    /// The current status of an import job (`ESSJobStatusRF`'s `RequestStatus`), if it exists.
    pub fn job_status(&self, request_id: u64) -> Option<String> {
        let phase = self.shared.options.job_phase;
        self.with(|p| {
            p.advance(phase);
            p.job_status(request_id, phase).map(str::to_string)
        })
    }

    /// Daily rates exist from `from` to `to` for this conversion type.
    pub fn add_rate(&self, from: &str, to: &str, conversion_type: &str) {
        self.with(|p| {
            p.rates
                .push((from.into(), to.into(), conversion_type.into()))
        });
    }

    /// Takes away (or gives back) the integration user's privilege to run imports.
    pub fn set_import_privilege(&self, granted: bool) {
        self.with(|p| p.privileged = granted);
    }

    /// Invalidates every token issued so far (the next call with one gets 401).
    pub fn expire_tokens(&self) {
        self.with(|p| p.tokens.clear());
    }

    /// Queues a fault.
    pub fn inject(&self, fault: PodFault) {
        self.with(|p| p.inject(fault));
    }

    /// Faults served so far, by kind ([`PodFault::kind`]): one per request a fault changed.
    pub fn faults_served(&self) -> std::collections::BTreeMap<&'static str, u32> {
        self.with(|p| p.faults_served.clone())
    }

    /// Drops the faults not served yet (the trouble is over).
    pub fn clear_faults(&self) {
        self.with(|p| p.faults.clear());
    }

    /// Uses of injected faults not served yet (0 once every injected fault has fired).
    pub fn faults_pending(&self) -> u32 {
        self.with(|p| p.faults.iter().map(|(_, left)| left).sum())
    }

    /// Imports accepted (`importBulkData` calls that got a request id).
    pub fn imports(&self) -> usize {
        self.with(|p| p.jobs.len())
    }

    /// Tokens issued.
    pub fn tokens_issued(&self) -> usize {
        self.with(|p| p.tokens_issued)
    }

    /// Batches created so far (jobs that have finished).
    pub fn batches(&self) -> Vec<BatchView> {
        let phase = self.shared.options.job_phase;
        self.with(|p| {
            p.advance(phase);
            p.batch_views()
        })
    }

    /// A person deletes an unposted batch in Fusion (what a reconciliation must notice).
    /// Returns whether a batch with that id existed.
    pub fn delete_batch(&self, batch_id: u64) -> bool {
        let phase = self.shared.options.job_phase;
        self.with(|p| {
            p.advance(phase);
            let before = p.batches.len();
            p.batches.retain(|b| b.id != batch_id);
            p.batches.len() != before
        })
    }

    /// A person moves line `line_number` of a batch's first journal to another account
    /// combination (`101-000-4000-000-000`), amounts unchanged: totals still agree, the accounts
    /// do not. Returns whether the line existed.
    pub fn move_line(&self, batch_id: u64, line_number: u32, account: &str) -> bool {
        self.change_line(batch_id, line_number, |l| l.account = account.to_string())
    }

    /// A person edits the entered amounts of line `line_number` of an unposted batch's first
    /// journal. Returns whether the line existed.
    pub fn edit_line(
        &self,
        batch_id: u64,
        line_number: u32,
        entered_dr: rust_decimal::Decimal,
        entered_cr: rust_decimal::Decimal,
    ) -> bool {
        self.change_line(batch_id, line_number, |l| {
            l.entered_dr = entered_dr;
            l.entered_cr = entered_cr;
        })
    }

    /// Changes line `line_number` of a batch's first journal, as a person in Fusion would.
    fn change_line(
        &self,
        batch_id: u64,
        line_number: u32,
        change: impl FnOnce(&mut journal_import::NewLine),
    ) -> bool {
        let phase = self.shared.options.job_phase;
        self.with(|p| {
            p.advance(phase);
            let line = p
                .batches
                .iter_mut()
                .filter(|b| b.id == batch_id)
                .flat_map(|b| b.headers.iter_mut().take(1))
                .flat_map(|h| h.lines.iter_mut())
                .find(|l| l.number == line_number);
            line.map(change).is_some()
        })
    }

    /// Requests served, as `METHOD path?query status`.
    pub fn requests(&self) -> Vec<String> {
        self.with(|p| p.log.clone())
    }
}

impl Drop for OraclePod {
    fn drop(&mut self) {
        self.server.abort();
    }
}
