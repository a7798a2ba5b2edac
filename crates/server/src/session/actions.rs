//! Carrying out what the brain asks.

use std::time::Duration;

use waihu_call::{Action, CallEnd, Input};
use waihu_carrier::{CarrierError, DialRequest, TextCommand, TextLeg};
use waihu_core::lifecycle::LegEnd;
use waihu_core::{CallEvent, CallStatus, PhoneNumber};
use waihu_store::FinishCall;
use waihu_voice::CallVoice;

use super::{now, wall_ms, Exit, Session};
use crate::metrics::StatusLabel;

impl Session {
    /// Carries out one action; returns how the session ends when it does.
    pub(super) async fn perform(&mut self, action: Action) -> Option<Exit> {
        match action {
            Action::Status(status) => {
                // `dialing` was stored by the claim.
                if status != CallStatus::Dialing {
                    if let Err(e) = self.deps.store.set_status(&self.call.id, status, wall_ms()).await {
                        tracing::warn!(error = %e, %status, "status not stored");
                    }
                }
                self.deps.bus.publish(&self.call.id, CallEvent::Status { status });
            }
            Action::Dial => return self.dial().await,
            Action::Leg(cmd) => self.command(cmd).await,
            Action::Think { id, request } => self.think(id, request),
            Action::StopThinking { id } => self.stop_thinking(id),
            Action::Line { role, text } => self.lines.write(role, &text).await,
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
                self.brain.handle(Input::MinuteReserved { ok }, now());
            }
            Action::TurnAnswered { after } => self.deps.metrics.turn_latency.observe(after.as_secs_f64()),
            Action::Finish(end) => {
                self.finish(end).await;
                return Some(Exit::Done);
            }
        }
        None
    }

    async fn dial(&mut self) -> Option<Exit> {
        let to = match PhoneNumber::parse(&self.call.phone) {
            Ok(p) => p,
            Err(e) => {
                self.brain.handle(Input::DialFailed { provider_response: format!("invalid stored number: {e}") }, now());
                return None;
            }
        };
        tracing::info!(to = %to.redacted(), carrier = self.deps.carrier.kind(), "dialling");
        let req = DialRequest { call_id: self.call.id.clone(), to };
        let dialled = match self.voice.clone() {
            // A spoken call: the voice pipeline makes the audio leg a text leg.
            Some(engines) => self.deps.carrier.dial_audio(req).await.map(|leg| {
                let voiced = waihu_voice::wrap(leg, engines, self.call_voice());
                self.turn_latencies = Some(voiced.turns);
                voiced.leg
            }),
            None => self.deps.carrier.dial(req).await,
        };
        match dialled {
            Ok(TextLeg { events, commands }) => {
                self.leg_events = Some(events);
                self.leg_commands = Some(commands);
                None
            }
            Err(e @ CarrierError::Capacity(_)) if self.may_requeue => {
                tracing::info!(reason = %e, "carrier full; the call waits in the queue");
                self.requeue(e.to_string()).await
            }
            Err(e) => {
                self.brain.handle(Input::DialFailed { provider_response: e.to_string() }, now());
                None
            }
        }
    }

    /// Puts the call back in the queue; if that fails, it ends instead.
    async fn requeue(&mut self, reason: String) -> Option<Exit> {
        self.deps.metrics.calls_active.dec();
        match self.deps.store.set_status(&self.call.id, CallStatus::Queued, wall_ms()).await {
            Ok(_) => {
                self.deps.bus.publish(&self.call.id, CallEvent::Status { status: CallStatus::Queued });
                Some(Exit::Requeued(reason))
            }
            Err(e) => {
                // Cannot put it back: end it rather than leave it dialing.
                tracing::error!(error = %e, "cannot re-queue the call");
                self.deps.metrics.calls_active.inc();
                self.brain.handle(Input::DialFailed { provider_response: reason }, now());
                None
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

    async fn command(&mut self, cmd: TextCommand) {
        let releases = matches!(cmd, TextCommand::Cancel | TextCommand::HangUp);
        let sent = match &self.leg_commands {
            Some(tx) => tx.send(cmd).await.is_ok(),
            None => false,
        };
        if !sent && releases {
            // No leg to release: the release is complete.
            self.brain.handle(Input::LegEnded { end: LegEnd::Released, provider_response: None }, now());
        }
    }

    async fn finish(&mut self, end: CallEnd) {
        if let Some((_, task)) = self.thinking.take() {
            task.abort();
        }
        // The pipeline sends each turn's latency before the leg's end.
        while let Some(t) = self.turn_latencies.as_mut().and_then(|rx| rx.try_recv().ok()) {
            self.on_turn_latency(t);
        }
        let f = end.finish;
        let fin = FinishCall {
            call_id: self.call.id.clone(),
            status: f.status,
            reason: f.reason,
            side: f.side,
            outcome: Some(end.outcome),
            connected_ms: f.connected.as_millis() as i64,
            provider_response: end.provider_response,
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
