//! The HTTP API: the Stepone-compatible endpoints under
//! `/api/v1/callinfo/`, the native ones under `/v1/`, health, metrics and
//! the OpenAPI document. `router(state)` is the whole API with no sockets,
//! so tests drive it with `tower::ServiceExt::oneshot`.
//!
//! Every route is registered with its handler's `#[utoipa::path]` (in
//! `routes`), so the router and `/openapi.json` come from one list.

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
use axum::Router;
use waihu_agent::EngineRegistry;
use waihu_core::Fen;
use waihu_speech::VoiceInfo;
use waihu_store::Store;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
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

/// Every route, with its method: the API's contract. Tests check that the
/// router serves each of them and that the OpenAPI document describes
/// exactly these.
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

/// Every route with its handler, each handler's method, path and OpenAPI
/// operation taken from its `#[utoipa::path]`. Add routes only here, only
/// with `routes!`: that is what keeps the document true to the router.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(stepone::initiate_call))
        .routes(routes!(stepone::search_callinfo))
        .routes(routes!(sse::stream_chat_history))
        .routes(routes!(stepone::skill_version))
        .routes(routes!(stepone::balance))
        .routes(routes!(stepone::engine_list))
        .routes(routes!(stepone::tts_list))
        .routes(routes!(native::list_calls))
        .routes(routes!(native::get_call))
        .routes(routes!(native::hang_up))
        .routes(routes!(native::recording))
        .routes(routes!(native::healthz))
        .routes(routes!(native::metrics))
        .routes(routes!(openapi::serve))
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let (routes, _) = routes().split_for_parts();
    routes
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
