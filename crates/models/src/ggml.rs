//! Writer (and reader, for checks) of whisper.cpp's model file: the legacy
//! "ggml" format that `whisper_init_from_file` loads (not GGUF).
//!
//! All integers are little-endian `i32`.
//!
//! ```text
//! magic 0x67676d6c ("ggml")
//! hparams  n_vocab n_audio_ctx n_audio_state n_audio_head n_audio_layer
//!          n_text_ctx n_text_state n_text_head n_text_layer n_mels ftype
//! mel filterbank   n_mel, n_fft (201), then n_mel * n_fft f32
//! vocabulary       n_tokens, then per token: length, raw bytes
//! tensors, until the end of the file, each:
//!          n_dims, name length, type (0 f32, 1 f16),
//!          n_dims extents innermost first (numpy's shape reversed),
//!          name, data (row-major)
//! ```
//!
//! - `ftype` 1 means "mostly f16": matrices are f16, while vectors (biases,
//!   layer norms), the conv biases and the positional embeddings are f32,
//!   which is what whisper.cpp's loader expects of each tensor.
//! - The **mel filterbank** is the one Whisper was trained with:
//!   librosa's `filters.mel(sr=16000, n_fft=400, n_mels=80)`, Slaney mel
//!   scale and Slaney area normalisation, 201 FFT bins from 0 to 8 kHz
//!   ([`mel_filters`]). whisper.cpp computes its spectrogram with it.
//! - The **vocabulary** lists the byte-level BPE tokens by id, each as the
//!   raw bytes it stands for: the tokenizer's strings are GPT-2's printable
//!   stand-ins for bytes and are mapped back ([`token_bytes`]). whisper.cpp
//!   adds the special tokens past those listed itself (`<|endoftext|>`,
//!   languages, tasks, timestamps), so the list stops at the ordinary
//!   tokens plus `<|endoftext|>`.

use std::collections::HashMap;
use std::io::{self, Write};

use crate::error::FormatError;

/// The file's magic number, "ggml".
pub const MAGIC: u32 = 0x6767_6d6c;

/// FFT bins of Whisper's 400-point (25 ms at 16 kHz) STFT.
pub const N_FFT_BINS: usize = 201;

/// Whisper's hyper-parameters, in the file's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hparams {
    /// Tokens, specials included (51865 for multilingual models).
    pub n_vocab: i32,
    /// Encoder positions (1500 = 30 s).
    pub n_audio_ctx: i32,
    /// Encoder width.
    pub n_audio_state: i32,
    /// Encoder attention heads.
    pub n_audio_head: i32,
    /// Encoder layers.
    pub n_audio_layer: i32,
    /// Decoder positions (448).
    pub n_text_ctx: i32,
    /// Decoder width.
    pub n_text_state: i32,
    /// Decoder attention heads.
    pub n_text_head: i32,
    /// Decoder layers.
    pub n_text_layer: i32,
    /// Mel bands (80).
    pub n_mels: i32,
    /// 0: all f32; 1: matrices f16.
    pub ftype: i32,
}

impl Hparams {
    fn fields(&self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }
}

/// A tensor's element type in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorType {
    /// f32 (type 0).
    F32,
    /// f16 (type 1).
    F16,
}

/// Tensor data to write.
#[derive(Debug)]
pub enum TensorData<'a> {
    /// Single precision values.
    F32(&'a [f32]),
    /// Half precision values, as their little-endian bytes.
    F16Bytes(&'a [u8]),
}

/// Writes a whisper.cpp model file piece by piece, in the file's order.
#[derive(Debug)]
pub struct GgmlWriter<W: Write> {
    out: W,
}

fn dim(v: usize, what: &str) -> io::Result<i32> {
    i32::try_from(v).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("{what} too large: {v}")))
}

impl<W: Write> GgmlWriter<W> {
    /// Starts the file: magic and hyper-parameters.
    pub fn new(mut out: W, hparams: &Hparams) -> io::Result<Self> {
        out.write_all(&MAGIC.to_le_bytes())?;
        for v in hparams.fields() {
            out.write_all(&v.to_le_bytes())?;
        }
        Ok(GgmlWriter { out })
    }

    fn i32s(&mut self, v: &[i32]) -> io::Result<()> {
        for x in v {
            self.out.write_all(&x.to_le_bytes())?;
        }
        Ok(())
    }

