//! Whole calls through the brain in virtual time, one behaviour each.

mod common;

use std::time::Duration;

use common::{Call, Engine, TASK};
use waihu_agent::{gate::SAFE_FALLBACK, Turn};
use waihu_call::BrainConfig;
use waihu_core::lifecycle::LifecycleConfig;
use waihu_core::{CallStatus, EndReason, HangupSide, Outcome, Role};

fn text_leg() -> BrainConfig {
    BrainConfig::default()
}

fn voice_leg() -> BrainConfig {
    BrainConfig { stream_replies: true, ..BrainConfig::default() }
}

fn ai_lines(c: &Call) -> Vec<&str> {
    c.record.lines.iter().filter(|(r, _)| *r == Role::Assistant).map(|(_, t)| t.as_str()).collect()
}

#[test]
fn a_cooperative_callee_hears_the_content_and_the_call_completes_delivered() {
    for cfg in [text_leg(), voice_leg()] {
        let mut c = Call::new(Engine::Offline, cfg).with_script(&["对，是我。", "好的，知道了。"]);
        c.run(120_000);
        let t = c.transcript();
        assert_eq!(t.len(), 5, "{t:?}");
        assert!(t[0].starts_with("AI: 喂，您好") && t[0].contains("请问是张总吗"), "{t:?}");
        assert_eq!(t[1], "User: 对，是我。");
        assert!(t[2].contains("明天上午9点开会"), "{t:?}");
        assert_eq!(t[3], "User: 好的，知道了。");
        let end = c.end();
        assert_eq!((end.finish.status, end.finish.side, end.finish.reason), (CallStatus::Completed, HangupSide::Agent, EndReason::AgentHangup));
        assert_eq!(end.outcome, Outcome::Delivered);
        assert_eq!(c.record.overlaps, 0);
    }
}

#[test]
fn talking_over_the_ai_cuts_its_line_to_what_was_played_and_the_history_says_so() {
    for cfg in [text_leg(), voice_leg()] {
        let mut c = Call::new(Engine::Offline, cfg).with_script(&["对，是我。", "好的。"]);
        // Answered at 2.0 s, the opening starts at 2.3 s; 1.2 s into it:
        c.callee_says_at(3_500, "等一下，你是谁？");
        c.run(120_000);
        let t = c.transcript();
        let opening = waihu_agent::offline::next_line(TASK, &[]).text;
        let played = t[0].strip_prefix("AI: ").unwrap();
        assert!(opening.starts_with(played) && played.chars().count() == 8, "{played} of {opening}");
        assert_eq!(t[1], "User: 等一下，你是谁？");
        let answer = &c.record.thinks[1];
        assert_eq!(answer.history, [Turn::Interrupted { played: played.to_owned() }, Turn::User("等一下，你是谁？".into())]);
        assert!(t[2].contains("AI 助理"), "the question is answered: {t:?}");
    }
}

#[test]
fn an_acknowledgement_over_the_ai_does_not_stop_it_and_is_not_a_turn() {
    for ack in ["嗯", "对对对", "恩", "好的"] {
        let mut c = Call::new(Engine::Offline, text_leg()).with_script(&["对，是我。", "好的，知道了。"]);
        c.callee_says_at(3_000, ack);
        c.run(120_000);
        assert_eq!(c.record.stops, 0, "{ack}");
        let t = c.transcript();
        assert!(!t.iter().any(|l| l == &format!("User: {ack}")), "{ack}: {t:?}");
        assert_eq!(c.end().outcome, Outcome::Delivered, "{ack}");
    }
}

#[test]
fn a_reply_written_while_the_callee_spoke_again_is_dropped_and_written_anew() {
    let mut c = Call::new(Engine::Offline, text_leg());
    c.think_ms = 1_000;
    // The opening (2.3 s to about 6 s) is answered; the reply to it takes
    // a second, and the callee goes on meanwhile.
    c.callee_says_at(7_000, "喂？");
    c.callee_says_at(7_500, "对，是我。");
    c.script = ["好的，知道了。".to_owned()].into();
    c.script_from_ms = 8_000;
    c.run(120_000);
    let after_first = &c.record.thinks[2];
    assert_eq!(after_first.history[1..], [Turn::User("喂？".into()), Turn::User("对，是我。".into())], "no reply to 喂 was kept");
    let t = c.transcript();
    assert_eq!(t[1..3], ["User: 喂？", "User: 对，是我。"]);
    assert!(t[3].contains("9点"), "the new reply answers both: {t:?}");
    assert_eq!(c.end().outcome, Outcome::Delivered);
}

#[test]
fn silence_gets_one_nudge_then_the_call_ends() {
    let mut c = Call::new(Engine::Offline, text_leg());
    c.run(200_000);
    let ai = ai_lines(&c);
    assert!(ai.iter().any(|l| l.contains("能听到")), "{ai:?}");
    let end = c.end();
    assert_eq!(end.finish.status, CallStatus::Completed);
    assert_eq!(end.outcome, Outcome::NoConfirmation);
}

