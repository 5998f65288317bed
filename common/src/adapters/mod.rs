//! Adapters: the ports on real infrastructure. DynamoDB, SQS and Secrets Manager in AWS;
//! SQLite and a file for the local `mlc` process.

pub mod aws;
pub mod dynamodb;
pub mod local_queue;
pub mod secrets;
pub mod sqlite;
pub mod sqs;
