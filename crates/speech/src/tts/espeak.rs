//! Offline Mandarin synthesis with espeak-ng, run as a subprocess.
//!
//! A subprocess, not a library: linking libespeak-ng would make the binary
//! GPL. Each synthesis runs `espeak-ng -m -v <voice> -s <wpm> -a <amp>
//! --stdout`, writes the text to its stdin as SSML and reads a WAV stream
//! (22 050 Hz) from its stdout, resampled to 8 kHz as it arrives. Dropping
//! the stream kills the process.
//!
//! espeak-ng's `cmn` voice mispronounces Han characters, so the text goes
//! through [`pinyin`] first and is spoken by `cmn-latn-pinyin`; Latin words
//! are wrapped in an English `<voice>` (the pinyin voice would read `API`
//! as pinyin). The voice sounds robotic but is intelligible, and is far
//! faster than real time.
//!
//! Mapping of the request: `speed` 0-50-100 to 100-175-300 words per minute
//! (175 is espeak's default), `volume` 0-100 to amplitude `-a` 0-200 (100
//! is espeak's default and already peaks near full scale: above 50, loud
//! passages saturate).

mod numbers;
pub mod pinyin;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;
use waihu_vendor_http::millis;

use self::pinyin::{to_pieces, Piece};
use super::stream::{read_stream, AudioReader};
use super::{pick_voice, Tts, TtsError, TtsRequest, TtsStream, VoiceInfo};
use crate::pcm::SAMPLE_RATE;
use crate::resample::Resampler;
use crate::wav::WavReader;

/// The Debian package that provides `espeak-ng`.
pub const DEBIAN_PACKAGE: &str = "espeak-ng";

/// One voice this engine offers.
#[derive(Debug, Clone, PartialEq)]
pub struct EspeakVoice {
    /// What `tts_list` shows; `info.id` is what requests pass.
    pub info: VoiceInfo,
    /// The espeak-ng voice, with an optional variant: `cmn-latn-pinyin+f3`.
    pub espeak: String,
}

impl EspeakVoice {
    fn new(espeak: &str, name: &str, default: bool) -> Self {
        EspeakVoice { info: VoiceInfo { id: espeak.into(), name: name.into(), language: "zh-CN".into(), default }, espeak: espeak.into() }
    }
}

/// Settings of the espeak-ng engine.
#[derive(Debug, Clone)]
pub struct EspeakConfig {
    /// The program to run: a name looked up on `PATH`, or a path.
    pub program: PathBuf,
    /// The voices offered; the first marked default is the default.
    pub voices: Vec<EspeakVoice>,
    /// Longest wait for the next piece of audio from the process.
    pub idle_timeout: Duration,
}

impl Default for EspeakConfig {
    fn default() -> Self {
        EspeakConfig {
            program: PathBuf::from("espeak-ng"),
            voices: vec![
                EspeakVoice::new("cmn-latn-pinyin", "espeak-ng 普通话男声", true),
                EspeakVoice::new("cmn-latn-pinyin+f3", "espeak-ng 普通话女声", false),
            ],
            idle_timeout: Duration::from_secs(10),
        }
    }
}

/// espeak-ng through pinyin.
#[derive(Debug, Clone)]
pub struct EspeakTts {
    config: EspeakConfig,
}

impl EspeakTts {
    /// Checks the voice names (they go on a command line and into SSML).
    /// Whether the program is installed is found out by [`EspeakTts::check`]
    /// or the first synthesis.
    pub fn new(config: EspeakConfig) -> Result<Self, TtsError> {
        if config.voices.is_empty() {
            return Err(TtsError::NotConfigured("espeak-ng: no voices configured".into()));
        }
        for v in &config.voices {
            let ok = !v.espeak.is_empty() && v.espeak.chars().all(|c| c.is_ascii_alphanumeric() || "-+_".contains(c));
            if !ok {
                return Err(TtsError::NotConfigured(format!("espeak-ng voice {:?}: use letters, digits and - + _ only", v.espeak)));
            }
        }
        Ok(EspeakTts { config })
    }

