//! The scheduled event's job, as the function reads it: a mistyped one is refused before any
//! work (it used to run a sweep), and an event without one is the sweep's schedule.

use std::path::PathBuf;
use std::sync::Arc;

use common::adapters::local_queue::LocalQueue;
use common::adapters::secrets::FileSource;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::ports::{Ports, SystemClock};
use common::posting::services::{PipelineSettings, ServicesCache};
use poller::{PollerApp, PollerError};
use serde_json::json;

/// The function over the shipped example document, whose BigCommerce token names a variable
/// no test sets: any job that starts fails to build its clients, and says which job it was.
fn app() -> PollerApp {
    let document =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/examples/connector.json");
    let db = SqliteDb::in_memory().unwrap();
    let ports = Ports {
        source: Arc::new(FileSource::new(&document)),
        store: Arc::new(SqliteStore::new(db.clone())),
        queue: Arc::new(LocalQueue::new(db, "orders", 5)),
        clock: Arc::new(SystemClock),
    };
    PollerApp {
        services: ServicesCache::new(ports, PipelineSettings::for_config),
        namespace: "MlConnector/test".into(),
    }
}

#[tokio::test]
async fn a_mistyped_job_is_refused_with_the_jobs_it_could_be() {
    let err = app().handle(&json!({"job": "swep"})).await.unwrap_err();
    assert!(matches!(err, PollerError::Job(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "unknown job \"swep\": expected one of sweep, track, reconcile"
    );
}

#[tokio::test]
async fn an_event_without_a_job_is_the_sweep() {
    let schedule = json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let err = app().handle(&schedule).await.unwrap_err();
    let PollerError::NotStarted { job, why } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*job, "sweep");
    assert!(why.contains("MLC_BC_ACCESS_TOKEN"), "{why}");
    let err = app().handle(&json!({"job": "track"})).await.unwrap_err();
    assert!(
        err.to_string().starts_with("track could not start"),
        "{err}"
    );
}
