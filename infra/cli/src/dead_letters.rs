//! `mlc dead-letters`: the orders waiting in the dead-letter queue, listed or moved back
//! (`common::posting::dead_letters`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;

use crate::{Failure, ReportFormat, bad};

/// `mlc dead-letters` arguments.
#[derive(clap::Args)]
pub struct DeadLetterArgs {
    /// The SQLite state database (local state; its queue).
    #[arg(long, default_value = "mlc-state.db")]
    state: PathBuf,
    /// The deployed stack's queue (MLC_QUEUE_URL) and the dead-letter queue its redrive
    /// policy names, with the AWS credentials of this shell.
    #[arg(long)]
    aws: bool,
    /// Move them back to the queue; the poster takes them like any other message.
    #[arg(long)]
    redrive: bool,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    max: usize,
    /// Who moves them (kept in each message's reason, so in the order's audit trail).
    #[arg(long, default_value = "operator")]
    by: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
}

/// Lists or moves back the dead letters.
pub async fn run(args: DeadLetterArgs) -> Result<(), Failure> {
    use common::adapters::aws::{LambdaEnv, from_environment, queue_with_dead_letters};
    use common::adapters::local_queue::LocalQueue;
    use common::adapters::sqlite::SqliteDb;
    use common::ports::Queue;
    use common::posting::dead_letters::{DeadLetter, list, redrive};

    let queue: Arc<dyn Queue> = if args.aws {
        let env = LambdaEnv::from_env()?;
        Arc::new(queue_with_dead_letters(&env, &from_environment().await).await?)
    } else {
        if !args.state.exists() {
            return Err(bad(anyhow!(
                "{}: no such state database",
                args.state.display()
            )));
        }
        let db = SqliteDb::open(&args.state)?;
        Arc::new(LocalQueue::new(db, "orders", 5))
    };
    let describe = |d: &DeadLetter| match &d.order {
        Some(m) => format!(
            "order {} of store {}  received {} times  reason: {}  seen {}",
            m.order_id,
            m.store_hash,
            d.receive_count,
            m.reason,
            m.seen_at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        None => format!(
            "message {}: not an order message ({})",
            d.message_id,
            d.unreadable.as_deref().unwrap_or("")
        ),
    };
    let failed = if args.redrive {
        let done = redrive(queue.as_ref(), args.max, &args.by, chrono::Utc::now()).await?;
        match args.format {
            ReportFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(&done).map_err(|e| Failure::Failed(e.into()))?
            ),
            ReportFormat::Text => {
                println!("{} moved back to the queue:", done.moved.len());
                for d in &done.moved {
                    println!("  {}", describe(d));
                }
                if !done.left.is_empty() {
                    println!(
                        "{} left as dead letters (not order messages):",
                        done.left.len()
                    );
                    for d in &done.left {
                        println!("  {}", describe(d));
                    }
                }
                for (id, why) in &done.failed {
                    println!("  not moved: message {id}: {why}");
                }
            }
        }
        done.failed.len()
    } else {
        let letters = list(queue.as_ref(), args.max).await?;
        match args.format {
            ReportFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(&letters).map_err(|e| Failure::Failed(e.into()))?
            ),
            ReportFormat::Text => {
                println!("{} dead letters", letters.len());
                for d in &letters {
                    println!("  {}", describe(d));
                }
            }
        }
        0
    };
    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::Failed(anyhow!(
            "{failed} dead letter(s) could not be moved"
        )))
    }
}
