//! Carriers place calls and carry what is said on them.
//!
//! A [`Carrier`] dials a number and hands back a [`Leg`]: a stream of
//! [`LegEvent`]s from the network (ringing, answer, what the callee said,
//! the end) and a sender for [`LegCommand`]s (say a line, stop talking,
//! cancel, hang up). The call session never sees SIP or the simulator, only
//! these.
//!
//! Today's legs carry text: a line the AI says takes as long to play as it
//! would take to speak, and the callee's speech arrives as recognised text.
//! The audio pipeline (VAD, ASR, TTS) slots in between the session and a leg
//! that carries audio frames without changing this contract's shape.
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

pub mod sim;
pub mod sip;

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
    /// Stop the line being played (barge-in).
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

    /// Places a call. Returns once the request is on its way; the outcome
    /// arrives as [`LegEvent`]s.
    async fn dial(&self, req: DialRequest) -> Result<Leg, CarrierError>;
}
