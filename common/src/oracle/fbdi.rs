//! Journal Import's file: journals → `GlInterface.csv` → zip → base64, ready for
//! `erpintegrations` `importBulkData`.
//!
//! The CSV is headerless and positional: 149 columns in the order of the 25c
//! `JournalImportTemplate` (see `tests/specs/oracle/gl_interface_columns.txt`). One row per
//! journal line, every row of one import carrying the same GROUP_ID, which the import job's
//! parameter list repeats. Text is cleaned of line breaks and cut to what the REFERENCE columns
//! hold, so no description can break a row. Amounts are written as the journal holds them: one
//! that is not a whole number of minor units, or totals past the decimal type, are refused.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use base64::Engine;
use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::journal::Journal;

/// GL_INTERFACE columns in file order, index 0 first.
pub const GL_INTERFACE_COLUMNS: [&str; 149] = [
    "STATUS",
    "LEDGER_ID",
    "ACCOUNTING_DATE",
    "USER_JE_SOURCE_NAME",
    "USER_JE_CATEGORY_NAME",
    "CURRENCY_CODE",
    "DATE_CREATED",
    "ACTUAL_FLAG",
    "SEGMENT1",
    "SEGMENT2",
    "SEGMENT3",
    "SEGMENT4",
    "SEGMENT5",
    "SEGMENT6",
    "SEGMENT7",
    "SEGMENT8",
    "SEGMENT9",
    "SEGMENT10",
    "SEGMENT11",
    "SEGMENT12",
    "SEGMENT13",
    "SEGMENT14",
    "SEGMENT15",
    "SEGMENT16",
    "SEGMENT17",
    "SEGMENT18",
    "SEGMENT19",
    "SEGMENT20",
    "SEGMENT21",
    "SEGMENT22",
    "SEGMENT23",
    "SEGMENT24",
    "SEGMENT25",
    "SEGMENT26",
    "SEGMENT27",
    "SEGMENT28",
    "SEGMENT29",
    "SEGMENT30",
    "ENTERED_DR",
    "ENTERED_CR",
    "ACCOUNTED_DR",
    "ACCOUNTED_CR",
    "REFERENCE1",
    "REFERENCE2",
    "REFERENCE3",
    "REFERENCE4",
    "REFERENCE5",
    "REFERENCE6",
    "REFERENCE7",
    "REFERENCE8",
    "REFERENCE9",
    "REFERENCE10",
    "REFERENCE21",
    "REFERENCE22",
    "REFERENCE23",
    "REFERENCE24",
    "REFERENCE25",
    "REFERENCE26",
    "REFERENCE27",
    "REFERENCE28",
    "REFERENCE29",
    "REFERENCE30",
    "STAT_AMOUNT",
    "USER_CURRENCY_CONVERSION_TYPE",
    "CURRENCY_CONVERSION_DATE",
    "CURRENCY_CONVERSION_RATE",
    "GROUP_ID",
    "ATTRIBUTE_CATEGORY",
    "ATTRIBUTE1",
    "ATTRIBUTE2",
    "ATTRIBUTE3",
    "ATTRIBUTE4",
    "ATTRIBUTE5",
    "ATTRIBUTE6",
    "ATTRIBUTE7",
    "ATTRIBUTE8",
    "ATTRIBUTE9",
    "ATTRIBUTE10",
    "ATTRIBUTE11",
    "ATTRIBUTE12",
    "ATTRIBUTE13",
    "ATTRIBUTE14",
    "ATTRIBUTE15",
    "ATTRIBUTE16",
    "ATTRIBUTE17",
    "ATTRIBUTE18",
    "ATTRIBUTE19",
    "ATTRIBUTE20",
    "ATTRIBUTE_CATEGORY3",
    "AVERAGE_JOURNAL_FLAG",
    "ORIGINATING_BAL_SEG_VALUE",
    "LEDGER_NAME",
    "ENCUMBRANCE_TYPE_ID",
    "JGZZ_RECON_REF",
    "PERIOD_NAME",
    "REFERENCE18",
    "REFERENCE19",
    "REFERENCE20",
    "ATTRIBUTE_DATE1",
    "ATTRIBUTE_DATE2",
    "ATTRIBUTE_DATE3",
    "ATTRIBUTE_DATE4",
    "ATTRIBUTE_DATE5",
    "ATTRIBUTE_DATE6",
    "ATTRIBUTE_DATE7",
    "ATTRIBUTE_DATE8",
    "ATTRIBUTE_DATE9",
    "ATTRIBUTE_DATE10",
    "ATTRIBUTE_NUMBER1",
    "ATTRIBUTE_NUMBER2",
    "ATTRIBUTE_NUMBER3",
    "ATTRIBUTE_NUMBER4",
    "ATTRIBUTE_NUMBER5",
    "ATTRIBUTE_NUMBER6",
    "ATTRIBUTE_NUMBER7",
    "ATTRIBUTE_NUMBER8",
    "ATTRIBUTE_NUMBER9",
    "ATTRIBUTE_NUMBER10",
    "GLOBAL_ATTRIBUTE_CATEGORY",
    "GLOBAL_ATTRIBUTE1",
    "GLOBAL_ATTRIBUTE2",
    "GLOBAL_ATTRIBUTE3",
    "GLOBAL_ATTRIBUTE4",
    "GLOBAL_ATTRIBUTE5",
    "GLOBAL_ATTRIBUTE6",
    "GLOBAL_ATTRIBUTE7",
    "GLOBAL_ATTRIBUTE8",
    "GLOBAL_ATTRIBUTE9",
    "GLOBAL_ATTRIBUTE10",
    "GLOBAL_ATTRIBUTE11",
    "GLOBAL_ATTRIBUTE12",
    "GLOBAL_ATTRIBUTE13",
    "GLOBAL_ATTRIBUTE14",
    "GLOBAL_ATTRIBUTE15",
    "GLOBAL_ATTRIBUTE16",
    "GLOBAL_ATTRIBUTE17",
    "GLOBAL_ATTRIBUTE18",
    "GLOBAL_ATTRIBUTE19",
    "GLOBAL_ATTRIBUTE20",
    "GLOBAL_ATTRIBUTE_DATE1",
    "GLOBAL_ATTRIBUTE_DATE2",
    "GLOBAL_ATTRIBUTE_DATE3",
    "GLOBAL_ATTRIBUTE_DATE4",
    "GLOBAL_ATTRIBUTE_DATE5",
    "GLOBAL_ATTRIBUTE_NUMBER1",
    "GLOBAL_ATTRIBUTE_NUMBER2",
    "GLOBAL_ATTRIBUTE_NUMBER3",
    "GLOBAL_ATTRIBUTE_NUMBER4",
    "GLOBAL_ATTRIBUTE_NUMBER5",
];

