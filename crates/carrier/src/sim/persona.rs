//! Who answers a simulated call: how the phone reacts to ringing and how
//! the callee talks once it picks up.

use super::builtin;
use super::config::CalleeResult;

/// What the AI said since the callee last answered, as the callee heard it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Turn<'a> {
    /// The played text of the AI's lines, in order.
    pub(crate) text: &'a str,
    /// The AI stopped its last line before the end.
    pub(crate) cut_off: bool,
}

/// What the callee does about a turn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Reaction {
    /// An utterance, if it speaks.
    pub(crate) say: Option<String>,
    /// Hang up (after saying it).
    pub(crate) hang_up: bool,
}

impl Reaction {
    pub(crate) fn silent() -> Self {
        Reaction::default()
    }

    pub(crate) fn say(text: impl Into<String>) -> Self {
        Reaction { say: Some(text.into()), hang_up: false }
    }

    pub(crate) fn say_and_hang_up(text: impl Into<String>) -> Self {
        Reaction { say: Some(text.into()), hang_up: true }
    }

    pub(crate) fn hang_up() -> Self {
        Reaction { say: None, hang_up: true }
    }
}

/// Speech the callee starts while the AI is still talking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CutIn {
    /// What it says.
    pub(crate) text: String,
    /// It answers the line being played, so that line needs no reply once
    /// it ends (a question over the AI); otherwise it is only a backchannel
    /// (`嗯`) and the callee still answers the line afterwards.
    pub(crate) takes_turn: bool,
}

/// How a callee talks. One value per call, so it may keep state.
pub(crate) trait Talker: Send {
    /// Whether [`cut_in_at`](Self::cut_in_at) could pick a moment now. An
    /// audio leg only makes out a line while it plays (one recognition more)
    /// for a callee that may talk over it.
    fn may_cut_in(&self) -> bool {
        false
    }

    /// When a line of `line_secs` (simulated seconds) starts playing: how
    /// many seconds into it the callee would start talking, if at all.
    fn cut_in_at(&self, _line: &str, _line_secs: f64) -> Option<f64> {
        None
    }

    /// The moment chosen by [`cut_in_at`](Self::cut_in_at) has come.
    fn cut_in(&mut self, _line: &str) -> Option<CutIn> {
        None
    }

    /// The AI has fallen quiet after `turn`: the callee's answer.
    fn on_turn(&mut self, turn: &Turn<'_>) -> Reaction;
}

/// How the phone reacts to being rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pickup {
    Answer,
    Busy,
    Declined,
    /// The network gives up ringing (480).
    NetworkNoAnswer,
    /// The network refuses the number without ringing (404).
    Unreachable,
    /// Rings until cancelled.
    Never,
}

impl From<CalleeResult> for Pickup {
    fn from(r: CalleeResult) -> Self {
        match r {
            CalleeResult::Answer => Pickup::Answer,
            CalleeResult::Busy => Pickup::Busy,
            CalleeResult::Declined => Pickup::Declined,
            CalleeResult::NoAnswer => Pickup::NetworkNoAnswer,
            CalleeResult::Unreachable => Pickup::Unreachable,
            CalleeResult::NeverAnswer => Pickup::Never,
        }
    }
}

/// A built-in persona.
pub(crate) struct PersonaDef {
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    pub(crate) pickup: Pickup,
    /// Seconds of ringing before `pickup` happens (for `Unreachable`, since
    /// the dial).
    pub(crate) ring_secs: f64,
    pub(crate) make: fn() -> Box<dyn Talker>,
}

