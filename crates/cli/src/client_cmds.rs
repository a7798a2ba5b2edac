//! The client commands: the seed's scripts (`callout.sh`, `callinfo.sh`,
//! `stream_chat.sh`, `stepone.sh`) as subcommands.

use std::process::ExitCode;

use anyhow::Context;
use futures_util::StreamExt;
use waihu_client::credentials::{home_dir, process_env};
use crate::format::{self, Lang};
use waihu_client::{resolve_api_key, Client, StreamItem, DEFAULT_CALLINFO_INTERVAL, DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT};
use waihu_wire::{InitiateCallRequest, PhonesField, SKILL_VERSION};

use crate::output::{print, print_raw};
use crate::ClientArgs;

pub(crate) fn client(args: &ClientArgs, need_key: bool) -> anyhow::Result<Client> {
    let home = home_dir(&process_env);
    let key = resolve_api_key(&process_env, home.as_deref())?;
    if need_key && key.is_none() {
        return Err(waihu_client::ClientError::NoApiKey.into());
    }
    Ok(Client::new(&args.base_url, key.map(|k| k.key))?)
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn call(args: &ClientArgs, phones: &str, task: &str, wait: bool, engine: Option<String>, voice: Option<String>, idempotency_key: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    let c = client(args, true)?;
    let key = idempotency_key.unwrap_or_else(waihu_client::new_idempotency_key);
    let req = InitiateCallRequest {
        phones: Some(PhonesField::Joined(phones.to_owned())),
        user_requirement: Some(task.to_owned()),
        model_engine: engine,
        voice_id: voice,
        ..Default::default()
    };
    let created = c.initiate_call(&req, Some(&key)).await.with_context(|| format!("the call was not placed (retry safely with --idempotency-key {key})"))?;
    if json && !wait {
        print(&format::json_compact(&created.raw));
    } else if !json {
        print_raw(&format::call_created(&created, Some(phones)));
    }
    if wait {
        let id = created.call_ids.first().context("the server returned no call id")?;
        let record = c.wait_final(id, DEFAULT_WAIT_TIMEOUT, DEFAULT_POLL_INTERVAL).await?;
        print_raw(&if json { format::record_json(&record) } else { format::record_summary(&record, Lang::En) });
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn info(args: &ClientArgs, call_id: &str, tries: u32, json: bool) -> anyhow::Result<ExitCode> {
    let c = client(args, true)?;
    let record = c
        .callinfo_with_retry(call_id, tries, DEFAULT_CALLINFO_INTERVAL, |n| eprint!("{}", format::retry_notice(n)))
        .await
        .with_context(|| format!("no record for call {call_id} after {} tries", tries.max(1)))?;
    print_raw(&if json { format::record_json(&record) } else { format::record_summary(&record, Lang::En) });
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn stream(args: &ClientArgs, call_id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let c = client(args, true)?;
    stream_with(&c, call_id, json).await
}

/// Prints a call's live stream until `[DONE]`/`[TIMEOUT]`.
pub(crate) async fn stream_with(c: &Client, call_id: &str, json: bool) -> anyhow::Result<ExitCode> {
    if !json {
        print_raw(&format::stream::header(call_id));
    }
    let mut events = c.stream_events(call_id);
    while let Some(ev) = events.next().await {
        let ev = ev?;
        let text = if json { format::stream::json_line(&ev) } else { format::stream::render(&ev.item) };
        if let Some(t) = text {
            print_raw(&t);
        }
        if let StreamItem::Line(l) = &ev.item {
            if l.role == "system" && (l.content == "[DONE]" || l.content == "[TIMEOUT]") {
                break;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn hangup(args: &ClientArgs, call_id: &str) -> anyhow::Result<ExitCode> {
    let c = client(args, true)?;
    c.hangup(call_id).await?;
    print(&format!("Hang-up requested for call {call_id}."));
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn calls(args: &ClientArgs, status: Option<String>, limit: u32, json: bool) -> anyhow::Result<ExitCode> {
    let c = client(args, true)?;
    let list = c.list_calls(status.as_deref(), Some(limit), None).await?;
    if json {
        print(&serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!("{:<38} {:<13} {:<12} {:>6} {:>7}  {}\n", "CALL ID", "PHONE", "STATUS", "SECS", "COST", "CREATED");
    for r in &list.calls {
        out += &format!(
            "{:<38} {:<13} {:<12} {:>6} {:>7}  {}\n",
            r.call_id,
            r.phones,
            r.status,
            r.duration_seconds.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            format::money(r.cost),
            r.created_at
        );
    }
    print_raw(&out);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn balance(args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let b = client(args, true)?.balance().await?;
    print_raw(&format::balance(&b));
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn version(args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let c = client(args, false)?;
    print(&format!("waihu {} (protocol {SKILL_VERSION})", env!("CARGO_PKG_VERSION")));
    let v = c.skill_version().await?;
    print(&format!("server {}: protocol {}", c.base_url(), v.skill_version));
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn engines(args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let list = client(args, false)?.engines().await?;
    print_raw(&format::engines(&list.engines));
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn voices(args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let list = client(args, false)?.voices().await?;
    print_raw(&format::voices(&list.voices));
    Ok(ExitCode::SUCCESS)
}

/// Checks everything a call needs, without placing one.
pub(crate) async fn doctor(args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let home = home_dir(&process_env);
    let mut ok = true;
    let mut line = |good: bool, text: String| {
        ok &= good;
        print(&format!("{} {text}", if good { "✅" } else { "❌" }));
    };
    let key = match resolve_api_key(&process_env, home.as_deref()) {
        Ok(Some(k)) => {
            line(true, format!("API key {} from {}", k.key.redacted(), k.origin));
            Some(k.key)
        }
        Ok(None) => {
            line(false, "no API key: set WAIHU_API_KEY or STEPONEAI_API_KEY, or steponeai_api_key in ~/.clawd/secrets.json".into());
            None
        }
        Err(e) => {
            line(false, e.to_string());
            None
        }
    };
    let c = Client::new(&args.base_url, key.clone())?;
    match c.skill_version().await {
        Ok(v) if v.skill_version == SKILL_VERSION => line(true, format!("server {} answers, protocol {}", c.base_url(), v.skill_version)),
        Ok(v) => line(false, format!("server {} speaks protocol {}, this client {SKILL_VERSION}: update one of them", c.base_url(), v.skill_version)),
        Err(e) => line(false, e.to_string()),
    }
    if key.is_some() {
        match c.balance().await {
            Ok(b) => {
                let can_call = b.available >= b.rate_per_minute;
                let text = format!("account {:?}: balance {}, available {}", b.account, format::money(b.balance), format::money(b.available));
                line(can_call, if can_call { text } else { format!("{text}: not enough for one minute ({})", format::money(b.rate_per_minute)) });
            }
            Err(e) => line(false, e.to_string()),
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
