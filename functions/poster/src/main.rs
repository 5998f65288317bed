//! Poster Lambda: SQS batch → fetch orders → build journals → one FBDI import. Until the
//! poster service lands it fails every invocation, so SQS keeps the messages (and moves them to
//! the DLQ after the redrive limit) instead of deleting work that was never done.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

/// Why the function refuses to consume messages.
#[derive(Debug, thiserror::Error)]
#[error("ml-connector poster is not configured in this build; the {0} messages stay on the queue")]
struct NotConfigured(usize);

async fn handler(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    Err(Box::new(NotConfigured(event.payload.records.len())))
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
    async fn keeps_messages_on_the_queue() {
        let event = LambdaEvent::new(SqsEvent::default(), lambda_runtime::Context::default());
        let err = handler(event).await.unwrap_err();
        assert!(err.to_string().contains("not configured"), "{err}");
    }
}