/// Positions of the columns this writer fills (checked against the list by the tests).
pub mod col {
    /// `NEW` for rows to import.
    pub const STATUS: usize = 0;
    /// Numeric ledger id.
    pub const LEDGER_ID: usize = 1;
    /// `YYYY/MM/DD`.
    pub const ACCOUNTING_DATE: usize = 2;
    /// Journal source name.
    pub const USER_JE_SOURCE_NAME: usize = 3;
    /// Journal category name.
    pub const USER_JE_CATEGORY_NAME: usize = 4;
    /// Entered currency.
    pub const CURRENCY_CODE: usize = 5;
    /// `YYYY/MM/DD`.
    pub const DATE_CREATED: usize = 6;
    /// `A` for actuals.
    pub const ACTUAL_FLAG: usize = 7;
    /// SEGMENT1; SEGMENT2…SEGMENT30 follow.
    pub const SEGMENT1: usize = 8;
    /// Entered debit.
    pub const ENTERED_DR: usize = 38;
    /// Entered credit.
    pub const ENTERED_CR: usize = 39;
    /// Batch name.
    pub const REFERENCE1: usize = 42;
    /// Batch description.
    pub const REFERENCE2: usize = 43;
    /// Journal name.
    pub const REFERENCE4: usize = 45;
    /// Journal description.
    pub const REFERENCE5: usize = 46;
    /// Journal reference.
    pub const REFERENCE6: usize = 47;
    /// Line description.
    pub const REFERENCE10: usize = 51;
    /// Line reference: where the amount comes from in BigCommerce.
    pub const REFERENCE21: usize = 52;
    /// Line reference: what decided the account.
    pub const REFERENCE22: usize = 53;
    /// Conversion type (`User`, `Corporate`…).
    pub const USER_CURRENCY_CONVERSION_TYPE: usize = 63;
    /// Conversion date.
    pub const CURRENCY_CONVERSION_DATE: usize = 64;
    /// Conversion rate (type `User`).
    pub const CURRENCY_CONVERSION_RATE: usize = 65;
    /// Import group; equals the job's fourth parameter.
    pub const GROUP_ID: usize = 66;
    /// Ledger name.
    pub const LEDGER_NAME: usize = 91;
    /// Period name (`Mar-26`).
    pub const PERIOD_NAME: usize = 94;
}

