//! `common`'s integration tests, as one test binary.
//!
//! Each file below used to be its own binary, and every one of them linked the whole dependency
//! tree (the AWS SDK, reqwest, rusqlite, axum): thirteen links of the same code, about a quarter
//! of a gigabyte of disk each with debug info. One binary links once; the modules keep the
//! topics apart, and `cargo test -p common --test it decide::` still runs one topic.

mod support;

mod accounting_rules;
mod bigcommerce_client;
mod bigcommerce_contract;
mod catalog;
mod config_errors;
mod decide;
mod fbdi_golden;
mod fbdi_zip;
mod fuzz;
mod hostile_input;
mod journal_properties;
mod ledger_cases;
mod life_properties;
mod local_pipeline;
mod lookups;
mod oracle_answers;
mod oracle_fusion;
mod order_shapes;
mod ping;
mod queue;
mod reconcile;
mod secrets;
mod spans;
mod state_store;
mod sweeps;
mod webhook_verification;
mod wrong_order;
