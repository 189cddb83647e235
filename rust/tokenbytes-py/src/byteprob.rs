//! Bindings of `tokenbytes_core::byteprob`: the tokenizer side of a
//! byte-level model (`ByteModel`) and the covers of a byte prefix
//! (`ByteState`). The language model is a Python callable
//! `lm(contexts: list[list[int]]) -> numpy.ndarray[B, n_vocab]` of
//! next-token log-probabilities (float32 or float64), called with the GIL
//! held; everything else runs with the GIL released.

use std::sync::Arc;

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use tokenbytes_core::byteprob::{
    ByteModel, Follow, MergeRule, ModelSpec, Row, RowMask, RowSource, State, Status,
};
use tokenbytes_core::Error;

use crate::encoder::type_name;
use crate::errors::to_py;

/// Add this file's classes and functions to `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyByteModel>()?;
    m.add_class::<PyByteState>()?;
    Ok(())
}

fn id_of(v: &Bound<'_, PyAny>, what: &str) -> PyResult<u32> {
    let x: i64 = v.extract().map_err(|_| {
        PyTypeError::new_err(format!("{what} must be an int, got {}", type_name(v)))
    })?;
    u32::try_from(x).map_err(|_| PyValueError::new_err(format!("{what} {x} is out of range")))
}

fn ids_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u32>> {
    let it = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a sequence of ints, got {}",
            type_name(obj)
        ))
    })?;
    it.enumerate()
        .map(|(i, v)| id_of(&v?, &format!("{what}[{i}]")))
        .collect()
}

/// The tokenizer side of a byte-level model: token bytes by id, merge
/// rules, pre-tokenizer, end and stop ids. Immutable and thread-safe.
#[pyclass(frozen, module = "tokenbytes._core", name = "ByteModel")]
pub struct PyByteModel {
    inner: Arc<ByteModel>,
}

