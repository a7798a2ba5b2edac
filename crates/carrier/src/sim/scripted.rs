//! Callees scripted in the configuration file.

use super::config::{CalleeResult, ReplyRule, ScriptedCallee};
use super::persona::{Pickup, Reaction, Talker, Turn};

/// A scripted callee's `result` is how its phone reacts to ringing.
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

/// Answers from a `ScriptedCallee`'s rules.
#[derive(Debug)]
pub(crate) struct Scripted {
    rules: Vec<ReplyRule>,
    used: Vec<bool>,
    fallback: Option<String>,
    hang_up_after_turns: Option<u32>,
    turns: u32,
}

impl Scripted {
    pub(crate) fn new(callee: &ScriptedCallee) -> Self {
        Scripted {
            rules: callee.replies.clone(),
            used: vec![false; callee.replies.len()],
            fallback: callee.fallback.clone(),
            hang_up_after_turns: callee.hang_up_after_turns,
            turns: 0,
        }
    }
}

fn matches(rule: &ReplyRule, heard: &str) -> bool {
    match &rule.when_heard {
        None => true,
        Some(words) => words.split('|').any(|w| heard.contains(w.trim())),
    }
}

impl Talker for Scripted {
    fn on_turn(&mut self, turn: &Turn<'_>) -> Reaction {
        self.turns += 1;
        let next = (0..self.rules.len()).find(|&i| !self.used[i] && matches(&self.rules[i], turn.text));
        let mut reaction = match next {
            Some(i) => {
                self.used[i] = true;
                let rule = &self.rules[i];
                Reaction { say: rule.say.clone(), hang_up: rule.hang_up }
            }
            None => Reaction { say: self.fallback.clone(), hang_up: false },
        };
        if self.hang_up_after_turns.is_some_and(|n| self.turns >= n) {
            reaction.hang_up = true;
        }
        reaction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(when: Option<&str>, say: Option<&str>, hang_up: bool) -> ReplyRule {
        ReplyRule { when_heard: when.map(Into::into), say: say.map(Into::into), hang_up }
    }

    fn heard(t: &mut Scripted, text: &str) -> Reaction {
        t.on_turn(&Turn { text, cut_off: false })
    }

    #[test]
    fn rules_match_by_words_are_used_once_and_fall_back() {
        let callee = ScriptedCallee {
            number: "13000000100".into(),
            ring_seconds: 1.0,
            result: CalleeResult::Answer,
            replies: vec![
                rule(Some("请问是|是不是"), Some("是我。"), false),
                rule(None, Some("好。"), false),
                rule(Some("再见"), None, true),
            ],
            fallback: Some("啊？".into()),
            hang_up_after_turns: None,
        };
        let mut t = Scripted::new(&callee);
        assert_eq!(heard(&mut t, "你好，是不是刘老师？"), Reaction::say("是我。"));
        // The identity rule is spent; the catch-all takes the repeat.
        assert_eq!(heard(&mut t, "请问是刘老师吗？"), Reaction::say("好。"));
        assert_eq!(heard(&mut t, "明天开会。"), Reaction::say("啊？"));
        assert_eq!(heard(&mut t, "好的，再见。"), Reaction::hang_up());
    }

    #[test]
    fn hangs_up_after_the_given_number_of_turns() {
        let callee = ScriptedCallee {
            number: "13000000100".into(),
            ring_seconds: 1.0,
            result: CalleeResult::Answer,
            replies: vec![],
            fallback: Some("嗯。".into()),
            hang_up_after_turns: Some(2),
        };
        let mut t = Scripted::new(&callee);
        assert_eq!(heard(&mut t, "一"), Reaction::say("嗯。"));
        assert_eq!(heard(&mut t, "二"), Reaction::say_and_hang_up("嗯。"));
    }
}
