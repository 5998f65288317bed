//! Application services: what the entry points call. Each works only through the ports, so the
//! same code runs in the Lambdas and in the local `mlc` process.
//!
//! - [`intake`]: a verified webhook delivery becomes a queue message;
//! - [`poster`]: queue messages become decided, validated, submitted postings;
//! - [`poller`]: the scheduled sweep for what webhooks missed, the hook keeper, and the
//!   [`tracker`] that follows imports to Posted or Rejected;
//! - [`ping`], [`catalog`], [`replay`], [`reconcile`] and [`dead_letters`]: what an operator
//!   runs (`mlc ping`, `mlc catalog`, `mlc replay`, `mlc reconcile`, `mlc dead-letters`).

pub mod catalog;
pub mod dead_letters;
pub mod decide;
pub mod fetch;
pub mod hooks;
pub mod intake;
pub mod message;
pub mod ping;
pub mod poller;
pub mod poster;
pub mod preview;
pub mod reconcile;
pub mod replay;
pub mod services;
pub mod submission;
pub mod submit;
pub mod tracker;
