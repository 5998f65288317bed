//! The Fusion client and the production submission path against the sandbox pod over real
//! HTTP: tokens, imports, job tracking, read-back, rejections with Journal Import's codes,
//! splitting a refused import, lost answers, imports past their timeout, closed periods,
//! retries. Postings are recorded in a state store and go through `dispatch::submit_postings`
//! and `tracker::track` rounds, as the poster and the poller run them.

use std::sync::Arc;
use std::time::Duration;

use crate::support::submit_rounds::{Desk, Settled};
use crate::support::*;
use common::config::ConnectorConfig;
use common::journal::{Journal, JournalContext, JournalFlag, build_sale};
use common::metrics;
use common::oracle::{FusionClient, FusionSettings, JobStatus, OracleError};
use common::ports::OracleApi;
use common::posting::dispatch::SubmitSettings;
use common::posting::message::OrderMessage;
use common::state::{AuditKind, ImportState, PostingRecord, PostingState, StateName};
use rust_decimal::Decimal;
use sandbox::demo::{US_LEDGER, seeded_pod};
use sandbox::oracle::{OraclePod, PodFault, PodOptions};
use serde_json::json;

/// The example document pointed at the pod.
fn config_for(pod: &OraclePod, change: impl FnOnce(&mut serde_json::Value)) -> ConnectorConfig {
    let mut doc = example_document();
    doc["oracle"]["base_url"] = json!(pod.url());
    doc["oracle"]["auth"]["token_url"] = json!(pod.token_url());
    doc["oracle"]["auth"]["client_id"] = json!("pod-client");
    doc["oracle"]["auth"]["client_secret"] = json!("pod-secret");
    change(&mut doc);
    config_from(&doc)
}

fn fast() -> FusionSettings {
    FusionSettings {
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
        ..FusionSettings::default()
    }
}

fn client(config: &ConnectorConfig) -> FusionClient {
    FusionClient::from_config(&config.oracle, fast()).unwrap()
}

/// A desk on the production path for `config`, whose imports may run `timeout` before they
/// count as stuck.
fn desk_timing_out(config: &ConnectorConfig, timeout: Duration) -> Desk {
    let submit = SubmitSettings {
        import_timeout: timeout,
    };
    Desk::new(config.clone(), fast(), submit)
}

/// A desk on the production path for `config`, with a 10 s import timeout.
fn desk_for(config: &ConnectorConfig) -> Desk {
    desk_timing_out(config, Duration::from_secs(10))
}

/// How long a test waits for its postings to settle.
const SETTLE: Duration = Duration::from_secs(20);

/// The desk's imports in `state`.
async fn imports_in(desk: &Desk, state: ImportState) -> Vec<common::state::ImportRecord> {
    desk.svc.store.imports_in_state(state, 100).await.unwrap()
}

/// Whether every posting is Posted.
fn all_posted(postings: &[PostingRecord]) -> bool {
    postings.iter().all(|p| p.state.name() == StateName::Posted)
}

/// The reason a Held or Rejected posting carries.
fn reason_of(state: &PostingState) -> &str {
    match state {
        PostingState::Held { reason } | PostingState::Rejected { reason } => reason,
        other => panic!("not held or rejected: {other:?}"),
    }
}

