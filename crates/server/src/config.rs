//! Server configuration: defaults, then a TOML file, then `WAIHU_*`
//! environment variables (`__` separates sections:
//! `WAIHU_CALLS__NO_ANSWER_SECONDS=20`), then command-line flags (applied by
//! the binary). Unknown keys are errors, so a typo never passes silently.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use waihu_core::Fen;

mod error;
pub use error::{ConfigError, InvalidConfig};

/// Everything `waihu serve` can be told.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Where the SQLite database (and later recordings) live.
    pub data_dir: PathBuf,
    /// `postgres://...` to use PostgreSQL instead of SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// Prices and credit.
    pub billing: BillingConfig,
    /// Call limits and timers.
    pub calls: CallsConfig,
    /// The phone network.
    pub carrier: CarrierConfig,
    /// Dialogue engines.
    pub dialogue: DialogueConfig,
    /// Voices offered by `tts_list` when calls are text-level (spoken
    /// calls offer the synthesiser's own voices).
    pub voices: Vec<VoiceConfig>,
    /// Speech: whether calls are spoken, and with which engines.
    pub speech: crate::voice::SpeechConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("static address"),
            data_dir: PathBuf::from("./waihu-data"),
            database_url: None,
            billing: BillingConfig::default(),
            calls: CallsConfig::default(),
            carrier: CarrierConfig::default(),
            dialogue: DialogueConfig::default(),
            voices: vec![
                VoiceConfig { id: "zh-female-1".into(), name: "标准女声".into(), language: "zh-CN".into() },
                VoiceConfig { id: "zh-male-1".into(), name: "标准男声".into(), language: "zh-CN".into() },
            ],
            speech: crate::voice::SpeechConfig::default(),
        }
    }
}

/// Prices and credit, in CNY as decimal strings (`"0.30"`): exact, no floats.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillingConfig {
    /// Price of each started minute of connected time.
    pub rate_per_minute: String,
    /// Credit given to each new account.
    pub new_account_credit: String,
}

impl Default for BillingConfig {
    fn default() -> Self {
        BillingConfig { rate_per_minute: "0.30".into(), new_account_credit: "10.00".into() }
    }
}

impl BillingConfig {
    /// The per-minute rate.
    pub fn rate(&self) -> Result<Fen, InvalidConfig> {
        Fen::parse_yuan(&self.rate_per_minute).map_err(|problem| InvalidConfig::Amount { field: "billing.rate_per_minute", problem })
    }
    /// The opening credit.
    pub fn credit(&self) -> Result<Fen, InvalidConfig> {
        Fen::parse_yuan(&self.new_account_credit).map_err(|problem| InvalidConfig::Amount { field: "billing.new_account_credit", problem })
    }
}

/// Call limits and timers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallsConfig {
    /// Ringing longer than this ends a call `no_answer`.
    pub no_answer_seconds: u64,
    /// Longest connected time of a call.
    pub max_duration_seconds: u64,
    /// Silence before the AI checks the line.
    pub silence_prompt_seconds: u64,
    /// Silence that ends a call.
    pub silence_timeout_seconds: u64,
    /// Calls live at once on this server; more wait in the queue.
    pub max_concurrent: usize,
    /// Calls live at once per account; more wait in the queue.
    pub max_concurrent_per_account: usize,
    /// Most numbers in one `initiate_call`.
    pub max_phones_per_request: usize,
    /// Longest wait for a dialogue engine's whole reply.
    pub reply_timeout_seconds: u64,
    /// How long before a paid minute ends the next one is reserved from the
    /// balance (1-55). The goodbye of a call whose balance ran out has to fit
    /// in this time.
    pub reserve_ahead_seconds: u64,
    /// How long a call waits in the queue for the carrier to have room (RTP
    /// ports, trunk channels) before it fails.
    pub capacity_wait_seconds: u64,
}

impl Default for CallsConfig {
    fn default() -> Self {
        CallsConfig {
            no_answer_seconds: 30,
            max_duration_seconds: 600,
            silence_prompt_seconds: 8,
            silence_timeout_seconds: 30,
            max_concurrent: 100,
            max_concurrent_per_account: 10,
            max_phones_per_request: 100,
            reply_timeout_seconds: 20,
            reserve_ahead_seconds: 20,
            capacity_wait_seconds: 60,
        }
    }
}

