//! Keeping keys out of what an engine says.

use std::fmt;
use std::sync::Arc;

use crate::error::VendorError;

const REDACTED: &str = "[redacted]";

/// A secret at least this many characters long also has its echoes
/// scrubbed: servers quote the start of a bad key (`"sk-abc...xyz"`).
const ECHOED_MIN_CHARS: usize = 16;
/// How many of a secret's first characters mark an echo of it.
const ECHO_HEAD_CHARS: usize = 12;

/// Takes secrets out of text before it leaves an engine. Cheap to clone.
#[derive(Default, Clone)]
pub struct Scrubber {
    secrets: Arc<[String]>,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber").field("secrets", &self.secrets.len()).finish()
    }
}

impl Scrubber {
    /// Knows `secrets` (blank ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        Scrubber { secrets: secrets.into_iter().filter(|s| !s.trim().is_empty()).collect() }
    }

    /// `text` with every secret, and every word that begins like a long
    /// one, replaced by `[redacted]`.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in self.secrets.iter() {
            text = text.replace(secret.as_str(), REDACTED);
            if let Some(head) = echo_head(secret) {
                text = scrub_words_starting_with(&text, head);
            }
        }
        text
    }

    /// `e` with its message scrubbed.
    pub fn error<E: VendorError>(&self, mut e: E) -> E {
        if let Some(message) = e.message_mut() {
            *message = self.scrub(message);
        }
        e
    }
}

/// The start of `secret` that marks an echo of it, for a secret long
/// enough that its start identifies it. Cut on a character boundary: keys
/// are ASCII when they reach a header, but a secret read from a file or
/// the environment need not be.
fn echo_head(secret: &str) -> Option<&str> {
    if secret.chars().count() < ECHOED_MIN_CHARS {
        return None;
    }
    let (end, _) = secret.char_indices().nth(ECHO_HEAD_CHARS)?;
    Some(&secret[..end])
}

/// `text` with each word that starts with `head` (up to whitespace or
/// closing punctuation) replaced by `[redacted]`.
fn scrub_words_starting_with(text: &str, head: &str) -> String {
    let mut text = text.to_owned();
    let mut from = 0;
    while let Some(found) = text[from..].find(head) {
        let at = from + found;
        let end = text[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | ')' | '}'))
            .map_or(text.len(), |n| at + n);
        text.replace_range(at..end, REDACTED);
        // Past the mark: a secret that looks like the mark must not loop.
        from = at + REDACTED.len();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HttpError;

    #[test]
    fn scrubber_removes_keys_and_their_echoes() {
        let s = Scrubber::new(["sk-0123456789abcdef0123".to_string()]);
        assert_eq!(s.scrub("bad key sk-0123456789abcdef0123 here"), "bad key [redacted] here");
        assert_eq!(s.scrub("key: \"sk-0123456789ab***\"."), "key: \"[redacted]\".");
        // A key that looks like the redaction mark must not loop forever.
        let odd = Scrubber::new(["[redacted][redacted]xx".to_string()]);
        assert_eq!(odd.scrub("a [redacted][redacted]x b"), "a [redacted] b");
    }

    /// The copy that was in waihu-agent sliced the first 12 bytes of any
    /// secret of 16 bytes or more, which panics when byte 12 falls inside
    /// a character (here inside an 'é'); the copy in waihu-speech skipped
    /// the echoes of such a secret.
    #[test]
    fn a_non_ascii_secret_and_its_echoes_are_scrubbed_without_a_panic() {
        let secret = "xéééééééééééééééé";
        assert!(!secret.is_char_boundary(12));
        let s = Scrubber::new([secret.to_string()]);
        assert_eq!(s.scrub(&format!("key {secret} here")), "key [redacted] here");
        let echo: String = secret.chars().take(13).chain("…".chars()).collect();
        assert_eq!(s.scrub(&format!("bad key '{echo}'")), "bad key '[redacted]'");
        // Shorter than 16 characters (though 16 bytes and more): no echoes.
        let short = Scrubber::new(["ééééééééé".to_string()]);
        assert_eq!(short.scrub("ééééééééé and éééééééé"), "[redacted] and éééééééé");
    }

    #[test]
    fn blank_secrets_are_ignored_and_errors_are_scrubbed() {
        let s = Scrubber::new(["  ".to_string(), "hunter2-hunter2".to_string()]);
        assert_eq!(s.scrub("a  b"), "a  b");
        let e = s.error(HttpError::Http { status: 401, message: "bad key hunter2-hunter2".into() });
        assert_eq!(e, HttpError::Http { status: 401, message: "bad key [redacted]".into() });
        assert_eq!(s.error(HttpError::Timeout(5)), HttpError::Timeout(5));
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
