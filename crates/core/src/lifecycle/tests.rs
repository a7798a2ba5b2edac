//! Whole calls in virtual time: a clock that jumps from timeout to timeout.

use super::*;

struct Clock {
    lc: CallLifecycle,
    now: Instant,
    t0: Instant,
    log: Vec<(u64, Action)>,
}

impl Clock {
    fn new(cfg: LifecycleConfig) -> Self {
        let now = Instant::now();
        Clock { lc: CallLifecycle::new(cfg), now, t0: now, log: vec![] }
    }
    fn secs(&self) -> u64 {
        (self.now - self.t0).as_secs()
    }
    fn drain(&mut self) {
        while let Some(a) = self.lc.poll_action() {
            let s = self.secs();
            self.log.push((s, a));
        }
    }
    fn input(&mut self, i: Input) {
        self.lc.handle(i, self.now);
        self.drain();
    }
    fn at(&mut self, secs: u64, i: Input) {
        self.advance_to(secs);
        self.input(i);
    }
    /// Runs timers up to `secs`, answering reservations with `ok`.
    fn advance_to(&mut self, secs: u64) {
        let target = self.t0 + Duration::from_secs(secs);
        while let Some(t) = self.lc.poll_timeout() {
            if t > target {
                break;
            }
            self.now = t.max(self.now);
            self.lc.handle_timeout(self.now);
            self.drain();
        }
        self.now = target.max(self.now);
    }
    fn finish(&self) -> Finish {
        self.log.iter().find_map(|(_, a)| if let Action::Finish(f) = a { Some(*f) } else { None }).expect("finished")
    }
    fn has(&self, a: Action) -> Option<u64> {
        self.log.iter().find(|(_, x)| *x == a).map(|(s, _)| *s)
    }
}

fn answered_call() -> Clock {
    let mut c = Clock::new(LifecycleConfig::default());
    c.input(Input::Start);
    c.at(2, Input::Ringing);
    c.at(5, Input::Answered);
    c
}

#[test]
fn answered_then_callee_hangs_up_is_completed_with_connected_time() {
    let mut c = answered_call();
    for s in [7, 12, 17, 22, 27, 32, 37, 42] {
        c.at(s, Input::Activity);
    }
    c.at(45, Input::LegEnded(LegEnd::RemoteHangup));
    let f = c.finish();
    assert_eq!((f.status, f.reason, f.side), (CallStatus::Completed, EndReason::CalleeHangup, HangupSide::Callee));
    assert_eq!(f.connected, Duration::from_secs(40));
    let statuses: Vec<_> = c.log.iter().filter_map(|(_, a)| if let Action::Status(s) = a { Some(*s) } else { None }).collect();
    assert_eq!(statuses, [CallStatus::Dialing, CallStatus::Ringing, CallStatus::InProgress, CallStatus::Completed]);
}

#[test]
fn ringing_past_the_no_answer_timer_is_cancelled_and_ends_no_answer() {
    let mut c = Clock::new(LifecycleConfig::default());
    c.input(Input::Start);
    c.at(1, Input::Ringing);
    c.advance_to(29);
    assert_eq!(c.has(Action::Cancel), None);
    c.advance_to(30);
    assert_eq!(c.has(Action::Cancel), Some(30));
    c.at(30, Input::LegEnded(LegEnd::Released));
    let f = c.finish();
    assert_eq!((f.status, f.reason, f.connected), (CallStatus::NoAnswer, EndReason::NoAnswerTimeout, Duration::ZERO));
}

#[test]
fn a_network_that_never_confirms_the_cancel_cannot_hold_the_call() {
    let mut c = Clock::new(LifecycleConfig::default());
    c.input(Input::Start);
    c.advance_to(60);
    let f = c.finish();
    assert_eq!(f.status, CallStatus::NoAnswer);
    assert_eq!(c.log.last().unwrap().0, 35, "released 5 s after the cancel");
}

#[test]
fn busy_declined_and_network_failures_map_to_their_statuses() {
    for (end, status) in [
        (LegEnd::Busy, CallStatus::Busy),
        (LegEnd::Declined, CallStatus::Declined),
        (LegEnd::NoAnswer, CallStatus::NoAnswer),
        (LegEnd::Failed, CallStatus::Failed),
    ] {
        let mut c = Clock::new(LifecycleConfig::default());
        c.input(Input::Start);
        c.at(3, Input::LegEnded(end));
        assert_eq!(c.finish().status, status, "{end:?}");
        assert_eq!(c.finish().connected, Duration::ZERO);
    }
}

