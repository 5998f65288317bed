//! Journal Import as Fusion runs it on a `GlInterface.csv`: parse the positional rows, check
//! them, and either create batches for the whole group or reject the whole group with
//! EBS-style codes in the job log. A value longer than its GL_INTERFACE column fails the load
//! the way Oracle reports it (ORA-12899); a journal category the pod does not know is EJ01 (the
//! pod's code: Oracle's own text for it is not in the references).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// Oracle's column order (25c JournalImportTemplate), read from the same list the specs
/// folder keeps.
const COLUMNS: &str = include_str!("../../../specs/oracle/gl_interface_columns.txt");

fn columns() -> Vec<&'static str> {
    COLUMNS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Widths of the GL_INTERFACE text columns a journal file fills (VARCHAR2, in characters). The
/// table's definition: REFERENCE1 (batch name), REFERENCE4 (journal name), REFERENCE6 (journal
/// reference) and REFERENCE3, 7, 8, 9 hold 100; the descriptions REFERENCE2, REFERENCE5 and
/// REFERENCE10 and the line references REFERENCE21 to REFERENCE30 hold 240; the source and
/// category names 25 (Fusion's GL_INTERFACE_GT and GL_XFR_INTERFACE pages show the same 100 for
/// batch and journal names and 25 for the names). An empty value is always fine.
pub const COLUMN_WIDTHS: &[(&str, usize)] = &[
    ("USER_JE_SOURCE_NAME", 25),
    ("USER_JE_CATEGORY_NAME", 25),
    ("REFERENCE1", 100),
    ("REFERENCE2", 240),
    ("REFERENCE3", 100),
    ("REFERENCE4", 100),
    ("REFERENCE5", 240),
    ("REFERENCE6", 100),
    ("REFERENCE7", 100),
    ("REFERENCE8", 100),
    ("REFERENCE9", 100),
    ("REFERENCE10", 240),
    ("REFERENCE21", 240),
    ("REFERENCE22", 240),
    ("REFERENCE23", 240),
    ("REFERENCE24", 240),
    ("REFERENCE25", 240),
    ("REFERENCE26", 240),
    ("REFERENCE27", 240),
    ("REFERENCE28", 240),
    ("REFERENCE29", 240),
    ("REFERENCE30", 240),
];

/// One parsed GL_INTERFACE row, by column name.
#[derive(Debug, Clone)]
pub struct Row {
    fields: BTreeMap<&'static str, String>,
    /// 1-based line in the file.
    pub line: usize,
}

impl Row {
    pub fn get(&self, column: &str) -> &str {
        self.fields.get(column).map_or("", String::as_str)
    }
}

/// RFC 4180 reading of the file (the `csv` crate), row by row against the template's columns;
/// blank lines are skipped, as the loader does.
pub fn parse_csv(text: &str) -> Result<Vec<Row>, String> {
    let names = columns();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("GlInterface.csv: {e}"))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() != names.len() {
            return Err(format!(
                "line {line}: {} columns; GlInterface.csv has {} (JournalImportTemplate order)",
                record.len(),
                names.len()
            ));
        }
        let fields = names
            .iter()
            .copied()
            .zip(record.iter().map(str::to_string))
            .collect();
        rows.push(Row { fields, line });
    }
    Ok(rows)
}

/// A ledger as the import checks it.
#[derive(Debug, Clone)]
pub struct LedgerRules {
    pub id: u64,
    pub name: String,
    pub currency: String,
    /// Unbalanced journals go to suspense instead of being rejected.
    pub allow_suspense: bool,
    /// (name, start, end, status).
    pub periods: Vec<(String, NaiveDate, NaiveDate, char)>,
}

/// Everything the import checks against.
pub struct Rules<'a> {
    pub ledger: &'a LedgerRules,
    /// Allowed values per segment position (None: any).
    pub segments: &'a [Option<Vec<String>>],
    pub sources: &'a [String],
    /// Journal categories (`USER_JE_CATEGORY_NAME`) that exist.
    pub categories: &'a [String],
    /// (from, to, conversion type) that have a rate.
    pub rates: &'a [(String, String, String)],
}

/// The seven positional arguments of Import Journals.
#[derive(Debug, Clone)]
pub struct Parameters {
    pub data_access_set: String,
    pub source: String,
    pub ledger_id: u64,
    pub group_id: String,
    pub errors_to_suspense: bool,
}

pub fn parse_parameters(list: &str) -> Result<Parameters, String> {
    let parts: Vec<&str> = list.split(',').map(str::trim).collect();
    if parts.len() != 7 {
        return Err(format!(
            "ParameterList has {} arguments; Import Journals takes 7",
            parts.len()
        ));
    }
    Ok(Parameters {
        data_access_set: parts[0].to_string(),
        source: parts[1].to_string(),
        ledger_id: parts[2]
            .parse()
            .map_err(|_| format!("ParameterList argument 3 {:?} is not a ledger id", parts[2]))?,
        group_id: parts[3].to_string(),
        errors_to_suspense: parts[4] == "Y",
    })
}

