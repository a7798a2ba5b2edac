//! The simulated phone network, driven by a tiny scripted "AI" in paused
//! virtual time: every built-in persona, the pacing of speech, barge-in,
//! speed, scripted callees and configuration errors.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::{timeout, Instant};
use waihu_carrier::sim::{builtin_personas, CalleeResult, SimCarrier, SimConfig, SimConfigError};
use waihu_carrier::{Carrier, DialRequest, Signal, TextCommand, TextEvent, TextLeg};
use waihu_core::lifecycle::LegEnd;
use waihu_core::PhoneNumber;

const OPENING: &str = "喂，您好，我是王经理的 AI 助理，请问是张总吗？";
const REINTRO: &str = "我是王经理的 AI 助理，受王经理委托给您打电话，请问您是张总吗？";
const CONTENT: &str = "张总您好，王经理让我通知您，明天上午9点有个会议，请您准时参加。您看时间可以吗？";
const REPEAT: &str = "好的，我再说一遍：明天上午9点有个会议，请您准时参加。";
const WHEN: &str = "明天上午9点。";
const PASS_ON: &str = "这个我会转告王经理，稍后给您回复。";
const BYE: &str = "好的，那不打扰您了，再见！";
const SORRY_BYE: &str = "不好意思，打扰您了，再见。";
const OPT_OUT_BYE: &str = "好的，不好意思打扰您了，以后不会再给您打电话了，再见。";
const CALL_BACK_BYE: &str = "好的，那我下午三点再给您打过来，再见。";

fn carrier(cfg: SimConfig) -> SimCarrier {
    SimCarrier::new(cfg).expect("valid config")
}

fn default_carrier() -> SimCarrier {
    carrier(SimConfig::default())
}

/// Seconds a line takes at the default 4.5 characters per second.
fn secs_for(text: &str) -> f64 {
    text.chars().count() as f64 / 4.5
}

#[track_caller]
fn approx(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 0.005, "at {actual:.3}s, expected {expected:.3}s");
}

/// A leg with a stopwatch started at the dial.
struct Probe {
    leg: TextLeg,
    t0: Instant,
    next_id: u64,
}

impl Probe {
    async fn dial(carrier: &SimCarrier, number: &str) -> Probe {
        let t0 = Instant::now();
        let req = DialRequest { call_id: format!("test-{number}"), to: PhoneNumber::parse(number).unwrap() };
        Probe { leg: carrier.dial(req).await.expect("the simulator always dials"), t0, next_id: 0 }
    }

    fn secs(&self) -> f64 {
        (Instant::now() - self.t0).as_secs_f64()
    }

    /// The next event within `limit` seconds, with its time since the dial.
    /// `None` when nothing comes; panics if the leg closed without `Ended`.
    async fn next_within(&mut self, limit: f64) -> Option<(f64, TextEvent)> {
        match timeout(Duration::from_secs_f64(limit), self.leg.events.recv()).await {
            Ok(Some(e)) => Some((self.secs(), e)),
            Ok(None) => panic!("the events channel closed"),
            Err(_) => None,
        }
    }

    async fn next(&mut self) -> (f64, TextEvent) {
        self.next_within(600.0).await.expect("an event within 10 minutes")
    }

    async fn send(&self, command: TextCommand) {
        self.leg.commands.send(command).await.expect("the leg is alive");
    }

    async fn say(&mut self, text: &str) -> u64 {
        self.next_id += 1;
        self.send(TextCommand::Say { id: self.next_id, text: text.to_owned() }).await;
        self.next_id
    }

    /// Waits for `Answered` and returns its time.
    async fn answered(&mut self) -> f64 {
        assert!(matches!(self.next().await, (_, TextEvent::Signal(Signal::Ringing))));
        let (t, e) = self.next().await;
        assert_eq!(e, TextEvent::Signal(Signal::Answered));
        t
    }

    /// After `Ended` the channel must close with nothing more.
    async fn assert_closed(&mut self) {
        assert_eq!(timeout(Duration::from_secs(1), self.leg.events.recv()).await, Ok(None));
    }
}

/// A whole call as the AI saw it.
#[derive(Debug)]
struct Call {
    transcript: Vec<String>,
    end: LegEnd,
    provider_response: String,
}

