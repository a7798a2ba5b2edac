//! The HTTP client for the Stepone-compatible API and waihu's native API:
//! its settings, and the plumbing every request goes through (headers, the
//! key, timeouts, size limits, status and `success` checks). The endpoints
//! are in `calls`, the waits in `polling`, the live stream in `stream`.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT};
use reqwest::{Method, RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;
use waihu_wire::SKILL_VERSION;

use crate::answer::{check_success, decode, error_from_status, invalid, parse_json_answer, Answer};
use crate::credentials::{normalize_base_url, ApiKey};
use crate::error::{innermost_cause, ClientError};

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

/// Largest answer body read into memory (transcripts are small; this only
/// stops a broken server from exhausting memory).
const MAX_BODY_BYTES: usize = 16 << 20;

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
pub(crate) enum Auth {
    Required,
    Public,
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
    pub(crate) request_timeout: Duration,
    pub(crate) stream_idle_timeout: Duration,
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

    // ----- plumbing -----

    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // Only fails for URLs that cannot be a base; normalize_base_url
        // accepted only http(s) URLs with a host, which always can.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    pub(crate) fn stepone_url(&self, endpoint: &str) -> Url {
        self.url(&["api", "v1", "callinfo", endpoint])
    }

    pub(crate) fn request(&self, method: Method, url: Url, auth: Auth) -> Result<RequestBuilder, ClientError> {
        self.request_accepting(method, url, auth, "application/json")
    }

    pub(crate) fn request_accepting(
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

    pub(crate) async fn get_typed<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        auth: Auth,
    ) -> Result<T, ClientError> {
        let rb = self.request(Method::GET, self.stepone_url(endpoint), auth)?;
        decode(self.send(rb, endpoint).await?.value, endpoint)
    }

    /// Sends with the ordinary timeout, then checks the status, the JSON
    /// and `success`.
    pub(crate) async fn send(&self, rb: RequestBuilder, endpoint: &str) -> Result<Answer, ClientError> {
        let rb = rb.timeout(self.request_timeout);
        let resp = self.send_checked(rb, endpoint, self.request_timeout).await?;
        let raw = self.read_body(resp, endpoint).await?;
        let value = parse_json_answer(&raw, endpoint)?;
        check_success(&value)?;
        Ok(Answer { raw, value })
    }

    /// Sends; a non-2xx answer becomes its error (read from the body). A
    /// timeout is reported as `after`, the limit the caller set.
    pub(crate) async fn send_checked(
        &self,
        rb: RequestBuilder,
        endpoint: &str,
        after: Duration,
    ) -> Result<Response, ClientError> {
        let resp = rb
            .send()
            .await
            .map_err(|e| self.map_reqwest(e, endpoint, after))?;
        let status = resp.status();
        if !status.is_success() {
            let raw = self.read_body(resp, endpoint).await?;
            return Err(error_from_status(status, &raw));
        }
        Ok(resp)
    }

    pub(crate) async fn read_body(&self, mut resp: Response, endpoint: &str) -> Result<String, ClientError> {
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

    pub(crate) fn map_reqwest(&self, e: reqwest::Error, endpoint: &str, after: Duration) -> ClientError {
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
}
