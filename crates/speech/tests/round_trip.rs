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
use waihu_speech::{Asr, AsrError, AsrEvent, AsrSession, StreamingAsr, Transcript, Vad, VadFrame};
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

/// A line of hiss with `speech` on it after a second, and where the
/// speech's active part is on the line.
fn hissing_line(speech: &[i16]) -> (Vec<i16>, (usize, usize)) {
    let lead = samples(Duration::from_secs(1));
    let mut line = noise(lead, 30.0, 1);
    line.extend(speech.iter().zip(noise(speech.len(), 30.0, 2)).map(|(&s, n)| s.saturating_add(n)));
    line.extend(noise(samples(Duration::from_secs(3)), 30.0, 3));
    let (from, to) = active_span(speech);
    (line, (lead + from, lead + to))
}

/// What the listener found on the line.
#[derive(Default)]
struct Found {
    /// The utterance: from the pre-roll before its first voiced frame to
    /// the end of its last.
    cut: Option<(usize, usize)>,
    /// When the turn-taker said the speech stopped.
    stopped_at: Option<Instant>,
    /// The text the turn ended with.
    end_of_turn: Option<String>,
}

/// VAD, turn-taker and a recogniser's session, run over a line as the call
/// pipeline runs them.
struct Listener {
    vad: EarshotVad,
    turn: TurnTaker,
    session: AsrSession,
    frames: Vec<VadFrame>,
    /// Open utterance: where it starts and how far it was sent to the recogniser.
    open: Option<(usize, usize)>,
    last_voiced_end: usize,
    found: Found,
}

impl Listener {
    fn new(session: AsrSession) -> Self {
        Listener {
            vad: EarshotVad::default(),
            // The recogniser gets the utterance whole, when the run stops.
            turn: TurnTaker::new(TurnConfig { early_final: None, ..TurnConfig::default() }),
            session,
            frames: Vec::new(),
            open: None,
            last_voiced_end: 0,
            found: Found::default(),
        }
    }

    /// One media frame, handed over at `now`, after which the first
    /// `arrived` samples of `line` are in.
    fn hear(&mut self, media: &[i16], line: &[i16], arrived: usize, now: Instant) {
        for (out, f) in self.outputs(media, now) {
            self.on_output(out, f, &line[..arrived], now);
        }
        // While the callee speaks, the audio streams to the recogniser.
        if let Some((start, sent)) = self.open {
            self.session.input.push_pcm(&line[sent..arrived]);
            self.open = Some((start, arrived));
        }
    }

    /// What the turn-taker says after the frame's VAD frames and the
    /// recogniser's final, if it came, each with the VAD frame it came at.
    fn outputs(&mut self, media: &[i16], now: Instant) -> Vec<(Output, VadFrame)> {
        self.frames.clear();
        self.vad.push(media, &mut self.frames);
        let mut outputs = Vec::new();
        for f in &self.frames {
            self.turn.handle(Input::VadFrame { speech: f.speech, duration: f.duration }, now);
            if f.speech {
                self.last_voiced_end = samples(f.end());
            }
            while let Some(out) = self.turn.poll_output() {
                outputs.push((out, *f));
            }
        }
        // The recogniser's final goes to the turn-taker as soon as it comes.
        if let Ok(AsrEvent::Final(t)) = self.session.events.try_recv() {
            self.turn.handle(Input::AsrFinal(t.text), now);
            while let Some(out) = self.turn.poll_output() {
                outputs.push((out, self.frames[0]));
            }
        }
        outputs
    }

    /// Cuts the utterance as the pipeline does; `heard` is the line so far.
    fn on_output(&mut self, out: Output, f: VadFrame, heard: &[i16], now: Instant) {
        match out {
            Output::CalleeSpeechStarted { .. } => {
                assert!(self.found.cut.is_none() && self.open.is_none(), "the sentence is one speech run");
                let start = samples(f.start.saturating_sub(PRE_ROLL));
                self.open = Some((start, start));
            }
            Output::CalleeSpeechStopped { .. } => {
                let (start, sent) = self.open.take().expect("a run was open");
                self.session.input.push_pcm(&heard[sent..]);
                self.session.input.finalise();
                self.found.cut = Some((start, self.last_voiced_end));
                self.found.stopped_at = Some(now);
            }
            Output::EndOfTurn { text, .. } => self.found.end_of_turn = Some(text),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_utterance_cut_by_vad_and_turn_taking_covers_the_synthesised_speech() {
    let Some(tts) = espeak().await else { return };
    let speech = say(&tts, TASK_SENTENCE).await;
    let (line, (true_start, true_end)) = hissing_line(&speech);

    let recorder = Arc::new(Recorder::default());
    let asr = Buffered::new(recorder.clone());
    let mut listener = Listener::new(asr.start().await.unwrap());

    // Virtual time: media frame n is handed over at t0 + (n + 1) * 20 ms.
    let t0 = Instant::now();
    let at = |samples: usize| t0 + dur(samples);
    for (n, media) in line.chunks(FRAME_SAMPLES).enumerate() {
        let arrived = (n + 1) * FRAME_SAMPLES;
        listener.hear(media, &line, arrived, at(arrived));
        // Frames come every 20 ms in a call; here they come at once, so the
        // recogniser's tasks get their turn after each (or the session's
        // queue fills and drops audio, as it would for a stalled engine).
        tokio::task::yield_now().await;
        if listener.found.stopped_at.is_some() && listener.found.end_of_turn.is_none() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    let Found { cut, stopped_at, end_of_turn } = std::mem::take(&mut listener.found);
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
    assert_eq!(listener.session.input.dropped_samples(), 0);
}
