//! The waihu server. The path of a call through its modules:
//!
//! ```text
//! api (auth, validation, idempotency, billing check)
//!   -> store (the call row, queued)          -> dispatcher (limits, queue)
//!   -> session (lifecycle + carrier leg + conversation)
//!   -> store + bus (every line, every status) -> api::sse (live stream)
//! ```

pub mod api;
pub mod bus;
pub mod config;
pub mod dispatcher;
pub mod metrics;
mod session;
pub mod voice;

use std::sync::Arc;
use std::time::Duration;

use waihu_agent::offline::OfflineEngine;
use waihu_agent::openai::{OpenAiConfig, OpenAiEngine};
use waihu_agent::{EngineRegistry, Llm};
use waihu_carrier::sim::SimCarrier;
use waihu_carrier::sip::SipCarrier;
use waihu_carrier::Carrier;
use waihu_core::lifecycle::LifecycleConfig;
use waihu_speech::VoiceInfo;
use waihu_store::{SqlStore, Store, StoreError};

pub use config::Config;

use api::{AppState, Shared};
use bus::{EventBus, InProcessBus};
use dispatcher::Dispatcher;
use metrics::Metrics;
use session::SessionDeps;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// A setting is out of range or inconsistent.
    #[error(transparent)]
    InvalidConfig(#[from] config::InvalidConfig),
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The SIP trunk carrier could not start (its message names the
    /// `[carrier.sip]` setting or address at fault).
    #[error(transparent)]
    SipCarrier(#[from] waihu_carrier::sip::SipStartError),
    /// The simulated network refused its `[carrier.sim]` configuration.
    #[error(transparent)]
    SimCarrier(#[from] waihu_carrier::sim::SimConfigError),
}

/// A built server: the API router plus the dispatcher running behind it.
pub struct Server {
    /// The API.
    pub state: AppState,
    /// The store (for admin commands and tests).
    pub store: Arc<dyn Store>,
    dispatcher: Arc<Dispatcher>,
    dispatcher_task: tokio::task::JoinHandle<()>,
    spoken: Option<String>,
}

/// Opens the store named by the configuration (creating the data dir).
pub async fn open_store(cfg: &Config) -> Result<SqlStore, StartError> {
    if cfg.database_url.is_none() {
        std::fs::create_dir_all(&cfg.data_dir).map_err(|source| StartError::DataDir { path: cfg.data_dir.clone(), source })?;
    }
    Ok(SqlStore::connect(&cfg.database_url()).await?)
}

/// The dialogue engines the configuration names.
pub fn engines(cfg: &Config) -> Result<EngineRegistry, StartError> {
    let mut list: Vec<Arc<dyn Llm>> = vec![Arc::new(OfflineEngine::new())];
    for e in &cfg.dialogue.openai {
        let mut oc = OpenAiConfig::new(e.id.clone(), e.base_url.clone(), e.model.clone());
        if let Some(n) = &e.name {
            oc.name = n.clone();
        }
        oc.temperature = e.temperature;
        oc.first_token_timeout = Duration::from_millis(e.first_token_timeout_ms);
        oc.api_key = read_secret(e.api_key_env.as_deref(), e.api_key_file.as_deref()).map_err(StartError::Config)?;
        oc.key_required = e.api_key_env.is_some() || e.api_key_file.is_some();
        let engine = OpenAiEngine::new(oc).map_err(|err| StartError::Config(format!("dialogue.openai {:?}: {err}", e.id)))?;
        list.push(Arc::new(engine));
    }
    EngineRegistry::new(list, cfg.dialogue.default_engine.clone()).map_err(|e| StartError::Config(e.to_string()))
}

/// The phone network the configuration names: the simulator, or a SIP
/// trunk (its socket bound and, if configured, registered).
/// With `sim_voice`, the simulated callees speak and hear.
pub async fn carrier(cfg: &Config, sim_voice: Option<waihu_carrier::sim::SimVoice>) -> Result<Arc<dyn Carrier>, StartError> {
    Ok(match cfg.carrier.kind.as_str() {
        "sip" => Arc::new(SipCarrier::start(cfg.carrier.sip.clone()).await?),
        _ => {
            let sim = SimCarrier::new(cfg.carrier.sim.clone())?;
            Arc::new(match sim_voice {
                Some(v) => sim.with_voice(v),
                None => sim,
            })
        }
    })
}

pub(crate) fn read_secret(env: Option<&str>, file: Option<&std::path::Path>) -> Result<Option<String>, String> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_owned())),
            _ => Err(format!("the API key variable {var} is not set")),
        };
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read API key file {}: {e}", path.display()))?;
        let key = text.lines().next().unwrap_or("").trim().to_owned();
        if key.is_empty() {
            return Err(format!("API key file {} is empty", path.display()));
        }
        return Ok(Some(key));
    }
    Ok(None)
}

