//! The event bus: what a call session publishes and SSE streams follow.
//!
//! Durability is the store's job (a line is stored before it is published);
//! the bus only makes delivery immediate. A subscriber that misses events
//! (it lagged, or joined late) catches up from the store by `seq`, so the
//! bus may drop under pressure without anything being lost.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::broadcast;
use waihu_core::CallEvent;

/// Capacity per call: a few minutes of lines; a slower reader lags and
/// catches up from the store.
const PER_CALL_CAPACITY: usize = 256;

/// Moves call events from sessions to subscribers.
pub trait EventBus: Send + Sync + 'static {
    /// Sends an event to the call's subscribers (none is fine).
    fn publish(&self, call_id: &str, event: CallEvent);
    /// Follows a call's events from now on.
    fn subscribe(&self, call_id: &str) -> broadcast::Receiver<CallEvent>;
    /// Forgets a call whose stream has no subscribers left.
    fn release(&self, call_id: &str);
}

/// The single-node bus: one broadcast channel per call with subscribers.
#[derive(Default)]
pub struct InProcessBus {
    channels: Mutex<HashMap<String, broadcast::Sender<CallEvent>>>,
}

impl InProcessBus {
    /// Calls with a channel (for tests and metrics).
    pub fn channel_count(&self) -> usize {
        self.channels.lock().map(|c| c.len()).unwrap_or(0)
    }
}

impl EventBus for InProcessBus {
    fn publish(&self, call_id: &str, event: CallEvent) {
        let Ok(mut channels) = self.channels.lock() else { return };
        let ended = matches!(event, CallEvent::Ended { .. });
        if let Some(tx) = channels.get(call_id) {
            let _ = tx.send(event);
        }
        if ended {
            // Receivers keep what was sent; the channel itself is not needed now.
            channels.remove(call_id);
        }
    }

    fn subscribe(&self, call_id: &str) -> broadcast::Receiver<CallEvent> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels.entry(call_id.to_owned()).or_insert_with(|| broadcast::channel(PER_CALL_CAPACITY).0).subscribe()
    }

    fn release(&self, call_id: &str) {
        let Ok(mut channels) = self.channels.lock() else { return };
        if channels.get(call_id).is_some_and(|tx| tx.receiver_count() == 0) {
            channels.remove(call_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waihu_core::{CallStatus, Utterance};

    #[tokio::test]
    async fn subscribers_get_events_in_order_and_the_channel_goes_with_the_call() {
        let bus = InProcessBus::default();
        let mut a = bus.subscribe("c1");
        let mut b = bus.subscribe("c1");
        bus.publish("c1", CallEvent::Line { seq: 1, utterance: Utterance::assistant("喂") });
        bus.publish("c2", CallEvent::Status { status: CallStatus::Ringing });
        bus.publish("c1", CallEvent::Ended { status: CallStatus::Completed, lines: 1 });
        for rx in [&mut a, &mut b] {
            assert!(matches!(rx.recv().await.unwrap(), CallEvent::Line { seq: 1, .. }));
            assert!(matches!(rx.recv().await.unwrap(), CallEvent::Ended { .. }));
            assert!(rx.recv().await.is_err(), "closed after the end");
        }
        assert_eq!(bus.channel_count(), 0);
        let _late = bus.subscribe("c3");
        drop(_late);
        bus.release("c3");
        assert_eq!(bus.channel_count(), 0);
    }
}
