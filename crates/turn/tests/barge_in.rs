//! Talking over the AI: real speech stops it within one VAD frame of the
//! minimum speech, a lone 嗯/对/好 does not. These scenarios pin barge-in at
//! 250 ms of speech over the AI (the default, 230 ms, has its own test) and
//! use the default backchannel hold-off of 1000 ms.

mod common;

use common::Call;
use waihu_turn::{Output, TurnConfig};

/// The AI is playing utterance 1, reporting progress every 100 ms. (The
/// final is asked for at the hangover, as in `Call::new`.)
fn ai_playing(frame_ms: u64) -> Call {
    let mut c = Call::with(TurnConfig { early_final: None, barge_in_min_speech: std::time::Duration::from_millis(250), ..TurnConfig::default() }, frame_ms);
    c.ai_starts(1);
    c
}

#[test]
fn barge_in_comes_at_min_speech_plus_at_most_one_frame() {
    for frame_ms in [10, 16, 20, 30, 32] {
        let mut c = ai_playing(frame_ms);
        c.silence(600);
        c.speak(1000);
        let first_voiced = c.run_first_voiced_ms.unwrap();
        let [(at, started)] = c.barge_ins()[..] else { panic!("{frame_ms} ms: {:?}", c.log) };
        assert_eq!(started, first_voiced);
        // Audio heard by the decision: from the start of the first voiced frame.
        let heard = at + frame_ms - first_voiced;
        assert!((250..250 + frame_ms).contains(&heard), "{frame_ms} ms frames: {heard} ms of speech");
        // The promise: under 250 ms from the first voiced frame.
        assert!(at - first_voiced < 250, "{frame_ms} ms frames");
    }
}

#[test]
fn by_default_the_ai_stops_on_the_twelfth_voiced_frame_of_20_ms() {
    let mut c = Call::with(TurnConfig { early_final: None, ..TurnConfig::default() }, 20);
    assert_eq!(c.tt.config().barge_in_min_speech, std::time::Duration::from_millis(230));
    c.ai_starts(1);
    c.silence(600);
    c.speak(1000);
    let first_voiced = c.run_first_voiced_ms.unwrap();
    let [(at, _)] = c.barge_ins()[..] else { panic!("{:?}", c.log) };
    assert_eq!(at - first_voiced, 11 * 20, "240 ms of audio heard by the decision");
}

#[test]
fn a_backchannel_of_200_ms_does_not_stop_the_ai() {
    for word in ["嗯", "对", "好", "嗯嗯", "是的"] {
        let mut c = ai_playing(20);
        c.silence(400);
        c.speak(100);
        c.partial(word);
        c.speak(100);
        c.silence(100);
        c.final_text(word);
        c.silence(500);
        assert_eq!(c.backchannels(), [word], "{:?}", c.log);
        assert!(c.barge_ins().is_empty() && c.ends_of_turn().is_empty(), "{word}");
        assert!(c.tt.ai_speaking());
    }
}

#[test]
fn a_backchannel_the_asr_only_finalises_late_does_not_stop_the_ai() {
    let mut c = ai_playing(32);
    c.speak(192); // six 32 ms frames
    c.silence(800);
    c.final_text("嗯");
    assert_eq!(c.backchannels(), ["嗯"]);
    assert!(c.barge_ins().is_empty());
}

#[test]
fn acknowledgements_in_a_row_do_not_add_up_to_a_barge_in() {
    let mut c = ai_playing(20);
    for word in ["嗯", "嗯", "对", "对"] {
        c.speak(200);
        c.silence(300); // each pause is longer than the hangover
        c.final_text(word);
    }
    assert!(c.barge_ins().is_empty(), "{:?}", c.log);
    assert_eq!(c.backchannels(), ["嗯", "嗯", "对", "对"]);
}

