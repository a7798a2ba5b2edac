//! One streamed chat completion, assembled from its event-stream lines into
//! [`LlmEvent`]s: text as soon as it arrives, `hang_up` once the tool call is
//! complete. No IO: the engine feeds it lines, tests feed it strings.

use serde::Deserialize;
use serde_json::Value;
use waihu_core::Outcome;
use waihu_vendor_http::{error_text, truncate};

use super::sse::SseLine;
use crate::llm::{LlmError, LlmEvent};
use crate::prompt::{HANG_UP_OUTCOMES, HANG_UP_TOOL};

/// One `data:` payload of a streamed chat completion. Every field is
/// optional: servers differ in what they leave out or send as `null`
/// (DeepSeek sends `"content": null` beside tool calls; usage chunks have an
/// empty `choices`).
#[derive(Debug, Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    index: Option<u64>,
    /// Streamed replies carry a delta; a whole (non-streamed) reply a message
    /// of the same shape.
    #[serde(default, alias = "message")]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
    // `reasoning_content` (DeepSeek reasoner, Qwen) is deliberately not read:
    // thinking is never said on the phone.
}

#[derive(Debug, Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Debug, Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    /// A string piece of JSON per the API; a few servers send the whole
    /// object instead.
    #[serde(default)]
    arguments: Option<Value>,
}

/// A tool call as it builds up over chunks.
#[derive(Debug, Default)]
struct ToolCall {
    index: Option<u64>,
    id: Option<String>,
    name: String,
    arguments: String,
}

/// The state of one reply.
#[derive(Debug, Default)]
pub(crate) struct ReplyAssembler {
    tool_calls: Vec<ToolCall>,
    think: ThinkFilter,
    /// Data lines of an event that did not parse on their own yet (the SSE
    /// spec lets one event span several `data:` lines).
    partial: Option<String>,
    /// Something to say (text or a tool call) has arrived.
    started: bool,
    /// `finish_reason` or `[DONE]` seen: the reply is whole.
    complete: bool,
    /// `[DONE]` seen: nothing more will come.
    done: bool,
    flushed: bool,
}

impl ReplyAssembler {
    /// Whether the first piece of the reply has arrived.
    pub(crate) fn started(&self) -> bool {
        self.started
    }

    /// Whether the server said the stream is over (`[DONE]`).
    pub(crate) fn done(&self) -> bool {
        self.done
    }

    /// Takes one event-stream line.
    pub(crate) fn on_line(&mut self, line: SseLine, out: &mut Vec<LlmEvent>) -> Result<(), LlmError> {
        match line {
            SseLine::Other => Ok(()),
            SseLine::Blank => match self.partial.take() {
                Some(bad) => Err(unreadable(&bad)),
                None => Ok(()),
            },
            SseLine::Data(payload) => {
                if self.partial.is_none() && payload.trim() == "[DONE]" {
                    self.done = true;
                    self.complete = true;
                    self.flush(out);
                    return Ok(());
                }
                let joined = match self.partial.take() {
                    Some(mut p) => {
                        p.push('\n');
                        p.push_str(&payload);
                        p
                    }
                    None => payload,
                };
                if joined.trim().is_empty() {
                    return Ok(());
                }
                match serde_json::from_str::<Chunk>(&joined) {
                    Ok(chunk) => self.on_chunk(chunk, out),
                    Err(_) => {
                        self.partial = Some(joined);
                        Ok(())
                    }
                }
            }
        }
    }

    /// Takes a whole JSON answer: what a server that ignores `"stream": true`
    /// sends.
    pub(crate) fn on_whole(&mut self, body: &str, out: &mut Vec<LlmEvent>) -> Result<(), LlmError> {
        let chunk: Chunk = serde_json::from_str(body).map_err(|_| unreadable(body))?;
        self.on_chunk(chunk, out)?;
        self.complete = true;
        self.done = true;
        self.flush(out);
        Ok(())
    }

    /// The body ended. A reply that never said it was finished was cut off
    /// on the way, and is not passed off as whole.
    pub(crate) fn on_end(&mut self, out: &mut Vec<LlmEvent>) -> Result<(), LlmError> {
        if let Some(bad) = self.partial.take() {
            return Err(unreadable(&bad));
        }
        if !self.complete {
            return Err(LlmError::Protocol("the stream ended before the reply was complete".into()));
        }
        self.flush(out);
        Ok(())
    }

    fn on_chunk(&mut self, chunk: Chunk, out: &mut Vec<LlmEvent>) -> Result<(), LlmError> {
        if let Some(err) = chunk.error {
            return Err(LlmError::Protocol(format!("the engine failed mid-reply: {}", error_text(&err))));
        }
        // Only the first choice is ever asked for (n = 1); another index would
        // be a second, different reply.
        for choice in chunk.choices.unwrap_or_default().into_iter().filter(|c| c.index.unwrap_or(0) == 0) {
            if let Some(delta) = choice.delta {
                if let Some(text) = delta.content {
                    let spoken = self.think.push(&text);
                    if !spoken.is_empty() {
                        self.started = true;
                        out.push(LlmEvent::Text(spoken));
                    }
                }
                for call in delta.tool_calls.unwrap_or_default() {
                    self.started = true;
                    self.add_tool_delta(call);
                }
            }
            if choice.finish_reason.is_some_and(|r| !r.is_empty()) {
                // Tool calls are whole once the choice finishes: hang up now
                // rather than after the usage chunk and `[DONE]`.
                self.complete = true;
                self.flush(out);
            }
        }
        Ok(())
    }

