//! Per-stream counters: what was sent and received, what was lost, and how
//! evenly we paced our own packets.
//!
//! Loss and reordering follow RFC 3550 appendix A.1/A.3 (extended highest
//! sequence number against packets received), interarrival jitter follows
//! appendix A.8. Send pacing is measured as each packet's lateness against
//! its slot on the session's 20 ms grid, kept in a fixed histogram so a
//! load benchmark can merge thousands of streams cheaply.
//!
//! Why by hand: in Rust, RFC 3550's receiver statistics live inside RTCP
//! stacks (webrtc-rs's report interceptors, `rtci-interceptor`), which
//! compute them to send receiver reports. We send no RTCP and want only the
//! counters for the call's `MediaReport`; the appendix's algorithms are a
//! few dozen lines, and the send-pacing histogram is our own measure.

use std::time::Duration;

use serde::Serialize;

use crate::jitter::JitterCounters;

/// RFC 3550 A.1: a forward jump of this or more starts a new sequence
/// (the far end restarted) instead of counting thousands of losses.
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: how far back a packet may be and still count as reordered.
const MAX_MISORDER: u16 = 100;
/// Window of recent sequence numbers remembered to tell duplicates from
/// reordered packets.
const DUP_WINDOW: u16 = 64;

/// Receive-side sequence and timing accounting for one stream.
#[derive(Debug, Clone, Default)]
pub struct ReceiveStats {
    ssrc: Option<u32>,
    base_seq: u16,
    max_seq: u16,
    cycles: u64,
    prior_expected: u64,
    recent: u64,
    unique: u64,
    packets: u64,
    bytes: u64,
    reordered: u64,
    duplicated: u64,
    last_transit: Option<u32>,
    jitter: f64,
}

impl ReceiveStats {
    /// Nothing received yet.
    pub fn new() -> Self {
        ReceiveStats::default()
    }

    /// Counts one packet. `arrival` is its arrival time on any clock that
    /// started before the stream (the session uses time since its start);
    /// `timed` says whether its RTP timestamp follows the sampling clock:
    /// telephone-event packets repeat one timestamp and would inflate jitter.
    pub fn on_packet(
        &mut self,
        ssrc: u32,
        seq: u16,
        timestamp: u32,
        arrival: Duration,
        payload_len: usize,
        timed: bool,
    ) {
        self.packets += 1;
        self.bytes += payload_len as u64;
        if self.ssrc != Some(ssrc) {
            self.restart(seq);
            self.ssrc = Some(ssrc);
        } else {
            self.on_sequence(seq);
        }
        if timed {
            self.on_timing(timestamp, arrival);
        }
    }

    fn restart(&mut self, seq: u16) {
        if self.ssrc.is_some() {
            self.prior_expected += self.segment_expected();
        }
        self.base_seq = seq;
        self.max_seq = seq;
        self.cycles = 0;
        self.recent = 1;
        self.unique += 1;
        self.last_transit = None;
    }

    fn on_sequence(&mut self, seq: u16) {
        let forward = seq.wrapping_sub(self.max_seq);
        if forward == 0 {
            self.duplicated += 1;
        } else if forward < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += 1 << 16;
            }
            self.recent = if forward >= DUP_WINDOW {
                0
            } else {
                self.recent << forward
            };
            self.recent |= 1;
            self.max_seq = seq;
            self.unique += 1;
        } else if forward >= u16::MAX - MAX_MISORDER {
            let back = self.max_seq.wrapping_sub(seq);
            // A packet from before the first one received (the first two
            // swapped) moves the base back, so `expected` counts it.
            // (Only without a wrap in between, which keeps the arithmetic
            // of `expected` from going below zero.)
            if self.cycles == 0 && seq < self.base_seq {
                self.base_seq = seq;
            }
            if back < DUP_WINDOW {
                let bit = 1u64 << back;
                if self.recent & bit != 0 {
                    self.duplicated += 1;
                } else {
                    self.recent |= bit;
                    self.unique += 1;
                    self.reordered += 1;
                }
            } else {
                // Too old to tell a duplicate from a straggler: call it reordered.
                self.unique += 1;
                self.reordered += 1;
            }
        } else {
            // A jump neither forward nor back within reason: the far end
            // restarted its sequence. (A.1 waits for a second packet to
            // confirm; a single stray costs us at most a skewed count.)
            self.restart(seq);
        }
    }

    fn on_timing(&mut self, timestamp: u32, arrival: Duration) {
        // Arrival in timestamp units (8 kHz); wrapping keeps the difference
        // meaningful across the 32-bit rollover.
        let arrival_units = (arrival.as_micros() as u64 * 8 / 1000) as u32;
        let transit = arrival_units.wrapping_sub(timestamp);
        if let Some(last) = self.last_transit {
            let d = f64::from((transit.wrapping_sub(last) as i32).unsigned_abs());
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    fn segment_expected(&self) -> u64 {
        let extended_max = self.cycles + u64::from(self.max_seq);
        (extended_max + 1).saturating_sub(u64::from(self.base_seq))
    }

    /// Packets the sequence numbers say should have arrived.
    pub fn expected(&self) -> u64 {
        if self.ssrc.is_none() {
            return 0;
        }
        self.prior_expected + self.segment_expected()
    }

    /// Packets never received (expected minus distinct packets received).
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.unique)
    }

    /// Packets received, duplicates included.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Payload bytes received.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Packets that arrived after a later-numbered one.
    pub fn reordered(&self) -> u64 {
        self.reordered
    }

    /// Packets received more than once.
    pub fn duplicated(&self) -> u64 {
        self.duplicated
    }

    /// RFC 3550 A.8 interarrival jitter, in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter / 8.0
    }

    /// The far end's SSRC, once something arrived.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }
}

