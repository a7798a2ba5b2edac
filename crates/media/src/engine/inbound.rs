//! The receiving half: latching, decoding, reordering, DTMF detection,
//! level metering and the no-media watchdog.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::dtmf::{DtmfReceiver, TelephoneEvent};
use crate::jitter::{JitterBuffer, FRAME_SAMPLES, MAX_PACKET_SAMPLES};
use crate::rtp::{Codec, RtpPacket};
use crate::stats::ReceiveStats;

use super::event::MediaEvent;

/// Frames per `Level` report: one a second.
const LEVEL_FRAMES: u32 = 50;
/// The floor reported for digital silence.
const SILENCE_DBFS: f32 = -100.0;

pub(super) struct Inbound {
    pub(super) remote: SocketAddr,
    /// The address signalling gave us last, as opposed to the latched one.
    signalled: SocketAddr,
    latched: bool,
    first_seen: bool,
    dtmf_payload_type: Option<u8>,
    pub(super) jitter: JitterBuffer,
    pub(super) rx: ReceiveStats,
    dtmf: DtmfReceiver,
    last_end_timestamp: Option<u32>,
    /// One sample longer than the reorder buffer keeps, so that it sees an
    /// oversized packet as such and counts the truncation.
    decoded: [i16; MAX_PACKET_SAMPLES + 1],
    last_rx: Option<Instant>,
    no_media_timeout: Duration,
    no_media_reported: bool,
    level_sum: f64,
    level_frames: u32,
    pub(super) foreign: u64,
    pub(super) malformed: u64,
    pub(super) unknown_pt: u64,
    pub(super) dtmf_received: u64,
}

impl Inbound {
    pub(super) fn new(
        remote: SocketAddr,
        dtmf_payload_type: Option<u8>,
        jitter_depth: u8,
        no_media_timeout: Duration,
    ) -> Self {
        Inbound {
            remote,
            signalled: remote,
            latched: false,
            first_seen: false,
            dtmf_payload_type,
            jitter: JitterBuffer::new(jitter_depth),
            rx: ReceiveStats::new(),
            dtmf: DtmfReceiver::new(),
            last_end_timestamp: None,
            decoded: [0; MAX_PACKET_SAMPLES + 1],
            last_rx: None,
            no_media_timeout,
            no_media_reported: false,
            level_sum: 0.0,
            level_frames: 0,
            foreign: 0,
            malformed: 0,
            unknown_pt: 0,
            dtmf_received: 0,
        }
    }

    /// A new destination from signalling (re-INVITE): send there, and latch
    /// afresh on whatever source answers next. The same address again (a
    /// 200 OK repeating the 183's SDP) changes nothing, so a latch onto a
    /// NAT-rewritten source is kept.
    pub(super) fn set_remote(&mut self, remote: SocketAddr) {
        if remote == self.signalled {
            return;
        }
        self.signalled = remote;
        self.remote = remote;
        self.latched = false;
    }

    pub(super) fn on_datagram(
        &mut self,
        now: Instant,
        since_start: Duration,
        from: SocketAddr,
        data: &[u8],
        events: &mut VecDeque<MediaEvent>,
    ) {
        let Ok(packet) = RtpPacket::parse(data) else {
            self.malformed += 1;
            return;
        };
        // Symmetric RTP (RFC 4961): after the first packet we only listen to
        // the address it came from, so stray or injected streams cannot
        // hijack the call; until then any source may latch (NAT rewrites
        // the address the far end put in its SDP).
        if self.latched && from != self.remote {
            self.foreign += 1;
            return;
        }
        let audio = Codec::from_payload_type(packet.payload_type);
        let is_dtmf = Some(packet.payload_type) == self.dtmf_payload_type;
        if audio.is_none() && !is_dtmf {
            // Not latching on these keeps a stray comfort-noise or video
            // packet from stealing the destination.
            self.unknown_pt += 1;
            return;
        }
        if !self.latched {
            if from != self.remote {
                tracing::debug!(%from, previous = %self.remote, "RTP latched to a new source");
            }
            self.remote = from;
            self.latched = true;
        }
        if !self.first_seen {
            self.first_seen = true;
            events.push_back(MediaEvent::FirstPacket { from });
        }
        self.last_rx = Some(now);
        self.no_media_reported = false;
        self.rx.on_packet(
            packet.ssrc,
            packet.sequence,
            packet.timestamp,
            since_start,
            packet.payload.len(),
            audio.is_some(),
        );

        if let Some(codec) = audio {
            // Decode by the packet's own payload type: a far end that sends
            // the other law than the one negotiated is still understood.
            let n = packet.payload.len().min(self.decoded.len());
            codec.decode(&packet.payload[..n], &mut self.decoded[..n]);
            self.jitter.push(packet.sequence, &self.decoded[..n]);
        } else {
            self.on_dtmf(&packet, events);
        }
    }

    fn on_dtmf(&mut self, packet: &RtpPacket<'_>, events: &mut VecDeque<MediaEvent>) {
        if let Some(digit) = self.dtmf.on_packet(packet.timestamp, packet.payload) {
            self.dtmf_received += 1;
            events.push_back(MediaEvent::Dtmf { digit });
        }
        // While a digit plays the far end usually sends events instead of
        // audio, one per 20 ms: each stands for a frame of silence in the
        // reorder buffer. Repeats of the end packet add no time.
        let repeat_end = match TelephoneEvent::parse(packet.payload) {
            Ok(ev) if ev.end => {
                let repeat = self.last_end_timestamp == Some(packet.timestamp);
                self.last_end_timestamp = Some(packet.timestamp);
                repeat
            }
            _ => false,
        };
        let samples = if repeat_end { 0 } else { FRAME_SAMPLES };
        self.jitter.push_filler(packet.sequence, samples);
    }

    /// Plays out one frame and watches for silence on the wire.
    pub(super) fn on_tick(
        &mut self,
        now: Instant,
        start: Instant,
        events: &mut VecDeque<MediaEvent>,
    ) {
        if let Some(frame) = self.jitter.pop() {
            self.meter(&frame.samples, events);
            events.push_back(MediaEvent::Audio {
                pcm8k: frame.samples,
                kind: frame.kind,
            });
        }
        let since = self.last_rx.unwrap_or(start);
        if !self.no_media_reported && now.saturating_duration_since(since) >= self.no_media_timeout
        {
            self.no_media_reported = true;
            events.push_back(MediaEvent::NoMedia);
        }
    }

    fn meter(&mut self, samples: &[i16; FRAME_SAMPLES], events: &mut VecDeque<MediaEvent>) {
        self.level_sum += samples
            .iter()
            .map(|&s| f64::from(s) * f64::from(s))
            .sum::<f64>();
        self.level_frames += 1;
        if self.level_frames >= LEVEL_FRAMES {
            let mean_square =
                self.level_sum / (f64::from(self.level_frames) * FRAME_SAMPLES as f64);
            events.push_back(MediaEvent::Level {
                dbfs: dbfs(mean_square.sqrt()),
            });
            self.level_sum = 0.0;
            self.level_frames = 0;
        }
    }
}

/// RMS relative to full scale (32768), in dB; a full-scale square wave is
/// 0 dBFS and a full-scale sine about -3 dBFS.
pub(super) fn dbfs(rms: f64) -> f32 {
    if rms < 1e-9 {
        return SILENCE_DBFS;
    }
    ((20.0 * (rms / 32768.0).log10()) as f32).max(SILENCE_DBFS)
}
