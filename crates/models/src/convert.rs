//! CTranslate2 Whisper (`WhisperSpec`, faster-whisper's conversion) to
//! whisper.cpp's model file.
//!
//! The weights are the same numbers under other names and, in places,
//! another layout:
//!
//! | CTranslate2 | whisper.cpp |
//! |---|---|
//! | `encoder/conv{1,2}/{weight,bias}` | `encoder.conv{1,2}.{weight,bias}` (bias as `[n, 1]`, f32) |
//! | `encoder/position_encodings/encodings` | `encoder.positional_embedding` (f32) |
//! | `encoder/layer_norm/{gamma,beta}` | `encoder.ln_post.{weight,bias}` |
//! | `{enc,dec}oder/layer_i/self_attention/linear_0` (q, k, v fused along rows) | `….blocks.i.attn.{query,key,value}` (key has no bias: CTranslate2 stores zeros, dropped) |
//! | `…/self_attention/linear_1` | `….attn.out` |
//! | `decoder/layer_i/attention/linear_0` / `linear_1` (k, v fused) / `linear_2` | `decoder.blocks.i.cross_attn.query` / `.key`, `.value` / `.out` |
//! | `…/{self_attention,attention,ffn}/layer_norm` | `….{attn_ln,cross_attn_ln,mlp_ln}` |
//! | `…/ffn/linear_{0,1}` | `….mlp.{0,2}` |
//! | `decoder/embeddings/weight` | `decoder.token_embedding.weight` |
//! | `decoder/position_encodings/encodings` | `decoder.positional_embedding` (f32) |
//! | `decoder/layer_norm` | `decoder.ln` |
//!
//! Matrices stay f16 (copied bit for bit when the source is f16); vectors
//! become f32. The filterbank and vocabulary are described in [`crate::ggml`].

use std::io::Write;

use crate::ct2::{f32_to_f16, Ct2Model, DType};
use crate::ggml::{byte_decoder, mel_filters, token_bytes, GgmlWriter, Hparams, TensorData, N_FFT_BINS};
use crate::error::FormatError;

/// What a conversion produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// The model's hyper-parameters.
    pub hparams: Hparams,
    /// Tokens written to the vocabulary.
    pub tokens: usize,
    /// Tensors written.
    pub tensors: usize,
}

/// The tokenizer's ordinary vocabulary (`model.vocab` of a Hugging Face
/// `tokenizer.json`), as bytes, by id. Ids must run 0..n without gaps.
pub fn vocabulary_from_tokenizer_json(json: &[u8]) -> Result<Vec<Vec<u8>>, FormatError> {
    let v: serde_json::Value = serde_json::from_slice(json).map_err(|e| FormatError::new(format!("tokenizer.json: {e}")))?;
    let vocab = v
        .get("model")
        .and_then(|m| m.get("vocab"))
        .and_then(|m| m.as_object())
        .ok_or_else(|| FormatError::new("tokenizer.json has no model.vocab"))?;
    let mut by_id: Vec<Option<&str>> = vec![None; vocab.len()];
    for (token, id) in vocab {
        let id = id.as_u64().and_then(|i| usize::try_from(i).ok()).filter(|&i| i < by_id.len());
        let id = id.ok_or_else(|| FormatError::new(format!("tokenizer.json: token {token:?} has a bad id")))?;
        by_id[id] = Some(token);
    }
    let decoder = byte_decoder();
    by_id
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let t = t.ok_or_else(|| FormatError::new(format!("tokenizer.json: no token with id {i}")))?;
            token_bytes(t, &decoder)
        })
        .collect()
}

struct Conv<'a, W: Write> {
    m: &'a Ct2Model,
    w: GgmlWriter<W>,
    count: usize,
}

fn io(e: std::io::Error) -> FormatError {
    FormatError::new(format!("writing the ggml file: {e}"))
}

