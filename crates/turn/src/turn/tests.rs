//! The state machine's edges, in virtual time (the scenarios are in `tests/`).

use super::*;

const FRAME: Duration = Duration::from_millis(20);

struct Clock {
    tt: TurnTaker,
    t0: Instant,
    now: Instant,
    log: Vec<(u64, Output)>,
}

impl Clock {
    fn new() -> Self {
        let t0 = Instant::now();
        Clock { tt: TurnTaker::new(TurnConfig { early_final: None, barge_in_min_speech: Duration::from_millis(250), ..TurnConfig::default() }), t0, now: t0, log: vec![] }
    }
    fn ms(&self, at: Instant) -> u64 {
        (at - self.t0).as_millis() as u64
    }
    fn feed(&mut self, input: Input) {
        self.tt.handle(input, self.now);
        while let Some(o) = self.tt.poll_output() {
            self.log.push((self.ms(self.now), o));
        }
    }
    /// Moves to `t0 + ms`, firing timers on the way like a driver would.
    fn advance_to(&mut self, ms: u64) {
        let target = self.t0 + Duration::from_millis(ms);
        while let Some(t) = self.tt.poll_timeout().filter(|t| *t <= target) {
            self.now = t.max(self.now);
            self.feed(Input::Timeout);
        }
        self.now = target;
    }
    fn frames(&mut self, speech: bool, ms: u64) {
        for _ in 0..ms / 20 {
            let next = self.ms(self.now) + 20;
            self.advance_to(next);
            self.feed(Input::VadFrame { speech, duration: FRAME });
        }
    }
    fn names(&self) -> Vec<&'static str> {
        self.log
            .iter()
            .map(|(_, o)| match o {
                Output::CalleeSpeechStarted { .. } => "started",
                Output::CalleeSpeechStopped { .. } => "stopped",
                Output::FinaliseAsr { .. } => "finalise",
                Output::CalleeSpeechResumed { .. } => "resumed",
                Output::EndOfTurn { .. } => "end",
                Output::NoWords { .. } => "nowords",
                Output::BargeIn { .. } => "barge",
                Output::Interrupted { .. } => "interrupted",
                Output::Backchannel { .. } => "backchannel",
            })
            .collect()
    }
}

#[test]
fn nothing_is_pending_before_anyone_speaks() {
    let mut c = Clock::new();
    assert_eq!(c.tt.poll_timeout(), None);
    c.frames(false, 1000);
    assert!(c.log.is_empty());
}

#[test]
fn the_timer_is_the_hangover_then_the_final_deadline() {
    let mut c = Clock::new();
    c.frames(true, 100);
    assert_eq!(c.tt.poll_timeout(), Some(c.t0 + Duration::from_millis(100 + 250)));
    c.advance_to(400);
    assert_eq!(c.tt.poll_timeout(), Some(c.t0 + Duration::from_millis(100 + 250 + 1500)));
    assert_eq!(c.names(), ["started", "stopped"]);
}

#[test]
fn an_empty_final_ends_the_turn_without_words() {
    let mut c = Clock::new();
    c.frames(true, 60);
    c.frames(false, 100);
    c.feed(Input::AsrFinal(String::new()));
    c.advance_to(2000);
    assert_eq!(c.names(), ["started", "stopped", "nowords"]);
    assert_eq!(c.log[1].0, 310);
}

#[test]
fn a_final_without_any_speech_is_a_turn_when_the_ai_is_silent() {
    let mut c = Clock::new();
    c.advance_to(500);
    c.feed(Input::AsrFinal("喂？".into()));
    assert!(matches!(&c.log[0].1, Output::EndOfTurn { text, .. } if text == "喂？"));
    c.feed(Input::AgentAudioStarted { utterance_id: 1 });
    c.feed(Input::AsrFinal("您好".into()));
    assert_eq!(c.log.len(), 1, "while the AI plays it is taken for echo");
}

#[test]
fn a_final_after_the_deadline_is_dropped() {
    let mut c = Clock::new();
    c.frames(true, 200);
    c.feed(Input::AsrPartial("我要查".into()));
    c.advance_to(3000);
    c.feed(Input::AsrFinal("我要查账单".into()));
    assert_eq!(c.names(), ["started", "stopped", "end"]);
    assert!(matches!(&c.log[2].1, Output::EndOfTurn { text, final_at: None, .. } if text == "我要查"));
}

