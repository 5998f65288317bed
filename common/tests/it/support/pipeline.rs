//! The pipeline services on the local adapters (SQLite state, SQLite queue) against the sandbox
//! store and pod, as `mlc serve` runs them, and a loop that runs them until a posting settles.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::adapters::local_queue::LocalQueue;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::bigcommerce::{BigCommerceClient, ClientSettings};
use common::config::ConnectorConfig;
use common::oracle::{FusionClient, FusionSettings};
use common::ports::{BigCommerceApi, SystemClock};
use common::posting::dispatch::SubmitSettings;
use common::posting::group_ids::ClockGroupIds;
use common::posting::poller::poll;
use common::posting::poster::drain_queue;
use common::posting::services::{PipelineSettings, Services};
use common::state::{PostingKey, StateName};
use sandbox::demo::HASH;
use serde_json::Value;

/// Services for the document `doc` (its first store), on `db`.
pub fn services(doc: &Value, db: &SqliteDb) -> Services {
    let config = Arc::new(ConnectorConfig::from_json(&doc.to_string(), "test").unwrap());
    let mut settings = PipelineSettings::for_config(&config);
    settings.submit = SubmitSettings {
        import_timeout: Duration::from_secs(5),
    };
    let entry = &config.stores[0];
    let bc: Arc<dyn BigCommerceApi> =
        Arc::new(BigCommerceClient::for_store(entry, ClientSettings::default()).unwrap());
    let oracle =
        Arc::new(FusionClient::from_config(&config.oracle, FusionSettings::default()).unwrap());
    Services::new(
        config,
        Arc::new(SqliteStore::new(db.clone())),
        Arc::new(LocalQueue::new(db.clone(), "orders", 5)),
        Arc::new(SystemClock),
        oracle,
        Arc::new(ClockGroupIds::default()),
        BTreeMap::from([(HASH.to_string(), bc)]),
        settings,
    )
}

/// Queue → poster, then a sweep; until `key` is in a final state.
pub async fn run_until_settled(svc: &Services, key: &PostingKey) -> StateName {
    run_until(svc, key, |state| {
        matches!(
            state,
            StateName::Posted | StateName::Rejected | StateName::Held
        )
    })
    .await
}

/// Queue → poster, then a sweep; until `key` is in a state `done` accepts.
pub async fn run_until(
    svc: &Services,
    key: &PostingKey,
    done: impl Fn(StateName) -> bool,
) -> StateName {
    for _ in 0..200 {
        for report in drain_queue(svc, svc.queue.as_ref(), Duration::from_secs(1))
            .await
            .unwrap()
        {
            assert!(report.retry.is_empty(), "{:?}", report.retry);
        }
        poll(svc).await;
        if let Some(state) = svc
            .store
            .posting(key)
            .await
            .unwrap()
            .map(|p| p.state.name())
            && done(state)
        {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{key} did not settle");
}