/// Sale journals of `n` one-line orders (ids from `first`), dated 10 March 2026.
fn journals(config: &ConnectorConfig, first: u64, n: u64) -> Vec<Journal> {
    let ctx = JournalContext::new(config, "us").unwrap();
    (first..first + n)
        .map(|id| {
            let mut o = order(id);
            o["total_tax"] = json!("1.6000");
            o["total_inc_tax"] = json!("21.6000");
            let b = bundle_with(
                json!({"order": o, "products": [line(1, 77, 1, "20.00", "1.60")],
                "categories": {"77": [21]}, "category_tree": example_tree()}),
            );
            build_sale(&ctx, &b).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn tokens_are_cached_refreshed_on_expiry_and_on_401_and_shared() {
    let pod = seeded_pod(PodOptions {
        token_lifetime: Duration::from_secs(2),
        ..PodOptions::default()
    })
    .await;
    let config = config_for(&pod, |_| {});
    let c = Arc::new(client(&config));
    let first_fetched = std::time::Instant::now();
    for _ in 0..3 {
        c.ledgers().await.unwrap();
    }
    assert_eq!(c.tokens_fetched(), 1, "cached across calls");
    // 2 s tokens are refreshed a fifth of their life early: calls keep the old one until
    // then, and get a new one before it expires.
    crate::support::eventually("a refreshed token", Duration::from_secs(5), async || {
        c.ledgers().await.unwrap();
        c.tokens_fetched() == 2
    })
    .await;
    let refreshed_after = first_fetched.elapsed();
    assert!(
        refreshed_after >= Duration::from_millis(1500) && refreshed_after < Duration::from_secs(2),
        "refreshed before expiry, not long before: {refreshed_after:?}"
    );
    // Fusion says 401 (the token was revoked): one refresh, and the call succeeds.
    pod.expire_tokens();
    c.ledgers().await.unwrap();
    assert_eq!(c.tokens_fetched(), 3);
    // Many callers meeting the same 401 share one refresh.
    pod.expire_tokens();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let c = c.clone();
        tasks.spawn(async move { c.job_status(1).await.unwrap() });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert_eq!(c.tokens_fetched(), 4, "one refresh for sixteen callers");
    assert_eq!(pod.tokens_issued(), 4);
    // A cold client with concurrent first calls fetches one token.
    let cold = Arc::new(client(&config));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let c = cold.clone();
        tasks.spawn(async move { c.ledgers().await.unwrap().len() });
    }
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.unwrap(), 2);
    }
    assert_eq!(cold.tokens_fetched(), 1);
}

#[tokio::test]
async fn a_token_endpoint_failure_is_a_clear_error_without_the_secret() {
    let pod = seeded_pod(PodOptions::default()).await;
    let config = config_for(&pod, |d| {
        d["oracle"]["auth"]["client_secret"] = json!("wrong-secret-3f9a")
    });
    let err = client(&config).ledgers().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "OAuth token from {}: HTTP 401 invalid_client: Client authentication failed.",
            pod.token_url()
        )
    );
    assert!(!err.is_transient(), "a wrong secret does not fix itself");
    assert!(!format!("{err:?}").contains("wrong-secret-3f9a"));
}

#[tokio::test]
async fn journals_round_trip_through_import_tracking_and_read_back() {
    let pod = seeded_pod(PodOptions::default()).await;
    let config = config_for(&pod, |_| {});
    let mut desk = desk_for(&config);
    let sent = journals(&config, 1000, 3);
    let settled = desk.post(sent.clone(), SETTLE).await;
    assert_eq!(desk.imports(), 1, "three journals, one import");
    assert_eq!(pod.imports(), 1);
    for (p, j) in settled.postings.iter().zip(&sent) {
        let PostingState::Posted {
            batch_id,
            group_id,
            request_id,
        } = p.state
        else {
            panic!("{:?}", p.state)
        };
        assert!(request_id.is_some(), "the import's answer was recorded");
        assert_eq!(p.journal.period_name.as_deref(), Some("Mar-26"));
        // The audit trail names the batch as Fusion stores it: ours, then its suffixes.
        let audit = desk
            .svc
            .store
            .audit_of_order(&p.key.store, p.key.order_id)
            .await
            .unwrap();
        let posted = audit
            .iter()
            .find(|e| e.kind == AuditKind::Posted)
            .expect("a Posted event");
        assert_eq!(posted.detail["batch_id"], json!(batch_id));
        let fusion_name = posted.detail["fusion_batch_name"].as_str().unwrap();
        assert!(
            fusion_name.starts_with(&format!("{} BigCommerce A {group_id} ", j.batch_name)),
            "{fusion_name}"
        );
    }
    let import = imports_in(&desk, ImportState::Submitted).await;
    assert!(import.is_empty(), "the import is closed: {import:?}");
    for j in &sent {
        let batches = desk.oracle.find_batches(&j.batch_name, true).await.unwrap();
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        assert_eq!((b.total_dr, b.total_cr), (j.total_dr(), j.total_cr()));
        assert_eq!(b.period, "Mar-26");
        let lines: Vec<(String, Decimal, Decimal)> = b.journals[0]
            .lines
            .iter()
            .map(|l| (l.account.clone(), l.entered_dr, l.entered_cr))
            .collect();
        let expected: Vec<(String, Decimal, Decimal)> = j
            .lines
            .iter()
            .map(|l| (l.segments.join("-"), l.dr, l.cr))
            .collect();
        assert_eq!(lines, expected);
        assert_eq!(b.journals[0].reference, j.reference);
    }
}

