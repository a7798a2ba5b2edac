//! Speech for a phone call: the provider seams and the engines that need no
//! model download.
//!
//! One trait per kind of provider, one module per vendor:
//!
//! | kind | trait | engines here |
//! |---|---|---|
//! | voice activity | [`Vad`] (sync, per stream) | [`vad::earshot`] |
//! | synthesis | [`Tts`] (async, shared) | [`tts::espeak`] (subprocess, through pinyin), [`tts::openai`], [`tts::dashscope`] (CosyVoice, WebSocket) |
//! | recognition, batch | [`Asr`] (async, shared) | `asr::whisper` (offline, feature `whisper`), [`asr::openai`] |
//! | recognition, streaming | [`StreamingAsr`] (async, shared) | [`asr::dashscope`] (Paraformer realtime, WebSocket), any [`Asr`] through [`asr::Buffered`] |
//!
//! # Audio at the seams
//!
//! Everything crossing a trait is telephone audio: mono signed 16-bit PCM at
//! 8 kHz ([`pcm::SAMPLE_RATE`]), whose 20 ms media frame is 160 samples
//! ([`pcm::FRAME_SAMPLES`]). Engines convert at their own edge: earshot
//! listens at 16 kHz (`waihu_media`'s upsampler), espeak-ng speaks at
//! 22.05 kHz and OpenAI at 24 kHz ([`resample::Resampler`]); DashScope's
//! Paraformer and CosyVoice take and give 8 kHz themselves.
//!
//! # What the pipeline must know
//!
//! - **VAD**: push each 20 ms frame as it arrives; each [`VadFrame`]
//!   returned covers [`Vad::frame_duration`] (16 ms for earshot), and that
//!   is the `duration` to give the turn-taker. The frames' `start` times
//!   locate the speech in the pushed audio, for cutting the utterance (keep
//!   a pre-roll of about 200 ms before the first voiced frame). Earshot
//!   latches on loud steady noise after speech; a guard releases it after
//!   one second of steady level (see [`vad::earshot`]).
//! - **TTS**: chunks come as soon as the engine has audio and are of any
//!   length: reframe them to 160 samples ([`pcm::Reframer`]) for the media
//!   clock. Dropping the stream cancels the synthesis (barge-in).
//! - **ASR**: a batch engine takes one VAD-cut utterance; a streaming
//!   session's [`asr::AsrInput::push_pcm`] never waits (it drops and counts
//!   when the engine is behind), and each `finalise` is answered by a
//!   `Final`, empty when no words were heard.
//! - Keys are only ever put in the `Authorization` header; `Debug` shows
//!   whether one is set, and errors are scrubbed of it.
#![warn(missing_docs)]

pub mod asr;
pub mod dashscope;
pub mod offline;
pub mod pcm;
pub mod resample;
pub mod tts;
pub mod vad;
pub mod wav;

pub use asr::{Asr, AsrError, AsrEvent, AsrSession, StreamingAsr, Transcript};
pub use dashscope::DashScopeEndpoint;
pub use waihu_vendor_http::Endpoint;
pub use tts::{synthesize_all, Tts, TtsError, TtsRequest, TtsStream, VoiceInfo};
pub use vad::{Vad, VadFrame};
