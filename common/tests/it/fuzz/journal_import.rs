//! The Journal Import writer over arbitrary journals: text with commas, quotes, line breaks,
//! control characters and any Unicode, more segments than GL_INTERFACE has, amounts from a
//! minor unit to the decimal type's edge, unbalanced journals, any currency, date, ledger id
//! and group. The writer refuses with the reason, or writes a CSV that a standard reader reads
//! back to exactly the journals' fields (text cleaned of line breaks and cut to 240 characters),
//! one physical line per row, every journal balanced as written; the zip holds that CSV.

use std::io::Read;

use base64::Engine;
use chrono::NaiveDate;
use common::journal::{Conversion, Journal, JournalFlag, JournalLine, PostingKind};
use common::mapping::AccountRole;
use common::money::Currency;
use common::oracle::fbdi::{self, FbdiError, GL_INTERFACE_COLUMNS, col};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rust_decimal::Decimal;

use super::{nasty_text, run};

/// GL_INTERFACE has SEGMENT1 to SEGMENT30.
const MAX_SEGMENTS: usize = 30;
/// What the REFERENCE columns keep, in characters.
const MAX_TEXT: usize = 240;

/// RFC 4180, strictly: the file as a standard reader (the `csv` crate) reads it, and nothing
/// that reader would forgive. The records, written again by the `csv` crate with `\n` line ends,
/// must give the file back byte for byte, so no field is quoted that needs no quotes, no quote
/// stands in an unquoted field, and no carriage return is outside quotes.
fn read_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut again = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        again.write_record(&record).map_err(|e| e.to_string())?;
        rows.push(record.iter().map(str::to_string).collect());
    }
    let again = again.into_inner().map_err(|e| e.to_string())?;
    if again != text.as_bytes() {
        let at = again
            .iter()
            .zip(text.as_bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(again.len().min(text.len()));
        return Err(format!(
            "not strict RFC 4180 from byte {at}: {:?}",
            String::from_utf8_lossy(&text.as_bytes()[at..(at + 40).min(text.len())])
        ));
    }
    Ok(rows)
}

