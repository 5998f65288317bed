//! One behavioural suite for every state store: SQLite (local) and DynamoDB (on moto server,
//! started by `infra/test.sh`). Conditional writes, races with exactly one winner, the life
//! cycle of a posting, expiring dedupe keys, audit queries, cursors, imports.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use common::journal::{Journal, JournalContext, PostingKind, build_sale};
use common::ports::StateStore;
use common::state::{
    Actor, AuditEvent, AuditKind, Cursor, ImportRecord, ImportState, OrderRecord, PostingKey,
    PostingRecord, PostingState, StateName, StoreError,
};
use serde_json::json;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, h, m, 0).unwrap()
}

fn journal(order_id: u64) -> Journal {
    let config = crate::support::example_config();
    let ctx = JournalContext::new(&config, "us").unwrap();
    let mut o = crate::support::order(order_id);
    o["total_inc_tax"] = json!("20.0000");
    build_sale(
        &ctx,
        &crate::support::bundle(o, vec![crate::support::line(1, 77, 1, "20.00", "0.00")]),
    )
    .unwrap()
}

fn key(order_id: u64, posting: PostingKind) -> PostingKey {
    PostingKey {
        store: "us".into(),
        order_id,
        posting,
    }
}

fn queued(order_id: u64, posting: PostingKind, when: DateTime<Utc>) -> PostingRecord {
    PostingRecord {
        key: key(order_id, posting),
        state: PostingState::Queued,
        journal: journal(order_id),
        version: 0,
        created_at: when,
        updated_at: when,
        seen_at: None,
    }
}

fn event(kind: AuditKind, order_id: u64, when: DateTime<Utc>) -> AuditEvent {
    AuditEvent::new(Actor::Poster, kind, "us", order_id, when)
}