impl CallsConfig {
    fn validate(&self) -> Result<(), InvalidConfig> {
        let timers = [("no_answer_seconds", self.no_answer_seconds), ("max_duration_seconds", self.max_duration_seconds), ("silence_timeout_seconds", self.silence_timeout_seconds)];
        if let Some((field, _)) = timers.into_iter().find(|(_, v)| *v == 0) {
            return Err(InvalidConfig::ZeroTimer { field });
        }
        if self.silence_prompt_seconds >= self.silence_timeout_seconds {
            return Err(InvalidConfig::SilencePromptNotShorter);
        }
        if !(1..=55).contains(&self.reserve_ahead_seconds) {
            return Err(InvalidConfig::ReserveAhead(self.reserve_ahead_seconds));
        }
        let limits = [("max_concurrent", self.max_concurrent), ("max_concurrent_per_account", self.max_concurrent_per_account), ("max_phones_per_request", self.max_phones_per_request)];
        if let Some((field, _)) = limits.into_iter().find(|(_, v)| *v == 0) {
            return Err(InvalidConfig::ZeroLimit { field });
        }
        Ok(())
    }
}

/// The phone network.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CarrierConfig {
    /// `sim` (the simulated network, the default) or `sip` (a SIP trunk).
    pub kind: String,
    /// The simulated network.
    pub sim: waihu_carrier::sim::SimConfig,
    /// The SIP trunk, used when `kind = "sip"`.
    pub sip: waihu_carrier::sip::SipConfig,
}

impl Default for CarrierConfig {
    fn default() -> Self {
        CarrierConfig { kind: "sim".into(), sim: Default::default(), sip: Default::default() }
    }
}

/// Dialogue engines.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialogueConfig {
    /// The engine calls use when they name none.
    pub default_engine: String,
    /// OpenAI-compatible engines (DeepSeek, Qwen, Doubao, Ollama, vLLM ...).
    pub openai: Vec<OpenAiEngineConfig>,
}

impl Default for DialogueConfig {
    fn default() -> Self {
        DialogueConfig { default_engine: "offline".into(), openai: vec![] }
    }
}

/// One OpenAI-compatible chat completions endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiEngineConfig {
    /// The id calls pass as `model_engine`.
    pub id: String,
    /// A human name.
    #[serde(default)]
    pub name: Option<String>,
    /// e.g. `https://api.deepseek.com/v1`.
    pub base_url: String,
    /// e.g. `deepseek-chat`.
    pub model: String,
    /// Environment variable holding the key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// File holding the key (first line).
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// Sampling temperature.
    #[serde(default = "default_temperature")]
    pub temperature: f32,
    /// Longest wait for the first token, in ms.
    #[serde(default = "default_first_token_ms")]
    pub first_token_timeout_ms: u64,
}

fn default_temperature() -> f32 {
    0.3
}
fn default_first_token_ms() -> u64 {
    8000
}

/// A voice offered by `tts_list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceConfig {
    /// The id calls pass as `voice_id`.
    pub id: String,
    /// A human name.
    pub name: String,
    /// BCP 47.
    pub language: String,
}

/// Environment variables that belong to the client or the binary, not to the
/// server's configuration tree.
const NOT_CONFIG: &[&str] = &["WAIHU_API_KEY", "WAIHU_BASE_URL", "WAIHU_CONFIG", "WAIHU_LOG", "WAIHU_TEST_POSTGRES", "WAIHU_MODELS_DIR"];

