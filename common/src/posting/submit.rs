//! Submission: journals into Oracle, checked first, many per import, and one bad journal
//! isolated so it cannot hold back the rest.
//!
//! Journal Import rejects a whole group when one line is bad. So journals are validated before
//! they are sent (balanced; segment values the chart of accounts allows, when it lists them; an
//! accounting date in an open period, or what `posting.closed_period` says), sent many to one
//! import for throughput, and when an import ends in error the group is split in halves and
//! each half sent again under a new GROUP_ID, until the bad journal is alone: only that one is
//! rejected, with the reason from the job log. An import whose answer was lost is never sent
//! again blindly: its batches are looked up by name.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::config::{ClosedPeriodPolicy, ConnectorConfig, PostingSettings};
use crate::journal::{Journal, JournalFlag};
use crate::oracle::{JobStatus, OracleError, Period};
use crate::ports::{OracleApi, StateStore};
use crate::state::StoreError;

/// Timing of submission and tracking.
#[derive(Debug, Clone)]
pub struct SubmitSettings {
    /// How often a job is checked.
    pub poll_interval: Duration,
    /// How long a job may run before it is left to the tracker.
    pub import_timeout: Duration,
    /// After a lost answer, how long to look for the batches before leaving them to the tracker.
    pub unknown_wait: Duration,
}

impl SubmitSettings {
    /// The settings of the connector document.
    pub fn from_posting(p: &PostingSettings) -> Self {
        let poll = Duration::from_secs(u64::from(p.import_poll_seconds));
        Self {
            poll_interval: poll,
            import_timeout: Duration::from_secs(u64::from(p.import_timeout_minutes) * 60),
            unknown_wait: poll * 8,
        }
    }
}

/// Where GROUP_IDs come from. Every import needs a fresh one; the Import Journals job takes the
/// same number as a parameter, and rows of a failed import stay in GL_INTERFACE under it, so a
/// GROUP_ID must never be used twice by this journal source.
#[async_trait]
pub trait GroupIds: Send + Sync {
    /// A GROUP_ID never used before.
    async fn next_group_id(&self) -> Result<u64, StoreError>;
}

/// Milliseconds since 2020-01-01: a floor that grows with time, so ids keep growing even after
/// the state store is recreated.
fn clock_floor() -> u64 {
    const EPOCH_2020_MS: u64 = 1_577_836_800_000;
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        .saturating_sub(EPOCH_2020_MS)
}

/// GROUP_IDs from the clock: milliseconds since 2020 times 1,000 plus a counter. Unique within
/// one process only: for a single local process and tests. Lambdas use [`StoreGroupIds`].
#[derive(Debug, Default)]
pub struct ClockGroupIds {
    counter: AtomicU64,
}

#[async_trait]
impl GroupIds for ClockGroupIds {
    async fn next_group_id(&self) -> Result<u64, StoreError> {
        Ok(clock_floor() * 1_000 + self.counter.fetch_add(1, Ordering::Relaxed) % 1_000)
    }
}

/// GROUP_IDs from a sequence in the state store, shared by every process (concurrent Lambdas),
/// never below the time this process started (so a recreated table does not reuse ids).
pub struct StoreGroupIds {
    store: Arc<dyn StateStore>,
    floor: u64,
}

impl StoreGroupIds {
    /// Ids from `store`'s `group_id` sequence.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Self {
            store,
            floor: clock_floor(),
        }
    }
}

#[async_trait]
impl GroupIds for StoreGroupIds {
    async fn next_group_id(&self) -> Result<u64, StoreError> {
        self.store.next_sequence("group_id", self.floor).await
    }
}

/// What became of one journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Imported: the batch exists in Fusion.
    Posted {
        /// `JeBatchId`.
        batch_id: u64,
        /// The batch name as Fusion stores it (ours plus its suffixes).
        fusion_name: String,
        /// The import's request id, when known.
        request_id: Option<u64>,
        /// The import group.
        group_id: u64,
    },
    /// Refused for good: Journal Import's reason (or ours, for an unbalanced journal).
    Rejected {
        /// Why.
        reason: String,
        /// The import that isolated it.
        request_id: Option<u64>,
        /// Its group.
        group_id: Option<u64>,
    },
    /// Not sent: needs a person (closed period, a value the chart of accounts does not have,
    /// an import the pod refused).
    Held {
        /// Why.
        reason: String,
    },
    /// Sent, and whether it was imported is not known yet: the tracker looks for its batch.
    Unknown {
        /// The import group.
        group_id: u64,
        /// The request id, when the submission was answered.
        request_id: Option<u64>,
        /// Why it is not known.
        reason: String,
    },
    /// Not sent, because of a passing failure (throttling, an outage): try again later.
    Retry {
        /// What failed.
        reason: String,
    },
    /// Nothing to send: the journal has no lines.
    NothingToPost,
}

