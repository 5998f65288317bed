//! Crashes where the pipeline has side effects: the state store and the queue, wrapped so that
//! right after (or right before) a chosen call the worker's invocation dies. "Dies" is literal:
//! the wrapper signals the worker's [`CrashSwitch`] and never returns, and the worker drops
//! the whole invocation future, so nothing after that point runs, as when a Lambda container
//! is killed mid-invocation.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::journal::Journal;
use common::ports::{Queue, QueueError, Received, StateStore};
use common::state::{
    Actor, AuditEvent, Cursor, ImportRecord, ImportState, OrderRecord, PostingKey, PostingRecord,
    PostingState, StateName, StoreError,
};

use super::rng::Rng;

/// The points where a worker can die: after each side effect and before the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CrashPoint {
    /// The webhook function queued the order, but BigCommerce never got its 200.
    AfterQueueing,
    /// The webhook function recorded the delivery's id, but queued nothing.
    AfterSighting,
    /// The poster recorded a posting (Queued), then died.
    AfterRecordingPosting,
    /// The poster (or tracker) claimed postings for an import, then died before sending it.
    AfterClaim,
    /// The import record was written; the import was never sent.
    AfterImportRecord,
    /// Oracle accepted the import; its request id was never recorded.
    AfterImportPost,
    /// The poster remembered the order as seen, then died.
    AfterRememberingOrder,
    /// The poster's work was recorded, but its messages were never deleted.
    BeforeDeletingMessages,
    /// The tracker moved a posting (Posted, Rejected, requeued, split), then died.
    InTheTracker,
    /// A poll sweep moved its cursor, then died.
    AfterCursor,
}

impl CrashPoint {
    /// Every point, for the report.
    pub const ALL: [CrashPoint; 10] = [
        CrashPoint::AfterQueueing,
        CrashPoint::AfterSighting,
        CrashPoint::AfterRecordingPosting,
        CrashPoint::AfterClaim,
        CrashPoint::AfterImportRecord,
        CrashPoint::AfterImportPost,
        CrashPoint::AfterRememberingOrder,
        CrashPoint::BeforeDeletingMessages,
        CrashPoint::InTheTracker,
        CrashPoint::AfterCursor,
    ];

    /// How the report names it.
    pub fn name(self) -> &'static str {
        match self {
            CrashPoint::AfterQueueing => "crash after queueing",
            CrashPoint::AfterSighting => "crash after recording the sighting",
            CrashPoint::AfterRecordingPosting => "crash after recording a posting",
            CrashPoint::AfterClaim => "crash after the claim",
            CrashPoint::AfterImportRecord => "crash after recording the import, before sending",
            CrashPoint::AfterImportPost => "crash after the import POST, before recording it",
            CrashPoint::AfterRememberingOrder => "crash after remembering the order",
            CrashPoint::BeforeDeletingMessages => "crash after recording, before deleting",
            CrashPoint::InTheTracker => "crash in the middle of the tracker",
            CrashPoint::AfterCursor => "crash after moving a poll cursor",
        }
    }
}

/// What decides the crashes: one per soak, shared by every worker. Each worker draws from its
/// own seeded stream (see [`Chaos::worker`]).
pub struct Chaos {
    active: AtomicBool,
    rate: f64,
    seed: u64,
    crashes: Mutex<BTreeMap<CrashPoint, u64>>,
}

impl Chaos {
    /// Crashes at each point with probability `rate`, drawn from `seed`.
    pub fn new(seed: u64, rate: f64) -> Arc<Self> {
        Arc::new(Self {
            active: AtomicBool::new(true),
            rate,
            seed,
            crashes: Mutex::new(BTreeMap::new()),
        })
    }

    /// No more crashes (the soak's settling phase).
    pub fn calm(&self) {
        self.active.store(false, Ordering::SeqCst);
    }

    /// The decider of one worker container (`name` picks its stream, `life` its incarnation).
    pub fn worker(self: &Arc<Self>, name: &str, life: u64) -> Arc<WorkerChaos> {
        Arc::new(WorkerChaos {
            chaos: self.clone(),
            rng: Mutex::new(Rng::stream(self.seed, &format!("{name}#{life}"))),
            switch: CrashSwitch::default(),
        })
    }

