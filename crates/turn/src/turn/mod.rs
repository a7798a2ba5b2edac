//! Who has the floor: end of the callee's turn, barge-in, backchannels.
//!
//! [`TurnTaker`] is fed VAD frames, ASR results and the AI's playback
//! progress, each with the current `now`, and answers with [`Output`]s. All
//! durations below are [`TurnConfig`] fields.
//!
//! # Speech runs and turns
//! A **speech run** starts at a voiced frame after silence
//! ([`Output::CalleeSpeechStarted`]) and ends once no voiced frame has been
//! fed for `hangover` ([`Output::CalleeSpeechStopped`], the VAD's end of
//! speech). A **turn** is one or more runs: a run that resumes before the
//! turn is decided continues the same turn.
//!
//! # Asking for the final early
//! The recogniser's final is on the critical path: waiting for the hangover
//! and only then asking for it puts the ASR's latency after the hangover.
//! So after `early_final` of silence (shorter than `hangover`) the
//! turn-taker says [`Output::FinaliseAsr`]: the driver asks the ASR to
//! finish what it has heard, and the final arrives while the hangover is
//! still running. If the callee goes on before the run ends, the turn-taker
//! says [`Output::CalleeSpeechResumed`]: the driver feeds the recogniser
//! again, and the next final covers the rest. `CalleeSpeechStopped` asks
//! for a final too when no `FinaliseAsr` came since the last voiced frame.
//! The driver answers each request with exactly one `AsrFinal` (empty when
//! no words): a final asked for before the latest voiced frame is counted as
//! the turn's words but does not end it, however late it comes.
//!
//! # End of turn
//! Let `L` be the instant of the last voiced frame fed. The turn ends at the
//! first instant `T` at which both hold:
//! 1. no voiced frame has been fed since `L`, and `T >= L + hangover`;
//! 2. an `AsrFinal` was fed after the last voiced frame (order of inputs, not
//!    timestamps), **or** `T >= L + hangover + final_wait` (the ASR is late:
//!    the turn ends with the text it has, finals plus the latest partial).
//!
//! So a final that arrives during the hangover ends the turn at `L +
//! hangover`; a final that arrives after it ends the turn on arrival. The
//! turn's text is every final since the turn began, in order, followed by
//! the latest partial when the deadline closed it. With text, the turn ends
//! as [`Output::EndOfTurn`]; without (a cough, noise, an empty final) as
//! [`Output::NoWords`]. A final that arrives after the deadline closed its
//! turn, before any new speech, is dropped (that turn was already given).
//!
//! # Barge-in
//! While the AI's audio plays (between `AgentAudioStarted` and
//! `AgentAudioFinished` for the same utterance), voiced frames count toward
//! the current run's overlap (the sum of their `duration`s). The AI is
//! interrupted ([`Output::BargeIn`] then [`Output::Interrupted`]):
//! - on the voiced frame that brings the overlap to `barge_in_min_speech`,
//!   unless the run's words so far (finals plus partial) are a lone
//!   backchannel ([`is_backchannel`]) and the overlap is still under
//!   `backchannel_max_speech`; a hold-off ends on the first frame or partial
//!   that lifts it, so the decision always comes on the input that allows it;
//! - on an `AsrFinal` whose words are not a backchannel, in a turn that
//!   spoke over the AI (short real words like 不对 stop the AI too);
//! - when such a turn ends with words that are not a backchannel.
//!
//! With the default 230 ms and 20 ms frames the decision comes on the 12th
//! voiced frame (240 ms of audio), 220 ms after the first voiced frame was
//! fed; with 32 ms frames on the 8th, 224 ms after. A turn that spoke over the AI and ends while the
//! AI still plays, with backchannel words, is [`Output::Backchannel`]: the AI
//! goes on and there is no `EndOfTurn`. The AI being silent, a turn is just a
//! turn: `嗯` then is an answer, given as `EndOfTurn`.
//!
//! A final with no speech run behind it (the VAD heard nothing) is a turn of
//! its own when the AI is silent, and dropped while the AI plays (most
//! likely the AI's own voice echoed back).
//!
//! # Text legs
//! A leg that hears in whole recognised lines (the simulated network's text
//! level, the SIP DTMF test mode) has no frames to count: each line is fed
//! as [`Input::Utterance`] and decided at once by the same rules, with the
//! same backchannel list. Over the AI, a line of real words barges in and
//! ends the turn; a lone acknowledgement is a `Backchannel`.

mod backchannel;
mod taker;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

pub use backchannel::is_backchannel;
pub use taker::TurnTaker;

/// Identifies one utterance of the AI (one reply or line) to the pipeline.
pub type UtteranceId = u64;

/// The timing rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnConfig {
    /// Silence after the last voiced frame that ends a speech run. Shorter
    /// answers faster but cuts callees who pause mid-sentence.
    pub hangover: Duration,
    /// How long after `hangover` a turn waits for a late ASR final before
    /// ending with the text it has. Long enough for a cloud ASR's own
    /// sentence-end detection (DashScope's default is 800 ms of silence).
    pub final_wait: Duration,
    /// Silence after the last voiced frame at which the ASR is asked for
    /// its final ([`Output::FinaliseAsr`]), so that the final is ready when
    /// the hangover ends. `None`, or not shorter than `hangover`, asks at the
    /// hangover. Shorter splits an answer at its pauses into more finals:
    /// right for a streaming recogniser, whose finals are cheap; a batch
    /// one would decode each fragment whole and without its context.
    pub early_final: Option<Duration>,
    /// Speech over the AI's audio longer than this stops the AI.
    pub barge_in_min_speech: Duration,
    /// Speech over the AI longer than this stops it even when the partial
    /// transcript so far reads as a backchannel: partials lag the audio, and
    /// nobody says 嗯 for this long without meaning to take the turn.
    pub backchannel_max_speech: Duration,
}

