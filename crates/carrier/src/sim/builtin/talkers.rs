//! The built-in callees' ways of talking. Each reacts to cues in what it
//! heard (see `cues`), never to exact sentences, so the same persona works
//! with the offline rules engine and with an LLM.

use crate::sim::cues::{mostly_repeats, Cues};
use crate::sim::persona::{CutIn, Reaction, Talker, Turn};

const CONFIRM: &str = "对，是我，什么事？";

/// Seconds into a content line at which `talks_over` starts asking.
const TALK_OVER_AFTER_SECS: f64 = 1.0;
/// Lines shorter than this get no backchannel: there is no middle to nod in.
const BACKCHANNEL_MIN_LINE_SECS: f64 = 1.0;

/// A line worth reacting to while it plays: content, not a question about
/// who the callee is.
fn is_content_line(line: &str) -> bool {
    let c = Cues::of(line);
    c.is_content() && !c.identity
}

/// Picks up, confirms who it is when asked, acknowledges what it is told,
/// and falls silent at goodbye. The other talkative personas build on it.
#[derive(Debug, Default)]
pub(crate) struct Cooperative {
    confirmed: bool,
    /// Content already acknowledged, to notice when the AI repeats itself.
    acknowledged: Vec<String>,
}

impl Cooperative {
    fn confirmed(&self) -> bool {
        self.confirmed
    }

    fn acknowledge(&mut self, text: &str, c: &Cues) -> &'static str {
        let repeated = self.acknowledged.iter().any(|earlier| mostly_repeats(earlier, text));
        self.acknowledged.push(text.to_owned());
        if c.closing_question {
            "没有了，就这样吧。"
        } else if repeated {
            "嗯，这个我知道了。"
        } else if c.open_question {
            "都行，你们定就好。"
        } else if c.question {
            "可以，没问题。"
        } else {
            "好的，知道了。"
        }
    }
}

impl Talker for Cooperative {
    fn on_turn(&mut self, turn: &Turn<'_>) -> Reaction {
        let c = Cues::of(turn.text);
        if c.goodbye {
            // The AI is about to hang up; a real callee just waits for it.
            return Reaction::silent();
        }
        if c.hearing_check {
            return Reaction::say("能听到，你说。");
        }
        if !self.confirmed {
            if c.identity {
                self.confirmed = true;
                return Reaction::say(CONFIRM);
            }
            if c.intro_only {
                return Reaction::say("喂，你好。");
            }
            // Told something without being asked who it is: goes along.
            self.confirmed = true;
        }
        Reaction::say(self.acknowledge(turn.text, &c))
    }
}

/// Not the person the AI is looking for.
#[derive(Debug, Default)]
pub(crate) struct WrongPerson {
    denied: bool,
}

impl Talker for WrongPerson {
    fn on_turn(&mut self, turn: &Turn<'_>) -> Reaction {
        if Cues::of(turn.text).goodbye {
            return Reaction::silent();
        }
        if self.denied {
            // The AI went on after being told: a stranger would not listen.
            return Reaction::say_and_hang_up("你打错了，我挂了啊。");
        }
        self.denied = true;
        Reaction::say("不是，你打错了。")
    }
}

/// Answers and never says a word.
#[derive(Debug)]
pub(crate) struct Silent;

impl Talker for Silent {
    fn on_turn(&mut self, _turn: &Turn<'_>) -> Reaction {
        Reaction::silent()
    }
}

/// Hangs up without a word once the AI's first turn ends.
#[derive(Debug)]
pub(crate) struct HangsUp;

impl Talker for HangsUp {
    fn on_turn(&mut self, _turn: &Turn<'_>) -> Reaction {
        Reaction::hang_up()
    }
}

/// Confirms, then gives one fixed answer to the content; hangs up if the AI
/// carries on after it instead of saying goodbye.
#[derive(Debug)]
struct OneAnswer {
    base: Cooperative,
    answer: &'static str,
    last_word: &'static str,
    answered: bool,
}

impl OneAnswer {
    fn new(answer: &'static str, last_word: &'static str) -> Self {
        OneAnswer { base: Cooperative::default(), answer, last_word, answered: false }
    }

    fn on_turn(&mut self, turn: &Turn<'_>) -> Reaction {
        let c = Cues::of(turn.text);
        if c.goodbye {
            return Reaction::silent();
        }
        if self.answered {
            return Reaction::say_and_hang_up(self.last_word);
        }
        if self.base.confirmed() && c.is_content() {
            self.answered = true;
            return Reaction::say(self.answer);
        }
        self.base.on_turn(turn)
    }
}

