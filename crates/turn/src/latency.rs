//! Where one turn's response time goes.
//!
//! The pipeline stamps each step of a turn with [`LatencyRecorder::mark`]
//! (instants it read from its own clock) and asks for the split with
//! [`LatencyRecorder::finish`]. The split follows the critical path from the
//! callee's last voiced frame to the first AI audio frame sent, so its parts
//! add up to the total exactly:
//!
//! ```text
//! LastVoiced ─ endpointing ─ SpeechStopped ─ asr ─ EndOfTurn ─ ours ─ DialogueRequest
//!   ─ dialogue_first_token ─ DialogueFirstToken ─ first_clause ─ FirstChunk ─ ours
//!   ─ TtsRequest ─ tts_first_audio ─ TtsFirstAudio ─ ours ─ FirstAudioOut
//! ```
//!
//! - `endpointing`: the VAD's hangover, last voiced frame to silence confirmed.
//! - `asr`: how long the end of turn then still waited for the ASR's final
//!   (zero when the final came within the hangover).
//! - `dialogue_first_token`: the LLM's time to first token.
//! - `first_clause`: the LLM generating until the splitter has a first chunk.
//!   It depends on the reply's text and the engine's token rate; it is the
//!   wait the splitter shortens by cutting at the first comma.
//! - `tts_first_audio`: the TTS engine's time to first audio.
//! - `overhead`: everything else, our own time: deciding to call the LLM,
//!   handing the chunk to TTS, and getting the first audio onto the wire.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A step of one turn, in the order it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mark {
    /// The callee's last voiced frame (`EndOfTurn::last_voiced_at`).
    LastVoiced,
    /// The VAD's end of speech (`EndOfTurn::speech_stopped_at`). Optional:
    /// without it the whole wait counts as endpointing.
    SpeechStopped,
    /// The ASR's final (`EndOfTurn::final_at`). Optional and off the critical
    /// path: reported as `asr_final_after_speech`.
    AsrFinal,
    /// The end of turn was decided (`EndOfTurn::decided_at`).
    EndOfTurn,
    /// The dialogue engine was asked for the reply.
    DialogueRequest,
    /// Its first token arrived.
    DialogueFirstToken,
    /// The splitter returned the reply's first chunk.
    FirstChunk,
    /// That chunk was handed to the TTS engine.
    TtsRequest,
    /// The TTS engine's first audio arrived.
    TtsFirstAudio,
    /// The first AI audio frame was sent to the callee.
    FirstAudioOut,
}

impl Mark {
    const ALL: [Mark; 10] = [
        Mark::LastVoiced,
        Mark::SpeechStopped,
        Mark::AsrFinal,
        Mark::EndOfTurn,
        Mark::DialogueRequest,
        Mark::DialogueFirstToken,
        Mark::FirstChunk,
        Mark::TtsRequest,
        Mark::TtsFirstAudio,
        Mark::FirstAudioOut,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Why a turn's marks cannot be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LatencyError {
    /// A required step was never marked.
    #[error("latency mark {0:?} was not recorded for this turn")]
    Missing(Mark),
    /// Two steps were marked in an impossible order.
    #[error("latency mark {later:?} is earlier than {earlier:?}, which must come first")]
    OutOfOrder {
        /// The step that must come first.
        earlier: Mark,
        /// The step marked before it.
        later: Mark,
    },
}

/// One turn's response time and its split. The parts (all but `total` and
/// `asr_final_after_speech`) add up to `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "TurnLatencyMs")]
pub struct TurnLatency {
    /// Last voiced frame -> first AI audio frame out.
    pub total: Duration,
    /// Last voiced frame -> VAD silence confirmed.
    pub endpointing: Duration,
    /// VAD silence confirmed -> end of turn (waiting for the ASR final).
    pub asr: Duration,
    /// Dialogue request -> first token.
    pub dialogue_first_token: Duration,
    /// First token -> first chunk from the splitter.
    pub first_clause: Duration,
    /// TTS request -> first audio.
    pub tts_first_audio: Duration,
    /// Our own time: the remainder.
    pub overhead: Duration,
    /// Last voiced frame -> ASR final, when a final came (for the ASR's own
    /// histogram; mostly hidden behind the hangover, so not a part).
    pub asr_final_after_speech: Option<Duration>,
}

impl TurnLatency {
    /// The parts added up (equals `total`).
    pub fn sum_of_parts(&self) -> Duration {
        self.endpointing + self.asr + self.dialogue_first_token + self.first_clause + self.tts_first_audio + self.overhead
    }
}

/// [`TurnLatency`] as it is stored and exported: milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TurnLatencyMs {
    /// See [`TurnLatency::total`].
    pub total_ms: f64,
    /// See [`TurnLatency::endpointing`].
    pub endpointing_ms: f64,
    /// See [`TurnLatency::asr`].
    pub asr_ms: f64,
    /// See [`TurnLatency::dialogue_first_token`].
    pub dialogue_first_token_ms: f64,
    /// See [`TurnLatency::first_clause`].
    pub first_clause_ms: f64,
    /// See [`TurnLatency::tts_first_audio`].
    pub tts_first_audio_ms: f64,
    /// See [`TurnLatency::overhead`].
    pub overhead_ms: f64,
    /// See [`TurnLatency::asr_final_after_speech`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asr_final_after_speech_ms: Option<f64>,
}

