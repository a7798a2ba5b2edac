//! MediaSession on real loopback sockets, with a second socket as the far
//! end. Every wait is bounded.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};
use waihu_media::dtmf::{DtmfSender, TelephoneEvent};
use waihu_media::rtp::RtpPacket;
use waihu_media::{
    CloseReason, Codec, FrameKind, MediaConfig, MediaEvent, MediaHandle, MediaSession,
    PortAllocator, PortRange,
};

const DTMF_PT: u8 = 101;
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(5);

struct FarEnd {
    socket: UdpSocket,
}

#[derive(Debug, Clone)]
struct Got {
    at: Instant,
    from: SocketAddr,
    marker: bool,
    pt: u8,
    seq: u16,
    ts: u32,
    payload: Vec<u8>,
    raw: Vec<u8>,
}

impl FarEnd {
    async fn new() -> FarEnd {
        FarEnd {
            socket: UdpSocket::bind((LOCALHOST, 0)).await.unwrap(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    async fn recv(&self) -> Got {
        let mut buf = [0u8; 2048];
        let (n, from) = timeout(WAIT, self.socket.recv_from(&mut buf))
            .await
            .expect("a packet in time")
            .unwrap();
        let p = RtpPacket::parse(&buf[..n]).expect("valid RTP");
        Got {
            at: Instant::now(),
            from,
            marker: p.marker,
            pt: p.payload_type,
            seq: p.sequence,
            ts: p.timestamp,
            payload: p.payload.to_vec(),
            raw: buf[..n].to_vec(),
        }
    }

    /// The next packet of payload type `pt`, skipping others.
    async fn recv_pt(&self, pt: u8) -> Got {
        loop {
            let got = self.recv().await;
            if got.pt == pt {
                return got;
            }
        }
    }

    async fn send(&self, to: SocketAddr, pt: u8, seq: u16, ts: u32, payload: &[u8]) {
        let bytes = RtpPacket::new(pt, seq, ts, 0xFA4E, payload).to_vec();
        self.socket.send_to(&bytes, to).await.unwrap();
    }
}

async fn start(
    far: &FarEnd,
    tweak: impl FnOnce(&mut MediaConfig),
) -> (MediaHandle, mpsc::Receiver<MediaEvent>, SocketAddr) {
    let socket = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let local = socket.local_addr().unwrap();
    let mut cfg = MediaConfig::new(Codec::Pcma, far.addr());
    cfg.dtmf_payload_type = Some(DTMF_PT);
    tweak(&mut cfg);
    let (handle, events) = MediaSession::start_with_socket(socket, cfg);
    (handle, events, local)
}

/// The next event matching `pred`, skipping others.
async fn next_event(
    events: &mut mpsc::Receiver<MediaEvent>,
    pred: impl Fn(&MediaEvent) -> bool,
) -> MediaEvent {
    timeout(WAIT, async {
        loop {
            let e = events.recv().await.expect("session alive");
            if pred(&e) {
                return e;
            }
        }
    })
    .await
    .expect("the event in time")
}

fn sine(len: usize, freq: f64, amplitude: f64) -> Arc<[i16]> {
    (0..len)
        .map(|i| (amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16)
        .collect()
}

#[tokio::test]
async fn played_audio_arrives_as_paced_g711_with_timestamps_160_apart() {
    let far = FarEnd::new().await;
    let (media, _events, local) = start(&far, |_| {}).await;
    let clip = sine(8000, 440.0, 8000.0);
    media.play(1, clip.clone()).unwrap();
    let packets: Vec<Got> = {
        let mut v = Vec::new();
        for _ in 0..26 {
            v.push(far.recv().await);
        }
        v
    };
    assert!(packets
        .iter()
        .all(|p| p.pt == 8 && p.payload.len() == 160 && p.from == local));
    for w in packets.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
        assert_eq!(w[1].ts.wrapping_sub(w[0].ts), 160);
    }
    // 25 intervals of 20 ms; generous bounds for a loaded machine.
    let span = packets[25].at - packets[0].at;
    assert!(
        span >= Duration::from_millis(400) && span <= Duration::from_millis(900),
        "span {span:?}"
    );
    // The payload is the clip, A-law encoded, from its first sample on.
    let first_audio = packets
        .iter()
        .position(|p| p.payload.iter().any(|&b| b != Codec::Pcma.silence_byte()))
        .unwrap();
    let mut want = [0u8; 160];
    Codec::Pcma.encode(&clip[160..320], &mut want);
    assert_eq!(packets[first_audio + 1].payload, want);
    let stats = media.stats().await.unwrap();
    assert!(stats.packets_sent >= 26 && stats.send_interval.count >= 26);
    media.close();
}

#[tokio::test]
async fn an_echoing_far_end_returns_what_was_played() {
    let far = FarEnd::new().await;
    let (media, mut events, local) = start(&far, |_| {}).await;
    let clip = sine(50 * 160, 300.0, 12_000.0);
    media.play(1, clip.clone()).unwrap();
    // Echo every packet back, as sipp -rtp_echo does.
    let echo = tokio::spawn(async move {
        for _ in 0..80 {
            let got = far.recv().await;
            far.socket.send_to(&got.raw, local).await.unwrap();
        }
    });
    let mut expected = vec![0u8; clip.len()];
    Codec::Pcma.encode(&clip, &mut expected);
    let mut roundtrip = vec![0i16; clip.len()];
    Codec::Pcma.decode(&expected, &mut roundtrip);

    let mut received: Vec<i16> = Vec::new();
    let deadline = Instant::now() + WAIT;
    while received.len() < 75 * 160 && Instant::now() < deadline {
        if let Ok(Some(MediaEvent::Audio { pcm8k, kind })) = timeout(WAIT, events.recv()).await {
            if kind == FrameKind::Received {
                received.extend_from_slice(&pcm8k);
            }
        }
    }
    echo.await.unwrap();
    let start = received
        .windows(160)
        .position(|w| w == &roundtrip[..160])
        .expect("the clip came back");
    assert_eq!(
        &received[start..start + clip.len()],
        &roundtrip[..],
        "every frame, in order, quantised once"
    );
    media.close();
}

#[tokio::test]
async fn stop_playback_mid_clip_reports_the_samples_played() {
    let far = FarEnd::new().await;
    let (media, mut events, _) = start(&far, |_| {}).await;
    // Count the audio (not comfort-silence) packets that reach the far end.
    let counter = tokio::spawn(async move {
        let mut audio_packets = 0;
        let until = Instant::now() + Duration::from_millis(700);
        while Instant::now() < until {
            let got = far.recv().await;
            if got.payload.iter().any(|&b| b != Codec::Pcma.silence_byte()) {
                audio_packets += 1;
            }
        }
        audio_packets
    });
    media.play(9, sine(16_000, 440.0, 8000.0)).unwrap();
    let began = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    media.stop_playback().unwrap();
    let elapsed = began.elapsed();
    let done = next_event(&mut events, |e| {
        matches!(e, MediaEvent::PlaybackDone { .. })
    })
    .await;
    let MediaEvent::PlaybackDone {
        id,
        samples_played,
        stopped,
    } = done
    else {
        unreachable!()
    };
    assert_eq!((id, stopped), (9, true));
    assert_eq!(samples_played % 160, 0, "whole frames");
    let expected = elapsed.as_secs_f64() * 8000.0;
    assert!(
        samples_played > 1600 && (samples_played as f64) <= expected + 320.0,
        "{samples_played} vs ~{expected}"
    );
    // What went out is exactly what was reported.
    let audio_packets = counter.await.unwrap();
    assert_eq!(audio_packets * 160, samples_played);
    media.close();
}

#[tokio::test]
async fn dtmf_goes_both_ways() {
    let far = FarEnd::new().await;
    let (media, mut events, local) = start(&far, |_| {}).await;
    media.send_dtmf('4').unwrap();
    let mut digit = vec![far.recv_pt(DTMF_PT).await];
    for _ in 0..6 {
        digit.push(far.recv().await);
    }
    assert!(digit.iter().all(|p| p.pt == DTMF_PT && p.ts == digit[0].ts));
    let evs: Vec<TelephoneEvent> = digit
        .iter()
        .map(|p| TelephoneEvent::parse(&p.payload).unwrap())
        .collect();
    assert!(evs.iter().all(|e| e.event == 4) && digit[0].marker);
    assert_eq!(
        evs.iter().map(|e| e.end).collect::<Vec<_>>(),
        [false, false, false, false, true, true, true]
    );

    // The far end sends '*' with every packet duplicated.
    let mut sender = DtmfSender::new('*', 800, 10).unwrap();
    let mut seq = 500;
    while let Some(p) = sender.next_packet() {
        for _ in 0..2 {
            far.send(local, DTMF_PT, seq, 16_000, &p.event.to_bytes())
                .await;
        }
        seq += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        next_event(&mut events, |e| matches!(e, MediaEvent::Dtmf { .. })).await,
        MediaEvent::Dtmf { digit: '*' }
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = media.stats().await.unwrap();
    assert_eq!((stats.dtmf_sent, stats.dtmf_received), (1, 1));
    media.close();
}

#[tokio::test]
async fn no_media_fires_when_the_far_end_stays_silent() {
    let far = FarEnd::new().await;
    let began = Instant::now();
    let (media, mut events, _) =
        start(&far, |c| c.no_media_timeout = Duration::from_millis(200)).await;
    next_event(&mut events, |e| *e == MediaEvent::NoMedia).await;
    assert!(began.elapsed() >= Duration::from_millis(190));
    // Comfort silence kept flowing meanwhile.
    let got = far.recv().await;
    assert!(got.payload.iter().all(|&b| b == Codec::Pcma.silence_byte()));
    media.close();
}

#[tokio::test]
async fn latching_switches_the_destination_to_the_packet_source() {
    let signalled = FarEnd::new().await;
    let actual = FarEnd::new().await;
    let (media, mut events, local) = start(&signalled, |_| {}).await;
    signalled.recv().await;
    actual.send(local, 8, 1, 0, &[0xD5; 160]).await;
    assert_eq!(
        next_event(&mut events, |e| matches!(e, MediaEvent::FirstPacket { .. })).await,
        MediaEvent::FirstPacket {
            from: actual.addr()
        }
    );
    actual.recv().await;
    // Once latched, the signalled address hears nothing more (drain what was in flight)...
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut buf = [0u8; 2048];
    while signalled.socket.try_recv_from(&mut buf).is_ok() {}
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(signalled.socket.try_recv_from(&mut buf).is_err());
    // ...and its packets are ignored.
    signalled.send(local, 8, 2, 160, &[0xD5; 160]).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(media.stats().await.unwrap().foreign_packets, 1);
    media.close();
}

#[tokio::test]
async fn stats_count_loss_when_the_far_end_skips_sequence_numbers() {
    let far = FarEnd::new().await;
    let (media, _events, local) = start(&far, |_| {}).await;
    for seq in (1000..1030u16).filter(|s| ![1005, 1006, 1020].contains(s)) {
        far.send(local, 8, seq, u32::from(seq) * 160, &[0x55; 160])
            .await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stats = media.stats().await.unwrap();
    assert_eq!(
        (
            stats.packets_received,
            stats.packets_expected,
            stats.packets_lost
        ),
        (27, 30, 3)
    );
    assert_eq!(stats.remote_ssrc, Some(0xFA4E));
    media.close();
}

#[tokio::test]
async fn a_lagging_consumer_loses_audio_frames_not_the_clock() {
    let far = FarEnd::new().await;
    let (media, mut events, local) = start(&far, |c| c.event_capacity = 4).await;
    media.play(3, sine(1600, 440.0, 8000.0)).unwrap();
    // The far end streams for 600 ms while nobody reads events.
    let began = Instant::now();
    let mut sent_to_us = 0u16;
    let mut heard = 0;
    while began.elapsed() < Duration::from_millis(600) {
        far.send(
            local,
            8,
            sent_to_us,
            u32::from(sent_to_us) * 160,
            &[0x55; 160],
        )
        .await;
        sent_to_us += 1;
        far.recv().await;
        heard += 1;
    }
    assert!(
        heard >= 25,
        "the session kept its 20 ms clock: {heard} packets in 600 ms"
    );
    let stats = media.stats().await.unwrap();
    assert!(stats.audio_frames_dropped > 0);
    // Control events were held back, not lost.
    next_event(&mut events, |e| {
        matches!(e, MediaEvent::PlaybackDone { id: 3, .. })
    })
    .await;
    media.close();
}

#[tokio::test]
async fn close_ends_with_final_stats_and_frees_the_port() {
    let far = FarEnd::new().await;
    let base = 40_000 + (std::process::id() % 1000) as u16 * 2 * 4;
    let range = PortRange::new(base, base + 3).unwrap();
    let alloc = PortAllocator::new(LOCALHOST, range);
    let port = alloc.allocate().expect("a free port");
    let (media, mut events) =
        MediaSession::start(port, MediaConfig::new(Codec::Pcmu, far.addr())).unwrap();
    assert_eq!(alloc.in_use(), 1);
    let got = far.recv().await;
    assert_eq!((got.pt, got.marker), (0, true));
    media.play(5, sine(80_000, 440.0, 1000.0)).unwrap();
    media.close();
    let done = next_event(&mut events, |e| {
        matches!(e, MediaEvent::PlaybackDone { .. })
    })
    .await;
    assert!(matches!(
        done,
        MediaEvent::PlaybackDone {
            id: 5,
            stopped: true,
            ..
        }
    ));
    let last = next_event(&mut events, |e| matches!(e, MediaEvent::Closed { .. })).await;
    let MediaEvent::Closed { reason, stats } = last else {
        unreachable!()
    };
    assert_eq!(reason, CloseReason::Closed);
    assert!(stats.packets_sent >= 1);
    assert!(events.recv().await.is_none(), "Closed is the last event");
    assert_eq!(alloc.in_use(), 0);
    assert!(media.is_closed() && media.play(1, sine(1, 1.0, 1.0)).is_err());
}

#[tokio::test]
async fn dropping_every_handle_ends_the_session() {
    let far = FarEnd::new().await;
    let (media, mut events, _) = start(&far, |_| {}).await;
    let clone = media.clone();
    drop(media);
    drop(clone);
    let last = next_event(&mut events, |e| matches!(e, MediaEvent::Closed { .. })).await;
    assert!(matches!(
        last,
        MediaEvent::Closed {
            reason: CloseReason::HandlesDropped,
            ..
        }
    ));
}
