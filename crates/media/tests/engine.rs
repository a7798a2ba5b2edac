//! The sans-IO engine over simulated time: pacing, playback, DTMF, latching,
//! no-media, levels and loss, with no sockets and no sleeping.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use waihu_media::dtmf::{DtmfSender, TelephoneEvent};
use waihu_media::rtp::RtpPacket;
use waihu_media::{Codec, Engine, FrameKind, MediaConfig, MediaError, MediaEvent};

const DTMF_PT: u8 = 101;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

struct Sim {
    engine: Engine,
    t0: Instant,
    ticks: u32,
}

/// One sent packet, owned.
#[derive(Debug)]
struct Sent {
    to: SocketAddr,
    marker: bool,
    pt: u8,
    seq: u16,
    ts: u32,
    payload: Vec<u8>,
}

impl Sim {
    fn new(cfg: MediaConfig) -> Sim {
        let t0 = Instant::now();
        Sim {
            engine: Engine::with_initial(&cfg, t0, 0x1234, 65_534, u32::MAX - 200),
            t0,
            ticks: 0,
        }
    }

    fn now(&self) -> Instant {
        self.t0 + Duration::from_millis(20) * self.ticks
    }

    fn tick(&mut self) -> Sent {
        let now = self.now();
        self.ticks += 1;
        let t = self.engine.handle_tick(now);
        let p = RtpPacket::parse(t.data).expect("engine sends valid RTP");
        let sent = Sent {
            to: t.destination,
            marker: p.marker,
            pt: p.payload_type,
            seq: p.sequence,
            ts: p.timestamp,
            payload: p.payload.to_vec(),
        };
        self.engine.record_send(Duration::from_micros(300), true);
        sent
    }

    fn events(&mut self) -> Vec<MediaEvent> {
        std::iter::from_fn(|| self.engine.poll_event()).collect()
    }

    fn control_events(&mut self) -> Vec<MediaEvent> {
        self.events()
            .into_iter()
            .filter(|e| !matches!(e, MediaEvent::Audio { .. } | MediaEvent::Level { .. }))
            .collect()
    }

    fn receive(&mut self, from: SocketAddr, pt: u8, seq: u16, ts: u32, payload: &[u8]) {
        let bytes = RtpPacket::new(pt, seq, ts, 0xFEED, payload).to_vec();
        let now = self.now();
        self.engine.handle_receive(now, from, &bytes);
    }
}

fn config() -> MediaConfig {
    let mut cfg = MediaConfig::new(Codec::Pcma, addr(4000));
    cfg.dtmf_payload_type = Some(DTMF_PT);
    cfg.no_media_timeout = Duration::from_millis(200);
    cfg
}

fn ramp(len: usize) -> Arc<[i16]> {
    (0..len).map(|i| (i as i16) * 10).collect()
}

#[test]
fn packets_follow_the_sample_clock_with_wrapping_seq_and_timestamp() {
    let mut sim = Sim::new(config());
    sim.engine.play(1, ramp(480));
    let sent: Vec<Sent> = (0..6).map(|_| sim.tick()).collect();
    let seqs: Vec<u16> = sent.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, [65_534, 65_535, 0, 1, 2, 3]);
    for pair in sent.windows(2) {
        assert_eq!(pair[1].ts.wrapping_sub(pair[0].ts), 160);
    }
    assert!(sent
        .iter()
        .all(|s| s.pt == 8 && s.payload.len() == 160 && s.to == addr(4000)));
    // Marker on the very first packet only; the clip then silence.
    let markers: Vec<bool> = sent.iter().map(|s| s.marker).collect();
    assert_eq!(markers, [true, false, false, false, false, false]);
    assert!(sent[3..]
        .iter()
        .all(|s| s.payload.iter().all(|&b| b == Codec::Pcma.silence_byte())));
    let done = sim.control_events();
    assert_eq!(
        done,
        [
            MediaEvent::PlaybackStarted { id: 1 },
            MediaEvent::PlaybackDone {
                id: 1,
                samples_played: 480,
                stopped: false
            }
        ]
    );
    // Audio after silence starts a new talkspurt.
    sim.engine.play(2, ramp(160));
    assert!(sim.tick().marker);
    assert_eq!(sim.engine.stats().packets_sent, 7);
    assert_eq!(sim.engine.stats().bytes_sent, 7 * 160);
}

