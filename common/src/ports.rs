//! Ports: the traits the application services depend on, so the same services run against the
//! real systems (DynamoDB, SQS, Secrets Manager, BigCommerce, Fusion), the local ones (SQLite, a
//! file) and the sandboxes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::bigcommerce::api::{Channel, Hook, HookUpdate, NewHook, RefundPolicy, TimeWindow};
use crate::bigcommerce::{BcError, CategoryTree, Order, OrderBundle, Refund, Transaction};
use crate::config::{ConfigError, ConnectorConfig};
use crate::journal::Journal;
use crate::oracle::{BatchRecord, JobStatus, LedgerRecord, OracleError, Period, Submission};
use crate::state::{
    AuditEvent, Cursor, ImportRecord, ImportState, OrderRecord, PostingKey, PostingRecord,
    PostingState, StateName, StoreError,
};

/// What the connector needs from one BigCommerce store. Every method is one logical operation;
/// implementations decide how many HTTP calls it takes (pagination, fallbacks, caches) and
/// handle rate limits and transient failures themselves, so callers see either the result or a
/// typed error that names the call that failed.
#[async_trait]
pub trait BigCommerceApi: Send + Sync {
    /// The order with its line items, the categories of its products, the category tree, and
    /// its refunds as `refunds` asks.
    async fn fetch_bundle(
        &self,
        order_id: u64,
        refunds: RefundPolicy,
    ) -> Result<OrderBundle, BcError>;

    /// Orders modified within the window (bounds included), oldest change first, with their
    /// line items where the store sends them with the order.
    async fn orders_modified(&self, window: TimeWindow) -> Result<Vec<Order>, BcError>;

    /// Refunds of one order, oldest first.
    async fn refunds_of(&self, order_id: u64) -> Result<Vec<Refund>, BcError>;

    /// An order's payment transactions (`GET /v3/orders/{id}/transactions`): the only place
    /// BigCommerce names the gateway that took the money. One call; read only when a mapping
    /// rule needs the gateway.
    async fn order_transactions(&self, order_id: u64) -> Result<Vec<Transaction>, BcError>;

    /// Refunds created within the window (bounds included), oldest first.
    async fn refunds_created(&self, window: TimeWindow) -> Result<Vec<Refund>, BcError>;

    /// Category ids of each product (products that no longer exist map to none).
    async fn product_categories(
        &self,
        product_ids: &[u64],
    ) -> Result<BTreeMap<u64, Vec<u64>>, BcError>;

    /// The store's category tree.
    async fn category_tree(&self) -> Result<CategoryTree, BcError>;

    /// The store's channels (storefronts, marketplaces, POS).
    async fn channels(&self) -> Result<Vec<Channel>, BcError>;

    /// The hooks of this API account.
    async fn hooks(&self) -> Result<Vec<Hook>, BcError>;

    /// Registers a hook.
    async fn create_hook(&self, hook: &NewHook) -> Result<Hook, BcError>;

    /// Changes a hook (destination, headers, `is_active`).
    async fn update_hook(&self, hook_id: u64, update: &HookUpdate) -> Result<Hook, BcError>;

    /// HTTP requests sent so far, retries included (metrics); 0 where not counted.
    fn calls(&self) -> u64 {
        0
    }

    /// Creates or replaces an order metafield (the journal reference kept on the order).
    async fn put_order_metafield(
        &self,
        order_id: u64,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Result<(), BcError>;
}

/// What the connector needs from Oracle Fusion. Implementations retry reads themselves and
/// never resend an import whose outcome is unknown (they say so with
/// [`OracleError::OutcomeUnknown`]).
#[async_trait]
pub trait OracleApi: Send + Sync {
    /// Sends journals (one ledger) as one Journal Import in group `group_id`.
    async fn submit_import(
        &self,
        journals: &[Journal],
        group_id: u64,
    ) -> Result<Submission, OracleError>;

    /// The state of an import's job.
    async fn job_status(&self, request_id: u64) -> Result<JobStatus, OracleError>;

    /// The job's log (where Journal Import writes why it rejected a group).
    async fn job_log(&self, request_id: u64) -> Result<String, OracleError>;

    /// Batches whose name starts with `name_prefix`, with journals and lines when asked.
    async fn find_batches(
        &self,
        name_prefix: &str,
        with_lines: bool,
    ) -> Result<Vec<BatchRecord>, OracleError>;

