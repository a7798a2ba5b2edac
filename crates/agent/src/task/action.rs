//! The task's sentence: what the call is for (its verb), whom it is for
//! (the callee after the verb or a preposition), and what to say.

use super::names::parse_name;
use super::text::{is_punct, skip_punct};
use super::time::starts_with_time;

/// What the call is for, as the task's verb says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// 通知: a notice (the default when the task has no verb).
    Notify,
    /// 提醒 / 催: a reminder.
    Remind,
    /// 告诉 / 跟…说 / 告知: a message.
    Tell,
    /// 转告 / 转达: a message passed on from someone.
    Relay,
    /// 邀请: an invitation.
    Invite,
    /// 问 / 询问 / 确认: a question whose answer goes back to the principal.
    Ask,
}

impl Purpose {
    /// The verb an engine says after `让我` (`王经理让我通知您`).
    pub fn verb(self) -> &'static str {
        match self {
            Purpose::Notify => "通知",
            Purpose::Remind => "提醒",
            Purpose::Tell => "告诉",
            Purpose::Relay => "转告",
            Purpose::Invite => "邀请",
            Purpose::Ask => "问一下",
        }
    }
}

/// What the task's sentence structure gave.
pub(super) struct Action<'a> {
    pub(super) purpose: Purpose,
    pub(super) callee: Option<String>,
    pub(super) content: &'a str,
}

/// Words that start the action once the principal is set aside.
#[rustfmt::skip]
pub(super) const ACTION_STARTS: &[&str] = &[
    "通知", "提醒", "告诉", "告知", "转告", "转达", "邀请", "问问", "问一下", "询问", "确认", "催", "给", "跟", "和",
    "对", "向", "打电话", "打个电话", "打给", "联系", "致电",
];

/// Politeness and call words in front of the verb (`麻烦帮我打电话通知...`).
pub(super) fn strip_polite(mut s: &str) -> &str {
    #[rustfmt::skip]
    const POLITE: &[&str] = &[
        "麻烦你", "麻烦您", "麻烦", "请你", "请您", "请帮我", "请帮忙", "帮我", "帮忙", "你帮我", "您帮我", "替我",
        "代我", "给我", "你去", "你", "请", "打一个电话", "打个电话", "打一下电话", "打电话", "去",
    ];
    loop {
        let before = s;
        s = skip_punct(s);
        for p in POLITE {
            if let Some(rest) = s.strip_prefix(p) {
                // `去` and `你` alone only count in front of a verb (not 去年, 你们),
                // and `打电话给` is the verb itself.
                let single = *p == "去" || *p == "你" || *p == "请";
                let call_to = p.starts_with('打') && rest.starts_with('给');
                if !call_to && (!single || ACTION_STARTS.iter().any(|v| rest.starts_with(v))) {
                    s = rest;
                    break;
                }
            }
        }
        if s == before {
            return s;
        }
    }
}

/// Verbs a task starts with, longest first.
#[rustfmt::skip]
const LEAD_VERBS: &[(&str, Purpose)] = &[
    ("通知", Purpose::Notify), ("提醒", Purpose::Remind), ("催促", Purpose::Remind), ("催一下", Purpose::Remind),
    ("催", Purpose::Remind), ("告诉", Purpose::Tell), ("告知", Purpose::Tell), ("知会", Purpose::Tell),
    ("转告", Purpose::Relay), ("转达", Purpose::Relay), ("邀请", Purpose::Invite), ("问一下", Purpose::Ask),
    ("问问", Purpose::Ask), ("询问", Purpose::Ask), ("确认一下", Purpose::Ask), ("确认", Purpose::Ask),
    ("问", Purpose::Ask), ("打给", Purpose::Notify), ("打电话给", Purpose::Notify), ("打个电话给", Purpose::Notify),
    ("打一个电话给", Purpose::Notify), ("致电", Purpose::Notify), ("呼叫", Purpose::Notify),
    ("联系一下", Purpose::Notify), ("联系", Purpose::Notify),
];

pub(super) fn parse_action(s: &str) -> Action<'_> {
    // 通知张总明天上午9点开会
    for (verb, purpose) in LEAD_VERBS {
        let Some(after) = s.strip_prefix(verb) else { continue };
        if *verb == "问" && after.starts_with('题') {
            continue;
        }
        let after = skip_measure(after);
        let (callee, rest) = take_callee(after);
        let rest = after_callee(rest);
        let (purpose, content) = sub_verb(rest, *purpose);
        return Action { purpose, callee, content };
    }
    // 给陈老师打电话，说...  /  跟张总说一声...
    for prep in ["给", "跟", "和", "对", "同", "向"] {
        let Some(after) = s.strip_prefix(prep) else { continue };
        let (callee, rest) = take_callee(after);
        let purpose = if rest.starts_with("确认") || rest.starts_with("问") {
            Purpose::Ask
        } else if rest.starts_with("转告") || rest.starts_with("转达") {
            Purpose::Relay
        } else {
            Purpose::Tell
        };
        #[rustfmt::skip]
        const LINKS: &[&str] = &[
            "打一个电话", "打个电话", "打电话", "打一下电话", "确认一下", "确认", "转告", "转达", "带个话", "带句话",
            "捎个话", "问一下", "问问", "说一下", "说一声", "讲一下", "讲一声", "说", "讲",
        ];
        if let Some(link) = LINKS.iter().find(|l| rest.starts_with(**l)) {
            let rest = after_callee(&rest[link.len()..]);
            let purpose = if link.starts_with('打') { Purpose::Notify } else { purpose };
            let (purpose, content) = sub_verb(rest, purpose);
            return Action { purpose, callee, content };
        }
    }
    // 张总，明天上午9点开会
    if let Some((name, rest)) = parse_name(s) {
        if rest.starts_with(is_punct) {
            let (purpose, content) = sub_verb(after_callee(rest), Purpose::Notify);
            return Action { purpose, callee: Some(name), content };
        }
    }
    Action { purpose: Purpose::Notify, callee: None, content: s }
}

