//! Times and deadlines in a task (`明天`, `周五`, `9点`, `月底前`).

/// Whether `text` carries a time or a deadline anywhere.
pub(super) fn mentions_time(text: &str) -> bool {
    text.char_indices().any(|(i, _)| starts_with_time(&text[i..]))
        || ["前", "截止", "期限", "之内", "以内"].iter().any(|w| text.contains(w))
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
pub(super) fn starts_with_time(s: &str) -> bool {
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
