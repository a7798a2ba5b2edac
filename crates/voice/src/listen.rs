//! The callee's side: every 20 ms frame goes through the VAD into the
//! turn-taker, and the speech runs the turn-taker brackets go to the ASR.

use std::collections::VecDeque;
use std::time::Instant;

use waihu_speech::asr::AsrInput;
use waihu_speech::{Vad, VadFrame};
use waihu_turn::{Input, TurnTaker};

/// Audio kept from before the first voiced frame: the VAD decides a little
/// after speech begins, and a recogniser given the utterance without its
/// onset loses the first syllable.
const PREROLL_SAMPLES: usize = 8_000 * 300 / 1000;

/// Below this level a frame is not speech, whatever the VAD says. earshot
/// goes on calling speech for about 80 ms after the voice has stopped (its
/// decisions are smoothed): that tail made every turn's end 80 ms late and
/// a 200 ms 对 look like 250 ms of speech, enough to stop the AI. Speech on
/// a phone line is -35 to -10 dBFS; its trailing consonants above -50.
const SPEECH_FLOOR_DBFS: f32 = -50.0;

pub(crate) struct Listener {
    vad: Box<dyn Vad>,
    decisions: Vec<VadFrame>,
    asr: Option<AsrInput>,
    preroll: VecDeque<i16>,
    /// Between `CalleeSpeechStarted` and `CalleeSpeechStopped`: audio goes
    /// to the recogniser as it comes.
    in_speech: bool,
}

impl Listener {
    pub(crate) fn new(vad: Box<dyn Vad>) -> Self {
        Listener { vad, decisions: Vec::new(), asr: None, preroll: VecDeque::with_capacity(PREROLL_SAMPLES + 160), in_speech: false }
    }

    pub(crate) fn set_asr(&mut self, input: AsrInput) {
        self.asr = Some(input);
    }

    /// Takes one frame of the callee's audio, handed over at `at`, and feeds
    /// each VAD decision it completes to the turn-taker.
    pub(crate) fn hear(&mut self, pcm: &[i16], at: Instant, turn: &mut TurnTaker) {
        if self.in_speech {
            self.push_asr(pcm);
        } else {
            self.preroll.extend(pcm.iter().copied());
            let excess = self.preroll.len().saturating_sub(PREROLL_SAMPLES);
            self.preroll.drain(..excess);
        }
        self.vad.push(pcm, &mut self.decisions);
        let audible = waihu_speech::pcm::rms_dbfs(pcm) >= SPEECH_FLOOR_DBFS;
        for d in self.decisions.drain(..) {
            turn.handle(Input::VadFrame { speech: d.speech && audible, duration: d.duration }, at);
        }
    }

    /// A speech run began: the recogniser gets the pre-roll, then every
    /// frame until the run ends.
    pub(crate) fn speech_started(&mut self) {
        self.in_speech = true;
        let preroll: Vec<i16> = self.preroll.drain(..).collect();
        self.push_asr(&preroll);
    }

    /// The run ended: asks for its final. False when there is no recogniser
    /// (the turn must then be told there were no words).
    pub(crate) fn speech_stopped(&mut self) -> bool {
        self.in_speech = false;
        match &self.asr {
            Some(asr) => {
                asr.finalise();
                true
            }
            None => false,
        }
    }

    pub(crate) fn dropped_samples(&self) -> u64 {
        self.asr.as_ref().map_or(0, AsrInput::dropped_samples)
    }

    fn push_asr(&mut self, pcm: &[i16]) {
        if let Some(asr) = &self.asr {
            // Never waits: a recogniser that is behind loses audio (counted).
            asr.push_pcm(pcm);
        }
    }
}
