//! Bindings of `tokenbytes_core::hf` (`tokenizer.json` pipelines):
//! argument conversion, GIL release and error mapping only.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use pyo3::exceptions::{
    PyKeyError, PyNotImplementedError, PyOverflowError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use tokenbytes_core::hf::{
    Direction, EncodeOptions, Encoding, HfTokenizer, Padding, Truncation, TruncationStrategy,
};
use tokenbytes_core::Error;

use crate::encoder::{policy, strings_of, text_of, type_name, IdInts};
use crate::errors::to_py;

/// Inputs shorter than this many bytes are encoded without releasing the
/// GIL.
const DETACH_MIN_BYTES: usize = 4096;

/// Add this file's classes and functions to `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyHfTokenizer>()?;
    m.add_class::<PyHfEncoding>()?;
    Ok(())
}

/// A load error, naming the file.
fn load_error(source: &str, err: Error) -> PyErr {
    match err {
        Error::NotImplemented(msg) => PyNotImplementedError::new_err(format!("{source}: {msg}")),
        other => PyValueError::new_err(format!("{source}: {other}")),
    }
}

/// The UTF-8 text of a `str` for the `tokenizers`-compatible calls: a
/// `str` with lone surrogates is refused (as `tokenizers` does), not
/// repaired.
fn strict_text<'a>(s: &'a Bound<'_, PyString>, what: &str) -> PyResult<Cow<'a, str>> {
    match s.to_str() {
        Ok(t) => Ok(Cow::Borrowed(t)),
        Err(_) => Err(PyValueError::new_err(format!(
            "{what} is not valid Unicode text (it contains a lone surrogate)"
        ))),
    }
}

/// Token ids from a sequence of ints (`TypeError` for non-ints, ids that
/// cannot be token ids are kept out of range for the caller to judge).
fn ids_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u32>> {
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a sequence of ints, got {}",
            type_name(obj)
        )));
    }
    let it = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a sequence of ints, got {}",
            type_name(obj)
        ))
    })?;
    let mut out = Vec::new();
    for (i, item) in it.enumerate() {
        let item = item?;
        // As `tokenizers`: an id that is not a u32 is an OverflowError (an
        // unknown id in range decodes to nothing, as there).
        let v: u32 = match item.extract() {
            Ok(v) => v,
            Err(_) if item.hasattr("__index__").unwrap_or(false) => {
                return Err(PyOverflowError::new_err(format!(
                    "{what}[{i}] = {} is not a token id (ids are in 0..2**32)",
                    item.str()
                        .map_or_else(|_| "?".to_owned(), |s| s.to_string())
                )))
            }
            Err(_) => {
                return Err(PyTypeError::new_err(format!(
                    "{what}[{i}] must be an int, got {}",
                    type_name(&item)
                )))
            }
        };
        out.push(v);
    }
    Ok(out)
}

/// The truncation and padding set on a tokenizer.
#[derive(Debug, Clone, Default)]
struct Settings {
    truncation: Option<Truncation>,
    padding: Option<Padding>,
}

/// A loaded `tokenizer.json` (byte-level BPE), encoding exactly as the
/// `tokenizers` library does. Safe to use from several threads.
#[pyclass(frozen, module = "tokenbytes._core", name = "HfTokenizer")]
pub struct PyHfTokenizer {
    inner: Arc<HfTokenizer>,
    settings: RwLock<Settings>,
    ints: IdInts,
}

/// The result of encoding one input, like `tokenizers.Encoding`.
#[pyclass(module = "tokenbytes._core", name = "HfEncoding")]
pub struct PyHfEncoding {
    inner: Encoding,
}

fn wrap_all(encodings: Vec<Encoding>) -> Vec<PyHfEncoding> {
    encodings
        .into_iter()
        .map(|inner| PyHfEncoding { inner })
        .collect()
}

impl PyHfTokenizer {
    fn options(&self, add_special_tokens: bool, split_special_tokens: bool) -> EncodeOptions {
        let s = self
            .settings
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        EncodeOptions {
            add_special_tokens,
            split_special_tokens,
            truncation: s.truncation,
            padding: s.padding,
        }
    }
}

