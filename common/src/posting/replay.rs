//! Replay: a person has fixed why a posting was Held or Rejected (a mapping, a closed period
//! reopened, a chart-of-accounts value added), or confirmed what it waited for (a refund larger
//! than the order, a cancelled order going ahead after all), and sends it again. A sale, refund
//! or reinstatement journal is built again from the order as BigCommerce has it now, the
//! document as it is now and what else is on the books, so the fix takes effect; a reversal or
//! adjustment is sent as recorded (it takes the books from what they held). The posting goes
//! back to Queued with a `replayed` audit event naming who asked, and its order goes on the
//! queue, where the poster sends it like any other. A posting whose batch is in the ledger
//! already (held after its import, when the batch could not be found by name) is recorded
//! Posted instead, and nothing is sent again.

use serde_json::json;

use crate::bigcommerce::api::RefundPolicy;
use crate::journal::{JournalContext, PostingKind};
use crate::posting::decide::rebuild;
use crate::posting::dispatch::posting_event;
use crate::posting::fetch::fetch_order;
use crate::posting::lookup::{FoundBatch, look_up_by_name};
use crate::posting::message::OrderMessage;
use crate::posting::services::Services;
use crate::state::{Actor, AuditKind, PostingKey, PostingRecord, PostingState, StateName};

/// Why a replay was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No such posting.
    #[error("no posting {0} is recorded")]
    Unknown(PostingKey),
    /// Only Held and Rejected postings are replayed.
    #[error("posting {key} is {state}: only held or rejected postings are replayed")]
    NotReplayable {
        /// The posting.
        key: PostingKey,
        /// Its state.
        state: StateName,
    },
    /// The order or its store could not be read, or the journal not built.
    #[error("posting {key}: {message}")]
    Failed {
        /// The posting.
        key: PostingKey,
        /// What went wrong.
        message: String,
    },
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// Whether the journal was built again and differs from the one recorded.
    pub journal_changed: bool,
    /// The queue message id of the order (empty when nothing was sent).
    pub message_id: String,
    /// The batch was in the ledger already (its `JeBatchId`): the posting is recorded Posted
    /// and nothing is sent again.
    pub already_in_ledger: Option<u64>,
}

/// Sends a Held or Rejected posting again; `by` says who asked (for the audit).
#[tracing::instrument(
    name = "replay",
    skip_all,
    fields(store = %key.store, order_id = key.order_id, posting = %key)
)]
pub async fn replay(svc: &Services, key: &PostingKey, by: &str) -> Result<Replayed, ReplayError> {
    let fail = |message: String| ReplayError::Failed {
        key: key.clone(),
        message,
    };
    let record = svc
        .store
        .posting(key)
        .await
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| ReplayError::Unknown(key.clone()))?;
    let state = record.state.name();
    if !matches!(state, StateName::Held | StateName::Rejected) {
        return Err(ReplayError::NotReplayable {
            key: key.clone(),
            state,
        });
    }
    // A journal held after its import (a batch not found by name, a job cancelled) may be in
    // the ledger all the same: look before sending it again, so a replay never posts twice.
    if !record.journal.is_empty()
        && let Some(batch_id) = in_ledger(svc, &record).await.map_err(fail)?
    {
        return Ok(Replayed {
            journal_changed: false,
            message_id: String::new(),
            already_in_ledger: Some(batch_id),
        });
    }
    let entry = svc.store_entry(&key.store).ok_or_else(|| {
        fail(format!(
            "store {} is not in the connector document",
            key.store
        ))
    })?;
    let bc = svc
        .bigcommerce(&entry.store_hash)
        .ok_or_else(|| fail(format!("no client for store {}", entry.store_hash)))?;
    let mut journal = record.journal.clone();
    if matches!(
        key.posting,
        PostingKind::Sale | PostingKind::Refund(_) | PostingKind::Reinstatement(_)
    ) {
        let policy = if key.posting == PostingKind::Sale {
            RefundPolicy::Never
        } else {
            RefundPolicy::Always
        };
        let bundle = fetch_order(
            &svc.config.mapping,
            bc.as_ref(),
            &entry.store_hash,
            key.order_id,
            policy,
        )
        .await
        .map_err(|e| fail(e.to_string()))?;
        let ctx = JournalContext::new(&svc.config, &key.store).map_err(|e| fail(e.to_string()))?;
        let recorded = svc
            .store
            .postings_of(&key.store, key.order_id)
            .await
            .map_err(|e| fail(e.to_string()))?;
        journal = rebuild(&ctx, &bundle, &recorded, key.posting)
            .map_err(|e| fail(e.to_string()))?
            .ok_or_else(|| {
                fail(format!(
                    "nothing to post: order {} is \"{}\" (status {}) and its books already hold what it implies; the posting stays {state}",
                    key.order_id, bundle.order.status, bundle.order.status_id
                ))
            })?;
    }
    let journal_changed = journal.lines != record.journal.lines
        || journal.accounting_date != record.journal.accounting_date;
    let was = match &record.state {
        PostingState::Held { reason } | PostingState::Rejected { reason } => reason.clone(),
        _ => String::new(),
    };
    let event = posting_event(svc, Actor::Operator, AuditKind::Replayed, &record)
        .states(Some(state), Some(StateName::Queued))
        .detail(json!({"by": by, "was": was, "journal_rebuilt": journal_changed}));
    svc.store
        .transition(
            key,
            record.version,
            PostingState::Queued,
            Some(&journal),
            &event,
        )
        .await
        .map_err(|e| fail(e.to_string()))?;
    let message = OrderMessage::new(
        &entry.store_hash,
        key.order_id,
        format!("replay by {by}"),
        svc.clock.now(),
    );
    let message_id = svc
        .queue
        .send(
            &message.to_body(),
            &[("kind", crate::posting::message::KIND_ORDER)],
        )
        .await
        .map_err(|e| {
            fail(format!(
                "queued again, but the order could not be queued: {e}; the poller will queue it"
            ))
        })?;
    Ok(Replayed {
        already_in_ledger: None,
        journal_changed,
        message_id,
    })
}

/// Whether the posting's batch is in the ledger (looked up by its name); when it is, the
/// posting is recorded Posted with that batch. An answer that cannot be read is an error:
/// nothing is changed or sent.
#[tracing::instrument(name = "in_ledger", skip_all, fields(posting = %record.key))]
async fn in_ledger(svc: &Services, record: &PostingRecord) -> Result<Option<u64>, String> {
    let group = vec![((), record.journal.clone())];
    let lookup = look_up_by_name(svc.oracle.as_ref(), group).await;
    if !lookup.unread.is_empty() {
        return Err(format!(
            "batch {} could not be looked up in Fusion, so it is not sent again; try later",
            record.journal.batch_name
        ));
    }
    let Some((
        _,
        FoundBatch {
            batch_id,
            fusion_name,
        },
    )) = lookup.found.into_iter().next()
    else {
        return Ok(None);
    };
    let (group_id, request_id) = match &record.state {
        PostingState::Submitted {
            group_id,
            request_id,
        } => (*group_id, *request_id),
        _ => (0, None),
    };
    let event = posting_event(svc, Actor::Operator, AuditKind::Posted, record)
        .states(Some(record.state.name()), Some(StateName::Posted))
        .detail(json!({"batch_id": batch_id, "fusion_batch_name": fusion_name, "found": "in the ledger when replayed; not sent again"}));
    svc.store
        .transition(
            &record.key,
            record.version,
            PostingState::Posted {
                batch_id,
                group_id,
                request_id,
            },
            None,
            &event,
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(batch_id))
}
