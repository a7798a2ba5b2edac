//! One conversational turn through all three pieces, in virtual time, with
//! the fixed-latency engines: ASR final 100 ms after the end of
//! speech, LLM first token after 200 ms then one character every 20 ms, TTS
//! first audio after 100 ms, and 1 ms for each of our own hops.

mod common;

use std::time::{Duration, Instant};

use common::Call;
use waihu_turn::{Input, LatencyRecorder, Mark, Output, SentenceSplitter, SplitterConfig, TurnLatency};

/// 30 characters; the first full stop comes after a comma.
const REPLY: &str = "好的，您本月的账单是一百二十八元。请问还需要办理其他业务吗？";
const HOP: Duration = Duration::from_millis(1);
const LLM_FIRST: Duration = Duration::from_millis(200);
const LLM_TOKEN: Duration = Duration::from_millis(20);
const TTS_FIRST: Duration = Duration::from_millis(100);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The callee speaks; returns the end of turn's instants, marked.
fn callee_turn(c: &mut Call, asr_after_speech_ms: u64) -> LatencyRecorder {
    c.silence(200);
    c.speak(1000);
    c.silence(asr_after_speech_ms);
    c.final_text("你好，我要查账单");
    // Up to the end of the hangover, so the clock stops at the decision.
    let hangover_ends = c.last_voiced_ms.unwrap() + 250;
    c.advance_to(hangover_ends.max(c.now_ms()));
    let Some(Output::EndOfTurn { last_voiced_at, speech_stopped_at, final_at, decided_at, .. }) =
        c.log.iter().map(|(_, o)| o.clone()).find(|o| matches!(o, Output::EndOfTurn { .. }))
    else {
        panic!("no end of turn: {:?}", c.log)
    };
    let mut rec = LatencyRecorder::new();
    rec.mark(Mark::LastVoiced, last_voiced_at);
    rec.mark(Mark::SpeechStopped, speech_stopped_at);
    if let Some(f) = final_at {
        rec.mark(Mark::AsrFinal, f);
    }
    rec.mark(Mark::EndOfTurn, decided_at);
    rec
}

/// The AI answers: the LLM streams `REPLY` one character per token, the
/// splitter's first chunk goes to TTS. Returns when the first frame went out.
fn ai_reply(rec: &mut LatencyRecorder, cfg: SplitterConfig) -> Instant {
    let request = rec.get(Mark::EndOfTurn).unwrap() + HOP;
    rec.mark(Mark::DialogueRequest, request);
    let mut splitter = SentenceSplitter::new(cfg);
    let mut first_chunk_at = None;
    for (i, ch) in REPLY.chars().enumerate() {
        let t = request + LLM_FIRST + LLM_TOKEN * i as u32;
        rec.mark(Mark::DialogueFirstToken, t);
        if !splitter.push(&ch.to_string()).is_empty() {
            first_chunk_at = Some(t);
            break;
        }
    }
    let last_token = request + LLM_FIRST + LLM_TOKEN * (REPLY.chars().count() as u32 - 1);
    let chunk_at = first_chunk_at.unwrap_or(last_token);
    rec.mark(Mark::FirstChunk, chunk_at);
    rec.mark(Mark::TtsRequest, chunk_at + HOP);
    rec.mark(Mark::TtsFirstAudio, chunk_at + HOP + TTS_FIRST);
    let out = chunk_at + HOP + TTS_FIRST + HOP;
    rec.mark(Mark::FirstAudioOut, out);
    out
}

fn turn(asr_after_speech_ms: u64, cfg: SplitterConfig) -> TurnLatency {
    let mut c = Call::new();
    let mut rec = callee_turn(&mut c, asr_after_speech_ms);
    ai_reply(&mut rec, cfg);
    rec.finish().unwrap()
}

