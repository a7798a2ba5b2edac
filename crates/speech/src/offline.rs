//! The offline recogniser as the rest of the system sees it, whether or not
//! this build has Whisper in it (the `whisper` feature needs cmake and
//! libclang to build, so a plain `cargo build` leaves it out).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::asr::{Asr, AsrError};

/// Whether this build can recognise speech offline.
pub fn recogniser_built() -> bool {
    cfg!(feature = "whisper")
}

/// The offline recogniser, loaded once and shared by every call.
#[derive(Clone)]
pub struct OfflineRecogniser {
    #[cfg(feature = "whisper")]
    whisper: Arc<crate::asr::WhisperAsr>,
}

impl std::fmt::Debug for OfflineRecogniser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OfflineRecogniser(whisper)")
    }
}

/// Longest piece of a call's task put in the recogniser's prompt: Whisper's
/// prompt is at most 224 tokens, and the start of a task names the people
/// and the point.
#[cfg(feature = "whisper")]
const HINT_CHARS: usize = 120;

impl OfflineRecogniser {
    /// Loads the model file `model`: the path the model store gives
    /// (`waihu_models::ModelStore::require`), or why it has none, whose
    /// message names the command that installs it and becomes
    /// [`AsrError::ModelMissing`]. A build without Whisper says so instead,
    /// whatever the store said: installing the model would not help.
    pub fn load(model: Result<PathBuf, impl fmt::Display>) -> Result<Self, AsrError> {
        #[cfg(feature = "whisper")]
        {
            let model = model.map_err(|why| AsrError::ModelMissing(why.to_string()))?;
            let whisper = crate::asr::WhisperAsr::new(crate::asr::WhisperConfig::new(model))?;
            Ok(OfflineRecogniser { whisper: Arc::new(whisper) })
        }
        #[cfg(not(feature = "whisper"))]
        {
            let _ = model;
            Err(AsrError::NotConfigured(
                "this build has no offline recogniser: build waihu with `--features whisper` (needs cmake and libclang-dev)".into(),
            ))
        }
    }

    /// The recogniser for one call, prompted with what the call is about
    /// (names and numbers in the prompt are recognised far more reliably).
    pub fn for_call(&self, hint: &str) -> Arc<dyn Asr> {
        #[cfg(feature = "whisper")]
        {
            let hint: String = hint.chars().filter(|c| !c.is_control()).take(HINT_CHARS).collect();
            let prompt = format!("{}{}", crate::asr::whisper::DEFAULT_PROMPT, hint);
            Arc::new(self.whisper.with_prompt(prompt))
        }
        #[cfg(not(feature = "whisper"))]
        {
            let _ = hint;
            unreachable!("an OfflineRecogniser cannot be made without the whisper feature")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_the_store_lacks_is_missing_in_the_stores_words() {
        let why = "whisper-base: not installed (no /m/ggml-whisper-base.bin) — run 'waihu models install'";
        let err = OfflineRecogniser::load(Err::<PathBuf, _>(why)).unwrap_err();
        if recogniser_built() {
            assert_eq!(err, AsrError::ModelMissing(why.into()));
        } else {
            assert!(matches!(&err, AsrError::NotConfigured(m) if m.contains("--features whisper")), "{err}");
        }
    }
}
