//! Speech recognition: 8 kHz audio in, text out.
//!
//! Two kinds, one trait each:
//!
//! - [`Asr`], batch: one VAD-cut utterance in, its [`Transcript`] out. The
//!   pipeline buffers audio between the turn-taker's `CalleeSpeechStarted`
//!   and `CalleeSpeechStopped` and sends it whole. Engines here:
//!   [`openai`] (`POST {base}/audio/transcriptions`). The offline Whisper
//!   engine (whisper.cpp weights from the registry packages) goes beside it
//!   as `whisper.rs`; it needs the VAD cut too, since Whisper repeats itself
//!   on silence.
//! - [`StreamingAsr`], realtime: [`StreamingAsr::start`] opens an
//!   [`AsrSession`]; audio is pushed as it arrives and [`AsrEvent`]s
//!   (partials, finals) come back. Engines here: [`dashscope`] (Paraformer
//!   realtime over DashScope's WebSocket API); other Chinese cloud engines
//!   (Volcengine) go beside it. Any batch engine becomes one through
//!   [`Buffered`].
//!
//! Pushing audio never blocks the media clock: [`AsrInput::push_pcm`] only
//! tries to queue, and when the engine has fallen behind the frame is
//! dropped and counted ([`AsrInput::dropped_samples`]), never waited for.

mod buffered;
pub mod dashscope;
pub mod openai;
mod session;
#[cfg(feature = "whisper")]
pub mod whisper;

use async_trait::async_trait;
use thiserror::Error;


pub use self::buffered::Buffered;
pub use self::dashscope::{DashScopeAsr, DashScopeAsrConfig};
pub use self::openai::{OpenAiAsr, OpenAiAsrConfig};
#[cfg(feature = "whisper")]
pub use self::whisper::{WhisperAsr, WhisperConfig};
pub use self::session::{session_channel, AsrEvent, AsrFeed, AsrInput, AsrSession, Feed, DEFAULT_QUEUE_PUSHES};

/// What was said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transcript {
    /// The words; empty when the engine heard none.
    pub text: String,
    /// The engine's confidence, 0 to 1, when it gives one.
    pub confidence: Option<f32>,
}

/// Why recognition failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AsrError {
    /// The engine could not be reached (connection refused, DNS, TLS).
    #[error("speech recogniser unreachable: {0}")]
    Unreachable(String),
    /// No answer in time.
    #[error("speech recogniser timed out after {0} ms")]
    Timeout(u64),
    /// The engine answered with an HTTP error.
    #[error("speech recogniser returned HTTP {status}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The engine's message, trimmed, with secrets removed.
        message: String,
    },
    /// The engine answered something we could not read, or broke off.
    #[error("speech recogniser sent an unreadable answer: {0}")]
    Protocol(String),
    /// The engine took the request and then failed it, with its own error
    /// code (DashScope's `task-failed`: `InvalidApiKey`, `Throttling`, …).
    #[error("speech recogniser failed the task ({code}): {message}")]
    Task {
        /// The engine's error code.
        code: String,
        /// The engine's message, with secrets removed.
        message: String,
    },
    /// The engine is not set up (no key, a bad URL).
    #[error("speech recogniser not configured: {0}")]
    NotConfigured(String),
    /// An offline engine's model is not installed; the message names the
    /// command that installs it (`waihu models install`).
    #[error("speech recognition model missing: {0}")]
    ModelMissing(String),
}

waihu_vendor_http::vendor_error!(AsrError);

/// A batch recogniser: one whole utterance at a time.
#[async_trait]
pub trait Asr: Send + Sync {
    /// The engine's name, for logs and latency reports.
    fn name(&self) -> &str;

    /// Recognises one utterance of 8 kHz mono PCM. Empty audio gives an
    /// empty transcript without asking the engine.
    async fn transcribe(&self, pcm8k: &[i16]) -> Result<Transcript, AsrError>;
}

/// A streaming recogniser: audio pushed as it arrives, results as they come.
#[async_trait]
pub trait StreamingAsr: Send + Sync {
    /// The engine's name, for logs and latency reports.
    fn name(&self) -> &str;

    /// Opens a session for one audio stream (one call leg).
    async fn start(&self) -> Result<AsrSession, AsrError>;
}
