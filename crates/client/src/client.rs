//! The HTTP client for the Stepone-compatible API and waihu's native API.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::Stream;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use waihu_wire::{
    BalanceResponse, CallIdRequest, CallListResponse, CallRecord, EngineListResponse,
    InitiateCallRequest, SkillVersionResponse, VoiceListResponse, SKILL_VERSION,
};

use crate::credentials::{normalize_base_url, ApiKey};
use crate::error::{innermost_cause, one_line, ClientError};
use crate::sse::{is_terminal, SseDecoder, StreamEvent, StreamItem};

/// This crate's version, sent as `X-Client-Version`.
pub const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Sent as `X-Client-Platform` unless the builder says otherwise.
pub const DEFAULT_PLATFORM: &str = "waihu-cli";
/// Longest wait for one ordinary answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for a TCP/TLS connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence on the live stream. The server sends keep-alives every
/// 0.5 s while a call is not connected, so a long silence means a dead
/// connection; the margin covers quiet stretches of a connected call.
pub const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// `callinfo.sh`'s default number of tries.
pub const DEFAULT_CALLINFO_TRIES: u32 = 5;
/// `callinfo.sh`'s fixed pause between tries.
pub const DEFAULT_CALLINFO_INTERVAL: Duration = Duration::from_secs(10);
/// The skill's `--wait` bound: ten minutes.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(600);
/// Pause between polls in `wait_final`.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The statuses clients treat as final (the spec's list). Anything else
/// means the call is still running.
pub const FINAL_STATUSES: &[&str] = &[
    "completed",
    "ended",
    "hung_up",
    "failed",
    "cancelled",
    "no_answer",
    "busy",
    "declined",
    "rejected",
    "timeout",
    "voicemail",
];

/// Largest answer body read into memory (transcripts are small; this only
/// stops a broken server from exhausting memory).
const MAX_BODY_BYTES: usize = 16 << 20;

/// Whether a status string is final.
pub fn is_final_status(status: &str) -> bool {
    FINAL_STATUSES.contains(&status.trim().to_ascii_lowercase().as_str())
}

/// Whether a record describes a call that is over: a final status, or a
/// `duration_seconds` (the shell client's test).
pub fn is_record_final(record: &CallRecord) -> bool {
    record.duration_seconds.is_some() || is_final_status(&record.status)
}

/// Checks a call id before it goes into a body or a path: the spec's
/// `[A-Za-z0-9_.:^~-]`, 1 to 256 characters, and not `.`/`..` (which would
/// walk up the path of the native endpoints).
pub fn validate_call_id(call_id: &str) -> Result<(), ClientError> {
    let fail = |reason: &str| ClientError::InvalidArgument {
        what: "call id",
        reason: reason.to_string(),
    };
    if call_id.is_empty() {
        return Err(fail("it is empty"));
    }
    if call_id.len() > 256 {
        return Err(fail("it is longer than 256 characters"));
    }
    if !call_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.:^~-".contains(c))
    {
        return Err(fail("only letters, digits and _.:^~- are allowed"));
    }
    if call_id == "." || call_id == ".." {
        return Err(fail("it is not an id"));
    }
    Ok(())
}

/// Checks an `Idempotency-Key`: 8 to 128 characters of `[A-Za-z0-9._:-]`.
pub fn validate_idempotency_key(key: &str) -> Result<(), ClientError> {
    let ok = (8..=128).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ClientError::InvalidArgument {
            what: "idempotency key",
            reason: "use 8 to 128 characters of letters, digits and ._:-".into(),
        })
    }
}

/// A fresh idempotency key, unique enough to tell one creation from another
/// of the same account: time, process id and randomness from std's
/// randomly seeded hasher (no extra dependency needed for that).
pub fn new_idempotency_key() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(nanos);
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!(
        "waihu-{nanos:x}-{:x}-{:016x}",
        std::process::id(),
        h.finish()
    )
}

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

/// Passed to the `on_retry` callback of [`Client::callinfo_with_retry`]
/// before each pause.
#[derive(Debug)]
pub struct RetryNotice<'a> {
    /// The call asked about.
    pub call_id: &'a str,
    /// The try that just failed (1-based).
    pub attempt: u32,
    /// How many tries in all.
    pub max_tries: u32,
    /// The pause before the next try.
    pub wait: Duration,
    /// Why the try failed (always a not-found).
    pub error: &'a ClientError,
}

