//! The simulated network with sound, against its contract: frames every
//! 20 ms from the answer, clips played and reported exactly once, and a
//! callee that answers what it heard through the recogniser, in its voice.
//! Test engines: a synthesiser that makes 100 ms of tone per character and
//! a recogniser that knows which line a clip of a given length carried.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::stream;
use waihu_carrier::sim::{SimCarrier, SimConfig, SimVoice};
use waihu_carrier::{Carrier, DialRequest, Leg, LegCommand, LegEvent};
use waihu_core::wire::VoiceInfo;
use waihu_core::PhoneNumber;
use waihu_speech::{Asr, AsrError, Transcript, Tts, TtsError, TtsRequest, TtsStream};

const MS_PER_CHAR: usize = 100;
const QUESTION: &str = "喂，您好，我是AI助理，请问是张总吗？";

struct ToneTts;

#[async_trait]
impl Tts for ToneTts {
    fn voices(&self) -> Vec<VoiceInfo> {
        vec![VoiceInfo { id: "tone".into(), name: "tone".into(), language: "zh-CN".into(), default: true }]
    }
    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, TtsError> {
        Ok(Box::pin(stream::iter([Ok(tone(req.text.chars().count()))])))
    }
}

fn tone(chars: usize) -> Vec<i16> {
    (0..chars * MS_PER_CHAR * 8).map(|i| if i % 20 < 10 { 5000 } else { -5000 }).collect()
}

/// Hears the identity question in a clip as long as it takes to say.
struct KnowsTheQuestion;

#[async_trait]
impl Asr for KnowsTheQuestion {
    fn name(&self) -> &str {
        "test"
    }
    async fn transcribe(&self, pcm: &[i16]) -> Result<Transcript, AsrError> {
        let chars = pcm.len() / (MS_PER_CHAR * 8);
        let text = if chars == QUESTION.chars().count() { QUESTION } else { "" };
        Ok(Transcript { text: text.into(), confidence: None })
    }
}

async fn dial(number: &str) -> Leg {
    let voice = SimVoice { tts: Arc::new(ToneTts), asr: Arc::new(KnowsTheQuestion), voice_id: None };
    let sim = SimCarrier::new(SimConfig { speed: 10.0, ..SimConfig::default() }).unwrap().with_voice(voice);
    assert!(sim.carries_audio());
    sim.dial(DialRequest { call_id: "t".into(), to: PhoneNumber::parse(number).unwrap(), audio: true }).await.unwrap()
}

async fn next(leg: &mut Leg) -> LegEvent {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), leg.events.recv()).await.expect("an event in time").expect("the leg is open");
        if !matches!(ev, LegEvent::Audio { .. }) {
            return ev;
        }
    }
}

async fn answered(leg: &mut Leg) {
    loop {
        match next(leg).await {
            LegEvent::Ringing => {}
            LegEvent::Answered => return,
            other => panic!("before the answer: {other:?}"),
        }
    }
}

fn loud(pcm: &[i16]) -> bool {
    pcm.iter().map(|s| i64::from(*s).abs()).sum::<i64>() / pcm.len() as i64 > 1000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callee_hears_the_question_and_answers_it_aloud() {
    let mut leg = dial("13800138000").await;
    leg.commands.send(LegCommand::Play { id: 1, pcm: Arc::from(tone(2)) }).await.unwrap();
    assert_eq!(next(&mut leg).await, LegEvent::PlayDone { id: 1, samples_played: 0, stopped: true }, "nothing is heard before the answer");
    answered(&mut leg).await;
    let question = tone(QUESTION.chars().count());
    leg.commands.send(LegCommand::Play { id: 2, pcm: Arc::from(question.clone()) }).await.unwrap();
    assert!(matches!(next(&mut leg).await, LegEvent::PlayStarted { id: 2, .. }));
    let started = Instant::now();
    assert_eq!(next(&mut leg).await, LegEvent::PlayDone { id: 2, samples_played: question.len(), stopped: false });
    let played_ms = started.elapsed().as_millis() as usize;
    let expected_ms = QUESTION.chars().count() * MS_PER_CHAR;
    assert!(played_ms + 40 >= expected_ms && played_ms <= expected_ms + 300, "played in real time: {played_ms} ms for {expected_ms} ms of audio");

    // Its answer comes as 20 ms frames of speech.
    let mut frames = 0u32;
    let mut voiced = 0u32;
    let mut gaps = Vec::new();
    let mut last: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(2), leg.events.recv()).await {
            Ok(Some(LegEvent::Audio { pcm, at })) => {
                assert_eq!(pcm.len(), 160);
                frames += 1;
                if let Some(l) = last {
                    gaps.push(at.duration_since(l));
                }
                last = Some(at);
                if loud(&pcm) {
                    voiced += 1;
                } else if voiced > 0 {
                    break;
                }
            }
            Ok(Some(other)) => panic!("unexpected {other:?}"),
            _ => break,
        }
    }
    // Its answer is whole characters of tone, every frame of them sent.
    assert!(voiced >= 15 && voiced % 5 == 0, "the callee said its line, whole: {voiced} voiced frames");
    gaps.sort();
    let median = gaps[gaps.len() / 2];
    assert!(median >= Duration::from_millis(15) && median <= Duration::from_millis(25), "a frame every 20 ms: median gap {median:?} over {frames} frames");
    leg.commands.send(LegCommand::HangUp).await.unwrap();
    assert!(matches!(next(&mut leg).await, LegEvent::Ended { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_cuts_the_clip_playing_and_answers_every_clip_once() {
    let mut leg = dial("13800138000").await;
    answered(&mut leg).await;
    leg.commands.send(LegCommand::Play { id: 1, pcm: Arc::from(tone(20)) }).await.unwrap();
    leg.commands.send(LegCommand::Play { id: 2, pcm: Arc::from(tone(5)) }).await.unwrap();
    assert!(matches!(next(&mut leg).await, LegEvent::PlayStarted { id: 1, .. }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    leg.commands.send(LegCommand::StopSaying).await.unwrap();
    match next(&mut leg).await {
        LegEvent::PlayDone { id: 1, samples_played, stopped: true } => {
            assert!((1600..=4000).contains(&samples_played), "about 300 ms went out: {samples_played} samples")
        }
        other => panic!("the clip playing is cut: {other:?}"),
    }
    assert_eq!(next(&mut leg).await, LegEvent::PlayDone { id: 2, samples_played: 0, stopped: true }, "the queued one is dropped");
    // A clip still queued when the call ends is answered before the end.
    leg.commands.send(LegCommand::Play { id: 3, pcm: Arc::from(tone(50)) }).await.unwrap();
    assert!(matches!(next(&mut leg).await, LegEvent::PlayStarted { id: 3, .. }));
    leg.commands.send(LegCommand::HangUp).await.unwrap();
    assert!(matches!(next(&mut leg).await, LegEvent::PlayDone { id: 3, stopped: true, .. }));
    assert!(matches!(next(&mut leg).await, LegEvent::Ended { .. }));
    assert!(leg.events.recv().await.is_none(), "nothing after Ended");
}

#[tokio::test]
async fn without_a_voice_the_network_refuses_audio_calls_and_says_why() {
    let sim = SimCarrier::new(SimConfig::default()).unwrap();
    assert!(!sim.carries_audio());
    let err = sim.dial(DialRequest { call_id: "t".into(), to: PhoneNumber::parse("13800138000").unwrap(), audio: true }).await.unwrap_err();
    assert!(err.to_string().contains("no voice"), "{err}");
}
