//! A reader for the metadata of GGUF files (the llama.cpp model format).
//!
//! Layout (little-endian; GGUF versions 2 and 3, see the `gguf.md` spec in
//! the ggml repository): the magic `GGUF`, a `u32` version, a `u64` tensor
//! count, a `u64` key/value count, then that many key/value pairs. A key is a
//! `u64`-length-prefixed UTF-8 string, followed by a `u32` value type and the
//! value. Strings are `u64`-length-prefixed bytes; arrays are a `u32` element
//! type, a `u64` element count and the elements (arrays may nest). The tensor
//! descriptions and the weights follow the key/value pairs: this reader stops
//! before them, so only the metadata is ever read (through a buffered reader
//! for files).
//!
//! Every length read from the file is checked against the bytes the file
//! still holds before anything is allocated, so a corrupt or hostile file
//! produces an [`Error::InvalidArgument`] naming the file, the byte offset
//! and the key, never a huge allocation or a panic.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::error::{Error, Result};

/// The four bytes every GGUF file starts with.
pub const MAGIC: &[u8; 4] = b"GGUF";

/// Arrays nested deeper than this are rejected (the format allows nesting;
/// no real file nests at all, and unbounded recursion could overflow the stack).
const MAX_ARRAY_DEPTH: usize = 8;

/// Without a known file length, never reserve more than this many elements
/// up front (the vector still grows as elements are actually read).
const MAX_PREALLOC: u64 = 1 << 16;

/// The value types of GGUF metadata, with their numbers in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    Bool,
    String,
    Array,
    U64,
    I64,
    F64,
}

impl ValueType {
    fn from_u32(code: u32) -> Option<Self> {
        Some(match code {
            0 => Self::U8,
            1 => Self::I8,
            2 => Self::U16,
            3 => Self::I16,
            4 => Self::U32,
            5 => Self::I32,
            6 => Self::F32,
            7 => Self::Bool,
            8 => Self::String,
            9 => Self::Array,
            10 => Self::U64,
            11 => Self::I64,
            12 => Self::F64,
            _ => return None,
        })
    }

    /// The name used in messages and by `gguf_metadata` (`"uint32"`, ...),
    /// as in the GGUF specification.
    pub fn name(self) -> &'static str {
        match self {
            Self::U8 => "uint8",
            Self::I8 => "int8",
            Self::U16 => "uint16",
            Self::I16 => "int16",
            Self::U32 => "uint32",
            Self::I32 => "int32",
            Self::F32 => "float32",
            Self::Bool => "bool",
            Self::String => "string",
            Self::Array => "array",
            Self::U64 => "uint64",
            Self::I64 => "int64",
            Self::F64 => "float64",
        }
    }

    /// Bytes one value of this type needs at least (a string needs its
    /// 8-byte length, an array its type and count).
    fn min_size(self) -> u64 {
        match self {
            Self::U8 | Self::I8 | Self::Bool => 1,
            Self::U16 | Self::I16 => 2,
            Self::U32 | Self::I32 | Self::F32 => 4,
            Self::U64 | Self::I64 | Self::F64 | Self::String => 8,
            Self::Array => 12,
        }
    }
}

/// One metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    U64(u64),
    I64(i64),
    F64(f64),
    Array(Array),
}

impl Value {
    /// The type of this value.
    pub fn value_type(&self) -> ValueType {
        match self {
            Self::U8(_) => ValueType::U8,
            Self::I8(_) => ValueType::I8,
            Self::U16(_) => ValueType::U16,
            Self::I16(_) => ValueType::I16,
            Self::U32(_) => ValueType::U32,
            Self::I32(_) => ValueType::I32,
            Self::F32(_) => ValueType::F32,
            Self::Bool(_) => ValueType::Bool,
            Self::String(_) => ValueType::String,
            Self::U64(_) => ValueType::U64,
            Self::I64(_) => ValueType::I64,
            Self::F64(_) => ValueType::F64,
            Self::Array(_) => ValueType::Array,
        }
    }

