//! `waihu account ...` and `waihu key ...`: work on the data directory
//! directly (no server needed; safe while one runs: SQLite serialises writes).

use std::process::ExitCode;

use anyhow::{bail, Context};
use waihu_core::Fen;
use waihu_store::StoreError;

use crate::output::print;
use crate::serve::{load_config, open};
use crate::{AccountCommand, KeyCommand, ServerArgs};

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub(crate) async fn account(args: &ServerArgs, cmd: AccountCommand) -> anyhow::Result<ExitCode> {
    let cfg = load_config(args)?;
    let store = open(&cfg).await?;
    match cmd {
        AccountCommand::Create { name, balance, json } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 64 {
                bail!("account name must be 1-64 characters");
            }
            let credit = match balance {
                Some(b) => Fen::parse_yuan(&b).context("--balance")?,
                None => cfg.billing.credit()?,
            };
            let account = match store.create_account(&name, credit, now_ms()).await {
                Err(StoreError::AccountExists(n)) => bail!("an account named {n:?} already exists (see `waihu account list`)"),
                other => other?,
            };
            let key = store.create_key(&account.id, now_ms()).await?;
            if json {
                print(&serde_json::json!({"account": name, "api_key": key, "balance": credit.as_yuan()}).to_string());
            } else {
                print(&format!("Account {name:?} created with ¥{credit}.\nAPI key (shown once; store it now):\n{key}\n\nUse it: export WAIHU_API_KEY={key}"));
            }
        }
        AccountCommand::List { json } => {
            let list = store.list_accounts().await?;
            if json {
                let rows: Vec<_> = list
                    .iter()
                    .map(|a| serde_json::json!({"account": a.account.name, "balance": a.account.balance.as_yuan(), "reserved": a.account.reserved.as_yuan(), "active_keys": a.active_keys, "calls": a.calls}))
                    .collect();
                print(&serde_json::to_string_pretty(&rows)?);
            } else if list.is_empty() {
                print("No accounts yet. Create one: waihu account create <name>");
            } else {
                let mut out = format!("{:<24} {:>12} {:>10} {:>5} {:>7}\n", "ACCOUNT", "BALANCE", "RESERVED", "KEYS", "CALLS");
                for a in list {
                    out += &format!("{:<24} {:>12} {:>10} {:>5} {:>7}\n", a.account.name, format!("¥{}", a.account.balance), format!("¥{}", a.account.reserved), a.active_keys, a.calls);
                }
                print(&out);
            }
        }
        AccountCommand::Topup { name, amount } => {
            let amount = Fen::parse_yuan(&amount)?;
            if amount.0 == 0 {
                bail!("top-up amount must be more than 0");
            }
            let account = store.account_by_name(&name).await?.with_context(|| format!("no account named {name:?} (see `waihu account list`)"))?;
            let after = store.top_up(&account.id, amount, "top-up by operator", now_ms()).await?;
            print(&format!("Added ¥{amount} to {name:?}: balance ¥{after}."));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn key(args: &ServerArgs, cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    let cfg = load_config(args)?;
    let store = open(&cfg).await?;
    match cmd {
        KeyCommand::Create { account } => {
            let a = store.account_by_name(&account).await?.with_context(|| format!("no account named {account:?} (see `waihu account list`)"))?;
            let key = store.create_key(&a.id, now_ms()).await?;
            print(&format!("API key for {account:?} (shown once; store it now):\n{key}"));
        }
        KeyCommand::Revoke { prefix } => {
            if prefix.len() < 8 {
                bail!("give at least the first 8 characters of the key (e.g. sk_AbCdE), so that no other key is revoked by mistake");
            }
            let n = store.revoke_keys(&prefix, now_ms()).await?;
            if n == 0 {
                bail!("no active key starts with {prefix:?}");
            }
            print(&format!("Revoked {n} key(s) starting with {prefix}."));
        }
    }
    Ok(ExitCode::SUCCESS)
}