    fn add_tool_delta(&mut self, d: ToolCallDelta) {
        // Calls are matched by index; servers that leave the index out are
        // matched by id, and an anonymous piece continues the last call.
        let pos = match (d.index, d.id.as_deref()) {
            (Some(i), _) => self.tool_calls.iter().position(|c| c.index == Some(i)),
            (None, Some(id)) => self.tool_calls.iter().position(|c| c.id.as_deref() == Some(id)),
            (None, None) => self.tool_calls.len().checked_sub(1),
        };
        let pos = pos.unwrap_or_else(|| {
            self.tool_calls.push(ToolCall { index: d.index, id: d.id.clone(), ..ToolCall::default() });
            self.tool_calls.len() - 1
        });
        let call = &mut self.tool_calls[pos];
        if call.id.is_none() {
            call.id = d.id;
        }
        let Some(f) = d.function else { return };
        if let Some(name) = f.name {
            // Most servers send the name once; some repeat it on every piece.
            if call.name != name {
                call.name.push_str(&name);
            }
        }
        match f.arguments {
            Some(Value::String(piece)) => call.arguments.push_str(&piece),
            Some(Value::Null) | None => {}
            Some(whole) => call.arguments = whole.to_string(),
        }
    }

    /// Says what is held back and, once, hangs up if the model asked to.
    fn flush(&mut self, out: &mut Vec<LlmEvent>) {
        if self.flushed {
            return;
        }
        self.flushed = true;
        let rest = self.think.finish();
        if !rest.is_empty() {
            out.push(LlmEvent::Text(rest));
        }
        let mut hung_up = false;
        for call in &self.tool_calls {
            if call.name.trim() != HANG_UP_TOOL {
                tracing::warn!(tool = %truncate(&call.name, 40), "the model called a tool that does not exist; ignored");
                continue;
            }
            if !hung_up {
                hung_up = true;
                out.push(LlmEvent::HangUp { outcome: parse_outcome(&call.arguments) });
            }
        }
    }
}

/// The outcome in `hang_up`'s arguments. A missing or unknown one still
/// hangs up: the model decided the call is over, only the label is lost.
fn parse_outcome(arguments: &str) -> Option<Outcome> {
    if arguments.trim().is_empty() {
        return None;
    }
    let value = match serde_json::from_str::<Value>(arguments) {
        Ok(v) => v,
        Err(_) => {
            tracing::warn!("hang_up arguments are not JSON; hanging up without an outcome");
            return None;
        }
    };
    let word = value.get("outcome").and_then(Value::as_str)?;
    // Only the outcomes the tool offers: a model on a call cannot say the
    // call never connected.
    let outcome = Outcome::parse(word.trim()).filter(|o| HANG_UP_OUTCOMES.contains(o));
    if outcome.is_none() {
        tracing::warn!(outcome = %truncate(word, 40), "hang_up gave an outcome we do not know");
    }
    outcome
}

fn unreadable(payload: &str) -> LlmError {
    LlmError::Protocol(format!("unreadable chunk: {}", truncate(payload, 120)))
}

/// Drops `<think>…</think>` blocks from streamed text. Reasoning models
/// served by Ollama, vLLM or llama.cpp (Qwen3, DeepSeek-R1 distills) write
/// their thinking into the content itself, and the phone must not read it
/// out. A tail that may be the start of a tag is held until the next piece.
#[derive(Debug, Default)]
struct ThinkFilter {
    inside: bool,
    held: String,
}

const THINK_OPEN: &str = "<think>";
const THINK_CLOSE: &str = "</think>";

impl ThinkFilter {
    fn push(&mut self, piece: &str) -> String {
        self.held.push_str(piece);
        let mut out = String::new();
        loop {
            let tag = if self.inside { THINK_CLOSE } else { THINK_OPEN };
            if let Some(at) = self.held.find(tag) {
                if !self.inside {
                    out.push_str(&self.held[..at]);
                }
                self.held.drain(..at + tag.len());
                self.inside = !self.inside;
                continue;
            }
            let keep = partial_tag_len(&self.held, tag);
            let cut = self.held.len() - keep;
            if !self.inside {
                out.push_str(&self.held[..cut]);
            }
            self.held.drain(..cut);
            return out;
        }
    }

    /// What is left at the end of the reply: a held tail that turned out not
    /// to be a tag is said; unfinished thinking is not.
    fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.held);
        if self.inside {
            String::new()
        } else {
            rest
        }
    }
}