/// One journal and its outcome. The journal is the one sent (a closed-period policy may have
/// re-dated it).
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The journal.
    pub journal: Journal,
    /// What became of it.
    pub outcome: Outcome,
}

/// The outcome of a batch of journals.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One per journal, in the order given.
    pub results: Vec<Submitted>,
    /// Imports sent.
    pub imports: u32,
}

type Future<'a, T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

struct Submitter<'a> {
    oracle: &'a dyn OracleApi,
    config: &'a ConnectorConfig,
    settings: &'a SubmitSettings,
    ids: &'a dyn GroupIds,
    imports: AtomicU64,
}

/// Validates and posts journals; returns each one's outcome.
pub async fn post_journals(
    oracle: &dyn OracleApi,
    config: &ConnectorConfig,
    settings: &SubmitSettings,
    ids: &dyn GroupIds,
    journals: Vec<Journal>,
) -> Report {
    let s = Submitter {
        oracle,
        config,
        settings,
        ids,
        imports: AtomicU64::new(0),
    };
    let mut results: Vec<Option<Submitted>> = vec![None; journals.len()];
    let mut ready: Vec<(usize, Journal)> = Vec::new();
    for (i, journal) in journals.into_iter().enumerate() {
        if journal.is_empty() {
            results[i] = Some(Submitted {
                journal,
                outcome: Outcome::NothingToPost,
            });
            continue;
        }
        match s.validate(journal).await {
            Ok(j) => ready.push((i, j)),
            Err(done) => results[i] = Some(*done),
        }
    }
    for group in import_groups(ready, config.posting.batch_size) {
        for (i, submitted) in s.import(group).await {
            results[i] = Some(submitted);
        }
    }
    Report {
        results: results
            .into_iter()
            .map(|r| r.expect("every journal has an outcome"))
            .collect(),
        imports: s.imports.load(Ordering::Relaxed) as u32,
    }
}

fn done(journal: Journal, outcome: Outcome) -> Box<Submitted> {
    Box::new(Submitted { journal, outcome })
}

/// Why Journal Import refused a batch: the lines of its job log about that batch, or else the
/// log's error lines (EBS-style codes such as EF04, EP01).
pub fn reason_from_log(log: &str, batch_name: &str) -> String {
    let about: Vec<&str> = log.lines().filter(|l| l.contains(batch_name)).collect();
    let lines = if about.is_empty() {
        log.lines()
            .filter(|l| {
                l.len() > 5
                    && l.as_bytes()[..2].iter().all(u8::is_ascii_uppercase)
                    && l.as_bytes()[2..4].iter().all(u8::is_ascii_digit)
            })
            .collect()
    } else {
        about
    };
    if lines.is_empty() {
        format!(
            "Journal Import ended in error; its log says: {}",
            log.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        )
    } else {
        format!("Journal Import rejected it: {}", lines.join("; "))
    }
}