/// Text as the file takes it: control characters (line breaks, tabs) as spaces.
fn cleaned(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Widths of GL_INTERFACE's text columns (VARCHAR2): source and category 25, conversion type
/// 30, batch and journal names 100, descriptions and references 240.
const WIDTHS: [usize; 4] = [25, 30, 100, MAX_TEXT];

/// A text field holds its source cleaned, whole or cut at its column's width.
fn check_text(column: usize, got: &str, source: &str) -> Result<(), TestCaseError> {
    let full = cleaned(source);
    let n = got.chars().count();
    prop_assert!(
        full.starts_with(got),
        "column {}: {:?} is not the start of {:?}",
        GL_INTERFACE_COLUMNS[column],
        got,
        full
    );
    prop_assert!(
        n == full.chars().count() || WIDTHS.contains(&n),
        "column {} cut at {} characters",
        GL_INTERFACE_COLUMNS[column],
        n
    );
    Ok(())
}

/// A written amount: empty for zero, else the amount in the currency's minor units exactly.
fn check_amount(field: &str, amount: Decimal, currency: Currency) -> Result<(), TestCaseError> {
    if amount.is_zero() {
        prop_assert_eq!(field, "");
        return Ok(());
    }
    let read: Decimal = field
        .parse()
        .map_err(|e| TestCaseError::fail(format!("amount {field:?} does not read back: {e}")))?;
    prop_assert_eq!(read, amount, "written {:?} for {}", field, amount);
    let decimals = field.split_once('.').map_or(0, |(_, d)| d.len());
    prop_assert!(
        decimals as u32 <= currency.exponent(),
        "{field:?}: more decimals than {currency}"
    );
    Ok(())
}

/// The CSV `gl_interface_csv` wrote for `journals` reads back, row by row and field by field,
/// to what the journals hold; each journal balances as written.
pub fn check_csv(
    journals: &[Journal],
    group_id: u64,
    date_created: NaiveDate,
    csv: &str,
) -> Result<(), TestCaseError> {
    let rows = read_csv(csv).map_err(TestCaseError::fail)?;
    let written: Vec<&Journal> = journals.iter().filter(|j| !j.is_empty()).collect();
    let lines: usize = written.iter().map(|j| j.lines.len()).sum();
    prop_assert_eq!(rows.len(), lines);
    prop_assert_eq!(
        csv.lines().count(),
        lines,
        "one physical line per row (Journal Import's loader reads lines)"
    );
    let date = |d: NaiveDate| d.format("%Y/%m/%d").to_string();
    let mut rows = rows.into_iter();
    for j in written {
        let (mut dr, mut cr) = (Decimal::ZERO, Decimal::ZERO);
        let mut description = j.description.clone();
        if j.has_totals_mismatch() {
            description.push_str(" [totals mismatch: difference in suspense]");
        }
        for line in &j.lines {
            let row = rows.next().unwrap();
            prop_assert_eq!(row.len(), GL_INTERFACE_COLUMNS.len());
            // Text columns: their source, cleaned and perhaps cut.
            let mut texts: Vec<(usize, &str)> = vec![
                (col::USER_JE_SOURCE_NAME, &j.source),
                (col::USER_JE_CATEGORY_NAME, &j.category),
                (col::REFERENCE1, &j.batch_name),
                (col::REFERENCE2, &j.description),
                (col::REFERENCE4, &j.journal_name),
                (col::REFERENCE5, &description),
                (col::REFERENCE6, &j.reference),
                (col::REFERENCE10, &line.description),
                (col::REFERENCE21, &line.reference),
                (col::REFERENCE22, &line.rule),
                (col::LEDGER_NAME, &j.ledger),
            ];
            for (i, s) in line.segments.iter().enumerate() {
                texts.push((col::SEGMENT1 + i, s));
            }
            if let Some(conv) = &j.conversion {
                texts.push((col::USER_CURRENCY_CONVERSION_TYPE, &conv.conversion_type));
            }
            if let Some(p) = &j.period_name {
                texts.push((col::PERIOD_NAME, p));
            }
            for &(i, source) in &texts {
                check_text(i, &row[i], source)?;
            }
            // Every other column: exactly this.
            let mut expected = vec![String::new(); GL_INTERFACE_COLUMNS.len()];
            expected[col::STATUS] = "NEW".into();
            expected[col::LEDGER_ID] = j.ledger_id.to_string();
            expected[col::ACCOUNTING_DATE] = date(j.accounting_date);
            expected[col::CURRENCY_CODE] = j.currency.code().to_string();
            expected[col::DATE_CREATED] = date(date_created);
            expected[col::ACTUAL_FLAG] = "A".into();
            if let Some(conv) = &j.conversion {
                expected[col::CURRENCY_CONVERSION_DATE] = date(conv.date);
            }
            expected[col::GROUP_ID] = group_id.to_string();
            let amounts = [
                col::ENTERED_DR,
                col::ENTERED_CR,
                col::CURRENCY_CONVERSION_RATE,
            ];
            for (i, (got, want)) in row.iter().zip(&expected).enumerate() {
                if amounts.contains(&i) || texts.iter().any(|&(t, _)| t == i) {
                    continue;
                }
                prop_assert_eq!(
                    got,
                    want,
                    "column {} of {}",
                    GL_INTERFACE_COLUMNS[i],
                    j.batch_name
                );
            }
            check_amount(&row[col::ENTERED_DR], line.dr, j.currency)?;
            check_amount(&row[col::ENTERED_CR], line.cr, j.currency)?;
            match j.conversion.as_ref().and_then(|c| c.rate) {
                Some(rate) => {
                    let read: Decimal = row[col::CURRENCY_CONVERSION_RATE]
                        .parse()
                        .map_err(|e| TestCaseError::fail(format!("rate: {e}")))?;
                    prop_assert_eq!(read, rate);
                }
                None => prop_assert_eq!(&row[col::CURRENCY_CONVERSION_RATE], ""),
            }
            let amount = |f: &str| f.parse::<Decimal>().unwrap_or_default();
            dr += amount(&row[col::ENTERED_DR]);
            cr += amount(&row[col::ENTERED_CR]);
        }
        prop_assert_eq!(dr, cr, "{} does not balance as written", j.batch_name);
    }
    Ok(())
}

/// An amount: minor units of any common exponent, any scale, the decimal type's edges.
fn decimal() -> BoxedStrategy<Decimal> {
    prop_oneof![
        6 => (0i64..10_000_000_000, 0u32..=4).prop_map(|(n, s)| Decimal::new(n, s)),
        1 => (any::<i64>(), 0u32..=28).prop_map(|(n, s)| Decimal::new(n, s).abs()),
        1 => (0u128..(1u128 << 96), 0u32..=4)
            .prop_map(|(n, s)| Decimal::from_i128_with_scale(n as i128, s)),
        1 => prop::sample::select(vec![
            Decimal::MAX,
            Decimal::MAX / Decimal::TWO,
            Decimal::new(1, 28),
            Decimal::new(5, 3),
            Decimal::ZERO,
        ]),
    ]
    .boxed()
}

fn currency() -> BoxedStrategy<Currency> {
    prop_oneof![
        4 => prop::sample::select(vec!["USD", "EUR", "JPY", "KWD", "CLF"]).prop_map(|c| Currency::parse(c).unwrap()),
        1 => prop::sample::select(common::money::ISO_4217).prop_map(|c| Currency::parse(c).unwrap()),
    ]
    .boxed()
}

fn date() -> BoxedStrategy<NaiveDate> {
    prop_oneof![
        4 => (0i32..3650).prop_map(|d| NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(d as u64)),
        1 => (1i32..=3_652_059).prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).unwrap()),
    ]
    .boxed()
}

