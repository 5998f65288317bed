//! The pod's ledgers, jobs and batches, and how each resource answers.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::journal_import::{LedgerRules, NewBatch, NewLine, Outcome};
use super::{BatchView, JobEnd, LedgerSpec, PodFault};

/// General Ledger's application id, the one of the ledger's own period statuses.
pub const GENERAL_LEDGER: u32 = 101;

pub(crate) struct Job {
    pub request_id: u64,
    pub group_id: String,
    /// The ledger of the request (its third parameter), when it could be read.
    pub ledger_id: Option<u64>,
    pub submitted: Instant,
    pub outcome: Option<Outcome>,
    pub failed_early: Option<String>,
    /// An ending forced by a fault (WARNING, CANCELLED, BLOCKED).
    pub end: Option<JobEnd>,
    pub finished: bool,
    pub log: String,
}

pub(crate) struct Header {
    pub id: String,
    pub date: chrono::NaiveDate,
    pub name: String,
    pub description: String,
    pub reference: String,
    pub category: String,
    pub currency: String,
    pub period: String,
    pub lines: Vec<NewLine>,
}

pub(crate) struct Batch {
    pub id: u64,
    /// The ledger its journals were imported into.
    pub ledger_id: u64,
    pub name: String,
    pub group_id: String,
    pub description: String,
    pub source: String,
    pub period: String,
    pub headers: Vec<Header>,
}

pub(crate) struct Pod {
    pub tokens: HashMap<String, Instant>,
    pub tokens_issued: usize,
    pub ledgers: BTreeMap<u64, LedgerRules>,
    pub segments: Vec<Option<Vec<String>>>,
    pub sources: Vec<String>,
    pub categories: Vec<String>,
    pub rates: Vec<(String, String, String)>,
    /// Period statuses of applications other than General Ledger: (ledger, period, application
    /// id, status). Fusion keeps one status per ledger, period and application.
    pub app_periods: Vec<(u64, String, u32, char)>,
    pub privileged: bool,
    pub jobs: BTreeMap<u64, Job>,
    pub batches: Vec<Batch>,
    pub faults: Vec<(PodFault, u32)>,
    /// Faults served, by kind ([`PodFault::kind`]).
    pub faults_served: BTreeMap<&'static str, u32>,
    pub log: Vec<String>,
    next_request: u64,
    next_batch: u64,
}

impl Default for Pod {
    fn default() -> Self {
        Self {
            tokens: HashMap::new(),
            tokens_issued: 0,
            ledgers: BTreeMap::new(),
            segments: Vec::new(),
            sources: Vec::new(),
            categories: Vec::new(),
            rates: Vec::new(),
            app_periods: Vec::new(),
            privileged: true,
            jobs: BTreeMap::new(),
            batches: Vec::new(),
            faults: Vec::new(),
            faults_served: BTreeMap::new(),
            log: Vec::new(),
            next_request: 5001,
            next_batch: 300_000_100_000_001,
        }
    }
}

/// Job status by age: WAIT, RUNNING, PAUSED (the parent waits on its children), then the end.
/// A job a fault blocks waits in BLOCKED after WAIT until it is released; one a fault cancels is
/// CANCELLED after WAIT; one a fault ends in WARNING runs, then ends WARNING whatever the
/// verdict (its batches are created if the verdict accepted them).
fn status_at(job: &Job, phase: Duration) -> &'static str {
    let age = job.submitted.elapsed();
    if job.failed_early.is_some() && age >= phase {
        return "ERROR";
    }
    if age >= phase {
        match job.end {
            Some(JobEnd::Blocked) => return "BLOCKED",
            Some(JobEnd::Cancelled) => return "CANCELLED",
            _ => {}
        }
    }
    match age {
        a if a < phase => "WAIT",
        a if a < phase * 2 => "RUNNING",
        a if a < phase * 3 => "PAUSED",
        _ if job.end == Some(JobEnd::Warning) => "WARNING",
        _ => match &job.outcome {
            Some(Outcome::Imported(_)) => "SUCCEEDED",
            _ => "ERROR",
        },
    }
}

impl Pod {
    pub fn add_ledger(
        &mut self,
        spec: LedgerSpec,
        periods: Vec<(String, NaiveDate, NaiveDate, char)>,
    ) {
        self.ledgers.insert(
            spec.id,
            LedgerRules {
                id: spec.id,
                name: spec.name,
                currency: spec.currency,
                allow_suspense: spec.allow_suspense,
                periods,
            },
        );
    }

    pub fn set_period_status(&mut self, ledger_id: u64, period: &str, status: char) {
        let ledger = self.ledgers.get_mut(&ledger_id).expect("pod ledger");
        let p = ledger
            .periods
            .iter_mut()
            .find(|p| p.0 == period)
            .expect("pod period");
        p.3 = status;
    }

