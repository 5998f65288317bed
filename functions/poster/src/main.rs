//! Poster Lambda entry point: builds the clients once, then handles each SQS batch.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use common::adapters::aws::{LambdaEnv, from_environment, ports};
use common::posting::services::{PipelineSettings, ServicesCache};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use poster::PosterApp;

#[tokio::main]
async fn main() -> Result<(), Error> {
    common::telemetry::init_json_logs();
    let env = LambdaEnv::from_env()?;
    let services = ServicesCache::new(
        ports(&env, &from_environment().await),
        PipelineSettings::for_config,
    );
    let app = Arc::new(PosterApp {
        services,
        namespace: env.metrics_namespace,
    });
    run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let app = app.clone();
        async move { Ok::<SqsBatchResponse, Error>(app.handle(event.payload).await) }
    }))
    .await
}
