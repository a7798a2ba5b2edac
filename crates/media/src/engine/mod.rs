//! The per-call media state machine, without IO and without a clock.
//!
//! [`Engine`] is what [`crate::MediaSession`] drives; it is public so that
//! tests (and anyone with their own event loop) can run it over simulated
//! time. The run-loop contract:
//!
//! 1. Every 20 ms, on one clock, call [`Engine::handle_tick`] and send the
//!    returned [`Transmit`]; then report how late it went out with
//!    [`Engine::record_send`]. Never skip a tick: if the loop fell behind,
//!    tick back-to-back to catch up (RTP time is the tick count).
//! 2. For every datagram received, call [`Engine::handle_receive`].
//! 3. After either, drain [`Engine::poll_event`].
//!
//! Time is only ever an argument; nothing here reads a clock.

mod inbound;
mod outbound;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::dtmf::digit_to_event;
use crate::rtp::Codec;
use crate::stats::{RtpStats, SendIntervalHistogram};

mod event;

pub use event::{CloseReason, MediaEvent};
use inbound::Inbound;
use outbound::Outbound;

/// How one call's media is set up: the outcome of the SDP offer/answer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MediaConfig {
    /// The codec the answer picked (we send it; we decode either G.711 law).
    pub codec: Codec,
    /// Where to send, from the far end's SDP (`c=` address, `m=` port).
    /// Replaced by the source of the first received packet (latching).
    pub remote: SocketAddr,
    /// The negotiated `telephone-event/8000` payload type, if any.
    pub dtmf_payload_type: Option<u8>,
    /// [`MediaEvent::NoMedia`] fires after this long without a packet.
    pub no_media_timeout: Duration,
    /// Our SSRC; random when `None` (RFC 3550 8.1).
    pub ssrc: Option<u32>,
    /// Packets the reorder buffer holds before playing (2-3 is plenty).
    pub jitter_depth: u8,
    /// Capacity of the event channel; audio frames are dropped, not
    /// waited for, when it is full.
    pub event_capacity: usize,
}

impl MediaConfig {
    /// A configuration with defaults: no DTMF, 10 s no-media timeout,
    /// random SSRC, depth 2, 128 queued events (2.5 s of audio).
    pub fn new(codec: Codec, remote: SocketAddr) -> Self {
        MediaConfig {
            codec,
            remote,
            dtmf_payload_type: None,
            no_media_timeout: Duration::from_secs(10),
            ssrc: None,
            jitter_depth: 2,
            event_capacity: 128,
        }
    }
}


/// Why a command was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The session has ended.
    #[error("media session closed")]
    Closed,
    /// The character is not a DTMF digit.
    #[error("{0:?} is not a DTMF digit")]
    InvalidDigit(char),
    /// No telephone-event payload type was negotiated.
    #[error("telephone-event was not negotiated")]
    DtmfNotNegotiated,
    /// The socket could not be set up.
    #[error("media socket: {0}")]
    Socket(#[from] std::io::Error),
}

/// One datagram to send.
#[derive(Debug, Clone, Copy)]
pub struct Transmit<'a> {
    /// Where to.
    pub destination: SocketAddr,
    /// The RTP packet.
    pub data: &'a [u8],
}

/// The per-call state machine. See the module docs for the run loop.
pub struct Engine {
    start: Instant,
    dtmf_negotiated: bool,
    out: Outbound,
    inb: Inbound,
    events: VecDeque<MediaEvent>,
    send_histogram: SendIntervalHistogram,
    send_errors: u64,
    audio_dropped: u64,
}

impl Engine {
    /// An engine starting at `now`; sequence number and timestamp start at
    /// random values (RFC 3550 5.1), the SSRC too unless configured.
    pub fn new(cfg: &MediaConfig, now: Instant) -> Self {
        let ssrc = cfg.ssrc.unwrap_or_else(rand::random);
        Engine::with_initial(cfg, now, ssrc, rand::random(), rand::random())
    }

