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
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(call().await.unwrap().status(), 401);
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
