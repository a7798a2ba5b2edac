//! One call session: the async driver around the sans-IO lifecycle.
//!
//! It owns the call's carrier leg and conversation, feeds the lifecycle
//! with what happens (leg events, replies, timers, API requests) and carries
//! out what the lifecycle asks. Every line said is stored, then published.
//! The dialogue engine runs in its own task, so a slow engine never stalls
//! the leg's events or the timers.

mod lines;
mod turns;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::path::PathBuf;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use waihu_turn::TurnLatencyMs;
use waihu_voice::{CallVoice, VoiceEngines};
use waihu_agent::{Conversation, EngineRegistry, LlmError, Reply, Turn};
use waihu_carrier::{Carrier, CarrierError, DialRequest, LegCommand, LegEvent};
use waihu_core::lifecycle::{Action, CallLifecycle, Finish, Input, LegEnd, LifecycleConfig};
use waihu_core::{CallEvent, CallStatus, EndReason, HangupSide, Outcome, PhoneNumber, Role};
use waihu_store::{CallRow, FinishCall, Store};

use crate::bus::EventBus;
use crate::metrics::{Metrics, StatusLabel};
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

/// Said when the dialogue engine fails: the callee hears something sane.
const ENGINE_FAILED_LINE: &str = "不好意思，我这边系统出了点问题，稍后再联系您，再见。";

fn wind_down_line(reason: EndReason) -> &'static str {
    match reason {
        EndReason::BalanceExhausted => "不好意思，本次通话时长已用完，我先挂了，有需要会再联系您，再见。",
        EndReason::ServerRestart => "不好意思，系统需要维护，我先挂了，稍后再联系您，再见。",
        _ => "不好意思，通话时间有限，我先挂了，有需要会再联系您，再见。",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    /// A reply of the dialogue.
    Reply,
    /// "Can you hear me?" after silence: does not count as activity.
    Nudge,
}

#[derive(Debug)]
struct Utter {
    id: u64,
    text: String,
    kind: LineKind,
    /// Hang up once said, for this reason and side.
    then_hang_up: Option<(HangupSide, EndReason)>,
}

type Thinking = JoinHandle<(Conversation, Result<Reply, LlmError>)>;

enum Wake {
    Leg(Option<LegEvent>),
    Reply(Result<(Conversation, Result<Reply, LlmError>), tokio::task::JoinError>),
    Part(Option<String>),
    Control(Option<Control>),
    Timer,
}

