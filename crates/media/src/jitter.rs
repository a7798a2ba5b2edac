//! A small reorder buffer: packets go in keyed by RTP sequence number, one
//! 20 ms frame comes out per tick.
//!
//! It is deliberately shallow (2-3 packets): what follows it is speech
//! recognition, which tolerates a concealed frame far better than added
//! latency. A missing packet is concealed by repeating the previous packet
//! at falling volume for up to three frames, then silence. Packets of any
//! length up to [`MAX_PACKET_SAMPLES`] are accepted (some trunks send 30 ms
//! frames) and re-cut into 160-sample frames.
//!
//! Sequence numbers compare modulo 2^16: `a` is before `b` when
//! `b - a` (wrapping) is below 2^15.
//!
//! Why by hand: the reorder buffers published for Rust come inside a stack
//! (webrtc-rs's interceptors, rvoip's `rtp-core`) or run on a timer of
//! their own (`jittr` is a futures `Stream` driven by `futures-timer`).
//! This one is popped by the engine's single 20 ms clock with time as an
//! input, so whole calls run in virtual time in tests, and what matters in
//! it is the policy above (shallow, conceal then silence, re-cut to 20 ms),
//! which would be ours to write on top of any of them.

use serde::Serialize;

/// Samples in one output frame: 20 ms at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// The longest packet kept whole (60 ms); longer payloads are truncated.
pub const MAX_PACKET_SAMPLES: usize = 480;
/// Ring size; packets further ahead than this resynchronise the buffer.
const SLOTS: usize = 8;
/// Consecutive concealed packets after which the far end is taken to have
/// paused (hold, silence suppression): the buffer goes idle and the next
/// packet starts a fresh stream instead of being judged late.
const IDLE_AFTER_MISSING: u32 = 5;
/// A packet further behind than this is a restarted stream, not a late one
/// (RFC 3550 A.1's misorder bound).
const MAX_MISORDER: i32 = 100;
/// Concealed packets that repeat the last audio before falling to silence.
const REPEATS_BEFORE_SILENCE: u32 = 3;

/// What an output frame is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameKind {
    /// Received audio only.
    Received,
    /// At least part of it stands in for a lost or late packet.
    Concealed,
    /// Silence: before the stream settles, while it is paused, or in place
    /// of non-audio packets (DTMF events).
    Silence,
}

/// One 20 ms frame of decoded audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// The samples.
    pub samples: [i16; FRAME_SAMPLES],
    /// Where they came from.
    pub kind: FrameKind,
}

/// What happened to a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored for playout.
    Accepted,
    /// Its turn has passed: dropped.
    Late,
    /// Already stored: dropped.
    Duplicate,
    /// So far ahead that the buffer restarted from it.
    Resynced,
}

/// Counts of what the buffer dropped or invented.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JitterCounters {
    /// Packets that arrived after their playout time.
    pub late: u64,
    /// Packets received twice.
    pub duplicate: u64,
    /// Packets replaced by concealment.
    pub concealed: u64,
    /// Packets dropped because too many were queued (far end's clock fast).
    pub overflow_dropped: u64,
    /// Times the buffer restarted on a packet far ahead or after a pause.
    pub resyncs: u64,
    /// Packets longer than [`MAX_PACKET_SAMPLES`], cut short.
    pub truncated: u64,
}

#[derive(Clone)]
struct Slot {
    seq: u16,
    filled: bool,
    audio: bool,
    len: usize,
    samples: [i16; MAX_PACKET_SAMPLES],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Empty,
    Priming { ticks_left: u8 },
    Playing,
    Idle,
}

/// The reorder buffer. See the module docs.
pub struct JitterBuffer {
    depth: u8,
    slots: Vec<Slot>,
    next: u16,
    state: State,
    fifo: [i16; MAX_PACKET_SAMPLES + FRAME_SAMPLES],
    fifo_len: usize,
    last: [i16; MAX_PACKET_SAMPLES],
    last_len: usize,
    missing_run: u32,
    counters: JitterCounters,
}

