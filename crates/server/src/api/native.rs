//! The native API: list, get and hang up calls; health and metrics.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use waihu_core::CallStatus;
use waihu_store::CallFilter;
use waihu_wire::{CallListResponse, CallRecordResponse, ErrorResponse, HangUpResponse, HealthResponse};

use super::error::{json_response, ApiError};
use super::extract::{valid_call_id, Authed};
use super::stepone::{load_record, not_found};
use super::{render, AppState};

fn parse_time(name: &str, v: &str) -> Result<i64, ApiError> {
    if let Ok(secs) = v.parse::<i64>() {
        return Ok(secs.saturating_mul(1000));
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.timestamp_millis())
        .map_err(|_| ApiError::bad_request(format!("{name}={v:?} is not a time: use RFC 3339 (2026-11-25T08:00:00Z) or unix seconds")))
}

/// Calls of the account, newest first
#[utoipa::path(
    get,
    path = "/v1/calls",
    tag = "native",
    security(("ApiKey" = [])),
    params(
        ("status" = Option<String>, Query, description = "Only calls in this status."),
        ("since" = Option<String>, Query, description = "Only calls created at or after: RFC 3339 or unix seconds."),
        ("until" = Option<String>, Query, description = "Only calls created before: RFC 3339 or unix seconds."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Calls per page (default 50)."),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page."),
    ),
    responses(
        (status = 200, description = "A page of calls", body = CallListResponse),
        (status = 400, description = "An unknown or invalid query parameter", body = ErrorResponse),
        (status = 401, description = "Missing or unknown API key", body = ErrorResponse),
    )
)]
pub(crate) async fn list_calls(State(st): State<AppState>, Authed(account): Authed, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    for k in q.keys() {
        if !["status", "since", "until", "limit", "cursor"].contains(&k.as_str()) {
            return Err(ApiError::bad_request(format!("unknown query parameter {k:?}: use status, since, until, limit, cursor")));
        }
    }
    let status = match q.get("status") {
        None => None,
        Some(s) => Some(CallStatus::parse(s).ok_or_else(|| {
            let all: Vec<_> = CallStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(format!("status={s:?} is not a call status; use one of: {}", all.join(", ")))
        })?),
    };
    let limit = match q.get("limit") {
        None => 50,
        Some(l) => l.parse::<u32>().ok().filter(|l| (1..=200).contains(l)).ok_or_else(|| ApiError::bad_request(format!("limit={l:?}: use a number from 1 to 200")))?,
    };
    let before = match q.get("cursor") {
        None => None,
        Some(c) => {
            let bad = || ApiError::bad_request("cursor is not one this server gave: pass next_cursor from the previous page");
            let (at, id) = c.split_once('.').ok_or_else(bad)?;
            Some((at.parse::<i64>().map_err(|_| bad())?, valid_call_id(Some(id)).map_err(|_| bad())?))
        }
    };
    let filter = CallFilter {
        status,
        since_ms: q.get("since").map(|v| parse_time("since", v)).transpose()?,
        until_ms: q.get("until").map(|v| parse_time("until", v)).transpose()?,
        limit: limit + 1,
        before,
    };
    let mut rows = st.store.list_calls(&account.id, &filter).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|r| format!("{}.{}", r.created_at, r.id)) } else { None };
    let mut calls = Vec::with_capacity(rows.len());
    for r in &rows {
        let lines = st.store.transcript(&r.id).await?;
        calls.push(render::record(r, &lines));
    }
    Ok(json_response(StatusCode::OK, &CallListResponse { success: true, calls, next_cursor }))
}

/// A call's record
#[utoipa::path(
    get,
    path = "/v1/calls/{call_id}",
    tag = "native",
    security(("ApiKey" = [])),
    params(("call_id" = String, Path, description = "The id initiate_call returned.")),
    responses(
        (status = 200, description = "The record", body = CallRecordResponse),
        (status = 400, description = "The call id is invalid", body = ErrorResponse),
        (status = 401, description = "Missing or unknown API key", body = ErrorResponse),
        (status = 404, description = "No such call for this API key", body = ErrorResponse),
    )
)]
pub(crate) async fn get_call(State(st): State<AppState>, Authed(account): Authed, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = valid_call_id(Some(&id))?;
    let record = load_record(&st, &account.id, &id).await?;
    Ok(json_response(StatusCode::OK, &CallRecordResponse { success: true, record }))
}

