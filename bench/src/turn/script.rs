//! The callee's script, run against the fake leg: when to speak, what to
//! wait for, and what the wire showed of each turn.
//!
//! One turn of the fixed-latency run:
//! 1. `quiet` of line hiss;
//! 2. the answer (`对，是我，请说。`); the AI's reply starts: (a) is measured
//!    from the answer's last voiced frame to the reply's first frame;
//! 3. `backchannel_after` into the reply, a lone acknowledgement (嗯, 对
//!    or 好 in turn, each under 250 ms of voice): the AI must go on;
//! 4. `interrupt_after` into the reply (and at least a second after the
//!    acknowledgement), the interruption (`等一下，我有个问题`, over 250 ms):
//!    barge-in is measured from its first voiced frame to the AI's last
//!    frame;
//! 5. `settle` of hiss while the pipeline hears the interruption (the
//!    session does not answer it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout_at;

use super::audio::Utterance;
use super::leg::{Control, LegControl, Obs, Spoken};

/// What the wire showed of one turn.
#[derive(Debug, Clone, Default)]
pub struct TurnObs {
    /// The callee's answer.
    pub answer: Option<Spoken>,
    /// The first AI frame after it.
    pub first_ai: Option<Instant>,
    /// How long that frame's clip waited for the 20 ms clock.
    pub clock_wait: Option<Duration>,
    /// The acknowledgement said over the AI.
    pub backchannel: Option<(String, Spoken)>,
    /// The AI stopped after the acknowledgement.
    pub false_stop: bool,
    /// The interruption.
    pub interrupt: Option<Spoken>,
    /// The AI's last frame after the interruption began.
    pub ai_stopped: Option<Instant>,
    /// Whether a `StopSaying` reached the leg for it.
    pub stop_received: Option<Instant>,
    /// Something went other than planned.
    pub problem: Option<String>,
}

/// Reads the leg's observations in order, with deadlines.
pub struct Watch {
    control: mpsc::UnboundedSender<Control>,
    obs: mpsc::UnboundedReceiver<Obs>,
}

impl Watch {
    /// Watches `leg`.
    pub fn new(leg: LegControl) -> Self {
        Watch { control: leg.control, obs: leg.obs }
    }

    /// The next observation before `deadline`.
    pub async fn next(&mut self, deadline: Instant) -> Option<Obs> {
        timeout_at(tokio::time::Instant::from_std(deadline), self.obs.recv()).await.ok().flatten()
    }

    /// Observations until `deadline`.
    pub async fn until(&mut self, deadline: Instant) -> Vec<Obs> {
        let mut seen = Vec::new();
        while let Some(o) = self.next(deadline).await {
            seen.push(o);
        }
        seen
    }

    /// Starts saying `utt`; the receiver answers when it has gone out.
    pub fn speak(&self, utt: &Arc<Utterance>) -> oneshot::Receiver<Spoken> {
        let (tx, rx) = oneshot::channel();
        let _ = self.control.send(Control::Speak(utt.clone(), tx));
        rx
    }

    /// Says `utt` and waits until it has gone out (observations stay queued).
    pub async fn say(&self, utt: &Arc<Utterance>) -> Option<Spoken> {
        self.speak(utt).await.ok()
    }

    /// Hangs up.
    pub fn end(&self) {
        let _ = self.control.send(Control::End);
    }
}

/// The fixed-latency run's script.
pub struct FixedScript {
    /// Turns to run.
    pub turns: usize,
    /// Hiss before each answer.
    pub quiet: Duration,
    /// Into the reply before the acknowledgement.
    pub backchannel_after: Duration,
    /// Into the reply before the interruption.
    pub interrupt_after: Duration,
    /// After the interruption, before the next turn.
    pub settle: Duration,
    /// The answer.
    pub answer: Arc<Utterance>,
    /// Acknowledgements, used in turn.
    pub backchannels: Vec<Arc<Utterance>>,
    /// The interruption.
    pub interrupt: Arc<Utterance>,
}

impl FixedScript {
    /// Runs every turn; `expect` tells the session to answer the next `Heard`.
    pub async fn run(&self, watch: &mut Watch, expect: &AtomicBool) -> Vec<TurnObs> {
        let mut turns = Vec::with_capacity(self.turns);
        for i in 0..self.turns {
            let obs = self.turn(i, watch, expect).await;
            if let Some(p) = &obs.problem {
                eprintln!("turn {}: {p}", i + 1);
            }
            turns.push(obs);
        }
        turns
    }

