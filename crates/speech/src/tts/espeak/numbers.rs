//! Digits as a Mandarin speaker reads them, in tone-numbered pinyin.
//!
//! - Up to five digits with no leading zero: a quantity (`9` -> jiu3,
//!   `2024` -> liang3 qian1 ling2 er4 shi2 si4, `10` -> shi2).
//! - Longer strings, or a leading zero: digit by digit, 1 as yao1, as
//!   phone numbers and codes are read (`13800138000`).
//! - Four or two digits before 年: a year, digit by digit (`2024年`).
//! - 2 before a measure word of counting (点 个 位 次 ...) is liang3:
//!   `2点` is liang3 dian3, but `2月` stays er4 yue4.
//! - Decimals (`3.5` -> san1 dian3 wu3), percentages (`50%` -> bai3 fen1
//!   zhi1 wu3 shi2) and clock times (`9:30` -> jiu3 dian3 san1 shi2,
//!   `14:00` -> shi2 si4 dian3 zheng3) are read as such.

const DIGITS: [&str; 10] = ["ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3"];

/// Measure words after which 2 is read liang3.
const LIANG_BEFORE: &str = "点个位次天张件条只本台名份家种遍杯瓶斤周";

/// Longest digit string read as a quantity.
const MAX_QUANTITY_DIGITS: usize = 5;

/// A number found in the text, with what follows it where that matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Number<'a> {
    /// The integer part's digits.
    pub(super) int: &'a str,
    /// Digits after a decimal point.
    pub(super) frac: Option<&'a str>,
    /// Minutes of a clock time `H:MM`.
    pub(super) minutes: Option<&'a str>,
    /// Followed by a percent sign.
    pub(super) percent: bool,
    /// The character after the number (and after `%`), if any.
    pub(super) next: Option<char>,
}

/// Reads `n`, appending its syllables.
pub(super) fn read(n: &Number<'_>, out: &mut Vec<String>) {
    let push = |out: &mut Vec<String>, s: &str| out.push(s.to_owned());
    if n.percent {
        for s in ["bai3", "fen1", "zhi1"] {
            push(out, s);
        }
    }
    if let Some(minutes) = n.minutes {
        quantity(n.int, true, out);
        push(out, "dian3");
        match minutes.trim_start_matches('0') {
            "" => push(out, "zheng3"),
            m if minutes.starts_with('0') => {
                push(out, "ling2");
                digit_by_digit(m, false, out);
            }
            m => quantity(m, false, out),
        }
        return;
    }
    let is_year = n.frac.is_none() && !n.percent && n.next == Some('年') && matches!(n.int.len(), 2 | 4);
    let leading_zero = n.int.len() > 1 && n.int.starts_with('0');
    if is_year {
        digit_by_digit(n.int, false, out);
    } else if n.frac.is_none() && (leading_zero || n.int.len() > MAX_QUANTITY_DIGITS) {
        digit_by_digit(n.int, true, out);
    } else {
        let liang = n.frac.is_none() && !n.percent && n.next.is_some_and(|c| LIANG_BEFORE.contains(c));
        quantity(n.int, liang, out);
    }
    if let Some(frac) = n.frac {
        push(out, "dian3");
        digit_by_digit(frac, false, out);
    }
}

fn digit_by_digit(digits: &str, yao: bool, out: &mut Vec<String>) {
    for d in digits.bytes().map(|b| usize::from(b - b'0')) {
        out.push(if d == 1 && yao { "yao1" } else { DIGITS[d] }.to_owned());
    }
}

