//! How far a long run has come (a reconciliation of a month reads every order of it), told to
//! whoever started it. The library only counts; the `mlc` binary draws a bar on a terminal and
//! the Lambda functions pass [`Silent`], so no terminal code lives here.

/// Told as a long run advances.
pub trait Progress: Send + Sync {
    /// `done` of `total` items are finished. `done` only grows; `total` may grow too, as more
    /// of the work is found (each store's orders once that store is listed).
    fn advanced(&self, done: usize, total: usize);
}

/// Tells nobody: for callers without anyone watching (the functions, the tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn advanced(&self, _done: usize, _total: usize) {}
}
