//! On whose behalf the call is made (`王经理让我…`, `受张经理委托…`,
//! `我是阳光物业的…`, `替公司行政部…`).

use super::action::ACTION_STARTS;
use super::text::{is_punct, skip_punct, trim_clause};

/// Who the call is made for, and the rest of the task.
pub(super) fn split_principal(s: &str) -> (Option<String>, &str) {
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
