//! The connector's state alone, local or deployed: what the commands that only read postings
//! and their audit (`audit`, `postings`) need. They need no connector document, so an
//! operator can read the deployed table with nothing but its name.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;
use common::ports::StateStore;

use crate::failure::{Failure, bad};

/// Where the state is: a local SQLite database, or the deployed stack's table.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// The SQLite state database (local state).
    #[arg(long, default_value = "mlc-state.db", conflicts_with = "aws")]
    state: PathBuf,
    /// Read the deployed stack's state table, named by MLC_TABLE (the stack's output
    /// StateTableName), with the AWS credentials of this shell.
    #[arg(long)]
    aws: bool,
}

impl StoreArgs {
    /// The state store these arguments name. Nothing is created: a database that is not
    /// there is bad input.
    pub async fn open(&self) -> Result<Arc<dyn StateStore>, Failure> {
        use common::adapters::aws::from_environment;
        use common::adapters::dynamodb::DynamoStore;
        use common::adapters::sqlite::{SqliteDb, SqliteStore};

        if self.aws {
            let table = std::env::var("MLC_TABLE")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| {
                    bad(anyhow!(
                        "--aws: MLC_TABLE is not set; set it to the stack's state table (output StateTableName)"
                    ))
                })?;
            return Ok(Arc::new(DynamoStore::on(&from_environment().await, &table)));
        }
        if !self.state.exists() {
            return Err(bad(anyhow!(
                "{}: no such state database",
                self.state.display()
            )));
        }
        Ok(Arc::new(SqliteStore::new(SqliteDb::open(&self.state)?)))
    }
}