/// Settings for a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    api_key: Option<ApiKey>,
    campaign: Option<String>,
    platform: String,
    request_timeout: Duration,
    connect_timeout: Duration,
    stream_idle_timeout: Duration,
}

impl ClientBuilder {
    /// Defaults for a server at `base_url`.
    pub fn new(base_url: &str) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.to_string(),
            api_key: None,
            campaign: None,
            platform: DEFAULT_PLATFORM.to_string(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            stream_idle_timeout: DEFAULT_STREAM_IDLE_TIMEOUT,
        }
    }

    /// The key for authenticated endpoints. Without one, those fail with
    /// [`ClientError::NoApiKey`] before anything is sent, while the public
    /// ones (version, engines, voices, health) still work.
    pub fn api_key(mut self, key: Option<ApiKey>) -> ClientBuilder {
        self.api_key = key;
        self
    }

    /// Attribution sent as `X-Campaign` and stored on calls.
    pub fn campaign(mut self, campaign: Option<String>) -> ClientBuilder {
        self.campaign = campaign;
        self
    }

    /// `X-Client-Platform` (e.g. `waihu-mcp` for the MCP server).
    pub fn platform(mut self, platform: &str) -> ClientBuilder {
        self.platform = platform.to_string();
        self
    }

    /// Longest wait for one ordinary answer.
    pub fn request_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.request_timeout = timeout;
        self
    }

    /// Longest wait for a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// Longest silence tolerated on the live stream.
    pub fn stream_idle_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.stream_idle_timeout = timeout;
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Client, ClientError> {
        let base = normalize_base_url(&self.base_url)?;
        let header = |what: &'static str, v: &str| {
            HeaderValue::from_str(v).map_err(|_| ClientError::InvalidArgument {
                what,
                reason: "it holds characters an HTTP header cannot carry".into(),
            })
        };
        let mut defaults = HeaderMap::new();
        defaults.insert(
            HeaderName::from_static("x-skill-version"),
            HeaderValue::from_static(SKILL_VERSION),
        );
        defaults.insert(
            HeaderName::from_static("x-client-version"),
            HeaderValue::from_static(CLIENT_VERSION),
        );
        defaults.insert(
            HeaderName::from_static("x-client-platform"),
            header("client platform", &self.platform)?,
        );
        if let Some(c) = self.campaign.as_deref().filter(|c| !c.trim().is_empty()) {
            defaults.insert(
                HeaderName::from_static("x-campaign"),
                header("campaign", c.trim())?,
            );
        }
        let key_header = match &self.api_key {
            Some(k) => {
                let mut v = header("API key", k.expose())?;
                // Keeps the value out of any Debug output of the request.
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .user_agent(format!("waihu-client/{CLIENT_VERSION}"))
            .default_headers(defaults)
            // The API never redirects; following one would hand X-API-Key
            // to whatever host the redirect names.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            // Per read, not per request: bounds the silence on the live
            // stream; ordinary requests also get a total timeout.
            .read_timeout(self.stream_idle_timeout)
            .build()
            .map_err(|e| ClientError::Request {
                endpoint: "(client setup)".into(),
                reason: innermost_cause(&e),
            })?;
        let base_display = base.as_str().trim_end_matches('/').to_string();
        Ok(Client {
            http,
            base,
            base_display,
            key: self.api_key,
            key_header,
            request_timeout: self.request_timeout,
            stream_idle_timeout: self.stream_idle_timeout,
        })
    }
}

/// Whether an endpoint needs the key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    Required,
    Public,
}

/// An answer that passed the status and `success` checks.
struct Answer {
    raw: String,
    value: Value,
}

/// A client for one server and one key. Cheap to clone (the connection pool
/// is shared).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    base_display: String,
    key: Option<ApiKey>,
    key_header: Option<HeaderValue>,
    request_timeout: Duration,
    stream_idle_timeout: Duration,
}

impl Client {
    /// A client with default settings.
    pub fn new(base_url: &str, api_key: Option<ApiKey>) -> Result<Client, ClientError> {
        ClientBuilder::new(base_url).api_key(api_key).build()
    }

    /// Starts a builder.
    pub fn builder(base_url: &str) -> ClientBuilder {
        ClientBuilder::new(base_url)
    }

