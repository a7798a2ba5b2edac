//! The simulated network in audio mode, against the leg contract: the
//! callee's frames every 20 ms from the answer, the AI's clips played back
//! to back and each answered once, and callees that answer what they made
//! out of the AI's audio, in their own voice.
//!
//! The engines are exact fakes: [`ToneTts`] says each character as two
//! 20 ms tones whose loudness spells its code point, and [`ToneAsr`] reads
//! them back. One test speaks through the real espeak-ng (skipped, saying
//! so, when it is not installed).

#[path = "../../speech/tests/support/tone.rs"]
mod tone;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tone::{decode, decode_symbols, encode, symbol, ToneAsr, ToneTts, SYMBOL};
use waihu_carrier::sim::{SimCarrier, SimConfig, SimVoice};
use waihu_carrier::{AudioCommand, AudioEvent, AudioLeg, Carrier, CarrierError, DialRequest, Signal, TextCommand, TextEvent};
use waihu_core::lifecycle::LegEnd;
use waihu_core::PhoneNumber;
use waihu_speech::Tts;

const QUESTION: &str = "喂，您好，我是王经理的AI助理，请问是张总吗？";
const CONTENT: &str = "张总您好，王经理让我通知您，明天上午9点有个会议，请您准时参加。您看时间可以吗？";
const CONFIRM: &str = "对，是我，什么事？";

#[test]
fn the_test_codec_round_trips() {
    assert_eq!(decode(&encode(QUESTION)), QUESTION);
    assert_eq!(decode(&encode(CONTENT)[..SYMBOL * 5 + 17]), "张总", "a cut clip reads as its whole characters");
}

/// The callees' voice: a character per chunk, 30 ms after it is asked.
fn tone_tts() -> ToneTts {
    ToneTts { delay: Duration::from_millis(30), per_character: true }
}

/// The callees' ears: 20 ms an utterance.
fn tone_asr() -> ToneAsr {
    ToneAsr::new(Duration::from_millis(20))
}

// --- a call under test --------------------------------------------------------

/// One thing the callee said: consecutive voiced frames.
#[derive(Debug)]
struct Utterance {
    text: String,
    bytes: Vec<u32>,
    first: Instant,
    last: Instant,
}

struct Call {
    leg: AudioLeg,
    asr: Arc<ToneAsr>,
    /// When each audio frame was handed over.
    frames: Vec<Instant>,
    /// Frames of silence seen, and their loudest sample.
    quiet_frames: usize,
    quiet_peak: u16,
    quiet_nonzero: usize,
    said: Vec<Utterance>,
    speaking: Option<Utterance>,
    /// Events read while waiting for speech, not yet taken.
    stash: std::collections::VecDeque<AudioEvent>,
}

fn sim_with(tts: Arc<dyn Tts>, asr: Arc<ToneAsr>) -> SimCarrier {
    let voice = SimVoice { tts, asr, voice_id: None };
    SimCarrier::new(SimConfig { speed: 10.0, ..SimConfig::default() }).unwrap().with_voice(voice)
}

fn request(number: &str) -> DialRequest {
    DialRequest { call_id: "t".into(), to: PhoneNumber::parse(number).unwrap() }
}

impl Call {
    async fn dial(number: &str) -> Call {
        let asr = Arc::new(tone_asr());
        let sim = sim_with(Arc::new(tone_tts()), asr.clone());
        assert!(sim.carries_audio());
        Call::on(sim.dial_audio(request(number)).await.unwrap(), asr)
    }

    fn on(leg: AudioLeg, asr: Arc<ToneAsr>) -> Call {
        Call {
            leg,
            asr,
            frames: Vec::new(),
            quiet_frames: 0,
            quiet_peak: 0,
            quiet_nonzero: 0,
            said: Vec::new(),
            speaking: None,
            stash: Default::default(),
        }
    }

