//! Webhook Lambda entry point: builds the clients once, then answers each request.

use std::sync::Arc;

use common::adapters::aws::{LambdaEnv, from_environment, ports};
use lambda_http::{Error, Request, run, service_fn};
use webhook::WebhookApp;

#[tokio::main]
async fn main() -> Result<(), Error> {
    common::telemetry::init_json_logs();
    let env = LambdaEnv::from_env()?;
    let ports = ports(&env, &from_environment().await);
    let app = Arc::new(WebhookApp::new(ports, &env.metrics_namespace));
    run(service_fn(move |request: Request| {
        let app = app.clone();
        async move { Ok::<_, Error>(app.handle(request).await) }
    }))
    .await
}