#[test]
fn api_cancel_before_answer_is_cancelled_and_while_queued_never_dials() {
    let mut c = Clock::new(LifecycleConfig::default());
    c.input(Input::Hangup { side: HangupSide::Api, reason: EndReason::ApiCancel });
    assert_eq!(c.finish().status, CallStatus::Cancelled);
    assert_eq!(c.has(Action::Dial), None);

    let mut c = Clock::new(LifecycleConfig::default());
    c.input(Input::Start);
    c.at(4, Input::Hangup { side: HangupSide::Api, reason: EndReason::ApiCancel });
    assert_eq!(c.has(Action::Cancel), Some(4));
    c.at(4, Input::LegEnded(LegEnd::Released));
    assert_eq!(c.finish().status, CallStatus::Cancelled);
}

#[test]
fn a_late_answer_during_cancel_is_hung_up_and_not_billed() {
    let mut c = Clock::new(LifecycleConfig::default());
    c.input(Input::Start);
    c.advance_to(30);
    c.at(30, Input::Answered);
    assert_eq!(c.has(Action::HangUp), Some(30));
    c.at(31, Input::LegEnded(LegEnd::Released));
    assert_eq!(c.finish().connected, Duration::ZERO);
    assert_eq!(c.finish().status, CallStatus::NoAnswer);
}

#[test]
fn silence_nudges_then_ends_the_call() {
    let mut c = answered_call();
    c.advance_to(5 + 8);
    assert_eq!(c.has(Action::NudgeSilence), Some(13));
    c.advance_to(5 + 16);
    assert_eq!(c.log.iter().filter(|(_, a)| *a == Action::NudgeSilence).count(), 2);
    c.advance_to(5 + 30);
    assert_eq!(c.has(Action::HangUp), Some(35));
    c.at(35, Input::LegEnded(LegEnd::Released));
    let f = c.finish();
    assert_eq!((f.reason, f.side, f.connected), (EndReason::SilenceTimeout, HangupSide::Platform, Duration::from_secs(30)));
}

#[test]
fn max_duration_asks_for_a_goodbye_then_hangs_up_after_the_grace() {
    let cfg = LifecycleConfig { max_duration: Duration::from_secs(50), silence_timeout: Duration::from_secs(1000), silence_prompt: Duration::from_secs(1000), ..Default::default() };
    let mut c = Clock::new(cfg);
    c.input(Input::Start);
    c.at(1, Input::Answered);
    c.advance_to(51);
    assert_eq!(c.has(Action::WindDown(EndReason::MaxDuration)), Some(51));
    c.advance_to(63);
    assert_eq!(c.has(Action::HangUp), Some(63));
    c.at(63, Input::LegEnded(LegEnd::Released));
    assert_eq!(c.finish().reason, EndReason::MaxDuration);
}

#[test]
fn the_agent_hanging_up_after_its_goodbye_ends_completed() {
    let mut c = answered_call();
    c.at(20, Input::Hangup { side: HangupSide::Agent, reason: EndReason::AgentHangup });
    c.at(20, Input::LegEnded(LegEnd::Released));
    let f = c.finish();
    assert_eq!((f.status, f.side, f.connected), (CallStatus::Completed, HangupSide::Agent, Duration::from_secs(15)));
}

#[test]
fn each_next_minute_is_reserved_ahead_and_a_refusal_ends_the_call_inside_the_paid_time() {
    let cfg = LifecycleConfig { silence_timeout: Duration::from_secs(10_000), silence_prompt: Duration::from_secs(10_000), ..Default::default() };
    let mut c = Clock::new(cfg);
    c.input(Input::Start);
    c.at(0, Input::Answered);
    c.advance_to(40);
    assert_eq!(c.has(Action::ReserveMinute(2)), Some(40), "20 s before minute 1 ends");
    c.input(Input::MinuteReserved { ok: true });
    c.advance_to(100);
    assert_eq!(c.has(Action::ReserveMinute(3)), Some(100));
    c.input(Input::MinuteReserved { ok: false });
    assert_eq!(c.has(Action::WindDown(EndReason::BalanceExhausted)), Some(100));
    c.advance_to(118);
    assert_eq!(c.has(Action::HangUp), Some(112), "goodbye grace of 12 s fits before 118 s");
    c.at(119, Input::LegEnded(LegEnd::Released));
    let f = c.finish();
    assert_eq!((f.reason, f.minutes_reserved), (EndReason::BalanceExhausted, 2));
    assert!(f.connected <= Duration::from_secs(120));
}

#[test]
fn a_failed_leg_mid_call_is_failed_but_keeps_its_connected_time() {
    let mut c = answered_call();
    c.at(9, Input::LegEnded(LegEnd::Failed));
    let f = c.finish();
    assert_eq!((f.status, f.connected), (CallStatus::Failed, Duration::from_secs(4)));
}
