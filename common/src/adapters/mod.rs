//! Adapters: the ports on real infrastructure. DynamoDB, SQS and Secrets Manager in AWS;
//! SQLite and a file for the local `mlc` process (feature `local`, on by default; the Lambda
//! functions leave it out, so their binaries carry no SQLite).

pub mod aws;
pub mod dynamodb;
#[cfg(feature = "local")]
pub mod local_queue;
pub mod secrets;
#[cfg(feature = "local")]
pub mod sqlite;
pub mod sqs;
