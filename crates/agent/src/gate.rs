//! The checks in code that hold whatever a dialogue engine says.
//!
//! An LLM's system prompt is a request, not a guarantee, so two rules of
//! `conversation.md` are enforced here on every reply, clause by clause as
//! it streams, before any of it reaches the callee:
//!
//! - **No secrets asked for** (rule 6): a reply that asks for a code, a
//!   password or a card number stops at that clause and ends with
//!   [`SAFE_FALLBACK`], and the call is hung up.
//! - **No content before the right person confirmed** (rules 2 and 3): until
//!   a line of the callee's reads as "yes, it is me" (or "go on"), a reply
//!   that carries the task's facts (its times, numbers, or any three
//!   characters in a row of its content) stops at that clause and asks who
//!   is on the line instead. A fact the callee said themselves is theirs to
//!   hear again.
//!
//! The offline engine keeps both rules by construction, so for it the gate
//! never closes; it is the LLM engines it is for.

use waihu_core::Outcome;

use crate::llm::{Reply, Turn};
use crate::offline;
use crate::task::TaskBrief;

/// Words the AI must never ask for (rule 6 of `conversation.md`).
const FORBIDDEN_ASKS: &[&str] = &["验证码", "密码", "银行卡号", "卡号", "身份证号", "CVV", "安全码"];

/// The line said instead when an engine's reply asks for a secret.
pub const SAFE_FALLBACK: &str = "不好意思，这个我不方便问。我会把您的情况转告委托人，再见。";

/// Characters in a row of the content that count as saying it.
const FACT_CHARS: usize = 3;

/// Why a reply was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// It asked for a secret: the call ends after the fallback.
    Secret,
    /// It carried the task's content before the callee confirmed who they
    /// are: it asks again who is on the line.
    Content,
}

/// What of the task a reply must not carry before confirmation.
#[derive(Debug, Clone, Default)]
pub struct ContentGuard {
    /// The task's facts the callee has not said themselves.
    facts: Vec<String>,
    /// A callee's line confirmed who they are.
    confirmed: bool,
    /// Asked instead of a reply that would have told the content.
    identity_line: String,
}

impl ContentGuard {
    /// The guard for a reply to `history` on `task`.
    pub fn new(task: &str, history: &[Turn]) -> Self {
        let brief = TaskBrief::parse(task);
        let callee_lines: Vec<&str> = history.iter().filter_map(|t| if let Turn::User(u) = t { Some(u.as_str()) } else { None }).collect();
        let confirmed = callee_lines.iter().any(|line| offline::confirms_identity(&brief, line));
        let facts = content_facts(&brief).into_iter().filter(|f| !callee_lines.iter().any(|line| line.contains(f.as_str()))).collect();
        ContentGuard { facts, confirmed, identity_line: offline::identity_check_line(&brief) }
    }

    /// Whether the callee has confirmed who they are.
    pub fn confirmed(&self) -> bool {
        self.confirmed
    }

    /// Whether `said` tells any of the content while that is not allowed.
    pub fn leaks(&self, said: &str) -> bool {
        !self.confirmed && self.facts.iter().any(|f| said.contains(f.as_str()))
    }
}

/// How a task's writer introduces themselves (`…，我是王经理`, which the
/// brief renders `委托人是王经理`): who calls is disclosed on purpose
/// (rule 1), so it is not content.
const SELF_INTRODUCTIONS: &[&str] = &["我是", "我叫", "我们是", "我这边是", "委托人是"];