impl<W: Write> Conv<'_, W> {
    /// A whole variable, or rows `part` of `parts` along the first axis.
    fn write(&mut self, name: &str, src: &str, part: Option<(usize, usize)>, force_f32: bool, shape_override: Option<&[usize]>) -> Result<(), FormatError> {
        let (var, raw) = self.m.raw(src)?;
        let mut shape = var.shape.clone();
        let (lo, hi) = match part {
            None => (0, raw.len()),
            Some((i, n)) => {
                if shape.is_empty() || shape[0] % n != 0 {
                    return Err(FormatError::new(format!("{src}: shape {shape:?} does not split in {n}")));
                }
                shape[0] /= n;
                let chunk = raw.len() / n;
                (i * chunk, (i + 1) * chunk)
            }
        };
        let bytes = &raw[lo..hi];
        if let Some(s) = shape_override {
            shape = s.to_vec();
        }
        let f32_out = force_f32 || shape.len() < 2;
        let values = |dtype: DType| -> Result<Vec<f32>, FormatError> {
            Ok(match dtype {
                DType::F32 => bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
                DType::F16 => bytes.chunks_exact(2).map(|c| crate::ct2::f16_to_f32(u16::from_le_bytes([c[0], c[1]]))).collect(),
                DType::BF16 => bytes.chunks_exact(2).map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16)).collect(),
                other => return Err(FormatError::new(format!("{src} is {other:?}: only float models can be converted"))),
            })
        };
        let r = if f32_out {
            let v = values(var.dtype)?;
            self.w.tensor(name, &shape, TensorData::F32(&v))
        } else if var.dtype == DType::F16 {
            self.w.tensor(name, &shape, TensorData::F16Bytes(bytes))
        } else {
            let h: Vec<u8> = values(var.dtype)?.into_iter().flat_map(|x| f32_to_f16(x).to_le_bytes()).collect();
            self.w.tensor(name, &shape, TensorData::F16Bytes(&h))
        };
        r.map_err(io)?;
        self.count += 1;
        Ok(())
    }

    fn plain(&mut self, name: &str, src: &str) -> Result<(), FormatError> {
        self.write(name, src, None, false, None)
    }

    fn layer_norm(&mut self, name: &str, src: &str) -> Result<(), FormatError> {
        self.plain(&format!("{name}.weight"), &format!("{src}/gamma"))?;
        self.plain(&format!("{name}.bias"), &format!("{src}/beta"))
    }

    fn attention(&mut self, name: &str, src: &str, fused_qkv: bool) -> Result<(), FormatError> {
        let out = if fused_qkv {
            let (w, b) = (format!("{src}/linear_0/weight"), format!("{src}/linear_0/bias"));
            self.write(&format!("{name}.query.weight"), &w, Some((0, 3)), false, None)?;
            self.write(&format!("{name}.query.bias"), &b, Some((0, 3)), false, None)?;
            self.write(&format!("{name}.key.weight"), &w, Some((1, 3)), false, None)?;
            self.write(&format!("{name}.value.weight"), &w, Some((2, 3)), false, None)?;
            self.write(&format!("{name}.value.bias"), &b, Some((2, 3)), false, None)?;
            "linear_1"
        } else {
            let (w, b) = (format!("{src}/linear_1/weight"), format!("{src}/linear_1/bias"));
            self.plain(&format!("{name}.query.weight"), &format!("{src}/linear_0/weight"))?;
            self.plain(&format!("{name}.query.bias"), &format!("{src}/linear_0/bias"))?;
            self.write(&format!("{name}.key.weight"), &w, Some((0, 2)), false, None)?;
            self.write(&format!("{name}.value.weight"), &w, Some((1, 2)), false, None)?;
            self.write(&format!("{name}.value.bias"), &b, Some((1, 2)), false, None)?;
            "linear_2"
        };
        self.plain(&format!("{name}.out.weight"), &format!("{src}/{out}/weight"))?;
        self.plain(&format!("{name}.out.bias"), &format!("{src}/{out}/bias"))
    }

    fn block(&mut self, name: &str, src: &str, cross: bool) -> Result<(), FormatError> {
        self.layer_norm(&format!("{name}.attn_ln"), &format!("{src}/self_attention/layer_norm"))?;
        self.attention(&format!("{name}.attn"), &format!("{src}/self_attention"), true)?;
        if cross {
            self.layer_norm(&format!("{name}.cross_attn_ln"), &format!("{src}/attention/layer_norm"))?;
            self.attention(&format!("{name}.cross_attn"), &format!("{src}/attention"), false)?;
        }
        self.layer_norm(&format!("{name}.mlp_ln"), &format!("{src}/ffn/layer_norm"))?;
        for (to, from) in [("0", "0"), ("2", "1")] {
            self.plain(&format!("{name}.mlp.{to}.weight"), &format!("{src}/ffn/linear_{from}/weight"))?;
            self.plain(&format!("{name}.mlp.{to}.bias"), &format!("{src}/ffn/linear_{from}/bias"))?;
        }
        Ok(())
    }
}