async fn orders_are_written_conditionally(store: Arc<dyn StateStore>) {
    let rec = OrderRecord {
        store: "us".into(),
        order_id: 1,
        date_modified: Some(at(9, 0)),
        fingerprint: "f1".into(),
        status_id: 11,
        waiting: false,
        version: 0,
        updated_at: at(9, 1),
    };
    assert_eq!(store.order("us", 1).await.unwrap(), None);
    let v1 = store.save_order(&rec, None).await.unwrap();
    assert_eq!(v1.version, 1);
    assert!(
        matches!(
            store.save_order(&rec, None).await,
            Err(StoreError::Conflict { .. })
        ),
        "create twice"
    );
    let v2 = store
        .save_order(
            &OrderRecord {
                fingerprint: "f2".into(),
                ..v1.clone()
            },
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert!(
        matches!(
            store.save_order(&v1, Some(1)).await,
            Err(StoreError::Conflict {
                expected: Some(1),
                ..
            })
        ),
        "stale version"
    );
    assert_eq!(store.order("us", 1).await.unwrap(), Some(v2));
}

async fn a_posting_lives_its_life_with_its_audit_trail(store: Arc<dyn StateStore>) {
    let k = key(2, PostingKind::Sale);
    let created = store
        .create_posting(
            &queued(2, PostingKind::Sale, at(10, 0)),
            &event(AuditKind::Mapped, 2, at(10, 0))
                .posting(PostingKind::Sale)
                .states(None, Some(StateName::Queued)),
        )
        .await
        .unwrap();
    assert_eq!(created.version, 1);
    let submitted = PostingState::Submitted {
        group_id: 77,
        request_id: Some(5001),
    };
    let audit = event(AuditKind::Submitted, 2, at(10, 1))
        .posting(PostingKind::Sale)
        .states(Some(StateName::Queued), Some(StateName::Submitted))
        .detail(json!({"group_id": 77, "request_id": 5001}));
    let v2 = store
        .transition(&k, 1, submitted.clone(), None, &audit)
        .await
        .unwrap();
    assert_eq!(
        (v2.version, &v2.state, v2.updated_at),
        (2, &submitted, at(10, 1))
    );
    // A stale writer loses, and its audit event is not written either.
    let stale = store
        .transition(
            &k,
            1,
            PostingState::Held { reason: "x".into() },
            None,
            &event(AuditKind::Held, 2, at(10, 2)),
        )
        .await;
    assert!(
        matches!(
            stale,
            Err(StoreError::Conflict {
                expected: Some(1),
                ..
            })
        ),
        "{stale:?}"
    );
    let mut moved = journal(2);
    moved.period_name = Some("Apr-26".into());
    let posted = PostingState::Posted {
        batch_id: 300_000_100_000_001,
        group_id: 77,
        request_id: Some(5001),
    };
    let v3 = store
        .transition(
            &k,
            2,
            posted.clone(),
            Some(&moved),
            &event(AuditKind::Posted, 2, at(10, 5))
                .posting(PostingKind::Sale)
                .states(Some(StateName::Submitted), Some(StateName::Posted)),
        )
        .await
        .unwrap();
    assert_eq!(
        (v3.version, v3.journal.period_name.as_deref()),
        (3, Some("Apr-26"))
    );
    // Posted is final.
    let again = store
        .transition(
            &k,
            3,
            PostingState::Queued,
            None,
            &event(AuditKind::Replayed, 2, at(11, 0)),
        )
        .await;
    assert_eq!(
        again.unwrap_err(),
        StoreError::IllegalTransition {
            what: "us/2/sale".into(),
            from: StateName::Posted,
            to: StateName::Queued
        }
    );
    assert_eq!(store.posting(&k).await.unwrap(), Some(v3));
    let story: Vec<(AuditKind, Option<StateName>)> = store
        .audit_of_order("us", 2)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.after))
        .collect();
    assert_eq!(
        story,
        vec![
            (AuditKind::Mapped, Some(StateName::Queued)),
            (AuditKind::Submitted, Some(StateName::Submitted)),
            (AuditKind::Posted, Some(StateName::Posted))
        ]
    );
    // A second posting of the same order, linked to the sale.
    let refund = queued(2, PostingKind::Refund(9), at(12, 0));
    store
        .create_posting(
            &refund,
            &event(AuditKind::Mapped, 2, at(12, 0))
                .posting(PostingKind::Refund(9))
                .links("BC-us-2-sale"),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_posting(&refund, &event(AuditKind::Mapped, 2, at(12, 1)))
            .await,
        Err(StoreError::Conflict { expected: None, .. })
    ));
    let kinds: Vec<PostingKind> = store
        .postings_of("us", 2)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.key.posting)
        .collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.contains(&PostingKind::Sale) && kinds.contains(&PostingKind::Refund(9)));
    let last = store.audit_of_order("us", 2).await.unwrap().pop().unwrap();
    assert_eq!(last.links_to.as_deref(), Some("BC-us-2-sale"));
    assert_eq!(
        store.audit_of_order("us", 2).await.unwrap().len(),
        4,
        "the failed create wrote nothing"
    );
}

/// How racing workers reach the store: at once (SQLite, whose transactions are atomic), or one
/// request at a time (moto: its `TransactWriteItems` puts back a copy of the table when a
/// condition fails, undoing writes other requests made meanwhile, and its `UpdateItem` reads
/// and writes in separate steps; DynamoDB does neither). One at a time still makes every loser
/// meet the winner's write, so the conditions the adapter writes are what is tested.
type Gate = Option<Arc<tokio::sync::Mutex<()>>>;

async fn through(gate: &Gate) -> Option<tokio::sync::MutexGuard<'_, ()>> {
    match gate {
        Some(m) => Some(m.lock().await),
        None => None,
    }
}