#[test]
fn the_latency_split_adds_up_to_the_total() {
    let l = turn(100, SplitterConfig::default());
    assert_eq!(l.sum_of_parts(), l.total);
    assert_eq!(
        (l.endpointing, l.asr, l.dialogue_first_token, l.first_clause, l.tts_first_audio, l.overhead),
        (ms(250), ms(0), ms(200), ms(40), ms(100), ms(3))
    );
    assert_eq!(l.total, ms(593));
    assert_eq!(l.asr_final_after_speech, Some(ms(100)));
}

#[test]
fn a_final_later_than_the_hangover_is_charged_to_the_asr() {
    let l = turn(400, SplitterConfig::default());
    assert_eq!((l.endpointing, l.asr), (ms(250), ms(150)));
    assert_eq!(l.sum_of_parts(), l.total);
}

#[test]
fn cutting_at_the_first_comma_starts_audio_300_ms_sooner_than_at_the_full_stop() {
    let clause = turn(100, SplitterConfig::default());
    let sentences_only = SplitterConfig { min_first_clause_chars: usize::MAX, min_clause_chars: usize::MAX, ..SplitterConfig::default() };
    let sentence = turn(100, sentences_only);
    // The full stop is the 17th token, and a sentence waits for the 18th to
    // see that no closing mark follows.
    assert_eq!(sentence.first_clause, ms(17 * 20));
    assert_eq!(sentence.total - clause.total, ms(300));
}

#[test]
fn a_barge_in_keeps_only_what_the_callee_heard() {
    let mut c = Call::new();
    let mut rec = callee_turn(&mut c, 100);
    let first_out = ai_reply(&mut rec, SplitterConfig::default());
    // Play the reply's chunks back to back at 150 ms a character, reporting
    // progress in the splitter's character offsets after every 20 ms frame.
    let mut splitter = SentenceSplitter::default();
    let mut chunks = splitter.push(REPLY);
    chunks.extend(splitter.finish());
    let per_char = ms(150);
    c.advance_to(c.ms(first_out));
    c.ai_starts(9);
    let started = c.now;
    let mut barge = None;
    for frame in 1.. {
        let played = ((c.now - started).as_millis() / per_char.as_millis()) as usize;
        let chars_played = played.min(chunks.last().unwrap().end);
        c.ai_played(9, chars_played);
        // The callee starts talking over the AI 1.5 s into the reply.
        let speech = c.now - started >= ms(1500);
        c.advance_to(c.ms(started) + 20 * frame);
        c.feed(Input::VadFrame { speech, duration: ms(20) });
        if let Some((at, o)) = c.log.iter().find(|(_, o)| matches!(o, Output::Interrupted { .. })) {
            barge = Some((*at, o.clone()));
            break;
        }
    }
    let (at, Output::Interrupted { utterance_id, played_chars }) = barge.unwrap() else { unreachable!() };
    assert_eq!(utterance_id, 9);
    // Ten characters by 1.5 s; the barge-in comes 240 ms after the first
    // voiced frame, when 11 characters (1650 ms) have been sent.
    assert_eq!(at - c.ms(started), 1520 + 240);
    assert_eq!(played_chars, 11);
    let heard: String = REPLY.chars().take(played_chars).collect();
    assert_eq!(heard, "好的，您本月的账单是一");
    assert!(chunks[0].end <= played_chars, "the first chunk was played in full");
}

#[test]
fn feeding_tokens_at_once_or_one_by_one_gives_the_same_chunks() {
    let mut whole = SentenceSplitter::default();
    let mut a = whole.push(REPLY);
    a.extend(whole.finish());
    let mut by_token = SentenceSplitter::default();
    let mut b = Vec::new();
    for token in ["好的", "，您本", "月的账单", "是一百二十", "八元。请", "问还需要办理其他业务吗", "？"] {
        b.extend(by_token.push(token));
    }
    b.extend(by_token.finish());
    assert_eq!(a, b);
    assert_eq!(a.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), ["好的，", "您本月的账单是一百二十八元。", "请问还需要办理其他业务吗？"]);
}
