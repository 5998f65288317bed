//! The `mlc` command line as a user runs it, as one test binary: each module below was its own
//! binary once, and each linked the whole dependency tree again.

mod support;

mod catalog_cli;
mod config_cli;
mod dead_letters_cli;
#[cfg(feature = "demo")]
mod demo_cli;
mod fetch_cli;
mod hostile_cli;
mod ping_cli;
mod postings_cli;
mod preview_cli;
mod reconcile_cli;
mod report_html;
mod serve_cli;