    /// The mel filterbank, `n_mel` rows of `n_fft` values.
    pub fn mel_filters(&mut self, n_mel: usize, n_fft: usize, filters: &[f32]) -> io::Result<()> {
        assert_eq!(filters.len(), n_mel * n_fft, "filterbank size");
        self.i32s(&[dim(n_mel, "n_mel")?, dim(n_fft, "n_fft")?])?;
        for f in filters {
            self.out.write_all(&f.to_le_bytes())?;
        }
        Ok(())
    }

    /// The vocabulary, by token id.
    pub fn vocabulary(&mut self, tokens: &[Vec<u8>]) -> io::Result<()> {
        self.i32s(&[dim(tokens.len(), "vocabulary")?])?;
        for t in tokens {
            self.i32s(&[dim(t.len(), "token")?])?;
            self.out.write_all(t)?;
        }
        Ok(())
    }

    /// One tensor; `shape` is row-major, outermost first (as numpy's).
    pub fn tensor(&mut self, name: &str, shape: &[usize], data: TensorData<'_>) -> io::Result<()> {
        let n: usize = shape.iter().product();
        let (ty, len) = match data {
            TensorData::F32(v) => (0, v.len()),
            TensorData::F16Bytes(b) => (1, b.len() / 2),
        };
        if len != n {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{name}: {len} values for shape {shape:?}")));
        }
        self.i32s(&[dim(shape.len(), "rank")?, dim(name.len(), "name")?, ty])?;
        for d in shape.iter().rev() {
            self.i32s(&[dim(*d, "dimension")?])?;
        }
        self.out.write_all(name.as_bytes())?;
        match data {
            TensorData::F32(v) => {
                let mut buf = Vec::with_capacity(v.len() * 4);
                for x in v {
                    buf.extend_from_slice(&x.to_le_bytes());
                }
                self.out.write_all(&buf)
            }
            TensorData::F16Bytes(b) => self.out.write_all(b),
        }
    }

    /// Flushes and hands back the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One tensor of a parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Shape, outermost first.
    pub shape: Vec<usize>,
    /// Element type.
    pub ty: TensorType,
    /// Raw little-endian data.
    pub data: Vec<u8>,
}

/// A parsed whisper.cpp model file (for checks and tests; whisper.cpp
/// itself does the real loading).
#[derive(Debug, Clone, PartialEq)]
pub struct GgmlModel {
    /// Hyper-parameters.
    pub hparams: Hparams,
    /// Mel bands.
    pub n_mel: usize,
    /// FFT bins per band.
    pub n_fft: usize,
    /// The filterbank, band-major.
    pub filters: Vec<f32>,
    /// Tokens by id.
    pub vocabulary: Vec<Vec<u8>>,
    /// Tensors in file order.
    pub tensors: Vec<(String, Tensor)>,
}

