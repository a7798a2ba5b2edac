//! Reading a task: whom to call, on whose behalf, and what to tell them.
//!
//! A task (`user_requirement`) is one line of free Chinese text such as
//! `王经理让我通知张总明天上午9点开会`. [`TaskBrief::parse`] splits it into the
//! callee to confirm (`张总`), the principal to name (`王经理`), what the call
//! is for (通知) and the content to say (`明天上午9点开会`), so that an engine
//! can ask for the right person before saying anything and then say the
//! content in the task's own words. Parsing never fails: what it cannot
//! place stays in `content`, which is what matters most on the call.

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
        mentions_time(&self.content)
    }
}

/// Whether `text` carries a time or a deadline anywhere.
pub(crate) fn mentions_time(text: &str) -> bool {
    text.char_indices().any(|(i, _)| starts_with_time(&text[i..]))
        || ["前", "截止", "期限", "之内", "以内"].iter().any(|w| text.contains(w))
}

/// What the task's sentence structure gave.
struct Action<'a> {
    purpose: Purpose,
    callee: Option<String>,
    content: &'a str,
}

/// Markers after which clients put the task proper, below their rules.
const TASK_MARKERS: &[&str] = &["任务：", "任务:"];

/// The text after the last task marker that starts a line (or the text),
/// so `完成任务：...` inside a task is not taken for one.
fn task_part(text: &str) -> &str {
    let mut start = 0;
    for marker in TASK_MARKERS {
        for (idx, _) in text.match_indices(marker) {
            let before = text[..idx].trim_end_matches([' ', '\t', '\u{3000}']);
            let before = before.strip_suffix("本次").unwrap_or(before);
            let starts_line = before.is_empty() || before.ends_with(|c: char| c.is_whitespace() || is_punct(c));
            if starts_line {
                start = start.max(idx + marker.len());
            }
        }
    }
    text[start..].trim()
}

/// Full-width punctuation, no stray whitespace, lines joined as clauses.
/// ASCII `.`, `,` and `:` between digits (`9:30`, `3.5`, `1,000`) are kept.
fn normalize(text: &str) -> String {
    let chars: Vec<char> = text.trim().chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let prev = if i > 0 { chars.get(i - 1).copied() } else { None };
        let next = chars.get(i + 1).copied();
        let digits_around = prev.is_some_and(|p| p.is_ascii_digit()) && next.is_some_and(|n| n.is_ascii_digit());
        let mapped = match c {
            ',' if !digits_around => '，',
            ':' if !digits_around => '：',
            '.' if !digits_around => '。',
            ';' => '；',
            '!' => '！',
            '?' => '？',
            '(' => '（',
            ')' => '）',
            '\n' | '\r' => {
                if !out.is_empty() && !out.ends_with(is_punct) {
                    out.push('，');
                }
                continue;
            }
            c if c.is_whitespace() => {
                // A space only means something between two Latin words or numbers.
                let latin = |x: Option<char>| x.is_some_and(|x| x.is_ascii_alphanumeric());
                if latin(prev) && latin(next) {
                    out.push(' ');
                }
                continue;
            }
            c => c,
        };
        out.push(mapped);
    }
    out
}

pub(crate) fn is_punct(c: char) -> bool {
    "，。、：；！？…—～~（）【】「」“”‘’\"'《》,.:;!?".contains(c)
}

fn skip_punct(s: &str) -> &str {
    s.trim_start_matches(|c: char| is_punct(c) || c.is_whitespace())
}

fn trim_clause(s: &str) -> &str {
    skip_punct(s).trim_end_matches(|c: char| is_punct(c) || c.is_whitespace())
}

/// Words that start the action once the principal is set aside.
#[rustfmt::skip]
const ACTION_STARTS: &[&str] = &[
    "通知", "提醒", "告诉", "告知", "转告", "转达", "邀请", "问问", "问一下", "询问", "确认", "催", "给", "跟", "和",
    "对", "向", "打电话", "打个电话", "打给", "联系", "致电",
];

