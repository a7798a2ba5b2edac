//! One call's conversation: the history, the engine, and the checks in code
//! that hold whatever the engine says.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use waihu_core::Outcome;

use crate::llm::{ChatRequest, Llm, LlmError, LlmEvent, Turn};

/// What the AI says next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The line to say (may be empty when the engine only hangs up).
    pub text: String,
    /// Hang up once `text` has been said.
    pub hang_up: bool,
    /// What the call achieved, if the engine said.
    pub outcome: Option<Outcome>,
}

/// Words the AI must never ask for (rule 6 of `conversation.md`); checked in
/// code because an LLM's system prompt is a request, not a guarantee.
const FORBIDDEN_ASKS: &[&str] = &["验证码", "密码", "银行卡号", "卡号", "身份证号", "CVV", "安全码"];

/// The line said instead when an engine's reply breaks a rule.
pub const SAFE_FALLBACK: &str = "不好意思，这个我不方便问。我会把您的情况转告委托人，再见。";

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
        if let Some(t) = turn {
            self.history.push(t);
        }
        let req = ChatRequest { task: self.task.clone(), history: self.history.clone() };
        let collect = async {
            let mut stream = self.engine.chat(req).await?;
            let mut reply = Reply { text: String::new(), hang_up: false, outcome: None };
            while let Some(ev) = stream.next().await {
                match ev? {
                    LlmEvent::Text(t) => reply.text.push_str(&t),
                    LlmEvent::HangUp { outcome } => {
                        reply.hang_up = true;
                        reply.outcome = outcome.or(reply.outcome);
                    }
                }
            }
            Ok::<_, LlmError>(reply)
        };
        let mut reply = tokio::time::timeout(self.reply_timeout, collect)
            .await
            .map_err(|_| LlmError::Timeout(self.reply_timeout.as_millis() as u64))??;
        reply.text = reply.text.trim().to_owned();
        if FORBIDDEN_ASKS.iter().any(|w| reply.text.contains(w)) {
            tracing::warn!("engine reply asked for a secret; replaced with the safe fallback");
            reply = Reply { text: SAFE_FALLBACK.to_owned(), hang_up: true, outcome: Some(Outcome::CutOff) };
        }
        if !reply.text.is_empty() {
            self.history.push(Turn::Assistant(reply.text.clone()));
        }
        Ok(reply)
    }
}
