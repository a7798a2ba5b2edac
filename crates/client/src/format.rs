//! Human and agent output, in the formats of the skill's scripts.
//!
//! Every function returns the text exactly as it should appear, ending with
//! a newline: print it with `print!`, not `println!`. Text from the server
//! (transcripts, names, messages) is untrusted: control characters and
//! bidirectional overrides are replaced so they cannot rewrite the terminal,
//! and JSON meant for an agent loses its instruction-like fields.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use waihu_wire::{BalanceResponse, CallRecord, EngineInfo, VoiceInfo};

use crate::client::{CallCreated, RetryNotice};

/// The horizontal rule of `stream_chat.sh`: 36 heavy box-drawing lines.
pub const RULE: &str = "━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━";

/// The language of labels in summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English labels, durations as `N s`.
    #[default]
    En,
    /// Chinese labels, durations as `N 秒`.
    Zh,
}

/// The live stream as `stream_chat.sh` prints it.
pub mod stream {
    use waihu_wire::StreamLine;

    use super::{clean, has_instruction_fields, strip_instruction_fields, RULE};
    use crate::sse::{is_done, is_timeout, StreamEvent, StreamItem};

    /// The banner printed before connecting, ending with a blank line.
    pub fn header(call_id: &str) -> String {
        format!(
            "🎙️  Streaming real-time conversation\n{RULE}\nCall ID: {}\nWaiting for connection...\n\n",
            clean(call_id)
        )
    }

    /// An utterance: `🤖 AI: ...` or `👤 User: ...`. `None` for system
    /// lines and unknown roles (the footers cover `[DONE]`/`[TIMEOUT]`).
    pub fn line(line: &StreamLine) -> Option<String> {
        super::utterance(&line.role, &line.content)
    }

    /// After `[DONE]`.
    pub fn footer_done() -> String {
        format!("\n{RULE}\n📞 Call ended\n")
    }

    /// After `[TIMEOUT]`.
    pub fn footer_timeout() -> String {
        format!("\n{RULE}\n⏰ Call not answered within 30 seconds (timeout)\n")
    }

