//! GROUP_IDs for Journal Import. Every import needs a fresh one: the Import Journals job takes
//! the same number as a parameter, and rows of a failed import stay in GL_INTERFACE under it,
//! so a GROUP_ID must never be used twice by this journal source.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::ports::StateStore;
use crate::state::StoreError;

/// Where GROUP_IDs come from, so the Lambdas can share one sequence while a single local
/// process or a test needs no store round trip.
#[async_trait]
pub trait GroupIds: Send + Sync {
    /// A GROUP_ID never used before.
    async fn next_group_id(&self) -> Result<u64, StoreError>;
}

/// Milliseconds since 2020-01-01: a floor that grows with time, so ids keep growing even after
/// the state store is recreated.
fn clock_floor() -> u64 {
    const EPOCH_2020_MS: u64 = 1_577_836_800_000;
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        .saturating_sub(EPOCH_2020_MS)
}

/// GROUP_IDs from the clock: milliseconds since 2020 times 1,000 plus a counter. Unique within
/// one process only: for a single local process and tests. Lambdas use [`StoreGroupIds`].
#[derive(Debug, Default)]
pub struct ClockGroupIds {
    counter: AtomicU64,
}

#[async_trait]
impl GroupIds for ClockGroupIds {
    async fn next_group_id(&self) -> Result<u64, StoreError> {
        Ok(clock_floor() * 1_000 + self.counter.fetch_add(1, Ordering::Relaxed) % 1_000)
    }
}

/// GROUP_IDs from a sequence in the state store, shared by every process (concurrent Lambdas),
/// never below the time this process started (so a recreated table does not reuse ids).
pub struct StoreGroupIds {
    store: Arc<dyn StateStore>,
    floor: u64,
}

impl StoreGroupIds {
    /// Ids from `store`'s `group_id` sequence.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Self {
            store,
            floor: clock_floor(),
        }
    }
}

#[async_trait]
impl GroupIds for StoreGroupIds {
    async fn next_group_id(&self) -> Result<u64, StoreError> {
        self.store.next_sequence("group_id", self.floor).await
    }
}
