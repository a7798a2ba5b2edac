//! What the simulated network reads from the configuration file
//! (`[carrier.sim]` in the server's TOML).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use waihu_core::PhoneNumber;

use super::builtin;
use super::error::{ScriptedCalleeError, SimConfigError};

/// The simulated phone network's settings. Every field has a default, so an
/// empty `[carrier.sim]` table (or none) gives a network with the built-in
/// callees at real-time speed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// Time scale: 1.0 is real time, 20.0 runs twenty times faster.
    /// Must be greater than 0 and at most 1000.
    pub speed: f64,
    /// How fast lines are spoken, by both sides, in characters per second.
    pub chars_per_second: f64,
    /// The callee's pause, in milliseconds, between the AI falling quiet and
    /// its answer.
    pub reaction_ms: u64,
    /// The built-in persona of numbers that are neither built in nor listed
    /// in `callees`.
    pub default_persona: String,
    /// Callees scripted in the configuration; they take precedence over the
    /// built-in numbers.
    pub callees: Vec<ScriptedCallee>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            speed: 1.0,
            // A calm spoken Mandarin pace; TTS voices land between 4 and 5.
            chars_per_second: 4.5,
            reaction_ms: 600,
            default_persona: "cooperative".to_owned(),
            callees: Vec::new(),
        }
    }
}

/// One callee described in the configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedCallee {
    /// The number that reaches this callee (any spelling `PhoneNumber`
    /// accepts, e.g. `+86 130-0000-0100`).
    pub number: String,
    /// Seconds of ringing before the outcome; for `unreachable`, seconds
    /// until the network refuses the call (there is no ringing).
    #[serde(default = "default_ring_seconds")]
    pub ring_seconds: f64,
    /// What happens when the phone rings.
    #[serde(default)]
    pub result: CalleeResult,
    /// How the callee answers what it hears, tried in order; each rule is
    /// used at most once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replies: Vec<ReplyRule>,
    /// What the callee says when no unused rule matches (every time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Hang up after answering this many of the AI's turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hang_up_after_turns: Option<u32>,
}

fn default_ring_seconds() -> f64 {
    2.0
}

/// The outcome of ringing a scripted callee.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CalleeResult {
    /// Picks up after `ring_seconds`.
    #[default]
    Answer,
    /// `486 Busy Here` after `ring_seconds`.
    Busy,
    /// `603 Decline` after `ring_seconds`.
    Declined,
    /// The network gives up: `480 Temporarily Unavailable` after `ring_seconds`.
    NoAnswer,
    /// `404 Not Found` after `ring_seconds`, without ringing.
    Unreachable,
    /// Rings until the call is cancelled.
    NeverAnswer,
}

/// One reply of a scripted callee.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyRule {
    /// Words that must occur in what the callee just heard; `|` separates
    /// alternatives (`请问是|是不是`). Absent: any turn matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_heard: Option<String>,
    /// What the callee says. Absent: it stays silent this turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub say: Option<String>,
    /// Hang up after saying it.
    #[serde(default)]
    pub hang_up: bool,
}

impl SimConfig {
    /// Checks what serde cannot: ranges, numbers, persona names and
    /// duplicates. The message names the field and the allowed values.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if !(self.speed.is_finite() && self.speed > 0.0 && self.speed <= 1000.0) {
            return Err(SimConfigError::Speed { got: self.speed });
        }
        if !(self.chars_per_second.is_finite() && self.chars_per_second >= 0.5 && self.chars_per_second <= 50.0) {
            return Err(SimConfigError::CharsPerSecond { got: self.chars_per_second });
        }
        if self.reaction_ms > 60_000 {
            return Err(SimConfigError::ReactionMs { got: self.reaction_ms });
        }
        if builtin::by_name(&self.default_persona).is_none() {
            return Err(SimConfigError::UnknownDefaultPersona { name: self.default_persona.clone() });
        }
        let mut seen = HashSet::new();
        for (index, callee) in self.callees.iter().enumerate() {
            let number = callee.validate().map_err(|problem| SimConfigError::Callee { index, problem })?;
            if !seen.insert(number.clone()) {
                return Err(SimConfigError::NumberScriptedTwice { index, number });
            }
        }
        Ok(())
    }
}

