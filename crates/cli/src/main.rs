//! `waihu`: the server, its admin commands and the API client in one binary.
//! This is the binary's edge: errors become one line on stderr and a
//! non-zero exit; everything below returns typed errors.

mod admin;
mod client_cmds;
mod demo;
mod format;
mod models;
mod output;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "waihu", version, about = "Self-hosted AI phone calls: one prompt in, a phone call out.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the server's data is, for commands that work on it directly.
#[derive(Args, Clone)]
struct ServerArgs {
    /// TOML configuration file.
    #[arg(long, env = "WAIHU_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Data directory (SQLite database).
    #[arg(long, env = "WAIHU_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
}

/// How to reach a server, for client commands.
#[derive(Args, Clone)]
struct ClientArgs {
    /// The server.
    #[arg(long, env = "WAIHU_BASE_URL", default_value = waihu_client::DEFAULT_BASE_URL)]
    base_url: String,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        server: ServerArgs,
        /// Address to listen on.
        #[arg(long, env = "WAIHU_LISTEN")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Start a server in-process, place a call on the simulated network and show it live.
    Demo {
        /// The number to call (see docs/simulated-network.md for the built-in callees).
        #[arg(long, default_value = "13800138000")]
        phone: String,
        /// What the call should do.
        #[arg(long, default_value = "通知张总明天上午9点开会")]
        task: String,
        /// Simulated time scale (1 = real time).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Accounts (works on the data directory directly).
    Account {
        #[command(flatten)]
        server: ServerArgs,
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// API keys (works on the data directory directly).
    Key {
        #[command(flatten)]
        server: ServerArgs,
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Place calls: one per number (comma-separated).
    Call {
        #[command(flatten)]
        client: ClientArgs,
        /// Phone numbers, e.g. "13800138000,13900139000".
        phones: String,
        /// What the call should do.
        task: String,
        /// Wait until the call is over (10 minutes at most) and show its record.
        #[arg(long)]
        wait: bool,
        /// Dialogue engine (see `waihu engines`).
        #[arg(long)]
        engine: Option<String>,
        /// Voice (see `waihu voices`).
        #[arg(long)]
        voice: Option<String>,
        /// Reuse to retry safely: the server never dials twice for one key.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A call's record, retrying while it is not there yet (10 s apart).
    Info {
        #[command(flatten)]
        client: ClientArgs,
        /// The call's id.
        call_id: String,
        /// Tries in all.
        #[arg(default_value_t = 5)]
        max_retries: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Follow a call's conversation live.
    Stream {
        #[command(flatten)]
        client: ClientArgs,
        /// The call's id.
        call_id: String,
        /// Print the raw `data:` lines.
        #[arg(long)]
        json: bool,
    },
    /// Hang up (or cancel) a call.
    Hangup {
        #[command(flatten)]
        client: ClientArgs,
        /// The call's id.
        call_id: String,
    },
    /// Recent calls.
    Calls {
        #[command(flatten)]
        client: ClientArgs,
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The account's balance.
    Balance {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Client and server protocol versions.
    Version {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Dialogue engines a call may use.
    Engines {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Voices a call may use.
    Voices {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Check the key, the server and the balance without placing a call.
    Doctor {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Offline speech models: install them, or see what is missing.
    Models {
        #[command(flatten)]
        server: ServerArgs,
        #[command(subcommand)]
        command: models::ModelsCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a commented configuration with every setting.
    Example,
    /// Print the configuration in effect (defaults < file < WAIHU_* variables).
    Show {
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account and its first API key (printed once).
    Create {
        /// A unique name.
        name: String,
        /// Opening balance in CNY (default: the configured free credit).
        #[arg(long)]
        balance: Option<String>,
        /// Print {"account": ..., "api_key": ...}.
        #[arg(long)]
        json: bool,
    },
    /// All accounts.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add money to an account.
    Topup {
        /// The account.
        name: String,
        /// CNY, e.g. 50 or 12.50.
        amount: String,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create another API key for an account (printed once).
    Create {
        /// The account.
        account: String,
    },
    /// Revoke every key starting with this prefix (at least 8 characters).
    Revoke {
        /// The key's first characters, e.g. sk_AbCdEfGh.
        prefix: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet_logs = !matches!(cli.command, Command::Serve { .. });
    output::init_logging(quiet_logs);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { server, listen } => serve::serve(&server, listen).await,
        Command::Demo { phone, task, speed } => demo::demo(&phone, &task, speed).await,
        Command::Config { command: ConfigCommand::Example } => {
            output::print(waihu_server::config::EXAMPLE);
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { command: ConfigCommand::Show { server } } => {
            let cfg = serve::load_config(&server)?;
            output::print(&toml::to_string(&cfg)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Account { server, command } => admin::account(&server, command).await,
        Command::Key { server, command } => admin::key(&server, command).await,
        Command::Call { client, phones, task, wait, engine, voice, idempotency_key, json } => {
            client_cmds::call(&client, &phones, &task, wait, engine, voice, idempotency_key, json).await
        }
        Command::Info { client, call_id, max_retries, json } => client_cmds::info(&client, &call_id, max_retries, json).await,
        Command::Stream { client, call_id, json } => client_cmds::stream(&client, &call_id, json).await,
        Command::Hangup { client, call_id } => client_cmds::hangup(&client, &call_id).await,
        Command::Calls { client, status, limit, json } => client_cmds::calls(&client, status, limit, json).await,
        Command::Balance { client } => client_cmds::balance(&client).await,
        Command::Version { client } => client_cmds::version(&client).await,
        Command::Engines { client } => client_cmds::engines(&client).await,
        Command::Voices { client } => client_cmds::voices(&client).await,
        Command::Doctor { client } => client_cmds::doctor(&client).await,
        Command::Models { server, command } => models::models(&server, command).await,
    }
}