/// The file name inside the zip; the import's control file expects exactly this.
pub const CSV_FILE_NAME: &str = "GlInterface.csv";
/// Longest text the description and line-reference columns keep (GL_INTERFACE REFERENCE2,
/// REFERENCE5, REFERENCE10, REFERENCE21…30 are VARCHAR2(240)).
const MAX_REFERENCE_LEN: usize = 240;
/// Longest batch name, journal name and journal reference (REFERENCE1, REFERENCE4, REFERENCE6 are
/// VARCHAR2(100)). Ours are far shorter (`journal::naming`); a longer one would fail the load.
const MAX_NAME_LEN: usize = 100;
/// Longest journal source and category name (USER_JE_SOURCE_NAME, USER_JE_CATEGORY_NAME are
/// VARCHAR2(25)); the document's are checked against it when it loads.
const MAX_SOURCE_CATEGORY_LEN: usize = 25;
/// GL_INTERFACE has SEGMENT1…SEGMENT30.
const MAX_SEGMENTS: usize = 30;
/// About what a row takes (149 columns, mostly empty, and the names and descriptions): the
/// buffer is sized once for the whole file.
const ROW_BYTES_HINT: usize = 512;

/// Why an import file could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FbdiError {
    /// Every journal was empty.
    #[error("nothing to import: no journal has lines")]
    Empty,
    /// A journal has more segments than GL_INTERFACE.
    #[error("{batch}: {count} segments; GL_INTERFACE has SEGMENT1 to SEGMENT30")]
    TooManySegments {
        /// Batch name.
        batch: String,
        /// Segments on the line.
        count: usize,
    },
    /// A journal does not balance; Journal Import would reject the whole group.
    #[error(
        "{batch}: debits {dr} and credits {cr} differ; refusing to write an unbalanced journal"
    )]
    Unbalanced {
        /// Batch name.
        batch: String,
        /// Total debits.
        dr: String,
        /// Total credits.
        cr: String,
    },
    /// An amount is not a whole number of the currency's minor units. The builders round every
    /// amount; the file says what the journal says, and rounding here could unbalance it.
    #[error(
        "{batch}: {amount} is not a whole number of {currency} minor units; refusing to round it in the file"
    )]
    NotInMinorUnits {
        /// Batch name.
        batch: String,
        /// The amount, as the journal holds it.
        amount: String,
        /// The journal's currency.
        currency: String,
    },
    /// A journal's debits or credits add up past the largest amount a decimal holds.
    #[error("{batch}: its {side} add up past the largest amount a decimal holds")]
    TooLarge {
        /// Batch name.
        batch: String,
        /// `debits` or `credits`.
        side: &'static str,
    },
    /// The CSV could not be written (into memory: it cannot happen short of a bug).
    #[error("writing {CSV_FILE_NAME}: {0}")]
    Csv(String),
    /// The zip could not be written.
    #[error("writing {CSV_FILE_NAME} into a zip: {0}")]
    Zip(String),
}

/// One import: the CSV, and the zip that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFile {
    /// GROUP_ID of every row.
    pub group_id: u64,
    /// Batch names in the file, in order.
    pub batches: Vec<String>,
    /// The CSV text.
    pub csv: String,
    /// The zip holding `GlInterface.csv`.
    pub zip: Vec<u8>,
}

impl ImportFile {
    /// The zip's file name for `importBulkData` (`FileName`).
    pub fn zip_name(&self) -> String {
        format!("GlInterface_{}.zip", self.group_id)
    }

    /// The zip in standard base64 (`DocumentContent`).
    pub fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.zip)
    }
}

fn date(d: NaiveDate) -> String {
    d.format("%Y/%m/%d").to_string()
}

/// Text fit for one CSV field of Journal Import: no line breaks or tabs, at most `max` chars.
/// Borrowed as it is when it already fits (nearly always: names and descriptions are short
/// and plain), so a row costs no copy of it.
fn clean(text: &str, max: usize) -> Cow<'_, str> {
    // `char::is_control` is U+0000..U+001F and U+007F..U+009F: in UTF-8 the bytes below 0x20,
    // 0x7F, and 0xC2 (only ever a lead byte) followed by 0x80..0x9F.
    let bytes = text.as_bytes();
    let control = bytes.iter().enumerate().any(|(i, &b)| {
        b < 0x20 || b == 0x7f || (b == 0xc2 && bytes.get(i + 1).is_some_and(|n| *n < 0xa0))
    });
    if !control && (text.len() <= max || text.chars().count() <= max) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(max)
            .collect(),
    )
}

