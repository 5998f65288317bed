//! What the connector remembers: orders as last seen, postings and their states, imports,
//! poll cursors, webhook ids already seen, and the audit trail.
//!
//! Every record carries a version; every change is conditional on the version it was read at,
//! so two Lambdas (or a webhook racing the poller) cannot both move a posting: the loser gets
//! [`StoreError::Conflict`] and re-reads. A posting's life:
//!
//! ```text
//! Queued ──▶ Submitted(group, request) ──▶ Posted(batch) │ Rejected(reason) │ Held(reason)
//!    ╰──────────────────────────────────────▶ Held(reason)      (closed period, unmapped value)
//! Held / Rejected ──replay──▶ Queued
//! ```
//! Posted is final: corrections are new postings (reversal, adjustment), never edits.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::journal::{Journal, PostingKind};

/// Why the store could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Someone else changed (or created) the record first; re-read and decide again.
    #[error("{what}: changed by someone else (expected version {expected:?}); re-read it")]
    Conflict {
        /// The record.
        what: String,
        /// The version the caller expected (None: expected it not to exist).
        expected: Option<u64>,
    },
    /// The record does not exist.
    #[error("{0}: not found")]
    NotFound(String),
    /// The change would break a posting's life cycle (Posted never changes, for one).
    #[error("{what}: a posting cannot go from {from} to {to}")]
    IllegalTransition {
        /// The posting.
        what: String,
        /// Its state.
        from: StateName,
        /// The state asked for.
        to: StateName,
    },
    /// A stored record cannot be read back.
    #[error("{what}: stored record is unreadable: {message}")]
    Corrupt {
        /// The record.
        what: String,
        /// Why.
        message: String,
    },
    /// The database failed (network, throttling, disk).
    #[error("state store: {0}")]
    Backend(String),
}

impl StoreError {
    /// Worth retrying as it is (the queue redelivers).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Backend(_))
    }
}

/// Timestamps as stored: UTC, microseconds, fixed width, so they sort as text.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Which posting of which order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PostingKey {
    /// Store id.
    pub store: String,
    /// Order id.
    pub order_id: u64,
    /// Posting.
    pub posting: PostingKind,
}

impl fmt::Display for PostingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.store, self.order_id, self.posting)
    }
}

/// The name of a posting state (what indexes and queries use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateName {
    /// Waiting to be sent.
    Queued,
    /// Sent to Oracle, outcome pending.
    Submitted,
    /// In the ledger.
    Posted,
    /// Refused for good.
    Rejected,
    /// Waiting for a person.
    Held,
}

impl StateName {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            StateName::Queued => "queued",
            StateName::Submitted => "submitted",
            StateName::Posted => "posted",
            StateName::Rejected => "rejected",
            StateName::Held => "held",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            StateName::Queued,
            StateName::Submitted,
            StateName::Posted,
            StateName::Rejected,
            StateName::Held,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a posting is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PostingState {
    /// Decided, not sent yet.
    Queued,
    /// Sent in import `group_id` (request id when the submission was answered).
    Submitted {
        /// GROUP_ID.
        group_id: u64,
        /// ReqstId.
        request_id: Option<u64>,
    },
    /// Imported: the batch exists.
    Posted {
        /// JeBatchId.
        batch_id: u64,
        /// GROUP_ID.
        group_id: u64,
        /// ReqstId, when known.
        request_id: Option<u64>,
    },
    /// Refused for good (a replay can requeue it after a fix).
    Rejected {
        /// Why.
        reason: String,
    },
    /// Waiting for a person.
    Held {
        /// Why.
        reason: String,
    },
}

impl PostingState {
    /// The state's name.
    pub fn name(&self) -> StateName {
        match self {
            PostingState::Queued => StateName::Queued,
            PostingState::Submitted { .. } => StateName::Submitted,
            PostingState::Posted { .. } => StateName::Posted,
            PostingState::Rejected { .. } => StateName::Rejected,
            PostingState::Held { .. } => StateName::Held,
        }
    }

    /// Whether a posting may move from `self` to `next`. Posted never changes; Held and
    /// Rejected only go back to Queued (a replay) or from Held to Rejected.
    pub fn may_become(&self, next: &PostingState) -> bool {
        use StateName::*;
        matches!(
            (self.name(), next.name()),
            (Queued, Submitted | Posted | Rejected | Held)
                | (Submitted, Submitted | Posted | Rejected | Held | Queued)
                // Held or Rejected, yet found in the ledger (a replay looks first).
                | (Held, Queued | Rejected | Posted)
                | (Rejected, Queued | Posted)
        )
    }
}

/// A posting: its state and the journal it sends (or sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostingRecord {
    /// Which posting.
    pub key: PostingKey,
    /// Where it is.
    pub state: PostingState,
    /// The journal, as sent (a closed-period policy may re-date it).
    pub journal: Journal,
    /// Version; changes only through conditional writes.
    pub version: u64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// When the change behind this posting was first seen (webhook or sweep): the start of
    /// the end-to-end latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_at: Option<DateTime<Utc>>,
}

