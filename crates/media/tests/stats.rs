//! RFC 3550 loss and jitter accounting, and the send-pacing histogram.

use std::time::Duration;

use waihu_media::stats::{ReceiveStats, SendIntervalHistogram};

fn at(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[test]
fn counts_loss_from_sequence_gaps() {
    let mut rx = ReceiveStats::new();
    for seq in [10u16, 11, 13, 14, 17] {
        rx.on_packet(1, seq, 0, at(0), 160, false);
    }
    assert_eq!(rx.expected(), 8);
    assert_eq!(rx.lost(), 3);
    assert_eq!(rx.packets(), 5);
    assert_eq!(rx.bytes(), 800);
}

#[test]
fn reordered_packets_fill_gaps_and_duplicates_do_not() {
    let mut rx = ReceiveStats::new();
    for seq in [1u16, 3, 2, 2, 4, 3] {
        rx.on_packet(1, seq, 0, at(0), 160, false);
    }
    assert_eq!((rx.expected(), rx.lost()), (4, 0));
    assert_eq!((rx.reordered(), rx.duplicated()), (1, 2));
}

#[test]
fn sequence_wrap_extends_the_count() {
    let mut rx = ReceiveStats::new();
    for seq in (65530u16..=65535).chain(0..5) {
        if seq != 2 {
            rx.on_packet(1, seq, 0, at(0), 160, false);
        }
    }
    assert_eq!((rx.expected(), rx.lost()), (11, 1));
}

#[test]
fn a_restarted_stream_is_not_thousands_of_losses() {
    let mut rx = ReceiveStats::new();
    rx.on_packet(1, 100, 0, at(0), 160, false);
    rx.on_packet(1, 101, 0, at(0), 160, false);
    rx.on_packet(1, 40_000, 0, at(0), 160, false);
    rx.on_packet(1, 40_001, 0, at(0), 160, false);
    assert_eq!((rx.expected(), rx.lost()), (4, 0));
    rx.on_packet(2, 7, 0, at(0), 160, false);
    assert_eq!((rx.expected(), rx.lost(), rx.ssrc()), (5, 0, Some(2)));
}

#[test]
fn interarrival_jitter_is_zero_for_a_steady_stream_and_grows_with_wobble() {
    let mut steady = ReceiveStats::new();
    for i in 0..100u32 {
        steady.on_packet(1, i as u16, i * 160, at(u64::from(i) * 20), 160, true);
    }
    assert!(steady.jitter_ms() < 0.01, "{}", steady.jitter_ms());

    let mut wobbly = ReceiveStats::new();
    for i in 0..1000u32 {
        // Arrivals alternate 5 ms early and late: |D| is 10 ms each time.
        let arrival = u64::from(i) * 20 + if i % 2 == 0 { 5 } else { 0 };
        wobbly.on_packet(1, i as u16, i * 160, at(arrival), 160, true);
    }
    assert!(
        (wobbly.jitter_ms() - 5.0).abs() < 0.1,
        "{}",
        wobbly.jitter_ms()
    );
}

#[test]
fn untimed_packets_do_not_count_towards_jitter() {
    let mut rx = ReceiveStats::new();
    for i in 0..50u32 {
        // DTMF packets repeat one timestamp while time moves on.
        rx.on_packet(1, i as u16, 1000, at(u64::from(i) * 20), 4, false);
    }
    assert_eq!(rx.jitter_ms(), 0.0);
}

#[test]
fn send_histogram_percentiles_and_merge() {
    let mut h = SendIntervalHistogram::new();
    for _ in 0..98 {
        h.record(Duration::from_micros(250));
    }
    h.record(Duration::from_micros(3_050));
    h.record(Duration::from_millis(40));
    let s = h.summary();
    assert_eq!(s.count, 100);
    assert!((s.p50_ms - 0.3).abs() < 1e-9, "{}", s.p50_ms);
    assert!((s.p99_ms - 3.1).abs() < 1e-9, "{}", s.p99_ms);
    assert!((s.max_ms - 40.0).abs() < 1e-9);

    let mut total = SendIntervalHistogram::new();
    total.merge(&h);
    total.merge(&h);
    assert_eq!(total.count(), 200);
    assert_eq!(total.summary().p99_ms, s.p99_ms);
    assert_eq!(SendIntervalHistogram::new().summary().p99_ms, 0.0);
}

#[test]
fn stats_serialise_for_the_call_record() {
    let stats = waihu_media::RtpStats {
        packets_sent: 3,
        jitter_ms: 1.5,
        ..Default::default()
    };
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["packets_sent"], 3);
    assert_eq!(json["jitter_ms"], 1.5);
    assert_eq!(json["send_interval"]["p99_ms"], 0.0);
    assert_eq!(json["jitter_buffer"]["late"], 0);
    assert!(
        json.get("send_histogram").is_none(),
        "the histogram stays out of records"
    );
}

proptest::proptest! {
    /// Whatever the network delivers, accounting never panics and stays sane.
    #[test]
    fn any_packet_sequence_is_accounted_without_panic(
        packets in proptest::collection::vec((0u32..3, proptest::num::u16::ANY, proptest::num::u32::ANY, 0u64..100_000), 0..300)
    ) {
        let mut rx = ReceiveStats::new();
        for (ssrc, seq, ts, ms) in packets {
            rx.on_packet(ssrc, seq, ts, at(ms), 160, true);
            proptest::prop_assert!(rx.lost() <= rx.expected());
            proptest::prop_assert!(rx.jitter_ms().is_finite());
        }
    }
}