/// `一下` / `一声` / `下` between a verb and its object (`提醒下王先生`),
/// but not the `下` of `下周`.
fn skip_measure(s: &str) -> &str {
    for m in ["一下", "一声"] {
        if let Some(rest) = s.strip_prefix(m) {
            return rest;
        }
    }
    if let Some(rest) = s.strip_prefix('下') {
        if !starts_with_time(s)
            && !["午", "周", "个", "次", "班", "星期", "月", "礼拜"].iter().any(|w| rest.starts_with(w))
        {
            return rest;
        }
    }
    s
}

/// Roles written before a name (`业主王先生`) or instead of one.
#[rustfmt::skip]
const ROLES: &[&str] = &[
    "学生家长", "客户", "业主", "家长", "用户", "会员", "员工", "同事", "同学", "学员", "学生", "病人", "患者", "租户",
    "顾客", "车主", "房东", "老板", "领导", "朋友", "邻居", "亲戚", "候选人", "应聘者", "面试者", "供应商", "爸爸",
    "妈妈", "老婆", "老公", "爱人", "媳妇", "儿子", "女儿", "哥哥", "姐姐", "弟弟", "妹妹", "爷爷", "奶奶", "外公",
    "外婆", "姥姥", "姥爷", "家人", "妈", "爸",
];

/// Roles that are a fine way to address someone when no name is given.
const ADDRESSABLE_ROLES: &[&str] = &["房东", "老板"];

/// The callee at the start of `s`, if any, and the rest. A pronoun or a
/// bare role is consumed without giving a name.
fn take_callee(s: &str) -> (Option<String>, &str) {
    for p in ["他", "她"] {
        if let Some(rest) = s.strip_prefix(p) {
            if !rest.starts_with('们') {
                return (None, rest);
            }
        }
    }
    let mut t = s;
    for mine in ["我的", "我们的", "我"] {
        if let Some(rest) = t.strip_prefix(mine) {
            if ROLES.iter().any(|r| rest.starts_with(r)) {
                t = rest;
                break;
            }
        }
    }
    let role = ROLES.iter().find(|r| t.starts_with(**r)).copied();
    if let Some(r) = role {
        t = &t[r.len()..];
    }
    if let Some((name, rest)) = parse_name(t) {
        // `通知张总的秘书…`: the name is whose, not whom.
        if rest.starts_with('的') {
            return (None, s);
        }
        return (Some(name), rest);
    }
    match role {
        Some(r) if ADDRESSABLE_ROLES.contains(&r) => (Some(r.to_owned()), t),
        Some(_) => (None, t),
        None => (None, s),
    }
}

/// What may sit between the callee and the content (`，` `一下` `说`).
fn after_callee(s: &str) -> &str {
    #[rustfmt::skip]
    const LINKS: &[&str] = &[
        "打一个电话", "打个电话", "打电话", "打一下电话", "说一下", "说一声", "讲一下", "讲一声", "一下", "一声", "说",
        "讲",
    ];
    let mut t = s;
    loop {
        let before = t;
        t = skip_punct(t);
        if let Some(link) = LINKS.iter().find(|l| t.starts_with(**l)) {
            t = &t[link.len()..];
        }
        if t == before {
            return t;
        }
    }
}

/// A second verb after the callee (`给张三打个电话，提醒他明天交房租`): it
/// says what the call is for, and goes with its pronoun.
fn sub_verb(s: &str, purpose: Purpose) -> (Purpose, &str) {
    #[rustfmt::skip]
    const SUB_VERBS: &[(&str, Purpose)] = &[
        ("跟他说", Purpose::Tell), ("跟她说", Purpose::Tell), ("和他说", Purpose::Tell), ("和她说", Purpose::Tell),
        ("对他说", Purpose::Tell), ("对她说", Purpose::Tell), ("通知", Purpose::Notify), ("提醒", Purpose::Remind),
        ("告诉", Purpose::Tell), ("告知", Purpose::Tell), ("转告", Purpose::Relay), ("转达", Purpose::Relay),
        ("邀请", Purpose::Invite), ("问一下", Purpose::Ask), ("问问", Purpose::Ask), ("询问", Purpose::Ask),
        ("确认一下", Purpose::Ask), ("确认", Purpose::Ask),
    ];
    for (verb, p) in SUB_VERBS {
        if let Some(rest) = s.strip_prefix(verb) {
            let rest = ["他", "她", "您"].iter().find_map(|w| rest.strip_prefix(w)).unwrap_or(rest);
            return (*p, after_callee(skip_measure(rest)));
        }
    }
    (purpose, s)
}
