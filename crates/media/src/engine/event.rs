//! What the engine reports to its driver.

use std::net::SocketAddr;

use crate::jitter::{FrameKind, FRAME_SAMPLES};
use crate::stats::RtpStats;

/// What a session reports, in order.
// `Audio` is by far the largest variant and also by far the most frequent
// (50 a second); boxing it would allocate per frame to shrink rare events.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// The first RTP packet arrived (once per session).
    FirstPacket {
        /// Its source, now the destination of everything we send.
        from: SocketAddr,
    },
    /// One 20 ms frame of received audio, decoded, after reordering. Once
    /// the first packet arrived, one comes every 20 ms (silence or
    /// concealment when the far end sends nothing).
    Audio {
        /// 160 samples at 8 kHz.
        pcm8k: [i16; FRAME_SAMPLES],
        /// Whether it is received audio, concealment or silence.
        kind: FrameKind,
    },
    /// The level of the received audio over the last second.
    Level {
        /// RMS in dB relative to full scale; -100 for digital silence.
        dbfs: f32,
    },
    /// The first samples of a clip given to `play` went out, in the packet
    /// sent on this tick.
    PlaybackStarted {
        /// The id given with it.
        id: u64,
    },
    /// A clip given to `play` finished or was stopped.
    PlaybackDone {
        /// The id given with it.
        id: u64,
        /// How many of its samples went out.
        samples_played: usize,
        /// Whether `stop_playback` cut it short.
        stopped: bool,
    },
    /// The far end sent a DTMF digit (reported once).
    Dtmf {
        /// `0-9`, `*`, `#` or `A-D`.
        digit: char,
    },
    /// Nothing arrived for `no_media_timeout` (since start or since the last
    /// packet). Reported once per silent stretch.
    NoMedia,
    /// The session ended; the last event.
    Closed {
        /// Why.
        reason: CloseReason,
        /// The final counters.
        stats: Box<RtpStats>,
    },
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// `close()` was called.
    Closed,
    /// Every handle was dropped.
    HandlesDropped,
    /// The socket failed in a way that will not pass.
    SocketError,
}
