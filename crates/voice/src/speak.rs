//! The AI's side: a line's text arrives whole or in parts, the splitter cuts
//! it into chunks as early as the text allows, and one task per line
//! synthesises the chunks in order, handing each piece of audio back as it
//! comes. The pipeline sends the pieces to the leg as clips and counts what
//! was played, in the line's characters.

use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use waihu_speech::{Tts, TtsRequest};
use waihu_turn::{Chunk, SentenceSplitter, SplitterConfig};

/// What a line's synthesis task reports.
#[derive(Debug)]
pub(crate) enum SpeechOut {
    /// The chunk went to the TTS engine.
    Requested { line: u64, at: Instant },
    /// A piece of the chunk's audio.
    Audio { line: u64, chunk: usize, pcm: Vec<i16>, at: Instant },
    /// The chunk's audio is complete.
    ChunkDone { line: u64, chunk: usize },
    /// The engine failed on a chunk; the line goes on with the next one.
    Failed { line: u64, error: String },
    /// Every chunk is synthesised (the line's text is complete).
    Done { line: u64 },
}

/// How a line's voice sounds.
#[derive(Debug, Clone)]
pub(crate) struct VoiceParams {
    pub(crate) voice_id: Option<String>,
    pub(crate) speed: u8,
    pub(crate) volume: u8,
}

struct ChunkState {
    start: usize,
    end: usize,
    /// Samples handed to the leg.
    sent: usize,
    /// Samples the leg reports played.
    played: usize,
    /// All of its audio has been handed over.
    complete: bool,
}

/// One line of the AI, from its first text to its last frame.
pub(crate) struct Line {
    pub(crate) id: u64,
    text_chars: usize,
    closed: bool,
    splitter: SentenceSplitter,
    chunks: Vec<ChunkState>,
    to_tts: Option<mpsc::UnboundedSender<(usize, Chunk)>>,
    task: JoinHandle<()>,
    synthesised: bool,
    /// Clips sent to the leg and not yet reported done.
    pub(crate) clips_out: usize,
    /// Its first audio frame went out.
    pub(crate) started: bool,
    /// Being stopped: waiting for the leg to report the cut clip.
    pub(crate) stopping: bool,
    /// The engine failed on some chunk: the line cannot be said whole.
    pub(crate) failed: bool,
    /// Audio made while an earlier line still plays: sent when this line's
    /// turn comes, so lines never interleave on the leg.
    pub(crate) held: Vec<(usize, Vec<i16>)>,
    /// Audio gathered into a clip worth sending (engines hand over pieces
    /// of a few milliseconds; one clip each would flood the leg).
    pub(crate) gathering: Option<(usize, Vec<i16>)>,
    /// The line's first clip went to the leg.
    pub(crate) first_sent: bool,
}

impl Line {
    /// Opens a line and starts its synthesis task.
    pub(crate) fn open(
        id: u64,
        splitter: SplitterConfig,
        tts: Arc<dyn Tts>,
        voice: VoiceParams,
        out: mpsc::UnboundedSender<SpeechOut>,
    ) -> Line {
        let (to_tts, chunks) = mpsc::unbounded_channel();
        let task = tokio::spawn(synthesise(id, chunks, tts, voice, out));
        Line {
            id,
            text_chars: 0,
            closed: false,
            splitter: SentenceSplitter::new(splitter),
            chunks: Vec::new(),
            to_tts: Some(to_tts),
            task,
            synthesised: false,
            clips_out: 0,
            started: false,
            stopping: false,
            failed: false,
            held: Vec::new(),
            gathering: None,
            first_sent: false,
        }
    }

    /// More of the line's text; returns whether a chunk went to synthesis
    /// (for the latency mark of the first one).
    pub(crate) fn push_text(&mut self, text: &str, last: bool) -> bool {
        if self.closed {
            return false;
        }
        self.text_chars += text.chars().count();
        let mut chunks = self.splitter.push(text);
        if last {
            self.closed = true;
            chunks.extend(self.splitter.finish());
        }
        let any = !chunks.is_empty();
        for chunk in chunks {
            let index = self.chunks.len();
            self.chunks.push(ChunkState { start: chunk.start, end: chunk.end, sent: 0, played: 0, complete: false });
            if let Some(tx) = &self.to_tts {
                let _ = tx.send((index, chunk));
            }
        }
        if last {
            // No more chunks: the task ends after the last one.
            self.to_tts = None;
        }
        any
    }

    /// Audio of chunk `chunk` is on its way to the leg.
    pub(crate) fn sent(&mut self, chunk: usize, samples: usize) {
        if let Some(c) = self.chunks.get_mut(chunk) {
            c.sent += samples;
        }
        self.clips_out += 1;
    }