/// One item of an `encode_batch` input: a str or a (str, str) pair.
fn batch_item<'py>(
    item: &Bound<'py, PyAny>,
    i: usize,
) -> PyResult<(Bound<'py, PyString>, Option<Bound<'py, PyString>>)> {
    if let Ok(s) = item.cast::<PyString>() {
        return Ok((s.clone(), None));
    }
    if let Ok(t) = item.cast::<PyTuple>() {
        if t.len() == 2 {
            let a = t.get_item(0)?;
            let b = t.get_item(1)?;
            if let (Ok(a), Ok(b)) = (a.cast::<PyString>(), b.cast::<PyString>()) {
                return Ok((a.clone(), Some(b.clone())));
            }
        }
    }
    Err(PyTypeError::new_err(format!(
        "inputs[{i}] must be a str or a (str, str) tuple, got {}",
        type_name(item)
    )))
}

#[pymethods]
impl PyHfTokenizer {
    /// Load a `tokenizer.json` from its text (`str`, or its UTF-8 `bytes`,
    /// which spares the conversion of a large `str`); `source` names the
    /// file in error messages.
    #[staticmethod]
    #[pyo3(signature = (json, source))]
    fn from_str(py: Python<'_>, json: &Bound<'_, PyAny>, source: &str) -> PyResult<Self> {
        let tok = if let Ok(b) = json.cast::<PyBytes>() {
            let data = b.as_bytes();
            py.detach(|| HfTokenizer::from_json(data))
        } else if let Ok(s) = json.cast::<PyString>() {
            let text = s.to_str()?;
            py.detach(|| HfTokenizer::from_json_str(text))
        } else {
            return Err(PyTypeError::new_err(format!(
                "json must be str or bytes, got {}",
                type_name(json)
            )));
        }
        .map_err(|e| load_error(source, e))?;
        let settings = Settings {
            truncation: tok.file_truncation().cloned(),
            padding: tok.file_padding().cloned(),
        };
        let ints = IdInts::new(tok.vocab_size(true));
        Ok(Self {
            inner: Arc::new(tok),
            settings: RwLock::new(settings),
            ints,
        })
    }

    /// Encode one input (and its pair) with offsets, masks and overflowing
    /// windows.
    #[pyo3(signature = (text, pair=None, add_special_tokens=true, split_special_tokens=false))]
    fn encode(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        pair: Option<&Bound<'_, PyString>>,
        add_special_tokens: bool,
        split_special_tokens: bool,
    ) -> PyResult<PyHfEncoding> {
        let opts = self.options(add_special_tokens, split_special_tokens);
        let text = strict_text(text, "text")?;
        let pair = pair.map(|p| strict_text(p, "pair")).transpose()?;
        let (t, p): (&str, Option<&str>) = (&text, pair.as_deref());
        let n = t.len() + p.map_or(0, str::len);
        let tok = &self.inner;
        let enc = if n < DETACH_MIN_BYTES {
            tok.encode(t, p, &opts)
        } else {
            py.detach(|| tok.encode(t, p, &opts))
        }
        .map_err(to_py)?;
        Ok(PyHfEncoding { inner: enc })
    }

