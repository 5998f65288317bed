//! What the Fusion client returns: job states, batches read back, periods, ledgers.

use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The state of an ESS job (`RequestStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobStatus {
    /// Waiting to run.
    Wait,
    /// Ready to run.
    Ready,
    /// Scheduled.
    Scheduled,
    /// Running.
    Running,
    /// Processing.
    Processing,
    /// Blocked by another job.
    Blocked,
    /// On hold.
    Hold,
    /// The parent job waits on its children (`importBulkData` does, for Import Journals).
    Paused,
    /// Finished well.
    Succeeded,
    /// Finished in error.
    Error,
    /// Finished with warnings; treated as a failure for Journal Import.
    Warning,
    /// Cancelled.
    Cancelled,
    /// Expired.
    Expired,
    /// Rejected before it ran.
    ValidationFailed,
    /// Failed and waits for a person.
    ErrorManualRecovery,
    /// Anything else, including the empty status Fusion gives jobs it did not start through
    /// `erpintegrations`: treated as still running.
    Other(String),
}

impl JobStatus {
    /// Reads `RequestStatus`.
    pub fn parse(text: &str) -> Self {
        match text.trim().to_ascii_uppercase().replace(' ', "_").as_str() {
            "WAIT" => Self::Wait,
            "READY" => Self::Ready,
            "SCHEDULED" => Self::Scheduled,
            "RUNNING" => Self::Running,
            "PROCESSING" => Self::Processing,
            "BLOCKED" => Self::Blocked,
            "HOLD" => Self::Hold,
            "PAUSED" => Self::Paused,
            "SUCCEEDED" => Self::Succeeded,
            "ERROR" => Self::Error,
            "WARNING" => Self::Warning,
            "CANCELLED" | "CANCELED" => Self::Cancelled,
            "EXPIRED" => Self::Expired,
            "VALIDATION_FAILED" => Self::ValidationFailed,
            "ERROR_MANUAL_RECOVERY" => Self::ErrorManualRecovery,
            _ => Self::Other(text.trim().to_string()),
        }
    }

    /// The job will not change any more.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Succeeded
                | Self::Error
                | Self::Warning
                | Self::Cancelled
                | Self::Expired
                | Self::ValidationFailed
                | Self::ErrorManualRecovery
        )
    }

    /// The job finished and its journals exist.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Succeeded)
    }

    /// The job was stopped before Journal Import judged the journals (a person cancelled it,
    /// or it expired waiting): nothing says they are wrong, and someone decided not to import
    /// them now, so they are neither rejected nor sent again on the connector's own.
    pub fn is_stopped(&self) -> bool {
        matches!(self, Self::Cancelled | Self::Expired)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other(t) if t.is_empty() => f.write_str("(no status)"),
            Self::Other(t) => f.write_str(t),
            other => write!(f, "{}", format!("{other:?}").to_ascii_uppercase()),
        }
    }
}

/// An accepted import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// `ReqstId` of the load job (what `ESSJobStatusRF` tracks).
    pub request_id: u64,
    /// The import group.
    pub group_id: u64,
    /// Batch names in the file.
    pub batches: Vec<String>,
}

/// A journal line read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineRecord {
    /// `JeLineNumber`.
    pub number: u32,
    /// `AccountCombination` (segments joined by the chart's separator).
    pub account: String,
    /// Entered debit.
    pub entered_dr: Decimal,
    /// Entered credit.
    pub entered_cr: Decimal,
    /// Description.
    pub description: String,
}

/// A journal (header) read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalRecord {
    /// `JournalName`.
    pub name: String,
    /// `ExternalReference` (REFERENCE6: the order).
    pub reference: String,
    /// `CurrencyCode`.
    pub currency: String,
    /// `PeriodName`.
    pub period: String,
    /// Lines, when asked for.
    pub lines: Vec<LineRecord>,
}

/// A journal batch read back from `journalBatches`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchRecord {
    /// `JeBatchId`.
    pub id: u64,
    /// `BatchName`: our REFERENCE1 plus Fusion's suffixes (source, flag, group, request).
    pub name: String,
    /// `Status` (`U` unposted, `P` posted).
    pub status: String,
    /// `DefaultPeriodName`.
    pub period: String,
    /// Running total of debits.
    pub total_dr: Decimal,
    /// Running total of credits.
    pub total_cr: Decimal,
    /// Journals, when asked for.
    pub journals: Vec<JournalRecord>,
}

impl BatchRecord {
    /// Whether this batch came from a REFERENCE1 of `name` (Fusion adds " <source> A …").
    pub fn is_named(&self, name: &str) -> bool {
        self.name == name
            || self
                .name
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' '))
    }
}

/// A period's closing status (`ClosingStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PeriodState {
    /// `O`: open.
    Open,
    /// `F`: future-enterable (unposted journals may be entered).
    Future,
    /// `C`: closed.
    Closed,
    /// `N`: never opened.
    NeverOpened,
    /// `P`: permanently closed.
    PermanentlyClosed,
    /// `W`: close pending.
    ClosePending,
    /// Anything else.
    Other(String),
}

impl PeriodState {
    /// Reads `ClosingStatus`.
    pub fn parse(code: &str) -> Self {
        match code.trim() {
            "O" => Self::Open,
            "F" => Self::Future,
            "C" => Self::Closed,
            "N" => Self::NeverOpened,
            "P" => Self::PermanentlyClosed,
            "W" => Self::ClosePending,
            other => Self::Other(other.to_string()),
        }
    }

    /// Journal Import accepts journals dated in it.
    pub fn accepts_journals(&self) -> bool {
        matches!(self, Self::Open | Self::Future)
    }

    /// The one-letter code.
    pub fn code(&self) -> &str {
        match self {
            Self::Open => "O",
            Self::Future => "F",
            Self::Closed => "C",
            Self::NeverOpened => "N",
            Self::PermanentlyClosed => "P",
            Self::ClosePending => "W",
            Self::Other(c) => c,
        }
    }
}

/// An accounting period of a ledger (General Ledger's status of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// `PeriodNameId`, e.g. `Mar-26`.
    pub name: String,
    /// Its status.
    pub state: PeriodState,
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
}

