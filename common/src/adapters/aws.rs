//! AWS SDK configuration: the default chain in Lambda, or a local endpoint (moto server,
//! LocalStack) with fixed test credentials.

use aws_config::{BehaviorVersion, Region, SdkConfig};

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
