//! Reading the server's answers: the status and `success` checks, errors
//! that read as one line, and the call record or ids wherever a
//! Stepone-compatible server puts them.

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use waihu_wire::CallRecord;

use crate::error::ClientError;
use crate::text::one_line;

/// An answer that passed the status and `success` checks.
pub(crate) struct Answer {
    /// The body as received.
    pub(crate) raw: String,
    /// The body parsed.
    pub(crate) value: Value,
}

pub(crate) fn invalid(endpoint: &str, reason: &str) -> ClientError {
    ClientError::InvalidJson {
        endpoint: endpoint.to_string(),
        reason: reason.to_string(),
    }
}

/// Parses a 2xx body, with a hint for the usual wrong-URL case (an HTML
/// page from some other web server).
pub(crate) fn parse_json_answer(raw: &str, endpoint: &str) -> Result<Value, ClientError> {
    let trimmed = raw.trim_start();
    if trimmed.is_empty() {
        return Err(invalid(endpoint, "the answer is empty"));
    }
    if trimmed.starts_with('<') {
        return Err(invalid(
            endpoint,
            "got an HTML page, not JSON; is the URL a waihu server?",
        ));
    }
    serde_json::from_str(raw).map_err(|e| {
        invalid(
            endpoint,
            &format!("not valid JSON ({})", one_line(&e.to_string(), 120)),
        )
    })
}

/// `"success": false` in a 2xx answer is a refusal.
pub(crate) fn check_success(value: &Value) -> Result<(), ClientError> {
    if value.get("success") == Some(&Value::Bool(false)) {
        let (message, code) = message_and_code(value);
        return Err(ClientError::Refused {
            message: message.unwrap_or_else(|| "no reason given".into()),
            code,
        });
    }
    Ok(())
}

/// The server's `message` (or the `detail`/`error` other servers use) and
/// `code`, made safe to print on one line.
fn message_and_code(value: &Value) -> (Option<String>, Option<String>) {
    let message = ["message", "detail", "error"]
        .iter()
        .find_map(|k| value.get(*k).and_then(Value::as_str))
        .map(|m| one_line(m, 300))
        .filter(|m| !m.is_empty());
    let code = value
        .get("code")
        .and_then(Value::as_str)
        .map(|c| one_line(c, 60));
    (message, code)
}

/// Maps a non-2xx answer to its error.
pub(crate) fn error_from_status(status: StatusCode, raw: &str) -> ClientError {
    let parsed: Option<Value> = serde_json::from_str(raw).ok();
    let (message, code) = parsed
        .as_ref()
        .map(message_and_code)
        .unwrap_or((None, None));
    let message = message
        .or_else(|| {
            // A plain-text error: its first line, unless it is an HTML page.
            let first = raw.trim().lines().next().unwrap_or("");
            (!first.is_empty() && !first.starts_with('<') && parsed.is_none())
                .then(|| one_line(first, 200))
        })
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("no reason given")
                .to_string()
        });
    match status.as_u16() {
        401 => ClientError::Unauthorized { message },
        404 => ClientError::NotFound { message },
        426 => ClientError::UpgradeRequired { message },
        s => ClientError::Http {
            status: s,
            message,
            code,
        },
    }
}

/// Decodes a typed answer. `success` may be missing in answers from other
/// servers; it was already checked not to be false, so it is filled in.
pub(crate) fn decode<T: DeserializeOwned>(mut value: Value, endpoint: &str) -> Result<T, ClientError> {
    if let Value::Object(map) = &mut value {
        map.entry("success").or_insert(Value::Bool(true));
    }
    from_json(value, endpoint, "shape")
}

/// `value` as a `T`; a mismatch is an invalid answer naming `what` did not
/// fit.
fn from_json<T: DeserializeOwned>(value: Value, endpoint: &str, what: &str) -> Result<T, ClientError> {
    serde_json::from_value(value).map_err(|e| {
        invalid(
            endpoint,
            &format!("unexpected {what} ({})", one_line(&e.to_string(), 160)),
        )
    })
}

/// Finds the call ids the way the Python client does: `call_ids` anywhere
/// (all of them), else `call_id`, else `provider_call_id`.
pub(crate) fn find_call_ids(value: &Value) -> Vec<String> {
    if let Some(ids) = find_key(value, "call_ids") {
        let list: Vec<String> = match ids {
            Value::Array(items) => items.iter().filter_map(id_text).collect(),
            other => id_text(other).into_iter().collect(),
        };
        if !list.is_empty() {
            return list;
        }
    }
    ["call_id", "provider_call_id"]
        .iter()
        .find_map(|k| find_key(value, k).and_then(id_text))
        .into_iter()
        .collect()
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A key's value anywhere in the tree: this level first, then depth-first
/// in order.
fn find_key<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map
            .get(key)
            .filter(|v| !v.is_null())
            .or_else(|| map.values().find_map(|v| find_key(v, key))),
        Value::Array(items) => items.iter().find_map(|v| find_key(v, key)),
        _ => None,
    }
}

/// The call record in an answer: at the top level or under `data` (the
/// spec allows both). An answer without one means "not there yet".
pub(crate) fn record_from_answer(
    value: Value,
    call_id: &str,
    endpoint: &str,
) -> Result<CallRecord, ClientError> {
    let looks_like_record = |m: &Map<String, Value>| {
        ["status", "call_id", "call_content", "duration_seconds"]
            .iter()
            .any(|k| m.contains_key(*k))
    };
    let mut map = match value {
        Value::Object(mut top) => match top.remove("data") {
            Some(Value::Object(inner)) if looks_like_record(&inner) => inner,
            Some(Value::Object(inner)) if !looks_like_record(&top) => inner,
            Some(other) => {
                top.insert("data".into(), other);
                top
            }
            None => top,
        },
        _ => return Err(invalid(endpoint, "expected a JSON object")),
    };
    if !looks_like_record(&map) {
        return Err(ClientError::NotFound {
            message: format!("no record for call {call_id} in the answer"),
        });
    }
    fill_record_defaults(&mut map, call_id);
    from_json(Value::Object(map), endpoint, "record shape")
}

/// Fills what waihu's record always has but other Stepone-compatible
/// servers may leave out, so that their records still read.
fn fill_record_defaults(map: &mut Map<String, Value>, call_id: &str) {
    let defaults: [(&str, Value); 10] = [
        ("call_id", Value::String(call_id.to_string())),
        ("phones", Value::String(String::new())),
        ("user_requirement", Value::String(String::new())),
        ("status", Value::String("unknown".into())),
        ("cost", Value::from(0.0)),
        ("billed", Value::Bool(false)),
        ("created_at", Value::String(String::new())),
        ("call_content", Value::Array(Vec::new())),
        ("model_engine", Value::String(String::new())),
        ("voice_id", Value::String(String::new())),
    ];
    for (k, v) in defaults {
        let slot = map.entry(k).or_insert(Value::Null);
        if slot.is_null() {
            *slot = v;
        }
    }
    // A list of numbers reads as the comma-joined string.
    if let Some(Value::Array(list)) = map.get("phones") {
        let joined: Vec<String> = list.iter().filter_map(id_text).collect();
        map.insert("phones".into(), Value::String(joined.join(",")));
    }
    // Seconds as a fraction: round up, as billing does.
    if let Some(secs) = map.get("duration_seconds").and_then(Value::as_f64) {
        if map.get("duration_seconds").is_some_and(|v| !v.is_i64()) {
            map.insert("duration_seconds".into(), Value::from(secs.ceil() as i64));
        }
    }
}
