//! Limits toward the trunk: calls live at once, and new calls per second.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// A token bucket of `rate` dials per second with a burst of one second's
/// worth. A dial over the rate waits for its token; it is never dropped.
#[derive(Debug)]
pub(crate) struct DialRate {
    rate: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl DialRate {
    /// A full bucket.
    pub(crate) fn new(rate: f64) -> Self {
        let burst = rate.max(1.0);
        DialRate { rate, burst, state: Mutex::new(Bucket { tokens: burst, at: Instant::now() }) }
    }

    /// Takes a token, waiting for one at most `max_wait`. `false`: none
    /// came in time (the caller reports the trunk as busy).
    pub(crate) async fn acquire(&self, max_wait: Duration) -> bool {
        // Holding the lock across the wait keeps dials in arrival order.
        let mut b = self.state.lock().await;
        let now = Instant::now();
        b.tokens = (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * self.rate).min(self.burst);
        b.at = now;
        if b.tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - b.tokens) / self.rate);
            if wait > max_wait {
                return false;
            }
            tokio::time::sleep(wait).await;
            b.tokens = 1.0;
            b.at = Instant::now();
        }
        b.tokens -= 1.0;
        true
    }
}

/// Calls live at once on the trunk; a leg holds its permit until it ends.
#[derive(Debug, Clone)]
pub(crate) struct CallSlots(Arc<Semaphore>);

impl CallSlots {
    /// `max` slots.
    pub(crate) fn new(max: usize) -> Self {
        CallSlots(Arc::new(Semaphore::new(max)))
    }

    /// A free slot, or `None` when all are taken.
    pub(crate) fn try_take(&self) -> Option<OwnedSemaphorePermit> {
        self.0.clone().try_acquire_owned().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn dials_over_the_rate_wait_their_turn() {
        let rate = DialRate::new(2.0);
        let start = Instant::now();
        for _ in 0..6 {
            assert!(rate.acquire(Duration::from_secs(10)).await);
        }
        // Two from the full bucket, then one every half second.
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(1990) && waited <= Duration::from_millis(2100), "{waited:?}");
        assert!(!rate.acquire(Duration::from_millis(10)).await);
    }

    #[test]
    fn slots_run_out_and_come_back() {
        let slots = CallSlots::new(1);
        let p = slots.try_take().unwrap();
        assert!(slots.try_take().is_none());
        drop(p);
        assert!(slots.try_take().is_some());
    }
}
