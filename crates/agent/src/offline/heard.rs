//! What the callee said, read for the few things the dialogue acts on.
//!
//! The text comes from speech recognition: punctuation may be missing or
//! wrong and particles (啊, 呀, 哦, 喂) come and go, so matching is done on a
//! "core" with both removed, and never on the exact sentence.

use super::phrases::*;
use crate::task::{is_punct, surname, TaskBrief};

/// One utterance of the callee, normalised for matching.
pub(super) struct Heard {
    /// Lower case, no whitespace, no punctuation, no fillers.
    core: String,
    /// Whether it was punctuated as a question.
    question_mark: bool,
    /// Whether it had an `哦`-like particle (a bare `哦` is an "I see").
    oh: bool,
}

/// How an answer to `请问是张总吗？` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Identity {
    /// `是我` / `对` / the callee's name.
    ItIsMe,
    /// `嗯` / `你说` / `什么事`.
    GoOn,
    /// `不是` / `打错了`.
    NotMe,
    /// Someone answering for the callee (`他不在`, `我是他秘书`).
    SomeoneElse,
    /// Anything else.
    Unclear,
}

impl Heard {
    pub(super) fn new(text: &str) -> Heard {
        let lower = text.to_lowercase();
        let question_mark = lower.contains(['？', '?']);
        let oh = lower.contains(['哦', '噢', '喔']);
        let chars: Vec<char> = lower.chars().filter(|c| !c.is_whitespace()).collect();
        let digit_at = |i: Option<usize>| i.and_then(|i| chars.get(i)).is_some_and(char::is_ascii_digit);
        let mut core = String::with_capacity(lower.len());
        for (i, &c) in chars.iter().enumerate() {
            // The colon of a clock time (15:30) is part of the time.
            if matches!(c, ':' | '：') && digit_at(i.checked_sub(1)) && digit_at(Some(i + 1)) {
                core.push(':');
            } else if !is_punct(c) && !FILLERS.contains(c) {
                core.push(c);
            }
        }
        Heard { core, question_mark, oh }
    }

    fn has(&self, words: &[&str]) -> bool {
        words.iter().any(|w| self.core.contains(w))
    }

    /// Nothing but particles (or nothing at all).
    pub(super) fn is_empty(&self) -> bool {
        self.core.is_empty()
    }

    /// A bare `哦` (`I see`).
    pub(super) fn is_oh(&self) -> bool {
        self.core.is_empty() && self.oh && !self.question_mark
    }

    pub(super) fn opts_out(&self) -> bool {
        let core = self.core.strip_prefix('我').unwrap_or(&self.core);
        let no_need =
            core.strip_prefix("不需要").is_some_and(|rest| ["", "了", "谢谢", "了谢谢", "谢了"].contains(&rest));
        no_need || self.has(OPT_OUT)
    }

    /// Busy; `before_content` also counts `不方便` / `没空`.
    pub(super) fn is_busy(&self, before_content: bool) -> bool {
        self.has(BUSY) || (before_content && self.has(BUSY_BEFORE_CONTENT))
    }

    pub(super) fn asks_who(&self) -> bool {
        self.core == "谁" || self.has(WHO)
    }

    pub(super) fn is_injection(&self) -> bool {
        self.has(INJECTION)
    }

    pub(super) fn asks_repeat(&self) -> bool {
        // `说什么事` asks what it is about, not to hear it again.
        let core = self.core.replace("什么事", "").replace("啥事", "");
        let bare = ["", "什么", "啥", "嗯", "什么什么"].contains(&core.as_str());
        (bare && (self.question_mark || core.starts_with(['什', '啥'])))
            || REPEAT.iter().any(|w| core.contains(w))
            || (core.chars().count() <= 6 && NOT_UNDERSTOOD.iter().any(|w| core.contains(w)))
    }

    pub(super) fn can_hear(&self) -> bool {
        self.has(CAN_HEAR) || self.has(&["在的", "在呢", "我在"])
    }

