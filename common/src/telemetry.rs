//! Logs as one JSON object per line (CloudWatch Logs Insights queries them by field: order,
//! posting, batch), filtered by `RUST_LOG` (default `info`). Secrets never reach a log: they
//! are redacted types, and the services log identifiers, never bodies.

/// Installs the JSON log subscriber (once per process; later calls do nothing).
pub fn init_json_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .try_init();
}
