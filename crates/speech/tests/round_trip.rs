//! TTS -> VAD -> turn-taking -> utterance cut -> streaming ASR session, as
//! the call pipeline will run them: espeak-ng says the task sentence on a
//! hissing line, earshot and the turn-taker find the utterance, and the cut
//! they give covers all of the synthesised speech.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::{active_span, dur, espeak, noise, samples, say, TASK_SENTENCE};
use waihu_speech::asr::Buffered;
use waihu_speech::pcm::FRAME_SAMPLES;
use waihu_speech::vad::EarshotVad;
use waihu_speech::{Asr, AsrError, AsrEvent, StreamingAsr, Transcript, Vad, VadFrame};
use waihu_turn::{Input, Output, TurnConfig, TurnTaker};

/// Audio kept from before the first voiced frame: earshot fires a little
/// after a soft onset, and recognisers want the consonant.
const PRE_ROLL: Duration = Duration::from_millis(200);

/// A recogniser that hears what it is given and answers the sentence.
#[derive(Default)]
struct Recorder {
    heard: Mutex<Vec<usize>>,
}

#[async_trait]
impl Asr for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    async fn transcribe(&self, pcm8k: &[i16]) -> Result<Transcript, AsrError> {
        self.heard.lock().unwrap().push(pcm8k.len());
        Ok(Transcript { text: TASK_SENTENCE.into(), confidence: None })
    }
}

#[tokio::test]
async fn the_utterance_cut_by_vad_and_turn_taking_covers_the_synthesised_speech() {
    let Some(tts) = espeak().await else { return };
    let speech = say(&tts, TASK_SENTENCE).await;
    let lead = samples(Duration::from_secs(1));
    let mut line = noise(lead, 30.0, 1);
    line.extend(speech.iter().zip(noise(speech.len(), 30.0, 2)).map(|(&s, n)| s.saturating_add(n)));
    line.extend(noise(samples(Duration::from_secs(3)), 30.0, 3));
    let (from, to) = active_span(&speech);
    let (true_start, true_end) = (lead + from, lead + to);

    let recorder = Arc::new(Recorder::default());
    let asr = Buffered::new(recorder.clone());
    let mut session = asr.start().await.unwrap();
    let mut vad = EarshotVad::default();
    // The recogniser gets the utterance whole, when the run stops.
    let mut turn = TurnTaker::new(TurnConfig { early_final: None, ..TurnConfig::default() });

    // Virtual time: media frame n is handed over at t0 + (n + 1) * 20 ms.
    let t0 = Instant::now();
    let at = |samples: usize| t0 + dur(samples);
    let mut frames: Vec<VadFrame> = Vec::new();
    // Open utterance: where it starts and how far it was sent to the recogniser.
    let mut open: Option<(usize, usize)> = None;
    let mut cut: Option<(usize, usize)> = None;
    let mut last_voiced_end = 0;
    let mut stopped_at = None;
    let mut end_of_turn = None;
    for (n, media) in line.chunks(FRAME_SAMPLES).enumerate() {
        let now = at((n + 1) * FRAME_SAMPLES);
        let arrived = (n + 1) * FRAME_SAMPLES;
        frames.clear();
        vad.push(media, &mut frames);
        let mut outputs = Vec::new();
        for f in &frames {
            turn.handle(Input::VadFrame { speech: f.speech, duration: f.duration }, now);
            if f.speech {
                last_voiced_end = samples(f.end());
            }
            while let Some(out) = turn.poll_output() {
                outputs.push((out, *f));
            }
        }
        // The recogniser's final goes to the turn-taker as soon as it comes.
        if let Ok(AsrEvent::Final(t)) = session.events.try_recv() {
            turn.handle(Input::AsrFinal(t.text), now);
            while let Some(out) = turn.poll_output() {
                outputs.push((out, frames[0]));
            }
        }
        for (out, f) in outputs {
            match out {
                Output::CalleeSpeechStarted { .. } => {
                    assert!(cut.is_none() && open.is_none(), "the sentence is one speech run");
                    let start = samples(f.start.saturating_sub(PRE_ROLL));
                    open = Some((start, start));
                }
                Output::CalleeSpeechStopped { .. } => {
                    let (start, sent) = open.take().expect("a run was open");
                    session.input.push_pcm(&line[sent..arrived]);
                    session.input.finalise();
                    cut = Some((start, last_voiced_end));
                    stopped_at = Some(now);
                }
                Output::EndOfTurn { text, .. } => end_of_turn = Some(text),
                other => panic!("unexpected {other:?}"),
            }
        }
        // While the callee speaks, the audio streams to the recogniser.
        if let Some((start, sent)) = open {
            session.input.push_pcm(&line[sent..arrived]);
            open = Some((start, arrived));
        }
        // Frames come every 20 ms in a call; here they come at once, so the
        // recogniser's tasks get their turn after each (or the session's
        // queue fills and drops audio, as it would for a stalled engine).
        tokio::task::yield_now().await;
        if stopped_at.is_some() && end_of_turn.is_none() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    let (start, end) = cut.expect("speech was found, and its end");
    println!(
        "round trip: speech {:?}..{:?}, utterance cut {:?}..{:?} ({:+} ms / {:+} ms); end of speech -> CalleeSpeechStopped {:?}",
        dur(true_start),
        dur(true_end),
        dur(start),
        dur(end),
        start as i64 / 8 - true_start as i64 / 8,
        end as i64 / 8 - true_end as i64 / 8,
        stopped_at.unwrap() - at(true_end)
    );
    assert!(start <= true_start, "the cut starts after the speech");
    assert!(end >= true_end, "the cut ends before the speech");
    assert!(true_start - start <= samples(PRE_ROLL + Duration::from_millis(100)), "too much before");
    assert!(end - true_end <= samples(Duration::from_millis(400)), "too much after");

    // The recogniser got the audio from the cut's start to the stop
    // (hangover included), once, and its final ended the turn.
    let heard = recorder.heard.lock().unwrap().clone();
    assert_eq!(heard.len(), 1);
    assert!(heard[0] >= end - start, "heard {} samples of a {}-sample cut", heard[0], end - start);
    let text = end_of_turn.expect("the turn ended");
    assert_eq!(text, TASK_SENTENCE);
    assert_eq!(session.input.dropped_samples(), 0);
}