impl ScriptedCallee {
    /// Checks one callee and returns its normalised number.
    pub(crate) fn validate(&self) -> Result<PhoneNumber, ScriptedCalleeError> {
        let number = PhoneNumber::parse(&self.number).map_err(ScriptedCalleeError::Number)?;
        if !(self.ring_seconds.is_finite() && self.ring_seconds >= 0.0 && self.ring_seconds <= 600.0) {
            return Err(ScriptedCalleeError::RingSeconds { got: self.ring_seconds });
        }
        for (j, rule) in self.replies.iter().enumerate() {
            if let Some(when) = &rule.when_heard {
                if when.split('|').any(|alt| alt.trim().is_empty()) {
                    return Err(ScriptedCalleeError::EmptyAlternative { rule: j, when_heard: when.clone() });
                }
            }
            if rule.say.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return Err(ScriptedCalleeError::EmptySay { rule: j });
            }
        }
        if self.fallback.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(ScriptedCalleeError::EmptyFallback);
        }
        if self.hang_up_after_turns == Some(0) {
            return Err(ScriptedCalleeError::HangUpAfterNoTurns);
        }
        Ok(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callee(number: &str) -> ScriptedCallee {
        ScriptedCallee {
            number: number.to_owned(),
            ring_seconds: 2.0,
            result: CalleeResult::Answer,
            replies: Vec::new(),
            fallback: None,
            hang_up_after_turns: None,
        }
    }

    #[test]
    fn defaults_are_valid_and_real_time() {
        let cfg = SimConfig::default();
        assert_eq!(cfg.validate(), Ok(()));
        assert_eq!((cfg.speed, cfg.chars_per_second, cfg.reaction_ms), (1.0, 4.5, 600));
        assert_eq!(cfg.default_persona, "cooperative");
    }

    #[test]
    fn speed_outside_its_range_is_refused_with_the_range_in_the_message() {
        for speed in [0.0, -1.0, 1000.5, f64::NAN, f64::INFINITY] {
            let err = SimConfig { speed, ..SimConfig::default() }.validate().unwrap_err().to_string();
            assert!(err.contains("speed must be greater than 0 and at most 1000"), "{err}");
        }
        assert_eq!(SimConfig { speed: 1000.0, ..SimConfig::default() }.validate(), Ok(()));
    }

    #[test]
    fn unknown_default_persona_lists_the_choices() {
        let err = SimConfig { default_persona: "grumpy".into(), ..SimConfig::default() }.validate().unwrap_err().to_string();
        assert!(err.contains("\"grumpy\"") && err.contains("cooperative") && err.contains("chatty"), "{err}");
    }

    #[test]
    fn scripted_numbers_must_be_mobile_numbers_and_unique() {
        let cfg = SimConfig { callees: vec![callee("12345")], ..SimConfig::default() };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("callees[0]") && err.contains("not a mainland China mobile number"), "{err}");

        let cfg = SimConfig { callees: vec![callee("13000000100"), callee("+86 130-0000-0100")], ..SimConfig::default() };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("callees[1]") && err.contains("scripted twice") && !err.contains("13000000100"), "{err}");
    }

    #[test]
    fn empty_words_in_rules_are_refused() {
        let mut c = callee("13000000100");
        c.replies.push(ReplyRule { when_heard: Some("请问是||是不是".into()), say: Some("对".into()), hang_up: false });
        let err = SimConfig { callees: vec![c], ..SimConfig::default() }.validate().unwrap_err().to_string();
        assert!(err.contains("replies[0].when_heard"), "{err}");

        let mut c = callee("13000000100");
        c.hang_up_after_turns = Some(0);
        assert!(SimConfig { callees: vec![c], ..SimConfig::default() }.validate().unwrap_err().to_string().contains("hang_up_after_turns"));
    }
}
