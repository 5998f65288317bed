//! Application services: what the entry points call. Each works only through the ports, so the
//! same code runs in the Lambdas and in the local `mlc` process.
//!
//! - [`intake`]: a verified webhook delivery becomes a queue message;
//! - [`poster`]: queue messages become decided postings, recorded and handed to [`dispatch`];
//! - [`preflight`]: the checks a journal passes before it may go into an import;
//! - [`dispatch`]: sending postings to Oracle, each claimed by a conditional write first, many
//!   journals per import (GROUP_IDs from [`group_ids`]);
//! - [`poller`]: the scheduled sweep for what webhooks missed, the hook keeper, and the
//!   [`tracker`] that follows imports to Posted or Rejected, splitting a refused import in
//!   halves through [`dispatch`] until the bad journal is alone;
//! - [`lookup`]: batches found by their names (lost answers, read-back, replay);
//! - [`ping`], [`catalog`], [`replay`], [`reconcile`] and [`dead_letters`]: what an operator
//!   runs (`mlc ping`, `mlc catalog`, `mlc replay`, `mlc reconcile`, `mlc dead-letters`).

pub mod catalog;
pub mod dead_letters;
pub mod decide;
pub mod dispatch;
pub mod fetch;
pub mod group_ids;
pub mod hooks;
pub mod intake;
pub mod lookup;
pub mod message;
pub mod ping;
pub mod poller;
pub mod poster;
pub mod preflight;
pub mod preview;
pub mod reconcile;
pub mod replay;
pub mod services;
pub mod tracker;
