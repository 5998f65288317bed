//! `mlc catalog`: the alignment of the stores' catalogs with the mapping
//! (`common::posting::catalog`), printed; exit code 1 when a category goes to the defaults or
//! a rule is stale.

use anyhow::anyhow;
use common::posting::catalog::{StaleRule, catalog_alignment};

use crate::{DocumentArgs, Failure, TableFormat, document_services};

/// `mlc catalog` arguments.
#[derive(clap::Args)]
pub struct CatalogArgs {
    #[command(flatten)]
    document: DocumentArgs,
    /// One store id of the document; every store when left out.
    #[arg(long)]
    store: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Text)]
    format: TableFormat,
}

/// Reads the catalogs and prints where each category's revenue goes.
pub async fn run(args: CatalogArgs) -> Result<(), Failure> {
    let services = document_services(&args.document).await?;
    let report = catalog_alignment(&services, args.store.as_deref()).await?;
    match args.format {
        TableFormat::Csv => {
            print!(
                "{}",
                crate::csv::row(&[
                    "store",
                    "category_id",
                    "path",
                    "account",
                    "decided_by",
                    "only_defaults"
                ])
            );
            for c in &report.categories {
                print!(
                    "{}",
                    crate::csv::row(&[
                        c.store.clone(),
                        c.category_id.to_string(),
                        c.path.clone(),
                        c.account.clone(),
                        c.decided_by.clone(),
                        c.only_defaults.to_string(),
                    ])
                );
            }
            for s in &report.stale {
                eprintln!("stale rule: {}", stale_text(s));
            }
        }
        TableFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Failure::Failed(e.into()))?
        ),
        TableFormat::Text => {
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
                    println!("  {}", stale_text(s));
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

/// One stale reference, in words.
fn stale_text(s: &StaleRule) -> String {
    let (rule, what) = match s {
        StaleRule::Category { rule, id } => (rule, format!("category {id}")),
        StaleRule::Channel { rule, id } => (rule, format!("channel {id}")),
        StaleRule::Product { rule, id } => (rule, format!("product {id}")),
    };
    format!("rule {rule:?}: {what} is in no store the rule applies to")
}
