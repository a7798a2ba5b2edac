//! Asking the recogniser for its final before the hangover ends, so that
//! its latency runs alongside the hangover instead of after it. Defaults:
//! final asked for after 100 ms of silence, hangover 250 ms, 20 ms frames.

mod common;

use common::Call;
use waihu_turn::{Output, TurnConfig};

fn call() -> Call {
    Call::with(TurnConfig::default(), 20)
}

/// Instants (ms) of every output of one kind.
fn at(c: &Call, kind: &str) -> Vec<u64> {
    c.kinds().iter().zip(&c.log).filter(|(k, _)| **k == kind).map(|(_, (ms, _))| *ms).collect()
}

#[test]
fn the_final_is_asked_for_after_early_final_and_ends_the_turn_at_the_hangover() {
    let mut c = call();
    c.speak(800); // last voiced at 800
    c.silence(100);
    assert_eq!(c.kinds(), ["started", "finalise"]);
    assert_eq!(at(&c, "finalise"), [900]);
    // An ASR that takes 100 ms answers at 1000, within the hangover.
    c.silence(100);
    c.final_text("你好，我要查账单");
    assert!(c.ends_of_turn().is_empty(), "the hangover still runs");
    c.silence(200);
    assert_eq!(c.kinds(), ["started", "finalise", "stopped", "end_of_turn"]);
    assert_eq!(c.ends_of_turn(), [("你好，我要查账单".to_owned(), 800, 1050)]);
}

#[test]
fn the_first_timer_is_the_early_request_then_the_hangover() {
    let mut c = call();
    c.speak(100);
    assert_eq!(c.tt.poll_timeout(), Some(c.t0 + std::time::Duration::from_millis(200)));
    c.silence(100);
    assert_eq!(c.tt.poll_timeout(), Some(c.t0 + std::time::Duration::from_millis(350)));
}

#[test]
fn speech_resuming_after_the_request_needs_a_final_of_its_own() {
    let mut c = call();
    c.speak(500);
    c.silence(140); // asked at 600
    c.speak(300); // resumes at 660, within the hangover; last voiced at 940
    assert_eq!(c.kinds(), ["started", "finalise", "resumed"]);
    // The first half's final comes after the voice resumed: it is kept, but
    // it does not end the turn.
    c.final_text("明天上午九点，");
    c.silence(300); // asked again at 1040, silence confirmed at 1190
    assert!(c.ends_of_turn().is_empty(), "{:?}", c.log);
    assert_eq!(at(&c, "finalise"), [600, 1040]);
    c.final_text("三楼会议室");
    assert_eq!(c.ends_of_turn(), [("明天上午九点，三楼会议室".to_owned(), 940, 1240)]);
    let Some((_, Output::EndOfTurn { speech_started_at, .. })) = c.log.last() else { panic!() };
    assert_eq!(c.ms(*speech_started_at), 20, "one turn from its first voiced frame");
}

#[test]
fn a_run_that_stops_after_its_early_request_asks_nothing_more() {
    let mut c = call();
    c.speak(300);
    c.silence(400);
    assert_eq!(c.kinds(), ["started", "finalise", "stopped"]);
    c.final_text("对，是我");
    assert_eq!(c.ends_of_turn(), [("对，是我".to_owned(), 300, 700)]);
}

#[test]
fn a_request_not_shorter_than_the_hangover_is_made_at_the_hangover() {
    for early in [250, 400] {
        let cfg = TurnConfig { early_final: Some(std::time::Duration::from_millis(early)), ..TurnConfig::default() };
        let mut c = Call::with(cfg, 20);
        c.speak(200);
        c.silence(300);
        assert_eq!(c.kinds(), ["started", "stopped"], "early_final {early} ms");
    }
}

#[test]
fn a_driver_late_with_its_timers_gets_the_request_with_the_stop() {
    let mut c = call();
    c.speak(200);
    // No timeout fed: the next frame comes after the whole hangover.
    c.now = c.t0 + std::time::Duration::from_millis(600);
    c.feed(waihu_turn::Input::Timeout);
    assert_eq!(c.kinds(), ["started", "stopped"]);
    c.final_text("好的");
    assert_eq!(c.ends_of_turn().len(), 1);
}

#[test]
fn finals_owed_by_a_turn_the_deadline_closed_are_dropped() {
    let mut c = call();
    c.speak(400);
    c.silence(140); // asked at 500
    c.speak(200); // resumed, last voiced at 740
    c.partial("我要查账单");
    c.silence(2500); // asked at 840; silence at 990; deadline at 2490
    assert_eq!(c.ends_of_turn(), [("我要查账单".to_owned(), 740, 2490)]);
    // Both finals come late: they belong to the turn already given.
    c.final_text("我要查");
    c.final_text("账单");
    assert_eq!(c.ends_of_turn().len(), 1, "{:?}", c.log);
}

#[test]
fn barge_in_and_backchannels_are_unchanged_by_the_early_request() {
    let mut c = call();
    c.ai_starts(1);
    c.speak(200);
    c.silence(100); // asked at 300
    c.final_text("嗯");
    c.silence(300);
    assert_eq!(c.backchannels(), ["嗯"]);
    assert!(c.barge_ins().is_empty());
    c.speak(400);
    assert_eq!(c.barge_ins().len(), 1);
}
