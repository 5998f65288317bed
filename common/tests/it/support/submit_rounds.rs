//! Journals through the production submission path, and nothing else: each recorded Queued in
//! a state store (SQLite in memory), sent by `dispatch::submit_postings` as the poster sends
//! them, then `tracker::track` rounds (as the poller runs them) until every posting has
//! settled. Shared by the `oracle_fusion` tests and the `oracle_imports` bench (included there
//! by path), so both measure the code that runs in production.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::adapters::local_queue::LocalQueue;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::config::ConnectorConfig;
use common::journal::Journal;
use common::metrics::{self, Metrics};
use common::oracle::{FusionClient, FusionSettings};
use common::ports::SystemClock;
use common::posting::dispatch::{SubmitRound, SubmitSettings, submit_postings};
use common::posting::group_ids::ClockGroupIds;
use common::posting::services::{PipelineSettings, Services};
use common::posting::tracker::{TrackReport, track};
use common::state::{Actor, AuditEvent, AuditKind, PostingRecord, PostingState, StateName};

/// The pipeline's services with only what submission and tracking use: the document, a state
/// store, a queue (the tracker queues orders again), the Fusion client; no BigCommerce store.
pub struct Desk {
    /// The services `submit_postings` and `track` run on.
    pub svc: Services,
    /// The Fusion client behind `svc.oracle`, for its call count.
    pub oracle: Arc<FusionClient>,
    /// Figures of every round so far (imports, postings posted, held, rejected, stuck).
    pub metrics: Metrics,
}

/// What became of a set of journals.
pub struct Settled {
    /// Each posting as the state store holds it at the end, in the order given.
    pub postings: Vec<PostingRecord>,
    /// What the first submission round left to retry (passing failures).
    pub first_round: SubmitRound,
    /// Tracking rounds run.
    pub track_rounds: usize,
    /// Imports split after a refusal, over all tracking rounds.
    pub splits: usize,
    /// Imports seen past their timeout, over all tracking rounds.
    pub stuck: usize,
    /// Orders queued again by the tracker.
    pub requeued: usize,
}

impl Settled {
    /// The batch names of the postings in `state`.
    pub fn named(&self, state: StateName) -> Vec<&str> {
        self.postings
            .iter()
            .filter(|p| p.state.name() == state)
            .map(|p| p.journal.batch_name.as_str())
            .collect()
    }
}

/// Whether a posting is in a state only a person or a new import changes.
pub fn at_rest(state: StateName) -> bool {
    !matches!(state, StateName::Submitted)
}

impl Desk {
    /// A desk for `config` (its Oracle pointed at the pod) with these client and job timings.
    pub fn new(config: ConnectorConfig, fusion: FusionSettings, submit: SubmitSettings) -> Self {
        let config = Arc::new(config);
        let mut settings = PipelineSettings::for_config(&config);
        settings.submit = submit;
        let db = SqliteDb::in_memory().unwrap();
        let oracle = Arc::new(FusionClient::from_config(&config.oracle, fusion).unwrap());
        let svc = Services::new(
            config,
            Arc::new(SqliteStore::new(db.clone())),
            Arc::new(LocalQueue::new(db, "orders", 5)),
            Arc::new(SystemClock),
            oracle.clone(),
            Arc::new(ClockGroupIds::default()),
            BTreeMap::new(),
            settings,
        );
        Self {
            svc,
            oracle,
            metrics: Metrics::default(),
        }
    }

    /// Records each journal's posting Queued, as the poster does after deciding an order.
    pub async fn record(&self, journals: Vec<Journal>) -> Vec<PostingRecord> {
        let mut out = Vec::new();
        for journal in journals {
            let now = self.svc.clock.now();
            let record = PostingRecord::new(journal, PostingState::Queued, now);
            let event = AuditEvent::new(
                Actor::Poster,
                AuditKind::Mapped,
                &record.key.store,
                record.key.order_id,
                now,
            )
            .posting(record.key.posting)
            .states(None, Some(StateName::Queued));
            out.push(
                self.svc
                    .store
                    .create_posting(&record, &event)
                    .await
                    .unwrap(),
            );
        }
        out
    }

    /// Oracle imports sent so far, as the connector counts them (the `OracleImports` metric).
    pub fn imports(&self) -> u64 {
        self.metrics.count(metrics::ORACLE_IMPORTS) as u64
    }

    /// One tracking round, its figures added to the desk's.
    pub async fn track_round(&mut self) -> TrackReport {
        let report = track(&self.svc).await;
        self.metrics.merge(&report.metrics);
        report
    }

    /// The postings as the store holds them now.
    pub async fn reread(&self, postings: &[PostingRecord]) -> Vec<PostingRecord> {
        let mut out = Vec::new();
        for p in postings {
            out.push(self.svc.store.posting(&p.key).await.unwrap().unwrap());
        }
        out
    }

    /// Sends `postings` as the poster does, its figures added to the desk's.
    pub async fn send(&mut self, postings: Vec<PostingRecord>) -> SubmitRound {
        let mut metrics = Metrics::default();
        let round = submit_postings(&self.svc, Actor::Poster, postings, &mut metrics).await;
        self.metrics.merge(&metrics);
        round
    }

    /// Tracking rounds until `done` holds for the postings as the store holds them (or `limit`
    /// has passed: then they are returned as they are, for the caller's assertions).
    pub async fn track_until(
        &mut self,
        postings: &[PostingRecord],
        limit: Duration,
        done: impl Fn(&[PostingRecord]) -> bool,
    ) -> Settled {
        let mut settled = Settled {
            postings: Vec::new(),
            first_round: SubmitRound::default(),
            track_rounds: 0,
            splits: 0,
            stuck: 0,
            requeued: 0,
        };
        let deadline = Instant::now() + limit;
        loop {
            let now = self.reread(postings).await;
            if done(&now) || Instant::now() >= deadline {
                settled.postings = now;
                return settled;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            let report = self.track_round().await;
            settled.track_rounds += 1;
            settled.splits += report.split;
            settled.stuck += report.stuck;
            settled.requeued += report.requeued;
        }
    }

    /// Records `journals`, sends them, and tracks until every posting is at rest.
    pub async fn post(&mut self, journals: Vec<Journal>, limit: Duration) -> Settled {
        let recorded = self.record(journals).await;
        let first_round = self.send(recorded.clone()).await;
        let all_at_rest = |ps: &[PostingRecord]| ps.iter().all(|p| at_rest(p.state.name()));
        let mut settled = self.track_until(&recorded, limit, all_at_rest).await;
        settled.first_round = first_round;
        settled
    }
}
