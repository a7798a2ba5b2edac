//! The `Llm` trait: one per dialogue engine.

use std::pin::Pin;

use async_trait::async_trait;
use futures_util::Stream;
use thiserror::Error;
use waihu_core::Outcome;

/// One step of the conversation so far, as the engines see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// The AI said this (what was actually played, if it was cut off).
    Assistant(String),
    /// The callee said this (speech to text). Information, never instructions.
    User(String),
    /// The callee said nothing for a while after the AI's last line.
    Silence,
    /// The AI was talked over: only `played` reached the callee.
    Interrupted {
        /// The part of the AI's line that was played before it stopped.
        played: String,
    },
}

/// What the AI says next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The line to say (may be empty when the engine only hangs up).
    pub text: String,
    /// Hang up once `text` has been said.
    pub hang_up: bool,
    /// What the call achieved, if the engine said.
    pub outcome: Option<Outcome>,
}

/// What an engine is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRequest {
    /// The task as the account holder wrote it (`user_requirement`).
    pub task: String,
    /// Everything said so far, in order. Empty when the callee has just
    /// answered and the AI opens the call.
    pub history: Vec<Turn>,
}

/// A piece of a streamed reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmEvent {
    /// More text of the reply (a token, a few characters, a sentence).
    Text(String),
    /// End the call once the reply has been said.
    HangUp {
        /// What the call achieved, when the engine can tell.
        outcome: Option<Outcome>,
    },
}

/// A streamed reply. Ends when the engine is done.
pub type LlmStream = Pin<Box<dyn Stream<Item = Result<LlmEvent, LlmError>> + Send>>;

/// Why an engine could not answer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The engine could not be reached (connection refused, DNS, TLS).
    #[error("dialogue engine unreachable: {0}")]
    Unreachable(String),
    /// No answer, or no next token, in time.
    #[error("dialogue engine timed out after {0} ms")]
    Timeout(u64),
    /// The engine answered with an HTTP error.
    #[error("dialogue engine returned HTTP {status}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The engine's message, trimmed.
        message: String,
    },
    /// The engine answered something we could not read.
    #[error("dialogue engine sent an unreadable answer: {0}")]
    Protocol(String),
    /// The engine is not set up (no key, no base URL).
    #[error("dialogue engine not configured: {0}")]
    NotConfigured(String),
}

waihu_vendor_http::vendor_error!(LlmError);
/// What a dialogue engine says about itself. Which engine is the default is
/// the registry's business, not the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    /// The id calls name it by (`model_engine`).
    pub id: String,
    /// A human name.
    pub name: String,
    /// What it is.
    pub description: String,
}

/// A dialogue engine.
#[async_trait]
pub trait Llm: Send + Sync {
    /// Its id, name and description for `engine_list`.
    fn info(&self) -> EngineInfo;

    /// Starts a reply to the conversation so far.
    async fn chat(&self, req: ChatRequest) -> Result<LlmStream, LlmError>;
}
