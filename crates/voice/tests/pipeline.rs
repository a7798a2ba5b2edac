//! The voice pipeline against a scripted audio leg, in real time, with test
//! engines: a VAD that hears energy, a recogniser that knows what a burst of
//! a given length says, and a synthesiser that makes 50 ms of tone per
//! character. The test plays the carrier: it sends 20 ms frames, plays the
//! pipeline's clips on its own 20 ms clock and reports them like a real leg.

#[path = "../../speech/tests/support/tone.rs"]
mod tone;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::stream;
use tokio::sync::mpsc;
use waihu_carrier::{AudioCommand, AudioEvent, AudioLeg, Signal, TextCommand, TextEvent};
use waihu_core::lifecycle::LegEnd;
use waihu_speech::asr::Buffered;
use waihu_speech::{Asr, AsrError, StreamingAsr, Transcript, Tts, TtsError, TtsRequest, TtsStream, Vad, VoiceInfo};
use waihu_turn::{SplitterConfig, TurnConfig};
use tone::EnergyVad;
use waihu_voice::{wrap, CallVoice, VoiceEngines, VoiceLeg};

const LOUD: i16 = 8000;

/// Long speech says "对，是我。"; a short burst is "嗯".
struct KnowsLengths;

#[async_trait]
impl Asr for KnowsLengths {
    fn name(&self) -> &str {
        "lengths"
    }
    async fn transcribe(&self, pcm: &[i16]) -> Result<Transcript, AsrError> {
        let voiced_ms = pcm.chunks(160).filter(|f| f.iter().any(|s| s.abs() > 1000)).count() * 20;
        let text = if voiced_ms >= 400 { "对，是我。" } else if voiced_ms > 0 { "嗯" } else { "" };
        Ok(Transcript { text: text.into(), confidence: None })
    }
}

/// 50 ms of tone per character, in one piece, after 30 ms.
struct ToneTts;

#[async_trait]
impl Tts for ToneTts {
    fn voices(&self) -> Vec<VoiceInfo> {
        vec![VoiceInfo { id: "tone".into(), name: "tone".into(), language: "zh-CN".into(), default: true }]
    }
    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, TtsError> {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let samples = req.text.chars().count() * 400;
        let pcm: Vec<i16> = (0..samples).map(|i| if i % 16 < 8 { 3000 } else { -3000 }).collect();
        Ok(Box::pin(stream::iter([Ok(pcm)])))
    }
}

fn engines() -> Arc<VoiceEngines> {
    let asr: Arc<dyn StreamingAsr> = Arc::new(Buffered::new(Arc::new(KnowsLengths)));
    Arc::new(VoiceEngines {
        vad: Arc::new(|| -> Box<dyn Vad> { Box::new(EnergyVad::default()) }),
        asr: Arc::new(move |_hint: &str| asr.clone()),
        tts: Arc::new(ToneTts),
        turn: TurnConfig { hangover: Duration::from_millis(200), ..TurnConfig::default() },
        splitter: SplitterConfig::default(),
    })
}

/// What the scripted far end says, frame by frame.
#[derive(Clone, Copy)]
enum Say {
    Quiet(u32),
    Speak(u32),
}

/// Plays the carrier's part: answers, sends the script's frames every 20 ms
/// (silence after it), plays clips on the same clock. Returns what it saw.
struct FarEnd {
    /// (clip id, when its first frame went, when its last went, stopped).
    clips: Vec<(u64, Instant, Option<Instant>, bool)>,
    stop_commands: Vec<Instant>,
    speech_starts: Vec<Instant>,
}

