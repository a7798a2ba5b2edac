//! RFC 4733 telephone-events: payload, sender pacing, receiver de-duplication.

use proptest::prelude::*;
use waihu_media::dtmf::{
    digit_to_event, event_to_digit, DtmfError, DtmfPacket, DtmfReceiver, DtmfSender,
    TelephoneEvent, END_PACKET_REPEATS,
};

const ALL_DIGITS: &str = "0123456789*#ABCD";

#[test]
fn payload_layout_matches_rfc_4733() {
    let ev = TelephoneEvent {
        event: 11,
        end: true,
        volume: 10,
        duration: 800,
    };
    assert_eq!(ev.to_bytes(), [11, 0x8A, 0x03, 0x20]);
    assert_eq!(TelephoneEvent::parse(&[11, 0x8A, 0x03, 0x20]), Ok(ev));
    // The reserved bit is ignored on receipt.
    assert_eq!(TelephoneEvent::parse(&[11, 0xCA, 0x03, 0x20]), Ok(ev));
    assert_eq!(
        TelephoneEvent::parse(&[1, 2, 3]),
        Err(DtmfError::TooShort { len: 3 })
    );
}

#[test]
fn digit_codes() {
    for (i, d) in ALL_DIGITS.chars().enumerate() {
        assert_eq!(digit_to_event(d), Some(i as u8));
        assert_eq!(event_to_digit(i as u8), Some(d));
    }
    assert_eq!(digit_to_event('a'), Some(12));
    assert_eq!(digit_to_event('x'), None);
    assert_eq!(event_to_digit(16), None);
    assert_eq!(
        DtmfSender::new('x', 800, 10).err(),
        Some(DtmfError::InvalidDigit('x'))
    );
}

fn packets(digit: char, duration: u16) -> Vec<DtmfPacket> {
    let mut sender = DtmfSender::new(digit, duration, 10).unwrap();
    std::iter::from_fn(|| sender.next_packet()).collect()
}

#[test]
fn sender_paces_start_continuations_and_three_ends() {
    let seq = packets('5', 800);
    let durations: Vec<u16> = seq.iter().map(|p| p.event.duration).collect();
    assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
    let markers: Vec<bool> = seq.iter().map(|p| p.marker).collect();
    assert_eq!(markers, [true, false, false, false, false, false, false]);
    let ends: Vec<bool> = seq.iter().map(|p| p.event.end).collect();
    assert_eq!(ends, [false, false, false, false, true, true, true]);
    assert!(seq
        .iter()
        .all(|p| p.event.event == 5 && p.event.volume == 10));
    // A very short digit still has a start and three ends, one packet long.
    let short = packets('#', 1);
    assert_eq!(short.len(), END_PACKET_REPEATS as usize);
    assert!(short[0].marker && short.iter().all(|p| p.event.end && p.event.duration == 160));
}

#[test]
fn receiver_reports_once_despite_repeats_and_stragglers() {
    let mut rx = DtmfReceiver::new();
    let seq = packets('7', 800);
    let mut got = Vec::new();
    // Out of order, with the end packets first and every packet twice.
    for p in seq.iter().rev().chain(seq.iter()) {
        got.extend(rx.on_packet(1000, &p.event.to_bytes()));
    }
    assert_eq!(got, ['7']);
    // The same digit again is a new event (new timestamp): reported again.
    assert_eq!(rx.on_packet(2000, &seq[0].event.to_bytes()), Some('7'));
    // A straggler from the first event is ignored.
    assert_eq!(rx.on_packet(1000, &seq[6].event.to_bytes()), None);
    // Non-DTMF events and garbage are ignored.
    assert_eq!(rx.on_packet(3000, &[16, 0x0A, 0, 160]), None);
    assert_eq!(rx.on_packet(3000, &[1]), None);
}

#[test]
fn receiver_handles_timestamp_wrap() {
    let mut rx = DtmfReceiver::new();
    let p = packets('1', 160)[0].event.to_bytes();
    assert_eq!(rx.on_packet(u32::MAX - 100, &p), Some('1'));
    assert_eq!(rx.on_packet(60, &p), Some('1'), "after the wrap is newer");
    assert_eq!(
        rx.on_packet(u32::MAX - 100, &p),
        None,
        "before the wrap is older"
    );
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..16)) {
        let _ = TelephoneEvent::parse(&bytes);
        let _ = DtmfReceiver::new().on_packet(0, &bytes);
    }

    #[test]
    fn event_round_trips(event in any::<u8>(), end in any::<bool>(), volume in 0u8..64, duration in any::<u16>()) {
        let ev = TelephoneEvent { event, end, volume, duration };
        prop_assert_eq!(TelephoneEvent::parse(&ev.to_bytes()), Ok(ev));
    }

    /// Every digit survives sender to receiver exactly once, whatever order
    /// its packets arrive in and whichever of them are lost (as long as one
    /// arrives).
    #[test]
    fn every_digit_round_trips_once(
        index in 0usize..16,
        duration in 1u16..2000,
        order in any::<u64>(),
        keep_mask in 1u32..,
    ) {
        let digit = ALL_DIGITS.chars().nth(index).unwrap();
        let mut seq = packets(digit, duration);
        // Shuffle deterministically from the generated seed.
        let mut state = order | 1;
        for i in (1..seq.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            seq.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let kept: Vec<_> = seq.iter().enumerate().filter(|(i, _)| keep_mask & (1 << (i % 32)) != 0).map(|(_, p)| p).collect();
        prop_assume!(!kept.is_empty());
        let mut rx = DtmfReceiver::new();
        let got: Vec<char> = kept.iter().filter_map(|p| rx.on_packet(48_000, &p.event.to_bytes())).collect();
        prop_assert_eq!(got, vec![digit]);
    }
}

#[test]
fn sender_to_receiver_for_every_digit() {
    let mut rx = DtmfReceiver::new();
    let mut got = String::new();
    for (i, digit) in ALL_DIGITS.chars().enumerate() {
        for p in packets(digit, 800) {
            got.extend(rx.on_packet(i as u32 * 1600, &p.event.to_bytes()));
        }
    }
    assert_eq!(got, ALL_DIGITS);
}
