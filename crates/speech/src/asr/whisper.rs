//! Offline recognition with Whisper base through whisper.cpp (`whisper-rs`).
//!
//! The model is the file `waihu models install` puts in the model store
//! (`waihu_models::WHISPER_BASE`); the engine takes its path
//! ([`WhisperConfig::model`]), and without a file there
//! [`WhisperAsr::new`] fails with [`AsrError::ModelMissing`] naming that
//! command.
//!
//! Only with the crate's `whisper` feature (on by default), which builds
//! whisper.cpp from source: it needs `cmake` and `libclang-dev`
//! (`scripts/install-test-deps.sh`). `--no-default-features` leaves it out.
//!
//! # Per utterance
//!
//! - Feed it one **VAD-cut utterance**: Whisper invents and repeats text
//!   on silence and on long input.
//! - 8 kHz is upsampled to Whisper's 16 kHz with `waihu_media`'s
//!   half-band [`Upsampler`] (its 1 ms lag is trimmed). Clips shorter than
//!   one second are padded with silence, since whisper.cpp skips them.
//! - Decoding: language `zh`, greedy, no timestamps, one segment, no
//!   temperature fallback (a fallback re-decodes the whole clip up to five
//!   times: a latency spike for little gain on phone audio), no context
//!   carried between utterances. The text is returned as Whisper writes
//!   it, without script conversion; the default prompt ([`DEFAULT_PROMPT`])
//!   makes that simplified characters with punctuation.
//! - **Context helps a lot.** Whisper base is weak on robotic or
//!   telephone-band Mandarin (30-60% character errors on espeak-ng speech),
//!   but words in the prompt are recognised far better. Measured on
//!   espeak-ng at 8 kHz: 好的，我知道了，明天上午九点开会 came out as
//!   好的,我知道的,民间上无求点太会 with the default prompt and as
//!   好的,我知道了,明天上午9点开会 with the call's task added to it
//!   ([`WhisperAsr::with_prompt`]). A call's pipeline should add its task.
//! - **`audio_ctx` sized to the clip.** Whisper's encoder always looks at
//!   a 30 s window (1500 positions, 50 per second); almost all of it is
//!   padding for a 2 s utterance, and encoding is most of the time spent.
//!   Setting `audio_ctx` to the clip's length (plus a margin) makes the
//!   encoder process only that part: several times faster on short
//!   clips, at a small cost in accuracy.
//! - It runs on a thread of its own per utterance, never on the runtime's
//!   workers, and at a **lower scheduling priority** (nice
//!   [`WhisperConfig::nice`], [`DECODE_NICE`] by default; whisper.cpp's
//!   worker threads inherit it), so it may
//!   use every core and still never hold up the media clock: the calls'
//!   threads take the CPU whenever they wake. Each utterance gets a
//!   decoder state from a small pool: states are
//!   reused (allocating one costs tens of milliseconds) and concurrent
//!   calls each get their own. At most [`WhisperConfig::max_parallel`]
//!   utterances run at once (cores / threads); the others wait, without
//!   holding a thread.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::Semaphore;
use waihu_media::resample::{Upsampler, WIDE_FRAME_SAMPLES};
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState};

use super::{Asr, AsrError, Transcript};
use crate::pcm::FRAME_SAMPLES;

/// Whisper's sample rate.
const WHISPER_RATE: usize = 16_000;
/// Encoder positions per second of audio.
const CTX_PER_SECOND: usize = 50;
/// The encoder's full window (30 s).
const FULL_AUDIO_CTX: usize = 1500;
/// whisper.cpp ignores input shorter than this (1 s at 16 kHz).
const MIN_SAMPLES: usize = WHISPER_RATE + WHISPER_RATE / 20;

/// Settings of the Whisper engine.
#[derive(Debug, Clone, PartialEq)]
pub struct WhisperConfig {
    /// The whisper.cpp model file.
    pub model: PathBuf,
    /// Spoken language (`zh`).
    pub language: String,
    /// CPU threads per utterance.
    pub threads: usize,
    /// The nice value decoding runs at (Linux; default [`DECODE_NICE`],
    /// 0 for the process's own priority).
    pub nice: i32,
    /// Utterances recognised at once; more wait their turn (running more
    /// than the cores allow only slows each down and costs a decoder state,
    /// tens of MB, apiece).
    pub max_parallel: usize,
    /// Encoder positions added to the clip's own when sizing `audio_ctx`
    /// (50 = one second). `None` uses the full 30 s window.
    pub audio_ctx_margin: Option<usize>,
    /// Text shown to the decoder as if said before: it steers the script
    /// (simplified), punctuation and vocabulary. Empty for none. Default
    /// [`DEFAULT_PROMPT`]; for a call, add the task's words with
    /// [`WhisperAsr::with_prompt`] (see the module docs).
    pub initial_prompt: String,
}