    /// What to print for an item: the utterance, or the footer for
    /// `[DONE]`/`[TIMEOUT]`; nothing for keep-alives.
    pub fn render(item: &StreamItem) -> Option<String> {
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
    pub fn json_line(event: &StreamEvent) -> Option<String> {
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
}

/// `🤖 AI: ...` / `👤 User: ...` for a transcript line.
fn utterance(role: &str, content: &str) -> Option<String> {
    let who = match role {
        "assistant" => "🤖 AI",
        "user" => "👤 User",
        _ => return None,
    };
    Some(format!("{who}: {}\n", clean(content)))
}

/// `callout.sh`: the answer's JSON, compact as the server sent it, then one
/// line per call id. `phones` is the comma-separated list that was asked
/// for; when it pairs up with the ids, each line names its number.
pub fn call_created(created: &CallCreated, phones: Option<&str>) -> String {
    let mut out = json_compact(&created.raw);
    let numbers: Vec<&str> = phones
        .map(|p| {
            p.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let paired = numbers.len() == created.call_ids.len();
    for (i, id) in created.call_ids.iter().enumerate() {
        if paired {
            out.push_str(&format!(
                "📞 Call ID: {} ({})\n",
                clean(id),
                clean(numbers[i])
            ));
        } else {
            out.push_str(&format!("📞 Call ID: {}\n", clean(id)));
        }
    }
    out
}

/// `callinfo.sh`: a readable summary of a record, then its transcript.
pub fn record_summary(record: &CallRecord, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let label = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    let mut rows: Vec<(&str, String)> = vec![
        (label("Call ID", "通话 ID"), clean(&record.call_id)),
        (label("Phone", "电话"), clean(&record.phones)),
        (label("Status", "状态"), clean(&record.status)),
        (
            label("Duration", "时长"),
            match record.duration_seconds {
                Some(s) if zh => format!("{s} 秒"),
                Some(s) => format!("{s} s"),
                None => label("(not over yet)", "(通话未结束)").to_string(),
            },
        ),
        (label("Cost", "费用"), money(record.cost)),
        (
            label("Billed", "已扣费"),
            if record.billed {
                label("yes", "是")
            } else {
                label("no", "否")
            }
            .to_string(),
        ),
    ];
    if let Some(o) = &record.outcome {
        rows.push((label("Outcome", "结果"), clean(o)));
    }
    let hangup = match (&record.hangup_by, &record.end_reason) {
        (Some(by), Some(why)) => Some(format!("{} ({})", clean(by), clean(why))),
        (Some(one), None) | (None, Some(one)) => Some(clean(one)),
        (None, None) => None,
    };
    if let Some(h) = hangup {
        rows.push((label("Hang-up", "挂断"), h));
    }
    if let Some(p) = record
        .provider_response
        .as_deref()
        .filter(|p| !p.trim().is_empty())
    {
        rows.push((label("Provider", "运营商"), clean(p)));
    }
    if let Some(turns) = record.turns.as_ref().and_then(|t| t.as_array()).filter(|t| !t.is_empty()) {
        rows.push((label("Turn latency", "响应时延"), turn_latency_summary(turns, zh)));
    }
    let width = rows
        .iter()
        .map(|(l, _)| display_width(l))
        .max()
        .unwrap_or(0)
        + 1;
    let mut out = String::new();
    for (l, v) in rows {
        let key = format!("{l}:");
        out.push_str(&format!(
            "{key}{} {v}\n",
            " ".repeat(width - display_width(&key))
        ));
    }
    out.push('\n');
    out.push_str(label("Transcript:\n", "对话记录:\n"));
    if record.call_content.is_empty() {
        out.push_str(label("(no conversation)\n", "(无对话)\n"));
    }
    for line in &record.call_content {
        let text = utterance(&line.role, &line.content)
            .unwrap_or_else(|| format!("{}: {}\n", clean(&line.role), clean(&line.content)));
        out.push_str(&text);
    }
    out
}

/// Voice calls: each turn's response time (the callee's last voiced frame
/// to the AI's first audio) and where it went, on one line per turn.
fn turn_latency_summary(turns: &[Value], zh: bool) -> String {
    let ms = |t: &Value, k: &str| t.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let mut totals: Vec<f64> = turns.iter().map(|t| ms(t, "total_ms")).collect();
    totals.sort_by(f64::total_cmp);
    let median = totals[totals.len() / 2];
    let mut out = if zh {
        format!("{} 轮, 中位数 {median:.0} ms", turns.len())
    } else {
        format!("{} turns, median {median:.0} ms", turns.len())
    };
    for (i, t) in turns.iter().enumerate() {
        out.push_str(&format!(
            "\n  #{}: {:.0} ms = endpointing {:.0} + asr {:.0} + dialogue {:.0} + first clause {:.0} + tts {:.0} + ours {:.0}",
            i + 1,
            ms(t, "total_ms"),
            ms(t, "endpointing_ms"),
            ms(t, "asr_ms"),
            ms(t, "dialogue_first_token_ms"),
            ms(t, "first_clause_ms"),
            ms(t, "tts_first_audio_ms"),
            ms(t, "overhead_ms"),
        ));
    }
    out
}

/// `callinfo --json`: the record as pretty JSON (2-space indent, UTF-8 as
/// is), fields in the record's order.
pub fn record_json(record: &CallRecord) -> String {
    json_pretty(record)
}

/// The line printed before `callinfo_with_retry` pauses.
pub fn retry_notice(notice: &RetryNotice<'_>) -> String {
    format!(
        "⏳ No record for call {} yet; retrying in {} ({}/{})\n",
        clean(notice.call_id),
        duration_short(notice.wait),
        notice.attempt,
        notice.max_tries
    )
}

/// `Balance: ¥9.70 (available ¥9.40, reserved ¥0.30), rate ¥0.30/min`.
pub fn balance(b: &BalanceResponse) -> String {
    format!(
        "Balance: {} (available {}, reserved {}), rate {}/min\n",
        money(b.balance),
        money(b.available),
        money(b.reserved),
        money(b.rate_per_minute)
    )
}

/// The engines as a table; `*` marks the default.
pub fn engines(list: &[EngineInfo]) -> String {
    let rows = list
        .iter()
        .map(|e| {
            (
                e.default,
                vec![clean(&e.id), clean(&e.name), clean(&e.description)],
            )
        })
        .collect();
    table(&["ID", "NAME", "DESCRIPTION"], rows)
}

/// The voices as a table; `*` marks the default.
pub fn voices(list: &[VoiceInfo]) -> String {
    let rows = list
        .iter()
        .map(|v| {
            (
                v.default,
                vec![clean(&v.id), clean(&v.name), clean(&v.language)],
            )
        })
        .collect();
    table(&["ID", "NAME", "LANGUAGE"], rows)
}

/// Aligned columns (by display width, so Chinese names line up), a `* `
/// marker column, no trailing spaces, and a legend.
fn table(headers: &[&str], rows: Vec<(bool, Vec<String>)>) -> String {
    if rows.is_empty() {
        return "(none)\n".to_string();
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| display_width(h)).collect();
    for (_, cells) in &rows {
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(display_width(c));
        }
    }
    let render = |marker: &str, cells: &[String]| {
        let mut line = marker.to_string();
        for (i, c) in cells.iter().enumerate() {
            line.push_str(c);
            if i + 1 < cells.len() {
                line.push_str(&" ".repeat(widths[i] - display_width(c) + 2));
            }
        }
        format!("{}\n", line.trim_end())
    };
    let header_cells: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let mut out = render("  ", &header_cells);
    for (default, cells) in &rows {
        out.push_str(&render(if *default { "* " } else { "  " }, cells));
    }
    out.push_str("(* = default)\n");
    out
}

/// CNY with two decimals: `¥0.30`.
pub fn money(cny: f64) -> String {
    // -0.001 would print as "-0.00"; nobody wants a negative zero.
    let v = if cny.abs() < 0.005 { 0.0 } else { cny };
    format!("¥{v:.2}")
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

/// Whether a field name is one an agent must not see: it contains
/// "instruction" and one of llm/system/assistant/agent/prompt (any case).
pub fn is_instruction_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("instruction")
        && ["llm", "system", "assistant", "agent", "prompt"]
            .iter()
            .any(|w| n.contains(w))
}

/// Drops instruction-like fields at every depth: server answers and
/// transcripts are untrusted, and such fields are how injected text would
/// try to pass as the agent's own instructions.
pub fn strip_instruction_fields(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !is_instruction_field(k))
                .map(|(k, v)| (k, strip_instruction_fields(v)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(strip_instruction_fields).collect())
        }
        other => other,
    }
}

/// Whether [`strip_instruction_fields`] would drop anything.
pub fn has_instruction_fields(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| is_instruction_field(k) || has_instruction_fields(v)),
        Value::Array(items) => items.iter().any(has_instruction_fields),
        _ => false,
    }
}

