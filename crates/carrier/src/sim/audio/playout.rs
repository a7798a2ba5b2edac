//! The AI's side of an audio leg: its clips played back to back, 160
//! samples a tick (by `waihu-media`'s clip queue, the RTP engine's too),
//! and the "line" the callee hears: the AI's audio since it last paused,
//! which the callee then makes out with its recogniser.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use waihu_media::clips::{ClipEvent, ClipQueue};

/// Samples in a 20 ms frame at 8 kHz.
pub(super) const FRAME: usize = 160;

/// What happened to the clips during a tick or a stop, in order.
pub(super) type Played = ClipEvent;

/// A line of the AI's audio, ready to be made out.
#[derive(Debug)]
pub(super) struct Line {
    pub(super) pcm: Vec<i16>,
    /// When its last sample was played.
    pub(super) ended_at: Instant,
    /// It ended because the AI stopped a clip before its end.
    pub(super) cut_off: bool,
}

#[derive(Default)]
pub(super) struct Playout {
    clips: ClipQueue,
    /// The AI's audio heard since the last line was taken.
    line: Vec<i16>,
    /// When the AI's audio last played (its last sample's end); `None`
    /// while no line is open.
    last_audio: Option<Instant>,
    /// A clip the callee already answered by talking over it: the rest of
    /// it is not part of what it hears.
    unheard: Option<u64>,
}

/// Real time taken by `samples` at 8 kHz.
pub(super) fn duration_of(samples: usize) -> Duration {
    Duration::from_micros(samples as u64 * 125)
}

impl Playout {
    pub(super) fn push(&mut self, id: u64, pcm: Arc<[i16]>) {
        self.clips.push(id, pcm);
    }

    /// Nothing playing or queued.
    pub(super) fn is_idle(&self) -> bool {
        self.clips.is_idle()
    }

    /// The AI's audio played since the last line was taken.
    pub(super) fn line_open(&self) -> bool {
        self.last_audio.is_some()
    }

    /// The clip playing, once its first samples went out.
    pub(super) fn playing(&self) -> Option<u64> {
        self.clips.playing()
    }

    /// Sends the next 160 samples of the AI's audio at `now`, across clip
    /// boundaries; returns how many there were (0: the AI is quiet).
    pub(super) fn tick(&mut self, now: Instant, out: &mut Vec<Played>) -> usize {
        let (line, unheard) = (&mut self.line, self.unheard);
        let filled = self.clips.fill(&mut [0i16; FRAME], out, |id, part| {
            if unheard != Some(id) {
                line.extend_from_slice(part);
            }
        });
        if filled > 0 {
            self.last_audio = Some(now + duration_of(filled));
        }
        filled
    }

    /// Stops the clip playing and drops the queued ones, answering each.
    /// Returns whether a clip was cut part-way.
    pub(super) fn stop(&mut self, out: &mut Vec<Played>) -> bool {
        self.clips.stop(out)
    }

    /// The line, if the AI has been quiet for `gap` since it last played.
    pub(super) fn line_after_gap(&mut self, now: Instant, gap: Duration) -> Option<Line> {
        match self.last_audio {
            Some(at) if self.clips.is_idle() && now >= at + gap => self.take_line(false),
            _ => None,
        }
    }

    /// The line heard so far, now (the AI stopped).
    pub(super) fn take_line(&mut self, cut_off: bool) -> Option<Line> {
        let ended_at = self.last_audio.take()?;
        self.unheard = None;
        Some(Line { pcm: std::mem::take(&mut self.line), ended_at, cut_off })
    }

    /// The callee answered the clip playing by talking over it: what it
    /// heard of this line is settled, the rest of the clip goes unheard.
    pub(super) fn answered_by_cut_in(&mut self, clip: u64) {
        self.line.clear();
        self.unheard = Some(clip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(n: usize, v: i16) -> Arc<[i16]> {
        vec![v; n].into()
    }

    #[tokio::test(start_paused = true)]
    async fn clips_play_back_to_back_and_form_one_line() {
        let mut p = Playout::default();
        let t0 = Instant::now();
        p.push(1, clip(250, 1));
        p.push(2, clip(0, 9));
        p.push(3, clip(100, 2));
        let mut out = Vec::new();
        assert_eq!(p.tick(t0, &mut out), 160);
        assert!(matches!(out.as_slice(), [Played::Started { id: 1, .. }]));
        assert_eq!(p.playing(), Some(1));
        out.clear();
        assert_eq!(p.tick(t0 + duration_of(160), &mut out), 160);
        let ids: Vec<_> = out
            .iter()
            .map(|e| match e {
                Played::Started { id, .. } => (*id, "started", 0),
                Played::Done { id, samples_played, .. } => (*id, "done", *samples_played),
            })
            .collect();
        // The empty clip is answered without starting: none of it went out.
        assert_eq!(ids, [(1, "done", 250), (2, "done", 0), (3, "started", 0)]);
        out.clear();
        assert_eq!(p.tick(t0 + duration_of(320), &mut out), 30);
        assert_eq!(out, [Played::Done { id: 3, samples_played: 100, stopped: false }]);
        assert!(p.is_idle() && p.line_open());
        let end = t0 + duration_of(350);
        assert!(p.line_after_gap(end + Duration::from_millis(299), Duration::from_millis(300)).is_none());
        let line = p.line_after_gap(end + Duration::from_millis(300), Duration::from_millis(300)).unwrap();
        assert_eq!(line.pcm.len(), 350);
        assert_eq!((line.ended_at, line.cut_off), (end, false));
        assert!(!p.line_open());
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_answers_every_clip_and_a_cut_in_leaves_the_rest_unheard() {
        let mut p = Playout::default();
        let mut out = Vec::new();
        p.push(1, clip(1000, 1));
        p.push(2, clip(1000, 2));
        p.tick(Instant::now(), &mut out);
        p.answered_by_cut_in(1);
        p.tick(Instant::now(), &mut out);
        out.clear();
        assert!(p.stop(&mut out));
        assert_eq!(
            out,
            [Played::Done { id: 1, samples_played: 320, stopped: true }, Played::Done { id: 2, samples_played: 0, stopped: true }]
        );
        let line = p.take_line(true).unwrap();
        assert!(line.pcm.is_empty() && line.cut_off);
        assert!(p.take_line(true).is_none(), "one line, taken once");
        // Nothing playing: nothing is cut.
        assert!(!p.stop(&mut out));
    }
}
