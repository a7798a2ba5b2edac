//! What a simulated callee recognises in the AI's lines.
//!
//! The lines come from an offline rules engine or from an LLM, so the cues
//! are short phrases that survive rewording (`请问是张总吗` and `请问您是张总本人吗`
//! both ask who the callee is) rather than whole sentences.

/// Asking who the callee is (rule 2 of the conversation design).
const IDENTITY: &[&str] = &["请问是", "请问您是", "请问你是", "是不是", "是否是", "本人吗", "电话吗", "号码吗"];
/// Ending the call (rule 7).
const GOODBYE: &[&str] = &["再见", "拜拜", "不打扰", "先挂了", "挂了啊"];
/// Checking the line after silence.
const HEARING_CHECK: &[&str] = &["能听到吗", "听得到吗", "听得见吗", "能听见吗", "听到我说话吗", "还在吗"];
/// "Anything else?" at the end of a task.
const CLOSING_QUESTION: &[&str] = &["还有别的", "还有什么问题", "有什么问题吗", "有没有问题", "其他问题", "还有什么需要"];
/// Questions that want a fact, not a yes.
const OPEN_QUESTION: &[&str] = &["什么时候", "几点", "哪天", "哪里", "哪儿", "多少", "怎么", "哪个", "为什么", "什么"];
/// The AI introducing itself.
const INTRO: &[&str] = &["我是", "助理"];

/// What one heard turn (or line) contains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cues {
    /// Asks whether this is the right person.
    pub(crate) identity: bool,
    /// Says goodbye.
    pub(crate) goodbye: bool,
    /// Only checks whether the callee can hear (`喂，能听到吗？`).
    pub(crate) hearing_check: bool,
    /// Asks whether there is anything else.
    pub(crate) closing_question: bool,
    /// Asks something (`吗`, `？`).
    pub(crate) question: bool,
    /// Asks for a fact (`几点`, `哪里`).
    pub(crate) open_question: bool,
    /// Only introduces the caller, nothing to answer yet.
    pub(crate) intro_only: bool,
}

impl Cues {
    /// Reads the cues in `text`.
    pub(crate) fn of(text: &str) -> Cues {
        let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
        let spoken = spoken_len(text);
        let trimmed = text.trim_end();
        let question = text.contains('？') || text.contains('?') || trimmed.ends_with('吗') || trimmed.ends_with('呢');
        let identity = has(IDENTITY) || ((text.contains("您是") || text.contains("你是")) && text.contains('吗')) || is_someone_question(text);
        Cues {
            identity,
            goodbye: has(GOODBYE),
            hearing_check: has(HEARING_CHECK) && spoken <= 12,
            closing_question: has(CLOSING_QUESTION),
            question,
            open_question: question && has(OPEN_QUESTION),
            intro_only: !identity && !question && has(INTRO) && spoken <= 24,
        }
    }

    /// Whether the text carries something to act on: not a goodbye, a line
    /// check or a bare introduction.
    pub(crate) fn is_content(&self) -> bool {
        !self.goodbye && !self.hearing_check && !self.intro_only
    }
}

/// `…是<a name>吗`: a callee hearing the AI through speech recognition gets
/// the name wrong (张总 as 长沼) but still hears who is being asked for.
fn is_someone_question(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().any(|(i, &c)| {
        c == '是' && chars[i + 1..].iter().take(6).position(|&d| d == '吗').is_some_and(|gap| gap >= 1 && chars[i + 1..i + 1 + gap].iter().all(|c| c.is_alphanumeric()))
    })
}

/// Characters that take speaking time and carry meaning (no punctuation or
/// spaces).
pub(crate) fn spoken_len(text: &str) -> usize {
    text.chars().filter(|c| c.is_alphanumeric()).count()
}

/// Whether a turn sounds finished: it ends on a full stop, a question or an
/// exclamation rather than a comma or mid-clause (the AI may still be
/// composing its next sentence).
pub(crate) fn sounds_finished(text: &str) -> bool {
    text.trim_end().chars().last().is_some_and(|c| "。！？!?.…~；;".contains(c))
}

/// Whether `b` says mostly what `a` said (a repeat in other words): the
/// share of `b`'s character pairs that also occur in `a`.
pub(crate) fn mostly_repeats(a: &str, b: &str) -> bool {
    let pairs = |s: &str| {
        let chars: Vec<char> = s.chars().filter(|c| c.is_alphanumeric()).collect();
        chars.windows(2).map(|w| (w[0], w[1])).collect::<std::collections::HashSet<_>>()
    };
    let (pa, pb) = (pairs(a), pairs(b));
    if pa.len() < 4 || pb.len() < 4 {
        return false;
    }
    let shared = pb.intersection(&pa).count();
    shared * 10 >= pb.len() * 6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_questions_in_several_wordings() {
        for line in [
            "喂，您好，我是王经理的 AI 助理，请问是张总吗？",
            "您好，请问您是张总本人吗？",
            "你好，是不是李女士？",
            "请问这是陈老师的电话吗？",
            "您是王先生吗",
        ] {
            assert!(Cues::of(line).identity, "{line}");
        }
        assert!(!Cues::of("张总您好，明天上午9点开会，您看可以吗？").identity);
        // As heard through speech recognition: the name is wrong, the question is not.
        assert!(Cues::of("您好我是爱朱利。天文是长沼吗。").identity);
        assert!(!Cues::of("我是助理。您看可以吗").identity);
    }

    #[test]
    fn goodbyes_and_line_checks() {
        assert!(Cues::of("好的，那不打扰您了，再见！").goodbye);
        assert!(Cues::of("不好意思，打扰您了，再见。").goodbye);
        assert!(!Cues::of("打扰一下，请问是张总吗？").goodbye);
        assert!(Cues::of("喂，您好，能听到吗？").hearing_check);
        assert!(!Cues::of("喂，您好，能听到吗？我是王经理的助理，明天上午九点开会，请准时参加。").hearing_check);
    }

    #[test]
    fn questions_open_and_closed() {
        let c = Cues::of("您看时间可以吗？");
        assert!(c.question && !c.open_question);
        assert!(Cues::of("您什么时候方便？").open_question);
        assert!(Cues::of("请问还有别的问题吗？").closing_question);
        assert!(!Cues::of("明天上午9点开会。").question);
    }

    #[test]
    fn a_bare_introduction_is_not_content() {
        assert!(Cues::of("喂，您好，我是王经理的 AI 助理。").intro_only);
        assert!(!Cues::of("喂，您好，我是王经理的 AI 助理。").is_content());
        assert!(Cues::of("张总您好，我是王经理的助理，王经理让我通知您明天上午9点开会。").is_content());
    }

    #[test]
    fn finished_turns_end_on_a_stop() {
        assert!(sounds_finished("请问是张总吗？"));
        assert!(sounds_finished("好的。 "));
        assert!(!sounds_finished("喂，您好，"));
        assert!(!sounds_finished("我是王经理的助理"));
    }

    #[test]
    fn repeats_are_recognised_despite_small_changes() {
        let first = "张总您好，王经理让我通知您，明天上午9点有个会议，请您准时参加。";
        assert!(mostly_repeats(first, "好的，我再说一遍：明天上午9点有个会议，请您准时参加。"));
        assert!(!mostly_repeats(first, "好的，那不打扰您了，再见！"));
    }
}