fn layers(m: &Ct2Model, stack: &str) -> usize {
    let prefix = format!("{stack}/layer_");
    let mut n = 0;
    while m.get(&format!("{prefix}{n}/ffn/linear_0/weight")).is_some() {
        n += 1;
    }
    n
}

fn as_i32(v: usize, what: &str) -> Result<i32, FormatError> {
    i32::try_from(v).map_err(|_| FormatError::new(format!("{what} too large")))
}

/// Converts a CTranslate2 Whisper model to whisper.cpp's format.
/// `vocabulary` is the tokenizer's, by id ([`vocabulary_from_tokenizer_json`]).
pub fn convert_whisper<W: Write>(m: &Ct2Model, vocabulary: &[Vec<u8>], out: W) -> Result<(Converted, W), FormatError> {
    if m.spec != "WhisperSpec" {
        return Err(FormatError::new(format!("model.bin is a {}, not a Whisper model", m.spec)));
    }
    let emb = m.shape("decoder/embeddings/weight")?;
    let (n_vocab, n_state) = match emb {
        [v, s] => (*v, *s),
        s => return Err(FormatError::new(format!("decoder/embeddings/weight has shape {s:?}"))),
    };
    let n_audio_ctx = m.shape("encoder/position_encodings/encodings")?[0];
    let n_text_ctx = m.shape("decoder/position_encodings/encodings")?[0];
    let n_mels = *m.shape("encoder/conv1/weight")?.get(1).ok_or_else(|| FormatError::new("encoder/conv1/weight is not 3-D"))?;
    let heads = |stack: &str| m.scalar_int(&format!("{stack}/num_heads")).and_then(|h| usize::try_from(h).ok()).unwrap_or(n_state / 64);
    let (n_enc, n_dec) = (layers(m, "encoder"), layers(m, "decoder"));
    if n_enc == 0 || n_dec == 0 {
        return Err(FormatError::new("model.bin has no encoder or decoder layers"));
    }
    if vocabulary.is_empty() || vocabulary.len() > n_vocab {
        return Err(FormatError::new(format!("{} tokens for a model of {n_vocab}", vocabulary.len())));
    }
    let hparams = Hparams {
        n_vocab: as_i32(n_vocab, "n_vocab")?,
        n_audio_ctx: as_i32(n_audio_ctx, "n_audio_ctx")?,
        n_audio_state: as_i32(n_state, "n_state")?,
        n_audio_head: as_i32(heads("encoder"), "heads")?,
        n_audio_layer: as_i32(n_enc, "layers")?,
        n_text_ctx: as_i32(n_text_ctx, "n_text_ctx")?,
        n_text_state: as_i32(n_state, "n_state")?,
        n_text_head: as_i32(heads("decoder"), "heads")?,
        n_text_layer: as_i32(n_dec, "layers")?,
        n_mels: as_i32(n_mels, "n_mels")?,
        ftype: 1,
    };
    let mut w = GgmlWriter::new(out, &hparams).map_err(io)?;
    w.mel_filters(n_mels, N_FFT_BINS, &mel_filters(n_mels)).map_err(io)?;
    w.vocabulary(vocabulary).map_err(io)?;
    let mut c = Conv { m, w, count: 0 };
    c.write("encoder.positional_embedding", "encoder/position_encodings/encodings", None, true, None)?;
    for conv in ["conv1", "conv2"] {
        c.plain(&format!("encoder.{conv}.weight"), &format!("encoder/{conv}/weight"))?;
        c.write(&format!("encoder.{conv}.bias"), &format!("encoder/{conv}/bias"), None, true, Some(&[n_state, 1]))?;
    }
    c.layer_norm("encoder.ln_post", "encoder/layer_norm")?;
    for i in 0..n_enc {
        c.block(&format!("encoder.blocks.{i}"), &format!("encoder/layer_{i}"), false)?;
    }
    c.write("decoder.positional_embedding", "decoder/position_encodings/encodings", None, true, None)?;
    c.plain("decoder.token_embedding.weight", "decoder/embeddings/weight")?;
    c.layer_norm("decoder.ln", "decoder/layer_norm")?;
    for i in 0..n_dec {
        c.block(&format!("decoder.blocks.{i}"), &format!("decoder/layer_{i}"), true)?;
    }
    let tensors = c.count;
    let out = c.w.finish().map_err(io)?;
    Ok((Converted { hparams, tokens: vocabulary.len(), tensors }, out))
}

