//! The sending half: one packet per 20 ms tick from queued clips, DTMF, or
//! comfort silence.
//!
//! When nothing is queued we still send a frame of G.711 silence every tick
//! rather than going quiet: the far end's SBC or media server latches its
//! symmetric RTP onto our first packets and many trunks drop a call after
//! some seconds without RTP; NAT bindings on the path expire without
//! traffic; and a steady stream keeps the far end's jitter buffer primed so
//! the first word of a reply is not clipped. (We do not negotiate comfort
//! noise, RFC 3389, so silence suppression is not an option anyway.)

use std::collections::VecDeque;
use std::sync::Arc;

use crate::clips::{ClipEvent, ClipQueue};
use crate::dtmf::{DtmfSender, DEFAULT_DURATION_SAMPLES, DEFAULT_VOLUME};
use crate::jitter::FRAME_SAMPLES;
use crate::rtp::{Codec, RtpPacket};

use super::event::MediaEvent;

/// Ticks of audio (or silence) between two digits, so the far end's
/// detector sees two events even for a repeated digit (RFC 4733 wants a
/// gap; 40 ms is what common phones leave).
const DTMF_GAP_TICKS: u8 = 2;

pub(super) struct Outbound {
    codec: Codec,
    dtmf_payload_type: Option<u8>,
    pub(super) ssrc: u32,
    seq: u16,
    /// The sample clock: advances 160 every tick whatever is sent, so RTP
    /// time never follows the wall clock.
    timestamp: u32,
    clips: ClipQueue,
    digits: VecDeque<char>,
    dtmf: Option<(DtmfSender, u32)>,
    gap_ticks: u8,
    talking: bool,
    first: bool,
    pcm: [i16; FRAME_SAMPLES],
    payload: [u8; FRAME_SAMPLES],
    pub(super) buf: Vec<u8>,
    pub(super) packets: u64,
    pub(super) bytes: u64,
    pub(super) dtmf_sent: u64,
}

impl Outbound {
    pub(super) fn new(
        codec: Codec,
        dtmf_payload_type: Option<u8>,
        ssrc: u32,
        seq: u16,
        timestamp: u32,
    ) -> Self {
        Outbound {
            codec,
            dtmf_payload_type,
            ssrc,
            seq,
            timestamp,
            clips: ClipQueue::default(),
            digits: VecDeque::new(),
            dtmf: None,
            gap_ticks: 0,
            talking: false,
            first: true,
            pcm: [0; FRAME_SAMPLES],
            payload: [0; FRAME_SAMPLES],
            buf: Vec::with_capacity(256),
            packets: 0,
            bytes: 0,
            dtmf_sent: 0,
        }
    }

    pub(super) fn play(&mut self, id: u64, pcm: Arc<[i16]>) {
        self.clips.push(id, pcm);
    }

    /// Drops every queued clip; each reports what of it went out.
    pub(super) fn stop_playback(&mut self, events: &mut VecDeque<MediaEvent>) {
        self.clips.stop(&mut AsMediaEvents(events));
    }

    pub(super) fn queue_digit(&mut self, digit: char) {
        self.digits.push_back(digit);
    }

    /// Builds this tick's packet into `self.buf`.
    pub(super) fn next_packet(&mut self, events: &mut VecDeque<MediaEvent>) {
        let timestamp = self.timestamp;
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);

        if self.dtmf_packet(seq, timestamp) {
            return;
        }
        self.gap_ticks = self.gap_ticks.saturating_sub(1);

        let audio = self.fill_from_clips(events);
        // RFC 3551 4.1: the marker flags the first packet of a talkspurt,
        // which for us is the first packet at all and played audio
        // following silence or a digit.
        let marker = self.first || (audio && !self.talking);
        self.first = false;
        self.talking = audio;
        if audio {
            self.codec.encode(&self.pcm, &mut self.payload);
        } else {
            self.payload.fill(self.codec.silence_byte());
        }
        let mut packet = RtpPacket::new(
            self.codec.payload_type(),
            seq,
            timestamp,
            self.ssrc,
            &self.payload,
        );
        packet.marker = marker;
        packet.write_to(&mut self.buf);
        self.count(FRAME_SAMPLES);
    }

    /// Sends the current digit's next packet, starting the next queued
    /// digit once the gap after the previous one has passed.
    fn dtmf_packet(&mut self, seq: u16, timestamp: u32) -> bool {
        let Some(pt) = self.dtmf_payload_type else {
            return false;
        };
        if self.dtmf.is_none() && self.gap_ticks == 0 {
            while let Some(digit) = self.digits.pop_front() {
                // Digits are validated when queued; a bad one is skipped.
                if let Ok(sender) = DtmfSender::new(digit, DEFAULT_DURATION_SAMPLES, DEFAULT_VOLUME)
                {
                    // Every packet of the event carries its start time.
                    self.dtmf = Some((sender, timestamp));
                    self.dtmf_sent += 1;
                    break;
                }
            }
        }
        let Some((sender, start)) = &mut self.dtmf else {
            return false;
        };
        let start = *start;
        let Some(p) = sender.next_packet() else {
            self.dtmf = None;
            return false;
        };
        if sender.is_done() {
            self.dtmf = None;
            self.gap_ticks = DTMF_GAP_TICKS;
        }
        self.talking = false;
        self.first = false;
        let bytes = p.event.to_bytes();
        let mut packet = RtpPacket::new(pt, seq, start, self.ssrc, &bytes);
        packet.marker = p.marker;
        packet.write_to(&mut self.buf);
        self.count(bytes.len());
        true
    }

    /// Copies up to one frame from the queued clips (gaplessly across clip
    /// boundaries), padding with silence; true if any audio was taken. The
    /// packet built now carries a clip's first samples and leaves in this
    /// same tick: the moment turn latency ends at.
    fn fill_from_clips(&mut self, events: &mut VecDeque<MediaEvent>) -> bool {
        let filled = self.clips.fill(&mut self.pcm, &mut AsMediaEvents(events), |_, _| {});
        self.pcm[filled..].fill(0);
        filled > 0
    }

    fn count(&mut self, payload_len: usize) {
        self.packets += 1;
        self.bytes += payload_len as u64;
    }
}

/// The clip queue's reports as the session's events, without a buffer of
/// their own (this runs every 20 ms).
struct AsMediaEvents<'a>(&'a mut VecDeque<MediaEvent>);

impl Extend<ClipEvent> for AsMediaEvents<'_> {
    fn extend<I: IntoIterator<Item = ClipEvent>>(&mut self, events: I) {
        for event in events {
            self.0.push_back(match event {
                ClipEvent::Started { id, .. } => MediaEvent::PlaybackStarted { id },
                ClipEvent::Done { id, samples_played, stopped } => MediaEvent::PlaybackDone { id, samples_played, stopped },
            });
        }
    }
}
