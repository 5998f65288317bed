//! `mlc reconcile`: reads the period from the command line, runs
//! `common::posting::reconcile`, and writes the report for people or as JSON.

use std::fmt::Write as _;

use anyhow::anyhow;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use common::posting::reconcile::{
    Finding, OrderLine, ReconcileReport, ReconcileRequest, Selection, Standing,
    reconcile_with_progress,
};

use crate::{Failure, ReconcileArgs, SelectBy, bad, operator_services};

/// How the report is written, and where.
#[derive(clap::Args)]
pub struct Output {
    /// Output format: text for people, json for scripts, csv (a row per finding) for
    /// spreadsheets, html (one self-contained page: totals, a chart per day, the orders needing
    /// action) for a controller; html needs --out.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

/// The report's formats.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// The whole report, for scripts.
    Json,
    /// A row per finding, for spreadsheets.
    Csv,
    /// One self-contained page, for a controller (needs --out).
    Html,
}

/// Runs the command; `Err(Failed)` (exit code 1) after the report when something needs action.
pub async fn run(args: ReconcileArgs) -> Result<(), Failure> {
    // The command line's syntax first: a typo is named before any system is reached.
    if matches!(args.output.format, Format::Html) && args.output.out.is_none() {
        return Err(bad(anyhow!(
            "--out: required with --format html (the page's file, e.g. --out reconciliation.html)"
        )));
    }
    instant("--from", &args.from, Tz::UTC)?;
    if let Some(to) = &args.to {
        instant("--to", to, Tz::UTC)?;
    }
    let services = operator_services(&args.on).await?;
    // Dates are the store's days when one store is asked for: a month-end in Berlin ends at
    // midnight in Berlin.
    let tz: Tz = match &args.store {
        Some(id) => match services.store_entry(id) {
            Some(entry) => entry
                .timezone
                .parse()
                .map_err(|e| bad(anyhow!("stores[{id}].timezone {:?}: {e}", entry.timezone)))?,
            None => Tz::UTC,
        },
        None => Tz::UTC,
    };
    let from = instant("--from", &args.from, tz)?;
    let to = match &args.to {
        Some(text) => instant("--to", text, tz)?,
        None => Utc::now(),
    };
    let request = ReconcileRequest {
        store: args.store.clone(),
        from,
        to,
        select: match args.select {
            SelectBy::Created => Selection::Created,
            SelectBy::Modified => Selection::Modified,
        },
        check_ledger: !args.no_ledger,
        fix: args.fix.then(|| args.by.clone()),
    };
    let report = {
        // The bar goes when the run ends, before the report is written.
        let bar = crate::progress::on_terminal("orders");
        reconcile_with_progress(&services, &request, bar.as_ref()).await?
    };
    let text = match args.output.format {
        Format::Csv => csv(&report),
        Format::Json => {
            serde_json::to_string_pretty(&report).map_err(|e| Failure::Failed(e.into()))? + "\n"
        }
        Format::Text => render(&report),
        Format::Html => crate::report_html::render(&report, tz, Utc::now()),
    };
    match &args.output.out {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| {
                Failure::Failed(anyhow!("--out: cannot write {}: {e}", path.display()))
            })?;
            eprintln!(
                "wrote {}: {} orders, {} needing action",
                path.display(),
                report.orders.len(),
                report.needing_action()
            );
        }
        None => print!("{text}"),
    }
    let needing = report.needing_action();
    if needing == 0 {
        Ok(())
    } else {
        Err(Failure::Failed(anyhow!(
            "{needing} order(s) need action{}",
            if report.queued > 0 {
                format!("; {} queued by --fix", report.queued)
            } else {
                String::new()
            }
        )))
    }
}

/// A date (midnight in `tz`) or an RFC 3339 time.
fn instant(flag: &str, text: &str, tz: Tz) -> Result<DateTime<Utc>, Failure> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        bad(anyhow!(
            "{flag} {text:?}: expected a date (2026-03-01) or an RFC 3339 time (2026-03-01T00:00:00Z)"
        ))
    })?;
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| bad(anyhow!("{flag} {text:?}: midnight does not exist in {tz}")))
}

/// A standing in words, the same in every format.
pub(crate) fn standing_name(s: Standing) -> &'static str {
    match s {
        Standing::LedgerDiffers => "ledger differs",
        Standing::NotPosted => "not posted",
        Standing::NeedsAttention => "needs attention",
        Standing::Unread => "unread",
        Standing::Pending => "pending",
        Standing::Matched => "matched",
        Standing::NothingToPost => "nothing to post",
    }
}

