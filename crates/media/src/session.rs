//! [`MediaSession`]: one tokio task per call that owns the call's UDP
//! socket and drives an [`Engine`] on a single 20 ms clock.
//!
//! The task waits on three things at once: the clock, commands from
//! [`MediaHandle`]s, and the socket. The clock is a `tokio::time::interval`
//! with [`MissedTickBehavior::Burst`]: if the task is starved, it sends the
//! missed packets back to back rather than skipping them, because RTP time
//! comes from the tick count and the far end's playout expects every frame.
//!
//! The task never waits on its consumer. Events go out with `try_send`;
//! when the channel is full, audio frames and level reports are dropped
//! (and counted in [`RtpStats::audio_frames_dropped`]) while the rarer
//! control events are held back and retried, so the clock never stalls.
//! If the event receiver is dropped the session goes on (a clip may still
//! be playing) until `close` or the last handle is dropped.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use crate::engine::{check_digit, CloseReason, Engine, MediaConfig, MediaError, MediaEvent};
use crate::ports::{PortLease, RtpPort};
use crate::stats::RtpStats;

/// One packet interval.
pub const PTIME: Duration = Duration::from_millis(20);
/// Largest datagram read; anything longer is truncated (and then usually
/// fails to parse, which is counted).
const RECV_BUFFER: usize = 2048;
/// How long the ending task waits for room to deliver its last events.
const CLOSE_DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);

enum Command {
    Play { id: u64, pcm8k: Arc<[i16]> },
    StopPlayback,
    SendDtmf(char),
    SetRemote(SocketAddr),
    Stats(oneshot::Sender<RtpStats>),
    Close,
}

/// Starts media sessions.
#[derive(Debug)]
pub struct MediaSession;

impl MediaSession {
    /// Starts a session on an allocated port; the port is freed when the
    /// session ends. Must be called inside a tokio runtime.
    pub fn start(
        port: RtpPort,
        cfg: MediaConfig,
    ) -> Result<(MediaHandle, mpsc::Receiver<MediaEvent>), MediaError> {
        let (socket, lease) = port.into_parts();
        let socket = UdpSocket::from_std(socket)?;
        Ok(spawn(socket, Some(lease), cfg))
    }

    /// Starts a session on a socket bound elsewhere (tests, or a caller that
    /// manages its own ports). Must be called inside a tokio runtime.
    pub fn start_with_socket(
        socket: UdpSocket,
        cfg: MediaConfig,
    ) -> (MediaHandle, mpsc::Receiver<MediaEvent>) {
        spawn(socket, None, cfg)
    }
}

fn spawn(
    socket: UdpSocket,
    lease: Option<PortLease>,
    cfg: MediaConfig,
) -> (MediaHandle, mpsc::Receiver<MediaEvent>) {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (event_tx, event_rx) = mpsc::channel(cfg.event_capacity.max(1));
    let handle = MediaHandle {
        commands: cmd_tx,
        local_addr: socket.local_addr().ok(),
        dtmf_negotiated: cfg.dtmf_payload_type.is_some(),
    };
    let engine = Engine::new(&cfg, Instant::now().into_std());
    tokio::spawn(run(socket, lease, engine, cmd_rx, event_tx));
    (handle, event_rx)
}

/// Commands one session. Cheap to clone; the session ends when `close` is
/// called or the last handle is dropped.
#[derive(Debug, Clone)]
pub struct MediaHandle {
    commands: mpsc::UnboundedSender<Command>,
    local_addr: Option<SocketAddr>,
    dtmf_negotiated: bool,
}

impl MediaHandle {
    fn send(&self, cmd: Command) -> Result<(), MediaError> {
        self.commands.send(cmd).map_err(|_| MediaError::Closed)
    }

    /// Queues 8 kHz audio after anything already queued. Each clip ends
    /// with one [`MediaEvent::PlaybackDone`] carrying `id`.
    pub fn play(&self, id: u64, pcm8k: Arc<[i16]>) -> Result<(), MediaError> {
        self.send(Command::Play { id, pcm8k })
    }

    /// Barge-in: drops all queued audio at the next 20 ms boundary. Every
    /// dropped clip reports `stopped: true` and the samples that went out.
    pub fn stop_playback(&self) -> Result<(), MediaError> {
        self.send(Command::StopPlayback)
    }

    /// Sends a DTMF digit as RFC 4733 events (100 ms, then a 40 ms gap;
    /// queued digits go one after another, pausing queued audio).
    pub fn send_dtmf(&self, digit: char) -> Result<(), MediaError> {
        check_digit(digit, self.dtmf_negotiated)?;
        self.send(Command::SendDtmf(digit))
    }

    /// Sends to a new address (after a re-INVITE) and latches afresh. The
    /// address signalled before, given again (a 200 OK repeating the 183's
    /// SDP), is ignored so the latch stands.
    pub fn set_remote(&self, remote: SocketAddr) -> Result<(), MediaError> {
        self.send(Command::SetRemote(remote))
    }

