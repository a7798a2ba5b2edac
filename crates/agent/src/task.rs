//! Reading a task: whom to call, on whose behalf, and what to tell them.
//!
//! A task (`user_requirement`) is one line of free Chinese text such as
//! `王经理让我通知张总明天上午9点开会`. [`TaskBrief::parse`] splits it into the
//! callee to confirm (`张总`), the principal to name (`王经理`), what the call
//! is for (通知) and the content to say (`明天上午9点开会`), so that an engine
//! can ask for the right person before saying anything and then say the
//! content in the task's own words. Parsing never fails: what it cannot
//! place stays in `content`, which is what matters most on the call.

mod action;
mod names;
mod principal;
mod text;
mod time;

pub use action::Purpose;
pub(crate) use names::surname;
pub(crate) use text::is_punct;

use action::{parse_action, strip_polite};
use principal::split_principal;
use text::{normalize, second_person, task_part, trim_clause};

/// A task, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskBrief {
    /// The task proper: the text after any safety preamble, punctuation
    /// made full-width.
    pub task: String,
    /// Whom to ask for (`张总`, `王先生`, `小王`, `王建国`); `None` when the
    /// task names nobody.
    pub callee: Option<String>,
    /// On whose behalf the call is made (`王经理`, `公司行政部`); `None`
    /// when the task does not say.
    pub principal: Option<String>,
    /// What the call is for.
    pub purpose: Purpose,
    /// What to say, as a spoken clause addressed to the callee (`您的快递到了`),
    /// without closing punctuation. Times, places, names and numbers are the
    /// task's own. Empty only when the task has nothing beyond a name.
    pub content: String,
}

impl TaskBrief {
    /// Reads a task as a client sent it, safety preamble included.
    pub fn parse(user_requirement: &str) -> TaskBrief {
        let task = normalize(task_part(user_requirement));
        let (principal, rest) = split_principal(&task);
        let action = parse_action(strip_polite(rest));
        let content = second_person(trim_clause(action.content), principal.as_deref());
        TaskBrief { callee: action.callee, principal, purpose: action.purpose, content, task }
    }

    /// The callee's family name (`张` for 张总 or 小张, `欧阳` for 欧阳娜娜),
    /// to tell `我姓李` from the right person.
    pub fn callee_surname(&self) -> Option<&str> {
        let callee = self.callee.as_deref()?;
        let bare = callee.strip_prefix('小').or_else(|| callee.strip_prefix('老')).unwrap_or(callee);
        surname(bare).map(|(s, _)| s)
    }

    /// Whether the content carries a time or a deadline, which makes
    /// `您看可以吗？` the natural check and `几点？` answerable.
    pub fn mentions_time(&self) -> bool {
        time::mentions_time(&self.content)
    }
}

#[cfg(test)]
mod tests;
