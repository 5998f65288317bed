//! Oracle Fusion Cloud ERP: how journals get in. `journalBatches` has no create, so journals go
//! through FBDI Journal Import ([`fbdi`] writes the file), submitted and tracked by the REST
//! [`client`], authenticated by [`auth`].

pub mod auth;
pub mod client;
pub mod error;
pub mod fbdi;
pub mod models;

pub use client::{FusionClient, FusionSettings};
pub use error::OracleError;
pub use models::{BatchRecord, JobStatus, LedgerRecord, Period, PeriodState, Submission};