#[test]
fn clips_play_back_to_back_without_a_gap() {
    let mut sim = Sim::new(config());
    sim.engine.play(1, ramp(100));
    sim.engine.play(2, ramp(100));
    let first = sim.tick();
    let mut pcm = [0i16; 160];
    Codec::Pcma.decode(&first.payload, &mut pcm);
    assert!(
        pcm[100..]
            .iter()
            .zip(&ramp(60)[..])
            .all(|(&a, &b)| (a - b).abs() <= 16),
        "clip 2 follows clip 1 in one frame"
    );
    sim.tick();
    let events = sim.control_events();
    // Both clips started in the first packet; both ended.
    assert!(matches!(events[..], [
        MediaEvent::PlaybackStarted { id: 1 },
        MediaEvent::PlaybackDone { id: 1, samples_played: 100, stopped: false },
        MediaEvent::PlaybackStarted { id: 2 },
        MediaEvent::PlaybackDone { id: 2, samples_played: 100, stopped: false },
    ]), "{events:?}");
}

#[test]
fn stop_playback_reports_samples_played_and_drops_the_queue() {
    let mut sim = Sim::new(config());
    sim.engine.play(7, ramp(1600));
    sim.engine.play(8, ramp(1600));
    for _ in 0..3 {
        sim.tick();
    }
    sim.engine.stop_playback();
    assert_eq!(
        sim.control_events(),
        [
            MediaEvent::PlaybackStarted { id: 7 },
            MediaEvent::PlaybackDone {
                id: 7,
                samples_played: 480,
                stopped: true
            },
            MediaEvent::PlaybackDone {
                id: 8,
                samples_played: 0,
                stopped: true
            },
        ]
    );
    let next = sim.tick();
    assert!(next
        .payload
        .iter()
        .all(|&b| b == Codec::Pcma.silence_byte()));
}

#[test]
fn dtmf_goes_out_as_rfc_4733_then_audio_resumes() {
    let mut sim = Sim::new(config());
    sim.engine.play(1, ramp(1600));
    sim.engine.send_dtmf('#').unwrap();
    let start = sim.tick();
    let mut events = vec![start];
    for _ in 0..6 {
        events.push(sim.tick());
    }
    assert!(events
        .iter()
        .all(|s| s.pt == DTMF_PT && s.ts == events[0].ts));
    let parsed: Vec<TelephoneEvent> = events
        .iter()
        .map(|s| TelephoneEvent::parse(&s.payload).unwrap())
        .collect();
    assert!(parsed.iter().all(|e| e.event == 11));
    assert_eq!(parsed.iter().filter(|e| e.end).count(), 3);
    assert!(events[0].marker && events[1..].iter().all(|s| !s.marker));
    // The digit paused the clip; audio resumes with the sample clock moved on.
    let audio = sim.tick();
    assert_eq!((audio.pt, audio.marker), (8, true));
    assert_eq!(audio.ts.wrapping_sub(events[0].ts), 7 * 160);
    assert_eq!(sim.engine.stats().dtmf_sent, 1);

    assert!(matches!(
        sim.engine.send_dtmf('x'),
        Err(MediaError::InvalidDigit('x'))
    ));
    let mut no_dtmf = Sim::new(MediaConfig::new(Codec::Pcmu, addr(4000)));
    assert!(matches!(
        no_dtmf.engine.send_dtmf('1'),
        Err(MediaError::DtmfNotNegotiated)
    ));
}

#[test]
fn latches_to_the_first_source_and_ignores_others() {
    let mut sim = Sim::new(config());
    // A packet of a type we did not negotiate does not latch.
    sim.receive(addr(6000), 13, 1, 0, &[0; 1]);
    assert_eq!(sim.engine.remote(), addr(4000));
    sim.receive(addr(5000), 8, 1, 0, &[0xD5; 160]);
    assert_eq!(
        sim.control_events(),
        [MediaEvent::FirstPacket { from: addr(5000) }]
    );
    assert_eq!(sim.tick().to, addr(5000));
    sim.receive(addr(6000), 8, 2, 160, &[0xD5; 160]);
    sim.engine.handle_receive(sim.now(), addr(5000), b"not rtp");
    let stats = sim.engine.stats();
    assert_eq!(
        (
            stats.foreign_packets,
            stats.malformed_packets,
            stats.unknown_payload_type
        ),
        (1, 1, 1)
    );
    // The signalled address repeated (200 OK after 183) keeps the latch.
    sim.engine.set_remote(addr(4000));
    assert_eq!(sim.tick().to, addr(5000));
    // Signalling can move the stream; the next source latches again.
    sim.engine.set_remote(addr(7000));
    assert_eq!(sim.tick().to, addr(7000));
    sim.receive(addr(7001), 8, 3, 320, &[0xD5; 160]);
    assert_eq!(sim.tick().to, addr(7001));
}