impl std::fmt::Debug for PersonaDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonaDef").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The built-in personas. Ring times differ a little so a test run looks
/// like a real one, and stay fixed so it is deterministic.
pub(crate) static PERSONAS: &[PersonaDef] = &[
    PersonaDef {
        name: "cooperative",
        description: "answers after 2 s, confirms who it is, acknowledges the content, stays quiet after goodbye",
        pickup: Pickup::Answer,
        ring_secs: 2.0,
        make: || Box::new(builtin::Cooperative::default()),
    },
    PersonaDef {
        name: "wrong_person",
        description: "answers and says 不是，你打错了。; hangs up if the AI carries on",
        pickup: Pickup::Answer,
        ring_secs: 2.0,
        make: || Box::new(builtin::WrongPerson::default()),
    },
    PersonaDef {
        name: "busy",
        description: "rings 1 s, then 486 Busy Here",
        pickup: Pickup::Busy,
        ring_secs: 1.0,
        make: || Box::new(builtin::Silent),
    },
    PersonaDef {
        name: "no_answer",
        description: "rings until the call is cancelled (487)",
        pickup: Pickup::Never,
        ring_secs: 0.0,
        make: || Box::new(builtin::Silent),
    },
    PersonaDef {
        name: "declined",
        description: "rings 4 s, then 603 Decline",
        pickup: Pickup::Declined,
        ring_secs: 4.0,
        make: || Box::new(builtin::Silent),
    },
    PersonaDef {
        name: "hangs_up",
        description: "answers, says nothing, hangs up about 1 s after the AI's first line",
        pickup: Pickup::Answer,
        ring_secs: 2.0,
        make: || Box::new(builtin::HangsUp),
    },
    PersonaDef {
        name: "opt_out",
        description: "confirms, then answers the content with 别再给我打电话了。",
        pickup: Pickup::Answer,
        ring_secs: 2.0,
        make: || Box::new(builtin::OptOut::default()),
    },
    PersonaDef {
        name: "asks_who",
        description: "asks 你是谁？哪里打来的？, then confirms, asks 没听清，再说一遍？ once, then acknowledges",
        pickup: Pickup::Answer,
        ring_secs: 3.0,
        make: || Box::new(builtin::AsksWho::default()),
    },
    PersonaDef {
        name: "talks_over",
        description: "confirms, then asks 等一下，你说几点？ about 1 s into the content line, acknowledges after",
        pickup: Pickup::Answer,
        ring_secs: 2.0,
        make: || Box::new(builtin::TalksOver::default()),
    },
    PersonaDef {
        name: "silent",
        description: "answers and never speaks",
        pickup: Pickup::Answer,
        ring_secs: 2.0,
        make: || Box::new(builtin::Silent),
    },
    PersonaDef {
        name: "not_now",
        description: "confirms, then 我在开会，现在不方便，你下午三点再打吧。",
        pickup: Pickup::Answer,
        ring_secs: 3.0,
        make: || Box::new(builtin::NotNow::default()),
    },
    PersonaDef {
        name: "unreachable",
        description: "never rings: 404 Not Found after 1 s",
        pickup: Pickup::Unreachable,
        ring_secs: 1.0,
        make: || Box::new(builtin::Silent),
    },
    PersonaDef {
        name: "chatty",
        description: "confirms, then asks a follow-up question after every AI line and never hangs up",
        pickup: Pickup::Answer,
        ring_secs: 1.0,
        make: || Box::new(builtin::Chatty::default()),
    },
    PersonaDef {
        name: "acknowledger",
        description: "confirms, says a short 嗯 halfway through the content line, then acknowledges",
        pickup: Pickup::Answer,
        ring_secs: 2.0,
        make: || Box::new(builtin::Acknowledger::default()),
    },
];

/// The numbers that reach each built-in persona.
pub(crate) static NUMBERS: &[(&str, &str)] = &[
    ("13800138000", "cooperative"),
    ("13900139000", "cooperative"),
    ("13000000001", "wrong_person"),
    ("13000000002", "busy"),
    ("13000000003", "no_answer"),
    ("13000000004", "declined"),
    ("13000000005", "hangs_up"),
    ("13000000006", "opt_out"),
    ("13000000007", "asks_who"),
    ("13000000008", "talks_over"),
    ("13000000009", "silent"),
    ("13000000010", "not_now"),
    ("13000000011", "unreachable"),
    ("13000000012", "chatty"),
    ("13000000013", "acknowledger"),
];

/// A built-in persona by name.
pub(crate) fn by_name(name: &str) -> Option<&'static PersonaDef> {
    PERSONAS.iter().find(|p| p.name == name)
}

/// The built-in persona a number reaches, if any.
pub(crate) fn by_number(number: &str) -> Option<&'static PersonaDef> {
    NUMBERS.iter().find(|(n, _)| *n == number).and_then(|(_, name)| by_name(name))
}

/// Every built-in persona's name.
pub(crate) fn names() -> Vec<&'static str> {
    PERSONAS.iter().map(|p| p.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_reaches_a_defined_persona_and_every_persona_has_a_number() {
        for (number, name) in NUMBERS {
            assert!(by_name(name).is_some(), "{number} -> {name}");
        }
        for p in PERSONAS {
            assert!(NUMBERS.iter().any(|(_, n)| *n == p.name), "{} has no number", p.name);
        }
    }
}
