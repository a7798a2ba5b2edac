//! `waihu serve`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use waihu_server::{open_store, serve as run_server, Config, Server};
use waihu_store::Store;

use crate::ServerArgs;

/// Defaults < file < `WAIHU_*` < flags.
pub(crate) fn load_config(args: &ServerArgs) -> anyhow::Result<Config> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let mut cfg = Config::load(args.config.as_deref(), &env)?;
    if let Some(d) = &args.data_dir {
        cfg.data_dir = d.clone();
    }
    Ok(cfg)
}

pub(crate) async fn open(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let store = open_store(cfg).await.with_context(|| format!("opening {}", cfg.database_url()))?;
    Ok(Arc::new(store))
}

pub(crate) async fn serve(args: &ServerArgs, listen: Option<std::net::SocketAddr>) -> anyhow::Result<ExitCode> {
    let mut cfg = load_config(args)?;
    if let Some(l) = listen {
        cfg.listen = l;
    }
    let store = open(&cfg).await?;
    let server = Server::start(&cfg, store).await?;
    let listener = tokio::net::TcpListener::bind(cfg.listen).await.with_context(|| format!("cannot listen on {}", cfg.listen))?;
    tracing::info!(
        listen = %cfg.listen, data_dir = %cfg.data_dir.display(), carrier = %cfg.carrier.kind,
        engine = %cfg.dialogue.default_engine, "waihu serving on http://{}", cfg.listen
    );
    run_server(server, listener, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: ending live calls");
}
