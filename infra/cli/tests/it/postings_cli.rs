//! `mlc postings` and `mlc audit` as an operator runs them: the morning queue oldest first
//! with reasons and ages, exit code 1 while a posting needs action and 0 when none does, on a
//! local state database and on the deployed table (DynamoDB on moto, `--aws`), where a queue
//! of 2,000 held postings is listed whole.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::journal::Journal;
use common::ports::StateStore;
use common::state::{Actor, AuditEvent, AuditKind, PostingRecord, PostingState};
use serde_json::Value;

use crate::support::{example_config, root, scratch, text};

/// The sale journal of the example order, for order `order_id`.
fn journal(order_id: u64) -> Journal {
    let config = common::config::ConnectorConfig::load_file(&example_config()).unwrap();
    let bundle = common::bigcommerce::OrderBundle::from_json(
        &std::fs::read_to_string(root().join("infra/examples/orders/us-1001.json")).unwrap(),
    )
    .unwrap();
    let mut j = common::posting::preview::preview(&config, "us", &bundle)
        .unwrap()
        .journals
        .remove(0);
    j.order_id = order_id;
    j.batch_name = format!("BC-us-{order_id}-sale");
    j
}

/// Records a sale posting of `order_id` in `state`, last changed at `at`.
async fn record(store: &dyn StateStore, order_id: u64, state: PostingState, at: DateTime<Utc>) {
    let kind = match &state {
        PostingState::Held { .. } => AuditKind::Held,
        PostingState::Rejected { .. } => AuditKind::Rejected,
        PostingState::Posted { .. } => AuditKind::Posted,
        _ => AuditKind::Mapped,
    };
    let rec = PostingRecord::new(journal(order_id), state, at);
    let event = AuditEvent::new(Actor::Poster, kind, "us", order_id, at);
    store.create_posting(&rec, &event).await.unwrap();
}

fn held(reason: &str) -> PostingState {
    PostingState::Held {
        reason: reason.into(),
    }
}

/// Four postings: held two days ago, rejected three hours ago, queued a minute ago, posted.
async fn morning(store: &dyn StateStore) {
    let now = Utc::now();
    record(store, 501, PostingState::Queued, now - Duration::minutes(1)).await;
    record(
        store,
        502,
        PostingState::Rejected {
            reason: "GL-1234 account 4000-9 is disabled".into(),
        },
        now - Duration::hours(3),
    )
    .await;
    record(
        store,
        503,
        held("period 2026-02 is closed"),
        now - Duration::days(2),
    )
    .await;
    let posted = PostingState::Posted {
        batch_id: 9,
        group_id: 1,
        request_id: None,
    };
    record(store, 504, posted, now - Duration::days(3)).await;
}

fn run(args: &[&str], env: &[(&str, String)]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlc"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let (o, e) = text(&out);
    (out.status.code(), o, e)
}