/// The nice value decoding runs at (0 is normal, 19 the lowest priority).
/// At 10 the kernel gives a busy decoder about a tenth of a core that a
/// call's thread also wants, and a woken call thread runs at once.
pub const DECODE_NICE: i32 = 10;

/// The default prompt: "what follows are Mandarin sentences". Measured on
/// espeak-ng speech: without it Whisper base often writes traditional
/// characters and no punctuation (对，是我 came out as 對,死我; with it,
/// 对,是我。).
pub const DEFAULT_PROMPT: &str = "以下是普通话的句子。";

impl WhisperConfig {
    /// This model file, with the defaults.
    pub fn new(model: impl Into<PathBuf>) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // Every core: decoding runs at a lower priority (DECODE_NICE), so
        // the calls' media and pipelines are not starved. (At normal
        // priority on every core, a second of a simulated call's audio was
        // lost on 2 cores while an utterance was transcribed; leaving a core
        // free instead doubled the recognition time there.)
        let threads = cores.clamp(1, 4);
        WhisperConfig { model: model.into(), language: "zh".into(), threads, nice: DECODE_NICE, max_parallel: (cores / threads).max(1), audio_ctx_margin: Some(64), initial_prompt: DEFAULT_PROMPT.into() }
    }
}

/// Whisper through whisper.cpp.
pub struct WhisperAsr {
    ctx: Arc<WhisperContext>,
    states: Arc<Mutex<Vec<WhisperState>>>,
    turns: Arc<Semaphore>,
    config: WhisperConfig,
}

impl std::fmt::Debug for WhisperAsr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperAsr").field("config", &self.config).finish_non_exhaustive()
    }
}

static LOG_HOOKS: Once = Once::new();

impl WhisperAsr {
    /// Loads the model (blocking: a few hundred milliseconds). A missing
    /// file is [`AsrError::ModelMissing`].
    pub fn new(config: WhisperConfig) -> Result<Self, AsrError> {
        if !config.model.is_file() {
            return Err(AsrError::ModelMissing(format!(
                "{} not found — run 'waihu models install' (or set WAIHU_MODELS_DIR)",
                config.model.display()
            )));
        }
        // whisper.cpp logs to stderr by default; route it to tracing.
        LOG_HOOKS.call_once(whisper_rs::install_logging_hooks);
        let ctx = WhisperContext::new_with_params(&config.model, WhisperContextParameters::default())
            .map_err(|e| AsrError::ModelMissing(format!("{} could not be loaded ({e}) — run 'waihu models install'", config.model.display())))?;
        let turns = Arc::new(Semaphore::new(config.max_parallel.max(1)));
        Ok(WhisperAsr { ctx: Arc::new(ctx), states: Arc::new(Mutex::new(Vec::new())), turns, config })
    }

    /// The same loaded model with another prompt (cheap: the model and the
    /// decoder states are shared). A call's pipeline gives the call's
    /// context, e.g. `以下是普通话的句子。通知张总明天上午9点开会`: names and
    /// numbers in the prompt are recognised far more reliably.
    pub fn with_prompt(&self, prompt: impl Into<String>) -> WhisperAsr {
        let mut config = self.config.clone();
        config.initial_prompt = prompt.into();
        WhisperAsr { ctx: self.ctx.clone(), states: self.states.clone(), turns: self.turns.clone(), config }
    }

    /// The settings.
    pub fn config(&self) -> &WhisperConfig {
        &self.config
    }
}

/// 8 kHz PCM to Whisper's input: 16 kHz f32 in [-1, 1], lag trimmed,
/// padded with silence to whisper.cpp's one-second minimum.
pub fn to_whisper_input(pcm8k: &[i16]) -> Vec<f32> {
    let mut up = Upsampler::new();
    let mut out = Vec::with_capacity(pcm8k.len() * 2 + 2 * WIDE_FRAME_SAMPLES);
    let mut frame = [0i16; FRAME_SAMPLES];
    let mut wide = [0i16; WIDE_FRAME_SAMPLES];
    // One extra frame of silence flushes the filter's lag.
    let chunks = pcm8k.chunks(FRAME_SAMPLES).chain(std::iter::once(&[][..]));
    for chunk in chunks {
        frame.fill(0);
        frame[..chunk.len()].copy_from_slice(chunk);
        up.process(&frame, &mut wide);
        out.extend(wide.iter().map(|&s| f32::from(s) / 32768.0));
    }
    let lag = 2 * waihu_media::resample::HALF_TAPS;
    let wanted = pcm8k.len() * 2;
    let mut v: Vec<f32> = out.into_iter().skip(lag).take(wanted).collect();
    if v.len() < MIN_SAMPLES {
        v.resize(MIN_SAMPLES, 0.0);
    }
    v
}