#[cfg(test)]
mod tests {
    use crate::ct2::write_model;
    use crate::ggml::{GgmlModel, TensorType};
    use super::*;

    /// A Whisper-shaped model with n_state 4, 2 mels, 1 layer each, 3
    /// tokens; every value distinct so misplaced rows show.
    fn tiny_model() -> Vec<u8> {
        let s = 4usize;
        let mut vars: Vec<(String, Vec<usize>, DType, Vec<u8>)> = Vec::new();
        let mut next = 0f32;
        let mut f16 = |shape: &[usize]| -> Vec<u8> {
            let n: usize = shape.iter().product();
            (0..n)
                .flat_map(|_| {
                    next += 0.25;
                    f32_to_f16(next).to_le_bytes()
                })
                .collect()
        };
        let mut add = |name: &str, shape: &[usize]| {
            let d = f16(shape);
            vars.push((name.to_string(), shape.to_vec(), DType::F16, d));
        };
        add("encoder/conv1/weight", &[s, 2, 3]);
        add("encoder/conv1/bias", &[s]);
        add("encoder/conv2/weight", &[s, s, 3]);
        add("encoder/conv2/bias", &[s]);
        add("encoder/position_encodings/encodings", &[6, s]);
        add("encoder/layer_norm/gamma", &[s]);
        add("encoder/layer_norm/beta", &[s]);
        add("decoder/embeddings/weight", &[5, s]);
        add("decoder/position_encodings/encodings", &[3, s]);
        add("decoder/layer_norm/gamma", &[s]);
        add("decoder/layer_norm/beta", &[s]);
        for stack in ["encoder", "decoder"] {
            let l = format!("{stack}/layer_0");
            for ln in ["self_attention", "ffn"] {
                add(&format!("{l}/{ln}/layer_norm/gamma"), &[s]);
                add(&format!("{l}/{ln}/layer_norm/beta"), &[s]);
            }
            add(&format!("{l}/self_attention/linear_0/weight"), &[3 * s, s]);
            add(&format!("{l}/self_attention/linear_0/bias"), &[3 * s]);
            add(&format!("{l}/self_attention/linear_1/weight"), &[s, s]);
            add(&format!("{l}/self_attention/linear_1/bias"), &[s]);
            add(&format!("{l}/ffn/linear_0/weight"), &[2 * s, s]);
            add(&format!("{l}/ffn/linear_0/bias"), &[2 * s]);
            add(&format!("{l}/ffn/linear_1/weight"), &[s, 2 * s]);
            add(&format!("{l}/ffn/linear_1/bias"), &[s]);
        }
        let l = "decoder/layer_0/attention";
        add(&format!("{l}/layer_norm/gamma"), &[s]);
        add(&format!("{l}/layer_norm/beta"), &[s]);
        add(&format!("{l}/linear_0/weight"), &[s, s]);
        add(&format!("{l}/linear_0/bias"), &[s]);
        add(&format!("{l}/linear_1/weight"), &[2 * s, s]);
        add(&format!("{l}/linear_1/bias"), &[2 * s]);
        add(&format!("{l}/linear_2/weight"), &[s, s]);
        add(&format!("{l}/linear_2/bias"), &[s]);
        let heads = 2i16.to_le_bytes();
        let mut list: Vec<(&str, &[usize], DType, &[u8])> = vars.iter().map(|(n, s, d, b)| (n.as_str(), s.as_slice(), *d, b.as_slice())).collect();
        list.push(("decoder/num_heads", &[], DType::I16, &heads));
        list.push(("encoder/num_heads", &[], DType::I16, &heads));
        write_model("WhisperSpec", 3, &list, &[("decoder/projection/weight", "decoder/embeddings/weight")])
    }