    /// Encode many inputs (str or (str, str)) in parallel; padding pads the
    /// whole batch.
    #[pyo3(signature = (inputs, add_special_tokens=true, split_special_tokens=false, num_threads=0))]
    fn encode_batch(
        &self,
        py: Python<'_>,
        inputs: &Bound<'_, PyAny>,
        add_special_tokens: bool,
        split_special_tokens: bool,
        num_threads: usize,
    ) -> PyResult<Vec<PyHfEncoding>> {
        if inputs.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(
                "inputs must be a list of str or (str, str), got a single str",
            ));
        }
        let items: Vec<(Bound<'_, PyString>, Option<Bound<'_, PyString>>)> = inputs
            .try_iter()
            .map_err(|_| {
                PyTypeError::new_err(format!(
                    "inputs must be a list of str or (str, str), got {}",
                    type_name(inputs)
                ))
            })?
            .enumerate()
            .map(|(i, it)| batch_item(&it?, i))
            .collect::<PyResult<_>>()?;
        let texts: Vec<(Cow<'_, str>, Option<Cow<'_, str>>)> = items
            .iter()
            .enumerate()
            .map(|(i, (a, b))| {
                let what = format!("inputs[{i}]");
                Ok((
                    strict_text(a, &what)?,
                    b.as_ref().map(|b| strict_text(b, &what)).transpose()?,
                ))
            })
            .collect::<PyResult<_>>()?;
        let refs: Vec<(&str, Option<&str>)> = texts
            .iter()
            .map(|(a, b)| (a.as_ref(), b.as_deref()))
            .collect();
        let opts = self.options(add_special_tokens, split_special_tokens);
        let tok = &self.inner;
        let out = py
            .detach(|| tok.encode_batch(&refs, &opts, num_threads))
            .map_err(to_py)?;
        Ok(wrap_all(out))
    }

    /// The ids `encode(text).ids` would give (no offsets: fastest).
    #[pyo3(signature = (text, add_special_tokens=true, split_special_tokens=false))]
    fn encode_ids<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyString>,
        add_special_tokens: bool,
        split_special_tokens: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let opts = self.options(add_special_tokens, split_special_tokens);
        let text = strict_text(text, "text")?;
        let t: &str = &text;
        let tok = &self.inner;
        let ids = if t.len() < DETACH_MIN_BYTES {
            tok.encode_ids(t, None, &opts)
        } else {
            py.detach(|| tok.encode_ids(t, None, &opts))
        }
        .map_err(to_py)?;
        self.ints.list(py, &ids)
    }

    /// The ids of many texts, in parallel.
    #[pyo3(signature = (texts, add_special_tokens=true, split_special_tokens=false, num_threads=0))]
    fn encode_ids_batch<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        add_special_tokens: bool,
        split_special_tokens: bool,
        num_threads: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let owned = strings_of(texts)?;
        let cows: Vec<Cow<'_, str>> = owned
            .iter()
            .enumerate()
            .map(|(i, t)| strict_text(t, &format!("texts[{i}]")))
            .collect::<PyResult<_>>()?;
        let refs: Vec<(&str, Option<&str>)> = cows.iter().map(|c| (c.as_ref(), None)).collect();
        let opts = self.options(add_special_tokens, split_special_tokens);
        let tok = &self.inner;
        let out = py
            .detach(|| tok.encode_ids_batch(&refs, &opts, num_threads))
            .map_err(to_py)?;
        let list = PyList::empty(py);
        for ids in out {
            list.append(self.ints.list(py, &ids)?)?;
        }
        Ok(list)
    }

    /// Truncate encodings to `max_length` tokens (`None`: no truncation).
    #[pyo3(signature = (max_length, stride=0, strategy="longest_first", direction="right"))]
    fn set_truncation(
        &self,
        max_length: Option<usize>,
        stride: usize,
        strategy: &str,
        direction: &str,
    ) -> PyResult<()> {
        let truncation = match max_length {
            None => None,
            Some(max_length) => {
                let strategy = TruncationStrategy::parse(strategy).map_err(to_py)?;
                let direction = Direction::parse(direction, "direction").map_err(to_py)?;
                let added = self.inner.num_special_tokens_to_add(false);
                let effective = max_length.wrapping_sub(added);
                if effective < stride {
                    return Err(PyValueError::new_err(format!(
                        "tokenizer stride set to {stride}, which is greater than or equal to its \
                         effective max length of {effective} (= {max_length} original max length \
                         - {added} added special tokens)"
                    )));
                }
                Some(Truncation {
                    max_length,
                    stride,
                    strategy,
                    direction,
                })
            }
        };
        self.settings
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .truncation = truncation;
        Ok(())
    }

    /// Pad encodings (to `length`, or to the longest of a batch when
    /// `length` is None).
    #[pyo3(signature = (direction="right", pad_id=0, pad_type_id=0, pad_token="[PAD]", length=None, pad_to_multiple_of=None))]
    fn set_padding(
        &self,
        direction: &str,
        pad_id: u32,
        pad_type_id: u32,
        pad_token: &str,
        length: Option<usize>,
        pad_to_multiple_of: Option<usize>,
    ) -> PyResult<()> {
        let direction = Direction::parse(direction, "direction").map_err(to_py)?;
        let padding = Padding {
            length,
            direction,
            pad_to_multiple_of,
            pad_id,
            pad_type_id,
            pad_token: pad_token.to_owned(),
        };
        padding.check("").map_err(to_py)?;
        self.settings
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .padding = Some(padding);
        Ok(())
    }

    /// Turn padding off.
    fn no_padding(&self) {
        self.settings
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .padding = None;
    }

    /// Turn truncation off.
    fn no_truncation(&self) {
        self.settings
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .truncation = None;
    }

    /// The truncation settings as a dict (None when off), like
    /// `tokenizers.Tokenizer.truncation`.
    #[getter]
    fn truncation<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let s = self
            .settings
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(t) = s.truncation else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("max_length", t.max_length)?;
        d.set_item("stride", t.stride)?;
        d.set_item(
            "strategy",
            match t.strategy {
                TruncationStrategy::LongestFirst => "longest_first",
                TruncationStrategy::OnlyFirst => "only_first",
                TruncationStrategy::OnlySecond => "only_second",
            },
        )?;
        d.set_item("direction", direction_name(t.direction))?;
        Ok(Some(d))
    }

    /// The padding settings as a dict (None when off), like
    /// `tokenizers.Tokenizer.padding`.
    #[getter]
    fn padding<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let s = self
            .settings
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(p) = s.padding else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("length", p.length)?;
        d.set_item("pad_to_multiple_of", p.pad_to_multiple_of)?;
        d.set_item("pad_id", p.pad_id)?;
        d.set_item("pad_token", p.pad_token)?;
        d.set_item("pad_type_id", p.pad_type_id)?;
        d.set_item("direction", direction_name(p.direction))?;
        Ok(Some(d))
    }

    /// Text of token ids (`tokenizers`' decode: unknown ids are skipped).
    #[pyo3(signature = (ids, skip_special_tokens=false))]
    fn decode(&self, ids: &Bound<'_, PyAny>, skip_special_tokens: bool) -> PyResult<String> {
        let ids = ids_of(ids, "ids")?;
        Ok(self.inner.decode(&ids, skip_special_tokens))
    }

    /// Text of each list of token ids.
    #[pyo3(signature = (batch, skip_special_tokens=false))]
    fn decode_batch(
        &self,
        py: Python<'_>,
        batch: &Bound<'_, PyAny>,
        skip_special_tokens: bool,
    ) -> PyResult<Vec<String>> {
        let lists: Vec<Vec<u32>> = batch
            .try_iter()
            .map_err(|_| PyTypeError::new_err("batch must be an iterable of token id sequences"))?
            .enumerate()
            .map(|(i, item)| ids_of(&item?, &format!("batch[{i}]")))
            .collect::<PyResult<_>>()?;
        let tok = &self.inner;
        Ok(py.detach(|| {
            lists
                .iter()
                .map(|ids| tok.decode(ids, skip_special_tokens))
                .collect()
        }))
    }

    /// Id of a token string (None if unknown).
    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Token string of an id (None if unknown).
    fn id_to_token(&self, id: i64) -> Option<String> {
        let id = u32::try_from(id).ok()?;
        self.inner.id_to_token(id).map(str::to_owned)
    }

    /// `{token: id}`.
    #[pyo3(signature = (with_added_tokens=true))]
    fn get_vocab<'py>(
        &self,
        py: Python<'py>,
        with_added_tokens: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (t, id) in self.inner.vocab(with_added_tokens) {
            d.set_item(t, id)?;
        }
        Ok(d)
    }

    /// Number of tokens.
    #[pyo3(signature = (with_added_tokens=true))]
    fn get_vocab_size(&self, with_added_tokens: bool) -> usize {
        self.inner.vocab_size(with_added_tokens)
    }

    /// `(id, content, special)` of every added token, by id.
    fn added_tokens(&self) -> Vec<(u32, String, bool)> {
        self.inner
            .added_tokens()
            .into_iter()
            .map(|(id, c, s)| (id, c.to_owned(), s))
            .collect()
    }

    /// Bytes of one token (`KeyError` if no such id).
    fn token_bytes<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyBytes>> {
        let b = u32::try_from(id)
            .ok()
            .and_then(|id| self.inner.token_bytes(id).ok())
            .ok_or_else(|| PyKeyError::new_err(format!("Invalid token for decoding: {id}")))?;
        Ok(PyBytes::new(py, b))
    }

    /// tiktoken-style encode (special added tokens under tiktoken's
    /// `allowed_special` / `disallowed_special` rules, no template).
    #[pyo3(signature = (text, allowed_special, disallowed_special))]
    fn encode_tiktoken(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        allowed_special: &Bound<'_, PyAny>,
        disallowed_special: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<u32>> {
        let pol = policy(allowed_special, disallowed_special)?;
        let text = text_of(text)?;
        let t: &str = &text;
        let tok = &self.inner;
        if t.len() < DETACH_MIN_BYTES {
            tok.encode_tiktoken(t, &pol)
        } else {
            py.detach(|| tok.encode_tiktoken(t, &pol))
        }
        .map_err(to_py)
    }

    /// tiktoken-style encode with every special token as text.
    fn encode_ordinary(&self, py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<Vec<u32>> {
        let text = text_of(text)?;
        let t: &str = &text;
        let tok = &self.inner;
        if t.len() < DETACH_MIN_BYTES {
            tok.encode_ordinary(t)
        } else {
            py.detach(|| tok.encode_ordinary(t))
        }
        .map_err(to_py)
    }

    /// Concatenated bytes of tokens (`KeyError` for an unknown id).
    fn decode_bytes<'py>(
        &self,
        py: Python<'py>,
        ids: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let ids = ids_of(ids, "ids")?;
        let b = self.inner.decode_bytes(&ids).map_err(to_py)?;
        Ok(PyBytes::new(py, &b))
    }

    /// The ranked merges as `(left id, right id)`.
    fn merges(&self) -> Vec<(u32, u32)> {
        self.inner.merges().to_vec()
    }

    /// Whether a word that is a token is emitted whole.
    #[getter]
    fn ignore_merges(&self) -> bool {
        self.inner.ignore_merges()
    }

    /// Whether words go through the fast tiktoken-style encoder (proved
    /// equivalent at load time).
    #[getter]
    fn uses_fast_path(&self, py: Python<'_>) -> bool {
        let tok = &self.inner;
        py.detach(|| tok.fast_path().is_ok())
    }

    /// Use the fast encoder when it is proved exact (`True`, the default)
    /// or always the exact pair-rank encoder (tests and benchmarks).
    fn set_fast_path(&self, py: Python<'_>, on: bool) {
        let tok = &self.inner;
        py.detach(|| {
            let _ = tok.fast_path();
            tok.set_fast_path(on);
        });
    }

    /// Why the fast path is off (None when it is on).
    #[getter]
    fn fast_path_reason(&self, py: Python<'_>) -> Option<String> {
        let tok = &self.inner;
        py.detach(|| tok.fast_path().err())
    }

    /// Special tokens the post-processor adds to one input (or a pair).
    #[pyo3(signature = (is_pair=false))]
    fn num_special_tokens_to_add(&self, is_pair: bool) -> usize {
        self.inner.num_special_tokens_to_add(is_pair)
    }
}

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Left => "left",
        Direction::Right => "right",
    }
}

