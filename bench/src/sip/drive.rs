//! One benchmark call through the carrier's public contract: `Carrier::dial`,
//! then the leg's events and commands. After the answer it keeps two lines
//! queued (`TextCommand::Say`), so the leg's placeholder voice plays without
//! a break; it hangs up when told to (or after a fixed hold) and reads the
//! leg to its `Ended`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use waihu_carrier::sip::SipCarrier;
use waihu_carrier::{Carrier, DialRequest, MediaReport, Signal, TextCommand, TextEvent};
use waihu_core::lifecycle::LegEnd;
use waihu_core::PhoneNumber;

/// 18 characters: 4 s of placeholder voice at the default 4.5 characters/s.
const LINE: &str = "一二三四五六七八九十一二三四五六七八";

/// Shared counters, read by the benchmark while calls run.
#[derive(Debug, Default)]
pub struct Live {
    /// Calls answered and not yet ended.
    pub up: AtomicUsize,
    /// Calls answered so far.
    pub answered: AtomicUsize,
    /// Calls that ended (or never started) without being answered.
    pub unanswered: AtomicUsize,
}

/// How the call is driven.
#[derive(Debug, Clone)]
pub struct Script {
    /// Keep lines playing after the answer (`false`: the media engine sends
    /// G.711 silence, as it does between lines).
    pub say: bool,
    /// Hang up this long after the answer; `None`: when `hangup` turns true.
    pub hold: Option<Duration>,
    /// Run the voice pipeline on the call (an audio leg: VAD on every frame,
    /// lines synthesised and paced as clips).
    pub voice: Option<Arc<waihu_voice::VoiceEngines>>,
}

/// What happened to one call.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `dial` refused the call.
    pub dial_error: Option<String>,
    /// From calling `dial` to the answer.
    pub setup: Option<Duration>,
    /// When the call ended (its `Ended` event).
    pub ended_at: Option<Instant>,
    /// When we sent `HangUp`.
    pub hung_up_at: Option<Instant>,
    /// How it ended and the carrier's words.
    pub end: Option<(LegEnd, String)>,
    /// The leg's media counters.
    pub report: Option<MediaReport>,
}

impl Outcome {
    /// Whether the call ended before we hung up (a failure for the benchmark).
    pub fn ended_early(&self) -> bool {
        match (self.ended_at, self.hung_up_at) {
            (Some(ended), Some(hung_up)) => ended < hung_up,
            _ => true,
        }
    }

    /// A short label for grouping failures.
    pub fn label(&self) -> String {
        if let Some(e) = &self.dial_error {
            return format!("dial refused: {e}");
        }
        match &self.end {
            Some((end, why)) => format!("{end:?}: {why}"),
            None => "no Ended event".into(),
        }
    }
}

/// Waits for each call's task until `deadline`, in order; a task still
/// running then (or one that panicked) is aborted and stands as `None`.
pub async fn join_until(tasks: Vec<JoinHandle<Outcome>>, deadline: Instant) -> Vec<Option<Outcome>> {
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        let abort = task.abort_handle();
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(out)) => outcomes.push(Some(out)),
            _ => {
                abort.abort();
                outcomes.push(None);
            }
        }
    }
    outcomes
}

