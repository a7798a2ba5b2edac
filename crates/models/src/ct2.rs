//! Reader for CTranslate2's `model.bin` (binary format version 6), the
//! format the Whisper weights come in (faster-whisper's conversion).
//!
//! All integers are little-endian. A string is a `u16` byte length followed
//! by that many bytes, the last of which is a NUL.
//!
//! ```text
//! u32     format version (6)
//! string  spec name ("WhisperSpec")
//! u32     spec revision
//! u32     number of variables, then for each:
//!           string  name ("encoder/layer_0/self_attention/linear_0/weight")
//!           u8      rank
//!           u32     dimension, `rank` times (row-major, outermost first)
//!           u8      data type (0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16)
//!           u32     data size in bytes
//!           bytes   data
//! u32     number of aliases, then for each:
//!           string  alias, string  the variable it names
//! ```
//!
//! Scalars (rank 0) carry settings such as `decoder/num_heads`. The whole
//! file is read into memory: the data is borrowed from that buffer.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::error::FormatError;

/// The `model.bin` format version this reader understands.
pub const FORMAT_VERSION: u32 = 6;

/// A variable's element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// IEEE 754 single precision.
    F32,
    /// Signed 8-bit integer (quantised weights).
    I8,
    /// Signed 16-bit integer.
    I16,
    /// Signed 32-bit integer.
    I32,
    /// IEEE 754 half precision.
    F16,
    /// bfloat16.
    BF16,
}

impl DType {
    /// The type's code in the file.
    pub fn code(self) -> u8 {
        match self {
            DType::F32 => 0,
            DType::I8 => 1,
            DType::I16 => 2,
            DType::I32 => 3,
            DType::F16 => 4,
            DType::BF16 => 5,
        }
    }

    /// The type with this code.
    pub fn from_code(code: u8) -> Option<DType> {
        Some(match code {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            5 => DType::BF16,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::I32 => 4,
        }
    }
}

/// One variable: where its data is in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// Dimensions, outermost first; empty for a scalar.
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: DType,
    range: Range<usize>,
}

impl Variable {
    /// Number of elements (1 for a scalar).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the variable has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A parsed `model.bin`.
#[derive(Debug)]
pub struct Ct2Model {
    data: Vec<u8>,
    /// The spec's name, e.g. `WhisperSpec`.
    pub spec: String,
    /// The spec's revision.
    pub revision: u32,
    variables: BTreeMap<String, Variable>,
    aliases: BTreeMap<String, String>,
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], FormatError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| {
            FormatError::new(format!("model.bin is truncated: {what} at byte {} needs {n} bytes", self.pos))
        })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8, FormatError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16, FormatError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32, FormatError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self, what: &str) -> Result<String, FormatError> {
        let n = self.u16(what)? as usize;
        let b = self.take(n, what)?;
        let b = b.strip_suffix(&[0]).unwrap_or(b);
        String::from_utf8(b.to_vec()).map_err(|_| FormatError::new(format!("model.bin: {what} is not UTF-8")))
    }
}