#[pymethods]
impl PyHfEncoding {
    #[getter]
    fn ids(&self) -> Vec<u32> {
        self.inner.ids.clone()
    }

    #[getter]
    fn type_ids(&self) -> Vec<u32> {
        self.inner.type_ids.clone()
    }

    #[getter]
    fn tokens(&self) -> Vec<String> {
        self.inner.tokens.clone()
    }

    /// `(start, end)` character offsets into the input string.
    #[getter]
    fn offsets(&self) -> Vec<(usize, usize)> {
        self.inner.offsets.clone()
    }

    #[getter]
    fn attention_mask(&self) -> Vec<u32> {
        self.inner.attention_mask.clone()
    }

    #[getter]
    fn special_tokens_mask(&self) -> Vec<u32> {
        self.inner.special_tokens_mask.clone()
    }

    /// Index of the pre-tokenized word of each token (None for tokens the
    /// post-processor or padding added).
    #[getter]
    fn word_ids(&self) -> Vec<Option<u32>> {
        self.inner.words.clone()
    }

    /// The windows truncation cut off.
    #[getter]
    fn overflowing(&self) -> Vec<PyHfEncoding> {
        wrap_all(self.inner.overflowing.clone())
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "HfEncoding(num_tokens={}, attributes=[ids, type_ids, tokens, offsets, attention_mask, special_tokens_mask, overflowing])",
            self.inner.len()
        )
    }

    /// Pad to `length` tokens (this encoding and its overflowing ones).
    #[pyo3(signature = (length, direction="right", pad_id=0, pad_type_id=0, pad_token="[PAD]"))]
    fn pad(
        &mut self,
        length: usize,
        direction: &str,
        pad_id: u32,
        pad_type_id: u32,
        pad_token: &str,
    ) -> PyResult<()> {
        let d = Direction::parse(direction, "direction").map_err(to_py)?;
        self.inner.pad(length, pad_id, pad_type_id, pad_token, d);
        Ok(())
    }

    /// Truncate to `max_length` tokens; the rest goes to `overflowing`.
    #[pyo3(signature = (max_length, stride=0, direction="right"))]
    fn truncate(&mut self, max_length: usize, stride: usize, direction: &str) -> PyResult<()> {
        let d = Direction::parse(direction, "direction").map_err(to_py)?;
        self.inner.truncate(max_length, stride, d).map_err(to_py)
    }
}