/// Who the call is made for, and the rest of the task.
fn split_principal(s: &str) -> (Option<String>, &str) {
    // 受张经理委托，提醒...
    if let Some(after) = s.strip_prefix('受') {
        for marker in ["的委托", "委托", "之托", "所托"] {
            if let Some(idx) = after.find(marker) {
                let who = clean_principal(&after[..idx]);
                if who.is_some() {
                    return (who, skip_punct(&after[idx + marker.len()..]));
                }
            }
        }
    }
    // 我是阳光物业的，通知...  /  我是王经理，...
    if let Some(after) = s.strip_prefix("我是") {
        if let Some(end) = after.find(['，', '。', '；']) {
            let clause = &after[..end];
            let who = clause.find('的').map_or(clause, |i| &clause[..i]);
            if let Some(who) = clean_principal(who) {
                return (Some(who), skip_punct(&after[end..]));
            }
        }
    }
    // 王经理让我通知...  /  王经理委托我...
    let markers = ["委托我", "让我", "叫我", "要我", "托我", "请我", "派我", "安排我", "吩咐我", "交代我", "交待我"];
    let found =
        markers.iter().filter_map(|m| s.find(m).map(|i| (i, *m))).min_by_key(|(i, m)| (*i, usize::MAX - m.len()));
    if let Some((idx, marker)) = found {
        let who = s[..idx].trim_start_matches('是').trim_start_matches('由');
        let plausible = s[..idx].chars().count() <= 16
            && !who.contains(is_punct)
            && !ACTION_STARTS.iter().any(|v| who.starts_with(v));
        if plausible {
            if let Some(who) = clean_principal(who) {
                return (Some(who), skip_punct(&s[idx + marker.len()..]));
            }
        }
    }
    // 替公司行政部通知...  /  代表物业...  /  以公司的名义...  /  帮王经理...
    if let Some(after) = s.strip_prefix("以") {
        if let Some(idx) = after.find("名义") {
            let who = after[..idx].trim_end_matches('的');
            if let Some(who) = clean_principal(who) {
                return (Some(who), skip_punct(&after[idx + "名义".len()..]));
            }
        }
    }
    for prefix in ["代表", "替", "代", "帮"] {
        let Some(after) = s.strip_prefix(prefix) else { continue };
        if ["我", "忙", "个忙", "一下"].iter().any(|w| after.starts_with(w)) {
            continue;
        }
        let verb_at = ACTION_STARTS.iter().filter_map(|v| after.find(v)).filter(|&i| i > 0).min();
        if let Some(idx) = verb_at {
            if let Some(who) = clean_principal(&after[..idx]) {
                return (Some(who), &after[idx..]);
            }
        }
    }
    (None, s)
}

/// A principal as it can be said in `我是…的 AI 助理`; `None` for the
/// writer themself or anything that is not a short name.
fn clean_principal(who: &str) -> Option<String> {
    let who = trim_clause(who).trim_end_matches('的');
    let n = who.chars().count();
    let is_self = ["我", "我们", "你", "您", "他", "她", "本人"].contains(&who);
    (n > 0 && n <= 16 && !is_self && !who.contains(is_punct)).then(|| who.to_owned())
}