    /// A snapshot of the session's counters.
    pub async fn stats(&self) -> Result<RtpStats, MediaError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Stats(tx))?;
        rx.await.map_err(|_| MediaError::Closed)
    }

    /// Ends the session: clips still queued report `stopped: true`, then
    /// the last event is [`MediaEvent::Closed`]. Closing twice is harmless.
    pub fn close(&self) {
        let _ = self.send(Command::Close);
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }

    /// The local address of the session's socket (for the SDP offer).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }
}

async fn run(
    socket: UdpSocket,
    lease: Option<PortLease>,
    mut engine: Engine,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::Sender<MediaEvent>,
) {
    let mut outlet = Outlet {
        tx: events,
        held: VecDeque::new(),
    };
    // Each session's 20 ms grid starts at a random offset: calls answered in
    // the same millisecond (an IVR answering at once, evenly paced dials)
    // would otherwise all send in the same tick, and that burst shows up as
    // send jitter for every one of them.
    let offset = Duration::from_micros(rand::random::<u64>() % PTIME.as_micros() as u64);
    let mut clock = interval_at(Instant::now() + offset, PTIME);
    clock.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut buf = vec![0u8; RECV_BUFFER];

    let reason = loop {
        tokio::select! {
            // The clock first: a busy socket must not delay a send.
            biased;
            slot = clock.tick() => {
                let transmit = engine.handle_tick(Instant::now().into_std());
                let sent = socket.send_to(transmit.data, transmit.destination).await;
                if let Err(e) = &sent {
                    tracing::debug!(error = %e, "RTP send failed");
                }
                engine.record_send(slot.elapsed(), sent.is_ok());
            }
            cmd = commands.recv() => match cmd {
                None => break CloseReason::HandlesDropped,
                Some(Command::Close) => break CloseReason::Closed,
                Some(cmd) => apply(&mut engine, cmd),
            },
            received = socket.recv_from(&mut buf) => match received {
                Ok((len, from)) => engine.handle_receive(Instant::now().into_std(), from, &buf[..len]),
                Err(e) if is_transient(&e) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "RTP socket failed; ending media session");
                    break CloseReason::SocketError;
                }
            },
        }
        outlet.flush(&mut engine);
    };

    // Every clip still queued gets its PlaybackDone, so a caller waiting on
    // one is not left hanging by a hang-up.
    engine.stop_playback();
    outlet.flush(&mut engine);
    let stats = Box::new(engine.stats());
    drop(socket);
    drop(lease);
    outlet.finish(MediaEvent::Closed { reason, stats }).await;
}

fn apply(engine: &mut Engine, cmd: Command) {
    match cmd {
        Command::Play { id, pcm8k } => engine.play(id, pcm8k),
        Command::StopPlayback => engine.stop_playback(),
        Command::SendDtmf(digit) => {
            // The handle validated it already.
            let _ = engine.send_dtmf(digit);
        }
        Command::SetRemote(addr) => engine.set_remote(addr),
        Command::Stats(reply) => {
            let _ = reply.send(engine.stats());
        }
        Command::Close => {}
    }
}

/// Errors a UDP socket reports for one datagram that do not mean the socket
/// is broken (e.g. an ICMP port-unreachable for an earlier send).
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
    )
}

/// Delivers events without ever waiting: see the module docs.
struct Outlet {
    tx: mpsc::Sender<MediaEvent>,
    held: VecDeque<MediaEvent>,
}

impl Outlet {
    fn flush(&mut self, engine: &mut Engine) {
        while let Some(event) = self.held.pop_front() {
            match self.tx.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) => {
                    self.held.push_front(event);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => self.held.clear(),
            }
        }
        while let Some(event) = engine.poll_event() {
            let droppable = matches!(event, MediaEvent::Audio { .. } | MediaEvent::Level { .. });
            if !self.held.is_empty() {
                // The channel was full a moment ago; keep control events in order.
                if droppable {
                    count_drop(engine, &event);
                } else {
                    self.held.push_back(event);
                }
                continue;
            }
            match self.tx.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) if droppable => {
                    count_drop(engine, &event)
                }
                Err(mpsc::error::TrySendError::Full(event)) => self.held.push_back(event),
                // Nobody listens any more; the session still runs for its handles.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// Delivers what is held and the final event, waiting a bounded time:
    /// the clock has stopped, so waiting harms nothing but a stuck consumer.
    async fn finish(mut self, last: MediaEvent) {
        self.held.push_back(last);
        let deadline = Instant::now() + CLOSE_DELIVERY_TIMEOUT;
        for event in self.held.drain(..) {
            match tokio::time::timeout_at(deadline, self.tx.send(event)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => break,
            }
        }
    }
}

fn count_drop(engine: &mut Engine, event: &MediaEvent) {
    if matches!(event, MediaEvent::Audio { .. }) {
        engine.record_dropped_audio();
    }
}
