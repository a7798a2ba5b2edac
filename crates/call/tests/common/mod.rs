//! A whole call around the brain, in virtual time: a text leg that plays
//! lines at speaking pace, a callee who speaks at given moments, and a
//! dialogue engine with a fixed latency. Nothing sleeps; the clock moves
//! only to the next thing due.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use waihu_agent::{offline, ChatRequest};
use waihu_call::{Action, BrainConfig, CallBrain, CallEnd, Input, TextCommand, ReplyEvent, ReplyId};
use waihu_core::lifecycle::LegEnd;
use waihu_core::{EndReason, HangupSide, Role};

pub(crate) const TASK: &str = "王经理让我通知张总明天上午9点开会";

/// How the dialogue engine answers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Engine {
    /// The offline rules engine.
    Offline,
    /// An engine that tells the content whatever was said (an LLM ignoring
    /// its prompt).
    Leaky,
    /// An engine that asks for a verification code.
    AsksForCode,
    /// An engine that fails every reply.
    Failing,
    /// An engine that never finishes a reply.
    Hung,
}

impl Engine {
    pub(crate) fn reply(self, req: &ChatRequest) -> Vec<ReplyEvent> {
        let text_events = |text: &str| offline::clauses(text).into_iter().map(ReplyEvent::Text).collect::<Vec<_>>();
        match self {
            Engine::Offline => {
                let line = offline::next_line(&req.task, &req.history);
                let mut events = text_events(&line.text);
                if let Some(outcome) = line.hang_up {
                    events.push(ReplyEvent::HangUp { outcome: Some(outcome) });
                }
                events.push(ReplyEvent::Done);
                events
            }
            Engine::Leaky => {
                let mut events = text_events("张总您好，王经理让我通知您，明天上午9点开会。您看可以吗？");
                events.push(ReplyEvent::Done);
                events
            }
            Engine::AsksForCode => {
                let mut events = text_events("您好，请把手机上的验证码告诉我。");
                events.push(ReplyEvent::Done);
                events
            }
            Engine::Failing => vec![ReplyEvent::Failed],
            Engine::Hung => vec![],
        }
    }
}

/// A line on the leg.
#[derive(Debug, Clone)]
struct Playing {
    id: u64,
    text: String,
    /// No more parts will come (a `Say`, or a `SayPart` with `last`).
    closed: bool,
    started: Instant,
}

/// What happened on the call, for the assertions.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// The transcript, in order.
    pub(crate) lines: Vec<(Role, String)>,
    /// Every text sent to the leg with the instant, in order.
    pub(crate) said: Vec<(Duration, String)>,
    /// The callee's lines as they were heard, with the instant.
    pub(crate) heard: Vec<(Duration, String)>,
    /// A line started while another still played.
    pub(crate) overlaps: u32,
    pub(crate) stops: u32,
    pub(crate) thinks: Vec<ChatRequest>,
    pub(crate) end: Option<(Duration, CallEnd)>,
}

pub(crate) struct Call {
    pub(crate) brain: CallBrain,
    pub t0: Instant,
    pub(crate) now: Instant,
    pub(crate) engine: Engine,
    /// How long each reply takes, from the request to its first event.
    pub(crate) think_ms: u64,
    /// Between one event of a reply and the next.
    pub(crate) clause_ms: u64,
    /// What the callee says, one line each time the AI finishes a line
    /// whole and falls quiet, `react_ms` after.
    pub(crate) script: VecDeque<String>,
    pub(crate) react_ms: u64,
    /// The script waits for AI lines that end after this (ms).
    pub(crate) script_from_ms: u64,
    /// Speaking pace of the leg, milliseconds per character.
    pub(crate) ms_per_char: u64,
    /// Ringing before the answer (`None`: never answers).
    pub(crate) answer_after_ms: Option<u64>,
    /// Whether the balance pays every minute.
    pub(crate) balance_ok: bool,
    events: BTreeMap<(Instant, u64), Input>,
    seq: u64,
    playing: Option<Playing>,
    answered: bool,
    leg_ended: bool,
    pub(crate) record: Record,
}

impl Call {
    pub(crate) fn new(engine: Engine, cfg: BrainConfig) -> Call {
        let t0 = Instant::now();
        Call {
            brain: CallBrain::new(cfg, TASK),
            t0,
            now: t0,
            engine,
            think_ms: 300,
            clause_ms: 0,
            script: VecDeque::new(),
            react_ms: 500,
            script_from_ms: 0,
            ms_per_char: 150,
            answer_after_ms: Some(2000),
            balance_ok: true,
            events: BTreeMap::new(),
            seq: 0,
            playing: None,
            answered: false,
            leg_ended: false,
            record: Record::default(),
        }
    }

    pub(crate) fn ms(&self, at: Instant) -> Duration {
        at - self.t0
    }

    fn at(&mut self, when: Instant, input: Input) {
        self.seq += 1;
        self.events.insert((when, self.seq), input);
    }

    /// The callee says `text` at `ms` after the start.
    pub(crate) fn callee_says_at(&mut self, ms: u64, text: &str) {
        self.at(self.t0 + Duration::from_millis(ms), Input::Heard(text.to_owned()));
    }

    pub(crate) fn hang_up_at(&mut self, ms: u64, side: HangupSide, reason: EndReason) {
        self.at(self.t0 + Duration::from_millis(ms), Input::HangUp { side, reason });
    }