/// A quantity of at most [`MAX_QUANTITY_DIGITS`] digits (longer integer
/// parts of decimals are read digit by digit). `liang`: a lone 2 is liang3.
fn quantity(digits: &str, liang: bool, out: &mut Vec<String>) {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        out.push(DIGITS[0].to_owned());
        return;
    }
    if trimmed.len() > MAX_QUANTITY_DIGITS {
        digit_by_digit(trimmed, false, out);
        return;
    }
    const UNITS: [&str; 5] = ["", "shi2", "bai3", "qian1", "wan4"];
    let ds: Vec<usize> = trimmed.bytes().map(|b| usize::from(b - b'0')).collect();
    let top = ds.len() - 1;
    let mut zero_pending = false;
    for (i, &d) in ds.iter().enumerate() {
        let place = top - i;
        if d == 0 {
            zero_pending = true;
            continue;
        }
        if zero_pending {
            out.push(DIGITS[0].to_owned());
            zero_pending = false;
        }
        // 10-19 on their own are shi2, shi2 yi1 ... (not yi1 shi2).
        let skip_one = d == 1 && place == 1 && i == 0;
        let two_as_liang = d == 2 && i == 0 && (place >= 3 || (place == 0 && liang));
        if two_as_liang {
            out.push("liang3".to_owned());
        } else if !skip_one {
            out.push(DIGITS[d].to_owned());
        }
        if place > 0 {
            out.push(UNITS[place].to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(int: &str, next: Option<char>) -> String {
        let mut out = Vec::new();
        read(&Number { int, frac: None, minutes: None, percent: false, next }, &mut out);
        out.join(" ")
    }

    #[test]
    fn quantities() {
        assert_eq!(say("0", None), "ling2");
        assert_eq!(say("9", Some('点')), "jiu3");
        assert_eq!(say("10", None), "shi2");
        assert_eq!(say("15", None), "shi2 wu3");
        assert_eq!(say("20", None), "er4 shi2");
        assert_eq!(say("105", None), "yi1 bai3 ling2 wu3");
        assert_eq!(say("110", None), "yi1 bai3 yi1 shi2");
        assert_eq!(say("1001", None), "yi1 qian1 ling2 yi1");
        assert_eq!(say("2024", None), "liang3 qian1 ling2 er4 shi2 si4");
        assert_eq!(say("20000", None), "liang3 wan4");
        assert_eq!(say("30500", None), "san1 wan4 ling2 wu3 bai3");
    }

    #[test]
    fn two_is_liang_before_counting_words_only() {
        assert_eq!(say("2", Some('点')), "liang3");
        assert_eq!(say("2", Some('个')), "liang3");
        assert_eq!(say("2", Some('月')), "er4");
        assert_eq!(say("2", None), "er4");
        assert_eq!(say("12", Some('点')), "shi2 er4");
    }

    #[test]
    fn codes_phone_numbers_and_years_digit_by_digit() {
        assert_eq!(say("13800138000", None), "yao1 san1 ba1 ling2 ling2 yao1 san1 ba1 ling2 ling2 ling2");
        assert_eq!(say("010", None), "ling2 yao1 ling2");
        assert_eq!(say("2024", Some('年')), "er4 ling2 er4 si4");
        assert_eq!(say("2011", Some('年')), "er4 ling2 yi1 yi1");
    }

    #[test]
    fn decimals_percentages_and_times() {
        let mut out = Vec::new();
        read(&Number { int: "3", frac: Some("05"), minutes: None, percent: false, next: None }, &mut out);
        assert_eq!(out.join(" "), "san1 dian3 ling2 wu3");
        out.clear();
        read(&Number { int: "50", frac: None, minutes: None, percent: true, next: None }, &mut out);
        assert_eq!(out.join(" "), "bai3 fen1 zhi1 wu3 shi2");
        for (h, m, said) in [
            ("9", "30", "jiu3 dian3 san1 shi2"),
            ("9", "05", "jiu3 dian3 ling2 wu3"),
            ("14", "00", "shi2 si4 dian3 zheng3"),
            ("2", "15", "liang3 dian3 shi2 wu3"),
        ] {
            out.clear();
            read(&Number { int: h, frac: None, minutes: Some(m), percent: false, next: None }, &mut out);
            assert_eq!(out.join(" "), said);
        }
    }
}
