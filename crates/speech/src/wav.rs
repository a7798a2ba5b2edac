//! RIFF/WAVE, both ways: a header for the audio we upload, and a streaming
//! reader for the audio synthesisers send back.
//!
//! Streamed WAV has no length up front: espeak-ng writes `0x7ffff000` as the
//! data size, OpenAI `0xffffffff`. The reader therefore takes everything
//! after the `data` chunk header as samples until the stream ends, and never
//! trusts the sizes in the header.

use thiserror::Error;

/// Size of the canonical header [`header`] writes.
pub const HEADER_LEN: usize = 44;

/// A canonical 44-byte header for `samples` mono signed 16-bit samples.
pub fn header(sample_rate: u32, samples: usize) -> [u8; HEADER_LEN] {
    let data_len = (samples * 2) as u32;
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36 + data_len).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&1u16.to_le_bytes()); // mono
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&(sample_rate * 2).to_le_bytes()); // bytes per second
    h[32..34].copy_from_slice(&2u16.to_le_bytes()); // bytes per frame
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// A whole mono 16-bit WAV file.
pub fn encode(sample_rate: u32, pcm: &[i16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + pcm.len() * 2);
    out.extend_from_slice(&header(sample_rate, pcm.len()));
    for s in pcm {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Why a WAV stream cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WavError {
    /// It does not start with `RIFF....WAVE`.
    #[error("not a WAV stream (no RIFF/WAVE header)")]
    NotWav,
    /// A format other than 16-bit integer PCM.
    #[error("unsupported WAV format: {0}")]
    Unsupported(String),
    /// The stream ended inside the header.
    #[error("the WAV stream ended inside its header")]
    Truncated,
    /// The header grew past any sensible size without a `data` chunk.
    #[error("no data chunk in the first {0} bytes of the WAV stream")]
    NoData(usize),
}

/// The format read from a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavFormat {
    /// Samples per second.
    pub sample_rate: u32,
    /// Interleaved channels (mixed down to mono on reading).
    pub channels: u16,
}

/// Most header bytes read before giving up on finding `data`.
const MAX_HEADER: usize = 64 * 1024;

/// Reads a WAV byte stream piece by piece into mono samples.
#[derive(Debug, Default)]
pub struct WavReader {
    /// Bytes not yet used: header bytes before `data`, then at most one
    /// partial sample frame.
    pending: Vec<u8>,
    format: Option<WavFormat>,
    in_data: bool,
}

impl WavReader {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// The format, once the header has been read.
    pub fn format(&self) -> Option<WavFormat> {
        self.format.filter(|_| self.in_data)
    }

    /// Takes the next bytes of the stream; appends the mono samples they
    /// complete to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<i16>) -> Result<(), WavError> {
        self.pending.extend_from_slice(bytes);
        if !self.in_data {
            self.parse_header()?;
            if !self.in_data {
                return Ok(());
            }
        }
        let channels = usize::from(self.format.map_or(1, |f| f.channels));
        let frame = 2 * channels;
        let whole = self.pending.len() / frame * frame;
        for f in self.pending[..whole].chunks_exact(frame) {
            let sum: i32 = f.chunks_exact(2).map(|b| i32::from(i16::from_le_bytes([b[0], b[1]]))).sum();
            out.push((sum / channels as i32) as i16);
        }
        self.pending.drain(..whole);
        Ok(())
    }

    /// The stream ended: fails if it ended before any audio could start.
    pub fn finish(&self) -> Result<(), WavError> {
        // Bytes that are not WAV at all were refused by `push` already.
        if self.in_data {
            Ok(())
        } else {
            Err(WavError::Truncated)
        }
    }

    fn parse_header(&mut self) -> Result<(), WavError> {
        let b = &self.pending;
        if b.len() < 12 {
            if !b"RIFF".starts_with(&b[..b.len().min(4)]) {
                return Err(WavError::NotWav);
            }
            return Ok(());
        }
        if &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
            return Err(WavError::NotWav);
        }
        // Walk the chunks after "WAVE" until "data".
        let mut at = 12;
        while at + 8 <= b.len() {
            let id = &b[at..at + 4];
            let size = u32::from_le_bytes([b[at + 4], b[at + 5], b[at + 6], b[at + 7]]) as usize;
            if id == b"data" {
                if self.format.is_none() {
                    return Err(WavError::Unsupported("data before fmt".into()));
                }
                self.pending.drain(..at + 8);
                self.in_data = true;
                return Ok(());
            }
            // Chunks are padded to an even size.
            let body_end = at + 8 + size + (size & 1);
            if body_end > MAX_HEADER {
                return Err(WavError::NoData(MAX_HEADER));
            }
            if body_end > b.len() {
                return Ok(()); // wait for the rest of this chunk
            }
            if id == b"fmt " {
                self.format = Some(parse_fmt(&b[at + 8..at + 8 + size])?);
            }
            at = body_end;
        }
        Ok(())
    }
}