/// A line created by the import.
#[derive(Debug, Clone)]
pub struct NewLine {
    pub number: u32,
    pub account: String,
    pub entered_dr: Decimal,
    pub entered_cr: Decimal,
    pub description: String,
    pub currency: String,
}

/// A journal created by the import.
#[derive(Debug, Clone)]
pub struct NewJournal {
    pub name: String,
    pub description: String,
    pub reference: String,
    pub category: String,
    pub currency: String,
    pub period: String,
    pub date: NaiveDate,
    pub lines: Vec<NewLine>,
}

/// A batch created by the import (its name gets Fusion's suffixes when stored).
#[derive(Debug, Clone)]
pub struct NewBatch {
    pub reference1: String,
    pub description: String,
    pub source: String,
    pub period: String,
    pub journals: Vec<NewJournal>,
}

/// The outcome of one import: batches, or the errors that rejected the whole group.
pub enum Outcome {
    Imported(Vec<NewBatch>),
    Rejected(Vec<String>),
}

fn amount(text: &str) -> Result<Decimal, ()> {
    if text.trim().is_empty() {
        Ok(Decimal::ZERO)
    } else {
        text.trim().parse().map_err(|_| ())
    }
}

/// A journal's name and its rows.
type JournalRows<'a> = (String, Vec<&'a Row>);

