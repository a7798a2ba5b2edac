//! How to reach one OpenAI-compatible server, and how it is shown in logs
//! (never with its key).

use std::fmt;
use std::time::Duration;

use waihu_vendor_http::{Endpoint, OPENAI_BASE_URL};

/// How to reach one OpenAI-compatible server.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// The engine id clients pass as `model_engine` (`"deepseek"`).
    pub id: String,
    /// A human name for `engine_list`.
    pub name: String,
    /// What it is, for `engine_list`; empty for one made from the model and
    /// the host.
    pub description: String,
    /// The API root, e.g. `https://api.deepseek.com/v1`; requests go to
    /// `{base_url}/chat/completions`. A URL that already ends in
    /// `/chat/completions` is used as it is.
    pub base_url: String,
    /// The model name the server knows (`deepseek-chat`, `qwen2.5:7b`).
    pub model: String,
    /// Sent as `Authorization: Bearer <key>` when set.
    pub api_key: Option<String>,
    /// Whether the server needs a key. Hosted APIs do; local servers
    /// (Ollama, vLLM, llama.cpp) usually do not.
    pub key_required: bool,
    /// Sampling temperature. Low: a call follows a task, it does not improvise.
    pub temperature: f32,
    /// Most tokens per reply. A turn is one or two spoken sentences.
    pub max_tokens: u32,
    /// Longest wait for the TCP/TLS connection.
    pub connect_timeout: Duration,
    /// Longest wait from sending the request to the first piece of the
    /// reply (text or tool call): the callee is listening to silence.
    pub first_token_timeout: Duration,
    /// Longest gap between two pieces of the stream once the reply started.
    pub idle_timeout: Duration,
    /// More headers some gateways want (`api-key`, `X-DashScope-...`). Their
    /// values are treated as secrets too.
    pub extra_headers: Vec<(String, String)>,
}

impl OpenAiConfig {
    /// A config for `model` at `base_url` under the engine id `id`, with no
    /// key and the default limits.
    pub fn new(id: impl Into<String>, base_url: impl Into<String>, model: impl Into<String>) -> Self {
        let id = id.into();
        OpenAiConfig {
            name: id.clone(),
            id,
            description: String::new(),
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            key_required: false,
            temperature: 0.3,
            max_tokens: 256,
            connect_timeout: Duration::from_secs(5),
            first_token_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            extra_headers: Vec::new(),
        }
    }

    /// DeepSeek's hosted API (`deepseek-chat`).
    pub fn deepseek(api_key: Option<String>) -> Self {
        let mut c = OpenAiConfig::new("deepseek", "https://api.deepseek.com/v1", "deepseek-chat");
        c.name = "DeepSeek".into();
        c.api_key = api_key;
        c.key_required = true;
        c
    }

    /// OpenAI's hosted API (`gpt-4o-mini`).
    pub fn openai(api_key: Option<String>) -> Self {
        let mut c = OpenAiConfig::new("openai", OPENAI_BASE_URL, "gpt-4o-mini");
        c.name = "OpenAI".into();
        c.api_key = api_key;
        c.key_required = true;
        c
    }

    /// Where the server is and its key, as the shared HTTP client takes them.
    pub(super) fn endpoint(&self) -> Endpoint {
        Endpoint {
            base_url: self.base_url.clone(),
            api_key: self.api_key.clone(),
            key_required: self.key_required,
            extra_headers: self.extra_headers.clone(),
            connect_timeout: self.connect_timeout,
        }
    }
}

/// Shows no more of a secret than its first characters.
struct Masked<'a>(&'a str);

impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix of a long key identifies it without giving it away; of a
        // short one it would give away too much.
        if self.0.chars().count() >= 20 {
            let head: String = self.0.chars().take(7).collect();
            write!(f, "\"{head}…\"")
        } else {
            f.write_str("\"…\"")
        }
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<_> = self.extra_headers.iter().map(|(name, _)| format!("{name}: …")).collect();
        f.debug_struct("OpenAiConfig")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("description", &self.description)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_deref().map(Masked))
            .field("key_required", &self.key_required)
            .field("temperature", &self.temperature)
            .field("max_tokens", &self.max_tokens)
            .field("connect_timeout", &self.connect_timeout)
            .field("first_token_timeout", &self.first_token_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("extra_headers", &headers)
            .finish()
    }
}