    /// The value as an integer, for any integer type (not bool or float).
    pub fn as_int(&self) -> Option<i128> {
        Some(match *self {
            Self::U8(v) => v.into(),
            Self::I8(v) => v.into(),
            Self::U16(v) => v.into(),
            Self::I16(v) => v.into(),
            Self::U32(v) => v.into(),
            Self::I32(v) => v.into(),
            Self::U64(v) => v.into(),
            Self::I64(v) => v.into(),
            _ => return None,
        })
    }
}

/// The elements of an array value, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Array {
    /// An array whose elements were read past but not kept (see
    /// [`read_metadata`]'s `keep_array`).
    Skipped {
        elem: ValueType,
        len: u64,
    },
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    Bool(Vec<bool>),
    String(Vec<String>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
    Array(Vec<Array>),
}

impl Array {
    /// The element type.
    pub fn elem_type(&self) -> ValueType {
        match self {
            Self::Skipped { elem, .. } => *elem,
            Self::U8(_) => ValueType::U8,
            Self::I8(_) => ValueType::I8,
            Self::U16(_) => ValueType::U16,
            Self::I16(_) => ValueType::I16,
            Self::U32(_) => ValueType::U32,
            Self::I32(_) => ValueType::I32,
            Self::F32(_) => ValueType::F32,
            Self::Bool(_) => ValueType::Bool,
            Self::String(_) => ValueType::String,
            Self::U64(_) => ValueType::U64,
            Self::I64(_) => ValueType::I64,
            Self::F64(_) => ValueType::F64,
            Self::Array(_) => ValueType::Array,
        }
    }

    /// The number of elements (also for skipped arrays).
    pub fn len(&self) -> u64 {
        let n = match self {
            Self::Skipped { len, .. } => return *len,
            Self::U8(v) => v.len(),
            Self::I8(v) => v.len(),
            Self::U16(v) => v.len(),
            Self::I16(v) => v.len(),
            Self::U32(v) => v.len(),
            Self::I32(v) => v.len(),
            Self::F32(v) => v.len(),
            Self::Bool(v) => v.len(),
            Self::String(v) => v.len(),
            Self::U64(v) => v.len(),
            Self::I64(v) => v.len(),
            Self::F64(v) => v.len(),
            Self::Array(v) => v.len(),
        };
        n as u64
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The header and key/value metadata of a GGUF file.
#[derive(Debug, Clone)]
pub struct Metadata {
    /// Format version (2 or 3).
    pub version: u32,
    /// Number of tensors the file describes after the metadata.
    pub tensor_count: u64,
    /// The key/value pairs in file order.
    pub entries: Vec<(String, Value)>,
    index: HashMap<String, usize>,
}

impl Metadata {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }
}

/// Byte-counting reader with the file's name for messages.
struct Reader<'s, R> {
    inner: R,
    source: &'s str,
    offset: u64,
    /// Total length of the input, when known (guards allocations).
    total: Option<u64>,
    /// Key being read, for messages.
    key: Option<String>,
}