impl From<TurnLatency> for TurnLatencyMs {
    fn from(l: TurnLatency) -> Self {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        TurnLatencyMs {
            total_ms: ms(l.total),
            endpointing_ms: ms(l.endpointing),
            asr_ms: ms(l.asr),
            dialogue_first_token_ms: ms(l.dialogue_first_token),
            first_clause_ms: ms(l.first_clause),
            tts_first_audio_ms: ms(l.tts_first_audio),
            overhead_ms: ms(l.overhead),
            asr_final_after_speech_ms: l.asr_final_after_speech.map(ms),
        }
    }
}

/// Collects one turn's marks and splits them.
#[derive(Debug, Clone, Default)]
pub struct LatencyRecorder {
    marks: [Option<Instant>; Mark::ALL.len()],
}

impl LatencyRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stamps a step. The first stamp of each step wins, so the pipeline may
    /// mark `FirstAudioOut` on every frame or `DialogueFirstToken` on every
    /// token.
    pub fn mark(&mut self, mark: Mark, at: Instant) {
        self.marks[mark.index()].get_or_insert(at);
    }

    /// When a step was stamped.
    pub fn get(&self, mark: Mark) -> Option<Instant> {
        self.marks[mark.index()]
    }

    /// Forgets every stamp, for the next turn.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Splits the turn, checking that every required step was stamped and
    /// that they happened in order.
    pub fn finish(&self) -> Result<TurnLatency, LatencyError> {
        let need = |m: Mark| self.get(m).ok_or(LatencyError::Missing(m));
        let voiced = need(Mark::LastVoiced)?;
        let end_of_turn = need(Mark::EndOfTurn)?;
        let chain = [
            (Mark::LastVoiced, voiced),
            (Mark::SpeechStopped, self.get(Mark::SpeechStopped).unwrap_or(end_of_turn)),
            (Mark::EndOfTurn, end_of_turn),
            (Mark::DialogueRequest, need(Mark::DialogueRequest)?),
            (Mark::DialogueFirstToken, need(Mark::DialogueFirstToken)?),
            (Mark::FirstChunk, need(Mark::FirstChunk)?),
            (Mark::TtsRequest, need(Mark::TtsRequest)?),
            (Mark::TtsFirstAudio, need(Mark::TtsFirstAudio)?),
            (Mark::FirstAudioOut, need(Mark::FirstAudioOut)?),
        ];
        for pair in chain.windows(2) {
            let ((earlier, a), (later, b)) = (pair[0], pair[1]);
            if b < a {
                return Err(LatencyError::OutOfOrder { earlier, later });
            }
        }
        let [l, s, e, d0, t1, c, r, a1, o] = chain.map(|(_, at)| at);
        Ok(TurnLatency {
            total: o - l,
            endpointing: s - l,
            asr: e - s,
            dialogue_first_token: t1 - d0,
            first_clause: c - t1,
            tts_first_audio: a1 - r,
            overhead: (d0 - e) + (r - c) + (o - a1),
            asr_final_after_speech: self.get(Mark::AsrFinal).map(|f| f.saturating_duration_since(l)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder(ms: [(Mark, u64); 10]) -> (Instant, LatencyRecorder) {
        let t0 = Instant::now();
        let mut r = LatencyRecorder::new();
        for (m, at) in ms {
            r.mark(m, t0 + Duration::from_millis(at));
        }
        (t0, r)
    }

    const TURN: [(Mark, u64); 10] = [
        (Mark::LastVoiced, 0),
        (Mark::AsrFinal, 100),
        (Mark::SpeechStopped, 250),
        (Mark::EndOfTurn, 250),
        (Mark::DialogueRequest, 251),
        (Mark::DialogueFirstToken, 451),
        (Mark::FirstChunk, 491),
        (Mark::TtsRequest, 492),
        (Mark::TtsFirstAudio, 592),
        (Mark::FirstAudioOut, 595),
    ];

    #[test]
    fn the_parts_add_up_to_the_total() {
        let l = recorder(TURN).1.finish().unwrap();
        let ms = Duration::from_millis;
        assert_eq!(l.total, ms(595));
        assert_eq!((l.endpointing, l.asr, l.dialogue_first_token, l.first_clause, l.tts_first_audio), (ms(250), ms(0), ms(200), ms(40), ms(100)));
        assert_eq!(l.overhead, ms(5));
        assert_eq!(l.asr_final_after_speech, Some(ms(100)));
        assert_eq!(l.sum_of_parts(), l.total);
    }

    #[test]
    fn a_late_final_is_charged_to_the_asr() {
        let mut turn = TURN;
        for (_, at) in turn.iter_mut().filter(|(_, at)| *at > 250) {
            *at += 150;
        }
        turn[1].1 = 400; // the final
        turn[3].1 = 400; // the end of turn it released
        let l = recorder(turn).1.finish().unwrap();
        assert_eq!((l.endpointing, l.asr), (Duration::from_millis(250), Duration::from_millis(150)));
        assert_eq!(l.sum_of_parts(), l.total);
    }

    #[test]
    fn steps_out_of_order_are_refused() {
        let mut turn = TURN;
        turn[3].1 = 400; // end of turn after the dialogue request at 251
        assert_eq!(recorder(turn).1.finish(), Err(LatencyError::OutOfOrder { earlier: Mark::EndOfTurn, later: Mark::DialogueRequest }));
    }

    #[test]
    fn a_missing_step_is_an_error_and_the_first_stamp_wins() {
        let (t0, mut r) = recorder(TURN);
        r.marks[Mark::TtsRequest.index()] = None;
        assert_eq!(r.finish(), Err(LatencyError::Missing(Mark::TtsRequest)));
        r.mark(Mark::TtsRequest, t0 + Duration::from_millis(492));
        r.mark(Mark::TtsRequest, t0 + Duration::from_millis(999));
        assert_eq!(r.finish().unwrap().tts_first_audio, Duration::from_millis(100));
        r.reset();
        assert_eq!(r.finish(), Err(LatencyError::Missing(Mark::LastVoiced)));
    }

    #[test]
    fn it_is_exported_in_milliseconds() {
        let ms = TurnLatencyMs::from(recorder(TURN).1.finish().unwrap());
        assert_eq!((ms.total_ms, ms.endpointing_ms, ms.overhead_ms, ms.asr_final_after_speech_ms), (595.0, 250.0, 5.0, Some(100.0)));
    }
}
