//! Limits toward the trunk: calls live at once, and new calls per second.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Turns closer than this go without sleeping.
const TIMER_SLACK: Duration = Duration::from_millis(1);

/// At most `rate` dials per second, evenly spaced: one every `1/rate`
/// seconds, with no burst. Trunks police calls per second over any
/// one-second window (and often reject the excess with 403/503); a bucket
/// that let `rate` dials out at once and then refilled would put nearly
/// twice the rate into the first second. A dial over the rate waits for its
/// turn; it is never dropped.
#[derive(Debug)]
pub(crate) struct DialRate {
    interval: Duration,
    /// The earliest moment the next dial may go.
    next: Mutex<Instant>,
}

impl DialRate {
    /// The first dial goes at once.
    pub(crate) fn new(rate: f64) -> Self {
        DialRate { interval: Duration::from_secs_f64(1.0 / rate), next: Mutex::new(Instant::now()) }
    }

    /// Waits for this dial's turn, at most `max_wait`. `false`: the turn
    /// would come later (the caller reports the trunk as busy), and no turn
    /// is used up.
    pub(crate) async fn acquire(&self, max_wait: Duration) -> bool {
        // Holding the lock across the wait keeps dials in arrival order.
        let mut next = self.next.lock().await;
        let now = Instant::now();
        // A turn missed by less than the slack (a late timer) is still taken
        // from the schedule, so the rate holds; an older one is not (no
        // burst after a quiet spell).
        let at = (*next).max(now.checked_sub(TIMER_SLACK).unwrap_or(now));
        let wait = at.saturating_duration_since(now);
        if wait > max_wait {
            return false;
        }
        // tokio's timer sleeps at least 1 ms: at high rates a turn less than
        // that away goes now, and the schedule (not the clock) keeps the rate.
        if wait > TIMER_SLACK {
            tokio::time::sleep_until(at).await;
        }
        *next = at + self.interval;
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
    async fn dials_over_the_rate_are_spaced_evenly() {
        let rate = DialRate::new(2.0);
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..6 {
            assert!(rate.acquire(Duration::from_secs(10)).await);
            at.push(start.elapsed());
        }
        // One at once, then one every half second: never more than 2 in any second.
        let expected: Vec<Duration> = (0..6).map(|i| Duration::from_millis(500 * i)).collect();
        assert_eq!(at, expected);
        assert!(!rate.acquire(Duration::from_millis(10)).await, "the next turn is 500 ms away");
        // A refused dial uses no turn; after a pause, a dial goes at once.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let t = Instant::now();
        assert!(rate.acquire(Duration::ZERO).await);
        assert_eq!(t.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_below_one_spaces_dials_by_seconds() {
        let rate = DialRate::new(0.5);
        let start = Instant::now();
        assert!(rate.acquire(Duration::from_secs(10)).await);
        assert!(rate.acquire(Duration::from_secs(10)).await);
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_high_rate_is_not_held_back_by_the_timers_resolution() {
        let rate = DialRate::new(10_000.0);
        let start = Instant::now();
        for _ in 0..200 {
            assert!(rate.acquire(Duration::from_secs(1)).await);
        }
        // 200 at 10,000/s take 20 ms, not 200 sleeps of 1 ms.
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(18) && took <= Duration::from_millis(22), "{took:?}");
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