impl Ct2Model {
    /// Parses a whole `model.bin`.
    pub fn parse(data: Vec<u8>) -> Result<Ct2Model, FormatError> {
        let mut c = Cursor { data: &data, pos: 0 };
        let version = c.u32("format version")?;
        if version != FORMAT_VERSION {
            return Err(FormatError::new(format!(
                "unsupported CTranslate2 model.bin format version {version} (this reader knows {FORMAT_VERSION})"
            )));
        }
        let spec = c.string("spec name")?;
        let revision = c.u32("spec revision")?;
        let count = c.u32("variable count")?;
        let mut variables = BTreeMap::new();
        for _ in 0..count {
            let name = c.string("variable name")?;
            let rank = c.u8("rank")?;
            let mut shape = Vec::with_capacity(rank as usize);
            for _ in 0..rank {
                shape.push(c.u32("dimension")? as usize);
            }
            let code = c.u8("data type")?;
            let dtype = DType::from_code(code)
                .ok_or_else(|| FormatError::new(format!("{name}: unknown CTranslate2 data type {code}")))?;
            let nbytes = c.u32("data size")? as usize;
            let elements: usize = shape.iter().product();
            if elements.checked_mul(dtype.size()) != Some(nbytes) {
                return Err(FormatError::new(format!(
                    "{name}: {nbytes} bytes of data do not fit shape {shape:?} of {dtype:?}"
                )));
            }
            let start = c.pos;
            c.take(nbytes, &name)?;
            variables.insert(name, Variable { shape, dtype, range: start..start + nbytes });
        }
        let mut aliases = BTreeMap::new();
        let n_aliases = c.u32("alias count")?;
        for _ in 0..n_aliases {
            let alias = c.string("alias")?;
            let target = c.string("alias target")?;
            aliases.insert(alias, target);
        }
        if c.pos != data.len() {
            return Err(FormatError::new(format!("model.bin has {} unexpected bytes at the end", data.len() - c.pos)));
        }
        Ok(Ct2Model { data, spec, revision, variables, aliases })
    }

    /// Variable names (aliases excluded), sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.variables.keys().map(String::as_str)
    }

    /// A variable by name or alias.
    pub fn get(&self, name: &str) -> Option<&Variable> {
        let name = self.aliases.get(name).map_or(name, String::as_str);
        self.variables.get(name)
    }

    fn require(&self, name: &str) -> Result<&Variable, FormatError> {
        self.get(name).ok_or_else(|| FormatError::new(format!("model.bin has no variable {name}")))
    }

    /// A variable's shape.
    pub fn shape(&self, name: &str) -> Result<&[usize], FormatError> {
        Ok(&self.require(name)?.shape)
    }

    /// A variable's raw little-endian data.
    pub fn raw(&self, name: &str) -> Result<(&Variable, &[u8]), FormatError> {
        let v = self.require(name)?;
        Ok((v, &self.data[v.range.clone()]))
    }

    /// A float variable as f32, whatever its stored precision.
    pub fn f32s(&self, name: &str) -> Result<Vec<f32>, FormatError> {
        let (v, b) = self.raw(name)?;
        match v.dtype {
            DType::F32 => Ok(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
            DType::F16 => Ok(b.chunks_exact(2).map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]]))).collect()),
            DType::BF16 => Ok(b.chunks_exact(2).map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16)).collect()),
            other => Err(FormatError::new(format!(
                "{name} is {other:?}: quantised models are not supported, use the float16 conversion"
            ))),
        }
    }

    /// An integer scalar (e.g. `decoder/num_heads`).
    pub fn scalar_int(&self, name: &str) -> Option<i64> {
        let (v, b) = self.raw(name).ok()?;
        if !v.shape.is_empty() {
            return None;
        }
        Some(match v.dtype {
            DType::I8 => i64::from(b[0] as i8),
            DType::I16 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            DType::I32 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => return None,
        })
    }
}

/// Writes a `model.bin` (format version 6): for tests and tools that make
/// small models. `variables` are (name, shape, type, little-endian data).
pub fn write_model(spec: &str, revision: u32, variables: &[(&str, &[usize], DType, &[u8])], aliases: &[(&str, &str)]) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &str) {
        let n = u16::try_from(s.len() + 1).expect("name too long");
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    string(&mut out, spec);
    out.extend_from_slice(&revision.to_le_bytes());
    out.extend_from_slice(&(variables.len() as u32).to_le_bytes());
    for (name, shape, dtype, data) in variables {
        string(&mut out, name);
        out.push(shape.len() as u8);
        for d in *shape {
            out.extend_from_slice(&(*d as u32).to_le_bytes());
        }
        out.push(dtype.code());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }
    out.extend_from_slice(&(aliases.len() as u32).to_le_bytes());
    for (a, t) in aliases {
        string(&mut out, a);
        string(&mut out, t);
    }
    out
}