/// A journal's checked totals (debits, credits), each amount checked to be a whole number of
/// the currency's minor units (what the file says must be what the journal says) and the sums
/// checked not to overflow (`Journal::total_dr` would panic).
fn checked_totals(j: &Journal) -> Result<(Decimal, Decimal), FbdiError> {
    let (mut dr, mut cr) = (Decimal::ZERO, Decimal::ZERO);
    for line in &j.lines {
        for amount in [line.dr, line.cr] {
            if j.currency.round(amount) != amount {
                return Err(FbdiError::NotInMinorUnits {
                    batch: j.batch_name.clone(),
                    amount: amount.to_string(),
                    currency: j.currency.code().to_string(),
                });
            }
        }
        let too_large = |side| FbdiError::TooLarge {
            batch: j.batch_name.clone(),
            side,
        };
        dr = dr.checked_add(line.dr).ok_or_else(|| too_large("debits"))?;
        cr = cr
            .checked_add(line.cr)
            .ok_or_else(|| too_large("credits"))?;
    }
    Ok((dr, cr))
}

/// Columns that differ from line to line: SEGMENT1…30 with ENTERED_DR and ENTERED_CR, then
/// REFERENCE10, REFERENCE21 and REFERENCE22. Every other column is the journal's (or the
/// import's), the same on each of its rows.
const LINE_SPANS: [std::ops::RangeInclusive<usize>; 2] = [
    col::SEGMENT1..=col::ENTERED_CR,
    col::REFERENCE10..=col::REFERENCE22,
];

/// A journal's row with its line columns left empty: the journal's fields, formatted and
/// cleaned once however many lines it has.
fn journal_row<'a>(
    j: &'a Journal,
    owned: &'a JournalText,
    date_created: &'a str,
    group: &'a str,
) -> [&'a str; GL_INTERFACE_COLUMNS.len()] {
    let mut row = [""; GL_INTERFACE_COLUMNS.len()];
    row[col::STATUS] = "NEW";
    row[col::LEDGER_ID] = &owned.ledger_id;
    row[col::ACCOUNTING_DATE] = &owned.accounting_date;
    row[col::USER_JE_SOURCE_NAME] = &owned.source;
    row[col::USER_JE_CATEGORY_NAME] = &owned.category;
    row[col::CURRENCY_CODE] = j.currency.code();
    row[col::DATE_CREATED] = date_created;
    row[col::ACTUAL_FLAG] = "A";
    row[col::REFERENCE1] = &owned.batch;
    row[col::REFERENCE2] = &owned.batch_description;
    row[col::REFERENCE4] = &owned.journal_name;
    row[col::REFERENCE5] = &owned.journal_description;
    row[col::REFERENCE6] = &owned.reference;
    row[col::USER_CURRENCY_CONVERSION_TYPE] = &owned.conversion_type;
    row[col::CURRENCY_CONVERSION_DATE] = &owned.conversion_date;
    row[col::CURRENCY_CONVERSION_RATE] = &owned.conversion_rate;
    row[col::GROUP_ID] = group;
    row[col::LEDGER_NAME] = &owned.ledger;
    row[col::PERIOD_NAME] = &owned.period;
    row
}

/// The journal's text for its row, formatted and cleaned.
struct JournalText<'j> {
    ledger_id: String,
    accounting_date: String,
    source: Cow<'j, str>,
    category: Cow<'j, str>,
    batch: Cow<'j, str>,
    batch_description: Cow<'j, str>,
    journal_name: Cow<'j, str>,
    journal_description: String,
    reference: Cow<'j, str>,
    conversion_type: Cow<'j, str>,
    conversion_date: String,
    conversion_rate: String,
    ledger: Cow<'j, str>,
    period: Cow<'j, str>,
}

