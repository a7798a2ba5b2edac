//! The agent: what the AI says on a call.
//!
//! A conversation is a typed history of [`Turn`]s. An [`Llm`] engine turns
//! the task and that history into a streamed reply ([`LlmEvent`]s: text and,
//! at most once, a `hang_up`). Each engine renders the history its own way:
//! the OpenAI-compatible engine as chat messages under a system prompt that
//! carries the safety rules, the offline engine by reading it as a state
//! machine of its own. [`Conversation`] sits on top and is what a call
//! session talks to.

pub mod conversation;
pub mod gate;
pub mod llm;
pub mod offline;
pub mod openai;
pub mod prompt;
pub mod registry;
pub mod task;

pub use conversation::Conversation;
pub use gate::SAFE_FALLBACK;
pub use llm::{ChatRequest, EngineInfo, Llm, LlmError, LlmEvent, LlmStream, Reply, Turn};
pub use registry::{EngineRegistry, RegistryError};