    /// Crashes by point so far.
    pub fn crashes(&self) -> BTreeMap<CrashPoint, u64> {
        self.crashes.lock().unwrap().clone()
    }

    fn count(&self, point: CrashPoint) {
        *self.crashes.lock().unwrap().entry(point).or_default() += 1;
    }
}

/// Fired when the worker must die; the worker races its invocation against it.
#[derive(Default)]
pub struct CrashSwitch {
    notify: tokio::sync::Notify,
    fired: AtomicU64,
}

impl CrashSwitch {
    /// Resolves once a crash was fired.
    pub async fn fired(&self) {
        self.notify.notified().await;
    }
}

/// One worker container's crash decisions and its switch.
pub struct WorkerChaos {
    chaos: Arc<Chaos>,
    rng: Mutex<Rng>,
    /// What the worker races its invocation against.
    pub switch: CrashSwitch,
}

impl WorkerChaos {
    /// Whether to die at `point` now; when yes, it is counted and the switch fires.
    pub fn should_crash(&self, point: CrashPoint) -> bool {
        if !self.chaos.active.load(Ordering::SeqCst) {
            return false;
        }
        if !self.rng.lock().unwrap().chance(self.chaos.rate) {
            return false;
        }
        self.chaos.count(point);
        self.switch.fired.fetch_add(1, Ordering::SeqCst);
        self.switch.notify.notify_one();
        true
    }

    /// Dies at `point` if the dice say so: never returns then.
    async fn maybe_die(&self, point: CrashPoint) {
        if self.should_crash(point) {
            std::future::pending::<()>().await;
        }
    }

    /// Runs one invocation; `None` when the worker died during it (the future was dropped at
    /// the crash point, so nothing after that point ran).
    pub async fn run<T>(&self, invocation: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            _ = self.switch.fired() => None,
            out = invocation => Some(out),
        }
    }
}

/// The state store, with deaths after its writes.
pub struct ChaosStore {
    /// The real store.
    pub inner: Arc<dyn StateStore>,
    /// The container's decider.
    pub chaos: Arc<WorkerChaos>,
}

#[async_trait]
impl StateStore for ChaosStore {
    async fn order(&self, store: &str, order_id: u64) -> Result<Option<OrderRecord>, StoreError> {
        self.inner.order(store, order_id).await
    }

    async fn save_order(
        &self,
        record: &OrderRecord,
        expected: Option<u64>,
    ) -> Result<OrderRecord, StoreError> {
        let saved = self.inner.save_order(record, expected).await?;
        self.chaos
            .maybe_die(CrashPoint::AfterRememberingOrder)
            .await;
        Ok(saved)
    }

    async fn posting(&self, key: &PostingKey) -> Result<Option<PostingRecord>, StoreError> {
        self.inner.posting(key).await
    }

    async fn postings_of(
        &self,
        store: &str,
        order_id: u64,
    ) -> Result<Vec<PostingRecord>, StoreError> {
        self.inner.postings_of(store, order_id).await
    }

    async fn create_posting(
        &self,
        record: &PostingRecord,
        audit: &AuditEvent,
    ) -> Result<PostingRecord, StoreError> {
        let created = self.inner.create_posting(record, audit).await?;
        self.chaos
            .maybe_die(CrashPoint::AfterRecordingPosting)
            .await;
        Ok(created)
    }

    async fn transition(
        &self,
        key: &PostingKey,
        expected: u64,
        state: PostingState,
        journal: Option<&Journal>,
        audit: &AuditEvent,
    ) -> Result<PostingRecord, StoreError> {
        let claim = matches!(
            state,
            PostingState::Submitted {
                request_id: None,
                ..
            }
        );
        let by_tracker = audit.actor == Actor::Tracker;
        let moved = self
            .inner
            .transition(key, expected, state, journal, audit)
            .await?;
        if claim {
            self.chaos.maybe_die(CrashPoint::AfterClaim).await;
        } else if by_tracker {
            self.chaos.maybe_die(CrashPoint::InTheTracker).await;
        }
        Ok(moved)
    }

