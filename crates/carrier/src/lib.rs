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

pub mod sim;

use async_trait::async_trait;
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The leg is gone. Nothing follows.
    Ended {
        /// How.
        end: LegEnd,
        /// The carrier's own words (e.g. `486 Busy Here`).
        provider_response: String,
    },
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
