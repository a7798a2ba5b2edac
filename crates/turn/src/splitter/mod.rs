//! A Chinese-aware streaming sentence splitter for LLM tokens.
//!
//! Feed tokens as they arrive with [`SentenceSplitter::push`]; each chunk it
//! returns is ready for TTS. Call [`SentenceSplitter::finish`] when the reply
//! ends to get the rest. The point is time to first audio: the first clause
//! is cut at its comma (`好的，`), so TTS starts while the LLM is still
//! generating the first sentence instead of waiting for its full stop.
//!
//! # Where a chunk ends
//! - **Sentence** (`Boundary::Sentence`): after `。！？；…` or a newline, or
//!   after ASCII `.!?;` followed by a space, a closing mark, a non-ASCII
//!   character or the end. Closing quotes and brackets, repeated marks and
//!   whitespace right after the mark stay with the sentence (`吗？！”`), so the
//!   splitter waits for the first character after them (one token).
//! - **Clause** (`Boundary::Clause`): after `，、：` or ASCII `,:` when the
//!   clause holds at least `min_first_clause_chars` letters, digits or Han
//!   characters (first chunk of a reply) or `min_clause_chars` (later
//!   chunks), outside quotation marks. A full-width comma is cut as soon as
//!   it arrives (after a digit, one character later: `1，000`), so the first
//!   clause never waits for the next token.
//! - **Forced** (`Boundary::Forced`): a run-on text reaching
//!   `max_chunk_chars` is cut at its last safe point, preferring one right
//!   after punctuation or a space.
//! - **End** (`Boundary::End`): whatever [`SentenceSplitter::finish`] flushes.
//!
//! Never cut: inside a number (`9.5`, `9:30`, `1,000`, `1，000`, `95%`,
//! `128元`), a Chinese numeral (`一百二十八`), an English word or domain, an
//! abbreviation (`Mr.`, `e.g.`), a list marker (`1.` opening a line),
//! before punctuation, or after an opening bracket or quote.
//!
//! Decisions depend on the text only, never on how it was cut into tokens:
//! feeding a reply token by token or character by character yields the same
//! chunks, and the chunks concatenate back to the input exactly.

mod chars;
#[cfg(test)]
mod tests;

use chars::{dot_is_not_a_stop, glued, is_closer, is_content, is_hard_stop, is_natural_pause, is_soft_stop, quote_step};

/// How eagerly the splitter cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitterConfig {
    /// Letters, digits or Han characters a reply's first clause needs before
    /// its comma cuts it. Low on purpose: the first chunk sets the time to
    /// first audio, and even `好的，` is a natural unit to say.
    pub min_first_clause_chars: usize,
    /// The same for later clauses. These are synthesised while earlier
    /// chunks play, so only long clauses are worth a TTS request of their
    /// own; short ones keep the sentence's prosody whole.
    pub min_clause_chars: usize,
    /// Longest chunk before a forced cut (characters, punctuation included).
    pub max_chunk_chars: usize,
}

impl Default for SplitterConfig {
    fn default() -> Self {
        SplitterConfig { min_first_clause_chars: 2, min_clause_chars: 6, max_chunk_chars: 60 }
    }
}

/// Why a chunk ended where it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// At a sentence end (`。！？；…`, newline, ASCII `.!?;`).
    Sentence,
    /// At a comma-like mark after a clause long enough to say on its own.
    Clause,
    /// At the last safe point of a run-on text that reached the cap.
    Forced,
    /// The rest of the reply, flushed by [`SentenceSplitter::finish`].
    End,
}

/// A piece of the reply ready for TTS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The text, punctuation included (never empty).
    pub text: String,
    /// Offset of its first character in the whole reply, in `char`s.
    pub start: usize,
    /// Offset just past its last character, in `char`s. The pipeline reports
    /// playback progress in these units (`AgentAudioPlayed::chars_played`).
    pub end: usize,
    /// Why it ended here.
    pub boundary: Boundary,
}

impl Chunk {
    /// Whether it holds anything to say (a chunk of only spaces or marks can
    /// be skipped by TTS; it still counts as played).
    pub fn is_speakable(&self) -> bool {
        self.text.chars().any(is_content)
    }
}

/// The streaming splitter for one reply at a time. See the module docs.
#[derive(Debug, Clone)]
pub struct SentenceSplitter {
    cfg: SplitterConfig,
    /// Characters received and not yet emitted.
    pending: Vec<char>,
    /// Offset in the reply of `pending[0]`.
    consumed: usize,
    /// `pending[..cursor]` has been looked at and holds no boundary.
    cursor: usize,
    /// Quotation depth at `pending[cursor]`.
    quote_depth: u32,
    chunks_emitted: usize,
}

/// What the character at the cursor means, given what follows it so far.
enum Verdict {
    NotBoundary,
    /// The answer depends on characters not yet received.
    Wait,
    Sentence,
    Clause,
}

impl SentenceSplitter {
    /// A splitter for a new reply.
    pub fn new(cfg: SplitterConfig) -> Self {
        SentenceSplitter { cfg, pending: Vec::new(), consumed: 0, cursor: 0, quote_depth: 0, chunks_emitted: 0 }
    }

    /// Takes the next piece of the reply; returns the chunks it completes.
    pub fn push(&mut self, token: &str) -> Vec<Chunk> {
        let mut out = Vec::new();
        // One character at a time, so the cuts cannot depend on tokenisation.
        for c in token.chars() {
            self.pending.push(c);
            self.scan(&mut out);
            self.force_if_too_long(&mut out);
        }
        out
    }

