//! The words the offline engine listens for, public so that a simulated
//! callee (tests, demos) can speak in ways the engine understands.
//!
//! Each list holds fragments matched anywhere in what the callee said, after
//! lower-casing and dropping spaces, punctuation and [`FILLERS`]; the order
//! in which the engine checks them is in the `offline` module docs.

/// Particles ASR leaves in an utterance that carry no meaning here.
pub const FILLERS: &str = "啊呀哦喔噢喂呃额诶欸哎唉哈嘿呐哇嗷呦哟";

/// Asking not to be called again (any phase): ends with `opted_out`.
/// `不需要` counts only when nothing but `了`/`谢谢` follows it.
pub const OPT_OUT: &[&str] = &[
    "别再打", "别打了", "不要再打", "不要打了", "不用再打", "别给我打", "不要给我打", "不要再给我打", "以后别打",
    "以后不要打", "别再给我打", "不要再给我打电话", "别再给我来电", "别再联系我", "不要再联系我", "别再来电", "骚扰", "拉黑", "投诉", "滚", "烦不烦", "没兴趣", "不感兴趣", "退订", "别烦我", "不想接",
];

/// Busy, call back later (any phase): ends with `callback_requested`.
pub const BUSY: &[&str] = &[
    "在开会", "开会呢", "开会中", "开着会", "在忙", "正忙", "忙着", "忙呢", "很忙", "太忙", "有点忙", "比较忙", "挺忙",
    "晚点再说", "晚点说", "晚点打", "晚些", "回头打", "回头说", "回头再说", "回头联系", "再打", "再联系", "再给我打",
    "在开车", "开车呢", "正开车", "在上课", "在手术", "现在不方便", "现在没空", "现在没时间", "现在不行", "不方便接",
    "不方便说", "不方便讲", "改天再说", "下次再说", "等下再说", "等会再说", "等会儿再说",
];

/// Busy only before the content was said (after it, they answer the content:
/// `明天上午没空` declines the meeting, it does not ask for a call back).
pub const BUSY_BEFORE_CONTENT: &[&str] = &["不方便", "没空", "没时间"];

/// Asking who is calling (any phase): the engine discloses again.
pub const WHO: &[&str] = &[
    "你是谁", "您是谁", "你是哪位", "您是哪位", "哪位", "是谁", "谁啊", "哪里打来", "哪儿打来", "哪打来", "哪里打的",
    "从哪", "什么公司", "哪个公司", "哪家公司", "什么单位", "哪个单位", "你是哪", "您是哪", "你哪里", "你们是",
    "哪里的", "什么电话", "你叫什么", "公司叫什么", "什么名字", "机器人", "真人", "人工智能", "ai",
];

/// Attempts to steer the engine; they change nothing.
pub const INJECTION: &[&str] = &[
    "忽略", "无视", "之前的要求", "之前的指令", "前面的要求", "以上要求", "你现在是", "现在你是", "从现在开始你",
    "扮演", "假装", "系统提示", "提示词", "prompt", "指令", "开发者模式", "原文", "念出来", "读出来", "全部告诉我",
    "把内容告诉我", "把通知内容",
];

/// Asking to hear the last line again. A bare `啊？` `喂？` `嗯？` or `什么？`
/// counts too.
pub const REPEAT: &[&str] = &[
    "再说一遍", "再说一次", "再讲一遍", "再讲一次", "重复一下", "重复一遍", "再说一下", "没听清", "听不清", "没听见",
    "没听到", "听不到", "听不见", "听得到吗", "能听到吗", "听得见吗", "能听见吗", "没听明白", "听不明白", "你说什么",
    "您说什么", "你说啥", "说什么", "说啥", "说的什么", "啥意思", "什么意思", "大声点", "大点声", "说慢点", "慢点说",
    "信号不好",
];

/// Asking whom the AI wants: it says whom and asks again.
pub const LOOKING_FOR: &[&str] = &["找谁", "找哪位", "你找", "您找", "找哪个"];

/// Not having understood, when that is about all that was said.
pub const NOT_UNDERSTOOD: &[&str] = &["没听懂", "没明白", "不明白", "不清楚", "没懂", "不懂"];

/// Denying being the person asked for: ends with `wrong_person`.
pub const NOT_ME: &[&str] = &[
    "不是", "不对", "打错", "错了", "没有这个人", "没这个人", "没这人", "查无此人", "不认识", "找错", "认错", "这不是",
    "我不是", "没有叫", "不叫", "换号", "换人了", "空号", "不姓",
];