/// Lateness of sent packets against their 20 ms slots, in 0.1 ms buckets
/// up to 25.5 ms; anything later lands in the last bucket (and `max`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendIntervalHistogram {
    buckets: Vec<u64>,
    count: u64,
    max_us: u64,
}

const BUCKET_US: u64 = 100;
const BUCKETS: usize = 256;

impl Default for SendIntervalHistogram {
    fn default() -> Self {
        SendIntervalHistogram {
            buckets: vec![0; BUCKETS],
            count: 0,
            max_us: 0,
        }
    }
}

impl SendIntervalHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        SendIntervalHistogram::default()
    }

    /// Records one packet sent `lateness` after its slot.
    pub fn record(&mut self, lateness: Duration) {
        let us = lateness.as_micros().min(u128::from(u64::MAX)) as u64;
        let idx = ((us / BUCKET_US) as usize).min(BUCKETS - 1);
        self.buckets[idx] += 1;
        self.count += 1;
        self.max_us = self.max_us.max(us);
    }

    /// Adds another stream's histogram (for a benchmark over many streams).
    pub fn merge(&mut self, other: &SendIntervalHistogram) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.max_us = self.max_us.max(other.max_us);
    }

    /// Packets recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The lateness, in ms, that fraction `q` (0..=1) of packets stayed
    /// within: the upper edge of the bucket holding that rank (so at most
    /// 0.1 ms pessimistic), capped by the largest lateness seen.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let edge_us = (i as u64 + 1) * BUCKET_US;
                return edge_us.min(self.max_us) as f64 / 1000.0;
            }
        }
        self.max_us as f64 / 1000.0
    }

    /// The summary that goes into call records and metrics.
    pub fn summary(&self) -> SendIntervalSummary {
        SendIntervalSummary {
            count: self.count,
            p50_ms: self.quantile_ms(0.50),
            p99_ms: self.quantile_ms(0.99),
            max_ms: self.max_us as f64 / 1000.0,
        }
    }
}

/// Send pacing: how late packets left against the 20 ms grid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SendIntervalSummary {
    /// Packets measured.
    pub count: u64,
    /// Median lateness, ms.
    pub p50_ms: f64,
    /// 99th-percentile lateness, ms.
    pub p99_ms: f64,
    /// Worst lateness, ms.
    pub max_ms: f64,
}

/// A snapshot of one media stream, for the call record and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RtpStats {
    /// Our SSRC.
    pub local_ssrc: u32,
    /// The far end's SSRC, once it sent something.
    pub remote_ssrc: Option<u32>,
    /// RTP packets sent (audio, comfort silence and DTMF).
    pub packets_sent: u64,
    /// Payload bytes sent (RTCP's sender octet count: headers excluded).
    pub bytes_sent: u64,
    /// RTP packets accepted from the far end, duplicates included.
    pub packets_received: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Packets the far end's sequence numbers say it sent.
    pub packets_expected: u64,
    /// Packets never received.
    pub packets_lost: u64,
    /// Packets received out of order.
    pub packets_reordered: u64,
    /// Packets received twice.
    pub packets_duplicated: u64,
    /// RFC 3550 interarrival jitter, ms.
    pub jitter_ms: f64,
    /// Our send pacing.
    pub send_interval: SendIntervalSummary,
    /// What the reorder buffer dropped or concealed.
    pub jitter_buffer: JitterCounters,
    /// DTMF digits sent.
    pub dtmf_sent: u64,
    /// DTMF digits received.
    pub dtmf_received: u64,
    /// Received audio frames not delivered because the event consumer lagged.
    pub audio_frames_dropped: u64,
    /// Packets from a source other than the latched one, ignored.
    pub foreign_packets: u64,
    /// Datagrams that were not valid RTP.
    pub malformed_packets: u64,
    /// RTP packets with a payload type we did not negotiate.
    pub unknown_payload_type: u64,
    /// Sends the socket refused.
    pub send_errors: u64,
    /// The full pacing histogram, for merging across streams (not serialised).
    #[serde(skip)]
    pub send_histogram: SendIntervalHistogram,
}
