//! The sandbox pod on its own, over HTTP: the token endpoint, the framework-version rules of
//! `q`, the period key, server-side page sizes, ADF errors.

use std::time::Duration;

use sandbox::oracle::{LedgerSpec, OraclePod, PodOptions};
use serde_json::Value;

async fn pod() -> OraclePod {
    let pod = OraclePod::start(PodOptions {
        page_cap: 5,
        basic_user: Some(("integration".into(), "pw".into())),
        ..PodOptions::default()
    })
    .await;
    pod.add_ledger(
        LedgerSpec {
            id: 1,
            name: "L1".into(),
            currency: "USD".into(),
            allow_suspense: false,
        },
        2026..=2026,
    );
    pod
}

async fn get(pod: &OraclePod, resource: &str, version: &str, accept: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!(
            "{}/fscmRestApi/resources/11.13.18.05/{resource}",
            pod.url()
        ))
        .basic_auth("integration", Some("pw"))
        .header("REST-Framework-Version", version)
        .header("Accept", accept)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn tokens_need_the_client_and_expire() {
    let pod = OraclePod::start(PodOptions {
        token_lifetime: Duration::from_secs(1),
        ..PodOptions::default()
    })
    .await;
    let http = reqwest::Client::new();
    let ask = |secret: &'static str, body: &'static str| {
        http.post(pod.token_url())
            .basic_auth("pod-client", Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let bad: Value = ask("nope", "grant_type=client_credentials&scope=x")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bad["error"], "invalid_client");
    let r = ask("pod-secret", "grant_type=password&scope=x")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let issued = std::time::Instant::now();
    let ok: Value = ask("pod-secret", "grant_type=client_credentials&scope=x")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["token_type"], "Bearer");
    assert_eq!(ok["expires_in"], 1);
    assert_eq!(
        ok["access_token"].as_str().unwrap().split('.').count(),
        3,
        "JWT-shaped"
    );
    let token = ok["access_token"].as_str().unwrap().to_string();
    let call = || {
        http.get(format!(
            "{}/fscmRestApi/resources/11.13.18.05/ledgersLOV",
            pod.url()
        ))
        .bearer_auth(&token)
        .send()
    };
    assert_eq!(call().await.unwrap().status(), 200);
    // Accepted until its second is up, then refused (polled, not slept for).
    let deadline = issued + Duration::from_secs(10);
    loop {
        match call().await.unwrap().status().as_u16() {
            200 => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the token never expired"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            401 => break,
            other => panic!("status {other}"),
        }
    }
    assert!(
        issued.elapsed() >= Duration::from_millis(1000),
        "refused before its lifetime was over: {:?}",
        issued.elapsed()
    );
}

#[tokio::test]
async fn q_expressions_need_framework_version_2_and_periods_are_keyed_by_period_name_id() {
    let pod = pod().await;
    let r = get(
        &pod,
        "journalBatches?q=BatchName%20LIKE%20%27BC-%25%27",
        "1",
        "application/json, application/vnd.oracle.adf.error+json",
    )
    .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["o:errorDetails"][0]["o:errorCode"], "JBO-25002");
    assert_eq!(
        get(
            &pod,
            "journalBatches?q=BatchName%20LIKE%20%27BC-%25%27",
            "9",
            "application/json"
        )
        .await
        .status(),
        200
    );
    let wrong = get(
        &pod,
        "accountingPeriodStatusLOV?q=LedgerId=1;PeriodName=Mar-26",
        "9",
        "application/json",
    )
    .await;
    assert_eq!(wrong.status(), 400);
    assert!(
        wrong.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "plain text unless ADF errors are asked for"
    );
    assert!(wrong.text().await.unwrap().contains("PeriodNameId"));
    let right: Value = get(&pod, "accountingPeriodStatusLOV?q=LedgerId=1;PeriodNameId=Mar-26;ApplicationId=101&onlyData=true", "9", "application/json").await.json().await.unwrap();
    assert_eq!(right["items"][0]["ClosingStatus"], "O");
    assert_eq!(right["items"][0]["StartDate"], "2026-03-01");
}

