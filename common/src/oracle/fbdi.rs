//! Journal Import's file: journals → `GlInterface.csv` → zip → base64, ready for
//! `erpintegrations` `importBulkData`.
//!
//! The CSV is headerless and positional: 149 columns in the order of the 25c
//! `JournalImportTemplate` (see `tests/specs/oracle/gl_interface_columns.txt`). One row per
//! journal line, every row of one import carrying the same GROUP_ID, which the import job's
//! parameter list repeats. Text is cleaned of line breaks and cut to what the REFERENCE columns
//! hold, so no description can break a row. Amounts are written as the journal holds them: one
//! that is not a whole number of minor units, or totals past the decimal type, are refused.

use std::io::Write;

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
fn clean(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

/// RFC 4180 quoting: fields with a comma, a quote or a line break are quoted, quotes doubled.
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// A journal's total debits and credits, each amount checked to be a whole number of the
/// currency's minor units (what the file says must be what the journal says) and the sums
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

/// The rows of `GlInterface.csv` for these journals, all in import group `group_id`. Journals
/// without lines are skipped; unbalanced ones, and amounts the file cannot say exactly, are
/// refused.
pub fn gl_interface_csv(
    journals: &[Journal],
    group_id: u64,
    date_created: NaiveDate,
) -> Result<String, FbdiError> {
    let mut out = String::new();
    for j in journals.iter().filter(|j| !j.is_empty()) {
        let (dr, cr) = checked_totals(j)?;
        if dr != cr {
            return Err(FbdiError::Unbalanced {
                batch: j.batch_name.clone(),
                dr: j.currency.format(dr),
                cr: j.currency.format(cr),
            });
        }
        let mut journal_description = j.description.clone();
        if j.has_totals_mismatch() {
            journal_description.push_str(" [totals mismatch: difference in suspense]");
        }
        for line in &j.lines {
            if line.segments.len() > MAX_SEGMENTS {
                return Err(FbdiError::TooManySegments {
                    batch: j.batch_name.clone(),
                    count: line.segments.len(),
                });
            }
            let mut row = vec![String::new(); GL_INTERFACE_COLUMNS.len()];
            row[col::STATUS] = "NEW".into();
            row[col::LEDGER_ID] = j.ledger_id.to_string();
            row[col::ACCOUNTING_DATE] = date(j.accounting_date);
            row[col::USER_JE_SOURCE_NAME] = clean(&j.source, MAX_SOURCE_CATEGORY_LEN);
            row[col::USER_JE_CATEGORY_NAME] = clean(&j.category, MAX_SOURCE_CATEGORY_LEN);
            row[col::CURRENCY_CODE] = j.currency.code().to_string();
            row[col::DATE_CREATED] = date(date_created);
            row[col::ACTUAL_FLAG] = "A".into();
            for (i, value) in line.segments.iter().enumerate() {
                row[col::SEGMENT1 + i] = clean(value, MAX_REFERENCE_LEN);
            }
            if !line.dr.is_zero() {
                row[col::ENTERED_DR] = j.currency.format(line.dr);
            }
            if !line.cr.is_zero() {
                row[col::ENTERED_CR] = j.currency.format(line.cr);
            }
            row[col::REFERENCE1] = clean(&j.batch_name, MAX_NAME_LEN);
            row[col::REFERENCE2] = clean(&j.description, MAX_REFERENCE_LEN);
            row[col::REFERENCE4] = clean(&j.journal_name, MAX_NAME_LEN);
            row[col::REFERENCE5] = clean(&journal_description, MAX_REFERENCE_LEN);
            row[col::REFERENCE6] = clean(&j.reference, MAX_NAME_LEN);
            row[col::REFERENCE10] = clean(&line.description, MAX_REFERENCE_LEN);
            row[col::REFERENCE21] = clean(&line.reference, MAX_REFERENCE_LEN);
            row[col::REFERENCE22] = clean(&line.rule, MAX_REFERENCE_LEN);
            if let Some(conv) = &j.conversion {
                row[col::USER_CURRENCY_CONVERSION_TYPE] =
                    clean(&conv.conversion_type, MAX_REFERENCE_LEN);
                row[col::CURRENCY_CONVERSION_DATE] = date(conv.date);
                if let Some(rate) = conv.rate {
                    row[col::CURRENCY_CONVERSION_RATE] = rate.to_string();
                }
            }
            row[col::GROUP_ID] = group_id.to_string();
            row[col::LEDGER_NAME] = clean(&j.ledger, MAX_REFERENCE_LEN);
            if let Some(period) = &j.period_name {
                row[col::PERIOD_NAME] = clean(period, MAX_REFERENCE_LEN);
            }
            let fields: Vec<String> = row.iter().map(|f| quote(f)).collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    if out.is_empty() {
        return Err(FbdiError::Empty);
    }
    Ok(out)
}

/// The zip `importBulkData` takes: one entry, `GlInterface.csv`, deflated. Entries carry a fixed
/// timestamp, so the same journals always give the same bytes.
pub fn zip_csv(csv: &str) -> Result<Vec<u8>, FbdiError> {
    let zip_err = |e: &dyn std::fmt::Display| FbdiError::Zip(e.to_string());
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
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