impl<'j> JournalText<'j> {
    fn of(j: &'j Journal) -> Self {
        let mut journal_description = j.description.clone();
        if j.has_totals_mismatch() {
            journal_description.push_str(" [totals mismatch: difference in suspense]");
        }
        let conversion = j.conversion.as_ref();
        Self {
            ledger_id: j.ledger_id.to_string(),
            accounting_date: date(j.accounting_date),
            source: clean(&j.source, MAX_SOURCE_CATEGORY_LEN),
            category: clean(&j.category, MAX_SOURCE_CATEGORY_LEN),
            batch: clean(&j.batch_name, MAX_NAME_LEN),
            batch_description: clean(&j.description, MAX_REFERENCE_LEN),
            journal_name: clean(&j.journal_name, MAX_NAME_LEN),
            journal_description: clean(&journal_description, MAX_REFERENCE_LEN).into_owned(),
            reference: clean(&j.reference, MAX_NAME_LEN),
            conversion_type: conversion.map_or(Cow::Borrowed(""), |c| {
                clean(&c.conversion_type, MAX_REFERENCE_LEN)
            }),
            conversion_date: conversion.map_or_else(String::new, |c| date(c.date)),
            conversion_rate: conversion
                .and_then(|c| c.rate)
                .map_or_else(String::new, |r| r.to_string()),
            ledger: clean(&j.ledger, MAX_REFERENCE_LEN),
            period: j
                .period_name
                .as_deref()
                .map_or(Cow::Borrowed(""), |p| clean(p, MAX_REFERENCE_LEN)),
        }
    }
}

/// Where the CSV goes: shared by the `csv` writer and [`Fields`], which appends runs quoted
/// before and puts a run's separator in place of its record terminator.
#[derive(Clone, Default)]
struct Buffer(Rc<RefCell<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The `csv` crate's writer, used for runs of consecutive fields: each run is one record, and
/// its `\n` is replaced by what follows it in the row (a `,` or the row's end). The quoting is
/// the crate's, RFC 4180: a field with a comma, a quote or a line break is quoted, quotes
/// doubled.
struct Fields {
    writer: csv::Writer<Buffer>,
    out: Buffer,
    /// The run being written, reused: the crate's fast path takes a `ByteRecord`.
    record: csv::ByteRecord,
}

impl Fields {
    fn new(capacity: usize) -> Self {
        let out = Buffer(Rc::new(RefCell::new(Vec::with_capacity(capacity))));
        Self {
            writer: csv::WriterBuilder::new()
                .has_headers(false)
                .flexible(true)
                .quote_style(csv::QuoteStyle::Necessary)
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(out.clone()),
            out,
            record: csv::ByteRecord::with_capacity(ROW_BYTES_HINT, GL_INTERFACE_COLUMNS.len()),
        }
    }

    /// Writes `fields` (at least two, so that no run is a lone empty field, which the crate
    /// writes as `""`), then `end` in place of the record's terminator.
    fn run(&mut self, fields: &[&str], end: u8) -> Result<(), FbdiError> {
        debug_assert!(fields.len() >= 2);
        self.record.clear();
        for field in fields {
            self.record.push_field(field.as_bytes());
        }
        self.writer
            .write_byte_record(&self.record)
            .and_then(|()| self.writer.flush().map_err(csv::Error::from))
            .map_err(|e| FbdiError::Csv(e.to_string()))?;
        let mut out = self.out.0.borrow_mut();
        out.pop();
        out.push(end);
        Ok(())
    }

    /// Bytes written as they are: runs this writer quoted before.
    fn raw(&mut self, bytes: &[u8]) {
        self.out.0.borrow_mut().extend_from_slice(bytes);
    }

    /// Everything written so far, taken out.
    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut *self.out.0.borrow_mut())
    }
}