/// The queue checks shared by local state and the deployed table; `on` selects the state.
fn the_queue_reads_oldest_first_and_gates_on_what_needs_action(
    on: &[&str],
    env: &[(&str, String)],
) {
    let with = |extra: &[&str]| {
        let mut args = vec!["postings"];
        args.extend(on);
        args.extend(extra);
        run(&args, env)
    };
    let (code, out, err) = with(&[]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "3 postings, oldest first:", "{out}");
    assert!(
        lines[2].contains("2d 0h")
            && lines[2].contains("held")
            && lines[2].contains("503")
            && lines[2].ends_with("period 2026-02 is closed"),
        "{out}"
    );
    assert!(
        lines[3].contains("rejected") && lines[3].contains("GL-1234"),
        "{out}"
    );
    assert!(
        lines[4].contains("queued") && lines[4].contains("501"),
        "{out}"
    );
    assert!(
        !out.contains("504"),
        "posted postings are not in the queue: {out}"
    );
    assert!(err.contains("2 posting(s) need action"), "{err}");

    let (code, out, _) = with(&["--format", "json"]);
    assert_eq!(code, Some(1));
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["needs_action"], 2);
    let ids: Vec<u64> = doc["postings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["order_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [503, 502, 501]);
    assert_eq!(doc["postings"][0]["state"], "held");
    assert_eq!(doc["postings"][0]["posting"], "sale");
    assert_eq!(doc["postings"][0]["reason"], "period 2026-02 is closed");
    assert!(doc["postings"][0]["age_seconds"].as_i64().unwrap() >= 2 * 86_400);

    // Older than an hour: the queued one is not; only in flight: nothing needs action.
    let (code, out, _) = with(&["--older-than", "1h", "--format", "json"]);
    assert_eq!(code, Some(1));
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["postings"].as_array().unwrap().len(), 2, "{out}");
    let (code, out, err) = with(&["--status", "queued", "--status", "submitted"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("501") && !out.contains("503"), "{out}");
    assert_eq!(err, "");
    let (code, out, _) = with(&["--status", "posted", "--format", "json"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["postings"][0]["order_id"],
        504
    );
    let (code, out, _) = with(&["--store", "eu"]);
    assert_eq!((code, out.as_str()), (Some(0), "no postings\n"));

    // A bad age names the flag and is bad input.
    let (code, _, err) = with(&["--older-than", "1 week"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--older-than") && err.contains("90s, 15m, 1h or 2d"),
        "{err}"
    );

    // The audit of one order, for people and as one JSON document.
    let mut audit = vec!["audit"];
    audit.extend(on);
    audit.extend(["--store", "us", "--order-id", "503"]);
    let (code, out, _) = run(&audit, env);
    assert_eq!(code, Some(0));
    assert!(out.contains("poster") && out.contains("held"), "{out}");
    audit.extend(["--format", "json"]);
    let (code, out, _) = run(&audit, env);
    assert_eq!(code, Some(0));
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["order_id"], 503);
    assert_eq!(doc["events"][0]["kind"], "held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_morning_queue_on_local_state() {
    use common::adapters::sqlite::{SqliteDb, SqliteStore};
    let dir = scratch("postings");
    let state = dir.join("state.db");
    let store = SqliteStore::new(SqliteDb::open(&state).unwrap());
    morning(&store).await;
    let state = state.to_str().unwrap().to_string();
    the_queue_reads_oldest_first_and_gates_on_what_needs_action(&["--state", &state], &[]);
    let (code, _, err) = run(&["postings", "--state", "nowhere.db"], &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("nowhere.db: no such state database"), "{err}");
}

fn aws_env(endpoint: &str, table: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("MLC_TABLE", table.to_string()),
    ]
}

fn moto() -> String {
    std::env::var("MLC_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("MLC_AWS_ENDPOINT is not set: run ./infra/test.sh, which starts moto server")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_morning_queue_on_the_deployed_table() {
    let endpoint = moto();
    let sdk = common::adapters::aws::local(&endpoint).await;
    let table = format!("mlc-postings-{}", std::process::id());
    let store = common::adapters::dynamodb::DynamoStore::create_on(&sdk, &table)
        .await
        .unwrap();
    morning(&store).await;
    let env = aws_env(&endpoint, &table);
    the_queue_reads_oldest_first_and_gates_on_what_needs_action(&["--aws"], &env);
    // Without the table's name, the flag and the variable are named.
    let (code, _, err) = run(&["postings", "--aws"], &env[..4]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--aws: MLC_TABLE is not set"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_of_two_thousand_held_postings_is_listed_whole_from_the_deployed_table() {
    let endpoint = moto();
    let sdk = common::adapters::aws::local(&endpoint).await;
    let table = format!("mlc-postings-many-{}", std::process::id());
    let store: Arc<dyn StateStore> = Arc::new(
        common::adapters::dynamodb::DynamoStore::create_on(&sdk, &table)
            .await
            .unwrap(),
    );
    let start = Utc::now() - Duration::days(1);
    let records: Vec<PostingRecord> = (0..2000u64)
        .map(|i| {
            let at = start + Duration::seconds(i as i64);
            let mut rec = PostingRecord::new(journal(10_000 + i), held("totals mismatch"), at);
            rec.version = 1; // as a created posting is stored
            rec
        })
        .collect();
    // The store writes a posting with its audit event in a transaction, one at a time on moto
    // (it takes no concurrent transactions): 2,000 of them take many minutes. The listing is
    // what is under test, so the items go in 25 to a batch, in the layout the store documents
    // (`common::adapters::dynamodb`); two are written through the store first and must read
    // back the same, so the layout here cannot drift from the store's unnoticed.
    let bytes: usize = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap().len())
        .sum();
    assert!(
        bytes > 2 << 20,
        "{bytes} bytes: more than one 1 MB query page, so the listing must page"
    );
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    seed_postings(&client, &table, &records[2..]).await;
    for rec in &records[..2] {
        let event = AuditEvent::new(
            Actor::Poster,
            AuditKind::Held,
            "us",
            rec.key.order_id,
            rec.updated_at,
        );
        store.create_posting(rec, &event).await.unwrap();
    }
    let through_store = raw_posting(&client, &table, &records[0]).await;
    assert_eq!(
        through_store,
        posting_item(&records[0]),
        "the seeded layout is the store's"
    );
    let env = aws_env(&endpoint, &table);
    let (code, out, err) = run(&["postings", "--aws", "--format", "json"], &env);
    assert_eq!(code, Some(1), "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<u64> = doc["postings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["order_id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ids,
        (10_000..12_000).collect::<Vec<u64>>(),
        "every one, oldest first"
    );
    assert_eq!(doc["needs_action"], 2000);
}

/// A posting item as `DynamoStore` writes it (see the layout table in
/// `common::adapters::dynamodb`).
fn posting_item(
    rec: &PostingRecord,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue::{N, S};
    let k = &rec.key;
    std::collections::HashMap::from([
        (
            "pk".to_string(),
            S(format!("ORDER#{}#{}", k.store, k.order_id)),
        ),
        ("sk".to_string(), S(format!("POSTING#{}", k.posting))),
        (
            "gsi1pk".to_string(),
            S(format!("POSTING#{}", rec.state.name())),
        ),
        (
            "gsi1sk".to_string(),
            S(format!("{}#{k}", common::state::stamp(rec.updated_at))),
        ),
        ("version".to_string(), N(rec.version.to_string())),
        ("record".to_string(), S(serde_json::to_string(rec).unwrap())),
    ])
}

/// Writes postings straight to the table, 25 to a `BatchWriteItem`.
async fn seed_postings(client: &aws_sdk_dynamodb::Client, table: &str, records: &[PostingRecord]) {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    for chunk in records.chunks(25) {
        let writes = chunk
            .iter()
            .map(|rec| {
                let put = PutRequest::builder()
                    .set_item(Some(posting_item(rec)))
                    .build()
                    .unwrap();
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        let out = client
            .batch_write_item()
            .request_items(table, writes)
            .send()
            .await
            .unwrap();
        assert!(
            out.unprocessed_items.unwrap_or_default().is_empty(),
            "moto left writes unprocessed"
        );
    }
}

/// The posting item of `rec`'s key, as stored.
async fn raw_posting(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    rec: &PostingRecord,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let k = &rec.key;
    client
        .get_item()
        .table_name(table)
        .key("pk", S(format!("ORDER#{}#{}", k.store, k.order_id)))
        .key("sk", S(format!("POSTING#{}", k.posting)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the store wrote the posting")
}
