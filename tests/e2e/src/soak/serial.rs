//! One state-store request at a time, for every worker of the soak.
//!
//! moto's `TransactWriteItems` copies each table it touches before applying a transaction and,
//! when a condition fails, puts the copies back: any write another request made meanwhile is
//! undone (moto 5.x, `moto/dynamodb/models/__init__.py`). DynamoDB does no such thing, and the
//! connector's claims are exactly such failing conditions, so a soak with concurrent workers on
//! moto loses writes that DynamoDB keeps. Sending one request at a time gives back DynamoDB's
//! guarantee (each request atomic), and keeps every interleaving between requests: a worker
//! still dies between any two of its calls, and others run in between.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::journal::Journal;
use common::ports::StateStore;
use common::state::{
    AuditEvent, Cursor, ImportRecord, ImportState, OrderRecord, PostingKey, PostingRecord,
    PostingState, StateName, StoreError,
};
use tokio::sync::Mutex;

/// A state store whose requests wait for each other.
pub struct OneAtATime {
    /// The real store.
    pub inner: Arc<dyn StateStore>,
    /// Shared by every worker.
    pub lock: Arc<Mutex<Usage>>,
}

/// Requests made and the time the store spent on them (the soak's own cost figures).
#[derive(Debug, Default, Clone, Copy)]
pub struct Usage {
    /// Requests.
    pub requests: u64,
    /// Time spent answering them.
    pub busy: Duration,
}

/// Counts one request while the lock is held.
struct Timed<'a> {
    usage: tokio::sync::MutexGuard<'a, Usage>,
    started: std::time::Instant,
}

impl Drop for Timed<'_> {
    fn drop(&mut self) {
        self.usage.requests += 1;
        self.usage.busy += self.started.elapsed();
    }
}

impl OneAtATime {
    async fn one(&self) -> Timed<'_> {
        Timed {
            usage: self.lock.lock().await,
            started: std::time::Instant::now(),
        }
    }
}

#[async_trait]
impl StateStore for OneAtATime {
    async fn order(&self, store: &str, order_id: u64) -> Result<Option<OrderRecord>, StoreError> {
        let _one = self.one().await;
        self.inner.order(store, order_id).await
    }

    async fn save_order(
        &self,
        record: &OrderRecord,
        expected: Option<u64>,
    ) -> Result<OrderRecord, StoreError> {
        let _one = self.one().await;
        self.inner.save_order(record, expected).await
    }

    async fn posting(&self, key: &PostingKey) -> Result<Option<PostingRecord>, StoreError> {
        let _one = self.one().await;
        self.inner.posting(key).await
    }

    async fn postings_of(
        &self,
        store: &str,
        order_id: u64,
    ) -> Result<Vec<PostingRecord>, StoreError> {
        let _one = self.one().await;
        self.inner.postings_of(store, order_id).await
    }

    async fn create_posting(
        &self,
        record: &PostingRecord,
        audit: &AuditEvent,
    ) -> Result<PostingRecord, StoreError> {
        let _one = self.one().await;
        self.inner.create_posting(record, audit).await
    }

    async fn transition(
        &self,
        key: &PostingKey,
        expected: u64,
        state: PostingState,
        journal: Option<&Journal>,
        audit: &AuditEvent,
    ) -> Result<PostingRecord, StoreError> {
        let _one = self.one().await;
        self.inner
            .transition(key, expected, state, journal, audit)
            .await
    }

    async fn postings_in_state(
        &self,
        state: StateName,
        updated_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PostingRecord>, StoreError> {
        let _one = self.one().await;
        self.inner
            .postings_in_state(state, updated_before, limit)
            .await
    }

    async fn save_import(
        &self,
        record: &ImportRecord,
        expected: Option<u64>,
    ) -> Result<ImportRecord, StoreError> {
        let _one = self.one().await;
        self.inner.save_import(record, expected).await
    }

    async fn import(&self, group_id: u64) -> Result<Option<ImportRecord>, StoreError> {
        let _one = self.one().await;
        self.inner.import(group_id).await
    }

    async fn imports_in_state(
        &self,
        state: ImportState,
        limit: usize,
    ) -> Result<Vec<ImportRecord>, StoreError> {
        let _one = self.one().await;
        self.inner.imports_in_state(state, limit).await
    }

    async fn cursor(&self, store: &str, stream: &str) -> Result<Option<Cursor>, StoreError> {
        let _one = self.one().await;
        self.inner.cursor(store, stream).await
    }

    async fn save_cursor(
        &self,
        cursor: &Cursor,
        expected: Option<u64>,
    ) -> Result<Cursor, StoreError> {
        let _one = self.one().await;
        self.inner.save_cursor(cursor, expected).await
    }

    async fn first_sighting(
        &self,
        key: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _one = self.one().await;
        self.inner.first_sighting(key, ttl, now).await
    }

    async fn forget_sighting(&self, key: &str) -> Result<(), StoreError> {
        let _one = self.one().await;
        self.inner.forget_sighting(key).await
    }

    async fn next_sequence(&self, name: &str, floor: u64) -> Result<u64, StoreError> {
        let _one = self.one().await;
        self.inner.next_sequence(name, floor).await
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let _one = self.one().await;
        self.inner.append_audit(event).await
    }

    async fn audit_of_order(
        &self,
        store: &str,
        order_id: u64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let _one = self.one().await;
        self.inner.audit_of_order(store, order_id).await
    }

    async fn audit_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let _one = self.one().await;
        self.inner.audit_between(from, to).await
    }
}
