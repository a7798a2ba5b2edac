//! Where an OpenAI-compatible server is, its key, and the client that
//! carries the key to it.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};

use crate::error::HttpError;
use crate::scrub::Scrubber;

/// OpenAI's hosted API root.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// How to reach one OpenAI-compatible server.
#[derive(Clone)]
pub struct Endpoint {
    /// The API root, e.g. `https://api.openai.com/v1`; each engine appends
    /// its path (`/chat/completions`, `/audio/speech`).
    pub base_url: String,
    /// Sent as `Authorization: Bearer <key>` when set and not blank.
    pub api_key: Option<String>,
    /// Whether the server needs a key (hosted APIs do, local servers not).
    pub key_required: bool,
    /// More headers some gateways want; their values are secrets too.
    pub extra_headers: Vec<(String, String)>,
    /// Longest wait for the TCP/TLS connection.
    pub connect_timeout: Duration,
}

impl Endpoint {
    /// `base_url` with no key and a 5 s connect timeout.
    pub fn new(base_url: impl Into<String>) -> Self {
        Endpoint {
            base_url: base_url.into(),
            api_key: None,
            key_required: false,
            extra_headers: Vec::new(),
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// OpenAI's hosted API, which needs a key.
    pub fn openai(api_key: Option<String>) -> Self {
        Endpoint { api_key, key_required: true, ..Endpoint::new(OPENAI_BASE_URL) }
    }

    /// The same endpoint with `key`.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The key, if one is set and not blank.
    fn key(&self) -> Option<&str> {
        self.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty())
    }

    /// `{base_url}{path}`, unless the base already ends with `path`.
    pub fn url(&self, path: &str) -> Result<String, HttpError> {
        let base = self.base_url.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(HttpError::NotConfigured("base_url must start with http:// or https://".into()));
        }
        Ok(if base.ends_with(path) { base.to_owned() } else { format!("{base}{path}") })
    }

    /// The client for `path` on this server: its URL, an HTTP client that
    /// carries the key and headers, and the scrubber that knows them.
    pub fn connect(&self, path: &str) -> Result<VendorClient, HttpError> {
        let url = self.url(path)?;
        let mut secrets = Vec::new();
        let mut headers = HeaderMap::new();
        match self.key() {
            Some(key) => {
                secrets.push(key.to_owned());
                let mut v = HeaderValue::from_str(&format!("Bearer {key}"))
                    .map_err(|_| HttpError::NotConfigured("the API key has characters an HTTP header cannot carry".into()))?;
                v.set_sensitive(true);
                headers.insert(AUTHORIZATION, v);
            }
            None if self.key_required => return Err(HttpError::NotConfigured("no API key set".into())),
            None => {}
        }
        for (name, value) in &self.extra_headers {
            let bad = || HttpError::NotConfigured(format!("extra header {name:?} is not a valid HTTP header"));
            let n = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
            let mut v = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
            v.set_sensitive(true);
            if value.trim().len() >= 8 {
                secrets.push(value.trim().to_owned());
            }
            headers.insert(n, v);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("waihu/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::NotConfigured(format!("cannot set up the HTTP client: {e}")))?;
        Ok(VendorClient { url, http, scrubber: Scrubber::new(secrets) })
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Presence only: even a prefix of a key is more than logs need.
        let key = self.key().map(|_| "[set]");
        let headers: Vec<String> = self.extra_headers.iter().map(|(n, _)| format!("{n}: …")).collect();
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url)
            .field("api_key", &key)
            .field("key_required", &self.key_required)
            .field("extra_headers", &headers)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// One API path of a vendor's server, ready to call: requests carry the
/// key, and [`VendorClient::scrubber`] takes it out of what comes back.
#[derive(Clone)]
pub struct VendorClient {
    url: String,
    http: reqwest::Client,
    scrubber: Scrubber,
}

impl VendorClient {
    /// The URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A `POST` to [`VendorClient::url`].
    pub fn post(&self) -> reqwest::RequestBuilder {
        self.http.post(&self.url)
    }

    /// What scrubs this server's secrets out of text.
    pub fn scrubber(&self) -> &Scrubber {
        &self.scrubber
    }
}

impl fmt::Debug for VendorClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VendorClient").field("url", &self.url).field("scrubber", &self.scrubber).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_key() {
        let e = Endpoint::new("http://x/v1").with_key("sk-secret-0123456789");
        let shown = format!("{e:?}");
        assert!(!shown.contains("secret") && shown.contains("[set]"), "{shown}");
        let client = e.connect("/audio/speech").unwrap();
        assert!(!format!("{client:?}").contains("sk-secret"));
        assert_eq!(client.url(), "http://x/v1/audio/speech");
        assert_eq!(e.url("/audio/speech").unwrap(), "http://x/v1/audio/speech");
        assert!(Endpoint::new("x/v1").url("/a").is_err());
    }

    #[test]
    fn a_url_that_already_names_the_path_is_kept() {
        let e = Endpoint::new("https://h/api/chat/completions/");
        assert_eq!(e.url("/chat/completions").unwrap(), "https://h/api/chat/completions");
    }

    #[test]
    fn configuration_errors_never_show_the_key() {
        let err = |e: Endpoint| e.connect("/a").unwrap_err();
        assert!(matches!(err(Endpoint::openai(None)), HttpError::NotConfigured(m) if m.contains("no API key")));
        assert!(matches!(err(Endpoint::openai(Some("  ".into()))), HttpError::NotConfigured(_)));
        assert!(matches!(err(Endpoint::openai(Some("sk-bad\nkey".into()))), HttpError::NotConfigured(m) if !m.contains("sk-bad")));
        let mut e = Endpoint::new("http://h");
        e.extra_headers.push(("bad name".into(), "hunter2-hunter2".into()));
        assert!(matches!(err(e), HttpError::NotConfigured(m) if !m.contains("hunter2")));
    }

    #[test]
    fn header_values_of_eight_or_more_characters_are_scrubbed() {
        let mut e = Endpoint::new("http://h").with_key("sk-0123456789");
        e.extra_headers.push(("api-key".into(), " hunter2-hunter2 ".into()));
        e.extra_headers.push(("x-region".into(), "cn".into()));
        let c = e.connect("/a").unwrap();
        assert_eq!(c.scrubber().scrub("sk-0123456789 hunter2-hunter2 cn"), "[redacted] [redacted] cn");
    }
}
