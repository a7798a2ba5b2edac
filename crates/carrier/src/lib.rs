//! Carriers place calls and carry what is said on them.
//!
//! A [`Carrier`] dials a number and hands back a [`Leg`]: a stream of
//! [`LegEvent`]s from the network (ringing, answer, what the callee said,
//! the end) and a sender for [`LegCommand`]s (say a line, stop talking,
//! cancel, hang up). The call session never sees SIP or the simulator, only
//! these.
//!
//! A leg works at one of two levels, chosen with [`DialRequest::audio`]:
//!
//! - **Text** (`audio: false`): a line the AI says takes as long to play as
//!   it would take to speak, and the callee's speech arrives as recognised
//!   text ([`LegEvent::Heard`]). Dialogue tests and the DTMF test mode use it.
//! - **Audio** (`audio: true`): the leg carries sound. Every 20 ms of the
//!   callee's audio arrives as [`LegEvent::Audio`]; the AI's speech is sent
//!   as clips ([`LegCommand::Play`]), each reported when its first frame
//!   goes out ([`LegEvent::PlayStarted`]) and when it ends
//!   ([`LegEvent::PlayDone`]). The voice pipeline (`waihu-voice`: VAD, ASR,
//!   turn-taking, TTS) turns such a leg back into a text-level one for the
//!   session, so the session never deals in samples.
//!
//! Two carriers implement it: [`sim`], the simulated phone network, and
//! [`sip`], a SIP trunk with RTP media.
//!
//! # The leg contract
//!
//! Every carrier keeps these rules, so the session can rely on them:
//! - Events arrive in order; [`LegEvent::Ended`] is the last one and the
//!   events channel closes after it.
//! - Every [`LegCommand::Say`] is answered by exactly one
//!   [`LegEvent::SayDone`], always before `Ended` (lines still queued or
//!   playing when the leg ends are answered then, as stopped).
//! - A `Say` before the answer cannot be heard: it is answered at once with
//!   `SayDone { played_chars: 0, stopped: true }`.
//! - Lines are played one after another, in the order sent.
//!   [`LegCommand::StopSaying`] stops the line playing (its `SayDone` says
//!   how much was played) and drops the queued ones (each answered with
//!   `played_chars: 0, stopped: true`): barge-in silences the whole reply.
//! - [`LegCommand::Cancel`] after the answer acts as [`LegCommand::HangUp`],
//!   and `HangUp` before the answer acts as `Cancel`: either way the leg is
//!   released and ends [`LegEnd::Released`] (unless the far end's own final
//!   word arrives first).
//! - A leg that carries real media sends one [`LegEvent::Media`] just
//!   before `Ended`.
//! - Audio legs: every [`LegCommand::Play`] is answered by exactly one
//!   [`LegEvent::PlayDone`] (before `Ended`), preceded by one
//!   [`LegEvent::PlayStarted`] if any of it went out. Clips play gaplessly
//!   in the order sent; `StopSaying` stops the clip playing at the next
//!   frame and drops the queued ones. [`LegEvent::Audio`] frames are never
//!   waited for: a consumer that falls behind loses frames, the leg never
//!   stalls.
//! - [`LegCommand::SayPart`] is for text-level legs made by the voice
//!   pipeline; carriers answer it like `Say` once its last part arrives.

pub mod sim;
pub mod sip;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde::Serialize;
use thiserror::Error;
use tokio::sync::mpsc;
use waihu_core::lifecycle::LegEnd;
use waihu_core::PhoneNumber;

/// What the session asks for.
#[derive(Debug, Clone)]
pub struct DialRequest {
    /// The call's id (for logs and the carrier's own correlation).
    pub call_id: String,
    /// The number to call.
    pub to: PhoneNumber,
    /// Carry audio ([`LegEvent::Audio`], [`LegCommand::Play`]) instead of
    /// text: the session runs a voice pipeline on the leg.
    pub audio: bool,
}

/// Events from the network about one leg, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum LegEvent {
    /// The far end is alerting (SIP 180).
    Ringing,
    /// The far end answered (SIP 200 + ACK).
    Answered,
    /// The callee started speaking (the first voiced moment: barge-in cue).
    SpeechStarted,
    /// The callee finished an utterance; its text.
    Heard(String),
    /// A line sent with [`LegCommand::Say`] finished playing, or was stopped.
    SayDone {
        /// The id given with the `Say`.
        id: u64,
        /// How many characters of it were played.
        played_chars: usize,
        /// Whether it was stopped before its end.
        stopped: bool,
    },
    /// 20 ms of the callee's audio (160 samples, 8 kHz mono), audio legs
    /// only. After the first frame they come every 20 ms, silence included.
    Audio {
        /// The samples.
        pcm: Arc<[i16]>,
        /// When the leg handed the frame over.
        at: Instant,
    },
    /// The first frame of a clip sent with [`LegCommand::Play`] went out.
    PlayStarted {
        /// The clip's id.
        id: u64,
        /// When it was sent.
        at: Instant,
    },
    /// A clip finished playing, or was stopped.
    PlayDone {
        /// The clip's id.
        id: u64,
        /// How many of its samples went out.
        samples_played: usize,
        /// Whether it was stopped (or dropped) before its end.
        stopped: bool,
    },
    /// One turn's response time and its split (voice legs: from the
    /// callee's last voiced frame to the first frame of the AI's answer).
    TurnLatency(waihu_turn::TurnLatencyMs),
    /// The call's media counters, sent once just before [`LegEvent::Ended`]
    /// by carriers with real media (not by the simulator).
    Media(MediaReport),
    /// The leg is gone. Nothing follows.
    Ended {
        /// How.
        end: LegEnd,
        /// The carrier's own words (e.g. `486 Busy Here`).
        provider_response: String,
    },
}