fn parse_fmt(fmt: &[u8]) -> Result<WavFormat, WavError> {
    if fmt.len() < 16 {
        return Err(WavError::Unsupported("fmt chunk shorter than 16 bytes".into()));
    }
    let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
    let mut tag = u16_at(0);
    let channels = u16_at(2);
    let sample_rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
    let bits = u16_at(14);
    // WAVE_FORMAT_EXTENSIBLE carries the real format in its sub-format GUID.
    if tag == 0xfffe && fmt.len() >= 26 {
        tag = u16_at(24);
    }
    if tag != 1 || bits != 16 {
        return Err(WavError::Unsupported(format!("format tag {tag}, {bits} bits per sample (16-bit PCM is needed)")));
    }
    if channels == 0 || sample_rate == 0 {
        return Err(WavError::Unsupported(format!("{channels} channels at {sample_rate} Hz")));
    }
    Ok(WavFormat { sample_rate, channels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_audio_reads_back_byte_by_byte() {
        let pcm: Vec<i16> = (-500..500).map(|s| s * 30).collect();
        let file = encode(8_000, &pcm);
        assert_eq!(file.len(), HEADER_LEN + 2_000);
        let mut r = WavReader::new();
        let mut out = Vec::new();
        for b in &file {
            r.push(std::slice::from_ref(b), &mut out).unwrap();
        }
        r.finish().unwrap();
        assert_eq!(r.format(), Some(WavFormat { sample_rate: 8_000, channels: 1 }));
        assert_eq!(out, pcm);
    }

    #[test]
    fn streaming_sizes_extra_chunks_and_stereo() {
        // As espeak-ng streams it: a bogus data size, then a LIST chunk
        // before data in some writers, stereo from others.
        let mut file = Vec::new();
        file.extend_from_slice(b"RIFF\x24\xf0\xff\x7fWAVEfmt ");
        file.extend_from_slice(&16u32.to_le_bytes());
        file.extend_from_slice(&[1, 0, 2, 0]);
        file.extend_from_slice(&22_050u32.to_le_bytes());
        file.extend_from_slice(&(22_050u32 * 4).to_le_bytes());
        file.extend_from_slice(&[4, 0, 16, 0]);
        file.extend_from_slice(b"LIST\x03\x00\x00\x00abc\x00");
        file.extend_from_slice(b"data\x00\xf0\xff\x7f");
        for (l, r) in [(100i16, 300i16), (-100, -300)] {
            file.extend_from_slice(&l.to_le_bytes());
            file.extend_from_slice(&r.to_le_bytes());
        }
        let mut out = Vec::new();
        let mut r = WavReader::new();
        for piece in file.chunks(5) {
            r.push(piece, &mut out).unwrap();
        }
        assert_eq!(r.format(), Some(WavFormat { sample_rate: 22_050, channels: 2 }));
        assert_eq!(out, [200, -200]);
    }

    #[test]
    fn bad_streams_are_named() {
        let mut out = Vec::new();
        assert_eq!(WavReader::new().push(b"ID3\x03 an mp3", &mut out), Err(WavError::NotWav));
        assert_eq!(WavReader::new().push(b"{\"error\"", &mut out), Err(WavError::NotWav));
        let mut float = header(8_000, 0);
        float[20] = 3; // IEEE float
        float[34] = 32;
        assert!(matches!(WavReader::new().push(&float, &mut out), Err(WavError::Unsupported(_))));
        let mut r = WavReader::new();
        r.push(b"RIFF", &mut out).unwrap();
        assert_eq!(r.finish(), Err(WavError::Truncated));
    }
}