    async fn postings_in_state(
        &self,
        state: StateName,
        updated_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PostingRecord>, StoreError> {
        self.inner
            .postings_in_state(state, updated_before, limit)
            .await
    }

    async fn save_import(
        &self,
        record: &ImportRecord,
        expected: Option<u64>,
    ) -> Result<ImportRecord, StoreError> {
        // Recording the request id is the first thing done after Oracle accepted the import:
        // dying before it is dying after the POST.
        if expected.is_some() && record.request_id.is_some() {
            self.chaos.maybe_die(CrashPoint::AfterImportPost).await;
        }
        let saved = self.inner.save_import(record, expected).await?;
        if expected.is_none() && record.state == ImportState::Submitted {
            self.chaos.maybe_die(CrashPoint::AfterImportRecord).await;
        }
        Ok(saved)
    }

    async fn import(&self, group_id: u64) -> Result<Option<ImportRecord>, StoreError> {
        self.inner.import(group_id).await
    }

    async fn imports_in_state(
        &self,
        state: ImportState,
        limit: usize,
    ) -> Result<Vec<ImportRecord>, StoreError> {
        self.inner.imports_in_state(state, limit).await
    }

    async fn cursor(&self, store: &str, stream: &str) -> Result<Option<Cursor>, StoreError> {
        self.inner.cursor(store, stream).await
    }

    async fn save_cursor(
        &self,
        cursor: &Cursor,
        expected: Option<u64>,
    ) -> Result<Cursor, StoreError> {
        let saved = self.inner.save_cursor(cursor, expected).await?;
        self.chaos.maybe_die(CrashPoint::AfterCursor).await;
        Ok(saved)
    }

    async fn first_sighting(
        &self,
        key: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let first = self.inner.first_sighting(key, ttl, now).await?;
        if first {
            self.chaos.maybe_die(CrashPoint::AfterSighting).await;
        }
        Ok(first)
    }

    async fn forget_sighting(&self, key: &str) -> Result<(), StoreError> {
        self.inner.forget_sighting(key).await
    }

    async fn next_sequence(&self, name: &str, floor: u64) -> Result<u64, StoreError> {
        self.inner.next_sequence(name, floor).await
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.inner.append_audit(event).await
    }

    async fn audit_of_order(
        &self,
        store: &str,
        order_id: u64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.inner.audit_of_order(store, order_id).await
    }

    async fn audit_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.inner.audit_between(from, to).await
    }
}

/// The queue, with deaths after sending.
pub struct ChaosQueue {
    /// The real queue.
    pub inner: Arc<dyn Queue>,
    /// The container's decider.
    pub chaos: Arc<WorkerChaos>,
}

#[async_trait]
impl Queue for ChaosQueue {
    async fn send(&self, body: &str, attributes: &[(&str, &str)]) -> Result<String, QueueError> {
        let id = self.inner.send(body, attributes).await?;
        self.chaos.maybe_die(CrashPoint::AfterQueueing).await;
        Ok(id)
    }

    async fn send_batch(
        &self,
        messages: &[(String, Vec<(String, String)>)],
    ) -> Result<Vec<String>, QueueError> {
        let ids = self.inner.send_batch(messages).await?;
        self.chaos.maybe_die(CrashPoint::AfterQueueing).await;
        Ok(ids)
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Received>, QueueError> {
        self.inner.receive(max, visibility).await
    }

    async fn delete(&self, handle: &str) -> Result<(), QueueError> {
        self.inner.delete(handle).await
    }

    async fn dead_letters(&self, max: usize) -> Result<Vec<Received>, QueueError> {
        self.inner.dead_letters(max).await
    }

    async fn take_dead_letters(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        self.inner.take_dead_letters(max, visibility).await
    }

    async fn delete_dead_letter(&self, handle: &str) -> Result<(), QueueError> {
        self.inner.delete_dead_letter(handle).await
    }
}
