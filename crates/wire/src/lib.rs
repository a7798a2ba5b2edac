//! The JSON shapes of the Stepone-compatible API and of the native API,
//! shared by the server and the client library. Key names and types here are
//! what existing clients parse (see `shared/spec/stepone-api.md`): never
//! rename one.
//!
//! Only shapes live here: the domain (`waihu-core`) knows nothing of HTTP,
//! and the server converts its rows and engine descriptions into these.
//!
//! With the `openapi` feature (the server's), each type also describes
//! itself as an OpenAPI schema (`utoipa::ToSchema`): `/openapi.json` is
//! derived from these definitions. Clients leave it off and stay lean.
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

/// The protocol version the Stepone clients send in `X-Skill-Version`.
pub const SKILL_VERSION: &str = "1.0.0";

/// Most numbers one `initiate_call` may carry.
pub const MAX_PHONES_PER_REQUEST: usize = 100;

/// Longest `user_requirement` accepted, in characters.
pub const MAX_REQUIREMENT_CHARS: usize = 20_000;

/// `phones` is a comma-separated string on the wire; a JSON array of strings
/// is accepted too, for native clients.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum PhonesField {
    /// `"13800138000,13900139000"`: 11-digit mainland mobile numbers,
    /// comma-separated; `+86` allowed.
    Joined(String),
    /// `["13800138000", "13900139000"]`
    List(Vec<String>),
}

impl PhonesField {
    /// The comma-joined form.
    pub fn joined(&self) -> String {
        match self {
            PhonesField::Joined(s) => s.clone(),
            PhonesField::List(v) => v.join(","),
        }
    }
}

/// Body of `POST /api/v1/callinfo/initiate_call`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InitiateCallRequest {
    /// One or more numbers.
    #[cfg_attr(feature = "openapi", schema(required = true, nullable = false))]
    pub phones: Option<PhonesField>,
    /// The task, in the user's words.
    #[cfg_attr(feature = "openapi", schema(required = true, nullable = false, max_length = 20000))]
    pub user_requirement: Option<String>,
    /// A saved agent: not supported, refused with 400.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<serde_json::Value>,
    /// Dialogue engine id from `engine_list`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_engine: Option<String>,
    /// Voice id from `tts_list`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_id: Option<String>,
    /// 0-100.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub volume: Option<i64>,
    /// 0-100.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub speed: Option<i64>,
    /// Free-form speaking style hint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emotion: Option<String>,
    /// waihu: record this call (stereo WAV, `GET /v1/calls/{id}/recording`);
    /// absent, the server's `speech.record` decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<bool>,
}

/// Answer of `initiate_call`. Serialised compactly: the shell client matches
/// `"call_ids":["<id>"]` byte for byte.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InitiateCallResponse {
    /// Always true here.
    pub success: bool,
    /// A sentence for people.
    pub message: String,
    /// The first call's id (handy for single calls).
    pub call_id: String,
    /// One id per number, in the order given.
    pub call_ids: Vec<String>,
}

/// Body of `search_callinfo` and `stream_chat_history`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallIdRequest {
    /// The call's id.
    #[cfg_attr(feature = "openapi", schema(required = true, nullable = false, pattern = "^[A-Za-z0-9_.:^~-]{1,256}$"))]
    pub call_id: Option<String>,
}

/// One transcript line in a call record.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContentLine {
    /// `assistant` or `user`.
    pub role: String,
    /// What was said.
    pub content: String,
}

/// The call record as `search_callinfo` and `GET /v1/calls/{id}` return it.
/// `duration_seconds` and `ended_at` are absent until the call is over: the
/// shell client takes the presence of `duration_seconds` as "the call ended".
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallRecord {
    /// The call's id.
    pub call_id: String,
    /// The number called (one number per call).
    pub phones: String,
    /// The task.
    pub user_requirement: String,
    /// Lifecycle status (see `CallStatus`).
    pub status: String,
    /// Connected seconds, rounded up; only once the call has ended.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duration_seconds: Option<i64>,
    /// Charge in CNY (0 until billed).
    pub cost: f64,
    /// Whether the charge has been taken from the balance.
    pub billed: bool,
    /// When the call was accepted (RFC 3339, UTC).
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    /// When the callee answered.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub answered_at: Option<String>,
    /// When the call ended.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub ended_at: Option<String>,
    /// The conversation, in spoken order.
    pub call_content: Vec<ContentLine>,
    /// The carrier's word on the outcome (e.g. a SIP final response).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub provider_response: Option<String>,
    /// Who hung up: agent, callee, platform, api.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hangup_by: Option<String>,
    /// Stable code for why the call ended.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub end_reason: Option<String>,
    /// What the call achieved (delivered, wrong_person, ...).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub outcome: Option<String>,
    /// The dialogue engine used.
    pub model_engine: String,
    /// The voice used.
    pub voice_id: String,
    /// Attribution from `X-Campaign`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub campaign: Option<String>,
    /// The carrier's media counters (packets, loss, jitter), when it has media.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub media: Option<serde_json::Value>,
    /// Voice calls: each answered turn's response time and its split
    /// (endpointing, ASR, dialogue, TTS, our own overhead), milliseconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Object>>))]
    pub turns: Option<serde_json::Value>,
}

/// `search_callinfo` answer: the record at the top level with `success`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallRecordResponse {
    /// Always true here.
    pub success: bool,
    /// The record.
    #[serde(flatten)]
    pub record: CallRecord,
}

