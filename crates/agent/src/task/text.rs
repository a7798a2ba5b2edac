//! The task as text: the part after the client's rules, punctuation made
//! full-width, clauses trimmed, and its third person made the second.

/// Markers after which clients put the task proper, below their rules.
const TASK_MARKERS: &[&str] = &["任务：", "任务:"];

/// The text after the last task marker that starts a line (or the text),
/// so `完成任务：...` inside a task is not taken for one.
pub(super) fn task_part(text: &str) -> &str {
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
pub(super) fn normalize(text: &str) -> String {
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

/// Whether `c` is punctuation, full-width or ASCII.
pub(crate) fn is_punct(c: char) -> bool {
    "，。、：；！？…—～~（）【】「」“”‘’\"'《》,.:;!?".contains(c)
}

pub(super) fn skip_punct(s: &str) -> &str {
    s.trim_start_matches(|c: char| is_punct(c) || c.is_whitespace())
}

pub(super) fn trim_clause(s: &str) -> &str {
    skip_punct(s).trim_end_matches(|c: char| is_punct(c) || c.is_whitespace())
}

/// Turns a task's third person into the second (`她的快递到了` -> `您的快递到了`,
/// `让他带上合同` -> `请您带上合同`); the writer's `我` becomes the principal.
pub(super) fn second_person(s: &str, principal: Option<&str>) -> String {
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
