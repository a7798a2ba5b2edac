//! The call's media, as the leg sees it: `waihu-media`'s session started at
//! the first SDP from the far end (183 or 200), plus what the leg measures
//! on top of it (received level, echoed frames) for the [`MediaReport`].

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use waihu_media::{g711, FrameKind, MediaConfig, MediaHandle, MediaSession, PortError, RtpPort, RtpStats};

use super::config::Codec;
use super::sdp::RemoteMedia;
use super::trunk::Trunk;
use crate::MediaReport;

/// Samples in one 20 ms frame.
const FRAME: usize = 160;
/// Frames remembered for the echo check (about three minutes of speech).
const ECHO_MEMORY: usize = 10_000;

/// What the media tells the leg.
#[derive(Debug)]
pub(crate) enum MediaEvent {
    /// The clip given to `play` finished, or stopped after `stop_playback`.
    PlaybackDone { samples_played: usize },
    /// A DTMF key from the far end, once per press.
    Dtmf(char),
    /// The far end's first RTP packet.
    FirstPacket,
    /// The far end's RTP stopped for `no_media_timeout`.
    NoMedia,
    /// Audio mode: 20 ms of the far end's audio, as the media clock handed it over.
    Audio { pcm: Arc<[i16]>, at: Instant },
    /// Audio mode: the first samples of clip `id` went out.
    ClipStarted { id: u64, at: Instant },
    /// Audio mode: clip `id` ended (played whole, or stopped).
    ClipDone { id: u64, samples_played: usize, stopped: bool },
}

pub(crate) struct CallMedia {
    /// The leg carries audio for a voice pipeline (clips and frames pass
    /// through) rather than the placeholder voice of text lines.
    audio: bool,
    port: Option<RtpPort>,
    local_port: u16,
    no_media_timeout: Duration,
    handle: Option<MediaHandle>,
    events: Option<mpsc::Receiver<waihu_media::MediaEvent>>,
    codec: Option<Codec>,
    clip_id: u64,
    clip: Option<(Instant, usize)>,
    started: Option<Instant>,
    first_packet: Option<Instant>,
    echo: HashSet<u64>,
    heard: Measure,
    dtmf: String,
    stats: Option<RtpStats>,
    finished: bool,
}

#[derive(Default)]
struct Measure {
    sum_squares: f64,
    samples: u64,
    peak_rms: f64,
    echoed: u64,
}

impl CallMedia {
    /// Takes an RTP port for the call; the error says the range is used up.
    pub(crate) async fn open(trunk: &Trunk, audio: bool) -> Result<CallMedia, String> {
        let port = trunk.ports.allocate().map_err(|e| match e {
            PortError::PortsExhausted { .. } => format!("RTP ports exhausted: {e}"),
            other => format!("cannot open an RTP port: {other}"),
        })?;
        Ok(CallMedia {
            audio,
            local_port: port.port(),
            port: Some(port),
            no_media_timeout: Duration::from_secs(trunk.cfg.no_media_timeout_seconds),
            handle: None,
            events: None,
            codec: None,
            clip_id: 0,
            clip: None,
            started: None,
            first_packet: None,
            echo: HashSet::new(),
            heard: Measure::default(),
            dtmf: String::new(),
            stats: None,
            finished: false,
        })
    }

    pub(crate) fn local_port(&self) -> u16 {
        self.local_port
    }

    /// Whether RTP has arrived from the far end.
    pub(crate) fn has_received(&self) -> bool {
        self.first_packet.is_some()
    }

    /// Sends to where the far end's SDP says; starts the media on the first call.
    pub(crate) fn set_remote(&mut self, remote: &RemoteMedia) {
        let Some(addr) = remote.addr else { return };
        if let Some(h) = &self.handle {
            let _ = h.set_remote(addr);
            return;
        }
        let Some(port) = self.port.take() else { return };
        let codec = match remote.codec {
            Codec::Pcma => waihu_media::Codec::Pcma,
            Codec::Pcmu => waihu_media::Codec::Pcmu,
        };
        let mut cfg = MediaConfig::new(codec, addr);
        cfg.dtmf_payload_type = remote.dtmf_pt;
        cfg.no_media_timeout = self.no_media_timeout;
        match MediaSession::start(port, cfg) {
            Ok((handle, events)) => {
                self.handle = Some(handle);
                self.events = Some(events);
                self.codec = Some(remote.codec);
                self.started = Some(Instant::now());
            }
            Err(e) => tracing::warn!(error = %e, "media session did not start"),
        }
    }

    /// Plays one clip; the leg plays one at a time.
    pub(crate) fn play(&mut self, samples: Vec<i16>) {
        let Some(h) = self.handle.clone() else {
            // No media yet (cannot happen after an answer with SDP): time it anyway.
            self.clip = Some((Instant::now(), samples.len()));
            return;
        };
        self.remember_for_echo(&samples);
        self.clip_id += 1;
        self.clip = Some((Instant::now(), samples.len()));
        let _ = h.play(self.clip_id, Arc::from(samples));
    }

    /// Audio mode: queues clip `id` after the ones already queued.
    pub(crate) fn play_clip(&mut self, id: u64, pcm: Arc<[i16]>) -> bool {
        let Some(h) = self.handle.clone() else { return false };
        self.remember_for_echo(&pcm);
        h.play(id, pcm).is_ok()
    }

    /// Asks the media to stop the clip at the next frame; its
    /// `PlaybackDone` follows.
    pub(crate) fn stop_playback(&mut self) {
        match &self.handle {
            Some(h) => {
                let _ = h.stop_playback();
            }
            None => self.clip = None,
        }
    }