    /// Reads one event; frames are taken in here, others handed back.
    async fn pump(&mut self) -> Option<AudioEvent> {
        let ev = tokio::time::timeout(Duration::from_secs(10), self.leg.events.recv())
            .await
            .expect("an event within 10 s")
            .expect("the leg is open");
        match ev {
            AudioEvent::Audio { pcm, at } => {
                assert_eq!(pcm.len(), 160, "20 ms frames");
                self.frames.push(at);
                match symbol(&pcm) {
                    Some(byte) => {
                        let u = self.speaking.get_or_insert(Utterance { text: String::new(), bytes: Vec::new(), first: at, last: at });
                        u.bytes.push(byte);
                        u.last = at;
                    }
                    None => {
                        self.quiet_frames += 1;
                        self.quiet_peak = self.quiet_peak.max(pcm.iter().map(|s| s.unsigned_abs()).max().unwrap());
                        self.quiet_nonzero += pcm.iter().filter(|s| **s != 0).count();
                        self.close_utterance();
                    }
                }
                None
            }
            AudioEvent::Signal(Signal::Ended { .. }) => {
                self.close_utterance();
                Some(ev)
            }
            other => Some(other),
        }
    }

    fn close_utterance(&mut self) {
        if let Some(mut u) = self.speaking.take() {
            u.text = decode_symbols(&u.bytes);
            self.said.push(u);
        }
    }

    /// The next event that is not a frame.
    async fn next(&mut self) -> AudioEvent {
        if let Some(ev) = self.stash.pop_front() {
            return ev;
        }
        loop {
            if let Some(ev) = self.pump().await {
                return ev;
            }
        }
    }

    /// Waits until the callee has said `n` things; returns the last.
    async fn said(&mut self, n: usize) -> &Utterance {
        while self.said.len() < n {
            if let Some(ev) = self.pump().await {
                self.stash.push_back(ev);
            }
        }
        &self.said[n - 1]
    }

    /// Waits for the callee's voice.
    async fn voice(&mut self) -> Instant {
        loop {
            if let Some(u) = &self.speaking {
                return u.first;
            }
            if let Some(ev) = self.pump().await {
                self.stash.push_back(ev);
            }
        }
    }