#[tokio::test]
async fn the_server_decides_the_page_size() {
    let pod = pod().await;
    let page: Value = get(
        &pod,
        "accountingPeriodStatusLOV?limit=500&onlyData=true",
        "9",
        "application/json",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(page["count"], 5, "capped at 5 whatever limit asked");
    assert_eq!(page["hasMore"], true);
    let last: Value = get(
        &pod,
        "accountingPeriodStatusLOV?limit=500&offset=10&onlyData=true",
        "9",
        "application/json",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (last["count"].as_u64(), last["hasMore"].as_bool()),
        (Some(2), Some(false))
    );
    assert_eq!(
        get(&pod, "ledgersLOV", "9", "application/json")
            .await
            .status(),
        200,
        "Basic auth works too"
    );
}

/// GL_INTERFACE's columns in file order, as the pod reads them.
const COLUMNS: &str = include_str!("../../../specs/oracle/gl_interface_columns.txt");

/// One `GlInterface.csv` row: these columns set, the others empty; written by the `csv` crate,
/// its line end included.
fn row(fields: &[(&str, &str)]) -> String {
    let values = COLUMNS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|column| {
            fields
                .iter()
                .find(|(c, _)| *c == column)
                .map_or("", |(_, v)| *v)
        });
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(values).unwrap();
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

/// A balanced two-line journal of 10.00 in ledger `ledger`, group `group`; `change` edits the
/// fields of both rows.
fn journal(ledger: &str, group: &str, change: impl Fn(&mut Fields)) -> String {
    [("ENTERED_DR", "10.00"), ("ENTERED_CR", "10.00")]
        .iter()
        .map(|(side, amount)| {
            let mut fields: Fields = vec![
                ("STATUS", "NEW".into()),
                ("LEDGER_ID", ledger.into()),
                ("ACCOUNTING_DATE", "2026/03/10".into()),
                ("USER_JE_SOURCE_NAME", "BigCommerce".into()),
                ("USER_JE_CATEGORY_NAME", "Sales".into()),
                ("CURRENCY_CODE", "USD".into()),
                ("DATE_CREATED", "2026/03/10".into()),
                ("ACTUAL_FLAG", "A".into()),
                ("SEGMENT1", "101".into()),
                ("SEGMENT2", "4000".into()),
                (side, amount.to_string()),
                ("REFERENCE1", "BC-us-1-sale".into()),
                ("REFERENCE4", "BC us order 1 sale".into()),
                ("REFERENCE6", "BC-us-1".into()),
                ("REFERENCE10", "a line".into()),
                ("GROUP_ID", group.into()),
            ];
            change(&mut fields);
            let borrowed: Vec<(&str, &str)> =
                fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            row(&borrowed)
        })
        .collect()
}

/// The fields of a row being built.
type Fields = Vec<(&'static str, String)>;

/// A case of the import rules: what it is, how it changes the file, the error expected.
type Case = (&'static str, Box<dyn Fn(&mut Fields)>, Option<&'static str>);

/// Sets (or adds) a field of a row being built.
fn set(fields: &mut Fields, column: &'static str, value: &str) {
    fields.retain(|(c, _)| *c != column);
    fields.push((column, value.to_string()));
}

/// A pod with two ledgers (L1 in USD, L2 in EUR), the source and the Sales category.
async fn two_ledger_pod() -> OraclePod {
    let pod = pod().await;
    pod.add_ledger(
        LedgerSpec {
            id: 2,
            name: "L2".into(),
            currency: "EUR".into(),
            allow_suspense: false,
        },
        2026..=2026,
    );
    pod.add_source("BigCommerce");
    pod.add_category("Sales");
    pod.add_rate("USD", "EUR", "Corporate");
    pod
}

/// `importBulkData` of this file for ledger `ledger`, group `group`; the request id.
async fn import(pod: &OraclePod, csv: &str, ledger: &str, group: &str) -> u64 {
    use base64::Engine;
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("GlInterface.csv", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(csv.as_bytes()).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let body = serde_json::json!({
        "OperationName": "importBulkData",
        "DocumentContent": base64::engine::general_purpose::STANDARD.encode(bytes),
        "ContentType": "zip",
        "FileName": format!("GlInterface_{group}.zip"),
        "DocumentAccount": "fin$/generalLedger$/import$",
        "JobName": PodOptions::default().job_name,
        "ParameterList": format!("#NULL,BigCommerce,{ledger},{group},N,N,N"),
    });
    let answer: Value = reqwest::Client::new()
        .post(format!(
            "{}/fscmRestApi/resources/11.13.18.05/erpintegrations",
            pod.url()
        ))
        .basic_auth("integration", Some("pw"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["ReqstId"].as_str().unwrap().parse().unwrap()
}

/// Waits until the job's status is one of `statuses` (within five seconds); returns it.
async fn job_reaches(pod: &OraclePod, request_id: u64, statuses: &[&str]) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let status = pod.job_status(request_id).expect("a job");
        if statuses.contains(&status.as_str()) {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {request_id} is still {status}, not one of {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The job's log, unzipped.
async fn job_log(pod: &OraclePod, request_id: u64) -> String {
    use base64::Engine;
    use std::io::Read;
    let page: Value = get(
        pod,
        &format!(
            "erpintegrations?finder=ESSJobExecutionDetailsRF;requestId={request_id},fileType=log"
        ),
        "9",
        "application/json",
    )
    .await
    .json()
    .await
    .unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(page["items"][0]["DocumentContent"].as_str().unwrap())
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut text = String::new();
    archive
        .by_index(0)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[tokio::test]
async fn journal_headers_name_their_own_ledger_and_filter_by_it() {
    let pod = two_ledger_pod().await;
    // The same batch name in both ledgers: two batches, told apart by their journals' ledger.
    let us = import(&pod, &journal("1", "11", |_| {}), "1", "11").await;
    let eu = import(
        &pod,
        &journal("2", "12", |f| {
            set(f, "CURRENCY_CODE", "EUR");
        }),
        "2",
        "12",
    )
    .await;
    job_reaches(&pod, us, &["SUCCEEDED"]).await;
    job_reaches(&pod, eu, &["SUCCEEDED"]).await;
    let views = pod.batches();
    assert_eq!(
        views.iter().map(|b| b.ledger_id).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let batches: Value = get(
        &pod,
        "journalBatches?q=BatchName%20LIKE%20%27BC-us-1-sale%25%27&onlyData=true",
        "9",
        "application/json",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(batches["count"], 2);
    for (item, (ledger, currency)) in batches["items"]
        .as_array()
        .unwrap()
        .iter()
        .zip([("L1", "USD"), ("L2", "EUR")])
    {
        let id = item["JeBatchId"].as_u64().unwrap();
        let headers: Value = get(
            &pod,
            &format!("journalBatches/{id}/child/journalHeaders"),
            "9",
            "application/json",
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(headers["items"][0]["LedgerName"], ledger);
        assert_eq!(headers["items"][0]["LedgerCurrencyCode"], currency);
        for (asked, expected) in [(ledger, 1), ("L3", 0)] {
            let filtered: Value = get(
                &pod,
                &format!("journalBatches/{id}/child/journalHeaders?q=LedgerName%3D%27{asked}%27"),
                "9",
                "application/json",
            )
            .await
            .json()
            .await
            .unwrap();
            assert_eq!(filtered["count"], expected, "{asked} in {ledger}'s batch");
        }
    }
    // journalBatches has no ledger attribute in Fusion: asking by one is an error, not a
    // filter that quietly matches everything.
    let r = get(
        &pod,
        "journalBatches?q=LedgerName%3D%27L1%27",
        "9",
        "application/json, application/vnd.oracle.adf.error+json",
    )
    .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn journal_import_refuses_unknown_categories_and_values_wider_than_their_column() {
    let pod = two_ledger_pod().await;
    let cases: Vec<Case> = vec![
        (
            "unknown category",
            Box::new(|f| set(f, "USER_JE_CATEGORY_NAME", "Sundries")),
            Some(
                "EJ01 batch BC-us-1-sale, journal BC us order 1 sale, file line 1: journal category \"Sundries\" does not exist",
            ),
        ),
        (
            "batch name of 101",
            Box::new(|f| set(f, "REFERENCE1", &"B".repeat(101))),
            Some(
                "ORA-12899: value too large for column \"FUSION\".\"GL_INTERFACE\".\"REFERENCE1\" (actual: 101, maximum: 100)",
            ),
        ),
        (
            "journal name of 101",
            Box::new(|f| set(f, "REFERENCE4", &"J".repeat(101))),
            Some("\"REFERENCE4\" (actual: 101, maximum: 100)"),
        ),
        (
            "reference of 101",
            Box::new(|f| set(f, "REFERENCE6", &"R".repeat(101))),
            Some("\"REFERENCE6\" (actual: 101, maximum: 100)"),
        ),
        (
            "reverse flag of 101",
            Box::new(|f| set(f, "REFERENCE7", &"N".repeat(101))),
            Some("\"REFERENCE7\" (actual: 101, maximum: 100)"),
        ),
        (
            "line description of 241",
            Box::new(|f| set(f, "REFERENCE10", &"é".repeat(241))),
            Some("\"REFERENCE10\" (actual: 241, maximum: 240)"),
        ),
        (
            "category of 26",
            Box::new(|f| set(f, "USER_JE_CATEGORY_NAME", &"C".repeat(26))),
            Some("\"USER_JE_CATEGORY_NAME\" (actual: 26, maximum: 25)"),
        ),
        (
            "every value at its width",
            Box::new(|f| {
                set(f, "REFERENCE1", &"B".repeat(100));
                set(f, "REFERENCE2", &"D".repeat(240));
                set(f, "REFERENCE4", &"J".repeat(100));
                set(f, "REFERENCE5", &"D".repeat(240));
                set(f, "REFERENCE6", &"R".repeat(100));
                set(f, "REFERENCE10", &"é".repeat(240));
                set(f, "REFERENCE21", &"L".repeat(240));
            }),
            None,
        ),
    ];
    for (n, (what, change, error)) in cases.into_iter().enumerate() {
        let group = format!("{}", 20 + n);
        let id = import(&pod, &journal("1", &group, change), "1", &group).await;
        let status = job_reaches(&pod, id, &["SUCCEEDED", "ERROR"]).await;
        let log = job_log(&pod, id).await;
        match error {
            Some(expected) => {
                assert_eq!(status, "ERROR", "{what}: {log}");
                assert!(log.contains(expected), "{what}: {log}");
            }
            None => assert_eq!(status, "SUCCEEDED", "{what}: {log}"),
        }
    }
    assert_eq!(pod.batches().len(), 1, "only the file within the widths");
}

#[tokio::test]
async fn jobs_can_end_in_warning_or_cancelled_or_wait_blocked() {
    use sandbox::oracle::{JobEnd, PodFault};
    let pod = two_ledger_pod().await;

    pod.inject(PodFault::EndJob {
        status: JobEnd::Warning,
        times: 1,
    });
    let warned = import(&pod, &journal("1", "31", |_| {}), "1", "31").await;
    assert_eq!(
        job_reaches(&pod, warned, &["WARNING", "SUCCEEDED", "ERROR"]).await,
        "WARNING"
    );
    assert!(
        job_log(&pod, warned)
            .await
            .contains("Status: WARNING\n1 batches created")
    );
    assert_eq!(
        pod.batches().len(),
        1,
        "a WARNING import keeps what it imported"
    );

    pod.inject(PodFault::EndJob {
        status: JobEnd::Warning,
        times: 1,
    });
    let refused = import(
        &pod,
        &journal("1", "32", |f| set(f, "USER_JE_CATEGORY_NAME", "Sundries")),
        "1",
        "32",
    )
    .await;
    assert_eq!(
        job_reaches(&pod, refused, &["WARNING", "ERROR"]).await,
        "WARNING"
    );
    assert!(
        job_log(&pod, refused)
            .await
            .contains("EJ01 batch BC-us-1-sale")
    );

    pod.inject(PodFault::EndJob {
        status: JobEnd::Cancelled,
        times: 1,
    });
    let cancelled = import(&pod, &journal("1", "33", |_| {}), "1", "33").await;
    assert_eq!(
        job_reaches(&pod, cancelled, &["CANCELLED", "SUCCEEDED"]).await,
        "CANCELLED"
    );
    assert!(job_log(&pod, cancelled).await.contains("Status: CANCELLED"));

    pod.inject(PodFault::EndJob {
        status: JobEnd::Blocked,
        times: 1,
    });
    let blocked = import(&pod, &journal("1", "34", |_| {}), "1", "34").await;
    assert_eq!(
        job_reaches(&pod, blocked, &["BLOCKED", "SUCCEEDED"]).await,
        "BLOCKED"
    );
    // Blocked is waiting, not an ending: many phases later it still is.
    tokio::time::sleep(PodOptions::default().job_phase * 5).await;
    assert_eq!(pod.job_status(blocked).as_deref(), Some("BLOCKED"));
    assert_eq!(pod.batches().len(), 1, "nothing more until the block lifts");
    assert_eq!(pod.release_blocked_jobs(), 1);
    assert_eq!(
        job_reaches(&pod, blocked, &["SUCCEEDED", "ERROR"]).await,
        "SUCCEEDED"
    );
    assert_eq!(pod.batches().len(), 2);
    // Each fault was used once: the next import ends by its verdict.
    let plain = import(&pod, &journal("1", "35", |_| {}), "1", "35").await;
    assert_eq!(
        job_reaches(&pod, plain, &["SUCCEEDED", "ERROR", "WARNING", "CANCELLED"]).await,
        "SUCCEEDED"
    );
}

#[tokio::test]
async fn period_status_is_one_per_application() {
    let pod = pod().await;
    // Payables closed March; General Ledger keeps it open.
    pod.set_application_period_status(1, "Mar-26", 200, 'C');
    let ask = |q: &'static str| {
        let pod = &pod;
        async move {
            let page: Value = get(
                pod,
                &format!("accountingPeriodStatusLOV?q={q}&onlyData=true"),
                "9",
                "application/json",
            )
            .await
            .json()
            .await
            .unwrap();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    (
                        i["ApplicationId"].as_u64().unwrap(),
                        i["ClosingStatus"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ask("LedgerId=1;PeriodNameId=Mar-26;ApplicationId=101").await,
        vec![(101, "O".to_string())]
    );
    assert_eq!(
        ask("LedgerId=1;PeriodNameId=Mar-26;ApplicationId=200").await,
        vec![(200, "C".to_string())]
    );
    assert_eq!(
        ask("LedgerId=1;PeriodNameId=Mar-26").await,
        vec![(200, "C".to_string()), (101, "O".to_string())],
        "without the application, another module's status comes first"
    );
    // General Ledger's status is the ledger's own: Journal Import follows it.
    pod.set_application_period_status(1, "Mar-26", 101, 'C');
    assert_eq!(
        ask("LedgerId=1;PeriodNameId=Mar-26;ApplicationId=101").await,
        vec![(101, "C".to_string())]
    );
}