impl Config {
    /// Loads defaults < file < environment.
    pub fn load(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let mut tree = toml::Table::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|problem| ConfigError::Read { path: path.into(), problem })?;
            tree = toml::from_str(&text).map_err(|problem| ConfigError::Syntax { path: path.into(), problem })?;
        }
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("WAIHU_") else { continue };
            if NOT_CONFIG.contains(&name.as_str()) || rest.is_empty() {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            set_path(&mut tree, &path, scalar(value)).map_err(|section| ConfigError::NotASection { variable: name.clone(), section })?;
        }
        let cfg: Config = toml::Value::Table(tree).try_into().map_err(ConfigError::Structure)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks what types cannot.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        self.billing.rate()?;
        self.billing.credit()?;
        self.calls.validate()?;
        match self.carrier.kind.as_str() {
            "sim" => self.carrier.sim.validate().map_err(|e| InvalidConfig::Sim(e.to_string()))?,
            "sip" => self.carrier.sip.validate().map_err(|e| InvalidConfig::Sip(e.to_string()))?,
            other => return Err(InvalidConfig::UnknownCarrier(other.to_owned())),
        }
        let mut ids = vec!["offline".to_owned()];
        for e in &self.dialogue.openai {
            if ids.contains(&e.id) {
                return Err(InvalidConfig::EngineIdTwice(e.id.clone()));
            }
            ids.push(e.id.clone());
        }
        if !ids.contains(&self.dialogue.default_engine) {
            return Err(InvalidConfig::UnknownDefaultEngine { engine: self.dialogue.default_engine.clone(), configured: ids.join(", ") });
        }
        if self.voices.is_empty() {
            return Err(InvalidConfig::NoVoices);
        }
        self.speech.validate().map_err(InvalidConfig::Speech)
    }

    /// The database URL: the configured one or SQLite in the data dir.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("waihu.db").display()))
    }
}

