//! The API calls: the Stepone-compatible endpoints under
//! `/api/v1/callinfo/` and the native ones under `/v1/`.

use reqwest::Method;
use serde_json::Value;
use waihu_wire::{
    BalanceResponse, CallIdRequest, CallListResponse, CallRecord, EngineListResponse,
    InitiateCallRequest, SkillVersionResponse, VoiceListResponse,
};

use crate::answer::{decode, find_call_ids, invalid, record_from_answer};
use crate::client::{Auth, Client};
use crate::error::ClientError;
use crate::ids::{validate_call_id, validate_idempotency_key};
use crate::text::one_line;

/// What `initiate_call` answered.
#[derive(Debug, Clone, PartialEq)]
pub struct CallCreated {
    /// One id per number, in the order given.
    pub call_ids: Vec<String>,
    /// The server's sentence, if any.
    pub message: Option<String>,
    /// The answer as parsed.
    pub body: Value,
    /// The answer exactly as received (callout.sh prints it).
    pub raw: String,
}

impl CallCreated {
    /// The first call's id.
    pub fn call_id(&self) -> Option<&str> {
        self.call_ids.first().map(String::as_str)
    }
}

impl Client {
    // ----- Stepone-compatible API -----

    /// `POST /api/v1/callinfo/initiate_call`. With an idempotency key, a
    /// retried creation does not dial twice (the server returns the first
    /// answer), so callers may retry after a network failure.
    pub async fn initiate_call(
        &self,
        request: &InitiateCallRequest,
        idempotency_key: Option<&str>,
    ) -> Result<CallCreated, ClientError> {
        let phones = request
            .phones
            .as_ref()
            .map(|p| p.joined())
            .unwrap_or_default();
        if phones.trim().is_empty() {
            return Err(ClientError::InvalidArgument {
                what: "phones",
                reason: "give at least one number".into(),
            });
        }
        if request
            .user_requirement
            .as_deref()
            .is_none_or(|r| r.trim().is_empty())
        {
            return Err(ClientError::InvalidArgument {
                what: "user_requirement",
                reason: "say what the call should achieve".into(),
            });
        }
        const EP: &str = "initiate_call";
        let mut rb = self
            .request(Method::POST, self.stepone_url(EP), Auth::Required)?
            .json(request);
        if let Some(k) = idempotency_key {
            validate_idempotency_key(k)?;
            rb = rb.header("Idempotency-Key", k);
        }
        let answer = self.send(rb, EP).await?;
        let call_ids = find_call_ids(&answer.value);
        if call_ids.is_empty() {
            return Err(invalid(EP, "the answer carries no call id"));
        }
        let message = answer
            .value
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(CallCreated {
            call_ids,
            message,
            body: answer.value,
            raw: answer.raw,
        })
    }

    /// `POST /api/v1/callinfo/search_callinfo`: the call's record. A record
    /// that does not exist (yet) is [`ClientError::NotFound`].
    pub async fn search_callinfo(&self, call_id: &str) -> Result<CallRecord, ClientError> {
        validate_call_id(call_id)?;
        const EP: &str = "search_callinfo";
        let body = CallIdRequest {
            call_id: Some(call_id.to_string()),
        };
        let rb = self
            .request(Method::POST, self.stepone_url(EP), Auth::Required)?
            .json(&body);
        let answer = self.send(rb, EP).await?;
        record_from_answer(answer.value, call_id, EP)
    }


    /// `GET /api/v1/callinfo/balance`.
    pub async fn balance(&self) -> Result<BalanceResponse, ClientError> {
        self.get_typed("balance", Auth::Required).await
    }

    /// `GET /api/v1/callinfo/skill_version` (public).
    pub async fn skill_version(&self) -> Result<SkillVersionResponse, ClientError> {
        self.get_typed("skill_version", Auth::Public).await
    }

    /// `GET /api/v1/callinfo/engine_list` (public).
    pub async fn engines(&self) -> Result<EngineListResponse, ClientError> {
        self.get_typed("engine_list", Auth::Public).await
    }

    /// `GET /api/v1/callinfo/tts_list` (public).
    pub async fn voices(&self) -> Result<VoiceListResponse, ClientError> {
        self.get_typed("tts_list", Auth::Public).await
    }

    // ----- native API -----

    /// `POST /v1/calls/{id}/hangup`: ends a live call or cancels a queued
    /// one. Returns the server's answer as is.
    pub async fn hangup(&self, call_id: &str) -> Result<Value, ClientError> {
        validate_call_id(call_id)?;
        let url = self.url(&["v1", "calls", call_id, "hangup"]);
        let rb = self.request(Method::POST, url, Auth::Required)?;
        Ok(self.send(rb, "hangup").await?.value)
    }

    /// `GET /v1/calls/{id}`.
    pub async fn get_call(&self, call_id: &str) -> Result<CallRecord, ClientError> {
        validate_call_id(call_id)?;
        let url = self.url(&["v1", "calls", call_id]);
        let rb = self.request(Method::GET, url, Auth::Required)?;
        let answer = self.send(rb, "calls").await?;
        record_from_answer(answer.value, call_id, "calls")
    }

    /// `GET /v1/calls?status=&limit=&cursor=`: a page of the account's
    /// calls, newest first.
    pub async fn list_calls(
        &self,
        status: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<CallListResponse, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(s) = status {
            query.push(("status", s.to_string()));
        }
        if let Some(l) = limit {
            query.push(("limit", l.to_string()));
        }
        if let Some(c) = cursor {
            query.push(("cursor", c.to_string()));
        }
        let rb = self
            .request(Method::GET, self.url(&["v1", "calls"]), Auth::Required)?
            .query(&query);
        decode(self.send(rb, "calls").await?.value, "calls")
    }

    /// `GET /healthz` (public). A JSON answer is returned as is; a plain
    /// text one (`ok`) as a JSON string.
    pub async fn health(&self) -> Result<Value, ClientError> {
        const EP: &str = "healthz";
        let rb = self
            .request(Method::GET, self.url(&[EP]), Auth::Public)?
            .timeout(self.request_timeout);
        let resp = self.send_checked(rb, EP, self.request_timeout).await?;
        let raw = self.read_body(resp, EP).await?;
        Ok(serde_json::from_str(&raw).unwrap_or_else(|_| Value::String(one_line(&raw, 200))))
    }
}
