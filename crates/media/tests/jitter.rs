//! The reorder buffer: order, concealment, late and duplicate packets, wrap.

use waihu_media::jitter::{FrameKind, JitterBuffer, PushOutcome, FRAME_SAMPLES};

fn frame(v: i16) -> [i16; FRAME_SAMPLES] {
    [v; FRAME_SAMPLES]
}

/// Pops one frame and returns its first sample and kind.
fn pop(jb: &mut JitterBuffer) -> (i16, FrameKind) {
    let f = jb.pop().expect("a frame once started");
    (f.samples[0], f.kind)
}

#[test]
fn nothing_before_the_first_packet_then_depth_ticks_of_silence() {
    let mut jb = JitterBuffer::new(2);
    assert!(jb.pop().is_none());
    jb.push(10, &frame(1000));
    assert_eq!(pop(&mut jb), (0, FrameKind::Silence));
    jb.push(11, &frame(1100));
    assert_eq!(pop(&mut jb), (0, FrameKind::Silence));
    jb.push(12, &frame(1200));
    assert_eq!(pop(&mut jb), (1000, FrameKind::Received));
    assert_eq!(pop(&mut jb), (1100, FrameKind::Received));
}

#[test]
fn reorders_within_its_depth() {
    let mut jb = JitterBuffer::new(3);
    for seq in [5u16, 7, 6, 8] {
        jb.push(seq, &frame(seq as i16 * 100));
    }
    for _ in 0..3 {
        pop(&mut jb);
    }
    let got: Vec<i16> = (0..4).map(|_| pop(&mut jb).0).collect();
    assert_eq!(got, [500, 600, 700, 800]);
}

#[test]
fn an_earlier_packet_arriving_while_priming_becomes_the_start() {
    let mut jb = JitterBuffer::new(2);
    jb.push(21, &frame(2100));
    assert_eq!(jb.push(20, &frame(2000)), PushOutcome::Accepted);
    pop(&mut jb);
    pop(&mut jb);
    assert_eq!(pop(&mut jb).0, 2000);
    assert_eq!(pop(&mut jb).0, 2100);
}

#[test]
fn a_lost_packet_is_concealed_by_fading_repeats() {
    let mut jb = JitterBuffer::new(2);
    jb.push(1, &frame(800));
    pop(&mut jb);
    pop(&mut jb);
    assert_eq!(pop(&mut jb), (800, FrameKind::Received));
    // 2, 3, 4 are lost; 5 arrives.
    jb.push(5, &frame(500));
    assert_eq!(pop(&mut jb), (600, FrameKind::Concealed));
    assert_eq!(pop(&mut jb), (400, FrameKind::Concealed));
    assert_eq!(pop(&mut jb), (200, FrameKind::Concealed));
    assert_eq!(pop(&mut jb), (500, FrameKind::Received));
    assert_eq!(jb.counters().concealed, 3);
    // A long gap falls to silence after three repeats.
    for _ in 0..3 {
        pop(&mut jb);
    }
    assert_eq!(pop(&mut jb), (0, FrameKind::Concealed));
}

#[test]
fn late_and_duplicate_packets_are_dropped_and_counted() {
    let mut jb = JitterBuffer::new(2);
    jb.push(100, &frame(1));
    assert_eq!(jb.push(100, &frame(1)), PushOutcome::Duplicate);
    jb.push(101, &frame(2));
    for _ in 0..4 {
        pop(&mut jb);
    }
    assert_eq!(jb.push(100, &frame(1)), PushOutcome::Late);
    assert_eq!(jb.push(101, &frame(2)), PushOutcome::Late);
    let c = jb.counters();
    assert_eq!((c.late, c.duplicate), (2, 1));
}

#[test]
fn sequence_numbers_wrap() {
    let mut jb = JitterBuffer::new(2);
    let seqs = [65534u16, 0, 65535, 1, 2];
    for (i, &seq) in seqs.iter().enumerate() {
        assert_eq!(
            jb.push(seq, &frame(seq.wrapping_add(10) as i16)),
            PushOutcome::Accepted,
            "packet {i}"
        );
    }
    pop(&mut jb);
    pop(&mut jb);
    let got: Vec<i16> = (0..5).map(|_| pop(&mut jb).0).collect();
    assert_eq!(got, [8, 9, 10, 11, 12]);
}