    /// How this answers `请问是{callee}吗？`.
    pub(super) fn identity(&self, brief: &TaskBrief) -> Identity {
        // `是不是` is a question, not a denial.
        let core = self.core.replace("是不是", "");
        let has = |words: &[&str]| words.iter().any(|w| core.contains(w));
        if has(NOT_ME) || self.names_someone_else(brief) == Some(true) {
            return Identity::NotMe;
        }
        let third_person = core.replace("其他", "").replace("其她", "").contains(['他', '她']);
        if third_person || has(SOMEONE_ELSE) || self.claims_to_belong() {
            return Identity::SomeoneElse;
        }
        // `哪个张总？` says the name without saying yes.
        let named = brief.callee.as_deref().is_some_and(|c| core.contains(c)) && !self.has_question_word();
        let it_is_me = has(IT_IS_ME)
            || core.ends_with("我是")
            || named
            || self.names_someone_else(brief) == Some(false)
            || (brief.callee.is_none() && has(MY_NUMBER));
        if it_is_me {
            Identity::ItIsMe
        } else if has(GO_ON) || core == "在" {
            Identity::GoOn
        } else {
            Identity::Unclear
        }
    }

    /// After `我是` / `我姓` / `我叫`, a family name: `Some(true)` when it is
    /// not the callee's, `Some(false)` when it is, `None` when there is no
    /// name or nothing to compare with.
    fn names_someone_else(&self, brief: &TaskBrief) -> Option<bool> {
        let expected = brief.callee_surname()?;
        for marker in ["我姓", "我是", "我叫", "这里是", "这是"] {
            let Some(idx) = self.core.find(marker) else { continue };
            let after = &self.core[idx + marker.len()..];
            let after = after.strip_prefix('小').or_else(|| after.strip_prefix('老')).unwrap_or(after);
            if let Some((sn, _)) = surname(after) {
                return Some(sn != expected);
            }
        }
        None
    }

    /// `我是张总的秘书`: someone who belongs to the callee.
    fn claims_to_belong(&self) -> bool {
        // `我是的` is a yes: the 的 must follow a name.
        self.core.find("我是").is_some_and(|i| {
            self.core[i + "我是".len()..].chars().take(6).position(|c| c == '的').is_some_and(|p| p > 0)
        })
    }

    pub(super) fn acknowledges(&self) -> bool {
        let core = self.core.replace("不好意思", "");
        let ack = ACK.iter().any(|w| core.contains(w)) || ACK_AT_START.iter().any(|w| core.starts_with(w));
        ack && !NOT_ACK.iter().any(|w| core.contains(w))
    }

    /// Starts with an acknowledgement (`好的？` is still a yes, `你知道吗` is not).
    pub(super) fn starts_with_ack(&self) -> bool {
        ACK.iter().chain(ACK_AT_START).any(|w| self.core.starts_with(w))
    }

    /// `9点？` / `是明天上午吗`: part of the content said back as a question.
    pub(super) fn echoes(&self, content: &str) -> bool {
        let mut core = self.core.as_str();
        for end in ["是吧", "对吧", "是吗", "对吗", "吗", "吧", "啊"] {
            core = core.strip_suffix(end).unwrap_or(core);
        }
        for start in ["你说的是", "您说的是", "你是说", "您是说", "说的是", "是说", "是"] {
            if let Some(rest) = core.strip_prefix(start) {
                core = rest;
                break;
            }
        }
        core.chars().count() >= 2 && content.contains(core)
    }

    pub(super) fn asks_whom(&self) -> bool {
        self.has(LOOKING_FOR)
    }

    pub(super) fn declines(&self) -> bool {
        let core = self.core.replace("不好意思", "").replace("不客气", "").replace("不错", "");
        DECLINE.iter().any(|w| core.contains(w))
    }

    pub(super) fn closes(&self) -> bool {
        self.has(CLOSING)
    }

