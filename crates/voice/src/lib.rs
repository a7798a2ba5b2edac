//! The voice pipeline: it turns a carrier leg that carries audio into one
//! that carries text, so the call session deals in lines, never in samples.
//!
//! ```text
//!  audio leg                                voice pipeline                       text leg (session)
//!  AudioEvent::Audio ──> VAD ──> TurnTaker ──> ASR final ──> end of turn ───────> TextEvent::Heard
//!                                   │ barge-in: StopPlaying, SayDone{stopped} ──> TextEvent::SayDone
//!  AudioCommand::Play <── paced clips <── TTS <── SentenceSplitter <──────────── TextCommand::Say / SayPart
//!  AudioEvent::PlayStarted/PlayDone ──> played characters, latency marks ──────> VoiceLeg::turns
//! ```
//!
//! [`wrap`] starts one task per call that owns the whole pipeline. Nothing in
//! it waits on an engine: the VAD is microseconds per frame and runs inline;
//! ASR audio is queued without waiting (`AsrInput::push_pcm`); every TTS
//! synthesis runs in a task of its own and hands its audio back through a
//! channel. The 20 ms media clock lives in the carrier (the SIP leg's RTP
//! session, the simulator's clock) and never waits for this task either:
//! audio frames are offered to it with `try_send`.
//!
//! Turn-taking, sentence splitting and the latency split are the sans-IO
//! pieces of `waihu-turn`; this crate is the thin async driver its docs
//! describe.

/// The pipeline's clock: tokio's, the same one the call session and the
/// carriers' legs read, so a whole spoken call runs in paused virtual time
/// in a test and every instant on its path compares with every other.
mod clock {
    pub(crate) fn now() -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }
}
mod listen;
mod pipeline;
mod record;
mod speak;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use waihu_carrier::{AudioLeg, TextLeg};
use waihu_speech::{StreamingAsr, Tts, Vad};
use waihu_turn::{SplitterConfig, TurnConfig, TurnLatencyMs};

pub use record::StereoRecorder;

/// Makes one voice activity detector per call (detectors keep state).
pub type VadFactory = Arc<dyn Fn() -> Box<dyn Vad> + Send + Sync>;

/// Makes the recogniser for one call, given what the call is about (an
/// offline engine recognises the task's names and words far better when it
/// is prompted with them).
pub type AsrFactory = Arc<dyn Fn(&str) -> Arc<dyn StreamingAsr> + Send + Sync>;

/// The engines and rules every call's pipeline uses. Shared by all calls.
#[derive(Clone)]
pub struct VoiceEngines {
    /// Voice activity detection.
    pub vad: VadFactory,
    /// Speech recognition.
    pub asr: AsrFactory,
    /// Speech synthesis.
    pub tts: Arc<dyn Tts>,
    /// End of turn and barge-in rules.
    pub turn: TurnConfig,
    /// How eagerly replies are cut for synthesis.
    pub splitter: SplitterConfig,
}

impl std::fmt::Debug for VoiceEngines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceEngines").field("turn", &self.turn).field("splitter", &self.splitter).finish_non_exhaustive()
    }
}

/// What one call asks of its voice.
#[derive(Debug, Clone, Default)]
pub struct CallVoice {
    /// The call's task, as a hint for the recogniser.
    pub asr_hint: String,
    /// A voice id of the TTS engine; `None` for its default.
    pub voice_id: Option<String>,
    /// 0-100, 50 normal.
    pub speed: u8,
    /// 0-100, 50 normal.
    pub volume: u8,
    /// Write a stereo WAV of the call here (callee left, AI right) when the
    /// leg ends.
    pub record_to: Option<PathBuf>,
}

/// What the pipeline makes of an audio leg: the text leg the session
/// drives, and what only a voice pipeline knows.
#[derive(Debug)]
pub struct VoiceLeg {
    /// Lines out, recognised lines in.
    pub leg: TextLeg,
    /// Each answered turn's response time and its split (from the callee's
    /// last voiced frame to the first frame of the AI's answer), as it comes.
    pub turns: mpsc::UnboundedReceiver<TurnLatencyMs>,
}

/// Puts the voice pipeline in front of `audio_leg` and returns the text
/// leg the session drives. Must be called inside a tokio runtime.
pub fn wrap(audio_leg: AudioLeg, engines: Arc<VoiceEngines>, call: CallVoice) -> VoiceLeg {
    pipeline::spawn(audio_leg, engines, call)
}