#[test]
fn thirty_ms_packets_are_recut_into_twenty_ms_frames() {
    let mut jb = JitterBuffer::new(2);
    // Three 240-sample packets = 720 samples = 4.5 frames.
    let packet = |v: i16| vec![v; 240];
    jb.push(1, &packet(1));
    jb.push(2, &packet(2));
    jb.push(3, &packet(3));
    pop(&mut jb);
    pop(&mut jb);
    let frames: Vec<[i16; FRAME_SAMPLES]> = (0..4).map(|_| jb.pop().unwrap().samples).collect();
    let flat: Vec<i16> = frames.concat();
    assert_eq!(&flat[..240], &[1; 240][..]);
    assert_eq!(&flat[240..480], &[2; 240][..]);
    assert_eq!(&flat[480..640], &[3; 160][..]);
}

#[test]
fn a_far_end_that_pauses_and_resumes_is_not_judged_late() {
    let mut jb = JitterBuffer::new(2);
    for seq in 0..5u16 {
        jb.push(seq, &frame(7));
        pop(&mut jb);
    }
    // Silence suppression: nothing for a second, then the stream goes on.
    for _ in 0..50 {
        pop(&mut jb);
    }
    assert_eq!(jb.push(5, &frame(9)), PushOutcome::Accepted);
    pop(&mut jb);
    pop(&mut jb);
    assert_eq!(pop(&mut jb), (9, FrameKind::Received));
}

#[test]
fn fillers_stand_for_silence_not_loss() {
    let mut jb = JitterBuffer::new(2);
    jb.push(1, &frame(5));
    jb.push_filler(2, FRAME_SAMPLES);
    jb.push_filler(3, 0);
    jb.push(4, &frame(6));
    pop(&mut jb);
    pop(&mut jb);
    assert_eq!(pop(&mut jb), (5, FrameKind::Received));
    assert_eq!(pop(&mut jb), (0, FrameKind::Silence));
    assert_eq!(pop(&mut jb), (6, FrameKind::Received));
    assert_eq!(jb.counters().concealed, 0);
}

#[test]
fn a_burst_beyond_twice_the_depth_is_trimmed() {
    let mut jb = JitterBuffer::new(2);
    jb.push(0, &frame(1));
    pop(&mut jb);
    pop(&mut jb);
    for seq in 1..8u16 {
        jb.push(seq, &frame(seq as i16));
    }
    pop(&mut jb);
    assert!(jb.counters().overflow_dropped > 0);
    // A packet far ahead restarts the buffer rather than waiting for it.
    assert_eq!(jb.push(1000, &frame(1)), PushOutcome::Resynced);
}

#[test]
fn a_far_end_that_restarts_its_sequence_is_followed() {
    let mut jb = JitterBuffer::new(2);
    for seq in 100..105u16 {
        jb.push(seq, &frame(1));
        pop(&mut jb);
    }
    // 40,000 is "behind" 105 modulo 2^16, but far too far to be late.
    assert_eq!(jb.push(40_000, &frame(4)), PushOutcome::Resynced);
    pop(&mut jb);
    pop(&mut jb);
    assert_eq!(pop(&mut jb), (4, FrameKind::Received));
}

proptest::proptest! {
    /// Any interleaving of pushes (any seq, any length) and pops neither
    /// panics nor stops producing frames once started.
    #[test]
    fn never_panics_and_always_yields_frames(
        ops in proptest::collection::vec((proptest::bool::ANY, proptest::num::u16::ANY, 0usize..700), 1..400)
    ) {
        let mut jb = JitterBuffer::new(3);
        let mut started = false;
        for (is_push, seq, len) in ops {
            if is_push {
                let samples = vec![1i16; len];
                if len % 7 == 0 { jb.push_filler(seq, len) } else { jb.push(seq, &samples) };
                started = true;
            } else {
                proptest::prop_assert_eq!(jb.pop().is_some(), started);
            }
        }
    }
}
