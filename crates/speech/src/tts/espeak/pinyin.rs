//! Text as espeak-ng's `cmn-latn-pinyin` voice can say it.
//!
//! espeak-ng's `cmn` voice mispronounces Han characters; its pinyin voice
//! reads tone-numbered syllables (`zhang1`) well. So the text is turned
//! into [`Piece`]s:
//!
//! - Han characters: their most common reading from the `pinyin` crate's
//!   per-character table, corrected for a few frequent words where that
//!   reading is wrong (银行, 长度, 重新, 觉得, ...), with the tone changes of
//!   不 (bu2 before a fourth tone) and 一 that espeak does not make; the
//!   neutral tone is written 5 and ü as v (espeak reads both).
//! - Digits: read as Mandarin (see `numbers`).
//! - Latin words: kept whole, for the English voice (`Hello`, `API`,
//!   `WiFi`): the pinyin voice would read them as pinyin.
//! - Punctuation: pauses; a question mark keeps its intonation.
//! - Anything else (emoji, symbols, quotes) is dropped.

use ::pinyin::ToPinyin;

use super::numbers::{self, Number};

/// One thing to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A tone-numbered pinyin syllable, `zhang1`.
    Syllable(String),
    /// A word in Latin letters, for the English voice.
    Latin(String),
    /// A pause.
    Pause(Pause),
}

/// How long a pause punctuation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pause {
    /// A clause break: ，、：
    Comma,
    /// The end of a sentence: 。！；…
    Stop,
    /// The end of a question: ？ (espeak raises the pitch).
    Question,
}

impl Pause {
    /// The punctuation espeak reads as this pause.
    pub fn mark(self) -> &'static str {
        match self {
            Pause::Comma => ",",
            Pause::Stop => ".",
            Pause::Question => "?",
        }
    }
}

/// Words whose per-character reading is wrong, with the right one.
const WORDS: &[(&str, &str)] = &[
    ("银行", "yin2 hang2"),
    ("行业", "hang2 ye4"),
    ("长度", "chang2 du4"),
    ("很长", "hen3 chang2"),
    ("多长", "duo1 chang2"),
    ("长期", "chang2 qi1"),
    ("长时间", "chang2 shi2 jian1"),
    ("重新", "chong2 xin1"),
    ("重复", "chong2 fu4"),
    ("觉得", "jue2 de5"),
    ("记得", "ji4 de5"),
    ("值得", "zhi2 de5"),
    ("会计", "kuai4 ji4"),
    ("还款", "huan2 kuan3"),
    ("归还", "gui1 huan2"),
    ("音乐", "yin1 yue4"),
    ("快乐", "kuai4 le4"),
];

/// Converts `text` into what to say.
pub fn to_pieces(text: &str) -> Vec<Piece> {
    let chars: Vec<char> = text.chars().map(normalise).collect();
    let mut out: Vec<Piece> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some((len, reading)) = WORDS.iter().find_map(|(w, r)| starts_with(&chars[i..], w).then(|| (w.chars().count(), r))) {
            out.extend(reading.split(' ').map(|s| Piece::Syllable(s.to_owned())));
            i += len;
        } else if c.is_ascii_digit() {
            i = number(&chars, i, &mut out);
        } else if c.is_ascii_alphabetic() {
            let end = chars[i..].iter().position(|c| !(c.is_ascii_alphabetic() || *c == '\'')).map_or(chars.len(), |n| i + n);
            out.push(Piece::Latin(chars[i..end].iter().collect::<String>().trim_end_matches('\'').to_owned()));
            i = end;
        } else if let Some(p) = c.to_pinyin() {
            out.push(Piece::Syllable(syllable(p.with_tone_num_end())));
            i += 1;
        } else {
            if let Some(pause) = pause_of(c) {
                out.push(Piece::Pause(pause));
            } else if c == '+' {
                out.push(Piece::Syllable("jia1".into()));
            }
            i += 1;
        }
    }
    sandhi(&chars_of_syllables(&out), &mut out);
    tidy_pauses(out)
}

/// The pieces as one line of text: syllables and Latin words separated by
/// spaces, pauses as punctuation. What tests read; the engine wraps the same
/// pieces in SSML.
pub fn to_pinyin_text(text: &str) -> String {
    let mut line = String::new();
    for piece in to_pieces(text) {
        match piece {
            Piece::Syllable(s) | Piece::Latin(s) => {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(&s);
            }
            Piece::Pause(p) => line.push_str(p.mark()),
        }
    }
    line
}