/// Checks a journal before it can spoil an import (balanced; chart-of-accounts values; an open
/// period, or what the closed-period policy says, which may re-date it). `Err` is the outcome
/// for a journal that must not be sent now: Rejected, Held, or Retry.
pub async fn validate(
    oracle: &dyn OracleApi,
    config: &ConnectorConfig,
    mut journal: Journal,
) -> Result<Journal, Box<Submitted>> {
    if !journal.is_balanced() {
        let reason = format!(
            "does not balance: debits {} {}, credits {} {}",
            journal.currency,
            journal.currency.format(journal.total_dr()),
            journal.currency,
            journal.currency.format(journal.total_cr())
        );
        return Err(done(
            journal,
            Outcome::Rejected {
                reason,
                request_id: None,
                group_id: None,
            },
        ));
    }
    let coa = &config.oracle.chart_of_accounts;
    for (n, line) in journal.lines.iter().enumerate() {
        for (i, (value, seg)) in line.segments.iter().zip(&coa.segments).enumerate() {
            if let Some(allowed) = &seg.values
                && !allowed.iter().any(|a| a == value)
            {
                let reason = format!(
                    "line {}: {} value {value:?} is not in the chart of accounts (oracle.chart_of_accounts.segments[{i}].values); fix the mapping, then replay",
                    n + 1,
                    seg.name
                );
                return Err(done(journal, Outcome::Held { reason }));
            }
        }
    }
    let date = journal.accounting_date;
    let period = match oracle.period_for_date(journal.ledger_id, date).await {
        Ok(p) => p,
        Err(e) => {
            return Err(done(
                journal,
                Outcome::Retry {
                    reason: format!("period of {date}: {e}"),
                },
            ));
        }
    };
    let Some(period) = period else {
        let reason = format!(
            "ledger {} has no accounting period for {date}",
            journal.ledger
        );
        return Err(done(journal, Outcome::Held { reason }));
    };
    if period.state.accepts_journals() {
        journal.period_name = Some(period.name);
        return Ok(journal);
    }
    let closed = format!(
        "{date} is in period {} of ledger {}, which is not open (status {})",
        period.name,
        journal.ledger,
        period.state.code()
    );
    match config.posting.closed_period {
        ClosedPeriodPolicy::Hold => Err(done(
            journal,
            Outcome::Held {
                reason: format!("{closed}; posting.closed_period = hold"),
            },
        )),
        ClosedPeriodPolicy::NextOpen => {
            match oracle.next_open_period(journal.ledger_id, date).await {
                Ok(Some(Period { name, start, .. })) => {
                    journal.accounting_date = start;
                    journal.period_name = Some(name.clone());
                    if let Some(c) = journal.conversion.as_mut()
                        && c.rate.is_none()
                    {
                        c.date = start;
                    }
                    journal.flags.push(JournalFlag::MovedToOpenPeriod {
                        from: date,
                        period: name,
                    });
                    Ok(journal)
                }
                Ok(None) => Err(done(
                    journal,
                    Outcome::Held {
                        reason: format!(
                            "{closed}, and no later period is open; posting.closed_period = next_open"
                        ),
                    },
                )),
                Err(e) => Err(done(
                    journal,
                    Outcome::Retry {
                        reason: format!("next open period after {date}: {e}"),
                    },
                )),
            }
        }
    }
}

/// What looking journals up by their batch names found.
pub struct Lookup<K> {
    /// In the ledger, as Posted.
    pub found: Vec<(K, Submitted)>,
    /// Not in the ledger: Fusion answered, and no batch has the name.
    pub missing: Vec<(K, Journal)>,
    /// Not known: the lookup failed. Never to be taken for missing, or a journal that is in the
    /// ledger would be sent again (the soak found one posted twice that way).
    pub unread: Vec<(K, Journal)>,
}

/// Looks each journal's batch up by its name. Names are deterministic, so this is how an
/// import's outcome is learnt when its answer was lost, and how a success is confirmed.
pub async fn look_up_by_name<K: Send>(
    oracle: &dyn OracleApi,
    group: Vec<(K, Journal)>,
    group_id: u64,
    request_id: Option<u64>,
) -> Lookup<K> {
    let mut lookup = Lookup {
        found: Vec::new(),
        missing: Vec::new(),
        unread: Vec::new(),
    };
    for (k, journal) in group {
        match oracle.find_batches(&journal.batch_name, false).await {
            Ok(batches) => match batches
                .into_iter()
                .find(|b| b.is_named(&journal.batch_name))
            {
                Some(b) => lookup.found.push((
                    k,
                    Submitted {
                        journal,
                        outcome: Outcome::Posted {
                            batch_id: b.id,
                            fusion_name: b.name,
                            request_id,
                            group_id,
                        },
                    },
                )),
                None => lookup.missing.push((k, journal)),
            },
            Err(_) => lookup.unread.push((k, journal)),
        }
    }
    lookup
}