/// One call's RTP counters and audio measurements, for the record and
/// `/metrics`. Counts cover the whole call, early media included.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MediaReport {
    /// The codec used (`PCMA`, `PCMU`), empty when media never started.
    pub codec: String,
    /// RTP packets sent to the far end.
    pub packets_sent: u64,
    /// RTP packets received from the far end.
    pub packets_received: u64,
    /// Packets the far end sent that never arrived (from sequence numbers).
    pub packets_lost: u64,
    /// RFC 3550 interarrival jitter at the end of the call, milliseconds.
    pub jitter_ms: f64,
    /// How late our packets left against the 20 ms grid: median, ms.
    pub send_lateness_p50_ms: f64,
    /// How late our packets left against the 20 ms grid: 99th percentile, ms.
    pub send_lateness_p99_ms: f64,
    /// Mean level of the audio received, dBFS (`None`: no audio received).
    pub received_level_dbfs: Option<f64>,
    /// Loudest 20 ms frame received, dBFS.
    pub received_peak_dbfs: Option<f64>,
    /// Audio frames received that are byte-for-byte frames we sent: a far
    /// end that loops our audio back (an echo test) makes this close to the
    /// frames we sent while playing.
    pub echoed_frames: u64,
    /// RFC 4733 digits received, in order.
    pub dtmf_received: String,
    /// From the answer (or the first early media) to the first RTP packet,
    /// milliseconds.
    pub first_packet_ms: Option<u64>,
}

/// What the session asks of a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegCommand {
    /// Play a line to the callee. Answered by [`LegEvent::SayDone`].
    Say {
        /// Correlates the `SayDone`.
        id: u64,
        /// The line.
        text: String,
    },
    /// Part of a line still being written (the dialogue streams its reply):
    /// the first part opens line `id`, later ones extend it, `last` closes
    /// it. Answered, like `Say`, by one `SayDone` for the whole line.
    SayPart {
        /// Correlates the `SayDone`.
        id: u64,
        /// More of the line.
        text: String,
        /// No more parts follow.
        last: bool,
    },
    /// Play 8 kHz mono audio (audio legs). Answered by [`LegEvent::PlayDone`].
    Play {
        /// Correlates `PlayStarted` and `PlayDone`.
        id: u64,
        /// The samples.
        pcm: Arc<[i16]>,
    },
    /// Stop the line (or clip) being played and drop the queued ones (barge-in).
    StopSaying,
    /// Abandon the call before answer.
    Cancel,
    /// End the answered call.
    HangUp,
}

/// One call's leg on a carrier.
#[derive(Debug)]
pub struct Leg {
    /// Events from the network; closes after [`LegEvent::Ended`].
    pub events: mpsc::Receiver<LegEvent>,
    /// Commands to the network.
    pub commands: mpsc::Sender<LegCommand>,
}

/// Why a carrier could not even start a call.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CarrierError {
    /// The carrier has no free capacity (ports, channels).
    #[error("carrier has no free capacity: {0}")]
    Capacity(String),
    /// The carrier is down or unreachable.
    #[error("carrier unavailable: {0}")]
    Unavailable(String),
}

/// A way to reach phones.
#[async_trait]
pub trait Carrier: Send + Sync {
    /// A short name for logs and `/metrics` (`sim`, `sip`).
    fn kind(&self) -> &'static str;

    /// Whether a dial with [`DialRequest::audio`] gets an audio leg.
    fn carries_audio(&self) -> bool {
        false
    }

    /// Places a call. Returns once the request is on its way; the outcome
    /// arrives as [`LegEvent`]s.
    async fn dial(&self, req: DialRequest) -> Result<Leg, CarrierError>;
}

/// Gathers a line sent in [`LegCommand::SayPart`]s until its last part, for
/// legs that play text lines whole (the text level of the leg contract).
#[derive(Debug, Default)]
pub(crate) struct LineParts {
    open: Option<(u64, String)>,
}

impl LineParts {
    /// Takes a part; returns the whole line once `last` arrives. A part of a
    /// new line while another is open abandons the open one (its parts were
    /// never completed by the dialogue).
    pub(crate) fn push(&mut self, id: u64, text: &str, last: bool) -> Option<String> {
        match &mut self.open {
            Some((open_id, so_far)) if *open_id == id => so_far.push_str(text),
            _ => self.open = Some((id, text.to_owned())),
        }
        if last {
            return self.open.take().map(|(_, text)| text);
        }
        None
    }

    /// The id of a line still waiting for its last part, forgetting it: a
    /// leg that ends answers it with a stopped `SayDone`.
    pub(crate) fn take_open(&mut self) -> Option<u64> {
        self.open.take().map(|(id, _)| id)
    }
}

#[cfg(test)]
mod line_parts_tests {
    use super::LineParts;

    #[test]
    fn parts_make_one_line_at_the_last_one() {
        let mut p = LineParts::default();
        assert_eq!(p.push(1, "您好，", false), None);
        assert_eq!(p.push(1, "我是助理。", true).as_deref(), Some("您好，我是助理。"));
        assert_eq!(p.push(2, "再见。", true).as_deref(), Some("再见。"));
        // A new line while one is open: the open one is dropped.
        assert_eq!(p.push(3, "半句", false), None);
        assert_eq!(p.push(4, "整句。", true).as_deref(), Some("整句。"));
        assert_eq!(p.push(5, "未完", false), None);
        assert_eq!(p.take_open(), Some(5));
        assert_eq!(p.take_open(), None);
    }
}