impl JitterBuffer {
    /// A buffer that holds `depth` packets (clamped to 1..=4) before playing.
    pub fn new(depth: u8) -> Self {
        let empty = Slot {
            seq: 0,
            filled: false,
            audio: false,
            len: 0,
            samples: [0; MAX_PACKET_SAMPLES],
        };
        JitterBuffer {
            depth: depth.clamp(1, 4),
            slots: vec![empty; SLOTS],
            next: 0,
            state: State::Empty,
            fifo: [0; MAX_PACKET_SAMPLES + FRAME_SAMPLES],
            fifo_len: 0,
            last: [0; MAX_PACKET_SAMPLES],
            last_len: 0,
            missing_run: 0,
            counters: JitterCounters::default(),
        }
    }

    /// What has been dropped or concealed so far.
    pub fn counters(&self) -> JitterCounters {
        self.counters
    }

    /// Stores a packet of decoded audio.
    pub fn push(&mut self, seq: u16, samples: &[i16]) -> PushOutcome {
        self.insert(seq, samples, true)
    }

    /// Stores a non-audio packet (a DTMF event, comfort noise) that occupies
    /// sequence number `seq` and stands for `samples` samples of silence
    /// (0 for a repeat that adds no time), so that it is not taken as lost.
    pub fn push_filler(&mut self, seq: u16, samples: usize) -> PushOutcome {
        let zeros = [0i16; MAX_PACKET_SAMPLES];
        self.insert(seq, &zeros[..samples.min(MAX_PACKET_SAMPLES)], false)
    }

    fn insert(&mut self, seq: u16, samples: &[i16], audio: bool) -> PushOutcome {
        let mut outcome = PushOutcome::Accepted;
        if matches!(self.state, State::Empty | State::Idle) {
            self.restart(seq);
        }
        let ahead = seq.wrapping_sub(self.next) as i16;
        if ahead < 0 {
            // While priming nothing has played yet, so an earlier packet can
            // still become the start if the window has room for it.
            let room = SLOTS as i32 - 1 - self.filled_span();
            if matches!(self.state, State::Priming { .. }) && -i32::from(ahead) <= room {
                self.next = seq;
            } else if -i32::from(ahead) > MAX_MISORDER {
                // Not late but a different sequence: the far end restarted.
                self.counters.resyncs += 1;
                self.restart(seq);
                outcome = PushOutcome::Resynced;
            } else {
                self.counters.late += 1;
                return PushOutcome::Late;
            }
        } else if ahead as usize >= SLOTS {
            self.counters.resyncs += 1;
            self.restart(seq);
            outcome = PushOutcome::Resynced;
        }
        let slot = &mut self.slots[usize::from(seq) % SLOTS];
        if slot.filled && slot.seq == seq {
            self.counters.duplicate += 1;
            return PushOutcome::Duplicate;
        }
        if samples.len() > MAX_PACKET_SAMPLES {
            self.counters.truncated += 1;
        }
        let len = samples.len().min(MAX_PACKET_SAMPLES);
        slot.samples[..len].copy_from_slice(&samples[..len]);
        slot.len = len;
        slot.seq = seq;
        slot.filled = true;
        slot.audio = audio;
        outcome
    }