impl Default for TurnConfig {
    fn default() -> Self {
        TurnConfig {
            hangover: Duration::from_millis(250),
            final_wait: Duration::from_millis(1500),
            early_final: Some(Duration::from_millis(100)),
            barge_in_min_speech: Duration::from_millis(230),
            backchannel_max_speech: Duration::from_millis(1000),
        }
    }
}

/// What the driver tells the turn-taker. Each comes with `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// One VAD decision, for a frame of `duration` (10-32 ms) of callee audio
    /// handed over at `now`. Feed silent frames too.
    VadFrame {
        /// Whether the frame holds speech.
        speech: bool,
        /// How much audio the frame covers.
        duration: Duration,
    },
    /// The ASR's current guess for the speech it has not finalised yet
    /// (replaces the previous partial).
    AsrPartial(String),
    /// The ASR's final text for a stretch of speech (appended to the turn).
    /// Send an empty final when the engine heard no words, so the turn does
    /// not wait for `final_wait`.
    AsrFinal(String),
    /// The first audio frame of an AI utterance went out. One utterance
    /// plays at a time: a new id replaces the previous one; the id already
    /// playing changes nothing.
    AgentAudioStarted {
        /// Which utterance.
        utterance_id: UtteranceId,
    },
    /// Playback progress: the first `chars_played` characters (in the
    /// splitter's `Chunk` offsets) of the utterance have been sent out.
    AgentAudioPlayed {
        /// Which utterance.
        utterance_id: UtteranceId,
        /// Characters of its text played so far.
        chars_played: usize,
    },
    /// The utterance's last audio frame went out.
    AgentAudioFinished {
        /// Which utterance.
        utterance_id: UtteranceId,
    },
    /// A whole utterance already recognised elsewhere: what a text leg
    /// hears, with no VAD frames behind it. It is a turn of its own: over
    /// the AI it stops it ([`Output::BargeIn`], [`Output::Interrupted`])
    /// unless it is a lone acknowledgement ([`Output::Backchannel`]), and
    /// otherwise it ends as [`Output::EndOfTurn`]. A driver with a VAD feeds
    /// `VadFrame`s and ASR results instead.
    Utterance(String),
    /// `poll_timeout` has come (or any time: due timers fire).
    Timeout,
}

/// What the turn-taker tells the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A speech run began (first voiced frame after silence).
    CalleeSpeechStarted {
        /// The instant of its first voiced frame.
        at: Instant,
    },
    /// `early_final` of silence after the last voiced frame: ask the ASR for
    /// its final now, and feed it no more audio until the speech resumes.
    FinaliseAsr {
        /// The instant of the last voiced frame.
        last_voiced_at: Instant,
        /// When the silence reached `early_final`.
        at: Instant,
    },
    /// Voice again after `FinaliseAsr`, within the same speech run: the
    /// recogniser needs the audio again (and a final for it later).
    CalleeSpeechResumed {
        /// The instant of the voiced frame.
        at: Instant,
    },
    /// A speech run ended: `hangover` of silence after its last voiced frame.
    /// Unless `FinaliseAsr` came since that frame, ask the ASR for its final.
    /// The turn itself may still wait for the ASR's final.
    CalleeSpeechStopped {
        /// The instant of the run's last voiced frame.
        last_voiced_at: Instant,
        /// When the silence was confirmed.
        at: Instant,
    },
    /// The callee's turn is over: answer it.
    EndOfTurn {
        /// What the callee said (trimmed, never empty).
        text: String,
        /// The instant of the turn's first voiced frame.
        speech_started_at: Instant,
        /// The instant of the turn's last voiced frame.
        last_voiced_at: Instant,
        /// When the VAD's silence was confirmed (`CalleeSpeechStopped`).
        speech_stopped_at: Instant,
        /// When the last ASR final arrived, if one did.
        final_at: Option<Instant>,
        /// When the end of turn was decided.
        decided_at: Instant,
    },
    /// The callee spoke, but the ASR gave no words: nothing to answer.
    NoWords {
        /// The instant of the first voiced frame.
        speech_started_at: Instant,
        /// The instant of the last voiced frame.
        last_voiced_at: Instant,
    },
    /// The callee talks over the AI for real: stop playback now, drop queued
    /// audio and the rest of the reply. `Interrupted` follows.
    BargeIn {
        /// When it was decided.
        at: Instant,
        /// The first voiced frame of the speech run that talked over the AI.
        speech_started_at: Instant,
    },
    /// The utterance cut by the barge-in and how much of it was played: the
    /// transcript and the dialogue keep only those characters.
    Interrupted {
        /// The utterance that was playing.
        utterance_id: UtteranceId,
        /// Characters played, from the last `AgentAudioPlayed`.
        played_chars: usize,
    },
    /// A short acknowledgement over the AI (嗯, 对, 好): the AI goes on.
    Backchannel {
        /// What the ASR heard.
        text: String,
        /// When it was decided.
        at: Instant,
    },
}