    /// Reads for `d`, expecting frames only.
    async fn only_frames_for(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if let Some(ev) = self.pump().await {
                panic!("only frames expected, got {ev:?}");
            }
        }
    }

    async fn answered(&mut self) {
        assert_eq!(self.next().await, AudioEvent::Signal(Signal::Ringing));
        assert_eq!(self.next().await, AudioEvent::Signal(Signal::Answered));
    }

    async fn send(&self, command: AudioCommand) {
        self.leg.commands.send(command).await.unwrap();
    }

    async fn play(&self, id: u64, text: &str) -> usize {
        let pcm = encode(text);
        let len = pcm.len();
        self.send(AudioCommand::Play { id, pcm: pcm.into() }).await;
        len
    }

    /// Plays `text` whole: returns when its `PlayStarted` and `PlayDone`.
    async fn play_whole(&mut self, id: u64, text: &str) -> (Instant, Instant) {
        let len = self.play(id, text).await;
        let AudioEvent::PlayStarted { id: started, at } = self.next().await else { panic!("PlayStarted first") };
        assert_eq!(started, id);
        assert_eq!(self.next().await, AudioEvent::PlayDone { id, samples_played: len, stopped: false });
        (at, Instant::now())
    }

    fn heard_by_callee(&self) -> Vec<String> {
        self.asr.heard.lock().unwrap().clone()
    }

    async fn assert_closed(&mut self) {
        let end = tokio::time::timeout(Duration::from_secs(5), self.leg.events.recv()).await;
        assert!(matches!(end, Ok(None)), "the events channel closes after Ended: {end:?}");
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

// --- the tests ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooperative_callee_answers_what_it_heard_in_frames_every_20_ms() {
    let mut call = Call::dial("13800138000").await;
    call.answered().await;
    let answered_at = Instant::now();
    call.only_frames_for(Duration::from_millis(300)).await;
    assert!(call.quiet_frames >= 10 && call.said.is_empty());
    assert!(call.quiet_peak <= 2 && call.quiet_nonzero > 0, "between utterances: a faint hiss, not digital zero");

    let (_, question_done) = call.play_whole(1, QUESTION).await;
    let confirm = call.said(1).await;
    assert_eq!(confirm.text, CONFIRM, "the callee answers the question it made out");
    let pause = confirm.first.duration_since(question_done);
    assert!(pause >= Duration::from_millis(280) && pause < Duration::from_secs(3), "it speaks after the AI's pause: {pause:?}");
    let spoken = confirm.last.duration_since(confirm.first);
    let expected = Duration::from_millis(20 * 2 * (CONFIRM.chars().count() as u64 - 1) + 20);
    assert!(spoken + Duration::from_millis(40) >= expected && spoken <= expected + Duration::from_millis(200), "{spoken:?} of speech");

    call.play_whole(2, "王经理让我通知您，明天上午9点开会。").await;
    assert_eq!(call.said(2).await.text, "好的，知道了。");
    assert_eq!(call.heard_by_callee(), [QUESTION, "王经理让我通知您，明天上午9点开会。"]);

    call.send(AudioCommand::HangUp).await;
    assert_eq!(call.next().await, AudioEvent::Signal(Signal::Ended { end: LegEnd::Released, provider_response: "BYE (simulated)".into() }));
    call.assert_closed().await;

    // A frame every 20 ms from the answer, none lost.
    let (first, last) = (call.frames[0], *call.frames.last().unwrap());
    assert!(first.duration_since(answered_at) < Duration::from_millis(100), "frames start with the answer");
    let expected = (last.duration_since(first).as_secs_f64() / 0.020).round() as usize + 1;
    let got = call.frames.len();
    assert!(got.abs_diff(expected) <= 3, "{got} frames over {} ms", ms(last.duration_since(first)));
    let mut gaps: Vec<_> = call.frames.windows(2).map(|w| w[1].duration_since(w[0])).collect();
    gaps.sort();
    let median = gaps[gaps.len() / 2];
    assert!((15..=25).contains(&ms(median)), "median gap {median:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clips_play_back_to_back_in_order_and_each_is_answered_once() {
    let mut call = Call::dial("13000000009").await; // silent
    call.answered().await;
    let lens = [250usize, 0, 330, 1600];
    for (i, len) in lens.iter().enumerate() {
        call.send(AudioCommand::Play { id: i as u64 + 1, pcm: vec![3000i16; *len].into() }).await;
    }
    let mut events = Vec::new();
    while events.len() < 7 {
        events.push(call.next().await);
    }
    let started = |ev: &AudioEvent| match ev {
        AudioEvent::PlayStarted { id, at } => Some((*id, *at)),
        _ => None,
    };
    let order: Vec<String> = events
        .iter()
        .map(|ev| match ev {
            AudioEvent::PlayStarted { id, .. } => format!("started {id}"),
            AudioEvent::PlayDone { id, samples_played, stopped } => format!("done {id} {samples_played} {stopped}"),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        order,
        ["started 1", "done 1 250 false", "done 2 0 false", "started 3", "done 3 330 false", "started 4", "done 4 1600 false"],
        "an empty clip is answered in its turn, without starting"
    );
    // Clip 4 starts at sample 580 of the stream: in its fourth frame.
    let s1 = started(&events[0]).unwrap().1;
    let s4 = started(&events[5]).unwrap().1;
    let offset = s4.duration_since(s1);
    assert!((40..=200).contains(&ms(offset)), "gapless: clip 4 starts {offset:?} after clip 1");
    call.only_frames_for(Duration::from_millis(200)).await;
    call.send(AudioCommand::HangUp).await;
    assert!(matches!(call.next().await, AudioEvent::Signal(Signal::Ended { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_cuts_the_clip_playing_and_drops_the_queued_ones() {
    let mut call = Call::dial("13000000009").await;
    call.answered().await;
    call.send(AudioCommand::Play { id: 1, pcm: vec![3000i16; 16_000].into() }).await;
    call.send(AudioCommand::Play { id: 2, pcm: vec![3000i16; 8000].into() }).await;
    assert!(matches!(call.next().await, AudioEvent::PlayStarted { id: 1, .. }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    call.send(AudioCommand::StopPlaying).await;
    match call.next().await {
        AudioEvent::PlayDone { id: 1, samples_played, stopped: true } => {
            assert!((1600..=6400).contains(&samples_played) && samples_played % 160 == 0, "about 300 ms: {samples_played}")
        }
        other => panic!("the clip playing is cut: {other:?}"),
    }
    assert_eq!(call.next().await, AudioEvent::PlayDone { id: 2, samples_played: 0, stopped: true }, "the queue is dropped");
    // Nothing plays any more; stopping again does nothing.
    call.send(AudioCommand::StopPlaying).await;
    call.only_frames_for(Duration::from_millis(200)).await;
    // The leg plays on.
    call.play_whole(3, "好的").await;
    call.send(AudioCommand::HangUp).await;
    assert!(matches!(call.next().await, AudioEvent::Signal(Signal::Ended { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_answer_nothing_is_heard() {
    let mut call = Call::dial("13800138000").await;
    call.send(AudioCommand::Play { id: 1, pcm: encode(QUESTION).into() }).await;
    assert_eq!(call.next().await, AudioEvent::PlayDone { id: 1, samples_played: 0, stopped: true });
    call.answered().await;
    call.only_frames_for(Duration::from_millis(1500)).await;
    assert!(call.said.is_empty() && call.heard_by_callee().is_empty(), "nothing was heard, so nothing is answered");
    call.send(AudioCommand::HangUp).await;
    assert!(matches!(call.next().await, AudioEvent::Signal(Signal::Ended { end: LegEnd::Released, .. })));
    call.assert_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_up_answers_every_clip_before_ended() {
    let mut call = Call::dial("13800138000").await;
    call.answered().await;
    call.play(1, CONTENT).await;
    call.play(2, QUESTION).await;
    assert!(matches!(call.next().await, AudioEvent::PlayStarted { id: 1, .. }));
    tokio::time::sleep(Duration::from_millis(100)).await;
    call.send(AudioCommand::HangUp).await;
    assert!(matches!(call.next().await, AudioEvent::PlayDone { id: 1, samples_played: 1.., stopped: true }));
    assert_eq!(call.next().await, AudioEvent::PlayDone { id: 2, samples_played: 0, stopped: true });
    assert_eq!(call.next().await, AudioEvent::Signal(Signal::Ended { end: LegEnd::Released, provider_response: "BYE (simulated)".into() }));
    call.assert_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wrong_person_says_so_and_hangs_up_after_its_last_word() {
    let mut call = Call::dial("13000000001").await;
    call.answered().await;
    call.play_whole(1, QUESTION).await;
    assert_eq!(call.said(1).await.text, "不是，你打错了。");
    call.play_whole(2, CONTENT).await;
    assert_eq!(call.next().await, AudioEvent::Signal(Signal::Ended { end: LegEnd::RemoteHangup, provider_response: "BYE from callee (simulated)".into() }));
    let ended = Instant::now();
    let last_word = call.said.last().expect("it spoke before hanging up");
    assert_eq!(last_word.text, "你打错了，我挂了啊。", "its last line is heard whole before the BYE");
    assert!(ended >= last_word.last + Duration::from_millis(40), "the BYE comes 0.4 s (simulated) after its last word");
    assert_eq!(call.heard_by_callee(), [QUESTION, CONTENT]);
    call.assert_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callee_that_talks_over_starts_speaking_while_the_clip_still_plays() {
    let mut call = Call::dial("13000000008").await;
    call.answered().await;
    call.play_whole(1, QUESTION).await;
    assert_eq!(call.said(1).await.text, CONFIRM);
    // 41 characters: 1.64 s. As on a text leg it cuts in 1 s in, or
    // half-way into a line shorter than 2 s: here 0.82 s in.
    let len = call.play(2, CONTENT).await;
    let AudioEvent::PlayStarted { id: 2, at: started } = call.next().await else { panic!("PlayStarted") };
    let voice = call.voice().await;
    let into = voice.duration_since(started);
    assert!((800..1300).contains(&ms(into)), "talks over half-way into the clip: {into:?}");
    assert_eq!(call.next().await, AudioEvent::PlayDone { id: 2, samples_played: len, stopped: false }, "while the clip still played");
    assert_eq!(call.said(2).await.text, "等一下，你说几点？");
    // Its question was its answer to the clip: it now waits for the AI.
    call.only_frames_for(Duration::from_millis(800)).await;
    assert_eq!(call.said.len(), 2);
    call.play_whole(3, "是明天上午9点。").await;
    assert_eq!(call.said(3).await.text, "好的，知道了。");
    call.send(AudioCommand::HangUp).await;
    assert!(matches!(call.next().await, AudioEvent::Signal(Signal::Ended { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledger_stopped_at_its_nod_invites_the_ai_to_go_on() {
    let mut call = Call::dial("13000000013").await;
    call.answered().await;
    call.play_whole(1, QUESTION).await;
    assert_eq!(call.said(1).await.text, CONFIRM);
    call.play(2, CONTENT).await;
    assert!(matches!(call.next().await, AudioEvent::PlayStarted { id: 2, .. }));
    // A naive barge-in: the AI stops at the first sound of the callee.
    call.voice().await;
    call.send(AudioCommand::StopPlaying).await;
    assert!(matches!(call.next().await, AudioEvent::PlayDone { id: 2, stopped: true, .. }));
    assert_eq!(call.said(2).await.text, "嗯");
    assert_eq!(call.said(3).await.text, "嗯，你说。", "cut off, it lets the AI go on");
    let heard = call.heard_by_callee();
    let part = heard.last().unwrap();
    assert!(!part.is_empty() && CONTENT.starts_with(part.as_str()) && part.len() < CONTENT.len(), "it heard the start only: {part}");
    call.send(AudioCommand::HangUp).await;
    assert!(matches!(call.next().await, AudioEvent::Signal(Signal::Ended { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_loses_frames_but_the_clock_keeps_time() {
    let mut call = Call::dial("13000000009").await;
    call.answered().await;
    // Nobody reads for two seconds; a clip is sent half-way.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let asked = Instant::now();
    let len = call.play(1, "你好").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut frames = 0;
    let mut clip = Vec::new();
    while let Ok(ev) = call.leg.events.try_recv() {
        match ev {
            AudioEvent::Audio { .. } => frames += 1,
            other => clip.push(other),
        }
    }
    assert!((50..=57).contains(&frames), "frames filled the channel but for the room kept for other events: {frames}");
    // The clip played on time all the same, and was reported.
    let [AudioEvent::PlayStarted { id: 1, at }, AudioEvent::PlayDone { id: 1, samples_played, stopped: false }] = clip.as_slice() else {
        panic!("the clip's events, not lost: {clip:?}")
    };
    assert_eq!(*samples_played, len);
    assert!(at.duration_since(asked) < Duration::from_millis(100), "it started {:?} after it was sent", at.duration_since(asked));
    // The next frames are fresh and on time.
    let reading = Instant::now();
    call.only_frames_for(Duration::from_millis(500)).await;
    let fresh = call.frames[0];
    assert!(fresh + Duration::from_millis(40) >= reading, "no backlog replayed");
    let span = call.frames.last().unwrap().duration_since(fresh);
    let expected = (span.as_secs_f64() / 0.020).round() as usize + 1;
    assert!(call.frames.len().abs_diff(expected) <= 3, "{} frames in {span:?}", call.frames.len());
    call.send(AudioCommand::HangUp).await;
    assert!(matches!(call.next().await, AudioEvent::Signal(Signal::Ended { .. })));
}

#[tokio::test]
async fn without_voice_engines_audio_calls_are_refused_and_text_calls_go_on() {
    let sim = SimCarrier::new(SimConfig::default()).unwrap();
    assert!(!sim.carries_audio());
    match sim.dial_audio(request("13800138000")).await {
        Err(CarrierError::Unavailable(why)) => assert!(why.contains("no voice engines configured"), "{why}"),
        other => panic!("refused as unavailable: {other:?}"),
    }
    assert!(sim.dial(request("13800138000")).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voiced_network_still_gives_text_legs_for_dialogue_tests() {
    let asr = Arc::new(tone_asr());
    let voice = SimVoice { tts: Arc::new(tone_tts()), asr: asr.clone(), voice_id: None };
    let sim = SimCarrier::new(SimConfig { speed: 100.0, ..SimConfig::default() }).unwrap().with_voice(voice);
    let mut leg = sim.dial(request("13800138000")).await.unwrap();
    let mut seen = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(5), leg.events.recv()).await {
        if ev == TextEvent::Signal(Signal::Answered) {
            leg.commands.send(TextCommand::Say { id: 1, text: QUESTION.into() }).await.unwrap();
        }
        let heard = matches!(ev, TextEvent::Heard(_));
        seen.push(ev);
        if heard {
            break;
        }
    }
    assert_eq!(seen.last(), Some(&TextEvent::Heard(CONFIRM.into())), "{seen:?}");
    assert!(asr.heard.lock().unwrap().is_empty(), "no engine works on a text leg");
}

#[tokio::test(start_paused = true)]
async fn text_legs_assemble_line_parts() {
    let sim = SimCarrier::new(SimConfig::default()).unwrap();
    let mut leg = sim.dial(request("13800138000")).await.unwrap();
    assert_eq!(leg.events.recv().await, Some(TextEvent::Signal(Signal::Ringing)));
    assert_eq!(leg.events.recv().await, Some(TextEvent::Signal(Signal::Answered)));
    let (a, b) = ("喂，您好，我是王经理的AI助理，", "请问是张总吗？");
    leg.commands.send(TextCommand::SayPart { id: 1, text: a.into(), last: false }).await.unwrap();
    let t0 = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    leg.commands.send(TextCommand::SayPart { id: 1, text: b.into(), last: true }).await.unwrap();
    let chars = a.chars().count() + b.chars().count();
    assert_eq!(leg.events.recv().await, Some(TextEvent::SayDone { id: 1, played_chars: chars, stopped: false }));
    // The whole line, played from its last part at 4.5 characters a second.
    let played = t0.elapsed().as_secs_f64() - 0.5;
    assert!((played - chars as f64 / 4.5).abs() < 0.01, "{played} s");
    assert_eq!(leg.events.recv().await, Some(TextEvent::SpeechStarted));
    assert_eq!(leg.events.recv().await, Some(TextEvent::Heard(CONFIRM.into())), "the callee heard the whole question");
    leg.commands.send(TextCommand::SayPart { id: 2, text: "好的，".into(), last: false }).await.unwrap();
    leg.commands.send(TextCommand::HangUp).await.unwrap();
    assert_eq!(leg.events.recv().await, Some(TextEvent::SayDone { id: 2, played_chars: 0, stopped: true }));
    assert!(matches!(leg.events.recv().await, Some(TextEvent::Signal(Signal::Ended { .. }))));
    assert_eq!(leg.events.recv().await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_espeak_the_callees_frames_carry_speech() {
    let installed = std::process::Command::new("espeak-ng").arg("--version").output().is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("skipped: espeak-ng is not on PATH (apt-get install espeak-ng)");
        return;
    }
    let espeak = waihu_speech::tts::EspeakTts::new(waihu_speech::tts::EspeakConfig::default()).unwrap();
    let asr = Arc::new(tone_asr());
    let mut call = Call::on(sim_with(Arc::new(espeak), asr.clone()).dial_audio(request("13800138000")).await.unwrap(), asr);
    call.answered().await;
    call.play_whole(1, QUESTION).await;
    // The frames that follow: the hiss, then the callee's confirmation.
    let rms = |pcm: &[i16]| (pcm.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / pcm.len() as f64).sqrt();
    let mut levels = Vec::new();
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        match tokio::time::timeout(Duration::from_secs(2), call.leg.events.recv()).await {
            Ok(Some(AudioEvent::Audio { pcm, .. })) => levels.push(rms(&pcm)),
            Ok(Some(other)) => panic!("unexpected {other:?}"),
            _ => break,
        }
        let voiced = levels.iter().filter(|l| **l > 300.0).count();
        if voiced > 0 && levels.iter().rev().take(25).all(|l| *l < 10.0) {
            break; // it spoke and has been quiet for half a second
        }
    }
    let voiced = levels.iter().filter(|l| **l > 300.0).count();
    let loudest = levels.iter().cloned().fold(0.0, f64::max);
    assert!(voiced >= 25, "at least half a second of speech: {voiced} voiced frames of {}", levels.len());
    assert!(loudest > 1500.0, "speech-level audio: loudest frame RMS {loudest:.0}");
    assert!(levels[..3].iter().all(|l| *l < 10.0), "the hiss before it: {:?}", &levels[..3]);
    call.send(AudioCommand::HangUp).await;
    assert!(matches!(call.next().await, AudioEvent::Signal(Signal::Ended { .. })));
}