    /// `没有` / `没了` after `还有别的问题吗？`.
    pub(super) fn nothing_more(&self) -> bool {
        self.core.starts_with('没') || ["不用", "不用了", "没有", "就这些"].contains(&self.core.as_str())
    }

    /// `没有` / `没听清` after `您清楚了吗？`, but not `没问题`.
    pub(super) fn starts_with_no(&self) -> bool {
        self.core.starts_with('没') && !self.has(&["没问题", "没事", "没关系"])
    }

    /// A question with a question word (`在哪开？`), not just a rising `好的？`.
    pub(super) fn has_question_word(&self) -> bool {
        let core = self.core.replace("没什么", "").replace("没啥", "").replace("不怎么", "");
        QUESTION.iter().any(|w| core.contains(w))
    }

    pub(super) fn is_question(&self) -> bool {
        self.question_mark || self.has_question_word() || self.core.ends_with(['吗', '么'])
    }

    pub(super) fn asks_when(&self) -> bool {
        self.has(WHEN)
    }

    pub(super) fn adds_info(&self) -> bool {
        self.has(ADDS_INFO)
    }

    /// The time in a callback request (`下午三点`, `半个小时后`), as it can
    /// follow `那我…再联系您`.
    pub(super) fn callback_time(&self) -> Option<String> {
        let core = self.core.as_str();
        let mut found = String::new();
        let mut pos = 0;
        while pos < core.len() {
            match time_atom(&core[pos..]) {
                Some((said, len)) => {
                    found.push_str(&said);
                    pos += len;
                }
                None if !found.is_empty() => break,
                None => pos += core[pos..].chars().next().map_or(1, char::len_utf8),
            }
        }
        (!found.is_empty()).then_some(found)
    }
}

fn is_numeral(c: char) -> bool {
    c.is_ascii_digit() || "零〇一二两三四五六七八九十".contains(c)
}

/// Byte length of the numerals at the start of `s`.
fn numerals(s: &str) -> usize {
    s.find(|c: char| !is_numeral(c)).unwrap_or(s.len())
}

