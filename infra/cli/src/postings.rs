//! `mlc postings`: the operator's morning queue. The postings waiting on a person (held,
//! rejected) or still on their way (queued, submitted), oldest first, with why and for how
//! long, from local state or the deployed table. Its exit code gates a script: 1 while any
//! listed posting needs action.

use chrono::{DateTime, Duration, Utc};
use common::state::{PostingRecord, PostingState, StateName};
use serde::Serialize;

use crate::ReportFormat;
use crate::failure::Failure;
use crate::state_args::StoreArgs;

/// `mlc postings` arguments.
#[derive(clap::Args)]
pub struct PostingsArgs {
    #[command(flatten)]
    on: StoreArgs,
    /// Only postings in this state (repeat for several); held, rejected, submitted and queued
    /// when left out.
    #[arg(long, value_enum)]
    status: Vec<Status>,
    /// Only postings unchanged for at least this long: 90s, 15m, 1h, 2d.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    older_than: Option<Duration>,
    /// Only this store id of the connector document.
    #[arg(long)]
    store: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
}

/// A posting state `--status` selects.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Status {
    /// Waiting for a person (a closed period, a totals mismatch): needs action.
    Held,
    /// Refused by Journal Import: needs action.
    Rejected,
    /// Sent to Oracle, outcome pending.
    Submitted,
    /// Decided, not sent yet.
    Queued,
    /// In the ledger (not listed unless asked for).
    Posted,
}

impl Status {
    fn state(self) -> StateName {
        match self {
            Status::Held => StateName::Held,
            Status::Rejected => StateName::Rejected,
            Status::Submitted => StateName::Submitted,
            Status::Queued => StateName::Queued,
            Status::Posted => StateName::Posted,
        }
    }
}

/// The states listed when `--status` is left out: everything not settled in the ledger.
const UNSETTLED: [Status; 4] = [
    Status::Held,
    Status::Rejected,
    Status::Submitted,
    Status::Queued,
];

/// One row of the queue.
#[derive(Serialize)]
struct Row {
    store: String,
    order_id: u64,
    posting: String,
    state: StateName,
    /// Why it is held or rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    batch_name: String,
    updated_at: DateTime<Utc>,
    /// Seconds since the posting last changed.
    age_seconds: i64,
    needs_action: bool,
}

impl Row {
    fn of(p: &PostingRecord, now: DateTime<Utc>) -> Self {
        let reason = match &p.state {
            PostingState::Held { reason } | PostingState::Rejected { reason } => {
                Some(reason.clone())
            }
            _ => None,
        };
        let state = p.state.name();
        Row {
            store: p.key.store.clone(),
            order_id: p.key.order_id,
            posting: p.key.posting.to_string(),
            state,
            reason,
            batch_name: p.journal.batch_name.clone(),
            updated_at: p.updated_at,
            age_seconds: (now - p.updated_at).num_seconds().max(0),
            needs_action: matches!(state, StateName::Held | StateName::Rejected),
        }
    }
}

/// The queue as JSON: one document.
#[derive(Serialize)]
struct Queue {
    needs_action: usize,
    postings: Vec<Row>,
}

/// Lists the postings; `Err(Failed)` (exit code 1) after the list when any needs action.
pub async fn run(args: PostingsArgs) -> Result<(), Failure> {
    let store = args.on.open().await?;
    let now = Utc::now();
    let before = now - args.older_than.unwrap_or_else(Duration::zero);
    let statuses = if args.status.is_empty() {
        UNSETTLED.to_vec()
    } else {
        args.status.clone()
    };
    let mut found: Vec<PostingRecord> = Vec::new();
    for status in statuses {
        // No limit: a queue of thousands is listed whole (the stores page through it).
        let mut these = store
            .postings_in_state(status.state(), before, i64::MAX as usize)
            .await?;
        these.retain(|p| args.store.as_deref().is_none_or(|s| p.key.store == s));
        found.extend(these);
    }
    found.sort_by(|a, b| (a.updated_at, &a.key).cmp(&(b.updated_at, &b.key)));
    found.dedup_by(|a, b| a.key == b.key);
    let rows: Vec<Row> = found.iter().map(|p| Row::of(p, now)).collect();
    let needing = rows.iter().filter(|r| r.needs_action).count();
    match args.format {
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&Queue {
                needs_action: needing,
                postings: rows,
            })
            .map_err(|e| Failure::Failed(e.into()))?
        ),
        ReportFormat::Text => print!("{}", render(&rows)),
    }
    if needing == 0 {
        Ok(())
    } else {
        Err(Failure::Failed(anyhow::anyhow!(
            "{needing} posting(s) need action (held or rejected): fix the cause, then `mlc replay`"
        )))
    }
}

/// The queue for people: a line per posting, oldest first.
fn render(rows: &[Row]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("no postings\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{} postings, oldest first:\n  {:<8} {:<10} {:<6} {:<10} {:<14} REASON",
        rows.len(),
        "AGE",
        "STATE",
        "STORE",
        "ORDER",
        "POSTING"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "  {:<8} {:<10} {:<6} {:<10} {:<14} {}",
            age_text(r.age_seconds),
            r.state.as_str(),
            r.store,
            r.order_id,
            r.posting,
            r.reason.as_deref().unwrap_or("")
        );
    }
    out
}

/// An age for people, in its two largest units: `45s`, `12m`, `3h 5m`, `2d 4h`.
fn age_text(seconds: i64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// `--older-than`: a whole number and a unit, `s`, `m`, `h` or `d` (`90s`, `15m`, `1h`, `2d`).
fn parse_age(text: &str) -> Result<Duration, String> {
    let expected = || format!("{text:?}: expected a whole number and a unit: 90s, 15m, 1h or 2d");
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(expected)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| expected())?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(expected()),
    };
    n.checked_mul(unit_seconds)
        .and_then(Duration::try_seconds)
        .ok_or_else(|| format!("{text:?}: too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_seconds_minutes_hours_and_days() {
        assert_eq!(parse_age("90s"), Ok(Duration::seconds(90)));
        assert_eq!(parse_age("15m"), Ok(Duration::minutes(15)));
        assert_eq!(parse_age("1h"), Ok(Duration::hours(1)));
        assert_eq!(parse_age("2d"), Ok(Duration::days(2)));
        for bad in ["", "h", "1", "1.5h", "1w", "-1h", "1 h"] {
            let err = parse_age(bad).unwrap_err();
            assert!(
                err.contains("expected a whole number and a unit"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn ages_print_in_their_two_largest_units() {
        assert_eq!(age_text(45), "45s");
        assert_eq!(age_text(12 * 60 + 5), "12m");
        assert_eq!(age_text(3 * 3600 + 5 * 60), "3h 5m");
        assert_eq!(age_text(2 * 86_400 + 4 * 3600 + 59), "2d 4h");
    }
}