/// `GET /v1/calls` answer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallListResponse {
    /// Always true here.
    pub success: bool,
    /// The page of calls, newest first.
    pub calls: Vec<CallRecord>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_cursor: Option<String>,
}

/// `balance` answer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BalanceResponse {
    /// Always true here.
    pub success: bool,
    /// Balance in CNY.
    pub balance: f64,
    /// Part of the balance reserved by live calls, in CNY.
    pub reserved: f64,
    /// What new calls may spend, in CNY.
    pub available: f64,
    /// Always `CNY`.
    pub currency: String,
    /// Price per started minute, in CNY.
    pub rate_per_minute: f64,
    /// The account's name.
    pub account: String,
}

/// An entry of `engine_list`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EngineInfo {
    /// The id to pass as `model_engine`.
    pub id: String,
    /// A human name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Whether calls use it when they name none.
    pub default: bool,
}

/// `engine_list` answer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EngineListResponse {
    /// Always true here.
    pub success: bool,
    /// The engines.
    pub engines: Vec<EngineInfo>,
}

/// An entry of `tts_list`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VoiceInfo {
    /// The id to pass as `voice_id`.
    pub id: String,
    /// A human name.
    pub name: String,
    /// BCP 47 language.
    pub language: String,
    /// Whether calls use it when they name none.
    pub default: bool,
}

/// `tts_list` answer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VoiceListResponse {
    /// Always true here.
    pub success: bool,
    /// The voices.
    pub voices: Vec<VoiceInfo>,
}

/// `skill_version` answer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkillVersionResponse {
    /// The protocol version.
    pub skill_version: String,
}

/// `POST /v1/calls/{call_id}/hangup` answer (HTTP 202). The fields are in
/// alphabetical order: that is the order the answer has always had.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HangUpResponse {
    /// The call's id.
    pub call_id: String,
    /// A sentence for people.
    pub message: String,
    /// Always true here.
    pub success: bool,
}

/// `GET /healthz` answer. The fields are in alphabetical order: that is the
/// order the answer has always had.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthResponse {
    /// Calls in progress on this server.
    pub active_calls: u64,
    /// `ok`.
    pub status: String,
    /// Always true here.
    pub success: bool,
    /// The server's version.
    pub version: String,
}

/// Every error answer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorResponse {
    /// Always false.
    pub success: bool,
    /// What is wrong and what to do about it.
    pub message: String,
    /// A stable machine-readable code.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub code: Option<String>,
}

/// One SSE `data:` payload exactly as the hosted service writes it: Python
/// `json.dumps` separators (`", "`, `": "`) with Chinese left as UTF-8.
/// `role` is `assistant`, `user` or `system`, as in [`StreamLine`].
pub fn sse_line_json(role: &str, content: &str) -> String {
    let role = serde_json::to_string(role).unwrap_or_else(|_| "\"\"".into());
    let content = serde_json::to_string(content).unwrap_or_else(|_| "\"\"".into());
    format!("{{\"role\": {role}, \"content\": {content}}}")
}

/// A line of the live stream as parsed by clients.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct StreamLine {
    /// assistant, user or system.
    pub role: String,
    /// The text, or `[DONE]` / `[TIMEOUT]` for system lines.
    pub content: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_answer_is_compact_for_the_shell_regex() {
        let r = InitiateCallResponse { success: true, message: "1 call queued".into(), call_id: "a-1".into(), call_ids: vec!["a-1".into()] };
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.contains(r#""call_ids":["a-1"]"#), "{s}");
    }

    #[test]
    fn sse_payload_uses_python_separators_and_raw_utf8() {
        assert_eq!(sse_line_json("assistant", "喂，您好\"张总\""), r#"{"role": "assistant", "content": "喂，您好\"张总\""}"#);
        let parsed: StreamLine = serde_json::from_str(&sse_line_json("system", "[DONE]")).unwrap();
        assert_eq!(parsed.content, "[DONE]");
    }

    #[test]
    fn duration_is_absent_until_the_end() {
        let rec = CallRecord {
            call_id: "x".into(), phones: "13800138000".into(), user_requirement: "t".into(), status: "in_progress".into(),
            duration_seconds: None, cost: 0.0, billed: false, created_at: "2026-01-01T00:00:00Z".into(), answered_at: None,
            ended_at: None, call_content: vec![], provider_response: None, hangup_by: None, end_reason: None, outcome: None,
            model_engine: "offline".into(), voice_id: "v".into(), campaign: None, media: None, turns: None,
        };
        let s = serde_json::to_string(&CallRecordResponse { success: true, record: rec }).unwrap();
        assert!(!s.contains("duration_seconds"), "{s}");
        assert!(s.starts_with(r#"{"success":true,"call_id":"x""#), "{s}");
    }

    #[test]
    fn hang_up_and_health_answers_keep_their_key_order() {
        let hangup = HangUpResponse { call_id: "c-1".into(), message: "hang-up requested".into(), success: true };
        assert_eq!(serde_json::to_string(&hangup).unwrap(), r#"{"call_id":"c-1","message":"hang-up requested","success":true}"#);
        let health = HealthResponse { active_calls: 2, status: "ok".into(), success: true, version: "0.1.0".into() };
        assert_eq!(serde_json::to_string(&health).unwrap(), r#"{"active_calls":2,"status":"ok","success":true,"version":"0.1.0"}"#);
    }

    #[test]
    fn phones_accepts_string_or_list() {
        let r: InitiateCallRequest = serde_json::from_str(r#"{"phones":["13800138000","13900139000"],"user_requirement":"x"}"#).unwrap();
        assert_eq!(r.phones.unwrap().joined(), "13800138000,13900139000");
    }
}
