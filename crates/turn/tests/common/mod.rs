//! A virtual-time driver for [`TurnTaker`]: it does what the pipeline's run
//! loop does (feed frames as they come, fire `poll_timeout` on time, drain
//! outputs) with a clock that only moves when told.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use waihu_turn::{Input, Output, TurnConfig, TurnTaker};

pub(crate) struct Call {
    pub(crate) tt: TurnTaker,
    pub(crate) t0: Instant,
    pub(crate) now: Instant,
    pub(crate) frame: Duration,
    /// Every output with the millisecond it came at.
    pub(crate) log: Vec<(u64, Output)>,
    /// When the last VAD frame with speech was fed (ms), and the first one
    /// of the latest run.
    pub(crate) last_voiced_ms: Option<u64>,
    pub(crate) run_first_voiced_ms: Option<u64>,
}

impl Call {
    /// The defaults, but the final asked for at the hangover: most
    /// scenarios are about the hangover's rules (`early_final.rs` has the
    /// early request's).
    pub(crate) fn new() -> Self {
        Self::with(TurnConfig { early_final: None, barge_in_min_speech: Duration::from_millis(250), ..TurnConfig::default() }, 20)
    }

    pub(crate) fn with(cfg: TurnConfig, frame_ms: u64) -> Self {
        let t0 = Instant::now();
        Call {
            tt: TurnTaker::new(cfg),
            t0,
            now: t0,
            frame: Duration::from_millis(frame_ms),
            log: vec![],
            last_voiced_ms: None,
            run_first_voiced_ms: None,
        }
    }

    pub(crate) fn ms(&self, at: Instant) -> u64 {
        (at - self.t0).as_millis() as u64
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.ms(self.now)
    }

    pub(crate) fn feed(&mut self, input: Input) {
        self.tt.handle(input, self.now);
        while let Some(out) = self.tt.poll_output() {
            self.log.push((self.now_ms(), out));
        }
    }

    /// Moves the clock to `ms`, firing every timer due on the way at the
    /// instant it is due (a punctual driver).
    pub(crate) fn advance_to(&mut self, ms: u64) {
        let target = self.t0 + Duration::from_millis(ms);
        while let Some(due) = self.tt.poll_timeout().filter(|due| *due <= target) {
            self.now = due.max(self.now);
            self.feed(Input::Timeout);
        }
        self.now = target.max(self.now);
    }

    fn frames(&mut self, speech: bool, ms: u64) {
        let step = self.frame.as_millis() as u64;
        for _ in 0..ms / step {
            let next = self.now_ms() + step;
            self.advance_to(next);
            if speech {
                if self.last_voiced_ms.is_none_or(|l| l + step != next) {
                    self.run_first_voiced_ms = Some(next);
                }
                self.last_voiced_ms = Some(next);
            }
            self.feed(Input::VadFrame { speech, duration: self.frame });
        }
    }

    /// The callee speaks for `ms` (one VAD frame every frame length).
    pub(crate) fn speak(&mut self, ms: u64) {
        self.frames(true, ms);
    }

    /// The line is quiet for `ms`.
    pub(crate) fn silence(&mut self, ms: u64) {
        self.frames(false, ms);
    }

    pub(crate) fn partial(&mut self, text: &str) {
        self.feed(Input::AsrPartial(text.into()));
    }

    pub(crate) fn final_text(&mut self, text: &str) {
        self.feed(Input::AsrFinal(text.into()));
    }

    pub(crate) fn ai_starts(&mut self, utterance_id: u64) {
        self.feed(Input::AgentAudioStarted { utterance_id });
    }

    pub(crate) fn ai_played(&mut self, utterance_id: u64, chars_played: usize) {
        self.feed(Input::AgentAudioPlayed { utterance_id, chars_played });
    }

    pub(crate) fn ai_finishes(&mut self, utterance_id: u64) {
        self.feed(Input::AgentAudioFinished { utterance_id });
    }

    /// `(text, last voiced ms, decided ms)` of every end of turn.
    pub(crate) fn ends_of_turn(&self) -> Vec<(String, u64, u64)> {
        self.log
            .iter()
            .filter_map(|(_, o)| match o {
                Output::EndOfTurn { text, last_voiced_at, decided_at, .. } => Some((text.clone(), self.ms(*last_voiced_at), self.ms(*decided_at))),
                _ => None,
            })
            .collect()
    }

    /// `(decided ms, speech started ms)` of every barge-in.
    pub(crate) fn barge_ins(&self) -> Vec<(u64, u64)> {
        self.log
            .iter()
            .filter_map(|(_, o)| match o {
                Output::BargeIn { at, speech_started_at } => Some((self.ms(*at), self.ms(*speech_started_at))),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn backchannels(&self) -> Vec<String> {
        self.log.iter().filter_map(|(_, o)| if let Output::Backchannel { text, .. } = o { Some(text.clone()) } else { None }).collect()
    }

    /// The kinds of outputs, in order, for whole-scenario assertions.
    pub(crate) fn kinds(&self) -> Vec<&'static str> {
        self.log
            .iter()
            .map(|(_, o)| match o {
                Output::CalleeSpeechStarted { .. } => "started",
                Output::CalleeSpeechStopped { .. } => "stopped",
                Output::FinaliseAsr { .. } => "finalise",
                Output::CalleeSpeechResumed { .. } => "resumed",
                Output::EndOfTurn { .. } => "end_of_turn",
                Output::NoWords { .. } => "no_words",
                Output::BargeIn { .. } => "barge_in",
                Output::Interrupted { .. } => "interrupted",
                Output::Backchannel { .. } => "backchannel",
            })
            .collect()
    }
}