    /// The server URL, normalised (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_display
    }

    /// The key in use, if any (prints redacted).
    pub fn api_key(&self) -> Option<&ApiKey> {
        self.key.as_ref()
    }

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

    /// `search_callinfo` as `callinfo.sh` does it: while the record is not
    /// found, call `on_retry` and try again after `interval`, up to
    /// `max_tries` tries in all (at least one). Any other error ends at
    /// once: waiting would not fix a bad key or a down server.
    pub async fn callinfo_with_retry(
        &self,
        call_id: &str,
        max_tries: u32,
        interval: Duration,
        mut on_retry: impl FnMut(&RetryNotice<'_>),
    ) -> Result<CallRecord, ClientError> {
        let max_tries = max_tries.max(1);
        let mut attempt = 1;
        loop {
            match self.search_callinfo(call_id).await {
                Err(error) if error.is_not_found() && attempt < max_tries => {
                    on_retry(&RetryNotice {
                        call_id,
                        attempt,
                        max_tries,
                        wait: interval,
                        error: &error,
                    });
                    tokio::time::sleep(interval).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Polls the record until the call is over (a final status or a
    /// `duration_seconds`), for at most `timeout`. Not-found answers are
    /// waited out (the record may appear late); other errors end at once.
    pub async fn wait_final(
        &self,
        call_id: &str,
        timeout: Duration,
        poll_interval: Duration,
    ) -> Result<CallRecord, ClientError> {
        self.wait_final_with(call_id, timeout, poll_interval, |_| {})
            .await
    }

    /// [`wait_final`](Self::wait_final), calling `on_change` each time the
    /// status seen changes (for progress lines).
    pub async fn wait_final_with(
        &self,
        call_id: &str,
        timeout: Duration,
        poll_interval: Duration,
        mut on_change: impl FnMut(&CallRecord),
    ) -> Result<CallRecord, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last_status: Option<String> = None;
        loop {
            match self.search_callinfo(call_id).await {
                Ok(record) if is_record_final(&record) => return Ok(record),
                Ok(record) => {
                    if last_status.as_deref() != Some(record.status.as_str()) {
                        on_change(&record);
                        last_status = Some(record.status.clone());
                    }
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                let last = last_status
                    .map(|s| one_line(&s, 40))
                    .unwrap_or_else(|| "no record yet".into());
                return Err(ClientError::Timeout {
                    what: format!("call {call_id} to end (last status: {last})"),
                    after: timeout,
                });
            }
            tokio::time::sleep(poll_interval.min(deadline - now)).await;
        }
    }

    /// `POST /api/v1/callinfo/stream_chat_history`: the live conversation.
    /// Yields keep-alives and lines; ends after a `[DONE]` or `[TIMEOUT]`
    /// system line, when the server closes, or after the first error
    /// (connection and HTTP errors come as the first item).
    pub fn stream(
        &self,
        call_id: &str,
    ) -> impl Stream<Item = Result<StreamItem, ClientError>> + Send + Unpin + 'static {
        use futures_util::StreamExt;
        self.stream_events(call_id).map(|r| r.map(|e| e.item))
    }

    /// [`stream`](Self::stream) with each item's raw line, for `--json`.
    pub fn stream_events(
        &self,
        call_id: &str,
    ) -> impl Stream<Item = Result<StreamEvent, ClientError>> + Send + Unpin + 'static {
        let start = StreamState::Connect {
            client: self.clone(),
            call_id: call_id.to_string(),
        };
        // Boxed so that callers can use `.next()` without pinning it first.
        Box::pin(futures_util::stream::unfold(start, next_stream_event))
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
        let resp = rb
            .send()
            .await
            .map_err(|e| self.map_reqwest(e, EP, self.request_timeout))?;
        let status = resp.status();
        let raw = self.read_body(resp, EP).await?;
        if !status.is_success() {
            return Err(error_from_status(status, &raw));
        }
        Ok(serde_json::from_str(&raw).unwrap_or_else(|_| Value::String(one_line(&raw, 200))))
    }

    // ----- plumbing -----

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // Only fails for URLs that cannot be a base; normalize_base_url
        // accepted only http(s) URLs with a host, which always can.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn stepone_url(&self, endpoint: &str) -> Url {
        self.url(&["api", "v1", "callinfo", endpoint])
    }

    fn request(&self, method: Method, url: Url, auth: Auth) -> Result<RequestBuilder, ClientError> {
        self.request_accepting(method, url, auth, "application/json")
    }

    fn request_accepting(
        &self,
        method: Method,
        url: Url,
        auth: Auth,
        accept: &'static str,
    ) -> Result<RequestBuilder, ClientError> {
        let mut rb = self.http.request(method, url).header(ACCEPT, accept);
        if auth == Auth::Required {
            let key = self.key_header.clone().ok_or(ClientError::NoApiKey)?;
            rb = rb.header("X-API-Key", key);
        }
        Ok(rb)
    }

    async fn get_typed<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        auth: Auth,
    ) -> Result<T, ClientError> {
        let rb = self.request(Method::GET, self.stepone_url(endpoint), auth)?;
        decode(self.send(rb, endpoint).await?.value, endpoint)
    }

    /// Sends, then checks the status, the JSON and `success`.
    async fn send(&self, rb: RequestBuilder, endpoint: &str) -> Result<Answer, ClientError> {
        let resp = rb
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(|e| self.map_reqwest(e, endpoint, self.request_timeout))?;
        let status = resp.status();
        let raw = self.read_body(resp, endpoint).await?;
        if !status.is_success() {
            return Err(error_from_status(status, &raw));
        }
        let value = parse_json_answer(&raw, endpoint)?;
        check_success(&value)?;
        Ok(Answer { raw, value })
    }

    async fn read_body(&self, mut resp: Response, endpoint: &str) -> Result<String, ClientError> {
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(invalid(
                            endpoint,
                            &format!("the answer is larger than {MAX_BODY_BYTES} bytes"),
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(self.map_reqwest(e, endpoint, self.request_timeout)),
            }
        }
        // Lossy: an error page in another encoding should still give a
        // readable message rather than an encoding error.
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    fn map_reqwest(&self, e: reqwest::Error, endpoint: &str, after: Duration) -> ClientError {
        if e.is_connect() {
            ClientError::Connect {
                base_url: self.base_display.clone(),
                reason: innermost_cause(&e),
            }
        } else if e.is_timeout() {
            ClientError::Timeout {
                what: format!("the server's answer to {endpoint}"),
                after,
            }
        } else {
            ClientError::Request {
                endpoint: endpoint.to_string(),
                reason: innermost_cause(&e),
            }
        }
    }

    /// Opens the event stream and checks the answer's head.
    async fn open_stream(&self, call_id: &str) -> Result<Response, ClientError> {
        const EP: &str = "stream_chat_history";
        validate_call_id(call_id)?;
        let body = CallIdRequest {
            call_id: Some(call_id.to_string()),
        };
        let rb = self
            .request_accepting(
                Method::POST,
                self.stepone_url(EP),
                Auth::Required,
                "text/event-stream",
            )?
            .json(&body);
        let resp = rb
            .send()
            .await
            .map_err(|e| self.map_reqwest(e, EP, self.stream_idle_timeout))?;
        let status = resp.status();
        if !status.is_success() {
            let raw = self.read_body(resp, EP).await?;
            return Err(error_from_status(status, &raw));
        }
        let is_json = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
        if is_json {
            // Some servers refuse with a 200 JSON body instead of a stream.
            let raw = self.read_body(resp, EP).await?;
            check_success(&parse_json_answer(&raw, EP)?)?;
            return Err(invalid(EP, "expected an event stream, got a JSON answer"));
        }
        Ok(resp)
    }
}

/// Where the live stream is.
enum StreamState {
    Connect {
        client: Client,
        call_id: String,
    },
    Open {
        client: Client,
        resp: Response,
        decoder: SseDecoder,
        queue: VecDeque<Result<StreamEvent, ClientError>>,
        ended: bool,
    },
    Done,
}

/// One step of the live stream: the next item and the state after it.
async fn next_stream_event(
    mut state: StreamState,
) -> Option<(Result<StreamEvent, ClientError>, StreamState)> {
    loop {
        state = match state {
            StreamState::Done => return None,
            StreamState::Connect { client, call_id } => match client.open_stream(&call_id).await {
                Ok(resp) => StreamState::Open {
                    client,
                    resp,
                    decoder: SseDecoder::new(),
                    queue: VecDeque::new(),
                    ended: false,
                },
                Err(e) => return Some((Err(e), StreamState::Done)),
            },
            StreamState::Open {
                client,
                mut resp,
                mut decoder,
                mut queue,
                mut ended,
            } => {
                if let Some(item) = queue.pop_front() {
                    // The stream ends after an error (the contract is
                    // broken) and after [DONE]/[TIMEOUT], even if the server
                    // keeps the connection open.
                    let stop = match &item {
                        Err(_) => true,
                        Ok(ev) => is_terminal(&ev.item),
                    };
                    let next = if stop {
                        StreamState::Done
                    } else {
                        StreamState::Open {
                            client,
                            resp,
                            decoder,
                            queue,
                            ended,
                        }
                    };
                    return Some((item, next));
                }
                if ended {
                    return None;
                }
                match resp.chunk().await {
                    Ok(Some(bytes)) => queue.extend(decoder.push(&bytes)),
                    Ok(None) => {
                        queue.extend(decoder.finish());
                        ended = true;
                    }
                    Err(e) => {
                        let err = if e.is_timeout() {
                            ClientError::Timeout {
                                what: "the live stream (nothing received, not even a keep-alive)"
                                    .into(),
                                after: client.stream_idle_timeout,
                            }
                        } else {
                            ClientError::Request {
                                endpoint: "stream_chat_history".into(),
                                reason: format!("the stream broke off ({})", innermost_cause(&e)),
                            }
                        };
                        queue.push_back(Err(err));
                        ended = true;
                    }
                }
                StreamState::Open {
                    client,
                    resp,
                    decoder,
                    queue,
                    ended,
                }
            }
        };
    }
}

fn invalid(endpoint: &str, reason: &str) -> ClientError {
    ClientError::InvalidJson {
        endpoint: endpoint.to_string(),
        reason: reason.to_string(),
    }
}

/// Parses a 2xx body, with a hint for the usual wrong-URL case (an HTML
/// page from some other web server).
fn parse_json_answer(raw: &str, endpoint: &str) -> Result<Value, ClientError> {
    let trimmed = raw.trim_start();
    if trimmed.is_empty() {
        return Err(invalid(endpoint, "the answer is empty"));
    }
    if trimmed.starts_with('<') {
        return Err(invalid(
            endpoint,
            "got an HTML page, not JSON; is the URL a waihu server?",
        ));
    }
    serde_json::from_str(raw).map_err(|e| {
        invalid(
            endpoint,
            &format!("not valid JSON ({})", one_line(&e.to_string(), 120)),
        )
    })
}

/// `"success": false` in a 2xx answer is a refusal.
fn check_success(value: &Value) -> Result<(), ClientError> {
    if value.get("success") == Some(&Value::Bool(false)) {
        let (message, code) = message_and_code(value);
        return Err(ClientError::Refused {
            message: message.unwrap_or_else(|| "no reason given".into()),
            code,
        });
    }
    Ok(())
}

/// The server's `message` (or the `detail`/`error` other servers use) and
/// `code`, made safe to print on one line.
fn message_and_code(value: &Value) -> (Option<String>, Option<String>) {
    let message = ["message", "detail", "error"]
        .iter()
        .find_map(|k| value.get(*k).and_then(Value::as_str))
        .map(|m| one_line(m, 300))
        .filter(|m| !m.is_empty());
    let code = value
        .get("code")
        .and_then(Value::as_str)
        .map(|c| one_line(c, 60));
    (message, code)
}

/// Maps a non-2xx answer to its error.
fn error_from_status(status: StatusCode, raw: &str) -> ClientError {
    let parsed: Option<Value> = serde_json::from_str(raw).ok();
    let (message, code) = parsed
        .as_ref()
        .map(message_and_code)
        .unwrap_or((None, None));
    let message = message
        .or_else(|| {
            // A plain-text error: its first line, unless it is an HTML page.
            let first = raw.trim().lines().next().unwrap_or("");
            (!first.is_empty() && !first.starts_with('<') && parsed.is_none())
                .then(|| one_line(first, 200))
        })
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("no reason given")
                .to_string()
        });
    match status.as_u16() {
        401 => ClientError::Unauthorized { message },
        404 => ClientError::NotFound { message },
        426 => ClientError::UpgradeRequired { message },
        s => ClientError::Http {
            status: s,
            message,
            code,
        },
    }
}

