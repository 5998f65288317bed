//! `mlc audit`: an order's audit trail (who did what, with the ids that tie it to BigCommerce
//! and Oracle), from local state or the deployed table.

use serde_json::json;

use crate::ReportFormat;
use crate::failure::Failure;
use crate::state_args::StoreArgs;
use crate::trail::describe;

/// `mlc audit` arguments.
#[derive(clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    on: StoreArgs,
    /// Store id from the connector document.
    #[arg(long)]
    store: String,
    /// Order id.
    #[arg(long)]
    order_id: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
}

/// Prints the order's events, oldest first. An order with none is an answer, not an error:
/// the connector never saw it.
pub async fn run(args: AuditArgs) -> Result<(), Failure> {
    let store = args.on.open().await?;
    let events = store.audit_of_order(&args.store, args.order_id).await?;
    match args.format {
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "store": args.store,
                "order_id": args.order_id,
                "events": events,
            }))
            .map_err(|e| Failure::Failed(e.into()))?
        ),
        ReportFormat::Text => {
            if events.is_empty() {
                println!(
                    "no audit events for order {} of store {}",
                    args.order_id, args.store
                );
            }
            for event in &events {
                println!("{}", describe(event));
            }
        }
    }
    Ok(())
}