    /// Like [`Engine::new`] with chosen initial values, for reproducible tests.
    pub fn with_initial(
        cfg: &MediaConfig,
        now: Instant,
        ssrc: u32,
        seq: u16,
        timestamp: u32,
    ) -> Self {
        Engine {
            start: now,
            dtmf_negotiated: cfg.dtmf_payload_type.is_some(),
            out: Outbound::new(cfg.codec, cfg.dtmf_payload_type, ssrc, seq, timestamp),
            inb: Inbound::new(
                cfg.remote,
                cfg.dtmf_payload_type,
                cfg.jitter_depth,
                cfg.no_media_timeout,
            ),
            events: VecDeque::new(),
            send_histogram: SendIntervalHistogram::new(),
            send_errors: 0,
            audio_dropped: 0,
        }
    }

    /// Queues a clip of 8 kHz audio behind anything already queued.
    pub fn play(&mut self, id: u64, pcm8k: Arc<[i16]>) {
        self.out.play(id, pcm8k);
    }

    /// Drops all queued audio. Takes effect at the next tick: samples sent
    /// so far are what each clip's [`MediaEvent::PlaybackDone`] reports.
    pub fn stop_playback(&mut self) {
        self.out.stop_playback(&mut self.events);
    }

    /// Queues a digit for RFC 4733 sending (100 ms, then a 40 ms gap).
    pub fn send_dtmf(&mut self, digit: char) -> Result<(), MediaError> {
        check_digit(digit, self.dtmf_negotiated)?;
        self.out.queue_digit(digit);
        Ok(())
    }

    /// Sends to `remote` from now on, and latches afresh; the address
    /// signalled before, given again, is ignored (the latch stands).
    pub fn set_remote(&mut self, remote: SocketAddr) {
        self.inb.set_remote(remote);
    }

    /// Where packets go now.
    pub fn remote(&self) -> SocketAddr {
        self.inb.remote
    }

    /// Takes one received datagram.
    pub fn handle_receive(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let since_start = now.saturating_duration_since(self.start);
        self.inb
            .on_datagram(now, since_start, from, data, &mut self.events);
    }

    /// Runs one 20 ms tick: builds the packet to send, plays out one
    /// received frame, and checks the no-media timeout.
    pub fn handle_tick(&mut self, now: Instant) -> Transmit<'_> {
        self.out.next_packet(&mut self.events);
        self.inb.on_tick(now, self.start, &mut self.events);
        Transmit {
            destination: self.inb.remote,
            data: &self.out.buf,
        }
    }

    /// Records how late the tick's packet left its 20 ms slot, and whether
    /// the socket took it.
    pub fn record_send(&mut self, lateness: Duration, sent: bool) {
        self.send_histogram.record(lateness);
        if !sent {
            self.send_errors += 1;
        }
    }

    /// Counts an audio frame (or level report) the consumer had no room for.
    pub fn record_dropped_audio(&mut self) {
        self.audio_dropped += 1;
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> RtpStats {
        let rx = &self.inb.rx;
        RtpStats {
            local_ssrc: self.out.ssrc,
            remote_ssrc: rx.ssrc(),
            packets_sent: self.out.packets,
            bytes_sent: self.out.bytes,
            packets_received: rx.packets(),
            bytes_received: rx.bytes(),
            packets_expected: rx.expected(),
            packets_lost: rx.lost(),
            packets_reordered: rx.reordered(),
            packets_duplicated: rx.duplicated(),
            jitter_ms: rx.jitter_ms(),
            send_interval: self.send_histogram.summary(),
            jitter_buffer: self.inb.jitter.counters(),
            dtmf_sent: self.out.dtmf_sent,
            dtmf_received: self.inb.dtmf_received,
            audio_frames_dropped: self.audio_dropped,
            foreign_packets: self.inb.foreign,
            malformed_packets: self.inb.malformed,
            unknown_payload_type: self.inb.unknown_pt,
            send_errors: self.send_errors,
            send_histogram: self.send_histogram.clone(),
        }
    }
}

/// Validates a digit for sending.
pub(crate) fn check_digit(digit: char, negotiated: bool) -> Result<(), MediaError> {
    if digit_to_event(digit).is_none() {
        return Err(MediaError::InvalidDigit(digit));
    }
    if !negotiated {
        return Err(MediaError::DtmfNotNegotiated);
    }
    Ok(())
}