    pub(crate) fn chunk_complete(&mut self, chunk: usize) {
        if let Some(c) = self.chunks.get_mut(chunk) {
            c.complete = true;
        }
    }

    pub(crate) fn synthesised(&mut self) {
        self.synthesised = true;
    }

    /// The leg reports a clip of `chunk` done with `samples` of it played.
    pub(crate) fn played(&mut self, chunk: usize, samples: usize) {
        if let Some(c) = self.chunks.get_mut(chunk) {
            c.played += samples;
        }
        self.clips_out = self.clips_out.saturating_sub(1);
    }

    /// Characters of the line's text that reached the callee: whole chunks
    /// played, plus the played share of the chunk cut.
    pub(crate) fn played_chars(&self) -> usize {
        let mut chars = 0;
        for c in &self.chunks {
            if c.complete && c.played >= c.sent {
                chars = c.end;
                continue;
            }
            if c.played > 0 {
                // Its length is only known once complete; until then what
                // was handed over is the best estimate of it.
                chars = c.start + (c.end - c.start) * c.played / c.sent.max(1);
            }
            break;
        }
        chars
    }

    /// Everything is said: text closed, synthesised, and played.
    pub(crate) fn finished(&self) -> bool {
        self.closed && self.synthesised && self.clips_out == 0
    }

    pub(crate) fn text_chars(&self) -> usize {
        self.text_chars
    }

    /// Stops synthesis (barge-in, hang-up). Dropping the task's stream
    /// cancels the engine's request.
    pub(crate) fn cancel(&mut self) {
        self.to_tts = None;
        self.closed = true;
        self.task.abort();
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn synthesise(
    line: u64,
    mut chunks: mpsc::UnboundedReceiver<(usize, Chunk)>,
    tts: Arc<dyn Tts>,
    voice: VoiceParams,
    out: mpsc::UnboundedSender<SpeechOut>,
) {
    while let Some((index, chunk)) = chunks.recv().await {
        if chunk.is_speakable() {
            let mut req = TtsRequest::new(chunk.text.trim()).speed(voice.speed).volume(voice.volume);
            req.voice_id = voice.voice_id.clone();
            let _ = out.send(SpeechOut::Requested { line, at: crate::clock::now() });
            match tts.synthesize(req).await {
                Ok(mut stream) => {
                    while let Some(piece) = stream.next().await {
                        match piece {
                            Ok(pcm) if pcm.is_empty() => {}
                            Ok(pcm) => {
                                let _ = out.send(SpeechOut::Audio { line, chunk: index, pcm, at: crate::clock::now() });
                            }
                            Err(e) => {
                                let _ = out.send(SpeechOut::Failed { line, error: e.to_string() });
                                break;
                            }
                        }
                    }
                }
                Err(e) => {
                    let _ = out.send(SpeechOut::Failed { line, error: e.to_string() });
                }
            }
        }
        let _ = out.send(SpeechOut::ChunkDone { line, chunk: index });
    }
    let _ = out.send(SpeechOut::Done { line });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(start: usize, end: usize, sent: usize, played: usize, complete: bool) -> ChunkState {
        ChunkState { start, end, sent, played, complete }
    }

    fn line_with(chunks: Vec<ChunkState>) -> Line {
        let task = tokio::spawn(async {});
        Line {
            id: 1,
            text_chars: 20,
            closed: true,
            splitter: SentenceSplitter::new(SplitterConfig::default()),
            chunks,
            to_tts: None,
            task,
            synthesised: true,
            clips_out: 0,
            started: true,
            stopping: false,
            failed: false,
            held: Vec::new(),
            gathering: None,
            first_sent: false,
        }
    }

    #[tokio::test]
    async fn played_characters_follow_the_audio_that_went_out() {
        // Nothing played yet.
        assert_eq!(line_with(vec![chunk(0, 5, 4000, 0, true)]).played_chars(), 0);
        // The first chunk whole, the second half played.
        let l = line_with(vec![chunk(0, 5, 4000, 4000, true), chunk(5, 15, 8000, 4000, true)]);
        assert_eq!(l.played_chars(), 10);
        // A chunk still being synthesised: its share of what was handed over.
        let l = line_with(vec![chunk(0, 4, 1000, 1000, true), chunk(4, 24, 2000, 1000, false)]);
        assert_eq!(l.played_chars(), 14);
        // All played.
        let l = line_with(vec![chunk(0, 4, 1000, 1000, true), chunk(4, 20, 3000, 3000, true)]);
        assert_eq!(l.played_chars(), 20);
    }
}
