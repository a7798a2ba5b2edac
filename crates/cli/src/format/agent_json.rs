//! JSON for agents: what the server sent, without the instruction-like
//! fields injected text would use to pass as the agent's own instructions.

use serde::Serialize;
use serde_json::Value;
use waihu_client::text::one_line;

/// Whether a field name is one an agent must not see: it contains
/// "instruction" and one of llm/system/assistant/agent/prompt (any case).
pub(crate) fn is_instruction_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("instruction")
        && ["llm", "system", "assistant", "agent", "prompt"]
            .iter()
            .any(|w| n.contains(w))
}

/// Drops instruction-like fields at every depth: server answers and
/// transcripts are untrusted, and such fields are how injected text would
/// try to pass as the agent's own instructions.
pub(crate) fn strip_instruction_fields(value: Value) -> Value {
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
pub(crate) fn has_instruction_fields(value: &Value) -> bool {
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
pub(crate) fn json_compact(raw: &str) -> String {
    let trimmed = raw.trim();
    match serde_json::from_str::<Value>(trimmed) {
        Ok(v) if !has_instruction_fields(&v) && is_compact_json(trimmed) => format!("{trimmed}\n"),
        Ok(v) => format!(
            "{}\n",
            serde_json::to_string(&strip_instruction_fields(v)).unwrap_or_default()
        ),
        Err(_) => format!("{}\n", one_line(trimmed, usize::MAX)),
    }
}

/// Any serialisable value as pretty JSON (2-space indent, UTF-8 not
/// escaped), without instruction-like fields. Field order is the type's
/// own unless something had to be stripped.
pub(crate) fn json_pretty<T: Serialize>(value: &T) -> String {
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
