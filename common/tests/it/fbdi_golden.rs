//! The Journal Import file: positions against Oracle's column list, a golden row, quoting, the
//! zip, and refusals.

use crate::support::*;
use chrono::NaiveDate;
use common::journal::{Journal, JournalContext, build_sale};
use common::mapping::AccountRole;
use common::oracle::fbdi::{self, FbdiError, GL_INTERFACE_COLUMNS, col};
use rust_decimal::Decimal;
use serde_json::json;

/// The file as a standard RFC 4180 reader (the `csv` crate) reads it, a row of fields per
/// record.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    assert!(text.ends_with('\n'), "file must end with a newline");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn journal(name: &str, currency: &str) -> Journal {
    let config = example_config();
    let mut o = order(700);
    o["default_currency_code"] = json!(currency);
    o["store_default_to_transactional_exchange_rate"] = json!("1.2500000000");
    o["total_tax"] = json!("3.2000");
    o["total_inc_tax"] = json!("43.2000");
    let mut shirt = line(1, 77, 2, "20.00", "1.60");
    shirt["name"] = json!(name);
    let b = bundle_with(json!({"order": o, "products": [shirt],
        "categories": {"77": [21]}, "category_tree": example_tree()}));
    build_sale(&JournalContext::new(&config, "us").unwrap(), &b).unwrap()
}

fn created() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 11).unwrap()
}

#[test]
fn columns_are_oracles_149_in_template_order() {
    let spec =
        std::fs::read_to_string(repo_root().join("tests/specs/oracle/gl_interface_columns.txt"))
            .unwrap();
    let names: Vec<&str> = spec
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(names.len(), 149);
    assert_eq!(GL_INTERFACE_COLUMNS.to_vec(), names);
    for (index, name) in [
        (col::STATUS, "STATUS"),
        (col::LEDGER_ID, "LEDGER_ID"),
        (col::ACCOUNTING_DATE, "ACCOUNTING_DATE"),
        (col::USER_JE_SOURCE_NAME, "USER_JE_SOURCE_NAME"),
        (col::USER_JE_CATEGORY_NAME, "USER_JE_CATEGORY_NAME"),
        (col::CURRENCY_CODE, "CURRENCY_CODE"),
        (col::DATE_CREATED, "DATE_CREATED"),
        (col::ACTUAL_FLAG, "ACTUAL_FLAG"),
        (col::SEGMENT1, "SEGMENT1"),
        (col::SEGMENT1 + 29, "SEGMENT30"),
        (col::ENTERED_DR, "ENTERED_DR"),
        (col::ENTERED_CR, "ENTERED_CR"),
        (col::REFERENCE1, "REFERENCE1"),
        (col::REFERENCE2, "REFERENCE2"),
        (col::REFERENCE4, "REFERENCE4"),
        (col::REFERENCE5, "REFERENCE5"),
        (col::REFERENCE6, "REFERENCE6"),
        (col::REFERENCE10, "REFERENCE10"),
        (col::REFERENCE21, "REFERENCE21"),
        (col::REFERENCE22, "REFERENCE22"),
        (
            col::USER_CURRENCY_CONVERSION_TYPE,
            "USER_CURRENCY_CONVERSION_TYPE",
        ),
        (col::CURRENCY_CONVERSION_DATE, "CURRENCY_CONVERSION_DATE"),
        (col::CURRENCY_CONVERSION_RATE, "CURRENCY_CONVERSION_RATE"),
        (col::GROUP_ID, "GROUP_ID"),
        (col::LEDGER_NAME, "LEDGER_NAME"),
        (col::PERIOD_NAME, "PERIOD_NAME"),
    ] {
        assert_eq!(GL_INTERFACE_COLUMNS[index], name);
    }
}

