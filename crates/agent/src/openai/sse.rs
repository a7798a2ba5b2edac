//! Server-sent events, cut from the raw body bytes: no IO, so every way the
//! network can split a stream is testable here.

/// Longest line accepted. A chat chunk is a few hundred bytes; a body that
/// never sends a newline is not an event stream, and must not grow memory
/// without bound.
const MAX_LINE: usize = 1 << 20;

/// What one complete event-stream line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SseLine {
    /// A `data:` field (the leading space removed).
    Data(String),
    /// A blank line: the end of an event.
    Blank,
    /// A comment (`: keep-alive`) or a field we do not use (`event:`, `id:`,
    /// `retry:`).
    Other,
}

/// Why the bytes are not an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SseError {
    /// A line is not UTF-8.
    NotUtf8,
    /// A line is longer than [`MAX_LINE`].
    LineTooLong,
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SseError::NotUtf8 => f.write_str("event-stream line is not UTF-8"),
            SseError::LineTooLong => write!(f, "event-stream line longer than {MAX_LINE} bytes"),
        }
    }
}

/// Cuts a byte stream into lines. Bytes are buffered, not text: a network
/// chunk may end in the middle of a line, and in the middle of a multi-byte
/// UTF-8 character (most Chinese characters are three bytes).
#[derive(Debug, Default)]
pub(crate) struct LineDecoder {
    buf: Vec<u8>,
}

impl LineDecoder {
    /// Adds `bytes` and returns every line they complete, in order.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseLine>, SseError> {
        self.buf.extend_from_slice(bytes);
        let mut lines = Vec::new();
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            lines.push(parse_line(&self.buf[start..end])?);
            start = end + 1;
        }
        self.buf.drain(..start);
        if self.buf.len() > MAX_LINE {
            return Err(SseError::LineTooLong);
        }
        Ok(lines)
    }

    /// The last line, when the body ended without a newline after it.
    pub(crate) fn finish(&mut self) -> Result<Option<SseLine>, SseError> {
        if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
            self.buf.clear();
            return Ok(None);
        }
        let line = parse_line(&self.buf);
        self.buf.clear();
        line.map(Some)
    }
}

fn parse_line(raw: &[u8]) -> Result<SseLine, SseError> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let line = std::str::from_utf8(raw).map_err(|_| SseError::NotUtf8)?;
    if line.is_empty() {
        return Ok(SseLine::Blank);
    }
    // The field name runs to the first colon; one space after it is part of
    // the syntax, not of the value.
    match line.strip_prefix("data") {
        Some("") => Ok(SseLine::Data(String::new())),
        Some(rest) => match rest.strip_prefix(':') {
            Some(value) => Ok(SseLine::Data(value.strip_prefix(' ').unwrap_or(value).to_owned())),
            None => Ok(SseLine::Other),
        },
        None => Ok(SseLine::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(s: &str) -> SseLine {
        SseLine::Data(s.to_owned())
    }

    #[test]
    fn lines_split_anywhere_come_out_whole() {
        let stream = "data: {\"a\":\"喂，您好\"}\r\n\r\n: keep-alive\n\ndata:[DONE]\n\n".as_bytes();
        // Every possible split point, including inside a three-byte character.
        for cut in 0..stream.len() {
            let mut d = LineDecoder::default();
            let mut got = d.feed(&stream[..cut]).unwrap();
            got.extend(d.feed(&stream[cut..]).unwrap());
            assert_eq!(d.finish().unwrap(), None);
            assert_eq!(
                got,
                vec![data("{\"a\":\"喂，您好\"}"), SseLine::Blank, SseLine::Other, SseLine::Blank, data("[DONE]"), SseLine::Blank],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn other_fields_are_not_data() {
        let mut d = LineDecoder::default();
        let got = d.feed(b"event: message\nid: 7\nretry: 100\ndatum: x\ndata\n").unwrap();
        assert_eq!(got, vec![SseLine::Other, SseLine::Other, SseLine::Other, SseLine::Other, data("")]);
    }

    #[test]
    fn a_last_line_without_newline_is_kept() {
        let mut d = LineDecoder::default();
        assert!(d.feed(b"data: [DONE]").unwrap().is_empty());
        assert_eq!(d.finish().unwrap(), Some(data("[DONE]")));
    }

    #[test]
    fn bad_bytes_are_errors() {
        assert_eq!(LineDecoder::default().feed(b"data: \xff\xfe\n"), Err(SseError::NotUtf8));
        let mut d = LineDecoder::default();
        assert_eq!(d.feed(&vec![b'x'; MAX_LINE + 1]), Err(SseError::LineTooLong));
    }
}