#[test]
fn long_speech_over_the_ai_barges_in_and_reports_what_was_played() {
    let mut c = ai_playing(20);
    // The AI says 张总您好，王经理让我通知您，明天上午9点有个会议。(at ~6 chars/s).
    for chars in [2, 4, 5, 7, 8] {
        c.silence(160);
        c.ai_played(1, chars);
    }
    assert_eq!(c.now_ms(), 800);
    c.speak(240);
    assert!(c.barge_ins().is_empty());
    c.partial("等一下");
    c.speak(20); // 260 ms of speech over the AI
    assert_eq!(c.barge_ins(), [(1060, 820)]);
    let interrupted: Vec<_> = c.log.iter().filter(|(_, o)| matches!(o, Output::Interrupted { .. })).collect();
    assert_eq!(interrupted, [&(1060, Output::Interrupted { utterance_id: 1, played_chars: 8 })]);
    assert!(!c.tt.ai_speaking());
    // The pipeline's late reports about the stopped utterance change nothing.
    c.ai_played(1, 12);
    c.ai_finishes(1);
    c.speak(700);
    c.silence(100);
    c.final_text("等一下，我不是张总");
    c.silence(400);
    assert_eq!(c.kinds(), ["started", "barge_in", "interrupted", "stopped", "end_of_turn"]);
    assert_eq!(c.ends_of_turn(), [("等一下，我不是张总".to_owned(), 1760, 2010)]);
}

#[test]
fn a_drawn_out_acknowledgement_is_held_off_until_the_backchannel_limit() {
    let mut c = ai_playing(20);
    c.speak(100);
    c.partial("嗯");
    c.speak(1500);
    // 1000 ms of speech over the AI: the 50th frame, fed at 1000 ms.
    assert_eq!(c.barge_ins(), [(1000, 20)]);
}

#[test]
fn a_held_off_barge_in_goes_as_soon_as_the_words_are_real() {
    let mut c = ai_playing(20);
    c.speak(100);
    c.partial("嗯");
    c.speak(300);
    assert!(c.barge_ins().is_empty());
    c.partial("嗯，等一下");
    assert_eq!(c.barge_ins(), [(400, 20)]);
}

#[test]
fn short_real_words_over_the_ai_stop_it_on_their_final() {
    let mut c = ai_playing(20);
    c.ai_played(1, 3);
    c.speak(160);
    c.silence(60);
    c.final_text("不对");
    assert_eq!(c.barge_ins(), [(220, 20)]);
    c.silence(300);
    assert_eq!(c.kinds(), ["started", "barge_in", "interrupted", "stopped", "end_of_turn"]);
}

#[test]
fn no_barge_in_when_the_ai_is_silent() {
    let mut c = Call::new();
    c.speak(1500);
    c.final_text("我想问一下明天的会议改到几点了");
    c.silence(300);
    assert!(c.barge_ins().is_empty());
    assert_eq!(c.kinds(), ["started", "stopped", "end_of_turn"]);

    // Nor once the AI has finished its line.
    c.ai_starts(2);
    c.silence(500);
    c.ai_finishes(2);
    c.speak(600);
    c.final_text("好的");
    c.silence(300);
    assert!(c.barge_ins().is_empty());
    assert_eq!(c.ends_of_turn().last().unwrap().0, "好的");
}

#[test]
fn an_acknowledgement_that_outlasts_the_ai_line_is_an_answer() {
    let mut c = ai_playing(20);
    c.speak(100);
    c.ai_finishes(1); // "您看可以吗？" ends while the callee says 好
    c.speak(100);
    c.final_text("好");
    c.silence(300);
    assert!(c.backchannels().is_empty() && c.barge_ins().is_empty());
    assert_eq!(c.ends_of_turn(), [("好".to_owned(), 200, 450)]);
}

#[test]
fn real_words_the_deadline_finds_in_a_partial_stop_the_ai() {
    let mut c = ai_playing(20);
    c.speak(200);
    c.partial("不是");
    c.silence(2000); // the ASR never finalises
    assert_eq!(c.barge_ins(), [(1950, 20)]);
    assert_eq!(c.ends_of_turn(), [("不是".to_owned(), 200, 1950)]);
}