impl<R: Read> Reader<'_, R> {
    fn err(&self, at: u64, problem: impl std::fmt::Display) -> Error {
        let key = match &self.key {
            Some(k) => format!(", key {k:?}"),
            None => String::new(),
        };
        Error::InvalidArgument(format!(
            "{}: invalid GGUF file (byte offset {at}{key}): {problem}",
            self.source
        ))
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.fill(&mut buf, what)?;
        Ok(buf)
    }

    fn fill(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        let at = self.offset;
        let mut done = 0;
        while done < buf.len() {
            match self.inner.read(&mut buf[done..]) {
                Ok(0) => {
                    return Err(self.err(
                        at,
                        format!(
                            "file ends inside {what} ({} of {} bytes present)",
                            done,
                            buf.len()
                        ),
                    ))
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.err(at, format!("read error: {e}"))),
            }
        }
        self.offset += buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<()> {
        let at = self.offset;
        let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())
            .map_err(|e| self.err(at, format!("read error: {e}")))?;
        if copied < n {
            return Err(self.err(
                at,
                format!("file ends inside {what} ({copied} of {n} bytes present)"),
            ));
        }
        self.offset += n;
        Ok(())
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.bytes(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.bytes(what)?))
    }

    /// Bytes left in the input after the current offset, if the length is known.
    fn remaining(&self) -> Option<u64> {
        self.total.map(|t| t.saturating_sub(self.offset))
    }

    /// Reject `count` items of at least `min_size` bytes each when the file
    /// cannot hold them; return how many elements may be reserved up front.
    fn check_count(&self, at: u64, count: u64, min_size: u64, what: &str) -> Result<usize> {
        let need = count.saturating_mul(min_size);
        if let Some(left) = self.remaining() {
            if need > left {
                return Err(self.err(
                    at,
                    format!(
                        "{what} of {count} elements needs at least {need} bytes, \
                         but only {left} bytes follow"
                    ),
                ));
            }
            Ok(usize::try_from(count).unwrap_or(usize::MAX))
        } else {
            Ok(usize::try_from(count.min(MAX_PREALLOC)).unwrap_or(0))
        }
    }

    /// A length-prefixed string; `Ok(None)` when `keep` is false (skipped).
    fn string(&mut self, what: &str, keep: bool) -> Result<Option<String>> {
        let at = self.offset;
        let len = self.u64(what)?;
        let cap = self.check_count(at, len, 1, &format!("{what} (string)"))?;
        if !keep {
            self.skip(len, what)?;
            return Ok(None);
        }
        // Read through `take`: the buffer grows only as bytes actually arrive.
        let mut buf = Vec::with_capacity(cap.min(1 << 20));
        let got = (&mut self.inner)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|e| self.err(at, format!("read error: {e}")))?;
        if (got as u64) < len {
            return Err(self.err(
                at + 8,
                format!("file ends inside {what} ({got} of {len} bytes present)"),
            ));
        }
        self.offset += len;
        String::from_utf8(buf).map(Some).map_err(|e| {
            self.err(
                at,
                format!(
                    "{what} is not valid UTF-8 (invalid byte at string position {})",
                    e.utf8_error().valid_up_to()
                ),
            )
        })
    }

    fn value_type(&mut self, what: &str) -> Result<ValueType> {
        let at = self.offset;
        let code = self.u32(what)?;
        ValueType::from_u32(code)
            .ok_or_else(|| self.err(at, format!("unknown value type {code} for {what}")))
    }

    fn bool(&mut self, what: &str) -> Result<bool> {
        let at = self.offset;
        match self.bytes::<1>(what)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.err(at, format!("{what}: invalid bool byte {b}"))),
        }
    }

    fn scalar(&mut self, ty: ValueType, what: &str) -> Result<Value> {
        Ok(match ty {
            ValueType::U8 => Value::U8(u8::from_le_bytes(self.bytes(what)?)),
            ValueType::I8 => Value::I8(i8::from_le_bytes(self.bytes(what)?)),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.bytes(what)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.bytes(what)?)),
            ValueType::U32 => Value::U32(u32::from_le_bytes(self.bytes(what)?)),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.bytes(what)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.bytes(what)?)),
            ValueType::U64 => Value::U64(u64::from_le_bytes(self.bytes(what)?)),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.bytes(what)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.bytes(what)?)),
            ValueType::Bool => Value::Bool(self.bool(what)?),
            ValueType::String => Value::String(self.string(what, true)?.unwrap_or_default()),
            ValueType::Array => Value::Array(self.array(what, true, 1)?),
        })
    }

    /// Read `n` fixed-size little-endian elements of `SIZE` bytes each.
    fn fixed<T, const SIZE: usize>(
        &mut self,
        n: usize,
        cap: usize,
        what: &str,
        conv: impl Fn([u8; SIZE]) -> T,
    ) -> Result<Vec<T>> {
        let mut out = Vec::with_capacity(n.min(cap));
        for _ in 0..n {
            out.push(conv(self.bytes::<SIZE>(what)?));
        }
        Ok(out)
    }

    fn array(&mut self, what: &str, keep: bool, depth: usize) -> Result<Array> {
        let at = self.offset;
        if depth > MAX_ARRAY_DEPTH {
            return Err(self.err(
                at,
                format!("{what}: arrays nested more than {MAX_ARRAY_DEPTH} deep"),
            ));
        }
        let elem = self.value_type(&format!("{what} (array element type)"))?;
        let len = self.u64(&format!("{what} (array length)"))?;
        let cap = self.check_count(at, len, elem.min_size(), &format!("{what}: array"))?;
        let item = format!("{what} (array element)");
        if !keep {
            match elem {
                ValueType::String => {
                    for _ in 0..len {
                        self.string(&item, false)?;
                    }
                }
                ValueType::Array => {
                    for _ in 0..len {
                        self.array(&item, false, depth + 1)?;
                    }
                }
                _ => self.skip(len.saturating_mul(elem.min_size()), &item)?,
            }
            return Ok(Array::Skipped { elem, len });
        }
        // At most `cap` elements are reserved up front (bounded by the bytes
        // left); more are pushed one by one only as the input provides them.
        let n = usize::try_from(len)
            .map_err(|_| self.err(at, format!("{what}: array length {len} is too large")))?;
        Ok(match elem {
            ValueType::U8 => Array::U8(self.fixed(n, cap, &item, u8::from_le_bytes)?),
            ValueType::I8 => Array::I8(self.fixed(n, cap, &item, i8::from_le_bytes)?),
            ValueType::U16 => Array::U16(self.fixed(n, cap, &item, u16::from_le_bytes)?),
            ValueType::I16 => Array::I16(self.fixed(n, cap, &item, i16::from_le_bytes)?),
            ValueType::U32 => Array::U32(self.fixed(n, cap, &item, u32::from_le_bytes)?),
            ValueType::I32 => Array::I32(self.fixed(n, cap, &item, i32::from_le_bytes)?),
            ValueType::F32 => Array::F32(self.fixed(n, cap, &item, f32::from_le_bytes)?),
            ValueType::U64 => Array::U64(self.fixed(n, cap, &item, u64::from_le_bytes)?),
            ValueType::I64 => Array::I64(self.fixed(n, cap, &item, i64::from_le_bytes)?),
            ValueType::F64 => Array::F64(self.fixed(n, cap, &item, f64::from_le_bytes)?),
            ValueType::Bool => {
                let mut out = Vec::with_capacity(n.min(cap));
                for _ in 0..n {
                    out.push(self.bool(&item)?);
                }
                Array::Bool(out)
            }
            ValueType::String => {
                let mut out = Vec::with_capacity(n.min(cap));
                for i in 0..n {
                    let s = self.string(&format!("{what}[{i}]"), true)?;
                    out.push(s.unwrap_or_default());
                }
                Array::String(out)
            }
            ValueType::Array => {
                let mut out = Vec::with_capacity(n.min(cap));
                for i in 0..n {
                    out.push(self.array(&format!("{what}[{i}]"), true, depth + 1)?);
                }
                Array::Array(out)
            }
        })
    }
}

