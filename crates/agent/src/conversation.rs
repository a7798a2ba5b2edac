//! A conversation outside a call: the history, the engine, and the checks
//! in code that hold whatever the engine says ([`crate::gate`]).
//!
//! A call runs its conversation in `waihu-call`'s brain, which owns the
//! history and the floor; this is the same exchange for tests, tools and
//! benchmarks that only want replies.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::gate::{ContentGuard, ReplyGate};
use crate::llm::{ChatRequest, Llm, LlmError, LlmEvent, Reply, Turn};

/// A conversation in progress.
pub struct Conversation {
    engine: Arc<dyn Llm>,
    task: String,
    history: Vec<Turn>,
    reply_timeout: Duration,
}

impl Conversation {
    /// Starts a conversation for `task` on `engine`.
    pub fn new(engine: Arc<dyn Llm>, task: impl Into<String>) -> Self {
        Conversation { engine, task: task.into(), history: Vec::new(), reply_timeout: Duration::from_secs(20) }
    }

    /// Bounds how long one whole reply may take.
    pub fn with_reply_timeout(mut self, t: Duration) -> Self {
        self.reply_timeout = t;
        self
    }

    /// The history so far.
    pub fn history(&self) -> &[Turn] {
        &self.history
    }

    /// Records a turn that needs no answer (e.g. what was played of a line
    /// that was cut off).
    pub fn record(&mut self, turn: Turn) {
        self.history.push(turn);
    }

    /// Records what the AI actually said, when it differs from the reply
    /// (cut off by the callee).
    pub fn replace_last_assistant(&mut self, played: String) {
        if let Some(pos) = self.history.iter().rposition(|t| matches!(t, Turn::Assistant(_))) {
            self.history[pos] = Turn::Interrupted { played };
        }
    }

    /// Takes back the last reply before it was said (the callee spoke while
    /// it was being generated, so it answers a question no longer asked).
    pub fn retract_last_reply(&mut self) {
        if matches!(self.history.last(), Some(Turn::Assistant(_))) {
            self.history.pop();
        }
    }

    /// Asks the engine for the next line after `turn` (`None` to open the
    /// call), records both, and applies the safety checks.
    pub async fn respond(&mut self, turn: Option<Turn>) -> Result<Reply, LlmError> {
        self.respond_streaming(turn, None).await
    }

    /// The same, handing the reply's text to `parts` as it is written, one
    /// clause at a time (up to each `，。！？；…`), so speech can start
    /// before the reply is finished. Each clause is checked before it is
    /// released: a reply that turns to asking for a secret stops there and
    /// ends with the safe fallback instead. The returned reply's text is
    /// exactly what went to `parts`.
    pub async fn respond_streaming(&mut self, turn: Option<Turn>, parts: Option<&mpsc::UnboundedSender<String>>) -> Result<Reply, LlmError> {
        if let Some(t) = turn {
            self.history.push(t);
        }
        let req = ChatRequest { task: self.task.clone(), history: self.history.clone() };
        let mut gate = ReplyGate::new(ContentGuard::new(&self.task, &self.history));
        let collect = async {
            let mut stream = self.engine.chat(req).await?;
            let mut reply = Reply { text: String::new(), hang_up: false, outcome: None };
            while let Some(ev) = stream.next().await {
                match ev? {
                    LlmEvent::Text(t) => {
                        if let Some(piece) = gate.push(&t) {
                            if let Some(p) = parts {
                                let _ = p.send(piece);
                            }
                        }
                    }
                    LlmEvent::HangUp { outcome } => {
                        reply.hang_up = true;
                        reply.outcome = outcome.or(reply.outcome);
                    }
                }
                if gate.blocked().is_some() {
                    break;
                }
            }
            Ok::<_, LlmError>(reply)
        };
        let reply = tokio::time::timeout(self.reply_timeout, collect)
            .await
            .map_err(|_| LlmError::Timeout(self.reply_timeout.as_millis() as u64))??;
        let (rest, reply) = gate.close(parts.is_some(), reply);
        if let (Some(p), false) = (parts, rest.is_empty()) {
            let _ = p.send(rest);
        }
        if !reply.text.is_empty() {
            self.history.push(Turn::Assistant(reply.text.clone()));
        }
        Ok(reply)
    }
}
