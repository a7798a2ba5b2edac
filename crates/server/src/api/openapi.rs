//! The OpenAPI 3.1 document at `/openapi.json`. Written by hand next to the
//! routes (a test checks every route in `ROUTES` is described) rather than
//! generated, to keep the dependency tree small.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::error::json_response;

fn error_responses(codes: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for c in codes {
        m.insert((*c).into(), json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}));
    }
    Value::Object(m)
}

fn op(summary: &str, auth: bool, body: Option<Value>, ok: Value, errors: &[&str]) -> Value {
    let mut responses = error_responses(errors);
    responses["200"] = ok;
    let mut o = json!({"summary": summary, "responses": responses});
    if auth {
        o["security"] = json!([{"ApiKey": []}]);
    }
    if let Some(schema) = body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema}}});
    }
    o
}

fn json_ok(schema: &str) -> Value {
    json!({"description": "ok", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

/// The document.
pub fn document() -> Value {
    let call_id_body = json!({"type": "object", "required": ["call_id"], "properties": {"call_id": {"type": "string", "pattern": "^[A-Za-z0-9_.:^~-]{1,256}$"}}});
    let id_param = json!([{"name": "call_id", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let mut hangup = op("Hang up or cancel a call", true, None, json!({"description": "accepted"}), &["401", "404", "409"]);
    hangup["responses"]["202"] = hangup["responses"]["200"].take();
    hangup["responses"].as_object_mut().map(|m| m.remove("200"));
    hangup["parameters"] = id_param.clone();
    let mut get_call = op("A call's record", true, None, json_ok("CallRecord"), &["401", "404"]);
    get_call["parameters"] = id_param.clone();
    let mut recording = op(
        "A spoken call's recording: stereo WAV, callee left, AI right (with speech.record = true)",
        true,
        None,
        json!({"description": "the WAV file", "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}}),
        &["401", "404"],
    );
    recording["parameters"] = id_param;
    let mut list = op("Calls of the account, newest first", true, None, json_ok("CallList"), &["400", "401"]);
    list["parameters"] = json!([
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["queued", "dialing", "ringing", "in_progress", "completed", "no_answer", "busy", "declined", "failed", "cancelled"]}},
        {"name": "since", "in": "query", "description": "RFC 3339 or unix seconds", "schema": {"type": "string"}},
        {"name": "until", "in": "query", "description": "RFC 3339 or unix seconds", "schema": {"type": "string"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
        {"name": "cursor", "in": "query", "description": "next_cursor of the previous page", "schema": {"type": "string"}}
    ]);
    let mut initiate = op(
        "Place one call per number (Stepone-compatible)",
        true,
        Some(json!({"$ref": "#/components/schemas/InitiateCall"})),
        json_ok("InitiateCallAnswer"),
        &["400", "401", "402", "422", "426"],
    );
    initiate["parameters"] = json!([
        {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{8,128}$"}, "description": "a retried creation with the same key returns the first answer and dials nothing"},
        {"name": "X-Campaign", "in": "header", "schema": {"type": "string"}},
        {"name": "X-Skill-Version", "in": "header", "schema": {"type": "string"}, "description": "when present it must be 1.0.0, else 426"}
    ]);
    json!({
        "openapi": "3.1.0",
        "info": {"title": "waihu API", "version": env!("CARGO_PKG_VERSION"), "description": "Self-hosted AI phone calls. The /api/v1/callinfo endpoints are byte-compatible with the Stepone API used by the OpenClaw skill ai-calls-china-phone."},
        "components": {
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "schemas": {
                "Error": {"type": "object", "required": ["success", "message"], "properties": {"success": {"const": false}, "message": {"type": "string"}, "code": {"type": "string"}}},
                "InitiateCall": {"type": "object", "required": ["phones", "user_requirement"], "properties": {
                    "phones": {"oneOf": [{"type": "string", "description": "11-digit mainland mobile numbers, comma-separated; +86 allowed"}, {"type": "array", "items": {"type": "string"}}]},
                    "user_requirement": {"type": "string", "maxLength": 20000},
                    "model_engine": {"type": "string"}, "voice_id": {"type": "string"},
                    "volume": {"type": "integer", "minimum": 0, "maximum": 100}, "speed": {"type": "integer", "minimum": 0, "maximum": 100},
                    "emotion": {"type": "string"}, "record": {"type": "boolean", "description": "waihu: record this spoken call (stereo WAV at /v1/calls/{call_id}/recording); absent: the server's speech.record"}, "agent_id": {"description": "not supported: refused with 400"}}},
                "InitiateCallAnswer": {"type": "object", "properties": {"success": {"type": "boolean"}, "message": {"type": "string"}, "call_id": {"type": "string"}, "call_ids": {"type": "array", "items": {"type": "string"}}}},
                "CallRecord": {"type": "object", "properties": {
                    "success": {"type": "boolean"}, "call_id": {"type": "string"}, "phones": {"type": "string"}, "user_requirement": {"type": "string"},
                    "status": {"type": "string"}, "duration_seconds": {"type": "integer", "description": "absent until the call has ended"},
                    "cost": {"type": "number"}, "billed": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"},
                    "answered_at": {"type": "string", "format": "date-time"}, "ended_at": {"type": "string", "format": "date-time"},
                    "call_content": {"type": "array", "items": {"type": "object", "properties": {"role": {"enum": ["assistant", "user"]}, "content": {"type": "string"}}}},
                    "provider_response": {"type": "string"}, "hangup_by": {"enum": ["agent", "callee", "platform", "api"]}, "end_reason": {"type": "string"},
                    "outcome": {"type": "string"}, "model_engine": {"type": "string"}, "voice_id": {"type": "string"}, "campaign": {"type": "string"}}},
                "CallList": {"type": "object", "properties": {"success": {"type": "boolean"}, "calls": {"type": "array", "items": {"$ref": "#/components/schemas/CallRecord"}}, "next_cursor": {"type": "string"}}},
                "Balance": {"type": "object", "properties": {"success": {"type": "boolean"}, "balance": {"type": "number"}, "reserved": {"type": "number"}, "available": {"type": "number"}, "currency": {"const": "CNY"}, "rate_per_minute": {"type": "number"}, "account": {"type": "string"}}},
                "Engines": {"type": "object", "properties": {"success": {"type": "boolean"}, "engines": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"}, "default": {"type": "boolean"}}}}}},
                "Voices": {"type": "object", "properties": {"success": {"type": "boolean"}, "voices": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "language": {"type": "string"}, "default": {"type": "boolean"}}}}}},
                "SkillVersion": {"type": "object", "properties": {"skill_version": {"type": "string"}}}
            }
        },
        "paths": {
            "/api/v1/callinfo/initiate_call": {"post": initiate},
            "/api/v1/callinfo/search_callinfo": {"post": op("A call's record (Stepone-compatible)", true, Some(call_id_body.clone()), json_ok("CallRecord"), &["400", "401", "404"])},
            "/api/v1/callinfo/stream_chat_history": {"post": op("Live transcript as Server-Sent Events: `: keep-alive` every 0.5 s before the answer, `data: {\"role\": ..., \"content\": ...}` per line, then [DONE] or [TIMEOUT]", true, Some(call_id_body), json!({"description": "event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}}), &["400", "401", "404"])},
            "/api/v1/callinfo/skill_version": {"get": op("Protocol version", false, None, json_ok("SkillVersion"), &[])},
            "/api/v1/callinfo/balance": {"get": op("The account's balance", true, None, json_ok("Balance"), &["401"])},
            "/api/v1/callinfo/engine_list": {"get": op("Dialogue engines a call may pick as model_engine", false, None, json_ok("Engines"), &[])},
            "/api/v1/callinfo/tts_list": {"get": op("Voices a call may pick as voice_id", false, None, json_ok("Voices"), &[])},
            "/v1/calls": {"get": list},
            "/v1/calls/{call_id}": {"get": get_call},
            "/v1/calls/{call_id}/hangup": {"post": hangup},
            "/v1/calls/{call_id}/recording": {"get": recording},
            "/healthz": {"get": op("Liveness and database check", false, None, json!({"description": "ok"}), &["503"])},
            "/metrics": {"get": op("Prometheus metrics", false, None, json!({"description": "text exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}), &[])},
            "/openapi.json": {"get": op("This document", false, None, json!({"description": "OpenAPI 3.1"}), &[])}
        }
    })
}

pub(crate) async fn serve() -> Response {
    json_response(StatusCode::OK, &document())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_described_with_its_method() {
        let doc = super::document();
        for (method, path) in super::super::ROUTES {
            let op = &doc["paths"][*path][method.to_ascii_lowercase()];
            assert!(op.is_object(), "{method} {path} missing from openapi.json");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
        }
        assert_eq!(doc["paths"].as_object().unwrap().len(), super::super::ROUTES.len());
    }
}
