//! What each character means to the splitter.

/// Marks that end a sentence. A newline counts: LLMs put one between
/// paragraphs, and it is always a safe place to breathe.
pub(crate) fn is_hard_stop(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '；' | '…' | '⋯' | '｡' | '.' | '!' | '?' | ';' | '\n')
}

/// Marks that end a clause: worth a chunk only when the clause is long enough.
pub(crate) fn is_soft_stop(c: char) -> bool {
    matches!(c, '，' | '、' | '：' | ',' | ':')
}

/// Marks that close what came before and stay with it (`。”` or `！）`).
pub(crate) fn is_closer(c: char) -> bool {
    matches!(c, '”' | '’' | '」' | '』' | '）' | '》' | '】' | '〕' | ')' | ']' | '}' | '"' | '\'')
}

/// Marks that open what comes after and stay with it.
pub(crate) fn is_opener(c: char) -> bool {
    matches!(c, '“' | '‘' | '「' | '『' | '（' | '《' | '【' | '〔' | '(' | '[' | '{')
}

/// How a character moves the quotation depth: commas inside a quotation do
/// not split it, so a quoted phrase or number is synthesised in one piece.
/// ASCII `"` toggles (it opens and closes); single quotes are ignored because
/// `’` doubles as the English apostrophe.
pub(crate) fn quote_step(c: char, depth: u32) -> u32 {
    match c {
        '“' | '「' | '『' => depth + 1,
        '”' | '」' | '』' => depth.saturating_sub(1),
        '"' if depth > 0 => depth - 1,
        '"' => depth + 1,
        _ => depth,
    }
}

/// Letters, digits and Han characters: what TTS actually says.
pub(crate) fn is_content(c: char) -> bool {
    c.is_alphanumeric()
}

fn is_cn_numeral(c: char) -> bool {
    "零〇一二三四五六七八九十百千万亿两".contains(c)
}

fn is_punct(c: char) -> bool {
    is_hard_stop(c) || is_soft_stop(c) || is_closer(c)
}

/// Whether a chunk boundary between `a` and `b` would cut something that
/// must stay whole: an English word, a number with its separators and unit
/// (`9.5`, `9:30`, `1,000`, `95%`, `128元`), a Chinese numeral, punctuation
/// away from its clause, or an opening bracket away from what it opens.
pub(crate) fn glued(a: char, b: char) -> bool {
    if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() {
        return true;
    }
    if a.is_ascii_digit() && (b.is_alphanumeric() || matches!(b, '.' | ',' | ':' | '：' | '%' | '％' | '‰')) {
        return true;
    }
    if b.is_ascii_digit() && (a.is_alphanumeric() || matches!(a, '.' | ',' | ':' | '：' | '，' | '、' | '-' | '+' | '¥' | '$' | '￥')) {
        return true;
    }
    if is_cn_numeral(a) && is_cn_numeral(b) {
        return true;
    }
    is_punct(b) || is_opener(a)
}

/// Whether a forced split right after `a` falls at a pause a reader would
/// make anyway (after punctuation or a space).
pub(crate) fn is_natural_pause(a: char) -> bool {
    is_punct(a) || a.is_whitespace()
}

/// Whether an ASCII `.` ending `before` is an abbreviation or a list marker
/// (`Mr.`, `e.g.`, `1.` at the start of a line) rather than a full stop.
pub(crate) fn dot_is_not_a_stop(before: &[char]) -> bool {
    let word_start = before.iter().rposition(|c| !(c.is_ascii_alphanumeric() || *c == '.')).map_or(0, |i| i + 1);
    let word: String = before[word_start..].iter().collect::<String>().to_ascii_lowercase();
    if ["mr", "mrs", "ms", "dr", "st", "no", "vs", "e.g", "i.e", "approx"].contains(&word.as_str()) {
        return true;
    }
    // `1.` with nothing said before it on this line opens a numbered list.
    let is_number = !word.is_empty() && word.chars().all(|c| c.is_ascii_digit());
    is_number && before[..word_start].iter().rev().take_while(|c| **c != '\n').all(|c| !is_content(*c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_words_and_punctuation_are_glued() {
        for (a, b) in [('9', '.'), ('.', '5'), ('9', ':'), (':', '3'), ('5', '%'), ('1', ','), (',', '0'), ('8', '元'), ('第', '3'), ('a', 'b'), ('二', '十'), ('好', '，'), ('。', '”'), ('“', '好')] {
            assert!(glued(a, b), "{a}{b}");
        }
        for (a, b) in [('好', '的'), ('，', '您'), ('。', '请'), (' ', 'W'), ('元', '请')] {
            assert!(!glued(a, b), "{a}{b}");
        }
    }

    #[test]
    fn abbreviations_and_list_markers_are_not_stops() {
        let v = |s: &str| s.chars().collect::<Vec<_>>();
        assert!(dot_is_not_a_stop(&v("Hello Mr")));
        assert!(dot_is_not_a_stop(&v("see e.g")));
        assert!(dot_is_not_a_stop(&v("1")));
        assert!(dot_is_not_a_stop(&v("好的。\n2")));
        assert!(!dot_is_not_a_stop(&v("总共是128")));
        assert!(!dot_is_not_a_stop(&v("It is done")));
    }

    #[test]
    fn quotes_nest_and_ascii_quotes_toggle() {
        assert_eq!(quote_step('“', 0), 1);
        assert_eq!(quote_step('”', 1), 0);
        assert_eq!(quote_step('”', 0), 0);
        assert_eq!(quote_step('"', 0), 1);
        assert_eq!(quote_step('"', 1), 0);
    }
}