struct Session {
    deps: Arc<SessionDeps>,
    call: CallRow,
    lc: CallLifecycle,
    leg_events: Option<mpsc::Receiver<LegEvent>>,
    leg_commands: Option<mpsc::Sender<LegCommand>>,
    convo: Option<Conversation>,
    thinking: Option<Thinking>,
    thinking_kind: LineKind,
    /// The callee spoke while a reply was being generated.
    stale: bool,
    /// The callee's words not yet given to the dialogue.
    unheard: Vec<String>,
    /// The callee's words said over the AI, written after the AI's cut line.
    deferred_user_lines: Vec<String>,
    speaking: Option<Utter>,
    queue: VecDeque<Utter>,
    next_utter_id: u64,
    winding_down: bool,
    lines: LineWriter,
    outcome: Option<Outcome>,
    provider_response: Option<String>,
    /// When the callee's last utterance ended, for turn latency.
    heard_at: Option<Instant>,
    /// The carrier's media counters (JSON), when its leg carries media.
    media_stats: Option<String>,
    /// Whether a carrier without free capacity sends the call back to the queue.
    may_requeue: bool,
    /// Set when the carrier refused for capacity and the call goes back to the queue.
    requeue: Option<String>,
    /// The leg is a voice leg: replies are streamed to it clause by clause.
    audio: bool,
    /// The clauses of the reply being generated (voice legs).
    parts: Option<mpsc::UnboundedReceiver<String>>,
    /// The line the reply being generated is streamed into.
    streaming: Option<u64>,
    /// A streamed line was cut while its reply was still being generated:
    /// what was played, for the history once the conversation is back.
    cut_while_thinking: Option<String>,
    /// Each answered turn's latency (voice legs).
    turns: Vec<TurnLatencyMs>,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn wall_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs one call from queued to its final record, or back to the queue
/// when the carrier has no capacity and `may_requeue`.
pub(crate) async fn run_call(deps: Arc<SessionDeps>, call: CallRow, mut control: mpsc::Receiver<Control>, may_requeue: bool) -> Exit {
    let engine = deps.engines.get(Some(&call.order.model_engine)).or_else(|| deps.engines.get(None));
    let Some(engine) = engine else {
        tracing::error!("no dialogue engine available");
        return Exit::Done;
    };
    let convo = Conversation::new(engine, call.order.requirement.clone()).with_reply_timeout(deps.reply_timeout);
    let mut s = Session {
        lines: LineWriter::new(deps.store.clone(), deps.bus.clone(), deps.metrics.clone(), call.id.clone()),
        lc: CallLifecycle::new(deps.lifecycle),
        deps,
        call,
        leg_events: None,
        leg_commands: None,
        convo: Some(convo),
        thinking: None,
        thinking_kind: LineKind::Reply,
        stale: false,
        unheard: Vec::new(),
        deferred_user_lines: Vec::new(),
        speaking: None,
        queue: VecDeque::new(),
        next_utter_id: 1,
        winding_down: false,
        outcome: None,
        provider_response: None,
        heard_at: None,
        media_stats: None,
        may_requeue,
        requeue: None,
        audio: false,
        parts: None,
        streaming: None,
        cut_while_thinking: None,
        turns: Vec::new(),
    };
    // Claim the call: it may have been cancelled while it waited in the queue.
    match s.deps.store.set_status(&s.call.id, CallStatus::Dialing, wall_ms()).await {
        Ok(true) => {}
        Ok(false) => return Exit::Done,
        Err(e) => {
            tracing::error!(error = %e, "cannot start call: store unavailable");
            return Exit::Done;
        }
    }
    s.deps.metrics.calls_active.inc();
    s.lc.handle(Input::Start, now());
    loop {
        if let Some(fin) = s.perform_actions().await {
            s.finish(fin).await;
            return Exit::Done;
        }
        if let Some(reason) = s.requeue.take() {
            s.deps.metrics.calls_active.dec();
            match s.deps.store.set_status(&s.call.id, CallStatus::Queued, wall_ms()).await {
                Ok(_) => {
                    s.deps.bus.publish(&s.call.id, CallEvent::Status { status: CallStatus::Queued });
                    return Exit::Requeued(reason);
                }
                Err(e) => {
                    // Cannot put it back: end it rather than leave it dialing.
                    tracing::error!(error = %e, "cannot re-queue the call");
                    s.deps.metrics.calls_active.inc();
                    s.provider_response = Some(reason);
                    s.lc.handle(Input::LegEnded(LegEnd::Failed), now());
                    continue;
                }
            }
        }
        let deadline = s.lc.poll_timeout().map(tokio::time::Instant::from_std);
        let wake = tokio::select! {
            ev = async { match s.leg_events.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => Wake::Leg(ev),
            r = async { match s.thinking.as_mut() { Some(h) => h.await, None => std::future::pending().await } } => Wake::Reply(r),
            p = async { match s.parts.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => Wake::Part(p),
            c = control.recv(), if !control.is_closed() => Wake::Control(c),
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => Wake::Timer,
        };
        match wake {
            Wake::Leg(Some(ev)) => s.on_leg_event(ev).await,
            Wake::Leg(None) => {
                s.leg_events = None;
                s.provider_response.get_or_insert_with(|| "carrier leg closed without a final response".into());
                s.lc.handle(Input::LegEnded(LegEnd::Failed), now());
            }
            Wake::Part(Some(text)) => s.on_part(text).await,
            Wake::Part(None) => s.parts = None,
            Wake::Reply(r) => {
                s.thinking = None;
                // Every clause was sent before the task returned: say them first.
                while let Some(text) = s.parts.as_mut().and_then(|rx| rx.try_recv().ok()) {
                    s.on_part(text).await;
                }
                s.parts = None;
                match r {
                    Ok((convo, reply)) => {
                        s.convo = Some(convo);
                        s.on_reply(reply).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "dialogue task failed");
                        s.on_reply(Err(LlmError::Protocol("dialogue task failed".into()))).await;
                    }
                }
            }
            Wake::Control(Some(Control::HangUp)) => s.lc.handle(Input::Hangup { side: HangupSide::Api, reason: EndReason::ApiCancel }, now()),
            Wake::Control(Some(Control::Shutdown)) => {
                s.lc.handle(Input::Hangup { side: HangupSide::Platform, reason: EndReason::ServerRestart }, now())
            }
            Wake::Control(None) => {}
            Wake::Timer => s.lc.handle_timeout(now()),
        }
    }
}

impl Session {
    /// Carries out the lifecycle's actions; returns the finish when the call is over.
    async fn perform_actions(&mut self) -> Option<Finish> {
        while let Some(action) = self.lc.poll_action() {
            match action {
                Action::Status(status) if !status.is_final() => {
                    if status != CallStatus::Dialing {
                        if let Err(e) = self.deps.store.set_status(&self.call.id, status, wall_ms()).await {
                            tracing::warn!(error = %e, %status, "status not stored");
                        }
                    }
                    self.deps.bus.publish(&self.call.id, CallEvent::Status { status });
                    if status == CallStatus::InProgress {
                        self.think(None, LineKind::Reply);
                    }
                }
                Action::Status(_) => {}
                Action::Dial => self.dial().await,
                Action::Cancel => self.command(LegCommand::Cancel).await,
                Action::HangUp => self.command(LegCommand::HangUp).await,
                Action::NudgeSilence => {
                    if self.speaking.is_none() && self.thinking.is_none() && !self.winding_down {
                        self.think(Some(Turn::Silence), LineKind::Nudge);
                    }
                }
                Action::ReserveMinute(_) => {
                    let ok = match self.deps.store.reserve_minute(&self.call.id, wall_ms()).await {
                        Ok(ok) => ok,
                        Err(e) => {
                            // Unable to reserve is treated as unable to pay: the call
                            // ends politely rather than run unpaid.
                            tracing::error!(error = %e, "reserving the next minute failed");
                            false
                        }
                    };
                    self.lc.handle(Input::MinuteReserved { ok }, now());
                }
                Action::WindDown(reason) => self.wind_down(reason).await,
                Action::Finish(f) => return Some(f),
            }
        }
        None
    }

    async fn dial(&mut self) {
        let to = match PhoneNumber::parse(&self.call.phone) {
            Ok(p) => p,
            Err(e) => {
                self.provider_response = Some(format!("invalid stored number: {e}"));
                self.lc.handle(Input::LegEnded(LegEnd::Failed), now());
                return;
            }
        };
        tracing::info!(to = %to.redacted(), carrier = self.deps.carrier.kind(), "dialling");
        let voice = self.deps.voice.clone().filter(|_| self.deps.carrier.carries_audio());
        let req = DialRequest { call_id: self.call.id.clone(), to, audio: voice.is_some() };
        match self.deps.carrier.dial(req).await {
            Ok(leg) => {
                let leg = match voice {
                    Some(engines) => {
                        self.audio = true;
                        waihu_voice::wrap(leg, engines, self.call_voice())
                    }
                    None => leg,
                };
                self.leg_events = Some(leg.events);
                self.leg_commands = Some(leg.commands);
            }
            Err(e @ CarrierError::Capacity(_)) if self.may_requeue => {
                tracing::info!(reason = %e, "carrier full; the call waits in the queue");
                self.requeue = Some(e.to_string());
            }
            Err(e) => {
                self.provider_response = Some(e.to_string());
                self.lc.handle(Input::LegEnded(LegEnd::Failed), now());
            }
        }
    }

    fn call_voice(&self) -> CallVoice {
        let pct = |v: Option<i64>| v.map_or(50, |v| v.clamp(0, 100) as u8);
        CallVoice {
            asr_hint: self.call.order.requirement.clone(),
            voice_id: Some(self.call.order.voice_id.clone()).filter(|v| !v.is_empty()),
            speed: pct(self.call.order.speed),
            volume: pct(self.call.order.volume),
            record_to: self
                .call
                .order
                .record
                .unwrap_or(self.deps.record_by_default)
                .then(|| self.deps.recordings.join(format!("{}.wav", self.call.id))),
        }
    }

    async fn command(&mut self, cmd: LegCommand) {
        let sent = match &self.leg_commands {
            Some(tx) => tx.send(cmd.clone()).await.is_ok(),
            None => false,
        };
        if !sent && matches!(cmd, LegCommand::Cancel | LegCommand::HangUp) {
            // No leg to release: the release is complete.
            self.lc.handle(Input::LegEnded(LegEnd::Released), now());
        }
    }

    async fn on_leg_event(&mut self, ev: LegEvent) {
        match ev {
            LegEvent::Ringing => self.lc.handle(Input::Ringing, now()),
            LegEvent::Answered => self.lc.handle(Input::Answered, now()),
            LegEvent::SpeechStarted => {}
            LegEvent::TurnLatency(t) => {
                self.deps.metrics.observe_turn(&t);
                self.turns.push(t);
            }
            // Audio-level events stay inside the voice pipeline.
            LegEvent::Audio { .. } | LegEvent::PlayStarted { .. } | LegEvent::PlayDone { .. } => {}
            // Media counters: the record and /metrics do not take them yet.
            LegEvent::Media(report) => {
                self.deps.metrics.observe_media(&report);
                self.media_stats = serde_json::to_string(&report).ok();
            }
            LegEvent::Heard(text) => self.on_heard(text).await,
            LegEvent::SayDone { id, played_chars, stopped } => self.on_say_done(id, played_chars, stopped).await,
            LegEvent::Ended { end, provider_response } => {
                self.provider_response = Some(provider_response);
                self.leg_events = None;
                self.leg_commands = None;
                if let Some(t) = self.thinking.take() {
                    t.abort();
                }
                self.lc.handle(Input::LegEnded(end), now());
            }
        }
    }

    async fn on_heard(&mut self, text: String) {
        let text = text.trim().to_owned();
        if text.is_empty() {
            return;
        }
        if self.speaking.is_some() {
            if turns::is_backchannel(&text) {
                // "嗯", "对" while the AI talks: listening, not taking the turn.
                return;
            }
            // Barge-in: the callee takes the turn; the AI stops, and its line is
            // written with only what was played before the callee's line.
            self.command(LegCommand::StopSaying).await;
            self.queue.retain(|u| u.then_hang_up.is_some());
            self.deferred_user_lines.push(text);
            return;
        }
        self.lc.handle(Input::Activity, now());
        self.lines.write(Role::User, &text).await;
        self.heard_at = Some(now());
        self.take_user_turn(text);
    }

    fn take_user_turn(&mut self, text: String) {
        if self.winding_down {
            return;
        }
        self.unheard.push(text);
        if self.thinking.is_some() {
            self.stale = true;
        } else if self.speaking.is_none() {
            let joined = self.unheard.drain(..).collect::<Vec<_>>().join(" ");
            self.think(Some(Turn::User(joined)), LineKind::Reply);
        }
    }

    async fn on_say_done(&mut self, id: u64, played_chars: usize, stopped: bool) {
        let Some(utter) = self.speaking.take_if(|u| u.id == id) else { return };
        let played: String = if stopped { utter.text.chars().take(played_chars).collect() } else { utter.text.clone() };
        if !played.is_empty() {
            self.lines.write(Role::Assistant, &played).await;
        }
        if stopped {
            match self.convo.as_mut() {
                Some(c) => c.replace_last_assistant(played),
                // Still generating the rest of this line: fix the history
                // when the conversation comes back.
                None if self.streaming == Some(id) => self.cut_while_thinking = Some(played),
                None => {}
            }
        }
        if utter.kind != LineKind::Nudge {
            self.lc.handle(Input::Activity, now());
        }
        if let Some((side, reason)) = utter.then_hang_up.filter(|_| !stopped || self.winding_down) {
            self.lc.handle(Input::Hangup { side, reason }, now());
            return;
        }
        let deferred: Vec<String> = self.deferred_user_lines.drain(..).collect();
        for text in deferred {
            self.lc.handle(Input::Activity, now());
            self.lines.write(Role::User, &text).await;
            self.heard_at = Some(now());
            self.unheard.push(text);
        }
        if let Some(next) = self.queue.pop_front() {
            self.start_saying(next).await;
        } else if !self.unheard.is_empty() && self.thinking.is_none() {
            let joined = self.unheard.drain(..).collect::<Vec<_>>().join(" ");
            self.think(Some(Turn::User(joined)), LineKind::Reply);
        }
    }

    fn think(&mut self, turn: Option<Turn>, kind: LineKind) {
        let Some(mut convo) = self.convo.take() else { return };
        self.thinking_kind = kind;
        self.streaming = None;
        self.cut_while_thinking = None;
        if self.audio {
            // A voice leg says the reply's first clause while the rest is written.
            let (tx, rx) = mpsc::unbounded_channel();
            self.parts = Some(rx);
            self.thinking = Some(tokio::spawn(async move {
                let reply = convo.respond_streaming(turn, Some(&tx)).await;
                (convo, reply)
            }));
        } else {
            self.thinking = Some(tokio::spawn(async move {
                let reply = convo.respond(turn).await;
                (convo, reply)
            }));
        }
    }

    /// A clause of the reply being generated (voice legs).
    async fn on_part(&mut self, text: String) {
        if self.lc.is_done() || self.winding_down || self.stale {
            // A stale reply is retracted whole when it completes.
            return;
        }
        match self.streaming {
            Some(id) => {
                if let Some(u) = self.speaking.as_mut().filter(|u| u.id == id) {
                    u.text.push_str(&text);
                    self.command(LegCommand::SayPart { id, text, last: false }).await;
                }
            }
            // Something else is playing (a nudge): this reply waits and is
            // said whole when it completes.
            None if self.speaking.is_some() => {}
            None => {
                let utter = self.new_utter(text.clone(), self.thinking_kind, None);
                let id = utter.id;
                self.streaming = Some(id);
                self.speaking = Some(utter);
                if let Some(t) = self.heard_at.take() {
                    self.deps.metrics.turn_latency.observe(now().saturating_duration_since(t).as_secs_f64());
                }
                self.command(LegCommand::SayPart { id, text, last: false }).await;
            }
        }
    }

    /// The reply that was streamed into line `id` is complete.
    async fn on_streamed_reply(&mut self, id: u64, reply: Result<Reply, LlmError>) {
        let still_playing = self.speaking.as_ref().is_some_and(|u| u.id == id);
        if let Some(played) = self.cut_while_thinking.take() {
            if let Some(c) = self.convo.as_mut() {
                c.replace_last_assistant(played);
            }
        }
        match reply {
            Ok(r) => {
                if r.outcome.is_some() {
                    self.outcome = r.outcome;
                }
                if still_playing {
                    if let Some(u) = self.speaking.as_mut() {
                        u.text = r.text;
                        if r.hang_up {
                            u.kind = LineKind::Reply;
                            u.then_hang_up = Some((HangupSide::Agent, EndReason::AgentHangup));
                        }
                    }
                    self.command(LegCommand::SayPart { id, text: String::new(), last: true }).await;
                    return;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "dialogue engine failed mid-reply; ending the call politely");
                if still_playing {
                    self.command(LegCommand::SayPart { id, text: String::new(), last: true }).await;
                }
                let utter = self.new_utter(ENGINE_FAILED_LINE.into(), LineKind::Reply, Some((HangupSide::Platform, EndReason::InternalError)));
                if self.speaking.is_some() {
                    self.queue.push_back(utter);
                } else {
                    self.start_saying(utter).await;
                }
                return;
            }
        }
        // The line was cut before its reply was complete: answer what the
        // callee said meanwhile.
        self.stale = false;
        if self.speaking.is_none() && !self.unheard.is_empty() {
            let joined = self.unheard.drain(..).collect::<Vec<_>>().join(" ");
            self.think(Some(Turn::User(joined)), LineKind::Reply);
        }
    }

    async fn on_reply(&mut self, reply: Result<Reply, LlmError>) {
        if self.lc.is_done() || self.winding_down {
            return;
        }
        if let Some(id) = self.streaming.take() {
            return self.on_streamed_reply(id, reply).await;
        }
        if self.stale {
            // The callee spoke while this was generated: answer what they said now.
            self.stale = false;
            if let Some(c) = self.convo.as_mut() {
                c.retract_last_reply();
            }
            let joined = self.unheard.drain(..).collect::<Vec<_>>().join(" ");
            self.think(Some(Turn::User(joined)), LineKind::Reply);
            return;
        }
        let kind = self.thinking_kind;
        let utter = match reply {
            Ok(r) => {
                if r.outcome.is_some() {
                    self.outcome = r.outcome;
                }
                if r.text.is_empty() {
                    if r.hang_up {
                        self.lc.handle(Input::Hangup { side: HangupSide::Agent, reason: EndReason::AgentHangup }, now());
                    }
                    return;
                }
                let kind = if r.hang_up { LineKind::Reply } else { kind };
                self.new_utter(r.text, kind, r.hang_up.then_some((HangupSide::Agent, EndReason::AgentHangup)))
            }
            Err(e) => {
                tracing::error!(error = %e, "dialogue engine failed; ending the call politely");
                self.new_utter(ENGINE_FAILED_LINE.into(), LineKind::Reply, Some((HangupSide::Platform, EndReason::InternalError)))
            }
        };
        if let Some(t) = self.heard_at.take() {
            self.deps.metrics.turn_latency.observe(now().saturating_duration_since(t).as_secs_f64());
        }
        if self.speaking.is_some() {
            self.queue.push_back(utter);
        } else {
            self.start_saying(utter).await;
        }
    }

    fn new_utter(&mut self, text: String, kind: LineKind, then_hang_up: Option<(HangupSide, EndReason)>) -> Utter {
        let id = self.next_utter_id;
        self.next_utter_id += 1;
        Utter { id, text, kind, then_hang_up }
    }

    async fn start_saying(&mut self, utter: Utter) {
        let cmd = LegCommand::Say { id: utter.id, text: utter.text.clone() };
        self.speaking = Some(utter);
        self.command(cmd).await;
    }

    async fn wind_down(&mut self, reason: EndReason) {
        self.winding_down = true;
        if let Some(t) = self.thinking.take() {
            t.abort();
        }
        self.queue.clear();
        let goodbye = self.new_utter(wind_down_line(reason).into(), LineKind::Reply, Some((HangupSide::Platform, reason)));
        if self.speaking.is_some() {
            self.queue.push_back(goodbye);
            self.command(LegCommand::StopSaying).await;
        } else {
            self.start_saying(goodbye).await;
        }
    }

    async fn finish(&mut self, f: Finish) {
        if let Some(t) = self.thinking.take() {
            t.abort();
        }
        let outcome = self.outcome.unwrap_or(if self.lc.answered_at().is_some() { Outcome::CutOff } else { Outcome::NotConnected });
        let fin = FinishCall {
            call_id: self.call.id.clone(),
            status: f.status,
            reason: f.reason,
            side: f.side,
            outcome: Some(outcome),
            connected_ms: f.connected.as_millis() as i64,
            provider_response: self.provider_response.clone(),
            media_stats: self.media_stats.clone(),
            turn_stats: (!self.turns.is_empty()).then(|| serde_json::to_string(&self.turns).ok()).flatten(),
            now_ms: wall_ms(),
        };
        // The record must not be lost: retry a failing database for a while.
        for attempt in 0..20 {
            match self.deps.store.finish_call(&fin).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, attempt, "final record not stored yet; retrying");
                    tokio::time::sleep(Duration::from_millis(250 * (attempt + 1))).await;
                }
            }
        }
        tracing::info!(status = %f.status, reason = %f.reason, side = %f.side, connected_ms = fin.connected_ms, "call ended");
        self.deps.metrics.calls_active.dec();
        self.deps.metrics.calls_finished.get_or_create(&StatusLabel { status: f.status.as_str().into() }).inc();
        self.deps.bus.publish(&self.call.id, CallEvent::Status { status: f.status });
        self.deps.bus.publish(&self.call.id, CallEvent::Ended { status: f.status, lines: self.lines.count() });
    }
}