    pub fn inject(&mut self, fault: PodFault) {
        let times = match &fault {
            PodFault::Status { times, .. }
            | PodFault::Throttle { times, .. }
            | PodFault::Delay { times, .. }
            | PodFault::LoseImportResponse { times }
            | PodFault::EndJob { times, .. }
            | PodFault::Malform { times, .. } => *times,
        };
        self.faults.push((fault, times));
    }

    /// Takes one use of the first fault that applies; `import` says whether this is an import.
    pub fn take_fault(&mut self, path: &str, import: bool) -> Option<PodFault> {
        let slot = self.faults.iter_mut().find(|(f, left)| {
            *left > 0
                && match f {
                    PodFault::Status { path: p, .. } | PodFault::Delay { path: p, .. } => {
                        p.as_ref().is_none_or(|p| path.contains(p.as_str()))
                    }
                    PodFault::Malform { path: p, .. } => {
                        !import && p.as_ref().is_none_or(|p| path.contains(p.as_str()))
                    }
                    PodFault::Throttle { .. } => true,
                    PodFault::LoseImportResponse { .. } | PodFault::EndJob { .. } => import,
                }
        })?;
        slot.1 -= 1;
        let fault = slot.0.clone();
        self.faults.retain(|(_, left)| *left > 0);
        *self.faults_served.entry(fault.kind()).or_default() += 1;
        Some(fault)
    }

