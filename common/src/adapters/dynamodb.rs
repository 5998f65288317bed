//! DynamoDB: the state store in AWS. One table (the one `template.yaml` declares): `pk`/`sk`
//! keys, one global secondary index `gsi1` (`gsi1pk`/`gsi1sk`) for "by state and age" and "by
//! time", and the TTL attribute `expires_at` for webhook-id dedupe items.
//!
//! | item      | pk                      | sk                 | gsi1pk               | gsi1sk                  |
//! |-----------|-------------------------|--------------------|----------------------|-------------------------|
//! | order     | `ORDER#{store}#{order}` | `ORDER`            |                      |                         |
//! | posting   | `ORDER#{store}#{order}` | `POSTING#{kind}`   | `POSTING#{state}`    | `{updated_at}#{key}`    |
//! | audit     | `ORDER#{store}#{order}` | `AUDIT#{id}`       | `AUDIT#{yyyy-mm-dd}` | `{id}`                  |
//! | import    | `IMPORT#{group}`        | `IMPORT`           | `IMPORT#{state}`     | `{submitted_at}#{group}`|
//! | cursor    | `CURSOR#{store}`        | `CURSOR#{stream}`  |                      |                         |
//! | dedupe    | `DEDUPE#{key}`          | `DEDUPE`           |                      |                         |
//! | sequence  | `SEQUENCE#{name}`       | `SEQUENCE`         |                      |                         |
//!
//! Records are stored whole as JSON in `record` (money as decimal strings, never a DynamoDB
//! number, which serde_dynamo would round through a float), next to the `version` every write
//! is conditional on. A posting change and its audit event go in one transaction.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, Put, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::journal::Journal;
use crate::ports::StateStore;
use crate::state::{
    AuditEvent, Cursor, ImportRecord, ImportState, OrderRecord, PostingKey, PostingRecord,
    PostingState, StateName, StoreError, stamp,
};

/// Name of the global secondary index.
pub const GSI: &str = "gsi1";
/// Days an audit time query may span (one index partition per day).
const MAX_AUDIT_DAYS: i64 = 3_700;

type Item = HashMap<String, AttributeValue>;

/// The state store on DynamoDB.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn backend<E: std::error::Error + 'static, R: std::fmt::Debug>(e: SdkError<E, R>) -> StoreError {
    StoreError::Backend(DisplayErrorContext(e).to_string())
}

fn to_json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

fn record_of<T: DeserializeOwned>(what: &str, item: &Item) -> Result<T, StoreError> {
    let text = item
        .get("record")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt {
            what: what.to_string(),
            message: "no record attribute".into(),
        })?;
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: what.to_string(),
        message: e.to_string(),
    })
}

fn order_pk(store: &str, order_id: u64) -> String {
    format!("ORDER#{store}#{order_id}")
}

fn posting_item(record: &PostingRecord) -> Result<Item, StoreError> {
    let k = &record.key;
    Ok(HashMap::from([
        ("pk".into(), s(order_pk(&k.store, k.order_id))),
        ("sk".into(), s(format!("POSTING#{}", k.posting))),
        (
            "gsi1pk".into(),
            s(format!("POSTING#{}", record.state.name())),
        ),
        (
            "gsi1sk".into(),
            s(format!("{}#{k}", stamp(record.updated_at))),
        ),
        ("version".into(), n(record.version)),
        ("record".into(), s(to_json(record)?)),
    ]))
}

fn audit_item(event: &AuditEvent) -> Result<Item, StoreError> {
    Ok(HashMap::from([
        ("pk".into(), s(order_pk(&event.store, event.order_id))),
        ("sk".into(), s(format!("AUDIT#{}", event.id))),
        (
            "gsi1pk".into(),
            s(format!("AUDIT#{}", event.at.format("%Y-%m-%d"))),
        ),
        ("gsi1sk".into(), s(event.id.clone())),
        ("record".into(), s(to_json(event)?)),
    ]))
}

