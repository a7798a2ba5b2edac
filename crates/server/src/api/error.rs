//! Every API error is JSON `{"success": false, "message": ..., "code": ...}`
//! with a fitting status. Internal failures are logged here and answered
//! with a generic message: details of the database never reach a client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use waihu_store::StoreError;
use waihu_wire::ErrorResponse;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorResponse { success: false, message: self.message, code: Some(self.code.to_owned()) };
        json_response(self.status, &body)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InsufficientBalance { available, needed } => ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_balance",
                format!("insufficient balance: these calls need ¥{needed} (one minute each) but ¥{available} is available; top up the account or call fewer numbers"),
            ),
            StoreError::IdempotencyMismatch(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused", e.to_string()),
            other => {
                tracing::error!(error = %other, "store failure behind an API request");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable", "the call database is unavailable right now; try again shortly")
            }
        }
    }
}

/// Compact JSON with the right content type (clients match compact JSON).
pub(crate) fn json_response<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(axum::http::header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, [(axum::http::header::CONTENT_TYPE, "application/json")], r#"{"success":false,"message":"internal error"}"#).into_response(),
    }
}
