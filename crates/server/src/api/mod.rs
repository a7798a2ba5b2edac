//! The HTTP API: the Stepone-compatible endpoints under
//! `/api/v1/callinfo/`, the native ones under `/v1/`, health, metrics and
//! the OpenAPI document. `router(state)` is the whole API with no sockets,
//! so tests drive it with `tower::ServiceExt::oneshot`.

mod error;
mod extract;
mod native;
pub mod openapi;
pub(crate) mod render;
mod sse;
mod stepone;

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use waihu_agent::EngineRegistry;
use waihu_core::Fen;
use waihu_speech::VoiceInfo;
use waihu_store::Store;
use waihu_wire::SKILL_VERSION;

pub use error::ApiError;

use crate::bus::EventBus;
use crate::dispatcher::Dispatcher;
use crate::metrics::{ApiLabel, Metrics};

/// What the handlers share.
pub struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) engines: EngineRegistry,
    pub(crate) voices: Vec<VoiceInfo>,
    pub(crate) rate: Fen,
    pub(crate) max_phones: usize,
    pub(crate) metrics: Arc<Metrics>,
    /// Where call recordings are written (`<data_dir>/recordings`).
    pub(crate) recordings: std::path::PathBuf,
}

/// Cheap to clone.
pub type AppState = Arc<Shared>;

/// Every route, with its method: the OpenAPI document is checked against it.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/callinfo/initiate_call"),
    ("POST", "/api/v1/callinfo/search_callinfo"),
    ("POST", "/api/v1/callinfo/stream_chat_history"),
    ("GET", "/api/v1/callinfo/skill_version"),
    ("GET", "/api/v1/callinfo/balance"),
    ("GET", "/api/v1/callinfo/engine_list"),
    ("GET", "/api/v1/callinfo/tts_list"),
    ("GET", "/v1/calls"),
    ("GET", "/v1/calls/{call_id}"),
    ("POST", "/v1/calls/{call_id}/hangup"),
    ("GET", "/v1/calls/{call_id}/recording"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// The whole API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/callinfo/initiate_call", post(stepone::initiate_call))
        .route("/api/v1/callinfo/search_callinfo", post(stepone::search_callinfo))
        .route("/api/v1/callinfo/stream_chat_history", post(sse::stream_chat_history))
        .route("/api/v1/callinfo/skill_version", get(stepone::skill_version))
        .route("/api/v1/callinfo/balance", get(stepone::balance))
        .route("/api/v1/callinfo/engine_list", get(stepone::engine_list))
        .route("/api/v1/callinfo/tts_list", get(stepone::tts_list))
        .route("/v1/calls", get(native::list_calls))
        .route("/v1/calls/{call_id}", get(native::get_call))
        .route("/v1/calls/{call_id}/hangup", post(native::hang_up))
        .route("/v1/calls/{call_id}/recording", get(native::recording))
        .route("/healthz", get(native::healthz))
        .route("/metrics", get(native::metrics))
        .route("/openapi.json", get(openapi::serve))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_responses))
        .layer(axum::middleware::from_fn(check_skill_version))
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_answer))
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!("no endpoint {} {}: see GET /openapi.json for the API", req.method(), req.uri().path()))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", format!("{} is not allowed on {}: see GET /openapi.json", req.method(), req.uri().path()))
}

/// Clients send `X-Skill-Version`; a different protocol version gets 426.
async fn check_skill_version(req: Request, next: Next) -> Response {
    if let Some(v) = req.headers().get("x-skill-version") {
        let v = v.to_str().unwrap_or("").trim();
        if v != SKILL_VERSION {
            let mut resp = ApiError::new(
                StatusCode::UPGRADE_REQUIRED,
                "skill_version_mismatch",
                format!("client skill version {v:?} does not match the server's protocol version {SKILL_VERSION}: update the skill (pull the latest code)"),
            )
            .into_response();
            resp.headers_mut().insert("x-skill-version", HeaderValue::from_static(SKILL_VERSION));
            return resp;
        }
    }
    next.run(req).await
}

async fn count_responses(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let endpoint = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    state.metrics.api_responses.get_or_create(&ApiLabel { endpoint, code: resp.status().as_u16() }).inc();
    resp
}

fn panic_answer(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error: the request failed and was logged; try again").into_response()
}
