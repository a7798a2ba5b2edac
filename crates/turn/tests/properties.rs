//! Properties over random inputs: the splitter loses nothing and never cuts a
//! number or a word; the turn-taker survives any sequence of events and its
//! decisions move forward in time.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use waihu_turn::{Input, Output, SentenceSplitter, SplitterConfig, TurnConfig, TurnTaker};

/// Text heavy in the characters the splitter cares about.
fn reply_text() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "好的您本月账单是一百二十八元请问吗我们 9.5:30,1%。！？；…，、：“”（）\n\"'abcXYZ.!?;-~".chars().collect();
    prop::collection::vec(prop::sample::select(alphabet), 0..160).prop_map(|v| v.into_iter().collect())
}

fn splitter_config() -> impl Strategy<Value = SplitterConfig> {
    (0usize..8, 0usize..12, 1usize..70).prop_map(|(first, min, max)| SplitterConfig { min_first_clause_chars: first, min_clause_chars: min, max_chunk_chars: max })
}

/// Splits `text` into tokens at the given cut points.
fn tokens(text: &str, cuts: &[usize]) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (chars.len() + 1)).collect();
    cuts.push(0);
    cuts.push(chars.len());
    cuts.sort_unstable();
    cuts.windows(2).map(|w| chars[w[0]..w[1]].iter().collect()).collect()
}

fn run_splitter(cfg: SplitterConfig, tokens: &[String]) -> Vec<waihu_turn::Chunk> {
    let mut s = SentenceSplitter::new(cfg);
    let mut out: Vec<_> = tokens.iter().flat_map(|t| s.push(t)).collect();
    out.extend(s.finish());
    out
}

proptest! {
    #[test]
    fn chunks_concatenate_to_the_input_whatever_the_tokens(
        text in reply_text(),
        cuts in prop::collection::vec(0usize..200, 0..40),
        cfg in splitter_config(),
    ) {
        let chunks = run_splitter(cfg, &tokens(&text, &cuts));
        prop_assert_eq!(chunks.iter().map(|c| c.text.as_str()).collect::<String>(), text.clone());
        let mut offset = 0;
        for c in &chunks {
            prop_assert!(!c.text.is_empty());
            prop_assert_eq!((c.start, c.end), (offset, offset + c.text.chars().count()));
            offset = c.end;
        }
        // Token by token or character by character: the same chunks.
        let by_char: Vec<String> = text.chars().map(String::from).collect();
        prop_assert_eq!(&chunks, &run_splitter(cfg, &by_char));
    }

    #[test]
    fn no_chunk_boundary_cuts_a_number_or_a_word(text in reply_text(), cfg in splitter_config()) {
        let chunks = run_splitter(cfg, &[text.clone()]);
        for pair in chunks.windows(2) {
            let a: Vec<char> = pair[0].text.chars().collect();
            let b = pair[1].text.chars().next().unwrap();
            let last = *a.last().unwrap();
            prop_assert!(!(last.is_ascii_alphanumeric() && b.is_ascii_alphanumeric()), "{:?} | {:?}", pair[0].text, pair[1].text);
            // `9.5`, `9:30`, `1,000`, `1，000`: a separator between digits.
            let separator_between_digits = b.is_ascii_digit() && ".:,，：".contains(last) && a.len() >= 2 && a[a.len() - 2].is_ascii_digit();
            prop_assert!(!separator_between_digits, "{:?} | {:?}", pair[0].text, pair[1].text);
        }
    }
}

#[derive(Debug, Clone)]
enum Event {
    Frame { speech: bool, ms: u64 },
    Partial(usize),
    Final(usize),
    Utterance(usize),
    Started(u64),
    Played(u64, usize),
    Finished(u64),
    Wait(u64),
}

const WORDS: [&str; 6] = ["", "嗯", "对对", "等一下", "我不是张总", "好的"];

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        8 => (any::<bool>(), 10u64..=32).prop_map(|(speech, ms)| Event::Frame { speech, ms }),
        1 => (0..WORDS.len()).prop_map(Event::Partial),
        1 => (0..WORDS.len()).prop_map(Event::Final),
        1 => (0..WORDS.len()).prop_map(Event::Utterance),
        1 => (0u64..3).prop_map(Event::Started),
        1 => (0u64..3, 0usize..40).prop_map(|(id, n)| Event::Played(id, n)),
        1 => (0u64..3).prop_map(Event::Finished),
        1 => (0u64..3000).prop_map(Event::Wait),
    ]
}

fn turn_config() -> impl Strategy<Value = TurnConfig> {
    (0u64..600, 0u64..2000, 0u64..500, 0u64..1500, prop::option::of(0u64..600)).prop_map(|(h, w, b, k, e)| TurnConfig {
        hangover: Duration::from_millis(h),
        early_final: e.map(Duration::from_millis),
        final_wait: Duration::from_millis(w),
        barge_in_min_speech: Duration::from_millis(b),
        backchannel_max_speech: Duration::from_millis(k),
    })
}

proptest! {
    #[test]
    fn random_events_never_panic_and_decisions_move_forward(
        cfg in turn_config(),
        events in prop::collection::vec(event(), 0..400),
        punctual in any::<bool>(),
    ) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut tt = TurnTaker::new(cfg);
        let mut outputs = Vec::new();
        for ev in events {
            let input = match ev {
                Event::Frame { speech, ms } => {
                    now += Duration::from_millis(ms);
                    Input::VadFrame { speech, duration: Duration::from_millis(ms) }
                }
                Event::Partial(i) => Input::AsrPartial(WORDS[i].into()),
                Event::Final(i) => Input::AsrFinal(WORDS[i].into()),
                Event::Utterance(i) => Input::Utterance(WORDS[i].into()),
                Event::Started(utterance_id) => Input::AgentAudioStarted { utterance_id },
                Event::Played(utterance_id, chars_played) => Input::AgentAudioPlayed { utterance_id, chars_played },
                Event::Finished(utterance_id) => Input::AgentAudioFinished { utterance_id },
                Event::Wait(ms) => {
                    now += Duration::from_millis(ms);
                    Input::Timeout
                }
            };
            // A punctual driver fires timers when due; a lazy one only when
            // the next input comes. Both must be safe.
            if punctual {
                while let Some(due) = tt.poll_timeout().filter(|due| *due <= now) {
                    tt.handle(Input::Timeout, due);
                    outputs.extend(std::iter::from_fn(|| tt.poll_output()));
                }
            }
            tt.handle(input, now);
            outputs.extend(std::iter::from_fn(|| tt.poll_output()));
            if let Some(due) = tt.poll_timeout() {
                prop_assert!(due >= now, "a timer in the past after handling");
            }
        }
        let mut last_decision = t0;
        for (i, out) in outputs.iter().enumerate() {
            match out {
                Output::EndOfTurn { text, speech_started_at, last_voiced_at, speech_stopped_at, decided_at, .. } => {
                    prop_assert!(!text.is_empty());
                    prop_assert!(speech_started_at <= last_voiced_at && last_voiced_at <= speech_stopped_at && speech_stopped_at <= decided_at);
                    prop_assert!(*decided_at >= last_decision, "end-of-turn decisions went back in time");
                    last_decision = *decided_at;
                }
                Output::BargeIn { .. } => {
                    prop_assert!(matches!(outputs.get(i + 1), Some(Output::Interrupted { .. })), "a barge-in without its interrupted utterance");
                }
                _ => {}
            }
        }
    }
}
