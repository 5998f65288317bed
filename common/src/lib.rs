//! ml-connector's library: everything that is not an entry point.
//!
//! The accounting core ([`money`], [`mapping`], [`journal`], [`oracle::fbdi`]) is pure: it turns
//! an order bundle and the connector document into balanced journals and Journal Import files,
//! with no I/O, so it can be tested exhaustively and run anywhere.

// Every public item says why it exists (the project standard); clippy -D warnings holds it.
#![warn(missing_docs)]

pub mod adapters;
pub mod bigcommerce;
pub mod config;
pub mod exit;
pub mod journal;
mod json_path;
pub mod mapping;
pub mod metrics;
pub mod money;
pub mod oracle;
pub mod ports;
pub mod posting;
pub mod progress;
pub mod redact;
pub mod retry;
pub mod state;
pub mod telemetry;
