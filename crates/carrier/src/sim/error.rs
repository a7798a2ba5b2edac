//! Why the simulated network refuses its configuration. Every message names
//! the `[carrier.sim]` setting at fault and what is allowed, so the server's
//! start-up error tells a person what to change.

use thiserror::Error;
use waihu_core::{PhoneError, PhoneNumber};

use super::builtin;

/// What is wrong with a `[carrier.sim]` table (from `SimConfig::validate`
/// and `SimCarrier::new`).
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum SimConfigError {
    /// `speed` outside (0, 1000].
    #[error("[carrier.sim] speed must be greater than 0 and at most 1000 (1.0 = real time, 20.0 = twenty times faster), got {got}")]
    Speed {
        /// The configured value.
        got: f64,
    },
    /// `chars_per_second` outside 0.5..=50.
    #[error("[carrier.sim] chars_per_second must be between 0.5 and 50 (spoken Chinese is about 4.5), got {got}")]
    CharsPerSecond {
        /// The configured value.
        got: f64,
    },
    /// `reaction_ms` above a minute.
    #[error("[carrier.sim] reaction_ms must be at most 60000 (one minute), got {got}")]
    ReactionMs {
        /// The configured value.
        got: u64,
    },
    /// `default_persona` names no built-in persona.
    #[error("[carrier.sim] default_persona {name:?} is not a built-in persona; choose one of: {}", builtin::names().join(", "))]
    UnknownDefaultPersona {
        /// The configured name.
        name: String,
    },
    /// One entry of `callees` is invalid.
    #[error("[carrier.sim] callees[{index}]: {problem}")]
    Callee {
        /// Its position in `callees`.
        index: usize,
        /// What is wrong with it.
        problem: ScriptedCalleeError,
    },
    /// Two entries of `callees` have the same number.
    #[error("[carrier.sim] callees[{index}]: number {} is scripted twice; keep one entry per number", .number.redacted())]
    NumberScriptedTwice {
        /// The second entry's position in `callees`.
        index: usize,
        /// The number (shown redacted: the message reaches logs).
        number: PhoneNumber,
    },
}

/// What is wrong with one scripted callee (`[[carrier.sim.callees]]`).
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ScriptedCalleeError {
    /// `number` is not a mainland China mobile number.
    #[error("number: {0}")]
    Number(PhoneError),
    /// `ring_seconds` outside 0..=600.
    #[error("ring_seconds must be between 0 and 600, got {got}")]
    RingSeconds {
        /// The configured value.
        got: f64,
    },
    /// A `when_heard` with an empty alternative (`a||b`), which would match anything.
    #[error("replies[{rule}].when_heard {when_heard:?} has an empty alternative; leave when_heard out to match any turn")]
    EmptyAlternative {
        /// The rule's position in `replies`.
        rule: usize,
        /// The configured words.
        when_heard: String,
    },
    /// A blank `say`.
    #[error("replies[{rule}].say is empty; leave it out to stay silent")]
    EmptySay {
        /// The rule's position in `replies`.
        rule: usize,
    },
    /// A blank `fallback`.
    #[error("fallback is empty; leave it out to stay silent")]
    EmptyFallback,
    /// `hang_up_after_turns = 0`.
    #[error("hang_up_after_turns must be at least 1 (the callee hangs up after answering that many turns)")]
    HangUpAfterNoTurns,
}
