//! Clips of audio played back to back, one frame at a time, with no IO and
//! no clock: what every leg that plays the AI's speech keeps (the RTP
//! engine's sending half, the simulated network's audio leg).
//!
//! A clip's first samples going out is reported once (`Started`), and every
//! clip is reported done exactly once (`Done`): when its last sample went
//! out, or when [`ClipQueue::stop`] cut it (with what of it went out) or
//! dropped it unplayed. Clips follow each other without a gap, inside a
//! frame too; an empty clip is done at once, never started.

use std::collections::VecDeque;
use std::sync::Arc;

/// What happened to a clip.
#[derive(Debug, Clone, PartialEq)]
pub enum ClipEvent {
    /// Its first samples went out in the frame just filled.
    Started {
        /// The clip's id.
        id: u64,
        /// Its samples (a cheap clone), for whoever listens to it.
        pcm: Arc<[i16]>,
    },
    /// It ended, or was stopped or dropped.
    Done {
        /// The clip's id.
        id: u64,
        /// How many of its samples went out.
        samples_played: usize,
        /// Whether it was cut short.
        stopped: bool,
    },
}

struct Clip {
    id: u64,
    pcm: Arc<[i16]>,
    /// Samples already sent.
    pos: usize,
}

/// The clips queued or playing.
#[derive(Default)]
pub struct ClipQueue {
    clips: VecDeque<Clip>,
}

impl ClipQueue {
    /// Queues a clip behind the others.
    pub fn push(&mut self, id: u64, pcm: Arc<[i16]>) {
        self.clips.push_back(Clip { id, pcm, pos: 0 });
    }

    /// Nothing playing or queued.
    pub fn is_idle(&self) -> bool {
        self.clips.is_empty()
    }

    /// The clip playing, once its first samples went out.
    pub fn playing(&self) -> Option<u64> {
        self.clips.front().filter(|c| c.pos > 0).map(|c| c.id)
    }

    /// Fills `frame` from the clips back to back and returns how many
    /// samples it filled (the rest is left as it was). Each clip's part is
    /// handed to `sent` with its id; starts and ends go to `events`.
    pub fn fill(&mut self, frame: &mut [i16], events: &mut impl Extend<ClipEvent>, mut sent: impl FnMut(u64, &[i16])) -> usize {
        let mut filled = 0;
        while filled < frame.len() {
            let Some(clip) = self.clips.front_mut() else { break };
            let take = (frame.len() - filled).min(clip.pcm.len() - clip.pos);
            if clip.pos == 0 && take > 0 {
                events.extend([ClipEvent::Started { id: clip.id, pcm: clip.pcm.clone() }]);
            }
            let part = &clip.pcm[clip.pos..clip.pos + take];
            frame[filled..filled + take].copy_from_slice(part);
            sent(clip.id, part);
            clip.pos += take;
            filled += take;
            if clip.pos == clip.pcm.len() {
                events.extend([ClipEvent::Done { id: clip.id, samples_played: clip.pos, stopped: false }]);
                self.clips.pop_front();
            }
        }
        filled
    }

    /// Stops the clip playing and drops the queued ones, reporting each.
    /// Returns whether a clip was cut part-way.
    pub fn stop(&mut self, events: &mut impl Extend<ClipEvent>) -> bool {
        let cut = self.playing().is_some();
        events.extend(self.clips.drain(..).map(|c| ClipEvent::Done { id: c.id, samples_played: c.pos, stopped: true }));
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(n: usize, v: i16) -> Arc<[i16]> {
        vec![v; n].into()
    }

    #[test]
    fn clips_follow_each_other_without_a_gap_and_each_is_done_once() {
        let mut q = ClipQueue::default();
        q.push(1, clip(250, 1));
        q.push(2, clip(0, 9));
        q.push(3, clip(100, 2));
        let (mut frame, mut events, mut parts) = ([0i16; 160], Vec::new(), Vec::new());
        assert_eq!(q.fill(&mut frame, &mut events, |id, p| parts.push((id, p.len()))), 160);
        assert!(matches!(events.as_slice(), [ClipEvent::Started { id: 1, .. }]));
        assert_eq!(q.playing(), Some(1));
        events.clear();
        assert_eq!(q.fill(&mut frame, &mut events, |id, p| parts.push((id, p.len()))), 160);
        assert_eq!(frame[89..91], [1, 2], "clip 3 starts right where clip 1 ends");
        let ids: Vec<_> = events
            .iter()
            .map(|e| match e {
                ClipEvent::Started { id, .. } => (*id, "started", 0),
                ClipEvent::Done { id, samples_played, .. } => (*id, "done", *samples_played),
            })
            .collect();
        // The empty clip is done without starting: none of it went out.
        assert_eq!(ids, [(1, "done", 250), (2, "done", 0), (3, "started", 0)]);
        events.clear();
        assert_eq!(q.fill(&mut frame, &mut events, |id, p| parts.push((id, p.len()))), 30);
        assert_eq!(events, [ClipEvent::Done { id: 3, samples_played: 100, stopped: false }]);
        assert_eq!(parts, [(1, 160), (1, 90), (2, 0), (3, 70), (3, 30)]);
        assert!(q.is_idle());
    }

    #[test]
    fn stopping_reports_what_went_out_and_drops_the_queue() {
        let mut q = ClipQueue::default();
        let mut events = Vec::new();
        assert!(!q.stop(&mut events), "nothing playing: nothing cut");
        q.push(1, clip(1000, 1));
        q.push(2, clip(1000, 2));
        q.fill(&mut [0i16; 160], &mut events, |_, _| {});
        events.clear();
        assert!(q.stop(&mut events));
        assert_eq!(
            events,
            [ClipEvent::Done { id: 1, samples_played: 160, stopped: true }, ClipEvent::Done { id: 2, samples_played: 0, stopped: true }]
        );
        assert!(q.is_idle());
    }
}
