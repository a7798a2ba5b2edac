//! The models directory: where each model's file is, and whether it is
//! there whole.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::ModelUnavailable;
use crate::spec::{ModelSpec, INSTALL_COMMAND, MODELS};

/// The variable naming the models directory.
pub const MODELS_DIR_ENV: &str = "WAIHU_MODELS_DIR";

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
    /// start-up), else why not, naming the install command.
    pub fn require(&self, spec: &'static ModelSpec) -> Result<PathBuf, ModelUnavailable> {
        let path = self.path(spec);
        match fs::metadata(&path) {
            Ok(m) if m.len() == spec.ggml_bytes => Ok(path),
            Ok(m) => Err(ModelUnavailable::Incomplete { name: spec.name, path, bytes: m.len(), expected: spec.ggml_bytes }),
            Err(_) => Err(ModelUnavailable::NotInstalled { name: spec.name, path }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::WHISPER_BASE;

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
        let err = store.require(&WHISPER_BASE).unwrap_err();
        assert!(matches!(err, ModelUnavailable::Incomplete { bytes: 5, .. }), "{err}");
        assert!(err.to_string().contains(INSTALL_COMMAND), "{err}");
        fs::remove_file(store.path(&WHISPER_BASE)).unwrap();
        let err = store.require(&WHISPER_BASE).unwrap_err();
        assert!(err.to_string().starts_with("whisper-base: not installed (no ") && err.to_string().ends_with(" — run 'waihu models install'"), "{err}");
    }

    #[test]
    fn store_location() {
        let s = ModelStore::new("/x/models");
        assert_eq!(s.path(&WHISPER_BASE), Path::new("/x/models/ggml-whisper-base.bin"));
    }
}
