//! One call session: the IO shell around the call's brain.
//!
//! All of a call's logic (the lifecycle, who speaks when, the reply gate)
//! is in `waihu_call::CallBrain`, which does no IO. This task feeds it what
//! happens (leg events, the dialogue engine's reply events, API requests,
//! timers on tokio's clock) and carries out what it asks: dial, send to
//! the leg, run the engine, store and publish transcript lines, reserve
//! minutes, write the final record. The engine runs in a task of its own,
//! so a slow engine never stalls the leg's events or the timers.

mod actions;
mod contain;
mod lines;
mod reply;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use waihu_agent::{EngineRegistry, Llm};
use waihu_call::{BrainConfig, CallBrain, Input, ReplyEvent, ReplyId};
use waihu_carrier::{Carrier, Signal, TextCommand, TextEvent};
use waihu_core::lifecycle::LifecycleConfig;
use waihu_core::{CallStatus, EndReason, HangupSide};
use waihu_store::{CallRow, Store};
use waihu_turn::TurnLatencyMs;
use waihu_voice::VoiceEngines;

use crate::bus::EventBus;
use crate::metrics::Metrics;
pub(crate) use contain::{end_after_panic, panic_message};
use lines::LineWriter;

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exit {
    /// The call has its final record (or was already ended elsewhere).
    Done,
    /// The carrier had no free capacity (ports, channels): nothing reached the
    /// network, so the call went back to the queue to be tried again.
    Requeued(String),
}

/// What the rest of the server may ask of a live call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    /// The account holder hung up through the API.
    HangUp,
    /// The server is stopping.
    Shutdown,
}

/// What every session needs.
pub(crate) struct SessionDeps {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) carrier: Arc<dyn Carrier>,
    pub(crate) engines: EngineRegistry,
    pub(crate) lifecycle: LifecycleConfig,
    pub(crate) reply_timeout: Duration,
    pub(crate) metrics: Arc<Metrics>,
    /// The voice pipeline's engines: calls on a carrier that carries audio
    /// are spoken and heard through them. `None`: text-level calls.
    pub(crate) voice: Option<Arc<VoiceEngines>>,
    /// Where voice calls are recorded (a stereo WAV per call).
    pub(crate) recordings: PathBuf,
    /// Whether a call that does not say is recorded (`speech.record`).
    pub(crate) record_by_default: bool,
}

/// The session's state: the brain and the IO it drives.
struct Session {
    deps: Arc<SessionDeps>,
    call: CallRow,
    brain: CallBrain,
    engine: Arc<dyn Llm>,
    /// The voice pipeline's engines when this call is spoken.
    voice: Option<Arc<VoiceEngines>>,
    leg_events: Option<mpsc::Receiver<TextEvent>>,
    leg_commands: Option<mpsc::Sender<TextCommand>>,
    /// Each answered turn's latency, from the voice pipeline.
    turn_latencies: Option<mpsc::UnboundedReceiver<TurnLatencyMs>>,
    /// The reply being written, and where its events arrive.
    thinking: Option<(ReplyId, tokio::task::JoinHandle<()>)>,
    replies: mpsc::UnboundedSender<(ReplyId, ReplyEvent)>,
    lines: LineWriter,
    /// The carrier's media counters (JSON), when its leg carries media.
    media_stats: Option<String>,
    /// Each answered turn's latency (voice legs).
    turns: Vec<TurnLatencyMs>,
    /// Whether a carrier without free capacity sends the call back to the queue.
    may_requeue: bool,
}

/// The session's clock: tokio's, so tests can pause and advance it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn wall_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs one call from queued to its final record, or back to the queue
/// when the carrier has no capacity and `may_requeue`.
pub(crate) async fn run_call(deps: Arc<SessionDeps>, call: CallRow, mut control: mpsc::Receiver<Control>, may_requeue: bool) -> Exit {
    let Some(engine) = deps.engines.get(Some(&call.order.model_engine)).or_else(|| deps.engines.get(None)) else {
        tracing::error!("no dialogue engine available");
        return Exit::Done;
    };
    // Claim the call: it may have been cancelled while it waited in the queue.
    match deps.store.set_status(&call.id, CallStatus::Dialing, wall_ms()).await {
        Ok(true) => {}
        Ok(false) => return Exit::Done,
        Err(e) => {
            tracing::error!(error = %e, "cannot start call: store unavailable");
            return Exit::Done;
        }
    }
    deps.metrics.calls_active.inc();
    let voice = deps.voice.clone().filter(|_| deps.carrier.carries_audio());
    let cfg = BrainConfig { lifecycle: deps.lifecycle, reply_timeout: deps.reply_timeout, stream_replies: voice.is_some() };
    let (replies, mut reply_events) = mpsc::unbounded_channel();
    let mut s = Session {
        lines: LineWriter::new(deps.store.clone(), deps.bus.clone(), deps.metrics.clone(), call.id.clone()),
        brain: CallBrain::new(cfg, call.order.requirement.clone()),
        deps,
        call,
        engine,
        voice,
        leg_events: None,
        leg_commands: None,
        turn_latencies: None,
        thinking: None,
        replies,
        media_stats: None,
        turns: Vec::new(),
        may_requeue,
    };
    s.brain.handle(Input::Start, now());
    loop {
        while let Some(action) = s.brain.poll_action() {
            if let Some(exit) = s.perform(action).await {
                return exit;
            }
        }
        let deadline = s.brain.poll_timeout().map(tokio::time::Instant::from_std);
        let input = tokio::select! {
            ev = async { match s.leg_events.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => match ev {
                Some(ev) => match s.on_leg_event(ev) {
                    Some(input) => input,
                    None => continue,
                },
                None => {
                    s.leg_gone();
                    Input::LegLost
                }
            },
            Some((id, event)) = reply_events.recv() => Input::Reply { id, event },
            t = async { match s.turn_latencies.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                match t {
                    Some(t) => s.on_turn_latency(t),
                    None => s.turn_latencies = None,
                }
                continue;
            }
            c = control.recv(), if !control.is_closed() => match c {
                Some(Control::HangUp) => Input::HangUp { side: HangupSide::Api, reason: EndReason::ApiCancel },
                Some(Control::Shutdown) => Input::HangUp { side: HangupSide::Platform, reason: EndReason::ServerRestart },
                None => continue,
            },
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => Input::Timeout,
        };
        s.brain.handle(input, now());
    }
}

impl Session {
    /// What a leg event means to the brain; the media counters and turn
    /// latencies are kept here for the record and `/metrics`.
    fn on_leg_event(&mut self, ev: TextEvent) -> Option<Input> {
        match ev {
            TextEvent::Signal(Signal::Ringing) => Some(Input::Ringing),
            TextEvent::Signal(Signal::Answered) => Some(Input::Answered),
            TextEvent::Heard(text) => Some(Input::Heard(text)),
            TextEvent::SayDone { id, played_chars, stopped } => Some(Input::SayDone { id, played_chars, stopped }),
            TextEvent::Signal(Signal::Ended { end, provider_response }) => {
                self.leg_gone();
                Some(Input::LegEnded { end, provider_response: Some(provider_response) })
            }
            TextEvent::Signal(Signal::Media(report)) => {
                self.deps.metrics.observe_media(&report);
                self.media_stats = serde_json::to_string(&report).ok();
                None
            }
            TextEvent::SpeechStarted => None,
        }
    }

    fn on_turn_latency(&mut self, t: TurnLatencyMs) {
        self.deps.metrics.observe_turn(&t);
        self.turns.push(t);
    }

    fn leg_gone(&mut self) {
        self.leg_events = None;
        self.leg_commands = None;
    }
}
