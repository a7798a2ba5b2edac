//! Carriers place calls and carry what is said on them.
//!
//! A [`Carrier`] dials a number and hands back a leg: a stream of events
//! from the network and a sender for commands. The call session never sees
//! SIP or the simulator, only these. A leg works at one of two levels, each
//! with only its own events and commands:
//!
//! - A [`TextLeg`] carries lines: the AI's lines go out as text
//!   ([`TextCommand::Say`]) and take as long to play as they would to
//!   speak, and the callee's speech arrives recognised ([`TextEvent::Heard`]).
//!   The simulated network's text level and the SIP DTMF test mode are text
//!   legs; so is what the voice pipeline (`waihu-voice`) makes of an audio
//!   leg, which is what the session drives on a spoken call.
//! - An [`AudioLeg`] carries sound: 20 ms of the callee's audio arrive as
//!   [`AudioEvent::Audio`], the AI's speech goes out as clips
//!   ([`AudioCommand::Play`]), each reported when its first frame goes out
//!   and when it ends.
//!
//! Both report the call's progress the same way ([`Signal`]): ringing, the
//! answer, the media counters and the end.
//!
//! Two carriers implement it: [`sim`], the simulated phone network, and
//! [`sip`], a SIP trunk with RTP media. What every text leg does with its
//! lines (the queue, `SayPart`s gathered, `SayDone` owed for every line) is
//! written once, in `lines`, whatever plays them.
//!
//! # The leg contract
//!
//! Every carrier keeps these rules, so the session can rely on them:
//! - Events arrive in order; `Ended` is the last one and the events channel
//!   closes after it.
//! - [`TextCommand::Cancel`] after the answer acts as `HangUp`, and `HangUp`
//!   before the answer acts as `Cancel`: either way the leg is released and
//!   ends [`LegEnd::Released`] (unless the far end's own final word arrives
//!   first). The same for [`AudioCommand`].
//! - A leg that carries real media sends one [`Signal::Media`] just before
//!   `Ended`.
//!
//! Text legs:
//! - Every `Say` is answered by exactly one [`TextEvent::SayDone`], always
//!   before `Ended` (lines still queued or playing when the leg ends are
//!   answered then, as stopped). A line sent in [`TextCommand::SayPart`]s is
//!   one line, answered once its last part arrived.
//! - A `Say` before the answer cannot be heard: it is answered at once with
//!   `SayDone { played_chars: 0, stopped: true }`.
//! - Lines are played one after another, in the order sent.
//!   [`TextCommand::StopSaying`] stops the line playing (its `SayDone` says
//!   how much was played) and drops the queued ones (each answered with
//!   `played_chars: 0, stopped: true`): barge-in silences the whole reply.
//!
//! Audio legs:
//! - Every [`AudioCommand::Play`] is answered by exactly one
//!   [`AudioEvent::PlayDone`] (before `Ended`), preceded by one
//!   [`AudioEvent::PlayStarted`] if any of it went out. Clips play
//!   gaplessly in the order sent; [`AudioCommand::StopPlaying`] stops the
//!   clip playing at the next frame and drops the queued ones.
//! - [`AudioEvent::Audio`] frames are never waited for: a consumer that
//!   falls behind loses frames, the leg never stalls.

mod lines;
pub mod sim;
pub mod sip;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde::Serialize;
use thiserror::Error;
use tokio::sync::mpsc;
pub use waihu_core::leg::TextCommand;
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

/// What the network says about a call, at either level.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// The far end is alerting (SIP 180).
    Ringing,
    /// The far end answered (SIP 200 + ACK).
    Answered,
    /// The call's media counters, sent once just before [`Signal::Ended`]
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

/// Events of a text leg, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum TextEvent {
    /// The call's progress.
    Signal(Signal),
    /// The callee started speaking (the first moment of an utterance whose
    /// words come with `Heard` when it ends).
    SpeechStarted,
    /// The callee finished an utterance; its text.
    Heard(String),
    /// A line sent with `Say`/`SayPart` finished playing, or was stopped.
    SayDone {
        /// The id given with the line.
        id: u64,
        /// How many characters of it were played.
        played_chars: usize,
        /// Whether it was stopped before its end.
        stopped: bool,
    },
}

/// Events of an audio leg, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioEvent {
    /// The call's progress.
    Signal(Signal),
    /// 20 ms of the callee's audio (160 samples, 8 kHz mono). After the
    /// first frame they come every 20 ms, silence included.
    Audio {
        /// The samples.
        pcm: Arc<[i16]>,
        /// When the leg handed the frame over (the call's clock: tokio's).
        at: Instant,
    },
    /// The first frame of a clip sent with [`AudioCommand::Play`] went out.
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
}

/// What the voice pipeline asks of an audio leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioCommand {
    /// Play 8 kHz mono audio. Answered by [`AudioEvent::PlayDone`].
    Play {
        /// Correlates `PlayStarted` and `PlayDone`.
        id: u64,
        /// The samples.
        pcm: Arc<[i16]>,
    },
    /// Stop the clip playing at the next frame and drop the queued ones.
    StopPlaying,
    /// Abandon the call before answer.
    Cancel,
    /// End the answered call.
    HangUp,
}

/// One call's leg on a carrier: events from the network, commands to it.
#[derive(Debug)]
pub struct Leg<E, C> {
    /// Events from the network; closes after `Ended`.
    pub events: mpsc::Receiver<E>,
    /// Commands to the network.
    pub commands: mpsc::Sender<C>,
}

/// A leg that carries lines of text.
pub type TextLeg = Leg<TextEvent, TextCommand>;

/// A leg that carries sound.
pub type AudioLeg = Leg<AudioEvent, AudioCommand>;

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
    /// The carrier cannot carry audio (a simulated network without voices).
    #[error("this carrier carries no audio")]
    NoAudio,
}

/// A way to reach phones.
#[async_trait]
pub trait Carrier: Send + Sync {
    /// A short name for logs and `/metrics` (`sim`, `sip`).
    fn kind(&self) -> &'static str;

    /// Whether [`Carrier::dial_audio`] gives audio legs.
    fn carries_audio(&self) -> bool {
        false
    }

    /// Places a call whose leg carries text. Returns once the request is
    /// on its way; the outcome arrives as events.
    async fn dial(&self, req: DialRequest) -> Result<TextLeg, CarrierError>;

    /// Places a call whose leg carries sound.
    async fn dial_audio(&self, _req: DialRequest) -> Result<AudioLeg, CarrierError> {
        Err(CarrierError::NoAudio)
    }
}