/// Runs one call to its end.
pub async fn call(carrier: Arc<SipCarrier>, n: usize, script: Script, mut hangup: watch::Receiver<bool>, live: Arc<Live>) -> Outcome {
    let mut out = Outcome::default();
    let to = PhoneNumber::parse(&format!("138{:08}", n % 100_000_000)).expect("a mobile number");
    let start = Instant::now();
    let req = DialRequest { call_id: format!("bench-{n}"), to };
    let dialled = match &script.voice {
        Some(engines) => carrier
            .dial_audio(req)
            .await
            .map(|leg| waihu_voice::wrap(leg, engines.clone(), waihu_voice::CallVoice { speed: 50, volume: 50, ..Default::default() }).leg),
        None => carrier.dial(req).await,
    };
    let mut leg = match dialled {
        Ok(leg) => leg,
        Err(e) => {
            out.dial_error = Some(e.to_string());
            live.unanswered.fetch_add(1, Ordering::Relaxed);
            return out;
        }
    };
    let mut answered = false;
    let mut next_id = 0u64;
    let mut hold_until: Option<Instant> = None;
    loop {
        let at = hold_until;
        let hold = async move {
            match at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let told = out.hung_up_at.is_none() && script.hold.is_none();
        let stop = async {
            let _ = hangup.wait_for(|v| *v).await;
        };
        tokio::select! {
            event = leg.events.recv() => match event {
                None => break,
                Some(TextEvent::Signal(Signal::Answered)) => {
                    answered = true;
                    out.setup = Some(start.elapsed());
                    live.answered.fetch_add(1, Ordering::Relaxed);
                    live.up.fetch_add(1, Ordering::Relaxed);
                    hold_until = script.hold.map(|h| Instant::now() + h);
                    if script.say {
                        for _ in 0..2 {
                            next_id += 1;
                            let _ = leg.commands.send(TextCommand::Say { id: next_id, text: LINE.into() }).await;
                        }
                    }
                }
                Some(TextEvent::SayDone { .. }) if script.say && answered && out.hung_up_at.is_none() => {
                    next_id += 1;
                    let _ = leg.commands.send(TextCommand::Say { id: next_id, text: LINE.into() }).await;
                }
                Some(TextEvent::Signal(Signal::Media(report))) => out.report = Some(report),
                Some(TextEvent::Signal(Signal::Ended { end, provider_response })) => {
                    out.ended_at = Some(Instant::now());
                    out.end = Some((end, provider_response));
                    if answered {
                        live.up.fetch_sub(1, Ordering::Relaxed);
                    } else {
                        live.unanswered.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(_) => {}
            },
            () = hold, if out.hung_up_at.is_none() => {
                out.hung_up_at = Some(Instant::now());
                let _ = leg.commands.send(TextCommand::HangUp).await;
            }
            () = stop, if told => {
                out.hung_up_at = Some(Instant::now());
                let _ = leg.commands.send(TextCommand::HangUp).await;
            }
        }
    }
    out
}

/// When to dial: evenly spaced at `1/cps`, or Poisson arrivals at the same
/// mean rate. The media clock of a call starts at its answer, so even
/// spacing that divides 20 ms (50 or 100 calls/s) puts every stream's tick
/// in one or two milliseconds of the 20; Poisson arrivals spread them as
/// independent callers would.
#[derive(Debug)]
pub struct Arrivals {
    poisson: bool,
    mean_s: f64,
    rng: u64,
    next: Option<Instant>,
}

impl Arrivals {
    /// `poisson` or even spacing, at `cps` on average (fixed seed: runs repeat).
    pub fn new(cps: f64, poisson: bool) -> Arrivals {
        Arrivals { poisson, mean_s: 1.0 / cps, rng: 0x9E37_79B9_7F4A_7C15, next: None }
    }

    /// Waits for the next dial time.
    pub async fn wait(&mut self) {
        let now = Instant::now();
        let at = *self.next.get_or_insert(now);
        tokio::time::sleep_until(at).await;
        let gap = if self.poisson {
            // xorshift64*, then an exponential gap with the mean rate.
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let u = (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            -(1.0 - u).ln() * self.mean_s
        } else {
            self.mean_s
        };
        // From the schedule, not from now: the mean rate holds despite timer rounding.
        self.next = Some(at + Duration::from_secs_f64(gap));
    }
}

/// Failures grouped by label, most frequent first.
pub fn failures<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> Vec<(String, usize)> {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for o in outcomes {
        *by.entry(o.label()).or_default() += 1;
    }
    let mut v: Vec<_> = by.into_iter().collect();
    v.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    v
}
