//! The checks a journal passes before it may go into an import.
//!
//! Journal Import rejects a whole group when one journal in it is bad, so what can be known
//! beforehand is checked here, one journal at a time, and a journal that fails never reaches
//! an import: balanced; segment values the chart of accounts allows, when it lists them; an
//! accounting date in an open General Ledger period, or what `posting.closed_period` says
//! (hold, or move it to the next open period, which re-dates it).

use crate::config::{ClosedPeriodPolicy, ConnectorConfig};
use crate::journal::{Journal, JournalFlag};
use crate::oracle::Period;
use crate::ports::OracleApi;

/// Why a journal is not sent now, and so what becomes of its posting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Wrong for good (it does not balance): Rejected.
    Rejected(String),
    /// Needs a person (a closed period, a value the chart of accounts does not have, no
    /// period for its date): Held, and replayed once fixed.
    Held(String),
    /// Could not be checked because of a passing failure (Fusion unreachable): sent later.
    Retry(String),
}

impl Stop {
    /// The reason, whatever the verdict.
    pub fn reason(&self) -> &str {
        match self {
            Stop::Rejected(r) | Stop::Held(r) | Stop::Retry(r) => r,
        }
    }
}

/// A journal stopped before any import, with the verdict. The journal is returned so the
/// caller can record it as it was judged.
#[derive(Debug, Clone)]
pub struct Stopped {
    /// The journal.
    pub journal: Journal,
    /// Why it is not sent.
    pub stop: Stop,
}

fn stopped(journal: Journal, stop: Stop) -> Box<Stopped> {
    Box::new(Stopped { journal, stop })
}

/// Checks `journal` before it can spoil an import. `Ok` is the journal to send (with its
/// period's name, and re-dated when the closed-period policy moved it); `Err` says why it must
/// not be sent now.
pub async fn check(
    oracle: &dyn OracleApi,
    config: &ConnectorConfig,
    journal: Journal,
) -> Result<Journal, Box<Stopped>> {
    if !journal.is_balanced() {
        let reason = format!(
            "does not balance: debits {} {}, credits {} {}",
            journal.currency,
            journal.currency.format(journal.total_dr()),
            journal.currency,
            journal.currency.format(journal.total_cr())
        );
        return Err(stopped(journal, Stop::Rejected(reason)));
    }
    if let Some(reason) = segment_not_in_chart(config, &journal) {
        return Err(stopped(journal, Stop::Held(reason)));
    }
    open_period(oracle, config, journal).await
}

/// The first segment value the chart of accounts does not list, as a reason naming the field
/// to fix.
fn segment_not_in_chart(config: &ConnectorConfig, journal: &Journal) -> Option<String> {
    let coa = &config.oracle.chart_of_accounts;
    for (n, line) in journal.lines.iter().enumerate() {
        for (i, (value, seg)) in line.segments.iter().zip(&coa.segments).enumerate() {
            if let Some(allowed) = &seg.values
                && !allowed.iter().any(|a| a == value)
            {
                return Some(format!(
                    "line {}: {} value {value:?} is not in the chart of accounts (oracle.chart_of_accounts.segments[{i}].values); fix the mapping, then replay",
                    n + 1,
                    seg.name
                ));
            }
        }
    }
    None
}

/// Puts the journal in its open period, or applies the closed-period policy.
async fn open_period(
    oracle: &dyn OracleApi,
    config: &ConnectorConfig,
    mut journal: Journal,
) -> Result<Journal, Box<Stopped>> {
    let date = journal.accounting_date;
    let period = match oracle.period_for_date(journal.ledger_id, date).await {
        Ok(p) => p,
        Err(e) => {
            let reason = format!("period of {date}: {e}");
            return Err(stopped(journal, Stop::Retry(reason)));
        }
    };
    let Some(period) = period else {
        let reason = format!(
            "ledger {} has no accounting period for {date}",
            journal.ledger
        );
        return Err(stopped(journal, Stop::Held(reason)));
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
        ClosedPeriodPolicy::Hold => {
            let reason = format!("{closed}; posting.closed_period = hold");
            Err(stopped(journal, Stop::Held(reason)))
        }
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
                Ok(None) => {
                    let reason = format!(
                        "{closed}, and no later period is open; posting.closed_period = next_open"
                    );
                    Err(stopped(journal, Stop::Held(reason)))
                }
                Err(e) => {
                    let reason = format!("next open period after {date}: {e}");
                    Err(stopped(journal, Stop::Retry(reason)))
                }
            }
        }
    }
}