/// Asks never to be called again.
#[derive(Debug)]
pub(crate) struct OptOut(OneAnswer);

impl Default for OptOut {
    fn default() -> Self {
        OptOut(OneAnswer::new("别再给我打电话了。", "我说了别再打了！"))
    }
}

impl Talker for OptOut {
    fn on_turn(&mut self, turn: &Turn<'_>) -> Reaction {
        self.0.on_turn(turn)
    }
}

/// In a meeting: asks to be called back at three.
#[derive(Debug)]
pub(crate) struct NotNow(OneAnswer);

impl Default for NotNow {
    fn default() -> Self {
        NotNow(OneAnswer::new("我在开会，现在不方便，你下午三点再打吧。", "好，先这样吧。"))
    }
}

impl Talker for NotNow {
    fn on_turn(&mut self, turn: &Turn<'_>) -> Reaction {
        self.0.on_turn(turn)
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum AsksWhoStep {
    #[default]
    Greeted,
    AskedWho,
    Confirmed,
    AskedRepeat,
}

/// Wary: wants to know who calls, then misses the content once.
#[derive(Debug, Default)]
pub(crate) struct AsksWho {
    step: AsksWhoStep,
    base: Cooperative,
}

impl Talker for AsksWho {
    fn on_turn(&mut self, turn: &Turn<'_>) -> Reaction {
        let c = Cues::of(turn.text);
        if c.goodbye {
            return Reaction::silent();
        }
        match self.step {
            AsksWhoStep::Greeted => {
                self.step = AsksWhoStep::AskedWho;
                Reaction::say("你是谁？哪里打来的？")
            }
            AsksWhoStep::AskedWho => {
                // Whatever the AI answers (a new introduction, with or
                // without asking again), the callee is satisfied.
                self.step = AsksWhoStep::Confirmed;
                self.base.confirmed = true;
                Reaction::say(CONFIRM)
            }
            AsksWhoStep::Confirmed if c.is_content() => {
                self.step = AsksWhoStep::AskedRepeat;
                Reaction::say("没听清，再说一遍？")
            }
            AsksWhoStep::Confirmed | AsksWhoStep::AskedRepeat => self.base.on_turn(turn),
        }
    }
}

/// Cuts into the content with a question, then acknowledges the answer.
#[derive(Debug, Default)]
pub(crate) struct TalksOver {
    base: Cooperative,
    cut_in: bool,
}

impl Talker for TalksOver {
    fn may_cut_in(&self) -> bool {
        self.base.confirmed() && !self.cut_in
    }

    fn cut_in_at(&self, line: &str, line_secs: f64) -> Option<f64> {
        let wants = self.base.confirmed() && !self.cut_in && is_content_line(line);
        // Half-way into a short line, so the question still lands before its end.
        wants.then(|| TALK_OVER_AFTER_SECS.min(line_secs / 2.0))
    }

    fn cut_in(&mut self, _line: &str) -> Option<CutIn> {
        self.cut_in = true;
        Some(CutIn { text: "等一下，你说几点？".to_owned(), takes_turn: true })
    }

    fn on_turn(&mut self, turn: &Turn<'_>) -> Reaction {
        self.base.on_turn(turn)
    }
}

/// Nods along (`嗯`) in the middle of the content without meaning to
/// interrupt, then acknowledges it.
#[derive(Debug, Default)]
pub(crate) struct Acknowledger {
    base: Cooperative,
    nodded: bool,
}

impl Talker for Acknowledger {
    fn may_cut_in(&self) -> bool {
        self.base.confirmed() && !self.nodded
    }

    fn cut_in_at(&self, line: &str, line_secs: f64) -> Option<f64> {
        let wants = self.base.confirmed() && !self.nodded && line_secs >= BACKCHANNEL_MIN_LINE_SECS && is_content_line(line);
        wants.then_some(line_secs / 2.0)
    }

    fn cut_in(&mut self, _line: &str) -> Option<CutIn> {
        self.nodded = true;
        Some(CutIn { text: "嗯".to_owned(), takes_turn: false })
    }

    fn on_turn(&mut self, turn: &Turn<'_>) -> Reaction {
        if turn.cut_off && !Cues::of(turn.text).goodbye {
            // The AI stopped at the 嗯: invite it to go on.
            return Reaction::say("嗯，你说。");
        }
        self.base.on_turn(turn)
    }
}

/// Follow-up questions, one per AI turn, in this order and round again.
const CHATTY_QUESTIONS: &[&str] =
    &["在哪里开？", "要准备什么材料？", "还有别的事吗？", "大概要开多久？", "能不能发个短信给我？", "你们是哪个公司的？"];

/// Keeps asking; only the AI can end this call.
#[derive(Debug, Default)]
pub(crate) struct Chatty {
    base: Cooperative,
    asked: usize,
}

impl Talker for Chatty {
    fn on_turn(&mut self, turn: &Turn<'_>) -> Reaction {
        if !self.base.confirmed() {
            return self.base.on_turn(turn);
        }
        let question = CHATTY_QUESTIONS[self.asked % CHATTY_QUESTIONS.len()];
        self.asked += 1;
        if Cues::of(turn.text).goodbye {
            Reaction::say(format!("哎，等一下，{question}"))
        } else {
            Reaction::say(question)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(t: &mut dyn Talker, text: &str) -> Reaction {
        t.on_turn(&Turn { text, cut_off: false })
    }

    const OPENING: &str = "喂，您好，我是王经理的 AI 助理，请问是张总吗？";
    const CONTENT: &str = "张总您好，王经理让我通知您，明天上午9点有个会议，请您准时参加。您看时间可以吗？";
    const BYE: &str = "好的，那不打扰您了，再见！";

    #[test]
    fn cooperative_confirms_acknowledges_and_goes_quiet() {
        let mut t = Cooperative::default();
        assert_eq!(said(&mut t, OPENING), Reaction::say(CONFIRM));
        assert_eq!(said(&mut t, CONTENT), Reaction::say("可以，没问题。"));
        assert_eq!(said(&mut t, "明天上午9点有个会议，请您准时参加。"), Reaction::say("嗯，这个我知道了。"));
        assert_eq!(said(&mut t, BYE), Reaction::silent());
    }

    #[test]
    fn cooperative_acknowledges_a_statement_without_a_question() {
        let mut t = Cooperative::default();
        said(&mut t, OPENING);
        assert_eq!(said(&mut t, "王经理让我通知您，明天上午9点开会。"), Reaction::say("好的，知道了。"));
        assert_eq!(said(&mut t, "请问您还有别的问题吗？"), Reaction::say("没有了，就这样吧。"));
    }

    #[test]
    fn wrong_person_hangs_up_if_the_ai_carries_on() {
        let mut t = WrongPerson::default();
        assert_eq!(said(&mut t, OPENING), Reaction::say("不是，你打错了。"));
        assert!(said(&mut t, CONTENT).hang_up);
    }

    #[test]
    fn asks_who_then_confirms_then_asks_for_a_repeat_once() {
        let mut t = AsksWho::default();
        assert_eq!(said(&mut t, OPENING), Reaction::say("你是谁？哪里打来的？"));
        assert_eq!(said(&mut t, "我是王经理的 AI 助理，受王经理委托给您打电话，请问您是张总吗？"), Reaction::say(CONFIRM));
        assert_eq!(said(&mut t, CONTENT), Reaction::say("没听清，再说一遍？"));
        assert_eq!(said(&mut t, CONTENT), Reaction::say("可以，没问题。"));
    }

    #[test]
    fn talks_over_only_content_lines_once_confirmed() {
        let mut t = TalksOver::default();
        assert_eq!(t.cut_in_at(OPENING, 5.0), None);
        assert!(!t.may_cut_in());
        said(&mut t, OPENING);
        assert!(t.may_cut_in());
        assert_eq!(t.cut_in_at(CONTENT, 8.0), Some(1.0));
        assert_eq!(t.cut_in_at("明天九点。", 1.0), Some(0.5));
        assert!(t.cut_in(CONTENT).unwrap().takes_turn);
        assert_eq!(t.cut_in_at(CONTENT, 8.0), None);
        assert!(!t.may_cut_in());
    }

    #[test]
    fn chatty_asks_one_question_per_turn_even_at_goodbye() {
        let mut t = Chatty::default();
        said(&mut t, OPENING);
        assert_eq!(said(&mut t, CONTENT), Reaction::say("在哪里开？"));
        assert_eq!(said(&mut t, "在公司三楼会议室。"), Reaction::say("要准备什么材料？"));
        assert_eq!(said(&mut t, BYE), Reaction::say("哎，等一下，还有别的事吗？"));
    }
}