/// [`look_up_by_name`] for callers that wait and look again: (found, not found or not
/// readable now).
pub async fn find_posted<K: Send>(
    oracle: &dyn OracleApi,
    group: Vec<(K, Journal)>,
    group_id: u64,
    request_id: Option<u64>,
) -> (Vec<(K, Submitted)>, Vec<(K, Journal)>) {
    let mut lookup = look_up_by_name(oracle, group, group_id, request_id).await;
    lookup.missing.append(&mut lookup.unread);
    (lookup.found, lookup.missing)
}

/// The imports a set of journals goes in: one ledger per import (Journal Import runs per
/// ledger), at most `batch_size` journals each, ledgers in id order, journals in the order
/// given.
pub fn import_groups<K>(items: Vec<(K, Journal)>, batch_size: u32) -> Vec<Vec<(K, Journal)>> {
    let batch = batch_size.max(1) as usize;
    let mut by_ledger: std::collections::BTreeMap<u64, Vec<(K, Journal)>> =
        std::collections::BTreeMap::new();
    for (k, journal) in items {
        by_ledger
            .entry(journal.ledger_id)
            .or_default()
            .push((k, journal));
    }
    let mut groups = Vec::new();
    for mut of_ledger in by_ledger.into_values() {
        while !of_ledger.is_empty() {
            let rest = of_ledger.split_off(of_ledger.len().min(batch));
            groups.push(std::mem::replace(&mut of_ledger, rest));
        }
    }
    groups
}

/// What a failed `submit_import` means for the journals in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitFailure {
    /// The import may have been accepted: never resend blindly; look for its batches.
    Lost(String),
    /// Refused in a way retrying will not fix (privilege, bad request, credentials): a person.
    Refused(String),
    /// Nothing was accepted and trying later may work (throttling, outage).
    Passing(String),
}

/// Sorts a `submit_import` error into lost, refused or passing.
pub fn classify_submit_error(e: &OracleError) -> SubmitFailure {
    match e {
        OracleError::OutcomeUnknown { message, .. } => {
            SubmitFailure::Lost(format!("the import's answer was lost ({message})"))
        }
        OracleError::ImportRefused | OracleError::Invalid(_) | OracleError::Unauthorized { .. } => {
            SubmitFailure::Refused(e.to_string())
        }
        OracleError::Status { status, .. } if (400..500).contains(status) && *status != 429 => {
            SubmitFailure::Refused(e.to_string())
        }
        _ => SubmitFailure::Passing(e.to_string()),
    }
}