/// Decodes a typed answer. `success` may be missing in answers from other
/// servers; it was already checked not to be false, so it is filled in.
fn decode<T: DeserializeOwned>(mut value: Value, endpoint: &str) -> Result<T, ClientError> {
    if let Value::Object(map) = &mut value {
        map.entry("success").or_insert(Value::Bool(true));
    }
    serde_json::from_value(value).map_err(|e| {
        invalid(
            endpoint,
            &format!("unexpected shape ({})", one_line(&e.to_string(), 160)),
        )
    })
}

/// Finds the call ids the way the Python client does: `call_ids` anywhere
/// (all of them), else `call_id`, else `provider_call_id`.
fn find_call_ids(value: &Value) -> Vec<String> {
    if let Some(ids) = find_key(value, "call_ids") {
        let list: Vec<String> = match ids {
            Value::Array(items) => items.iter().filter_map(id_text).collect(),
            other => id_text(other).into_iter().collect(),
        };
        if !list.is_empty() {
            return list;
        }
    }
    ["call_id", "provider_call_id"]
        .iter()
        .find_map(|k| find_key(value, k).and_then(id_text))
        .into_iter()
        .collect()
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A key's value anywhere in the tree: this level first, then depth-first
/// in order.
fn find_key<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map
            .get(key)
            .filter(|v| !v.is_null())
            .or_else(|| map.values().find_map(|v| find_key(v, key))),
        Value::Array(items) => items.iter().find_map(|v| find_key(v, key)),
        _ => None,
    }
}

