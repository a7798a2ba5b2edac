//! One outbound call: a tokio task that drives the INVITE and the dialog,
//! the call's media, and the session's commands, and maps them onto the
//! leg contract (`crate` docs).
//!
//! Every wait is bounded here, not left to SIP's 32 s Timer B: the trunk's
//! first response (`invite_timeout`), the CANCEL's final response, the BYE.
//!
//! The far end's requests inside the dialog (re-INVITE, UPDATE, INFO, ...)
//! are answered in `leg/in_dialog.rs`; what the leg carries (lines of
//! text, or sound) is `leg/level.rs`, and a text leg's lines are played in
//! `leg/playback.rs`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rsipstack::dialog::dialog::{DialogState, TerminatedReason};
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::dialog::DialogId;
use rsipstack::rsip::Response;
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::time::{sleep_until, Instant};
use waihu_core::lifecycle::LegEnd;

use super::trunk::Trunk;
use super::mapping::{final_response_end, provider_response};
use super::media::{CallMedia, MediaEvent};
use super::probe::Probe;
use super::sdp::{parse_remote, LocalSdp, RemoteMedia, OFFERED_DTMF_PT};
use super::numbering;
use crate::lines::LinePlayout;
use crate::{AudioCommand, AudioEvent, AudioLeg, CarrierError, DialRequest, Signal, TextCommand, TextEvent, TextLeg};

mod in_dialog;
mod level;
mod playback;

/// After our CANCEL, how long the trunk has to send its final response.
const CANCEL_GRACE: Duration = Duration::from_secs(4);
/// How long our BYE may take before the leg ends anyway.
const BYE_GRACE: Duration = Duration::from_secs(3);
/// Silence from the trunk after which we check whether it is there at all.
const PROBE_AFTER: Duration = Duration::from_millis(1000);

type InviteResult = rsipstack::Result<(DialogId, Option<Response>)>;

/// Places a call whose leg carries lines of text.
pub(crate) async fn dial_text(trunk: Arc<Trunk>, req: DialRequest) -> Result<TextLeg, CarrierError> {
    let (events_tx, events) = mpsc::channel(64);
    let (commands, commands_rx) = mpsc::channel(32);
    let level = Level::Text { events: events_tx, lines: LinePlayout::default(), tone_samples: 0 };
    dial(trunk, req, level, Commands::Text(commands_rx)).await?;
    Ok(TextLeg { events, commands })
}

/// Places a call whose leg carries sound.
pub(crate) async fn dial_audio(trunk: Arc<Trunk>, req: DialRequest) -> Result<AudioLeg, CarrierError> {
    let (events_tx, events) = mpsc::channel(64);
    let (commands, commands_rx) = mpsc::channel(32);
    let level = Level::Audio { events: events_tx, clips_owed: Vec::new(), frames_dropped: 0 };
    dial(trunk, req, level, Commands::Audio(commands_rx)).await?;
    Ok(AudioLeg { events, commands })
}

/// Places the call; the leg's task takes it from there.
async fn dial(trunk: Arc<Trunk>, req: DialRequest, level: Level, commands: Commands) -> Result<(), CarrierError> {
    let cfg = &trunk.cfg;
    let permit = trunk
        .slots
        .try_take()
        .ok_or_else(|| CarrierError::Capacity(format!("all {} SIP call slots are in use (max_concurrent_calls)", cfg.max_concurrent_calls)))?;
    if !trunk.rate.acquire(Duration::from_secs(cfg.max_dial_wait_seconds)).await {
        return Err(CarrierError::Capacity(format!(
            "max_calls_per_second ({}) toward the trunk: no dial slot within {} s",
            cfg.max_calls_per_second, cfg.max_dial_wait_seconds
        )));
    }
    let audio = matches!(level, Level::Audio { .. });
    let media = CallMedia::open(&trunk, audio).await.map_err(CarrierError::Capacity)?;
    let local_sdp = LocalSdp {
        ip: trunk.advertised_ip,
        port: media.local_port(),
        session_id: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(1),
        version: 1,
        codecs: cfg.codecs.clone(),
        dtmf_pt: Some(OFFERED_DTMF_PT),
    };
    let user = numbering::request_user(&cfg.number_prefix, &req.to);
    let uris = (|| Ok::<_, String>((trunk.trunk_uri(&user)?, trunk.caller_uri()?, trunk.contact_uri()?)))();
    let (callee, caller, contact) = uris.map_err(CarrierError::Unavailable)?;
    let option = InviteOption {
        caller,
        callee,
        contact,
        content_type: Some("application/sdp".into()),
        offer: Some(local_sdp.render().into_bytes()),
        credential: trunk.credential.clone(),
        destination: Some(trunk.destination.clone()),
        ..Default::default()
    };
    let (state_tx, states) = trunk.dialogs.new_dialog_state_channel();
    let (dialog, invite) = trunk.dialogs.do_invite_async(option, state_tx).map_err(|e| CarrierError::Unavailable(format!("cannot send INVITE: {e}")))?;
    tracing::info!(call_id = %req.call_id, to = %req.to.redacted(), rtp_port = local_sdp.port, "INVITE sent to the SIP trunk");

    let now = Instant::now();
    let task = LegTask {
        invite_deadline: now + Duration::from_secs(cfg.invite_timeout_seconds),
        probe_at: (cfg.transport == super::SipTransport::Udp).then_some(now + PROBE_AFTER),
        trunk,
        call_id: req.call_id,
        dialog,
        media,
        local_sdp,
        level,
        answered: false,
        responded: false,
        rang: false,
        cancel_deadline: None,
        confirmed: None,
        remote: None,
        no_media_at: None,
        probe: None,
        _permit: permit,
    };
    tokio::spawn(task.run(commands, states, invite));
    Ok(())
}

