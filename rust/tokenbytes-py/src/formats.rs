//! Bindings of `tokenbytes_core::formats`: GGUF metadata and GGUF / Tekken /
//! tiktoken vocabularies as `tokenizer.json` text.

use std::path::PathBuf;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use tokenbytes_core::formats::gguf::{self, Array, Value};
use tokenbytes_core::formats::{self as core_formats};
use tokenbytes_core::{Error, Rank};

use crate::errors::to_py;

/// Core errors as Python exceptions (`NotImplementedError` for unsupported
/// formats, `ValueError` for malformed ones).
fn err(e: Error) -> PyErr {
    to_py(e)
}

/// Open `path` once so that a missing or unreadable file raises the usual
/// `OSError` subclass (`FileNotFoundError`, `PermissionError`, ...) rather
/// than a `ValueError`.
fn check_readable(path: &PathBuf) -> PyResult<()> {
    std::fs::File::open(path).map(drop).map_err(PyErr::from)
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

fn id_of(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Rank> {
    let v: i64 = value.extract().map_err(|_| {
        PyTypeError::new_err(format!("{what} must be an int, got {}", type_name(value)))
    })?;
    let max = i64::from(tokenbytes_core::vocab::MAX_TOKEN_ID);
    if !(0..max).contains(&v) {
        return Err(PyValueError::new_err(format!(
            "{what} {v} is out of range (0..{max})"
        )));
    }
    Ok(v as Rank)
}

fn ranks_of(ranks: &Bound<'_, PyDict>) -> PyResult<Vec<(Vec<u8>, Rank)>> {
    let mut out = Vec::with_capacity(ranks.len());
    for (k, v) in ranks.iter() {
        let bytes = k.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!("ranks keys must be bytes, got {}", type_name(&k)))
        })?;
        out.push((bytes.as_bytes().to_vec(), id_of(&v, "rank")?));
    }
    Ok(out)
}

fn specials_of(d: &Bound<'_, PyDict>) -> PyResult<Vec<(String, Rank)>> {
    let mut out = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let name: String = k.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "special token names must be str, got {}",
                type_name(&k)
            ))
        })?;
        out.push((name, id_of(&v, "special token id")?));
    }
    Ok(out)
}

/// The `tokenizer.json` text of the byte-level BPE vocabulary in a GGUF file.
#[pyfunction]
fn gguf_tokenizer_json(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    check_readable(&path)?;
    py.detach(|| core_formats::gguf_tokenizer_json(&path))
        .map_err(err)
}

fn scalar_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::U8(x) => x.into_pyobject(py)?.into_any(),
        Value::I8(x) => x.into_pyobject(py)?.into_any(),
        Value::U16(x) => x.into_pyobject(py)?.into_any(),
        Value::I16(x) => x.into_pyobject(py)?.into_any(),
        Value::U32(x) => x.into_pyobject(py)?.into_any(),
        Value::I32(x) => x.into_pyobject(py)?.into_any(),
        Value::U64(x) => x.into_pyobject(py)?.into_any(),
        Value::I64(x) => x.into_pyobject(py)?.into_any(),
        Value::F32(x) => f64::from(*x).into_pyobject(py)?.into_any(),
        Value::F64(x) => x.into_pyobject(py)?.into_any(),
        Value::Bool(x) => x.into_pyobject(py)?.to_owned().into_any(),
        Value::String(x) => x.into_pyobject(py)?.into_any(),
        Value::Array(a) => array_info(py, a)?.into_any(),
    })
}

fn array_info<'py>(py: Python<'py>, a: &Array) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("type", format!("array[{}]", a.elem_type().name()))?;
    d.set_item("length", a.len())?;
    Ok(d)
}

/// The header and metadata of a GGUF file, for inspection.
#[pyfunction]
fn gguf_metadata<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    check_readable(&path)?;
    let meta = py
        .detach(|| gguf::read_metadata_file(&path, &|_| false))
        .map_err(err)?;
    let d = PyDict::new(py);
    d.set_item("GGUF.version", meta.version)?;
    d.set_item("GGUF.tensor_count", meta.tensor_count)?;
    d.set_item("GGUF.kv_count", meta.entries.len())?;
    for (k, v) in &meta.entries {
        d.set_item(k, scalar_to_py(py, v)?)?;
    }
    Ok(d)
}

/// The `tokenizer.json` text of a Mistral Tekken file's content.
#[pyfunction]
fn tekken_tokenizer_json(py: Python<'_>, data: &[u8], source: &str) -> PyResult<String> {
    py.detach(|| core_formats::tekken_tokenizer_json(data, source))
        .map_err(err)
}

/// Merge pairs `(left, right)` of a tiktoken rank table, by product rank.
#[pyfunction]
fn merges_from_ranks<'py>(
    py: Python<'py>,
    ranks: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyList>> {
    let pairs = ranks_of(ranks)?;
    let m = py
        .detach(|| core_formats::merges_from_ranks(&pairs))
        .map_err(err)?;
    PyList::new(py, m.merges.iter().map(|&(x, y, _)| (x, y)))
}

/// `(merges, unreachable, late)`: merges as `(left, right, product)`
/// triples, the ranks no lower-ranked merge builds, and for those the merges
/// tiktoken still uses inside longer pieces.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn merges_from_ranks_report(
    py: Python<'_>,
    ranks: &Bound<'_, PyDict>,
) -> PyResult<(Vec<(Rank, Rank, Rank)>, Vec<Rank>, Vec<(Rank, Rank, Rank)>)> {
    let pairs = ranks_of(ranks)?;
    let m = py
        .detach(|| core_formats::merges_from_ranks(&pairs))
        .map_err(err)?;
    Ok((m.merges, m.unreachable, m.late))
}

/// The `tokenizer.json` text of a tiktoken encoding.
#[pyfunction]
fn tiktoken_tokenizer_json(
    py: Python<'_>,
    ranks: &Bound<'_, PyDict>,
    pattern: &str,
    special_tokens: &Bound<'_, PyDict>,
) -> PyResult<String> {
    let pairs = ranks_of(ranks)?;
    let specials = specials_of(special_tokens)?;
    py.detach(|| core_formats::tiktoken_tokenizer_json(&pairs, pattern, &specials))
        .map_err(err)
}

/// Add this file's classes and functions to `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gguf_tokenizer_json, m)?)?;
    m.add_function(wrap_pyfunction!(gguf_metadata, m)?)?;
    m.add_function(wrap_pyfunction!(tekken_tokenizer_json, m)?)?;
    m.add_function(wrap_pyfunction!(merges_from_ranks, m)?)?;
    m.add_function(wrap_pyfunction!(merges_from_ranks_report, m)?)?;
    m.add_function(wrap_pyfunction!(tiktoken_tokenizer_json, m)?)?;
    Ok(())
}