impl GgmlModel {
    /// Parses a whole file.
    pub fn parse(b: &[u8]) -> Result<GgmlModel, FormatError> {
        let mut pos = 0usize;
        let mut take = |n: usize| -> Result<&[u8], FormatError> {
            let end = pos.checked_add(n).filter(|&e| e <= b.len()).ok_or_else(|| FormatError::new(format!("ggml file truncated at byte {pos}")))?;
            let s = &b[pos..end];
            pos = end;
            Ok(s)
        };
        fn i32_of(s: &[u8]) -> i32 {
            i32::from_le_bytes([s[0], s[1], s[2], s[3]])
        }
        fn count(v: i32, what: &str) -> Result<usize, FormatError> {
            usize::try_from(v).map_err(|_| FormatError::new(format!("negative {what}: {v}")))
        }
        if i32_of(take(4)?) as u32 != MAGIC {
            return Err(FormatError::new("not a ggml file (bad magic)"));
        }
        let mut h = [0i32; 11];
        for v in &mut h {
            *v = i32_of(take(4)?);
        }
        let hparams = Hparams {
            n_vocab: h[0],
            n_audio_ctx: h[1],
            n_audio_state: h[2],
            n_audio_head: h[3],
            n_audio_layer: h[4],
            n_text_ctx: h[5],
            n_text_state: h[6],
            n_text_head: h[7],
            n_text_layer: h[8],
            n_mels: h[9],
            ftype: h[10],
        };
        let n_mel = count(i32_of(take(4)?), "n_mel")?;
        let n_fft = count(i32_of(take(4)?), "n_fft")?;
        let filters = take(n_mel * n_fft * 4)?.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let n_tokens = count(i32_of(take(4)?), "vocabulary size")?;
        let mut vocabulary = Vec::with_capacity(n_tokens);
        for _ in 0..n_tokens {
            let len = count(i32_of(take(4)?), "token length")?;
            vocabulary.push(take(len)?.to_vec());
        }
        let mut tensors = Vec::new();
        // Tensors until fewer than a header's bytes are left.
        while let Ok(h) = take(12) {
            let head = [i32_of(&h[0..4]), i32_of(&h[4..8]), i32_of(&h[8..12])];
            let rank = count(head[0], "rank")?;
            let name_len = count(head[1], "name length")?;
            let ty = match head[2] {
                0 => TensorType::F32,
                1 => TensorType::F16,
                t => return Err(FormatError::new(format!("tensor type {t} not supported"))),
            };
            let mut shape = Vec::with_capacity(rank);
            for _ in 0..rank {
                shape.push(count(i32_of(take(4)?), "dimension")?);
            }
            shape.reverse();
            let name = String::from_utf8(take(name_len)?.to_vec()).map_err(|_| FormatError::new("tensor name is not UTF-8"))?;
            let size = shape.iter().product::<usize>() * if ty == TensorType::F32 { 4 } else { 2 };
            let data = take(size)?.to_vec();
            tensors.push((name, Tensor { shape, ty, data }));
        }
        if pos != b.len() {
            return Err(FormatError::new(format!("ggml file has {} stray bytes at the end", b.len() - pos)));
        }
        Ok(GgmlModel { hparams, n_mel, n_fft, filters, vocabulary, tensors })
    }

    /// A tensor by name.
    pub fn tensor(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}

fn hz_to_mel(f: f64) -> f64 {
    // Slaney: linear below 1 kHz (3 mels per 200 Hz), logarithmic above.
    if f >= 1000.0 {
        15.0 + (f.max(1e-10) / 1000.0).ln() / (6.4f64.ln() / 27.0)
    } else {
        f * 3.0 / 200.0
    }
}

fn mel_to_hz(m: f64) -> f64 {
    if m >= 15.0 {
        1000.0 * ((6.4f64.ln() / 27.0) * (m - 15.0)).exp()
    } else {
        m * 200.0 / 3.0
    }
}

/// numpy's `linspace(start, stop, n)`: `start + i * step`, last = `stop`.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    let step = (stop - start) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + start).collect();
    v[n - 1] = stop;
    v
}

/// Whisper's mel filterbank: `n_mels` triangular filters over the 201 bins
/// of a 400-point FFT at 16 kHz, on the Slaney mel scale, each scaled to
/// unit area (Slaney normalisation), band-major: the same values as
/// librosa's `filters.mel(sr=16000, n_fft=400, n_mels=n_mels)` and
/// OpenAI's `mel_filters.npz`.
pub fn mel_filters(n_mels: usize) -> Vec<f32> {
    let fft = linspace(0.0, 8000.0, N_FFT_BINS);
    let mel_points = linspace(hz_to_mel(0.0), hz_to_mel(8000.0), n_mels + 2);
    let hz: Vec<f64> = mel_points.iter().map(|&m| mel_to_hz(m)).collect();
    let mut out = Vec::with_capacity(n_mels * N_FFT_BINS);
    for i in 0..n_mels {
        let (lo, mid, hi) = (hz[i], hz[i + 1], hz[i + 2]);
        let enorm = 2.0 / (hi - lo);
        for &f in &fft {
            let rising = -(lo - f) / (mid - lo);
            let falling = (hi - f) / (hi - mid);
            // numpy's `maximum(0, x)`, spelled out so the bytes (and the
            // pinned hash) match the reference: it keeps a -0.0 (the very
            // first value), where `f64::max` is free to choose.
            let tri = rising.min(falling);
            let tri = if 0.0 > tri { 0.0 } else { tri };
            out.push((tri * enorm) as f32);
        }
    }
    out
}