#[test]
fn the_maximum_length_winds_down_with_a_goodbye_inside_the_limit() {
    let lifecycle = LifecycleConfig { max_duration: Duration::from_secs(15), ..LifecycleConfig::default() };
    let mut c = Call::new(Engine::Offline, BrainConfig { lifecycle, ..text_leg() });
    // Someone who keeps asking who is calling.
    c.script = std::iter::repeat_n("你是谁？".to_owned(), 20).collect();
    c.run(200_000);
    let end = c.end();
    assert_eq!((end.finish.side, end.finish.reason), (HangupSide::Platform, EndReason::MaxDuration));
    assert!(ai_lines(&c).last().unwrap().contains("通话时间有限"), "{:?}", c.transcript());
    assert!(end.finish.connected <= Duration::from_secs(15 + 12));
}

#[test]
fn a_failing_engine_ends_the_call_politely() {
    let mut c = Call::new(Engine::Failing, text_leg());
    c.run(60_000);
    assert_eq!(ai_lines(&c), ["不好意思，我这边系统出了点问题，稍后再联系您，再见。"]);
    let end = c.end();
    assert_eq!((end.finish.side, end.finish.reason), (HangupSide::Platform, EndReason::InternalError));
}

#[test]
fn a_reply_that_never_finishes_is_abandoned_at_the_reply_timeout() {
    let cfg = BrainConfig { reply_timeout: Duration::from_secs(5), ..text_leg() };
    let mut c = Call::new(Engine::Hung, cfg);
    c.run(60_000);
    assert_eq!(c.record.said[0].0, Duration::from_millis(2_000 + 5_000), "said at the timeout");
    assert_eq!(c.end().finish.reason, EndReason::InternalError);
}

#[test]
fn a_reply_asking_for_a_code_is_never_said_and_the_call_ends() {
    for cfg in [text_leg(), voice_leg()] {
        let mut c = Call::new(Engine::AsksForCode, cfg);
        c.run(60_000);
        let said: String = c.record.said.iter().map(|(_, t)| t.as_str()).collect();
        assert!(!said.contains("验证码"), "{said}");
        assert!(said.ends_with(SAFE_FALLBACK), "{said}");
        assert_eq!(c.end().outcome, Outcome::CutOff);
    }
}

#[test]
fn an_engine_that_tells_the_content_at_once_is_held_until_the_callee_confirms() {
    for cfg in [text_leg(), voice_leg()] {
        let mut c = Call::new(Engine::Leaky, cfg).with_script(&["你说。", "好的。"]);
        c.hang_up_at(60_000, HangupSide::Api, EndReason::ApiCancel);
        c.run(120_000);
        let said: Vec<&str> = c.record.said.iter().map(|(_, t)| t.as_str()).collect();
        let first_reply: String = said.iter().take_while(|t| !t.contains("确认")).copied().collect();
        assert!(!first_reply.contains('9') && !first_reply.contains("开会"), "{said:?}");
        assert!(said.iter().any(|t| t.contains("请问您是张总吗")), "{said:?}");
        let confirmed_at = c.record.heard.iter().find(|(_, l)| l == "你说。").unwrap().0;
        let content_at = c.record.said.iter().find(|(_, t)| t.contains('9')).unwrap().0;
        assert!(content_at > confirmed_at, "the content came after the yes");
    }
}

#[test]
fn a_streamed_line_cut_while_its_reply_is_still_written_keeps_only_what_was_played() {
    let mut c = Call::new(Engine::Offline, voice_leg()).with_script(&["对，是我。"]);
    // Each clause of a reply comes 800 ms after the previous one; the
    // delivery's first clause is cut before the rest is written.
    c.clause_ms = 800;
    c.callee_says_at(9_300, "等等，几点？");
    c.run(120_000);
    let t = c.transcript();
    let cut = t.iter().position(|l| l == "User: 等等，几点？").expect("heard");
    let played = t[cut - 1].strip_prefix("AI: ").unwrap();
    let next = c.record.thinks.iter().find(|r| r.history.contains(&Turn::User("等等，几点？".into()))).unwrap();
    let n = next.history.len();
    assert_eq!(next.history[n - 2], Turn::Interrupted { played: played.to_owned() }, "{:?}", next.history);
    assert!(played.starts_with("张总您好，") && !played.contains("可以吗"), "{played}");
}

#[test]
fn a_call_never_answered_ends_no_answer_not_connected() {
    let mut c = Call::new(Engine::Offline, text_leg());
    c.answer_after_ms = None;
    c.run(120_000);
    let end = c.end();
    assert_eq!(end.finish.status, CallStatus::NoAnswer);
    assert_eq!(end.outcome, Outcome::NotConnected);
    assert!(c.record.lines.is_empty());
}

#[test]
fn the_balance_running_out_says_goodbye_inside_the_paid_minute() {
    let mut c = Call::new(Engine::Offline, text_leg());
    c.balance_ok = false;
    c.script = std::iter::repeat_n("你是谁？".to_owned(), 30).collect();
    c.run(200_000);
    let end = c.end();
    assert_eq!(end.finish.reason, EndReason::BalanceExhausted);
    assert!(end.finish.connected <= Duration::from_secs(60));
    assert!(ai_lines(&c).last().unwrap().contains("时长已用完"));
}