/// The length of the longest end of `s` that is a proper start of `tag`.
fn partial_tag_len(s: &str, tag: &str) -> usize {
    (1..tag.len()).rev().find(|&k| s.ends_with(&tag[..k])).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str]) -> Result<Vec<LlmEvent>, LlmError> {
        let mut r = ReplyAssembler::default();
        let mut out = Vec::new();
        for l in lines {
            let line = match l.strip_prefix("data: ") {
                Some(d) => SseLine::Data(d.to_owned()),
                None if l.is_empty() => SseLine::Blank,
                None => SseLine::Other,
            };
            r.on_line(line, &mut out)?;
        }
        r.on_end(&mut out)?;
        Ok(out)
    }

    fn text(s: &str) -> LlmEvent {
        LlmEvent::Text(s.to_owned())
    }

    #[test]
    fn text_comes_out_per_delta_and_usage_chunks_are_skipped() {
        let got = run(&[
            r#"data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            "",
            r#"data: {"choices":[{"index":0,"delta":{"content":"喂，"}}]}"#,
            "",
            r#"data: {"choices":[{"index":0,"delta":{"content":"您好"},"finish_reason":null}]}"#,
            "",
            r#"data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            "",
            r#"data: {"choices":[],"usage":{"prompt_tokens":9}}"#,
            "",
            "data: [DONE]",
        ])
        .unwrap();
        assert_eq!(got, vec![text("喂，"), text("您好")]);
    }

    #[test]
    fn tool_call_pieces_join_by_index() {
        let got = run(&[
            r#"data: {"choices":[{"index":0,"delta":{"content":"再见！"}}]}"#,
            r#"data: {"choices":[{"index":0,"delta":{"content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"hang_up","arguments":""}}]}}]}"#,
            r#"data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"outc"}}]}}]}"#,
            r#"data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ome\": \"wrong_person\"}"}}]}}]}"#,
            r#"data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            "data: [DONE]",
        ])
        .unwrap();
        assert_eq!(got, vec![text("再见！"), LlmEvent::HangUp { outcome: Some(Outcome::WrongPerson) }]);
    }

    #[test]
    fn tool_calls_without_index_and_whole_object_arguments() {
        let got = run(&[
            r#"data: {"choices":[{"delta":{"tool_calls":[{"id":"a","function":{"name":"hang_up","arguments":{"outcome":"opted_out"}}}]},"finish_reason":"tool_calls"}]}"#,
            "data: [DONE]",
        ])
        .unwrap();
        assert_eq!(got, vec![LlmEvent::HangUp { outcome: Some(Outcome::OptedOut) }]);
    }

    #[test]
    fn unknown_tools_and_outcomes_still_behave() {
        let got = run(&[
            r#"data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"transfer","arguments":"{}"}},{"index":1,"function":{"name":"hang_up","arguments":"{\"outcome\":\"not_connected\"}"}}]}}]}"#,
            "data: [DONE]",
        ])
        .unwrap();
        assert_eq!(got, vec![LlmEvent::HangUp { outcome: None }]);
    }

    #[test]
    fn one_event_over_two_data_lines_is_joined() {
        let got = run(&["data: {\"choices\":[{\"delta\":", "data: {\"content\":\"好\"}}]}", "", "data: [DONE]"]).unwrap();
        assert_eq!(got, vec![text("好")]);
    }

    #[test]
    fn garbage_and_truncation_and_mid_stream_errors_are_protocol_errors() {
        assert!(matches!(run(&["data: {not json", ""]), Err(LlmError::Protocol(m)) if m.contains("{not json")));
        assert!(matches!(run(&[r#"data: {"choices":[{"delta":{"content":"喂"}}]}"#]), Err(LlmError::Protocol(m)) if m.contains("ended before")));
        let e = run(&[r#"data: {"error":{"message":"Rate limit reached","type":"requests"}}"#]).unwrap_err();
        assert!(matches!(e, LlmError::Protocol(m) if m.contains("Rate limit reached")));
    }

    #[test]
    fn a_whole_json_answer_is_accepted() {
        let mut r = ReplyAssembler::default();
        let mut out = Vec::new();
        r.on_whole(r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"好的，再见。","tool_calls":[{"id":"x","type":"function","function":{"name":"hang_up","arguments":"{\"outcome\":\"delivered\"}"}}]},"finish_reason":"tool_calls"}]}"#, &mut out).unwrap();
        assert_eq!(out, vec![text("好的，再见。"), LlmEvent::HangUp { outcome: Some(Outcome::Delivered) }]);
    }

    #[test]
    fn thinking_is_never_said() {
        let mut f = ThinkFilter::default();
        let pieces = ["<th", "ink>\n用户确认了身份", "，现在转达</thi", "nk>\n\n张总您好", "，明天<", "b>九点"];
        let said: String = pieces.iter().map(|p| f.push(p)).collect::<String>() + &f.finish();
        assert_eq!(said, "\n\n张总您好，明天<b>九点");
        let mut f = ThinkFilter::default();
        assert_eq!(f.push("<think>没想完"), "");
        assert_eq!(f.finish(), "");
    }
}
