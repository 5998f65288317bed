//! Fusion's answers as typed structs, read strictly: an amount is a JSON number or a numeric
//! string (Fusion sends numbers; some proxies and older pods send strings), `null` where Fusion
//! leaves an amount empty, and anything else is refused with the JSON path of the bad field
//! (`items[3].RunningTotalDr: invalid decimal "12.3x"`). A malformed amount must never read as
//! zero: reconciliation compares these totals with what the connector sent.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

use crate::money::decimal_from_f64;
use crate::redact::upstream_text;

/// Where and why an answer did not fit its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Misfit {
    /// JSON path of the bad field (`items[3].RunningTotalDr`), `(answer)` for the whole body.
    pub path: String,
    /// What was wrong, without any value that could be a credential.
    pub message: String,
}

/// Reads `body` into `T`, naming the bad field when it does not fit.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Misfit> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let misfit = |path: String, message: &str| Misfit {
        path: match path.as_str() {
            "" | "(document)" => "(answer)".into(),
            _ => path,
        },
        message: upstream_text(&strip_position(message), &[]),
    };
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let (path, message) = crate::json_path::describe("", &e);
        misfit(path, &message)
    })?;
    de.end()
        .map_err(|e| misfit(String::new(), &e.to_string()))?;
    Ok(value)
}

/// serde_json's message without " at line L column C" (the path says where).
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

/// A page of a Fusion collection (`{items, count, hasMore, limit, offset}`).
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    /// The page's items.
    pub items: Vec<T>,
    /// Whether another page follows.
    #[serde(rename = "hasMore")]
    pub has_more: bool,
}

/// A `journalBatches` item.
#[derive(Debug, Deserialize)]
pub(crate) struct BatchItem {
    #[serde(rename = "JeBatchId", deserialize_with = "id")]
    pub id: u64,
    #[serde(rename = "BatchName")]
    pub name: String,
    #[serde(rename = "Status", deserialize_with = "text")]
    pub status: String,
    #[serde(rename = "DefaultPeriodName", deserialize_with = "text")]
    pub period: String,
    #[serde(rename = "RunningTotalDr", deserialize_with = "amount")]
    pub total_dr: Decimal,
    #[serde(rename = "RunningTotalCr", deserialize_with = "amount")]
    pub total_cr: Decimal,
}

/// A link of an item (`rel=self` carries a journal header's opaque key).
#[derive(Debug, Deserialize)]
pub(crate) struct Link {
    pub rel: String,
    pub href: String,
}

/// A `journalHeaders` item (read with its links: its key is only in `links[rel=self]`).
#[derive(Debug, Deserialize)]
pub(crate) struct HeaderItem {
    #[serde(rename = "JournalName")]
    pub name: String,
    #[serde(rename = "ExternalReference", deserialize_with = "text")]
    pub reference: String,
    #[serde(rename = "CurrencyCode")]
    pub currency: String,
    #[serde(rename = "PeriodName", deserialize_with = "text")]
    pub period: String,
    pub links: Vec<Link>,
}

impl HeaderItem {
    /// The header's key, the last segment of its `self` link.
    pub fn key(&self) -> Option<&str> {
        let href = &self.links.iter().find(|l| l.rel == "self")?.href;
        href.rsplit('/').next().filter(|k| !k.is_empty())
    }
}

/// A `journalLines` item.
#[derive(Debug, Deserialize)]
pub(crate) struct LineItem {
    #[serde(rename = "JeLineNumber", deserialize_with = "id")]
    pub number: u32,
    #[serde(rename = "AccountCombination")]
    pub account: String,
    #[serde(rename = "EnteredDr", deserialize_with = "amount")]
    pub entered_dr: Decimal,
    #[serde(rename = "EnteredCr", deserialize_with = "amount")]
    pub entered_cr: Decimal,
    #[serde(rename = "Description", deserialize_with = "text")]
    pub description: String,
}

/// An `accountingPeriodStatusLOV` item.
#[derive(Debug, Deserialize)]
pub(crate) struct PeriodItem {
    #[serde(rename = "PeriodNameId")]
    pub name: String,
    #[serde(rename = "ClosingStatus")]
    pub closing_status: String,
    #[serde(rename = "StartDate", deserialize_with = "date")]
    pub start: NaiveDate,
    #[serde(rename = "EndDate", deserialize_with = "date")]
    pub end: NaiveDate,
}

/// A `ledgersLOV` item.
#[derive(Debug, Deserialize)]
pub(crate) struct LedgerItem {
    #[serde(rename = "LedgerId", deserialize_with = "id")]
    pub id: u64,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "CurrencyCode")]
    pub currency: String,
}

