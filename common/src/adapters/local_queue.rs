//! A durable queue in SQLite for the local `mlc` process, with SQS's semantics: visibility
//! timeouts, receive counts, and dead letters after too many receives.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::params;

use super::sqlite::SqliteDb;
use crate::ports::{Queue, QueueError, Received};
use crate::state::StoreError;

/// A named queue in a SQLite database.
#[derive(Clone)]
pub struct LocalQueue {
    db: SqliteDb,
    name: String,
    max_receives: u32,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl LocalQueue {
    /// The queue `name`; a message received `max_receives` times goes to dead letters on the
    /// next receive (SQS's `maxReceiveCount`).
    pub fn new(db: SqliteDb, name: &str, max_receives: u32) -> Self {
        Self {
            db,
            name: name.to_string(),
            max_receives: max_receives.max(1),
        }
    }

    fn error(&self, e: StoreError) -> QueueError {
        QueueError {
            queue: self.name.clone(),
            message: e.to_string(),
        }
    }

    async fn insert(&self, messages: Vec<(String, String)>) -> Result<Vec<String>, QueueError> {
        let name = self.name.clone();
        self.db
            .run(move |c| {
                let tx = c.transaction().map_err(|e| StoreError::Backend(e.to_string()))?;
                let mut seq: i64 = tx
                    .query_row("SELECT COALESCE(MAX(seq), 0) FROM queue_messages WHERE queue = ?1", params![name], |r| r.get(0))
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                let mut ids = Vec::new();
                for (body, attributes) in messages {
                    seq += 1;
                    let id = format!("{name}-{seq:012}-{:08x}", now_ms() as u32);
                    tx.execute(
                        "INSERT INTO queue_messages (queue, id, body, attributes, visible_at, receive_count, dead, seq) VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6)",
                        params![name, id, body, attributes, now_ms(), seq],
                    )
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                    ids.push(id);
                }
                tx.commit().map_err(|e| StoreError::Backend(e.to_string()))?;
                Ok(ids)
            })
            .await
            .map_err(|e| self.error(e))
    }

    async fn take(
        &self,
        max: usize,
        visibility: Duration,
        dead: bool,
    ) -> Result<Vec<Received>, QueueError> {
        let (name, max_receives) = (self.name.clone(), self.max_receives);
        self.db
            .run(move |c| {
                let db = |e: rusqlite::Error| StoreError::Backend(e.to_string());
                let tx = c.transaction().map_err(db)?;
                let now = now_ms();
                let rows: Vec<(String, String, String, u32)> = {
                    let mut stmt = tx
                        .prepare("SELECT id, body, attributes, receive_count FROM queue_messages WHERE queue = ?1 AND dead = ?2 AND visible_at <= ?3 ORDER BY seq LIMIT ?4")
                        .map_err(db)?;
                    let mapped = stmt
                        .query_map(params![name, i64::from(dead), now, (max * 4).max(1) as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                        .map_err(db)?;
                    mapped.collect::<Result<_, _>>().map_err(db)?
                };
                let mut out = Vec::new();
                for (id, body, attributes, count) in rows {
                    if out.len() == max {
                        break;
                    }
                    if !dead && count >= max_receives {
                        tx.execute("UPDATE queue_messages SET dead = 1 WHERE queue = ?1 AND id = ?2", params![name, id]).map_err(db)?;
                        continue;
                    }
                    let receive_count = if dead { count } else { count + 1 };
                    if !dead || !visibility.is_zero() {
                        tx.execute(
                            "UPDATE queue_messages SET receive_count = ?1, visible_at = ?2 WHERE queue = ?3 AND id = ?4",
                            params![receive_count, now + visibility.as_millis() as i64, name, id],
                        )
                        .map_err(db)?;
                    }
                    let attributes: BTreeMap<String, String> = serde_json::from_str(&attributes).unwrap_or_default();
                    out.push(Received { handle: id.clone(), message_id: id, body, attributes, receive_count });
                }
                tx.commit().map_err(db)?;
                Ok(out)
            })
            .await
            .map_err(|e| self.error(e))
    }
}

fn encode(attributes: &[(String, String)]) -> String {
    serde_json::to_string(
        &attributes
            .iter()
            .cloned()
            .collect::<BTreeMap<String, String>>(),
    )
    .expect("attributes serialize")
}

#[async_trait]
impl Queue for LocalQueue {
    async fn send(&self, body: &str, attributes: &[(&str, &str)]) -> Result<String, QueueError> {
        let attrs: Vec<(String, String)> = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ids = self
            .insert(vec![(body.to_string(), encode(&attrs))])
            .await?;
        Ok(ids.into_iter().next().expect("one id"))
    }

    async fn send_batch(
        &self,
        messages: &[(String, Vec<(String, String)>)],
    ) -> Result<Vec<String>, QueueError> {
        self.insert(
            messages
                .iter()
                .map(|(b, a)| (b.clone(), encode(a)))
                .collect(),
        )
        .await
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Received>, QueueError> {
        self.take(max, visibility, false).await
    }

    async fn delete(&self, handle: &str) -> Result<(), QueueError> {
        let (name, id) = (self.name.clone(), handle.to_string());
        self.db
            .run(move |c| {
                c.execute(
                    "DELETE FROM queue_messages WHERE queue = ?1 AND id = ?2",
                    params![name, id],
                )
                .map_err(|e| StoreError::Backend(e.to_string()))?;
                Ok(())
            })
            .await
            .map_err(|e| self.error(e))
    }

    async fn dead_letters(&self, max: usize) -> Result<Vec<Received>, QueueError> {
        self.take(max, Duration::ZERO, true).await
    }

    async fn take_dead_letters(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        // At least a millisecond, so that a zero never leaves them visible to a second taker.
        self.take(max, visibility.max(Duration::from_millis(1)), true)
            .await
    }

    async fn delete_dead_letter(&self, handle: &str) -> Result<(), QueueError> {
        // One table for both: a message id is unique whichever side it is on.
        self.delete(handle).await
    }
}