/// Politeness and call words in front of the verb (`麻烦帮我打电话通知...`).
fn strip_polite(mut s: &str) -> &str {
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

fn parse_action(s: &str) -> Action<'_> {
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

/// Two-character family names, checked before the single ones.
#[rustfmt::skip]
const DOUBLE_SURNAMES: &[&str] = &[
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "慕容", "尉迟", "长孙", "宇文", "司徒", "夏侯", "公孙",
    "西门", "南宫", "端木", "独孤", "轩辕", "万俟", "呼延", "澹台",
];

/// Common family names. Characters that are mostly function words in a task
/// (和, 于, 向, 都, 来, 但, 由, 时) are left out on purpose.
const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥班储栗燕楚鄢劳谌奚皮粟冼蔺楼闻厉伊仝郜阚权帅屠朴盖练廉禹祖漆巴卿狄宣晋芮薄邸雍辜裘亓邰赫杭况宿逯隆茹诸慕嵇湛宾戎茅";

/// Titles that make a family name into a way to address someone, longest first.
#[rustfmt::skip]
const TITLES: &[&str] = &[
    "董事长", "总经理", "工程师", "副总", "先生", "女士", "小姐", "老师", "经理", "总监", "主任", "主管", "医生",
    "大夫", "护士", "律师", "会计", "老板", "师傅", "师父", "阿姨", "叔叔", "伯伯", "大爷", "大妈", "大姐", "大哥",
    "姐姐", "哥哥", "同学", "教授", "博士", "局长", "处长", "科长", "院长", "校长", "所长", "厂长", "部长", "队长",
    "组长", "班长", "站长", "行长", "店长", "社长", "村长", "镇长", "县长", "市长", "书记", "警官", "老总", "总", "董",
    "工", "姐", "哥", "叔", "姨", "导",
];

/// Characters that end a given name: a verb, a particle or a pronoun right
/// after the name (`通知王五来开会`).
const NAME_ENDERS: &str = "的他她您你说讲来去到把在要带交给开打回过别不再改请该能已有和跟让叫前后于将会是都也还就";

/// Words that end a given name: times, adverbs and verbs written after it.
const NAME_ENDING_WORDS: &[&str] =
    &["一下", "一声", "准时", "记得", "按时", "参加", "务必", "尽快", "马上", "及时", "提前", "抓紧", "关于", "明确"];

pub(crate) fn surname(s: &str) -> Option<(&str, &str)> {
    if let Some(d) = DOUBLE_SURNAMES.iter().find(|d| s.starts_with(**d)) {
        return Some((&s[..d.len()], &s[d.len()..]));
    }
    let c = s.chars().next()?;
    SURNAMES.contains(c).then(|| s.split_at(c.len_utf8()))
}

fn title_prefix(s: &str) -> Option<(&str, &str)> {
    TITLES.iter().find(|t| s.starts_with(**t)).map(|t| s.split_at(t.len()))
}

fn is_han(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// The first `n` characters of `s` as a possible given name, and the rest.
fn given_name(s: &str, n: usize) -> Option<(&str, &str)> {
    let end = s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
    let given = &s[..end];
    let ok = given.chars().count() == n
        && given.chars().all(|c| is_han(c) && !NAME_ENDERS.contains(c))
        && !starts_with_time(s);
    ok.then(|| s.split_at(end))
}

fn ends_name(rest: &str) -> bool {
    match rest.chars().next() {
        None => true,
        Some(c) => {
            is_punct(c)
                || c.is_ascii_digit()
                || NAME_ENDERS.contains(c)
                || starts_with_time(rest)
                || NAME_ENDING_WORDS.iter().any(|w| rest.starts_with(w))
        }
    }
}

/// A way to address someone at the start of `s` (`张总`, `王先生`, `小王`,
/// `王建国`, `张三老师`, `欧阳娜娜`) and the rest.
pub(crate) fn parse_name(s: &str) -> Option<(String, &str)> {
    if starts_with_time(s) || title_prefix(s).is_some() {
        return None;
    }
    for pre in ["小", "老"] {
        if let Some(rest) = s.strip_prefix(pre) {
            if let Some((sn, rest)) = surname(rest) {
                return Some((format!("{pre}{sn}"), rest));
            }
        }
    }
    let (sn, rest) = surname(s)?;
    if let Some((title, rest)) = title_prefix(rest) {
        return Some((format!("{sn}{title}"), rest));
    }
    for n in [2, 1] {
        if let Some((given, after)) = given_name(rest, n) {
            // One-character titles after a given name read words as names (全体员工).
            if let Some((title, after)) = title_prefix(after).filter(|(t, _)| t.chars().count() > 1) {
                return Some((format!("{sn}{given}{title}"), after));
            }
        }
    }
    for n in [2, 1] {
        if let Some((given, after)) = given_name(rest, n) {
            if ends_name(after) {
                return Some((format!("{sn}{given}"), after));
            }
        }
    }
    None
}

/// Words that say when, checked at the start of a text.
#[rustfmt::skip]
const TIME_WORDS: &[&str] = &[
    "大后天", "今天", "明天", "后天", "昨天", "今晚", "明晚", "今早", "明早", "今日", "明日", "今年", "明年", "下周",
    "本周", "这周", "上周", "下星期", "这星期", "下个", "本月", "下月", "周一", "周二", "周三", "周四", "周五", "周六",
    "周日", "周天", "周末", "星期", "礼拜", "上午", "下午", "中午", "晚上", "早上", "傍晚", "凌晨", "夜里", "半夜",
    "马上", "尽快", "立即", "现在", "月底", "月初", "年底",
];

fn is_numeral(c: char) -> bool {
    c.is_ascii_digit() || "零〇一二两三四五六七八九十百半几".contains(c)
}

/// Whether `s` starts with a time (`明天`, `周五`, `9点`, `三月`, `10号`).
pub(crate) fn starts_with_time(s: &str) -> bool {
    if TIME_WORDS.iter().any(|w| s.starts_with(w)) {
        return true;
    }
    // One kind of numeral at a time, so the 五 of 王五5点 is not read as a time.
    let ascii = s.starts_with(|c: char| c.is_ascii_digit());
    let digits_end = s.find(|c: char| !is_numeral(c) || c.is_ascii_digit() != ascii).unwrap_or(s.len());
    digits_end > 0
        && ["点", "号", "日", "月", "时", "分", "个小时", "小时", "天", "周", "年", ":", "："]
            .iter()
            .any(|u| s[digits_end..].starts_with(u))
}

/// Turns a task's third person into the second (`她的快递到了` -> `您的快递到了`,
/// `让他带上合同` -> `请您带上合同`); the writer's `我` becomes the principal.
fn second_person(s: &str, principal: Option<&str>) -> String {
    #[rustfmt::skip]
    const REWRITES: &[(&str, &str)] = &[
        ("他们", "他们"), ("她们", "她们"), ("你们", "你们"), ("我们", "我们"), ("其他", "其他"), ("其她", "其她"),
        ("自我", "自我"), ("让他", "请您"), ("让她", "请您"), ("叫他", "请您"), ("叫她", "请您"), ("请他", "请您"),
        ("请她", "请您"), ("要他", "请您"), ("要她", "请您"), ("他", "您"), ("她", "您"), ("你", "您"),
    ];
    let me = principal.unwrap_or("委托人");
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if let Some((from, to)) = REWRITES.iter().find(|(from, _)| rest.starts_with(from)) {
            out.push_str(to);
            rest = &rest[from.len()..];
        } else if c == '我' {
            out.push_str(me);
            rest = &rest[c.len_utf8()..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brief(task: &str) -> TaskBrief {
        TaskBrief::parse(task)
    }

    fn check(task: &str, callee: Option<&str>, principal: Option<&str>, content: &str) {
        let b = brief(task);
        assert_eq!(b.callee.as_deref(), callee, "callee of {task:?}: {b:?}");
        assert_eq!(b.principal.as_deref(), principal, "principal of {task:?}: {b:?}");
        assert_eq!(b.content, content, "content of {task:?}: {b:?}");
    }

    #[test]
    fn notice_with_title() {
        check("通知张总明天上午9点开会", Some("张总"), None, "明天上午9点开会");
        assert_eq!(brief("通知张总明天上午9点开会").purpose, Purpose::Notify);
    }

    #[test]
    fn reminder_to_mister() {
        check("提醒王先生周五前交材料", Some("王先生"), None, "周五前交材料");
        assert_eq!(brief("提醒王先生周五前交材料").purpose, Purpose::Remind);
    }

    #[test]
    fn third_person_becomes_second() {
        check("告诉李女士她的快递到了", Some("李女士"), None, "您的快递到了");
        check("告诉王先生他儿子今天下午在学校发烧了", Some("王先生"), None, "您儿子今天下午在学校发烧了");
    }

    #[test]
    fn call_then_say() {
        check("给陈老师打电话，说家长会改到下周三", Some("陈老师"), None, "家长会改到下周三");
        check("给张三打个电话，提醒他明天交房租", Some("张三"), None, "明天交房租");
        assert_eq!(brief("给张三打个电话，提醒他明天交房租").purpose, Purpose::Remind);
    }

    #[test]
    fn let_him_becomes_please() {
        check("打电话给小王，让他明天带上合同", Some("小王"), None, "请您明天带上合同");
    }

    #[test]
    fn nobody_named() {
        check("通知明天上午9点开会", None, None, "明天上午9点开会");
        check("明天上午9点在三楼会议室开会", None, None, "明天上午9点在三楼会议室开会");
        check("通知他明天下午两点来面试", None, None, "明天下午两点来面试");
    }

    #[test]
    fn principal_who_asked() {
        check("王经理让我通知张总明天上午9点开会", Some("张总"), Some("王经理"), "明天上午9点开会");
        check("王经理委托我提醒刘医生下午三点会诊", Some("刘医生"), Some("王经理"), "下午三点会诊");
    }

    #[test]
    fn principal_by_commission() {
        check("受张经理委托，提醒李女士明天下午3点到医院复查", Some("李女士"), Some("张经理"), "明天下午3点到医院复查");
        check("受公司人事部的委托，通知王建国下周一入职报到", Some("王建国"), Some("公司人事部"), "下周一入职报到");
    }

    #[test]
    fn principal_on_behalf() {
        check("替公司行政部通知王建国明天体检", Some("王建国"), Some("公司行政部"), "明天体检");
        check("代表阳光物业通知业主王先生明天上午停水", Some("王先生"), Some("阳光物业"), "明天上午停水");
        check("帮李老师通知小张周末补课取消", Some("小张"), Some("李老师"), "周末补课取消");
    }

    #[test]
    fn principal_introduced_by_writer() {
        check(
            "我是阳光物业的，通知业主王先生明天上午8点到12点停水",
            Some("王先生"),
            Some("阳光物业"),
            "明天上午8点到12点停水",
        );
    }

    #[test]
    fn writer_is_not_a_principal() {
        check("帮我通知张总明天上午9点开会", Some("张总"), None, "明天上午9点开会");
        check("麻烦帮我打电话告诉老板我明天请假", Some("老板"), None, "委托人明天请假");
    }

    #[test]
    fn full_names_before_a_time_or_verb() {
        check("通知张三明天上午来面试", Some("张三"), None, "明天上午来面试");
        check("通知王建国明天体检", Some("王建国"), None, "明天体检");
        check("提醒王五来公司签合同", Some("王五"), None, "来公司签合同");
        check("通知欧阳娜娜下午三点录音", Some("欧阳娜娜"), None, "下午三点录音");
        check("通知张明明天开会", Some("张明"), None, "明天开会");
    }

    #[test]
    fn say_to_form() {
        check("跟张总说一声明天的会取消了", Some("张总"), None, "明天的会取消了");
        check("和刘医生讲一下，3号床的化验结果出来了", Some("刘医生"), None, "3号床的化验结果出来了");
    }

    #[test]
    fn relay_with_colon_and_ascii_punctuation() {
        check("转告刘医生：3号床病人的检查结果出来了", Some("刘医生"), None, "3号床病人的检查结果出来了");
        check("通知张总:明天上午9:30开会,地点在3楼会议室.", Some("张总"), None, "明天上午9:30开会，地点在3楼会议室");
        check("提醒一下 张经理 , 周五下午两点的面试别忘了!", Some("张经理"), None, "周五下午两点的面试别忘了");
    }

    #[test]
    fn safety_preamble_is_skipped() {
        let task =
            "必须遵守以下电话安全规则：\n1. 先确认对方身份。\n2. 不得索要验证码。\n\n本次任务：通知张总明天上午9点开会";
        let b = brief(task);
        assert_eq!(b.task, "通知张总明天上午9点开会");
        check(task, Some("张总"), None, "明天上午9点开会");
        check("规则：不要骗人\n本次任务:提醒王先生周五前交材料", Some("王先生"), None, "周五前交材料");
        check("任务：告诉李女士她的快递到了", Some("李女士"), None, "您的快递到了");
    }

    #[test]
    fn task_marker_inside_the_task_is_content() {
        check("提醒张总完成任务：提交季度报告", Some("张总"), None, "完成任务：提交季度报告");
    }

    #[test]
    fn question_tasks_ask() {
        let b = brief("问一下王先生明天下午有没有空来面试");
        assert_eq!(b.purpose, Purpose::Ask);
        assert_eq!(b.callee.as_deref(), Some("王先生"));
        assert_eq!(b.content, "明天下午有没有空来面试");
        let b = brief("跟李女士确认一下周六的体检是否照常");
        assert_eq!(b.purpose, Purpose::Ask);
        assert_eq!(b.content, "周六的体检是否照常");
    }

    #[test]
    fn invitation() {
        let b = brief("邀请陈老师参加周五晚上的年会");
        assert_eq!(b.purpose, Purpose::Invite);
        assert_eq!(b.callee.as_deref(), Some("陈老师"));
        assert_eq!(b.content, "参加周五晚上的年会");
    }

    #[test]
    fn name_first_then_content() {
        check("张总，明天上午9点开会", Some("张总"), None, "明天上午9点开会");
    }

    #[test]
    fn family_and_possessors_are_no_name() {
        check("帮我告诉我妈今晚不回家吃饭", None, None, "今晚不回家吃饭");
        check("通知张总的秘书明天上午9点开会", None, None, "张总的秘书明天上午9点开会");
    }

    #[test]
    fn bare_role_is_no_name() {
        check("通知家长明天开家长会", None, None, "明天开家长会");
        check("通知全体员工明天放假", None, None, "全体员工明天放假");
    }

    #[test]
    fn numbers_and_places_unchanged() {
        let b = brief("提醒赵女士本月25号前缴纳物业费1,280元，地点在物业服务中心3.5号窗口");
        assert_eq!(b.content, "本月25号前缴纳物业费1,280元，地点在物业服务中心3.5号窗口");
        assert!(b.mentions_time());
    }

    #[test]
    fn surnames_of_callees() {
        assert_eq!(brief("通知张总开会").callee_surname(), Some("张"));
        assert_eq!(brief("提醒小王交材料").callee_surname(), Some("王"));
        assert_eq!(brief("通知欧阳娜娜下午三点录音").callee_surname(), Some("欧阳"));
        assert_eq!(brief("通知明天开会").callee_surname(), None);
    }

    #[test]
    fn time_detection() {
        assert!(brief("通知张总明天上午9点开会").mentions_time());
        assert!(!brief("告诉李女士她的快递到了").mentions_time());
    }
}