    pub fn issue_token(&mut self, lifetime: Duration) -> String {
        use base64::Engine;
        self.tokens_issued += 1;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let exp = chrono::Utc::now().timestamp() + lifetime.as_secs() as i64;
        let header = b64.encode(br#"{"alg":"RS256","typ":"JWT","x5t":"sandbox"}"#);
        let payload = b64.encode(format!(r#"{{"sub":"integration","scope":"urn:opc:resource:consumer::all","exp":{exp},"jti":"{}"}}"#, self.tokens_issued));
        let signature = b64.encode(format!(
            "sandbox-signature-{}-{}",
            self.tokens_issued,
            std::process::id()
        ));
        let token = format!("{header}.{payload}.{signature}");
        self.tokens.insert(token.clone(), Instant::now() + lifetime);
        token
    }

    pub fn token_valid(&self, token: &str) -> bool {
        self.tokens
            .get(token)
            .is_some_and(|exp| *exp > Instant::now())
    }

    /// Records an import job; its batches appear when it finishes.
    pub fn submit(
        &mut self,
        group_id: String,
        ledger_id: Option<u64>,
        outcome: Result<Outcome, String>,
        end: Option<JobEnd>,
    ) -> u64 {
        let request_id = self.next_request;
        self.next_request += 1;
        let (outcome, failed_early) = match outcome {
            Ok(o) => (Some(o), None),
            Err(e) => (None, Some(e)),
        };
        self.jobs.insert(
            request_id,
            Job {
                request_id,
                group_id,
                ledger_id,
                submitted: Instant::now(),
                outcome,
                failed_early,
                end,
                finished: false,
                log: String::new(),
            },
        );
        request_id
    }

    /// Finishes every job whose time has come: creates its batches or writes why not.
    pub fn advance(&mut self, phase: Duration) {
        let due: Vec<(u64, &'static str)> = self
            .jobs
            .values()
            .filter(|j| !j.finished)
            .map(|j| (j.request_id, status_at(j, phase)))
            .filter(|(_, s)| matches!(*s, "SUCCEEDED" | "ERROR" | "WARNING" | "CANCELLED"))
            .collect();
        for (id, status) in due {
            let job = self.jobs.get_mut(&id).expect("due job");
            job.finished = true;
            let mut log = format!(
                "Load Interface File for Import (request {id}): GlInterface.csv loaded\nImport Journals, group {}\n",
                job.group_id
            );
            let mut created = Vec::new();
            match (&job.failed_early, &job.outcome) {
                (Some(reason), _) => log.push_str(&format!("Status: ERROR\n{reason}\n")),
                _ if status == "CANCELLED" => log.push_str(
                    "Status: CANCELLED\nThe request was cancelled before Import Journals ran; nothing was imported for this group\n",
                ),
                (None, Some(Outcome::Rejected(errors))) => {
                    log.push_str(&format!(
                        "Status: {status}\n{} errors; no journals were imported for this group\n",
                        errors.len()
                    ));
                    for e in errors {
                        log.push_str(e);
                        log.push('\n');
                    }
                }
                (None, Some(Outcome::Imported(batches))) => {
                    log.push_str(&format!(
                        "Status: {status}\n{} batches created\n",
                        batches.len()
                    ));
                    if status == "WARNING" {
                        log.push_str("Import Journals completed with warnings\n");
                    }
                    created = batches.clone();
                }
                (None, None) => log.push_str("Status: ERROR\n"),
            }
            let group = job.group_id.clone();
            let ledger_id = job.ledger_id.unwrap_or_default();
            job.log = log;
            for b in created {
                self.store_batch(id, &group, ledger_id, b);
            }
        }
    }

    /// Lets every blocked job go on (the job that blocked it ended); returns how many.
    pub fn release_blocked(&mut self, phase: Duration) -> usize {
        let mut released = 0;
        for job in self.jobs.values_mut() {
            if !job.finished && job.end == Some(JobEnd::Blocked) {
                job.end = None;
                // On from RUNNING, as if it had waited only its first phase.
                job.submitted = Instant::now().checked_sub(phase).unwrap_or(job.submitted);
                released += 1;
            }
        }
        released
    }

    /// The status of `period` of a ledger for an application: General Ledger's is the ledger's
    /// own; another application's is what was set for it, if anything.
    pub fn set_app_period_status(&mut self, ledger_id: u64, period: &str, app: u32, status: char) {
        if app == GENERAL_LEDGER {
            return self.set_period_status(ledger_id, period, status);
        }
        self.app_periods
            .retain(|(l, p, a, _)| !(*l == ledger_id && p == period && *a == app));
        self.app_periods
            .push((ledger_id, period.to_string(), app, status));
    }

    fn store_batch(&mut self, request_id: u64, group: &str, ledger_id: u64, b: NewBatch) {
        let id = self.next_batch;
        self.next_batch += 1;
        let headers = b
            .journals
            .into_iter()
            .enumerate()
            .map(|(n, j)| Header {
                id: format!("00020000000EACED0005770800{id:016X}{n:04X}"),
                date: j.date,
                name: j.name,
                description: j.description,
                reference: j.reference,
                category: j.category,
                currency: j.currency,
                period: j.period,
                lines: j.lines,
            })
            .collect();
        self.batches.push(Batch {
            id,
            ledger_id,
            // Fusion appends source, actual flag, group id and request id to REFERENCE1.
            name: format!("{} {} A {group} {request_id} N", b.reference1, b.source),
            group_id: group.to_string(),
            description: b.description,
            source: b.source,
            period: b.period,
            headers,
        });
    }

    pub fn job_status(&self, request_id: u64, phase: Duration) -> Option<&'static str> {
        self.jobs.get(&request_id).map(|j| status_at(j, phase))
    }

    pub fn batch_json(&self, b: &Batch) -> Value {
        let (dr, cr) = b.headers.iter().flat_map(|h| &h.lines).fold(
            (rust_decimal::Decimal::ZERO, rust_decimal::Decimal::ZERO),
            |(d, c), l| (d + l.entered_dr, c + l.entered_cr),
        );
        let num = |d: rust_decimal::Decimal| json!(d.to_string().parse::<f64>().unwrap_or(0.0));
        json!({"JeBatchId": b.id, "BatchName": b.name, "BatchDescription": b.description,
            "Status": "U", "StatusMeaning": "Unposted", "DefaultPeriodName": b.period,
            "UserJeSourceName": b.source, "ActualFlagMeaning": "Actual",
            "RunningTotalDr": num(dr), "RunningTotalCr": num(cr),
            "RunningTotalAccountedDr": num(dr), "RunningTotalAccountedCr": num(cr),
            "RequestId": null, "ErrorMessage": null, "PostedDate": null})
    }

    /// A journal header as Fusion answers it: with its own ledger's name and currency.
    pub fn header_json(h: &Header, ledger: Option<&LedgerRules>) -> Value {
        json!({"JournalName": h.name, "JournalDescription": h.description,
            "LedgerName": ledger.map(|l| l.name.as_str()).unwrap_or_default(),
            "LedgerCurrencyCode": ledger.map(|l| l.currency.as_str()).unwrap_or_default(),
            "CurrencyCode": h.currency, "PeriodName": h.period, "UserJeCategoryName": h.category,
            "ExternalReference": h.reference, "DefaultEffectiveDate": h.date.to_string()})
    }

    pub fn line_json(l: &NewLine) -> Value {
        let num = |d: rust_decimal::Decimal| {
            if d.is_zero() {
                Value::Null
            } else {
                json!(d.to_string().parse::<f64>().unwrap_or(0.0))
            }
        };
        json!({"JeLineNumber": l.number, "AccountCombination": l.account,
            "EnteredDr": num(l.entered_dr), "EnteredCr": num(l.entered_cr),
            "AccountedDr": num(l.entered_dr), "AccountedCr": num(l.entered_cr),
            "CurrencyCode": l.currency, "Description": l.description})
    }

    pub fn batch_views(&self) -> Vec<BatchView> {
        self.batches
            .iter()
            .map(|b| BatchView {
                id: b.id,
                ledger_id: b.ledger_id,
                name: b.name.clone(),
                group_id: b.group_id.clone(),
                journals: b
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.clone(),
                            h.lines
                                .iter()
                                .map(|l| (l.account.clone(), l.entered_dr, l.entered_cr))
                                .collect(),
                        )
                    })
                    .collect(),
            })
            .collect()
    }
}