#[pymethods]
impl PyByteModel {
    #[new]
    #[pyo3(signature = (tokens, n_vocab, merges, ignore_merges, pattern, end_ids, stop_ids))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        tokens: &Bound<'_, PyAny>,
        n_vocab: usize,
        merges: Option<&Bound<'_, PyAny>>,
        ignore_merges: bool,
        pattern: Option<String>,
        end_ids: &Bound<'_, PyAny>,
        stop_ids: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let it = tokens.try_iter().map_err(|_| {
            PyTypeError::new_err(format!(
                "tokens must be a sequence of bytes or None, got {}",
                type_name(tokens)
            ))
        })?;
        let mut toks: Vec<Option<Vec<u8>>> = Vec::new();
        for (i, t) in it.enumerate() {
            let t = t?;
            if t.is_none() {
                toks.push(None);
            } else if let Ok(b) = t.cast::<PyBytes>() {
                toks.push(Some(b.as_bytes().to_vec()));
            } else {
                return Err(PyTypeError::new_err(format!(
                    "tokens[{i}] must be bytes or None, got {}",
                    type_name(&t)
                )));
            }
        }
        let rule = match merges {
            None => MergeRule::Concat,
            Some(m) => {
                let it = m.try_iter().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "merges must be a sequence of (int, int) pairs, got {}",
                        type_name(m)
                    ))
                })?;
                let mut list = Vec::new();
                for (i, p) in it.enumerate() {
                    let p = p?;
                    let (a, b): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
                        p.extract().map_err(|_| {
                            PyTypeError::new_err(format!(
                                "merges[{i}] must be a pair of ints, got {}",
                                type_name(&p)
                            ))
                        })?;
                    list.push((
                        id_of(&a, &format!("merges[{i}][0]"))?,
                        id_of(&b, &format!("merges[{i}][1]"))?,
                    ));
                }
                MergeRule::List(list)
            }
        };
        let spec = ModelSpec {
            n_vocab,
            tokens: toks,
            merges: rule,
            ignore_merges,
            pattern,
            end_ids: ids_of(end_ids, "end_ids")?,
            stop_ids: ids_of(stop_ids, "stop_ids")?,
        };
        let model = py.detach(|| ByteModel::new(spec)).map_err(to_py)?;
        Ok(Self {
            inner: Arc::new(model),
        })
    }

    /// Length of a model row.
    #[getter]
    fn n_vocab(&self) -> usize {
        self.inner.n_vocab()
    }

    /// Bins of a next-symbol vector: 256 bytes, the end, then stop ids.
    #[getter]
    fn n_bins(&self) -> usize {
        self.inner.n_bins()
    }

    /// Longest token in bytes.
    #[getter]
    fn max_token_len(&self) -> usize {
        self.inner.index().max_len()
    }

    /// Whether a pre-tokenizer splits the text.
    #[getter]
    fn has_pretokenizer(&self) -> bool {
        self.inner.has_pretokenizer()
    }

    /// Whether a pre-token that is a token is emitted whole.
    #[getter]
    fn ignore_merges(&self) -> bool {
        self.inner.pairs().ignore_merges()
    }

    /// Ids whose probability is the end of the text.
    #[getter]
    fn end_ids(&self) -> Vec<u32> {
        self.inner.end_ids().to_vec()
    }

    /// Ids with their own bins (257, 258, ...).
    #[getter]
    fn stop_ids(&self) -> Vec<u32> {
        self.inner.stop_ids().to_vec()
    }

    /// The canonical encoding of `data` under these rules.
    fn encode(&self, py: Python<'_>, data: &[u8]) -> PyResult<Vec<u32>> {
        let data = data.to_vec();
        py.detach(|| self.inner.encode(&data)).map_err(to_py)
    }

    /// Whether `[left, right]` is the BPE of their bytes (inside one
    /// pre-token).
    fn pair_valid(&self, left: u32, right: u32) -> bool {
        self.inner.pairs().pair_valid(left, right)
    }

    /// Ids of the tokens BPE cannot build from their own bytes.
    fn unreachable(&self) -> Vec<u32> {
        self.inner.pairs().unreachable().to_vec()
    }

    /// Start of the region of covers for a prompt: every valid encoding of
    /// `data` followed by anything has the same tokens before it.
    fn stable_cut(&self, py: Python<'_>, data: &[u8]) -> PyResult<usize> {
        let data = data.to_vec();
        py.detach(|| self.inner.stable_cut(&data)).map_err(to_py)
    }

    /// Pre-token boundary statuses of the positions `0..=len(window)` of a
    /// window that starts at a boundary: a str of `F` (forced), `N` (never),
    /// `O` (open), for any continuation and when the text ends there.
    fn boundary_statuses(&self, window: &[u8]) -> PyResult<(String, String)> {
        let code = |s: &Status| match s {
            Status::Forced => 'F',
            Status::Never => 'N',
            Status::Open => 'O',
        };
        match &self.inner.chunker() {
            None => Err(PyValueError::new_err("this model has no pre-tokenizer")),
            Some(c) => {
                let st = c.statuses(window).map_err(to_py)?;
                Ok((
                    st.base.iter().map(code).collect(),
                    st.end.iter().map(code).collect(),
                ))
            }
        }
    }

    /// Scatter a next-token row (shape `[n_vocab]`, float32 or float64
    /// log-probabilities) into `n_bins` log-probability bins: by first byte
    /// of each token, the end ids at 256, stop ids from 257. With `left`,
    /// only tokens that may follow `left` inside a pre-token count. Bins are
    /// not normalized. GIL released.
    #[pyo3(signature = (row, left=None, end_ok=true))]
    fn scatter<'py>(
        &self,
        py: Python<'py>,
        row: &Bound<'py, PyAny>,
        left: Option<u32>,
        end_ok: bool,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let mask = RowMask {
            follow: [if left.is_some() {
                Follow::Pair
            } else {
                Follow::Free
            }; 256],
            left,
            end_ok,
        };
        let mut out = vec![f64::NEG_INFINITY; self.inner.n_bins()];
        if let Ok(a) = row.cast::<PyArray1<f32>>() {
            let r = a.readonly();
            let v = r
                .as_slice()
                .map_or_else(|_| a.to_vec().unwrap_or_default(), <[f32]>::to_vec);
            py.detach(|| self.inner.scatter(&v, &mask, &mut out))
                .map_err(to_py)?;
        } else if let Ok(a) = row.cast::<PyArray1<f64>>() {
            let r = a.readonly();
            let v = r
                .as_slice()
                .map_or_else(|_| a.to_vec().unwrap_or_default(), <[f64]>::to_vec);
            py.detach(|| self.inner.scatter(&v, &mask, &mut out))
                .map_err(to_py)?;
        } else {
            return Err(PyTypeError::new_err(format!(
                "row must be a 1-D float32 or float64 numpy array, got {}",
                type_name(row)
            )));
        }
        Ok(PyArray1::from_vec(py, out))
    }
}

