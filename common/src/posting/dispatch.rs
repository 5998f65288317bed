//! Sending recorded postings to Oracle, without waiting for the result (following each import
//! to its end is the [`tracker`](crate::posting::tracker)'s job).
//!
//! Each posting is first checked ([`preflight`](crate::posting::preflight)); those that pass
//! are grouped one ledger per import and at most `posting.batch_size` journals per import, and
//! each is *claimed* before the import goes out: moved to Submitted under the new GROUP_ID by a
//! write conditional on its version. Of two workers holding the same posting, only one wins the
//! claim, so a journal is never sent twice. The tracker calls [`submit_postings`] again with the
//! halves of a refused import, so this is the one place imports are sent from.

use std::time::Duration;

use serde_json::json;

use crate::config::PostingSettings;
use crate::journal::{Journal, PostingKind, batch_name};
use crate::metrics::{self, Metrics};
use crate::oracle::{OracleError, Submission};
use crate::posting::preflight::{self, Stop};
use crate::posting::services::Services;
use crate::state::{
    Actor, AuditEvent, AuditKind, ImportRecord, ImportState, PostingKey, PostingRecord,
    PostingState, StateName, StoreError,
};

/// Timing of submitted imports. The pace of tracking is the poller's schedule, not a setting.
#[derive(Debug, Clone)]
pub struct SubmitSettings {
    /// How long an import may run before the tracker counts it stuck (an alarm), and how long
    /// an import whose answer was lost is looked for by name before its postings are queued
    /// again.
    pub import_timeout: Duration,
}

impl SubmitSettings {
    /// The settings of the connector document.
    pub fn from_posting(p: &PostingSettings) -> Self {
        Self {
            import_timeout: Duration::from_secs(u64::from(p.import_timeout_minutes) * 60),
        }
    }
}

/// An audit event about a posting, linked to its order's sale when it is not the sale.
pub(crate) fn posting_event(
    svc: &Services,
    actor: Actor,
    kind: AuditKind,
    record: &PostingRecord,
) -> AuditEvent {
    let key = &record.key;
    let mut event = AuditEvent::new(actor, kind, &key.store, key.order_id, svc.clock.now())
        .posting(key.posting);
    if key.posting != PostingKind::Sale {
        event = event.links(batch_name(&key.store, key.order_id, &PostingKind::Sale));
    }
    event
}