/// What a server can be given instead of building it from its
/// configuration ([`Server::start_with`]).
#[derive(Default)]
pub struct ServerParts {
    /// The voice engines (`None`: calls are text-level).
    pub voice: Option<voice::VoiceSetup>,
    /// The carrier (`None`: the one `[carrier]` names).
    pub carrier: Option<Arc<dyn Carrier>>,
}

impl Server {
    /// Builds the server on a store: recovers calls a previous process left
    /// live, and starts the dispatcher.
    pub async fn start(cfg: &Config, store: Arc<dyn Store>) -> Result<Server, StartError> {
        cfg.validate().map_err(|e| StartError::Config(e.to_string()))?;
        let voice = voice::setup(&cfg.speech, &cfg.data_dir).await.map_err(|e| StartError::Config(format!("speech: {e}")))?;
        Self::start_with(cfg, store, ServerParts { voice, carrier: None }).await
    }

    /// The same, with some parts given rather than built from the
    /// configuration (tests and benchmarks with engines or a carrier of
    /// their own).
    pub async fn start_with(cfg: &Config, store: Arc<dyn Store>, parts: ServerParts) -> Result<Server, StartError> {
        let ServerParts { voice, carrier: given_carrier } = parts;
        cfg.validate().map_err(|e| StartError::Config(e.to_string()))?;
        let recovered = store.recover_interrupted(chrono::Utc::now().timestamp_millis()).await?;
        if !recovered.is_empty() {
            tracing::warn!(calls = recovered.len(), "ended calls left live by a previous run as failed (server_restart)");
        }
        if let Some(v) = &voice {
            tracing::info!("{}", v.summary);
        }
        let carrier = match given_carrier {
            Some(c) => c,
            None => carrier(cfg, voice.as_ref().and_then(|v| v.sim.clone())).await?,
        };
        let engines = engines(cfg)?;
        let metrics = Arc::new(Metrics::default());
        let bus: Arc<dyn EventBus> = Arc::new(InProcessBus::default());
        let c = &cfg.calls;
        let lifecycle = LifecycleConfig {
            no_answer: Duration::from_secs(c.no_answer_seconds),
            max_duration: Duration::from_secs(c.max_duration_seconds),
            silence_prompt: Duration::from_secs(c.silence_prompt_seconds),
            silence_timeout: Duration::from_secs(c.silence_timeout_seconds),
            hold_lead: Duration::from_secs(c.reserve_ahead_seconds),
            ..LifecycleConfig::default()
        };
        let deps = Arc::new(SessionDeps {
            store: store.clone(),
            bus: bus.clone(),
            carrier,
            engines: engines.clone(),
            lifecycle,
            reply_timeout: Duration::from_secs(c.reply_timeout_seconds),
            metrics: metrics.clone(),
            voice: voice.as_ref().map(|v| v.engines.clone()),
            recordings: cfg.data_dir.join("recordings"),
            record_by_default: cfg.speech.record,
        });
        let dispatcher = Dispatcher::new(deps, c.max_concurrent, c.max_concurrent_per_account, Duration::from_secs(c.capacity_wait_seconds));
        let dispatcher_task = tokio::spawn(dispatcher.clone().run());
        let default_voice = cfg.voices.first().map(|v| v.id.clone());
        let voices = match &voice {
            Some(v) => v.voices.clone(),
            None => cfg
                .voices
                .iter()
                .map(|v| VoiceInfo { id: v.id.clone(), name: v.name.clone(), language: v.language.clone(), default: Some(&v.id) == default_voice.as_ref() })
                .collect(),
        };
        let state = Arc::new(Shared {
            store: store.clone(),
            bus,
            dispatcher: dispatcher.clone(),
            engines,
            voices,
            rate: cfg.billing.rate().map_err(|e| StartError::Config(e.to_string()))?,
            max_phones: c.max_phones_per_request,
            metrics,
            recordings: cfg.data_dir.join("recordings"),
        });
        Ok(Server { state, store, dispatcher, dispatcher_task, spoken: voice.map(|v| v.summary) })
    }

    /// How calls are spoken (`None`: text-level calls).
    pub fn spoken(&self) -> Option<&str> {
        self.spoken.as_deref()
    }

    /// The API router.
    pub fn router(&self) -> axum::Router {
        api::router(self.state.clone())
    }

    /// Waits until no call is live or queued-and-startable (for `demo` and tests).
    pub async fn wait_call_finished(&self) {
        self.dispatcher.finished.notified().await;
    }

    /// Calls live now.
    pub async fn active_calls(&self) -> usize {
        self.dispatcher.active().await
    }

    /// Ends live calls (their records are written) and stops dispatching.
    pub async fn shutdown(self, grace: Duration) {
        self.dispatcher.shutdown(grace).await;
        self.dispatcher_task.abort();
    }
}

/// Serves the API on `listener` until `shutdown` resolves, then ends live
/// calls cleanly.
pub async fn serve(server: Server, listener: tokio::net::TcpListener, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let router = server.router();
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await?;
    server.shutdown(Duration::from_secs(15)).await;
    Ok(())
}
