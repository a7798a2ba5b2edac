//! The call session's role on the text-level leg the voice pipeline makes:
//! it hears the callee (`Heard`), answers by streaming its reply as
//! `SayPart`s, and keeps what the pipeline reports (`TurnLatency`,
//! `SayDone`).
//!
//! Two dialogues: [`Dialogue::Fixed`], the fake LLM of fixed latency (first
//! token 200 ms after `Heard`, then one character every 20 ms, on an
//! absolute schedule), and [`Dialogue::Offline`], the offline rules engine
//! through `waihu_agent::Conversation`, streamed clause by clause as the
//! real session streams it.
//!
//! The session only answers when the script expects an answer (`expect`):
//! the acknowledgement and the interruption spoken over the AI are heard but
//! not answered, so every measured turn starts from the same state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::sleep_until;
use waihu_agent::{Conversation, Turn};
use waihu_carrier::{Signal, TextCommand, TextEvent};
use waihu_voice::VoiceLeg;
use waihu_turn::{SentenceSplitter, SplitterConfig, TurnLatencyMs};

/// What answers the callee.
pub enum Dialogue {
    /// A fake LLM: `reply`, one character per token, the first
    /// `first_token` after `Heard`, the next ones `every` apart.
    Fixed { reply: String, first_token: Duration, every: Duration },
    /// A real dialogue engine; it also opens the call.
    Offline(Conversation),
}

/// One answer, timed from the session's side.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// `Heard` reached the session.
    pub heard: Instant,
    /// The first part was sent.
    pub first_part: Instant,
    /// The part that completes the reply's first chunk (the splitter's
    /// first cut) was sent: the fake LLM's tokens, so engine time.
    pub first_chunk_part: Instant,
}

/// What the session saw.
#[derive(Debug, Default)]
pub struct SessionLog {
    /// Answers given, in order.
    pub answers: Vec<Answer>,
    /// The pipeline's latency reports, with when they arrived.
    pub latencies: Vec<(Instant, TurnLatencyMs)>,
    /// Everything heard, with when.
    pub heard: Vec<(Instant, String)>,
    /// `SayDone`s: (line, played_chars, stopped).
    pub say_done: Vec<(u64, usize, bool)>,
    /// Lines opened.
    pub lines: u64,
    /// The offline dialogue's replies, whole.
    pub replies: Vec<String>,
}

/// The session's handle: hang up with `commands`, collect the log from `done`.
pub struct SessionHandle {
    /// Commands to the text-level leg.
    pub commands: mpsc::Sender<TextCommand>,
    /// Ends with the leg's `Ended`.
    pub done: JoinHandle<SessionLog>,
}

/// Runs the session on `leg`, answering the next `Heard` whenever `expect` is set (and clearing it).
pub fn spawn(leg: VoiceLeg, dialogue: Dialogue, expect: Arc<AtomicBool>) -> SessionHandle {
    let commands = leg.leg.commands.clone();
    let done = tokio::spawn(run(leg, dialogue, expect));
    SessionHandle { commands, done }
}