/// Runs the import rules over the rows of one group.
pub fn import(rows: &[Row], params: &Parameters, rules: &Rules<'_>) -> Outcome {
    let mut errors = Vec::new();
    let source_known =
        rules.sources.iter().any(|s| s == &params.source) || params.source.parse::<u64>().is_ok();
    if !source_known {
        errors.push(format!(
            "ES01 Journal source {} does not exist",
            params.source
        ));
    }
    let group: Vec<&Row> = rows
        .iter()
        .filter(|r| r.get("GROUP_ID") == params.group_id)
        .collect();
    if group.is_empty() {
        errors.push(format!(
            "EG01 No rows with GROUP_ID {} in GL_INTERFACE",
            params.group_id
        ));
    }
    // The load into GL_INTERFACE refuses a value wider than its column.
    for row in &group {
        for (column, width) in COLUMN_WIDTHS {
            let actual = row.get(column).chars().count();
            if actual > *width {
                errors.push(format!(
                    "ORA-12899: value too large for column \"FUSION\".\"GL_INTERFACE\".\"{column}\" (actual: {actual}, maximum: {width}): batch {}, journal {}, file line {}",
                    row.get("REFERENCE1"),
                    row.get("REFERENCE4"),
                    row.line
                ));
            }
        }
    }
    // batch → journal → rows, in file order.
    let mut batches: Vec<(String, Vec<JournalRows>)> = Vec::new();
    for row in &group {
        let (batch, journal) = (
            row.get("REFERENCE1").to_string(),
            row.get("REFERENCE4").to_string(),
        );
        let b = match batches.iter().position(|(n, _)| *n == batch) {
            Some(i) => i,
            None => {
                batches.push((batch, Vec::new()));
                batches.len() - 1
            }
        };
        match batches[b].1.iter().position(|(n, _)| *n == journal) {
            Some(j) => batches[b].1[j].1.push(row),
            None => batches[b].1.push((journal, vec![row])),
        }
    }
    let mut created = Vec::new();
    for (batch_name, journals) in &batches {
        let mut new_journals = Vec::new();
        for (journal_name, jrows) in journals {
            let at = |row: &Row| {
                format!(
                    "batch {batch_name}, journal {journal_name}, file line {}",
                    row.line
                )
            };
            let first = jrows[0];
            let date = NaiveDate::parse_from_str(first.get("ACCOUNTING_DATE"), "%Y/%m/%d");
            let category = first.get("USER_JE_CATEGORY_NAME");
            if !rules.categories.iter().any(|c| c == category) {
                errors.push(format!(
                    "EJ01 {}: journal category {category:?} does not exist (USER_JE_CATEGORY_NAME)",
                    at(first)
                ));
            }
            let (mut dr, mut cr) = (Decimal::ZERO, Decimal::ZERO);
            let mut lines = Vec::new();
            for (n, row) in jrows.iter().enumerate() {
                if row.get("STATUS") != "NEW" || row.get("ACTUAL_FLAG") != "A" {
                    errors.push(format!(
                        "EA01 {}: STATUS must be NEW and ACTUAL_FLAG A",
                        at(row)
                    ));
                }
                if row.get("LEDGER_ID") != rules.ledger.id.to_string()
                    || params.ledger_id != rules.ledger.id
                {
                    errors.push(format!(
                        "EL01 {}: LEDGER_ID {} is not the ledger of the request",
                        at(row),
                        row.get("LEDGER_ID")
                    ));
                }
                if row.get("USER_JE_SOURCE_NAME") != params.source
                    && params.source.parse::<u64>().is_err()
                {
                    errors.push(format!(
                        "ES02 {}: source {} differs from the request's",
                        at(row),
                        row.get("USER_JE_SOURCE_NAME")
                    ));
                }
                let mut account = Vec::new();
                for (i, allowed) in rules.segments.iter().enumerate() {
                    let value = row.get(&format!("SEGMENT{}", i + 1));
                    if let Some(values) = allowed
                        && !values.iter().any(|v| v == value)
                    {
                        errors.push(format!(
                            "EF04 {}: FLEX-VALUE DOES NOT EXIST: segment {} value {value:?}",
                            at(row),
                            i + 1
                        ));
                    }
                    account.push(value.to_string());
                }
                let (Ok(d), Ok(c)) = (amount(row.get("ENTERED_DR")), amount(row.get("ENTERED_CR")))
                else {
                    errors.push(format!(
                        "EN01 {}: ENTERED_DR/ENTERED_CR is not a number",
                        at(row)
                    ));
                    continue;
                };
                if !d.is_zero() && !c.is_zero() {
                    errors.push(format!(
                        "EN02 {}: a line has a debit or a credit, not both",
                        at(row)
                    ));
                }
                dr += d;
                cr += c;
                lines.push(NewLine {
                    number: n as u32 + 1,
                    account: account.join("-"),
                    entered_dr: d,
                    entered_cr: c,
                    description: row.get("REFERENCE10").to_string(),
                    currency: row.get("CURRENCY_CODE").to_string(),
                });
            }
            let period = match date {
                Err(_) => {
                    errors.push(format!(
                        "ED01 {}: ACCOUNTING_DATE {:?} is not YYYY/MM/DD",
                        at(first),
                        first.get("ACCOUNTING_DATE")
                    ));
                    None
                }
                Ok(d) => {
                    match rules
                        .ledger
                        .periods
                        .iter()
                        .find(|(_, s, e, _)| *s <= d && d <= *e)
                    {
                        Some((name, _, _, 'O' | 'F')) => {
                            let named = first.get("PERIOD_NAME");
                            if !named.is_empty() && named != name {
                                errors.push(format!(
                                    "EP02 {}: PERIOD_NAME {named} does not contain {d}",
                                    at(first)
                                ));
                            }
                            Some(name.clone())
                        }
                        Some((name, _, _, status)) => {
                            errors.push(format!("EP01 {}: ACCOUNTING_DATE {d} is in period {name}, which is not open or future-enterable (status {status})", at(first)));
                            None
                        }
                        None => {
                            errors.push(format!("EP01 {}: ACCOUNTING_DATE {d} is in no period of the ledger calendar", at(first)));
                            None
                        }
                    }
                }
            };
            if dr != cr && !(params.errors_to_suspense || rules.ledger.allow_suspense) {
                errors.push(format!("EU02 {}: journal is unbalanced (debits {dr}, credits {cr}) and suspense is not allowed", at(first)));
            }
            let currency = first.get("CURRENCY_CODE").to_string();
            if currency != rules.ledger.currency {
                let kind = first.get("USER_CURRENCY_CONVERSION_TYPE");
                let ok = if kind == "User" {
                    !first.get("CURRENCY_CONVERSION_RATE").is_empty()
                } else {
                    rules
                        .rates
                        .iter()
                        .any(|(f, t, k)| *f == currency && *t == rules.ledger.currency && k == kind)
                };
                if !ok {
                    errors.push(format!(
                        "EC06 {}: no {kind:?} rate from {currency} to {}",
                        at(first),
                        rules.ledger.currency
                    ));
                }
            }
            new_journals.push(NewJournal {
                name: journal_name.clone(),
                description: first.get("REFERENCE5").to_string(),
                reference: first.get("REFERENCE6").to_string(),
                category: first.get("USER_JE_CATEGORY_NAME").to_string(),
                currency,
                period: period.clone().unwrap_or_default(),
                date: date.unwrap_or_default(),
                lines,
            });
        }
        let first_period = new_journals
            .first()
            .map(|j| j.period.clone())
            .unwrap_or_default();
        let first_row = journals[0].1[0];
        created.push(NewBatch {
            reference1: batch_name.clone(),
            description: first_row.get("REFERENCE2").to_string(),
            source: first_row.get("USER_JE_SOURCE_NAME").to_string(),
            period: first_period,
            journals: new_journals,
        });
    }
    if errors.is_empty() {
        Outcome::Imported(created)
    } else {
        Outcome::Rejected(errors)
    }
}