    fn halves(b: &[u8]) -> Vec<f32> {
        b.chunks_exact(2).map(|c| crate::ct2::f16_to_f32(u16::from_le_bytes([c[0], c[1]]))).collect()
    }
    fn floats(b: &[u8]) -> Vec<f32> {
        b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    }

    #[test]
    fn converts_a_tiny_whisper() {
        let ct2 = Ct2Model::parse(tiny_model()).unwrap();
        let tokenizer = r#"{"model":{"vocab":{"!":0,"Ġhi":1,"<|endoftext|>":2}}}"#;
        let vocab = vocabulary_from_tokenizer_json(tokenizer.as_bytes()).unwrap();
        assert_eq!(vocab, [b"!".to_vec(), b" hi".to_vec(), b"<|endoftext|>".to_vec()]);
        let (info, bytes) = convert_whisper(&ct2, &vocab, Vec::new()).unwrap();
        let g = GgmlModel::parse(&bytes).unwrap();
        let h = g.hparams;
        assert_eq!(
            [h.n_vocab, h.n_audio_ctx, h.n_audio_state, h.n_audio_head, h.n_audio_layer, h.n_text_ctx, h.n_text_head, h.n_text_layer, h.n_mels, h.ftype],
            [5, 6, 4, 2, 1, 3, 2, 1, 2, 1]
        );
        assert_eq!(info.tensors, g.tensors.len());
        // 1 pos + 4 conv + 2 ln_post + encoder block (2+5+2+2+4 = 15) + 2 pos/emb + 2 ln + decoder block (15 + 2 + 7) = 50.
        assert_eq!(g.tensors.len(), 50);
        assert_eq!((g.n_mel, g.n_fft), (2, 201));
        assert_eq!(g.vocabulary, vocab);

        // Fused q/k/v split by rows; key has no bias.
        let qkv = ct2.f32s("encoder/layer_0/self_attention/linear_0/weight").unwrap();
        let k = g.tensor("encoder.blocks.0.attn.key.weight").unwrap();
        assert_eq!((k.shape.as_slice(), k.ty), (&[4usize, 4][..], TensorType::F16));
        assert_eq!(halves(&k.data), qkv[16..32]);
        assert!(g.tensor("encoder.blocks.0.attn.key.bias").is_none());
        let vb = g.tensor("encoder.blocks.0.attn.value.bias").unwrap();
        assert_eq!(vb.ty, TensorType::F32, "vectors are f32");
        assert_eq!(floats(&vb.data), ct2.f32s("encoder/layer_0/self_attention/linear_0/bias").unwrap()[8..12]);
        // Cross attention: k and v fused in linear_1, out in linear_2.
        let kv = ct2.f32s("decoder/layer_0/attention/linear_1/weight").unwrap();
        assert_eq!(halves(&g.tensor("decoder.blocks.0.cross_attn.value.weight").unwrap().data), kv[16..32]);
        assert_eq!(
            halves(&g.tensor("decoder.blocks.0.cross_attn.out.weight").unwrap().data),
            ct2.f32s("decoder/layer_0/attention/linear_2/weight").unwrap()
        );
        // mlp.2 is ffn/linear_1; conv bias is [n, 1] f32; positional embeddings f32.
        assert_eq!(g.tensor("decoder.blocks.0.mlp.2.weight").unwrap().shape, [4, 8]);
        let cb = g.tensor("encoder.conv1.bias").unwrap();
        assert_eq!((cb.shape.as_slice(), cb.ty), (&[4usize, 1][..], TensorType::F32));
        assert_eq!(g.tensor("encoder.positional_embedding").unwrap().ty, TensorType::F32);
        assert_eq!(g.tensor("decoder.token_embedding.weight").unwrap().ty, TensorType::F16);
        assert_eq!(g.tensor("encoder.conv2.weight").unwrap().shape, [4, 4, 3]);
    }

    #[test]
    fn refuses_what_it_cannot_convert() {
        let other = write_model("TransformerSpec", 1, &[], &[]);
        let m = Ct2Model::parse(other).unwrap();
        assert!(convert_whisper(&m, &[b"a".to_vec()], Vec::new()).unwrap_err().to_string().contains("not a Whisper"));
        assert!(vocabulary_from_tokenizer_json(br#"{"model":{"vocab":{"a":0,"b":2}}}"#).is_err());
        assert!(vocabulary_from_tokenizer_json(b"[]").is_err());
    }
}