/// An `ESSJobStatusRF` item. Jobs not started through `erpintegrations` have an empty or null
/// status.
#[derive(Debug, Deserialize)]
pub(crate) struct JobStatusItem {
    #[serde(rename = "RequestStatus", deserialize_with = "text")]
    pub status: String,
}

/// An `ESSJobExecutionDetailsRF` item: the job's files as a base64 zip, or nothing yet.
#[derive(Debug, Deserialize)]
pub(crate) struct JobDetailsItem {
    #[serde(
        rename = "DocumentContent",
        default,
        deserialize_with = "optional_text"
    )]
    pub content: Option<String>,
}

/// The `importBulkData` answer: the fields echoed, plus `ReqstId` (`-1` when refused).
#[derive(Debug, Deserialize)]
pub(crate) struct ImportAnswer {
    #[serde(rename = "ReqstId", deserialize_with = "signed_id")]
    pub request_id: i64,
}

/// An amount: a JSON number or a numeric string; `null` (Fusion's empty amount) is zero.
fn amount<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_any(AmountVisitor)
}

struct AmountVisitor;

impl<'de> Visitor<'de> for AmountVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an amount (a JSON number, a numeric string or null)")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        decimal_from_f64(v).map_err(|_| E::custom(format!("invalid decimal {v}")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        let t = v.trim();
        Decimal::from_str(t)
            .or_else(|_| Decimal::from_scientific(t))
            .map_err(|_| E::custom(format!("invalid decimal {:?}", shown(v))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Decimal, E> {
        Ok(Decimal::ZERO)
    }
}

/// At most 40 characters of a bad value: enough to see what it is, too short to carry a
/// document into an error.
fn shown(v: &str) -> String {
    v.chars().take(40).collect()
}

/// An identifier: a non-negative JSON integer or a string of digits.
fn id<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
    let n = signed_id(d)?;
    u64::try_from(n)
        .ok()
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| de::Error::custom(format!("invalid id {n}")))
}

/// A possibly negative identifier (`ReqstId` is `-1` when refused).
fn signed_id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct IdVisitor;
    impl<'de> Visitor<'de> for IdVisitor {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an id (a JSON integer or a string of digits)")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom(format!("invalid id {v}")))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            v.trim()
                .parse()
                .map_err(|_| E::custom(format!("invalid id {:?}", shown(v))))
        }
    }
    d.deserialize_any(IdVisitor)
}

/// Text that Fusion may leave `null`: read as empty.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// Text that may be `null` or absent.
fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