/// Read the header and metadata of a GGUF file from `input`.
///
/// `total_len` is the length of the whole input when known (it bounds every
/// allocation); `source` names the input in error messages. Arrays are kept
/// only for the keys where `keep_array(key)` is true, the others become
/// [`Array::Skipped`] (read past, not stored). Reading stops right after the
/// last key/value pair: tensor descriptions and weights are never read.
///
/// # Errors
/// [`Error::InvalidArgument`] naming `source`, the byte offset and the key for
/// a wrong magic, an unsupported version (1, or big-endian files), a
/// truncated input, an unknown value type, a length larger than the rest of
/// the input, invalid UTF-8, an invalid bool or a duplicate key.
pub fn read_metadata<R: Read>(
    input: R,
    total_len: Option<u64>,
    source: &str,
    keep_array: &dyn Fn(&str) -> bool,
) -> Result<Metadata> {
    let mut r = Reader {
        inner: input,
        source,
        offset: 0,
        total: total_len,
        key: None,
    };
    let magic: [u8; 4] = r.bytes("the magic number")?;
    if &magic != MAGIC {
        return Err(r.err(
            0,
            format!("not a GGUF file: starts with {magic:02x?}, expected \"GGUF\""),
        ));
    }
    let version = r.u32("the version")?;
    if version == 1 {
        return Err(r.err(4, "GGUF version 1 is not supported (only versions 2 and 3)"));
    }
    if version != 2 && version != 3 {
        let hint = if version.swap_bytes() == 2 || version.swap_bytes() == 3 {
            " (a big-endian GGUF file; only little-endian files are supported)"
        } else {
            ""
        };
        return Err(r.err(
            4,
            format!("unsupported GGUF version {version}{hint} (supported: 2 and 3)"),
        ));
    }
    let tensor_count = r.u64("the tensor count")?;
    let kv_at = r.offset;
    let kv_count = r.u64("the key/value count")?;
    // A key/value pair needs at least its key length and value type.
    let cap = r.check_count(kv_at, kv_count, 12, "the key/value list")?;
    let mut entries: Vec<(String, Value)> = Vec::with_capacity(cap.min(4096));
    let mut index = HashMap::with_capacity(cap.min(4096));
    for i in 0..kv_count {
        let at = r.offset;
        r.key = None;
        let key = r.string(&format!("key #{i}"), true)?.unwrap_or_default();
        r.key = Some(key.clone());
        let ty = r.value_type("the value type")?;
        let value = if ty == ValueType::Array {
            Value::Array(r.array("the value", keep_array(&key), 1)?)
        } else {
            r.scalar(ty, "the value")?
        };
        if index.insert(key.clone(), entries.len()).is_some() {
            return Err(r.err(at, format!("duplicate key {key:?}")));
        }
        entries.push((key, value));
    }
    if let Some(left) = r.remaining() {
        // Each tensor description needs at least a name length, a dimension
        // count, a type and an offset.
        if tensor_count.saturating_mul(24) > left {
            r.key = None;
            return Err(r.err(
                r.offset,
                format!(
                    "the header announces {tensor_count} tensors, but only {left} bytes follow \
                     the metadata"
                ),
            ));
        }
    }
    Ok(Metadata {
        version,
        tensor_count,
        entries,
        index,
    })
}