#[test]
fn partials_without_speech_are_ignored() {
    let mut c = Clock::new();
    c.feed(Input::AsrPartial("嗯".into()));
    c.frames(true, 100);
    c.feed(Input::AsrFinal("好的".into()));
    c.advance_to(1000);
    assert!(matches!(&c.log[2].1, Output::EndOfTurn { text, .. } if text == "好的"));
}

#[test]
fn english_finals_are_joined_with_a_space_and_chinese_without() {
    let mut c = Clock::new();
    c.frames(true, 100);
    c.feed(Input::AsrFinal("hello".into()));
    c.frames(true, 100);
    c.feed(Input::AsrFinal("world".into()));
    c.frames(true, 100);
    c.feed(Input::AsrFinal("你好".into()));
    c.advance_to(2000);
    assert!(matches!(&c.log.last().unwrap().1, Output::EndOfTurn { text, .. } if text == "hello world你好"));
}

#[test]
fn time_going_backwards_is_held_at_the_latest_instant() {
    let mut c = Clock::new();
    c.frames(true, 100);
    c.advance_to(500);
    c.feed(Input::Timeout);
    let earlier = c.t0 + Duration::from_millis(10);
    c.tt.handle(Input::AsrFinal("好".into()), earlier);
    let Some(Output::EndOfTurn { decided_at, .. }) = std::iter::from_fn(|| c.tt.poll_output()).last() else { panic!() };
    assert_eq!(decided_at, c.t0 + Duration::from_millis(500));
}

#[test]
fn playback_reports_for_other_utterances_are_ignored() {
    let mut c = Clock::new();
    c.feed(Input::AgentAudioStarted { utterance_id: 7 });
    c.feed(Input::AgentAudioPlayed { utterance_id: 6, chars_played: 99 });
    c.feed(Input::AgentAudioPlayed { utterance_id: 7, chars_played: 5 });
    c.feed(Input::AgentAudioPlayed { utterance_id: 7, chars_played: 3 });
    c.feed(Input::AgentAudioFinished { utterance_id: 6 });
    assert!(c.tt.ai_speaking());
    c.frames(true, 300);
    assert!(c.log.contains(&(260, Output::Interrupted { utterance_id: 7, played_chars: 5 })), "{:?}", c.log);
    assert!(!c.tt.ai_speaking());
}

#[test]
fn a_new_utterance_over_an_open_turn_can_be_stopped_again() {
    let mut c = Clock::new();
    c.feed(Input::AgentAudioStarted { utterance_id: 1 });
    c.frames(true, 300);
    // A stale reply starts while the callee is still talking.
    c.feed(Input::AgentAudioStarted { utterance_id: 2 });
    c.frames(true, 300);
    let interrupted: Vec<_> = c.log.iter().filter_map(|(_, o)| if let Output::Interrupted { utterance_id, .. } = o { Some(*utterance_id) } else { None }).collect();
    assert_eq!(interrupted, [1, 2]);
}

#[test]
fn a_text_legs_line_over_the_ai_barges_in_unless_it_is_an_acknowledgement() {
    let mut c = Clock::new();
    c.feed(Input::AgentAudioStarted { utterance_id: 3 });
    c.feed(Input::AgentAudioPlayed { utterance_id: 3, chars_played: 4 });
    for ack in ["对对对", "恩", "yes", "嗯。", "好的！"] {
        c.feed(Input::Utterance(ack.into()));
        assert!(matches!(&c.log.last().unwrap().1, Output::Backchannel { text, .. } if text == ack), "{ack}: {:?}", c.log);
        assert!(c.tt.ai_speaking(), "{ack}");
    }
    c.feed(Input::Utterance("等一下，你说几点？".into()));
    let tail: Vec<_> = c.log.iter().rev().take(3).rev().map(|(_, o)| o.clone()).collect();
    assert!(matches!(&tail[..], [
        Output::BargeIn { .. },
        Output::Interrupted { utterance_id: 3, played_chars: 4 },
        Output::EndOfTurn { text, .. },
    ] if text == "等一下，你说几点？"), "{tail:?}");
    assert!(!c.tt.ai_speaking());
    // With the AI quiet, an acknowledgement is an answer like any other.
    c.feed(Input::Utterance(" 嗯 ".into()));
    assert!(matches!(&c.log.last().unwrap().1, Output::EndOfTurn { text, .. } if text == "嗯"));
    // Blank lines are nothing.
    let before = c.log.len();
    c.feed(Input::Utterance("  ".into()));
    assert_eq!(c.log.len(), before);
}