async fn of_many_racing_workers_exactly_one_wins(store: Arc<dyn StateStore>, gate: Gate) {
    let k = key(3, PostingKind::Sale);
    let mut creators = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (store, gate) = (store.clone(), gate.clone());
        creators.spawn(async move {
            let _one = through(&gate).await;
            store
                .create_posting(
                    &queued(3, PostingKind::Sale, at(9, 0)),
                    &event(AuditKind::Mapped, 3, at(9, 0)),
                )
                .await
                .is_ok()
        });
    }
    let mut created = 0;
    while let Some(r) = creators.join_next().await {
        created += usize::from(r.unwrap());
    }
    assert_eq!(created, 1, "one posting, whoever decided it");
    let mut submitters = tokio::task::JoinSet::new();
    for group in 0..12u64 {
        let (store, k, gate) = (store.clone(), k.clone(), gate.clone());
        submitters.spawn(async move {
            let _one = through(&gate).await;
            let state = PostingState::Submitted {
                group_id: group,
                request_id: None,
            };
            match store
                .transition(
                    &k,
                    1,
                    state,
                    None,
                    &event(AuditKind::Submitted, 3, at(9, 1)),
                )
                .await
            {
                Ok(_) => Some(group),
                Err(StoreError::Conflict { .. }) => None,
                Err(e) => panic!("{e}"),
            }
        });
    }
    let mut winners = Vec::new();
    while let Some(r) = submitters.join_next().await {
        winners.extend(r.unwrap());
    }
    assert_eq!(winners.len(), 1, "exactly one worker submits it");
    let stored = store.posting(&k).await.unwrap().unwrap();
    assert_eq!(
        stored.state,
        PostingState::Submitted {
            group_id: winners[0],
            request_id: None
        }
    );
    assert_eq!(store.audit_of_order("us", 3).await.unwrap().len(), 2);
}

async fn webhook_ids_are_remembered_until_they_expire(store: Arc<dyn StateStore>) {
    let ttl = Duration::from_secs(3600);
    assert!(store.first_sighting("msg_1", ttl, at(9, 0)).await.unwrap());
    assert!(!store.first_sighting("msg_1", ttl, at(9, 30)).await.unwrap());
    assert!(store.first_sighting("msg_2", ttl, at(9, 30)).await.unwrap());
    assert!(
        store.first_sighting("msg_1", ttl, at(10, 1)).await.unwrap(),
        "expired after an hour"
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .first_sighting("msg_race", ttl, at(9, 0))
                .await
                .unwrap()
        });
    }
    let mut firsts = 0;
    while let Some(r) = tasks.join_next().await {
        firsts += usize::from(r.unwrap());
    }
    assert_eq!(firsts, 1, "one delivery of twelve duplicates goes through");

    // A delivery whose message could not be queued is forgotten, so its retry is a first.
    store.forget_sighting("msg_2").await.unwrap();
    assert!(store.first_sighting("msg_2", ttl, at(9, 40)).await.unwrap());
    store.forget_sighting("never-seen").await.unwrap();
}

async fn sequences_never_repeat_across_racing_workers(store: Arc<dyn StateStore>, gate: Gate) {
    assert_eq!(store.next_sequence("group", 1_000).await.unwrap(), 1_000);
    assert_eq!(store.next_sequence("group", 1_000).await.unwrap(), 1_001);
    // A higher floor (a clock-based start) lifts the sequence; a lower one does not lower it.
    assert_eq!(store.next_sequence("group", 5_000).await.unwrap(), 5_000);
    assert_eq!(store.next_sequence("group", 10).await.unwrap(), 5_001);
    assert_eq!(store.next_sequence("other", 1).await.unwrap(), 1);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (store, gate) = (store.clone(), gate.clone());
        tasks.spawn(async move {
            let _one = through(&gate).await;
            store.next_sequence("group", 5_000).await.unwrap()
        });
    }
    let mut got = Vec::new();
    while let Some(r) = tasks.join_next().await {
        got.push(r.unwrap());
    }
    got.sort_unstable();
    assert_eq!(
        got,
        (5_002..5_018).collect::<Vec<u64>>(),
        "sixteen distinct values"
    );
}

async fn audit_is_queried_by_order_and_by_time(store: Arc<dyn StateStore>) {
    let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap();
    for (order, when) in [
        (10, day(1, 23)),
        (11, day(2, 1)),
        (10, day(2, 12)),
        (12, day(3, 0)),
        (11, day(4, 8)),
    ] {
        store
            .append_audit(
                &event(AuditKind::Received, order, when)
                    .detail(json!({"webhook_id": format!("msg_{order}_{}", when.timestamp())})),
            )
            .await
            .unwrap();
    }
    let window: Vec<(u64, DateTime<Utc>)> = store
        .audit_between(day(2, 0), day(4, 0))
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.order_id, e.at))
        .collect();
    assert_eq!(
        window,
        vec![(11, day(2, 1)), (10, day(2, 12)), (12, day(3, 0))]
    );
    let of_ten: Vec<DateTime<Utc>> = store
        .audit_of_order("us", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.at)
        .collect();
    assert_eq!(of_ten, vec![day(1, 23), day(2, 12)]);
    assert!(store.audit_of_order("eu", 10).await.unwrap().is_empty());
}