/// `audio_ctx` for a clip of `samples` at 16 kHz: its own positions plus
/// the margin, or 0 (the full window) when that would not be shorter.
pub fn audio_ctx_for(samples: usize, margin: usize) -> usize {
    let ctx = samples.div_ceil(WHISPER_RATE / CTX_PER_SECOND) + margin;
    if ctx >= FULL_AUDIO_CTX {
        0
    } else {
        ctx
    }
}

/// Speech runs at about 4-6 Mandarin syllables a second; a transcript much
/// denser than this, or one that repeats itself, is Whisper hallucinating
/// (on a short or near-silent clip it tends to recite its prompt, over and
/// over). Such text is worse than none: the dialogue would answer it.
const MAX_CHARS_PER_SECOND: f64 = 9.0;

/// Whether `text` can be what `secs` of speech said.
pub fn plausible(text: &str, secs: f64) -> bool {
    let chars = text.chars().filter(|c| c.is_alphanumeric()).count();
    chars as f64 <= secs * MAX_CHARS_PER_SECOND + 3.0
}

/// Whisper's other failure: the right words, then the same words again and
/// again (`对是我什么事对是我什么事对是我什么事`). A run of two or more
/// characters said three or more times in a row is said once. Nobody
/// answers a phone that way; twice (`好的好的`) is kept.
pub fn collapse_repeats(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    'again: loop {
        for len in 2..=chars.len() / 3 {
            for start in 0..=chars.len() - 3 * len {
                let unit = chars[start..start + len].to_vec();
                let mut copies = 1;
                while start + (copies + 1) * len <= chars.len() && chars[start + copies * len..start + (copies + 1) * len] == unit[..] {
                    copies += 1;
                }
                if copies >= 3 {
                    chars.drain(start + len..start + copies * len);
                    continue 'again;
                }
            }
        }
        return chars.into_iter().collect();
    }
}

