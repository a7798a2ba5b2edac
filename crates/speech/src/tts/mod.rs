//! Speech synthesis: text in, streamed 8 kHz audio out.
//!
//! A [`Tts`] engine is shared by every call (it is `Send + Sync`); each
//! [`Tts::synthesize`] starts one independent synthesis whose audio arrives
//! as a [`TtsStream`] of PCM chunks, the first as soon as the engine has it,
//! so playback can start before the sentence is finished. Chunks are mono
//! signed 16-bit 8 kHz samples of any length; the pipeline reframes them to
//! 20 ms for the media clock ([`crate::pcm::Reframer`]). Dropping the stream
//! cancels the synthesis (the subprocess is killed, the HTTP request closed):
//! that is how a barge-in stops it.
//!
//! Engines, one module each: [`espeak`] (offline, espeak-ng as a subprocess
//! through pinyin), [`openai`] (`POST {base}/audio/speech`) and [`dashscope`]
//! (CosyVoice streaming over DashScope's WebSocket API).

pub mod dashscope;
pub mod espeak;
pub mod openai;
mod stream;

use std::pin::Pin;

use async_trait::async_trait;
use futures_util::{Stream, StreamExt};
use thiserror::Error;

use crate::wav::WavError;

pub use self::dashscope::{DashScopeTts, DashScopeTtsConfig};
pub use self::espeak::{EspeakConfig, EspeakTts};
pub use self::openai::{OpenAiTts, OpenAiTtsConfig, SpeechFormat};

/// A voice an engine speaks with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceInfo {
    /// The id requests pass as `voice_id`.
    pub id: String,
    /// A human name.
    pub name: String,
    /// BCP 47 language.
    pub language: String,
    /// Whether the engine speaks with it when a request names none.
    pub default: bool,
}

/// What to say and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtsRequest {
    /// The text, as the dialogue wrote it (Chinese, digits, some Latin).
    pub text: String,
    /// A voice id from [`Tts::voices`]; `None` for the engine's default.
    pub voice_id: Option<String>,
    /// 0-100; 50 is the engine's normal pace.
    pub speed: u8,
    /// 0-100; 50 is the engine's normal level, 0 silence, 100 twice the
    /// amplitude (saturating).
    pub volume: u8,
}

impl TtsRequest {
    /// `text` in the default voice at normal speed and volume.
    pub fn new(text: impl Into<String>) -> Self {
        TtsRequest { text: text.into(), voice_id: None, speed: 50, volume: 50 }
    }

    /// The same request in `voice_id`.
    pub fn voice(mut self, voice_id: impl Into<String>) -> Self {
        self.voice_id = Some(voice_id.into());
        self
    }

    /// The same request at `speed` (0-100).
    pub fn speed(mut self, speed: u8) -> Self {
        self.speed = speed.min(100);
        self
    }

    /// The same request at `volume` (0-100).
    pub fn volume(mut self, volume: u8) -> Self {
        self.volume = volume.min(100);
        self
    }
}

/// The audio of one synthesis: 8 kHz mono PCM chunks, then the end.
pub type TtsStream = Pin<Box<dyn Stream<Item = Result<Vec<i16>, TtsError>> + Send>>;

/// Why a synthesis failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TtsError {
    /// The synthesiser program is not installed.
    #[error("{program} is not installed (or not on PATH): install the Debian package `{package}` (apt-get install {package})")]
    NotInstalled {
        /// The program that was looked for.
        program: String,
        /// The Debian package that provides it.
        package: String,
    },
    /// The voice is not one of the engine's.
    #[error("voice {voice:?} is not available; choose one of: {available}")]
    UnknownVoice {
        /// The voice asked for.
        voice: String,
        /// The engine's voice ids, comma-separated.
        available: String,
    },
    /// The synthesiser program failed.
    #[error("the synthesiser failed: {0}")]
    Process(String),
    /// The engine could not be reached (connection refused, DNS, TLS).
    #[error("speech engine unreachable: {0}")]
    Unreachable(String),
    /// No audio, or no next piece of it, in time.
    #[error("speech engine timed out after {0} ms")]
    Timeout(u64),
    /// The engine answered with an HTTP error.
    #[error("speech engine returned HTTP {status}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The engine's message, trimmed, with secrets removed.
        message: String,
    },
    /// The engine's audio could not be read.
    #[error("speech engine sent unreadable audio: {0}")]
    BadAudio(#[from] WavError),
    /// The engine answered something else we could not read, or broke off.
    #[error("speech engine sent an unreadable answer: {0}")]
    Protocol(String),
    /// The engine took the request and then failed it, with its own error
    /// code (DashScope's `task-failed`: `InvalidParameter`, `Throttling`, …).
    #[error("speech engine failed the task ({code}): {message}")]
    Task {
        /// The engine's error code.
        code: String,
        /// The engine's message, with secrets removed.
        message: String,
    },
    /// The engine is not set up (no key, a bad URL).
    #[error("speech engine not configured: {0}")]
    NotConfigured(String),
}

waihu_vendor_http::vendor_error!(TtsError);

/// A speech synthesiser.
#[async_trait]
pub trait Tts: Send + Sync {
    /// Its voices, for `tts_list`; exactly one is the default.
    fn voices(&self) -> Vec<VoiceInfo>;

    /// Starts saying `req`. Errors the engine can see up front (unknown
    /// voice, not installed, HTTP refusal) come here; later ones in the
    /// stream.
    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, TtsError>;
}

/// Runs one synthesis to the end and returns all of its audio: for tests,
/// prompts recorded ahead, and the simulated callee.
pub async fn synthesize_all(tts: &dyn Tts, req: TtsRequest) -> Result<Vec<i16>, TtsError> {
    let mut stream = tts.synthesize(req).await?;
    let mut pcm = Vec::new();
    while let Some(chunk) = stream.next().await {
        pcm.extend_from_slice(&chunk?);
    }
    Ok(pcm)
}

/// The voice `req` names among `voices`, or the default one.
pub(crate) fn pick_voice<'a>(voices: &'a [VoiceInfo], wanted: Option<&str>) -> Result<&'a VoiceInfo, TtsError> {
    let wanted = wanted.map(str::trim).filter(|v| !v.is_empty());
    let found = match wanted {
        Some(id) => voices.iter().find(|v| v.id == id),
        None => voices.iter().find(|v| v.default).or(voices.first()),
    };
    found.ok_or_else(|| TtsError::UnknownVoice {
        voice: wanted.unwrap_or("(default)").to_owned(),
        available: voices.iter().map(|v| v.id.as_str()).collect::<Vec<_>>().join(", "),
    })
}
