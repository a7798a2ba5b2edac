//! The offline dialogue engine: a rules engine over the task text, in
//! spoken Mandarin, for servers with no LLM (there is no usable offline
//! instruct model).
//!
//! It follows `design/conversation.md` by construction:
//!
//! 1. The first line says it is an AI assistant, for whom when the task
//!    says so, and asks for the callee by the name or title in the task (or,
//!    when the task names nobody, whether this is the owner of the number).
//! 2. The content is said only after a yes. A no, someone answering for the
//!    callee, or two unclear answers end the call without a word of it.
//! 3. The content is said in the task's own words, then checked
//!    (`您看可以吗？`); an acknowledgement ends the call with `delivered`.
//! 4. The usual turns: who is calling (disclose again, then carry on),
//!    repeat (`好的，我再说一遍：…`), busy (call back later, at the time the
//!    callee gave), do not call (apologise, promise not to), silence (one
//!    `能听到吗？`, then goodbye), questions it cannot answer (`这个我不太清楚，
//!    我会转告委托人。`, three at most).
//!
//! What the callee says is matched against short phrase lists
//! ([`phrases`]), in this order: do-not-call, busy, who-is-calling, then per
//! phase (before the yes: no / someone else / attempts to steer it / repeat
//! / yes, anything else unclear; after the content: attempts to steer it /
//! repeat / decline / closing / acknowledgement / question, anything else
//! passed on). Nothing the callee says can make it say the content before a
//! yes, ask for a secret, or promise anything.
//!
//! [`next_line`] is a pure function of the task and the history: the state
//! of the call is re-derived by replaying the history on every turn, so the
//! engine holds nothing between turns and a call can be replayed exactly.

mod flow;
mod heard;
mod lines;
#[rustfmt::skip] // phrase lists read better as paragraphs than one per line
pub mod phrases;

use async_trait::async_trait;
use waihu_core::Outcome;

use crate::llm::{ChatRequest, EngineInfo, Llm, LlmError, LlmEvent, LlmStream, Turn};
use crate::task::TaskBrief;

/// The engine id clients pass as `model_engine`.
pub const ENGINE_ID: &str = "offline";

/// Most turns the engine keeps talking on; past it, it says goodbye.
pub const MAX_TURNS: usize = flow::MAX_TURNS;

/// The offline rules engine. Holds nothing: every reply is computed from
/// the request alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineEngine;

impl OfflineEngine {
    /// The engine.
    pub fn new() -> Self {
        OfflineEngine
    }
}

/// One reply of the offline engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// What to say (empty only when asked to speak after it has already
    /// said goodbye).
    pub text: String,
    /// Hang up after `text`, with this outcome.
    pub hang_up: Option<Outcome>,
}

impl Line {
    fn say(text: impl Into<String>) -> Line {
        Line { text: text.into(), hang_up: None }
    }

    fn end(text: impl Into<String>, outcome: Outcome) -> Line {
        Line { text: text.into(), hang_up: Some(outcome) }
    }
}

/// The next line of a call on `task` after `history` (empty: the opening).
pub fn next_line(task: &str, history: &[Turn]) -> Line {
    flow::Dialogue::next_line(&TaskBrief::parse(task), history)
}

/// Whether the callee's `line` says they are the one the task is for
/// (`对，是我`, the callee's name) or lets the caller go on (`嗯`, `你说`,
/// `什么事`): the answers after which this engine says the content, and the
/// [`crate::gate`] lets any engine say it.
pub fn confirms_identity(brief: &TaskBrief, line: &str) -> bool {
    matches!(heard::Heard::new(line).identity(brief), heard::Identity::ItIsMe | heard::Identity::GoOn)
}

/// Asked instead of a reply that would have told the content too early.
pub fn identity_check_line(brief: &TaskBrief) -> String {
    format!("不好意思，在说具体事情之前，我想先确认一下，{}", lines::identity_question(brief))
}

/// Splits a line after each clause mark (`，。？！；：`), so that speech can
/// start on the first clause; the pieces join back to `text`.
pub fn clauses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        current.push(c);
        if "，。？！；：".contains(c) {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[async_trait]
impl Llm for OfflineEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            id: ENGINE_ID.to_owned(),
            name: "离线规则引擎".to_owned(),
            description: "内置规则引擎：按任务确认身份、转达内容，不联网、不需要模型，同样的对话总得到同样的回答"
                .to_owned(),
        }
    }

    async fn chat(&self, req: ChatRequest) -> Result<LlmStream, LlmError> {
        let line = next_line(&req.task, &req.history);
        let mut events: Vec<Result<LlmEvent, LlmError>> =
            clauses(&line.text).into_iter().map(|piece| Ok(LlmEvent::Text(piece))).collect();
        if let Some(outcome) = line.hang_up {
            events.push(Ok(LlmEvent::HangUp { outcome: Some(outcome) }));
        }
        Ok(Box::pin(futures_util::stream::iter(events)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_split_after_marks_and_join_back() {
        let text = "张总您好，王经理让我通知您，明天上午9点开会。您看可以吗？";
        let parts = clauses(text);
        assert_eq!(parts, ["张总您好，", "王经理让我通知您，", "明天上午9点开会。", "您看可以吗？"]);
        assert_eq!(parts.concat(), text);
        assert_eq!(clauses("再见"), ["再见"]);
        assert!(clauses("").is_empty());
    }
}
