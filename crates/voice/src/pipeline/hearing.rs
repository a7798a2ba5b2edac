//! The callee's side of the pipeline: the recogniser's results and the
//! turn-taker's decisions (end of turn, barge-in) become what the session
//! hears, and the latency marks of the turn that will be answered.

use waihu_carrier::TextEvent;
use waihu_speech::AsrEvent;
use waihu_turn::{Input, LatencyRecorder, Mark, Output};

use super::Pipeline;

impl Pipeline {
    pub(super) fn on_asr(&mut self, ev: AsrEvent) {
        let now = crate::clock::now();
        match ev {
            AsrEvent::Partial(text) => self.turn.handle(Input::AsrPartial(text), now),
            AsrEvent::Final(t) => self.turn.handle(Input::AsrFinal(t.text), now),
            AsrEvent::Error(e) => {
                tracing::warn!(error = %e, "speech recognition failed for an utterance");
                // The turn must not wait for a final that will not come.
                self.turn.handle(Input::AsrFinal(String::new()), now);
            }
        }
    }

    pub(super) async fn drain_turn(&mut self) {
        while let Some(out) = self.turn.poll_output() {
            match out {
                Output::CalleeSpeechStarted { .. } => {
                    self.listener.speech_started();
                    self.emit(TextEvent::SpeechStarted).await;
                }
                Output::CalleeSpeechResumed { .. } => self.listener.speech_started(),
                Output::FinaliseAsr { .. } | Output::CalleeSpeechStopped { .. } => {
                    if !self.listener.finalise() {
                        self.turn.handle(Input::AsrFinal(String::new()), crate::clock::now());
                    }
                }
                Output::EndOfTurn { text, last_voiced_at, speech_stopped_at, final_at, decided_at, .. } => {
                    let mut l = LatencyRecorder::new();
                    l.mark(Mark::LastVoiced, last_voiced_at);
                    l.mark(Mark::SpeechStopped, speech_stopped_at);
                    if let Some(f) = final_at {
                        l.mark(Mark::AsrFinal, f);
                    }
                    l.mark(Mark::EndOfTurn, decided_at);
                    l.mark(Mark::DialogueRequest, crate::clock::now());
                    self.latency = Some(l);
                    self.latency_line = None;
                    self.emit(TextEvent::Heard(text)).await;
                }
                Output::BargeIn { .. } => {
                    tracing::debug!("barge-in: the AI stops");
                    self.stop_all().await;
                }
                Output::Backchannel { text, .. } => tracing::debug!(%text, "acknowledgement over the AI; it goes on"),
                Output::Interrupted { .. } | Output::NoWords { .. } => {}
            }
        }
    }
}
