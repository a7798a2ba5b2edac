//! The seven Stepone-compatible endpoints (six here; the stream is in `sse`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use waihu_core::PhoneNumber;
use waihu_store::{CallOrder, CreateCalls, CreateOutcome, NewCall};
use waihu_wire::{
    BalanceResponse, CallIdRequest, CallRecord, CallRecordResponse, EngineListResponse, ErrorResponse, InitiateCallRequest, InitiateCallResponse, SkillVersionResponse,
    VoiceListResponse, MAX_REQUIREMENT_CHARS, SKILL_VERSION,
};

use super::error::{json_response, ApiError};
use super::extract::{valid_call_id, Authed, JsonBody};
use super::{render, AppState};

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn attribution(headers: &HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    let Some(v) = header(headers, name) else { return Ok(None) };
    if v.len() > 64 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err(ApiError::bad_request(format!("{name} may hold only letters, digits, . _ - (at most 64)")));
    }
    Ok(Some(v))
}

fn percent(name: &str, v: Option<i64>) -> Result<Option<i64>, ApiError> {
    match v {
        Some(x) if !(0..=100).contains(&x) => Err(ApiError::bad_request(format!("{name} is {x}: it must be between 0 and 100"))),
        other => Ok(other),
    }
}

/// Place one call per number (Stepone-compatible)
#[utoipa::path(
    post,
    path = "/api/v1/callinfo/initiate_call",
    tag = "stepone",
    security(("ApiKey" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[A-Za-z0-9._:-]{8,128}$", description = "A retried creation with the same key returns the first answer and dials nothing."),
        ("X-Campaign" = Option<String>, Header, pattern = "^[A-Za-z0-9._-]{1,64}$", description = "Attribution stored on the calls."),
        ("X-Skill-Version" = Option<String>, Header, description = "When present it must be 1.0.0, else 426."),
    ),
    request_body = InitiateCallRequest,
    responses(
        (status = 200, description = "The calls are queued (compact JSON: clients match `\"call_ids\":[...]` byte for byte)", body = InitiateCallResponse),
        (status = 400, description = "A field is missing or invalid", body = ErrorResponse),
        (status = 401, description = "Missing or unknown API key", body = ErrorResponse),
        (status = 402, description = "The balance does not cover one minute per number", body = ErrorResponse),
        (status = 422, description = "The Idempotency-Key was used for a different request", body = ErrorResponse),
        (status = 426, description = "X-Skill-Version is not the server's protocol version", body = ErrorResponse),
    )
)]
pub(crate) async fn initiate_call(State(st): State<AppState>, Authed(account): Authed, headers: HeaderMap, JsonBody(req): JsonBody<InitiateCallRequest>) -> Result<Response, ApiError> {
    let phones = req.phones.as_ref().ok_or_else(|| ApiError::bad_request("phones is missing: give one or more 11-digit mainland mobile numbers separated by commas, e.g. \"13800138000\""))?;
    let numbers = PhoneNumber::parse_list(&phones.joined(), st.max_phones).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let requirement = req.user_requirement.as_deref().map(str::trim).unwrap_or("");
    if requirement.is_empty() {
        return Err(ApiError::bad_request("user_requirement is missing or empty: say what the call should do, e.g. \"通知张总明天上午9点开会\""));
    }
    let chars = requirement.chars().count();
    if chars > MAX_REQUIREMENT_CHARS {
        return Err(ApiError::bad_request(format!("user_requirement has {chars} characters: at most {MAX_REQUIREMENT_CHARS} are accepted")));
    }
    if req.agent_id.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(ApiError::bad_request("agent_id: saved agents are not available on this server; describe the task in user_requirement instead"));
    }
    let engine = match req.model_engine.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => st.engines.default_id().to_owned(),
        Some(id) if st.engines.get(Some(id)).is_some() => id.to_owned(),
        Some(id) => {
            return Err(ApiError::bad_request(format!("model_engine {id:?} is not available; choose one of: {} (GET /api/v1/callinfo/engine_list)", st.engines.ids().join(", "))));
        }
    };
    let voice = match req.voice_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => st.voices.iter().find(|v| v.default).or(st.voices.first()).map(|v| v.id.clone()).unwrap_or_default(),
        Some(id) if st.voices.iter().any(|v| v.id == id) => id.to_owned(),
        Some(id) => {
            let ids: Vec<_> = st.voices.iter().map(|v| v.id.as_str()).collect();
            return Err(ApiError::bad_request(format!("voice_id {id:?} is not available; choose one of: {} (GET /api/v1/callinfo/tts_list)", ids.join(", "))));
        }
    };
    let volume = percent("volume", req.volume)?;
    let speed = percent("speed", req.speed)?;
    let emotion = req.emotion.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    if emotion.as_ref().is_some_and(|e| e.chars().count() > 100) {
        return Err(ApiError::bad_request("emotion is longer than 100 characters"));
    }
    let idem = header(&headers, "idempotency-key");
    if let Some(k) = &idem {
        if !(8..=128).contains(&k.len()) || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)) {
            return Err(ApiError::bad_request("Idempotency-Key must be 8-128 characters of letters, digits and . _ : -"));
        }
    }
    let campaign = attribution(&headers, "x-campaign")?;
    let platform = attribution(&headers, "x-client-platform")?;
    let client_version = attribution(&headers, "x-client-version")?;

    let calls: Vec<NewCall> = numbers.iter().map(|p| NewCall { id: uuid::Uuid::new_v4().to_string(), phone: p.clone() }).collect();
    let ids: Vec<String> = calls.iter().map(|c| c.id.clone()).collect();
    let n = ids.len();
    let answer = InitiateCallResponse {
        success: true,
        message: if n == 1 { "1 call queued".into() } else { format!("{n} calls queued") },
        call_id: ids[0].clone(),
        call_ids: ids,
    };
    let body = serde_json::to_string(&answer).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", e.to_string()))?;
    // What makes two requests "the same" for the idempotency key.
    let fingerprint = serde_json::json!({
        "phones": numbers.iter().map(|p| p.as_str()).collect::<Vec<_>>(), "req": requirement, "engine": engine,
        "voice": voice, "volume": volume, "speed": speed, "emotion": emotion, "record": req.record,
    });
    let hash = hex::encode(Sha256::digest(fingerprint.to_string().as_bytes()));
    let outcome = st
        .store
        .create_calls(CreateCalls {
            account_id: account.id.clone(),
            calls,
            order: CallOrder { requirement: requirement.to_owned(), model_engine: engine, voice_id: voice, volume, speed, emotion, record: req.record, campaign },
            client_platform: platform,
            client_version,
            rate: st.rate,
            idempotency: idem.map(|k| (k, hash)),
            response: body.clone(),
            now_ms: chrono::Utc::now().timestamp_millis(),
        })
        .await?;
    let (body, replayed) = match outcome {
        CreateOutcome::Created => {
            st.dispatcher.notify();
            tracing::info!(account = %account.name, calls = n, "calls accepted");
            (body, false)
        }
        CreateOutcome::Replayed(first) => (first, true),
    };
    let mut resp = (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response();
    if replayed {
        resp.headers_mut().insert("idempotent-replayed", axum::http::HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// A call's record (Stepone-compatible)
#[utoipa::path(
    post,
    path = "/api/v1/callinfo/search_callinfo",
    tag = "stepone",
    security(("ApiKey" = [])),
    request_body = CallIdRequest,
    responses(
        (status = 200, description = "The record; `duration_seconds` appears once the call has ended", body = CallRecordResponse),
        (status = 400, description = "call_id is missing or invalid", body = ErrorResponse),
        (status = 401, description = "Missing or unknown API key", body = ErrorResponse),
        (status = 404, description = "No such call for this API key (yet)", body = ErrorResponse),
    )
)]
pub(crate) async fn search_callinfo(State(st): State<AppState>, Authed(account): Authed, JsonBody(req): JsonBody<CallIdRequest>) -> Result<Response, ApiError> {
    let id = valid_call_id(req.call_id.as_deref())?;
    let record = load_record(&st, &account.id, &id).await?;
    Ok(json_response(StatusCode::OK, &CallRecordResponse { success: true, record }))
}

/// A call's record, or the same 404 whether it does not exist or is
/// another account's.
pub(crate) async fn load_record(st: &AppState, account_id: &str, call_id: &str) -> Result<CallRecord, ApiError> {
    let call = st.store.call(call_id, Some(account_id)).await?.ok_or_else(|| not_found(call_id))?;
    let lines = st.store.transcript(call_id).await?;
    Ok(render::record(&call, &lines))
}

pub(crate) fn not_found(call_id: &str) -> ApiError {
    ApiError::not_found(format!("call {call_id} not found for this API key (a new call's record can take a moment to appear)"))
}

/// Protocol version
#[utoipa::path(get, path = "/api/v1/callinfo/skill_version", tag = "stepone", responses((status = 200, description = "The protocol version clients send in X-Skill-Version", body = SkillVersionResponse)))]
pub(crate) async fn skill_version() -> Response {
    json_response(StatusCode::OK, &SkillVersionResponse { skill_version: SKILL_VERSION.into() })
}

/// The account's balance
#[utoipa::path(
    get,
    path = "/api/v1/callinfo/balance",
    tag = "stepone",
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "Balance, reserve and rate, in CNY", body = BalanceResponse),
        (status = 401, description = "Missing or unknown API key", body = ErrorResponse),
    )
)]
pub(crate) async fn balance(State(st): State<AppState>, Authed(account): Authed) -> Result<Response, ApiError> {
    let b = st.store.balance(&account.id).await?;
    Ok(json_response(
        StatusCode::OK,
        &BalanceResponse {
            success: true,
            balance: b.balance.as_yuan(),
            reserved: b.reserved.as_yuan(),
            available: b.available().as_yuan(),
            currency: "CNY".into(),
            rate_per_minute: st.rate.as_yuan(),
            account: account.name,
        },
    ))
}

/// Dialogue engines a call may pick as model_engine
#[utoipa::path(get, path = "/api/v1/callinfo/engine_list", tag = "stepone", responses((status = 200, description = "The engines; one is the default", body = EngineListResponse)))]
pub(crate) async fn engine_list(State(st): State<AppState>) -> Response {
    json_response(StatusCode::OK, &EngineListResponse { success: true, engines: render::engines(&st.engines) })
}

/// Voices a call may pick as voice_id
#[utoipa::path(get, path = "/api/v1/callinfo/tts_list", tag = "stepone", responses((status = 200, description = "The voices; one is the default", body = VoiceListResponse)))]
pub(crate) async fn tts_list(State(st): State<AppState>) -> Response {
    json_response(StatusCode::OK, &VoiceListResponse { success: true, voices: render::voices(&st.voices) })
}