/// [`read_metadata`] on the file at `path`, through a buffered reader.
///
/// # Errors
/// As [`read_metadata`]; a file that cannot be opened gives an
/// [`Error::InvalidArgument`] naming it.
pub fn read_metadata_file(path: &Path, keep_array: &dyn Fn(&str) -> bool) -> Result<Metadata> {
    let source = path.display().to_string();
    let file = File::open(path)
        .map_err(|e| Error::InvalidArgument(format!("{source}: cannot open: {e}")))?;
    let len = file
        .metadata()
        .map_err(|e| Error::InvalidArgument(format!("{source}: cannot read: {e}")))?
        .len();
    read_metadata(
        BufReader::with_capacity(1 << 16, file),
        Some(len),
        &source,
        keep_array,
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A GGUF writer for tests (little-endian, version 3).
    pub(crate) struct Writer(pub Vec<u8>);

    impl Writer {
        pub fn new(tensors: u64, kv: u64) -> Self {
            let mut b = Vec::new();
            b.extend_from_slice(MAGIC);
            b.extend_from_slice(&3u32.to_le_bytes());
            b.extend_from_slice(&tensors.to_le_bytes());
            b.extend_from_slice(&kv.to_le_bytes());
            Self(b)
        }
        pub fn str(&mut self, s: &[u8]) -> &mut Self {
            self.0.extend_from_slice(&(s.len() as u64).to_le_bytes());
            self.0.extend_from_slice(s);
            self
        }
        pub fn u32(&mut self, v: u32) -> &mut Self {
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        }
        pub fn u64(&mut self, v: u64) -> &mut Self {
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        }
        pub fn kv_str(&mut self, k: &str, v: &str) -> &mut Self {
            self.str(k.as_bytes()).u32(8).str(v.as_bytes())
        }
        pub fn kv_u32(&mut self, k: &str, v: u32) -> &mut Self {
            self.str(k.as_bytes()).u32(4).u32(v)
        }
        pub fn kv_bool(&mut self, k: &str, v: bool) -> &mut Self {
            self.str(k.as_bytes()).u32(7);
            self.0.push(u8::from(v));
            self
        }
        pub fn kv_strs(&mut self, k: &str, v: &[&str]) -> &mut Self {
            self.str(k.as_bytes()).u32(9).u32(8).u64(v.len() as u64);
            for s in v {
                self.str(s.as_bytes());
            }
            self
        }
        pub fn kv_i32s(&mut self, k: &str, v: &[i32]) -> &mut Self {
            self.str(k.as_bytes()).u32(9).u32(5).u64(v.len() as u64);
            for x in v {
                self.0.extend_from_slice(&x.to_le_bytes());
            }
            self
        }
    }

    fn read(bytes: &[u8]) -> Result<Metadata> {
        read_metadata(bytes, Some(bytes.len() as u64), "t.gguf", &|_| true)
    }

    fn err(bytes: &[u8]) -> String {
        match read(bytes) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn reads_every_type() {
        let mut w = Writer::new(0, 14);
        w.kv_str("a.str", "héllo");
        w.kv_u32("a.u32", 7);
        w.kv_bool("a.bool", true);
        w.str(b"a.u8").u32(0);
        w.0.push(200);
        w.str(b"a.i8").u32(1);
        w.0.push(0xff);
        w.str(b"a.u16").u32(2);
        w.0.extend_from_slice(&500u16.to_le_bytes());
        w.str(b"a.i16").u32(3);
        w.0.extend_from_slice(&(-500i16).to_le_bytes());
        w.str(b"a.i32").u32(5);
        w.0.extend_from_slice(&(-5i32).to_le_bytes());
        w.str(b"a.f32").u32(6);
        w.0.extend_from_slice(&1.5f32.to_le_bytes());
        w.str(b"a.u64").u32(10).u64(1 << 40);
        w.str(b"a.i64").u32(11);
        w.0.extend_from_slice(&(-(1i64 << 40)).to_le_bytes());
        w.str(b"a.f64").u32(12);
        w.0.extend_from_slice(&2.25f64.to_le_bytes());
        w.kv_strs("a.strs", &["x", "yz"]);
        // Nested array: [[1, 2], []] of u32.
        w.str(b"a.nested").u32(9).u32(9).u64(2);
        w.u32(4).u64(2).u32(1).u32(2);
        w.u32(4).u64(0);
        let m = read(&w.0).expect("valid");
        assert_eq!(m.version, 3);
        assert_eq!(m.entries.len(), 14);
        assert_eq!(m.get("a.str"), Some(&Value::String("héllo".into())));
        assert_eq!(m.get("a.u32"), Some(&Value::U32(7)));
        assert_eq!(m.get("a.bool"), Some(&Value::Bool(true)));
        assert_eq!(m.get("a.u8"), Some(&Value::U8(200)));
        assert_eq!(m.get("a.i8"), Some(&Value::I8(-1)));
        assert_eq!(m.get("a.u16"), Some(&Value::U16(500)));
        assert_eq!(m.get("a.i16"), Some(&Value::I16(-500)));
        assert_eq!(m.get("a.i32"), Some(&Value::I32(-5)));
        assert_eq!(m.get("a.f32"), Some(&Value::F32(1.5)));
        assert_eq!(m.get("a.u64"), Some(&Value::U64(1 << 40)));
        assert_eq!(m.get("a.i64"), Some(&Value::I64(-(1 << 40))));
        assert_eq!(m.get("a.f64"), Some(&Value::F64(2.25)));
        assert_eq!(
            m.get("a.strs"),
            Some(&Value::Array(Array::String(vec!["x".into(), "yz".into()])))
        );
        assert_eq!(
            m.get("a.nested"),
            Some(&Value::Array(Array::Array(vec![
                Array::U32(vec![1, 2]),
                Array::U32(vec![])
            ])))
        );
        // Skipping arrays keeps their type and length only.
        let skipped = read_metadata(&w.0[..], None, "t", &|_| false).expect("valid");
        assert_eq!(
            skipped.get("a.strs"),
            Some(&Value::Array(Array::Skipped {
                elem: ValueType::String,
                len: 2
            }))
        );
        assert_eq!(skipped.get("a.f64"), Some(&Value::F64(2.25)));
    }

    #[test]
    fn version_2_is_read() {
        let mut w = Writer::new(0, 1);
        w.0[4..8].copy_from_slice(&2u32.to_le_bytes());
        w.kv_u32("k", 1);
        assert_eq!(read(&w.0).expect("valid").version, 2);
    }

    #[test]
    fn bad_files_give_clear_errors() {
        assert!(err(b"").contains("file ends inside the magic number"));
        assert!(err(b"GGUX\x03\0\0\0").contains("not a GGUF file"));
        let mut w = Writer::new(0, 1);
        w.0[4..8].copy_from_slice(&1u32.to_le_bytes());
        assert!(err(&w.0).contains("version 1 is not supported"));
        w.0[4..8].copy_from_slice(&3u32.to_be_bytes());
        assert!(err(&w.0).contains("big-endian"));

        // Absurd counts and lengths: no allocation, a message with the offset.
        let w = Writer::new(0, u64::MAX);
        let e = err(&w.0);
        assert!(
            e.contains("byte offset 16") && e.contains("key/value list"),
            "{e}"
        );
        let mut w = Writer::new(0, 1);
        w.str(b"k").u32(8).u64(u64::MAX);
        let e = err(&w.0);
        assert!(
            e.contains("key \"k\"") && e.contains("only 0 bytes follow"),
            "{e}"
        );
        let mut w = Writer::new(0, 1);
        w.str(b"k").u32(9).u32(8).u64(1 << 60);
        assert!(err(&w.0).contains("array of 1152921504606846976 elements"));
        let mut w = Writer::new(0, 1);
        w.str(b"k").u32(13);
        assert!(err(&w.0).contains("unknown value type 13"));
        let mut w = Writer::new(0, 1);
        w.str(b"k").u32(7);
        w.0.push(2);
        assert!(err(&w.0).contains("invalid bool byte 2"));
        let mut w = Writer::new(0, 1);
        w.str(b"k").u32(8).str(b"a\xffb");
        let e = err(&w.0);
        assert!(
            e.contains("not valid UTF-8") && e.contains("key \"k\""),
            "{e}"
        );
        let mut w = Writer::new(0, 2);
        w.kv_u32("k", 1).kv_u32("k", 2);
        assert!(err(&w.0).contains("duplicate key \"k\""));
        let mut w = Writer::new(1000, 1);
        w.kv_u32("k", 1);
        assert!(err(&w.0).contains("announces 1000 tensors"));
        // Deep nesting is refused, not recursed into without bound.
        let mut w = Writer::new(0, 1);
        w.str(b"k").u32(9);
        for _ in 0..20 {
            w.u32(9).u64(1);
        }
        assert!(err(&w.0).contains("nested more than"));
    }

    #[test]
    fn every_truncation_and_byte_flip_is_an_error_or_a_value() {
        let mut w = Writer::new(0, 4);
        w.kv_str("general.name", "tiny");
        w.kv_strs("tokenizer.ggml.tokens", &["a", "b", "ab"]);
        w.kv_i32s("tokenizer.ggml.token_type", &[1, 1, 1]);
        w.kv_bool("tokenizer.ggml.add_bos_token", false);
        let full = w.0.clone();
        assert!(read(&full).is_ok());
        for cut in 0..full.len() {
            let e = read(&full[..cut]).expect_err("truncated");
            assert!(e.to_string().contains("t.gguf"), "{e}");
        }
        for i in 0..full.len() {
            for bit in 0..8 {
                let mut b = full.clone();
                b[i] ^= 1 << bit;
                let _ = read(&b);
                let _ = read_metadata(&b[..], None, "t", &|_| true);
            }
        }
    }
}