/// Owned rows copied out of the LM's answer.
enum Rows {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// The Python LM callable as a row source. A Python exception raised by the
/// callable is kept here and re-raised as is.
struct PySource {
    lm: Py<PyAny>,
    n_vocab: usize,
    err: Option<PyErr>,
}

impl PySource {
    fn call(&self, py: Python<'_>, contexts: &[Vec<u32>]) -> PyResult<Rows> {
        let ctx = PyList::empty(py);
        for c in contexts {
            ctx.append(PyList::new(py, c)?)?;
        }
        let out = self.lm.bind(py).call1((ctx,))?;
        let b = contexts.len();
        let shape_err = |shape: &[usize]| {
            PyValueError::new_err(format!(
                "the LM returned an array of shape {shape:?}, expected ({b}, {}) \
                 (one row of next-token log-probabilities per context)",
                self.n_vocab
            ))
        };
        if let Ok(a) = out.cast::<PyArray2<f32>>() {
            if a.shape() != [b, self.n_vocab] {
                return Err(shape_err(a.shape()));
            }
            let r = a.readonly();
            return Ok(Rows::F32(
                r.as_slice()
                    .map_or_else(|_| a.to_vec().unwrap_or_default(), <[f32]>::to_vec),
            ));
        }
        if let Ok(a) = out.cast::<PyArray2<f64>>() {
            if a.shape() != [b, self.n_vocab] {
                return Err(shape_err(a.shape()));
            }
            let r = a.readonly();
            return Ok(Rows::F64(
                r.as_slice()
                    .map_or_else(|_| a.to_vec().unwrap_or_default(), <[f64]>::to_vec),
            ));
        }
        if let Ok(a) = out.cast::<numpy::PyUntypedArray>() {
            if a.ndim() != 2 || a.shape() != [b, self.n_vocab] {
                return Err(shape_err(a.shape()));
            }
            return Err(PyTypeError::new_err(format!(
                "the LM returned an array of dtype {}, expected float32 or float64",
                a.dtype()
            )));
        }
        Err(PyTypeError::new_err(format!(
            "the LM must return a numpy array of shape ({b}, {}), got {}",
            self.n_vocab,
            type_name(&out)
        )))
    }
}

impl RowSource for PySource {
    fn fetch(
        &mut self,
        contexts: &[Vec<u32>],
        sink: &mut dyn FnMut(usize, Row<'_>) -> tokenbytes_core::Result<()>,
    ) -> tokenbytes_core::Result<()> {
        let rows = Python::attach(|py| self.call(py, contexts));
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                self.err = Some(e);
                return Err(Error::InvalidArgument("the LM call failed".to_owned()));
            }
        };
        let v = self.n_vocab;
        for i in 0..contexts.len() {
            match &rows {
                Rows::F32(r) => sink(i, Row::F32(&r[i * v..(i + 1) * v]))?,
                Rows::F64(r) => sink(i, Row::F64(&r[i * v..(i + 1) * v]))?,
            }
        }
        Ok(())
    }
}

/// The covers of a byte prefix after a trunk of tokens.
#[pyclass(module = "tokenbytes._core", name = "ByteState")]
pub struct PyByteState {
    inner: State,
}

impl PyByteState {
    /// Run `f` on the state with the GIL released; the LM is called back
    /// with the GIL. A Python exception from the LM is re-raised as is.
    fn with_lm<T: Send>(
        &mut self,
        py: Python<'_>,
        lm: &Bound<'_, PyAny>,
        f: impl FnOnce(&mut State, &mut PySource) -> tokenbytes_core::Result<T> + Send,
    ) -> PyResult<T> {
        let mut src = PySource {
            lm: lm.clone().unbind(),
            n_vocab: self.inner.model().n_vocab(),
            err: None,
        };
        let inner = &mut self.inner;
        let r = py.detach(|| f(inner, &mut src));
        match (r, src.err) {
            (_, Some(e)) => Err(e),
            (Ok(v), None) => Ok(v),
            (Err(e), None) => Err(to_py(e)),
        }
    }
}