impl Submitter<'_> {
    async fn validate(&self, journal: Journal) -> Result<Journal, Box<Submitted>> {
        validate(self.oracle, self.config, journal).await
    }

    /// Sends a group (one ledger) and follows it to the end, splitting it when it fails.
    fn import(&self, group: Vec<(usize, Journal)>) -> Future<'_, Vec<(usize, Submitted)>> {
        Box::pin(async move {
            let journals: Vec<Journal> = group.iter().map(|(_, j)| j.clone()).collect();
            let all = |outcome: Outcome| -> Vec<(usize, Submitted)> {
                group
                    .iter()
                    .map(|(i, j)| {
                        (
                            *i,
                            Submitted {
                                journal: j.clone(),
                                outcome: outcome.clone(),
                            },
                        )
                    })
                    .collect()
            };
            let group_id = match self.ids.next_group_id().await {
                Ok(id) => id,
                Err(e) => {
                    return all(Outcome::Retry {
                        reason: format!("no GROUP_ID: {e}"),
                    });
                }
            };
            self.imports.fetch_add(1, Ordering::Relaxed);
            let submission = match self.oracle.submit_import(&journals, group_id).await {
                Ok(s) => s,
                Err(e) => {
                    return match classify_submit_error(&e) {
                        SubmitFailure::Lost(why) => {
                            self.look_for(group, group_id, None, &why).await
                        }
                        SubmitFailure::Refused(reason) => all(Outcome::Held { reason }),
                        SubmitFailure::Passing(reason) => all(Outcome::Retry { reason }),
                    };
                }
            };
            let request_id = submission.request_id;
            let status = match self.track(request_id).await {
                Ok(Some(status)) => status,
                Ok(None) => {
                    let reason = format!(
                        "import {request_id} still running after {:?}",
                        self.settings.import_timeout
                    );
                    return all(Outcome::Unknown {
                        group_id,
                        request_id: Some(request_id),
                        reason,
                    });
                }
                Err(e) => {
                    return all(Outcome::Unknown {
                        group_id,
                        request_id: Some(request_id),
                        reason: format!("tracking: {e}"),
                    });
                }
            };
            if status.is_success() {
                return self.read_back(group, group_id, Some(request_id)).await;
            }
            // Journal Import rejects a whole group on ERROR, so none of it exists. Any other
            // ending might have imported part of it: look before resending anything.
            let mut remaining = group;
            let mut out = Vec::new();
            if status != JobStatus::Error {
                let (found, missing) = self
                    .split_found(remaining, group_id, Some(request_id))
                    .await;
                out.extend(found);
                remaining = missing;
            }
            // Stopped before Journal Import judged them: held for a person, not rejected, not
            // sent again unasked.
            if status.is_stopped() {
                let reason = format!(
                    "import {request_id} ended {status} in Fusion before Journal Import judged it: nothing of it was imported"
                );
                out.extend(remaining.into_iter().map(|(i, journal)| {
                    (
                        i,
                        Submitted {
                            journal,
                            outcome: Outcome::Held {
                                reason: reason.clone(),
                            },
                        },
                    )
                }));
                return out;
            }
            match remaining.len() {
                0 => {}
                1 => {
                    let (i, journal) = remaining.pop().expect("one journal");
                    let reason = match self.oracle.job_log(request_id).await {
                        Ok(log) => reason_from_log(&log, &journal.batch_name),
                        Err(e) => format!(
                            "import {request_id} ended {status}; its log could not be read: {e}"
                        ),
                    };
                    out.push((
                        i,
                        Submitted {
                            journal,
                            outcome: Outcome::Rejected {
                                reason,
                                request_id: Some(request_id),
                                group_id: Some(group_id),
                            },
                        },
                    ));
                }
                n => {
                    let second = remaining.split_off(n / 2);
                    let (a, b) = tokio::join!(self.import(remaining), self.import(second));
                    out.extend(a);
                    out.extend(b);
                }
            }
            out
        })
    }

    /// Polls the job until it ends (`Some`) or the timeout passes (`None`).
    async fn track(&self, request_id: u64) -> Result<Option<JobStatus>, OracleError> {
        let deadline = Instant::now() + self.settings.import_timeout;
        loop {
            let status = self.oracle.job_status(request_id).await?;
            if status.is_terminal() {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(self.settings.poll_interval).await;
        }
    }

    async fn split_found(
        &self,
        group: Vec<(usize, Journal)>,
        group_id: u64,
        request_id: Option<u64>,
    ) -> (Vec<(usize, Submitted)>, Vec<(usize, Journal)>) {
        find_posted(self.oracle, group, group_id, request_id).await
    }

    /// After a successful import: every journal's batch, by name.
    async fn read_back(
        &self,
        group: Vec<(usize, Journal)>,
        group_id: u64,
        request_id: Option<u64>,
    ) -> Vec<(usize, Submitted)> {
        let (mut found, missing) = self.split_found(group, group_id, request_id).await;
        found.extend(missing.into_iter().map(|(i, journal)| {
            let reason = "the import succeeded but its batch is not found by name yet".to_string();
            (
                i,
                Submitted {
                    journal,
                    outcome: Outcome::Unknown {
                        group_id,
                        request_id,
                        reason,
                    },
                },
            )
        }));
        found
    }

    /// After a lost answer: looks for the batches for a while (the job may still be running);
    /// what is not found is left to the tracker, never resent here.
    async fn look_for(
        &self,
        mut group: Vec<(usize, Journal)>,
        group_id: u64,
        request_id: Option<u64>,
        why: &str,
    ) -> Vec<(usize, Submitted)> {
        let deadline = Instant::now() + self.settings.unknown_wait;
        let mut out = Vec::new();
        loop {
            let (found, missing) = self.split_found(group, group_id, request_id).await;
            out.extend(found);
            group = missing;
            if group.is_empty() || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(self.settings.poll_interval).await;
        }
        out.extend(group.into_iter().map(|(i, journal)| {
            (
                i,
                Submitted {
                    journal,
                    outcome: Outcome::Unknown {
                        group_id,
                        request_id,
                        reason: why.to_string(),
                    },
                },
            )
        }));
        out
    }
}