#[test]
fn no_media_fires_once_per_silent_stretch() {
    let mut sim = Sim::new(config());
    let mut fired = Vec::new();
    for i in 0..40 {
        sim.tick();
        if sim.control_events().contains(&MediaEvent::NoMedia) {
            fired.push(i);
        }
    }
    assert_eq!(fired, [10], "200 ms after start, once");
    sim.receive(addr(4000), 8, 1, 0, &[0xD5; 160]);
    sim.control_events();
    let mut again = 0;
    for _ in 0..20 {
        sim.tick();
        again += sim
            .control_events()
            .iter()
            .filter(|e| **e == MediaEvent::NoMedia)
            .count();
    }
    assert_eq!(
        again, 1,
        "re-armed by a packet, fires after the next 200 ms"
    );
}

#[test]
fn received_audio_is_decoded_reordered_and_measured() {
    let mut sim = Sim::new(config());
    let mut loud = [0u8; 160];
    // A full-scale-ish square wave: +/-16000.
    let pcm: Vec<i16> = (0..160)
        .map(|i| if i % 2 == 0 { 16_000 } else { -16_000 })
        .collect();
    Codec::Pcmu.encode(&pcm, &mut loud);
    let mut frames = Vec::new();
    let mut levels = Vec::new();
    for i in 0..60u16 {
        // Swap every other pair to exercise the reorder buffer.
        let seq = if i % 2 == 0 { i + 1 } else { i - 1 };
        sim.receive(addr(4000), 0, seq, u32::from(seq) * 160, &loud);
        sim.tick();
        for e in sim.events() {
            match e {
                MediaEvent::Audio { pcm8k, kind } => frames.push((pcm8k, kind)),
                MediaEvent::Level { dbfs } => levels.push(dbfs),
                _ => {}
            }
        }
    }
    let received: Vec<_> = frames
        .iter()
        .filter(|(_, k)| *k == FrameKind::Received)
        .collect();
    assert!(received.len() >= 55, "{} received frames", received.len());
    assert!(received
        .iter()
        .all(|(f, _)| (f[0] - 16_000).abs() < 600 && (f[1] + 16_000).abs() < 600));
    assert_eq!(levels.len(), 1);
    assert!((levels[0] - (-6.2)).abs() < 0.5, "level {}", levels[0]);
    let stats = sim.engine.stats();
    assert_eq!(
        (
            stats.packets_expected,
            stats.packets_lost,
            stats.packets_reordered
        ),
        (60, 0, 30)
    );
}

#[test]
fn loss_is_counted_from_sequence_gaps_and_concealed() {
    let mut sim = Sim::new(config());
    for seq in (0..20u16).filter(|s| ![5, 6, 12].contains(s)) {
        sim.receive(addr(4000), 8, seq, u32::from(seq) * 160, &[0x80; 160]);
        sim.tick();
    }
    let stats = sim.engine.stats();
    assert_eq!((stats.packets_expected, stats.packets_lost), (20, 3));
    assert_eq!(stats.jitter_buffer.concealed, 3);
}

#[test]
fn dtmf_received_is_reported_once() {
    let mut sim = Sim::new(config());
    let mut sender = DtmfSender::new('9', 800, 10).unwrap();
    let mut seq = 100;
    while let Some(p) = sender.next_packet() {
        let bytes = p.event.to_bytes();
        // Every packet twice, as lossy-path senders do.
        for _ in 0..2 {
            sim.receive(addr(4000), DTMF_PT, seq, 8000, &bytes);
        }
        seq += 1;
        sim.tick();
    }
    let digits: Vec<_> = sim
        .control_events()
        .into_iter()
        .filter(|e| matches!(e, MediaEvent::Dtmf { .. }))
        .collect();
    assert_eq!(digits, [MediaEvent::Dtmf { digit: '9' }]);
    assert_eq!(sim.engine.stats().dtmf_received, 1);
    assert_eq!(
        sim.engine.stats().jitter_ms,
        0.0,
        "event timestamps do not skew jitter"
    );
}

proptest::proptest! {
    /// Fuzz-style: whatever arrives on the socket, interleaved with ticks,
    /// the engine neither panics nor stops sending one packet per tick.
    #[test]
    fn any_datagrams_are_survived(
        datagrams in proptest::collection::vec(
            (proptest::sample::select(vec![0x80u8, 0x90, 0xA0, 0x81, 0x00]),
             proptest::sample::select(vec![0u8, 8, 101, 0x80 | 8, 13]),
             proptest::collection::vec(proptest::num::u8::ANY, 0..600)),
            0..80)
    ) {
        let mut sim = Sim::new(config());
        for (first, second, rest) in datagrams {
            let mut bytes = vec![first, second];
            bytes.extend_from_slice(&rest);
            sim.engine.handle_receive(sim.now(), addr(4000), &bytes);
            let sent = sim.tick();
            proptest::prop_assert!(sent.payload.len() == 160 || sent.pt == DTMF_PT);
            sim.events();
        }
    }
}