/// GPT-2's byte-level BPE stand-ins, reversed: printable character -> byte.
/// Printable Latin-1 bytes stand for themselves; the other 68 bytes (control
/// characters, space, 0x7f-0xa0, 0xad) map in order to U+0100 onwards.
pub fn byte_decoder() -> HashMap<char, u8> {
    let printable = |b: u8| (33..=126).contains(&b) || (161..=172).contains(&b) || b >= 174;
    let mut map = HashMap::with_capacity(256);
    let mut next = 256u32;
    for b in 0..=255u8 {
        let c = if printable(b) {
            char::from(b)
        } else {
            let c = char::from_u32(next).expect("valid code point");
            next += 1;
            c
        };
        map.insert(c, b);
    }
    map
}

/// The bytes a tokenizer token stands for.
pub fn token_bytes(token: &str, decoder: &HashMap<char, u8>) -> Result<Vec<u8>, FormatError> {
    token
        .chars()
        .map(|c| decoder.get(&c).copied().ok_or_else(|| FormatError::new(format!("token {token:?} has a character outside GPT-2's byte map"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filterbank_matches_librosa() {
        let f = mel_filters(80);
        assert_eq!(f.len(), 80 * N_FFT_BINS);
        // Reference values from librosa.filters.mel(sr=16000, n_fft=400, n_mels=80).
        assert!((f[1] - 0.024_862_595).abs() < 1e-8, "{}", f[1]);
        assert_eq!(f[0].to_bits(), 0x8000_0000, "-0, as numpy makes it: the file's bytes are pinned");
        // Each filter is a triangle: non-negative, one run of non-zeros.
        for row in f.chunks(N_FFT_BINS) {
            assert!(row.iter().all(|&v| v >= 0.0));
            let nz: Vec<usize> = row.iter().enumerate().filter(|(_, &v)| v > 0.0).map(|(i, _)| i).collect();
            assert!(!nz.is_empty());
            assert_eq!(nz.len(), nz[nz.len() - 1] - nz[0] + 1);
        }
    }

    #[test]
    fn byte_decoder_is_gpt2s() {
        let d = byte_decoder();
        assert_eq!(d.len(), 256);
        assert_eq!(d[&'a'], b'a');
        assert_eq!(d[&'Ġ'], b' ', "Ġ is the space");
        assert_eq!(d[&'Ċ'], b'\n');
        assert_eq!(token_bytes("Ġhello", &d).unwrap(), b" hello");
        // "你" is e4 bd a0: e4 and bd are printable Latin-1, a0 is not.
        assert_eq!(token_bytes("ä½ł", &d).unwrap(), "你".as_bytes());
        assert!(token_bytes("你", &d).is_err());
    }

    #[test]
    fn writes_what_it_reads() {
        let h = Hparams { n_vocab: 5, n_audio_ctx: 4, n_audio_state: 2, n_audio_head: 1, n_audio_layer: 1, n_text_ctx: 3, n_text_state: 2, n_text_head: 1, n_text_layer: 1, n_mels: 2, ftype: 1 };
        let mut w = GgmlWriter::new(Vec::new(), &h).unwrap();
        w.mel_filters(2, 3, &[0.0, 0.5, 1.0, 1.5, 2.0, 2.5]).unwrap();
        w.vocabulary(&[b"a".to_vec(), b" b".to_vec(), vec![0xe4]]).unwrap();
        w.tensor("x.bias", &[2], TensorData::F32(&[1.0, 2.0])).unwrap();
        w.tensor("x.weight", &[2, 3], TensorData::F16Bytes(&[1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0])).unwrap();
        assert!(w.tensor("bad", &[2, 2], TensorData::F32(&[1.0])).is_err());
        let bytes = w.finish().unwrap();
        let m = GgmlModel::parse(&bytes).unwrap();
        assert_eq!(m.hparams, h);
        assert_eq!((m.n_mel, m.n_fft), (2, 3));
        assert_eq!(m.filters, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
        assert_eq!(m.vocabulary, [b"a".to_vec(), b" b".to_vec(), vec![0xe4]]);
        let t = m.tensor("x.weight").unwrap();
        assert_eq!((t.shape.as_slice(), t.ty), (&[2usize, 3][..], TensorType::F16));
        // Extents are stored innermost first: 3 then 2.
        let pos = bytes.windows(8).position(|w| w == b"x.weight").unwrap();
        assert_eq!(&bytes[pos - 8..pos], &[3, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(m.tensor("x.bias").unwrap().data, [1f32.to_le_bytes(), 2f32.to_le_bytes()].concat());
        assert!(GgmlModel::parse(&bytes[..bytes.len() - 1]).is_err());
    }
}
