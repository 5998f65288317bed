//! SQLite: the state store (and, in `local_queue`, the queue) of the local `mlc` process, with
//! the same semantics as DynamoDB: conditional writes on versions, a posting change and its
//! audit event in one transaction, expiring dedupe keys.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::journal::Journal;
use crate::ports::StateStore;
use crate::state::{
    AuditEvent, Cursor, ImportRecord, ImportState, OrderRecord, PostingKey, PostingRecord,
    PostingState, StateName, StoreError, stamp,
};

/// A SQLite database shared by the local adapters.
#[derive(Clone)]
pub struct SqliteDb {
    conn: Arc<Mutex<Connection>>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS orders (store TEXT NOT NULL, order_id INTEGER NOT NULL, version INTEGER NOT NULL,
    record TEXT NOT NULL, PRIMARY KEY (store, order_id));
CREATE TABLE IF NOT EXISTS postings (store TEXT NOT NULL, order_id INTEGER NOT NULL, posting TEXT NOT NULL,
    state TEXT NOT NULL, updated_at TEXT NOT NULL, version INTEGER NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (store, order_id, posting));
CREATE INDEX IF NOT EXISTS postings_by_state ON postings (state, updated_at);
CREATE TABLE IF NOT EXISTS imports (group_id INTEGER PRIMARY KEY, state TEXT NOT NULL, submitted_at TEXT NOT NULL,
    version INTEGER NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS imports_by_state ON imports (state, submitted_at);
CREATE TABLE IF NOT EXISTS cursors (store TEXT NOT NULL, stream TEXT NOT NULL, version INTEGER NOT NULL,
    record TEXT NOT NULL, PRIMARY KEY (store, stream));
CREATE TABLE IF NOT EXISTS dedupe (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit (id TEXT PRIMARY KEY, at TEXT NOT NULL, store TEXT NOT NULL,
    order_id INTEGER NOT NULL, event TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_order ON audit (store, order_id, id);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at, id);
CREATE TABLE IF NOT EXISTS queue_messages (queue TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
    attributes TEXT NOT NULL, visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL, dead INTEGER NOT NULL,
    seq INTEGER NOT NULL, PRIMARY KEY (queue, id));
CREATE INDEX IF NOT EXISTS queue_visible ON queue_messages (queue, dead, visible_at, seq);
";

impl SqliteDb {
    /// Opens (or creates) a database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))?;
        Self::init(conn)
    }

    /// A private in-memory database (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection off the async threads.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Backend("database lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(backend)?
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(backend)
}

fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: what.to_string(),
        message: e.to_string(),
    })
}

/// The state store on SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    db: SqliteDb,
}

impl SqliteStore {
    /// A store on this database.
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

/// Checks the stored version of a record inside a transaction.
fn check_version(what: &str, stored: Option<u64>, expected: Option<u64>) -> Result<(), StoreError> {
    if stored == expected {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            what: what.to_string(),
            expected,
        })
    }
}

