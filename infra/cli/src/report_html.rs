//! `mlc reconcile --format html`: the reconciliation as one page a controller opens and files
//! with the month's close: the totals to tie to Oracle's journal reports, a chart of the
//! period's orders per day with the days that have findings marked, and the orders that need
//! someone, each with what to do.
//!
//! The page is self-contained (inline CSS, inline SVG, a few lines of inline script and a
//! Content-Security-Policy that forbids every fetch), so it opens from a mail attachment or
//! a file share with no network. Every value from outside (store ids, order statuses,
//! reasons, Fusion's texts) is escaped; figures are `rust_decimal`'s exact decimal strings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use common::posting::reconcile::{Finding, OrderLine, ReconcileReport, Selection, Standing};
use rust_decimal::Decimal;

use crate::reconcile::{describe, standing_name};

/// The page's style: print-friendly, no web fonts (nothing is fetched).
const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #1d2330; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h2 { font-size: 1.1rem; margin: 2rem 0 .5rem; }
p.meta { color: #555; margin: 0; }
ul.counts { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .5rem; }
ul.counts li { border: 1px solid #ccd; border-radius: 4px; padding: .3rem .6rem; }
ul.counts li.action { border-color: #c0392b; color: #c0392b; font-weight: 600; }
table { border-collapse: collapse; min-width: 50%; }
th, td { border-bottom: 1px solid #dde; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f4f8; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.differs { color: #c0392b; font-weight: 600; }
td.ties { color: #1e7e34; }
tr.hidden { display: none; }
figure { margin: 0; }
figcaption { color: #555; font-size: .9rem; }
svg .matched { fill: #2e8b57; }
svg .pending { fill: #9aa3b5; }
svg .action { fill: #c0392b; }
svg .mark { fill: #c0392b; }
svg .axis { stroke: #889; stroke-width: 1; }
svg text { font-size: 11px; fill: #445; }
svg g.day { cursor: pointer; }
svg g.day.selected rect.bg { fill: #fdf1d6; }
svg rect.bg { fill: transparent; }
.legend span { display: inline-block; width: .8em; height: .8em; margin: 0 .3em 0 1em; vertical-align: middle; }
button { font: inherit; }
@media print { button { display: none; } }
"#;

/// The page's script: clicking a day of the chart shows only that day's orders in the table.
/// It reads only `data-` attributes of the page; `window.onerror` leaves a visible marker, so
/// a broken page cannot pass for a good one (the browser test looks for it).
const SCRIPT: &str = r#"
window.onerror = function (message) {
  var note = document.createElement('p');
  note.id = 'script-error';
  note.textContent = 'script error: ' + message;
  document.body.appendChild(note);
};
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll('#actions tbody tr'));
  var days = Array.prototype.slice.call(document.querySelectorAll('#chart g.day'));
  var status = document.getElementById('filter');
  var reset = document.getElementById('show-all');
  function show(day) {
    var shown = 0;
    rows.forEach(function (row) {
      var hide = day !== null && row.getAttribute('data-day') !== day;
      row.classList.toggle('hidden', hide);
      if (!hide) { shown += 1; }
    });
    days.forEach(function (g) {
      g.classList.toggle('selected', g.getAttribute('data-day') === day);
    });
    status.textContent = day === null ? '' : shown + ' on ' + day;
    reset.hidden = day === null;
  }
  days.forEach(function (g) {
    g.addEventListener('click', function () { show(g.getAttribute('data-day')); });
  });
  reset.addEventListener('click', function () { show(null); });
  document.body.setAttribute('data-rendered', 'ok');
})();
"#;

/// Chart geometry, in SVG user units (the SVG scales to the page's width).
const CHART_HEIGHT: u32 = 220;
const PLOT_TOP: u32 = 24;
const PLOT_BOTTOM: u32 = 190;
const PLOT_LEFT: u32 = 40;
/// The plot's width the days share, unless each would be narrower than [`MIN_DAY_WIDTH`].
const PLOT_WIDTH: u32 = 720;
const MIN_DAY_WIDTH: u32 = 6;
const MAX_DAY_WIDTH: u32 = 60;
/// Room for one date label.
const LABEL_WIDTH: u32 = 44;

/// The whole page. Days are `tz`'s (the store's with `--store`, else UTC), as the period's
/// dates were read; `generated` is when the report was made.
pub fn render(r: &ReconcileReport, tz: Tz, generated: DateTime<Utc>) -> String {
    let title = format!("Reconciliation of {}", r.stores.join(", "));
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    header(&mut out, r, tz, generated, &title);
    totals(&mut out, r);
    chart(&mut out, r, tz);
    actions(&mut out, r, tz);
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

/// `text` fit for HTML text and attribute values: the five characters with a meaning there
/// replaced by their entities.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn header(out: &mut String, r: &ReconcileReport, tz: Tz, generated: DateTime<Utc>, title: &str) {
    let _ = writeln!(out, "<h1>{}</h1>", esc(title));
    let _ = writeln!(
        out,
        "<p class=\"meta\">Orders {} from {} to {} ({}); {}. Generated {}.</p>",
        match r.selected_by {
            Selection::Created => "created",
            Selection::Modified => "changed",
        },
        esc(&r
            .from
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M")
            .to_string()),
        esc(&r.to.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()),
        esc(tz.name()),
        if r.ledger_checked {
            "against the ledger"
        } else {
            "BigCommerce against the connector only (the ledger was not read)"
        },
        esc(&generated.format("%Y-%m-%d %H:%M UTC").to_string())
    );
    let needing = r.needing_action();
    out.push_str("<ul class=\"counts\" id=\"counts\">\n");
    let _ = writeln!(
        out,
        "<li class=\"{}\">{} orders, {needing} need action</li>",
        if needing > 0 { "action" } else { "clean" },
        r.orders.len()
    );
    for (standing, n) in &r.counts {
        let _ = writeln!(
            out,
            "<li class=\"{}\">{n} {}</li>",
            if standing.needs_action() {
                "action"
            } else {
                "info"
            },
            esc(standing_name(*standing))
        );
    }
    if r.queued > 0 {
        let _ = writeln!(out, "<li>{} queued by --fix</li>", r.queued);
    }
    out.push_str("</ul>\n");
}

/// Totals per store and currency, the connector's beside the ledger's, and the difference.
fn totals(out: &mut String, r: &ReconcileReport) {
    out.push_str("<h2>Totals to tie to Oracle</h2>\n");
    if r.totals.is_empty() {
        out.push_str("<p id=\"totals\">No postings recorded as posted in the period.</p>\n");
        return;
    }
    out.push_str(
        "<table id=\"totals\">\n<thead><tr><th>Store</th><th>Currency</th>\
         <th class=\"num\">Postings</th><th class=\"num\">Entered debits recorded</th>\
         <th class=\"num\">In the ledger</th><th class=\"num\">Difference</th></tr></thead>\n<tbody>\n",
    );
    for (store, currencies) in &r.totals {
        for (currency, t) in currencies {
            let (ledger, difference) = match (r.ledger_checked, t.ledger_dr) {
                (false, _) => (
                    "<td class=\"num\">not read</td>".to_string(),
                    "<td class=\"num\"></td>".to_string(),
                ),
                (true, ledger_dr) => {
                    let ledger_dr = ledger_dr.unwrap_or(Decimal::ZERO);
                    let diff = ledger_dr - t.recorded_dr;
                    (
                        format!(
                            "<td class=\"num ledger\">{}</td>",
                            esc(&ledger_dr.to_string())
                        ),
                        format!(
                            "<td class=\"num {}\">{}</td>",
                            if diff.is_zero() { "ties" } else { "differs" },
                            esc(&signed(diff))
                        ),
                    )
                }
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
                 <td class=\"num recorded\">{}</td>{ledger}{difference}</tr>",
                esc(store),
                esc(currency),
                t.postings,
                esc(&t.recorded_dr.to_string())
            );
        }
    }
    out.push_str("</tbody>\n</table>\n");
}

/// A difference with its sign, so `+0.50` and `-0.50` read as what the ledger has more or
/// less of.
fn signed(d: Decimal) -> String {
    if d.is_sign_positive() && !d.is_zero() {
        format!("+{d}")
    } else {
        d.to_string()
    }
}

/// One day's orders, by what became of them.
#[derive(Default, Clone, Copy)]
struct Day {
    matched: u32,
    pending: u32,
    action: u32,
}

impl Day {
    fn total(self) -> u32 {
        self.matched + self.pending + self.action
    }
}

/// The period's days in `tz`: the first is the day `from` falls on, the last the day just
/// before `to`.
fn period_days(r: &ReconcileReport, tz: Tz) -> Vec<NaiveDate> {
    let first = r.from.with_timezone(&tz).date_naive();
    let last = (r.to - Duration::nanoseconds(1))
        .with_timezone(&tz)
        .date_naive();
    first.iter_days().take_while(|d| *d <= last).collect()
}

fn day_of(o: &OrderLine, tz: Tz) -> NaiveDate {
    o.created.with_timezone(&tz).date_naive()
}

/// Orders per day of the period, stacked by standing (posted and matched, on their way,
/// needing action), a mark over each day with findings; one `<g class="day">` per day.
fn chart(out: &mut String, r: &ReconcileReport, tz: Tz) {
    let days = period_days(r, tz);
    let mut by_day: BTreeMap<NaiveDate, Day> = days.iter().map(|d| (*d, Day::default())).collect();
    let mut outside = 0usize;
    for o in &r.orders {
        let Some(day) = by_day.get_mut(&day_of(o, tz)) else {
            outside += 1;
            continue;
        };
        match o.standing {
            Standing::Matched => day.matched += 1,
            Standing::Pending => day.pending += 1,
            s if s.needs_action() => day.action += 1,
            _ => {}
        }
    }
    let most = by_day.values().map(|d| d.total()).max().unwrap_or(0).max(1);
    let n = u32::try_from(days.len())
        .unwrap_or(u32::MAX / MAX_DAY_WIDTH)
        .max(1);
    let day_width = (PLOT_WIDTH / n).clamp(MIN_DAY_WIDTH, MAX_DAY_WIDTH);
    let gap = (day_width / 6).max(1);
    let width = PLOT_LEFT + day_width * n + 10;
    let plot = PLOT_BOTTOM - PLOT_TOP;
    let y = |n: u32| PLOT_BOTTOM - plot * n / most;
    out.push_str("<h2>Orders per day</h2>\n<figure>\n");
    let _ = writeln!(
        out,
        "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {CHART_HEIGHT}\" \
         width=\"{width}\" height=\"{CHART_HEIGHT}\" style=\"max-width:100%;height:auto\" \
         role=\"img\" aria-label=\"Orders per day\">"
    );
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{PLOT_LEFT}\" y1=\"{PLOT_BOTTOM}\" x2=\"{}\" y2=\"{PLOT_BOTTOM}\"/>\
         <line class=\"axis\" x1=\"{PLOT_LEFT}\" y1=\"{PLOT_TOP}\" x2=\"{PLOT_LEFT}\" y2=\"{PLOT_BOTTOM}\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{most}</text>\
         <text x=\"{}\" y=\"{PLOT_BOTTOM}\" text-anchor=\"end\">0</text>",
        width - 10,
        PLOT_LEFT - 4,
        PLOT_TOP + 4,
        PLOT_LEFT - 4
    );
    // Date labels as often as they fit.
    let label_every = LABEL_WIDTH.div_ceil(day_width) as usize;
    for (i, (date, day)) in by_day.iter().enumerate() {
        let x = PLOT_LEFT + day_width * u32::try_from(i).unwrap_or(0);
        let key = date.format("%Y-%m-%d").to_string();
        let marked = day.action > 0;
        let _ = write!(
            out,
            "<g class=\"day{}\" data-day=\"{key}\" data-orders=\"{}\" data-action=\"{}\">\
             <title>{key}: {} matched, {} pending, {} need action</title>\
             <rect class=\"bg\" x=\"{x}\" y=\"{PLOT_TOP}\" width=\"{day_width}\" height=\"{plot}\"/>",
            if marked { " has-findings" } else { "" },
            day.total(),
            day.action,
            day.matched,
            day.pending,
            day.action
        );
        let mut base = 0;
        for (class, n) in [
            ("matched", day.matched),
            ("pending", day.pending),
            ("action", day.action),
        ] {
            if n > 0 {
                let (top, bottom) = (y(base + n), y(base));
                let _ = write!(
                    out,
                    "<rect class=\"{class}\" x=\"{}\" y=\"{top}\" width=\"{}\" height=\"{}\"/>",
                    x + gap,
                    day_width - 2 * gap,
                    bottom - top
                );
                base += n;
            }
        }
        if marked {
            let (cx, top) = (x + day_width / 2, y(base));
            let _ = write!(
                out,
                "<path class=\"mark\" d=\"M{cx} {} l5 -8 h-10 z\"/>",
                top.saturating_sub(3)
            );
        }
        if i % label_every == 0 {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x + day_width / 2,
                PLOT_BOTTOM + 16,
                date.format("%m-%d")
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
    let _ = writeln!(
        out,
        "<figcaption class=\"legend\">By day created ({}); a bar is the day's orders:\
         <span class=\"legend-matched\" style=\"background:#2e8b57\"></span>posted and matched\
         <span style=\"background:#9aa3b5\"></span>on their way\
         <span style=\"background:#c0392b\"></span>needing action (marked ▼). \
         Orders with nothing to post are not drawn.{} Click a day to list its orders below.</figcaption>",
        esc(tz.name()),
        if outside > 0 {
            format!(" {outside} order(s) created outside the period are not drawn.")
        } else {
            String::new()
        }
    );
    out.push_str("</figure>\n");
}

/// The orders needing someone: a row per finding, with what to do about it.
fn actions(out: &mut String, r: &ReconcileReport, tz: Tz) {
    out.push_str(
        "<h2>Orders needing action <span id=\"filter\"></span> \
         <button type=\"button\" id=\"show-all\" hidden>show all</button></h2>\n",
    );
    let rows: Vec<(&OrderLine, &Finding)> = r
        .orders
        .iter()
        .filter(|o| o.standing.needs_action())
        .flat_map(|o| {
            o.findings
                .iter()
                .filter(|f| needs_action(f))
                .map(move |f| (o, f))
        })
        .collect();
    out.push_str(
        "<table id=\"actions\">\n<thead><tr><th>Finding</th><th>Order</th><th>Store</th>\
         <th>Created</th><th>Status</th><th>Detail</th><th>What to do</th></tr></thead>\n<tbody>\n",
    );
    for (o, f) in &rows {
        let day = day_of(o, tz).format("%Y-%m-%d").to_string();
        let _ = writeln!(
            out,
            "<tr data-day=\"{day}\" data-order=\"{}\"><td>{}</td><td class=\"num\">{}</td>\
             <td>{}</td><td>{day}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            o.order_id,
            esc(finding_name(f)),
            o.order_id,
            esc(&o.store),
            esc(&o.status),
            esc(&describe(f)),
            esc(&what_to_do(f, o))
        );
    }
    out.push_str("</tbody>\n</table>\n");
    if rows.is_empty() {
        out.push_str("<p id=\"no-actions\">Nothing needs action.</p>\n");
    }
}

/// Whether a finding asks for a person (in flight and superseded postings settle by
/// themselves).
fn needs_action(f: &Finding) -> bool {
    !matches!(f, Finding::InFlight { .. } | Finding::Superseded { .. })
}

/// A finding's name for people.
fn finding_name(f: &Finding) -> &'static str {
    match f {
        Finding::NotPosted { .. } => "not posted",
        Finding::CannotJournalise { .. } => "cannot be journalised",
        Finding::NoStoreEntry { .. } => "channel in no store entry",
        Finding::Held { .. } => "held",
        Finding::Superseded { .. } => "superseded",
        Finding::PositionGap { .. } => "journals do not sum to the order",
        Finding::AccountsDiffer { .. } => "ledger lines differ",
        Finding::Rejected { .. } => "rejected",
        Finding::InFlight { .. } => "in flight",
        Finding::MissingFromLedger { .. } => "missing from the ledger",
        Finding::Duplicated { .. } => "duplicated in the ledger",
        Finding::Differs { .. } => "batch edited in the ledger",
        Finding::InLedgerNotRecorded { .. } => "in the ledger, not recorded",
        Finding::Unreadable { .. } => "could not be read",
    }
}

/// The next step for a finding, as the README's "Operating it" describes it.
fn what_to_do(f: &Finding, o: &OrderLine) -> String {
    let replay = format!(
        "mlc replay --store {} --order-id {} --posting …",
        o.store, o.order_id
    );
    match f {
        Finding::NotPosted { queued: true, .. } => {
            "Queued by --fix: the poster posts it; reconcile again after the next import.".into()
        }
        Finding::NotPosted { queued: false, .. } => {
            "Queue it with mlc reconcile --fix (or wait for the next sweep), then reconcile again."
                .into()
        }
        Finding::CannotJournalise { .. } => {
            "Fix the connector document (mapping, chart of accounts) as the detail says, then mlc reconcile --fix."
                .into()
        }
        Finding::NoStoreEntry { channel_id } => format!(
            "Add channel {channel_id} to a store entry's channels in the connector document, then mlc reconcile --fix."
        ),
        Finding::Held { batch, .. } | Finding::Rejected { batch, .. } => {
            format!("Fix the cause (or confirm it), then {replay} for {batch}.")
        }
        Finding::PositionGap { .. } => format!(
            "Compare the order's journals (mlc audit --store {} --order-id {}) with the order; post the difference as an adjustment.",
            o.store, o.order_id
        ),
        Finding::AccountsDiffer { .. } | Finding::Differs { .. } => {
            "Someone changed the journal in Fusion: restore it there as it was posted, or document the change.".into()
        }
        Finding::MissingFromLedger { batch, .. } => {
            format!("The batch was deleted in Fusion: {replay} for {batch} posts it again.")
        }
        Finding::Duplicated { .. } => {
            "Reverse the extra batch in Fusion, keeping the one the connector recorded.".into()
        }
        Finding::InLedgerNotRecorded {
            recorded_as: Some(_),
            ..
        } => "Do not replay: the journal is in the ledger already. Confirm it there and close the posting."
            .into(),
        Finding::InLedgerNotRecorded {
            recorded_as: None, ..
        } => "Find who imported it; reverse it in Fusion if it duplicates the order's journals.".into(),
        Finding::Unreadable { .. } => "Reconcile again later; the system could not be read.".into(),
        Finding::InFlight { .. } | Finding::Superseded { .. } => "Nothing: it settles by itself.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use common::posting::reconcile::Totals;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn line(
        store: &str,
        order_id: u64,
        created: DateTime<Utc>,
        findings: Vec<Finding>,
    ) -> OrderLine {
        let standing = if findings.is_empty() {
            Standing::Matched
        } else if findings.iter().all(|f| !needs_action(f)) {
            Standing::Pending
        } else {
            Standing::NeedsAttention
        };
        OrderLine {
            store: store.into(),
            order_id,
            created,
            status: "Awaiting Fulfillment".into(),
            standing,
            findings,
        }
    }

    fn report(orders: Vec<OrderLine>) -> ReconcileReport {
        let mut counts = BTreeMap::new();
        for o in &orders {
            *counts.entry(o.standing).or_default() += 1;
        }
        let mut totals = BTreeMap::new();
        totals.insert(
            "us".to_string(),
            BTreeMap::from([(
                "USD".to_string(),
                Totals {
                    postings: 3,
                    recorded_dr: Decimal::from_str("1234.50").unwrap(),
                    ledger_dr: Some(Decimal::from_str("1200.00").unwrap()),
                },
            )]),
        );
        ReconcileReport {
            from: at(2026, 3, 1, 0),
            to: at(2026, 3, 8, 0),
            stores: vec!["us".into()],
            selected_by: Selection::Created,
            ledger_checked: true,
            counts,
            totals,
            orders,
            queued: 0,
        }
    }

    #[test]
    fn escapes_every_outside_value() {
        let hostile = "<script>alert('x')</script>&\"";
        let mut r = report(vec![line(
            hostile,
            7,
            at(2026, 3, 2, 10),
            vec![Finding::Held {
                batch: "BC-us-7-sale".into(),
                reason: hostile.into(),
            }],
        )]);
        r.stores = vec![hostile.into()];
        let page = render(&r, Tz::UTC, at(2026, 3, 8, 1));
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"));
        // The page's own script is the only one.
        assert_eq!(page.matches("<script>").count(), 1);
    }

    #[test]
    fn totals_show_both_figures_and_the_exact_difference() {
        let page = render(&report(Vec::new()), Tz::UTC, at(2026, 3, 8, 1));
        assert!(
            page.contains("<td class=\"num recorded\">1234.50</td>"),
            "{page}"
        );
        assert!(
            page.contains("<td class=\"num ledger\">1200.00</td>"),
            "{page}"
        );
        assert!(
            page.contains("<td class=\"num differs\">-34.50</td>"),
            "{page}"
        );
        assert!(page.contains("Nothing needs action."));
        assert_eq!(signed(Decimal::from_str("0.50").unwrap()), "+0.50");
        assert_eq!(signed(Decimal::ZERO), "0");
    }

    #[test]
    fn a_bar_per_day_and_the_days_with_findings_marked() {
        let r = report(vec![
            line("us", 1, at(2026, 3, 1, 9), Vec::new()),
            line("us", 2, at(2026, 3, 1, 23), Vec::new()),
            line(
                "us",
                3,
                at(2026, 3, 4, 12),
                vec![Finding::NotPosted {
                    batches: vec!["BC-us-3-sale".into()],
                    queued: false,
                }],
            ),
            line(
                "us",
                4,
                at(2026, 3, 6, 12),
                vec![Finding::InFlight {
                    batch: "BC-us-4-sale".into(),
                    state: common::state::StateName::Submitted,
                }],
            ),
        ]);
        let page = render(&r, Tz::UTC, at(2026, 3, 8, 1));
        assert_eq!(page.matches("<g class=\"day").count(), 7, "{page}");
        assert_eq!(page.matches("class=\"day has-findings\"").count(), 1);
        assert!(page.contains("data-day=\"2026-03-04\" data-orders=\"1\" data-action=\"1\""));
        assert!(page.contains("data-day=\"2026-03-01\" data-orders=\"2\" data-action=\"0\""));
        assert_eq!(page.matches("<path class=\"mark\"").count(), 1);
        // Only the order needing action is in the table, with what to do.
        assert_eq!(page.matches("<tr data-day=").count(), 1);
        assert!(page.contains("<tr data-day=\"2026-03-04\" data-order=\"3\"><td>not posted</td>"));
        assert!(page.contains("mlc reconcile --fix"));
    }

    #[test]
    fn days_are_the_stores_days() {
        // Midnight in New York is 05:00 UTC; an order at 03:00 UTC on the 2nd is the 1st's.
        let tz: Tz = "America/New_York".parse().unwrap();
        let mut r = report(vec![line("us", 1, at(2026, 3, 2, 3), Vec::new())]);
        r.from = at(2026, 3, 1, 5);
        r.to = at(2026, 3, 3, 5);
        let page = render(&r, tz, at(2026, 3, 8, 1));
        assert_eq!(page.matches("<g class=\"day").count(), 2, "{page}");
        assert!(page.contains("data-day=\"2026-03-01\" data-orders=\"1\""));
    }
}