/// The task's facts: every run of digits (a time, a number, an amount) and
/// every [`FACT_CHARS`] characters in a row of its content that do not
/// address the callee (`您`) or name the caller.
pub fn content_facts(brief: &TaskBrief) -> Vec<String> {
    let content: String = brief
        .content
        .split_inclusive(|c: char| crate::task::is_punct(c))
        .filter(|clause| !SELF_INTRODUCTIONS.iter().any(|w| clause.trim_start().starts_with(w)))
        .collect();
    let chars: Vec<char> = content.chars().collect();
    let mut facts: Vec<String> = Vec::new();
    let mut push = |f: String| {
        if !facts.contains(&f) {
            facts.push(f);
        }
    };
    let mut digits = String::new();
    for &c in chars.iter().chain(std::iter::once(&' ')) {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if !digits.is_empty() {
            push(std::mem::take(&mut digits));
        }
    }
    let named = |w: &str| [&brief.callee, &brief.principal].into_iter().flatten().any(|n| n.contains(w) || w.contains(n.as_str()));
    for window in chars.windows(FACT_CHARS) {
        if window.iter().any(|c| crate::task::is_punct(*c) || c.is_whitespace() || "您你我".contains(*c)) {
            continue;
        }
        let w: String = window.iter().collect();
        if !named(&w) {
            push(w);
        }
    }
    facts
}

/// Releases a streamed reply clause by clause, after checking each one
/// against the rules above.
#[derive(Debug, Default)]
pub struct ReplyGate {
    guard: ContentGuard,
    /// Written by the engine and not yet released.
    pending: String,
    /// Released so far (what the callee may hear).
    released: String,
    /// A clause broke a rule: nothing more is released.
    blocked: Option<Blocked>,
}

impl ReplyGate {
    /// A gate for one reply, guarding the content with `guard`.
    pub fn new(guard: ContentGuard) -> Self {
        ReplyGate { guard, ..ReplyGate::default() }
    }

    /// Takes more of the reply; returns the clauses now cleared to be said
    /// (up to the last `，。！？；…` so far), if any.
    pub fn push(&mut self, text: &str) -> Option<String> {
        if self.blocked.is_some() {
            return None;
        }
        self.pending.push_str(text);
        let cut = self.pending.char_indices().rev().find(|(_, c)| "，,。.！!？?；;…\n".contains(*c)).map(|(i, c)| i + c.len_utf8())?;
        let clause: String = self.pending.drain(..cut).collect();
        self.release(clause)
    }