/// A ledger from `ledgersLOV`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerRecord {
    /// `LedgerId`.
    pub id: u64,
    /// `Name`.
    pub name: String,
    /// `CurrencyCode`.
    pub currency: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_states_paused_and_unknown_are_not_terminal() {
        for running in ["WAIT", "RUNNING", "PAUSED", "blocked", "", "SOMETHING_NEW"] {
            assert!(!JobStatus::parse(running).is_terminal(), "{running}");
        }
        for done in [
            "SUCCEEDED",
            "ERROR",
            "WARNING",
            "CANCELED",
            "CANCELLED",
            "EXPIRED",
            "VALIDATION_FAILED",
            "ERROR MANUAL RECOVERY",
        ] {
            assert!(JobStatus::parse(done).is_terminal(), "{done}");
        }
        assert!(JobStatus::parse("succeeded").is_success());
        for stopped in ["CANCELLED", "canceled", "EXPIRED"] {
            assert!(JobStatus::parse(stopped).is_stopped(), "{stopped}");
        }
        for judged in [
            "ERROR",
            "WARNING",
            "SUCCEEDED",
            "BLOCKED",
            "ERROR MANUAL RECOVERY",
        ] {
            assert!(!JobStatus::parse(judged).is_stopped(), "{judged}");
        }
        assert!(
            !JobStatus::parse("WARNING").is_success(),
            "warnings are failures for Journal Import"
        );
        assert_eq!(JobStatus::parse("").to_string(), "(no status)");
    }

    #[test]
    fn fusion_batch_names_carry_suffixes() {
        let b = BatchRecord {
            id: 1,
            name: "BC-us-1-sale BigCommerce A 17 5001 N".into(),
            status: "U".into(),
            period: "Mar-26".into(),
            total_dr: Decimal::ZERO,
            total_cr: Decimal::ZERO,
            journals: vec![],
        };
        assert!(b.is_named("BC-us-1-sale"));
        assert!(
            !b.is_named("BC-us-1"),
            "a prefix of another order's name is not the name"
        );
    }
}