    /// Samples of the current clip sent so far, by the clock (for a leg
    /// that ends mid-line).
    pub(crate) fn played_estimate(&self) -> usize {
        self.clip.map(|(at, total)| ((at.elapsed().as_secs_f64() * 8000.0) as usize).min(total)).unwrap_or(0)
    }

    /// The next event for the leg; audio frames are measured on the way.
    /// Cancel-safe: nothing is lost when another branch of a `select!` wins.
    pub(crate) async fn next_event(&mut self) -> MediaEvent {
        loop {
            let event = match self.events.as_mut() {
                Some(rx) => rx.recv().await,
                None => match self.clip {
                    // No media session: a clip plays by the clock alone.
                    Some((at, total)) => {
                        tokio::time::sleep_until(at + Duration::from_secs_f64(total as f64 / 8000.0)).await;
                        self.clip = None;
                        return MediaEvent::PlaybackDone { samples_played: total };
                    }
                    None => std::future::pending().await,
                },
            };
            let Some(event) = event else {
                self.events = None;
                continue;
            };
            use waihu_media::MediaEvent as M;
            match event {
                M::Audio { pcm8k, kind } => {
                    self.measure(&pcm8k, kind);
                    if self.audio {
                        return MediaEvent::Audio { pcm: Arc::from(&pcm8k[..]), at: Instant::now() };
                    }
                }
                M::PlaybackStarted { id } if self.audio => return MediaEvent::ClipStarted { id, at: Instant::now() },
                M::PlaybackDone { id, samples_played, stopped } if self.audio => {
                    return MediaEvent::ClipDone { id, samples_played, stopped };
                }
                M::PlaybackDone { id, samples_played, .. } if id == self.clip_id && self.clip.is_some() => {
                    self.clip = None;
                    return MediaEvent::PlaybackDone { samples_played };
                }
                M::FirstPacket { .. } => {
                    self.first_packet.get_or_insert_with(Instant::now);
                    return MediaEvent::FirstPacket;
                }
                M::Dtmf { digit } => {
                    self.dtmf.push(digit);
                    return MediaEvent::Dtmf(digit);
                }
                M::NoMedia => return MediaEvent::NoMedia,
                M::Closed { stats, .. } => {
                    self.stats = Some(*stats);
                    self.events = None;
                }
                _ => {}
            }
        }
    }

    /// Ends the media and reports on it. Calling it again reports nothing new.
    pub(crate) async fn finish(&mut self) -> MediaReport {
        if self.finished {
            return MediaReport::default();
        }
        self.finished = true;
        self.port = None;
        if let Some(h) = self.handle.take() {
            h.close();
            let drain = async {
                while self.events.is_some() && self.stats.is_none() {
                    let _ = self.next_event().await;
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        }
        let stats = self.stats.take().unwrap_or_default();
        let m = &self.heard;
        let level = |power: f64| 10.0 * (power.max(1e-10)).log10();
        MediaReport {
            codec: self.codec.map(|c| c.name().to_owned()).unwrap_or_default(),
            packets_sent: stats.packets_sent,
            packets_received: stats.packets_received,
            packets_lost: stats.packets_lost,
            jitter_ms: stats.jitter_ms,
            send_lateness_p50_ms: stats.send_interval.p50_ms,
            send_lateness_p99_ms: stats.send_interval.p99_ms,
            received_level_dbfs: (m.samples > 0).then(|| level(m.sum_squares / m.samples as f64)),
            received_peak_dbfs: (m.samples > 0).then(|| level(m.peak_rms)),
            echoed_frames: m.echoed,
            dtmf_received: std::mem::take(&mut self.dtmf),
            first_packet_ms: match (self.started, self.first_packet) {
                (Some(s), Some(f)) => Some(f.saturating_duration_since(s).as_millis() as u64),
                _ => None,
            },
        }
    }

    fn measure(&mut self, pcm: &[i16; FRAME], kind: FrameKind) {
        if kind != FrameKind::Received {
            return;
        }
        let power: f64 = pcm.iter().map(|&s| (f64::from(s) / 32768.0).powi(2)).sum::<f64>() / FRAME as f64;
        let m = &mut self.heard;
        m.sum_squares += power * FRAME as f64;
        m.samples += FRAME as u64;
        m.peak_rms = m.peak_rms.max(power);
        if power > 1e-6 && self.echo.contains(&frame_hash(pcm)) {
            m.echoed += 1;
        }
    }

    /// What each frame of `samples` sounds like after G.711 both ways: a far
    /// end looping our packets back sends exactly these.
    fn remember_for_echo(&mut self, samples: &[i16]) {
        let Some(codec) = self.codec else { return };
        if self.echo.len() > ECHO_MEMORY {
            self.echo.clear();
        }
        let mut coded = [0u8; FRAME];
        let mut decoded = [0i16; FRAME];
        for frame in samples.chunks_exact(FRAME) {
            match codec {
                Codec::Pcma => {
                    g711::encode_alaw(frame, &mut coded);
                    g711::decode_alaw(&coded, &mut decoded);
                }
                Codec::Pcmu => {
                    g711::encode_ulaw(frame, &mut coded);
                    g711::decode_ulaw(&coded, &mut decoded);
                }
            }
            self.echo.insert(frame_hash(&decoded));
        }
    }
}

fn frame_hash(pcm: &[i16]) -> u64 {
    let mut h = DefaultHasher::new();
    pcm.hash(&mut h);
    h.finish()
}
