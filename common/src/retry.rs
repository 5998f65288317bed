//! Jittered exponential backoff, shared by the HTTP clients.
//!
//! Every client that retries waits `base × 2^attempt`, capped, times a random factor in
//! [0.5, 1.5), so that many Lambdas retrying after the same outage do not hit the API in step.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Backoff state for one client.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    seed: AtomicU64,
}

impl Backoff {
    /// Waits starting at `base`, never longer than `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64);
        Self {
            base,
            max,
            seed: AtomicU64::new(seed | 1),
        }
    }

    /// A factor in [0.5, 1.5) (xorshift: jitter needs spread, not secrecy).
    fn jitter(&self) -> f64 {
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::Relaxed);
        0.5 + (x % 10_000) as f64 / 10_000.0
    }

    /// The wait before retry number `attempt` (1 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self.base.saturating_mul(1 << attempt.min(16));
        exp.min(self.max).mul_f64(self.jitter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_stays_bounded_and_varies() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let first: Vec<Duration> = (0..20).map(|_| b.delay(1)).collect();
        assert!(
            first
                .iter()
                .all(|d| *d >= Duration::from_millis(100) && *d < Duration::from_millis(300))
        );
        assert!(first.windows(2).any(|w| w[0] != w[1]), "jittered");
        assert!((0..50).all(|_| b.delay(30) < Duration::from_secs(3)));
    }
}