/// A tiny rules-engine "AI": opens, answers what the callee says with fixed
/// lines, says goodbye and hangs up when done. With `barge_in` it stops its
/// line as soon as the callee starts speaking.
async fn converse(carrier: &SimCarrier, number: &str, barge_in: bool) -> Call {
    let mut p = Probe::dial(carrier, number).await;
    let mut transcript: Vec<String> = Vec::new();
    let mut line_index: HashMap<u64, usize> = HashMap::new();
    let mut playing = 0usize;
    let mut hang_up_after: Option<u64> = None;
    let mut passed_on = 0;
    loop {
        let Some((_, event)) = p.next_within(60.0).await else {
            // Silence: give up like the lifecycle's silence timer would.
            p.send(TextCommand::HangUp).await;
            continue;
        };
        let reply: Option<(&str, bool)> = match event {
            TextEvent::Signal(Signal::Ringing) => None,
            TextEvent::Signal(Signal::Answered) => Some((OPENING, false)),
            TextEvent::SpeechStarted => {
                if barge_in && playing > 0 {
                    p.send(TextCommand::StopSaying).await;
                }
                None
            }
            TextEvent::SayDone { id, played_chars, stopped } => {
                playing -= 1;
                if stopped {
                    transcript[line_index[&id]].push_str(&format!(" [stopped after {played_chars}]"));
                }
                if hang_up_after == Some(id) {
                    p.send(TextCommand::HangUp).await;
                }
                None
            }
            TextEvent::Heard(text) => {
                transcript.push(format!("callee: {text}"));
                let has = |w: &str| w.split('|').any(|w| text.contains(w));
                if has("打错") {
                    Some((SORRY_BYE, true))
                } else if has("别再") {
                    Some((OPT_OUT_BYE, true))
                } else if has("不方便") {
                    Some((CALL_BACK_BYE, true))
                } else if has("你是谁|哪里打来") {
                    Some((REINTRO, false))
                } else if has("再说一遍|没听清") {
                    Some((REPEAT, false))
                } else if has("几点") {
                    Some((WHEN, false))
                } else if has("是我") {
                    Some((CONTENT, false))
                } else if text == "嗯" {
                    None
                } else if has("你说") {
                    Some((REPEAT, false))
                } else if has("知道了|没问题") {
                    Some((BYE, true))
                } else if text.ends_with('？') {
                    passed_on += 1;
                    Some(if passed_on <= 2 { (PASS_ON, false) } else { (BYE, true) })
                } else {
                    Some(("喂，您好，能听到吗？", false))
                }
            }
            // A text leg carries no audio (its type says so).
            TextEvent::Signal(Signal::Media(_)) => None,
            TextEvent::Signal(Signal::Ended { end, provider_response }) => return Call { transcript, end, provider_response },
        };
        if let Some((line, then_hang_up)) = reply {
            let id = p.say(line).await;
            playing += 1;
            line_index.insert(id, transcript.len());
            transcript.push(format!("AI: {line}"));
            if then_hang_up {
                hang_up_after = Some(id);
            }
        }
    }
}

fn lines(expected: &[(&str, &str)]) -> Vec<String> {
    expected.iter().map(|(who, text)| format!("{who}: {text}")).collect()
}

#[tokio::test(start_paused = true)]
async fn cooperative_numbers_confirm_acknowledge_and_let_the_ai_hang_up() {
    for number in ["13800138000", "13900139000"] {
        let call = converse(&default_carrier(), number, true).await;
        assert_eq!(
            call.transcript,
            lines(&[("AI", OPENING), ("callee", "对，是我，什么事？"), ("AI", CONTENT), ("callee", "可以，没问题。"), ("AI", BYE)])
        );
        assert_eq!((call.end, call.provider_response.as_str()), (LegEnd::Released, "BYE (simulated)"));
    }
}