#[test]
fn golden_rows() {
    let j = journal("Linen Shirt", "USD");
    let csv = fbdi::gl_interface_csv(&[j], 4242, created()).unwrap();
    let rows = parse_csv(&csv);
    assert_eq!(rows.len(), 3, "{csv}");
    let first = &rows[0];
    assert_eq!(first.len(), 149);
    let filled: Vec<(usize, &str)> = first
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(i, v)| (i, v.as_str()))
        .collect();
    assert_eq!(
        filled,
        vec![
            (col::STATUS, "NEW"),
            (col::LEDGER_ID, "300000046975971"),
            (col::ACCOUNTING_DATE, "2026/03/10"),
            (col::USER_JE_SOURCE_NAME, "BigCommerce"),
            (col::USER_JE_CATEGORY_NAME, "Sales"),
            (col::CURRENCY_CODE, "USD"),
            (col::DATE_CREATED, "2026/03/11"),
            (col::ACTUAL_FLAG, "A"),
            (col::SEGMENT1, "101"),
            (col::SEGMENT1 + 1, "000"),
            (col::SEGMENT1 + 2, "1210"),
            (col::SEGMENT1 + 3, "000"),
            (col::SEGMENT1 + 4, "000"),
            (col::ENTERED_DR, "43.20"),
            (col::REFERENCE1, "BC-us-700-sale"),
            (
                col::REFERENCE2,
                "BigCommerce order 700 (us, channel 1): sale"
            ),
            (col::REFERENCE4, "BC us order 700 sale"),
            (
                col::REFERENCE5,
                "BigCommerce order 700 (us, channel 1): sale"
            ),
            (col::REFERENCE6, "BC-us-700"),
            (col::REFERENCE10, "Due from customer (Credit Card)"),
            (col::REFERENCE21, "order"),
            (col::REFERENCE22, "chart_of_accounts, default:receivable"),
            (col::GROUP_ID, "4242"),
            (col::LEDGER_NAME, "NW US Primary"),
            (col::PERIOD_NAME, "Mar-26"),
        ]
    );
    // The exact bytes of the credit line, as Journal Import will read them.
    let second = csv.lines().nth(1).unwrap();
    let mut expected = vec![""; 149];
    for (i, v) in [
        (0, "NEW"),
        (1, "300000046975971"),
        (2, "2026/03/10"),
        (3, "BigCommerce"),
        (4, "Sales"),
        (5, "USD"),
        (6, "2026/03/11"),
        (7, "A"),
        (8, "101"),
        (9, "310"),
        (10, "4010"),
        (11, "100"),
        (12, "000"),
        (39, "40.00"),
        (42, "BC-us-700-sale"),
        (43, "\"BigCommerce order 700 (us, channel 1): sale\""),
        (45, "BC us order 700 sale"),
        (46, "\"BigCommerce order 700 (us, channel 1): sale\""),
        (47, "BC-us-700"),
        (51, "Linen Shirt ×2"),
        (52, "line:1"),
        (
            53,
            "\"chart_of_accounts, rule:apparel, rule:apparel-revenue\"",
        ),
        (66, "4242"),
        (91, "NW US Primary"),
        (94, "Mar-26"),
    ] {
        expected[i] = v;
    }
    assert_eq!(second, expected.join(","));
}

#[test]
fn commas_quotes_and_line_breaks_in_descriptions_cannot_break_a_row() {
    let j = journal("Shirt, \"Navy\"\nsize M", "USD");
    let csv = fbdi::gl_interface_csv(&[j], 1, created()).unwrap();
    assert!(csv.contains(",\"Shirt, \"\"Navy\"\" size M ×2\","), "{csv}");
    let rows = parse_csv(&csv);
    assert!(rows.iter().all(|r| r.len() == 149));
    assert_eq!(rows[1][col::REFERENCE10], "Shirt, \"Navy\" size M ×2");
    let long = journal(&"x".repeat(400), "USD");
    let rows = parse_csv(&fbdi::gl_interface_csv(&[long], 1, created()).unwrap());
    assert_eq!(rows[1][col::REFERENCE10].chars().count(), 240);
}

#[test]
fn foreign_currency_rows_carry_the_conversion() {
    let j = journal("Shirt", "CAD");
    let rows = parse_csv(&fbdi::gl_interface_csv(&[j], 9, created()).unwrap());
    for row in &rows {
        assert_eq!(row[col::CURRENCY_CODE], "CAD");
        assert_eq!(row[col::USER_CURRENCY_CONVERSION_TYPE], "User");
        assert_eq!(row[col::CURRENCY_CONVERSION_DATE], "2026/03/10");
        assert_eq!(row[col::CURRENCY_CONVERSION_RATE], "0.8");
    }
}

