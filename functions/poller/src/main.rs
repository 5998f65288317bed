//! Poller Lambda (EventBridge schedule): sweep orders and refunds BigCommerce's webhooks may have
//! missed, keep the hooks active, track submitted imports. Until those services land it fails
//! every run, so the schedule's failures show in CloudWatch instead of a silent success.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

/// Why the function does nothing.
#[derive(Debug, thiserror::Error)]
#[error("ml-connector poller is not configured in this build; nothing was swept")]
struct NotConfigured;

async fn handler(_event: LambdaEvent<EventBridgeEvent<serde_json::Value>>) -> Result<(), Error> {
    Err(Box::new(NotConfigured))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    run(service_fn(handler)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reports_that_it_is_not_configured() {
        let event = LambdaEvent::new(
            EventBridgeEvent::<serde_json::Value>::default(),
            lambda_runtime::Context::default(),
        );
        let err = handler(event).await.unwrap_err();
        assert!(err.to_string().contains("not configured"), "{err}");
    }
}