    /// Ends the reply: returns what is left, and makes the splitter ready for
    /// the next reply (offsets start again at 0).
    pub fn finish(&mut self) -> Option<Chunk> {
        let rest = if self.pending.is_empty() { None } else { Some(self.take(self.pending.len(), Boundary::End)) };
        *self = SentenceSplitter::new(self.cfg);
        rest
    }

    /// Characters received but not yet returned in a chunk.
    pub fn pending_chars(&self) -> usize {
        self.pending.len()
    }

    fn scan(&mut self, out: &mut Vec<Chunk>) {
        while self.cursor < self.pending.len() {
            match self.verdict(self.cursor) {
                Verdict::Wait => return,
                Verdict::NotBoundary => self.step(),
                Verdict::Clause => {
                    let clause_chars = self.pending[..self.cursor].iter().filter(|c| is_content(**c)).count();
                    let min = if self.chunks_emitted == 0 { self.cfg.min_first_clause_chars } else { self.cfg.min_clause_chars };
                    if clause_chars >= min.max(1) {
                        out.push(self.take(self.cursor + 1, Boundary::Clause));
                    } else {
                        self.step();
                    }
                }
                Verdict::Sentence => {
                    // Closing marks, repeated marks and spaces stay with the
                    // sentence; we need to see where they end.
                    let mut end = self.cursor + 1;
                    while end < self.pending.len() && attaches_to_sentence(self.pending[end]) {
                        end += 1;
                    }
                    if end == self.pending.len() {
                        return;
                    }
                    if self.pending[..end].iter().any(|c| is_content(*c)) {
                        out.push(self.take(end, Boundary::Sentence));
                        // An unclosed quotation must not silence commas for
                        // the rest of the reply.
                        self.quote_depth = 0;
                    } else {
                        while self.cursor < end {
                            self.step();
                        }
                    }
                }
            }
        }
    }

    fn verdict(&self, i: usize) -> Verdict {
        let c = self.pending[i];
        let next = self.pending.get(i + 1).copied();
        let prev = i.checked_sub(1).map(|j| self.pending[j]);
        if c == '\n' || (is_hard_stop(c) && !c.is_ascii()) {
            return Verdict::Sentence;
        }
        if is_hard_stop(c) {
            // ASCII marks double as decimal points, URLs and abbreviations.
            let Some(next) = next else { return Verdict::Wait };
            if !ends_ascii_mark(next) || (c == '.' && next != '.' && dot_is_not_a_stop(&self.pending[..i])) {
                return Verdict::NotBoundary;
            }
            return Verdict::Sentence;
        }
        if !is_soft_stop(c) || self.quote_depth > 0 {
            return Verdict::NotBoundary;
        }
        if c.is_ascii() || prev.is_some_and(|p| p.is_ascii_digit()) {
            // `1,000`, `9:30`, `1，000`: wait to see whether a digit follows.
            let Some(next) = next else { return Verdict::Wait };
            if (c.is_ascii() && !ends_ascii_mark(next)) || next.is_ascii_digit() {
                return Verdict::NotBoundary;
            }
        }
        Verdict::Clause
    }

    /// Moves the cursor past one character that is not a boundary.
    fn step(&mut self) {
        self.quote_depth = quote_step(self.pending[self.cursor], self.quote_depth);
        self.cursor += 1;
    }

    /// Emits `pending[..end]` as a chunk.
    fn take(&mut self, end: usize, boundary: Boundary) -> Chunk {
        for &c in &self.pending[self.cursor.min(end)..end] {
            self.quote_depth = quote_step(c, self.quote_depth);
        }
        let text: String = self.pending.drain(..end).collect();
        let start = self.consumed;
        self.consumed += end;
        self.cursor = self.cursor.saturating_sub(end);
        self.chunks_emitted += 1;
        Chunk { text, start, end: start + end, boundary }
    }

    /// Cuts a run-on text at the last safe point once it reaches the cap.
    fn force_if_too_long(&mut self, out: &mut Vec<Chunk>) {
        if self.pending.len() <= self.cfg.max_chunk_chars.max(1) {
            return;
        }
        // Only where the scan has passed, so no pending decision is cut.
        let last = self.cursor.min(self.pending.len() - 1);
        if last == 0 {
            return;
        }
        let cap = self.cfg.max_chunk_chars.max(1).min(last);
        let safe = |p: &usize| !glued(self.pending[p - 1], self.pending[*p]);
        // A pause in the first half of the window would leave a tiny chunk.
        let natural = (cap.div_ceil(2)..=cap).rev().filter(safe).find(|p| is_natural_pause(self.pending[p - 1]));
        let cut = natural
            .or_else(|| (1..=cap).rev().find(safe))
            // Nothing safe under the cap (a long URL): the first safe point after it.
            .or_else(|| (cap + 1..=last).find(safe));
        if let Some(p) = cut {
            out.push(self.take(p, Boundary::Forced));
        }
    }
}

impl Default for SentenceSplitter {
    fn default() -> Self {
        SentenceSplitter::new(SplitterConfig::default())
    }
}

/// Whether `c` after an ASCII mark lets the mark end a sentence or clause:
/// `9.5`, `e.g`, `https://` and `a,b` keep going.
fn ends_ascii_mark(c: char) -> bool {
    c.is_whitespace() || !c.is_ascii() || is_closer(c) || is_hard_stop(c)
}

fn attaches_to_sentence(c: char) -> bool {
    is_hard_stop(c) || is_closer(c) || c.is_whitespace()
}