/// Sets the calling thread's nice value to `nice` (a value below the
/// process's own is left alone: raising priority needs privileges). On
/// Linux the nice value belongs to the thread (`who` 0 is the caller), and
/// threads it starts inherit it. Elsewhere, and if refused, decoding runs
/// at normal priority.
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    match rustix::process::getpriority_process(None) {
        Ok(current) if nice > current => {
            if let Err(e) = rustix::process::setpriority_process(None, nice) {
                tracing::debug!(error = %e, "whisper decode thread kept its priority");
            }
        }
        _ => {}
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

fn run(ctx: &WhisperContext, states: &Mutex<Vec<WhisperState>>, config: &WhisperConfig, audio: &[f32], secs: f64) -> Result<String, AsrError> {
    let pooled = states.lock().map_err(|_| AsrError::Protocol("whisper state pool poisoned".into()))?.pop();
    let mut state = match pooled {
        Some(s) => s,
        None => ctx.create_state().map_err(|e| AsrError::Protocol(format!("whisper state: {e}")))?,
    };
    let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    params.set_language(Some(&config.language));
    params.set_translate(false);
    params.set_no_timestamps(true);
    params.set_single_segment(true);
    params.set_no_context(true);
    params.set_temperature_inc(0.0);
    params.set_n_threads(i32::try_from(config.threads.max(1)).unwrap_or(1));
    params.set_print_special(false);
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_timestamps(false);
    // Bounded by what the clip can hold: a hallucinating decoder stops early.
    params.set_max_tokens((secs * 2.0 * MAX_CHARS_PER_SECOND) as i32 + 8);
    if let Some(margin) = config.audio_ctx_margin {
        params.set_audio_ctx(i32::try_from(audio_ctx_for(audio.len(), margin)).unwrap_or(0));
    }
    if !config.initial_prompt.is_empty() {
        params.set_initial_prompt(&config.initial_prompt);
    }
    state.full(params, audio).map_err(|e| AsrError::Protocol(format!("whisper: {e}")))?;
    let mut text = String::new();
    for i in 0..state.full_n_segments() {
        if let Some(seg) = state.get_segment(i) {
            text.push_str(&seg.to_str_lossy().map_err(|e| AsrError::Protocol(format!("whisper text: {e}")))?);
        }
    }
    if let Ok(mut pool) = states.lock() {
        if pool.len() < 4 {
            pool.push(state);
        }
    }
    Ok(text.trim().to_string())
}

#[async_trait]
impl Asr for WhisperAsr {
    fn name(&self) -> &str {
        "whisper"
    }

    async fn transcribe(&self, pcm8k: &[i16]) -> Result<Transcript, AsrError> {
        if pcm8k.is_empty() {
            return Ok(Transcript::default());
        }
        let audio = to_whisper_input(pcm8k);
        let (ctx, states, config) = (self.ctx.clone(), self.states.clone(), self.config.clone());
        let started = Instant::now();
        let secs = pcm8k.len() as f64 / 8000.0;
        let _turn = self.turns.acquire().await.map_err(|_| AsrError::Protocol("whisper engine closed".into()))?;
        // A thread per utterance rather than tokio's blocking pool: its
        // lowered priority cannot be raised again without privileges, and
        // must not stay with a pooled thread. Spawning costs microseconds
        // next to a decode's hundreds of milliseconds.
        let (done, result) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("whisper-decode".into())
            .spawn(move || {
                lower_priority(config.nice);
                let _ = done.send(run(&ctx, &states, &config, &audio, secs));
            })
            .map_err(|e| AsrError::Protocol(format!("whisper thread: {e}")))?;
        let text = result.await.map_err(|_| AsrError::Protocol("whisper decode thread ended without a result".into()))??;
        let took = started.elapsed().as_secs_f64();
        let text = collapse_repeats(&text);
        if !plausible(&text, secs) {
            tracing::warn!(audio_s = secs, chars = text.chars().count(), "whisper output dropped as a hallucination (too dense or repeating)");
            tracing::debug!(%text, "the dropped whisper output");
            return Ok(Transcript::default());
        }
        tracing::debug!(audio_s = secs, took_s = took, rtf = took / secs, %text, "whisper transcribed");
        Ok(Transcript { text, confidence: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hallucinations_are_told_from_speech() {
        assert!(plausible("对，是我。", 0.9));
        assert!(plausible("好的，明天上午十点我准时到。", 3.0));
        assert!(!plausible("通知张先生明天上午十点来面试明天上午十点来面试", 0.7), "far too dense");
        assert!(plausible("", 1.0));
    }

    #[test]
    fn words_said_over_and_over_are_said_once() {
        assert_eq!(collapse_repeats("对是我什么事对是我什么事对是我什么事对"), "对是我什么事对");
        assert_eq!(collapse_repeats("明天上午十点来面试明天上午十点来面试明天上午十点来面试"), "明天上午十点来面试");
        assert_eq!(collapse_repeats("好的好的，知道了"), "好的好的，知道了", "twice is how people talk");
        assert_eq!(collapse_repeats("对，是我。"), "对，是我。");
        assert_eq!(collapse_repeats(""), "");
    }

    #[test]
    fn audio_ctx_follows_the_clip() {
        assert_eq!(audio_ctx_for(16_000, 64), 50 + 64);
        assert_eq!(audio_ctx_for(16_001, 0), 51);
        assert_eq!(audio_ctx_for(30 * 16_000, 64), 0, "long clips use the whole window");
    }

    #[test]
    fn input_is_16k_and_at_least_a_second() {
        let v = to_whisper_input(&[1000; 80]);
        assert_eq!(v.len(), MIN_SAMPLES);
        let tone: Vec<i16> = (0..16_000).map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16).collect();
        let v = to_whisper_input(&tone);
        assert_eq!(v.len(), 32_000);
        // Every second sample is the input (after the lag is trimmed).
        assert!((v[2000] - f32::from(tone[1000]) / 32768.0).abs() < 1e-4, "{} vs {}", v[2000], tone[1000]);
    }

    /// This thread's nice value, from /proc (field 19 of its stat line).
    #[cfg(target_os = "linux")]
    fn own_nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // The command name (field 2) is in parentheses and may hold spaces.
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn decoding_threads_run_at_a_lower_priority_and_the_rest_do_not() {
        let before = own_nice();
        let (decoder, worker) = std::thread::spawn(|| {
            lower_priority(DECODE_NICE);
            // whisper.cpp's own worker threads are started from the decoding thread.
            (own_nice(), std::thread::spawn(own_nice).join().unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(decoder, before + DECODE_NICE);
        assert_eq!(worker, before + DECODE_NICE, "threads the decoder starts inherit its priority");
        assert_eq!(own_nice(), before, "the process's other threads keep theirs");
        let kept = std::thread::spawn(|| {
            lower_priority(0);
            own_nice()
        });
        assert_eq!(kept.join().unwrap(), before, "nice 0 decodes at the process's priority");
    }

    #[test]
    fn a_missing_model_names_the_install_command() {
        let err = WhisperAsr::new(WhisperConfig::new("/nonexistent/ggml.bin")).unwrap_err();
        assert!(matches!(&err, AsrError::ModelMissing(m) if m.contains("waihu models install")), "{err}");
    }
}