    /// The next 20 ms frame, or `None` before the first packet ever arrived.
    pub fn pop(&mut self) -> Option<Frame> {
        match self.state {
            State::Empty => return None,
            State::Idle => return Some(silence()),
            State::Priming { ticks_left } if ticks_left > 0 => {
                self.state = State::Priming {
                    ticks_left: ticks_left - 1,
                };
                return Some(silence());
            }
            State::Priming { .. } | State::Playing => self.state = State::Playing,
        }
        let (mut any_audio, mut any_concealed) = (false, false);
        while self.fifo_len < FRAME_SAMPLES {
            let idx = usize::from(self.next) % SLOTS;
            if self.slots[idx].filled && self.slots[idx].seq == self.next {
                self.slots[idx].filled = false;
                let slot = &self.slots[idx];
                self.fifo[self.fifo_len..self.fifo_len + slot.len]
                    .copy_from_slice(&slot.samples[..slot.len]);
                self.fifo_len += slot.len;
                if slot.audio && slot.len > 0 {
                    self.last[..slot.len].copy_from_slice(&slot.samples[..slot.len]);
                    self.last_len = slot.len;
                    any_audio = true;
                }
                self.missing_run = 0;
            } else {
                self.missing_run += 1;
                self.counters.concealed += 1;
                any_concealed = true;
                self.conceal();
                if self.missing_run >= IDLE_AFTER_MISSING && self.filled_count() == 0 {
                    self.state = State::Idle;
                }
            }
            self.next = self.next.wrapping_add(1);
        }
        let mut samples = [0i16; FRAME_SAMPLES];
        samples.copy_from_slice(&self.fifo[..FRAME_SAMPLES]);
        self.fifo.copy_within(FRAME_SAMPLES..self.fifo_len, 0);
        self.fifo_len -= FRAME_SAMPLES;
        if self.state == State::Idle {
            self.fifo_len = 0;
        }
        self.trim_overflow();
        let kind = if any_concealed {
            FrameKind::Concealed
        } else if any_audio {
            FrameKind::Received
        } else {
            FrameKind::Silence
        };
        Some(Frame { samples, kind })
    }

    /// Appends a stand-in for one missing packet: the last audio packet at
    /// 3/4, 2/4, 1/4 volume for the first three misses, then silence.
    fn conceal(&mut self) {
        let len = if self.last_len == 0 {
            FRAME_SAMPLES
        } else {
            self.last_len
        };
        let out = &mut self.fifo[self.fifo_len..self.fifo_len + len];
        if self.missing_run <= REPEATS_BEFORE_SILENCE && self.last_len > 0 {
            let gain = (REPEATS_BEFORE_SILENCE + 1 - self.missing_run) as i32;
            for (o, &s) in out.iter_mut().zip(&self.last[..len]) {
                *o = (i32::from(s) * gain / (REPEATS_BEFORE_SILENCE as i32 + 1)) as i16;
            }
        } else {
            out.fill(0);
        }
        self.fifo_len += len;
    }

    /// Bounds latency when the far end's clock runs fast or a burst arrives:
    /// beyond twice the depth, the oldest packets are skipped.
    fn trim_overflow(&mut self) {
        while self.filled_count() > usize::from(self.depth) * 2 {
            let idx = usize::from(self.next) % SLOTS;
            if self.slots[idx].filled && self.slots[idx].seq == self.next {
                self.slots[idx].filled = false;
                self.counters.overflow_dropped += 1;
            }
            self.next = self.next.wrapping_add(1);
        }
    }

    fn restart(&mut self, seq: u16) {
        for slot in &mut self.slots {
            slot.filled = false;
        }
        self.next = seq;
        self.fifo_len = 0;
        self.missing_run = 0;
        self.state = State::Priming {
            ticks_left: self.depth,
        };
    }

    fn filled_count(&self) -> usize {
        self.slots.iter().filter(|s| s.filled).count()
    }

    /// How far past `next` the furthest stored packet lies.
    fn filled_span(&self) -> i32 {
        self.slots
            .iter()
            .filter(|s| s.filled)
            .map(|s| i32::from(s.seq.wrapping_sub(self.next) as i16))
            .max()
            .unwrap_or(0)
    }
}

impl std::fmt::Debug for JitterBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitterBuffer")
            .field("depth", &self.depth)
            .field("next", &self.next)
            .field("state", &self.state)
            .field("queued", &self.filled_count())
            .field("counters", &self.counters)
            .finish()
    }
}

fn silence() -> Frame {
    Frame {
        samples: [0; FRAME_SAMPLES],
        kind: FrameKind::Silence,
    }
}