/// Hang up or cancel a call
#[utoipa::path(
    post,
    path = "/v1/calls/{call_id}/hangup",
    tag = "native",
    security(("ApiKey" = [])),
    params(("call_id" = String, Path, description = "The id initiate_call returned.")),
    responses(
        (status = 202, description = "The hang-up is requested (a queued call is cancelled)", body = HangUpResponse),
        (status = 400, description = "The call id is invalid", body = ErrorResponse),
        (status = 401, description = "Missing or unknown API key", body = ErrorResponse),
        (status = 404, description = "No such call for this API key", body = ErrorResponse),
        (status = 409, description = "The call has already ended", body = ErrorResponse),
    )
)]
pub(crate) async fn hang_up(State(st): State<AppState>, Authed(account): Authed, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = valid_call_id(Some(&id))?;
    let call = st.store.call(&id, Some(&account.id)).await?.ok_or_else(|| not_found(&id))?;
    if call.status.is_final() || !st.dispatcher.hang_up(&call).await? {
        return Err(ApiError::new(StatusCode::CONFLICT, "call_already_ended", format!("call {id} has already ended ({})", call.status)));
    }
    Ok(json_response(StatusCode::ACCEPTED, &HangUpResponse { call_id: id, message: "hang-up requested".into(), success: true }))
}

/// A WAV file's bytes, as the document describes them.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct WavFile(#[allow(dead_code)] Vec<u8>);

/// A spoken call's recording: stereo WAV, callee left, AI right (with speech.record = true)
#[utoipa::path(
    get,
    path = "/v1/calls/{call_id}/recording",
    tag = "native",
    security(("ApiKey" = [])),
    params(("call_id" = String, Path, description = "The id initiate_call returned.")),
    responses(
        (status = 200, description = "The WAV file", content_type = "audio/wav", body = inline(WavFile)),
        (status = 400, description = "The call id is invalid", body = ErrorResponse),
        (status = 401, description = "Missing or unknown API key", body = ErrorResponse),
        (status = 404, description = "No such call for this API key, or no recording of it (not over yet, or not recorded)", body = ErrorResponse),
    )
)]
pub(crate) async fn recording(State(st): State<AppState>, Authed(account): Authed, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = valid_call_id(Some(&id))?;
    let call = st.store.call(&id, Some(&account.id)).await?.ok_or_else(|| not_found(&id))?;
    let path = st.recordings.join(format!("{id}.wav"));
    match tokio::fs::read(&path).await {
        Ok(wav) => Ok((
            [
                (header::CONTENT_TYPE, "audio/wav".to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.wav\"")),
            ],
            wav,
        )
            .into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let why = if !call.status.is_final() {
                "the call is not over yet: its recording is written when it ends"
            } else {
                "this call was not recorded (recording is on with speech.record = true, for spoken calls)"
            };
            Err(ApiError::new(StatusCode::NOT_FOUND, "recording_not_found", format!("no recording for call {id}: {why}")))
        }
        Err(e) => {
            tracing::error!(error = %e, "a recording could not be read");
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "recording_unreadable", format!("the recording of call {id} could not be read; the server log has the cause")))
        }
    }
}

/// Liveness and database check
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses(
        (status = 200, description = "The server and its database answer", body = HealthResponse),
        (status = 503, description = "The database does not answer", body = ErrorResponse),
    )
)]
pub(crate) async fn healthz(State(st): State<AppState>) -> Result<Response, ApiError> {
    st.store.queued_calls(1, &[]).await?;
    let active = st.dispatcher.active().await;
    let health = HealthResponse { active_calls: active as u64, status: "ok".into(), success: true, version: env!("CARGO_PKG_VERSION").into() };
    Ok(json_response(StatusCode::OK, &health))
}

/// Prometheus metrics
#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, description = "Text exposition format", content_type = "text/plain; version=0.0.4", body = String)))]
pub(crate) async fn metrics(State(st): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], st.metrics.render()).into_response()
}
