//! The OpenAPI 3.1 document at `/openapi.json`, derived from the code rather
//! than written beside it: the schemas from the wire types (`waihu-wire`
//! with its `openapi` feature), each operation from the `#[utoipa::path]`
//! on its handler, the paths from the router's own list (`api::routes`), and
//! the values of status-like fields from the domain's enums. A test checks
//! that it describes exactly [`ROUTES`](super::ROUTES).

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr};
use utoipa::{Modify, OpenApi as _};
use waihu_core::{CallStatus, EndReason, HangupSide, Outcome, Role};

use super::error::json_response;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "waihu API",
        description = "Self-hosted AI phone calls. The /api/v1/callinfo endpoints are byte-compatible with the Stepone API used by the OpenClaw skill ai-calls-china-phone."
    ),
    modifiers(&ApiKeyScheme)
)]
struct ApiDoc;

/// The `ApiKey` scheme that authenticated operations name.
struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, doc: &mut OpenApi) {
        let key = ApiKeyValue::with_description("X-API-Key", "An API key (`waihu key create <account>`); `Authorization: Bearer <key>` is accepted too.");
        doc.components.get_or_insert_with(Default::default).add_security_scheme("ApiKey", SecurityScheme::ApiKey(ApiKey::Header(key)));
    }
}

/// The document before the routes add their paths and schemas.
pub(super) fn base() -> OpenApi {
    ApiDoc::openapi()
}

/// The whole document.
pub fn document() -> OpenApi {
    let mut doc = super::routes().into_openapi();
    domain_values(&mut doc);
    doc
}

/// The OpenAPI 3.1 document of this API
#[utoipa::path(get, path = "/openapi.json", tag = "service", operation_id = "openapi", responses((status = 200, description = "The document (OpenAPI 3.1)", content_type = "application/json", body = Object)))]
pub(crate) async fn serve() -> Response {
    static DOCUMENT: OnceLock<OpenApi> = OnceLock::new();
    json_response(StatusCode::OK, DOCUMENT.get_or_init(document))
}

/// The wire types carry statuses and reasons as strings; their values are
/// the domain's enums, listed from them so that they cannot drift either.
fn domain_values(doc: &mut OpenApi) {
    let strings = |all: &[&'static str]| all.iter().map(|s| Value::from(*s)).collect::<Vec<_>>();
    let statuses = strings(&CallStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let fields = [
        ("CallRecord", "status", statuses.clone()),
        ("CallRecord", "hangup_by", strings(&HangupSide::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())),
        ("CallRecord", "end_reason", strings(&EndReason::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())),
        ("CallRecord", "outcome", strings(&Outcome::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())),
        // System lines (`[DONE]`) are not part of a record's transcript.
        ("ContentLine", "role", strings(&[Role::Assistant.as_str(), Role::User.as_str()])),
    ];
    if let Some(components) = doc.components.as_mut() {
        for (schema, property, values) in fields {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) {
                if let Some(RefOr::T(Schema::Object(field))) = object.properties.get_mut(property) {
                    field.enum_values = Some(values);
                }
            }
        }
    }
    let list_calls = doc.paths.paths.get_mut("/v1/calls").and_then(|item| item.get.as_mut());
    if let Some(Operation { parameters: Some(parameters), .. }) = list_calls {
        for p in parameters.iter_mut().filter(|p| p.name == "status") {
            if let Some(RefOr::T(Schema::Object(schema))) = p.schema.as_mut() {
                schema.enum_values = Some(statuses.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(super::document()).unwrap()
    }

    #[test]
    fn every_route_is_described_with_its_method() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        for (method, path) in super::super::ROUTES {
            let op = &doc["paths"][*path][method.to_ascii_lowercase()];
            assert!(op.is_object(), "{method} {path} missing from openapi.json");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
        }
        let described: usize = doc["paths"].as_object().unwrap().values().map(|item| item.as_object().unwrap().len()).sum();
        assert_eq!(described, super::super::ROUTES.len(), "the document describes a route ROUTES does not list");
    }

    #[test]
    fn authenticated_operations_name_the_api_key_scheme_and_its_errors() {
        let doc = document();
        assert_eq!(doc["components"]["securitySchemes"]["ApiKey"], serde_json::json!({"type": "apiKey", "in": "header", "name": "X-API-Key", "description": doc["components"]["securitySchemes"]["ApiKey"]["description"]}));
        for (method, path) in super::super::ROUTES {
            let op = &doc["paths"][*path][method.to_ascii_lowercase()];
            if op.get("security").is_some() {
                assert_eq!(op["security"], serde_json::json!([{"ApiKey": []}]), "{method} {path}");
                assert_eq!(op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorResponse", "{method} {path}");
            }
        }
        let public = ["/api/v1/callinfo/skill_version", "/api/v1/callinfo/engine_list", "/api/v1/callinfo/tts_list", "/healthz", "/metrics", "/openapi.json"];
        let authed = doc["paths"].as_object().unwrap().iter().filter(|(_, item)| item.as_object().unwrap().values().any(|op| op.get("security").is_some())).count();
        assert_eq!(authed, super::super::ROUTES.len() - public.len());
    }

    #[test]
    fn the_live_stream_is_an_event_stream_and_statuses_come_from_the_domain() {
        let doc = document();
        let stream = &doc["paths"]["/api/v1/callinfo/stream_chat_history"]["post"];
        assert!(stream["responses"]["200"]["content"]["text/event-stream"].is_object(), "{stream}");
        assert_eq!(stream["requestBody"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/CallIdRequest");
        let hangup_by = &doc["components"]["schemas"]["CallRecord"]["properties"]["hangup_by"]["enum"];
        assert_eq!(hangup_by, &serde_json::json!(["agent", "callee", "platform", "api"]));
        let status = doc["paths"]["/v1/calls"]["get"]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "status").unwrap().clone();
        assert_eq!(status["schema"]["enum"].as_array().unwrap().len(), waihu_core::CallStatus::ALL.len());
        let required = &doc["components"]["schemas"]["InitiateCallRequest"]["required"];
        assert_eq!(required, &serde_json::json!(["phones", "user_requirement"]));
    }
}