/// JSON from the server for an agent, on one line: the text as received
/// when it is already compact and clean (so byte-level expectations such as
/// the shell regex on `"call_ids":["..."]` hold); otherwise re-serialised
/// compactly without instruction-like fields. Text that is not JSON is
/// printed cleaned, on one line.
pub fn json_compact(raw: &str) -> String {
    let trimmed = raw.trim();
    match serde_json::from_str::<Value>(trimmed) {
        Ok(v) if !has_instruction_fields(&v) && is_compact_json(trimmed) => format!("{trimmed}\n"),
        Ok(v) => format!(
            "{}\n",
            serde_json::to_string(&strip_instruction_fields(v)).unwrap_or_default()
        ),
        Err(_) => format!("{}\n", crate::error::one_line(trimmed, usize::MAX)),
    }
}

/// Any serialisable value as pretty JSON (2-space indent, UTF-8 not
/// escaped), without instruction-like fields. Field order is the type's
/// own unless something had to be stripped.
pub fn json_pretty<T: Serialize>(value: &T) -> String {
    let as_value = match serde_json::to_value(value) {
        Ok(v) => v,
        Err(e) => return format!("{{\"error\": {}}}\n", Value::String(e.to_string())),
    };
    let text = if has_instruction_fields(&as_value) {
        serde_json::to_string_pretty(&strip_instruction_fields(as_value))
    } else {
        // Straight from the type keeps its field order (a `Value` object
        // would sort keys).
        serde_json::to_string_pretty(value)
    };
    format!("{}\n", text.unwrap_or_default())
}

/// Whether JSON text has no whitespace outside strings.
fn is_compact_json(text: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if c.is_whitespace() {
            return false;
        }
    }
    true
}

/// Untrusted text made safe for a terminal line: control characters
/// (newlines, escape sequences) and bidirectional overrides become spaces.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || is_bidi_control(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Unicode bidirectional embedding, override and isolate controls: they can
/// make displayed text read differently from what it is.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Columns a string takes in a terminal: East Asian wide characters and
/// emoji take two, combining marks and variation selectors none. An
/// approximation of UAX #11 that covers what these tables hold.
pub fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| match c as u32 {
            0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F | 0x20D0..=0x20FF => 0,
            0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1F64F
            | 0x1F900..=0x1F9FF
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}