    /// The ledger's General Ledger period containing `date`, if the calendar has one.
    async fn period_for_date(
        &self,
        ledger_id: u64,
        date: chrono::NaiveDate,
    ) -> Result<Option<Period>, OracleError>;

    /// The first open period starting after `after`.
    async fn next_open_period(
        &self,
        ledger_id: u64,
        after: chrono::NaiveDate,
    ) -> Result<Option<Period>, OracleError>;

    /// The ledgers the integration user can see.
    async fn ledgers(&self) -> Result<Vec<LedgerRecord>, OracleError>;
}

/// The time, injected so that time-dependent logic (signature windows, cursors, stuck imports)
/// can be tested without waiting.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Where the connector keeps its state. Reads are plain; every write is conditional:
///
/// - `expected: None` creates and fails with [`StoreError::Conflict`] if the record exists;
/// - `expected: Some(v)` replaces version `v` (the stored version becomes `v + 1`) and fails
///   with a conflict if the stored version is not `v`.
///
/// A posting change and its audit event are written in one transaction: both or neither.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The order as last seen.
    async fn order(&self, store: &str, order_id: u64) -> Result<Option<OrderRecord>, StoreError>;

    /// Creates or replaces the order record (conditional on `expected`).
    async fn save_order(
        &self,
        record: &OrderRecord,
        expected: Option<u64>,
    ) -> Result<OrderRecord, StoreError>;

    /// One posting.
    async fn posting(&self, key: &PostingKey) -> Result<Option<PostingRecord>, StoreError>;

    /// Every posting of an order.
    async fn postings_of(
        &self,
        store: &str,
        order_id: u64,
    ) -> Result<Vec<PostingRecord>, StoreError>;

    /// Creates a posting (it must not exist) with its audit event, atomically.
    async fn create_posting(
        &self,
        record: &PostingRecord,
        audit: &AuditEvent,
    ) -> Result<PostingRecord, StoreError>;

    /// Moves a posting from version `expected` to `state` (and, when given, a re-dated
    /// journal), with its audit event, atomically. Refuses moves [`PostingState::may_become`]
    /// forbids, as a conflict.
    async fn transition(
        &self,
        key: &PostingKey,
        expected: u64,
        state: PostingState,
        journal: Option<&Journal>,
        audit: &AuditEvent,
    ) -> Result<PostingRecord, StoreError>;