/// Moves a posting and writes its audit event; a lost race is not an error (`Ok(None)`).
pub(crate) async fn move_posting(
    svc: &Services,
    actor: Actor,
    kind: AuditKind,
    record: &PostingRecord,
    state: PostingState,
    journal: Option<&Journal>,
    detail: serde_json::Value,
) -> Result<Option<PostingRecord>, StoreError> {
    let event = posting_event(svc, actor, kind, record)
        .states(Some(record.state.name()), Some(state.name()))
        .detail(detail);
    match svc
        .store
        .transition(&record.key, record.version, state, journal, &event)
        .await
    {
        Ok(r) => Ok(Some(r)),
        Err(StoreError::Conflict { .. } | StoreError::IllegalTransition { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What became of a submission round.
#[derive(Debug, Default)]
pub struct SubmitRound {
    /// Postings not sent because of a passing failure: the caller retries (queue redelivery).
    pub passing: Vec<(PostingKey, String)>,
    /// Imports sent (or whose answer was lost).
    pub imports: Vec<u64>,
}

/// Checks and sends `postings` (Queued, or Submitted ones being split by the tracker).
#[tracing::instrument(skip_all)]
pub async fn submit_postings(
    svc: &Services,
    actor: Actor,
    postings: Vec<PostingRecord>,
    metrics: &mut Metrics,
) -> SubmitRound {
    let mut round = SubmitRound::default();
    let mut ready: Vec<(PostingRecord, Journal)> = Vec::new();
    for record in postings {
        if let Some(journal) = check_posting(svc, actor, &record, &mut round, metrics).await {
            ready.push((record, journal));
        }
    }
    for group in import_groups(ready, svc.config.posting.batch_size) {
        send_import(svc, actor, group, &mut round, metrics).await;
    }
    round
}

/// One posting before any import: the journal to send, or `None` when it is settled (nothing
/// to send, or stopped by the checks) or left for a retry.
#[tracing::instrument(skip_all, fields(store = %record.key.store, order_id = record.key.order_id, posting = %record.key))]
async fn check_posting(
    svc: &Services,
    actor: Actor,
    record: &PostingRecord,
    round: &mut SubmitRound,
    metrics: &mut Metrics,
) -> Option<Journal> {
    if record.journal.is_empty() {
        // A free order with discounts netted moves no money: on the books as done, with
        // nothing sent to Oracle (Journal Import takes no journal without lines).
        let posted = PostingState::Posted {
            batch_id: 0,
            group_id: 0,
            request_id: None,
        };
        let detail = json!({"nothing_sent": "the journal moves no money"});
        if let Err(e) =
            move_posting(svc, actor, AuditKind::Posted, record, posted, None, detail).await
        {
            round
                .passing
                .push((record.key.clone(), format!("recording its state: {e}")));
        }
        return None;
    }
    match preflight::check(svc.oracle.as_ref(), &svc.config, record.journal.clone()).await {
        Ok(journal) => Some(journal),
        Err(stopped) => {
            settle_unsent(
                svc,
                actor,
                record,
                stopped.stop,
                &stopped.journal,
                round,
                metrics,
            )
            .await;
            None
        }
    }
}

/// The imports a set of journals goes in: one ledger per import (Journal Import runs per
/// ledger), at most `batch_size` journals each, ledgers in id order, journals in the order
/// given.
fn import_groups<K>(items: Vec<(K, Journal)>, batch_size: u32) -> Vec<Vec<(K, Journal)>> {
    let batch = batch_size.max(1) as usize;
    let mut by_ledger: std::collections::BTreeMap<u64, Vec<(K, Journal)>> =
        std::collections::BTreeMap::new();
    for (k, journal) in items {
        by_ledger
            .entry(journal.ledger_id)
            .or_default()
            .push((k, journal));
    }
    let mut groups = Vec::new();
    for mut of_ledger in by_ledger.into_values() {
        while !of_ledger.is_empty() {
            let rest = of_ledger.split_off(of_ledger.len().min(batch));
            groups.push(std::mem::replace(&mut of_ledger, rest));
        }
    }
    groups
}

/// A posting that must not be sent now: Held, Rejected, or left for a retry.
async fn settle_unsent(
    svc: &Services,
    actor: Actor,
    record: &PostingRecord,
    stop: Stop,
    journal: &Journal,
    round: &mut SubmitRound,
    metrics: &mut Metrics,
) {
    let (state, kind, metric) = match stop {
        Stop::Held(reason) => (
            PostingState::Held { reason },
            AuditKind::Held,
            Some(metrics::POSTINGS_HELD),
        ),
        Stop::Rejected(reason) => (
            PostingState::Rejected { reason },
            AuditKind::Rejected,
            Some(metrics::POSTINGS_REJECTED),
        ),
        Stop::Retry(reason) => {
            round.passing.push((record.key.clone(), reason));
            if record.state.name() == StateName::Queued {
                return;
            }
            (PostingState::Queued, AuditKind::Submitted, None)
        }
    };
    let reason = match &state {
        PostingState::Held { reason } | PostingState::Rejected { reason } => reason.clone(),
        _ => "not sent: a passing failure; it will be sent again".into(),
    };
    tracing::warn!(posting = %record.key, state = %state.name(), %reason, "posting not sent");
    match move_posting(
        svc,
        actor,
        kind,
        record,
        state,
        Some(journal),
        json!({"reason": reason}),
    )
    .await
    {
        Ok(Some(_)) => {
            if let Some(m) = metric {
                metrics.incr_for(&record.key.store, m);
            }
        }
        Ok(None) => {}
        Err(e) => round
            .passing
            .push((record.key.clone(), format!("recording its state: {e}"))),
    }
}

/// One import: claim, record the import, send, record the answer.
#[tracing::instrument(skip_all, fields(group_id = tracing::field::Empty, request_id = tracing::field::Empty))]
async fn send_import(
    svc: &Services,
    actor: Actor,
    chunk: Vec<(PostingRecord, Journal)>,
    round: &mut SubmitRound,
    metrics: &mut Metrics,
) {
    let group_id = match svc.group_ids.next_group_id().await {
        Ok(id) => id,
        Err(e) => {
            for (record, journal) in &chunk {
                let stop = Stop::Retry(format!("no GROUP_ID: {e}"));
                settle_unsent(svc, actor, record, stop, journal, round, metrics).await;
            }
            return;
        }
    };
    tracing::Span::current().record("group_id", group_id);
    // Claim: only postings this worker moved to Submitted under `group_id` go in the file.
    let mut claimed: Vec<PostingRecord> = Vec::new();
    for (record, journal) in chunk {
        let state = PostingState::Submitted {
            group_id,
            request_id: None,
        };
        let detail =
            json!({"group_id": group_id, "period": journal.period_name, "flags": journal.flags});
        match move_posting(
            svc,
            actor,
            AuditKind::Validated,
            &record,
            state,
            Some(&journal),
            detail,
        )
        .await
        {
            Ok(Some(r)) => claimed.push(r),
            Ok(None) => tracing::info!(posting = %record.key, "claimed by another worker"),
            Err(e) => round
                .passing
                .push((record.key.clone(), format!("claiming: {e}"))),
        }
    }
    if claimed.is_empty() {
        return;
    }
    let mut import = ImportRecord {
        group_id,
        request_id: None,
        postings: claimed.iter().map(|p| p.key.clone()).collect(),
        state: ImportState::Submitted,
        submitted_at: svc.clock.now(),
        version: 0,
    };
    import = match svc.store.save_import(&import, None).await {
        Ok(saved) => saved,
        Err(e) => {
            // Nothing sent yet: give the postings back.
            let reason = format!("recording import {group_id}: {e}");
            give_back(
                svc,
                actor,
                &claimed,
                &reason,
                json!({"reason": reason}),
                round,
            )
            .await;
            return;
        }
    };
    let journals: Vec<Journal> = claimed.iter().map(|p| p.journal.clone()).collect();
    metrics.incr(metrics::ORACLE_IMPORTS);
    round.imports.push(group_id);
    let answer = svc.oracle.submit_import(&journals, group_id).await;
    record_answer(svc, actor, import, claimed, answer, round, metrics).await;
}

/// Records what Fusion answered to an import: its request id, or, when it failed, whether the
/// postings are looked for (lost answer), held (refused) or given back (passing failure).
async fn record_answer(
    svc: &Services,
    actor: Actor,
    import: ImportRecord,
    claimed: Vec<PostingRecord>,
    answer: Result<Submission, OracleError>,
    round: &mut SubmitRound,
    metrics: &mut Metrics,
) {
    let group_id = import.group_id;
    match answer {
        Ok(submission) => {
            tracing::Span::current().record("request_id", submission.request_id);
            record_submitted(svc, actor, import, &claimed, &submission, metrics).await;
        }
        Err(e) => match classify_submit_error(&e) {
            SubmitFailure::Lost(why) => {
                record_lost(svc, actor, import, &claimed, &why, metrics).await;
            }
            SubmitFailure::Refused(reason) => {
                close_import(svc, import, ImportState::Failed).await;
                for record in &claimed {
                    let state = PostingState::Held {
                        reason: reason.clone(),
                    };
                    if let Ok(Some(_)) = move_posting(
                        svc,
                        actor,
                        AuditKind::Held,
                        record,
                        state,
                        None,
                        json!({"group_id": group_id, "reason": reason}),
                    )
                    .await
                    {
                        metrics.incr_for(&record.key.store, metrics::POSTINGS_HELD);
                    }
                }
                tracing::error!(group_id, %reason, "import refused; postings held");
            }
            SubmitFailure::Passing(reason) => {
                close_import(svc, import, ImportState::Failed).await;
                let detail = json!({"group_id": group_id, "reason": format!("not sent: {reason}; it will be sent again")});
                give_back(svc, actor, &claimed, &reason, detail, round).await;
                tracing::warn!(group_id, %reason, "import not sent; will retry");
            }
        },
    }
}

/// Fusion took the import: its request id goes on the import and on every claimed posting.
async fn record_submitted(
    svc: &Services,
    actor: Actor,
    mut import: ImportRecord,
    claimed: &[PostingRecord],
    submission: &Submission,
    metrics: &mut Metrics,
) {
    let group_id = import.group_id;
    import.request_id = Some(submission.request_id);
    let expected = import.version;
    if let Err(e) = svc.store.save_import(&import, Some(expected)).await {
        // The tracker finds the batches by name even without the request id.
        tracing::error!(group_id, error = %e, "could not record the request id");
    }
    for record in claimed {
        let state = PostingState::Submitted {
            group_id,
            request_id: Some(submission.request_id),
        };
        let detail = json!({"group_id": group_id, "request_id": submission.request_id});
        if let Err(e) = move_posting(
            svc,
            actor,
            AuditKind::Submitted,
            record,
            state,
            None,
            detail,
        )
        .await
        {
            tracing::error!(posting = %record.key, error = %e, "could not record the request id");
        }
        metrics.incr(metrics::POSTINGS_SUBMITTED);
    }
    tracing::info!(
        group_id,
        request_id = submission.request_id,
        journals = claimed.len(),
        "import submitted"
    );
}

/// The answer was lost: the import may exist, so its postings stay Submitted for the tracker.
async fn record_lost(
    svc: &Services,
    actor: Actor,
    mut import: ImportRecord,
    claimed: &[PostingRecord],
    why: &str,
    metrics: &mut Metrics,
) {
    let group_id = import.group_id;
    // Maybe accepted: the tracker looks for the batches by name; never resent here.
    import.state = ImportState::Unknown;
    let expected = import.version;
    if let Err(e) = svc.store.save_import(&import, Some(expected)).await {
        tracing::error!(group_id, error = %e, "could not mark the import unknown");
    }
    for record in claimed {
        let event = posting_event(svc, actor, AuditKind::Submitted, record)
            .states(Some(StateName::Submitted), Some(StateName::Submitted))
            .detail(json!({"group_id": group_id, "answer": why}));
        if let Err(e) = svc.store.append_audit(&event).await {
            tracing::error!(error = %e, "audit");
        }
        metrics.incr(metrics::POSTINGS_SUBMITTED);
    }
    tracing::warn!(group_id, %why, "import answer lost; the tracker will look for its batches");
}

/// Claimed postings that were not sent go back to Queued, and their messages are retried.
async fn give_back(
    svc: &Services,
    actor: Actor,
    claimed: &[PostingRecord],
    reason: &str,
    detail: serde_json::Value,
    round: &mut SubmitRound,
) {
    for record in claimed {
        let _ = move_posting(
            svc,
            actor,
            AuditKind::Submitted,
            record,
            PostingState::Queued,
            None,
            detail.clone(),
        )
        .await;
        round.passing.push((record.key.clone(), reason.to_string()));
    }
}

/// Marks an import finished.
pub(crate) async fn close_import(svc: &Services, mut import: ImportRecord, state: ImportState) {
    if import.state == state {
        return;
    }
    import.state = state;
    let expected = import.version;
    if let Err(e) = svc.store.save_import(&import, Some(expected)).await {
        tracing::warn!(group_id = import.group_id, error = %e, "could not close the import");
    }
}

/// What a failed `submit_import` means for the journals in it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SubmitFailure {
    /// The import may have been accepted: never resend blindly; look for its batches.
    Lost(String),
    /// Refused in a way retrying will not fix (privilege, bad request, credentials): a person.
    Refused(String),
    /// Nothing was accepted and trying later may work (throttling, outage).
    Passing(String),
}

/// Sorts a `submit_import` error into lost, refused or passing.
fn classify_submit_error(e: &OracleError) -> SubmitFailure {
    match e {
        OracleError::OutcomeUnknown { message, .. } => {
            SubmitFailure::Lost(format!("the import's answer was lost ({message})"))
        }
        OracleError::ImportRefused | OracleError::Invalid(_) | OracleError::Unauthorized { .. } => {
            SubmitFailure::Refused(e.to_string())
        }
        OracleError::Status { status, .. } if (400..500).contains(status) && *status != 429 => {
            SubmitFailure::Refused(e.to_string())
        }
        _ => SubmitFailure::Passing(e.to_string()),
    }
}