fn start_status(left: Option<u32>) -> Status {
    if left.is_some() {
        Status::Never
    } else {
        Status::Forced
    }
}

#[pymethods]
impl PyByteState {
    /// The empty region after `trunk`. With `left`, the region continues the
    /// pre-token of that token (the first token must pass the pair test
    /// with it); otherwise it starts at a boundary.
    #[new]
    #[pyo3(signature = (model, trunk, left=None))]
    fn new(model: &PyByteModel, trunk: &Bound<'_, PyAny>, left: Option<u32>) -> PyResult<Self> {
        let trunk = ids_of(trunk, "trunk")?;
        let inner =
            State::new(model.inner.clone(), trunk, left, start_status(left)).map_err(to_py)?;
        Ok(Self { inner })
    }

    /// The covers of `data` from scratch (the lattice over its positions).
    #[staticmethod]
    #[pyo3(signature = (model, trunk, data, lm, left=None))]
    fn from_bytes(
        py: Python<'_>,
        model: &PyByteModel,
        trunk: &Bound<'_, PyAny>,
        data: &[u8],
        lm: &Bound<'_, PyAny>,
        left: Option<u32>,
    ) -> PyResult<Self> {
        let trunk = ids_of(trunk, "trunk")?;
        let mut src = PySource {
            lm: lm.clone().unbind(),
            n_vocab: model.inner.n_vocab(),
            err: None,
        };
        let m = model.inner.clone();
        let data = data.to_vec();
        let r =
            py.detach(|| State::from_bytes(m, trunk, left, start_status(left), &data, &mut src));
        match (r, src.err) {
            (_, Some(e)) => Err(e),
            (Ok(inner), None) => Ok(Self { inner }),
            (Err(e), None) => Err(to_py(e)),
        }
    }

    /// Append one byte (0..=255).
    fn advance(&mut self, py: Python<'_>, byte: u8, lm: &Bound<'_, PyAny>) -> PyResult<()> {
        self.with_lm(py, lm, |st, src| st.advance(byte, src))
    }

    /// The next-symbol distribution: (log-probabilities of shape
    /// `[n_bins]`, float64, normalized; log of their total mass given the
    /// trunk).
    fn next<'py>(
        &mut self,
        py: Python<'py>,
        lm: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyArray1<f64>>, f64)> {
        let next = self.with_lm(py, lm, |st, src| st.next(src))?;
        Ok((PyArray1::from_vec(py, next.logp), next.log_z))
    }

    /// Log of the total probability of the covers given the trunk.
    fn log_cover(&mut self, py: Python<'_>) -> PyResult<f64> {
        let inner = &mut self.inner;
        py.detach(|| inner.log_cover()).map_err(to_py)
    }

    /// `(exact, straddling)`: `[(tokens, logp)]` and
    /// `[(tokens, logp, remaining bytes)]`.
    fn covers<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let (exact, strad) = self.inner.covers().map_err(to_py)?;
        let e = PyList::empty(py);
        for (t, lp) in exact {
            e.append((t, lp))?;
        }
        let s = PyList::empty(py);
        for (t, lp, rem) in strad {
            s.append((t, lp, PyBytes::new(py, &rem)))?;
        }
        PyTuple::new(py, [e.into_any(), s.into_any()])
    }

    /// A copy of this state (the model and rows are shared).
    fn copy(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }

    /// The region's bytes so far.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.bytes())
    }

    /// The trunk.
    #[getter]
    fn trunk(&self) -> Vec<u32> {
        self.inner.trunk().to_vec()
    }

    /// Model rows fetched by this state so far.
    #[getter]
    fn rows_fetched(&self) -> usize {
        self.inner.rows_fetched()
    }

    /// Whether the prefix has no cover (probability 0).
    #[getter]
    fn is_dead(&self) -> bool {
        self.inner.is_dead()
    }

    /// `(exact covers, straddling groups)`.
    #[getter]
    fn sizes(&self) -> (usize, usize) {
        self.inner.sizes()
    }
}
