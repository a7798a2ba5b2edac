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
pub(crate) struct PartLabel {
    pub(crate) part: &'static str,
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
    rtp_packets_sent: Counter,
    rtp_packets_received: Counter,
    rtp_packets_lost: Counter,
    rtp_jitter: Histogram,
    rtp_send_lateness_p99: Histogram,
    voice_turn: Family<PartLabel, Histogram>,
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
        let turn_latency = Histogram::new([0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0]);
        registry.register("turn_latency_seconds", "Callee's end of speech to the AI's reply starting", turn_latency.clone());
        let api_responses = Family::<ApiLabel, Counter>::default();
        registry.register("api_responses", "API answers by endpoint and HTTP status", api_responses.clone());
        let sse_subscribers = Gauge::default();
        registry.register("sse_subscribers", "Live transcript streams open now", sse_subscribers.clone());
        let lines_published = Counter::default();
        registry.register("transcript_lines", "Transcript lines stored and published", lines_published.clone());
        let rtp_packets_sent = Counter::default();
        registry.register("rtp_packets_sent", "RTP packets sent to far ends", rtp_packets_sent.clone());
        let rtp_packets_received = Counter::default();
        registry.register("rtp_packets_received", "RTP packets received from far ends", rtp_packets_received.clone());
        let rtp_packets_lost = Counter::default();
        registry.register("rtp_packets_lost", "RTP packets far ends sent that never arrived", rtp_packets_lost.clone());
        let rtp_jitter = Histogram::new([1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0]);
        registry.register("rtp_jitter_ms", "RFC 3550 interarrival jitter per call at its end, ms", rtp_jitter.clone());
        let rtp_send_lateness_p99 = Histogram::new([0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0]);
        registry.register(
            "rtp_send_lateness_p99_ms",
            "Per call, the 99th percentile of how late packets left against the 20 ms grid, ms",
            rtp_send_lateness_p99.clone(),
        );
        let voice_turn = Family::<PartLabel, Histogram>::new_with_constructor(|| {
            Histogram::new([5.0, 10.0, 25.0, 50.0, 100.0, 200.0, 300.0, 500.0, 750.0, 1000.0, 1500.0, 2500.0])
        });
        registry.register(
            "voice_turn_ms",
            "Voice calls, per turn: callee's last voiced frame to the AI's first audio frame (part=total) and its split \
             (endpointing, asr, dialogue_first_token, first_clause, tts_first_audio, overhead), ms",
            voice_turn.clone(),
        );
        Metrics {
            registry,
            voice_turn,
            calls_finished,
            calls_active,
            calls_queued,
            turn_latency,
            api_responses,
            sse_subscribers,
            lines_published,
            rtp_packets_sent,
            rtp_packets_received,
            rtp_packets_lost,
            rtp_jitter,
            rtp_send_lateness_p99,
        }
    }
}

impl Metrics {
    /// Adds one call's RTP counters.
    pub(crate) fn observe_media(&self, r: &waihu_carrier::MediaReport) {
        self.rtp_packets_sent.inc_by(r.packets_sent);
        self.rtp_packets_received.inc_by(r.packets_received);
        self.rtp_packets_lost.inc_by(r.packets_lost);
        if r.packets_received > 0 {
            self.rtp_jitter.observe(r.jitter_ms);
        }
        if r.packets_sent > 0 {
            self.rtp_send_lateness_p99.observe(r.send_lateness_p99_ms);
        }
    }

    /// Adds one voice turn's latency split.
    pub(crate) fn observe_turn(&self, t: &waihu_turn::TurnLatencyMs) {
        for (part, ms) in [
            ("total", t.total_ms),
            ("endpointing", t.endpointing_ms),
            ("asr", t.asr_ms),
            ("dialogue_first_token", t.dialogue_first_token_ms),
            ("first_clause", t.first_clause_ms),
            ("tts_first_audio", t.tts_first_audio_ms),
            ("overhead", t.overhead_ms),
        ] {
            self.voice_turn.get_or_create(&PartLabel { part }).observe(ms);
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
