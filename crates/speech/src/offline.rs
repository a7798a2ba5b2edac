//! The offline recogniser as the rest of the system sees it, whether or not
//! this build has Whisper in it (the `whisper` feature needs cmake and
//! libclang to build, so a plain `cargo build` leaves it out).

use std::sync::Arc;

use crate::asr::{Asr, AsrError};
use crate::models::ModelStore;

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
    /// Loads the model from `store`. The error names what is missing and the
    /// command that installs it.
    pub fn load(store: &ModelStore) -> Result<Self, AsrError> {
        #[cfg(feature = "whisper")]
        {
            Ok(OfflineRecogniser { whisper: Arc::new(crate::asr::WhisperAsr::from_store(store)?) })
        }
        #[cfg(not(feature = "whisper"))]
        {
            let _ = store;
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