async fn far_end(mut commands: mpsc::Receiver<AudioCommand>, events: mpsc::Sender<AudioEvent>, script: Vec<Say>, total_ms: u64) -> FarEnd {
    let mut seen = FarEnd { clips: Vec::new(), stop_commands: Vec::new(), speech_starts: Vec::new() };
    events.send(AudioEvent::Signal(Signal::Answered)).await.unwrap();
    let mut frames: Vec<bool> = Vec::new();
    for s in script {
        match s {
            Say::Quiet(ms) => frames.extend(std::iter::repeat_n(false, ms as usize / 20)),
            Say::Speak(ms) => frames.extend(std::iter::repeat_n(true, ms as usize / 20)),
        }
    }
    let mut queue: std::collections::VecDeque<(u64, Arc<[i16]>, usize)> = Default::default();
    let mut clock = tokio::time::interval(Duration::from_millis(20));
    let start = Instant::now();
    let mut n = 0usize;
    let mut was_loud = false;
    while start.elapsed() < Duration::from_millis(total_ms) {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(AudioCommand::Play { id, pcm }) => queue.push_back((id, pcm, 0)),
                Some(AudioCommand::StopPlaying) => {
                    seen.stop_commands.push(Instant::now());
                    // At the next frame, like the media session.
                    clock.tick().await;
                    for (id, _, pos) in queue.drain(..) {
                        if let Some(c) = seen.clips.iter_mut().find(|c| c.0 == id) {
                            c.2 = Some(Instant::now());
                            c.3 = true;
                        }
                        events.send(AudioEvent::PlayDone { id, samples_played: pos, stopped: true }).await.unwrap();
                    }
                }
                Some(AudioCommand::HangUp | AudioCommand::Cancel) | None => break,
            },
            _ = clock.tick() => {
                let now = Instant::now();
                let loud = frames.get(n).copied().unwrap_or(false);
                if loud && !was_loud {
                    seen.speech_starts.push(now);
                }
                was_loud = loud;
                n += 1;
                let pcm: Arc<[i16]> = Arc::from(vec![if loud { LOUD } else { 0 }; 160]);
                let _ = events.try_send(AudioEvent::Audio { pcm, at: now });
                if let Some((id, pcm, pos)) = queue.front_mut() {
                    if *pos == 0 {
                        seen.clips.push((*id, now, None, false));
                        events.send(AudioEvent::PlayStarted { id: *id, at: now }).await.unwrap();
                    }
                    *pos = (*pos + 160).min(pcm.len());
                    if *pos == pcm.len() {
                        let (id, _, pos) = queue.pop_front().unwrap();
                        if let Some(c) = seen.clips.iter_mut().find(|c| c.0 == id) {
                            c.2 = Some(now);
                        }
                        events.send(AudioEvent::PlayDone { id, samples_played: pos, stopped: false }).await.unwrap();
                    }
                }
            }
        }
    }
    let _ = events.send(AudioEvent::Signal(Signal::Ended { end: LegEnd::RemoteHangup, provider_response: "BYE".into() })).await;
    seen
}

fn voice_leg(script: Vec<Say>, total_ms: u64) -> (VoiceLeg, tokio::task::JoinHandle<FarEnd>) {
    let (events_tx, events) = mpsc::channel(256);
    let (commands, commands_rx) = mpsc::channel(64);
    let far = tokio::spawn(far_end(commands_rx, events_tx, script, total_ms));
    let leg = wrap(AudioLeg { events, commands }, engines(), CallVoice { speed: 50, volume: 50, ..CallVoice::default() });
    (leg, far)
}

