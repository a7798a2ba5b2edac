//! The two ends of a streaming recognition session.
//!
//! The pipeline holds the [`AsrSession`]: an [`AsrInput`] to push audio and
//! ask for finals, and a receiver of [`AsrEvent`]s. The engine holds the
//! [`AsrFeed`]: the same audio and requests in order, and a sender for the
//! events. Every streaming engine is built on this one pair, so none of
//! them can make the media path wait.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, Notify};

use super::{AsrError, Transcript};

/// Pushes queued before the engine is considered behind: 50 pushes of
/// 20 ms frames is one second of audio.
pub const DEFAULT_QUEUE_PUSHES: usize = 50;

/// Events queued toward the pipeline before the engine waits for it.
const EVENT_QUEUE: usize = 32;

/// What a session reports.
#[derive(Debug, Clone, PartialEq)]
pub enum AsrEvent {
    /// The current guess for speech not finalised yet (replaces the last).
    Partial(String),
    /// The final text of a stretch of speech; empty when no words were
    /// heard. Comes once per [`AsrInput::finalise`] at least.
    Final(Transcript),
    /// The engine failed; the session may go on (a batch engine's next
    /// utterance) or end (a closed connection: the event stream ends).
    Error(AsrError),
}

/// What the engine reads from its feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// More 8 kHz audio.
    Audio(Vec<i16>),
    /// The VAD heard the end of speech: finish what was heard and give a final.
    Finalise,
}

struct Shared {
    dropped_samples: AtomicU64,
    /// A finalise that found the queue full, to be delivered once it drains.
    finalise_overflow: AtomicBool,
    wake: Notify,
}

/// The pipeline's end of a session.
#[derive(Debug)]
pub struct AsrSession {
    /// Where audio goes.
    pub input: AsrInput,
    /// Where results come from; ends when the engine's side closes.
    pub events: mpsc::Receiver<AsrEvent>,
}

/// Pushes audio into a session without ever waiting. Dropping it ends the
/// session once the engine has handled what was queued.
pub struct AsrInput {
    tx: mpsc::Sender<Feed>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AsrInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsrInput").field("dropped_samples", &self.dropped_samples()).finish_non_exhaustive()
    }
}

impl AsrInput {
    /// Queues `pcm8k` for the engine. When the engine is behind (the
    /// queue is full) or gone, the audio is dropped and counted instead:
    /// returns whether it was queued.
    pub fn push_pcm(&self, pcm8k: &[i16]) -> bool {
        if pcm8k.is_empty() {
            return true;
        }
        match self.tx.try_send(Feed::Audio(pcm8k.to_vec())) {
            Ok(()) => true,
            Err(_) => {
                let before = self.shared.dropped_samples.fetch_add(pcm8k.len() as u64, Ordering::Relaxed);
                if before == 0 {
                    tracing::warn!("speech recogniser is behind: dropping audio rather than delaying the call");
                }
                false
            }
        }
    }

    /// Asks for a final for the audio pushed so far (at the VAD's end of
    /// speech). Never dropped: with a full queue it is delivered as soon as
    /// the engine has caught up.
    pub fn finalise(&self) {
        if self.tx.try_send(Feed::Finalise).is_err() {
            self.shared.finalise_overflow.store(true, Ordering::SeqCst);
            self.shared.wake.notify_one();
        }
    }

    /// Samples dropped so far because the engine was behind.
    pub fn dropped_samples(&self) -> u64 {
        self.shared.dropped_samples.load(Ordering::Relaxed)
    }
}

/// The engine's end of a session.
pub struct AsrFeed {
    rx: mpsc::Receiver<Feed>,
    shared: Arc<Shared>,
    events: mpsc::Sender<AsrEvent>,
}

impl std::fmt::Debug for AsrFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsrFeed").finish_non_exhaustive()
    }
}

impl AsrFeed {
    /// The next piece of audio or request, in the order they were pushed;
    /// `None` once the input is dropped and everything was read.
    pub async fn next(&mut self) -> Option<Feed> {
        loop {
            match self.rx.try_recv() {
                Ok(item) => return Some(item),
                Err(mpsc::error::TryRecvError::Disconnected) => return self.overflowed().then_some(Feed::Finalise),
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            // A finalise that could not be queued comes after what was.
            if self.overflowed() {
                return Some(Feed::Finalise);
            }
            tokio::select! {
                item = self.rx.recv() => match item {
                    Some(item) => return Some(item),
                    None => return self.overflowed().then_some(Feed::Finalise),
                },
                () = self.shared.wake.notified() => {}
            }
        }
    }

    fn overflowed(&self) -> bool {
        self.shared.finalise_overflow.swap(false, Ordering::SeqCst)
    }

    /// A sender of events, for tasks of the engine's own.
    pub fn events(&self) -> mpsc::Sender<AsrEvent> {
        self.events.clone()
    }

    /// Reports an event; false once the pipeline has dropped the session.
    pub async fn emit(&self, event: AsrEvent) -> bool {
        self.events.send(event).await.is_ok()
    }
}

/// A new session with room for `queue_pushes` pushes: the pipeline's end
/// and the engine's.
pub fn session_channel(queue_pushes: usize) -> (AsrSession, AsrFeed) {
    let (tx, rx) = mpsc::channel(queue_pushes.max(1));
    let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
    let shared = Arc::new(Shared { dropped_samples: AtomicU64::new(0), finalise_overflow: AtomicBool::new(false), wake: Notify::new() });
    (
        AsrSession { input: AsrInput { tx, shared: Arc::clone(&shared) }, events: events_rx },
        AsrFeed { rx, shared, events: events_tx },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_drops_audio_but_never_a_finalise() {
        let (session, mut feed) = session_channel(2);
        assert!(session.input.push_pcm(&[1; 160]));
        assert!(session.input.push_pcm(&[2; 160]));
        // Full: dropped and counted, at once.
        assert!(!session.input.push_pcm(&[3; 160]));
        assert_eq!(session.input.dropped_samples(), 160);
        session.input.finalise();
        assert_eq!(feed.next().await, Some(Feed::Audio(vec![1; 160])));
        assert_eq!(feed.next().await, Some(Feed::Audio(vec![2; 160])));
        assert_eq!(feed.next().await, Some(Feed::Finalise));
        // In order when there is room.
        session.input.push_pcm(&[4; 10]);
        session.input.finalise();
        drop(session);
        assert_eq!(feed.next().await, Some(Feed::Audio(vec![4; 10])));
        assert_eq!(feed.next().await, Some(Feed::Finalise));
        assert_eq!(feed.next().await, None);
    }

    #[tokio::test]
    async fn a_waiting_engine_gets_the_audio_then_the_finalise() {
        let (session, mut feed) = session_channel(1);
        let waiting = tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Some(item) = feed.next().await {
                seen.push(item);
            }
            seen
        });
        tokio::task::yield_now().await;
        // The audio fills the one slot, so the finalise overflows and must
        // still arrive, after it.
        session.input.push_pcm(&[7; 160]);
        session.input.finalise();
        drop(session);
        let seen = waiting.await.unwrap();
        assert_eq!(seen, [Feed::Audio(vec![7; 160]), Feed::Finalise]);
    }
}
