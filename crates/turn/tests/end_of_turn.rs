//! When the callee's turn ends: VAD silence for the hangover plus the ASR's
//! final, whichever comes last, bounded by the wait for a late final.
//! Defaults: hangover 250 ms, final wait 1500 ms, 20 ms frames.

mod common;

use common::Call;
use waihu_turn::Output;

#[test]
fn a_final_before_the_silence_ends_the_turn_at_the_hangover() {
    let mut c = Call::new();
    c.speak(800); // voiced frames at 20..=800 ms
    c.silence(60);
    c.final_text("你好，我要查账单");
    c.silence(1000);
    assert_eq!(c.ends_of_turn(), [("你好，我要查账单".to_owned(), 800, 1050)]);
    assert_eq!(c.kinds(), ["started", "stopped", "end_of_turn"]);
}

#[test]
fn a_final_after_the_silence_ends_the_turn_when_it_arrives() {
    let mut c = Call::new();
    c.speak(800);
    c.silence(500); // silence confirmed at 1050, still no final at 1300
    assert_eq!(c.kinds(), ["started", "stopped"]);
    c.final_text("我要查账单");
    assert_eq!(c.ends_of_turn(), [("我要查账单".to_owned(), 800, 1300)]);
    let Some((_, Output::EndOfTurn { speech_stopped_at, final_at, .. })) = c.log.last() else { panic!() };
    assert_eq!((c.ms(*speech_stopped_at), final_at.map(|f| c.ms(f))), (1050, Some(1300)));
}

#[test]
fn a_late_final_is_bounded_by_the_max_wait() {
    let mut c = Call::new();
    c.speak(400);
    c.partial("我要查账");
    c.speak(400);
    c.partial("我要查账单");
    c.silence(3000);
    // 800 + 250 hangover + 1500 wait; the text is the latest partial.
    assert_eq!(c.ends_of_turn(), [("我要查账单".to_owned(), 800, 2550)]);
    let Some((_, Output::EndOfTurn { final_at, .. })) = c.log.last() else { panic!() };
    assert_eq!(*final_at, None);
    // The final that finally comes belongs to the turn already given.
    c.final_text("我要查账单。");
    assert_eq!(c.ends_of_turn().len(), 1);
}

#[test]
fn speech_resuming_within_the_hangover_continues_the_turn() {
    let mut c = Call::new();
    c.speak(500);
    c.silence(200); // shorter than the hangover
    c.speak(300); // last voiced at 1000
    c.final_text("明天上午九点，三楼会议室");
    c.silence(600);
    assert_eq!(c.ends_of_turn(), [("明天上午九点，三楼会议室".to_owned(), 1000, 1250)]);
    assert_eq!(c.kinds(), ["started", "stopped", "end_of_turn"]);
    let Some((_, Output::EndOfTurn { speech_started_at, .. })) = c.log.last() else { panic!() };
    assert_eq!(c.ms(*speech_started_at), 20);
}

#[test]
fn a_final_for_the_first_half_does_not_end_a_turn_that_resumed() {
    let mut c = Call::new();
    c.speak(500);
    c.silence(40);
    c.final_text("我要查"); // a streaming ASR finalising a phrase in the pause
    c.silence(100);
    c.speak(360); // resumes within the hangover, last voiced at 1000
    c.silence(400); // silence confirmed at 1250: no final since the voice came back
    assert!(c.ends_of_turn().is_empty());
    c.final_text("账单");
    assert_eq!(c.ends_of_turn(), [("我要查账单".to_owned(), 1000, 1400)]);
}

#[test]
fn speech_after_the_hangover_but_before_the_final_is_the_same_turn() {
    let mut c = Call::new();
    c.speak(500);
    c.silence(400); // silence confirmed at 750, waiting for the final
    c.speak(300); // last voiced at 1200
    c.silence(100);
    // The final asked for at 750 covers the first run only: it is the
    // turn's words but does not end it.
    c.final_text("喂，你好，");
    c.silence(300); // the second run stops at 1450 and asks for its own
    assert!(c.ends_of_turn().is_empty());
    c.final_text("我是张三");
    assert_eq!(c.kinds(), ["started", "stopped", "started", "stopped", "end_of_turn"]);
    assert_eq!(c.ends_of_turn(), [("喂，你好，我是张三".to_owned(), 1200, 1600)]);
}

#[test]
fn a_lone_acknowledgement_while_the_ai_is_silent_is_a_turn() {
    let mut c = Call::new();
    c.speak(200);
    c.final_text("嗯");
    c.silence(400);
    assert_eq!(c.ends_of_turn(), [("嗯".to_owned(), 200, 450)]);
    assert!(c.barge_ins().is_empty() && c.backchannels().is_empty());
}

#[test]
fn a_cough_is_not_a_turn() {
    let mut c = Call::new();
    c.speak(60);
    c.silence(100);
    c.final_text("");
    c.silence(400);
    assert_eq!(c.kinds(), ["started", "stopped", "no_words"]);
    // And noise the ASR never answers for ends after the wait, still wordless.
    c.speak(40);
    c.silence(2000);
    assert_eq!(c.kinds()[3..], ["started", "stopped", "no_words"]);
    assert_eq!(c.log.last().unwrap().0, 560 + 40 + 250 + 1500);
}

#[test]
fn turns_over_a_call_end_in_order() {
    let mut c = Call::new();
    for (i, line) in ["喂？", "对，是我", "可以，知道了"].iter().enumerate() {
        c.silence(700 + 100 * i as u64);
        c.speak(300 + 200 * i as u64);
        c.silence(100);
        c.final_text(line);
    }
    c.silence(500);
    let ends = c.ends_of_turn();
    assert_eq!(ends.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(), ["喂？", "对，是我", "可以，知道了"]);
    for (text, last_voiced, decided) in &ends {
        assert_eq!(decided - last_voiced, 250, "{text}");
    }
    assert!(ends.windows(2).all(|w| w[0].2 < w[1].2));
}
