//! `mlc ping`: the checks of `common::posting::ping`, printed, with exit code 1 on a failure.

use anyhow::anyhow;

use crate::{DocumentArgs, Failure, ReportFormat, document_services};

/// Whom `mlc ping` checks: the systems of a document file, or of the deployed stack.
#[derive(clap::Args)]
pub struct PingArgs {
    #[command(flatten)]
    document: DocumentArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
}

/// Runs the checks and prints them.
pub async fn run(args: PingArgs) -> Result<(), Failure> {
    use common::posting::ping::{Outcome, ping};

    let services = document_services(&args.document).await?;
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