    /// Runs until the call is finished or `limit_ms` have passed.
    pub(crate) fn run(&mut self, limit_ms: u64) {
        let limit = self.t0 + Duration::from_millis(limit_ms);
        self.feed(Input::Start);
        while !self.brain.is_finished() {
            let next_event = self.events.keys().next().map(|(t, _)| *t);
            let next = [next_event, self.brain.poll_timeout(), self.line_ends()].into_iter().flatten().min();
            let Some(next) = next.filter(|n| *n <= limit) else { break };
            self.now = self.now.max(next);
            if self.line_ends().is_some_and(|t| t <= self.now) {
                self.finish_line(false);
                continue;
            }
            if let Some(key) = self.events.keys().next().copied().filter(|(t, _)| *t <= self.now) {
                let input = self.events.remove(&key).expect("present");
                self.deliver(input);
                continue;
            }
            self.feed(Input::Timeout);
        }
    }

    fn deliver(&mut self, input: Input) {
        match &input {
            Input::Heard(text) => {
                if !self.answered || self.leg_ended || self.brain.is_finished() {
                    return; // Nobody on the line to say it.
                }
                self.record.heard.push((self.ms(self.now), text.clone()));
            }
            Input::Answered => self.answered = true,
            Input::Reply { .. } | Input::LegEnded { .. } if self.brain.is_finished() => return,
            _ => {}
        }
        self.feed(input);
    }

    /// Feeds an input and carries out every action.
    pub(crate) fn feed(&mut self, input: Input) {
        self.brain.handle(input, self.now);
        while let Some(action) = self.brain.poll_action() {
            self.perform(action);
        }
    }

    fn perform(&mut self, action: Action) {
        let now = self.now;
        match action {
            Action::Status(_) | Action::TurnAnswered { .. } => {}
            Action::Dial => match self.answer_after_ms {
                Some(ms) => {
                    self.at(now + Duration::from_millis(300), Input::Ringing);
                    self.at(now + Duration::from_millis(ms), Input::Answered);
                }
                None => self.at(now + Duration::from_millis(300), Input::Ringing),
            },
            Action::Leg(cmd) => self.leg(cmd),
            Action::Think { id, request } => self.think(id, request),
            Action::StopThinking { id } => self.events.retain(|_, input| !matches!(input, Input::Reply { id: r, .. } if *r == id)),
            Action::Line { role, text } => self.record.lines.push((role, text)),
            Action::ReserveMinute(_) => {
                let ok = self.balance_ok;
                self.brain.handle(Input::MinuteReserved { ok }, now);
            }
            Action::Finish(end) => self.record.end = Some((self.ms(now), end)),
        }
    }

    fn think(&mut self, id: ReplyId, request: ChatRequest) {
        let events = self.engine.reply(&request);
        self.record.thinks.push(request);
        let first = self.now + Duration::from_millis(self.think_ms);
        for (i, event) in events.into_iter().enumerate() {
            self.at(first + Duration::from_millis(self.clause_ms * i as u64), Input::Reply { id, event });
        }
    }

    fn leg(&mut self, cmd: TextCommand) {
        let now = self.now;
        match cmd {
            TextCommand::Say { id, text } => self.open_line(id, text, true),
            TextCommand::SayPart { id, text, last } => match self.playing.as_mut().filter(|p| p.id == id) {
                Some(p) => {
                    p.text.push_str(&text);
                    p.closed |= last;
                    self.record.said.push((now - self.t0, text));
                }
                None => self.open_line(id, text, last),
            },
            TextCommand::StopSaying => {
                self.record.stops += 1;
                if self.playing.is_some() {
                    self.finish_line(true);
                }
            }
            TextCommand::Cancel | TextCommand::HangUp => {
                if !self.leg_ended {
                    self.leg_ended = true;
                    let end = Input::LegEnded { end: LegEnd::Released, provider_response: Some("BYE (test)".into()) };
                    self.at(now + Duration::from_millis(50), end);
                }
            }
        }
    }

    fn open_line(&mut self, id: u64, text: String, closed: bool) {
        if self.playing.is_some() {
            self.record.overlaps += 1;
        }
        if !self.answered || self.leg_ended {
            // Nothing can be heard: answered at once, unplayed.
            self.brain.handle(Input::SayDone { id, played_chars: 0, stopped: true }, self.now);
            return;
        }
        self.record.said.push((self.now - self.t0, text.clone()));
        self.playing = Some(Playing { id, text, closed, started: self.now });
    }

    /// When the line playing ends, if all of it is known.
    fn line_ends(&self) -> Option<Instant> {
        let p = self.playing.as_ref().filter(|p| p.closed)?;
        Some(p.started + Duration::from_millis(self.ms_per_char * p.text.chars().count() as u64))
    }

    fn finish_line(&mut self, stopped: bool) {
        let Some(p) = self.playing.take() else { return };
        let chars = p.text.chars().count();
        let played = if stopped { (((self.now - p.started).as_millis() as u64) / self.ms_per_char) as usize } else { chars };
        let played_chars = played.min(chars);
        self.feed(Input::SayDone { id: p.id, played_chars, stopped: played_chars < chars });
        let waiting = self.now < self.t0 + Duration::from_millis(self.script_from_ms);
        if !stopped && self.playing.is_none() && !waiting && !self.leg_ended {
            if let Some(line) = self.script.pop_front() {
                self.at(self.now + Duration::from_millis(self.react_ms), Input::Heard(line));
            }
        }
    }

    /// The callee's lines, said one by one as the AI falls quiet.
    pub(crate) fn with_script(mut self, lines: &[&str]) -> Call {
        self.script = lines.iter().map(|l| (*l).to_owned()).collect();
        self
    }

    /// The transcript as `AI: ...` / `User: ...` lines.
    pub(crate) fn transcript(&self) -> Vec<String> {
        self.record.lines.iter().map(|(r, t)| format!("{}: {t}", if *r == Role::Assistant { "AI" } else { "User" })).collect()
    }

    pub(crate) fn end(&self) -> &CallEnd {
        &self.record.end.as_ref().expect("the call ended").1
    }
}
