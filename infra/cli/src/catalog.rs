//! `mlc catalog`: the alignment of the stores' catalogs with the mapping
//! (`common::posting::catalog`), printed; exit code 1 when a category goes to the defaults or
//! a rule is stale.

use anyhow::anyhow;
use common::posting::catalog::{StaleRule, catalog_alignment};

use crate::{DocumentArgs, Failure, ReportFormat, bad, document_services};

/// `mlc catalog` arguments.
#[derive(clap::Args)]
pub struct CatalogArgs {
    #[command(flatten)]
    document: DocumentArgs,
    /// One store id of the document; every store when left out.
    #[arg(long)]
    store: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
}

/// Reads the catalogs and prints where each category's revenue goes.
pub async fn run(args: CatalogArgs) -> Result<(), Failure> {
    let services = document_services(&args.document).await?;
    let report = catalog_alignment(&services, args.store.as_deref())
        .await
        .map_err(|e| match e {
            common::posting::catalog::CatalogError::UnknownStore(..) => bad(anyhow!(e)),
            other => Failure::Failed(anyhow!(other)),
        })?;
    match args.format {
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Failure::Failed(e.into()))?
        ),
        ReportFormat::Text => {
            println!("Revenue by category ({}):", report.stores.join(", "));
            for c in &report.categories {
                println!(
                    "  {:<4} {:<40} {:<24} {}{}",
                    c.store,
                    c.path,
                    c.account,
                    c.decided_by,
                    if c.only_defaults {
                        "   <- no rule: the defaults decide"
                    } else {
                        ""
                    }
                );
            }
            if !report.stale.is_empty() {
                println!("Rules naming what the store does not have:");
                for s in &report.stale {
                    let (rule, what) = match s {
                        StaleRule::Category { rule, id } => (rule, format!("category {id}")),
                        StaleRule::Channel { rule, id } => (rule, format!("channel {id}")),
                        StaleRule::Product { rule, id } => (rule, format!("product {id}")),
                    };
                    println!("  rule {rule:?}: {what} is in no store the rule applies to");
                }
            }
        }
    }
    if report.is_aligned() {
        Ok(())
    } else {
        Err(Failure::Failed(anyhow!(
            "{} categories without a rule, {} stale rule references",
            report.only_defaults(),
            report.stale.len()
        )))
    }
}