/// The leg stops: `Ended` was sent, or nobody listens any more.
struct Stop;

type Step = Result<(), Stop>;

struct LegTask {
    trunk: Arc<Trunk>,
    call_id: String,
    dialog: InviteDialog,
    media: CallMedia,
    /// The SDP we sent last (the offer, then what answered re-INVITEs).
    local_sdp: LocalSdp,
    /// What the leg carries, and the channel to the session.
    level: Level,
    answered: bool,
    /// The trunk sent something (a provisional or a final response).
    responded: bool,
    rang: bool,
    invite_deadline: Instant,
    /// Set once we sent CANCEL: the final response is awaited until then.
    cancel_deadline: Option<Instant>,
    probe_at: Option<Instant>,
    probe: Option<Probe>,
    confirmed: Option<DialogId>,
    remote: Option<RemoteMedia>,
    /// An answered call with no RTP yet ends then.
    no_media_at: Option<Instant>,
    _permit: OwnedSemaphorePermit,
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(d) => sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl LegTask {
    async fn run(
        mut self,
        mut commands: Commands,
        mut states: mpsc::UnboundedReceiver<DialogState>,
        mut invite: tokio::task::JoinHandle<InviteResult>,
    ) {
        let mut invite_done = false;
        let mut states_open = true;
        loop {
            let deadline = [(!self.responded).then_some(self.invite_deadline), self.cancel_deadline, self.probe_at.filter(|_| !self.responded), self.no_media_at]
                .into_iter()
                .flatten()
                .min();
            let step = tokio::select! {
                biased;
                state = states.recv(), if states_open => match state {
                    Some(state) => self.on_state(state).await,
                    None => { states_open = false; Ok(()) }
                },
                result = &mut invite, if !invite_done => {
                    invite_done = true;
                    match result {
                        Ok(r) => self.on_invite_result(r).await,
                        Err(e) => self.end(LegEnd::Failed, format!("INVITE task failed: {e}")).await,
                    }
                }
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command).await,
                    None => Err(Stop),
                },
                event = self.media.next_event() => self.on_media(event).await,
                refused = async { match self.probe.as_mut() { Some(p) => p.refused().await, None => std::future::pending().await } } => {
                    self.probe = None;
                    if refused && !self.responded {
                        let why = format!("trunk unreachable: ICMP port unreachable from {}", self.trunk.trunk_addr);
                        self.end(LegEnd::Failed, why).await
                    } else { Ok(()) }
                }
                () = sleep_until_some(deadline) => self.on_timer().await,
            };
            if step.is_err() {
                break;
            }
        }
        self.cleanup().await;
    }

    async fn on_state(&mut self, state: DialogState) -> Step {
        match state {
            DialogState::Trying(_) => {
                self.responded = true;
                Ok(())
            }
            DialogState::Early(_, resp) => {
                self.responded = true;
                if resp.body.iter().any(|b| !b.is_ascii_whitespace()) {
                    // Early media (ringback, announcements): heard, not an answer.
                    if let Ok(remote) = parse_remote(&resp.body, &self.trunk.cfg.codecs) {
                        self.media.set_remote(&remote);
                        self.remote = Some(remote);
                    }
                }
                if !self.rang && (180..=183).contains(&resp.status_code.code()) {
                    self.rang = true;
                    return self.signal(Signal::Ringing).await;
                }
                Ok(())
            }
            DialogState::Confirmed(id, resp) => self.on_answer(id, resp).await,
            DialogState::Updated(..)
            | DialogState::Info(..)
            | DialogState::Options(..)
            | DialogState::Notify(..)
            | DialogState::Message(..)
            | DialogState::Publish(..)
            | DialogState::Refer(..) => self.on_in_dialog_request(state).await,
            DialogState::Terminated(_, reason) if self.answered => {
                let (end, why) = match reason {
                    TerminatedReason::UacBye => (LegEnd::Released, "BYE".to_owned()),
                    TerminatedReason::Timeout => (LegEnd::Failed, "SIP dialog timed out".to_owned()),
                    _ => (LegEnd::RemoteHangup, "BYE from callee".to_owned()),
                };
                self.end(end, why).await
            }
            // Before the answer the INVITE's final response decides (it may come
            // before or after this state).
            DialogState::Calling(_) | DialogState::WaitAck(_, _) | DialogState::Terminated(_, _) => Ok(()),
        }
    }

    async fn on_answer(&mut self, id: DialogId, resp: Response) -> Step {
        self.responded = true;
        if self.answered {
            return Ok(());
        }
        self.confirmed = Some(id);
        let remote = match parse_remote(&resp.body, &self.trunk.cfg.codecs) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(call_id = %self.call_id, error = %e, "unusable SDP in the answer; hanging up");
                self.bye().await;
                return self.end(LegEnd::Failed, format!("SIP 200 OK with unusable SDP: {e}")).await;
            }
        };
        self.media.set_remote(&remote);
        self.remote = Some(remote);
        self.answered = true;
        self.cancel_deadline = None;
        if !self.media.has_received() {
            // The media's own no-media report may have fired (and been ignored)
            // during early media: time the answered call's first packet here.
            self.no_media_at = Some(Instant::now() + Duration::from_secs(self.trunk.cfg.no_media_timeout_seconds));
        }
        if let Level::Text { lines, .. } = &mut self.level {
            lines.answered();
        }
        self.signal(Signal::Answered).await
    }

    async fn on_invite_result(&mut self, result: InviteResult) -> Step {
        let resp = match result {
            Ok((_, Some(resp))) => resp,
            Ok((_, None)) if self.cancel_deadline.is_some() => {
                return self.end(LegEnd::Released, "CANCEL sent; the trunk sent no final response".into()).await
            }
            Ok((_, None)) => return self.end(LegEnd::Failed, "no final response from trunk".into()).await,
            Err(e) => return self.end(LegEnd::Failed, format!("trunk unreachable: {e}")).await,
        };
        let code = resp.status_code.code();
        if (200..300).contains(&code) && self.cancel_deadline.is_some() {
            // The answer crossed our CANCEL: the stack ACKs it and sends BYE.
            return self.end(LegEnd::Released, "SIP 200 OK after CANCEL; ended with BYE".into()).await;
        }
        if (200..300).contains(&code) {
            let id = self.dialog.id();
            return self.on_answer(id, resp).await;
        }
        self.responded = true;
        let phrase = resp.wire_reason.clone().unwrap_or_else(|| resp.status_code.text().to_owned());
        let mut why = provider_response(code, &phrase);
        if code == 401 || code == 407 {
            why.push_str(if self.trunk.credential.is_some() { " (authentication rejected)" } else { " (no credentials configured)" });
        }
        self.end(final_response_end(code, self.cancel_deadline.is_some()), why).await
    }

    async fn on_timer(&mut self) -> Step {
        let now = Instant::now();
        if !self.responded && now >= self.invite_deadline {
            // Nothing at all from the trunk. The stack CANCELs if it ever answers.
            let _ = self.dialog.cancel().await;
            let secs = self.trunk.cfg.invite_timeout_seconds;
            return self.end(LegEnd::Failed, format!("no response from trunk within {secs} s")).await;
        }
        if self.cancel_deadline.is_some_and(|d| now >= d) {
            return self.end(LegEnd::Released, "CANCEL sent; the trunk sent no final response".into()).await;
        }
        if self.no_media_at.is_some_and(|d| now >= d) {
            self.no_media_at = None;
            return self.on_media(MediaEvent::NoMedia).await;
        }
        if self.probe_at.is_some_and(|d| now >= d) {
            self.probe_at = None;
            self.probe = Probe::start(self.trunk.trunk_addr).await;
        }
        Ok(())
    }

    async fn on_command(&mut self, command: Command) -> Step {
        if command.releases() {
            return self.release().await;
        }
        match command {
            Command::Text(command) => self.on_text_command(command).await,
            Command::Audio(AudioCommand::Play { id, pcm }) => self.on_play(id, pcm).await,
            Command::Audio(AudioCommand::StopPlaying) => {
                self.on_stop_playing();
                Ok(())
            }
            Command::Audio(AudioCommand::Cancel | AudioCommand::HangUp) => Ok(()),
        }
    }

    /// The session wants the call over: BYE once answered, CANCEL before.
    async fn release(&mut self) -> Step {
        if self.answered {
            self.bye().await;
            return self.end(LegEnd::Released, "BYE".into()).await;
        }
        if self.cancel_deadline.is_some() {
            return Ok(());
        }
        if !self.responded {
            // CANCEL must wait for a provisional response (RFC 3261 §9.1);
            // the stack sends it if one comes. The call is over for us now.
            let _ = self.dialog.cancel().await;
            return self.end(LegEnd::Released, "cancelled before the trunk responded".into()).await;
        }
        let dialog = self.dialog.clone();
        let call_id = self.call_id.clone();
        tokio::spawn(async move {
            if let Err(e) = dialog.cancel().await {
                tracing::debug!(%call_id, error = %e, "CANCEL failed");
            }
        });
        self.cancel_deadline = Some(Instant::now() + CANCEL_GRACE);
        Ok(())
    }

    async fn on_media(&mut self, event: MediaEvent) -> Step {
        match event {
            MediaEvent::PlaybackDone { samples_played } => self.on_playback_done(samples_played).await,
            MediaEvent::FirstPacket => {
                self.no_media_at = None;
                Ok(())
            }
            MediaEvent::Dtmf(key) => self.on_key(key).await,
            MediaEvent::NoMedia if self.answered => {
                let secs = self.trunk.cfg.no_media_timeout_seconds;
                tracing::warn!(call_id = %self.call_id, secs, "no RTP from the far end; hanging up");
                self.bye().await;
                self.end(LegEnd::Failed, format!("no RTP received for {secs} s")).await
            }
            MediaEvent::NoMedia => Ok(()),
            MediaEvent::Audio { pcm, at } => {
                self.offer_audio(pcm, at.into_std());
                Ok(())
            }
            MediaEvent::ClipStarted { id, at } => self.emit_audio(crate::AudioEvent::PlayStarted { id, at: at.into_std() }).await,
            MediaEvent::ClipDone { id, samples_played, stopped } => self.on_clip_done(id, samples_played, stopped).await,
        }
    }

    async fn bye(&self) {
        match tokio::time::timeout(BYE_GRACE, self.dialog.bye()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(call_id = %self.call_id, error = %e, "BYE failed"),
            Err(_) => tracing::debug!(call_id = %self.call_id, "BYE unanswered"),
        }
    }

    /// Answers every line or clip still owed, reports media, then `Ended`.
    async fn end(&mut self, end: LegEnd, provider_response: String) -> Step {
        self.answer_owed().await?;
        let report = self.media.finish().await;
        tracing::info!(call_id = %self.call_id, ?end, %provider_response, sent = report.packets_sent, received = report.packets_received, "SIP leg ended");
        self.signal(Signal::Media(report)).await?;
        self.signal(Signal::Ended { end, provider_response }).await?;
        Err(Stop)
    }

    /// Whatever way the leg stops: no dialog stays registered, no media runs.
    async fn cleanup(&mut self) {
        if self.answered && !self.dialog.state().is_terminated() {
            // The session went away mid-call: do not leave the callee on the line.
            self.bye().await;
        }
        if let Some(id) = self.confirmed.take() {
            self.trunk.dialogs.remove_dialog(&id);
        }
        self.trunk.dialogs.remove_dialog(&self.dialog.id());
        self.media.finish().await;
    }
}