/// A finding in one sentence, the same in every format.
pub(crate) fn describe(f: &Finding) -> String {
    match f {
        Finding::NotPosted { batches, queued } => format!(
            "not posted: {}{}",
            batches.join(", "),
            if *queued { " (queued)" } else { "" }
        ),
        Finding::CannotJournalise { reason } => format!("cannot be journalised: {reason}"),
        Finding::NoStoreEntry { channel_id } => format!(
            "channel {channel_id} is in no store entry of the document, so it is never posted: add it to a store's channels"
        ),
        Finding::Held { batch, reason } => format!("{batch} held: {reason}"),
        Finding::Superseded { batch, reason } => format!("{batch} {reason}"),
        Finding::PositionGap { accounts } => format!(
            "the connector's journals do not sum to what the order implies: {}",
            accounts_text(accounts)
        ),
        Finding::AccountsDiffer { accounts } => format!(
            "the ledger's lines differ from what was posted: {}",
            accounts_text(accounts)
        ),
        Finding::Rejected { batch, reason } => format!("{batch} rejected: {reason}"),
        Finding::InFlight { batch, state } => format!("{batch} {state}"),
        Finding::MissingFromLedger { batch, batch_id } => {
            format!("{batch} (batch {batch_id}) is posted but not in the ledger")
        }
        Finding::Duplicated { batch, batch_ids } => format!(
            "{batch} is in the ledger {} times: batches {}",
            batch_ids.len(),
            batch_ids
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Finding::Differs {
            batch,
            batch_id,
            what,
        } => format!("{batch} (batch {batch_id}) differs: {what}"),
        Finding::InLedgerNotRecorded {
            batch,
            batch_id,
            recorded_as,
        } => match recorded_as {
            Some(state) => format!(
                "batch {batch_id} \"{batch}\" is in the ledger, but the posting is {state}: do not replay it"
            ),
            None => format!("batch {batch_id} \"{batch}\" is in the ledger; no posting records it"),
        },
        Finding::Unreadable { system, error } => format!("{system} could not be read: {error}"),
    }
}

fn order_line(out: &mut String, o: &OrderLine) {
    let _ = writeln!(
        out,
        "  {}/{}  {}  {}",
        o.store,
        o.order_id,
        standing_name(o.standing),
        o.status
    );
    for f in &o.findings {
        let _ = writeln!(out, "      {}", describe(f));
    }
}

/// The report for people: counts, totals to tie to Oracle, then the orders that are not
/// matched, worst first.
pub fn render(r: &ReconcileReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Reconciliation of {}: orders {} {} to {}{}",
        r.stores.join(", "),
        match r.selected_by {
            Selection::Created => "created",
            Selection::Modified => "changed",
        },
        r.from.format("%Y-%m-%d %H:%M UTC"),
        r.to.format("%Y-%m-%d %H:%M UTC"),
        if r.ledger_checked {
            ", against the ledger"
        } else {
            ", BigCommerce against the connector only"
        }
    );
    let counts: Vec<String> = r
        .counts
        .iter()
        .map(|(s, n)| format!("{n} {}", standing_name(*s)))
        .collect();
    let _ = writeln!(
        out,
        "  {} orders: {}",
        r.orders.len(),
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts.join(", ")
        }
    );
    for (store, currencies) in &r.totals {
        for (currency, t) in currencies {
            let _ = writeln!(
                out,
                "  {store} {currency}: {} postings, entered debits {} recorded{}",
                t.postings,
                t.recorded_dr,
                t.ledger_dr
                    .map(|d| format!(", {d} in the ledger"))
                    .unwrap_or_default()
            );
        }
    }
    let open: Vec<&OrderLine> = r
        .orders
        .iter()
        .filter(|o| !matches!(o.standing, Standing::Matched | Standing::NothingToPost))
        .collect();
    if !open.is_empty() {
        let _ = writeln!(out);
        for o in open {
            order_line(&mut out, o);
        }
    }
    out
}

/// Accounts that differ, for people: each account combination with its roles, what it should
/// hold and what was found (debit positive).
fn accounts_text(accounts: &[common::journal::AccountDifference]) -> String {
    accounts
        .iter()
        .map(|a| {
            let roles: Vec<&str> = a.roles.iter().map(|r| r.as_str()).collect();
            format!(
                "{} ({}) should hold {} and holds {}",
                a.account.join("-"),
                roles.join("/"),
                a.expected,
                a.found
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The batch a finding is about, when it is about one.
fn batch_of(f: &Finding) -> String {
    match f {
        Finding::Held { batch, .. }
        | Finding::Superseded { batch, .. }
        | Finding::Rejected { batch, .. }
        | Finding::InFlight { batch, .. }
        | Finding::MissingFromLedger { batch, .. }
        | Finding::Duplicated { batch, .. }
        | Finding::Differs { batch, .. }
        | Finding::InLedgerNotRecorded { batch, .. } => batch.clone(),
        Finding::NotPosted { batches, .. } => batches.join(" "),
        Finding::CannotJournalise { .. }
        | Finding::NoStoreEntry { .. }
        | Finding::PositionGap { .. }
        | Finding::AccountsDiffer { .. }
        | Finding::Unreadable { .. } => String::new(),
    }
}

/// A row per finding (an order without findings has one row of its own), for a spreadsheet.
pub fn csv(r: &ReconcileReport) -> String {
    let mut out = crate::csv::row(&[
        "store", "order_id", "created", "status", "standing", "finding", "batch", "detail",
    ]);
    for o in &r.orders {
        let base = [
            o.store.clone(),
            o.order_id.to_string(),
            o.created.to_rfc3339(),
            o.status.clone(),
            standing_name(o.standing).to_string(),
        ];
        if o.findings.is_empty() {
            out.push_str(&crate::csv::row(
                &[&base[..], &[String::new(), String::new(), String::new()]].concat(),
            ));
        }
        for f in &o.findings {
            let kind = serde_json::to_value(f)
                .ok()
                .and_then(|v| v["finding"].as_str().map(str::to_string))
                .unwrap_or_default();
            out.push_str(&crate::csv::row(
                &[&base[..], &[kind, batch_of(f), describe(f)]].concat(),
            ));
        }
    }
    out
}
