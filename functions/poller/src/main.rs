//! Poller Lambda entry point: builds the clients once, then runs what each scheduled event
//! asks (a sweep, or the daily reconciliation).

use std::sync::Arc;

use common::adapters::aws::{LambdaEnv, from_environment, ports};
use common::posting::services::{PipelineSettings, ServicesCache};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use poller::PollerApp;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    common::telemetry::init_json_logs();
    let env = LambdaEnv::from_env()?;
    let webhook_url = env.webhook_url.clone();
    let services = ServicesCache::new(ports(&env, &from_environment().await), move |config| {
        let mut settings = PipelineSettings::for_config(config);
        settings.webhook_url = webhook_url.clone();
        settings
    });
    let app = Arc::new(PollerApp {
        services,
        namespace: env.metrics_namespace,
    });
    run(service_fn(move |event: LambdaEvent<Value>| {
        let app = app.clone();
        async move { app.handle(&event.payload).await.map_err(Error::from) }
    }))
    .await
}