/// The call record in an answer: at the top level or under `data` (the
/// spec allows both). An answer without one means "not there yet".
fn record_from_answer(
    value: Value,
    call_id: &str,
    endpoint: &str,
) -> Result<CallRecord, ClientError> {
    let looks_like_record = |m: &Map<String, Value>| {
        ["status", "call_id", "call_content", "duration_seconds"]
            .iter()
            .any(|k| m.contains_key(*k))
    };
    let mut map = match value {
        Value::Object(mut top) => match top.remove("data") {
            Some(Value::Object(inner)) if looks_like_record(&inner) => inner,
            Some(Value::Object(inner)) if !looks_like_record(&top) => inner,
            Some(other) => {
                top.insert("data".into(), other);
                top
            }
            None => top,
        },
        _ => return Err(invalid(endpoint, "expected a JSON object")),
    };
    if !looks_like_record(&map) {
        return Err(ClientError::NotFound {
            message: format!("no record for call {call_id} in the answer"),
        });
    }
    fill_record_defaults(&mut map, call_id);
    decode_record(map, endpoint)
}

/// Fills what waihu's record always has but other Stepone-compatible
/// servers may leave out, so that their records still read.
fn fill_record_defaults(map: &mut Map<String, Value>, call_id: &str) {
    let defaults: [(&str, Value); 10] = [
        ("call_id", Value::String(call_id.to_string())),
        ("phones", Value::String(String::new())),
        ("user_requirement", Value::String(String::new())),
        ("status", Value::String("unknown".into())),
        ("cost", Value::from(0.0)),
        ("billed", Value::Bool(false)),
        ("created_at", Value::String(String::new())),
        ("call_content", Value::Array(Vec::new())),
        ("model_engine", Value::String(String::new())),
        ("voice_id", Value::String(String::new())),
    ];
    for (k, v) in defaults {
        let slot = map.entry(k).or_insert(Value::Null);
        if slot.is_null() {
            *slot = v;
        }
    }
    // A list of numbers reads as the comma-joined string.
    if let Some(Value::Array(list)) = map.get("phones") {
        let joined: Vec<String> = list.iter().filter_map(id_text).collect();
        map.insert("phones".into(), Value::String(joined.join(",")));
    }
    // Seconds as a fraction: round up, as billing does.
    if let Some(secs) = map.get("duration_seconds").and_then(Value::as_f64) {
        if map.get("duration_seconds").is_some_and(|v| !v.is_i64()) {
            map.insert("duration_seconds".into(), Value::from(secs.ceil() as i64));
        }
    }
}

fn decode_record(map: Map<String, Value>, endpoint: &str) -> Result<CallRecord, ClientError> {
    serde_json::from_value(Value::Object(map)).map_err(|e| {
        invalid(
            endpoint,
            &format!(
                "unexpected record shape ({})",
                one_line(&e.to_string(), 160)
            ),
        )
    })
}