#[test]
fn the_zip_holds_exactly_gl_interface_csv() {
    use std::io::Read;
    let j = journal("Shirt", "USD");
    let import = fbdi::build_import(std::slice::from_ref(&j), 77, created()).unwrap();
    assert_eq!(import.zip_name(), "GlInterface_77.zip");
    assert_eq!(import.batches, vec!["BC-us-700-sale"]);
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(import.base64())
        .unwrap();
    assert_eq!(decoded, import.zip);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(decoded)).unwrap();
    assert_eq!(archive.len(), 1);
    let mut entry = archive.by_index(0).unwrap();
    assert_eq!(entry.name().unwrap(), "GlInterface.csv");
    let mut text = String::new();
    entry.read_to_string(&mut text).unwrap();
    assert_eq!(text, import.csv);
    // Same journals, same bytes.
    assert_eq!(
        fbdi::build_import(&[j], 77, created()).unwrap().zip,
        import.zip
    );
}

#[test]
fn unbalanced_or_empty_input_is_refused() {
    let mut j = journal("Shirt", "USD");
    j.lines[1].cr += rust_decimal::Decimal::new(1, 2);
    assert_eq!(
        fbdi::gl_interface_csv(&[j.clone()], 1, created()).unwrap_err(),
        FbdiError::Unbalanced {
            batch: "BC-us-700-sale".into(),
            dr: "43.20".into(),
            cr: "43.21".into()
        }
    );
    j.lines.clear();
    assert_eq!(
        fbdi::gl_interface_csv(&[j], 1, created()).unwrap_err(),
        FbdiError::Empty
    );
}

fn set_amounts(j: &mut Journal, revenue_cr: Decimal, tax_cr: Decimal) {
    for l in &mut j.lines {
        match l.account_role {
            AccountRole::Revenue => l.cr = revenue_cr,
            AccountRole::Tax => l.cr = tax_cr,
            _ => {}
        }
    }
}

/// Found by the fuzz target (`fuzz::journal_import`): the writer rounded each amount to the
/// minor unit as it wrote it, so a journal balanced to the fraction (43.20 against 39.995 and
/// 3.205) was written unbalanced (43.20 against 40.00 and 3.21). Such an amount is refused.
#[test]
fn an_amount_finer_than_the_minor_unit_is_refused_not_rounded() {
    let mut j = journal("Shirt", "USD");
    set_amounts(&mut j, Decimal::new(39_995, 3), Decimal::new(3_205, 3));
    assert!(j.is_balanced());
    assert_eq!(
        fbdi::gl_interface_csv(&[j.clone()], 1, created()).unwrap_err(),
        FbdiError::NotInMinorUnits {
            batch: "BC-us-700-sale".into(),
            amount: "39.995".into(),
            currency: "USD".into()
        }
    );
    // Trailing zeros are still whole minor units.
    set_amounts(&mut j, Decimal::new(40_0000, 4), Decimal::new(3_2000, 4));
    let rows = parse_csv(&fbdi::gl_interface_csv(&[j], 1, created()).unwrap());
    assert_eq!(rows[1][col::ENTERED_CR], "40.00");
}

/// Found by the fuzz target: credits adding up past the decimal type panicked the writer
/// (`Journal::total_cr` overflowed); they are refused with the batch named.
#[test]
fn totals_past_the_decimal_type_are_refused_without_a_panic() {
    let mut j = journal("Shirt", "USD");
    set_amounts(&mut j, Decimal::MAX, Decimal::new(320, 2));
    assert_eq!(
        fbdi::gl_interface_csv(&[j], 1, created()).unwrap_err(),
        FbdiError::TooLarge {
            batch: "BC-us-700-sale".into(),
            side: "credits"
        }
    );
}

/// Found reading the writer for the fuzz target (whose one-physical-line-per-row check covers
/// it): the conversion type was the only text written as it stood, so a line break in it split
/// the row for Journal Import's loader. It is cleaned like every other text.
#[test]
fn a_line_break_in_the_conversion_type_cannot_break_a_row() {
    let mut j = journal("Shirt", "CAD");
    j.conversion.as_mut().unwrap().conversion_type = "User\r\nNEW,1".into();
    let csv = fbdi::gl_interface_csv(&[j], 1, created()).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    for row in parse_csv(&csv) {
        assert_eq!(row[col::USER_CURRENCY_CONVERSION_TYPE], "User  NEW,1");
    }
}
