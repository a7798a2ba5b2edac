//! One call's conversation: the history, the engine, and the checks in code
//! that hold whatever the engine says.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
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
        let mut gate = ClauseGate::default();
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
                if gate.blocked {
                    break;
                }
            }
            Ok::<_, LlmError>(reply)
        };
        let mut reply = tokio::time::timeout(self.reply_timeout, collect)
            .await
            .map_err(|_| LlmError::Timeout(self.reply_timeout.as_millis() as u64))??;
        let rest = gate.finish();
        if gate.blocked {
            tracing::warn!("engine reply asked for a secret; replaced with the safe fallback");
            reply.hang_up = true;
            reply.outcome = Some(Outcome::CutOff);
        }
        if let (Some(p), false) = (parts, rest.is_empty()) {
            let _ = p.send(rest);
        }
        reply.text = match parts {
            // Nothing was said yet: the fallback replaces the whole reply.
            None if gate.blocked => SAFE_FALLBACK.to_owned(),
            _ => gate.released.trim().to_owned(),
        };
        if !reply.text.is_empty() {
            self.history.push(Turn::Assistant(reply.text.clone()));
        }
        Ok(reply)
    }
}

/// Releases a streamed reply clause by clause, after checking each one.
#[derive(Debug, Default)]
struct ClauseGate {
    /// Written by the engine and not yet released.
    pending: String,
    /// Released so far (what the callee may hear).
    released: String,
    /// A clause asked for a secret: nothing more is released.
    blocked: bool,
}

impl ClauseGate {
    fn push(&mut self, text: &str) -> Option<String> {
        if self.blocked {
            return None;
        }
        self.pending.push_str(text);
        let cut = self.pending.char_indices().filter(|(_, c)| "，,。.！!？?；;…\n".contains(*c)).map(|(i, c)| i + c.len_utf8()).last()?;
        let clause: String = self.pending.drain(..cut).collect();
        self.release(clause)
    }

    /// What is left when the engine is done (or the fallback, if blocked).
    fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        if !self.blocked {
            if let Some(rest) = self.release(rest) {
                return rest;
            }
        }
        if self.blocked {
            self.released.push_str(SAFE_FALLBACK);
            return SAFE_FALLBACK.to_owned();
        }
        String::new()
    }

    fn release(&mut self, clause: String) -> Option<String> {
        // The check runs on everything so far, so a word split across two
        // clauses' tokens is still caught.
        let so_far = format!("{}{}", self.released, clause);
        if FORBIDDEN_ASKS.iter().any(|w| so_far.contains(w)) {
            self.blocked = true;
            return None;
        }
        let clause = if self.released.trim().is_empty() { clause.trim_start().to_owned() } else { clause };
        if clause.is_empty() {
            return None;
        }
        self.released.push_str(&clause);
        Some(clause)
    }
}

#[cfg(test)]
mod gate_tests {
    use super::*;

    #[test]
    fn clauses_are_released_at_their_punctuation() {
        let mut g = ClauseGate::default();
        assert_eq!(g.push(" 好的"), None);
        assert_eq!(g.push("，我明白"), Some("好的，".to_owned()));
        assert_eq!(g.push("了。明天"), Some("我明白了。".to_owned()));
        assert_eq!(g.finish(), "明天");
        assert_eq!(g.released, "好的，我明白了。明天");
    }

    #[test]
    fn a_clause_asking_for_a_secret_is_never_released() {
        let mut g = ClauseGate::default();
        assert_eq!(g.push("您好，"), Some("您好，".to_owned()));
        assert_eq!(g.push("请告诉我验"), None);
        assert_eq!(g.push("证码。谢谢"), None);
        assert!(g.blocked);
        assert_eq!(g.finish(), SAFE_FALLBACK);
        assert_eq!(g.released, format!("您好，{SAFE_FALLBACK}"));
        assert!(!g.released.contains("验证码"));
    }
}