/// IEEE half to single precision (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalise.
            let mut e: i32 = -14;
            let mut m = m;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | (((e + 127) as u32) << 23) | ((m & 0x3ff) << 13)
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// Single to half precision, rounding to nearest even (as numpy does).
pub fn f32_to_f16(f: f32) -> u16 {
    let x = f.to_bits();
    let sign = ((x >> 16) & 0x8000) as u16;
    let exp = ((x >> 23) & 0xff) as i32;
    let man = x & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 | (man >> 13) as u16 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        // Subnormal half.
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = m >> shift;
        let rem = m & ((1 << shift) - 1);
        let mid = 1 << (shift - 1);
        let round = rem > mid || (rem == mid && half & 1 == 1);
        return sign | (half + u32::from(round)) as u16;
    }
    let half = ((e as u32) << 10) | (man >> 13);
    let rem = man & 0x1fff;
    let round = rem > 0x1000 || (rem == 0x1000 && half & 1 == 1);
    // A carry out of the mantissa correctly bumps the exponent (to inf at most).
    sign | (half + u32::from(round)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f16_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|&x| f32_to_f16(x).to_le_bytes()).collect()
    }

    #[test]
    fn half_precision_round_trips() {
        for h in 0u16..=0xffff {
            let f = f16_to_f32(h);
            if f.is_nan() {
                continue;
            }
            assert_eq!(f32_to_f16(f), h, "{h:#06x} -> {f}");
        }
        assert_eq!(f16_to_f32(f32_to_f16(1.0)), 1.0);
        assert_eq!(f32_to_f16(65520.0), 0x7c00, "rounds up to infinity");
        assert_eq!(f32_to_f16(1.0 + 1.0 / 2048.0), 0x3c00, "tie to even");
        assert_eq!(f32_to_f16(1.0 + 3.0 / 2048.0), 0x3c02, "tie to even, up");
    }

    #[test]
    fn reads_what_it_writes() {
        let w = f16_bytes(&[1.0, -2.0, 0.5, 3.0, 0.25, -0.125]);
        let b: Vec<u8> = [0.1f32, 0.2].iter().flat_map(|x| x.to_le_bytes()).collect();
        let heads = 8i16.to_le_bytes();
        let bin = write_model(
            "WhisperSpec",
            3,
            &[
                ("a/weight", &[2, 3], DType::F16, &w),
                ("a/bias", &[2], DType::F32, &b),
                ("num_heads", &[], DType::I16, &heads),
            ],
            &[("a/alias", "a/weight")],
        );
        let m = Ct2Model::parse(bin).unwrap();
        assert_eq!(m.spec, "WhisperSpec");
        assert_eq!(m.revision, 3);
        assert_eq!(m.names().collect::<Vec<_>>(), ["a/bias", "a/weight", "num_heads"]);
        assert_eq!(m.shape("a/alias").unwrap(), &[2, 3]);
        assert_eq!(m.f32s("a/weight").unwrap(), [1.0, -2.0, 0.5, 3.0, 0.25, -0.125]);
        assert_eq!(m.f32s("a/bias").unwrap(), [0.1, 0.2]);
        assert_eq!(m.scalar_int("num_heads"), Some(8));
        assert!(m.get("missing").is_none());
    }

    #[test]
    fn rejects_damage() {
        let w = f16_bytes(&[1.0, 2.0]);
        let bin = write_model("S", 1, &[("w", &[2], DType::F16, &w)], &[]);
        let mut truncated = bin.clone();
        truncated.truncate(bin.len() - 5);
        assert!(Ct2Model::parse(truncated).unwrap_err().to_string().contains("truncated"));
        let mut v5 = bin.clone();
        v5[0] = 5;
        assert!(Ct2Model::parse(v5).unwrap_err().to_string().contains("version 5"));
        let mut extra = bin;
        extra.push(0);
        assert!(Ct2Model::parse(extra).is_err());
        let bad = write_model("S", 1, &[("w", &[3], DType::F16, &w)], &[]);
        assert!(Ct2Model::parse(bad).unwrap_err().to_string().contains("do not fit"));
    }
}
