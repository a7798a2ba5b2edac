//! Turn-taking for a voice call, with no IO and no clock of its own.
//!
//! Three independent pieces that a thin async pipeline (VAD -> ASR -> end of
//! turn -> dialogue -> splitter -> TTS -> paced audio) drives:
//!
//! - [`TurnTaker`] decides when the callee's turn is over, when the callee
//!   talks over the AI for real (barge-in) and when they only acknowledge it
//!   (嗯, 对, 好). It is fed VAD frames, ASR results and playback progress,
//!   each with the current `now`, and answers with [`Output`]s.
//! - [`SentenceSplitter`] cuts the LLM's streamed tokens into chunks worth
//!   synthesising, as early as the text allows: the first clause goes to TTS
//!   at its comma instead of waiting for the first full stop.
//! - [`LatencyRecorder`] splits one turn's response time (callee's last voiced
//!   frame -> first AI audio frame out) into endpointing, ASR, dialogue, TTS
//!   and our own overhead.
//!
//! # The run-loop contract
//!
//! Nothing here reads the clock, sleeps or spawns; the driver owns time.
//!
//! ```text
//! loop {
//!     wait for the next of: a VAD frame, an ASR result, a playback report,
//!                           or the instant `turn.poll_timeout()` (if any)
//!     turn.handle(input_or_Timeout, Instant::now());
//!     while let Some(out) = turn.poll_output() { act on it }
//! }
//! ```
//!
//! - Call [`TurnTaker::handle`] with `Input::Timeout` no later than
//!   [`TurnTaker::poll_timeout`]; calling it late only delays decisions,
//!   calling it early is harmless. Any input also fires due timers.
//! - Feed every VAD frame as it is decided (speech and silence alike), in
//!   order, with the instant the frame was handed over. The hangover is
//!   measured in that time, so frames must not be batched.
//! - Drain [`TurnTaker::poll_output`] after every `handle`: a barge-in must
//!   stop playback in the same turn of the loop to keep its promise (AI
//!   audio stopped within one VAD frame of the decision).
//! - `now` never needs to be exact, only non-decreasing; an instant earlier
//!   than one already seen is treated as the latest one seen.
//!
//! # What each output asks of the pipeline
//!
//! - `CalleeSpeechStarted` / `CalleeSpeechStopped` bracket each speech run:
//!   feed the recogniser (or buffer audio for a VAD-cut one) from `Started`.
//! - `FinaliseAsr` (after `early_final` of silence), or `CalleeSpeechStopped`
//!   when no `FinaliseAsr` came since the last voiced frame: ask the ASR to
//!   finalise what it has (a VAD-cut ASR: send the utterance) and feed it
//!   nothing more. `CalleeSpeechResumed`: the callee went on, feed it again.
//!   Answer each request with exactly one `AsrFinal`, an empty one when no
//!   words were heard, or the turn waits `final_wait` for it.
//! - `EndOfTurn`: ask the dialogue for a reply. If `CalleeSpeechStarted`
//!   comes before that reply starts playing, the callee went on talking;
//!   the next `EndOfTurn` carries only the new words, so merging them with
//!   the previous turn (and regenerating the reply) is the pipeline's call.
//! - `BargeIn`: stop sending AI audio at once, drop what is queued, cancel
//!   the reply's LLM and TTS streams. `Interrupted` follows in the same
//!   drain: the transcript and the dialogue history keep only the first
//!   `played_chars` characters of that utterance's text.
//! - `Backchannel`: nothing to do (the AI goes on); log it if useful.
//! - `NoWords`: nothing to answer.
//!
//! Playback reports, in the splitter's `Chunk` character offsets:
//! `AgentAudioStarted` with the first frame sent, `AgentAudioPlayed` after
//! each frame sent (at least at each chunk's end; inside a chunk, its
//! characters in proportion to the audio sent), `AgentAudioFinished` after
//! the last. The count in `Interrupted` is only as fresh as the last report.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use waihu_turn::{Input, Output, TurnConfig, TurnTaker};
//!
//! let t0 = Instant::now();
//! let ms = |n: u64| t0 + Duration::from_millis(n);
//! let mut turn = TurnTaker::new(TurnConfig::default());
//! // 500 ms of speech in 20 ms frames.
//! for n in (20..=500).step_by(20) {
//!     turn.handle(Input::VadFrame { speech: true, duration: Duration::from_millis(20) }, ms(n));
//! }
//! // After 100 ms of silence the ASR is asked for its final...
//! assert_eq!(turn.poll_timeout(), Some(ms(600)));
//! turn.handle(Input::Timeout, ms(600));
//! // ...which comes 100 ms later.
//! turn.handle(Input::AsrFinal("对，是我".into()), ms(700));
//! // The hangover (250 ms) is up at 750 ms: the turn ends then.
//! assert_eq!(turn.poll_timeout(), Some(ms(750)));
//! turn.handle(Input::Timeout, ms(750));
//! let outputs: Vec<Output> = std::iter::from_fn(|| turn.poll_output()).collect();
//! assert!(matches!(&outputs[..], [
//!     Output::CalleeSpeechStarted { .. },
//!     Output::FinaliseAsr { .. },
//!     Output::CalleeSpeechStopped { .. },
//!     Output::EndOfTurn { text, .. },
//! ] if text == "对，是我"));
//! ```
//!
//! Tests drive all of it in virtual time (`Instant` offsets, no sleeping).
#![warn(missing_docs)]

pub mod latency;
pub mod splitter;
pub mod turn;

pub use latency::{LatencyError, LatencyRecorder, Mark, TurnLatency, TurnLatencyMs};
pub use splitter::{Boundary, Chunk, SentenceSplitter, SplitterConfig};
pub use turn::{is_backchannel, Input, Output, TurnConfig, TurnTaker, UtteranceId};