/// A transaction that failed because one of its conditions did.
fn cancelled_by_condition<R: std::fmt::Debug>(
    e: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> bool {
    e.as_service_error().is_some_and(|se| match se {
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(t) => t
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed")),
        _ => false,
    })
}

impl DynamoStore {
    /// A store on `table`.
    pub fn new(client: Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_string(),
        }
    }

    /// A store on `table` with the clients of `sdk`: for a caller that needs the state and
    /// nothing else of the stack (the operator's `mlc audit --aws` and `mlc postings --aws`).
    pub fn on(sdk: &aws_config::SdkConfig, table: &str) -> Self {
        Self::new(Client::new(sdk), table)
    }

    /// Creates the table as `template.yaml` declares it and gives a store on it (local runs
    /// and tests of the operator's commands).
    pub async fn create_on(sdk: &aws_config::SdkConfig, table: &str) -> Result<Self, StoreError> {
        let store = Self::on(sdk, table);
        Self::create_table(&store.client, table).await?;
        Ok(store)
    }

    /// Creates the table as `template.yaml` declares it (for local runs and tests; in AWS the
    /// template creates it).
    pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("key schema")
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute")
        };
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            .attribute_definitions(attr("gsi1pk"))
            .attribute_definitions(attr("gsi1sk"))
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(GSI)
                    .key_schema(key("gsi1pk", KeyType::Hash))
                    .key_schema(key("gsi1sk", KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .expect("index"),
            )
            .send()
            .await
            .map_err(backend)?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at")
                    .enabled(true)
                    .build()
                    .expect("ttl"),
            )
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        Ok(out.item)
    }

    /// A conditional put: create when `expected` is None, else replace that version.
    async fn put_versioned(
        &self,
        what: &str,
        mut item: Item,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        let version = expected.map_or(1, |v| v + 1);
        item.insert("version".into(), n(version));
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
        };
        match put.send().await {
            Ok(_) => Ok(version),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict {
                    what: what.to_string(),
                    expected,
                })
            }
            Err(e) => Err(backend(e)),
        }
    }

    /// The records of one order's partition whose sort key starts with `prefix`
    /// (`POSTING#`, `AUDIT#`), in sort-key order.
    async fn order_records<T: DeserializeOwned>(
        &self,
        store: &str,
        order_id: u64,
        prefix: &str,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        let items = self
            .query_all(
                None,
                "pk = :pk AND begins_with(sk, :p)",
                vec![(":pk", s(order_pk(store, order_id))), (":p", s(prefix))],
                None,
            )
            .await?;
        items.iter().map(|i| record_of(what, i)).collect()
    }

    /// Every item of a query, page after page.
    async fn query_all(
        &self,
        index: Option<&str>,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        limit: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_string))
                .key_condition_expression(condition)
                .set_exclusive_start_key(start.take());
            for (name, value) in &values {
                q = q.expression_attribute_values(*name, value.clone());
            }
            if index.is_none() {
                q = q.consistent_read(true);
            }
            let out = q.send().await.map_err(backend)?;
            items.extend(out.items.unwrap_or_default());
            if limit.is_some_and(|l| items.len() >= l) {
                items.truncate(limit.unwrap_or(usize::MAX));
                return Ok(items);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    fn put_of(
        &self,
        item: Item,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> TransactWriteItem {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        for (k, v) in values {
            put = put.expression_attribute_values(k, v);
        }
        TransactWriteItem::builder()
            .put(put.build().expect("put"))
            .build()
    }
}

#[async_trait]
impl StateStore for DynamoStore {
    async fn order(&self, store: &str, order_id: u64) -> Result<Option<OrderRecord>, StoreError> {
        let what = format!("order {store}/{order_id}");
        self.get(order_pk(store, order_id), "ORDER")
            .await?
            .map(|i| record_of(&what, &i))
            .transpose()
    }

    async fn save_order(
        &self,
        record: &OrderRecord,
        expected: Option<u64>,
    ) -> Result<OrderRecord, StoreError> {
        let mut record = record.clone();
        record.version = expected.map_or(1, |v| v + 1);
        let item = HashMap::from([
            (
                "pk".to_string(),
                s(order_pk(&record.store, record.order_id)),
            ),
            ("sk".to_string(), s("ORDER")),
            ("record".to_string(), s(to_json(&record)?)),
        ]);
        self.put_versioned(
            &format!("order {}/{}", record.store, record.order_id),
            item,
            expected,
        )
        .await?;
        Ok(record)
    }

    async fn posting(&self, key: &PostingKey) -> Result<Option<PostingRecord>, StoreError> {
        self.get(
            order_pk(&key.store, key.order_id),
            &format!("POSTING#{}", key.posting),
        )
        .await?
        .map(|i| record_of(&key.to_string(), &i))
        .transpose()
    }

    async fn postings_of(
        &self,
        store: &str,
        order_id: u64,
    ) -> Result<Vec<PostingRecord>, StoreError> {
        self.order_records(store, order_id, "POSTING#", "posting")
            .await
    }

    async fn create_posting(
        &self,
        record: &PostingRecord,
        audit: &AuditEvent,
    ) -> Result<PostingRecord, StoreError> {
        let mut record = record.clone();
        record.version = 1;
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.put_of(posting_item(&record)?, "attribute_not_exists(pk)", vec![]))
            .transact_items(self.put_of(audit_item(audit)?, "attribute_not_exists(pk)", vec![]))
            .send()
            .await;
        match result {
            Ok(_) => Ok(record),
            Err(e) if cancelled_by_condition(&e) => Err(StoreError::Conflict {
                what: record.key.to_string(),
                expected: None,
            }),
            Err(e) => Err(backend(e)),
        }
    }

    async fn transition(
        &self,
        key: &PostingKey,
        expected: u64,
        state: PostingState,
        journal: Option<&Journal>,
        audit: &AuditEvent,
    ) -> Result<PostingRecord, StoreError> {
        let mut record = self
            .posting(key)
            .await?
            .ok_or_else(|| StoreError::NotFound(key.to_string()))?;
        if record.version != expected {
            return Err(StoreError::Conflict {
                what: key.to_string(),
                expected: Some(expected),
            });
        }
        if !record.state.may_become(&state) {
            return Err(StoreError::IllegalTransition {
                what: key.to_string(),
                from: record.state.name(),
                to: state.name(),
            });
        }
        record.state = state;
        if let Some(j) = journal {
            record.journal = j.clone();
        }
        record.version = expected + 1;
        record.updated_at = audit.at;
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.put_of(
                posting_item(&record)?,
                "version = :v",
                vec![(":v", n(expected))],
            ))
            .transact_items(self.put_of(audit_item(audit)?, "attribute_not_exists(pk)", vec![]))
            .send()
            .await;
        match result {
            Ok(_) => Ok(record),
            Err(e) if cancelled_by_condition(&e) => Err(StoreError::Conflict {
                what: key.to_string(),
                expected: Some(expected),
            }),
            Err(e) => Err(backend(e)),
        }
    }

    async fn postings_in_state(
        &self,
        state: StateName,
        updated_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PostingRecord>, StoreError> {
        let items = self
            .query_all(
                Some(GSI),
                "gsi1pk = :p AND gsi1sk < :t",
                vec![
                    (":p", s(format!("POSTING#{state}"))),
                    (":t", s(stamp(updated_before))),
                ],
                Some(limit),
            )
            .await?;
        items.iter().map(|i| record_of("posting", i)).collect()
    }

    async fn save_import(
        &self,
        record: &ImportRecord,
        expected: Option<u64>,
    ) -> Result<ImportRecord, StoreError> {
        let mut record = record.clone();
        record.version = expected.map_or(1, |v| v + 1);
        let item = HashMap::from([
            ("pk".to_string(), s(format!("IMPORT#{}", record.group_id))),
            ("sk".to_string(), s("IMPORT")),
            (
                "gsi1pk".to_string(),
                s(format!("IMPORT#{}", record.state.as_str())),
            ),
            (
                "gsi1sk".to_string(),
                s(format!(
                    "{}#{:020}",
                    stamp(record.submitted_at),
                    record.group_id
                )),
            ),
            ("record".to_string(), s(to_json(&record)?)),
        ]);
        self.put_versioned(&format!("import {}", record.group_id), item, expected)
            .await?;
        Ok(record)
    }

    async fn import(&self, group_id: u64) -> Result<Option<ImportRecord>, StoreError> {
        self.get(format!("IMPORT#{group_id}"), "IMPORT")
            .await?
            .map(|i| record_of(&format!("import {group_id}"), &i))
            .transpose()
    }

    async fn imports_in_state(
        &self,
        state: ImportState,
        limit: usize,
    ) -> Result<Vec<ImportRecord>, StoreError> {
        let items = self
            .query_all(
                Some(GSI),
                "gsi1pk = :p",
                vec![(":p", s(format!("IMPORT#{}", state.as_str())))],
                Some(limit),
            )
            .await?;
        items.iter().map(|i| record_of("import", i)).collect()
    }

    async fn cursor(&self, store: &str, stream: &str) -> Result<Option<Cursor>, StoreError> {
        self.get(format!("CURSOR#{store}"), &format!("CURSOR#{stream}"))
            .await?
            .map(|i| record_of(&format!("cursor {store}/{stream}"), &i))
            .transpose()
    }

    async fn save_cursor(
        &self,
        cursor: &Cursor,
        expected: Option<u64>,
    ) -> Result<Cursor, StoreError> {
        let mut cursor = cursor.clone();
        cursor.version = expected.map_or(1, |v| v + 1);
        let item = HashMap::from([
            ("pk".to_string(), s(format!("CURSOR#{}", cursor.store))),
            ("sk".to_string(), s(format!("CURSOR#{}", cursor.stream))),
            ("record".to_string(), s(to_json(&cursor)?)),
        ]);
        self.put_versioned(
            &format!("cursor {}/{}", cursor.store, cursor.stream),
            item,
            expected,
        )
        .await?;
        Ok(cursor)
    }

    async fn first_sighting(
        &self,
        key: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // TTL deletion is lazy (up to days late), so an expired item still present is overwritten.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("DEDUPE#{key}")))
            .item("sk", s("DEDUPE"))
            .item(
                "expires_at",
                AttributeValue::N((now.timestamp() + ttl.as_secs() as i64).to_string()),
            )
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn forget_sighting(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("DEDUPE#{key}")))
            .key("sk", s("DEDUPE"))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn next_sequence(&self, name: &str, floor: u64) -> Result<u64, StoreError> {
        // One atomic update: start at `floor - 1` if absent, add one; then lift to the floor
        // when the stored value lags behind it (a conditional second write, retried on a race).
        let key =
            |b: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder| {
                b.table_name(&self.table)
                    .key("pk", s(format!("SEQUENCE#{name}")))
                    .key("sk", s("SEQUENCE"))
            };
        let out = key(self.client.update_item())
            .update_expression("SET #v = if_not_exists(#v, :start) + :one")
            .expression_attribute_names("#v", "value")
            .expression_attribute_values(
                ":start",
                AttributeValue::N(floor.saturating_sub(1).to_string()),
            )
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(backend)?;
        let value = out
            .attributes()
            .and_then(|a| a.get("value"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| StoreError::Backend(format!("sequence {name}: no value returned")))?;
        if value >= floor {
            return Ok(value);
        }
        let lifted = key(self.client.update_item())
            .update_expression("SET #v = :floor")
            .condition_expression("#v < :floor")
            .expression_attribute_names("#v", "value")
            .expression_attribute_values(":floor", AttributeValue::N(floor.to_string()))
            .send()
            .await;
        match lifted {
            Ok(_) => Ok(floor),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                // Someone else moved past the floor meanwhile: take the next value.
                Box::pin(self.next_sequence(name, floor)).await
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(audit_item(event)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict {
                    what: format!("audit event {}", event.id),
                    expected: None,
                })
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn audit_of_order(
        &self,
        store: &str,
        order_id: u64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.order_records(store, order_id, "AUDIT#", "audit event")
            .await
    }

    async fn audit_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let days = (to.date_naive() - from.date_naive()).num_days();
        if !(0..=MAX_AUDIT_DAYS).contains(&days) {
            return Err(StoreError::Backend(format!(
                "audit window of {days} days: give 0 to {MAX_AUDIT_DAYS}"
            )));
        }
        let mut events = Vec::new();
        for d in 0..=days {
            let day = from.date_naive() + chrono::Duration::days(d);
            let items = self
                .query_all(
                    Some(GSI),
                    "gsi1pk = :p AND gsi1sk BETWEEN :a AND :b",
                    vec![
                        (":p", s(format!("AUDIT#{}", day.format("%Y-%m-%d")))),
                        (":a", s(stamp(from))),
                        (":b", s(stamp(to))),
                    ],
                    None,
                )
                .await?;
            for item in &items {
                let event: AuditEvent = record_of("audit event", item)?;
                if event.at >= from && event.at < to {
                    events.push(event);
                }
            }
        }
        events.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(events)
    }
}
