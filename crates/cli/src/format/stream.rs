//! The live stream as `stream_chat.sh` prints it.

use waihu_client::sse::{is_done, is_timeout, StreamEvent, StreamItem};
use waihu_client::text::clean;
use waihu_wire::StreamLine;

use super::agent_json::{has_instruction_fields, strip_instruction_fields};
use super::RULE;

/// The banner printed before connecting, ending with a blank line.
pub(crate) fn header(call_id: &str) -> String {
    format!(
        "🎙️  Streaming real-time conversation\n{RULE}\nCall ID: {}\nWaiting for connection...\n\n",
        clean(call_id)
    )
}

/// An utterance: `🤖 AI: ...` or `👤 User: ...`. `None` for system
/// lines and unknown roles (the footers cover `[DONE]`/`[TIMEOUT]`).
pub(crate) fn line(line: &StreamLine) -> Option<String> {
    super::utterance(&line.role, &line.content)
}

/// After `[DONE]`.
pub(crate) fn footer_done() -> String {
    format!("\n{RULE}\n📞 Call ended\n")
}

/// After `[TIMEOUT]`.
pub(crate) fn footer_timeout() -> String {
    format!("\n{RULE}\n⏰ Call not answered within 30 seconds (timeout)\n")
}

/// What to print for an item: the utterance, or the footer for
/// `[DONE]`/`[TIMEOUT]`; nothing for keep-alives.
pub(crate) fn render(item: &StreamItem) -> Option<String> {
    match item {
        StreamItem::KeepAlive => None,
        StreamItem::Line(l) if is_done(l) => Some(footer_done()),
        StreamItem::Line(l) if is_timeout(l) => Some(footer_timeout()),
        StreamItem::Line(l) => line(l),
    }
}

/// `--json` mode: the `data:` line as received; keep-alives print
/// nothing. A payload with instruction-like fields is re-serialised
/// without them (the only case where the text differs from the wire).
pub(crate) fn json_line(event: &StreamEvent) -> Option<String> {
    if event.item == StreamItem::KeepAlive {
        return None;
    }
    let payload = event
        .raw
        .lines()
        .map(|l| {
            let v = l.strip_prefix("data:").unwrap_or(l);
            v.strip_prefix(' ').unwrap_or(v)
        })
        .collect::<Vec<_>>()
        .join("\n");
    match serde_json::from_str::<serde_json::Value>(&payload) {
        Ok(v) if has_instruction_fields(&v) => {
            let stripped = strip_instruction_fields(v);
            Some(format!(
                "data: {}\n",
                serde_json::to_string(&stripped).unwrap_or_default()
            ))
        }
        _ => Some(format!("{}\n", event.raw)),
    }
}
