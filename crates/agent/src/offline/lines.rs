//! What the offline engine says: every line, built from the task's brief.
//!
//! Lines are short spoken sentences. Only [`delivery`] and [`repeat`] carry
//! the content; every line said before the callee is confirmed is built
//! without it, so a wrong person cannot hear a hint of it.

use crate::task::{Purpose, TaskBrief};

/// What marks the contact-only line of a task with nothing beyond a name.
const NO_CONTENT: &str = "让我跟您联系一下";

/// The content as said on the call; the engine also looks for it in what
/// was played to know whether it reached the callee.
pub(super) fn message(b: &TaskBrief) -> &str {
    if b.content.is_empty() {
        NO_CONTENT
    } else {
        &b.content
    }
}

/// `我是王经理的 AI 助理` / `我是 AI 助理`.
fn i_am(b: &TaskBrief) -> String {
    match &b.principal {
        Some(p) => format!("我是{p}的 AI 助理"),
        None => "我是 AI 助理".to_owned(),
    }
}

/// `请问您是张总吗？`, or the neutral question when nobody is named.
pub(super) fn identity_question(b: &TaskBrief) -> String {
    match &b.callee {
        Some(c) => format!("请问您是{c}吗？"),
        None => "请问您是这个号码的机主吗？".to_owned(),
    }
}

/// The first line: who is calling, then whom it is for.
pub(super) fn opening(b: &TaskBrief) -> String {
    match &b.callee {
        Some(c) => format!("喂，您好，{}，请问是{c}吗？", i_am(b)),
        None => format!("喂，您好，{}，有件事想跟机主本人说。请问您是这个号码的机主吗？", i_am(b)),
    }
}

/// Asking again after an answer that was neither yes nor no.
pub(super) fn ask_identity_again(b: &TaskBrief) -> String {
    format!("不好意思，我再确认一下，{}", identity_question(b))
}

/// Who is calling and for whom, for `你是谁` / `哪里打来的`.
pub(super) fn disclosure(b: &TaskBrief) -> String {
    match &b.principal {
        Some(p) => format!("我是 AI 助理，是替{p}给您打的电话。"),
        None => "我是 AI 助理，是受人委托给您打的电话。".to_owned(),
    }
}

/// The closing punctuation of the content.
fn end_mark(b: &TaskBrief) -> &'static str {
    if b.purpose == Purpose::Ask {
        "？"
    } else {
        "。"
    }
}

/// The question that checks the content landed.
pub(super) fn check(b: &TaskBrief) -> &'static str {
    match b.purpose {
        Purpose::Ask => "",
        _ if b.mentions_time() => "您看可以吗？",
        _ => "您清楚了吗？",
    }
}

/// The content, with who sends it, then the check. For a task with no
/// content it only says who wanted to get in touch, and says goodbye.
pub(super) fn delivery(b: &TaskBrief) -> String {
    let greet = match &b.callee {
        Some(c) => format!("{c}您好，"),
        None => "好的，".to_owned(),
    };
    if b.content.is_empty() {
        let who = b.principal.as_deref().unwrap_or("委托人");
        return format!("{greet}{who}{NO_CONTENT}。具体的事情我这边不太清楚，我会转告{who}已经联系上您了。{BYE}");
    }
    let msg = message(b);
    let intro = match (&b.principal, b.purpose) {
        (Some(p), purpose) => format!("{p}让我{}您", purpose.verb()),
        (None, Purpose::Notify) => "通知您一下".to_owned(),
        (None, Purpose::Remind) => "提醒您一下".to_owned(),
        (None, Purpose::Tell) => "跟您说一下".to_owned(),
        (None, Purpose::Relay) => "跟您转达一下".to_owned(),
        (None, Purpose::Invite) => "想邀请您".to_owned(),
        (None, Purpose::Ask) => "想问一下您".to_owned(),
    };
    // 邀请您参加… reads as one phrase; everything else takes a pause.
    let joined = b.purpose == Purpose::Invite && ["参加", "来", "出席", "到"].iter().any(|v| msg.starts_with(v));
    let sep = if joined { "" } else { "，" };
    format!("{greet}{intro}{sep}{msg}{}{}", end_mark(b), check(b))
}

/// The content again, saying it is a repeat.
pub(super) fn repeat(b: &TaskBrief) -> String {
    format!("好的，我再说一遍：{}{}{}", message(b), end_mark(b), check(b))
}

/// `9点？`: yes, and the content again.
pub(super) fn confirm_echo(b: &TaskBrief) -> String {
    format!("对，{}{}{}", message(b), end_mark(b), check(b))
}

/// `你找谁？`: whom, and the question again.
pub(super) fn looking_for(b: &TaskBrief) -> String {
    match &b.callee {
        Some(c) => format!("我找{c}，请问您是{c}本人吗？"),
        None => "我找这个号码的机主，请问您是机主本人吗？".to_owned(),
    }
}

/// Back to the content's check after an aside (`你是谁`).
pub(super) fn check_again(b: &TaskBrief) -> String {
    match b.purpose {
        Purpose::Ask => "刚才问您的事，您看呢？".to_owned(),
        _ => format!("刚才说的事，{}", check(b)),
    }
}

pub(super) const CAN_YOU_HEAR: &str = "喂，您好，能听到吗？";
pub(super) const UNKNOWN: &str = "这个我不太清楚，我会转告委托人。";
pub(super) const ANYTHING_ELSE: &str = "您还有别的问题吗？";
pub(super) const CANNOT_HELP: &str = "不好意思，这个我帮不了您。";
pub(super) const BYE: &str = "那先不打扰您了，再见！";
pub(super) const BYE_DELIVERED: &str = "好的，那不打扰您了，再见！";
pub(super) const BYE_PASS_ON: &str = "好的，您说的我会转告委托人。那不打扰您了，再见！";
pub(super) const BYE_DECLINED: &str = "好的，您的情况我会转告委托人。那不打扰您了，再见！";
pub(super) const BYE_ANSWERED: &str = "好的，您的回复我会转告委托人。那不打扰您了，再见！";
pub(super) const BYE_WRONG_PERSON: &str = "不好意思，打扰您了，再见。";
pub(super) const BYE_OPTED_OUT: &str = "不好意思，打扰您了。以后不会再给您打电话了，再见。";
pub(super) const BYE_SILENCE: &str = "您那边好像听不到，那我先挂了，再见。";
pub(super) const BYE_UNHEARD: &str = "可能信号不太好，那我先不打扰了，再见。";
pub(super) const BYE_TOO_LONG: &str = "不好意思，今天就先说到这里，不打扰您了，再见！";
pub(super) const BYE_AGAIN: &str = "再见。";

/// Someone answered for the callee: the content is for the callee alone.
pub(super) fn bye_someone_else(b: &TaskBrief) -> String {
    let who = b.callee.as_deref().unwrap_or("机主");
    format!("不好意思，这件事需要跟{who}本人说。打扰您了，再见。")
}

/// No yes after asking twice.
pub(super) fn bye_unconfirmed(b: &TaskBrief) -> String {
    let who = b.callee.as_deref().unwrap_or("机主");
    format!("不好意思，没能确认您是不是{who}本人，那我先不打扰了，再见。")
}

/// A call back, at the time the callee gave if any.
pub(super) fn bye_callback(when: Option<&str>) -> String {
    format!("好的，那我{}再联系您。不打扰您了，再见！", when.unwrap_or("晚点"))
}