/// The rows of `GlInterface.csv` for these journals, all in import group `group_id`. Journals
/// without lines are skipped; unbalanced ones, and amounts the file cannot say exactly, are
/// refused.
///
/// A journal's own columns are quoted once, in three pieces around its line columns; each row
/// then writes only its line's 35 columns. Every field goes through the `csv` crate's quoting.
pub fn gl_interface_csv(
    journals: &[Journal],
    group_id: u64,
    date_created: NaiveDate,
) -> Result<String, FbdiError> {
    let rows: usize = journals.iter().map(|j| j.lines.len()).sum();
    let mut out = Fields::new(rows * ROW_BYTES_HINT);
    let mut pieces = Fields::new(ROW_BYTES_HINT);
    let date_created = date(date_created);
    let group = group_id.to_string();
    let [a, b] = LINE_SPANS;
    for j in journals.iter().filter(|j| !j.is_empty()) {
        let (dr, cr) = checked_totals(j)?;
        if dr != cr {
            return Err(FbdiError::Unbalanced {
                batch: j.batch_name.clone(),
                dr: j.currency.format(dr),
                cr: j.currency.format(cr),
            });
        }
        if let Some(line) = j.lines.iter().find(|l| l.segments.len() > MAX_SEGMENTS) {
            return Err(FbdiError::TooManySegments {
                batch: j.batch_name.clone(),
                count: line.segments.len(),
            });
        }
        let text = JournalText::of(j);
        let row = journal_row(j, &text, &date_created, &group);
        pieces.run(&row[..*a.start()], b',')?;
        let before = pieces.take();
        pieces.run(&row[a.end() + 1..*b.start()], b',')?;
        let between = pieces.take();
        pieces.run(&row[b.end() + 1..], b'\n')?;
        let after = pieces.take();
        for line in &j.lines {
            let cleaned: [Cow<str>; MAX_SEGMENTS] = std::array::from_fn(|i| {
                line.segments
                    .get(i)
                    .map_or(Cow::Borrowed(""), |s| clean(s, MAX_REFERENCE_LEN))
            });
            let amount = |a: Decimal| {
                if a.is_zero() {
                    String::new()
                } else {
                    j.currency.format(a)
                }
            };
            let (entered_dr, entered_cr) = (amount(line.dr), amount(line.cr));
            let mut own = [""; col::ENTERED_CR - col::SEGMENT1 + 1];
            for (field, segment) in own.iter_mut().zip(&cleaned) {
                *field = segment;
            }
            own[col::ENTERED_DR - col::SEGMENT1] = &entered_dr;
            own[col::ENTERED_CR - col::SEGMENT1] = &entered_cr;
            out.raw(&before);
            out.run(&own, b',')?;
            out.raw(&between);
            out.run(
                &[
                    &clean(&line.description, MAX_REFERENCE_LEN),
                    &clean(&line.reference, MAX_REFERENCE_LEN),
                    &clean(&line.rule, MAX_REFERENCE_LEN),
                ],
                b',',
            )?;
            out.raw(&after);
        }
    }
    let bytes = out.take();
    if bytes.is_empty() {
        return Err(FbdiError::Empty);
    }
    // Every field was a `&str`; quoting and separators are ASCII.
    String::from_utf8(bytes).map_err(|e| FbdiError::Csv(e.to_string()))
}

/// Deflate's fastest level. The file is 149 columns of mostly commas and names repeated on
/// every row: level 1 still shrinks it about 30 times (level 6 about 45), in a fifth of the
/// time.
const DEFLATE_LEVEL: i64 = 1;

/// The zip `importBulkData` takes: one entry, `GlInterface.csv`, deflated. Entries carry a fixed
/// timestamp, so the same journals always give the same bytes.
pub fn zip_csv(csv: &str) -> Result<Vec<u8>, FbdiError> {
    let zip_err = |e: &dyn std::fmt::Display| FbdiError::Zip(e.to_string());
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL));
    writer
        .start_file(CSV_FILE_NAME, options)
        .map_err(|e| zip_err(&e))?;
    writer.write_all(csv.as_bytes()).map_err(|e| zip_err(&e))?;
    let cursor = writer.finish().map_err(|e| zip_err(&e))?;
    Ok(cursor.into_inner())
}

/// CSV and zip for one import group.
pub fn build_import(
    journals: &[Journal],
    group_id: u64,
    date_created: NaiveDate,
) -> Result<ImportFile, FbdiError> {
    let csv = gl_interface_csv(journals, group_id, date_created)?;
    let zip = zip_csv(&csv)?;
    Ok(ImportFile {
        group_id,
        batches: journals
            .iter()
            .filter(|j| !j.is_empty())
            .map(|j| j.batch_name.clone())
            .collect(),
        csv,
        zip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_borrows_plain_text_and_replaces_every_control_character() {
        for plain in ["Shirt", "Refund: Café ×2", "", "x,\"y\""] {
            assert!(matches!(clean(plain, 240), Cow::Borrowed(_)), "{plain}");
        }
        for (text, want) in [
            ("a\tb\nc\rd", "a b c d"),
            ("nel\u{85}end", "nel end"),
            ("c1\u{9f}x\u{7f}", "c1 x "),
            ("¡no\u{a0}break", "¡no\u{a0}break"),
        ] {
            assert_eq!(clean(text, 240), want, "{text:?}");
            assert_eq!(
                clean(text, 240),
                text.chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect::<String>()
            );
        }
        assert_eq!(clean("××××", 3), "×××", "cut at characters, not bytes");
        assert!(matches!(clean("××××", 4), Cow::Borrowed(_)));
        assert_eq!(clean("abcdef", 4), "abcd");
    }
}