    /// Runs `espeak-ng --version`: its version line, or why it cannot run.
    pub async fn check(&self) -> Result<String, TtsError> {
        let out = Command::new(&self.config.program)
            .arg("--version")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| self.spawn_error(&e))?;
        if !out.status.success() {
            return Err(TtsError::Process(format!("{} --version: {}", self.config.program.display(), out.status)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().trim().to_owned())
    }

    fn spawn_error(&self, e: &std::io::Error) -> TtsError {
        match e.kind() {
            std::io::ErrorKind::NotFound => TtsError::NotInstalled { program: self.config.program.display().to_string(), package: DEBIAN_PACKAGE.into() },
            _ => TtsError::Process(format!("cannot run {}: {e}", self.config.program.display())),
        }
    }
}

/// espeak-ng's words per minute for a 0-100 speed.
pub fn words_per_minute(speed: u8) -> u32 {
    let s = u32::from(speed.min(100));
    if s <= 50 {
        100 + s * 3 / 2
    } else {
        175 + (s - 50) * 5 / 2
    }
}

/// espeak-ng's amplitude for a 0-100 volume.
pub fn amplitude(volume: u8) -> u32 {
    u32::from(volume.min(100)) * 2
}

/// The SSML document for `pieces` in `voice`: Han syllables and pauses in
/// the pinyin voice, Latin words in English with the same variant.
pub fn ssml(pieces: &[Piece], voice: &str) -> String {
    let english = match voice.split_once('+') {
        Some((_, variant)) => format!("en+{variant}"),
        None => "en".to_owned(),
    };
    let mut doc = String::from("<speak>");
    let mut open: Option<bool> = None; // Some(is_latin) while a <voice> is open
    for piece in pieces {
        let (text, latin) = match piece {
            Piece::Syllable(s) => (s.as_str(), false),
            Piece::Latin(w) => (w.as_str(), true),
            Piece::Pause(p) => {
                if open.is_some() {
                    doc.push_str(p.mark());
                }
                continue;
            }
        };
        if open != Some(latin) {
            if open.is_some() {
                doc.push_str("</voice>");
            }
            doc.push_str(&format!("<voice name=\"{}\">", if latin { english.as_str() } else { voice }));
            open = Some(latin);
        } else {
            doc.push(' ');
        }
        // Pieces hold only ASCII letters, digits and apostrophes: nothing to escape.
        doc.push_str(text);
    }
    if open.is_some() {
        doc.push_str("</voice>");
    }
    doc.push_str("</speak>");
    doc
}

#[async_trait]
impl Tts for EspeakTts {
    fn voices(&self) -> Vec<VoiceInfo> {
        self.config.voices.iter().map(|v| v.info.clone()).collect()
    }

    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, TtsError> {
        let infos = self.voices();
        let id = pick_voice(&infos, req.voice_id.as_deref())?.id.clone();
        let voice = &self.config.voices.iter().find(|v| v.info.id == id).expect("picked from this list").espeak;
        let pieces = to_pieces(&req.text);
        if !pieces.iter().any(|p| !matches!(p, Piece::Pause(_))) {
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let document = ssml(&pieces, voice);
        let mut child = Command::new(&self.config.program)
            .args(["-m", "-b", "1", "-v", voice])
            .args(["-s", &words_per_minute(req.speed).to_string(), "-a", &amplitude(req.volume).to_string()])
            .arg("--stdout")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.spawn_error(&e))?;
        tracing::debug!(voice, chars = req.text.chars().count(), "espeak-ng started");

        // Written from its own task: a long text must not wait on a full
        // stdout pipe that only we drain.
        let mut stdin = child.stdin.take().expect("stdin is piped");
        tokio::spawn(async move {
            // A failed write means the process died; its exit status says why.
            let _ = stdin.write_all(document.as_bytes()).await;
        });
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let stderr = tokio::spawn(async move {
            let mut text = Vec::new();
            let _ = (&mut stderr).take(4096).read_to_end(&mut text).await;
            String::from_utf8_lossy(&text).trim().to_owned()
        });
        let stdout = child.stdout.take().expect("stdout is piped");
        let synthesis = Synthesis {
            child,
            stdout,
            stderr: Some(stderr),
            wav: WavReader::new(),
            resampler: None,
            idle: self.config.idle_timeout,
            buf: vec![0; 8192],
            done: false,
        };
        Ok(read_stream(synthesis))
    }
}

/// One running espeak-ng process and what has been read from it.
struct Synthesis {
    // Held so that dropping the stream kills the process.
    child: Child,
    stdout: ChildStdout,
    stderr: Option<JoinHandle<String>>,
    wav: WavReader,
    resampler: Option<Resampler>,
    idle: Duration,
    buf: Vec<u8>,
    /// The output ended and the process was waited for.
    done: bool,
}

impl AudioReader for Synthesis {
    async fn next_chunk(&mut self) -> Result<Option<Vec<i16>>, TtsError> {
        while !self.done {
            let n = match tokio::time::timeout(self.idle, self.stdout.read(&mut self.buf)).await {
                Err(_) => return Err(TtsError::Timeout(millis(self.idle))),
                Ok(Err(e)) => return Err(TtsError::Process(format!("reading espeak-ng's output: {e}"))),
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                return self.finish().await;
            }
            let mut wide = Vec::new();
            self.wav.push(&self.buf[..n], &mut wide)?;
            let mut out = Vec::new();
            if let Some(format) = self.wav.format() {
                let r = self.resampler.get_or_insert_with(|| Resampler::new(format.sample_rate, SAMPLE_RATE));
                r.process(&wide, &mut out);
            }
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
        Ok(None)
    }
}

impl Synthesis {
    /// The output ended: the process's exit, and the audio's last samples.
    async fn finish(&mut self) -> Result<Option<Vec<i16>>, TtsError> {
        self.done = true;
        let status = match tokio::time::timeout(self.idle, self.child.wait()).await {
            Err(_) => return Err(TtsError::Timeout(millis(self.idle))),
            Ok(Err(e)) => return Err(TtsError::Process(format!("waiting for espeak-ng: {e}"))),
            Ok(Ok(status)) => status,
        };
        let stderr = match self.stderr.take() {
            Some(task) => task.await.unwrap_or_default(),
            None => String::new(),
        };
        if !status.success() {
            let detail = if stderr.is_empty() { String::new() } else { format!(": {stderr}") };
            return Err(TtsError::Process(format!("espeak-ng exited with {status}{detail}")));
        }
        self.wav.finish()?;
        let mut out = Vec::new();
        if let Some(r) = self.resampler.as_mut() {
            r.finish(&mut out);
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssml_switches_to_english_for_latin_words_only() {
        let doc = ssml(&to_pieces("请看API文档，好吗？"), "cmn-latn-pinyin+f3");
        assert_eq!(
            doc,
            "<speak><voice name=\"cmn-latn-pinyin+f3\">qing3 kan4</voice><voice name=\"en+f3\">API</voice>\
             <voice name=\"cmn-latn-pinyin+f3\">wen2 dang4, hao3 ma5?</voice></speak>"
        );
    }

    #[test]
    fn speed_and_volume_map_onto_espeak_ranges() {
        assert_eq!([0, 50, 100].map(words_per_minute), [100, 175, 300]);
        assert_eq!([0, 50, 100, 200].map(amplitude), [0, 100, 200, 200]);
    }

    #[test]
    fn voice_names_that_could_inject_are_refused() {
        let mut c = EspeakConfig::default();
        c.voices[0].espeak = "cmn\"><audio src=x".into();
        assert!(matches!(EspeakTts::new(c), Err(TtsError::NotConfigured(_))));
    }
}