    /// The engine is done: what is left to say (the rest of the reply, or
    /// the fallback line if a rule stopped it).
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        if self.blocked.is_none() {
            if let Some(rest) = self.release(rest) {
                return rest;
            }
        }
        match self.fallback() {
            Some(line) => {
                self.released.push_str(&line);
                line
            }
            None => String::new(),
        }
    }

    /// The engine is done with `reply` (its text is not read): closes the
    /// gate and applies its rules. Returns what is left to say (the
    /// reply's rest, or the fallback line) and the reply as it stands: a
    /// reply that asked for a secret hangs up (`cut_off`); one that told
    /// the content too early does not hang up. `streamed`: each clause went
    /// out as it was cleared, so the reply is what was released; otherwise
    /// nothing was said yet and a fallback replaces the whole reply.
    pub fn close(&mut self, streamed: bool, mut reply: Reply) -> (String, Reply) {
        let rest = self.finish();
        match self.blocked {
            Some(Blocked::Secret) => {
                tracing::warn!("engine reply asked for a secret; replaced with the safe fallback");
                reply.hang_up = true;
                reply.outcome = Some(Outcome::CutOff);
            }
            Some(Blocked::Content) => {
                tracing::warn!("engine reply told the content before the callee confirmed; asked who is on the line instead");
                reply.hang_up = false;
                reply.outcome = None;
            }
            None => {}
        }
        reply.text = match (streamed, self.fallback()) {
            (false, Some(fallback)) => fallback,
            _ => self.released.trim().to_owned(),
        };
        (rest, reply)
    }

    /// Why the reply was stopped, if it was.
    pub fn blocked(&self) -> Option<Blocked> {
        self.blocked
    }

    /// Everything released so far, fallback included once finished.
    pub fn released(&self) -> &str {
        &self.released
    }

    /// The line said instead of a stopped reply's rest.
    pub fn fallback(&self) -> Option<String> {
        match self.blocked? {
            Blocked::Secret => Some(SAFE_FALLBACK.to_owned()),
            Blocked::Content => Some(self.guard.identity_line.clone()),
        }
    }

    fn release(&mut self, clause: String) -> Option<String> {
        // The checks run on everything so far, so a word split across two
        // clauses' tokens is still caught.
        let so_far = format!("{}{}", self.released, clause);
        if FORBIDDEN_ASKS.iter().any(|w| so_far.contains(w)) {
            self.blocked = Some(Blocked::Secret);
            return None;
        }
        if self.guard.leaks(&so_far) {
            self.blocked = Some(Blocked::Content);
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
mod tests {
    use super::*;

    const TASK: &str = "王经理让我通知张总明天上午9点开会";

    #[test]
    fn clauses_are_released_at_their_punctuation() {
        let mut g = ReplyGate::default();
        assert_eq!(g.push(" 好的"), None);
        assert_eq!(g.push("，我明白"), Some("好的，".to_owned()));
        assert_eq!(g.push("了。明天"), Some("我明白了。".to_owned()));
        assert_eq!(g.finish(), "明天");
        assert_eq!(g.released(), "好的，我明白了。明天");
    }

    #[test]
    fn a_clause_asking_for_a_secret_is_never_released() {
        let mut g = ReplyGate::default();
        assert_eq!(g.push("您好，"), Some("您好，".to_owned()));
        assert_eq!(g.push("请告诉我验"), None);
        assert_eq!(g.push("证码。谢谢"), None);
        assert_eq!(g.blocked(), Some(Blocked::Secret));
        assert_eq!(g.finish(), SAFE_FALLBACK);
        assert_eq!(g.released(), format!("您好，{SAFE_FALLBACK}"));
        assert!(!g.released().contains("验证码"));
    }

    #[test]
    fn the_content_waits_for_the_callee_to_confirm() {
        let history = [Turn::Assistant("喂，您好，我是王经理的 AI 助理，请问是张总吗？".into())];
        let mut g = ReplyGate::new(ContentGuard::new(TASK, &history));
        assert_eq!(g.push("张总您好，"), Some("张总您好，".to_owned()));
        assert_eq!(g.push("明天9点有个会。"), None, "a time of the task before the yes");
        assert_eq!(g.blocked(), Some(Blocked::Content));
        let asked = g.finish();
        assert!(asked.contains("请问您是张总吗"), "{asked}");
        assert!(!g.released().contains('9'));

        // The same reply after a yes goes through whole.
        let mut confirmed = history.to_vec();
        confirmed.push(Turn::User("对，是我。".into()));
        let mut g = ReplyGate::new(ContentGuard::new(TASK, &confirmed));
        assert_eq!(g.push("张总您好，明天上午9点开会。"), Some("张总您好，明天上午9点开会。".to_owned()));
        assert_eq!(g.blocked(), None);
    }

    #[test]
    fn a_fact_the_callee_said_may_be_said_back_before_the_yes() {
        let history = [Turn::Assistant("请问是张总吗？".into()), Turn::User("他不在，你明天上午再打吧".into())];
        let guard = ContentGuard::new(TASK, &history);
        assert!(!guard.confirmed());
        assert!(!guard.leaks("好的，那我明天上午再打给您，再见。"));
        assert!(guard.leaks("好的，明天上午9点开会，再见。"));
    }

    #[test]
    fn facts_are_numbers_and_runs_of_the_content_not_names() {
        let brief = TaskBrief::parse(TASK);
        let facts = content_facts(&brief);
        assert!(facts.contains(&"9".to_owned()), "{facts:?}");
        assert!(facts.contains(&"点开会".to_owned()), "{facts:?}");
        assert!(facts.iter().all(|f| !f.contains("张总") && !f.contains("王经理")), "{facts:?}");
        assert!(content_facts(&TaskBrief::parse("给张总打个电话")).iter().all(|f| !f.contains('您')));
        // The caller introducing themselves is disclosure, not content.
        let facts = content_facts(&TaskBrief::parse("通知张总明天上午9点开会，我是王经理"));
        assert!(facts.contains(&"点开会".to_owned()) && facts.iter().all(|f| !f.contains("王经")), "{facts:?}");
    }
}