/// A date as Fusion writes it: `2026-03-01`, or a timestamp starting with it.
fn date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let text = String::deserialize(d)?;
    text.get(..10)
        .and_then(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
        .filter(|_| text.len() == 10 || text[10..].starts_with('T'))
        .ok_or_else(|| de::Error::custom(format!("invalid date {:?}", shown(&text))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn misfit<T: DeserializeOwned + fmt::Debug>(body: &str) -> (String, String) {
        let m = decode::<T>(body.as_bytes()).expect_err(body);
        (m.path, m.message)
    }

    const BATCHES: &str = r#"{"items":[
        {"JeBatchId":300100,"BatchName":"BC-us-1-sale BigCommerce A 17 5001 N","BatchDescription":"Order 1",
         "Status":"U","StatusMeaning":"Unposted","DefaultPeriodName":"Mar-26","UserJeSourceName":"BigCommerce",
         "RunningTotalDr":64.8,"RunningTotalCr":64.8,"RunningTotalAccountedDr":64.8,"RunningTotalAccountedCr":64.8,
         "RequestId":null,"ErrorMessage":null,"PostedDate":null},
        {"JeBatchId":"300101","BatchName":"BC-us-2-sale","Status":null,"DefaultPeriodName":"Mar-26",
         "RunningTotalDr":"1234.567","RunningTotalCr":1e2}
    ],"count":2,"hasMore":false,"limit":500,"offset":0}"#;

    #[test]
    fn batches_read_with_exact_amounts_from_numbers_and_strings() {
        let page: Page<BatchItem> = decode(BATCHES.as_bytes()).unwrap();
        assert!(!page.has_more);
        let [a, b] = page.items.as_slice() else {
            panic!("{page:?}")
        };
        assert_eq!(
            (a.id, a.total_dr, a.total_cr),
            (300100, dec!(64.8), dec!(64.8))
        );
        assert_eq!(a.status, "U");
        assert_eq!(
            (b.id, b.total_dr, b.total_cr),
            (300101, dec!(1234.567), dec!(100))
        );
        assert_eq!(b.status, "", "a null status reads as none");
    }

    #[test]
    fn a_malformed_amount_is_an_error_at_its_path_never_zero() {
        let bad = BATCHES.replace(
            r#""RunningTotalDr":"1234.567""#,
            r#""RunningTotalDr":"12.3x""#,
        );
        assert_eq!(
            misfit::<Page<BatchItem>>(&bad),
            (
                "items[1].RunningTotalDr".into(),
                r#"invalid decimal "12.3x""#.into()
            )
        );
        for (value, message) in [
            (
                "true",
                "invalid type: boolean, expected an amount (a JSON number, a numeric string or null)",
            ),
            (
                "{}",
                "invalid type: map, expected an amount (a JSON number, a numeric string or null)",
            ),
            (
                "[1]",
                "invalid type: sequence, expected an amount (a JSON number, a numeric string or null)",
            ),
            (r#""""#, r#"invalid decimal """#),
        ] {
            let bad = BATCHES.replace(
                r#""RunningTotalCr":64.8,"RunningTotalAccountedDr""#,
                &format!(r#""RunningTotalCr":{value},"RunningTotalAccountedDr""#),
            );
            assert_eq!(
                misfit::<Page<BatchItem>>(&bad),
                ("items[0].RunningTotalCr".into(), message.into()),
                "{value}"
            );
        }
    }

    #[test]
    fn missing_fields_and_wrong_types_are_named() {
        let no_total = BATCHES.replace(r#","RunningTotalCr":1e2"#, "");
        assert_eq!(
            misfit::<Page<BatchItem>>(&no_total),
            (
                "items[1].RunningTotalCr".into(),
                "required field is missing".into()
            )
        );
        let bad_id = BATCHES.replace(r#""JeBatchId":"300101""#, r#""JeBatchId":"30x""#);
        assert_eq!(
            misfit::<Page<BatchItem>>(&bad_id),
            ("items[1].JeBatchId".into(), r#"invalid id "30x""#.into())
        );
        let negative = BATCHES.replace(r#""JeBatchId":300100"#, r#""JeBatchId":-4"#);
        assert_eq!(
            misfit::<Page<BatchItem>>(&negative),
            ("items[0].JeBatchId".into(), "invalid id -4".into())
        );
        let name = BATCHES.replace(r#""BatchName":"BC-us-2-sale""#, r#""BatchName":7"#);
        assert_eq!(
            misfit::<Page<BatchItem>>(&name),
            (
                "items[1].BatchName".into(),
                "invalid type: integer, expected a string".into()
            )
        );
        assert_eq!(
            misfit::<Page<BatchItem>>(r#"{"items":[],"count":0}"#),
            ("hasMore".into(), "required field is missing".into())
        );
        assert_eq!(
            misfit::<Page<BatchItem>>(r#"{"items":{}, "hasMore":false}"#),
            (
                "items".into(),
                "invalid type: map, expected a sequence".into()
            )
        );
        assert_eq!(misfit::<Page<BatchItem>>("<html>504</html>").0, "(answer)");
    }

    #[test]
    fn headers_carry_their_key_in_the_self_link() {
        let body = r#"{"items":[{"JournalName":"Sale 1","JournalDescription":"Order 1","LedgerName":"US Primary",
            "CurrencyCode":"USD","PeriodName":"Mar-26","UserJeCategoryName":"Sales","ExternalReference":"BC:us:1",
            "DefaultEffectiveDate":"2026-03-14","links":[{"rel":"self","href":"https://pod/fscmRestApi/resources/11.13.18.05/journalBatches/300100/child/journalHeaders/00020000000EACED","name":"journalHeaders","kind":"item"}]}],
            "count":1,"hasMore":false}"#;
        let page: Page<HeaderItem> = decode(body.as_bytes()).unwrap();
        assert_eq!(page.items[0].key(), Some("00020000000EACED"));
        assert_eq!(page.items[0].reference, "BC:us:1");
        let no_links = body.replace(r#","links":[{"rel":"self","href":"https://pod/fscmRestApi/resources/11.13.18.05/journalBatches/300100/child/journalHeaders/00020000000EACED","name":"journalHeaders","kind":"item"}]"#, "");
        assert_eq!(
            misfit::<Page<HeaderItem>>(&no_links),
            ("items[0].links".into(), "required field is missing".into())
        );
    }

    #[test]
    fn lines_read_null_amounts_as_zero_and_bad_ones_as_errors() {
        let body = r#"{"items":[
            {"JeLineNumber":1,"AccountCombination":"101-1200-000","EnteredDr":64.8,"EnteredCr":null,"Description":"Receivable"},
            {"JeLineNumber":2,"AccountCombination":"101-4000-200","EnteredDr":null,"EnteredCr":"54.00","Description":null}
        ],"count":2,"hasMore":false}"#;
        let page: Page<LineItem> = decode(body.as_bytes()).unwrap();
        let got: Vec<_> = page
            .items
            .iter()
            .map(|l| (l.number, l.entered_dr, l.entered_cr))
            .collect();
        assert_eq!(got, [(1, dec!(64.8), dec!(0)), (2, dec!(0), dec!(54.00))]);
        let bad = body.replace(r#""EnteredCr":"54.00""#, r#""EnteredCr":"54,00""#);
        assert_eq!(
            misfit::<Page<LineItem>>(&bad),
            (
                "items[1].EnteredCr".into(),
                r#"invalid decimal "54,00""#.into()
            )
        );
        let bad = body.replace(r#""JeLineNumber":2"#, r#""JeLineNumber":2.5"#);
        assert_eq!(
            misfit::<Page<LineItem>>(&bad),
            (
                "items[1].JeLineNumber".into(),
                "invalid type: floating point, expected an id (a JSON integer or a string of digits)".into()
            )
        );
    }

    #[test]
    fn periods_ledgers_jobs_and_imports_are_typed() {
        let periods = r#"{"items":[{"PeriodNameId":"Mar-26","ApplicationId":101,"LedgerId":300000046975971,
            "ClosingStatus":"O","StartDate":"2026-03-01","EndDate":"2026-03-31T00:00:00+00:00"}],"count":1,"hasMore":false}"#;
        let page: Page<PeriodItem> = decode(periods.as_bytes()).unwrap();
        let p = &page.items[0];
        assert_eq!(
            (p.name.as_str(), p.closing_status.as_str()),
            ("Mar-26", "O")
        );
        assert_eq!(p.end, NaiveDate::from_ymd_opt(2026, 3, 31).unwrap());
        assert_eq!(
            misfit::<Page<PeriodItem>>(&periods.replace("2026-03-01", "03/01/2026")),
            (
                "items[0].StartDate".into(),
                r#"invalid date "03/01/2026""#.into()
            )
        );
        assert_eq!(
            misfit::<Page<PeriodItem>>(&periods.replace(r#""ClosingStatus":"O","#, "")),
            (
                "items[0].ClosingStatus".into(),
                "required field is missing".into()
            )
        );

        let ledgers = r#"{"items":[{"LedgerId":300000046975971,"Name":"US Primary","CurrencyCode":"USD"}],"count":1,"hasMore":false}"#;
        let page: Page<LedgerItem> = decode(ledgers.as_bytes()).unwrap();
        assert_eq!(page.items[0].id, 300000046975971);
        assert_eq!(
            misfit::<Page<LedgerItem>>(&ledgers.replace("300000046975971", "null")),
            (
                "items[0].LedgerId".into(),
                "invalid type: null, expected an id (a JSON integer or a string of digits)".into()
            )
        );

        let job: Page<JobStatusItem> = decode(
            br#"{"items":[{"ReqstId":"5001","RequestStatus":"SUCCEEDED"}],"count":1,"hasMore":false}"#,
        )
        .unwrap();
        assert_eq!(job.items[0].status, "SUCCEEDED");
        assert_eq!(
            misfit::<Page<JobStatusItem>>(r#"{"items":[{"RequestStatus":3}],"hasMore":false}"#),
            (
                "items[0].RequestStatus".into(),
                "invalid type: integer, expected a string".into()
            )
        );
        let log: Page<JobDetailsItem> =
            decode(br#"{"items":[{"ReqstId":"5001","FileType":"log"}],"count":1,"hasMore":false}"#)
                .unwrap();
        assert_eq!(log.items[0].content, None);

        for (id, want) in [
            (r#""5001""#, 5001),
            ("5001", 5001),
            (r#""-1""#, -1),
            ("-1", -1),
        ] {
            let a: ImportAnswer = decode(
                format!(r#"{{"OperationName":"importBulkData","ReqstId":{id}}}"#).as_bytes(),
            )
            .unwrap();
            assert_eq!(a.request_id, want, "{id}");
        }
        assert_eq!(
            misfit::<ImportAnswer>(r#"{"OperationName":"importBulkData","ReqstId":"pending"}"#),
            ("ReqstId".into(), r#"invalid id "pending""#.into())
        );
        assert_eq!(
            misfit::<ImportAnswer>(r#"{"OperationName":"importBulkData"}"#),
            ("ReqstId".into(), "required field is missing".into())
        );
    }
}
