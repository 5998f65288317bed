//! AWS SDK configuration: the default chain in Lambda, or a local endpoint (moto server,
//! LocalStack) with fixed test credentials.

use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};

/// The SDK configuration the adapters are built from (re-exported for entry points and tests).
pub use aws_config::SdkConfig;

use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::secrets::SecretsManagerSource;
use crate::adapters::sqs::SqsQueue;
use crate::ports::{Ports, SystemClock};

/// The Lambda environment's configuration (region and credentials from the environment; a
/// custom endpoint from `AWS_ENDPOINT_URL` when set).
pub async fn from_environment() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// A configuration for a local AWS emulator at `endpoint` (no real credentials involved).
pub async fn local(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "local",
        ))
        .load()
        .await
}

/// How long a Lambda container keeps the connector document before reading it again: edits
/// to the secret take effect within this time, and a busy container reads it rarely.
pub const DOCUMENT_TTL: Duration = Duration::from_secs(300);

/// What a function is told by its environment (`template.yaml` sets these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaEnv {
    /// `MLC_CONFIG_SECRET`: the connector document's secret (ARN or name).
    pub config_secret: String,
    /// `MLC_TABLE`: the state table.
    pub table: String,
    /// `MLC_QUEUE_URL`: the orders queue.
    pub queue_url: String,
    /// `MLC_METRICS_NAMESPACE`: where metrics go (`MlConnector/{prefix}`).
    pub metrics_namespace: String,
    /// `MLC_WEBHOOK_URL`: where hooks must deliver (the poller keeps them pointed there).
    pub webhook_url: Option<String>,
}

/// A required variable is missing or empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {0} is not set; template.yaml sets it for every function")]
pub struct MissingVariable(pub &'static str);

impl LambdaEnv {
    /// Reads the environment through `get` (`std::env::var` in a function).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, MissingVariable> {
        let need = |name: &'static str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(MissingVariable(name))
        };
        Ok(Self {
            config_secret: need("MLC_CONFIG_SECRET")?,
            table: need("MLC_TABLE")?,
            queue_url: need("MLC_QUEUE_URL")?,
            metrics_namespace: get("MLC_METRICS_NAMESPACE")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| "MlConnector".into()),
            webhook_url: get("MLC_WEBHOOK_URL").filter(|v| !v.trim().is_empty()),
        })
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, MissingVariable> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// The ports a function works with, on the resources `env` names: the connector document from
/// Secrets Manager (cached for [`DOCUMENT_TTL`]), DynamoDB, SQS and the system clock. No call is
/// made here.
pub fn ports(env: &LambdaEnv, sdk: &SdkConfig) -> Ports {
    let source = SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::new(sdk),
        &env.config_secret,
        DOCUMENT_TTL,
    );
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &env.table);
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(sdk), &env.queue_url, None);
    Ports {
        source: Arc::new(source),
        store: Arc::new(store),
        queue: Arc::new(queue),
        clock: Arc::new(SystemClock),
    }
}

/// The stack's queue with its dead-letter queue, found through the queue's redrive policy
/// (one `GetQueueAttributes` and one `GetQueueUrl`): what an operator moving dead letters
/// back needs. The functions never read dead letters, so [`ports`] does not look.
pub async fn queue_with_dead_letters(
    env: &LambdaEnv,
    sdk: &SdkConfig,
) -> Result<SqsQueue, crate::ports::QueueError> {
    SqsQueue::discover_dead_letters(aws_sdk_sqs::Client::new(sdk), &env.queue_url).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_is_named() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let err =
            LambdaEnv::from_lookup(vars(&[("MLC_CONFIG_SECRET", "arn:s"), ("MLC_TABLE", " ")]))
                .unwrap_err();
        assert_eq!(err, MissingVariable("MLC_TABLE"));
        assert!(err.to_string().contains("MLC_TABLE is not set"));
        let env = LambdaEnv::from_lookup(vars(&[
            ("MLC_CONFIG_SECRET", "arn:s"),
            ("MLC_TABLE", "t"),
            ("MLC_QUEUE_URL", "q"),
        ]))
        .unwrap();
        assert_eq!(env.metrics_namespace, "MlConnector");
        assert_eq!(env.webhook_url, None);
    }
}