    /// Postings in `state` last changed before `updated_before`, oldest first (stuck
    /// submissions, held and rejected postings for review).
    async fn postings_in_state(
        &self,
        state: StateName,
        updated_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PostingRecord>, StoreError>;

    /// Creates or replaces an import record.
    async fn save_import(
        &self,
        record: &ImportRecord,
        expected: Option<u64>,
    ) -> Result<ImportRecord, StoreError>;

    /// One import.
    async fn import(&self, group_id: u64) -> Result<Option<ImportRecord>, StoreError>;

    /// Imports in a state, oldest first.
    async fn imports_in_state(
        &self,
        state: ImportState,
        limit: usize,
    ) -> Result<Vec<ImportRecord>, StoreError>;

    /// A poll cursor.
    async fn cursor(&self, store: &str, stream: &str) -> Result<Option<Cursor>, StoreError>;

    /// Creates or moves a poll cursor.
    async fn save_cursor(
        &self,
        cursor: &Cursor,
        expected: Option<u64>,
    ) -> Result<Cursor, StoreError>;

    /// Records `key` (a webhook id) for `ttl`; true the first time, false while it is
    /// remembered. Atomic: of many callers with the same key, one gets true.
    async fn first_sighting(
        &self,
        key: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Forgets `key`, so the next sighting is a first one again. For a delivery whose work
    /// could not be handed on (the queue refused it): the sender's retry must not be taken for
    /// a duplicate.
    async fn forget_sighting(&self, key: &str) -> Result<(), StoreError>;

    /// The next value of the named sequence: at least `floor`, and greater than every value
    /// handed out before, across processes (GROUP_IDs of Journal Import).
    async fn next_sequence(&self, name: &str, floor: u64) -> Result<u64, StoreError>;

    /// Appends an audit event (never changed afterwards).
    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// An order's whole story, oldest first.
    async fn audit_of_order(
        &self,
        store: &str,
        order_id: u64,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    /// Everything that happened in `[from, to)`, oldest first (reconciliation).
    async fn audit_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}

/// A queue failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("queue {queue}: {message}")]
pub struct QueueError {
    /// Queue name or URL.
    pub queue: String,
    /// What failed.
    pub message: String,
}

/// A message received from a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// What `delete` takes (SQS receipt handle, local message id).
    pub handle: String,
    /// The message id.
    pub message_id: String,
    /// The body.
    pub body: String,
    /// String attributes (`kind`…).
    pub attributes: BTreeMap<String, String>,
    /// Times it has been received, this one included.
    pub receive_count: u32,
}

/// A work queue with at-least-once delivery: a received message comes back after its
/// visibility timeout unless deleted, and goes to the dead-letter queue after too many
/// receives. Nothing leaves the queue until its outcome is recorded and it is deleted.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends one message.
    async fn send(&self, body: &str, attributes: &[(&str, &str)]) -> Result<String, QueueError>;

    /// Sends many (in as few calls as the backend allows); returns the message ids.
    async fn send_batch(
        &self,
        messages: &[(String, Vec<(String, String)>)],
    ) -> Result<Vec<String>, QueueError>;

    /// Up to `max` visible messages, hidden for `visibility`.
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Received>, QueueError>;

    /// Done with a message.
    async fn delete(&self, handle: &str) -> Result<(), QueueError>;

    /// Up to `max` messages from the dead-letter queue (left there).
    async fn dead_letters(&self, max: usize) -> Result<Vec<Received>, QueueError>;

    /// Up to `max` dead letters, hidden for `visibility` while they are moved back: two
    /// operators redriving at once do not both take the same message.
    async fn take_dead_letters(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError>;

    /// Done with a dead letter (it was sent to the queue again).
    async fn delete_dead_letter(&self, handle: &str) -> Result<(), QueueError>;
}

/// Why the connector document could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The secret or file does not exist.
    #[error("{source_name}: not found")]
    NotFound {
        /// Secret id or path.
        source_name: String,
    },
    /// It exists but could not be read.
    #[error("{source_name}: {message}")]
    Unreadable {
        /// Secret id or path.
        source_name: String,
        /// Why.
        message: String,
    },
    /// It was read but is not a valid connector document.
    #[error("{0}")]
    Invalid(ConfigError),
}

/// Where the connector document comes from: Secrets Manager in AWS, a file locally.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The current document (implementations cache it for a while).
    async fn connector_document(&self) -> Result<Arc<ConnectorConfig>, SourceError>;
}

/// One stored version of the connector document, as text: what `mlc config pull` writes and
/// what `mlc config push` compares a new document against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentVersion {
    /// The document exactly as stored (it holds secrets: never log it).
    pub text: String,
    /// The store's id of this version (Secrets Manager's `VersionId`).
    pub version_id: String,
}

/// Why a version could not be read or written; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The call failed (permissions, network, no such secret).
    #[error("{source_name}: {message}")]
    Call {
        /// Secret id.
        source_name: String,
        /// Why.
        message: String,
    },
    /// Someone wrote another version after this one was read: the change shown is not the
    /// change that would be made.
    #[error(
        "{source_name}: a new version ({found}) was written since version {read} was read; run the push again to see the changes against it"
    )]
    Changed {
        /// Secret id.
        source_name: String,
        /// The version read.
        read: String,
        /// The version now current.
        found: String,
    },
}

/// The connector document's versions, for the operator who changes it: read the current one
/// whole, write a new one. The functions only read (through [`SecretSource`]).
#[async_trait]
pub trait DocumentVersions: Send + Sync {
    /// The current version, uncached; `None` when the secret holds no value yet.
    async fn current_version(&self) -> Result<Option<DocumentVersion>, VersionError>;

    /// Writes `text` as the new current version and returns its id, unless the current
    /// version is no longer `read` (the id of what the caller compared against; `None`: there
    /// was no value).
    async fn put_version(&self, text: &str, read: Option<&str>) -> Result<String, VersionError>;
}

/// The four ports every entry point builds once and hands on: the webhook function and
/// `mlc serve` take deliveries over them, the poster and poller build their services over them.
/// One value, so a front door cannot be wired with a port the other lacks.
#[derive(Clone)]
pub struct Ports {
    /// The connector document (Secrets Manager, or a file).
    pub source: Arc<dyn SecretSource>,
    /// Posting state, audit and delivery ids (DynamoDB, or SQLite).
    pub store: Arc<dyn StateStore>,
    /// The orders queue (SQS, or the SQLite queue).
    pub queue: Arc<dyn Queue>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}
