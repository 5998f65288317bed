//! `mlc audit`: an order's audit trail (who did what, with the ids that tie it to BigCommerce
//! and Oracle), from local state or the deployed table.

use common::state::AuditEvent;
use serde_json::json;

use crate::ReportFormat;
use crate::failure::Failure;
use crate::state_args::StoreArgs;

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

/// One audit event on one line.
pub fn describe(e: &AuditEvent) -> String {
    let posting = e.posting.map(|p| p.to_string()).unwrap_or_default();
    let states = match (e.before, e.after) {
        (None, None) => String::new(),
        (b, a) => format!(
            "{} → {}",
            b.map_or("·".to_string(), |s| s.to_string()),
            a.map_or("·".to_string(), |s| s.to_string())
        ),
    };
    let mut ids: Vec<String> = Vec::new();
    for field in ["group_id", "request_id", "batch_id", "reason"] {
        if let Some(v) = e.detail.get(field).filter(|v| !v.is_null()) {
            ids.push(format!(
                "{field}={}",
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            ));
        }
    }
    if let Some(reasons) = e.detail.get("reasons") {
        ids.push(format!("because={reasons}"));
    }
    if let Some(link) = &e.links_to {
        ids.push(format!("links to {link}"));
    }
    format!(
        "{}  {:<8} {:<13} {:<10} {:<22} {}",
        e.at.format("%H:%M:%S%.3f"),
        format!("{:?}", e.actor).to_lowercase(),
        format!("{:?}", e.kind).to_lowercase(),
        posting,
        states,
        ids.join(" ")
    )
}