impl PostingRecord {
    /// A posting of `journal` (its store, order and posting key) in `state`, not yet stored
    /// (version 0), created at `at`.
    pub fn new(journal: Journal, state: PostingState, at: DateTime<Utc>) -> Self {
        Self {
            key: PostingKey {
                store: journal.store.clone(),
                order_id: journal.order_id,
                posting: journal.posting,
            },
            state,
            journal,
            version: 0,
            created_at: at,
            updated_at: at,
            seen_at: None,
        }
    }
}

/// An order as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// Store id.
    pub store: String,
    /// Order id.
    pub order_id: u64,
    /// BigCommerce's `date_modified` when last seen.
    pub date_modified: Option<DateTime<Utc>>,
    /// Fingerprint of the financially relevant content when last seen.
    pub fingerprint: String,
    /// Status id when last seen.
    pub status_id: u32,
    /// A change waits for a posting in flight: the tracker queues the order again once that
    /// posting is settled.
    #[serde(default)]
    pub waiting: bool,
    /// Version.
    pub version: u64,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Where an import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportState {
    /// Sent; the job has not ended.
    Submitted,
    /// The job succeeded.
    Succeeded,
    /// The job failed.
    Failed,
    /// Its answer was lost; its batches are being looked for.
    Unknown,
}

impl ImportState {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportState::Submitted => "submitted",
            ImportState::Succeeded => "succeeded",
            ImportState::Failed => "failed",
            ImportState::Unknown => "unknown",
        }
    }
}

/// One FBDI submission and the postings in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRecord {
    /// GROUP_ID (unique per import).
    pub group_id: u64,
    /// ReqstId, when the submission was answered.
    pub request_id: Option<u64>,
    /// The postings it carries.
    pub postings: Vec<PostingKey>,
    /// Where it is.
    pub state: ImportState,
    /// Sent.
    pub submitted_at: DateTime<Utc>,
    /// Version.
    pub version: u64,
}

/// How far a poll stream has read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Store id.
    pub store: String,
    /// `orders` or `refunds`.
    pub stream: String,
    /// Everything modified (or created) before this was seen.
    pub position: DateTime<Utc>,
    /// Version.
    pub version: u64,
}

/// Who did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The webhook function.
    Webhook,
    /// The scheduled sweep.
    Poller,
    /// The posting function.
    Poster,
    /// The import tracker.
    Tracker,
    /// A replay.
    Replay,
    /// A person, through `mlc`.
    Operator,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A webhook delivery was accepted.
    Received,
    /// The order was read from BigCommerce.
    Fetched,
    /// A journal was built; `detail` says which rule decided each account.
    Mapped,
    /// The journal passed the checks before submission.
    Validated,
    /// Sent to Oracle.
    Submitted,
    /// The import job ended well.
    Imported,
    /// The batch is in the ledger.
    Posted,
    /// Refused for good.
    Rejected,
    /// Waiting for a person.
    Held,
    /// A reversal was decided.
    Reversed,
    /// An adjustment (delta) was decided.
    Adjusted,
    /// A cancelled order came back to a sale status; the journal that books it again waits
    /// for a person.
    Reinstated,
    /// A held posting the order no longer needs was rejected.
    Superseded,
    /// Requeued by a replay.
    Replayed,
    /// A webhook was created, reactivated or redirected.
    HookRepaired,
    /// A reconciliation found a change never taken up and queued the order.
    Reconciled,
}

/// One entry of the audit trail. Never changed once written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unique, sortable id: the time and a sequence.
    pub id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: Actor,
    /// What.
    pub kind: AuditKind,
    /// Store id.
    pub store: String,
    /// Order id.
    pub order_id: u64,
    /// The posting concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posting: Option<PostingKind>,
    /// State before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<StateName>,
    /// State after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<StateName>,
    /// The batch this one relates to (a refund's or reversal's sale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links_to: Option<String>,
    /// Identifiers and reasons: webhook id, request id, group id, batch id, rules…
    #[serde(default)]
    pub detail: Value,
}

impl AuditEvent {
    /// An event about an order, now.
    pub fn new(
        actor: Actor,
        kind: AuditKind,
        store: &str,
        order_id: u64,
        at: DateTime<Utc>,
    ) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        Self {
            id: format!(
                "{}-{:04x}-{:08x}",
                stamp(at),
                std::process::id() & 0xffff,
                seq
            ),
            at,
            actor,
            kind,
            store: store.to_string(),
            order_id,
            posting: None,
            before: None,
            after: None,
            links_to: None,
            detail: Value::Null,
        }
    }

    /// About one posting.
    pub fn posting(mut self, posting: PostingKind) -> Self {
        self.posting = Some(posting);
        self
    }

    /// With the states on either side.
    pub fn states(mut self, before: Option<StateName>, after: Option<StateName>) -> Self {
        self.before = before;
        self.after = after;
        self
    }

    /// Linked to another batch.
    pub fn links(mut self, batch: impl Into<String>) -> Self {
        self.links_to = Some(batch.into());
        self
    }

    /// With details.
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}