async fn stuck_and_held_postings_are_found_by_state_and_age(store: Arc<dyn StateStore>) {
    for (order, minute) in [(20u64, 0u32), (21, 5), (22, 10), (23, 15)] {
        let rec = queued(order, PostingKind::Sale, at(8, minute));
        store
            .create_posting(&rec, &event(AuditKind::Mapped, order, at(8, minute)))
            .await
            .unwrap();
        let state = if order == 22 {
            PostingState::Held {
                reason: "closed period".into(),
            }
        } else {
            PostingState::Submitted {
                group_id: order,
                request_id: None,
            }
        };
        store
            .transition(
                &rec.key,
                1,
                state,
                None,
                &event(AuditKind::Submitted, order, at(9, minute)),
            )
            .await
            .unwrap();
    }
    let stuck: Vec<u64> = store
        .postings_in_state(StateName::Submitted, at(9, 12), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.key.order_id)
        .collect();
    assert_eq!(stuck, vec![20, 21], "submitted before 09:12, oldest first");
    let held: Vec<u64> = store
        .postings_in_state(StateName::Held, at(23, 0), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.key.order_id)
        .collect();
    assert_eq!(held, vec![22]);
    assert_eq!(
        store
            .postings_in_state(StateName::Submitted, at(23, 0), 1)
            .await
            .unwrap()
            .len(),
        1,
        "limit"
    );
}

