//! The sandboxes on their own, over HTTP, as one test binary (one link of the dependency tree
//! instead of one per file).

mod oracle_pod;
mod sandbox_store;
mod sandbox_strict;
mod sandbox_transactions;