#[async_trait]
impl StateStore for SqliteStore {
    async fn order(&self, store: &str, order_id: u64) -> Result<Option<OrderRecord>, StoreError> {
        let store = store.to_string();
        self.db
            .run(move |c| {
                let text: Option<String> = c
                    .query_row(
                        "SELECT record FROM orders WHERE store = ?1 AND order_id = ?2",
                        params![store, order_id as i64],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(backend)?;
                text.map(|t| from_json(&format!("order {store}/{order_id}"), &t))
                    .transpose()
            })
            .await
    }

    async fn save_order(
        &self,
        record: &OrderRecord,
        expected: Option<u64>,
    ) -> Result<OrderRecord, StoreError> {
        let mut record = record.clone();
        self.db
            .run(move |c| {
                let tx = c.transaction().map_err(backend)?;
                let what = format!("order {}/{}", record.store, record.order_id);
                let stored: Option<i64> = tx
                    .query_row("SELECT version FROM orders WHERE store = ?1 AND order_id = ?2", params![record.store, record.order_id as i64], |r| r.get(0))
                    .optional()
                    .map_err(backend)?;
                check_version(&what, stored.map(|v| v as u64), expected)?;
                record.version = expected.map_or(1, |v| v + 1);
                tx.execute(
                    "INSERT OR REPLACE INTO orders (store, order_id, version, record) VALUES (?1, ?2, ?3, ?4)",
                    params![record.store, record.order_id as i64, record.version as i64, to_json(&record)?],
                )
                .map_err(backend)?;
                tx.commit().map_err(backend)?;
                Ok(record)
            })
            .await
    }

    async fn posting(&self, key: &PostingKey) -> Result<Option<PostingRecord>, StoreError> {
        let key = key.clone();
        self.db
            .run(move |c| {
                let text: Option<String> = c
                    .query_row(
                        "SELECT record FROM postings WHERE store = ?1 AND order_id = ?2 AND posting = ?3",
                        params![key.store, key.order_id as i64, key.posting.to_string()],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(backend)?;
                text.map(|t| from_json(&key.to_string(), &t)).transpose()
            })
            .await
    }

    async fn postings_of(
        &self,
        store: &str,
        order_id: u64,
    ) -> Result<Vec<PostingRecord>, StoreError> {
        let store = store.to_string();
        self.db
            .run(move |c| {
                let mut stmt = c
                    .prepare("SELECT record FROM postings WHERE store = ?1 AND order_id = ?2 ORDER BY posting")
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![store, order_id as i64], |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                rows.map(|t| from_json("posting", &t.map_err(backend)?)).collect()
            })
            .await
    }

    async fn create_posting(
        &self,
        record: &PostingRecord,
        audit: &AuditEvent,
    ) -> Result<PostingRecord, StoreError> {
        let mut record = record.clone();
        let audit = audit.clone();
        self.db
            .run(move |c| {
                let tx = c.transaction().map_err(backend)?;
                record.version = 1;
                let inserted = tx
                    .execute(
                        "INSERT OR IGNORE INTO postings (store, order_id, posting, state, updated_at, version, record)
                         VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
                        params![
                            record.key.store,
                            record.key.order_id as i64,
                            record.key.posting.to_string(),
                            record.state.name().as_str(),
                            stamp(record.updated_at),
                            to_json(&record)?
                        ],
                    )
                    .map_err(backend)?;
                if inserted == 0 {
                    return Err(StoreError::Conflict { what: record.key.to_string(), expected: None });
                }
                insert_audit(&tx, &audit)?;
                tx.commit().map_err(backend)?;
                Ok(record)
            })
            .await
    }

    async fn transition(
        &self,
        key: &PostingKey,
        expected: u64,
        state: PostingState,
        journal: Option<&Journal>,
        audit: &AuditEvent,
    ) -> Result<PostingRecord, StoreError> {
        let key = key.clone();
        let journal = journal.cloned();
        let audit = audit.clone();
        self.db
            .run(move |c| {
                let tx = c.transaction().map_err(backend)?;
                let text: Option<String> = tx
                    .query_row(
                        "SELECT record FROM postings WHERE store = ?1 AND order_id = ?2 AND posting = ?3",
                        params![key.store, key.order_id as i64, key.posting.to_string()],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(backend)?;
                let Some(text) = text else {
                    return Err(StoreError::NotFound(key.to_string()));
                };
                let mut record: PostingRecord = from_json(&key.to_string(), &text)?;
                check_version(&key.to_string(), Some(record.version), Some(expected))?;
                if !record.state.may_become(&state) {
                    return Err(StoreError::IllegalTransition { what: key.to_string(), from: record.state.name(), to: state.name() });
                }
                record.state = state;
                if let Some(j) = journal {
                    record.journal = j;
                }
                record.version = expected + 1;
                record.updated_at = audit.at;
                tx.execute(
                    "UPDATE postings SET state = ?1, updated_at = ?2, version = ?3, record = ?4
                     WHERE store = ?5 AND order_id = ?6 AND posting = ?7 AND version = ?8",
                    params![
                        record.state.name().as_str(),
                        stamp(record.updated_at),
                        record.version as i64,
                        to_json(&record)?,
                        key.store,
                        key.order_id as i64,
                        key.posting.to_string(),
                        expected as i64
                    ],
                )
                .map_err(backend)?;
                insert_audit(&tx, &audit)?;
                tx.commit().map_err(backend)?;
                Ok(record)
            })
            .await
    }

    async fn postings_in_state(
        &self,
        state: StateName,
        updated_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PostingRecord>, StoreError> {
        self.db
            .run(move |c| {
                let mut stmt = c
                    .prepare("SELECT record FROM postings WHERE state = ?1 AND updated_at < ?2 ORDER BY updated_at LIMIT ?3")
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![state.as_str(), stamp(updated_before), limit as i64], |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                rows.map(|t| from_json("posting", &t.map_err(backend)?)).collect()
            })
            .await
    }

    async fn save_import(
        &self,
        record: &ImportRecord,
        expected: Option<u64>,
    ) -> Result<ImportRecord, StoreError> {
        let mut record = record.clone();
        self.db
            .run(move |c| {
                let tx = c.transaction().map_err(backend)?;
                let what = format!("import {}", record.group_id);
                let stored: Option<i64> = tx
                    .query_row("SELECT version FROM imports WHERE group_id = ?1", params![record.group_id as i64], |r| r.get(0))
                    .optional()
                    .map_err(backend)?;
                check_version(&what, stored.map(|v| v as u64), expected)?;
                record.version = expected.map_or(1, |v| v + 1);
                tx.execute(
                    "INSERT OR REPLACE INTO imports (group_id, state, submitted_at, version, record) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![record.group_id as i64, record.state.as_str(), stamp(record.submitted_at), record.version as i64, to_json(&record)?],
                )
                .map_err(backend)?;
                tx.commit().map_err(backend)?;
                Ok(record)
            })
            .await
    }

    async fn import(&self, group_id: u64) -> Result<Option<ImportRecord>, StoreError> {
        self.db
            .run(move |c| {
                let text: Option<String> = c
                    .query_row(
                        "SELECT record FROM imports WHERE group_id = ?1",
                        params![group_id as i64],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(backend)?;
                text.map(|t| from_json(&format!("import {group_id}"), &t))
                    .transpose()
            })
            .await
    }

    async fn imports_in_state(
        &self,
        state: ImportState,
        limit: usize,
    ) -> Result<Vec<ImportRecord>, StoreError> {
        self.db
            .run(move |c| {
                let mut stmt = c
                    .prepare("SELECT record FROM imports WHERE state = ?1 ORDER BY submitted_at LIMIT ?2")
                    .map_err(backend)?;
                let rows = stmt.query_map(params![state.as_str(), limit as i64], |r| r.get::<_, String>(0)).map_err(backend)?;
                rows.map(|t| from_json("import", &t.map_err(backend)?)).collect()
            })
            .await
    }

    async fn cursor(&self, store: &str, stream: &str) -> Result<Option<Cursor>, StoreError> {
        let (store, stream) = (store.to_string(), stream.to_string());
        self.db
            .run(move |c| {
                let text: Option<String> = c
                    .query_row(
                        "SELECT record FROM cursors WHERE store = ?1 AND stream = ?2",
                        params![store, stream],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(backend)?;
                text.map(|t| from_json(&format!("cursor {store}/{stream}"), &t))
                    .transpose()
            })
            .await
    }

    async fn save_cursor(
        &self,
        cursor: &Cursor,
        expected: Option<u64>,
    ) -> Result<Cursor, StoreError> {
        let mut cursor = cursor.clone();
        self.db
            .run(move |c| {
                let tx = c.transaction().map_err(backend)?;
                let what = format!("cursor {}/{}", cursor.store, cursor.stream);
                let stored: Option<i64> = tx
                    .query_row("SELECT version FROM cursors WHERE store = ?1 AND stream = ?2", params![cursor.store, cursor.stream], |r| r.get(0))
                    .optional()
                    .map_err(backend)?;
                check_version(&what, stored.map(|v| v as u64), expected)?;
                cursor.version = expected.map_or(1, |v| v + 1);
                tx.execute(
                    "INSERT OR REPLACE INTO cursors (store, stream, version, record) VALUES (?1, ?2, ?3, ?4)",
                    params![cursor.store, cursor.stream, cursor.version as i64, to_json(&cursor)?],
                )
                .map_err(backend)?;
                tx.commit().map_err(backend)?;
                Ok(cursor)
            })
            .await
    }

    async fn first_sighting(
        &self,
        key: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let key = key.to_string();
        self.db
            .run(move |c| {
                let tx = c.transaction().map_err(backend)?;
                let expires: Option<i64> = tx
                    .query_row(
                        "SELECT expires_at FROM dedupe WHERE key = ?1",
                        params![key],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(backend)?;
                if expires.is_some_and(|e| e > now.timestamp()) {
                    return Ok(false);
                }
                tx.execute(
                    "INSERT OR REPLACE INTO dedupe (key, expires_at) VALUES (?1, ?2)",
                    params![key, now.timestamp() + ttl.as_secs() as i64],
                )
                .map_err(backend)?;
                tx.commit().map_err(backend)?;
                Ok(true)
            })
            .await
    }

    async fn forget_sighting(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_string();
        self.db
            .run(move |c| {
                c.execute("DELETE FROM dedupe WHERE key = ?1", params![key])
                    .map_err(backend)?;
                Ok(())
            })
            .await
    }

    async fn next_sequence(&self, name: &str, floor: u64) -> Result<u64, StoreError> {
        let name = name.to_string();
        let floor = i64::try_from(floor)
            .map_err(|_| StoreError::Backend("sequence floor too large".into()))?;
        self.db
            .run(move |c| {
                let value: i64 = c
                    .query_row(
                        "INSERT INTO sequences (name, value) VALUES (?1, ?2)
                         ON CONFLICT (name) DO UPDATE SET value = max(value + 1, ?2)
                         RETURNING value",
                        params![name, floor],
                        |r| r.get(0),
                    )
                    .map_err(backend)?;
                Ok(value as u64)
            })
            .await
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let event = event.clone();
        self.db.run(move |c| insert_audit(c, &event)).await
    }

    async fn audit_of_order(
        &self,
        store: &str,
        order_id: u64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let store = store.to_string();
        self.db
            .run(move |c| {
                let mut stmt = c
                    .prepare(
                        "SELECT event FROM audit WHERE store = ?1 AND order_id = ?2 ORDER BY id",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![store, order_id as i64], |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                rows.map(|t| from_json("audit event", &t.map_err(backend)?))
                    .collect()
            })
            .await
    }

    async fn audit_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.db
            .run(move |c| {
                let mut stmt = c
                    .prepare("SELECT event FROM audit WHERE at >= ?1 AND at < ?2 ORDER BY at, id")
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![stamp(from), stamp(to)], |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                rows.map(|t| from_json("audit event", &t.map_err(backend)?))
                    .collect()
            })
            .await
    }
}

fn insert_audit(c: &Connection, event: &AuditEvent) -> Result<(), StoreError> {
    let inserted = c
        .execute(
            "INSERT OR IGNORE INTO audit (id, at, store, order_id, event) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![event.id, stamp(event.at), event.store, event.order_id as i64, to_json(event)?],
        )
        .map_err(backend)?;
    if inserted == 0 {
        return Err(StoreError::Conflict {
            what: format!("audit event {}", event.id),
            expected: None,
        });
    }
    Ok(())
}
