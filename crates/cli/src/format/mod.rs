//! Human and agent output, in the formats of the skill's scripts.
//!
//! Every function returns the text exactly as it should appear, ending with
//! a newline: print it with `print!`, not `println!`. Text from the server
//! (transcripts, names, messages) is untrusted: control characters and
//! bidirectional overrides are replaced so they cannot rewrite the terminal
//! ([`waihu_client::text`]), and JSON meant for an agent loses its
//! instruction-like fields ([`agent_json`]).

mod agent_json;
pub(crate) mod stream;
#[cfg(test)]
mod tests;

use serde_json::Value;
use waihu_client::text::{clean, duration_short};
use waihu_client::{CallCreated, RetryNotice};
use waihu_wire::{BalanceResponse, CallRecord, EngineInfo, VoiceInfo};

pub(crate) use agent_json::{json_compact, json_pretty};

/// The horizontal rule of `stream_chat.sh`: 36 heavy box-drawing lines.
pub(crate) const RULE: &str = "━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━";

/// The language of labels in summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Lang {
    /// English labels, durations as `N s`.
    #[default]
    En,
    /// Chinese labels, durations as `N 秒`.
    Zh,
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
pub(crate) fn call_created(created: &CallCreated, phones: Option<&str>) -> String {
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
pub(crate) fn record_summary(record: &CallRecord, lang: Lang) -> String {
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
pub(crate) fn record_json(record: &CallRecord) -> String {
    json_pretty(record)
}

/// The line printed before `callinfo_with_retry` pauses.
pub(crate) fn retry_notice(notice: &RetryNotice<'_>) -> String {
    format!(
        "⏳ No record for call {} yet; retrying in {} ({}/{})\n",
        clean(notice.call_id),
        duration_short(notice.wait),
        notice.attempt,
        notice.max_tries
    )
}

/// `Balance: ¥9.70 (available ¥9.40, reserved ¥0.30), rate ¥0.30/min`.
pub(crate) fn balance(b: &BalanceResponse) -> String {
    format!(
        "Balance: {} (available {}, reserved {}), rate {}/min\n",
        money(b.balance),
        money(b.available),
        money(b.reserved),
        money(b.rate_per_minute)
    )
}

/// The engines as a table; `*` marks the default.
pub(crate) fn engines(list: &[EngineInfo]) -> String {
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
pub(crate) fn voices(list: &[VoiceInfo]) -> String {
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
pub(crate) fn money(cny: f64) -> String {
    // -0.001 would print as "-0.00"; nobody wants a negative zero.
    let v = if cny.abs() < 0.005 { 0.0 } else { cny };
    format!("¥{v:.2}")
}

/// Columns a string takes in a terminal: East Asian wide characters and
/// emoji take two, combining marks and variation selectors none. An
/// approximation of UAX #11 that covers what these tables hold, written
/// here rather than taken from `unicode-width` because these few ranges are
/// all the tables need.
pub(crate) fn display_width(text: &str) -> usize {
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