#[tokio::test]
async fn a_refused_submission_is_recognised_and_held() {
    let pod = seeded_pod(PodOptions::default()).await;
    let config = config_for(&pod, |_| {});
    let mut desk = desk_for(&config);
    pod.set_import_privilege(false);
    let sent = journals(&config, 2000, 2);
    assert_eq!(
        desk.oracle.submit_import(&sent, 42).await.unwrap_err(),
        OracleError::ImportRefused
    );
    let settled = desk.post(sent, SETTLE).await;
    assert!(
        settled.first_round.passing.is_empty(),
        "not a passing failure"
    );
    for p in &settled.postings {
        assert_eq!(p.state.name(), StateName::Held, "{:?}", p.state);
        assert!(reason_of(&p.state).contains("ReqstId -1"), "{:?}", p.state);
    }
    assert_eq!(desk.metrics.count(metrics::POSTINGS_HELD), 2.0);
    let failed = imports_in(&desk, ImportState::Failed).await;
    assert_eq!(failed.len(), 1, "the refused import is closed as failed");
    assert!(pod.batches().is_empty());
}

#[tokio::test]
async fn journal_import_rejects_with_its_codes() {
    let pod = seeded_pod(PodOptions::default()).await;
    let config = config_for(&pod, |_| {});
    let c = client(&config);
    // Our writer refuses an unbalanced journal, so a hand-edited file goes straight to the pod:
    // Journal Import fails the whole group with EU02.
    let good = journals(&config, 3000, 2);
    let mut unbalanced = good.clone();
    unbalanced[1].lines[1].cr += Decimal::new(1, 2);
    assert!(matches!(
        c.submit_import(&unbalanced, 77).await,
        Err(OracleError::Invalid(_))
    ));
    let csv = common::oracle::fbdi::gl_interface_csv(
        &good,
        77,
        chrono::NaiveDate::from_ymd_opt(2026, 3, 11).unwrap(),
    )
    .unwrap();
    let edited = csv.replacen(",20.00,,", ",20.01,,", 1);
    assert_ne!(csv, edited);
    let request_id = raw_import(&pod, &edited, 77).await;
    let status = loop {
        let s = c.job_status(request_id).await.unwrap();
        if s.is_terminal() {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(status, JobStatus::Error);
    let log = c.job_log(request_id).await.unwrap();
    assert!(log.contains("EU02 batch BC-us-3000-sale"), "{log}");
    assert!(
        pod.batches().is_empty(),
        "nothing of the group was imported, not even the good journal"
    );
    // On the production path, the unbalanced journal never leaves: rejected before any import.
    let mut desk = desk_for(&config);
    let settled = desk.post(vec![unbalanced[1].clone()], SETTLE).await;
    assert_eq!(desk.imports(), 0);
    assert_eq!(
        settled.postings[0].state,
        PostingState::Rejected {
            reason: "does not balance: debits USD 21.60, credits USD 21.61".into()
        }
    );
    // A segment value the pod's chart does not have: EF04, with the reason from the job log.
    let mut bad = journals(&config, 3100, 1);
    bad[0].lines[1].segments[2] = "9999".into();
    let settled = desk.post(bad, SETTLE).await;
    assert_eq!(desk.imports(), 1);
    let reason = reason_of(&settled.postings[0].state);
    assert_eq!(settled.postings[0].state.name(), StateName::Rejected);
    assert!(
        reason.starts_with("Journal Import rejected it: EF04 batch BC-us-3100-sale"),
        "{reason}"
    );
    assert!(reason.contains("segment 3 value \"9999\""), "{reason}");
    assert_eq!(
        settled.splits, 0,
        "a refused import of one journal is not split"
    );
}

/// Sends a hand-made GlInterface.csv to the pod the way `importBulkData` does.
async fn raw_import(pod: &OraclePod, csv: &str, group_id: u64) -> u64 {
    use base64::Engine;
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(pod.token_url())
        .basic_auth("pod-client", Some("pod-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=urn%3Aopc%3Aresource%3Aconsumer%3A%3Aall")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let zip = common::oracle::fbdi::zip_csv(csv).unwrap();
    let answer: serde_json::Value = http
        .post(format!("{}/fscmRestApi/resources/11.13.18.05/erpintegrations", pod.url()))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&json!({"OperationName": "importBulkData", "DocumentContent": base64::engine::general_purpose::STANDARD.encode(zip),
            "ContentType": "zip", "FileName": "GlInterface.zip", "DocumentAccount": "fin$/generalLedger$/import$",
            "JobName": "/oracle/apps/ess/financials/generalLedger/programs/common,JournalImportLauncher",
            "ParameterList": format!("#NULL,BigCommerce,{US_LEDGER},{group_id},N,N,N"), "JobOptions": "ExtractFileType=ALL"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["ReqstId"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn one_bad_journal_among_64_is_isolated_in_at_most_13_imports() {
    let pod = seeded_pod(PodOptions {
        job_phase: Duration::from_millis(5),
        ..PodOptions::default()
    })
    .await;
    let config = config_for(&pod, |_| {});
    let mut desk = desk_for(&config);
    let mut sent = journals(&config, 5000, 64);
    sent[37].lines[0].segments[2] = "8888".into();
    let settled = desk.post(sent, SETTLE).await;
    // The 64 fail; the tracker sends each half again; the bad half splits again, six times
    // down to one.
    assert_eq!(desk.imports(), 2 * 6 + 1, "2·log2(64)+1 imports");
    assert_eq!(pod.imports(), 13, "the pod saw as many");
    assert_eq!(settled.splits, 6);
    assert_eq!(settled.named(StateName::Rejected), vec!["BC-us-5037-sale"]);
    assert!(
        reason_of(&settled.postings[37].state).starts_with("Journal Import rejected it: EF04"),
        "{:?}",
        settled.postings[37].state
    );
    assert_eq!(settled.named(StateName::Posted).len(), 63);
    assert_eq!(desk.metrics.count(metrics::POSTINGS_POSTED), 63.0);
    assert_eq!(desk.metrics.count(metrics::POSTINGS_REJECTED), 1.0);
    let batches = pod.batches();
    assert_eq!(batches.len(), 63, "the 63 good journals, each once");
    let mut names: Vec<String> = batches
        .iter()
        .map(|b| b.name.split(' ').next().unwrap().to_string())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 63);
    // Every import is closed, and every batch is read back, page after page, whatever the
    // page size.
    for state in [ImportState::Submitted, ImportState::Unknown] {
        let open = imports_in(&desk, state).await;
        assert!(open.is_empty(), "{open:?}");
    }
    assert_eq!(
        desk.oracle
            .find_batches("BC-us-50", false)
            .await
            .unwrap()
            .len(),
        63
    );
}

#[tokio::test]
async fn a_lost_answer_after_an_accepted_import_does_not_create_a_second_batch() {
    let pod = seeded_pod(PodOptions::default()).await;
    let config = config_for(&pod, |_| {});
    let mut desk = desk_for(&config);
    pod.inject(PodFault::LoseImportResponse { times: 1 });
    let settled = desk.post(journals(&config, 6000, 3), SETTLE).await;
    for p in &settled.postings {
        assert!(
            matches!(
                p.state,
                PostingState::Posted {
                    request_id: None,
                    ..
                }
            ),
            "found by name, without a request id: {:?}",
            p.state
        );
    }
    assert_eq!(
        pod.faults_served().get("lose_import_response"),
        Some(&1),
        "the answer was lost"
    );
    assert_eq!(pod.imports(), 1, "never resent");
    assert_eq!(desk.imports(), 1);
    assert_eq!(pod.batches().len(), 3);
    let open = imports_in(&desk, ImportState::Unknown).await;
    assert!(open.is_empty(), "the unknown import is closed: {open:?}");
}

#[tokio::test]
async fn a_lost_answer_whose_batches_do_not_appear_yet_is_waited_for_never_resent() {
    // Each of the job's phases takes 400 ms: its batches appear well after the first rounds.
    let pod = seeded_pod(PodOptions {
        job_phase: Duration::from_millis(400),
        ..PodOptions::default()
    })
    .await;
    let config = config_for(&pod, |_| {});
    let mut desk = desk_for(&config);
    pod.inject(PodFault::LoseImportResponse { times: 1 });
    let recorded = desk.record(journals(&config, 6100, 1)).await;
    let round = desk.send(recorded.clone()).await;
    assert!(round.passing.is_empty(), "a lost answer is not retried");
    assert_eq!(pod.faults_served().get("lose_import_response"), Some(&1));
    let unknown = imports_in(&desk, ImportState::Unknown).await;
    assert_eq!(unknown.len(), 1, "the import is recorded as unknown");
    assert_eq!(unknown[0].request_id, None);
    // Rounds while the job runs: the batch is looked for by name, not found, and nothing is sent.
    for _ in 0..3 {
        desk.track_round().await;
        let now = desk.reread(&recorded).await;
        assert!(
            matches!(
                now[0].state,
                PostingState::Submitted {
                    request_id: None,
                    ..
                }
            ),
            "{:?}",
            now[0].state
        );
    }
    assert_eq!(
        pod.imports(),
        1,
        "never resent while its batches may appear"
    );
    // Once the job has run, a round finds the batch and the posting is Posted.
    let after = desk.track_until(&recorded, SETTLE, all_posted).await;
    assert!(
        matches!(
            after.postings[0].state,
            PostingState::Posted {
                request_id: None,
                ..
            }
        ),
        "found by name, without a request id: {:?}",
        after.postings[0].state
    );
    assert_eq!(pod.imports(), 1);
    assert_eq!(pod.batches().len(), 1);
}

#[tokio::test]
async fn a_lost_answer_whose_batches_never_appear_is_queued_again_after_the_timeout() {
    let pod = seeded_pod(PodOptions::default()).await;
    let config = config_for(&pod, |_| {});
    let mut desk = desk_timing_out(&config, Duration::from_millis(600));
    // A 503 from the gateway in front of the import: it may have been processed, so its
    // outcome is unknown; here it was not, and without a request id the connector cannot see
    // a job: only the batch names can tell.
    pod.inject(PodFault::Status {
        status: 503,
        times: 1,
        path: Some("erpintegrations".into()),
    });
    let settled: Settled = desk.post(journals(&config, 6200, 2), SETTLE).await;
    for p in &settled.postings {
        assert_eq!(p.state.name(), StateName::Queued, "{:?}", p.state);
    }
    assert!(
        settled.track_rounds > 1,
        "looked for by name until the timeout"
    );
    assert_eq!(settled.requeued, 2, "each order queued again, once");
    let queued = desk
        .svc
        .queue
        .receive(10, Duration::from_secs(30))
        .await
        .unwrap();
    let mut orders: Vec<u64> = queued
        .iter()
        .map(|m| OrderMessage::parse(&m.body).unwrap().order_id)
        .collect();
    orders.sort();
    assert_eq!(orders, vec![6200, 6201], "{queued:?}");
    let failed = imports_in(&desk, ImportState::Failed).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(pod.faults_served().get("status"), Some(&1));
    assert_eq!(desk.imports(), 1, "not resent by the tracker itself");
    assert!(pod.batches().is_empty());
}

#[tokio::test]
async fn an_import_past_its_timeout_is_counted_stuck_and_never_resent() {
    use sandbox::oracle::JobEnd;
    let pod = seeded_pod(PodOptions {
        job_phase: Duration::from_millis(5),
        ..PodOptions::default()
    })
    .await;
    let config = config_for(&pod, |_| {});
    let mut desk = desk_timing_out(&config, Duration::from_millis(300));
    // BLOCKED: an incompatible job runs first; the import waits until it is released.
    pod.inject(PodFault::EndJob {
        status: JobEnd::Blocked,
        times: 1,
    });
    let sent = journals(&config, 6300, 2);
    let settled = desk.post(sent, Duration::from_millis(800)).await;
    assert!(settled.stuck >= 1, "past the timeout: stuck");
    assert!(desk.metrics.count(metrics::IMPORTS_STUCK) >= 1.0);
    for p in &settled.postings {
        assert!(
            matches!(
                p.state,
                PostingState::Submitted {
                    request_id: Some(_),
                    ..
                }
            ),
            "{:?}",
            p.state
        );
    }
    assert_eq!(pod.imports(), 1, "a running import is never resent");
    // Released, the job goes on to its verdict; the next rounds post both.
    assert_eq!(pod.release_blocked_jobs(), 1);
    let after = desk
        .track_until(&settled.postings, SETTLE, all_posted)
        .await;
    assert!(all_posted(&after.postings), "{:?}", after.postings);
    assert_eq!(pod.imports(), 1);
    assert_eq!(pod.batches().len(), 2);
}

#[tokio::test]
async fn throttling_past_the_clients_tries_leaves_the_postings_queued_for_a_retry() {
    let pod = seeded_pod(PodOptions::default()).await;
    let config = config_for(&pod, |_| {});
    let mut desk = desk_for(&config);
    pod.inject(PodFault::Throttle {
        retry_after: 0,
        times: 1000,
    });
    let settled = desk.post(journals(&config, 6400, 2), SETTLE).await;
    assert_eq!(
        settled.first_round.passing.len(),
        2,
        "both left for the queue's redelivery: {:?}",
        settled.first_round.passing
    );
    for (key, why) in &settled.first_round.passing {
        assert!(why.contains("429"), "{key}: {why}");
    }
    for p in &settled.postings {
        assert_eq!(p.state.name(), StateName::Queued, "{:?}", p.state);
    }
    assert_eq!(pod.imports(), 0);
    // The outage over, the redelivered message sends them: posted, once.
    pod.clear_faults();
    let round = desk.send(settled.postings.clone()).await;
    assert!(round.passing.is_empty(), "{:?}", round.passing);
    let after = desk
        .track_until(&settled.postings, SETTLE, all_posted)
        .await;
    assert!(all_posted(&after.postings), "{:?}", after.postings);
    assert_eq!(pod.imports(), 1);
    assert_eq!(pod.batches().len(), 2);
}

#[tokio::test]
async fn closed_periods_follow_the_configured_policy() {
    let pod = seeded_pod(PodOptions::default()).await;
    pod.set_period_status(US_LEDGER, "Mar-26", 'C');
    pod.set_period_status(US_LEDGER, "Apr-26", 'C');
    let held = config_for(&pod, |_| {});
    let mut desk = desk_for(&held);
    let settled = desk.post(journals(&held, 7000, 1), SETTLE).await;
    assert_eq!(desk.imports(), 0);
    assert_eq!(
        settled.postings[0].state,
        PostingState::Held { reason: "2026-03-10 is in period Mar-26 of ledger NW US Primary, which is not open (status C); posting.closed_period = hold".into() }
    );
    let moving = config_for(&pod, |d| d["posting"]["closed_period"] = json!("next_open"));
    let mut desk = desk_for(&moving);
    let settled = desk.post(journals(&moving, 7100, 1), SETTLE).await;
    let p = &settled.postings[0];
    assert_eq!(p.state.name(), StateName::Posted, "{:?}", p.state);
    // The posting records the journal as sent: re-dated into the next open period.
    assert_eq!(
        p.journal.accounting_date,
        chrono::NaiveDate::from_ymd_opt(2026, 5, 1).unwrap()
    );
    assert_eq!(p.journal.period_name.as_deref(), Some("May-26"));
    assert!(p.journal.flags.contains(&JournalFlag::MovedToOpenPeriod {
        from: chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap(),
        period: "May-26".into()
    }));
    let batches = pod.batches();
    assert_eq!(batches[0].name.split(' ').next(), Some("BC-us-7100-sale"));
    assert_eq!(
        desk.oracle
            .find_batches("BC-us-7100-sale", false)
            .await
            .unwrap()[0]
            .period,
        "May-26"
    );
    // A closed period with nothing open after it is held, even under next_open.
    for m in [
        "May-26", "Jun-26", "Jul-26", "Aug-26", "Sep-26", "Oct-26", "Nov-26", "Dec-26",
    ]
    .iter()
    .chain(&[
        "Jan-27", "Feb-27", "Mar-27", "Apr-27", "May-27", "Jun-27", "Jul-27", "Aug-27", "Sep-27",
        "Oct-27", "Nov-27", "Dec-27",
    ]) {
        pod.set_period_status(US_LEDGER, m, 'N');
    }
    let settled = desk.post(journals(&moving, 7200, 1), SETTLE).await;
    let state = &settled.postings[0].state;
    assert_eq!(state.name(), StateName::Held);
    assert!(
        reason_of(state)
            .ends_with("and no later period is open; posting.closed_period = next_open"),
        "{state:?}"
    );
}

#[tokio::test]
async fn reads_ride_out_throttling_outages_and_slow_answers() {
    let pod = seeded_pod(PodOptions::default()).await;
    let config = config_for(&pod, |_| {});
    let c = FusionClient::from_config(
        &config.oracle,
        FusionSettings {
            timeout: Duration::from_millis(300),
            ..fast()
        },
    )
    .unwrap();
    // One read first, so the token is fetched and every call below is one ledger read.
    c.ledgers().await.unwrap();
    let started = std::time::Instant::now();
    pod.inject(PodFault::Throttle {
        retry_after: 1,
        times: 1,
    });
    let before = c.calls();
    assert_eq!(c.ledgers().await.unwrap().len(), 2);
    assert_eq!(pod.faults_served().get("throttle"), Some(&1));
    assert_eq!(c.calls() - before, 2, "the 429, then the read");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    pod.inject(PodFault::Status {
        status: 503,
        times: 2,
        path: Some("ledgersLOV".into()),
    });
    let before = c.calls();
    c.ledgers().await.unwrap();
    assert_eq!(pod.faults_served().get("status"), Some(&2));
    assert_eq!(c.calls() - before, 3, "two 503s, then the read");
    // 900 ms late against a 300 ms timeout: given up on and asked again. A client with no
    // timeout would make one call and be back only after the 900 ms.
    pod.inject(PodFault::Delay {
        millis: 900,
        times: 1,
        path: Some("ledgersLOV".into()),
    });
    let before = c.calls();
    let started = std::time::Instant::now();
    c.ledgers().await.unwrap();
    let took = started.elapsed();
    assert_eq!(pod.faults_served().get("delay"), Some(&1));
    assert_eq!(c.calls() - before, 2, "the timed-out read, then its retry");
    assert!(
        took < Duration::from_millis(900),
        "the late answer was awaited: {took:?}"
    );
    pod.inject(PodFault::Status {
        status: 503,
        times: 10,
        path: Some("ledgersLOV".into()),
    });
    let err = c.ledgers().await.unwrap_err();
    assert!(
        matches!(&err, OracleError::Status { status: 503, .. }),
        "{err}"
    );
    assert!(err.is_transient());
    assert!(
        pod.faults_pending() > 0,
        "the outage outlasted the client's tries"
    );
    // Values that cannot go into a q filter are refused before any call.
    let err = c.find_batches("BC-'; DROP", false).await.unwrap_err();
    assert!(matches!(err, OracleError::Invalid(_)));
}

#[tokio::test]
async fn basic_authentication_is_the_configured_alternative() {
    let pod = seeded_pod(PodOptions {
        basic_user: Some(("gl.integration".into(), "s3cret-pw".into())),
        ..PodOptions::default()
    })
    .await;
    let basic = |password: &str| {
        config_for(&pod, |d| {
            d["oracle"]["auth"] =
                json!({"type": "basic", "username": "gl.integration", "password": password});
        })
    };
    let c = client(&basic("s3cret-pw"));
    assert_eq!(c.ledgers().await.unwrap().len(), 2);
    assert_eq!((c.tokens_fetched(), pod.tokens_issued()), (0, 0));
    let err = client(&basic("wrong")).ledgers().await.unwrap_err();
    assert_eq!(
        err,
        OracleError::Unauthorized {
            call: "GET ledgersLOV".into()
        }
    );
    assert!(!err.to_string().contains("wrong"));
}

#[tokio::test]
async fn the_period_status_read_is_general_ledgers() {
    use common::oracle::PeriodState;
    let pod = seeded_pod(PodOptions::default()).await;
    // Receivables (222) closed March and opened April; General Ledger keeps March open and
    // closed April. The pod answers another application's rows first when asked without one.
    pod.set_application_period_status(US_LEDGER, "Mar-26", 222, 'C');
    pod.set_application_period_status(US_LEDGER, "Apr-26", 222, 'O');
    pod.set_period_status(US_LEDGER, "Apr-26", 'C');
    let config = config_for(&pod, |_| {});
    let c = client(&config);
    let march = c
        .period_for_date(
            US_LEDGER,
            chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap(),
        )
        .await
        .unwrap()
        .expect("March");
    assert_eq!(
        (march.name.as_str(), march.state),
        ("Mar-26", PeriodState::Open)
    );
    let april = c
        .period_for_date(
            US_LEDGER,
            chrono::NaiveDate::from_ymd_opt(2026, 4, 10).unwrap(),
        )
        .await
        .unwrap()
        .expect("April");
    assert_eq!(april.state, PeriodState::Closed, "GL's status, not AR's");
    let next = c
        .next_open_period(
            US_LEDGER,
            chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
        )
        .await
        .unwrap()
        .expect("an open period");
    assert_eq!(next.name, "May-26", "April is open for Receivables only");
    let period_reads: Vec<String> = pod
        .requests()
        .into_iter()
        .filter(|r| r.contains("accountingPeriodStatusLOV"))
        .collect();
    assert!(!period_reads.is_empty(), "{:?}", pod.requests());
    assert!(
        period_reads
            .iter()
            .all(|r| r.contains("ApplicationId%3D101") || r.contains("ApplicationId=101")),
        "{period_reads:?}"
    );
}

#[tokio::test]
async fn a_cancelled_import_is_held_and_a_warning_one_is_judged_like_an_error() {
    use sandbox::oracle::JobEnd;
    let pod = seeded_pod(PodOptions {
        job_phase: Duration::from_millis(5),
        ..PodOptions::default()
    })
    .await;
    let config = config_for(&pod, |_| {});
    let mut desk = desk_for(&config);

    // Cancelled in Fusion: nothing was judged, so nothing is rejected, and nothing is sent
    // again on the connector's own (not split either): held for a person.
    pod.inject(PodFault::EndJob {
        status: JobEnd::Cancelled,
        times: 1,
    });
    let settled = desk.post(journals(&config, 9000, 3), SETTLE).await;
    assert_eq!(
        desk.imports(),
        1,
        "a cancelled import is not split and resent"
    );
    assert_eq!(settled.splits, 0);
    for p in &settled.postings {
        assert_eq!(p.state.name(), StateName::Held, "{:?}", p.state);
        assert!(
            reason_of(&p.state)
                .contains("ended CANCELLED in Fusion before Journal Import judged it"),
            "{:?}",
            p.state
        );
    }
    assert!(pod.batches().is_empty());

    // WARNING with the group imported: posted, read back by name.
    pod.inject(PodFault::EndJob {
        status: JobEnd::Warning,
        times: 1,
    });
    let settled = desk.post(journals(&config, 9100, 2), SETTLE).await;
    assert_eq!(desk.imports(), 2);
    for p in &settled.postings {
        let PostingState::Posted { request_id, .. } = p.state else {
            panic!("{:?}", p.state)
        };
        assert_eq!(
            pod.job_status(request_id.unwrap()).as_deref(),
            Some("WARNING"),
            "the fault was used"
        );
    }

    // WARNING with the group refused (a category Fusion does not have): like ERROR, split until
    // the bad journal is alone and rejected with the log's reason.
    pod.inject(PodFault::EndJob {
        status: JobEnd::Warning,
        times: 1,
    });
    let mut sent = journals(&config, 9200, 2);
    sent[1].category = "Sundries".into();
    let settled = desk.post(sent, SETTLE).await;
    assert_eq!(
        desk.imports(),
        2 + 3,
        "the WARNING import, then one per half"
    );
    assert_eq!(settled.splits, 1);
    assert_eq!(
        settled.postings[0].state.name(),
        StateName::Posted,
        "{:?}",
        settled.postings[0].state
    );
    assert_eq!(settled.postings[1].state.name(), StateName::Rejected);
    let reason = reason_of(&settled.postings[1].state);
    assert!(
        reason.contains("EJ01 batch BC-us-9201-sale")
            && reason.contains("\"Sundries\" does not exist"),
        "{reason}"
    );
}
