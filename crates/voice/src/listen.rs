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

/// The VAD's onset lag made up, at most: audible frames just before its
/// first speech decision count as speech. earshot calls speech a frame
/// after the voice begins (its 48 ms window); without this a barge-in came
/// a frame late whenever its onset fell badly on earshot's 16 ms frames.
const ONSET_CATCH_UP_FRAMES: u32 = 2;

pub(crate) struct Listener {
    vad: Box<dyn Vad>,
    decisions: Vec<VadFrame>,
    /// The VAD's latest decision, for a frame that completed none of its own.
    vad_speech: bool,
    /// Audible frames in a row the VAD has not (yet) called speech.
    audible_unvoiced: u32,
    /// The last frame fed to the turn-taker was speech.
    was_speech: bool,
    asr: Option<AsrInput>,
    preroll: VecDeque<i16>,
    /// From `CalleeSpeechStarted` (or `CalleeSpeechResumed`) to the next
    /// finalise: audio goes to the recogniser as it comes.
    in_speech: bool,
}

impl Listener {
    pub(crate) fn new(vad: Box<dyn Vad>) -> Self {
        Listener { vad, decisions: Vec::new(), vad_speech: false, audible_unvoiced: 0, was_speech: false, asr: None, preroll: VecDeque::with_capacity(PREROLL_SAMPLES + 160), in_speech: false }
    }

    pub(crate) fn set_asr(&mut self, input: AsrInput) {
        self.asr = Some(input);
    }

    /// Takes one frame of the callee's audio, handed over at `at`, and feeds
    /// the turn-taker one decision for it.
    ///
    /// One decision per frame the leg delivers, not per VAD frame: earshot's
    /// 16 ms frames fall differently on the 20 ms ones every 80 ms, so
    /// durations summed from them reached the barge-in threshold one frame
    /// early or late depending on where speech began. The frame is speech
    /// when a VAD decision it completed says so (or, completing none, the
    /// latest one did) and it is audible.
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
        let vad_speech = match self.decisions.last() {
            None => self.vad_speech,
            Some(last) => {
                self.vad_speech = last.speech;
                self.decisions.drain(..).any(|d| d.speech)
            }
        };
        let speech = vad_speech && audible;
        let frame = std::time::Duration::from_micros(pcm.len() as u64 * 1_000_000 / 8_000);
        let mut duration = frame;
        if speech && !self.was_speech {
            duration += frame * self.audible_unvoiced.min(ONSET_CATCH_UP_FRAMES);
        }
        self.audible_unvoiced = if audible && !speech { self.audible_unvoiced + 1 } else { 0 };
        self.was_speech = speech;
        turn.handle(Input::VadFrame { speech, duration }, at);
    }

    /// Speech began, or resumed after a finalise: the recogniser gets the
    /// pre-roll (the audio since the finalise, at most 300 ms), then every
    /// frame until the next finalise.
    pub(crate) fn speech_started(&mut self) {
        if self.in_speech {
            return;
        }
        self.in_speech = true;
        let preroll: Vec<i16> = self.preroll.drain(..).collect();
        self.push_asr(&preroll);
    }

    /// Asks the recogniser for its final for the audio so far, unless it was
    /// already asked since the last voiced frame (`FinaliseAsr` came before
    /// `CalleeSpeechStopped`). False when there is no recogniser and so no
    /// final will come: the turn must be told there were no words.
    pub(crate) fn finalise(&mut self) -> bool {
        if !std::mem::replace(&mut self.in_speech, false) {
            return true;
        }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use waihu_turn::{Output, TurnConfig};

    use super::*;

    /// A VAD like earshot in the ways that matter here: 16 ms frames, and
    /// speech called from the second loud frame on (its onset lag).
    struct LaggingVad {
        buf: Vec<i16>,
        loud_before: bool,
        at: Duration,
    }

    impl Vad for LaggingVad {
        fn name(&self) -> &'static str {
            "lagging"
        }
        fn frame_duration(&self) -> Duration {
            Duration::from_millis(16)
        }
        fn push(&mut self, pcm8k: &[i16], out: &mut Vec<VadFrame>) {
            self.buf.extend_from_slice(pcm8k);
            while self.buf.len() >= 128 {
                let frame: Vec<i16> = self.buf.drain(..128).collect();
                let loud = waihu_speech::pcm::rms_dbfs(&frame) >= -45.0;
                let speech = loud && self.loud_before;
                self.loud_before = loud;
                out.push(VadFrame { start: self.at, duration: self.frame_duration(), probability: f32::from(u8::from(speech)), speech });
                self.at += self.frame_duration();
            }
        }
        fn reset(&mut self) {}
    }

    fn tone() -> Vec<i16> {
        (0..160).map(|i| ((i as f32 * 0.24).sin() * 8000.0) as i16).collect()
    }

    /// Feeds `lead_in` silent frames, then `voiced` frames of tone, then
    /// silence, over an AI that is playing; returns the index (from the
    /// first voiced frame) of the frame the barge-in came on.
    fn barge_in_frame(lead_in: usize, voiced: usize) -> Option<usize> {
        let vad = LaggingVad { buf: Vec::new(), loud_before: false, at: Duration::ZERO };
        let mut listener = Listener::new(Box::new(vad));
        let mut turn = TurnTaker::new(TurnConfig::default());
        let t0 = Instant::now();
        turn.handle(Input::AgentAudioStarted { utterance_id: 1 }, t0);
        let (silence, tone) = (vec![0i16; 160], tone());
        for i in 0..lead_in + voiced + 20 {
            let pcm = if (lead_in..lead_in + voiced).contains(&i) { &tone } else { &silence };
            listener.hear(pcm, t0 + Duration::from_millis(20 * i as u64), &mut turn);
            while let Some(out) = turn.poll_output() {
                if matches!(out, Output::BargeIn { .. }) {
                    return Some(i - lead_in);
                }
            }
        }
        None
    }

    #[test]
    fn barge_in_comes_on_the_same_frame_however_the_vad_frames_fall() {
        // 16 ms frames fall on the 20 ms ones in four ways; the lead-in
        // shifts the onset through all of them.
        for lead_in in 0..8 {
            // 230 ms is reached by the twelfth 20 ms frame of speech, 240 ms
            // after its start, the VAD's late onset made up.
            assert_eq!(barge_in_frame(lead_in, 50), Some(11), "lead-in of {lead_in} frames");
        }
    }

    #[test]
    fn a_sound_shorter_than_the_threshold_never_barges_in() {
        for lead_in in 0..8 {
            assert_eq!(barge_in_frame(lead_in, 11), None, "220 ms after a lead-in of {lead_in} frames");
        }
    }
}