/// The level's own state and its channel to the session.
pub(super) enum Level {
    Text {
        events: mpsc::Sender<TextEvent>,
        lines: LinePlayout,
        /// Samples of placeholder audio of the line playing.
        tone_samples: usize,
    },
    Audio {
        events: mpsc::Sender<AudioEvent>,
        /// Clips sent to the media and not yet reported done.
        clips_owed: Vec<u64>,
        /// Frames the voice pipeline was too slow to take.
        frames_dropped: u64,
    },
}

/// The session's commands, at the leg's level.
pub(super) enum Commands {
    Text(mpsc::Receiver<TextCommand>),
    Audio(mpsc::Receiver<AudioCommand>),
}

pub(super) enum Command {
    Text(TextCommand),
    Audio(AudioCommand),
}

impl Commands {
    pub(super) async fn recv(&mut self) -> Option<Command> {
        match self {
            Commands::Text(rx) => rx.recv().await.map(Command::Text),
            Commands::Audio(rx) => rx.recv().await.map(Command::Audio),
        }
    }
}

impl Command {
    /// Whether the session wants the call released (`Cancel` or `HangUp`).
    pub(super) fn releases(&self) -> bool {
        matches!(
            self,
            Command::Text(TextCommand::Cancel | TextCommand::HangUp) | Command::Audio(AudioCommand::Cancel | AudioCommand::HangUp)
        )
    }
}
