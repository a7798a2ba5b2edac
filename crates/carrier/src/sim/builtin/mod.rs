//! The built-in personas: who answers each built-in number, after how much
//! ringing, and which way of talking (`talkers`) it has.

mod talkers;

use super::persona::{Pickup, Talker};

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
        make: || Box::new(talkers::Cooperative::default()),
    },
    PersonaDef {
        name: "wrong_person",
        description: "answers and says 不是，你打错了。; hangs up if the AI carries on",
        pickup: Pickup::Answer,
        ring_secs: 2.0,
        make: || Box::new(talkers::WrongPerson::default()),
    },
    PersonaDef {
        name: "busy",
        description: "rings 1 s, then 486 Busy Here",
        pickup: Pickup::Busy,
        ring_secs: 1.0,
        make: || Box::new(talkers::Silent),
    },
    PersonaDef {
        name: "no_answer",
        description: "rings until the call is cancelled (487)",
        pickup: Pickup::Never,
        ring_secs: 0.0,
        make: || Box::new(talkers::Silent),
    },
    PersonaDef {
        name: "declined",
        description: "rings 4 s, then 603 Decline",
        pickup: Pickup::Declined,
        ring_secs: 4.0,
        make: || Box::new(talkers::Silent),
    },
    PersonaDef {
        name: "hangs_up",
        description: "answers, says nothing, hangs up about 1 s after the AI's first line",
        pickup: Pickup::Answer,
        ring_secs: 2.0,
        make: || Box::new(talkers::HangsUp),
    },
    PersonaDef {
        name: "opt_out",
        description: "confirms, then answers the content with 别再给我打电话了。",
        pickup: Pickup::Answer,
        ring_secs: 2.0,
        make: || Box::new(talkers::OptOut::default()),
    },
    PersonaDef {
        name: "asks_who",
        description: "asks 你是谁？哪里打来的？, then confirms, asks 没听清，再说一遍？ once, then acknowledges",
        pickup: Pickup::Answer,
        ring_secs: 3.0,
        make: || Box::new(talkers::AsksWho::default()),
    },
    PersonaDef {
        name: "talks_over",
        description: "confirms, then asks 等一下，你说几点？ about 1 s into the content line, acknowledges after",
        pickup: Pickup::Answer,
        ring_secs: 2.0,
        make: || Box::new(talkers::TalksOver::default()),
    },
    PersonaDef {
        name: "silent",
        description: "answers and never speaks",
        pickup: Pickup::Answer,
        ring_secs: 2.0,
        make: || Box::new(talkers::Silent),
    },
    PersonaDef {
        name: "not_now",
        description: "confirms, then 我在开会，现在不方便，你下午三点再打吧。",
        pickup: Pickup::Answer,
        ring_secs: 3.0,
        make: || Box::new(talkers::NotNow::default()),
    },
    PersonaDef {
        name: "unreachable",
        description: "never rings: 404 Not Found after 1 s",
        pickup: Pickup::Unreachable,
        ring_secs: 1.0,
        make: || Box::new(talkers::Silent),
    },
    PersonaDef {
        name: "chatty",
        description: "confirms, then asks a follow-up question after every AI line and never hangs up",
        pickup: Pickup::Answer,
        ring_secs: 1.0,
        make: || Box::new(talkers::Chatty::default()),
    },
    PersonaDef {
        name: "acknowledger",
        description: "confirms, says a short 嗯 halfway through the content line, then acknowledges",
        pickup: Pickup::Answer,
        ring_secs: 2.0,
        make: || Box::new(talkers::Acknowledger::default()),
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
