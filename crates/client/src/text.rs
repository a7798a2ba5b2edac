//! Text for people: what a server sends is untrusted, so before it reaches a
//! terminal or a one-line error message, control characters (newlines,
//! escape sequences) and bidirectional overrides become spaces. The error
//! messages here use it, and so does the CLI's output.

use std::time::Duration;

/// Unicode bidirectional embedding, override and isolate controls: they can
/// make displayed text read differently from what it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// A character safe to print: controls and bidirectional overrides become
/// a space.
fn safe_char(c: char) -> char {
    if c.is_control() || is_bidi_control(c) {
        ' '
    } else {
        c
    }
}

/// Untrusted text made safe for a terminal line, character for character.
pub fn clean(text: &str) -> String {
    text.chars().map(safe_char).collect()
}

/// Untrusted text made safe for a one-line message: [`clean`], runs of
/// spaces collapsed, trimmed, and cut after `max_chars` characters (with
/// `…`), so a server cannot break the "one clear line" promise or the
/// terminal.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut last_space = false;
    for c in text.trim().chars().map(safe_char) {
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        if count == max_chars {
            out.push('…');
            break;
        }
        out.push(c);
        count += 1;
    }
    out.trim_end().to_string()
}

/// A short duration for messages: `200 ms`, `10 s`, `1.5 s`, `10 min`.
pub fn duration_short(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms % 1000 != 0 {
        format!("{:.1} s", d.as_secs_f64())
    } else if d.as_secs() >= 120 && d.as_secs() % 60 == 0 {
        format!("{} min", d.as_secs() / 60)
    } else {
        format!("{} s", d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_short() {
        assert_eq!(duration_short(Duration::from_millis(250)), "250 ms");
        assert_eq!(duration_short(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(duration_short(Duration::from_secs(600)), "10 min");
    }

    #[test]
    fn controls_and_bidi_overrides_become_spaces() {
        assert_eq!(clean("a\u{202e}b\tc"), "a b c");
        assert_eq!(one_line("  a\n\n\u{1b}[2Jb  ", 100), "a [2Jb");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
