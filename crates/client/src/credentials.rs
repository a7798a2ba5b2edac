//! Where the API key and the server URL come from.
//!
//! The key is looked up as the Stepone skill documents it, with waihu's own
//! variable first: `WAIHU_API_KEY`, then `STEPONEAI_API_KEY`, then the key
//! `steponeai_api_key` of `~/.clawd/secrets.json`. The environment and the
//! home directory are parameters so that tests never touch the real ones.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::ClientError;

/// waihu's own key variable; looked at first.
pub const WAIHU_API_KEY_ENV: &str = "WAIHU_API_KEY";
/// The variable the Stepone skill reads.
pub const STEPONE_API_KEY_ENV: &str = "STEPONEAI_API_KEY";
/// The key's name inside the secrets file.
pub const SECRETS_FILE_KEY: &str = "steponeai_api_key";
/// Where a server started with `waihu serve` listens by default.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";

/// An API key. It never prints whole: `Debug` and `Display` show a prefix
/// (`sk_AbCd…`), so a stray `{:?}` in a log or an error cannot leak it. Use
/// [`ApiKey::expose`] where the real value is needed (the request header).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A key from text, trimmed; `None` when nothing is left.
    pub fn new(text: &str) -> Option<ApiKey> {
        let t = text.trim();
        if t.is_empty() {
            None
        } else {
            Some(ApiKey(t.to_string()))
        }
    }

    /// The whole key, for the `X-API-Key` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A prefix that identifies the key without giving it away. Short keys
    /// show less, so the prefix is never most of the key.
    pub fn redacted(&self) -> String {
        let n = self.0.chars().count();
        if n >= 14 {
            waihu_core::redact::key_prefix(&self.0)
        } else {
            let head: String = self.0.chars().take(n / 3).collect();
            format!("{head}…")
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.redacted())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Where a key was found (for `doctor` and for error hints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// An environment variable, by name.
    Env(&'static str),
    /// The secrets file, by path.
    SecretsFile(PathBuf),
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyOrigin::Env(name) => write!(f, "environment variable {name}"),
            KeyOrigin::SecretsFile(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A key and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeySource {
    /// The key.
    pub key: ApiKey,
    /// Where it was found.
    pub origin: KeyOrigin,
}

/// `~/.clawd/secrets.json` under the given home directory.
pub fn secrets_path(home: &Path) -> PathBuf {
    home.join(".clawd").join("secrets.json")
}

/// The home directory as the environment names it (`HOME`, or `USERPROFILE`
/// on Windows).
pub fn home_dir(env: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    ["HOME", "USERPROFILE"]
        .iter()
        .filter_map(|name| env(name))
        .find(|v| !v.trim().is_empty())
        .map(PathBuf::from)
}

/// The process environment, in the shape the resolvers take.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Finds the API key: `WAIHU_API_KEY`, then `STEPONEAI_API_KEY`, then
/// `steponeai_api_key` in `<home>/.clawd/secrets.json`. Values are trimmed
/// and empty ones skipped. `Ok(None)` when there is no key anywhere (see
/// [`ClientError::NoApiKey`] for the message to show); an error only when the
/// secrets file exists and is unreadable or malformed, since silently
/// ignoring it would hide the user's mistake.
pub fn resolve_api_key(
    env: &impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<Option<ApiKeySource>, ClientError> {
    for name in [WAIHU_API_KEY_ENV, STEPONE_API_KEY_ENV] {
        if let Some(key) = env(name).as_deref().and_then(ApiKey::new) {
            return Ok(Some(ApiKeySource {
                key,
                origin: KeyOrigin::Env(name),
            }));
        }
    }
    let Some(home) = home else { return Ok(None) };
    let path = secrets_path(home);
    Ok(read_secrets_file(&path)?.map(|key| ApiKeySource {
        key,
        origin: KeyOrigin::SecretsFile(path),
    }))
}

/// Like [`resolve_api_key`], but a missing key is [`ClientError::NoApiKey`].
pub fn require_api_key(
    env: &impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<ApiKeySource, ClientError> {
    resolve_api_key(env, home)?.ok_or(ClientError::NoApiKey)
}

/// The key in a secrets file; `None` when the file or the key is absent or
/// the key is empty. Error reasons describe the shape only, never the text:
/// serde_json's type errors quote the offending value, which could be a
/// secret, so only the category and position are kept.
pub fn read_secrets_file(path: &Path) -> Result<Option<ApiKey>, ClientError> {
    let fail = |reason: String| ClientError::SecretsFile {
        path: path.to_path_buf(),
        reason,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(fail("the file is not UTF-8 text".into()));
        }
        Err(e) => return Err(fail(format!("cannot read it ({})", e.kind()))),
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        fail(format!(
            "not valid JSON (line {}, column {}); expected {{\"{SECRETS_FILE_KEY}\": \"sk_...\"}}",
            e.line(),
            e.column()
        ))
    })?;
    let Some(obj) = value.as_object() else {
        return Err(fail(format!(
            "expected a JSON object like {{\"{SECRETS_FILE_KEY}\": \"sk_...\"}}"
        )));
    };
    match obj.get(SECRETS_FILE_KEY) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(ApiKey::new(s)),
        Some(_) => Err(fail(format!("\"{SECRETS_FILE_KEY}\" must be a string"))),
    }
}

/// Checks and normalises a server URL: http or https (`http://` when no
/// scheme is given), no query or fragment,
/// trailing slashes dropped (so `http://host:8080/` works like
/// `http://host:8080`). A path prefix is kept, for servers behind a proxy.
pub fn normalize_base_url(url: &str) -> Result<reqwest::Url, ClientError> {
    let given = url.trim();
    let fail = |reason: &str| ClientError::InvalidBaseUrl {
        url: given.to_string(),
        reason: reason.to_string(),
    };
    if given.is_empty() {
        return Err(fail("it is empty"));
    }
    // `localhost:8080` is how people write it; without a scheme it means
    // plain http (a self-hosted server on the same machine or network).
    let with_scheme = if given.contains("://") {
        given.to_string()
    } else {
        format!("http://{given}")
    };
    let mut parsed = reqwest::Url::parse(&with_scheme).map_err(|e| fail(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(fail("expected an http:// or https:// URL"));
    }
    if parsed.host_str().is_none() {
        return Err(fail("it names no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(fail("it must not carry a query or a fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Credentials in the URL would end up in error messages and logs.
        return Err(fail(
            "it must not carry a user name or password; use the API key",
        ));
    }
    let path = parsed.path().trim_end_matches('/').to_string();
    parsed.set_path(&path);
    Ok(parsed)
}
