//! Any batch recogniser as a streaming one: audio is buffered until the
//! pipeline asks for a final, then the utterance is transcribed whole.
//!
//! Transcription runs in a task of its own, so audio keeps being read (and
//! the media path never backs up) while an utterance is out with the
//! engine. Utterances are transcribed one at a time, in order, so finals
//! come back in the order the speech was heard. There are no partials.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::session::{session_channel, AsrEvent, AsrSession, Feed, DEFAULT_QUEUE_PUSHES};
use super::{Asr, AsrError, StreamingAsr};
use crate::pcm::SAMPLE_RATE;

/// A batch [`Asr`] behind the [`StreamingAsr`] interface.
#[derive(Clone)]
pub struct Buffered {
    asr: Arc<dyn Asr>,
    max_utterance: Duration,
    queue_pushes: usize,
}

impl std::fmt::Debug for Buffered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buffered")
            .field("asr", &self.asr.name())
            .field("max_utterance", &self.max_utterance)
            .field("queue_pushes", &self.queue_pushes)
            .finish()
    }
}

impl Buffered {
    /// `asr`, keeping at most 30 s per utterance (what is pushed beyond
    /// that before a finalise is dropped: nobody answers a phone call in
    /// monologues, and Whisper's window is 30 s).
    pub fn new(asr: Arc<dyn Asr>) -> Self {
        Buffered { asr, max_utterance: Duration::from_secs(30), queue_pushes: DEFAULT_QUEUE_PUSHES }
    }

    /// The same with another longest utterance.
    pub fn max_utterance(mut self, max: Duration) -> Self {
        self.max_utterance = max;
        self
    }
}

#[async_trait]
impl StreamingAsr for Buffered {
    fn name(&self) -> &str {
        self.asr.name()
    }

    async fn start(&self) -> Result<AsrSession, AsrError> {
        let (session, mut feed) = session_channel(self.queue_pushes);
        let max_samples = (self.max_utterance.as_secs_f64() * f64::from(SAMPLE_RATE)) as usize;
        let (utterances, mut to_transcribe) = mpsc::unbounded_channel::<Vec<i16>>();
        let events = feed.events();
        let asr = Arc::clone(&self.asr);
        tokio::spawn(async move {
            while let Some(pcm) = to_transcribe.recv().await {
                let event = tokio::select! {
                    // The pipeline went away: stop asking the engine.
                    () = events.closed() => return,
                    result = asr.transcribe(&pcm) => match result {
                        Ok(t) => AsrEvent::Final(t),
                        Err(e) => AsrEvent::Error(e),
                    },
                };
                if events.send(event).await.is_err() {
                    return;
                }
            }
        });
        tokio::spawn(async move {
            let mut buffer: Vec<i16> = Vec::new();
            let mut overflow_logged = false;
            while let Some(item) = feed.next().await {
                match item {
                    Feed::Audio(pcm) => {
                        let room = max_samples.saturating_sub(buffer.len());
                        if pcm.len() > room && !overflow_logged {
                            tracing::warn!(max_s = max_samples / SAMPLE_RATE as usize, "utterance too long: the rest is not transcribed");
                            overflow_logged = true;
                        }
                        buffer.extend_from_slice(&pcm[..pcm.len().min(room)]);
                    }
                    Feed::Finalise => {
                        overflow_logged = false;
                        if utterances.send(std::mem::take(&mut buffer)).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(session)
    }
}
