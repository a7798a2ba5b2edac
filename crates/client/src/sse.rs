//! The live stream's Server-Sent Events, decoded from bytes without IO.
//!
//! The network delivers the stream in arbitrary chunks: a line, a UTF-8
//! character or a `\r\n` pair may be cut anywhere. [`SseDecoder`] buffers
//! bytes until a line is whole, so the client and the tests feed it exactly
//! what arrived. What it understands is what the Stepone stream sends:
//! comment lines (`: keep-alive`) and `data:` lines holding one JSON object
//! `{"role", "content"}` each. Other SSE fields (`event:`, `id:`, `retry:`)
//! carry nothing here and are skipped.
//!
//! Written by hand because the usual crate does not fit this protocol:
//! `eventsource-stream` drops comment lines (the keep-alives are items
//! here), keeps no raw text for `--json` output, hands out an event only
//! at its blank line (this decoder takes a payload as soon as its JSON is
//! whole, so a server that leaves out the blank line still works), buffers
//! a line without bound, and brings a parser-combinator crate for what is
//! about 150 lines without IO.

use waihu_wire::StreamLine;

use crate::error::ClientError;

/// The endpoint named in decoding errors.
const ENDPOINT: &str = "stream_chat_history";

/// A line longer than this without a line end is refused, so a broken or
/// hostile server cannot make the client buffer without bound.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The system line that ends a call's stream.
pub const DONE: &str = "[DONE]";
/// The system line sent when the callee did not answer in time.
pub const TIMEOUT: &str = "[TIMEOUT]";

/// One thing the stream said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// A comment line: the server is there, the call is not connected yet.
    KeepAlive,
    /// An utterance, or a `system` line (`[DONE]`, `[TIMEOUT]`).
    Line(StreamLine),
}

/// A [`StreamItem`] with the text it came from (`data: {...}` or
/// `: keep-alive`, without the line end), for `--json` output that must show
/// the lines as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    /// What it means.
    pub item: StreamItem,
    /// The line(s) as received.
    pub raw: String,
}

/// Whether a line is the system `[DONE]`.
pub fn is_done(line: &StreamLine) -> bool {
    line.role == "system" && line.content.trim() == DONE
}

/// Whether a line is the system `[TIMEOUT]`.
pub fn is_timeout(line: &StreamLine) -> bool {
    line.role == "system" && line.content.trim() == TIMEOUT
}

/// Whether the stream ends after this item.
pub fn is_terminal(item: &StreamItem) -> bool {
    matches!(item, StreamItem::Line(l) if is_done(l) || is_timeout(l))
}

/// Incremental SSE decoder. Feed chunks with [`push`](Self::push), then
/// call [`finish`](Self::finish) when the body ends.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes not yet making a whole line.
    buf: Vec<u8>,
    /// `data:` values of an event whose JSON is not complete yet (a server
    /// may split one payload over several `data:` lines, as SSE allows).
    pending_data: Vec<String>,
    /// The raw lines behind `pending_data`.
    pending_raw: Vec<String>,
}

impl SseDecoder {
    /// A fresh decoder.
    pub fn new() -> SseDecoder {
        SseDecoder::default()
    }

    /// Takes the next chunk; returns the events it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<StreamEvent, ClientError>> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i < self.buf.len() {
            match self.buf[i] {
                b'\n' => {
                    let line = self.buf[start..i].to_vec();
                    self.line(&line, &mut out);
                    i += 1;
                    start = i;
                }
                b'\r' => {
                    // A lone `\r` also ends a line in SSE; but a `\r` at the
                    // end of the chunk may be the first half of `\r\n`, so
                    // wait for the next byte before deciding.
                    if i + 1 == self.buf.len() {
                        break;
                    }
                    let line = self.buf[start..i].to_vec();
                    self.line(&line, &mut out);
                    i += if self.buf[i + 1] == b'\n' { 2 } else { 1 };
                    start = i;
                }
                _ => i += 1,
            }
        }
        self.buf.drain(..start);
        if self.buf.len() > MAX_LINE_BYTES {
            self.buf.clear();
            out.push(Err(invalid(format!(
                "a line is longer than {MAX_LINE_BYTES} bytes"
            ))));
        }
        out
    }

    /// The body ended: decodes a last line without a line end and reports
    /// an event left incomplete.
    pub fn finish(&mut self) -> Vec<Result<StreamEvent, ClientError>> {
        let mut out = Vec::new();
        let rest = std::mem::take(&mut self.buf);
        let rest = rest.strip_suffix(b"\r").unwrap_or(&rest);
        if !rest.is_empty() {
            self.line(rest, &mut out);
        }
        if !self.pending_data.is_empty() {
            self.pending_data.clear();
            self.pending_raw.clear();
            out.push(Err(invalid(
                "the stream ended inside an incomplete data line".into(),
            )));
        }
        out
    }

    /// Handles one whole line (without its line end).
    fn line(&mut self, bytes: &[u8], out: &mut Vec<Result<StreamEvent, ClientError>>) {
        let Ok(line) = std::str::from_utf8(bytes) else {
            out.push(Err(invalid("a line is not valid UTF-8".into())));
            return;
        };
        if line.is_empty() {
            // The blank line ends an event: what is pending must be whole.
            if !self.pending_data.is_empty() {
                self.pending_data.clear();
                self.pending_raw.clear();
                out.push(Err(invalid(
                    "a data line is not a JSON {\"role\", \"content\"} object".into(),
                )));
            }
            return;
        }
        if line.starts_with(':') {
            out.push(Ok(StreamEvent {
                item: StreamItem::KeepAlive,
                raw: line.to_string(),
            }));
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        if field != "data" {
            return;
        }
        if value.trim().is_empty() && self.pending_data.is_empty() {
            // An empty payload carries nothing in this protocol.
            return;
        }
        self.pending_data.push(value.to_string());
        self.pending_raw.push(line.to_string());
        let joined = self.pending_data.join("\n");
        match serde_json::from_str::<StreamLine>(&joined) {
            Ok(parsed) => {
                let raw = self.pending_raw.join("\n");
                self.pending_data.clear();
                self.pending_raw.clear();
                out.push(Ok(StreamEvent {
                    item: StreamItem::Line(parsed),
                    raw,
                }));
            }
            // Cut short: the rest may follow on the next data line.
            Err(e) if e.is_eof() => {}
            Err(e) => {
                self.pending_data.clear();
                self.pending_raw.clear();
                out.push(Err(invalid(format!(
                    "a data line is not a JSON {{\"role\", \"content\"}} object ({})",
                    crate::text::one_line(&e.to_string(), 120)
                ))));
            }
        }
    }
}

fn invalid(reason: String) -> ClientError {
    ClientError::InvalidJson {
        endpoint: ENDPOINT.to_string(),
        reason,
    }
}