fn segments() -> BoxedStrategy<Vec<String>> {
    prop_oneof![
        8 => prop::collection::vec(nasty_text(), 5),
        1 => prop::collection::vec(nasty_text(), 0..MAX_SEGMENTS + 1),
        1 => prop::collection::vec(nasty_text(), MAX_SEGMENTS + 1..MAX_SEGMENTS + 4),
    ]
    .boxed()
}

fn line(dr: Decimal, cr: Decimal, segments: Vec<String>, text: [String; 3]) -> JournalLine {
    let [description, rule, reference] = text;
    JournalLine {
        segment_sources: vec![String::new(); segments.len()],
        segments,
        account_role: AccountRole::Revenue,
        dr,
        cr,
        description,
        rule,
        reference,
        tender: false,
    }
}

fn texts() -> impl Strategy<Value = [String; 3]> {
    [nasty_text(), nasty_text(), nasty_text()]
}

/// A journal whose debits are each met by credits that add up to them (one to three parts);
/// sometimes with one more line that unbalances it.
fn journal() -> BoxedStrategy<Journal> {
    let entry = (
        decimal(),
        prop::collection::vec(1u32..100, 0..3),
        segments(),
        segments(),
        texts(),
        texts(),
    );
    (
        prop::collection::vec(entry, 0..4),
        prop::option::weighted(0.1, (decimal(), any::<bool>(), segments(), texts())),
        [nasty_text(), nasty_text(), nasty_text(), nasty_text()],
        [nasty_text(), nasty_text(), nasty_text(), nasty_text()],
        (
            currency(),
            date(),
            any::<u64>(),
            prop::option::of(nasty_text()),
        ),
        prop::option::weighted(0.3, (nasty_text(), date(), prop::option::of(decimal()))),
        any::<bool>(),
        prop::bool::weighted(0.85),
    )
        .prop_map(
            |(
                entries,
                extra,
                [batch, journal_name, description, reference],
                [ledger, source, category, store],
                (currency, accounting_date, ledger_id, period_name),
                conversion,
                mismatch,
                snap,
            )| {
                let mut lines = Vec::new();
                for (amount, parts, s1, s2, t1, t2) in entries {
                    // Mostly amounts in the currency's minor units, as the builders make them.
                    let amount = if snap { currency.round(amount) } else { amount };
                    lines.push(line(amount, Decimal::ZERO, s1, t1));
                    // Credits: `parts` per-cent shares of the amount, the last takes the rest.
                    let mut left = amount;
                    for pct in parts {
                        let share =
                            (amount * Decimal::new(i64::from(pct), 2)).round_dp(amount.scale());
                        if share > left {
                            break;
                        }
                        left -= share;
                        lines.push(line(Decimal::ZERO, share, s2.clone(), t2.clone()));
                    }
                    lines.push(line(Decimal::ZERO, left, s2, t2));
                }
                if let Some((amount, debit, s, t)) = extra {
                    lines.push(if debit {
                        line(amount, Decimal::ZERO, s, t)
                    } else {
                        line(Decimal::ZERO, amount, s, t)
                    });
                }
                Journal {
                    posting: PostingKind::Sale,
                    batch_name: batch,
                    journal_name,
                    description,
                    reference,
                    ledger,
                    ledger_id,
                    source,
                    category,
                    accounting_date,
                    period_name,
                    currency,
                    conversion: conversion.map(|(conversion_type, date, rate)| Conversion {
                        conversion_type,
                        date,
                        rate,
                    }),
                    store,
                    store_hash: "nw4x7k2p".into(),
                    order_id: 1,
                    linked_batch: None,
                    flags: if mismatch {
                        vec![JournalFlag::TotalsMismatch {
                            tenders: Decimal::ONE,
                            components: Decimal::ZERO,
                            difference: Decimal::ONE,
                        }]
                    } else {
                        Vec::new()
                    },
                    lines,
                }
            },
        )
        .boxed()
}