fn scalar(raw: &str) -> toml::Value {
    // A value that parses as a TOML scalar keeps its type (numbers, booleans,
    // quoted strings); anything else is a plain string.
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

/// Sets `a.b.c` in the tree; `Err` names the part of the path that is a
/// value, not a section.
fn set_path(tree: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else { return Ok(()) };
    let mut node = tree;
    for p in parents {
        let entry = node.entry(p.clone()).or_insert_with(|| toml::Value::Table(Default::default()));
        node = entry.as_table_mut().ok_or_else(|| p.clone())?;
    }
    node.insert(last.clone(), value);
    Ok(())
}

/// The commented example configuration printed by `waihu config example`.
pub const EXAMPLE: &str = include_str!("../config.example.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use waihu_core::AmountError;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_valid_and_listen_on_loopback_8080() {
        let c = Config::load(None, &env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.calls.no_answer_seconds, 30);
        assert_eq!(c.billing.credit().unwrap(), Fen(1000));
    }

    #[test]
    fn environment_overrides_file_with_nested_names() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("w.toml");
        std::fs::write(&f, "[calls]\nno_answer_seconds = 20\nmax_concurrent = 5\n").unwrap();
        let c = Config::load(Some(&f), &env(&[("WAIHU_CALLS__NO_ANSWER_SECONDS", "12"), ("WAIHU_LISTEN", "0.0.0.0:9000"), ("WAIHU_API_KEY", "sk_x")])).unwrap();
        assert_eq!(c.calls.no_answer_seconds, 12);
        assert_eq!(c.calls.max_concurrent, 5);
        assert_eq!(c.listen.port(), 9000);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named_in_the_error() {
        let e = Config::load(None, &env(&[("WAIHU_CALLS__NO_ANSWER", "12")])).unwrap_err().to_string();
        assert!(e.contains("no_answer"), "{e}");
        let e = Config::load(None, &env(&[("WAIHU_BILLING__RATE_PER_MINUTE", "cheap")])).unwrap_err().to_string();
        assert!(e.contains("rate_per_minute"), "{e}");
        let e = Config::load(None, &env(&[("WAIHU_DIALOGUE__DEFAULT_ENGINE", "gpt")])).unwrap_err().to_string();
        assert!(e.contains("gpt"), "{e}");
    }

    #[test]
    fn each_refused_setting_is_named_once() {
        let refused = |pairs: &[(&str, &str)]| Config::load(None, &env(pairs)).unwrap_err();
        let e = refused(&[("WAIHU_BILLING__NEW_ACCOUNT_CREDIT", "1.234")]);
        assert_eq!(e.to_string(), "invalid configuration: invalid type: floating point `1.234`, expected a string in `billing.new_account_credit`");
        let e = refused(&[("WAIHU_BILLING__NEW_ACCOUNT_CREDIT", "\"1.234\"")]);
        assert!(matches!(&e, ConfigError::Invalid(InvalidConfig::Amount { field: "billing.new_account_credit", problem: AmountError::FractionOfAFen { .. } })), "{e:?}");
        let e = refused(&[("WAIHU_BILLING__RATE_PER_MINUTE", "cheap")]);
        assert_eq!(e.to_string(), "invalid configuration: billing.rate_per_minute: \"cheap\" is not an amount in CNY: use digits with at most two decimals, e.g. 10 or 12.50");
        assert!(std::error::Error::source(&e).is_none(), "the CLI prints the chain: the cause is in the message only");
        let e = refused(&[("WAIHU_CALLS__MAX_DURATION_SECONDS", "0")]);
        assert_eq!(e.to_string(), "invalid configuration: calls.max_duration_seconds must be at least 1 second");
        let e = refused(&[("WAIHU_CALLS__MAX_CONCURRENT_PER_ACCOUNT", "0")]);
        assert!(matches!(e, ConfigError::Invalid(InvalidConfig::ZeroLimit { field: "max_concurrent_per_account" })), "{e:?}");
        let e = refused(&[("WAIHU_CALLS__RESERVE_AHEAD_SECONDS", "60")]);
        assert!(e.to_string().contains("between 1 and 55 (got 60)"), "{e}");
        let e = refused(&[("WAIHU_CALLS__SILENCE_PROMPT_SECONDS", "30")]);
        assert!(matches!(e, ConfigError::Invalid(InvalidConfig::SilencePromptNotShorter)), "{e:?}");
        let e = refused(&[("WAIHU_LISTEN", "0.0.0.0:9000"), ("WAIHU_LISTEN__PORT", "1")]);
        assert_eq!(e.to_string(), "invalid configuration: WAIHU_LISTEN__PORT: listen is not a section");
        let e = refused(&[("WAIHU_VOICES", "[]")]);
        assert!(matches!(e, ConfigError::Invalid(InvalidConfig::NoVoices)), "{e:?}");
        let e = refused(&[("WAIHU_SPEECH__MODE", "loud")]);
        assert!(e.to_string().starts_with("invalid configuration: speech.mode must be off, auto or on"), "{e}");
    }

    #[test]
    fn a_file_that_is_missing_or_not_toml_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("w.toml");
        std::fs::write(&f, "[calls\nno_answer_seconds = 20\n").unwrap();
        let e = Config::load(Some(&f), &env(&[])).unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.starts_with("invalid configuration: ") && msg.contains("w.toml") && msg.contains("line 1"), "{msg}");
        let e = Config::load(Some(&dir.path().join("missing.toml")), &env(&[])).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }) && e.to_string().contains("missing.toml"), "{e:?}");
        assert!(std::error::Error::source(&e).is_none(), "the CLI prints the chain: the cause is in the message only");
    }

    #[test]
    fn the_sip_carrier_is_chosen_and_validated_by_kind() {
        let c = Config::load(None, &env(&[("WAIHU_CARRIER__KIND", "sip"), ("WAIHU_CARRIER__SIP__HOST", "10.0.0.5")])).unwrap();
        assert_eq!(c.carrier.sip.host, "10.0.0.5");
        let e = Config::load(None, &env(&[("WAIHU_CARRIER__KIND", "sip"), ("WAIHU_CARRIER__SIP__CODECS", "[]")])).unwrap_err().to_string();
        assert!(e.contains("[carrier.sip] codecs"), "{e}");
        let e = Config::load(None, &env(&[("WAIHU_CARRIER__KIND", "pstn")])).unwrap_err().to_string();
        assert!(e.contains("sim, sip"), "{e}");
    }

    #[test]
    fn the_example_config_is_complete_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("example.toml");
        std::fs::write(&f, EXAMPLE).unwrap();
        let c = Config::load(Some(&f), &env(&[])).unwrap();
        // Every section of the real configuration appears in the example.
        let full = toml::to_string(&Config::default()).unwrap();
        for line in full.lines().filter(|l| l.starts_with('[')) {
            assert!(EXAMPLE.contains(line.trim_start_matches("[[").trim_start_matches('[').trim_end_matches(']')), "example lacks {line}");
        }
        assert_eq!(c.calls.no_answer_seconds, Config::default().calls.no_answer_seconds);
    }
}
