//! What a call says and does, as it happens: the transcript lines and the
//! events that travel from a call session to the store, the bus and SSE.

use serde::{Deserialize, Serialize};

use crate::status::CallStatus;

/// Who said a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The AI.
    Assistant,
    /// The person called (speech to text).
    User,
    /// The platform (`[DONE]`, `[TIMEOUT]`).
    System,
}

impl Role {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Assistant => "assistant",
            Role::User => "user",
            Role::System => "system",
        }
    }

    /// Parses the wire form.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "assistant" => Some(Role::Assistant),
            "user" => Some(Role::User),
            "system" => Some(Role::System),
            _ => None,
        }
    }
}

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Utterance {
    /// Who said it.
    pub role: Role,
    /// What was said (for the AI: what was actually played).
    pub content: String,
}

impl Utterance {
    /// A line by the AI.
    pub fn assistant(content: impl Into<String>) -> Self {
        Utterance { role: Role::Assistant, content: content.into() }
    }

    /// A line by the callee.
    pub fn user(content: impl Into<String>) -> Self {
        Utterance { role: Role::User, content: content.into() }
    }
}

/// Something that happened to a call, in order. `seq` numbers transcript
/// lines from 1 so that a subscriber can join a replay and a live feed
/// without gaps or repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallEvent {
    /// A transcript line was said (already stored).
    Line {
        /// The line's position in the transcript, from 1.
        seq: u32,
        /// The line.
        utterance: Utterance,
    },
    /// The call moved to a new status (a final status is followed by `Ended`).
    Status {
        /// The new status.
        status: CallStatus,
    },
    /// The call is over and its record is final.
    Ended {
        /// The final status.
        status: CallStatus,
        /// How many transcript lines the record holds.
        lines: u32,
    },
}