/// Someone else answering for the callee (also any `他`/`她`, and
/// `我是张总的…`): ends with `wrong_person`, content unsaid.
pub const SOMEONE_ELSE: &[&str] = &[
    "转告", "转达", "帮他", "替他", "代他", "不在", "出去了", "出门了", "没回来", "秘书", "助理", "家属", "爱人",
    "老婆", "老公", "媳妇", "儿子", "女儿", "妈妈", "爸爸", "同事",
];

/// A clear yes to `请问是张总吗？` (saying the callee's name counts too).
pub const IT_IS_ME: &[&str] = &["是我", "我就是", "就是我", "是的", "对", "没错", "本人"];

/// A yes to `请问您是这个号码的机主吗？` when the task names nobody.
pub const MY_NUMBER: &[&str] = &["机主", "我的号", "我的手机", "我的电话", "是我的"];

/// A softer yes: go on, what is it.
pub const GO_ON: &[&str] = &[
    "嗯", "是", "你说", "您说", "请讲", "请说", "说吧", "讲吧", "你讲", "您讲", "什么事", "啥事", "有事", "怎么了",
    "在的", "我在", "在呢",
];

/// Answers to `能听到吗？`.
pub const CAN_HEAR: &[&str] = &["能听到", "听得到", "听到了", "听见了", "能听见", "听得见", "可以听到", "听着"];

/// Acknowledging the content: ends with `delivered`. `对` and `是` count
/// only at the start (`是的`, `对对`), not inside a sentence.
pub const ACK: &[&str] = &[
    "好", "可以", "知道", "行", "没问题", "收到", "明白", "清楚", "ok", "嗯", "了解", "记住", "记下", "晓得", "一定",
    "准时", "会去", "会来", "没事", "妥", "懂了",
];

/// Words that acknowledge only at the start of an answer.
pub const ACK_AT_START: &[&str] = &["对", "是"];

/// Negations that make an [`ACK`] word mean the opposite.
pub const NOT_ACK: &[&str] =
    &["不知道", "不清楚", "不明白", "不好", "不行", "不可以", "不能", "不对", "不是", "不一定"];

/// Declining what the content asks: passed on, ends with `delivered`.
pub const DECLINE: &[&str] = &[
    "不行", "不可以", "不能", "去不了", "来不了", "到不了", "参加不了", "做不到", "赶不上", "不去", "不来", "不太行",
    "不方便", "没空", "没时间", "不同意", "不要", "不太好", "不好", "恐怕", "可能不", "不一定", "不了", "办不到",
    "请假",
];

/// Closing the call from their side: ends with `delivered`.
pub const CLOSING: &[&str] = &[
    "没有了", "没了", "没事了", "没别的", "没有别的", "没其他", "没有其他", "谢谢", "再见", "拜拜", "辛苦", "就这样",
    "先这样", "挂了",
];

/// Words that make an utterance a question (with `？` or a final `吗`).
pub const QUESTION: &[&str] = &[
    "什么", "啥", "哪", "怎么", "多少", "几", "谁", "为什么", "为啥", "要不要", "需不需要", "用不用", "能不能",
    "可不可以", "有没有", "是不是", "会不会",
];

/// Questions about when, answered by repeating content that has a time.
pub const WHEN: &[&str] = &["几点", "什么时候", "啥时候", "哪天", "几号", "星期几", "周几", "什么时间", "几时"];

/// Extra information given with an acknowledgement, passed on.
pub const ADDS_INFO: &[&str] = &["不过", "但是", "可是", "只是", "可能", "晚点到", "晚到", "迟到", "要是", "如果"];

/// Time words kept from a callback request (`下午三点再打吧`), besides
/// clock times (`3点半`, `15:00`) and delays (`半个小时`, `十分钟后`).
pub const CALLBACK_TIMES: &[&str] = &[
    "大后天", "今天", "明天", "后天", "今晚", "明晚", "今早", "明早", "明儿", "下个星期", "下星期", "下周一", "下周二",
    "下周三", "下周四", "下周五", "下周六", "下周日", "下周", "这周", "周末", "周一", "周二", "周三", "周四", "周五",
    "周六", "周日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期天", "星期日", "早上", "上午",
    "中午", "下午", "傍晚", "晚上", "晚一点", "晚点", "晚些", "等一会儿", "一会儿", "一会", "等会儿", "等会", "待会儿",
    "待会", "过会儿", "过会", "稍后", "改天", "过两天", "过几天", "回头", "下班以后", "下班后", "下班", "午饭后",
];
