//! Request extractors whose rejections are JSON errors a person can act on.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use waihu_store::Account;

use super::error::ApiError;
use super::AppState;

/// A JSON body. Any content type is accepted (some clients send none).
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("request body could not be read: {}", e.body_text()))
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("request body is empty: send a JSON object"));
        }
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| ApiError::bad_request(format!("request body is not valid JSON for this endpoint: {e}")))
    }
}

/// The account behind the request's API key (`X-API-Key`, or
/// `Authorization: Bearer`).
pub(crate) struct Authed(pub(crate) Account);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let key = header("x-api-key")
            .or_else(|| header("authorization").and_then(|v| v.strip_prefix("Bearer ")).map(str::trim))
            .filter(|k| !k.is_empty());
        let Some(key) = key else {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "missing_api_key", "missing API key: send it in the X-API-Key header (create one with `waihu key create <account>`)"));
        };
        match state.store.authenticate(key).await? {
            Some(account) => Ok(Authed(account)),
            None => {
                tracing::info!(key = %waihu_core::redact::key_prefix(key), "rejected API key");
                Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_api_key", "API key not recognised or revoked: check STEPONEAI_API_KEY / WAIHU_API_KEY"))
            }
        }
    }
}

/// A call id as the spec allows: `[A-Za-z0-9_.:^~-]{1,256}`.
pub(crate) fn valid_call_id(raw: Option<&str>) -> Result<String, ApiError> {
    let id = raw.map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| ApiError::bad_request("call_id is missing: pass the id returned by initiate_call"))?;
    let ok = id.len() <= 256 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.:^~-".contains(&b));
    if !ok {
        return Err(ApiError::bad_request("call_id may contain only letters, digits and _ . : ^ ~ - (at most 256)"));
    }
    Ok(id.to_owned())
}