#[tokio::test(start_paused = true)]
async fn cooperative_timeline_rings_answers_and_replies_at_speaking_pace() {
    let mut p = Probe::dial(&default_carrier(), "13800138000").await;
    let (t, e) = p.next().await;
    assert_eq!(e, TextEvent::Signal(Signal::Ringing));
    approx(t, 0.3);
    let (t, e) = p.next().await;
    assert_eq!(e, TextEvent::Signal(Signal::Answered));
    approx(t, 2.3);
    let id = p.say(OPENING).await;
    let line_end = 2.3 + secs_for(OPENING);
    let (t, e) = p.next().await;
    assert_eq!(e, TextEvent::SayDone { id, played_chars: OPENING.chars().count(), stopped: false });
    approx(t, line_end);
    let (t, e) = p.next().await;
    assert_eq!(e, TextEvent::SpeechStarted);
    approx(t, line_end + 0.6);
    let (t, e) = p.next().await;
    assert_eq!(e, TextEvent::Heard("对，是我，什么事？".into()));
    approx(t, line_end + 0.6 + 2.0);
    // After the goodbye it stays quiet until the AI hangs up.
    p.say(BYE).await;
    assert!(matches!(p.next().await.1, TextEvent::SayDone { stopped: false, .. }));
    assert_eq!(p.next_within(120.0).await, None);
    p.send(TextCommand::HangUp).await;
    assert_eq!(p.next().await.1, TextEvent::Signal(Signal::Ended { end: LegEnd::Released, provider_response: "BYE (simulated)".into() }));
    p.assert_closed().await;
}

#[tokio::test(start_paused = true)]
async fn wrong_person_denies_and_never_hears_the_content() {
    let call = converse(&default_carrier(), "13000000001", true).await;
    assert_eq!(call.transcript, lines(&[("AI", OPENING), ("callee", "不是，你打错了。"), ("AI", SORRY_BYE)]));
    assert_eq!(call.end, LegEnd::Released);
}

#[tokio::test(start_paused = true)]
async fn busy_rings_then_486() {
    let mut p = Probe::dial(&default_carrier(), "13000000002").await;
    assert_eq!(p.next().await.1, TextEvent::Signal(Signal::Ringing));
    let (t, e) = p.next().await;
    approx(t, 1.3);
    let TextEvent::Signal(Signal::Ended { end, provider_response }) = e else { panic!("{e:?}") };
    assert_eq!(end, LegEnd::Busy);
    assert!(provider_response.contains("486"), "{provider_response}");
    assert_eq!(provider_response, "486 Busy Here (simulated)");
    p.assert_closed().await;
}

#[tokio::test(start_paused = true)]
async fn no_answer_rings_until_cancelled() {
    let mut p = Probe::dial(&default_carrier(), "13000000003").await;
    assert_eq!(p.next().await.1, TextEvent::Signal(Signal::Ringing));
    assert_eq!(p.next_within(300.0).await, None, "still ringing after five minutes");
    p.send(TextCommand::Cancel).await;
    let (t, e) = p.next().await;
    approx(t, 300.3);
    assert_eq!(e, TextEvent::Signal(Signal::Ended { end: LegEnd::Released, provider_response: "487 Request Terminated (simulated)".into() }));
    p.assert_closed().await;
}

#[tokio::test(start_paused = true)]
async fn declined_rings_four_seconds_then_603() {
    let mut p = Probe::dial(&default_carrier(), "13000000004").await;
    assert_eq!(p.next().await.1, TextEvent::Signal(Signal::Ringing));
    let (t, e) = p.next().await;
    approx(t, 4.3);
    assert_eq!(e, TextEvent::Signal(Signal::Ended { end: LegEnd::Declined, provider_response: "603 Decline (simulated)".into() }));
}

#[tokio::test(start_paused = true)]
async fn hangs_up_a_second_after_the_first_line_without_a_word() {
    let mut p = Probe::dial(&default_carrier(), "13000000005").await;
    let answered = p.answered().await;
    p.say(OPENING).await;
    let (t, e) = p.next().await;
    assert!(matches!(e, TextEvent::SayDone { stopped: false, .. }));
    approx(t, answered + secs_for(OPENING));
    let (t_end, e) = p.next().await;
    assert_eq!(e, TextEvent::Signal(Signal::Ended { end: LegEnd::RemoteHangup, provider_response: "BYE from callee (simulated)".into() }));
    approx(t_end - t, 1.0);
    p.assert_closed().await;
}

#[tokio::test(start_paused = true)]
async fn opt_out_asks_not_to_be_called_again_after_the_content() {
    let call = converse(&default_carrier(), "13000000006", true).await;
    assert_eq!(
        call.transcript,
        lines(&[("AI", OPENING), ("callee", "对，是我，什么事？"), ("AI", CONTENT), ("callee", "别再给我打电话了。"), ("AI", OPT_OUT_BYE)])
    );
}

