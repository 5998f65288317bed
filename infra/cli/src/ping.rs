//! `mlc ping`: the checks of `common::posting::ping`, printed, with exit code 1 on a failure.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;

use crate::{Failure, ReportFormat, bad, connect};

/// Whom `mlc ping` checks: the systems of a document file, or of the deployed stack.
#[derive(clap::Args)]
pub struct PingArgs {
    /// The connector document; with --aws the document comes from the secret named by
    /// MLC_CONFIG_SECRET.
    #[arg(long, required_unless_present = "aws")]
    config: Option<PathBuf>,
    /// Check the deployed stack's document (MLC_CONFIG_SECRET, MLC_TABLE, MLC_QUEUE_URL).
    #[arg(long)]
    aws: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
}

/// Runs the checks and prints them.
pub async fn run(args: PingArgs) -> Result<(), Failure> {
    use common::adapters::aws::{AwsPorts, LambdaEnv, from_environment};
    use common::adapters::local_queue::LocalQueue;
    use common::adapters::secrets::FileSource;
    use common::adapters::sqlite::{SqliteDb, SqliteStore};
    use common::posting::ping::{Outcome, ping};

    let services = if args.aws {
        let env = LambdaEnv::from_env().map_err(bad)?;
        let ports = AwsPorts::new(&env, &from_environment().await);
        connect(ports.source, ports.store, ports.queue).await?
    } else {
        // No state is read: a scratch database stands in for it.
        let db = SqliteDb::in_memory().map_err(bad)?;
        connect(
            Arc::new(FileSource::new(
                args.config.as_ref().expect("clap requires --config"),
            )),
            Arc::new(SqliteStore::new(db.clone())),
            Arc::new(LocalQueue::new(db, "orders", 5)),
        )
        .await?
    };
    let checks = ping(&services, chrono::Utc::now().date_naive()).await;
    match args.format {
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&checks).map_err(|e| Failure::Failed(e.into()))?
        ),
        ReportFormat::Text => {
            for c in &checks {
                let mark = match c.outcome {
                    Outcome::Ok => "ok  ",
                    Outcome::Warn => "warn",
                    Outcome::Fail => "FAIL",
                };
                println!("{mark}  {:<11} {}: {}", c.system, c.subject, c.detail);
                if let Some(fix) = &c.fix {
                    println!("      fix: {fix}");
                }
            }
        }
    }
    let failed = checks.iter().filter(|c| c.outcome == Outcome::Fail).count();
    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::Failed(anyhow!("{failed} check(s) failed")))
    }
}