/// One piece of a time at the start of `s`: what to say and how much of `s`
/// it took.
fn time_atom(s: &str) -> Option<(String, usize)> {
    let word = CALLBACK_TIMES.iter().filter(|w| s.starts_with(**w)).max_by_key(|w| w.len());
    if let Some(w) = word {
        return Some(((*w).to_owned(), w.len()));
    }
    let n = numerals(s);
    let rest = &s[n..];
    // 3点 / 三点半 / 三点十分 / 3点30
    if n > 0 {
        if let Some(after) = rest.strip_prefix('点') {
            let mut len = n + '点'.len_utf8();
            if after.starts_with('半') {
                len += '半'.len_utf8();
            } else if after.starts_with("一刻") {
                len += "一刻".len();
            } else {
                let m = numerals(after);
                if m > 0 {
                    len += m;
                    if after[m..].starts_with('分') {
                        len += '分'.len_utf8();
                    }
                }
            }
            return Some((s[..len].to_owned(), len));
        }
        // 15:00
        if let Some(after) = rest.strip_prefix(':') {
            let m = numerals(after);
            if m > 0 {
                let len = n + 1 + m;
                return Some((s[..len].to_owned(), len));
            }
        }
    }
    // 半个小时 / 十分钟 / 两个小时以后: a delay, said with 后.
    let amount = if n > 0 {
        n
    } else if s.starts_with('半') {
        '半'.len_utf8()
    } else {
        0
    };
    if amount > 0 {
        let after = &s[amount..];
        let after_ge = after.strip_prefix('个').unwrap_or(after);
        let ge = after.len() - after_ge.len();
        if let Some(unit) = ["小时", "钟头", "分钟"].iter().find(|u| after_ge.starts_with(**u)) {
            let mut len = amount + ge + unit.len();
            let tail = &s[len..];
            if let Some(suffix) = ["以后", "之后", "后"].iter().find(|x| tail.starts_with(**x)) {
                len += suffix.len();
            }
            let said = format!("{}{}后", &s[..amount + ge], unit);
            return Some((said, len));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brief(task: &str) -> TaskBrief {
        TaskBrief::parse(task)
    }

    #[test]
    fn identity_answers() {
        let b = brief("通知张总明天上午9点开会");
        let id = |s: &str| Heard::new(s).identity(&b);
        assert_eq!(id("对，是我"), Identity::ItIsMe);
        assert_eq!(id("是我啊"), Identity::ItIsMe);
        assert_eq!(id("嗯嗯"), Identity::GoOn);
        assert_eq!(id("你说"), Identity::GoOn);
        assert_eq!(id("什么事"), Identity::GoOn);
        assert_eq!(id("我是张总"), Identity::ItIsMe);
        assert_eq!(id("我姓张"), Identity::ItIsMe);
        assert_eq!(id("不是，你打错了"), Identity::NotMe);
        assert_eq!(id("我姓李"), Identity::NotMe);
        assert_eq!(id("我是李总"), Identity::NotMe);
        assert_eq!(id("他不在，我是他秘书"), Identity::SomeoneElse);
        assert_eq!(id("我是张总的秘书，你跟我说就行"), Identity::SomeoneElse);
        assert_eq!(id("我是张总的司机"), Identity::SomeoneElse);
        assert_eq!(id("我是的"), Identity::ItIsMe);
        assert_eq!(id("你好"), Identity::Unclear);
        assert_eq!(id("喂"), Identity::Unclear);
        assert_eq!(id("哪个张总？"), Identity::Unclear);
        assert_eq!(id("张总是我，什么事"), Identity::ItIsMe);
    }

    #[test]
    fn callback_times() {
        let t = |s: &str| Heard::new(s).callback_time();
        assert_eq!(t("我在开会，你下午三点再打吧").as_deref(), Some("下午三点"));
        assert_eq!(t("明天上午10点半再说").as_deref(), Some("明天上午10点半"));
        assert_eq!(t("过半个小时再打").as_deref(), Some("半个小时后"));
        assert_eq!(t("十分钟以后再打过来").as_deref(), Some("十分钟后"));
        assert_eq!(t("15:30以后再打").as_deref(), Some("15:30"));
        assert_eq!(t("在开会呢").as_deref(), None);
    }

    #[test]
    fn repeat_requests() {
        for s in ["啊？", "什么？", "喂？", "你说什么", "没听清", "再说一遍", "没听明白", "嗯?"]
        {
            assert!(Heard::new(s).asks_repeat(), "{s}");
        }
        for s in ["什么事", "你说", "好的", "是我，什么事啊"] {
            assert!(!Heard::new(s).asks_repeat(), "{s}");
        }
    }

    #[test]
    fn acknowledgements_and_declines() {
        for s in ["好的", "可以", "知道了", "行", "没问题", "收到", "嗯嗯好", "是的", "对对对"] {
            let h = Heard::new(s);
            assert!(h.acknowledges() && !h.declines(), "{s}");
        }
        for s in ["不行", "明天去不了", "不可以", "我没空"] {
            let h = Heard::new(s);
            assert!(h.declines() && !h.acknowledges(), "{s}");
        }
        assert!(!Heard::new("你说的是明天吗").acknowledges());
        assert!(Heard::new("9点？").echoes("明天上午9点开会"));
        assert!(Heard::new("是明天上午吗").echoes("明天上午9点开会"));
        assert!(Heard::new("你说的是明天吗").echoes("明天上午9点开会"));
        assert!(!Heard::new("后天行吗").echoes("明天上午9点开会"));
    }

    #[test]
    fn opt_outs() {
        for s in ["别再打了", "不需要", "不需要了，谢谢", "以后不要给我打电话", "骚扰电话吧"]
        {
            assert!(Heard::new(s).opts_out(), "{s}");
        }
        assert!(!Heard::new("不需要带什么东西吧").opts_out());
    }
}