/// Full-width ASCII (０-９, Ａ-Ｚ, ％, ：) as its half-width form.
fn normalise(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

fn starts_with(chars: &[char], word: &str) -> bool {
    let mut n = 0;
    for w in word.chars() {
        if chars.get(n) != Some(&w) {
            return false;
        }
        n += 1;
    }
    true
}

fn pause_of(c: char) -> Option<Pause> {
    match c {
        '。' | '.' | '！' | '!' | '；' | ';' | '…' | '\n' => Some(Pause::Stop),
        '？' | '?' => Some(Pause::Question),
        '，' | ',' | '、' | '：' | ':' | '—' | '～' | '~' | '（' | '）' | '(' | ')' | '【' | '】' | '《' | '》' => Some(Pause::Comma),
        _ => None,
    }
}

/// `lǘ`-free ASCII with an explicit neutral tone: `lv4`, `de5`.
fn syllable(s: &str) -> String {
    let mut s = s.replace('ü', "v");
    if !s.ends_with(|c: char| c.is_ascii_digit()) {
        s.push('5');
    }
    s
}

/// Reads the number starting at `chars[i]`; returns the index after it.
fn number(chars: &[char], start: usize, out: &mut Vec<Piece>) -> usize {
    let digits_from = |i: usize| chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut int = String::new();
    let mut i = start;
    loop {
        let n = digits_from(i);
        int.extend(&chars[i..i + n]);
        i += n;
        // 1,000,000: a comma followed by exactly three digits groups thousands.
        if chars.get(i) == Some(&',') && digits_from(i + 1) == 3 && !chars.get(i + 4).is_some_and(char::is_ascii_digit) {
            i += 1;
            continue;
        }
        break;
    }
    let (mut frac, mut minutes) = (None, None);
    let after = digits_from_opt(chars, i + 1);
    match chars.get(i) {
        Some('.') if after > 0 => {
            frac = Some(chars[i + 1..i + 1 + after].iter().collect::<String>());
            i += 1 + after;
        }
        Some(':') if after == 2 && int.len() <= 2 => {
            minutes = Some(chars[i + 1..i + 3].iter().collect::<String>());
            i += 3;
        }
        _ => {}
    }
    let percent = chars.get(i) == Some(&'%');
    if percent {
        i += 1;
    }
    let number = Number { int: &int, frac: frac.as_deref(), minutes: minutes.as_deref(), percent, next: chars.get(i).copied() };
    let mut syllables = Vec::new();
    numbers::read(&number, &mut syllables);
    out.extend(syllables.into_iter().map(Piece::Syllable));
    i
}

fn digits_from_opt(chars: &[char], i: usize) -> usize {
    chars.get(i..).map_or(0, |rest| rest.iter().take_while(|c| c.is_ascii_digit()).count())
}

/// The syllables in order, with their index in `pieces`.
fn chars_of_syllables(pieces: &[Piece]) -> Vec<(usize, String)> {
    pieces
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match p {
            Piece::Syllable(s) => Some((i, s.clone())),
            _ => None,
        })
        .collect()
}

/// The tone changes espeak does not make: 不 becomes bu2 before a fourth
/// tone (不是, 不要); 一 as a word (not in a number or a date) becomes yi2
/// before a fourth tone and yi4 before the others (一下, 一起).
fn sandhi(syllables: &[(usize, String)], pieces: &mut [Piece]) {
    for pair in syllables.windows(2) {
        let ((at, this), (next_at, next)) = (&pair[0], &pair[1]);
        // Only within one phrase: a pause or a Latin word between them breaks it.
        if next_at - at != 1 {
            continue;
        }
        let next_tone = next.chars().last();
        let changed = match this.as_str() {
            "bu4" if next_tone == Some('4') => "bu2",
            "yi1" if !is_numeral(next) && next_tone != Some('5') => {
                let before_numeral = *at > 0 && matches!(&pieces[at - 1], Piece::Syllable(p) if is_numeral(p) || p == "di4");
                if before_numeral {
                    continue;
                }
                if next_tone == Some('4') {
                    "yi2"
                } else {
                    "yi4"
                }
            }
            _ => continue,
        };
        pieces[*at] = Piece::Syllable(changed.to_owned());
    }
}

/// Numerals and the words a number runs into (yue4 for dates, hao4 ...):
/// 一 next to them is a digit, read yi1.
fn is_numeral(s: &str) -> bool {
    matches!(
        s,
        "ling2" | "yi1" | "er4" | "san1" | "si4" | "wu3" | "liu4" | "qi1" | "ba1" | "jiu3" | "shi2" | "bai3" | "qian1" | "wan4"
            | "yi4" | "yue4" | "hao4" | "ri4" | "dian3" | "liang3" | "yao1"
    )
}

/// Drops pauses at the start and end, and keeps only the strongest of a run.
fn tidy_pauses(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for p in pieces {
        match (p, out.last_mut()) {
            (Piece::Pause(_), None) => {}
            (Piece::Pause(new), Some(Piece::Pause(old))) => *old = (*old).max(new),
            (p, _) => out.push(p),
        }
    }
    if matches!(out.last(), Some(Piece::Pause(Pause::Comma | Pause::Stop))) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests;