async fn next(leg: &mut VoiceLeg) -> TextEvent {
    tokio::time::timeout(Duration::from_secs(5), leg.leg.events.recv()).await.expect("an event in time").expect("the leg is open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_is_heard_answered_from_its_first_clause_and_its_latency_split() {
    let (mut leg, far) = voice_leg(vec![Say::Quiet(200), Say::Speak(600)], 4000);
    assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Answered));
    assert_eq!(next(&mut leg).await, TextEvent::SpeechStarted);
    assert_eq!(next(&mut leg).await, TextEvent::Heard("对，是我。".into()));
    // The dialogue streams its reply; the first clause is said before the rest exists.
    leg.leg.commands.send(TextCommand::SayPart { id: 1, text: "好的，".into(), last: false }).await.unwrap();
    let latency = tokio::time::timeout(Duration::from_secs(5), leg.turns.recv()).await.expect("the turn's latency in time").expect("one per turn");
    leg.leg.commands.send(TextCommand::SayPart { id: 1, text: "明天上午九点开会。".into(), last: true }).await.unwrap();
    let parts = latency.endpointing_ms + latency.asr_ms + latency.dialogue_first_token_ms + latency.first_clause_ms + latency.tts_first_audio_ms + latency.overhead_ms;
    assert!((parts - latency.total_ms).abs() < 0.01, "{latency:?}");
    assert!(latency.endpointing_ms >= 190.0 && latency.endpointing_ms < 260.0, "the 200 ms hangover: {latency:?}");
    assert!(latency.tts_first_audio_ms >= 29.0, "the engine's 30 ms: {latency:?}");
    assert!(latency.overhead_ms < 25.0, "our own time is at most about a frame: {latency:?}");
    match next(&mut leg).await {
        TextEvent::SayDone { id: 1, played_chars, stopped: false } => assert_eq!(played_chars, 12),
        other => panic!("the line is said whole: {other:?}"),
    }
    let seen = far.await.unwrap();
    assert_eq!(seen.clips.len(), 2, "one clip per chunk: the first clause, then the sentence");
    assert!(seen.stop_commands.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talking_over_the_ai_stops_it_within_a_frame_of_the_decision() {
    // The AI speaks from the start; 400 ms in, the callee talks for 800 ms.
    let (mut leg, far) = voice_leg(vec![Say::Quiet(400), Say::Speak(800)], 4000);
    assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Answered));
    leg.leg.commands.send(TextCommand::Say { id: 1, text: "您好，我是人工智能助理，请问是张总吗？有件事想跟您说一下。".into() }).await.unwrap();
    assert_eq!(next(&mut leg).await, TextEvent::SpeechStarted);
    let (played_chars, stopped) = match next(&mut leg).await {
        TextEvent::SayDone { id: 1, played_chars, stopped } => (played_chars, stopped),
        other => panic!("the AI's line is cut: {other:?}"),
    };
    assert!(stopped);
    assert!(played_chars > 0 && played_chars < 20, "only what was played counts: {played_chars}");
    assert_eq!(next(&mut leg).await, TextEvent::Heard("对，是我。".into()));
    let seen = far.await.unwrap();
    let talk = seen.speech_starts[0];
    let stopped_at = seen.clips.iter().filter_map(|c| c.2).max().expect("a clip ended");
    let ms = stopped_at.duration_since(talk).as_millis();
    // Decided on the 12th 20 ms frame (220 ms after the first), stopped at
    // the next frame; a tick's own jitter either way.
    assert!((200..=300).contains(&ms), "230 ms of speech, then the next frame: stopped {ms} ms after the callee started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_acknowledgement_does_not_stop_the_ai() {
    let (mut leg, far) = voice_leg(vec![Say::Quiet(200), Say::Speak(160)], 3500);
    assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Answered));
    leg.leg.commands.send(TextCommand::Say { id: 1, text: "明天上午九点在三楼开会，记得带材料。".into() }).await.unwrap();
    assert_eq!(next(&mut leg).await, TextEvent::SpeechStarted);
    match next(&mut leg).await {
        TextEvent::SayDone { id: 1, played_chars, stopped: false } => assert_eq!(played_chars, 18),
        other => panic!("the line plays to its end over 嗯: {other:?}"),
    }
    assert!(far.await.unwrap().stop_commands.is_empty());
}

#[tokio::test]
async fn a_line_before_the_answer_is_not_heard() {
    let (events_tx, events) = mpsc::channel(8);
    let (commands, _commands_rx) = mpsc::channel(8);
    let mut leg = wrap(AudioLeg { events, commands }, engines(), CallVoice::default());
    leg.leg.commands.send(TextCommand::Say { id: 7, text: "喂？".into() }).await.unwrap();
    assert_eq!(next(&mut leg).await, TextEvent::SayDone { id: 7, played_chars: 0, stopped: true });
    events_tx.send(AudioEvent::Signal(Signal::Ended { end: LegEnd::Failed, provider_response: "486".into() })).await.unwrap();
    assert!(matches!(next(&mut leg).await, TextEvent::Signal(Signal::Ended { .. })));
}
