//! Prometheus metrics: calls by status, live and queued calls, turn latency,
//! API answers by endpoint and code, SSE subscribers.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StatusLabel {
    pub(crate) status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ApiLabel {
    pub(crate) endpoint: String,
    pub(crate) code: u16,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    pub(crate) calls_finished: Family<StatusLabel, Counter>,
    pub(crate) calls_active: Gauge,
    pub(crate) calls_queued: Gauge,
    pub(crate) turn_latency: Histogram,
    pub(crate) api_responses: Family<ApiLabel, Counter>,
    pub(crate) sse_subscribers: Gauge,
    pub(crate) lines_published: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("waihu");
        let calls_finished = Family::<StatusLabel, Counter>::default();
        registry.register("calls_finished", "Calls that reached a final status, by status", calls_finished.clone());
        let calls_active = Gauge::default();
        registry.register("calls_active", "Calls dialling, ringing or connected now", calls_active.clone());
        let calls_queued = Gauge::default();
        registry.register("calls_queued", "Calls waiting for a free line", calls_queued.clone());
        // Turn latency: end of the callee's utterance to the AI's reply going
        // out. Buckets from 50 ms to 5 s.
        let turn_latency = Histogram::new([0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0].into_iter());
        registry.register("turn_latency_seconds", "Callee's end of speech to the AI's reply starting", turn_latency.clone());
        let api_responses = Family::<ApiLabel, Counter>::default();
        registry.register("api_responses", "API answers by endpoint and HTTP status", api_responses.clone());
        let sse_subscribers = Gauge::default();
        registry.register("sse_subscribers", "Live transcript streams open now", sse_subscribers.clone());
        let lines_published = Counter::default();
        registry.register("transcript_lines", "Transcript lines stored and published", lines_published.clone());
        Metrics { registry, calls_finished, calls_active, calls_queued, turn_latency, api_responses, sse_subscribers, lines_published }
    }
}

impl Metrics {
    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