async fn cursors_and_imports_move_conditionally(store: Arc<dyn StateStore>) {
    assert_eq!(store.cursor("us", "orders").await.unwrap(), None);
    let c1 = store
        .save_cursor(
            &Cursor {
                store: "us".into(),
                stream: "orders".into(),
                position: at(9, 0),
                version: 0,
            },
            None,
        )
        .await
        .unwrap();
    let c2 = store
        .save_cursor(
            &Cursor {
                position: at(9, 5),
                ..c1.clone()
            },
            Some(1),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .save_cursor(
                &Cursor {
                    position: at(9, 7),
                    ..c1
                },
                Some(1)
            )
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.cursor("us", "orders").await.unwrap(), Some(c2));
    assert_eq!(store.cursor("us", "refunds").await.unwrap(), None);
    let import = ImportRecord {
        group_id: 9_001,
        request_id: Some(5_001),
        postings: vec![key(1, PostingKind::Sale), key(2, PostingKind::Refund(3))],
        state: ImportState::Submitted,
        submitted_at: at(9, 0),
        version: 0,
    };
    let i1 = store.save_import(&import, None).await.unwrap();
    store
        .save_import(
            &ImportRecord {
                group_id: 9_002,
                submitted_at: at(8, 0),
                ..import.clone()
            },
            None,
        )
        .await
        .unwrap();
    let pending: Vec<u64> = store
        .imports_in_state(ImportState::Submitted, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.group_id)
        .collect();
    assert_eq!(pending, vec![9_002, 9_001]);
    let done = store
        .save_import(
            &ImportRecord {
                state: ImportState::Succeeded,
                ..i1
            },
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(store.import(9_001).await.unwrap(), Some(done));
    assert_eq!(
        store
            .imports_in_state(ImportState::Submitted, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

macro_rules! suite {
    ($backend:ident, $make:expr, $gate:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn orders_are_written_conditionally() {
                super::orders_are_written_conditionally($make.await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_posting_lives_its_life_with_its_audit_trail() {
                super::a_posting_lives_its_life_with_its_audit_trail($make.await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn of_many_racing_workers_exactly_one_wins() {
                super::of_many_racing_workers_exactly_one_wins($make.await, $gate).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn webhook_ids_are_remembered_until_they_expire() {
                super::webhook_ids_are_remembered_until_they_expire($make.await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sequences_never_repeat_across_racing_workers() {
                super::sequences_never_repeat_across_racing_workers($make.await, $gate).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn audit_is_queried_by_order_and_by_time() {
                super::audit_is_queried_by_order_and_by_time($make.await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn stuck_and_held_postings_are_found_by_state_and_age() {
                super::stuck_and_held_postings_are_found_by_state_and_age($make.await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cursors_and_imports_move_conditionally() {
                super::cursors_and_imports_move_conditionally($make.await).await
            }
        }
    };
}

async fn sqlite() -> Arc<dyn StateStore> {
    Arc::new(common::adapters::sqlite::SqliteStore::new(
        common::adapters::sqlite::SqliteDb::in_memory().unwrap(),
    ))
}

suite!(on_sqlite, sqlite(), None);

/// Each test gets its own table on the emulator, created as template.yaml declares it.
async fn dynamodb() -> Arc<dyn StateStore> {
    let config = common::adapters::aws::local(&crate::support::aws_endpoint()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = crate::support::unique("state");
    common::adapters::dynamodb::DynamoStore::create_table(&client, &table)
        .await
        .unwrap();
    Arc::new(common::adapters::dynamodb::DynamoStore::new(client, &table))
}

suite!(
    on_dynamodb,
    dynamodb(),
    Some(Arc::new(tokio::sync::Mutex::new(())))
);

/// `StateTable` of template.yaml as JSON (CloudFormation tags such as `!Ref` read as text).
fn template_table() -> serde_json::Value {
    let script = r#"
import json, sys, yaml
class Loader(yaml.SafeLoader):
    pass
def tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)
Loader.add_multi_constructor("!", tag)
doc = yaml.load(open(sys.argv[1]), Loader=Loader)
print(json.dumps(doc["Resources"]["StateTable"]["Properties"]))
"#;
    let out = std::process::Command::new(crate::support::python())
        .arg("-c")
        .arg(script)
        .arg(crate::support::repo_root().join("template.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Keys as (name, type) pairs, from the template's JSON or the SDK's description.
fn pairs(list: &serde_json::Value, name: &str, kind: &str) -> Vec<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k[name].as_str().unwrap().into(),
                k[kind].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_adapter_creates_the_table_template_yaml_declares() {
    let template = template_table();
    let config = common::adapters::aws::local(&crate::support::aws_endpoint()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = crate::support::unique("shape");
    common::adapters::dynamodb::DynamoStore::create_table(&client, &table)
        .await
        .unwrap();
    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();

    let mut want = pairs(
        &template["AttributeDefinitions"],
        "AttributeName",
        "AttributeType",
    );
    let mut got: Vec<(String, String)> = described
        .attribute_definitions()
        .iter()
        .map(|a| {
            (
                a.attribute_name().into(),
                a.attribute_type().as_str().into(),
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "attribute definitions");

    let schema = |keys: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
        keys.iter()
            .map(|k| (k.attribute_name().into(), k.key_type().as_str().into()))
            .collect()
    };
    assert_eq!(
        schema(described.key_schema()),
        pairs(&template["KeySchema"], "AttributeName", "KeyType"),
        "table key schema"
    );

    let want_indexes = template["GlobalSecondaryIndexes"].as_array().unwrap();
    let got_indexes = described.global_secondary_indexes();
    assert_eq!(got_indexes.len(), want_indexes.len(), "index count");
    for want in want_indexes {
        let name = want["IndexName"].as_str().unwrap();
        let got = got_indexes
            .iter()
            .find(|i| i.index_name() == Some(name))
            .unwrap_or_else(|| panic!("index {name} missing"));
        assert_eq!(
            schema(got.key_schema()),
            pairs(&want["KeySchema"], "AttributeName", "KeyType"),
            "index {name}"
        );
        assert_eq!(
            got.projection()
                .and_then(|p| p.projection_type())
                .map(|t| t.as_str()),
            want["Projection"]["ProjectionType"].as_str(),
            "index {name} projection"
        );
    }

    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(
        ttl.attribute_name(),
        template["TimeToLiveSpecification"]["AttributeName"].as_str()
    );
    assert_eq!(
        ttl.time_to_live_status().map(|s| s.as_str()),
        Some("ENABLED")
    );
}