    async fn turn(&self, i: usize, watch: &mut Watch, expect: &AtomicBool) -> TurnObs {
        let mut t = TurnObs::default();
        let stray = watch.until(Instant::now() + self.quiet).await;
        if !stray.is_empty() {
            t.problem = Some(format!("AI audio while the callee was quiet: {stray:?}"));
        }
        expect.store(true, Ordering::SeqCst);
        let Some(answer) = watch.say(&self.answer).await else { return problem(t, "the leg ended") };
        t.answer = Some(answer);
        // The reply's first frame.
        let (first_ai, waited) = loop {
            match watch.next(answer.last_voiced + Duration::from_secs(5)).await {
                Some(Obs::AiStarted { at, waited }) if at > answer.last_voiced => break (at, waited),
                Some(o) => t.problem = Some(format!("AI audio during the answer: {o:?}")),
                None => return problem(t, "no reply within 5 s of the answer"),
            }
        };
        t.first_ai = Some(first_ai);
        t.clock_wait = Some(waited);
        // The acknowledgement, a while into the reply.
        if let Some(o) = watch.until(first_ai + self.backchannel_after).await.first() {
            return problem(t, &format!("the reply stopped before the acknowledgement: {o:?}"));
        }
        let bc = &self.backchannels[i % self.backchannels.len()];
        let Some(bc_spoken) = watch.say(bc).await else { return problem(t, "the leg ended") };
        t.backchannel = Some((bc.text.clone(), bc_spoken));
        let deadline = (first_ai + self.interrupt_after).max(bc_spoken.last_voiced + Duration::from_secs(1));
        if let Some(o) = watch.until(deadline).await.first() {
            t.false_stop = matches!(o, Obs::AiEnded { stop: Some(_), .. });
            if !t.false_stop {
                return problem(t, &format!("the reply ended on its own before the interruption: {o:?}"));
            }
            // The AI is silent: no barge-in to measure this turn.
            let _ = watch.until(Instant::now() + self.settle).await;
            return t;
        }
        // The interruption, over the AI.
        let spoken = watch.speak(&self.interrupt);
        let deadline = Instant::now() + self.interrupt.duration() + Duration::from_secs(3);
        match watch.next(deadline).await {
            Some(Obs::AiEnded { last, stop }) => {
                t.ai_stopped = Some(last);
                t.stop_received = stop;
            }
            Some(o) => t.problem = Some(format!("unexpected {o:?} during the interruption")),
            None => t.problem = Some("the AI did not stop for the interruption".into()),
        }
        let Ok(it) = spoken.await else { return problem(t, "the leg ended") };
        t.interrupt = Some(it);
        if t.ai_stopped.is_some_and(|s| s < it.first_voiced) {
            t.problem = Some("the AI stopped before the interruption was voiced".into());
        }
        let stray = watch.until(Instant::now() + self.settle).await;
        if !stray.is_empty() && t.problem.is_none() {
            t.problem = Some(format!("AI audio after the interruption: {stray:?}"));
        }
        t
    }
}

fn problem(mut t: TurnObs, what: &str) -> TurnObs {
    t.problem = Some(what.to_owned());
    t
}

/// The offline run's script for one call: the AI opens, the callee answers
/// once it has finished, and the turn is measured to the AI's next frame.
pub async fn offline_call(watch: &mut Watch, expect: &AtomicBool, answer: &Arc<Utterance>, pause: Duration) -> TurnObs {
    let mut t = TurnObs::default();
    let start = Instant::now();
    match watch.next(start + Duration::from_secs(15)).await {
        Some(Obs::AiStarted { .. }) => {}
        other => return problem(t, &format!("the AI did not open the call: {other:?}")),
    }
    match watch.next(Instant::now() + Duration::from_secs(30)).await {
        Some(Obs::AiEnded { .. }) => {}
        other => return problem(t, &format!("the opening line did not end: {other:?}")),
    }
    let _ = watch.until(Instant::now() + pause).await;
    expect.store(true, Ordering::SeqCst);
    let Some(spoken) = watch.say(answer).await else { return problem(t, "the leg ended") };
    t.answer = Some(spoken);
    loop {
        match watch.next(spoken.last_voiced + Duration::from_secs(15)).await {
            Some(Obs::AiStarted { at, waited }) if at > spoken.last_voiced => {
                t.first_ai = Some(at);
                t.clock_wait = Some(waited);
                break;
            }
            Some(_) => {}
            None => return problem(t, "no reply within 15 s of the answer"),
        }
    }
    // Let the reply play a little, then hang up.
    let _ = watch.until(Instant::now() + Duration::from_millis(500)).await;
    t
}
