//! Writing transcript lines: numbered, stored, then published.

use std::sync::Arc;
use std::time::Duration;

use waihu_core::{CallEvent, Role, Utterance};
use waihu_store::Store;

use crate::bus::EventBus;
use crate::metrics::Metrics;

pub(crate) struct LineWriter {
    store: Arc<dyn Store>,
    bus: Arc<dyn EventBus>,
    metrics: Arc<Metrics>,
    call_id: String,
    seq: u32,
}

impl LineWriter {
    pub(crate) fn new(store: Arc<dyn Store>, bus: Arc<dyn EventBus>, metrics: Arc<Metrics>, call_id: String) -> Self {
        LineWriter { store, bus, metrics, call_id, seq: 0 }
    }

    pub(crate) fn count(&self) -> u32 {
        self.seq
    }

    /// Stores the line, then publishes it. A store that fails is retried a
    /// few times; the line is published even then, so live listeners still
    /// hear it, and the failure is logged loudly.
    pub(crate) async fn write(&mut self, role: Role, content: &str) {
        self.seq += 1;
        let utterance = Utterance { role, content: content.to_owned() };
        let mut stored = false;
        for attempt in 0..5u64 {
            match self.store.append_line(&self.call_id, self.seq, &utterance, chrono::Utc::now().timestamp_millis()).await {
                Ok(()) => {
                    stored = true;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, seq = self.seq, "transcript line not stored yet");
                    tokio::time::sleep(Duration::from_millis(50 * (attempt + 1))).await;
                }
            }
        }
        if !stored {
            tracing::error!(seq = self.seq, "transcript line could not be stored");
        }
        self.metrics.lines_published.inc();
        self.bus.publish(&self.call_id, CallEvent::Line { seq: self.seq, utterance });
    }
}