/// What the writer must refuse `journals` for, first problem first, if anything.
fn expected_refusal(journals: &[Journal]) -> Option<&'static str> {
    for j in journals.iter().filter(|j| !j.is_empty()) {
        let (mut dr, mut cr) = (Decimal::ZERO, Decimal::ZERO);
        for l in &j.lines {
            // In minor units: a whole number once scaled up (an amount too large to scale up
            // has fewer decimals than the exponent, as the mantissa has 96 bits).
            let minor = |a: Decimal| {
                a.checked_mul(Decimal::from(10u64.pow(j.currency.exponent())))
                    .is_none_or(|scaled| scaled.fract().is_zero())
            };
            if !minor(l.dr) || !minor(l.cr) {
                return Some("not_in_minor_units");
            }
            match (dr.checked_add(l.dr), cr.checked_add(l.cr)) {
                (Some(d), Some(c)) => (dr, cr) = (d, c),
                _ => return Some("too_large"),
            }
        }
        if dr != cr {
            return Some("unbalanced");
        }
        if j.lines.iter().any(|l| l.segments.len() > MAX_SEGMENTS) {
            return Some("too_many_segments");
        }
    }
    if journals.iter().all(Journal::is_empty) {
        return Some("empty");
    }
    None
}

#[test]
fn fuzz_journal_import_file_reads_back_or_is_refused() {
    let strategy = (prop::collection::vec(journal(), 1..4), any::<u64>(), date());
    run(
        "journal import",
        strategy,
        |(journals, group_id, created), tally| {
            let result = fbdi::build_import(&journals, group_id, created);
            let kind = match &result {
                Ok(_) => None,
                Err(FbdiError::Unbalanced { .. }) => Some("unbalanced"),
                Err(FbdiError::TooManySegments { .. }) => Some("too_many_segments"),
                Err(FbdiError::Empty) => Some("empty"),
                Err(FbdiError::NotInMinorUnits { .. }) => Some("not_in_minor_units"),
                Err(FbdiError::TooLarge { .. }) => Some("too_large"),
                Err(e) => {
                    prop_assert!(false, "unexpected refusal: {e}");
                    None
                }
            };
            prop_assert_eq!(
                kind,
                expected_refusal(&journals),
                "{:?}",
                result.as_ref().err()
            );
            let Ok(file) = result else {
                tally.add(format!("refused:{}", kind.unwrap()));
                return Ok(());
            };
            check_csv(&journals, group_id, created, &file.csv)?;
            // The zip, as sent: base64 of a zip holding exactly the CSV.
            let zip = base64::engine::general_purpose::STANDARD
                .decode(file.base64())
                .unwrap();
            let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
            prop_assert_eq!(archive.len(), 1);
            let mut inner = String::new();
            archive
                .by_name(fbdi::CSV_FILE_NAME)
                .unwrap()
                .read_to_string(&mut inner)
                .unwrap();
            prop_assert_eq!(&inner, &file.csv);
            prop_assert_eq!(
                file.batches,
                journals
                    .iter()
                    .filter(|j| !j.is_empty())
                    .map(|j| j.batch_name.clone())
                    .collect::<Vec<_>>()
            );
            tally.add("written");
            Ok(())
        },
    );
}