async fn run(leg: VoiceLeg, dialogue: Dialogue, expect: Arc<AtomicBool>) -> SessionLog {
    let VoiceLeg { leg, mut turns } = leg;
    let (mut events, commands) = (leg.events, leg.commands);
    let log = Arc::new(Mutex::new(SessionLog::default()));
    let next_line = Arc::new(std::sync::atomic::AtomicU64::new(1));
    // The offline engine answers in a task of its own that owns the conversation.
    let (ask, asks) = mpsc::unbounded_channel::<(Option<Turn>, Instant)>();
    let fixed = match dialogue {
        Dialogue::Fixed { reply, first_token, every } => Some((reply, first_token, every)),
        Dialogue::Offline(convo) => {
            tokio::spawn(respond(convo, asks, commands.clone(), next_line.clone(), log.clone()));
            None
        }
    };
    loop {
        let ev = tokio::select! {
            ev = events.recv() => match ev {
                Some(ev) => ev,
                None => break,
            },
            Some(l) = turns.recv() => {
                log.lock().expect("lock").latencies.push((Instant::now(), l));
                continue;
            }
        };
        let now = Instant::now();
        match ev {
            TextEvent::Signal(Signal::Answered) if fixed.is_none() => {
                let _ = ask.send((None, now));
            }
            TextEvent::Heard(text) => {
                log.lock().expect("lock").heard.push((now, text.clone()));
                if !expect.swap(false, Ordering::SeqCst) {
                    continue;
                }
                match &fixed {
                    Some((reply, first_token, every)) => {
                        let id = next_line.fetch_add(1, Ordering::SeqCst);
                        let stream = stream_fixed(id, reply.clone(), now, *first_token, *every, commands.clone(), log.clone());
                        tokio::spawn(stream);
                    }
                    None => {
                        let _ = ask.send((Some(Turn::User(text)), now));
                    }
                }
            }
            TextEvent::SayDone { id, played_chars, stopped } => log.lock().expect("lock").say_done.push((id, played_chars, stopped)),
            TextEvent::Signal(Signal::Ended { .. }) => break,
            _ => {}
        }
    }
    drop(ask);
    let mut log = std::mem::take(&mut *log.lock().expect("lock"));
    log.lines = next_line.load(Ordering::SeqCst) - 1;
    log
}

/// The characters of `reply` after which the splitter cuts its first chunk.
pub fn first_chunk_chars(reply: &str) -> usize {
    let mut s = SentenceSplitter::new(SplitterConfig::default());
    for (i, c) in reply.chars().enumerate() {
        if !s.push(&c.to_string()).is_empty() {
            return i + 1;
        }
    }
    reply.chars().count()
}

async fn stream_fixed(
    id: u64,
    reply: String,
    heard: Instant,
    first_token: Duration,
    every: Duration,
    commands: mpsc::Sender<TextCommand>,
    log: Arc<Mutex<SessionLog>>,
) {
    let chars: Vec<char> = reply.chars().collect();
    let cut = first_chunk_chars(&reply);
    let mut answer = Answer { heard, first_part: heard, first_chunk_part: heard };
    for (i, c) in chars.iter().enumerate() {
        sleep_until(tokio::time::Instant::from_std(heard + first_token + every * i as u32)).await;
        let last = i + 1 == chars.len();
        let sent = commands.send(TextCommand::SayPart { id, text: c.to_string(), last }).await;
        let now = Instant::now();
        if i == 0 {
            answer.first_part = now;
        }
        if i + 1 == cut {
            answer.first_chunk_part = now;
            log.lock().expect("lock").answers.push(answer);
        }
        if sent.is_err() {
            return;
        }
    }
}

async fn respond(
    mut convo: Conversation,
    mut asks: mpsc::UnboundedReceiver<(Option<Turn>, Instant)>,
    commands: mpsc::Sender<TextCommand>,
    next_line: Arc<std::sync::atomic::AtomicU64>,
    log: Arc<Mutex<SessionLog>>,
) {
    while let Some((turn, heard)) = asks.recv().await {
        let answering = turn.is_some();
        let id = next_line.fetch_add(1, Ordering::SeqCst);
        let (tx, mut parts) = mpsc::unbounded_channel();
        let reply = async {
            let tx = tx;
            convo.respond_streaming(turn, Some(&tx)).await
        };
        let forward = async {
            let mut first = true;
            while let Some(text) = parts.recv().await {
                if first && answering {
                    let now = Instant::now();
                    log.lock().expect("lock").answers.push(Answer { heard, first_part: now, first_chunk_part: now });
                }
                first = false;
                let _ = commands.send(TextCommand::SayPart { id, text, last: false }).await;
            }
        };
        let (reply, ()) = tokio::join!(reply, forward);
        match reply {
            Ok(r) => log.lock().expect("lock").replies.push(r.text),
            Err(e) => eprintln!("the dialogue engine failed: {e}"),
        }
        let _ = commands.send(TextCommand::SayPart { id, text: String::new(), last: true }).await;
    }
}