#[tokio::test(start_paused = true)]
async fn asks_who_then_confirms_then_wants_a_repeat_once() {
    let call = converse(&default_carrier(), "13000000007", true).await;
    assert_eq!(
        call.transcript,
        lines(&[
            ("AI", OPENING),
            ("callee", "你是谁？哪里打来的？"),
            ("AI", REINTRO),
            ("callee", "对，是我，什么事？"),
            ("AI", CONTENT),
            ("callee", "没听清，再说一遍？"),
            ("AI", REPEAT),
            ("callee", "好的，知道了。"),
            ("AI", BYE),
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn talks_over_starts_a_question_one_second_into_the_content() {
    let mut p = Probe::dial(&default_carrier(), "13000000008").await;
    p.answered().await;
    p.say(OPENING).await;
    p.next().await; // SayDone
    assert_eq!(p.next().await.1, TextEvent::SpeechStarted);
    assert_eq!(p.next().await.1, TextEvent::Heard("对，是我，什么事？".into()));
    let id = p.say(CONTENT).await;
    let started = p.secs();
    let (t, e) = p.next().await;
    assert_eq!(e, TextEvent::SpeechStarted, "the callee talks before the line ends");
    approx(t - started, 1.0);
    // Without barge-in the line plays on; the question arrives over it.
    let (t, e) = p.next().await;
    assert_eq!(e, TextEvent::Heard("等一下，你说几点？".into()));
    approx(t - started, 1.0 + 2.0);
    let (t, e) = p.next().await;
    assert_eq!(e, TextEvent::SayDone { id, played_chars: CONTENT.chars().count(), stopped: false });
    approx(t - started, secs_for(CONTENT));
    // The question answered the content line: the callee waits for the answer.
    assert_eq!(p.next_within(10.0).await, None);
    p.say(WHEN).await;
    p.next().await;
    p.next().await;
    assert_eq!(p.next().await.1, TextEvent::Heard("好的，知道了。".into()));
}

#[tokio::test(start_paused = true)]
async fn talks_over_with_barge_in_cuts_the_content_after_about_four_characters() {
    let call = converse(&default_carrier(), "13000000008", true).await;
    let cut = format!("AI: {CONTENT} [stopped after 4]");
    assert_eq!(
        call.transcript,
        vec![
            format!("AI: {OPENING}"),
            "callee: 对，是我，什么事？".into(),
            cut,
            "callee: 等一下，你说几点？".into(),
            format!("AI: {WHEN}"),
            "callee: 好的，知道了。".into(),
            format!("AI: {BYE}"),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn silent_answers_and_never_speaks() {
    let mut p = Probe::dial(&default_carrier(), "13000000009").await;
    p.answered().await;
    p.say(OPENING).await;
    assert!(matches!(p.next().await.1, TextEvent::SayDone { stopped: false, .. }));
    p.say("喂，您好，能听到吗？").await;
    assert!(matches!(p.next().await.1, TextEvent::SayDone { stopped: false, .. }));
    assert_eq!(p.next_within(120.0).await, None);
    p.send(TextCommand::HangUp).await;
    assert_eq!(p.next().await.1, TextEvent::Signal(Signal::Ended { end: LegEnd::Released, provider_response: "BYE (simulated)".into() }));
}

#[tokio::test(start_paused = true)]
async fn not_now_asks_for_a_call_back_at_three() {
    let call = converse(&default_carrier(), "13000000010", true).await;
    assert_eq!(call.transcript[3], "callee: 我在开会，现在不方便，你下午三点再打吧。");
    assert_eq!(call.transcript.last().unwrap(), &format!("AI: {CALL_BACK_BYE}"));
}

#[tokio::test(start_paused = true)]
async fn unreachable_fails_with_404_after_a_second_without_ringing() {
    let mut p = Probe::dial(&default_carrier(), "13000000011").await;
    let (t, e) = p.next().await;
    approx(t, 1.0);
    assert_eq!(e, TextEvent::Signal(Signal::Ended { end: LegEnd::Failed, provider_response: "404 Not Found (simulated)".into() }));
    p.assert_closed().await;
}

#[tokio::test(start_paused = true)]
async fn chatty_asks_a_new_question_after_every_line_and_leaves_the_ending_to_the_ai() {
    let call = converse(&default_carrier(), "13000000012", true).await;
    assert_eq!(
        call.transcript,
        lines(&[
            ("AI", OPENING),
            ("callee", "对，是我，什么事？"),
            ("AI", CONTENT),
            ("callee", "在哪里开？"),
            ("AI", PASS_ON),
            ("callee", "要准备什么材料？"),
            ("AI", PASS_ON),
            ("callee", "还有别的事吗？"),
            ("AI", BYE),
        ])
    );
    assert_eq!(call.end, LegEnd::Released, "the AI ended it, not the callee");
}

#[tokio::test(start_paused = true)]
async fn acknowledger_says_a_short_mm_mid_line_and_acknowledges_after() {
    let mut p = Probe::dial(&default_carrier(), "13000000013").await;
    p.answered().await;
    p.say(OPENING).await;
    for _ in 0..3 {
        p.next().await; // SayDone, SpeechStarted, Heard(confirm)
    }
    let id = p.say(CONTENT).await;
    let started = p.secs();
    let (t_start, e) = p.next().await;
    assert_eq!(e, TextEvent::SpeechStarted);
    approx(t_start - started, secs_for(CONTENT) / 2.0);
    let (t_heard, e) = p.next().await;
    assert_eq!(e, TextEvent::Heard("嗯".into()));
    assert!(t_heard - t_start < 0.3, "嗯 lasted {:.3}s", t_heard - t_start);
    assert_eq!(p.next().await.1, TextEvent::SayDone { id, played_chars: CONTENT.chars().count(), stopped: false });
    assert_eq!(p.next().await.1, TextEvent::SpeechStarted);
    assert_eq!(p.next().await.1, TextEvent::Heard("可以，没问题。".into()));
}

#[tokio::test(start_paused = true)]
async fn acknowledger_invites_the_ai_to_go_on_when_a_naive_barge_in_stops_it() {
    let call = converse(&default_carrier(), "13000000013", true).await;
    assert_eq!(call.transcript[3], "callee: 嗯");
    assert!(call.transcript[2].contains("[stopped after"), "{:?}", call.transcript);
    assert_eq!(call.transcript[4], "callee: 嗯，你说。");
    assert_eq!(call.transcript[6], "callee: 好的，知道了。");
}

#[tokio::test(start_paused = true)]
async fn a_nine_character_line_takes_two_seconds_and_stopping_it_reports_what_played() {
    let mut p = Probe::dial(&default_carrier(), "13900139000").await;
    p.answered().await;
    let start = p.secs();
    let id = p.say("一二三四五六七八九").await;
    let (t, e) = p.next().await;
    assert_eq!(e, TextEvent::SayDone { id, played_chars: 9, stopped: false });
    approx(t - start, 2.0);
    // The callee would answer after 0.6 s; stop a second line before that.
    let id = p.say("一二三四五六七八九").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stop_at = p.secs();
    p.send(TextCommand::StopSaying).await;
    let (t, e) = p.next().await;
    let TextEvent::SayDone { id: done, played_chars, stopped } = e else { panic!("{e:?}") };
    assert_eq!((done, stopped), (id, true));
    assert!((4..=5).contains(&played_chars), "{played_chars}");
    approx(t, stop_at);
}

#[tokio::test(start_paused = true)]
async fn queued_lines_play_in_order_and_the_callee_answers_them_together() {
    let mut p = Probe::dial(&default_carrier(), "13800138000").await;
    p.answered().await;
    let start = p.secs();
    let a = p.say("喂，您好，我是王经理的 AI 助理，").await;
    let b = p.say("请问是张总吗？").await;
    let (t1, e1) = p.next().await;
    let (t2, e2) = p.next().await;
    assert!(matches!(e1, TextEvent::SayDone { id, .. } if id == a));
    assert!(matches!(e2, TextEvent::SayDone { id, .. } if id == b));
    approx(t1 - start, secs_for("喂，您好，我是王经理的 AI 助理，"));
    approx(t2 - start, secs_for("喂，您好，我是王经理的 AI 助理，请问是张总吗？"));
    assert_eq!(p.next().await.1, TextEvent::SpeechStarted);
    assert_eq!(p.next().await.1, TextEvent::Heard("对，是我，什么事？".into()));
}

#[tokio::test(start_paused = true)]
async fn a_turn_ending_on_a_comma_gets_more_patience() {
    let mut p = Probe::dial(&default_carrier(), "13800138000").await;
    p.answered().await;
    p.say("喂，您好，").await;
    let (t_done, _) = p.next().await;
    let (t, e) = p.next().await;
    assert_eq!(e, TextEvent::SpeechStarted);
    approx(t - t_done, 0.6 + 1.5);
}

#[tokio::test(start_paused = true)]
async fn speed_ten_runs_everything_ten_times_faster() {
    let fast = carrier(SimConfig { speed: 10.0, ..SimConfig::default() });
    let mut p = Probe::dial(&fast, "13800138000").await;
    approx(p.answered().await, 0.23);
    let start = p.secs();
    p.say("一二三四五六七八。").await;
    let (t, _) = p.next().await;
    approx(t - start, 0.2);
    let (t2, e) = p.next().await;
    assert_eq!(e, TextEvent::SpeechStarted);
    approx(t2 - t, 0.06);

    let mut p = Probe::dial(&fast, "13000000004").await;
    p.next().await;
    approx(p.next().await.0, 0.43);
}

const SCRIPTED: &str = r#"
speed = 2.0
reaction_ms = 500

[[callees]]
number = "13000000100"
ring_seconds = 5
replies = [
  { when_heard = "请问是|是不是", say = "是我，刘老师。" },
  { when_heard = "家长会", say = "行，我会去的。" },
  { when_heard = "再见", hang_up = true },
]
fallback = "嗯？"

[[callees]]
number = "+86 130-0000-0101"
result = "no_answer"
ring_seconds = 20

[[callees]]
number = "13000000102"
result = "never_answer"

[[callees]]
number = "13000000001"
fallback = "你说。"
hang_up_after_turns = 1
"#;

#[tokio::test(start_paused = true)]
async fn scripted_callees_from_toml_behave_as_written() {
    let cfg: SimConfig = toml::from_str(SCRIPTED).expect("the example parses");
    assert_eq!(cfg.callees[1].result, CalleeResult::NoAnswer);
    let sim = carrier(cfg);

    let mut p = Probe::dial(&sim, "13000000100").await;
    approx(p.answered().await, (0.3 + 5.0) / 2.0);
    p.say("您好，请问是刘老师吗？").await;
    p.next().await;
    p.next().await;
    assert_eq!(p.next().await.1, TextEvent::Heard("是我，刘老师。".into()));
    p.say("明天下午开家长会。").await;
    p.next().await;
    p.next().await;
    assert_eq!(p.next().await.1, TextEvent::Heard("行，我会去的。".into()));
    p.say("今天天气不错。").await;
    p.next().await;
    p.next().await;
    assert_eq!(p.next().await.1, TextEvent::Heard("嗯？".into()));
    p.say("好的，再见。").await;
    p.next().await;
    let (_, e) = p.next().await;
    assert_eq!(e, TextEvent::Signal(Signal::Ended { end: LegEnd::RemoteHangup, provider_response: "BYE from callee (simulated)".into() }));

    let mut p = Probe::dial(&sim, "13000000101").await;
    assert_eq!(p.next().await.1, TextEvent::Signal(Signal::Ringing));
    let (t, e) = p.next().await;
    approx(t, (0.3 + 20.0) / 2.0);
    assert_eq!(e, TextEvent::Signal(Signal::Ended { end: LegEnd::NoAnswer, provider_response: "480 Temporarily Unavailable (simulated)".into() }));

    let mut p = Probe::dial(&sim, "13000000102").await;
    p.next().await;
    assert_eq!(p.next_within(600.0).await, None);

    // A scripted number overrides the built-in wrong_person.
    let call = converse(&sim, "13000000001", true).await;
    // It hangs up 0.4 s after its one answer, cutting the AI's reply short.
    assert_eq!(
        call.transcript,
        vec![format!("AI: {OPENING}"), "callee: 你说。".into(), format!("AI: {REPEAT} [stopped after 1]")]
    );
    assert_eq!(call.end, LegEnd::RemoteHangup);
}

#[test]
fn invalid_configs_are_refused_with_a_clear_message() {
    let err = SimCarrier::new(SimConfig { speed: 0.0, ..SimConfig::default() }).unwrap_err();
    assert_eq!(err, SimConfigError::Speed { got: 0.0 });
    let message = err.to_string();
    assert!(message.contains("speed") && message.contains("greater than 0"), "{message}");
    assert_eq!(SimConfig { speed: 0.0, ..SimConfig::default() }.validate(), Err(err));

    let err = toml::from_str::<SimConfig>("[[callees]]\nnumber = \"13000000100\"\nresult = \"maybe\"\n").unwrap_err().to_string();
    assert!(err.contains("unknown variant `maybe`") && err.contains("never_answer"), "{err}");

    let err = toml::from_str::<SimConfig>("sped = 2.0\n").unwrap_err().to_string();
    assert!(err.contains("unknown field `sped`") && err.contains("speed"), "{err}");

    let err = toml::from_str::<SimConfig>("[[callees]]\nnumber = \"13000000100\"\ntone = 1\n").unwrap_err().to_string();
    assert!(err.contains("unknown field `tone`"), "{err}");

    let cfg: SimConfig = toml::from_str("default_persona = \"grumpy\"").unwrap();
    assert!(SimCarrier::new(cfg).unwrap_err().to_string().contains("default_persona \"grumpy\""));
}

#[tokio::test(start_paused = true)]
async fn other_numbers_reach_the_default_persona() {
    let mut p = Probe::dial(&default_carrier(), "18612345678").await;
    approx(p.answered().await, 2.3);
    let busy_by_default = carrier(SimConfig { default_persona: "busy".into(), ..SimConfig::default() });
    let mut p = Probe::dial(&busy_by_default, "18612345678").await;
    p.next().await;
    assert!(matches!(p.next().await.1, TextEvent::Signal(Signal::Ended { end: LegEnd::Busy, .. })));
}

#[tokio::test(start_paused = true)]
async fn hanging_up_mid_line_reports_what_played_before_ended() {
    let mut p = Probe::dial(&default_carrier(), "13800138000").await;
    p.answered().await;
    let a = p.say("一二三四五六七八九").await;
    let b = p.say("十一二三四").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    p.send(TextCommand::HangUp).await;
    let (_, e) = p.next().await;
    assert!(matches!(e, TextEvent::SayDone { id, played_chars: 4, stopped: true } if id == a), "{e:?}");
    assert_eq!(p.next().await.1, TextEvent::SayDone { id: b, played_chars: 0, stopped: true });
    assert!(matches!(p.next().await.1, TextEvent::Signal(Signal::Ended { end: LegEnd::Released, .. })));
    p.assert_closed().await;
}

#[tokio::test(start_paused = true)]
async fn a_line_before_answer_is_not_played() {
    let mut p = Probe::dial(&default_carrier(), "13800138000").await;
    let id = p.say(OPENING).await;
    assert_eq!(p.next().await.1, TextEvent::SayDone { id, played_chars: 0, stopped: true });
    assert_eq!(p.next().await.1, TextEvent::Signal(Signal::Ringing));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_commands_ends_the_leg_quietly() {
    let mut p = Probe::dial(&default_carrier(), "13000000003").await;
    assert_eq!(p.next().await.1, TextEvent::Signal(Signal::Ringing));
    let TextLeg { mut events, commands } = p.leg;
    drop(commands);
    assert_eq!(timeout(Duration::from_secs(1), events.recv()).await, Ok(None));
}

/// The documentation must name every built-in number and persona, and its
/// example configuration must be valid.
#[test]
fn the_documentation_covers_every_persona_and_its_example_config_is_valid() {
    let doc = include_str!("../../../docs/simulated-network.md");
    for (number, name, _) in builtin_personas() {
        assert!(doc.contains(number) && doc.contains(&format!("`{name}`")), "docs miss {number} {name}");
    }
    let example = doc.split("```toml").nth(1).and_then(|rest| rest.split("```").next()).expect("a ```toml block");
    let value: toml::Value = toml::from_str(example).expect("the example parses");
    let sim: SimConfig = value["carrier"]["sim"].clone().try_into().expect("[carrier.sim] is a SimConfig");
    assert!(!sim.callees.is_empty());
    SimCarrier::new(sim).expect("the example is valid");
}
